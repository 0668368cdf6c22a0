//! The writing half of a [`Connection`]: framing outgoing messages into the output buffer,
//! masking for clients, fragmentation, streamed sends, and the send-side rules of §5.5.1
//! (nothing after Close).

use alloc::vec::Vec;

use super::{Connection, MaskKeySource, MessageKind, State};
use crate::close::{CloseCode, CloseFrame};
use crate::error::UsageError;
use crate::frame::{MAX_CONTROL_PAYLOAD, OpCode, encode_frame_to_vec};
use crate::utf8::Utf8Validator;

/// An output buffer larger than this is freed once written out.
const KEEP_BUFFER: usize = 256 * 1024;

pub(super) struct Sender {
    /// Bytes to write are `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
    keys: Option<MaskKeySource>,
    /// The kind of the message being streamed with `send_chunk`, if any.
    streaming: Option<MessageKind>,
    utf8: Utf8Validator,
    /// Scratch space for an extension's encoded payload.
    scratch: Vec<u8>,
}

impl Sender {
    pub(super) fn new(keys: Option<MaskKeySource>) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            keys,
            streaming: None,
            utf8: Utf8Validator::new(),
            scratch: Vec::new(),
        }
    }

    pub(super) fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub(super) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.clear();
        }
    }

    /// Frees the output buffer if everything was written, and the extension scratch space.
    pub(super) fn release(&mut self) {
        if self.start == self.buf.len() {
            self.buf = Vec::new();
            self.start = 0;
        }
        self.scratch = Vec::new();
    }

    pub(super) fn clear(&mut self) {
        self.start = 0;
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
    }

    #[inline]
    fn mask_key(&mut self) -> Option<[u8; 4]> {
        self.keys.as_mut().map(|next| next())
    }

    /// Appends one frame. The caller has checked what `encode_frame_to_vec` would refuse
    /// (control payload length), so the encoder's error cannot occur.
    #[inline]
    fn write_frame(&mut self, fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) -> Result<(), UsageError> {
        let mask = self.mask_key();
        encode_frame_to_vec(fin, rsv, opcode, payload, mask, &mut self.buf).map(|_| ())
    }

    pub(super) fn write_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), UsageError> {
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(UsageError::ControlPayloadTooLong(payload.len()));
        }
        self.write_frame(true, 0, opcode, payload)
    }

    pub(super) fn write_close(&mut self, frame: &CloseFrame<'_>) -> Result<(), UsageError> {
        let mut body = [0u8; MAX_CONTROL_PAYLOAD];
        let len = frame.encode(&mut body)?;
        self.write_frame(true, 0, OpCode::Close, &body[..len])
    }

    /// Appends a message as one frame or as fragments of at most `fragment` payload bytes.
    #[inline]
    fn write_message(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        payload: &[u8],
        fragment: Option<usize>,
    ) -> Result<(), UsageError> {
        let size = fragment.unwrap_or(usize::MAX).max(1);
        if payload.len() <= size {
            return self.write_frame(true, rsv, opcode, payload);
        }
        let mut pieces = payload.chunks(size).peekable();
        let mut first = true;
        while let Some(piece) = pieces.next() {
            let fin = pieces.peek().is_none();
            let (op, bits) = if first { (opcode, rsv) } else { (OpCode::Continuation, 0) };
            self.write_frame(fin, bits, op, piece)?;
            first = false;
        }
        Ok(())
    }
}

impl Connection {
    /// Queues a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), UsageError> {
        self.send_message(OpCode::Text, text.as_bytes())
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.send_message(OpCode::Binary, data)
    }

    /// Queues a message of either kind (text must be valid UTF-8: use
    /// [`send_text`](Self::send_text) when you hold a `&str`).
    pub fn send(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), UsageError> {
        match kind {
            MessageKind::Text => match core::str::from_utf8(data) {
                Ok(text) => self.send_text(text),
                Err(_) => Err(UsageError::InvalidUtf8),
            },
            MessageKind::Binary => self.send_binary(data),
        }
    }

    #[inline]
    fn send_message(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), UsageError> {
        self.check_can_send()?;
        if self.out.streaming.is_some() {
            return Err(UsageError::MessageInProgress);
        }
        let fragment = self.config.fragment_size;
        if let Some(extension) = self.extension.as_mut() {
            let mut scratch = core::mem::take(&mut self.out.scratch);
            scratch.clear();
            let result = match extension.encode(opcode, payload, &mut scratch) {
                Some(rsv) => self.out.write_message(opcode, rsv, &scratch, fragment),
                None => self.out.write_message(opcode, 0, payload, fragment),
            };
            // Keep a small scratch buffer for the next message; free one a large message grew.
            if scratch.capacity() <= KEEP_BUFFER {
                self.out.scratch = scratch;
            }
            result?;
        } else {
            self.out.write_message(opcode, 0, payload, fragment)?;
        }
        self.timers.on_send();
        Ok(())
    }

    /// Queues one piece of a message whose size is not known up front (a streamed send): the
    /// first call starts a message of `kind`, later calls continue it, and the call with
    /// `last` set ends it. Each piece becomes one frame. Text pieces may split a multi-byte
    /// character; the text as a whole is validated as it goes.
    ///
    /// Pings, pongs and a close may be sent between pieces; other messages may not. Streamed
    /// messages are sent without an extension's transform (permessage-deflate leaves them
    /// uncompressed, which RFC 7692 §6 allows per message).
    pub fn send_chunk(&mut self, kind: MessageKind, data: &[u8], last: bool) -> Result<(), UsageError> {
        self.check_can_send()?;
        let opcode = match self.out.streaming {
            None => match kind {
                MessageKind::Text => OpCode::Text,
                MessageKind::Binary => OpCode::Binary,
            },
            Some(current) if current == kind => OpCode::Continuation,
            Some(_) => return Err(UsageError::MessageInProgress),
        };
        if kind == MessageKind::Text {
            if opcode != OpCode::Continuation {
                self.out.utf8.reset();
            }
            // Validate on a copy of the validator so a refused piece leaves the state as it was.
            let mut validator = self.out.utf8.clone();
            validator.feed(data).map_err(|_| UsageError::InvalidUtf8)?;
            if last {
                validator.finish().map_err(|_| UsageError::InvalidUtf8)?;
            }
            self.out.utf8 = validator;
        }
        self.out.write_frame(last, 0, opcode, data)?;
        self.out.streaming = if last { None } else { Some(kind) };
        self.timers.on_send();
        Ok(())
    }

    /// Queues a Ping with `payload` (at most 125 bytes, §5.5). The peer answers with a Pong.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        if self.life.state == State::Closed {
            return Err(UsageError::Closed);
        }
        self.out.write_control(OpCode::Ping, payload)?;
        self.timers.on_send();
        Ok(())
    }

    /// Queues an unsolicited Pong (a unidirectional heartbeat, §5.5.3). Pongs answering Pings
    /// are sent automatically.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        if self.life.state == State::Closed {
            return Err(UsageError::Closed);
        }
        self.out.write_control(OpCode::Pong, payload)?;
        self.timers.on_send();
        Ok(())
    }

    /// Starts the close handshake (§7.1.2): queues a Close with `code` and `reason` (at most
    /// 123 bytes of UTF-8). Messages keep arriving until the peer's Close, reported as
    /// [`Event::Close`](super::Event::Close) with [`CloseOrigin::Reply`](super::CloseOrigin::Reply).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        if self.life.close_sent || self.life.state == State::Closed {
            return Err(UsageError::Closed);
        }
        self.out.write_close(&CloseFrame { code: Some(code), reason })?;
        self.mark_close_sent();
        self.timers.on_close_sent();
        Ok(())
    }

    fn check_can_send(&self) -> Result<(), UsageError> {
        // §5.5.1: after sending a Close frame, the endpoint MUST NOT send any more data frames.
        if self.life.close_sent || self.life.state != State::Open { Err(UsageError::Closed) } else { Ok(()) }
    }
}
