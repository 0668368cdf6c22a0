//! The `Sec-WebSocket-Extensions` grammar (RFC 6455 §9.1).
//!
//! This file owns parsing a list of extensions, each a name with parameters
//! (`name; param; param=value; param="quoted value"`), from one or more header values, in
//! order. It does not know what any extension or parameter means, nor which ones to accept:
//! the caller, or an extension module such as permessage-deflate, reads the parsed offers and
//! decides the answer.
//!
//! ```text
//! extension-list  = 1#extension
//! extension       = extension-token *( ";" extension-param )
//! extension-token = token
//! extension-param = token [ "=" (token | quoted-string) ]
//!     ; a quoted-string, once unescaped, must itself be a token
//! ```
//!
//! The list is checked in one pass, which also notes where each element's parameters are:
//! reading them afterwards (an extension module deciding its answer) scans nothing again.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

#[cfg(feature = "deflate")]
use super::head::Lowercase;
use super::head::is_tchar;
use super::{HandshakeError, Header};

/// One element of a `Sec-WebSocket-Extensions` list: an extension name and its parameters,
/// borrowed from the header value.
///
/// The same type describes a client's offer and a server's answer; the grammar is the same.
/// It is a slice of the header value (the name and the parameters' text, checked against the
/// grammar when the list was parsed), the name's length, and where the first few parameters
/// lie in that text: 32 bytes, `Copy`, no heap. The parameters are read from that text each
/// time [`params`](Extension::params) is called.
///
/// ```
/// use rfc6455::handshake::Extension;
/// let list = Extension::parse_list(
///     r#"permessage-deflate; client_max_window_bits; server_max_window_bits="10", x-custom"#,
/// )?;
/// assert_eq!(list.len(), 2);
/// assert_eq!(list[0].name(), "permessage-deflate");
/// assert_eq!(list[0].param("client_max_window_bits").unwrap().value(), None);
/// assert_eq!(list[0].param("server_max_window_bits").unwrap().value(), Some("10"));
/// assert_eq!(list[0].params().count(), 2);
/// assert_eq!(list[0].to_string(), "permessage-deflate; client_max_window_bits; server_max_window_bits=10");
/// # Ok::<(), rfc6455::handshake::HandshakeError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Extension<'a> {
    /// The list element, up to the `,` that ends it: the name (a token), then zero or more
    /// `; param[=value]`, already checked against the grammar, so ASCII (made `&str` when
    /// asked for: converting every offer's text up front would cost the handshake more than
    /// checking it).
    text: &'a [u8],
    /// The name's length in `text`, or `u16::MAX` for a name that long or longer, which is
    /// then found again (it is the token `text` starts with). Small, so that an extension
    /// stays 32 bytes: requests hold them inline and are moved by value.
    name_len: u16,
    /// Where the parameters are in the text after the name, noted when the list was checked.
    spans: Spans,
}

/// One parameter of an [`Extension`]: a name, and a value if `=` followed it.
///
/// A value sent as a quoted-string is unescaped (and, as §9.1 requires, is a token once
/// unescaped); it borrows from the header unless it contained backslash escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionParam<'a> {
    name: &'a str,
    value: Option<Cow<'a, str>>,
}

impl<'a> Extension<'a> {
    /// A placeholder for unused inline slots (never handed out).
    pub(crate) const EMPTY: Extension<'static> = Extension { text: b"", name_len: 0, spans: Spans::EMPTY };

    /// Parses one header value as an extension list (§9.1). Empty list elements (`a, , b`)
    /// are skipped, as RFC 9110 §5.6.1 asks of recipients.
    pub fn parse_list(value: &'a str) -> Result<Vec<Self>, HandshakeError> {
        let mut out = Vec::new();
        parse_into(value.as_bytes(), &mut out)?;
        Ok(out)
    }

    /// The extension's name, as sent.
    pub fn name(&self) -> &'a str {
        ascii(self.name_bytes())
    }

    /// The name's bytes (for comparisons that need no `&str`).
    pub(crate) fn name_bytes(&self) -> &'a [u8] {
        self.text.get(..self.name_len()).unwrap_or_default()
    }

    /// The name's length in `text`.
    fn name_len(&self) -> usize {
        match self.name_len {
            u16::MAX => token_len(self.text),
            len => usize::from(len),
        }
    }

    /// The parameters' text: what follows the name in the element.
    fn params_text(&self) -> &'a [u8] {
        // Invariant: the name is a prefix of the text; a miss would read as no parameters.
        self.text.get(self.name_len()..).unwrap_or_default()
    }

    /// Whether the name is `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        // Most often the very bytes (an answer naming the offer as the client spelled it):
        // one comparison of memory, no case folding.
        let own = self.name_bytes();
        own == name.as_bytes() || own.eq_ignore_ascii_case(name.as_bytes())
    }

    /// Whether the name is `name` (a constant in lowercase), compared a word at a time.
    #[cfg(feature = "deflate")]
    pub(crate) fn is_lowercase(&self, name: &Lowercase) -> bool {
        name.matches(self.name_bytes())
    }

    /// The parameters, in the order they were sent (repeats included: whether a repeated
    /// parameter is an error is for the extension to say), read from the header value as
    /// they are iterated.
    pub fn params(&self) -> Params<'a> {
        Params { spans: self.spans, next: 0, cursor: Cursor { text: self.params_text(), pos: 0 } }
    }

    /// The first parameter called `name` (ASCII case-insensitive).
    pub fn param(&self, name: &str) -> Option<ExtensionParam<'a>> {
        self.params().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Calls `f` with each parameter's name and value (unquoted, unescaped) as bytes, in
    /// order, until it fails: [`params`](Self::params) without building an
    /// [`ExtensionParam`] for each, and without scanning the text again when the parameters'
    /// places were noted as the list was checked (the common case).
    #[cfg(feature = "deflate")]
    pub(crate) fn try_for_each_param<E>(
        &self,
        mut f: impl FnMut(&[u8], Option<&[u8]>) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(noted) = self.spans.noted() {
            for span in noted {
                let (name, value) = span_of(self.params_text(), span);
                f(name, value)?;
            }
            return Ok(());
        }
        for param in self.params() {
            f(param.name.as_bytes(), param.value.as_deref().map(str::as_bytes))?;
        }
        Ok(())
    }
}

/// Two extensions are equal when their names are equal and their parameters are, one by one
/// (names as sent, values unescaped): `a;b="1"` equals `a; b=1`.
impl PartialEq for Extension<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.name_bytes() == other.name_bytes() && self.params().eq(other.params())
    }
}

impl Eq for Extension<'_> {}

impl fmt::Debug for Extension<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct List<'a>(Params<'a>);
        impl fmt::Debug for List<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.clone()).finish()
            }
        }
        f.debug_struct("Extension").field("name", &self.name()).field("params", &List(self.params())).finish()
    }
}

/// The parameters of an [`Extension`], in order: see [`Extension::params`].
#[derive(Debug, Clone)]
pub struct Params<'a> {
    /// Where the parameters are, if they were noted; else `cursor` scans for them.
    spans: Spans,
    /// The index of the next noted parameter.
    next: usize,
    /// The parameters' text, and where scanning it resumes.
    cursor: Cursor<'a>,
}

impl<'a> Iterator for Params<'a> {
    type Item = ExtensionParam<'a>;

    fn next(&mut self) -> Option<ExtensionParam<'a>> {
        if let Some(noted) = self.spans.noted() {
            let span = noted.get(self.next)?;
            self.next += 1;
            let (name, value) = span_of(self.cursor.text, span);
            return Some(ExtensionParam { name: ascii(name), value: value.map(|v| Cow::Borrowed(ascii(v))) });
        }
        // The text was checked when the list was parsed; should it not parse (it cannot), the
        // parameters end there rather than panic.
        match self.cursor.param_at() {
            Ok(Some(at)) => Some(self.cursor.read(&at)),
            Ok(None) => None,
            Err(_) => {
                self.cursor.pos = self.cursor.text.len();
                None
            }
        }
    }
}

impl<'a> ExtensionParam<'a> {
    /// The parameter's name, as sent.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The value, unquoted and unescaped, or `None` for a bare parameter.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// The value, unquoted and unescaped (borrowed from the header unless it had escapes),
    /// or `None` for a bare parameter.
    pub fn into_value(self) -> Option<Cow<'a, str>> {
        self.value
    }
}

/// Writes the extension back in header form, `name; param; param=value`. Values are tokens
/// (§9.1), so they never need quotes.
impl fmt::Display for Extension<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        for param in self.params() {
            write!(f, "; {}", param.name)?;
            if let Some(value) = &param.value {
                write!(f, "={value}")?;
            }
        }
        Ok(())
    }
}

/// Parses every `Sec-WebSocket-Extensions` header in `headers`, in order, into one list
/// (§9.1: several headers are equivalent to one comma-joined header).
pub(crate) fn parse_headers<'a>(headers: &[Header<'a>]) -> Result<Vec<Extension<'a>>, HandshakeError> {
    let mut out = Vec::new();
    for header in headers.iter().filter(|h| h.is("sec-websocket-extensions")) {
        parse_into(header.value, &mut out)?;
    }
    Ok(out)
}

/// Parses one header value, appending to `out`.
pub(crate) fn parse_into<'a>(value: &'a [u8], out: &mut Vec<Extension<'a>>) -> Result<(), HandshakeError> {
    for extension in list(value) {
        out.push(extension?);
    }
    Ok(())
}

/// The extensions of one header value, in order, each checked against the grammar as it is
/// reached; the first error ends the list. No heap.
///
/// Everything the grammar allows is ASCII, and the scanner refuses any other byte where it
/// stands, so the value needs no UTF-8 check of its own.
pub(crate) fn list(value: &[u8]) -> List<'_> {
    List::At(Cursor { text: value, pos: 0 })
}

/// [`list`] of a value that is already text (an answer the caller gave as `&str`).
pub(crate) fn list_str(text: &str) -> List<'_> {
    list(text.as_bytes())
}

/// Bytes the grammar accepted, as `&str`.
fn ascii(bytes: &[u8]) -> &str {
    // Invariant: only bytes the scanner accepted get here, and it accepts only ASCII (a
    // table of `tchar`s, OWS, the separators, and the printable ASCII of quoted-strings);
    // the fallback is never taken.
    core::str::from_utf8(bytes).unwrap_or_default()
}

/// The name and value of a noted parameter, as slices of the parameters' text.
fn span_of<'a>(text: &'a [u8], span: &[u8; 4]) -> (&'a [u8], Option<&'a [u8]>) {
    let [name_start, name_end, value_start, value_end] = span.map(usize::from);
    // Invariant: the offsets were noted from this very text (`Spans::note`), so the ranges
    // exist; a miss would read as empty rather than panic.
    let name = text.get(name_start..name_end).unwrap_or_default();
    // A value is never empty (§9.1: a token, or a quoted-string holding one), so an end of 0
    // means none.
    let value = (value_end != 0).then(|| text.get(value_start..value_end).unwrap_or_default());
    (name, value)
}

/// Where an element's parameters are in its text, noted by the one pass that checks the
/// list, so that reading them again (an extension deciding its answer) scans nothing.
#[derive(Debug, Clone, Copy)]
struct Spans {
    /// How many parameters `at` holds, or [`Spans::UNNOTED`] when they could not all be
    /// noted (more than [`Spans::MAX`], a text longer than 255 bytes, or a quoted value with
    /// escapes, which only a scan unescapes): readers then scan the text.
    count: u8,
    /// Per parameter, offsets into the parameters' text: the name's start and end, then the
    /// value's (inside the quotes of a quoted one; `0, 0` when there is none).
    at: [[u8; 4]; Spans::MAX],
}

impl Spans {
    /// Parameters noted per element: permessage-deflate's offers carry one or two.
    const MAX: usize = 3;
    const UNNOTED: u8 = u8::MAX;
    const EMPTY: Spans = Spans { count: 0, at: [[0; 4]; Spans::MAX] };

    /// Notes the parameter `at`, found in a text whose parameters start at `base`.
    #[inline]
    fn note(&mut self, at: &ParamAt, base: usize) {
        let offset = |i: usize| i.checked_sub(base).and_then(|o| u8::try_from(o).ok());
        let (value_start, value_end) = match at.value {
            Some((start, end)) => (offset(start), offset(end)),
            None => (Some(0), Some(0)),
        };
        let slot = self.at.get_mut(usize::from(self.count));
        match (slot, offset(at.name.0), offset(at.name.1), value_start, value_end) {
            (Some(slot), Some(name_start), Some(name_end), Some(value_start), Some(value_end))
                if !at.escaped =>
            {
                *slot = [name_start, name_end, value_start, value_end];
                self.count += 1;
            }
            // Once one is missed, none are read from here: the count says so.
            _ => self.count = Self::UNNOTED,
        }
    }

    /// The noted parameters, if all of them were noted.
    #[inline]
    fn noted(&self) -> Option<&[[u8; 4]]> {
        self.at.get(..usize::from(self.count))
    }
}

/// Where one parameter is in the text being scanned.
struct ParamAt {
    /// The name's start and end.
    name: (usize, usize),
    /// The value's start and end (inside the quotes of a quoted one), if there is one.
    value: Option<(usize, usize)>,
    /// The value was quoted and holds escapes, so it must be unescaped to be read.
    escaped: bool,
}

/// The length of the run of `tchar`s at the start of `bytes`: eight bytes at a time while
/// they all are (a table lookup each, no branch), then byte by byte. Extension names and
/// parameter names are long tokens (`permessage-deflate`, `client_max_window_bits`).
#[inline]
fn token_len(bytes: &[u8]) -> usize {
    let mut len = 0;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        if !word.iter().fold(true, |all, &b| all & is_tchar(b)) {
            break;
        }
        len += 8;
    }
    // Invariant: `len` counts whole words of `bytes`, so it is at most `bytes.len()`.
    let rest = bytes.get(len..).unwrap_or_default();
    len + rest.iter().position(|&b| !is_tchar(b)).unwrap_or(rest.len())
}

/// See [`list`].
pub(crate) enum List<'a> {
    At(Cursor<'a>),
    Ended,
}

impl<'a> Iterator for List<'a> {
    type Item = Result<Extension<'a>, HandshakeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = match self {
            List::At(cursor) => cursor.element().transpose(),
            List::Ended => None,
        };
        if !matches!(result, Some(Ok(_))) {
            *self = List::Ended;
        }
        result
    }
}

/// A position in a header value.
///
/// The scanner reads the value as bytes, a table lookup per byte for tokens, and accepts only
/// ASCII: the slices it hands out are text.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    #[inline]
    fn skip_ows(&mut self) {
        while let Some(b' ' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// The next list element, skipping empty ones: `Ok(None)` at the end of the value.
    fn element(&mut self) -> Result<Option<Extension<'a>>, HandshakeError> {
        loop {
            match self.peek() {
                None => return Ok(None),
                Some(b',' | b' ' | b'\t') => self.pos += 1,
                Some(_) => break,
            }
        }
        let element_start = self.pos;
        self.skip_token()?;
        let start = self.pos;
        // Check every parameter, noting where it is (quoted values are not unescaped).
        let mut spans = Spans::EMPTY;
        while let Some(at) = self.param_at()? {
            spans.note(&at, start);
        }
        let text = self.text.get(element_start..self.pos).ok_or(HandshakeError::InvalidExtensions)?;
        // `start` is past the name, which began at `element_start`.
        let name_len = u16::try_from(start - element_start).unwrap_or(u16::MAX);
        // The element ends at a `,` or at the end of the value; the next call steps over the
        // `,` with the empty elements. (Taking it here as well changed nothing: cargo
        // mutants.)
        Ok(Some(Extension { text, name_len, spans }))
    }

    /// Checks the next `; name[=value]` of an element, steps over it and says where it is:
    /// `Ok(None)` at the element's end (a `,` or the end of the value, not taken).
    #[inline]
    fn param_at(&mut self) -> Result<Option<ParamAt>, HandshakeError> {
        self.skip_ows();
        match self.peek() {
            None | Some(b',') => return Ok(None),
            Some(b';') => self.pos += 1,
            Some(_) => return Err(HandshakeError::InvalidExtensions),
        }
        self.skip_ows();
        let name = (self.skip_token()?, self.pos);
        self.skip_ows();
        let mut value = None;
        let mut escaped = false;
        if self.peek() == Some(b'=') {
            self.pos += 1;
            self.skip_ows();
            if self.peek() == Some(b'"') {
                let (start, end, had_escapes) = self.quoted()?;
                value = Some((start, end));
                escaped = had_escapes;
            } else {
                value = Some((self.skip_token()?, self.pos));
            }
        }
        Ok(Some(ParamAt { name, value, escaped }))
    }

    /// The parameter `at` (from [`param_at`](Self::param_at) on this text), its quoted value
    /// unescaped (on the heap) only if it had escapes.
    fn read(&self, at: &ParamAt) -> ExtensionParam<'a> {
        // Invariant: `param_at` found these ranges in this text; a miss would read as empty.
        let slice = |(start, end): (usize, usize)| ascii(self.text.get(start..end).unwrap_or_default());
        let value = at.value.map(|range| {
            let inner = slice(range);
            if at.escaped {
                // Every backslash is followed by the character it escapes: checked by `quoted`.
                let mut unescaped = String::with_capacity(inner.len());
                let mut chars = inner.chars();
                while let Some(c) = chars.next() {
                    unescaped.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
                }
                Cow::Owned(unescaped)
            } else {
                Cow::Borrowed(inner)
            }
        });
        ExtensionParam { name: slice(at.name), value }
    }

    /// Steps over a non-empty run of `tchar`s, returning where it started.
    #[inline]
    fn skip_token(&mut self) -> Result<usize, HandshakeError> {
        let start = self.pos;
        let rest = self.text.get(start..).unwrap_or_default();
        let len = token_len(rest);
        if len == 0 {
            return Err(HandshakeError::InvalidExtensions);
        }
        self.pos = start + len;
        Ok(start)
    }

    /// Steps over a quoted-string (RFC 9110 §5.6.4), starting at its opening quote, and
    /// returns where its inside starts and ends and whether it holds escapes. §9.1 requires
    /// the unescaped value to be a token, which is checked character by character here.
    fn quoted(&mut self) -> Result<(usize, usize, bool), HandshakeError> {
        self.pos += 1; // the opening quote, which the caller peeked
        let start = self.pos;
        let mut escaped = false;
        let mut empty = true;
        loop {
            let c = match self.peek() {
                None => return Err(HandshakeError::InvalidExtensions),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 1;
                    // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ); only ASCII gets here.
                    match self.peek() {
                        Some(c @ (b'\t' | 0x20..=0x7e)) => c,
                        _ => return Err(HandshakeError::InvalidExtensions),
                    }
                }
                // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
                Some(c @ (b'\t' | 0x20..=0x7e)) => c,
                Some(_) => return Err(HandshakeError::InvalidExtensions),
            };
            // Every unescaped character must be a tchar (so the value is a token).
            if !is_tchar(c) {
                return Err(HandshakeError::InvalidExtensions);
            }
            empty = false;
            self.pos += 1;
        }
        let end = self.pos;
        self.pos += 1; // the closing quote
        if empty {
            return Err(HandshakeError::InvalidExtensions);
        }
        Ok((start, end, escaped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn parse(value: &str) -> Result<Vec<Extension<'_>>, HandshakeError> {
        Extension::parse_list(value)
    }

    #[test]
    fn browser_offers() {
        // Chromium and Firefox.
        let list = parse("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].name(), "permessage-deflate");
        let params: Vec<ExtensionParam<'_>> = list[0].params().collect();
        assert_eq!(params.len(), 1);
        assert_eq!(params[0].name(), "client_max_window_bits");
        assert_eq!(params[0].value(), None);
        // Safari.
        let list = parse("permessage-deflate").unwrap();
        assert_eq!(list[0].params().count(), 0);
    }

    #[test]
    fn several_offers_with_values() {
        let list = parse(
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=10, \
             permessage-deflate;client_max_window_bits , x-webkit-deflate-frame",
        )
        .unwrap();
        let names: Vec<&str> = list.iter().map(Extension::name).collect();
        assert_eq!(names, ["permessage-deflate", "permessage-deflate", "x-webkit-deflate-frame"]);
        assert_eq!(list[0].param("SERVER_MAX_WINDOW_BITS").unwrap().value(), Some("10"));
        assert_eq!(list[1].param("client_max_window_bits").unwrap().value(), None);
    }

    #[test]
    fn quoted_values() {
        let list = parse(r#"foo; a="10"; b = "x\yz" ; c=tok"#).unwrap();
        assert_eq!(list[0].param("a").unwrap().value(), Some("10"));
        assert!(matches!(list[0].param("a").unwrap().value, Some(Cow::Borrowed("10"))));
        // Only a value with escapes is unescaped onto the heap.
        assert_eq!(list[0].param("b").unwrap().value(), Some("xyz"));
        assert!(matches!(list[0].param("b").unwrap().value, Some(Cow::Owned(_))));
        assert_eq!(list[0].param("c").unwrap().value(), Some("tok"));
    }

    #[test]
    fn names_compare_ignoring_case_and_extensions_by_name_and_parameters() {
        // (cargo mutants: `is` with a name in another case, `==` between extensions and their
        // `Debug` were untested.)
        let list =
            parse(r#"Permessage-Deflate; a="1", permessage-deflate; a=1, permessage-deflate; a=2, x; a=1"#)
                .unwrap();
        assert!(list[0].is("permessage-deflate") && list[0].is("PERMESSAGE-DEFLATE"));
        assert!(list[0].is("Permessage-Deflate") && !list[0].is("permessage-deflat"));
        // Names as sent (case included), values unescaped and unquoted, one by one.
        assert_ne!(list[0], list[1]);
        assert_eq!(list[1], parse("permessage-deflate;a=\"1\"").unwrap()[0]);
        assert_ne!(list[1], list[2]);
        assert_ne!(list[1], list[3]);
        assert_ne!(list[1], parse("permessage-deflate; a=1; b").unwrap()[0]);
        assert_eq!(
            alloc::format!("{:?}", list[1]),
            r#"Extension { name: "permessage-deflate", params: [ExtensionParam { name: "a", value: Some("1") }] }"#
        );
    }

    #[test]
    fn into_value_keeps_the_borrow_or_the_unescaped_copy() {
        // The owned value outlives the parameter: borrowed from the header where it can be,
        // unescaped onto the heap only when it had escapes, and `None` for a bare parameter.
        // (cargo mutants: nothing called `into_value`.)
        let header = String::from(r#"foo; bare; a=tok; b="10"; c="x\yz""#);
        let list = parse(&header).unwrap();
        let values: Vec<Option<Cow<'_, str>>> = list[0].params().map(ExtensionParam::into_value).collect();
        assert_eq!(values, [None, Some("tok".into()), Some("10".into()), Some("xyz".into())]);
        for borrowed in &values[1..3] {
            let Some(Cow::Borrowed(text)) = borrowed else { panic!("{borrowed:?} is not borrowed") };
            // Inside the header's own bytes.
            assert!(header.as_bytes().as_ptr_range().contains(&text.as_ptr()), "{text}");
        }
        assert!(matches!(values[3], Some(Cow::Owned(_))));
    }

    #[test]
    fn rfc_examples() {
        // §9.1's non-normative examples.
        assert_eq!(parse("deflate-stream").unwrap()[0].name(), "deflate-stream");
        let list = parse("mux; max-channels=4; flow-control, deflate-stream").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].param("max-channels").unwrap().value(), Some("4"));
        assert_eq!(list[0].param("flow-control").unwrap().value(), None);
        assert_eq!(parse("private-extension").unwrap()[0].name(), "private-extension");
    }

    #[test]
    fn empty_elements_are_skipped() {
        assert_eq!(parse("").unwrap(), []);
        assert_eq!(parse(" , ,").unwrap(), []);
        assert_eq!(parse("a,,b").unwrap().len(), 2);
    }

    #[test]
    fn malformed_values_are_rejected() {
        for bad in [
            ";a",               // no name
            "a;",               // parameter without a name
            "a; =1",            // parameter without a name
            "a; b=",            // = without a value
            "a; b=\"\"",        // empty quoted value is not a token
            "a; b=\"1 0\"",     // quoted value that is not a token once unescaped
            "a; b=\"10",        // unterminated quote
            "a; b=\"1\\",       // escape at the end
            "a b",              // two tokens
            "a; b=1 2",         // two tokens as a value
            "a; b=\"1\"x",      // garbage after a quote
            "a/b",              // separator in a name
            "caf\u{e9}",        // not ASCII
            "a; b=\"\u{e9}\"",  // not ASCII inside a quote
            "a; b=\"\\\u{1}\"", // escaped control character
            "a; b=\"x\u{7f}\"", // DEL in a quote
        ] {
            assert_eq!(parse(bad), Err(HandshakeError::InvalidExtensions), "{bad:?}");
        }
    }

    #[test]
    fn several_headers_in_order() {
        let headers = [
            Header { name: "Sec-WebSocket-Extensions", value: b"foo" },
            Header { name: "Other", value: b"x" },
            Header { name: "sec-websocket-extensions", value: b"bar; baz=2" },
        ];
        let list = parse_headers(&headers).unwrap();
        // §9.1: the same as "foo, bar; baz=2".
        assert_eq!(list, parse("foo, bar; baz=2").unwrap());
        assert_eq!(
            parse_headers(&[Header { name: "Sec-WebSocket-Extensions", value: b"\xff" }]),
            Err(HandshakeError::InvalidExtensions)
        );
    }

    #[test]
    fn noted_and_scanned_parameters_agree() {
        let long_value = alloc::format!("a; b={}", "x".repeat(300));
        for (value, noted) in [
            ("a", true),
            ("permessage-deflate; client_max_window_bits", true),
            ("a; b=1; c=\"2\"", true),
            ("a ;b ; c = 3", true),
            // More than three parameters, an escaped value or a long text: readers scan.
            ("a; b; c=3; d; e", false),
            (r#"a; b="x\yz""#, false),
            (&long_value, false),
        ] {
            let extension = parse(value).unwrap()[0];
            assert_eq!(extension.spans.noted().is_some(), noted, "{value:?}");
            let mut scanned = extension;
            scanned.spans.count = Spans::UNNOTED;
            let params: Vec<ExtensionParam<'_>> = extension.params().collect();
            assert_eq!(params, scanned.params().collect::<Vec<_>>(), "{value:?}");
            #[cfg(feature = "deflate")]
            for reader in [extension, scanned] {
                let mut read = Vec::new();
                reader
                    .try_for_each_param(|name, value| {
                        read.push((name.to_vec(), value.map(<[u8]>::to_vec)));
                        Ok::<(), ()>(())
                    })
                    .unwrap();
                let expected: Vec<(Vec<u8>, Option<Vec<u8>>)> = params
                    .iter()
                    .map(|p| (p.name().as_bytes().to_vec(), p.value().map(|v| v.as_bytes().to_vec())))
                    .collect();
                assert_eq!(read, expected, "{value:?}");
            }
        }
    }

    #[test]
    fn a_name_longer_than_its_length_field_is_found_again() {
        let name = "x".repeat(usize::from(u16::MAX) + 10);
        let value = alloc::format!("{name}; b=1, c");
        let list = parse(&value).unwrap();
        assert_eq!(list[0].name(), name);
        assert_eq!(list[0].param("b").unwrap().value(), Some("1"));
        assert_eq!(list[1].name(), "c");
    }

    #[test]
    fn display_round_trips() {
        let text = "permessage-deflate; client_max_window_bits; server_max_window_bits=10";
        let list = parse(text).unwrap();
        assert_eq!(list[0].to_string(), text);
        assert_eq!(parse(&list[0].to_string()).unwrap(), list);
        assert_eq!(parse(r#"a; b="c""#).unwrap()[0].to_string(), "a; b=c");
    }
}
