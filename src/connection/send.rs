//! The writing half of a [`Connection`]: framing outgoing messages into the output buffer,
//! masking for clients, fragmentation, streamed sends, and the send-side rules of §5.5.1
//! (nothing after Close).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::lifecycle::Input;
use super::{Connection, MaskKeySource, MessageKind, Payload};
use crate::close::CloseCode;
use crate::fault::FrameRule;
use crate::fault::UsageError;
use crate::frame::{
    CloseFrame, MAX_CONTROL_PAYLOAD, OpCode, append_data_frame, data_frame_header_word, encode_frame_to_vec,
};
use crate::mask::apply_mask;
use crate::utf8::Utf8Validator;

/// An output buffer larger than this is freed once written out.
const KEEP_BUFFER: usize = 256 * 1024;

/// [`Connection::send_owned`] holds payloads of at least this many bytes instead of copying
/// them into the output buffer. Measured in instructions (scripts/callgrind.sh, rows
/// `send_owned/server/binary/*`, output taken as a vectored write takes it; with the unchecked
/// data-frame header of issue 17): holding cost about 460 instructions whatever the size
/// (400 since the output's pieces and the held queue's clearing have a path for one payload);
/// copying costs 342 at 256 B, 437 at 1 KiB, 533 at 2 KiB, 723 at 4 KiB and 16,664 at
/// 16 KiB. The crossover is about 1.3 KiB. Holding also costs
/// what callgrind does not see (a reference count, a second piece in every vectored write,
/// which the kernel walks), and the timing harness of issue 17 found a held 1 KiB slower than
/// a copied one; so the threshold sits above the crossover, at 2 KiB.
const HOLD_MIN: usize = 2 * 1024;

/// An owned payload queued for output where it lies, after the frame header that ends at
/// `at` in the output buffer.
pub(super) struct Held {
    /// Where in `Sender::buf` the payload sits: after `buf[..at]`, before `buf[at..]`.
    at: usize,
    payload: Payload,
    /// How many of its bytes were written.
    written: usize,
}

impl Held {
    fn rest(&self) -> &[u8] {
        // `written` never exceeds the payload's length: `consume` clamps it.
        &self.payload.as_bytes()[self.written..]
    }
}

pub(super) struct Sender {
    /// Bytes to write are `buf[start..]`, with the held payloads spliced in at their `at`.
    buf: Vec<u8>,
    start: usize,
    /// Payloads queued by `send_owned` without a copy, in the order they are written.
    held: VecDeque<Held>,
    /// Unwritten bytes of the held payloads.
    held_len: usize,
    keys: Option<MaskKeySource>,
    /// The kind of the message being streamed with `send_chunk`, if any.
    streaming: Option<MessageKind>,
    /// The validator of the text being streamed; boxed, as few connections stream text and
    /// inline it made every connection 24 bytes larger.
    utf8: Option<Box<Utf8Validator>>,
    /// Scratch space for an extension's encoded payload.
    scratch: Vec<u8>,
    /// How many pending bytes the last `poll_output`/`output_pieces` handed out: the most a
    /// caller may report as written.
    handed_out: usize,
    /// Where the last automatic Pong starts in `buf`, while it is the last thing queued: when
    /// output is full, a newer Ping's Pong replaces it if it was not begun (§5.5.3 allows
    /// answering only the most recent Ping), so a Ping flood cannot grow the output.
    auto_pong: Option<usize>,
}

/// The pending output as pieces in order: the buffer's bytes between held payloads, and
/// the payloads' unwritten bytes; empty pieces are skipped.
pub(super) enum Pieces<'s> {
    /// Up to three slices: the buffer, or the buffer before, the payload and the buffer after.
    Few(core::array::IntoIter<&'s [u8], 3>),
    /// Any number of held payloads: `from` is where the buffer's next piece starts, `next` the
    /// index of the next payload to reach, and `reached` a payload whose bytes come next.
    Many { sender: &'s Sender, from: usize, end: usize, next: usize, reached: Option<&'s Held> },
}

impl<'s> Iterator for Pieces<'s> {
    type Item = &'s [u8];

    #[inline]
    fn next(&mut self) -> Option<&'s [u8]> {
        match self {
            Pieces::Few(slices) => slices.find(|piece| !piece.is_empty()),
            Pieces::Many { sender, from, end, next, reached } => loop {
                if let Some(held) = reached.take() {
                    let rest = held.rest();
                    if !rest.is_empty() {
                        return Some(rest);
                    }
                    continue;
                }
                let stop = match sender.held.get(*next) {
                    Some(held) => {
                        *next += 1;
                        *reached = Some(held);
                        held.at
                    }
                    None if *from < *end => *end,
                    None => return None,
                };
                let piece = &sender.buf[*from..stop];
                *from = stop;
                if !piece.is_empty() {
                    return Some(piece);
                }
            },
        }
    }
}

impl Sender {
    pub(super) fn new(keys: Option<MaskKeySource>) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            held: VecDeque::new(),
            held_len: 0,
            keys,
            streaming: None,
            utf8: None,
            scratch: Vec::new(),
            handed_out: 0,
            auto_pong: None,
        }
    }

    /// The next piece of output to write, remembered as handed out: buffered bytes up to the
    /// first held payload, or that payload. Empty when nothing is pending. A trailing
    /// automatic Pong is held back while the output before it is at `limit` (see
    /// [`withheld`](Self::withheld)).
    #[inline]
    pub(super) fn hand_out_next(&mut self, limit: usize) -> &[u8] {
        let end = self.buf.len() - self.withheld(limit);
        // The piece borrows only the buffers, so `handed_out` can be set while it is held.
        let piece = match self.held.front() {
            None => &self.buf[self.start..end],
            Some(held) if self.start < held.at => &self.buf[self.start..held.at],
            Some(held) => held.rest(),
        };
        self.handed_out = piece.len();
        piece
    }

    /// `pieces`, all of them remembered as handed out, but for a withheld trailing Pong.
    #[inline]
    pub(super) fn hand_out_all(&mut self, limit: usize) -> Pieces<'_> {
        let withheld = self.withheld(limit);
        self.handed_out = self.pending_len() - withheld;
        self.pieces_until(self.buf.len() - withheld)
    }

    /// How many bytes at the end of the buffer not to hand out: the last automatic Pong, while
    /// it is the last thing queued, none of it written, and the output before it is at the
    /// bound (and not empty). Handed out, it could no longer be replaced by the answer to a
    /// newer Ping (an async driver keeps output handed out while its write is pending, and
    /// hands it all out again on every attempt), so a Ping flood from a peer that never reads
    /// would add a Pong per attempt; held back, it stays replaceable, and goes out once the
    /// output before it drains below the bound. (§5.5.2 wants a Pong "as soon as is
    /// practical"; with the output at its bound, that is when the bound allows.)
    #[inline]
    fn withheld(&self, limit: usize) -> usize {
        match self.auto_pong {
            Some(at) if self.start <= at => {
                let before = self.pending_len() - (self.buf.len() - at);
                if before > 0 && before >= limit { self.buf.len() - at } else { 0 }
            }
            _ => 0,
        }
    }

    /// The caller reports `n` bytes of what was handed out as written.
    #[inline]
    pub(super) fn written(&mut self, n: usize) -> Result<(), UsageError> {
        let Some(left) = self.handed_out.checked_sub(n) else {
            return Err(UsageError::WrittenTooMuch { written: n, handed_out: self.handed_out });
        };
        self.consume(n);
        self.handed_out = left;
        Ok(())
    }

    /// All pending output in order, as the pieces `hand_out_next` hands out one at a time.
    pub(super) fn pieces(&self) -> Pieces<'_> {
        self.pieces_until(self.buf.len())
    }

    /// [`pieces`](Self::pieces), with the buffer read only up to `end` (at or after the last
    /// held payload's `at`).
    #[inline]
    fn pieces_until(&self, end: usize) -> Pieces<'_> {
        // `start <= at <= end`: `start` never passes the first held payload's `at`, and the
        // `at`s rise along the queue up to `end`.
        match self.held.len() {
            // The usual cases, a buffer or a buffer around one payload, without walking the
            // queue: three slices, the empty ones skipped.
            0 => Pieces::Few([&self.buf[self.start..end], &[], &[]].into_iter()),
            1 => {
                let held = &self.held[0];
                Pieces::Few(
                    [&self.buf[self.start..held.at], held.rest(), &self.buf[held.at..end]].into_iter(),
                )
            }
            _ => Pieces::Many { sender: self, from: self.start, end, next: 0, reached: None },
        }
    }

    /// How many bytes are pending in all.
    #[inline]
    pub(super) fn pending_len(&self) -> usize {
        self.buf.len() - self.start + self.held_len
    }

    /// The transport took `n` more bytes of output; `n` is at most what is pending.
    #[inline]
    pub(super) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.pending_len());
        // Output taken another way (`write_to`, `poll_transmit`) ends what was handed out.
        self.handed_out = 0;
        self.consume_pieces(n);
    }

    #[inline]
    fn consume_pieces(&mut self, mut n: usize) {
        if self.held.is_empty() {
            // One piece: the buffer.
            self.start = self.start.saturating_add(n).min(self.buf.len());
            if self.start == self.buf.len() {
                self.clear();
            }
            return;
        }
        if n >= self.pending_len() {
            // All of it, the usual end of a vectored write: nothing to walk.
            self.clear();
            return;
        }
        while n > 0 {
            let stop = self.held.front().map_or(self.buf.len(), |held| held.at);
            if self.start < stop {
                let take = n.min(stop - self.start);
                self.start += take;
                n -= take;
                continue;
            }
            let Some(held) = self.held.front_mut() else { break };
            let take = n.min(held.payload.len() - held.written);
            held.written += take;
            self.held_len -= take;
            n -= take;
            if held.written == held.payload.len() {
                self.held.pop_front();
            }
        }
        if self.start == self.buf.len() && self.held.is_empty() {
            self.clear();
        }
    }

    /// Bytes allocated by the output buffer and the extension scratch space.
    pub(super) fn capacity(&self) -> usize {
        self.buf.capacity() + self.scratch.capacity()
    }

    /// Frees the output buffer if everything was written, and the extension scratch space.
    pub(super) fn release(&mut self) {
        if self.pending_len() == 0 {
            self.buf = Vec::new();
            self.start = 0;
            self.held = VecDeque::new();
        }
        self.scratch = Vec::new();
    }

    /// Drops everything pending.
    #[inline]
    pub(super) fn clear(&mut self) {
        self.start = 0;
        self.handed_out = 0;
        self.auto_pong = None;
        if !self.held.is_empty() {
            // One at a time from the front: `VecDeque::clear` splits the ring into two slices
            // and drops each, 60 instructions for the usual one payload, against about 30.
            while self.held.pop_front().is_some() {}
            self.held_len = 0;
        }
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
    }

    /// Queues `payload` as one frame without copying it: the header goes in the buffer, the
    /// payload is held until written. A client masks the payload in place; the caller has
    /// checked that it owns the bytes outright when a key is needed.
    #[inline]
    fn hold_frame(&mut self, opcode: OpCode, mut payload: Payload) {
        let mask = self.mask_key();
        // A data opcode with RSV bits clear: the unchecked header is the checked one.
        let (head, head_len) = data_frame_header_word(true, 0, opcode, payload.len(), mask);
        if let (Some(key), Some(bytes)) = (mask, payload.owned_mut()) {
            apply_mask(bytes, key, 0);
        }
        self.auto_pong = None;
        // All of `head`, then cut to the header: a copy of a fixed size is a few moves, where
        // one of `head_len` bytes is a call to `memcpy`.
        let at = self.buf.len() + head_len;
        self.buf.extend_from_slice(&head.to_le_bytes());
        self.buf.truncate(at);
        self.held_len += payload.len();
        self.held.push_back(Held { at: self.buf.len(), payload, written: 0 });
    }

    /// Appends the unwritten end of a frame whose start the transport took from elsewhere
    /// ([`VectoredSend`](super::VectoredSend)): the rest of its header, then of its payload.
    pub(super) fn queue_unwritten(&mut self, head: &[u8], payload: &[u8]) {
        self.auto_pong = None;
        self.buf.reserve(head.len() + payload.len());
        self.buf.extend_from_slice(head);
        self.buf.extend_from_slice(payload);
    }

    #[inline]
    fn mask_key(&mut self) -> Option<[u8; 4]> {
        self.keys.as_mut().map(|next| next())
    }

    /// Appends one control frame. The caller has checked what `encode_frame_to_vec` would
    /// refuse (control payload length), so the encoder's error cannot occur.
    #[inline]
    fn write_control_frame(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), UsageError> {
        self.auto_pong = None;
        let mask = self.mask_key();
        encode_frame_to_vec(true, 0, opcode, payload, mask, &mut self.buf).map(|_| ())
    }

    /// Appends one data frame of a streamed message (no extension: RSV bits clear).
    #[inline]
    fn write_data_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        self.auto_pong = None;
        let mask = self.mask_key();
        append_data_frame(fin, 0, opcode, payload, mask, &mut self.buf);
    }

    pub(super) fn write_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), UsageError> {
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(UsageError::ControlPayloadTooLong(payload.len()));
        }
        self.write_control_frame(opcode, payload)
    }

    /// Queues the automatic answer to a Ping (§5.5.2). Once pending output has reached
    /// `limit` (the peer is not reading), an earlier automatic Pong that is still the last thing
    /// queued and not yet begun is replaced instead (§5.5.3 allows answering only the most
    /// recent Ping), so a Ping flood cannot grow the output past the bound; below it, every
    /// Ping is answered.
    pub(super) fn write_auto_pong(&mut self, payload: &[u8], limit: usize) {
        // Replaceable: `auto_pong` is cleared by every other append, so the Pong is the last
        // thing queued (after every held payload); `start` has not passed its first byte, so
        // none of it was written; and none of it was handed out to the caller, who may be
        // writing what was (`poll_output`/`output_pieces` and not yet `handle_written`). The
        // handed-out bytes are the first `handed_out` pending ones, so the Pong, the last
        // `buf.len() - at` of them, is clear of them when they end before it. (An async
        // driver keeps output handed out while its write is pending: requiring
        // `handed_out == 0` let a Ping flood grow the output without bound there.)
        let replace = self
            .auto_pong
            .filter(|&at| self.start <= at && self.handed_out + (self.buf.len() - at) <= self.pending_len());
        if let Some(at) = replace.filter(|_| self.pending_len() >= limit) {
            self.buf.truncate(at);
        }
        let at = self.buf.len();
        // A Ping's payload is at most 125 bytes (the decoder checks), so this cannot fail.
        if self.write_control(OpCode::Pong, payload).is_ok() {
            self.auto_pong = Some(at);
        }
    }

    pub(super) fn write_close(&mut self, frame: &CloseFrame<'_>) -> Result<(), UsageError> {
        let mut body = [0u8; MAX_CONTROL_PAYLOAD];
        let len = frame.encode(&mut body)?;
        self.write_control_frame(OpCode::Close, &body[..len])
    }

    /// Moves all pending output to the end of `out`, as written; returns how many bytes.
    /// When `out` is empty but too small for it, and the output is one buffer from its start,
    /// the buffers are swapped instead of copied (a buffer with room is the caller's to keep).
    /// Ends what was handed out, as any output taken another way.
    pub(super) fn move_pending_to(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.pending_len();
        if n == 0 {
            return 0;
        }
        if out.is_empty() && out.capacity() < n && self.start == 0 && self.held.is_empty() {
            core::mem::swap(&mut self.buf, out);
            // `buf` is now the caller's empty buffer; `clear` resets the rest.
            self.clear();
            return n;
        }
        out.reserve(n);
        for piece in self.pieces() {
            out.extend_from_slice(piece);
        }
        self.consume(n);
        n
    }
}

/// Encodes a message to the end of `out`: through `extension` if one is installed (its
/// output in `scratch`), fragmented as configured, masked with keys from `keys` (a client's).
/// A free function over the connection's parts, so `out` may be its own output buffer or the
/// caller's. The checks are the caller's.
#[inline(always)]
fn encode_message(
    extension: Option<&mut (dyn crate::extension::Extension + 'static)>,
    keys: &mut Option<MaskKeySource>,
    scratch: &mut Vec<u8>,
    fragment: Option<usize>,
    opcode: OpCode,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), UsageError> {
    // Most messages: no extension, one frame, RSV bits clear.
    if extension.is_none() && fragment.is_none_or(|size| payload.len() <= size.max(1)) {
        let mask = keys.as_mut().map(|next| next());
        append_data_frame(true, 0, opcode, payload, mask, out);
        return Ok(());
    }
    encode_transformed_or_fragmented(extension, keys, scratch, fragment, opcode, payload, out)
}

/// The rest of [`encode_message`]: through an extension, or in fragments.
#[inline(never)]
fn encode_transformed_or_fragmented(
    extension: Option<&mut (dyn crate::extension::Extension + 'static)>,
    keys: &mut Option<MaskKeySource>,
    scratch: &mut Vec<u8>,
    fragment: Option<usize>,
    opcode: OpCode,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), UsageError> {
    let Some(extension) = extension else {
        return append_message(keys, opcode, 0, payload, fragment, out);
    };
    let mut taken = core::mem::take(scratch);
    taken.clear();
    let result = match extension.encode(opcode, payload, &mut taken) {
        Some(rsv) => append_message(keys, opcode, rsv, &taken, fragment, out),
        None => append_message(keys, opcode, 0, payload, fragment, out),
    };
    // Keep a small scratch buffer for the next message; free one a large message grew.
    if taken.capacity() <= KEEP_BUFFER {
        *scratch = taken;
    }
    result
}

/// Appends a message to `out` as one frame or as fragments of at most `fragment` payload
/// bytes, masked with keys from `keys` (a client's, §5.3). The first frame carries `rsv`, the
/// extension's bits (RFC 7692 §6: only on the first frame of a message).
fn append_message(
    keys: &mut Option<MaskKeySource>,
    opcode: OpCode,
    rsv: u8,
    payload: &[u8],
    fragment: Option<usize>,
    out: &mut Vec<u8>,
) -> Result<(), UsageError> {
    // An extension's bits come from a public trait: refused as the checked encoder would.
    if rsv > 0b111 {
        return Err(UsageError::InvalidFrame(FrameRule::RsvBits));
    }
    let mut key = || keys.as_mut().map(|next| next());
    let size = fragment.unwrap_or(usize::MAX).max(1);
    if payload.len() <= size {
        append_data_frame(true, rsv, opcode, payload, key(), out);
        return Ok(());
    }
    let mut pieces = payload.chunks(size).peekable();
    let mut first = true;
    while let Some(piece) = pieces.next() {
        let fin = pieces.peek().is_none();
        let (op, bits) = if first { (opcode, rsv) } else { (OpCode::Continuation, 0) };
        append_data_frame(fin, bits, op, piece, key(), out);
        first = false;
    }
    Ok(())
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
            MessageKind::Text => match crate::utf8::as_str(data) {
                Some(text) => self.send_text(text),
                None => Err(UsageError::InvalidUtf8),
            },
            MessageKind::Binary => self.send_binary(data),
        }
    }

    /// Queues a message whose payload the connection takes ownership of, so that large
    /// payloads are written out from where they lie instead of being copied into the output
    /// buffer.
    ///
    /// A server frame holds the payload as it is; a client masks a payload it owns outright
    /// (`Vec<u8>`, `String`) in place, and copies a shared one (`Arc`, `Bytes`) while masking,
    /// as [`send_binary`](Self::send_binary) does. Payloads under 2 KiB, messages an extension
    /// transforms (permessage-deflate) and messages split by
    /// [`Config::fragment_size`](super::Config::fragment_size) are copied as well.
    ///
    /// Output then comes in several pieces: [`write_to`](Self::write_to) hands them to one
    /// vectored write; by hand, [`poll_output`](Self::poll_output) returns one at a time
    /// (write until it is empty), or [`output_pieces`](Self::output_pieces) all of them.
    ///
    /// Text must be UTF-8: payloads made from `String` or `Arc<str>` are taken as they are,
    /// others are validated ([`UsageError::InvalidUtf8`] if they are not).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rfc6455::{Connection, MessageKind, Role};
    /// use rfc6455::connection::Config;
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// let news: Arc<[u8]> = vec![b'x'; 64 * 1024].into();
    /// server.send_owned(MessageKind::Binary, Arc::clone(&news)).unwrap();
    ///
    /// let mut wire = Vec::new(); // a TcpStream in real use
    /// server.write_to(&mut wire).unwrap(); // a vectored write: header, then the payload in place
    /// assert_eq!(wire[..2], [0x82, 127]); // FIN + Binary, then a 64-bit length (§5.2)
    /// assert_eq!(wire.len(), 10 + 64 * 1024);
    /// ```
    pub fn send_owned(&mut self, kind: MessageKind, payload: impl Into<Payload>) -> Result<(), UsageError> {
        let mut payload = payload.into();
        let opcode = match kind {
            MessageKind::Text => {
                if !payload.is_known_utf8() && crate::utf8::as_str(payload.as_bytes()).is_none() {
                    return Err(UsageError::InvalidUtf8);
                }
                OpCode::Text
            }
            MessageKind::Binary => OpCode::Binary,
        };
        let maskable = self.role == crate::role::Role::Server || payload.owned_mut().is_some();
        if !self.goes_out_where_it_lies(payload.len()) || !maskable {
            return self.send_message(opcode, payload.as_bytes());
        }
        self.check_can_start_message(0)?;
        self.out.hold_frame(opcode, payload);
        self.timers.on_send();
        Ok(())
    }

    /// Sends a message by encoding it straight into the caller's buffer `out` (appended),
    /// instead of into the connection's output for the caller to copy out: one copy of the
    /// payload fewer for a caller that assembles its writes in a buffer of its own (a write
    /// buffer that batches many small messages, a TLS or HTTP/2 send buffer). It does what
    /// [`send`](Self::send) does, with the same [`UsageError`]s, and writes the same bytes.
    ///
    /// * **Order.** Output already pending in the connection (an automatic Pong, a Close
    ///   echo, earlier messages) is moved to `out` first, so frames keep their order; the
    ///   connection is left with nothing pending. Moving it ends what
    ///   [`poll_output`](Self::poll_output) or [`output_pieces`](Self::output_pieces) handed
    ///   out: do not call this while such a write is in flight (take output one way).
    /// * **Bound.** `out` holds output not yet written, so its length counts toward
    ///   [`Config::max_pending_output`](super::Config::max_pending_output) with the
    ///   connection's own: once `out.len()` plus what is pending reaches the bound, the send is
    ///   refused with [`UsageError::OutputFull`] and nothing is moved. Write `out` and remove
    ///   what was written (`out.clear()`, `out.drain(..n)`), then send again. (Only this
    ///   call sees `out`: [`ping`](Self::ping), [`pong`](Self::pong) and `send_chunk` are
    ///   bound by the connection's own output.)
    /// * **Rules.** As for `send`: refused after our Close ([`UsageError::Closed`], §5.5.1)
    ///   or while a streamed message ([`send_chunk`](Self::send_chunk)) is in progress
    ///   ([`UsageError::MessageInProgress`]); text must be UTF-8; compressed with
    ///   permessage-deflate when negotiated, fragmented per
    ///   [`Config::fragment_size`](super::Config::fragment_size), and masked with a fresh key
    ///   from the connection's key source by a client (§5.3).
    ///
    /// Output the connection queues later (Pongs, a Close) still comes out of it:
    /// [`append_output`](Self::append_output) moves it to the same buffer.
    ///
    /// Use it for small and medium messages written from a buffer you own. For large payloads
    /// you own, [`send_owned`](Self::send_owned) with a vectored write copies nothing at all.
    ///
    /// ```
    /// use rfc6455::{Connection, MessageKind, Role};
    /// use rfc6455::connection::Config;
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// // A peer's Ping arrived: its Pong is queued in the connection.
    /// server.handle_bytes(&[0x89, 0x81, 0, 0, 0, 0, b'p']);
    /// while server.poll_event().is_some() {}
    ///
    /// // Many small updates, batched into one write from the application's own buffer.
    /// let mut batch = Vec::with_capacity(4096);
    /// for tick in 0..3u8 {
    ///     server.send_into(MessageKind::Binary, &[tick; 16], &mut batch).unwrap();
    /// }
    /// assert_eq!(server.pending_output_len(), 0); // the Pong moved to `batch`, first
    /// assert_eq!(batch[..3], [0x8a, 0x01, b'p']);
    /// assert_eq!(batch[3..5], [0x82, 16]); // then the updates, in order
    /// assert_eq!(batch.len(), 3 + 3 * 18);
    ///
    /// let mut socket = Vec::new(); // a TcpStream in real use
    /// std::io::Write::write_all(&mut socket, &batch).unwrap();
    /// batch.clear(); // written: no longer counts toward the send bound
    /// ```
    pub fn send_into(&mut self, kind: MessageKind, data: &[u8], out: &mut Vec<u8>) -> Result<(), UsageError> {
        let opcode = match kind {
            MessageKind::Text if crate::utf8::as_str(data).is_none() => return Err(UsageError::InvalidUtf8),
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        };
        self.check_can_start_message(out.len())?;
        // The test is `move_pending_to`'s own first one, inlined here: the call costs 26
        // instructions of a 157-instruction small send when nothing is pending (callgrind).
        if self.out.pending_len() != 0 {
            self.out.move_pending_to(out);
        }
        let sender = &mut self.out;
        let fragment = self.config.fragment_size;
        encode_message(
            self.extension.as_deref_mut(),
            &mut sender.keys,
            &mut sender.scratch,
            fragment,
            opcode,
            data,
            out,
        )?;
        self.timers.on_send();
        Ok(())
    }

    /// Whether a message of `len` payload bytes may go out from where its payload lies
    /// ([`send_owned`](Self::send_owned), [`send_vectored`](Self::send_vectored)) rather than
    /// be encoded into the output: one frame (not split by `fragment_size`), untransformed (no
    /// extension), and at least `HOLD_MIN` long, below which one piece costs less than two.
    /// (Masking, the other condition, differs: a held payload the connection owns can be
    /// masked in place, a borrowed one cannot.)
    #[inline]
    pub(super) fn goes_out_where_it_lies(&self, len: usize) -> bool {
        len >= HOLD_MIN
            && self.extension.is_none()
            && self.config.fragment_size.is_none_or(|size| len <= size.max(1))
    }

    #[inline(always)]
    fn send_message(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), UsageError> {
        self.check_can_start_message(0)?;
        let out = &mut self.out;
        out.auto_pong = None;
        let fragment = self.config.fragment_size;
        encode_message(
            self.extension.as_deref_mut(),
            &mut out.keys,
            &mut out.scratch,
            fragment,
            opcode,
            payload,
            &mut out.buf,
        )?;
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
            // Validate on a copy of the validator so a refused piece leaves the state as it was.
            let mut validator = match (&self.out.utf8, opcode) {
                (Some(current), OpCode::Continuation) => Utf8Validator::clone(current),
                _ => Utf8Validator::new(),
            };
            validator.feed(data).map_err(|_| UsageError::InvalidUtf8)?;
            if last {
                validator.finish().map_err(|_| UsageError::InvalidUtf8)?;
            }
            match &mut self.out.utf8 {
                Some(current) => **current = validator,
                None => self.out.utf8 = Some(Box::new(validator)),
            }
        }
        self.out.write_data_frame(last, opcode, data);
        self.out.streaming = if last { None } else { Some(kind) };
        self.timers.on_send();
        Ok(())
    }

    /// Queues a Ping with `payload` (at most 125 bytes, §5.5). The peer answers with a Pong.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        self.check_can_send()?;
        self.out.write_control(OpCode::Ping, payload)?;
        self.timers.on_send();
        Ok(())
    }

    /// Queues an unsolicited Pong (a unidirectional heartbeat, §5.5.3). Pongs answering Pings
    /// are sent automatically.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        self.check_can_send()?;
        self.out.write_control(OpCode::Pong, payload)?;
        self.timers.on_send();
        Ok(())
    }

    /// Starts the close handshake (§7.1.2): queues a Close with `code` and `reason` (at most
    /// 123 bytes of UTF-8). Messages keep arriving until the peer's Close, reported as
    /// [`Event::Closed`](super::Event::Closed) with
    /// [`CloseOrigin::Reply`](super::CloseOrigin::Reply). Never refused for backpressure.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        if !self.life.is_open() {
            return Err(UsageError::Closed);
        }
        self.out.write_close(&CloseFrame { code: Some(code), reason })?;
        self.transition(Input::SendClose);
        self.timers.on_close_sent(&self.config.timeouts);
        Ok(())
    }

    /// Data, pings and pongs may be sent: the connection is open (§5.5.1: nothing after our
    /// Close) and pending output is under the bound.
    #[inline]
    fn check_can_send(&self) -> Result<(), UsageError> {
        self.check_can_send_with(0)
    }

    /// [`check_can_send`](Self::check_can_send), with `elsewhere` more bytes of output waiting
    /// to be written outside the connection (the caller's buffer of `send_into`).
    #[inline]
    fn check_can_send_with(&self, elsewhere: usize) -> Result<(), UsageError> {
        if !self.life.is_open() {
            return Err(UsageError::Closed);
        }
        let pending = self.out.pending_len().saturating_add(elsewhere);
        if pending >= self.config.max_pending_output {
            return Err(UsageError::OutputFull { pending, limit: self.config.max_pending_output });
        }
        Ok(())
    }

    /// A whole message may start: data may be sent (counting `elsewhere` bytes waiting outside
    /// the connection), and no streamed message is in progress.
    #[inline]
    pub(super) fn check_can_start_message(&self, elsewhere: usize) -> Result<(), UsageError> {
        self.check_can_send_with(elsewhere)?;
        if self.out.streaming.is_some() {
            return Err(UsageError::MessageInProgress);
        }
        Ok(())
    }
}
