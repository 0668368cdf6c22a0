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
/// It is two slices of the header value (the name, and the parameters' text, checked against
/// the grammar when the list was parsed), so it is `Copy` and costs no heap; the parameters
/// are read from that text each time [`params`](Extension::params) is called.
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
    name: &'a str,
    /// What follows the name in its list element, up to the `,` that ends it: zero or more
    /// `; param[=value]`, already checked against the grammar.
    params: &'a str,
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
    pub(crate) const EMPTY: Extension<'static> = Extension { name: "", params: "" };

    /// Parses one header value as an extension list (§9.1). Empty list elements (`a, , b`)
    /// are skipped, as RFC 9110 §5.6.1 asks of recipients.
    pub fn parse_list(value: &'a str) -> Result<Vec<Self>, HandshakeError> {
        let mut out = Vec::new();
        parse_into(value.as_bytes(), &mut out)?;
        Ok(out)
    }

    /// The extension's name, as sent.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Whether the name is `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Whether the name is `name` (a constant in lowercase), compared a word at a time.
    #[cfg(feature = "deflate")]
    pub(crate) fn is_lowercase(&self, name: &Lowercase) -> bool {
        name.matches(self.name.as_bytes())
    }

    /// The parameters, in the order they were sent (repeats included: whether a repeated
    /// parameter is an error is for the extension to say), read from the header value as
    /// they are iterated.
    pub fn params(&self) -> Params<'a> {
        Params { cursor: Cursor { text: self.params, pos: 0 } }
    }

    /// The first parameter called `name` (ASCII case-insensitive).
    pub fn param(&self, name: &str) -> Option<ExtensionParam<'a>> {
        self.params().find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// Two extensions are equal when their names are equal and their parameters are, one by one
/// (names as sent, values unescaped): `a;b="1"` equals `a; b=1`.
impl PartialEq for Extension<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.params().eq(other.params())
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
        f.debug_struct("Extension").field("name", &self.name).field("params", &List(self.params())).finish()
    }
}

/// The parameters of an [`Extension`], in order: see [`Extension::params`].
#[derive(Debug, Clone)]
pub struct Params<'a> {
    cursor: Cursor<'a>,
}

impl<'a> Iterator for Params<'a> {
    type Item = ExtensionParam<'a>;

    fn next(&mut self) -> Option<ExtensionParam<'a>> {
        // The text was checked when the list was parsed; should it not parse (it cannot), the
        // parameters end there rather than panic.
        match self.cursor.param(true) {
            Ok(param) => param,
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
        f.write_str(self.name)?;
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
pub(crate) fn list(value: &[u8]) -> List<'_> {
    // Everything the grammar allows is ASCII, and the cursor refuses any other byte; the
    // value as `&str` lets it hand out `&str` slices (ending next to ASCII bytes, so on
    // character boundaries) without checking each again.
    match core::str::from_utf8(value) {
        Ok(text) => List::At(Cursor { text, pos: 0 }),
        Err(_) => List::NotAscii,
    }
}

/// [`list`] of a value that is already text (an answer the caller gave as `&str`).
pub(crate) fn list_str(text: &str) -> List<'_> {
    List::At(Cursor { text, pos: 0 })
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
    /// A value that is not ASCII: one error, then the end.
    NotAscii,
    Ended,
}

impl<'a> Iterator for List<'a> {
    type Item = Result<Extension<'a>, HandshakeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = match self {
            List::At(cursor) => cursor.element().transpose(),
            List::NotAscii => Some(Err(HandshakeError::InvalidExtensions)),
            List::Ended => None,
        };
        if !matches!(result, Some(Ok(_))) {
            *self = List::Ended;
        }
        result
    }
}

/// A position in an ASCII header value.
///
/// The scanner reads the value as bytes, a table lookup per byte for tokens; it hands out
/// `&str` slices of `text` (ASCII, so every position is a character boundary).
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
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
        let name = self.token()?;
        let start = self.pos;
        // Check every parameter without keeping it (nor unescaping quoted values).
        while self.skip_param()? {}
        let params = self.text.get(start..self.pos).ok_or(HandshakeError::InvalidExtensions)?;
        // The element ends at a `,` (taken) or at the end of the value.
        if self.peek() == Some(b',') {
            self.pos += 1;
        }
        Ok(Some(Extension { name, params }))
    }

    /// Checks the next `; name[=value]` of an element and steps over it: `Ok(false)` at the
    /// element's end (a `,` or the end of the value, not taken). The validating twin of
    /// [`param`](Self::param), which builds nothing.
    #[inline]
    fn skip_param(&mut self) -> Result<bool, HandshakeError> {
        self.skip_ows();
        match self.peek() {
            None | Some(b',') => return Ok(false),
            Some(b';') => self.pos += 1,
            Some(_) => return Err(HandshakeError::InvalidExtensions),
        }
        self.skip_ows();
        self.skip_token()?;
        self.skip_ows();
        if self.peek() == Some(b'=') {
            self.pos += 1;
            self.skip_ows();
            if self.peek() == Some(b'"') {
                self.quoted(false)?;
            } else {
                self.skip_token()?;
            }
        }
        Ok(true)
    }

    /// The next `; name[=value]` of an element: `Ok(None)` at the element's end (a `,` or the
    /// end of the value, not taken). Quoted values are unescaped only when `unescape`.
    fn param(&mut self, unescape: bool) -> Result<Option<ExtensionParam<'a>>, HandshakeError> {
        self.skip_ows();
        match self.peek() {
            None | Some(b',') => return Ok(None),
            Some(b';') => self.pos += 1,
            Some(_) => return Err(HandshakeError::InvalidExtensions),
        }
        self.skip_ows();
        let name = self.token()?;
        self.skip_ows();
        let value = if self.peek() == Some(b'=') {
            self.pos += 1;
            self.skip_ows();
            Some(if self.peek() == Some(b'"') {
                self.quoted(unescape)?
            } else {
                Cow::Borrowed(self.token()?)
            })
        } else {
            None
        };
        Ok(Some(ExtensionParam { name, value }))
    }

    /// Steps over a non-empty run of `tchar`s, returning where it started.
    #[inline]
    fn skip_token(&mut self) -> Result<usize, HandshakeError> {
        let start = self.pos;
        let rest = self.text.as_bytes().get(start..).unwrap_or_default();
        let len = token_len(rest);
        if len == 0 {
            return Err(HandshakeError::InvalidExtensions);
        }
        self.pos = start + len;
        Ok(start)
    }

    /// A non-empty run of `tchar`s.
    #[inline]
    fn token(&mut self) -> Result<&'a str, HandshakeError> {
        let start = self.skip_token()?;
        self.text.get(start..self.pos).ok_or(HandshakeError::InvalidExtensions)
    }

    /// A quoted-string (RFC 9110 §5.6.4), starting at its opening quote. §9.1 requires the
    /// unescaped value to be a token, which is checked character by character here; the
    /// unescaped value is built (on the heap) only when asked for and only if it had escapes.
    fn quoted(&mut self, unescape: bool) -> Result<Cow<'a, str>, HandshakeError> {
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
        let inner = self.text.get(start..self.pos).ok_or(HandshakeError::InvalidExtensions)?;
        self.pos += 1; // the closing quote
        if empty {
            return Err(HandshakeError::InvalidExtensions);
        }
        Ok(if escaped && unescape {
            // Every backslash is followed by the character it escapes: checked above.
            let mut unescaped = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                unescaped.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
            }
            Cow::Owned(unescaped)
        } else {
            // Unescaped when not asked to (validation only): the caller discards it.
            Cow::Borrowed(inner)
        })
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
    fn display_round_trips() {
        let text = "permessage-deflate; client_max_window_bits; server_max_window_bits=10";
        let list = parse(text).unwrap();
        assert_eq!(list[0].to_string(), text);
        assert_eq!(parse(&list[0].to_string()).unwrap(), list);
        assert_eq!(parse(r#"a; b="c""#).unwrap()[0].to_string(), "a; b=c");
    }
}
