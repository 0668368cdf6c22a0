//! The reading half of a [`Connection`]: the receive buffer, frame decoding, reassembly,
//! UTF-8 validation, control frames, and turning protocol errors into a failed connection.
//!
//! Copies: bytes handed to `handle_bytes` are copied once into the receive buffer (with
//! `read_buf`/`handle_read` the transport writes there directly). A message that arrives as a
//! single frame is unmasked in place and handed out from that buffer with no further copy. A
//! Binary message that arrives in pieces (fragments, or a frame of 4 to 64 KiB split across
//! reads) is copied once more, piece by piece, into a reassembly buffer, unmasked in the same
//! pass; a Text message that arrives in pieces is validated as each piece is appended to a
//! `String`, so it is never validated twice.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use super::lifecycle::{Input, Lifecycle};
use super::send::Sender;
use super::{Connection, Event, MessageKind};
use crate::fault::ProtocolError;
use crate::frame::{CloseFrame, Decoded, FrameDecoder, FrameHeader, OpCode, ParsedHeader};
use crate::mask::apply_mask;
use crate::utf8::{Utf8Error, Utf8Validator};

/// A receive buffer larger than this is freed, not kept, once it is empty, so an idle
/// connection does not hold on to the memory a large message needed. It holds a whole frame
/// with 64 KiB of payload, so a stream of such messages reuses one buffer.
const KEEP_BUFFER: usize = 64 * 1024 + crate::frame::MAX_HEADER_LEN;

/// Whether a reassembly buffer of `size` bytes is kept after a message of `used` bytes: when
/// it is small, or when the message needed a quarter of it or more (a stream of large
/// messages reuses it rather than freeing, zeroing and growing one per message).
fn keeps(size: usize, used: usize) -> bool {
    size <= KEEP_BUFFER || used >= size / 4
}

/// The smallest growth step of the receive buffer.
const MIN_READ: usize = 4096;

/// The most room [`read_buf`](Connection::read_buf) offers beyond what its caller asks for.
/// While reads fill all the room offered, the transport has more to give: the room offered
/// doubles up to this, so a driver asking for a few KiB reads as much as a driver asking
/// for large reads, in fewer calls, while a new or quiet connection zeroes only a few KiB.
const READ_AHEAD_MAX: usize = 64 * 1024;

/// How far past doubling the receive buffer may grow at once to hold the rest of the frame
/// being received: a frame of up to 64 KiB then needs one growth, not five, while a length
/// the peer claims but has not sent makes us allocate at most this much more.
const GROW_AHEAD: usize = 64 * 1024;

/// The largest single-frame Binary message that is unmasked into [`Receiver::whole`] when it
/// arrives in pieces, rather than held in place in the receive buffer. Copying each piece out,
/// unmasked in the same pass, leaves the receive buffer a few reads long, so the reads and the
/// copy stay in the L1 cache and a frame straddling two reads is never moved. Held in place, a
/// 16 KiB frame read 16 KiB at a time cycled through a 128 KiB buffer and was moved once every
/// seven frames: a `Connection` alone received such messages at 21.4 GB/s, 23.9 GB/s copied
/// out (9.9 % fewer instructions; benches/peers `recv/binary/16KiB`: 0.67–0.74× the best peer
/// before, 0.78–0.84× after). Larger frames stay in place: at 1 MiB the two ways measured the
/// same with 16 KiB reads, and in place was faster with 128 KiB reads (it reads in larger
/// pieces).
const UNMASK_INTO_MAX: u64 = 64 * 1024;
/// The smallest frame unmasked into [`Receiver::whole`] as above. A smaller one stays in place
/// while its rest arrives: moving it costs little, and a connection of small messages, whose
/// frames straddle reads now and then, needs no second buffer.
const UNMASK_INTO_MIN: u64 = MIN_READ as u64;

/// The most bytes of a Text message arriving in pieces by `Route::Text` (a client's, or a
/// server's once it is not all ASCII) that are unmasked, validated and appended to the
/// message in one step, so that each step's bytes are still in the L1 cache for the second
/// and third pass. A 64 KiB read was unmasked whole, then validated whole, then copied: three
/// trips through the L2 cache. In steps (measured when every Text message in pieces went this
/// way), benches/peers `recv/text-ascii/1MiB@read128K` went from 13.0-13.5 to 14.4-15.6 GB/s
/// (multi-byte text: 7.3-8.5 and 7.1-8.8 GB/s, within the noise); 4, 8 and 16 KiB steps
/// measured alike, and 16 KiB leaves reads of up to 16 KiB in one step, as before.
pub(super) const TEXT_STEP: usize = 16 * 1024;

/// With a [`frame_budget`](super::Config::frame_budget), one `poll_event` call stops after an
/// extension has produced this much (and one step more at most): 16 KiB of inflated output
/// is a few microseconds of work. Without it, a decompression bomb inflated up to the
/// message limit in one call, a millisecond or more per call for a 1 MiB limit
/// (tools/wsload's attack scenario). With a 64 KiB target, ten bombers beside a hundred good
/// clients on a `current_thread` server raised their p99 1.8-2.1x; with 16 KiB, 1.3-1.5x.
/// The cost on honest compressed traffic (benches/deflate.rs, `deflate_receive`, 1 MiB
/// JSON-like messages): 604 MiB/s, against 630 with 64 KiB and 786 without a budget.
const INFLATE_TARGET: usize = 16 * 1024;
/// The compressed bytes fed in a message's first step, and in every step at the highest
/// ratios: DEFLATE expands at most about 1,032 times (RFC 1951: a 258-byte match coded in as
/// few as 2 bits), so 16 bytes inflate to at most ~16.5 KiB.
const INFLATE_STEP_MIN: usize = 16;

/// The next step's compressed input, from the last step's: as much as should inflate to
/// `INFLATE_TARGET / 2` at the ratio just seen (so at most `INFLATE_TARGET / 2`, for input
/// that does not compress), growing at most twofold a step (a stream that produced nothing
/// yet, or a ratio that may jump, is approached gradually), and never below
/// `INFLATE_STEP_MIN`.
fn inflate_step(consumed: usize, produced: usize) -> usize {
    if consumed == 0 {
        return INFLATE_STEP_MIN;
    }
    let ratio = produced.div_ceil(consumed).max(1);
    (INFLATE_TARGET / 2 / ratio).min(consumed.saturating_mul(2)).max(INFLATE_STEP_MIN)
}

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
    /// The largest `end` since the buffer last emptied: how much of it the traffic since then
    /// needed (see `reserve`).
    high_water: usize,
    /// Bytes received since traffic last needed a quarter of the buffer (see `reserve`),
    /// saturating.
    since_needed: usize,
    /// The room `read_buf` offers at least, whatever its caller asks: 0 until a read fills
    /// all the room offered, then doubled by every read that does, up to `READ_AHEAD_MAX`,
    /// and halved by every read under half of it (see `adapt_read_ahead`).
    read_ahead: usize,
    /// `end` when `read_buf` last offered room: what came in since is the last read.
    read_from: usize,
    /// The header of the frame whose payload is being read.
    frame: Option<FrameHeader>,
    /// The data message being received, and where its bytes go.
    message: Message,
    /// Reassembly buffer for messages an extension decodes.
    assembled: Vec<u8>,
    /// Reassembly buffer for Binary messages that arrive in pieces and no extension decodes
    /// (fragments, or a frame of 4 to 64 KiB split across reads), and for masked Text ones
    /// while they are ASCII: each piece is unmasked as it is copied in, in one pass. Like
    /// `buf`, `whole.len()` is its allocated, zeroed size, zeroed only when it grows, so a
    /// piece is written once; the message so far is `whole[..whole_len]`.
    whole: Vec<u8>,
    /// Bytes of the message being reassembled in `whole`.
    whole_len: usize,
    /// Reassembly buffer for a Text message that arrives in pieces, no extension decodes, and
    /// `whole` does not take (unmasked, or not all ASCII): each piece is validated as it is
    /// appended, so the whole is never validated again.
    text: String,
    /// Bytes at the start of `assembled` that were already validated or handed out.
    assembled_done: usize,
    /// `assembled` was handed out in the last event: clear it on the next call.
    clear_assembled: bool,
    /// The last `poll_event` stopped at `Config::frame_budget` with frames still buffered.
    budget_spent: bool,
    /// Compressed payload bytes handed to the extension per decoding step, adapted to the
    /// ratio the message has shown (see `INFLATE_TARGET`).
    inflate_step: usize,
    utf8: Utf8Validator,
    /// The transport ended behind bytes not yet decoded: the end is reported once they are.
    eof: bool,
}

/// The receive side's message state (RFC 6455 §5.4): between messages, or inside one whose
/// bytes go one of a few ways, chosen by `Receiver::begin` when its first frame arrives and
/// left by `Receiver::end` when its last frame ends (or a Close interrupts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    /// Between messages: the next data frame must be Text or Binary.
    Idle,
    /// Inside a message: the next data frame must be a Continuation.
    Receiving {
        kind: MessageKind,
        /// Wire bytes of the message so far (before any extension decoding).
        wire_len: u64,
        into: Route,
    },
}

/// Where the bytes of the message being received go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// A single-frame message, kept where it arrives in `buf` from this offset: unmasked in
    /// place and handed out whole once the frame is in (a Text one only when all of it was
    /// already here, so it is validated in one pass when handed out).
    InPlace(usize),
    /// A Text message arriving in pieces: validated as each piece is appended to `text`.
    /// Unmasked ones (a client's) come here from their first piece, masked ones (a server's)
    /// once a piece that is not ASCII arrives.
    Text,
    /// A Binary message arriving in fragments, or a single frame of it split across reads
    /// (within `UNMASK_INTO_MIN..=UNMASK_INTO_MAX`), or a masked Text message arriving in
    /// pieces while every byte so far is ASCII: unmasked into `whole` as each piece is copied
    /// there (for Text, checked to be ASCII in the same pass).
    Assembled,
    /// Handed out in pieces as they arrive ([`Config::streaming`](super::Config::streaming));
    /// `first` until the first piece went out.
    Pieces { first: bool },
    /// Decoded by the negotiated extension into `assembled`, and handed out whole, or in
    /// pieces when streaming (`first` as above).
    Decoded { streaming: bool, first: bool },
}

/// An event located in the connection's buffers, turned into an [`Event`] at the last moment
/// so the borrow of the connection starts there.
enum Ready {
    Message { kind: MessageKind, source: Source, range: Range<usize> },
    Chunk { kind: MessageKind, source: Source, range: Range<usize>, first: bool, last: bool },
    Ping(Range<usize>),
    Pong(Range<usize>),
}

#[derive(Clone, Copy)]
enum Source {
    Buffer,
    Assembled,
    /// `Receiver::whole`.
    Whole,
    /// `Receiver::text`, already valid UTF-8 (only for whole Text messages).
    Text,
}

/// Fails the connection (§7.1.7) with `error`: the lifecycle records it and queues a Close
/// with its code (unless we had sent one); nothing more is read. Takes the parts it needs, so
/// that it can run while an event still borrows the receive buffers.
fn fail(life: &mut Lifecycle, out: &mut Sender, error: ProtocolError) {
    let effect = life.step(Input::Fail(error));
    super::apply(effect, out);
}

impl Receiver {
    /// Turns a located event into an [`Event`] borrowing the buffers. This is where text
    /// becomes `&str`: a message that arrived as one frame in one piece is validated here, in
    /// its only pass; an error means it is not UTF-8.
    ///
    /// Inlined into `poll_event`: returned through memory, the event was reloaded with a
    /// wider load than it was stored with, a store-forwarding stall that cost more than the
    /// rest of handling a small message.
    #[inline(always)]
    fn event(&self, ready: Ready) -> Result<Event<'_>, Utf8Error> {
        let bytes = |source: Source, range: Range<usize>| match source {
            Source::Buffer => &self.buf[range],
            Source::Assembled => &self.assembled[range],
            Source::Whole => &self.whole[range],
            Source::Text => &self.text.as_bytes()[range],
        };
        Ok(match ready {
            Ready::Message { kind: MessageKind::Binary, source, range } => {
                Event::Binary(bytes(source, range))
            }
            // Validated piece by piece as it was assembled.
            Ready::Message { kind: MessageKind::Text, source: Source::Text, range } => {
                Event::Text(&self.text[range])
            }
            Ready::Message { kind: MessageKind::Text, source, range } => {
                let text = bytes(source, range);
                match crate::utf8::as_str(text) {
                    Some(text) => Event::Text(text),
                    None => return Err(crate::utf8::error_in(text)),
                }
            }
            Ready::Chunk { kind, source, range, first, last } => {
                Event::Chunk { kind, data: bytes(source, range), first, last }
            }
            Ready::Ping(range) => Event::Ping(&self.buf[range]),
            Ready::Pong(range) => Event::Pong(&self.buf[range]),
        })
    }

    pub(super) fn new(decoder: FrameDecoder) -> Self {
        Self {
            decoder,
            buf: Vec::new(),
            start: 0,
            cursor: 0,
            end: 0,
            high_water: 0,
            since_needed: 0,
            read_ahead: 0,
            read_from: 0,
            frame: None,
            message: Message::Idle,
            assembled: Vec::new(),
            whole: Vec::new(),
            whole_len: 0,
            text: String::new(),
            assembled_done: 0,
            clear_assembled: false,
            budget_spent: false,
            inflate_step: INFLATE_STEP_MIN,
            utf8: Utf8Validator::new(),
            eof: false,
        }
    }

    /// Bytes allocated by the receive and reassembly buffers.
    pub(super) fn capacity(&self) -> usize {
        self.buf.len() + self.assembled.capacity() + self.whole.len() + self.text.capacity()
    }

    /// The receive buffer's allocated size, for tests of its growth.
    #[cfg(test)]
    pub(super) fn allocated(&self) -> usize {
        self.buf.len()
    }

    /// The room `read_buf` offers at least, for tests of the read-ahead.
    #[cfg(test)]
    pub(super) fn read_ahead(&self) -> usize {
        self.read_ahead
    }

    /// Where the kept bytes start in the receive buffer, for tests of when they are moved.
    #[cfg(test)]
    pub(super) fn kept_from(&self) -> usize {
        self.start
    }

    /// The reassembly buffers' capacities (`assembled` and `whole`, which binary messages use,
    /// summed; `text`), for tests of what is kept.
    #[cfg(test)]
    pub(super) fn reassembly_capacity(&self) -> (usize, usize) {
        (self.assembled.capacity() + self.whole.len(), self.text.capacity())
    }

    /// Frees the receive buffer if it holds no unconsumed byte, and the reassembly buffer if
    /// no message is being assembled; both, whatever they hold, once the connection has
    /// `ended` (nothing more is read then, so the bytes of a frame that failed it, or of one
    /// that followed the peer's Close, are never needed).
    pub(super) fn release(&mut self, ended: bool) {
        if ended || (self.start == self.end && self.in_place().is_none()) {
            self.take_buffer();
        }
        if ended || self.message == Message::Idle || self.clear_assembled {
            self.assembled = Vec::new();
            (self.whole, self.whole_len) = (Vec::new(), 0);
            self.text = String::new();
            self.assembled_done = 0;
            self.clear_assembled = false;
        }
    }

    /// Where a single-frame message held in place starts in `buf`, if one is.
    fn in_place(&self) -> Option<usize> {
        match self.message {
            Message::Receiving { into: Route::InPlace(at), .. } => Some(at),
            _ => None,
        }
    }

    /// The transition out of [`Message::Idle`]: a Text or Binary frame starts a message whose
    /// bytes go `into`.
    fn begin(&mut self, kind: MessageKind, into: Route) {
        debug_assert_eq!(self.message, Message::Idle);
        self.message = Message::Receiving { kind, wire_len: 0, into };
        self.whole_len = 0;
        self.utf8.reset();
        self.inflate_step = INFLATE_STEP_MIN;
    }

    /// The transition back to [`Message::Idle`]: the last frame ended, or a Close arrived.
    fn end(&mut self) {
        self.message = Message::Idle;
    }

    /// The message reassembled in `source` is complete: back to [`Message::Idle`], and hand
    /// it out whole (the reassembly buffers are cleared on the next call).
    fn complete(&mut self, kind: MessageKind, source: Source) -> Ready {
        self.end();
        self.clear_assembled = true;
        let len = match source {
            Source::Text => self.text.len(),
            Source::Whole => self.whole_len,
            Source::Assembled | Source::Buffer => self.assembled.len(),
        };
        Ready::Message { kind, source, range: 0..len }
    }

    /// Moves on within a message: `into` for the next piece, or the end after the last.
    fn set_into(&mut self, into: Route, last: bool) {
        match &mut self.message {
            _ if last => self.end(),
            Message::Receiving { into: current, .. } => *current = into,
            Message::Idle => {}
        }
    }

    /// The transport ended: nothing more is read, and once the bytes held are decoded the end
    /// is reported (`poll_event`).
    pub(super) fn end_of_stream(&mut self) {
        self.eof = true;
    }

    /// Bytes received but not yet consumed, including any held for an in-place message.
    pub(super) fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Gives up the receive buffer, which holds no byte still needed: the positions in it and
    /// its usage counters start again.
    fn take_buffer(&mut self) -> Vec<u8> {
        (self.start, self.cursor, self.end, self.read_from) = (0, 0, 0, 0);
        (self.high_water, self.since_needed) = (0, 0);
        core::mem::take(&mut self.buf)
    }

    /// `Route::Assembled`: copies the payload of the current data frame that is in `buf` into
    /// `whole`, unmasked in the same pass, and consumes it. Returns the message once the frame
    /// that ends it (`fin`) ends; `limit` is the message size limit, which `on_header` has
    /// already checked the frames against.
    ///
    /// A Text message's pieces are checked to be ASCII in the same pass: ASCII is valid
    /// UTF-8, so nothing more is done until the whole is validated once, as it becomes
    /// `&str`. At the first piece that is not all ASCII, the message so far is validated and
    /// moved to `text` (failing there if it is not UTF-8, §8.1), and the rest of it goes the
    /// `Route::Text` way.
    fn unmask_into_whole(
        &mut self,
        kind: MessageKind,
        fin: bool,
        limit: usize,
    ) -> Result<Option<Ready>, ProtocolError> {
        let remaining = usize::try_from(self.decoder.payload_remaining()).unwrap_or(usize::MAX);
        // `cursor <= end` always holds.
        let needed = self.whole_len.saturating_add(remaining.min(self.end - self.cursor));
        if self.whole.len() < needed {
            // Room for what is here, doubling (each growth copies what the buffer holds: a
            // message in 64 fragments grows 7 times, not 64), within the limit and never past
            // the end of the last frame. Nothing is allocated for bytes the peer only claims
            // beyond as much again as arrived, except that a last frame of at most
            // `UNMASK_INTO_MAX` gets room for all of it at once: a new connection reads a few
            // KiB first (see `READ_AHEAD_MAX`), so its first 16 KiB frame arrived in three
            // pieces and grew the buffer twice, copying what it held each time (a new
            // connection every 16 such messages received 6 % faster with one growth). A
            // claim the peer does not send then costs at most 64 KiB, as the receive buffer's
            // `GROW_AHEAD` does. A stream of such messages grows it once.
            let rest_of_message = self.whole_len.saturating_add(remaining);
            let doubled = match fin {
                true if remaining <= UNMASK_INTO_MAX as usize => rest_of_message,
                true => self.whole.len().saturating_mul(2).min(rest_of_message),
                false => self.whole.len().saturating_mul(2).min(limit),
            };
            let grown = needed.max(doubled);
            self.whole.reserve_exact(grown - self.whole.len());
            self.whole.resize(grown, 0);
        }
        // `whole_len <= whole.len()`: it only grows by what `decode_into` wrote there.
        let (input, out) = (&self.buf[self.cursor..self.end], &mut self.whole[self.whole_len..]);
        let (step, ascii) = match kind {
            MessageKind::Text => self.decoder.decode_into_ascii(input, out)?,
            MessageKind::Binary => (self.decoder.decode_into(input, out)?, true),
        };
        let Decoded::Payload { range, frame_end } = step.item else {
            unreachable!("inside a payload the decoder yields payload");
        };
        self.cursor += step.consumed;
        self.start = self.cursor;
        self.whole_len += range.len();
        if frame_end {
            self.frame = None;
        }
        let last = frame_end && fin;
        if !ascii {
            // Text that is not all ASCII: validated from its start (the ASCII before this
            // piece again, at ASCII speed, for `&str`) into `text`, where the rest goes too.
            self.utf8
                .feed_into(&self.whole[..self.whole_len], &mut self.text)
                .map_err(ProtocolError::InvalidUtf8)?;
            self.whole_len = 0;
            self.set_into(Route::Text, last);
            if !last {
                return Ok(None);
            }
            self.utf8.finish().map_err(ProtocolError::InvalidUtf8)?;
            return Ok(Some(self.complete(kind, Source::Text)));
        }
        if !last {
            return Ok(None);
        }
        Ok(Some(self.complete(kind, Source::Whole)))
    }

    /// Where the frame whose payload is being read ends in `buf`, if one is and it is held
    /// there whole: a control frame, or a message held in place (saturating: a length the peer
    /// claims need not fit in memory). The other routes consume each piece as it arrives, so
    /// the buffer need not reach the frame's end: a 1 MiB Text frame read in pieces grew it
    /// to 96 KiB for nothing, which the freeing rule in `reserve` then gave back and the
    /// next such frame grew again.
    fn frame_end(&self) -> Option<usize> {
        let frame = self.frame.as_ref()?;
        if !frame.opcode.is_control() && self.in_place().is_none() {
            return None;
        }
        let remaining = usize::try_from(self.decoder.payload_remaining()).unwrap_or(usize::MAX);
        Some(self.cursor.saturating_add(remaining))
    }

    /// Before offering room to read into: a read that filled all the room offered (the
    /// buffer is full) had more behind it, so offer twice as much this time. One under half
    /// of the read-ahead did not need it: halve it, and below a growth step drop it (a
    /// burst's short read only halves it; a quiet connection is back to what its caller asks
    /// after a few reads). Reads only add at `end`, and only `reserve` moves bytes, after
    /// this: `end - read_from` is what came in since the last offer.
    #[cold]
    fn adapt_read_ahead(&mut self) {
        let read = self.end.saturating_sub(self.read_from);
        if self.end == self.buf.len() {
            self.read_ahead = read.saturating_mul(2).clamp(MIN_READ, READ_AHEAD_MAX);
        } else if read < self.read_ahead / 2 {
            self.read_ahead /= 2;
            if self.read_ahead < MIN_READ {
                self.read_ahead = 0;
            }
        }
    }

    /// Makes room for at least `additional` more bytes after `end`, first by moving the kept
    /// bytes to the front, then by growing.
    fn reserve(&mut self, additional: usize) {
        self.high_water = self.high_water.max(self.end);
        if self.start == self.end {
            // Nothing kept (an in-place message always keeps its bytes, so none is pending).
            self.start = 0;
            self.cursor = 0;
            self.end = 0;
            // A buffer a large frame grew is freed once traffic stops needing it: when twice
            // as many bytes as it holds arrived since anything filled a quarter of it. While
            // large frames keep coming it stays (freeing it at every message boundary, then
            // zeroing and growing it again for the next frame, cost a third of receiving 1 MiB
            // messages; benches/peers), and a mix of large frames and other traffic frees it
            // at most once per two buffer-sizes of the other traffic. A buffer the reads
            // themselves grow to is kept: below, a buffer under 8 reads long doubles rather
            // than move its bytes, so it may reach 16 reads; freeing it only to zero and grow
            // it again cost a quarter of receiving 16 KiB messages in 16 KiB reads.
            // `release_buffers` frees it at once. (A buffer too small to free skips the
            // counting: `high_water` then holds the most since it was last large and empty,
            // which can only keep a buffer that grows large once more, never free one early.)
            if self.buf.len() > KEEP_BUFFER.max(additional.saturating_mul(16)) {
                if core::mem::take(&mut self.high_water) >= self.buf.len() / 4 {
                    self.since_needed = 0;
                }
                if self.since_needed / 2 >= self.buf.len() {
                    self.take_buffer();
                }
            }
        }
        // A frame that will not fit where it is must be moved (or the buffer grown) before it
        // ends; moving it now, while little of it is here, copies less than moving it once
        // the buffer is full (a 1 MiB frame moved 64 KiB on average the late way).
        let frame_fits = self.frame_end().is_none_or(|frame_end| frame_end <= self.buf.len());
        if self.buf.len() - self.end >= additional && (frame_fits || self.start == 0) {
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
            if let Message::Receiving { into: Route::InPlace(at), .. } = &mut self.message {
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
            let doubled = self.buf.len().saturating_mul(2).min(most);
            // Inside a frame, grow to hold the rest of it and one more read at once (each
            // growth copies the kept bytes), up to GROW_AHEAD (or an eighth) past doubling, and
            // no further: doubling past the frame's end made a 4 MiB frame hold 8 MiB.
            let grown = match self.frame_end() {
                Some(frame_end) => frame_end
                    .saturating_add(additional)
                    .min(doubled.saturating_add(GROW_AHEAD.max(doubled / 8))),
                None => doubled,
            };
            let grown = grown.max(needed).max(MIN_READ);
            // `resize` alone may double the capacity behind `len`; the buffer's size is
            // what is decided here, and `len` must account for all of it (`buf.len()` is
            // the allocated size everywhere else).
            self.buf.reserve_exact(grown - self.buf.len());
            self.buf.resize(grown, 0);
        }
    }
}

impl Connection {
    /// Feeds bytes received from the transport. Then call [`poll_event`](Self::poll_event)
    /// until it returns `None`.
    ///
    /// Bytes are ignored once the connection has ended ([`State::Closed`](super::State::Closed)):
    /// nothing the peer sends after its Close, or after we failed the connection, is read.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        if self.life.is_closed() || self.recv.eof || bytes.is_empty() {
            return;
        }
        self.timers.on_receive();
        let recv = &mut self.recv;
        recv.reserve(bytes.len());
        // `reserve` made room for `bytes.len()` bytes after `end`.
        recv.buf[recv.end..recv.end + bytes.len()].copy_from_slice(bytes);
        recv.end += bytes.len();
        recv.since_needed = recv.since_needed.saturating_add(bytes.len());
    }

    /// A buffer of at least `min` bytes for the transport to read into directly, saving the
    /// copy [`handle_bytes`](Self::handle_bytes) makes. Report how many bytes were read with
    /// [`handle_read`](Self::handle_read).
    ///
    /// The buffer may be larger than `min`: it has room for at least as much as recent reads
    /// filled, so a caller asking for a few KiB still reads in large pieces while the
    /// transport keeps filling all the room, and a quiet connection's buffer stays small.
    pub fn read_buf(&mut self, min: usize) -> &mut [u8] {
        let recv = &mut self.recv;
        // Until a read fills all the room offered, a read only costs these two comparisons.
        if recv.read_ahead != 0 || recv.end == recv.buf.len() {
            recv.adapt_read_ahead();
        }
        recv.reserve(min.max(1).max(recv.read_ahead));
        recv.read_from = recv.end;
        &mut recv.buf[recv.end..]
    }

    /// The transport wrote `n` bytes into the start of [`read_buf`](Self::read_buf).
    /// `n` larger than that buffer is clamped.
    pub fn handle_read(&mut self, n: usize) {
        if self.life.is_closed() || self.recv.eof || n == 0 {
            return;
        }
        self.timers.on_receive();
        let recv = &mut self.recv;
        let n = n.min(recv.buf.len() - recv.end);
        recv.end += n;
        recv.since_needed = recv.since_needed.saturating_add(n);
    }

    /// After [`poll_event`](Self::poll_event) returned `None`: whether it stopped because it
    /// had decoded [`Config::frame_budget`](super::Config::frame_budget) frames without an
    /// event, with more bytes still buffered. Then call it again (after letting other work
    /// run) before reading more. (Not meaningful after it returned an event.)
    pub fn frame_budget_spent(&self) -> bool {
        self.recv.budget_spent
    }

    /// Whether the received bytes not yet decoded hold a whole frame, or the rest of the frame
    /// being received: the next [`poll_event`](Self::poll_event) can decode it without more
    /// input. (A frame that breaks a rule may not count, or count: either way `poll_event`
    /// fails the connection when it reaches it.)
    ///
    /// A driver that answers messages as they come uses it to tell that another message is
    /// probably already here, so its answers can wait to be written together.
    pub fn has_whole_frame(&self) -> bool {
        let recv = &self.recv;
        if self.life.is_closed() {
            return false;
        }
        // `cursor <= end <= buf.len()` always holds.
        let held = &recv.buf[recv.cursor..recv.end];
        if recv.frame.is_some() {
            return recv.decoder.payload_remaining() <= held.len() as u64;
        }
        if !recv.decoder.is_at_frame_boundary() {
            // Part of a header is in the decoder: the rest is not worth parsing here.
            return false;
        }
        // Only the lengths matter here; `poll_event` makes the header's other checks.
        let Some((header_len, payload_len)) = FrameHeader::lengths(held) else { return false };
        payload_len <= (held.len() - header_len) as u64
    }

    /// Takes the receive buffer out of the connection, for reuse elsewhere, when it holds no
    /// byte the connection still needs (no partial frame, no message being received in
    /// place); `None` when it does, or when there is no buffer. The connection allocates a new
    /// one, or uses one given with [`give_read_buffer`](Self::give_read_buffer), the next time
    /// it needs one.
    ///
    /// This lets a server with many mostly idle connections share a few receive buffers among
    /// them (take a connection's buffer when its transport has nothing more to read, give it
    /// to the next one that reads), instead of keeping one per connection.
    ///
    /// ```
    /// use rfc6455::{Connection, Role};
    /// use rfc6455::connection::{Config, Event};
    ///
    /// let mut a = Connection::new(Role::Server, Config::default());
    /// let mut b = Connection::new(Role::Server, Config::default());
    /// let buf = a.read_buf(4096);
    /// buf[..8].copy_from_slice(b"\x81\x82\0\0\0\0hi"); // a whole frame (masked with 0)
    /// a.handle_read(8);
    /// assert_eq!(a.poll_event(), Some(Event::Text("hi")));
    /// let spare = a.take_read_buffer().unwrap(); // nothing left in it
    /// assert!(b.give_read_buffer(spare).is_ok());
    /// assert!(b.read_buf(1).len() >= 4096); // no allocation
    /// ```
    pub fn take_read_buffer(&mut self) -> Option<Vec<u8>> {
        let recv = &mut self.recv;
        if recv.buf.is_empty() || recv.start != recv.end || recv.in_place().is_some() {
            return None;
        }
        Some(recv.take_buffer())
    }

    /// Gives the connection a buffer to receive into (its whole capacity is used; its contents
    /// are overwritten), when it has none: after [`take_read_buffer`](Self::take_read_buffer),
    /// or before the first read. `Err` hands the buffer back when the connection already has
    /// one.
    pub fn give_read_buffer(&mut self, mut buffer: Vec<u8>) -> Result<(), Vec<u8>> {
        let recv = &mut self.recv;
        // With no buffer nothing is kept, so `start == cursor == end == 0`.
        if !recv.buf.is_empty() || buffer.capacity() == 0 {
            return Err(buffer);
        }
        if buffer.len() < buffer.capacity() {
            buffer.resize(buffer.capacity(), 0);
        }
        recv.buf = buffer;
        Ok(())
    }

    /// The next event, if any. Call it until it returns `None` after every input.
    ///
    /// The last event of every connection is [`Event::Closed`], reported exactly once, after
    /// the messages that arrived before the end, whoever ended it: the peer's Close, the
    /// answer to ours, a protocol error of the peer's (the connection is failed, §7.1.7: a
    /// Close with [`ProtocolError::close_code`] is already queued, and
    /// [`CloseInfo::error`](super::CloseInfo::error) has the error), end of stream or a
    /// timer. After it, this returns `None` and [`close_info`](Self::close_info) keeps the
    /// reason.
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        if self.recv.clear_assembled {
            self.recv.clear_assembled = false;
            // Like the receive buffer: keep a small reassembly buffer for the next message,
            // and a large one while messages of its size keep coming; once a message needs
            // under a quarter of one that a large message grew, free it, so a connection that
            // went back to small messages holds little (`release_buffers` frees them all).
            // Both are judged by the message just handed out (it used one of them), so a
            // stream that alternates large binary and text messages keeps both.
            let recv = &mut self.recv;
            let used = recv.assembled.len().max(recv.text.len()).max(recv.whole_len);
            if keeps(recv.assembled.capacity(), used) {
                recv.assembled.clear();
            } else {
                recv.assembled = Vec::new();
            }
            // `whole` keeps its zeroed bytes for the next message: only its length restarts.
            if !keeps(recv.whole.len(), used) {
                recv.whole = Vec::new();
            }
            recv.whole_len = 0;
            if keeps(recv.text.capacity(), used) {
                recv.text.clear();
            } else {
                recv.text = String::new();
            }
            recv.assembled_done = 0;
        }
        if self.life.is_closed() {
            return self.life.report().map(Event::Closed);
        }
        // The fast path is tried here rather than inside `advance`, so that its result stays
        // in registers: returned from `advance` through memory, it was reloaded with wider
        // loads than it was stored with (a store-forwarding stall, as in `event`).
        let ready = match self.whole_message() {
            Some(ready) => ready,
            None => match self.advance() {
                // The frame budget is spent, with frames left to decode: come back.
                Ok(None) if self.recv.budget_spent => return None,
                // Nothing more to hand out: the end if a Close frame has just ended the
                // connection, or the transport ended behind the bytes just decoded.
                Ok(None) => {
                    if self.recv.eof && !self.life.is_closed() {
                        self.transition(Input::Eof);
                    }
                    return self.life.report().map(Event::Closed);
                }
                Ok(Some(ready)) => ready,
                Err(error) => {
                    fail(&mut self.life, &mut self.out, error);
                    return self.life.report().map(Event::Closed);
                }
            },
        };
        // `event` borrows only the receive buffers and `fail` only the lifecycle, the output
        // and the timers, so the event can be returned from one branch while the other fails.
        let error = match self.recv.event(ready) {
            Ok(event) => return Some(event),
            Err(error) => error,
        };
        fail(&mut self.life, &mut self.out, ProtocolError::InvalidUtf8(error));
        self.life.report().map(Event::Closed)
    }

    /// Decodes until something is ready for the application, more bytes are needed, or the
    /// frame budget is spent.
    fn advance(&mut self) -> Result<Option<Ready>, ProtocolError> {
        self.recv.budget_spent = false;
        let mut budget = self.config.frame_budget;
        // Bytes an extension produced in this call.
        let mut inflated = 0usize;
        loop {
            let Some(header) = self.recv.frame else {
                let recv = &mut self.recv;
                if recv.cursor == recv.end {
                    return Ok(None);
                }
                // Between frames, with the budget spent: stop, leaving the rest for the
                // next call (see `Config::frame_budget`).
                if budget == Some(0) {
                    recv.budget_spent = true;
                    return Ok(None);
                }
                let step = recv.decoder.decode(&mut recv.buf[recv.cursor..recv.end])?;
                recv.cursor += step.consumed;
                match step.item {
                    Decoded::Header(header) => {
                        if let Some(ready) = self.on_header(header)? {
                            return Ok(Some(ready));
                        }
                        // An empty Close is handled at its header: nothing after it is read.
                        if self.life.is_closed() {
                            return Ok(None);
                        }
                        // A frame that gave no event at its header counts against the budget.
                        if let Some(left) = &mut budget {
                            *left = left.saturating_sub(1);
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
            if let Message::Receiving { kind, into: Route::Assembled, .. } = recv.message {
                let limit = usize::try_from(self.config.max_message_size).unwrap_or(usize::MAX);
                if let Some(ready) = recv.unmask_into_whole(kind, header.fin, limit)? {
                    return Ok(Some(ready));
                }
                continue;
            }
            // With a budget, a message an extension decodes (permessage-deflate) is fed to it
            // a step at a time, so that what one call inflates is bounded by the output, not
            // the input: a frame of 64 KiB can inflate to 64 MiB (RFC 7692 §8.1's
            // "decompression bomb"). Without one, nothing stops between steps: all at once.
            let stepped = budget.is_some()
                && matches!(recv.message, Message::Receiving { into: Route::Decoded { .. }, .. });
            if stepped && inflated >= INFLATE_TARGET {
                // One call inflates about `INFLATE_TARGET` bytes: the rest of the frame waits
                // in the buffer for the next call (as frames do at the frame budget).
                recv.budget_spent = true;
                return Ok(None);
            }
            // A Text message is taken `TEXT_STEP` bytes at a time, each step's unmasking,
            // validation and copy done while its bytes are in the L1 cache.
            let until = match recv.message {
                _ if stepped => recv.end.min(recv.cursor.saturating_add(recv.inflate_step)),
                Message::Receiving { into: Route::Text, .. } => {
                    recv.end.min(recv.cursor.saturating_add(TEXT_STEP))
                }
                _ => recv.end,
            };
            let step = recv.decoder.decode(&mut recv.buf[recv.cursor..until])?;
            let Decoded::Payload { range, frame_end } = step.item else {
                unreachable!("inside a payload the decoder yields payload");
            };
            let at = recv.cursor;
            recv.cursor += step.consumed;
            if frame_end {
                recv.frame = None;
            }
            let before = recv.assembled.len();
            let ready = self.on_data(header, at + range.start..at + range.end, frame_end)?;
            if stepped {
                let recv = &mut self.recv;
                // `assembled` may have been cleared by a streamed piece: count what grew.
                let produced = recv.assembled.len().saturating_sub(before);
                inflated = inflated.saturating_add(produced);
                recv.inflate_step = inflate_step(range.len(), produced);
            }
            if let Some(ready) = ready {
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
            || recv.message != Message::Idle
            || self.extension.is_some()
            || self.config.streaming
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
        // path, which fails it. (With no extension the decoder's limit is the frame limit.)
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
        let recv = &mut self.recv;
        let transformed = match (header.opcode, recv.message) {
            (OpCode::Continuation, Message::Idle) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Message::Receiving { into, .. }) => matches!(into, Route::Decoded { .. }),
            // Control frames returned above; only Text and Binary remain.
            (_, Message::Receiving { .. }) => return Err(ProtocolError::ExpectedContinuation),
            (opcode, Message::Idle) => {
                let kind = if opcode == OpCode::Text { MessageKind::Text } else { MessageKind::Binary };
                let streaming = self.config.streaming;
                let transformed = match self.extension.as_mut() {
                    Some(extension) => extension.decode_begin(header.rsv)?,
                    None => false,
                };
                // A single-frame message is kept where it arrives if it is all here already,
                // or if it is Binary outside `UNMASK_INTO_MIN..=UNMASK_INTO_MAX`. A Binary one
                // within those bounds is unmasked into `whole` as it comes. A Text one that is
                // not all here yet must be checked as it comes (to fail fast, §8.1): masked,
                // it is unmasked into `whole` too, each piece checked to be ASCII in the same
                // pass, so ASCII text is validated once, as a whole, when handed out; at its
                // first other piece it moves to `text` (see `unmask_into_whole`). Unmasked,
                // it is validated piece by piece as it is appended to `text`: with no unmasking
                // pass for the check to ride on, a copy that checks (as slow as unmasking) and
                // a validation of the whole come to more than validating and copying (about
                // 450 against 330 ns for 16 KiB, from the parts timed apart). (Keeping text in
                // place, checked piece by piece and validated again as a whole, measured no
                // faster at 1 MiB and 10 % slower at 16 KiB in benches/peers.)
                let arrived = (recv.end - recv.cursor) as u64 >= header.payload_len;
                let binary_in_place = kind == MessageKind::Binary
                    && !(UNMASK_INTO_MIN..=UNMASK_INTO_MAX).contains(&header.payload_len);
                let into = if transformed {
                    Route::Decoded { streaming, first: true }
                } else if streaming {
                    Route::Pieces { first: true }
                } else if header.fin && (arrived || binary_in_place) {
                    Route::InPlace(recv.cursor)
                } else if kind == MessageKind::Text && header.mask.is_none() {
                    Route::Text
                } else {
                    Route::Assembled
                };
                recv.begin(kind, into);
                transformed
            }
        };
        // The decoder allowed the larger limit of a transformed frame; a frame that is not
        // transformed is held to the frame limit (§5.2 sizes are the wire payload).
        let frame_limit = self.config.frame_limit();
        if !transformed && header.payload_len > frame_limit {
            return Err(ProtocolError::FrameTooLarge { size: header.payload_len, limit: frame_limit });
        }
        if let Message::Receiving { wire_len, .. } = &mut recv.message {
            *wire_len = wire_len.saturating_add(header.payload_len);
            if !transformed && *wire_len > self.config.max_message_size {
                return Err(ProtocolError::MessageTooLarge { limit: self.config.max_message_size });
            }
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
        // `on_header` begins a message before any payload of a data frame is read.
        let Message::Receiving { kind, into, .. } = recv.message else {
            return Ok(None);
        };
        match into {
            Route::InPlace(payload_start) => {
                // Text was all here when the frame began, so it arrives in this one call and
                // is validated in one pass when it becomes `&str` (`Receiver::event`).
                if !last {
                    return Ok(None);
                }
                recv.end();
                recv.start = recv.cursor;
                Ok(Some(Ready::Message { kind, source: Source::Buffer, range: payload_start..range.end }))
            }
            Route::Decoded { streaming, first } => {
                let limit = usize::try_from(self.config.max_message_size).unwrap_or(usize::MAX);
                // `Some`: a message is only decoded when an extension exists.
                if let Some(extension) = self.extension.as_mut() {
                    extension.decode_chunk(&recv.buf[range], &mut recv.assembled, limit)?;
                    if last {
                        extension.decode_end(&mut recv.assembled, limit)?;
                    }
                }
                recv.start = recv.cursor;
                let fresh = recv.assembled_done..recv.assembled.len();
                if kind == MessageKind::Text {
                    recv.utf8.feed(&recv.assembled[fresh.clone()]).map_err(ProtocolError::InvalidUtf8)?;
                    if last {
                        recv.utf8.finish().map_err(ProtocolError::InvalidUtf8)?;
                    }
                }
                if streaming {
                    if fresh.is_empty() && !last {
                        return Ok(None);
                    }
                    recv.clear_assembled = true;
                    recv.set_into(Route::Decoded { streaming, first: false }, last);
                    return Ok(Some(Ready::Chunk {
                        kind,
                        source: Source::Assembled,
                        range: fresh,
                        first,
                        last,
                    }));
                }
                recv.assembled_done = recv.assembled.len();
                if !last {
                    return Ok(None);
                }
                Ok(Some(recv.complete(kind, Source::Assembled)))
            }
            Route::Pieces { first } => {
                // Validated piece by piece, to fail fast on the first invalid byte (§8.1;
                // Autobahn 6.4).
                if kind == MessageKind::Text {
                    recv.utf8.feed(&recv.buf[range.clone()]).map_err(ProtocolError::InvalidUtf8)?;
                    if last {
                        recv.utf8.finish().map_err(ProtocolError::InvalidUtf8)?;
                    }
                }
                recv.start = recv.cursor;
                if range.is_empty() && !last {
                    return Ok(None);
                }
                recv.set_into(Route::Pieces { first: false }, last);
                Ok(Some(Ready::Chunk { kind, source: Source::Buffer, range, first, last }))
            }
            Route::Text => {
                recv.utf8.feed_into(&recv.buf[range], &mut recv.text).map_err(ProtocolError::InvalidUtf8)?;
                recv.start = recv.cursor;
                if !last {
                    return Ok(None);
                }
                recv.utf8.finish().map_err(ProtocolError::InvalidUtf8)?;
                Ok(Some(recv.complete(kind, Source::Text)))
            }
            // Payload goes through `Receiver::unmask_into_whole`: only an empty frame (which
            // ends at its header) comes here.
            Route::Assembled => {
                debug_assert!(range.is_empty());
                recv.start = recv.cursor;
                if !last {
                    return Ok(None);
                }
                Ok(Some(recv.complete(kind, Source::Whole)))
            }
        }
    }

    /// Handles a whole control frame whose unmasked payload is at `range` (§5.5).
    fn on_control(
        &mut self,
        header: FrameHeader,
        range: Range<usize>,
    ) -> Result<Option<Ready>, ProtocolError> {
        // A control frame never interrupts a frame, so no message is held in place here and
        // everything decoded so far is consumed.
        debug_assert!(self.recv.in_place().is_none());
        self.recv.start = self.recv.cursor;
        match header.opcode {
            OpCode::Ping => {
                // §5.5.2: answer with a Pong carrying the same payload, unless we already sent
                // Close (after which we send nothing but what is queued). Once output is full,
                // an unsent answer to an earlier Ping is replaced (§5.5.3), so the output stays
                // bounded.
                if self.life.is_open() {
                    self.out.write_auto_pong(&self.recv.buf[range.clone()], self.config.max_pending_output);
                }
                Ok(Some(Ready::Ping(range)))
            }
            // The Pong's bytes already counted as traffic when they arrived (`handle_bytes`):
            // stamping it again here, when it is decoded, would move the keepalive's clock.
            OpCode::Pong => Ok(Some(Ready::Pong(range))),
            // §5.5.1: the close handshake ends with the peer's Close; the lifecycle answers it
            // (echoing the code, or an empty body if there was none) unless it answers ours,
            // and nothing the peer sends after it is read.
            OpCode::Close => {
                self.recv.end();
                let frame = CloseFrame::parse(&self.recv.buf[range])?;
                let effect = self.life.step(Input::PeerClose { code: frame.code, reason: frame.reason });
                self.apply(effect);
                Ok(None)
            }
            // The decoder only yields control frames here.
            _ => Err(ProtocolError::ReservedOpcode(header.opcode as u8)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{INFLATE_STEP_MIN, INFLATE_TARGET, inflate_step};

    /// The steps a budgeted inflate takes: 16 bytes first, then doubling while the output
    /// stays under half the per-call target, shrinking as the ratio rises, never below the
    /// 16 bytes that inflate to at most ~16.5 KiB.
    #[test]
    fn inflate_steps_follow_the_ratio_seen() {
        assert_eq!(inflate_step(0, 0), INFLATE_STEP_MIN);
        // Nothing produced yet (the inflater buffers a block): double, as at ratio 1.
        assert_eq!(inflate_step(16, 0), 32);
        // Input that does not compress: doubling from 16 bytes up to half the target.
        let steps = core::iter::successors(Some(INFLATE_STEP_MIN), |&step| Some(inflate_step(step, step)));
        assert!(steps.take(12).eq([16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 8192, 8192]));
        assert_eq!(INFLATE_TARGET / 2, 8192);
        // A ratio of 4 (rounded up: 10 from 3 is 4): a quarter of half the target, 2 KiB, or
        // twice the last step if that is less.
        assert_eq!(inflate_step(3, 10), 16);
        assert_eq!(inflate_step(1024, 4096), 2048);
        assert_eq!(inflate_step(1000, 4000), 2000);
        assert_eq!(inflate_step(4096, 16384), 2048);
        assert_eq!(inflate_step(1000, 3001), 2000);
        // A bomb's ratio: held at the least step.
        assert_eq!(inflate_step(16, 16 * 1030), INFLATE_STEP_MIN);
        assert_eq!(inflate_step(usize::MAX / 2, usize::MAX), 8192 / 3);
    }
}
