//! Frames (RFC 6455 §5.2–5.5): opcodes, headers, a streaming decoder and an encoder.
//!
//! This module owns the wire format of a single frame and every rule §5 states about one frame
//! in isolation: reserved opcodes, control frames that are fragmented or longer than 125 bytes,
//! a 64-bit length with its top bit set, and masking by role. It does not know about messages
//! (fragment sequences), UTF-8 beyond a Close reason, or extensions: RSV bits are reported, and the layer
//! that knows which extensions were negotiated accepts or rejects them.
//!
//! Nothing here allocates except [`encode_frame_to_vec`].

mod close;

use alloc::vec::Vec;
use core::ops::Range;

pub use close::CloseFrame;

use crate::fault::{FrameRule, ProtocolError, UsageError};
use crate::mask::{apply_mask, copy_masked, copy_masked_ascii};
use crate::role::Role;

/// The largest payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest possible frame header: 2 bytes, an 8-byte extended length and a 4-byte mask.
pub const MAX_HEADER_LEN: usize = 14;

/// A frame opcode (RFC 6455 §5.2). Reserved values (0x3–0x7, 0xB–0xF) are not representable:
/// parsing them is a [`ProtocolError::ReservedOpcode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum OpCode {
    /// 0x0: a continuation of a fragmented message (§5.4).
    Continuation = 0x0,
    /// 0x1: the first frame of a text message.
    Text = 0x1,
    /// 0x2: the first frame of a binary message.
    Binary = 0x2,
    /// 0x8: a connection close (§5.5.1).
    Close = 0x8,
    /// 0x9: a ping (§5.5.2).
    Ping = 0x9,
    /// 0xA: a pong (§5.5.3).
    Pong = 0xA,
}

impl OpCode {
    /// Decodes the low four bits of the first header byte.
    pub const fn from_u8(value: u8) -> Result<Self, ProtocolError> {
        Ok(match value {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            other => return Err(ProtocolError::ReservedOpcode(other)),
        })
    }

    /// Whether this is a control opcode (Close, Ping, Pong): the high bit of the nibble is set
    /// (§5.5).
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }

    /// Whether this is a data opcode (Continuation, Text, Binary).
    pub const fn is_data(self) -> bool {
        !self.is_control()
    }
}

impl From<OpCode> for u8 {
    fn from(op: OpCode) -> Self {
        op as u8
    }
}

impl TryFrom<u8> for OpCode {
    type Error = ProtocolError;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::from_u8(value)
    }
}

/// A frame header (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the bits `0b100`, `0b010`, `0b001`. Meaningful only with a negotiated
    /// extension (RSV1 is permessage-deflate's "compressed" bit, RFC 7692 §6).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present exactly on frames sent by a client (§5.3).
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

/// The result of [`FrameHeader::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParsedHeader {
    /// A whole header: the header and the number of bytes it occupied.
    Complete(FrameHeader, usize),
    /// The input ends inside a header; at least this many bytes in all are needed to learn more.
    Incomplete(usize),
}

impl FrameHeader {
    /// A header for a final, unmasked, RSV-free frame.
    pub const fn new(opcode: OpCode, payload_len: u64) -> Self {
        Self { fin: true, rsv: 0, opcode, mask: None, payload_len }
    }

    /// Whether RSV1 is set (permessage-deflate's per-message compressed flag).
    pub const fn rsv1(&self) -> bool {
        self.rsv & 0b100 != 0
    }

    /// The lengths of the frame that starts `input`, read without the header's other checks
    /// ([`parse`](Self::parse) makes them): the header's length and the payload's, or `None`
    /// while the header is incomplete. RFC 6455 §5.2's layout: a mask key when the MASK bit is
    /// set, and a 16- or 64-bit length after the 7-bit one when it is 126 or 127.
    pub(crate) fn lengths(input: &[u8]) -> Option<(usize, u64)> {
        let [_, second, ..] = *input else { return None };
        let mask_len = if second & 0x80 != 0 { 4 } else { 0 };
        let (length_len, short) = match second & 0x7F {
            126 => (2, None),
            127 => (8, None),
            short => (0, Some(u64::from(short))),
        };
        let header_len = 2 + length_len + mask_len;
        let header = input.get(..header_len)?;
        let payload_len = short.unwrap_or_else(|| {
            // `header` holds the 2 or 8 length bytes after the first two.
            header[2..2 + length_len].iter().fold(0u64, |len, &byte| (len << 8) | u64::from(byte))
        });
        Some((header_len, payload_len))
    }

    /// The number of bytes [`encode`](Self::encode) writes: 2 to 14.
    pub const fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        if self.mask.is_some() { len + 4 } else { len }
    }

    /// Parses a header from the start of `input`, enforcing every single-frame rule of §5:
    /// reserved opcodes, unfragmented control frames of at most 125 bytes, the top bit of a
    /// 64-bit length, and masking as `receiver` expects (a server requires masked frames, a
    /// client refuses them, §5.1).
    ///
    /// Non-minimal length encodings are accepted: §5.2 obliges the sender to use the minimal
    /// form but gives the receiver no rule, and rejecting them only hurts interoperability.
    #[inline]
    pub fn parse(input: &[u8], receiver: Role) -> Result<ParsedHeader, ProtocolError> {
        let [b0, b1, rest @ ..] = input else {
            return Ok(ParsedHeader::Incomplete(2));
        };
        let (b0, b1) = (*b0, *b1);
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0x7;
        let opcode = OpCode::from_u8(b0 & 0x0F)?;
        let masked = b1 & 0x80 != 0;
        match (receiver, masked) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            // A 7-bit length above 125 means an extended length follows: too long either way.
            if b1 & 0x7F > 125 {
                return Err(ProtocolError::ControlFrameTooLong(u64::from(b1 & 0x7F)));
            }
        }
        let (payload_len, len_bytes) = match b1 & 0x7F {
            126 => match rest {
                [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
                _ => return Ok(ParsedHeader::Incomplete(4 + if masked { 4 } else { 0 })),
            },
            127 => match rest.first_chunk::<8>() {
                Some(bytes) => {
                    let len = u64::from_be_bytes(*bytes);
                    if len >> 63 != 0 {
                        return Err(ProtocolError::InvalidPayloadLength);
                    }
                    (len, 8)
                }
                None => return Ok(ParsedHeader::Incomplete(10 + if masked { 4 } else { 0 })),
            },
            short => (u64::from(short), 0),
        };
        let mut header_len = 2 + len_bytes;
        let mask = if masked {
            // `rest` holds the bytes after the first two; `len_bytes` of them were length.
            match rest.get(len_bytes..).and_then(|r| r.first_chunk::<4>()) {
                Some(key) => {
                    header_len += 4;
                    Some(*key)
                }
                None => return Ok(ParsedHeader::Incomplete(header_len + 4)),
            }
        } else {
            None
        };
        Ok(ParsedHeader::Complete(FrameHeader { fin, rsv, opcode, mask, payload_len }, header_len))
    }

    /// Encodes the header into the start of `out` with the minimal length encoding (§5.2) and
    /// returns the number of bytes written. Fails if `out` is shorter than
    /// [`encoded_len`](Self::encoded_len), if `rsv` has bits beyond the three RSV bits, if a
    /// control frame is fragmented or longer than 125 bytes, or if the length needs 64 bits.
    #[inline]
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, UsageError> {
        if self.opcode.is_control() {
            if self.payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(UsageError::ControlPayloadTooLong(
                    usize::try_from(self.payload_len).unwrap_or(usize::MAX),
                ));
            }
            if !self.fin {
                return Err(UsageError::InvalidFrame(FrameRule::FragmentedControl));
            }
        }
        if self.rsv > 0b111 {
            return Err(UsageError::InvalidFrame(FrameRule::RsvBits));
        }
        if self.payload_len >> 63 != 0 {
            return Err(UsageError::InvalidFrame(FrameRule::LengthTopBit));
        }
        let len = self.encoded_len();
        let Some(out) = out.get_mut(..len) else {
            return Err(UsageError::BufferTooSmall(len));
        };
        out[0] = (u8::from(self.fin) << 7) | (self.rsv << 4) | self.opcode as u8;
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        // `out` is exactly `len` bytes, and `len` was computed from the same length ranges as
        // the arms below, so every index is in bounds.
        let key_at = match self.payload_len {
            n @ 0..=125 => {
                out[1] = mask_bit | n as u8;
                2
            }
            n @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                4
            }
            n => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&n.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[key_at..key_at + 4].copy_from_slice(&key);
        }
        Ok(len)
    }
}

/// What [`FrameDecoder::decode`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// Every byte given was consumed (header bytes are buffered inside the decoder); call again
    /// with more input.
    NeedMore,
    /// A frame header. Its payload follows as zero or more [`Decoded::Payload`] items; a frame
    /// whose `payload_len` is 0 is complete now.
    Header(FrameHeader),
    /// Payload bytes of the current frame, already unmasked in place, at `range` of the input.
    Payload {
        /// Where the payload bytes are in the input slice that was passed to `decode`.
        range: Range<usize>,
        /// Whether these are the last payload bytes of the frame.
        frame_end: bool,
    },
}

/// The result of one [`FrameDecoder::decode`] call: what was found and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeStep {
    /// How many bytes of the input were consumed. Call again with the input after them.
    pub consumed: usize,
    /// What was found.
    pub item: Decoded,
}

/// A streaming frame decoder: feed it bytes in any chunking, down to one byte at a time.
///
/// It buffers at most one frame header (14 bytes) of its own. Payload is unmasked in place in
/// the caller's buffer and handed out as ranges of it, so a frame larger than the input streams
/// through in pieces and is never held whole. It does not allocate.
///
/// ```
/// use rfc6455::Role;
/// use rfc6455::frame::{Decoded, FrameDecoder, OpCode};
///
/// // RFC 6455 §5.7: a masked "Hello" from a client.
/// let mut wire = *b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
/// let mut decoder = FrameDecoder::new(Role::Server);
/// let mut input = &mut wire[..];
/// let mut text = Vec::new();
/// loop {
///     let step = decoder.decode(input).unwrap();
///     match step.item {
///         Decoded::Header(h) => assert_eq!(h.opcode, OpCode::Text),
///         Decoded::Payload { range, frame_end } => {
///             text.extend_from_slice(&input[range]);
///             if frame_end { break; }
///         }
///         Decoded::NeedMore => unreachable!("the whole frame is in the buffer"),
///     }
///     input = &mut input[step.consumed..];
/// }
/// assert_eq!(text, b"Hello");
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    receiver: Role,
    max_frame_size: u64,
    /// Header bytes buffered across calls when a header arrives in pieces.
    header: [u8; MAX_HEADER_LEN],
    header_filled: u8,
    state: DecoderState,
}

#[derive(Debug, Clone, Copy)]
enum DecoderState {
    Header,
    Payload { remaining: u64, mask: Option<[u8; 4]>, key_offset: u8 },
}

/// The default maximum frame payload: 16 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: u64 = 16 << 20;

impl FrameDecoder {
    /// A decoder for frames received by `receiver`, with a maximum frame size of
    /// [`DEFAULT_MAX_FRAME_SIZE`].
    pub const fn new(receiver: Role) -> Self {
        Self {
            receiver,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            header: [0; MAX_HEADER_LEN],
            header_filled: 0,
            state: DecoderState::Header,
        }
    }

    /// Sets the largest payload a frame may claim; a larger claim fails with
    /// [`ProtocolError::FrameTooLarge`] (close code 1009) as soon as the header is read, before
    /// any of the payload is accepted.
    pub fn set_max_frame_size(&mut self, limit: u64) -> &mut Self {
        self.max_frame_size = limit;
        self
    }

    /// The configured maximum frame size.
    pub const fn max_frame_size(&self) -> u64 {
        self.max_frame_size
    }

    /// Whether the decoder is between frames (no header bytes buffered, no payload pending).
    pub const fn is_at_frame_boundary(&self) -> bool {
        matches!(self.state, DecoderState::Header) && self.header_filled == 0
    }

    /// The payload bytes of the current frame not yet handed out (0 between frames).
    pub const fn payload_remaining(&self) -> u64 {
        match self.state {
            DecoderState::Header => 0,
            DecoderState::Payload { remaining, .. } => remaining,
        }
    }

    /// Decodes the next item from `input`. Payload is unmasked in place in `input`.
    ///
    /// After an error the decoder's state is unspecified: the connection must be failed.
    pub fn decode(&mut self, input: &mut [u8]) -> Result<DecodeStep, ProtocolError> {
        match self.state {
            DecoderState::Header => self.decode_header(input),
            DecoderState::Payload { remaining, mask, key_offset } => {
                if input.is_empty() {
                    return Ok(DecodeStep { consumed: 0, item: Decoded::NeedMore });
                }
                // `take` fits in usize: it is at most input.len().
                let take = remaining.min(input.len() as u64) as usize;
                let payload = &mut input[..take];
                if let Some(key) = mask {
                    apply_mask(payload, key, usize::from(key_offset));
                }
                Ok(self.payload_taken(remaining, mask, key_offset, take))
            }
        }
    }

    /// Like [`decode`](Self::decode), but payload is copied, unmasked, into `out` in one pass
    /// instead of being unmasked in place, for callers whose input is read-only. At most
    /// `out.len()` payload bytes are taken; the returned range indexes `out`.
    pub fn decode_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<DecodeStep, ProtocolError> {
        Ok(self.decode_into_checking(input, out, false)?.0)
    }

    /// [`decode_into`](Self::decode_into) inside a payload, also saying whether every payload
    /// byte written is ASCII, found in the same pass when the payload is masked (a Text
    /// message's bytes that are all ASCII are valid UTF-8).
    #[inline]
    pub(crate) fn decode_into_ascii(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(DecodeStep, bool), ProtocolError> {
        self.decode_into_checking(input, out, true)
    }

    /// The body of both: with `check`, the second value says whether the payload written is
    /// ASCII (`true` when no payload was).
    #[inline(always)]
    fn decode_into_checking(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        check: bool,
    ) -> Result<(DecodeStep, bool), ProtocolError> {
        match self.state {
            DecoderState::Header => {
                // Header parsing never writes to its input; copy at most one header's worth.
                let mut scratch = [0u8; MAX_HEADER_LEN];
                let n = input.len().min(MAX_HEADER_LEN - usize::from(self.header_filled));
                scratch[..n].copy_from_slice(&input[..n]);
                Ok((self.decode_header(&scratch[..n])?, true))
            }
            DecoderState::Payload { remaining, mask, key_offset } => {
                let take = remaining.min(input.len().min(out.len()) as u64) as usize;
                if take == 0 {
                    return Ok((DecodeStep { consumed: 0, item: Decoded::NeedMore }, true));
                }
                let (src, dst) = (&input[..take], &mut out[..take]);
                let ascii = match (mask, check) {
                    (Some(key), true) => copy_masked_ascii(src, dst, key, usize::from(key_offset)),
                    (Some(key), false) => {
                        copy_masked(src, dst, key, usize::from(key_offset));
                        true
                    }
                    (None, check) => {
                        dst.copy_from_slice(src);
                        !check || dst.is_ascii()
                    }
                };
                Ok((self.payload_taken(remaining, mask, key_offset, take), ascii))
            }
        }
    }

    /// Moves past `take` payload bytes of a frame that had `remaining` left, and reports them
    /// as the range `0..take` of what the caller passed.
    fn payload_taken(
        &mut self,
        remaining: u64,
        mask: Option<[u8; 4]>,
        key_offset: u8,
        take: usize,
    ) -> DecodeStep {
        // `take <= remaining`: both callers take at most `remaining` bytes.
        let remaining = remaining - take as u64;
        self.state = if remaining == 0 {
            DecoderState::Header
        } else {
            DecoderState::Payload {
                remaining,
                mask,
                key_offset: ((usize::from(key_offset) + take) & 3) as u8,
            }
        };
        DecodeStep { consumed: take, item: Decoded::Payload { range: 0..take, frame_end: remaining == 0 } }
    }

    fn decode_header(&mut self, input: &[u8]) -> Result<DecodeStep, ProtocolError> {
        let buffered = usize::from(self.header_filled);
        let (parsed, from_input) = if buffered == 0 {
            // Fast path: parse straight from the caller's bytes.
            (FrameHeader::parse(input, self.receiver)?, 0)
        } else {
            // Complete the buffered header from the input; never take more than fits.
            let take = input.len().min(MAX_HEADER_LEN - buffered);
            self.header[buffered..buffered + take].copy_from_slice(&input[..take]);
            (FrameHeader::parse(&self.header[..buffered + take], self.receiver)?, take)
        };
        match parsed {
            ParsedHeader::Complete(header, len) => {
                if header.payload_len > self.max_frame_size {
                    return Err(ProtocolError::FrameTooLarge {
                        size: header.payload_len,
                        limit: self.max_frame_size,
                    });
                }
                // With buffered bytes, `len` counts them too; only the rest came from input.
                let consumed = len - buffered;
                debug_assert!(from_input == 0 || consumed <= from_input);
                self.header_filled = 0;
                self.state = if header.payload_len == 0 {
                    DecoderState::Header
                } else {
                    DecoderState::Payload { remaining: header.payload_len, mask: header.mask, key_offset: 0 }
                };
                Ok(DecodeStep { consumed, item: Decoded::Header(header) })
            }
            ParsedHeader::Incomplete(_) => {
                // Everything offered is part of this header: buffer it. A header is at most 14
                // bytes and `parse` would have returned Complete once that many were present,
                // so the input here is shorter than the room left.
                if buffered == 0 {
                    self.header[..input.len()].copy_from_slice(input);
                    self.header_filled = input.len() as u8;
                } else {
                    self.header_filled = (buffered + from_input) as u8;
                }
                Ok(DecodeStep { consumed: input.len(), item: Decoded::NeedMore })
            }
        }
    }
}

/// Encodes a whole frame (header and payload) into `out`, masking the payload with `mask` if
/// one is given (a client must pass a fresh random key for every frame, §5.3). Returns the
/// number of bytes written: `header.encoded_len() + payload.len()`.
///
/// `header.payload_len` and `header.mask` are taken from the arguments, so only `fin`, `rsv`
/// and `opcode` of `header` matter.
pub fn encode_frame(
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    out: &mut [u8],
) -> Result<usize, UsageError> {
    let header = FrameHeader { fin, rsv, opcode, mask, payload_len: payload.len() as u64 };
    let total = header.encoded_len() + payload.len();
    if out.len() < total {
        return Err(UsageError::BufferTooSmall(total));
    }
    let at = header.encode(out)?;
    // `out` holds at least `total = at + payload.len()` bytes (checked above).
    let dst = &mut out[at..total];
    match mask {
        Some(key) => copy_masked(payload, dst, key, 0),
        None => dst.copy_from_slice(payload),
    }
    Ok(total)
}

/// Like [`encode_frame`], appending to a `Vec`.
#[inline]
pub fn encode_frame_to_vec(
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    out: &mut Vec<u8>,
) -> Result<usize, UsageError> {
    let header = FrameHeader { fin, rsv, opcode, mask, payload_len: payload.len() as u64 };
    let mut head = [0u8; MAX_HEADER_LEN];
    let head_len = header.encode(&mut head)?;
    let start = out.len();
    append_encoded(&head, head_len, payload, mask, out);
    Ok(out.len() - start)
}

/// Appends a frame whose header is the first `head_len` bytes of `head` (`mask` being the key
/// written there) and its payload, masked with `mask`: the tail of [`encode_frame_to_vec`]
/// and [`append_data_frame`].
#[inline(always)]
fn append_encoded<const N: usize>(
    head: &[u8; N],
    head_len: usize,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    out.reserve((head_len + payload.len()).max(N));
    // Append the whole array (14 or 16 bytes) and cut it back to the header: a fixed-size
    // copy is a couple of moves, where a 2-to-14-byte one was a call to `memcpy` (a fifth of
    // the cost of sending a small message).
    out.extend_from_slice(head);
    out.truncate(start + head_len);
    match mask {
        Some(key) => {
            let at = out.len();
            out.resize(at + payload.len(), 0);
            // `at` is the old length, at most the new one.
            copy_masked(payload, &mut out[at..], key, 0);
        }
        None => out.extend_from_slice(payload),
    }
}

/// The header of a data frame (Text, Binary or Continuation) of `len` payload bytes, in the
/// low bytes of a little-endian word (byte `i` of the header is `(word >> 8 * i) as u8`), and
/// its length: [`FrameHeader::encode`] without its checks, on the terms of
/// [`append_data_frame`].
///
/// Built in registers and stored at once: written a byte or two at a time into a buffer, the
/// header was then read back whole by the copy into the output, a load the CPU cannot serve
/// from its pending smaller stores (a store-forwarding stall of a dozen cycles or more, in a
/// send of 16 B that takes about 40).
#[inline(always)]
pub(crate) fn data_frame_header_word(
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    len: usize,
    mask: Option<[u8; 4]>,
) -> (u128, usize) {
    debug_assert!(!opcode.is_control() && rsv <= 0b111, "a data frame with valid RSV bits");
    let first = (u8::from(fin) << 7) | ((rsv & 0b111) << 4) | opcode as u8;
    let mask_bit: u8 = if mask.is_some() { 0x80 } else { 0 };
    // §5.2: the minimal length encoding; big-endian lengths, so byte-swapped into the
    // little-endian word.
    let (second, length, mut head_len) = if len <= 125 {
        (mask_bit | len as u8, 0u128, 2)
    } else if len <= 0xFFFF {
        (mask_bit | 126, u128::from((len as u16).swap_bytes()) << 16, 4)
    } else {
        (mask_bit | 127, u128::from((len as u64).swap_bytes()) << 16, 10)
    };
    let mut word = u128::from(first) | (u128::from(second) << 8) | length;
    if let Some(key) = mask {
        word |= u128::from(u32::from_le_bytes(key)) << (8 * head_len);
        head_len += 4;
    }
    (word, head_len)
}

/// Appends a data frame (Text, Binary or Continuation) to `out`, as
/// [`encode_frame_to_vec`] does, without the checks of [`FrameHeader::encode`]: for the
/// connection's send path, whose state already guarantees them. The caller passes a data
/// opcode (so no control-frame rule of §5.5 applies) and `rsv <= 0b111` (an extension's
/// bits, checked where they come from); a slice's length always fits the 63 bits §5.2 allows.
/// Saves the checks and the `Result` on every small message (benches/callgrind, rows
/// `send/server/binary/16B` and `send_into/…`).
#[inline(always)]
pub(crate) fn append_data_frame(
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    out: &mut Vec<u8>,
) {
    let (word, head_len) = data_frame_header_word(fin, rsv, opcode, payload.len(), mask);
    append_encoded(&word.to_le_bytes(), head_len, payload, mask, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn lengths_agree_with_parse_and_wait_for_the_whole_header() {
        for payload_len in [0u64, 125, 126, 65_535, 65_536, 1 << 40] {
            for (mask, receiver) in [(None, Role::Client), (Some([1, 2, 3, 4]), Role::Server)] {
                let header = FrameHeader { mask, ..FrameHeader::new(OpCode::Binary, payload_len) };
                let mut out = [0u8; 14];
                let n = header.encode(&mut out).unwrap();
                let parsed = FrameHeader::parse(&out[..n], receiver);
                assert_eq!(parsed, Ok(ParsedHeader::Complete(header, n)));
                assert_eq!(FrameHeader::lengths(&out[..n]), Some((n, payload_len)));
                for cut in 0..n {
                    assert_eq!(FrameHeader::lengths(&out[..cut]), None, "{payload_len} cut at {cut}");
                }
            }
        }
    }

    fn decode_all(receiver: Role, mut wire: Vec<u8>, chunk: usize) -> Vec<(FrameHeader, Vec<u8>)> {
        let mut decoder = FrameDecoder::new(receiver);
        let mut frames: Vec<(FrameHeader, Vec<u8>)> = Vec::new();
        let mut pos = 0;
        while pos < wire.len() {
            let end = (pos + chunk).min(wire.len());
            let mut piece = &mut wire[pos..end];
            while !piece.is_empty() {
                let step = decoder.decode(piece).unwrap();
                match step.item {
                    Decoded::Header(h) => frames.push((h, Vec::new())),
                    Decoded::Payload { range, .. } => {
                        frames.last_mut().unwrap().1.extend_from_slice(&piece[range])
                    }
                    Decoded::NeedMore => assert_eq!(step.consumed, piece.len()),
                }
                piece = &mut piece[step.consumed..];
            }
            pos = end;
        }
        assert!(decoder.is_at_frame_boundary());
        frames
    }

    #[test]
    fn rfc_5_7_examples() {
        // A single-frame unmasked text message.
        let frames = decode_all(Role::Client, b"\x81\x05\x48\x65\x6c\x6c\x6f".to_vec(), 100);
        assert_eq!(frames[0].0, FrameHeader::new(OpCode::Text, 5));
        assert_eq!(frames[0].1, b"Hello");
        // A single-frame masked text message.
        let masked = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58".to_vec();
        for chunk in 1..=masked.len() {
            let frames = decode_all(Role::Server, masked.clone(), chunk);
            assert_eq!(frames[0].0.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
            assert_eq!(frames[0].1, b"Hello");
        }
        // A fragmented unmasked text message.
        let frames = decode_all(Role::Client, b"\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f".to_vec(), 1);
        assert_eq!((frames[0].0.fin, frames[0].0.opcode), (false, OpCode::Text));
        assert_eq!((frames[1].0.fin, frames[1].0.opcode), (true, OpCode::Continuation));
        assert_eq!([frames[0].1.clone(), frames[1].1.clone()].concat(), b"Hello");
    }

    #[test]
    fn rfc_5_7_encode_exact() {
        let mut out = Vec::new();
        encode_frame_to_vec(true, 0, OpCode::Text, b"Hello", None, &mut out).unwrap();
        assert_eq!(out, b"\x81\x05\x48\x65\x6c\x6c\x6f");
        out.clear();
        encode_frame_to_vec(true, 0, OpCode::Text, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d]), &mut out)
            .unwrap();
        assert_eq!(out, b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
        out.clear();
        encode_frame_to_vec(false, 0, OpCode::Text, b"Hel", None, &mut out).unwrap();
        encode_frame_to_vec(true, 0, OpCode::Continuation, b"lo", None, &mut out).unwrap();
        assert_eq!(out, b"\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f");
        out.clear();
        // Unmasked Ping, and the masked Pong answering it.
        encode_frame_to_vec(true, 0, OpCode::Ping, b"Hello", None, &mut out).unwrap();
        assert_eq!(out, b"\x89\x05\x48\x65\x6c\x6c\x6f");
        out.clear();
        encode_frame_to_vec(true, 0, OpCode::Pong, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d]), &mut out)
            .unwrap();
        assert_eq!(out, b"\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
        // 256 bytes of binary data in a single unmasked frame.
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = FrameHeader::new(OpCode::Binary, 256).encode(&mut head).unwrap();
        assert_eq!(&head[..n], b"\x82\x7E\x01\x00");
        // 64 KiB of binary data in a single unmasked frame.
        let n = FrameHeader::new(OpCode::Binary, 65536).encode(&mut head).unwrap();
        assert_eq!(&head[..n], b"\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00");
    }

    #[test]
    fn header_rules() {
        let parse = |b: &[u8], r| FrameHeader::parse(b, r);
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(
                parse(&[0x80 | op, 0x80, 0, 0, 0, 0], Role::Server),
                Err(ProtocolError::ReservedOpcode(op))
            );
        }
        assert_eq!(parse(&[0x09, 0x80], Role::Server), Err(ProtocolError::FragmentedControlFrame));
        assert_eq!(parse(&[0x89, 0xFE], Role::Server), Err(ProtocolError::ControlFrameTooLong(126)));
        assert_eq!(parse(&[0x82, 0x05], Role::Server), Err(ProtocolError::UnmaskedFrame));
        assert_eq!(parse(&[0x82, 0x85], Role::Client), Err(ProtocolError::MaskedFrame));
        let huge = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse(&huge, Role::Client), Err(ProtocolError::InvalidPayloadLength));
        let max = [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(
            matches!(parse(&max, Role::Client), Ok(ParsedHeader::Complete(h, 10)) if h.payload_len == i64::MAX as u64)
        );
        assert_eq!(
            parse(&[0xF2, 0x00], Role::Client).map(|p| match p {
                ParsedHeader::Complete(h, _) => h.rsv,
                ParsedHeader::Incomplete(_) => 99,
            }),
            Ok(0b111)
        );
        assert_eq!(parse(&[0x82], Role::Client), Ok(ParsedHeader::Incomplete(2)));
        assert_eq!(parse(&[0x82, 0xFE, 0x01], Role::Server), Ok(ParsedHeader::Incomplete(8)));
    }

    #[test]
    fn frame_size_limit_is_checked_at_the_header() {
        let mut decoder = FrameDecoder::new(Role::Client);
        decoder.set_max_frame_size(1000);
        let mut wire = vec![0x82, 0x7E, 0x03, 0xE9];
        assert_eq!(decoder.decode(&mut wire), Err(ProtocolError::FrameTooLarge { size: 1001, limit: 1000 }));
    }

    #[test]
    fn decode_into_copies_and_unmasks() {
        let wire = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
        let mut decoder = FrameDecoder::new(Role::Server);
        let mut out = [0u8; 3];
        let mut text = Vec::new();
        let mut input = &wire[..];
        while !input.is_empty() {
            let step = decoder.decode_into(input, &mut out).unwrap();
            if let Decoded::Payload { range, .. } = step.item {
                text.extend_from_slice(&out[range]);
            }
            input = &input[step.consumed..];
        }
        assert_eq!(text, b"Hello");
    }

    #[test]
    fn decode_into_ascii_says_whether_each_piece_is_ascii_masked_or_not() {
        // A piece's answer covers the bytes written in that call, for a masked payload (found
        // while unmasking) and an unmasked one (a server's frame to a client) alike; the
        // header's step says `true`. (cargo mutants: the unmasked arm answering `true` for
        // any piece went unseen, as the connection routes unmasked Text elsewhere.)
        let payload = "ASCII, then é, then ASCII again".as_bytes();
        let non_ascii_at = payload.iter().position(|b| !b.is_ascii()).unwrap();
        for (mask, receiver) in [(None, Role::Client), (Some([0x37, 0xfa, 0x21, 0x3d]), Role::Server)] {
            for piece in [1, 3, 8, payload.len()] {
                let mut wire = Vec::new();
                encode_frame_to_vec(true, 0, OpCode::Text, payload, mask, &mut wire).unwrap();
                let mut decoder = FrameDecoder::new(receiver);
                let mut input = &wire[..];
                let (mut written, mut out) = (0, vec![0u8; payload.len()]);
                while !input.is_empty() {
                    let end = (written + piece).min(payload.len());
                    let (step, ascii) = decoder.decode_into_ascii(input, &mut out[written..end]).unwrap();
                    match step.item {
                        Decoded::Header(_) => assert!(ascii),
                        Decoded::Payload { range, .. } => {
                            let at = written..written + range.len();
                            let expected = !at.contains(&non_ascii_at) && !at.contains(&(non_ascii_at + 1));
                            assert_eq!(ascii, expected, "{mask:?}, pieces of {piece}, bytes {at:?}");
                            written += range.len();
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                    input = &input[step.consumed..];
                }
                assert_eq!(out, payload);
            }
        }
    }

    #[test]
    fn encode_rejects_misuse() {
        let mut out = [0u8; 4];
        assert_eq!(
            FrameHeader::new(OpCode::Ping, 126).encode(&mut out),
            Err(UsageError::ControlPayloadTooLong(126))
        );
        assert_eq!(
            FrameHeader::new(OpCode::Binary, 70000).encode(&mut out),
            Err(UsageError::BufferTooSmall(10))
        );
        let mut fragmented = FrameHeader::new(OpCode::Close, 0);
        fragmented.fin = false;
        assert_eq!(fragmented.encode(&mut out), Err(UsageError::InvalidFrame(FrameRule::FragmentedControl)));
    }

    #[test]
    fn opcode_conversions() {
        assert_eq!(OpCode::try_from(0x9), Ok(OpCode::Ping));
        assert_eq!(OpCode::try_from(0x3), Err(ProtocolError::ReservedOpcode(0x3)));
        assert_eq!(u8::from(OpCode::Pong), 0xA);
        assert!(OpCode::Continuation.is_data() && OpCode::Text.is_data() && OpCode::Binary.is_data());
        assert!(!OpCode::Close.is_data() && !OpCode::Ping.is_data() && !OpCode::Pong.is_data());
        let rsv = |rsv| FrameHeader { rsv, ..FrameHeader::new(OpCode::Binary, 0) };
        assert!(rsv(0b100).rsv1() && rsv(0b111).rsv1());
        assert!(!rsv(0b000).rsv1() && !rsv(0b011).rsv1());
    }

    #[test]
    fn header_parse_edges() {
        let parse = |b: &[u8], r| FrameHeader::parse(b, r);
        // A control frame of exactly 125 bytes is allowed; a 7-bit length of 127 is not.
        let ping = FrameHeader { mask: Some([1, 2, 3, 4]), ..FrameHeader::new(OpCode::Ping, 125) };
        assert_eq!(parse(&[0x89, 0xFD, 1, 2, 3, 4], Role::Server), Ok(ParsedHeader::Complete(ping, 6)));
        assert_eq!(parse(&[0x89, 0xFF], Role::Server), Err(ProtocolError::ControlFrameTooLong(127)));
        // How many bytes an incomplete header needs: a 64-bit length, with and without a mask,
        // and a 7-bit length whose mask is missing.
        assert_eq!(parse(&[0x82, 0x7F, 0, 0], Role::Client), Ok(ParsedHeader::Incomplete(10)));
        assert_eq!(parse(&[0x82, 0xFF, 0, 0], Role::Server), Ok(ParsedHeader::Incomplete(14)));
        assert_eq!(parse(&[0x82, 0x85, 1], Role::Server), Ok(ParsedHeader::Incomplete(6)));
    }

    #[test]
    fn header_encode_edges() {
        let mut out = [0u8; MAX_HEADER_LEN];
        assert_eq!(FrameHeader::new(OpCode::Ping, 125).encode(&mut out), Ok(2));
        assert_eq!(out[..2], [0x89, 0x7D]);
        let rsv = |rsv| FrameHeader { rsv, ..FrameHeader::new(OpCode::Binary, 0) };
        assert_eq!(rsv(0b111).encode(&mut out), Ok(2));
        assert_eq!(out[..2], [0xF2, 0x00]);
        assert_eq!(rsv(0b100).encode(&mut out), Ok(2));
        assert_eq!(out[..2], [0xC2, 0x00]);
        assert_eq!(rsv(0b1000).encode(&mut out), Err(UsageError::InvalidFrame(FrameRule::RsvBits)));
        assert_eq!(
            FrameHeader::new(OpCode::Binary, 1 << 63).encode(&mut out),
            Err(UsageError::InvalidFrame(FrameRule::LengthTopBit))
        );
        let largest = FrameHeader::new(OpCode::Binary, u64::MAX >> 1);
        assert_eq!(largest.encode(&mut out), Ok(10));
        assert_eq!(out[..10], [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    }

    #[test]
    fn decoder_reports_where_it_is() {
        assert_eq!(FrameDecoder::new(Role::Client).max_frame_size(), 16 * 1024 * 1024);
        let mut decoder = FrameDecoder::new(Role::Client);
        let mut wire = *b"\x82\x05Hello";
        assert_eq!(decoder.decode(&mut wire[..1]), Ok(DecodeStep { consumed: 1, item: Decoded::NeedMore }));
        assert!(!decoder.is_at_frame_boundary());
        assert_eq!(decoder.payload_remaining(), 0);
        let step = decoder.decode(&mut wire[1..]).unwrap();
        assert_eq!(
            step,
            DecodeStep { consumed: 1, item: Decoded::Header(FrameHeader::new(OpCode::Binary, 5)) }
        );
        assert!(!decoder.is_at_frame_boundary());
        assert_eq!(decoder.payload_remaining(), 5);
        let step = decoder.decode(&mut wire[2..4]).unwrap();
        assert_eq!(
            step,
            DecodeStep { consumed: 2, item: Decoded::Payload { range: 0..2, frame_end: false } }
        );
        assert_eq!(decoder.payload_remaining(), 3);
        let step = decoder.decode(&mut wire[4..]).unwrap();
        assert_eq!(step, DecodeStep { consumed: 3, item: Decoded::Payload { range: 0..3, frame_end: true } });
        assert_eq!(decoder.payload_remaining(), 0);
        assert!(decoder.is_at_frame_boundary());
    }

    #[test]
    fn frame_size_limit_is_inclusive() {
        let mut decoder = FrameDecoder::new(Role::Client);
        assert_eq!(decoder.set_max_frame_size(1000).max_frame_size(), 1000);
        let mut wire = vec![0x82, 0x7E, 0x03, 0xE8];
        let step = decoder.decode(&mut wire).unwrap();
        assert_eq!(
            step,
            DecodeStep { consumed: 4, item: Decoded::Header(FrameHeader::new(OpCode::Binary, 1000)) }
        );
    }

    #[test]
    fn a_header_split_before_a_long_input() {
        // One byte of a masked header, then the rest of it and 20 bytes of payload in one input
        // longer than a header: only the header's bytes are taken from it.
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let payload: Vec<u8> = (0..20).collect();
        let mut wire = Vec::new();
        encode_frame_to_vec(true, 0, OpCode::Binary, &payload, Some(key), &mut wire).unwrap();
        let header = FrameHeader { mask: Some(key), ..FrameHeader::new(OpCode::Binary, 20) };

        let mut decoder = FrameDecoder::new(Role::Server);
        let mut in_place = wire.clone();
        assert_eq!(decoder.decode(&mut in_place[..1]).unwrap().item, Decoded::NeedMore);
        let rest = &mut in_place[1..];
        assert_eq!(decoder.decode(rest), Ok(DecodeStep { consumed: 5, item: Decoded::Header(header) }));
        let step = decoder.decode(&mut rest[5..]).unwrap();
        assert_eq!(
            step,
            DecodeStep { consumed: 20, item: Decoded::Payload { range: 0..20, frame_end: true } }
        );
        assert_eq!(rest[5..], payload[..]);

        let mut decoder = FrameDecoder::new(Role::Server);
        let mut out = [0u8; 32];
        assert_eq!(decoder.decode_into(&wire[..1], &mut out).unwrap().item, Decoded::NeedMore);
        assert_eq!(
            decoder.decode_into(&wire[1..], &mut out),
            Ok(DecodeStep { consumed: 5, item: Decoded::Header(header) })
        );
        let step = decoder.decode_into(&wire[6..], &mut out).unwrap();
        assert_eq!(
            step,
            DecodeStep { consumed: 20, item: Decoded::Payload { range: 0..20, frame_end: true } }
        );
        assert_eq!(out[..20], payload[..]);
    }

    #[test]
    fn encode_frame_into_a_slice() {
        let masked = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
        let key = Some([0x37, 0xfa, 0x21, 0x3d]);
        // An exact fit and a larger buffer both work; one byte short is refused.
        let mut out = [0u8; 11];
        assert_eq!(encode_frame(true, 0, OpCode::Text, b"Hello", key, &mut out), Ok(11));
        assert_eq!(&out, masked);
        let mut out = [0u8; 16];
        assert_eq!(encode_frame(true, 0, OpCode::Text, b"Hello", None, &mut out), Ok(7));
        assert_eq!(&out[..7], b"\x81\x05Hello");
        let mut out = [0u8; 10];
        assert_eq!(
            encode_frame(true, 0, OpCode::Text, b"Hello", key, &mut out),
            Err(UsageError::BufferTooSmall(11))
        );
    }

    #[test]
    fn append_data_frame_matches_the_checked_encoder() {
        for len in [0usize, 1, 125, 126, 127, 0xFFFF, 0x1_0000, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            for mask in [None, Some([0x37, 0xfa, 0x21, 0x3d])] {
                for (fin, rsv, opcode) in
                    [(true, 0, OpCode::Text), (false, 0b100, OpCode::Binary), (true, 0, OpCode::Continuation)]
                {
                    let mut checked = b"x".to_vec();
                    encode_frame_to_vec(fin, rsv, opcode, &payload, mask, &mut checked).unwrap();
                    let mut fast = b"x".to_vec();
                    append_data_frame(fin, rsv, opcode, &payload, mask, &mut fast);
                    assert!(checked == fast, "len {len} mask {mask:?} {opcode:?}");
                }
            }
        }
    }

    #[test]
    fn encode_frame_to_vec_appends_and_counts_its_own_bytes() {
        let mut out = b"before".to_vec();
        let key = Some([0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(encode_frame_to_vec(true, 0, OpCode::Text, b"Hello", key, &mut out), Ok(11));
        assert_eq!(out, b"before\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
        assert_eq!(encode_frame_to_vec(true, 0, OpCode::Text, b"Hello", None, &mut out), Ok(7));
        assert_eq!(out[17..], *b"\x81\x05Hello");
    }
}
