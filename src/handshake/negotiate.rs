//! The server's answer: accepting with a negotiated subprotocol and extensions, or rejecting
//! (RFC 6455 §4.2.2).
//!
//! This file owns the one negotiation path shared by HTTP/1.1, the `http`-crate adapter and
//! RFC 8441: checking that the caller's choices were offered ([`Request::accept`]), listing
//! the response's headers, and writing a `101` or a rejection as HTTP/1.1 bytes. It does not
//! choose: which subprotocol and which extension parameters to answer is the caller's
//! decision (or an extension module's), and an unoffered choice is a [`UsageError`].

use alloc::borrow::Cow;
use alloc::vec::Vec;

use super::accept::AcceptKey;
use super::extensions::{self, Extension};
use super::head::{InlineList, is_token, is_valid_value};
use super::request::{Bootstrap, Request};
use super::{HandshakeError, VERSION};
use crate::fault::{HandshakeInput, UsageError};

/// What the server decided to answer to an acceptable [`Request`]: the subprotocol, the
/// extension responses and any extra headers (such as `Set-Cookie`).
///
/// ```
/// use rfc6455::handshake::Accept;
/// let accept = Accept::new()
///     .with_subprotocol("chat")
///     .with_extension("permessage-deflate; server_no_context_takeover")
///     .with_header("Set-Cookie", "session=1; HttpOnly");
/// # let _ = accept;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept<'a> {
    subprotocol: Option<&'a str>,
    /// Inline: an answer names one or two extensions (no heap for them).
    extensions: InlineList<&'a str, INLINE_ANSWERS>,
    headers: Vec<(&'a str, &'a str)>,
}

/// Extension answers kept inline in an [`Accept`] and an [`AcceptResponse`].
const INLINE_ANSWERS: usize = 2;

impl Default for Accept<'_> {
    #[inline]
    fn default() -> Self {
        Self { subprotocol: None, extensions: InlineList::new(""), headers: Vec::new() }
    }
}

impl<'a> Accept<'a> {
    /// Accept with no subprotocol, no extensions and no extra headers.
    #[inline]
    pub fn new() -> Self {
        Self::default()
    }

    /// The subprotocol to speak: one the client offered (§4.2.2 /subprotocol/), or `None`.
    /// Takes `"chat"`, `Some("chat")` or the result of
    /// [`Request::select_subprotocol`].
    #[inline]
    pub fn with_subprotocol(mut self, subprotocol: impl Into<Option<&'a str>>) -> Self {
        self.subprotocol = subprotocol.into();
        self
    }

    /// Adds a `Sec-WebSocket-Extensions` response value, one or more extensions in the §9.1
    /// grammar, each one the client offered. Takes `None` (ignored) so that an extension
    /// module's optional answer can be passed straight in.
    #[inline]
    pub fn with_extension(mut self, response: impl Into<Option<&'a str>>) -> Self {
        if let Some(response) = response.into() {
            self.extensions.push(response);
        }
        self
    }

    /// Adds a header to the response (`Set-Cookie`, for one). The handshake's own headers
    /// (`Upgrade`, `Connection`, `Sec-WebSocket-*`) and framing headers (`Content-Length`,
    /// `Transfer-Encoding`) are refused.
    #[inline]
    pub fn with_header(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// A negotiated acceptance, ready to send: the status (`101`, or `200` for an extended
/// CONNECT) and the headers.
///
/// Over HTTP/1.1, [`AcceptResponse::write`] gives the bytes. Over HTTP/2 and HTTP/3, hand
/// [`AcceptResponse::status`] and [`AcceptResponse::headers`] to your HTTP library (or, with
/// the `http` feature, use `to_http`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptResponse<'a> {
    bootstrap: Bootstrap,
    accept_key: Option<AcceptKey>,
    subprotocol: Option<&'a str>,
    /// The `Sec-WebSocket-Extensions` values, each valid §9.1 syntax naming offered
    /// extensions: the caller's, then those a connection's policy negotiated.
    extension_values: InlineList<&'a str, INLINE_ANSWERS>,
    /// The answer a connection's policy negotiated (permessage-deflate's), if any: borrowed
    /// when it is a fixed text (the extension's name alone, the most common answer).
    negotiated: Option<Cow<'static, str>>,
    headers: Vec<(&'a str, &'a str)>,
}

/// Headers the handshake writes itself, which a caller may not add.
const SERVER_RESERVED: [&str; 7] = [
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

impl<'r> Request<'r> {
    /// Accepts the request with the caller's choices, after checking them against what the
    /// client offered: a subprotocol it did not offer is
    /// [`UsageError::SubprotocolNotOffered`], an extension it did not offer
    /// [`UsageError::ExtensionNotOffered`] (§4.2.2: "Extensions not listed by the client MUST
    /// NOT be listed").
    ///
    /// This is the one negotiation path: HTTP/1.1, the `http` adapter and RFC 8441 all go
    /// through it.
    pub fn accept<'a>(&self, accept: &Accept<'a>) -> Result<AcceptResponse<'a>, UsageError> {
        if let Some(chosen) = accept.subprotocol {
            if !self.subprotocols().contains(&chosen) {
                return Err(UsageError::SubprotocolNotOffered);
            }
        }
        // One pass over the answers, none kept on the heap: every value must be valid §9.1
        // syntax (checked to its end, so that a malformed answer is reported as such even
        // after an unoffered name), and every extension it lists must have been offered.
        let mut extension_values = InlineList::new("");
        let mut not_offered = false;
        for value in accept.extensions.as_slice() {
            // The most common answer is an offered extension's name alone: a token (the
            // offer's name is one), offered, with nothing to scan.
            if self.extensions().iter().any(|offer| offer.is(value)) {
                extension_values.push(*value);
                continue;
            }
            let mut listed = false;
            for extension in extensions::list_str(value) {
                let extension = extension
                    .map_err(|_| UsageError::InvalidHandshakeInput(HandshakeInput::ExtensionSyntax))?;
                listed = true;
                not_offered |= !self
                    .extensions()
                    .iter()
                    .any(|offer| offer.name_bytes().eq_ignore_ascii_case(extension.name_bytes()));
            }
            // An empty value lists nothing; writing it would break `1#extension`.
            if listed {
                extension_values.push(*value);
            }
        }
        if not_offered {
            return Err(UsageError::ExtensionNotOffered);
        }
        check_headers(&accept.headers, &SERVER_RESERVED)?;
        Ok(AcceptResponse {
            bootstrap: self.bootstrap,
            accept_key: self.accept_key(),
            subprotocol: accept.subprotocol,
            extension_values,
            negotiated: None,
            // No extra headers is the common case: nothing to copy.
            headers: if accept.headers.is_empty() { Vec::new() } else { accept.headers.clone() },
        })
    }
}

impl<'a> AcceptResponse<'a> {
    /// `101` for an HTTP/1.1 upgrade, `200` for an extended CONNECT (RFC 8441 §5).
    pub fn status(&self) -> u16 {
        match self.bootstrap {
            Bootstrap::Http1Upgrade => 101,
            Bootstrap::ExtendedConnect => 200,
        }
    }

    /// How the client asked (and so how this is sent).
    pub fn bootstrap(&self) -> Bootstrap {
        self.bootstrap
    }

    /// The subprotocol in use, if any (§4.2.2 /subprotocol/).
    pub fn subprotocol(&self) -> Option<&'a str> {
        self.subprotocol
    }

    /// The extensions in use, in the order of the response: the order in which they apply
    /// (§9.1).
    pub fn extensions(&self) -> Vec<Extension<'_>> {
        self.agreed().collect()
    }

    /// [`extensions`](Self::extensions), read from the response's values as they are iterated
    /// (no list on the heap).
    pub(crate) fn agreed(&self) -> impl Iterator<Item = Extension<'_>> + '_ {
        // Each value was checked to be valid §9.1 syntax when it was added.
        self.extension_values().flat_map(|value| extensions::list_str(value).map_while(Result::ok))
    }

    /// Sets the extension answer that a connection's policy negotiated from the request's
    /// offers (so it is valid syntax, naming an offered extension); it is listed after the
    /// caller's.
    #[cfg(feature = "deflate")]
    pub(crate) fn set_negotiated(&mut self, value: Cow<'static, str>) {
        self.negotiated = Some(value);
    }

    /// The `Sec-WebSocket-Extensions` values, in order.
    fn extension_values(&self) -> impl Iterator<Item = &str> + Clone + '_ {
        self.extension_values.as_slice().iter().copied().chain(self.negotiated.as_deref())
    }

    /// Every response header, in order. Names are in HTTP/1.1's usual case for an upgrade and
    /// in lowercase for an extended CONNECT (HTTP/2 requires it); extra headers are as the
    /// caller gave them.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        let h1 = self.bootstrap == Bootstrap::Http1Upgrade;
        let upgrade = self.accept_key.as_ref().filter(|_| h1).map(|key| {
            [
                ("Upgrade", &b"websocket"[..]),
                ("Connection", b"Upgrade"),
                ("Sec-WebSocket-Accept", key.as_bytes()),
            ]
        });
        let protocol_name = if h1 { "Sec-WebSocket-Protocol" } else { "sec-websocket-protocol" };
        let extensions_name = if h1 { "Sec-WebSocket-Extensions" } else { "sec-websocket-extensions" };
        upgrade
            .into_iter()
            .flatten()
            .chain(self.subprotocol.map(|p| (protocol_name, p.as_bytes())))
            .chain(self.extension_values().map(move |v| (extensions_name, v.as_bytes())))
            .chain(self.headers.iter().map(|&(name, value)| (name, value.as_bytes())))
    }

    /// Appends the HTTP/1.1 `101 Switching Protocols` response (§4.2.2 item 5) to `out`.
    ///
    /// An extended CONNECT is answered on its HTTP/2 or HTTP/3 stream, not with HTTP/1.1
    /// bytes: for one, this is a [`UsageError`].
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), UsageError> {
        if self.bootstrap != Bootstrap::Http1Upgrade {
            return Err(UsageError::InvalidHandshakeInput(HandshakeInput::ExtendedConnectAnswer));
        }
        // The headers of `headers()`, in its order, with the fixed ones written in one piece
        // (each piece is a capacity check and a copy).
        match &self.accept_key {
            Some(key) => {
                out.extend_from_slice(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                      Sec-WebSocket-Accept: ",
                );
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n"),
        }
        if let Some(subprotocol) = self.subprotocol {
            out.extend_from_slice(b"Sec-WebSocket-Protocol: ");
            out.extend_from_slice(subprotocol.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        for value in self.extension_values() {
            out.extend_from_slice(b"Sec-WebSocket-Extensions: ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        for &(name, value) in &self.headers {
            push_header(out, name, value.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// A refusal: any 3xx, 4xx or 5xx status, with headers and a body.
///
/// ```
/// use rfc6455::handshake::Reject;
/// let mut out = Vec::new();
/// Reject::new(403).with_body(b"origin not allowed").write(&mut out)?;
/// assert_eq!(
///     out,
///     b"HTTP/1.1 403 Forbidden\r\nContent-Length: 18\r\nConnection: close\r\n\r\norigin not allowed"
/// );
/// # Ok::<(), rfc6455::UsageError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject<'a> {
    status: u16,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
}

/// Headers [`Reject::write`] writes itself.
const REJECT_RESERVED: [&str; 3] = ["content-length", "transfer-encoding", "connection"];

impl<'a> Reject<'a> {
    /// A rejection with `status`, no extra headers and an empty body.
    pub fn new(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: &[] }
    }

    /// The rejection a [`HandshakeError`] calls for: its [`status`](HandshakeError::status),
    /// plus `Allow: GET` for 405 (`Allow: CONNECT` over HTTP/2) and `Sec-WebSocket-Version:
    /// 13` for 426 (§4.4).
    pub fn for_error(error: &HandshakeError) -> Reject<'static> {
        let reject = Reject::new(error.status());
        match error {
            HandshakeError::MethodNotAllowed => reject.with_header("Allow", "GET"),
            HandshakeError::ConnectRequired => reject.with_header("Allow", "CONNECT"),
            HandshakeError::UnsupportedVersion => reject.with_header("Sec-WebSocket-Version", VERSION),
            _ => reject,
        }
    }

    /// Adds a header (`WWW-Authenticate` for a 401, `Location` for a redirect).
    pub fn with_header(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: &'a [u8]) -> Self {
        self.body = body;
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers added so far, in order (without `Content-Length` and `Connection`, which
    /// [`Reject::write`] adds).
    pub fn headers(&self) -> &[(&'a str, &'a str)] {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Appends the HTTP/1.1 response to `out`: status line, headers, `Content-Length`,
    /// `Connection: close`, and the body. Close the connection once it is sent; this crate
    /// does not serve further HTTP requests on it.
    ///
    /// A status outside 300–599 (accepting is [`Request::accept`]'s job) or an invalid header
    /// is a [`UsageError`], and nothing is written.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), UsageError> {
        self.check()?;
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, self.status.into());
        out.push(b' ');
        out.extend_from_slice(reason_phrase(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
        for &(name, value) in &self.headers {
            push_header(out, name, value.as_bytes());
        }
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(out, self.body.len());
        out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        out.extend_from_slice(self.body);
        Ok(())
    }

    pub(crate) fn check(&self) -> Result<(), UsageError> {
        if !(300..=599).contains(&self.status) {
            return Err(UsageError::InvalidHandshakeInput(HandshakeInput::RejectStatus));
        }
        check_headers(&self.headers, &REJECT_RESERVED)
    }
}

/// Checks caller-supplied headers: names are tokens, values cannot break the head, and none
/// is one the handshake writes itself.
pub(crate) fn check_headers(headers: &[(&str, &str)], reserved: &[&str]) -> Result<(), UsageError> {
    for &(name, value) in headers {
        if !is_token(name.as_bytes()) {
            return Err(UsageError::InvalidHandshakeInput(HandshakeInput::HeaderName));
        }
        if !is_valid_value(value.as_bytes()) {
            return Err(UsageError::InvalidHandshakeInput(HandshakeInput::HeaderValue));
        }
        if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Err(UsageError::InvalidHandshakeInput(HandshakeInput::ReservedHeader));
        }
    }
    Ok(())
}

pub(crate) fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal, without `alloc::format!`.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // Invariant: a usize has at most 20 decimal digits, so `start` never underflows.
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Invariant: `start` is within the array.
    out.extend_from_slice(&digits[start..]);
}

/// The reason phrase for statuses a handshake is likely to answer with; empty for others
/// (RFC 9112 §4 allows an empty one).
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::Config;

    fn request(extra: &str) -> Vec<u8> {
        let mut head = Vec::new();
        head.extend_from_slice(
            b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        );
        head.extend_from_slice(extra.as_bytes());
        head.extend_from_slice(b"\r\n");
        head
    }

    #[test]
    fn accept_writes_the_exact_response() {
        let head = request("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: foo; a=1, bar\r\n");
        let (req, _) = Request::parse(&head, &Config::default()).unwrap().unwrap();
        let response = req
            .accept(
                &Accept::new()
                    .with_subprotocol("chat")
                    .with_extension("bar")
                    .with_extension(None)
                    .with_extension("foo; a=1")
                    .with_header("Set-Cookie", "a=b"),
            )
            .unwrap();
        assert_eq!(response.status(), 101);
        let names: Vec<&str> = response.extensions().iter().map(Extension::name).collect();
        assert_eq!(names, ["bar", "foo"]);
        let mut out = Vec::new();
        response.write(&mut out).unwrap();
        assert_eq!(
            core::str::from_utf8(&out).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\
             Sec-WebSocket-Extensions: bar\r\nSec-WebSocket-Extensions: foo; a=1\r\nSet-Cookie: a=b\r\n\r\n"
        );
    }

    #[test]
    fn unoffered_choices_are_usage_errors() {
        let head = request("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: foo\r\n");
        let (req, _) = Request::parse(&head, &Config::default()).unwrap().unwrap();
        assert_eq!(
            req.accept(&Accept::new().with_subprotocol("other")),
            Err(UsageError::SubprotocolNotOffered)
        );
        // Subprotocols are compared exactly.
        assert_eq!(
            req.accept(&Accept::new().with_subprotocol("Chat")),
            Err(UsageError::SubprotocolNotOffered)
        );
        assert_eq!(req.accept(&Accept::new().with_extension("bar")), Err(UsageError::ExtensionNotOffered));
        assert_eq!(
            req.accept(&Accept::new().with_extension("foo, bar")),
            Err(UsageError::ExtensionNotOffered)
        );
        assert!(matches!(
            req.accept(&Accept::new().with_extension("foo;")),
            Err(UsageError::InvalidHandshakeInput(_))
        ));
        // An empty response lists nothing and writes no header.
        let response = req.accept(&Accept::new().with_extension("")).unwrap();
        assert_eq!(response.headers().count(), 3);
    }

    #[test]
    fn extra_headers_are_checked() {
        let head = request("");
        let (req, _) = Request::parse(&head, &Config::default()).unwrap().unwrap();
        for (name, value) in [
            ("Set-Cookie", "a\r\nInjected: 1"),
            ("Bad Name", "x"),
            ("", "x"),
            ("sec-websocket-accept", "x"),
            ("Connection", "close"),
            ("Content-Length", "0"),
        ] {
            let result = req.accept(&Accept::new().with_header(name, value));
            assert!(matches!(result, Err(UsageError::InvalidHandshakeInput(_))), "{name}: {value}");
        }
    }

    #[test]
    fn rejections() {
        let mut out = Vec::new();
        Reject::for_error(&HandshakeError::MethodNotAllowed).write(&mut out).unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        out.clear();
        Reject::for_error(&HandshakeError::HeadTooLarge { limit: 8192 }).write(&mut out).unwrap();
        assert!(out.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        out.clear();
        Reject::new(302).with_header("Location", "/elsewhere").write(&mut out).unwrap();
        assert!(out.starts_with(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n"));
        out.clear();
        Reject::new(599).write(&mut out).unwrap();
        assert!(out.starts_with(b"HTTP/1.1 599 \r\n"));
        out.clear();
        let refused = |why| Err(UsageError::InvalidHandshakeInput(why));
        assert_eq!(Reject::new(101).write(&mut out), refused(HandshakeInput::RejectStatus));
        assert_eq!(Reject::new(200).write(&mut out), refused(HandshakeInput::RejectStatus));
        let framing = Reject::new(400).with_header("Content-Length", "5");
        assert_eq!(framing.write(&mut out), refused(HandshakeInput::ReservedHeader));
        assert!(out.is_empty());
    }

    #[test]
    fn decimal() {
        for (n, text) in
            [(0usize, "0"), (7, "7"), (10, "10"), (8192, "8192"), (usize::MAX, "18446744073709551615")]
        {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            if usize::BITS == 64 || n != usize::MAX {
                assert_eq!(out, text.as_bytes());
            }
        }
    }
}
