//! The reading half of a [`Connection`]: the receive buffer, frame decoding, reassembly,
//! UTF-8 validation, control frames, and turning protocol errors into a failed connection.
//!
//! Copies: bytes handed to `handle_bytes` are copied once into the receive buffer (with
//! `read_buf`/`handle_read` the transport writes there directly). A message that arrives as a
//! single frame is unmasked in place and handed out from that buffer with no further copy. A
//! fragmented message is copied once more, fragment by fragment, into the reassembly buffer;
//! a Text message that arrives in pieces (fragments, or one frame split across reads) is
//! validated as each piece is appended to a `String`, so it is never validated twice.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use super::send::Sender;
use super::{CloseInfo, CloseOrigin, Connection, Event, Lifecycle, MessageKind, State};
use crate::close::{CloseCode, CloseFrame};
use crate::error::ProtocolError;
use crate::frame::{Decoded, FrameDecoder, FrameHeader, OpCode, ParsedHeader};
use crate::mask::apply_mask;
use crate::utf8::Utf8Validator;

/// A receive buffer larger than this is freed, not kept, once it is empty, so an idle
/// connection does not hold on to the memory a large message needed.
const KEEP_BUFFER: usize = 64 * 1024;

/// The smallest growth step of the receive buffer.
const MIN_READ: usize = 4096;

pub(super) struct Receiver {
    decoder: FrameDecoder,
    /// Received bytes live in `buf[start..end]`; `buf.len()` is its allocated, zeroed size.
    buf: Vec<u8>,
    /// The first byte that must be kept (bytes before it are consumed).
    start: usize,
    /// The first byte not yet decoded.
    cursor: usize,
    /// The first byte not yet received.
    end: usize,
    /// The header of the frame whose payload is being read.
    frame: Option<FrameHeader>,
    /// For a message that is a single frame: where its payload starts in `buf`. Its bytes are
    /// unmasked in place and kept there until the whole frame is in.
    in_place: Option<usize>,
    /// The data message in progress, if any.
    message: Option<MessageKind>,
    /// Wire bytes of the message so far (before any extension decoding).
    message_len: u64,
    /// Whether the negotiated extension decodes the message in progress.
    transformed: bool,
    /// Whether the next streamed piece is the first of its message.
    first_chunk: bool,
    /// Reassembly buffer for fragmented (or extension-decoded) messages.
    assembled: Vec<u8>,
    /// Reassembly buffer for a Text message that arrives in pieces and no extension decodes:
    /// each piece is validated as it is appended, so the whole is never validated again.
    text: String,
    /// Bytes at the start of `assembled` that were already validated or handed out.
    assembled_done: usize,
    /// `assembled` was handed out in the last event: clear it on the next call.
    clear_assembled: bool,
    utf8: Utf8Validator,
    /// A close to report that did not come from a frame (end of stream, a timer).
    abnormal: Option<CloseOrigin>,
}

/// An event located in the connection's buffers, turned into an [`Event`] at the last moment
/// so the borrow of the connection starts there.
enum Ready {
    Message { kind: MessageKind, source: Source, range: Range<usize> },
    Chunk { kind: MessageKind, source: Source, range: Range<usize>, first: bool, last: bool },
    Ping(Range<usize>),
    Pong(Range<usize>),
    Close { code: CloseCode, reason: Range<usize>, origin: CloseOrigin },
}

#[derive(Clone, Copy)]
enum Source {
    Buffer,
    Assembled,
    /// `Receiver::text`, already valid UTF-8 (only for whole Text messages).
    Text,
}

/// Fails the connection (§7.1.7): queues a Close with the error's code unless one was sent,
/// and stops reading.
fn fail(out: &mut Sender, life: &mut Lifecycle, error: &ProtocolError) {
    if !life.close_sent && !life.close_received {
        let frame = CloseFrame { code: Some(error.close_code()), reason: "" };
        // A code from `close_code` is always sendable, so this cannot fail.
        let _ = out.write_close(&frame);
        life.close_sent = true;
    }
    life.dead = true;
    life.state = State::Closed;
}

impl Receiver {
    /// Turns a located event into an [`Event`] borrowing the buffers. This is where text
    /// becomes `&str`: a message that arrived as one frame in one piece is validated here, in
    /// its only pass; `None` means it is not UTF-8.
    ///
    /// Inlined into `poll_event`: returned through memory, the event was reloaded with a
    /// wider load than it was stored with, a store-forwarding stall that cost more than the
    /// rest of handling a small message.
    #[inline(always)]
    fn event(&self, ready: Ready) -> Option<Event<'_>> {
        let bytes = |source: Source, range: Range<usize>| match source {
            Source::Buffer => &self.buf[range],
            Source::Assembled => &self.assembled[range],
            Source::Text => &self.text.as_bytes()[range],
        };
        Some(match ready {
            Ready::Message { kind: MessageKind::Binary, source, range } => {
                Event::Binary(bytes(source, range))
            }
            // Validated piece by piece as it was assembled.
            Ready::Message { kind: MessageKind::Text, source: Source::Text, range } => {
                Event::Text(&self.text[range])
            }
            Ready::Message { kind: MessageKind::Text, source, range } => {
                Event::Text(crate::utf8::as_str(bytes(source, range))?)
            }
            Ready::Chunk { kind, source, range, first, last } => {
                Event::Chunk { kind, data: bytes(source, range), first, last }
            }
            Ready::Ping(range) => Event::Ping(&self.buf[range]),
            Ready::Pong(range) => Event::Pong(&self.buf[range]),
            Ready::Close { code, reason, origin } => Event::Close(CloseInfo {
                code,
                // Validated as UTF-8 by `CloseFrame::parse` before this was built.
                reason: core::str::from_utf8(&self.buf[reason]).unwrap_or_default(),
                origin,
            }),
        })
    }

    pub(super) fn new(decoder: FrameDecoder) -> Self {
        Self {
            decoder,
            buf: Vec::new(),
            start: 0,
            cursor: 0,
            end: 0,
            frame: None,
            in_place: None,
            message: None,
            message_len: 0,
            transformed: false,
            first_chunk: true,
            assembled: Vec::new(),
            text: String::new(),
            assembled_done: 0,
            clear_assembled: false,
            utf8: Utf8Validator::new(),
            abnormal: None,
        }
    }

    pub(super) fn push_abnormal_close(&mut self, origin: CloseOrigin) {
        self.abnormal = Some(origin);
    }

    /// The receive buffer's allocated size, for tests of its growth.
    #[cfg(test)]
    pub(super) fn allocated(&self) -> usize {
        self.buf.len()
    }

    /// Frees the receive buffer if it holds no unconsumed byte, and the reassembly buffer if
    /// no message is being assembled.
    pub(super) fn release(&mut self) {
        if self.start == self.end && self.in_place.is_none() {
            self.buf = Vec::new();
            (self.start, self.cursor, self.end) = (0, 0, 0);
        }
        if self.message.is_none() || self.clear_assembled {
            self.assembled = Vec::new();
            self.text = String::new();
            self.assembled_done = 0;
            self.clear_assembled = false;
        }
    }

    /// Bytes received but not yet consumed, including any held for an in-place message.
    pub(super) fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Makes room for at least `additional` more bytes after `end`, first by moving the kept
    /// bytes to the front, then by growing.
    fn reserve(&mut self, additional: usize) {
        if self.start == self.end {
            // Nothing kept (an in-place message always keeps its bytes, so none is pending).
            self.start = 0;
            self.cursor = 0;
            self.end = 0;
            if self.buf.len() > KEEP_BUFFER && additional <= KEEP_BUFFER {
                self.buf = Vec::new();
            }
        }
        if self.buf.len() - self.end >= additional {
            return;
        }
        // Moving the kept bytes to the front costs a copy of them. With a buffer only a few
        // reads long, a message of about a read's size is moved on nearly every read: a second
        // copy of everything received (it was half the cost of receiving 16 KiB messages in
        // 16 KiB reads). So while the buffer is under 8 reads long, it grows rather than move
        // more than an eighth of itself; past that, moves are rare and the size stays bounded.
        let kept = self.end - self.start;
        let worth_moving = kept <= self.buf.len() / 8 || self.buf.len() >= additional.saturating_mul(8);
        if self.start > 0 && worth_moving {
            let shift = self.start;
            self.buf.copy_within(shift..self.end, 0);
            self.end -= shift;
            self.cursor -= shift;
            if let Some(at) = self.in_place.as_mut() {
                *at -= shift;
            }
            self.start = 0;
        }
        let needed = self.end + additional;
        if self.buf.len() < needed {
            // Double for amortised growth, but never far past what one frame can need: a
            // frame at the limit must not make the buffer twice the limit.
            let most = usize::try_from(self.decoder.max_frame_size())
                .unwrap_or(usize::MAX)
                .saturating_add(crate::frame::MAX_HEADER_LEN)
                .saturating_add(additional);
            let grown = needed.max(self.buf.len().saturating_mul(2).min(most)).max(MIN_READ);
            self.buf.resize(grown, 0);
        }
    }
}

impl Connection {
    /// Feeds bytes received from the transport. Then call [`poll_event`](Self::poll_event)
    /// until it returns `None`.
    ///
    /// Bytes are ignored once the connection is closed or failed.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        if self.life.dead || bytes.is_empty() {
            return;
        }
        self.timers.on_receive();
        let recv = &mut self.recv;
        recv.reserve(bytes.len());
        // `reserve` made room for `bytes.len()` bytes after `end`.
        recv.buf[recv.end..recv.end + bytes.len()].copy_from_slice(bytes);
        recv.end += bytes.len();
    }

    /// A buffer of at least `min` bytes for the transport to read into directly, saving the
    /// copy [`handle_bytes`](Self::handle_bytes) makes. Report how many bytes were read with
    /// [`handle_read`](Self::handle_read).
    pub fn read_buf(&mut self, min: usize) -> &mut [u8] {
        self.recv.reserve(min.max(1));
        let recv = &mut self.recv;
        &mut recv.buf[recv.end..]
    }

    /// The transport wrote `n` bytes into the start of [`read_buf`](Self::read_buf).
    /// `n` larger than that buffer is clamped.
    pub fn handle_read(&mut self, n: usize) {
        if self.life.dead || n == 0 {
            return;
        }
        self.timers.on_receive();
        let recv = &mut self.recv;
        recv.end += n.min(recv.buf.len() - recv.end);
    }

    /// The next event, if any. Call it until it returns `Ok(None)` after every input.
    ///
    /// An `Err` means the peer broke the protocol: the connection has failed (§7.1.7), a Close
    /// frame with [`ProtocolError::close_code`] is queued in the output, and the connection is
    /// [`State::Closed`]. Later calls return `Ok(None)`.
    pub fn poll_event(&mut self) -> Result<Option<Event<'_>>, ProtocolError> {
        if self.recv.clear_assembled {
            self.recv.clear_assembled = false;
            // Like the receive buffer: keep a small reassembly buffer for the next message,
            // free one that a large message grew, so an idle connection holds little.
            if self.recv.assembled.capacity() > KEEP_BUFFER {
                self.recv.assembled = Vec::new();
            } else {
                self.recv.assembled.clear();
            }
            if self.recv.text.capacity() > KEEP_BUFFER {
                self.recv.text = String::new();
            } else {
                self.recv.text.clear();
            }
            self.recv.assembled_done = 0;
        }
        if let Some(origin) = self.recv.abnormal.take() {
            return Ok(Some(Event::Close(CloseInfo { code: CloseCode::ABNORMAL, reason: "", origin })));
        }
        if self.life.dead {
            return Ok(None);
        }
        // The fast path is tried here rather than inside `advance`, so that its result stays
        // in registers: returned from `advance` through memory, it was reloaded with wider
        // loads than it was stored with (a store-forwarding stall, as in `event`).
        let ready = match self.whole_message() {
            Some(ready) => ready,
            None => match self.advance() {
                Ok(None) => return Ok(None),
                Ok(Some(ready)) => ready,
                Err(error) => {
                    fail(&mut self.out, &mut self.life, &error);
                    return Err(error);
                }
            },
        };
        // `event` borrows only the receive buffers and `fail` only the output and the
        // lifecycle, so the event can be returned from one branch while the other fails.
        if let Some(event) = self.recv.event(ready) {
            return Ok(Some(event));
        }
        let error = ProtocolError::InvalidUtf8;
        fail(&mut self.out, &mut self.life, &error);
        Err(error)
    }

    /// Decodes until something is ready for the application or more bytes are needed.
    fn advance(&mut self) -> Result<Option<Ready>, ProtocolError> {
        loop {
            let Some(header) = self.recv.frame else {
                let recv = &mut self.recv;
                if recv.cursor == recv.end {
                    return Ok(None);
                }
                let step = recv.decoder.decode(&mut recv.buf[recv.cursor..recv.end])?;
                recv.cursor += step.consumed;
                match step.item {
                    Decoded::Header(header) => {
                        if let Some(ready) = self.on_header(header)? {
                            return Ok(Some(ready));
                        }
                    }
                    // Header bytes are buffered in the decoder, so the consumed ones can go.
                    // (Between frames no single-frame message is held in place.)
                    Decoded::NeedMore => {
                        recv.start = recv.cursor;
                        return Ok(None);
                    }
                    Decoded::Payload { .. } => unreachable!("the decoder yields a header first"),
                }
                continue;
            };
            let recv = &mut self.recv;
            if header.opcode.is_control() {
                // A control payload is at most 125 bytes (checked by the decoder): wait until it
                // is all here, then handle it in one piece.
                let need = recv.decoder.payload_remaining() as usize;
                if recv.end - recv.cursor < need {
                    return Ok(None);
                }
                let at = recv.cursor;
                recv.decoder.decode(&mut recv.buf[at..at + need])?;
                recv.cursor += need;
                recv.frame = None;
                return self.on_control(header, at..at + need);
            }
            if recv.cursor == recv.end {
                return Ok(None);
            }
            let step = recv.decoder.decode(&mut recv.buf[recv.cursor..recv.end])?;
            let Decoded::Payload { range, frame_end } = step.item else {
                unreachable!("inside a payload the decoder yields payload");
            };
            let at = recv.cursor;
            recv.cursor += step.consumed;
            if frame_end {
                recv.frame = None;
            }
            if let Some(ready) = self.on_data(header, at + range.start..at + range.end, frame_end)? {
                return Ok(Some(ready));
            }
        }
    }

    /// The fast path for the common case: between messages, a whole unfragmented Text or
    /// Binary frame is in the buffer. It is unmasked in place and handed out at once, with the
    /// same checks as the general path below (which handles everything else, including every
    /// frame that breaks a rule, so errors come from one place).
    ///
    /// Without it each such frame takes two trips through the decoder (header, then payload)
    /// and the message state machine; for messages of up to a few hundred bytes that was most
    /// of the cost of receiving them.
    #[inline(always)]
    fn whole_message(&mut self) -> Option<Ready> {
        let recv = &mut self.recv;
        if recv.frame.is_some()
            || recv.message.is_some()
            || self.extension.is_some()
            || self.config.streaming
            || self.life.close_received
            || !recv.decoder.is_at_frame_boundary()
        {
            return None;
        }
        // `cursor <= end <= buf.len()` always holds.
        let input = &mut recv.buf[recv.cursor..recv.end];
        let Ok(ParsedHeader::Complete(header, header_len)) = FrameHeader::parse(input, self.role) else {
            return None;
        };
        let kind = match header.opcode {
            OpCode::Text => MessageKind::Text,
            OpCode::Binary => MessageKind::Binary,
            _ => return None,
        };
        // The limits the decoder and `on_header` check; a frame over either takes the general
        // path, which fails it.
        let limit = recv.decoder.max_frame_size().min(self.config.max_message_size);
        if !header.fin || header.rsv != 0 || header.payload_len > limit {
            return None;
        }
        // `None` (the general path) when the payload is not all here yet.
        let payload = input.get_mut(header_len..)?.get_mut(..usize::try_from(header.payload_len).ok()?)?;
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        let start = recv.cursor + header_len;
        let end = start + payload.len();
        recv.cursor = end;
        recv.start = end;
        Some(Ready::Message { kind, source: Source::Buffer, range: start..end })
    }

    /// Checks a new frame against the message state (§5.4) and the negotiated RSV bits (§5.2).
    fn on_header(&mut self, header: FrameHeader) -> Result<Option<Ready>, ProtocolError> {
        let starts_message = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        let allowed_rsv = match (&self.extension, starts_message) {
            (Some(extension), true) => extension.rsv_bits(),
            _ => 0,
        };
        if header.rsv & !allowed_rsv != 0 {
            return Err(ProtocolError::ReservedBits(header.rsv));
        }
        if header.opcode.is_control() {
            let at = self.recv.cursor;
            if header.payload_len == 0 {
                return self.on_control(header, at..at);
            }
            self.recv.frame = Some(header);
            return Ok(None);
        }
        if self.life.close_received {
            return Err(ProtocolError::DataAfterClose);
        }
        let recv = &mut self.recv;
        match (header.opcode, recv.message) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (OpCode::Continuation, Some(_)) => {}
            // Control frames returned above; only Text and Binary remain.
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (opcode, None) => {
                recv.message =
                    Some(if opcode == OpCode::Text { MessageKind::Text } else { MessageKind::Binary });
                recv.message_len = 0;
                recv.first_chunk = true;
                recv.utf8.reset();
                recv.transformed = match self.extension.as_mut() {
                    Some(extension) => extension.decode_begin(header.rsv)?,
                    None => false,
                };
            }
        }
        recv.message_len = recv.message_len.saturating_add(header.payload_len);
        if !recv.transformed && recv.message_len > self.config.max_message_size {
            return Err(ProtocolError::MessageTooLarge { limit: self.config.max_message_size });
        }
        // A single-frame message is kept where it arrives, except a Text one that is not all
        // here yet: that one is validated piece by piece into `text` as it comes (to fail
        // fast, §8.1), which spares a second validation of the whole.
        let arrived = (recv.end - recv.cursor) as u64 >= header.payload_len;
        if header.fin
            && header.opcode != OpCode::Continuation
            && !self.config.streaming
            && !recv.transformed
            && (header.opcode == OpCode::Binary || arrived)
        {
            recv.in_place = Some(recv.cursor);
        }
        if header.payload_len == 0 {
            let at = recv.cursor;
            return self.on_data(header, at..at, true);
        }
        recv.frame = Some(header);
        Ok(None)
    }

    /// Handles payload bytes of a data frame at `range` of the receive buffer (unmasked).
    fn on_data(
        &mut self,
        header: FrameHeader,
        range: Range<usize>,
        frame_end: bool,
    ) -> Result<Option<Ready>, ProtocolError> {
        let last = frame_end && header.fin;
        let recv = &mut self.recv;
        // `message` is set by `on_header` before any payload of a data frame is read.
        let kind = recv.message.unwrap_or(MessageKind::Binary);
        if recv.transformed {
            let limit = usize::try_from(self.config.max_message_size).unwrap_or(usize::MAX);
            // `Some`: `transformed` is only set when an extension exists.
            if let Some(extension) = self.extension.as_mut() {
                extension.decode_chunk(&recv.buf[range], &mut recv.assembled, limit)?;
                if last {
                    extension.decode_end(&mut recv.assembled, limit)?;
                }
            }
            recv.start = recv.cursor;
            let fresh = recv.assembled_done..recv.assembled.len();
            if kind == MessageKind::Text {
                recv.utf8.feed(&recv.assembled[fresh.clone()]).map_err(|_| ProtocolError::InvalidUtf8)?;
                if last {
                    recv.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                }
            }
            if self.config.streaming {
                if fresh.is_empty() && !last {
                    return Ok(None);
                }
                let first = core::mem::replace(&mut recv.first_chunk, false);
                recv.clear_assembled = true;
                if last {
                    recv.message = None;
                }
                return Ok(Some(Ready::Chunk { kind, source: Source::Assembled, range: fresh, first, last }));
            }
            recv.assembled_done = recv.assembled.len();
            if !last {
                return Ok(None);
            }
            recv.message = None;
            recv.clear_assembled = true;
            let whole = 0..recv.assembled.len();
            return Ok(Some(Ready::Message { kind, source: Source::Assembled, range: whole }));
        }
        // A single-frame message whose payload is all here at once is validated in one pass
        // when it becomes `&str` (`Receiver::event`). Anything arriving in pieces is validated
        // piece by piece, to fail fast on the first invalid byte (§8.1; Autobahn 6.4).
        let whole_at_once = recv.in_place == Some(range.start) && last;
        let into_text = kind == MessageKind::Text && recv.in_place.is_none() && !self.config.streaming;
        if kind == MessageKind::Text && !whole_at_once {
            let piece = &recv.buf[range.clone()];
            let fed =
                if into_text { recv.utf8.feed_into(piece, &mut recv.text) } else { recv.utf8.feed(piece) };
            fed.map_err(|_| ProtocolError::InvalidUtf8)?;
            if last {
                recv.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            }
        }
        if let Some(payload_start) = recv.in_place {
            if !last {
                return Ok(None);
            }
            recv.in_place = None;
            recv.message = None;
            recv.start = recv.cursor;
            return Ok(Some(Ready::Message {
                kind,
                source: Source::Buffer,
                range: payload_start..range.end,
            }));
        }
        recv.start = recv.cursor;
        if self.config.streaming {
            if range.is_empty() && !last {
                return Ok(None);
            }
            let first = core::mem::replace(&mut recv.first_chunk, false);
            if last {
                recv.message = None;
            }
            return Ok(Some(Ready::Chunk { kind, source: Source::Buffer, range, first, last }));
        }
        if !last {
            if !into_text {
                recv.assembled.extend_from_slice(&recv.buf[range]);
            }
            return Ok(None);
        }
        recv.message = None;
        recv.clear_assembled = true;
        if into_text {
            return Ok(Some(Ready::Message { kind, source: Source::Text, range: 0..recv.text.len() }));
        }
        recv.assembled.extend_from_slice(&recv.buf[range]);
        let whole = 0..recv.assembled.len();
        Ok(Some(Ready::Message { kind, source: Source::Assembled, range: whole }))
    }

    /// Handles a whole control frame whose unmasked payload is at `range` (§5.5).
    fn on_control(
        &mut self,
        header: FrameHeader,
        range: Range<usize>,
    ) -> Result<Option<Ready>, ProtocolError> {
        // A control frame never interrupts a frame, so no message is held in place here and
        // everything decoded so far is consumed.
        debug_assert!(self.recv.in_place.is_none());
        self.recv.start = self.recv.cursor;
        match header.opcode {
            OpCode::Ping => {
                // §5.5.2: answer with a Pong carrying the same payload, unless we already sent
                // Close (after which we send nothing but what is queued).
                if !self.life.close_sent {
                    // The payload is at most 125 bytes (checked by the decoder), so the Pong
                    // is a valid control frame.
                    let _ = self.out.write_control(OpCode::Pong, &self.recv.buf[range.clone()]);
                }
                Ok(Some(Ready::Ping(range)))
            }
            OpCode::Pong => {
                self.timers.on_pong();
                Ok(Some(Ready::Pong(range)))
            }
            // §5.5.1: the close handshake ends with the peer's Close; nothing it sends after
            // that is read, and a second Close must not be reported as a reply to ours.
            OpCode::Close if self.life.close_received => Ok(None),
            OpCode::Close => {
                let frame = CloseFrame::parse(&self.recv.buf[range.clone()])?;
                let code = frame.code.unwrap_or(CloseCode::NO_STATUS);
                let reason =
                    if frame.code.is_some() { range.start + 2..range.end } else { range.start..range.start };
                self.life.close_received = true;
                self.recv.message = None;
                self.recv.in_place = None;
                let origin = if self.life.close_sent {
                    CloseOrigin::Reply
                } else {
                    // §5.5.1: echo the status code received (an empty body if there was none).
                    let echo = CloseFrame { code: frame.code, reason: "" };
                    // The peer's code passed `parse`, so it is sendable.
                    let _ = self.out.write_close(&echo);
                    CloseOrigin::Peer
                };
                self.mark_close_sent();
                self.life.state = State::Closed;
                self.timers.on_closed();
                Ok(Some(Ready::Close { code, reason, origin }))
            }
            // The decoder only yields control frames here.
            _ => Err(ProtocolError::ReservedOpcode(header.opcode as u8)),
        }
    }
}
