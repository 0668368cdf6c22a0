//! Incremental UTF-8 validation for text that arrives in pieces (RFC 6455 §5.6, §8.1).
//!
//! A Text message "MUST contain valid UTF-8" as a whole, while "a particular text frame might
//! include a partial UTF-8 sequence" (§5.6); an endpoint that finds invalid UTF-8 MUST fail the
//! connection (§8.1). [`Utf8Validator`] checks the pieces as they come (frames, or partial
//! reads of one frame) and fails at the first byte after which the text can no longer become
//! valid, without waiting for the rest of the message.
//!
//! This module owns only the UTF-8 rules (RFC 3629 §4). It knows nothing of frames or close
//! codes: the caller turns a [`Utf8Error`] into
//! [`ProtocolError::InvalidUtf8`](crate::error::ProtocolError::InvalidUtf8).

use alloc::string::String;
use core::fmt;

/// Validates UTF-8 text given in pieces, failing fast.
///
/// Feed the pieces in order with [`feed`](Self::feed) and end the text with
/// [`finish`](Self::finish). A code point split across pieces is carried over (at most 3
/// bytes of state, no heap). An error is reported by the `feed` call whose piece holds the
/// first byte that no valid text can contain at that place: after `ED A0` (a surrogate),
/// `F4 90` (beyond U+10FFFF), `E0 80` (an overlong form) or `C0` the error comes at once.
///
/// Once `feed` has failed, the validator stays failed (every later `feed` and `finish` returns
/// the same error) until [`reset`](Self::reset) or `finish`.
///
/// ```
/// use rfc6455::utf8::Utf8Validator;
///
/// let mut text = Utf8Validator::new();
/// // "€" is E2 82 AC; here it is split across three pieces.
/// text.feed(b"price: \xE2")?;
/// assert!(!text.is_boundary());
/// text.feed(b"\x82")?;
/// text.feed(b"\xAC 5")?;
/// text.finish()?;
///
/// // A surrogate is refused as soon as its second byte arrives.
/// let error = text.feed(b"ok \xED\xA0").unwrap_err();
/// assert_eq!(error.valid_up_to(), 3);
/// # Ok::<(), rfc6455::utf8::Utf8Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// Bytes of the text, since the last reset, that form complete valid code points.
    valid: u64,
    /// First byte of the unfinished code point (meaningful when `seen > 0`).
    lead: u8,
    /// Bytes of the unfinished code point received so far: 0 at a boundary, else 1..=3.
    seen: u8,
    /// Length of the unfinished code point, from its first byte: 2, 3 or 4 when `seen > 0`.
    width: u8,
    /// The bytes of the unfinished code point (its first `seen`), for
    /// [`feed_into`](Self::feed_into), which appends it once it is complete.
    pending: [u8; 4],
    /// Set by the first failure; sticks until reset.
    error: Option<Utf8Error>,
}

impl Utf8Validator {
    /// A validator at the start of a text.
    pub const fn new() -> Self {
        Self { valid: 0, lead: 0, seen: 0, width: 0, pending: [0; 4], error: None }
    }

    /// Validates the next piece of the text.
    ///
    /// Returns `Err` as soon as the text so far can no longer be completed into valid UTF-8;
    /// the offending byte is in `piece`. An unfinished code point at the end of `piece` is
    /// carried over to the next call. After an error, returns that error again until
    /// [`reset`](Self::reset) or [`finish`](Self::finish).
    pub fn feed(&mut self, piece: &[u8]) -> Result<(), Utf8Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut rest = piece;
        self.complete_pending(&mut rest)?;
        if self.seen != 0 {
            return Ok(());
        }
        // The bulk, at a code point boundary: a vectorised scan over leading ASCII, then the
        // bulk validator (simdutf8 or core).
        let ascii = ascii_prefix_len(rest);
        self.valid += ascii as u64;
        rest = &rest[ascii..]; // ascii <= rest.len(): it counts bytes of `rest`.
        match bulk(rest) {
            Ok(()) => {
                self.valid += rest.len() as u64;
                Ok(())
            }
            Err(e) => {
                // valid_up_to() <= rest.len(): it counts bytes of `rest`.
                let (good, bad) = rest.split_at(e.valid_up_to());
                self.valid += good.len() as u64;
                match e.error_len() {
                    // error_len() is 1..=3 (the bytes of the broken sequence before the
                    // offending one, or the invalid byte itself).
                    Some(len) => Err(self.fail(Some(len as u8))),
                    // The piece ends inside a code point: carry it. `step` checks the
                    // partial sequence itself: today's `from_utf8` already reports a
                    // truncated `ED A0` as `Some(1)`, but it documents `None` only as "the
                    // end of the input was reached", not as "a valid prefix".
                    None => {
                        for &byte in bad {
                            self.step(byte)?;
                        }
                        Ok(())
                    }
                }
            }
        }
    }

    /// Like [`feed`](Self::feed), and appends the valid text of `piece` to `out`: each byte
    /// is checked once and copied once, so text that arrives in pieces becomes a `String`
    /// without a second validation pass over the whole. An unfinished code point at the end
    /// of `piece` is appended when the piece that completes it arrives.
    ///
    /// On `Err`, `out` may hold part of `piece` (the text before the invalid byte).
    pub(crate) fn feed_into(&mut self, piece: &[u8], out: &mut String) -> Result<(), Utf8Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut rest = piece;
        if let Some(code_point) = self.complete_pending(&mut rest)? {
            out.push_str(code_point);
        }
        if self.seen != 0 {
            return Ok(());
        }
        // The bulk, up to the start of a code point that `piece` leaves unfinished.
        let (body, tail) = rest.split_at(complete_prefix_len(rest));
        let valid = match as_str(body) {
            Some(text) => {
                out.push_str(text);
                self.valid += body.len() as u64;
                true
            }
            // Invalid: locate the error as `feed` alone would. `body` can end inside a code
            // point only when `tail` starts with a byte that breaks it, so the error is then
            // found in `tail` below; should none be found, the text is refused anyway.
            None => {
                self.feed(body)?;
                false
            }
        };
        for &byte in tail {
            self.step(byte)?;
        }
        if valid { Ok(()) } else { Err(self.fail(Some(1))) }
    }

    /// Completes the code point carried over from the previous piece with bytes taken from
    /// the front of `rest`, one at a time. Returns it once complete; `None` if nothing was
    /// carried or `rest` ran out first (then `seen` is still non-zero).
    fn complete_pending(&mut self, rest: &mut &[u8]) -> Result<Option<&str>, Utf8Error> {
        if self.seen == 0 {
            return Ok(None);
        }
        let width = usize::from(self.width);
        while self.seen != 0 {
            let Some((&byte, tail)) = rest.split_first() else {
                return Ok(None);
            };
            self.step(byte)?;
            *rest = tail;
        }
        // `pending` holds the `width` (2..=4) bytes, each checked by `step` against RFC 3629's
        // table, so this cannot fail; if it did, the text is refused rather than trusted.
        if core::str::from_utf8(&self.pending[..width]).is_err() {
            return Err(self.fail(Some(1)));
        }
        Ok(core::str::from_utf8(&self.pending[..width]).ok())
    }

    /// Ends the text: `Err` if it failed or ends inside a code point.
    ///
    /// Resets the validator either way, ready for the next message.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let result = match self.error {
            Some(error) => Err(error),
            None if self.seen != 0 => Err(Utf8Error { valid_up_to: self.valid, error_len: None }),
            None => Ok(()),
        };
        self.reset();
        result
    }

    /// Forgets the text so far (and any error): the validator is as new.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// True when the text so far is valid and no partial code point is pending: the text
    /// could end here.
    pub fn is_boundary(&self) -> bool {
        self.seen == 0 && self.error.is_none()
    }

    /// Takes one byte while outside the standard library's validator: a lead byte at a
    /// boundary, or the next byte of the unfinished code point.
    fn step(&mut self, byte: u8) -> Result<(), Utf8Error> {
        if self.seen == 0 {
            match sequence_width(byte) {
                0 => return Err(self.fail(Some(1))),
                1 => self.valid += 1,
                width => {
                    self.lead = byte;
                    self.width = width;
                    self.pending[0] = byte;
                    self.seen = 1;
                }
            }
            return Ok(());
        }
        let allowed = if self.seen == 1 { second_byte_range(self.lead) } else { 0x80..=0xBF };
        if !allowed.contains(&byte) {
            return Err(self.fail(Some(self.seen)));
        }
        // `seen` is 1..=3 here (below `width`, which is at most 4).
        self.pending[usize::from(self.seen) & 3] = byte;
        self.seen += 1;
        if self.seen == self.width {
            self.valid += u64::from(self.width);
            self.seen = 0;
        }
        Ok(())
    }

    /// Records the failure at the current position and returns it.
    fn fail(&mut self, error_len: Option<u8>) -> Utf8Error {
        let error = Utf8Error { valid_up_to: self.valid, error_len };
        self.error = Some(error);
        error
    }
}

/// The bulk validator's verdict: `Err((valid_up_to, error_len))` in `core::str::Utf8Error`'s
/// terms. With the `simdutf8` feature it is SIMD code chosen at run time for the CPU.
fn bulk(bytes: &[u8]) -> Result<(), BulkError> {
    #[cfg(feature = "simdutf8")]
    return simdutf8::compat::from_utf8(bytes)
        .map(|_| ())
        .map_err(|e| BulkError(e.valid_up_to(), e.error_len()));
    #[cfg(not(feature = "simdutf8"))]
    return core::str::from_utf8(bytes).map(|_| ()).map_err(|e| BulkError(e.valid_up_to(), e.error_len()));
}

/// Where whole-text validation failed: `valid_up_to` and `error_len`, as `core` reports them.
struct BulkError(usize, Option<usize>);

impl BulkError {
    fn valid_up_to(&self) -> usize {
        self.0
    }

    fn error_len(&self) -> Option<usize> {
        self.1
    }
}

/// The length of the longest prefix of `bytes` that does not end inside a code point: all of
/// it, unless its last 1 to 3 bytes start a multi-byte sequence that needs more bytes than
/// are there. Only looks at the last bytes; whether they are valid is for the validator.
fn complete_prefix_len(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for back in 1..=n.min(3) {
        let byte = bytes[n - back]; // back is 1..=min(n, 3), so the index is in bounds.
        match byte {
            // ASCII: nothing unfinished after it (a stray continuation byte after it is the
            // validator's to refuse).
            0x00..=0x7F => return n,
            // A continuation byte: the sequence started further back.
            0x80..=0xBF => {}
            // A lead byte (or an invalid one, taken as the longest lead): unfinished if its
            // sequence needs more bytes than follow it.
            _ => {
                let width = match byte {
                    0xC0..=0xDF => 2,
                    0xE0..=0xEF => 3,
                    _ => 4,
                };
                return if width > back { n - back } else { n };
            }
        }
    }
    n
}

/// Below this many bytes, `core::str::from_utf8` is faster than the SIMD validator.
#[cfg(feature = "simdutf8")]
const SHORT_TEXT: usize = 64;

/// `bytes` as `&str` if it is valid UTF-8: the one pass that turns a message whose bytes all
/// arrived at once into text.
#[inline]
pub(crate) fn as_str(bytes: &[u8]) -> Option<&str> {
    // Short text is checked by `core`, whose ASCII fast path wins below a few SIMD blocks:
    // the SIMD validator is reached through a function pointer chosen at run time and sets
    // up vector state for every call.
    #[cfg(feature = "simdutf8")]
    if bytes.len() < SHORT_TEXT {
        return core::str::from_utf8(bytes).ok();
    }
    #[cfg(feature = "simdutf8")]
    return simdutf8::basic::from_utf8(bytes).ok();
    #[cfg(not(feature = "simdutf8"))]
    return core::str::from_utf8(bytes).ok();
}

/// Length of the all-ASCII prefix of `bytes`: 64-byte blocks first, then words and bytes. The OR over a fixed-size block compiles to SSE2 `por` and `pmovmskb`; it
/// measured about twice as fast as `from_utf8`'s own ASCII path on long ASCII text.
fn ascii_prefix_len(bytes: &[u8]) -> usize {
    const BLOCK: usize = 64;
    let mut len = 0;
    for block in bytes.chunks_exact(BLOCK) {
        // chunks_exact(BLOCK) yields BLOCK-byte slices; the fixed size lets LLVM vectorise.
        let block: &[u8; BLOCK] = block.try_into().expect("block of BLOCK bytes");
        if block.iter().fold(0, |acc, &byte| acc | byte) >= 0x80 {
            break;
        }
        len += BLOCK;
    }
    // The last 0..=63 bytes (or the block that held a non-ASCII byte): words, then bytes,
    // so that `from_utf8` is called only where non-ASCII text starts.
    let rest = &bytes[len..]; // len <= bytes.len(): it counts whole blocks of `bytes`.
    let mut words = rest.chunks_exact(8);
    for word in &mut words {
        // chunks_exact(8) yields 8-byte slices.
        let word = u64::from_ne_bytes(word.try_into().expect("8-byte word"));
        if word & 0x8080_8080_8080_8080 != 0 {
            break;
        }
        len += 8;
    }
    len + bytes[len..].iter().take_while(|byte| byte.is_ascii()).count()
}

/// Number of bytes in a UTF-8 sequence that starts with `lead`, or 0 if no sequence can
/// start with it (a continuation byte, `C0`, `C1` or `F5..=FF`). RFC 3629 §4.
const fn sequence_width(lead: u8) -> u8 {
    match lead {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

/// The bytes that may follow `lead` (a lead byte of width 2..=4) as the second byte of a
/// sequence. RFC 3629 §4: the narrow ranges exclude overlong forms (`E0`, `F0`), the UTF-16
/// surrogates U+D800..U+DFFF (`ED`) and code points above U+10FFFF (`F4`).
fn second_byte_range(lead: u8) -> core::ops::RangeInclusive<u8> {
    match lead {
        0xE0 => 0xA0..=0xBF,
        0xED => 0x80..=0x9F,
        0xF0 => 0x90..=0xBF,
        0xF4 => 0x80..=0x8F,
        _ => 0x80..=0xBF,
    }
}

/// A text was not valid UTF-8 (RFC 6455 §8.1).
///
/// Positions count from the start of the text (the last [`Utf8Validator::reset`] or
/// [`Utf8Validator::finish`]), across all pieces, and agree with
/// [`core::str::Utf8Error`] for the whole text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error {
    valid_up_to: u64,
    error_len: Option<u8>,
}

impl Utf8Error {
    /// Number of bytes at the start of the text that are valid UTF-8: the offending code
    /// point starts here. The same value as [`core::str::Utf8Error::valid_up_to`] reports
    /// for the whole text.
    pub fn valid_up_to(&self) -> u64 {
        self.valid_up_to
    }

    /// As [`core::str::Utf8Error::error_len`]: `Some(n)` when the text has an invalid
    /// sequence of `n` bytes at [`valid_up_to`](Self::valid_up_to) (the byte after them is
    /// where it went wrong, or `n == 1` for a byte that cannot start a sequence), `None`
    /// when the text ended inside a code point (reported by [`Utf8Validator::finish`]).
    pub fn error_len(&self) -> Option<usize> {
        self.error_len.map(usize::from)
    }
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error_len {
            Some(len) => write!(f, "invalid utf-8 sequence of {len} bytes from index {}", self.valid_up_to),
            None => write!(f, "incomplete utf-8 byte sequence from index {}", self.valid_up_to),
        }
    }
}

/// The same error for a text that was checked whole by `core`.
impl From<core::str::Utf8Error> for Utf8Error {
    fn from(e: core::str::Utf8Error) -> Self {
        // `error_len` is at most 3 (the longest invalid prefix of a 4-byte sequence).
        Self { valid_up_to: e.valid_up_to() as u64, error_len: e.error_len().map(|n| n as u8) }
    }
}

/// The error `core` reports for `bytes`, which are known not to be UTF-8: for the rare path
/// where a fast check said "invalid" without saying where.
#[cold]
pub(crate) fn error_in(bytes: &[u8]) -> Utf8Error {
    match core::str::from_utf8(bytes) {
        Err(e) => e.into(),
        // Not reached for invalid input; a valid one has no error position, so say "the end".
        Ok(_) => Utf8Error { valid_up_to: bytes.len() as u64, error_len: None },
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Utf8Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Feeds `pieces` and finishes; returns the index of the piece that failed (pieces.len()
    /// for `finish`) with the error.
    fn run(pieces: &[&[u8]]) -> Result<(), (usize, Utf8Error)> {
        let mut validator = Utf8Validator::new();
        for (i, piece) in pieces.iter().enumerate() {
            validator.feed(piece).map_err(|e| (i, e))?;
        }
        validator.finish().map_err(|e| (pieces.len(), e))
    }

    fn error(valid_up_to: u64, error_len: Option<u8>) -> Utf8Error {
        Utf8Error { valid_up_to, error_len }
    }

    /// Text with its bytes sometimes replaced, cut at arbitrary points.
    fn text_in_pieces() -> impl proptest::strategy::Strategy<Value = (Vec<u8>, Vec<usize>)> {
        use proptest::prelude::*;
        (
            "(\\PC|[a-z ]){0,80}",
            proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
            proptest::collection::vec(0usize..40, 0..12),
        )
            .prop_map(
                |(text, corruptions, cuts): (String, Vec<(prop::sample::Index, u8)>, Vec<usize>)| {
                    let mut bytes = text.into_bytes();
                    if !bytes.is_empty() {
                        for (at, byte) in corruptions {
                            let i = at.index(bytes.len());
                            bytes[i] = byte;
                        }
                    }
                    (bytes, cuts)
                },
            )
    }

    proptest::proptest! {
        /// `feed_into` decides exactly as `feed` (the same error, from the same piece) and
        /// builds exactly the text, when there is one.
        #[test]
        fn feed_into_agrees_with_feed((bytes, cuts) in text_in_pieces()) {
            let mut pieces = Vec::new();
            let mut rest = &bytes[..];
            for cut in cuts {
                let (piece, tail) = rest.split_at(cut.min(rest.len()));
                pieces.push(piece);
                rest = tail;
            }
            pieces.push(rest);
            let mut built = String::new();
            let mut into = Utf8Validator::new();
            let mut plain = Utf8Validator::new();
            for piece in &pieces {
                let a = into.feed_into(piece, &mut built);
                let b = plain.feed(piece);
                proptest::prop_assert_eq!(a, b);
                if a.is_err() {
                    break;
                }
            }
            let (a, b) = (into.finish(), plain.finish());
            proptest::prop_assert_eq!(a, b);
            if a.is_ok() {
                proptest::prop_assert_eq!(built.as_bytes(), &bytes[..]);
            }
        }
    }

    #[test]
    fn complete_prefix_stops_before_an_unfinished_code_point() {
        assert_eq!(complete_prefix_len(b""), 0);
        assert_eq!(complete_prefix_len(b"abc"), 3);
        assert_eq!(complete_prefix_len("a€".as_bytes()), 4);
        assert_eq!(complete_prefix_len(b"a\xE2\x82"), 1);
        assert_eq!(complete_prefix_len(b"a\xF0\x9F\xA6"), 1);
        assert_eq!(complete_prefix_len("a🦀".as_bytes()), 5);
        assert_eq!(complete_prefix_len(b"a\xC3"), 1);
        // Three continuation bytes with no lead in reach: left for the validator to refuse.
        assert_eq!(complete_prefix_len(b"a\x80\x80\x80"), 4);
    }

    #[test]
    fn valid_text_in_one_piece_and_byte_by_byte() {
        let text = "ASCII, Кириллица, 漢字, 🦀 and U+10FFFF \u{10FFFF}".as_bytes();
        assert_eq!(run(&[text]), Ok(()));
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(run(&bytes), Ok(()));
        assert_eq!(run(&[]), Ok(()));
        assert_eq!(run(&[b"", b"", b""]), Ok(()));
    }

    #[test]
    fn fails_fast_on_impossible_second_bytes_at_the_end_of_a_piece() {
        // Each of these is a complete failure after two bytes, with more text to come.
        for (bad, what) in [
            ([0xED, 0xA0], "surrogate"),
            ([0xF4, 0x90], "above U+10FFFF"),
            ([0xE0, 0x80], "overlong 3-byte"),
            ([0xF0, 0x8F], "overlong 4-byte"),
            ([0xE1, 0x41], "missing continuation"),
        ] {
            let mut validator = Utf8Validator::new();
            validator.feed(b"abc").unwrap();
            assert_eq!(validator.feed(&bad), Err(error(3, Some(1))), "{what} in one piece");
            let mut validator = Utf8Validator::new();
            validator.feed(&[b'a', b'b', b'c', bad[0]]).unwrap();
            assert_eq!(validator.feed(&bad[1..]), Err(error(3, Some(1))), "{what} split");
        }
    }

    #[test]
    fn fails_fast_on_bytes_that_never_start_a_sequence() {
        for byte in [0x80, 0xBF, 0xC0, 0xC1, 0xF5, 0xFF] {
            assert_eq!(run(&[b"ab", &[byte]]), Err((1, error(2, Some(1)))), "{byte:#04x}");
        }
    }

    #[test]
    fn bad_third_and_fourth_bytes_across_pieces() {
        // F0 90 80 then 'x': the error is in the piece holding 'x', with 3 bytes before it.
        assert_eq!(run(&[b"\xF0", b"\x90", b"\x80", b"x"]), Err((3, error(0, Some(3)))));
        assert_eq!(run(&[b"z\xE2\x82", b"\xC3"]), Err((1, error(1, Some(2)))));
    }

    #[test]
    fn truncated_text_fails_at_finish() {
        assert_eq!(run(&[b"ok\xE2\x82"]), Err((1, error(2, None))));
        assert_eq!(run(&[b"ok", b"\xF4"]), Err((2, error(2, None))));
    }

    #[test]
    fn error_sticks_until_reset_and_finish_resets() {
        let mut validator = Utf8Validator::new();
        let first = validator.feed(b"a\xC0").unwrap_err();
        assert_eq!(validator.feed(b"valid"), Err(first));
        assert!(!validator.is_boundary());
        assert_eq!(validator.finish(), Err(first));
        // finish reset it: a new message starts from zero.
        assert!(validator.is_boundary());
        assert_eq!(validator.feed(b"\xE2\x82\xAC"), Ok(()));
        assert_eq!(validator.finish(), Ok(()));
        validator.feed(b"\xFF").unwrap_err();
        validator.reset();
        assert_eq!(validator.feed(b"fine"), Ok(()));
    }

    #[test]
    fn agrees_with_core_on_valid_up_to() {
        let cases: [&[u8]; 6] = [
            b"abc\xE2\x82\xACdef\xED\xBF\xBF",
            b"\xF0\x9F\xA6\x80\xF0\x9F\xA6",
            b"\xC3\xA9\xC3",
            b"\xC3\xA9\xC3\xC3",
            b"12345678901234567890\xE0\xA0",
            b"\xEF\xBF\xBF\xF4\x8F\xBF\xBF\xF4\x90",
        ];
        for text in cases {
            let expected = core::str::from_utf8(text).unwrap_err();
            for split in 0..=text.len() {
                let (a, b) = text.split_at(split);
                let (_, actual) = run(&[a, b]).unwrap_err();
                assert_eq!(actual.valid_up_to(), expected.valid_up_to() as u64, "{text:x?}");
                assert_eq!(actual.error_len(), expected.error_len(), "{text:x?}");
            }
        }
    }

    #[test]
    fn long_ascii_runs_end_at_the_right_byte() {
        // Exercises every position of the 64-byte block and 8-byte word scans.
        for len in 0..200 {
            let mut text = vec![b'a'; len];
            text.extend_from_slice(b"\xC3\xA9 then \xFF and more ASCII after it");
            let (at, error) = run(&[&text]).unwrap_err();
            assert_eq!((at, error), (0, Utf8Error { valid_up_to: len as u64 + 8, error_len: Some(1) }));
            assert_eq!(ascii_prefix_len(&text), len);
            text.truncate(len);
            assert_eq!(ascii_prefix_len(&text), len);
            assert_eq!(run(&[&text]), Ok(()));
        }
    }

    #[test]
    fn a_word_of_continuation_bytes_is_not_ascii() {
        // 0x80 is the one byte whose high bit alone is set: a word of eight of them equals the
        // word scan's mask, and must still end the ASCII prefix. Every 8-byte alignment.
        for len in 0..16 {
            let mut text = vec![b'a'; len];
            text.extend_from_slice(&[0x80; 16]);
            assert_eq!(ascii_prefix_len(&text), len, "len {len}");
            assert_eq!(run(&[&text]), Err((0, error(len as u64, Some(1)))), "len {len}");
        }
    }

    #[test]
    fn display_matches_core_wording() {
        fn core_error(bytes: &[u8]) -> core::str::Utf8Error {
            core::str::from_utf8(bytes).unwrap_err()
        }
        assert_eq!(error(3, Some(1)).to_string(), core_error(b"abc\xFF").to_string());
        assert_eq!(error(1, None).to_string(), core_error(b"a\xE2\x82").to_string());
    }
}
