//! Framing of an HTTP/1.x head, and the small HTTP grammar helpers the handshake shares.
//!
//! This file owns finding where a head ends in bytes that arrive in pieces, in time linear in
//! their number (each byte is looked at once; `httparse` runs once, on the complete head),
//! and the buffer that holds the head meanwhile, bounded by [`Config::max_head_size`]. It
//! does not know whether the head is a request or a response, nor what any header means.
//!
//! Re-running a parser over a growing buffer on every arrival is what made another crate's
//! handshake quadratic (CVE-2023-43669); the [`EndScanner`] state machine is how we avoid it.

use alloc::vec::Vec;

use super::{Config, HandshakeError, Header, MalformedHead};

/// Finds the empty line that ends an HTTP/1.x head, remembering where it is across calls (so
/// a `\r\n\r\n` split between two arrivals is still found). Each byte is looked at once.
///
/// Lines may end in CRLF or in a bare LF (RFC 9112 §2.2 lets a recipient accept a bare LF, and
/// `httparse` does), so the head ends at `\n\n`, `\n\r\n`, `\r\n\n` or `\r\n\r\n`: at a `\n`
/// that follows a `\n`, or a `\n` and one `\r`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EndScanner {
    /// The last byte was a `\n` (possibly followed by one `\r`): we are at the start of a line.
    at_line_start: bool,
    /// At the start of a line, a `\r` has been seen.
    cr_at_line_start: bool,
}

impl EndScanner {
    /// Scans `bytes`; returns the index just past the end of the head, if it is in `bytes`.
    ///
    /// Only a `\n` can end a head, and most bytes are not one: they are passed over eight at a
    /// time ([`next_newline`]), and only the byte or two after each `\n` is looked at. (Byte
    /// by byte, through a state machine, this scan cost a `RequestParser` about 11
    /// instructions a byte: 6,350 of the 15,500 of a browser's whole handshake.)
    pub(crate) fn scan(&mut self, bytes: &[u8]) -> Option<usize> {
        // A line start carried over from the last call: the head may end in the first bytes.
        if self.at_line_start {
            match (self.cr_at_line_start, bytes) {
                (_, []) => return None,
                (_, [b'\n', ..]) => return Some(1),
                (false, [b'\r', b'\n', ..]) => return Some(2),
                (false, [b'\r']) => {
                    self.cr_at_line_start = true;
                    return None;
                }
                // Anything else (`\r` then another byte, a second `\r`) starts a line that is
                // not empty: the search below passes over its first byte, not a `\n`.
                _ => {}
            }
        }
        self.at_line_start = false;
        self.cr_at_line_start = false;
        let mut from = 0;
        loop {
            // Invariant: `from <= bytes.len()` (it is at most one past a `\n` found in `bytes`).
            let newline = from + next_newline(bytes.get(from..)?)?;
            match bytes.get(newline + 1..) {
                Some([b'\n', ..]) => return Some(newline + 2),
                Some([b'\r', b'\n', ..]) => return Some(newline + 3),
                Some([]) | None => {
                    self.at_line_start = true;
                    return None;
                }
                Some([b'\r']) => {
                    self.at_line_start = true;
                    self.cr_at_line_start = true;
                    return None;
                }
                Some(_) => from = newline + 1,
            }
        }
    }
}

/// The index of the first `\n` in `bytes`, found a 64-bit word at a time: a word XORed with
/// `\n` in every byte has a zero byte where a `\n` was, and `(x - 0x01..) & !x & 0x80..` sets
/// the high bit of each such byte. Bytes above the first zero byte can be set falsely (by the
/// borrow), never those below it, so the lowest set bit is the first `\n` (words are read
/// little-endian: the lowest byte comes first).
#[inline]
fn next_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_le_bytes([b'\n'; 8]);
    let mut rest = bytes;
    let mut at = 0;
    while let Some((word, after)) = rest.split_first_chunk::<8>() {
        let x = u64::from_le_bytes(*word) ^ NEWLINES;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
        rest = after;
    }
    rest.iter().position(|&b| b == b'\n').map(|i| at + i)
}

/// Where the head ends in `buf`, looking at no more than `config.max_head_size` bytes.
///
/// `Ok(None)` means the head is not complete yet and may still fit.
pub(crate) fn find_end(buf: &[u8], config: &Config) -> Result<Option<usize>, HandshakeError> {
    // Invariant: the bound is at most `buf.len()`.
    let window = &buf[..buf.len().min(config.max_head_size)];
    match EndScanner::default().scan(window) {
        Some(end) => Ok(Some(end)),
        None if buf.len() >= config.max_head_size => {
            Err(HandshakeError::HeadTooLarge { limit: config.max_head_size })
        }
        None => Ok(None),
    }
}

/// The buffer behind [`RequestParser`](super::RequestParser) and
/// [`ResponseParser`](super::ResponseParser): holds the head as it arrives, never more than
/// the configured size, and never a byte past the head's end.
#[derive(Debug, Clone)]
pub(crate) struct HeadBuffer {
    buf: Vec<u8>,
    scanner: EndScanner,
    complete: bool,
    max: usize,
    /// Bytes examined so far (by the scanner, and by `httparse` on the complete head). For
    /// tests that prove the cost is linear.
    work: u64,
}

impl HeadBuffer {
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            buf: Vec::new(),
            scanner: EndScanner::default(),
            complete: false,
            max: config.max_head_size,
            work: 0,
        }
    }

    /// Takes bytes from `input` up to the end of the head.
    ///
    /// Returns `Some(n)` once the head is complete, `n` being how many bytes of `input` it
    /// used (`input[n..]` is not the head's: it belongs to whatever follows). After the head
    /// is complete, every call returns `Some(0)`.
    pub(crate) fn feed(&mut self, input: &[u8]) -> Result<Option<usize>, HandshakeError> {
        if self.complete {
            return Ok(Some(0));
        }
        let room = self.max.saturating_sub(self.buf.len());
        // Invariant: the bound is at most `input.len()`.
        let window = &input[..input.len().min(room)];
        if let Some(end) = self.scanner.scan(window) {
            self.work += end as u64;
            // Invariant: `scan` returns an index within `window`.
            self.buf.extend_from_slice(&window[..end]);
            self.complete = true;
            return Ok(Some(end));
        }
        self.work += window.len() as u64;
        self.buf.extend_from_slice(window);
        if self.buf.len() >= self.max {
            // Full, and no end in sight: no more bytes can complete a head within the limit.
            return Err(HandshakeError::HeadTooLarge { limit: self.max });
        }
        Ok(None)
    }

    /// The complete head, once [`HeadBuffer::feed`] has returned `Some`.
    #[cfg(test)]
    fn head(&self) -> Option<&[u8]> {
        self.complete.then_some(self.buf.as_slice())
    }

    /// [`feed`](Self::feed), then, once the head is complete, the head itself (for the one
    /// parse, whose cost is counted here as work) and how many bytes of `input` it used.
    pub(crate) fn feed_head(&mut self, input: &[u8]) -> Result<Option<(&[u8], usize)>, HandshakeError> {
        let Some(used) = self.feed(input)? else {
            return Ok(None);
        };
        // The caller parses the whole head once.
        self.work += self.buf.len() as u64;
        Ok(Some((&self.buf, used)))
    }

    pub(crate) fn work(&self) -> u64 {
        self.work
    }
}

/// Storage for `httparse` to parse up to `config.max_headers` headers into.
pub(crate) fn header_slots<'b>(config: &Config) -> Vec<httparse::Header<'b>> {
    alloc::vec![httparse::EMPTY_HEADER; config.max_headers]
}

/// Maps an `httparse` error to ours: too many headers is 431, anything else malformed (400).
pub(crate) fn map_httparse_error(error: httparse::Error, config: &Config) -> HandshakeError {
    match error {
        httparse::Error::TooManyHeaders => HandshakeError::TooManyHeaders { limit: config.max_headers },
        httparse::Error::HeaderName => HandshakeError::MalformedHead(MalformedHead::HeaderName),
        httparse::Error::HeaderValue => HandshakeError::MalformedHead(MalformedHead::HeaderValue),
        httparse::Error::NewLine => HandshakeError::MalformedHead(MalformedHead::LineEnding),
        httparse::Error::Status => HandshakeError::MalformedHead(MalformedHead::StatusLine),
        httparse::Error::Token => HandshakeError::MalformedHead(MalformedHead::Token),
        httparse::Error::Version => HandshakeError::MalformedHead(MalformedHead::Version),
    }
}

/// Converts `httparse`'s headers to ours, trimming whitespace around values.
pub(crate) fn convert_headers<'b>(parsed: &[httparse::Header<'b>]) -> Vec<Header<'b>> {
    parsed.iter().map(|h| Header { name: h.name, value: trim_ows(h.value) }).collect()
}

/// A byte class as a table: ASCII letters and digits, plus `extra`.
pub(crate) const fn byte_class(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

/// `tchar` (RFC 9110 §5.6.2), the characters of a `token`.
static TCHAR: [bool; 256] = byte_class(b"!#$%&'*+-.^_`|~");

/// What [`is_authority_char`] accepts.
static AUTHORITY: [bool; 256] = byte_class(b"-._~%!$&'()*+,;=:[]");

/// Whether `b` is a `tchar` (RFC 9110 §5.6.2), the characters of a `token`.
#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Whether `s` is a non-empty `token` (RFC 9110 §5.6.2).
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// `s` without leading and trailing spaces and tabs (OWS, RFC 9110 §5.6.3).
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    // Most values have no surrounding whitespace (`httparse` already drops it before a
    // value): two byte checks.
    let blank = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    if !blank(s.first()) && !blank(s.last()) {
        return s;
    }
    let start = s.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(s.len());
    let end = s.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(start, |i| i + 1);
    // Invariant: start <= end <= s.len() (end is past the last non-blank, which is at or
    // after the first non-blank; when all are blank, start = end = s.len()).
    &s[start..end]
}

/// The elements of a comma-separated list (RFC 9110 §5.6.1), trimmed, empty ones skipped.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows).filter(|e| !e.is_empty())
}

/// Every value of the header `name`, in order.
pub(crate) fn values<'h, 'a>(
    headers: &'h [Header<'a>],
    name: &'h str,
) -> impl Iterator<Item = &'a [u8]> + 'h {
    headers.iter().filter(move |h| h.is(name)).map(|h| h.value)
}

/// The only value of the header `name`: `Ok(None)` if absent, an error if repeated.
pub(crate) fn single<'a>(
    headers: &[Header<'a>],
    name: &'static str,
) -> Result<Option<&'a [u8]>, HandshakeError> {
    let mut found = values(headers, name);
    let first = found.next();
    if found.next().is_some() {
        return Err(HandshakeError::DuplicateHeader(name));
    }
    Ok(first)
}

/// Whether any value of the header `name` lists `token` (ASCII case-insensitive).
pub(crate) fn has_token(headers: &[Header<'_>], name: &str, token: &str) -> bool {
    values(headers, name).any(|value| lists_token(value, token))
}

/// The token `websocket` of `Upgrade: websocket`, for [`HeaderIndex::has_token`].
pub(crate) const WEBSOCKET: Lowercase = Lowercase::new("websocket");

/// The token `upgrade` of `Connection: Upgrade`, for [`HeaderIndex::has_token`].
pub(crate) const UPGRADE: Lowercase = Lowercase::new("upgrade");

/// Whether the comma-separated list `value` holds `token` (ASCII case-insensitive), a word
/// at a time. Inlined, so that the comparison is compiled for the constant token's words.
#[inline(always)]
fn lists_lowercase(value: &[u8], token: &Lowercase) -> bool {
    // Most often the value is the token alone: one comparison, no list to split.
    token.matches(value) || list_elements(value).any(|e| token.matches(e))
}

/// Whether the comma-separated list `value` holds `token` (ASCII case-insensitive).
fn lists_token(value: &[u8], token: &str) -> bool {
    let token = token.as_bytes();
    // Most often the value is the token alone: one comparison, no list to split.
    trim_ows(value).eq_ignore_ascii_case(token) || list_elements(value).any(|e| e.eq_ignore_ascii_case(token))
}

/// The request headers the opening handshake reads (RFC 6455 §4.2.1, RFC 8441 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    Host,
    Origin,
    Upgrade,
    Connection,
    Key,
    Version,
    Protocol,
    Extensions,
}

impl Known {
    const ALL: usize = 8;

    /// The header `name` is, if the handshake reads it: one length check and at most one
    /// case-insensitive comparison per header.
    #[inline(always)]
    fn of(name: &str) -> Option<Self> {
        const HOST: Lowercase = Lowercase::new("host");
        const ORIGIN: Lowercase = Lowercase::new("origin");
        const UPGRADE: Lowercase = Lowercase::new("upgrade");
        const CONNECTION: Lowercase = Lowercase::new("connection");
        const KEY: Lowercase = Lowercase::new("sec-websocket-key");
        const VERSION: Lowercase = Lowercase::new("sec-websocket-version");
        const PROTOCOL: Lowercase = Lowercase::new("sec-websocket-protocol");
        const EXTENSIONS: Lowercase = Lowercase::new("sec-websocket-extensions");
        // Each arm compares with its own constant, so that the comparison is compiled for
        // that name's words (a few loads, no loop) rather than read from a table.
        let name = name.as_bytes();
        let (known, matches) = match name.len() {
            4 => (Self::Host, HOST.matches(name)),
            6 => (Self::Origin, ORIGIN.matches(name)),
            7 => (Self::Upgrade, UPGRADE.matches(name)),
            10 => (Self::Connection, CONNECTION.matches(name)),
            17 => (Self::Key, KEY.matches(name)),
            21 => (Self::Version, VERSION.matches(name)),
            22 => (Self::Protocol, PROTOCOL.matches(name)),
            24 => (Self::Extensions, EXTENSIONS.matches(name)),
            _ => return None,
        };
        matches.then_some(known)
    }

    /// The header's name as the errors spell it.
    fn name(self) -> &'static str {
        match self {
            Self::Host => "Host",
            Self::Origin => "Origin",
            Self::Upgrade => "Upgrade",
            Self::Connection => "Connection",
            Self::Key => "Sec-WebSocket-Key",
            Self::Version => "Sec-WebSocket-Version",
            Self::Protocol => "Sec-WebSocket-Protocol",
            Self::Extensions => "Sec-WebSocket-Extensions",
        }
    }
}

/// A header field as the handshake's checks read it: ours ([`Header`]), or `httparse`'s
/// straight from the parse, so that a head parsed from bytes is checked without first being
/// copied into a list of its own.
pub(crate) trait Field<'a> {
    /// The name as sent.
    fn name(&self) -> &'a str;
    /// The value without surrounding whitespace.
    fn value(&self) -> &'a [u8];
}

impl<'a> Field<'a> for Header<'a> {
    #[inline]
    fn name(&self) -> &'a str {
        self.name
    }

    #[inline]
    fn value(&self) -> &'a [u8] {
        self.value
    }
}

impl<'a> Field<'a> for httparse::Header<'a> {
    #[inline]
    fn name(&self) -> &'a str {
        self.name
    }

    #[inline]
    fn value(&self) -> &'a [u8] {
        trim_ows(self.value)
    }
}

/// A lowercase name (a header's, or a token such as `websocket`) as words, for
/// [`Lowercase::matches`]: the handshake compares every header name it gets against one of
/// these.
///
/// The name is held as the words a name of its length is read in: for eight bytes or more,
/// each whole eight-byte word and then the last eight bytes (overlapping the one before);
/// for four to seven, the first and the last four bytes. Every comparison is then a few word
/// loads, with no copy into a padded buffer.
pub(crate) struct Lowercase {
    len: usize,
    /// `(offset, word, case)`: the bytes at `offset..offset + 8` (or `+ 4`) as a little-endian
    /// word, and the case bit (0x20) in every byte of it that is a letter.
    windows: [(usize, u64, u64); 4],
    count: usize,
}

impl Lowercase {
    /// `lower` must be lowercase and 4 to 32 bytes long (checked when the constant is built).
    pub(crate) const fn new(lower: &str) -> Self {
        let bytes = lower.as_bytes();
        let len = bytes.len();
        assert!(len >= 4 && len <= 32, "names are 4 to 32 bytes");
        let width = if len >= 8 { 8 } else { 4 };
        let mut windows = [(0usize, 0u64, 0u64); 4];
        let mut count = 0;
        let mut offset = 0;
        loop {
            // Whole words first, then the last `width` bytes.
            let at = if offset + width <= len { offset } else { len - width };
            let mut word = 0u64;
            let mut case = 0u64;
            let mut i = 0;
            while i < width {
                let b = bytes[at + i];
                assert!(!b.is_ascii_uppercase(), "names are lowercase");
                word |= (b as u64) << (8 * i);
                if b.is_ascii_lowercase() {
                    case |= 0x20 << (8 * i);
                }
                i += 1;
            }
            windows[count] = (at, word, case);
            count += 1;
            if at + width == len {
                break;
            }
            offset += width;
        }
        Self { len, windows, count }
    }

    /// Whether `name` is this name in any ASCII case, a word at a time. Exact: only where
    /// this name has a letter may a byte differ, and only by the case bit.
    #[inline(always)]
    pub(crate) fn matches(&self, name: &[u8]) -> bool {
        if name.len() != self.len {
            return false;
        }
        // Every window lies within `len` bytes (built so), so `get` never misses when the
        // lengths agree; a miss would only mean "no match".
        let windows = self.windows.get(..self.count).unwrap_or_default();
        if self.len >= 8 {
            windows.iter().all(|&(at, word, case)| {
                name.get(at..)
                    .and_then(<[u8]>::first_chunk::<8>)
                    .is_some_and(|w| u64::from_le_bytes(*w) | case == word)
            })
        } else {
            windows.iter().all(|&(at, word, case)| {
                name.get(at..)
                    .and_then(<[u8]>::first_chunk::<4>)
                    .is_some_and(|w| u64::from(u32::from_le_bytes(*w)) | case == word)
            })
        }
    }
}

/// Where each [`Known`] header is in a list of headers, found in one pass: the handshake's
/// checks then look headers up without comparing names again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderIndex {
    /// For each known header: the index of its first occurrence and how many there are.
    found: [(usize, usize); Known::ALL],
}

impl HeaderIndex {
    pub(crate) fn new<'a, F: Field<'a>>(headers: &[F]) -> Self {
        let mut index = Self { found: [(0, 0); Known::ALL] };
        for (i, header) in headers.iter().enumerate() {
            if let Some(known) = Known::of(header.name()) {
                index.note(known, i);
            }
        }
        index
    }

    #[inline]
    fn note(&mut self, known: Known, at: usize) {
        // Invariant: `Known` has `Known::ALL` variants, numbered from 0.
        let (first, count) = &mut self.found[known as usize];
        if *count == 0 {
            *first = at;
        }
        *count += 1;
    }

    /// Every value of `known`, in order.
    pub(crate) fn values<'h, 'a: 'h, F: Field<'a>>(
        &self,
        headers: &'h [F],
        known: Known,
    ) -> impl Iterator<Item = &'a [u8]> + 'h {
        let (first, count) = self.found[known as usize];
        // `first` indexes `headers` (the list this index was built from) whenever `count > 0`;
        // `get` makes a mismatched list yield nothing rather than panic. Only repeats after
        // the first need their names compared again.
        let head = headers.get(first).filter(|_| count > 0).map(|h| h.value());
        let repeats = if count > 1 { headers.get(first + 1..).unwrap_or_default() } else { &[] };
        head.into_iter().chain(
            repeats
                .iter()
                .filter(move |h| Known::of(h.name()) == Some(known))
                .take(count.saturating_sub(1))
                .map(|h| h.value()),
        )
    }

    /// The only value of `known`: `Ok(None)` if absent, an error if repeated.
    pub(crate) fn single<'a, F: Field<'a>>(
        &self,
        headers: &[F],
        known: Known,
    ) -> Result<Option<&'a [u8]>, HandshakeError> {
        match self.found[known as usize] {
            (_, 0) => Ok(None),
            // Invariant: `first` indexes `headers`, as in `values`.
            (first, 1) => Ok(headers.get(first).map(|h| h.value())),
            _ => Err(HandshakeError::DuplicateHeader(known.name())),
        }
    }

    /// Whether there is any header `known`.
    pub(crate) fn has(&self, known: Known) -> bool {
        self.found[known as usize].1 > 0
    }

    /// Whether any value of `known` lists `token` (ASCII case-insensitive). Inlined, as
    /// [`lists_lowercase`] is.
    #[inline(always)]
    pub(crate) fn has_token<'a, F: Field<'a>>(&self, headers: &[F], known: Known, token: &Lowercase) -> bool {
        match self.found[known as usize] {
            (_, 0) => false,
            // The common case, one header: no iterator to build.
            (first, 1) => headers.get(first).is_some_and(|h| lists_lowercase(h.value(), token)),
            _ => self.values(headers, known).any(|value| lists_lowercase(value, token)),
        }
    }
}

/// The header fields of a head `httparse` accepted, read again from its bytes: what
/// [`Request::headers`](super::Request::headers) iterates instead of a list kept on the heap.
///
/// `httparse` has checked the head (a start line, then `name: value` lines with token names,
/// ended by an empty line; CRLF or bare LF), so a line is split at its first `:` and the
/// value trimmed, which gives the fields exactly as `httparse` did.
#[derive(Debug, Clone)]
pub(crate) struct HeadFields<'a> {
    /// The lines not read yet; empty once the head's empty line is reached.
    rest: &'a [u8],
}

impl<'a> HeadFields<'a> {
    /// The fields of `head`, a complete head as `httparse` parsed it.
    pub(crate) fn new(head: &'a [u8]) -> Self {
        let mut fields = Self { rest: head };
        // `httparse` skips empty lines before the start line; then the start line.
        while let Some(line) = fields.line() {
            if !line.is_empty() {
                break;
            }
        }
        fields
    }

    /// The next line without its line ending (`None` when no bytes are left).
    fn line(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match self.rest.iter().position(|&b| b == b'\n') {
            // Invariant: `end` is an index within `rest`.
            Some(end) => (&self.rest[..end], &self.rest[end + 1..]),
            None => (self.rest, &[][..]),
        };
        self.rest = rest;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

impl<'a> Iterator for HeadFields<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        loop {
            let line = self.line()?;
            if line.is_empty() {
                // The end of the head.
                self.rest = &[];
                return None;
            }
            let colon = line.iter().position(|&b| b == b':')?;
            // Invariant: `colon` is an index within `line`.
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            // Names are tokens (ASCII), as `httparse` checked; a line that is not one is
            // skipped rather than trusted.
            if let Ok(name) = core::str::from_utf8(name) {
                return Some(Header { name, value: trim_ows(value) });
            }
        }
    }
}

/// A list that keeps its first `N` items inline and moves to the heap only past them: the
/// handshake's offers and answers, which are almost always few.
#[derive(Clone)]
pub(crate) struct InlineList<T, const N: usize> {
    /// Items in `inline[..len]`, while `spill` is empty.
    len: usize,
    inline: [T; N],
    /// Every item, once there were more than `N`.
    spill: Vec<T>,
}

impl<T: Copy, const N: usize> InlineList<T, N> {
    /// An empty list; `fill` stands in the unused inline slots (never read).
    pub(crate) fn new(fill: T) -> Self {
        Self { len: 0, inline: [fill; N], spill: Vec::new() }
    }

    pub(crate) fn push(&mut self, item: T) {
        if self.spill.is_empty() {
            if let Some(slot) = self.inline.get_mut(self.len) {
                *slot = item;
                self.len += 1;
                return;
            }
            self.spill.reserve(2 * N);
            self.spill.extend_from_slice(&self.inline);
        }
        self.spill.push(item);
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        if self.spill.is_empty() { self.inline.get(..self.len).unwrap_or_default() } else { &self.spill }
    }
}

impl<T: PartialEq, const N: usize> PartialEq for InlineList<T, N>
where
    T: Copy,
{
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq + Copy, const N: usize> Eq for InlineList<T, N> {}

impl<T: core::fmt::Debug + Copy, const N: usize> core::fmt::Debug for InlineList<T, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// Whether `value` may be written as a header value: no control characters except tab (so
/// no CR or LF that would split the head), no surrounding whitespace.
pub(crate) fn is_valid_value(value: &[u8]) -> bool {
    value.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)) && trim_ows(value).len() == value.len()
}

/// Whether `c` may appear in the authority's host as we accept it: a reg-name or IP literal
/// (RFC 3986 §3.2.2), plus `:` for the port.
#[inline]
pub(crate) fn is_authority_char(c: u8) -> bool {
    AUTHORITY[usize::from(c)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end_of(bytes: &[u8]) -> Option<usize> {
        EndScanner::default().scan(bytes)
    }

    /// The scanner as it was first written, a byte at a time: what `EndScanner` must agree
    /// with, result and state, on every input and every split.
    #[derive(Default, Clone, Copy, PartialEq, Debug)]
    struct ByteScanner {
        at_line_start: bool,
        cr_at_line_start: bool,
    }

    impl ByteScanner {
        fn scan(&mut self, bytes: &[u8]) -> Option<usize> {
            for (i, &b) in bytes.iter().enumerate() {
                match b {
                    b'\n' if self.at_line_start => return Some(i + 1),
                    b'\n' => self.at_line_start = true,
                    b'\r' if self.at_line_start && !self.cr_at_line_start => self.cr_at_line_start = true,
                    _ => {
                        self.at_line_start = false;
                        self.cr_at_line_start = false;
                    }
                }
            }
            None
        }
    }

    /// Feeds `pieces` to both scanners in turn; panics where they disagree.
    fn agree(pieces: &[&[u8]]) {
        let (mut fast, mut slow) = (EndScanner::default(), ByteScanner::default());
        for (n, piece) in pieces.iter().enumerate() {
            let (a, b) = (fast.scan(piece), slow.scan(piece));
            assert_eq!(a, b, "piece {n} of {pieces:?}");
            if a.is_some() {
                return;
            }
            let state = (fast.at_line_start, fast.cr_at_line_start);
            assert_eq!(state, (slow.at_line_start, slow.cr_at_line_start), "after piece {n} of {pieces:?}");
        }
    }

    #[test]
    fn scanner_agrees_with_the_byte_scanner_on_every_short_input_and_split() {
        // Every string of up to 9 bytes over `\r`, `\n` and a letter, whole and cut in two
        // and three pieces at every place: every state, carried over every boundary.
        let alphabet = [b'\r', b'\n', b'a'];
        for len in 0..=9u32 {
            for code in 0..3usize.pow(len) {
                let bytes: Vec<u8> = (0..len).map(|i| alphabet[code / 3usize.pow(i) % 3]).collect();
                agree(&[&bytes]);
                for cut in 0..=bytes.len() {
                    let (a, rest) = bytes.split_at(cut);
                    agree(&[a, rest]);
                    for cut2 in 0..=rest.len() {
                        let (b, c) = rest.split_at(cut2);
                        agree(&[a, b, c]);
                    }
                }
            }
        }
    }

    proptest::proptest! {
        /// Long inputs, where the word-at-a-time search runs: lines of any length, `\n`s
        /// at every offset within a word, cut anywhere.
        #[test]
        fn scanner_agrees_with_the_byte_scanner_on_long_inputs(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![4 => proptest::prelude::Just(b'a'), 1 => proptest::prelude::Just(b'\n'),
                    1 => proptest::prelude::Just(b'\r'), 1 => proptest::prelude::any::<u8>()],
                0..200,
            ),
            cuts in proptest::collection::vec(0usize..200, 0..4),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for cut in cuts {
                pieces.push(&bytes[at..cut]);
                at = cut;
            }
            pieces.push(&bytes[at..]);
            agree(&pieces);
        }
    }

    #[test]
    fn next_newline_finds_the_first_at_every_offset() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'x'; len];
                bytes[at] = b'\n';
                // A second `\n` later, and bytes the borrow of the word trick could confuse.
                if at + 1 < len {
                    bytes[at + 1] = 0x0b;
                }
                if at + 3 < len {
                    bytes[at + 3] = b'\n';
                }
                assert_eq!(next_newline(&bytes), Some(at), "len {len} at {at}");
            }
            assert_eq!(next_newline(&vec![b'\x0b'; len]), None);
        }
    }

    #[test]
    fn finds_every_line_ending_style() {
        assert_eq!(end_of(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"), Some(24));
        assert_eq!(end_of(b"GET / HTTP/1.1\nA: b\n\nrest"), Some(21));
        assert_eq!(end_of(b"GET / HTTP/1.1\nA: b\n\r\nrest"), Some(22));
        assert_eq!(end_of(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
        assert_eq!(end_of(b"A: b\r\n\r\r\n"), None);
        assert_eq!(end_of(b"a\rb\r\n\r\n"), Some(7));
    }

    #[test]
    fn scanner_finds_the_end_across_every_split() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for split in 0..=head.len() {
            let mut scanner = EndScanner::default();
            let (a, b) = head.split_at(split);
            let found = match scanner.scan(a) {
                Some(end) => end,
                None => split + scanner.scan(b).unwrap(),
            };
            assert_eq!(found, head.len(), "split at {split}");
        }
    }

    #[test]
    fn buffer_stops_at_the_end_of_the_head() {
        let mut buffer = HeadBuffer::new(&Config::default());
        assert_eq!(buffer.feed(b"GET / HTTP/1.1\r\n").unwrap(), None);
        assert_eq!(buffer.head(), None);
        assert_eq!(buffer.feed(b"\r\nframe").unwrap(), Some(2));
        assert_eq!(buffer.head(), Some(&b"GET / HTTP/1.1\r\n\r\n"[..]));
        assert_eq!(buffer.feed(b"more").unwrap(), Some(0));
    }

    #[test]
    fn buffer_is_bounded() {
        let config = Config::new().with_max_head_size(16);
        let mut buffer = HeadBuffer::new(&config);
        assert_eq!(buffer.feed(b"0123456789").unwrap(), None);
        assert_eq!(buffer.feed(b"0123456789"), Err(HandshakeError::HeadTooLarge { limit: 16 }));
        // A head of exactly the limit fits.
        let mut buffer = HeadBuffer::new(&config);
        assert_eq!(buffer.feed(b"GET / HTTP/1.1\n\nxyz").unwrap(), Some(16));
        assert_eq!(find_end(b"GET / HTTP/1.1\n\n", &config), Ok(Some(16)));
        assert_eq!(
            find_end(b"GET / HTTP/1.1\r\n\r\n", &config),
            Err(HandshakeError::HeadTooLarge { limit: 16 })
        );
        assert_eq!(find_end(b"GET", &config), Ok(None));
    }

    #[test]
    fn grammar_helpers() {
        assert!(is_token(b"permessage-deflate"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"a,b"));
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        let elements: Vec<&[u8]> = list_elements(b" keep-alive, ,Upgrade ,").collect();
        assert_eq!(elements, [&b"keep-alive"[..], b"Upgrade"]);
        assert!(is_valid_value(b"a=b; Path=/"));
        assert!(!is_valid_value(b"a\r\nInjected: yes"));
        assert!(!is_valid_value(b" padded"));
    }

    /// Every known header, as the index finds it: named in any case, once or repeated
    /// among other headers, and named in a duplicate's error as the RFC spells it.
    #[test]
    fn header_index_finds_each_known_header_and_its_repeats() {
        let known = [
            (Known::Host, "HOST", "Host"),
            (Known::Origin, "origin", "Origin"),
            (Known::Upgrade, "UpGrade", "Upgrade"),
            (Known::Connection, "CONNECTION", "Connection"),
            (Known::Key, "sec-websocket-key", "Sec-WebSocket-Key"),
            (Known::Version, "Sec-Websocket-Version", "Sec-WebSocket-Version"),
            (Known::Protocol, "SEC-WEBSOCKET-PROTOCOL", "Sec-WebSocket-Protocol"),
            (Known::Extensions, "sec-WebSocket-extensions", "Sec-WebSocket-Extensions"),
        ];
        let mut once = Vec::new();
        for (_, sent, _) in known {
            once.push(Header { name: sent, value: b"first" });
            // Names of the same lengths that are not the known ones.
            once.push(Header { name: &"x-unknown-header-of-any-length"[..sent.len()], value: b"x" });
        }
        let mut twice = once.clone();
        twice.extend(known.iter().map(|&(_, sent, _)| Header { name: sent, value: b"second" }));

        let index = HeaderIndex::new(&once);
        for (known, _, _) in known {
            assert!(index.has(known), "{known:?}");
            assert_eq!(index.single(&once, known), Ok(Some(&b"first"[..])), "{known:?}");
            assert_eq!(index.values(&once, known).collect::<Vec<_>>(), [b"first"], "{known:?}");
        }
        let index = HeaderIndex::new(&twice);
        for (known, _, spelled) in known {
            assert_eq!(index.single(&twice, known), Err(HandshakeError::DuplicateHeader(spelled)));
            let values: Vec<&[u8]> = index.values(&twice, known).collect();
            assert_eq!(values, [&b"first"[..], b"second"], "{known:?}");
        }
        let index = HeaderIndex::new(&once[1..2]);
        assert!(!index.has(Known::Host));
        assert_eq!(index.single(&once[1..2], Known::Host), Ok(None));
        assert_eq!(index.values(&once[1..2], Known::Host).count(), 0);
    }

    /// `has_token` reads every value of the header it is asked about, lists or not, and no
    /// other header's.
    #[test]
    fn header_index_finds_a_token_in_any_value_of_its_header() {
        const UPGRADE: Lowercase = Lowercase::new("upgrade");
        const WEBSOCKET: Lowercase = Lowercase::new("websocket");
        let headers = [
            Header { name: "Connection", value: b"keep-alive" },
            Header { name: "Upgrade", value: b"websocket" },
            Header { name: "connection", value: b"TE, Upgrade" },
        ];
        let index = HeaderIndex::new(&headers);
        // In the second Connection header, in a list.
        assert!(index.has_token(&headers, Known::Connection, &UPGRADE));
        assert!(!HeaderIndex::new(&headers[..2]).has_token(&headers[..2], Known::Connection, &UPGRADE));
        // A single header that is the token, and one that is not.
        assert!(index.has_token(&headers, Known::Upgrade, &WEBSOCKET));
        assert!(!index.has_token(&headers, Known::Upgrade, &UPGRADE));
        // Another header's value does not count; an absent header lists nothing.
        assert!(!index.has_token(&headers, Known::Connection, &WEBSOCKET));
        assert!(!index.has_token(&headers, Known::Origin, &UPGRADE));
        // A single header whose value is a list.
        let index = HeaderIndex::new(&headers[2..]);
        assert!(index.has_token(&headers[2..], Known::Connection, &UPGRADE));
    }

    #[test]
    fn header_lookups() {
        let headers = [
            Header { name: "Connection", value: b"keep-alive, Upgrade" },
            Header { name: "upgrade", value: b"WebSocket" },
            Header { name: "X", value: b"1" },
            Header { name: "x", value: b"2" },
        ];
        assert!(has_token(&headers, "connection", "upgrade"));
        assert!(has_token(&headers, "Upgrade", "websocket"));
        assert!(!has_token(&headers, "Upgrade", "h2c"));
        assert_eq!(single(&headers, "Upgrade"), Ok(Some(&b"WebSocket"[..])));
        assert_eq!(single(&headers, "Missing"), Ok(None));
        assert_eq!(single(&headers, "X"), Err(HandshakeError::DuplicateHeader("X")));
    }

    #[test]
    fn inline_lists_compare_and_show_their_items_inline_or_spilled() {
        let list = |items: &[u8]| {
            let mut list = InlineList::<u8, 2>::new(0);
            items.iter().for_each(|&item| list.push(item));
            list
        };
        // Up to two inline, then all of them on the heap, in order.
        for items in [&[][..], &[1], &[1, 2], &[1, 2, 3], &[1, 2, 3, 4, 5]] {
            assert_eq!(list(items).as_slice(), items);
            assert!(list(items) == list(items));
            assert_eq!(format!("{:?}", list(items)), format!("{items:?}"));
        }
        // The unused inline slots are never compared: an empty list is not one of fill values.
        assert!(list(&[]) != list(&[0]));
        assert!(list(&[1, 2]) != list(&[1, 3]));
        assert!(list(&[1, 2]) != list(&[1, 2, 3]));
        assert!(list(&[1, 2, 3]) != list(&[1, 2, 4]));
    }
}
