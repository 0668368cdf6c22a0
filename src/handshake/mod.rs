//! The opening handshake (RFC 6455 §4), over HTTP/1.1 and over HTTP/2 or HTTP/3 (RFC 8441,
//! RFC 9220).
//!
//! This module owns everything between "a connection exists" and "frames may flow": parsing
//! and validating the client's request, negotiating the subprotocol and the extensions
//! (§4.2.2, §9.1), writing the server's `101` or a rejection, building the client's request
//! from a `ws://` or `wss://` URI and verifying the server's answer (§4.1). It must not know
//! about frames, sockets, TLS or what an extension *means*: it parses extension offers by the
//! §9.1 grammar and checks names, and the caller (or an extension module such as
//! permessage-deflate) decides what to answer. It never reads a socket: bytes come in as
//! slices, bytes go out into a `Vec<u8>` the caller sends.
//!
//! # The pieces
//!
//! | side | input | output |
//! |---|---|---|
//! | server | [`RequestParser::feed`] (incremental) or [`Request::parse`] (one shot) | a validated [`Request`], or a [`HandshakeError`] to answer with [`Reject::for_error`] |
//! | server | [`Request::accept`] with an [`Accept`] (subprotocol, extensions, extra headers) | an [`AcceptResponse`]: [`AcceptResponse::write`] gives the `101` bytes |
//! | server | [`Reject`] (status, headers, body) | [`Reject::write`] |
//! | client | [`ClientRequest`] built from a [`WebSocketUri`] and a [`WebSocketKey`] | request bytes, and a [`ClientHandshake`] that remembers what was offered |
//! | client | [`ResponseParser::feed`] or [`Response::parse`] | a [`Response`] head, checked by [`ClientHandshake::verify`] into [`Accepted`] |
//! | HTTP/2 server | [`Request::from_extended_connect`] (RFC 8441) | the same [`Request`], answered by the same [`Request::accept`] with `200` |
//! | HTTP/2 client | [`ClientRequest::extended_connect`] (RFC 8441) | a [`ClientConnect`]'s fields for the HEADERS frame, and the same [`ClientHandshake`], whose [`verify`](ClientHandshake::verify) wants a `2xx` ([`Response::from_fields`]) |
//!
//! With the `http` feature the same types convert from and to `http::Request<()>` and
//! `http::Response<()>` (`Request::from_http`, `AcceptResponse::to_http`,
//! `ClientRequest::to_http`, `ClientHandshake::verify_http`; example below when the feature
//! is on), which is how hyper and axum users call this crate.
//!
//! Bytes after the head already belong to the frame stream: every parse reports how many
//! input bytes the head used, and the caller hands the rest to the connection.
//!
//! Errors say whose fault they are: [`HandshakeError`] is the peer's (each one knows the
//! HTTP status to answer with, [`HandshakeError::status`]); [`UsageError`](crate::UsageError)
//! is the caller's (an unoffered subprotocol, a header value with a line break).
//!
//! # Server: bytes in, bytes out
//!
//! ```
//! use rfc6455::handshake::{Accept, Config, Reject, RequestParser};
//!
//! // What a browser sends, arriving in two pieces, followed by the first frame.
//! let part1 = b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n";
//! let part2 = b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!               Sec-WebSocket-Version: 13\r\nOrigin: https://example.com\r\n\
//!               Sec-WebSocket-Protocol: chat, superchat\r\n\r\n\x81\x85first-frame";
//!
//! let mut parser = RequestParser::new(Config::default());
//! assert!(parser.feed(part1)?.is_none()); // need more bytes
//! let (request, used) = parser.feed(part2)?.expect("the head is complete");
//! let leftover = &part2[used..]; // belongs to the connection, not to the handshake
//! assert_eq!(leftover, b"\x81\x85first-frame");
//!
//! assert_eq!(request.path(), "/chat");
//! assert_eq!(request.query(), Some("room=1"));
//! assert_eq!(request.origin(), Some("https://example.com"));
//! assert_eq!(request.subprotocols(), ["chat", "superchat"]);
//!
//! let mut out = Vec::new();
//! if request.origin() == Some("https://example.com") {
//!     let response = request.accept(&Accept::new().with_subprotocol("chat"))?;
//!     response.write(&mut out)?;
//!     assert_eq!(
//!         out,
//!         b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
//!           Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
//!           Sec-WebSocket-Protocol: chat\r\n\r\n"
//!     );
//! } else {
//!     Reject::new(403).with_body(b"origin not allowed").write(&mut out)?;
//! }
//! // Send `out`, then hand `leftover` and the socket's further bytes to the connection; or
//! // do both in one step with `request.upgrade(&accept, config, leftover)`, which also
//! // installs the negotiated extension (see `connection`).
//! # Ok::<(), rfc6455::Error>(())
//! ```
//!
//! A request that fails validation is answered from the error itself:
//!
//! ```
//! use rfc6455::handshake::{Config, HandshakeError, Reject, Request};
//!
//! let head = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
//!              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
//! let error = Request::parse(head, &Config::default()).unwrap_err();
//! assert_eq!(error, HandshakeError::UnsupportedVersion);
//! assert_eq!(error.status(), 426);
//! let mut out = Vec::new();
//! Reject::for_error(&error).write(&mut out)?;
//! assert!(out.starts_with(b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"));
//! # Ok::<(), rfc6455::UsageError>(())
//! ```
//!
//! # Client: bytes out, bytes in
//!
//! ```
//! use rfc6455::handshake::{ClientRequest, WebSocketKey};
//!
//! // Under `std`, `WebSocketKey::random()`; here the RFC's key so the output is fixed.
//! let key = WebSocketKey::from_bytes(*b"the sample nonce");
//! let request = ClientRequest::new("wss://example.com/chat?room=1", key)?
//!     .with_subprotocol("chat")
//!     .with_extension("permessage-deflate; client_max_window_bits")
//!     .with_origin("https://example.com");
//! let mut out = Vec::new();
//! let handshake = request.write(&mut out)?; // remembers the key and the offers
//! assert!(out.starts_with(b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n"));
//!
//! // The server's answer, followed at once by its first frame.
//! let reply = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
//!               Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
//!               Sec-WebSocket-Protocol: chat\r\n\
//!               Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n\x81\x02hi";
//! let mut parser = handshake.parser();
//! let (response, used) = parser.feed(reply)?.expect("the head is complete");
//! let accepted = handshake.verify(&response)?;
//! assert_eq!(accepted.subprotocol(), Some("chat"));
//! assert_eq!(accepted.extensions()[0].name(), "permessage-deflate");
//! assert_eq!(&reply[used..], b"\x81\x02hi"); // the first frame, for the connection
//!
//! // Or in one step: verify, install permessage-deflate, feed the first frame.
//! let mut conn = handshake.into_connection(&response, Default::default(), &reply[used..])?;
//! assert_eq!(conn.subprotocol(), Some("chat"));
//! assert!(conn.has_extension());
//! assert_eq!(conn.poll_event(), Some(rfc6455::Event::Text("hi")));
//! # Ok::<(), rfc6455::Error>(())
//! ```
//!
//! A response other than `101` comes back as [`HandshakeError::UnexpectedStatus`]; the
//! [`Response`] still holds its headers (a redirect's `Location`), and the body starts at
//! [`Response::head_len`].
//!
//! # Cost
//!
//! [`RequestParser`] and [`ResponseParser`] look at each arriving byte once to find the end of
//! the head and run `httparse` once, on the complete head: a head that trickles in one byte at
//! a time costs time linear in its size. [`Request::parse`] and [`Response::parse`] scan the
//! whole slice each call; use them when you already hold the whole head (or know its end),
//! not on a buffer that grows a byte at a time.
#![cfg_attr(
    feature = "http",
    doc = r##"
# With the `http` crate (hyper, axum)

```
use rfc6455::handshake::{Accept, Config, Reject, Request};

// What hyper hands a service for an HTTP/1.1 upgrade request.
let http_request = http::Request::get("/chat")
    .header("host", "example.com")
    .header("upgrade", "websocket")
    .header("connection", "Upgrade")
    .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    .header("sec-websocket-version", "13")
    .body(())?;

let response: http::Response<()> = match Request::from_http(&http_request, &Config::default()) {
    Ok(request) => request.accept(&Accept::new())?.to_http()?,
    Err(error) => Reject::for_error(&error).to_http()?,
};
assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
// Return `response`; after hyper's upgrade completes, the upgraded I/O carries frames.
# Ok::<(), Box<dyn std::error::Error>>(())
```

Over HTTP/2 (RFC 8441), hyper represents the `:protocol` pseudo-header as the request
extension `hyper::ext::Protocol`; pass its value to [`Request::from_http_extended_connect`]:
`request.extensions().get::<hyper::ext::Protocol>().map(|p| p.as_str())`.
"##
)]

mod accept;
mod extensions;
mod h2;
mod head;
#[cfg(feature = "http")]
mod http_adapter;
mod negotiate;
mod request;
mod response;
mod timeout;
mod uri;

use core::fmt;

pub use accept::{AcceptKey, WebSocketKey};
pub use extensions::{Extension, ExtensionParam, Params};
pub use h2::ExtendedConnect;
#[cfg(feature = "deflate")]
pub(crate) use head::Lowercase;
pub use negotiate::{Accept, AcceptResponse, Reject};
pub use request::{Bootstrap, OwnedRequest, Request, RequestParser};
pub use response::{Accepted, ClientConnect, ClientHandshake, ClientRequest, Response, ResponseParser};
pub use timeout::HandshakeTimeout;
pub use uri::WebSocketUri;

/// The GUID appended to `Sec-WebSocket-Key` before hashing (RFC 6455 §1.3, §4.2.2).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version this crate speaks (RFC 6455 §4.1, `Sec-WebSocket-Version`).
pub const VERSION: &str = "13";

/// Limits on what a peer may make us buffer during the handshake.
///
/// The defaults are safe for servers exposed to the internet: a head of at most 8 KiB with at
/// most 64 header fields. Exceeding either is answered with `431 Request Header Fields Too
/// Large`.
///
/// ```
/// use rfc6455::handshake::Config;
/// let config = Config::new().with_max_head_size(16 * 1024).with_max_headers(100);
/// assert_eq!(config.max_head_size(), 16 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    max_head_size: usize,
    max_headers: usize,
}

/// The default limit on header fields; parsing up to this many needs no heap.
pub(crate) const DEFAULT_MAX_HEADERS: usize = 64;

impl Config {
    /// The default limits: an 8 KiB head and 64 header fields.
    pub const fn new() -> Self {
        Self { max_head_size: 8 * 1024, max_headers: DEFAULT_MAX_HEADERS }
    }

    /// The largest head accepted, in bytes, counting the request or status line, every header
    /// line and the empty line that ends the head.
    pub const fn max_head_size(&self) -> usize {
        self.max_head_size
    }

    /// The largest number of header fields accepted.
    pub const fn max_headers(&self) -> usize {
        self.max_headers
    }

    /// Sets the largest head accepted, in bytes.
    pub const fn with_max_head_size(mut self, bytes: usize) -> Self {
        self.max_head_size = bytes;
        self
    }

    /// Sets the largest number of header fields accepted.
    pub const fn with_max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// One header field, borrowed from the bytes (or the `http` types) it was parsed from.
///
/// Names compare case-insensitively (RFC 9110 §5.1); use [`Header::is`]. Values are bytes
/// because HTTP allows non-UTF-8 octets in them; [`Header::value_str`] gives text when it is
/// text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The field name as sent (HTTP/2 sends it in lowercase).
    pub name: &'a str,
    /// The field value, with surrounding whitespace removed.
    pub value: &'a [u8],
}

impl<'a> Header<'a> {
    /// Whether this header's name is `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value as text, if it is valid UTF-8.
    pub fn value_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.value).ok()
    }
}

/// What is malformed in an HTTP head ([`HandshakeError::MalformedHead`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MalformedHead {
    /// The head ended before the request or status line and headers were complete.
    IncompleteHead,
    /// The request line is incomplete.
    IncompleteRequestLine,
    /// The status line is incomplete.
    IncompleteStatusLine,
    /// A header name has a character a token may not have.
    HeaderName,
    /// A header value has a character a field value may not have.
    HeaderValue,
    /// A line does not end with CRLF (or LF).
    LineEnding,
    /// The status line is not `HTTP/1.x NNN reason`.
    StatusLine,
    /// The method or another token has an invalid character.
    Token,
    /// The HTTP version is not `HTTP/1.x`.
    Version,
}

impl fmt::Display for MalformedHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::IncompleteHead => "incomplete head",
            Self::IncompleteRequestLine => "incomplete request line",
            Self::IncompleteStatusLine => "incomplete status line",
            Self::HeaderName => "invalid header name",
            Self::HeaderValue => "invalid header value",
            Self::LineEnding => "invalid line ending",
            Self::StatusLine => "invalid status line",
            Self::Token => "invalid token",
            Self::Version => "invalid HTTP version",
        })
    }
}

/// Why an opening handshake failed: the peer sent something this crate must refuse.
///
/// On the server, answer with [`HandshakeError::status`], most simply through
/// [`Reject::for_error`], which also adds the headers some statuses require (`Allow` for 405,
/// `Sec-WebSocket-Version: 13` for 426).
///
/// A client that finds one of these in the server's response fails the connection (§4.1);
/// nothing is answered. For errors only a client can see (a wrong `Sec-WebSocket-Accept`, an
/// unoffered subprotocol), [`HandshakeError::status`] is `502 Bad Gateway`, what a proxy
/// relaying the exchange would answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The head grew past [`Config::max_head_size`] without ending.
    HeadTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// The head has more header fields than [`Config::max_headers`].
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// The head is not valid HTTP/1.x; carries what `httparse` objected to.
    MalformedHead(MalformedHead),
    /// The request method is not `GET` (§4.1, item 2 of §4.2.1). Answered with `Allow: GET`.
    MethodNotAllowed,
    /// An HTTP/2 or HTTP/3 request for a WebSocket is not a `CONNECT` (RFC 8441 §4). Answered
    /// with `Allow: CONNECT`.
    ConnectRequired,
    /// The request is older than HTTP/1.1 (§4.2.1, item 1).
    UnsupportedHttpVersion,
    /// The request-target is neither an absolute path nor an absolute URI (§4.2.1, item 1).
    InvalidTarget,
    /// No `Host` header (or `:authority`) (§4.2.1, item 2).
    MissingHost,
    /// A header that must appear at most once appeared more often; carries its name.
    DuplicateHeader(&'static str),
    /// A header value is not valid for its field; carries the field name.
    InvalidHeaderValue(&'static str),
    /// The `Upgrade` header is missing or does not contain the token `websocket` (§4.2.1
    /// item 3, §4.1 step 2 of the client's checks).
    MissingUpgradeWebSocket,
    /// The `Connection` header is missing or does not contain the token `upgrade` (§4.2.1
    /// item 4, §4.1 step 3 of the client's checks).
    MissingConnectionUpgrade,
    /// An RFC 8441 extended CONNECT carried `Connection` or `Upgrade`, which HTTP/2 forbids
    /// (RFC 8441 §5).
    ConnectionSpecificHeader,
    /// An extended CONNECT lacks the `:protocol` pseudo-header or names a protocol other than
    /// `websocket` (RFC 8441 §5).
    NotWebSocketProtocol,
    /// No `Sec-WebSocket-Key` header (§4.2.1, item 5).
    MissingKey,
    /// `Sec-WebSocket-Key` does not decode to exactly 16 bytes (§4.2.1, item 5).
    InvalidKey,
    /// No `Sec-WebSocket-Version` header (§4.2.1, item 6).
    MissingVersion,
    /// `Sec-WebSocket-Version` is not 13 (§4.2.2 /version/). Answered with `426 Upgrade
    /// Required` and `Sec-WebSocket-Version: 13`.
    UnsupportedVersion,
    /// `Sec-WebSocket-Protocol` is not a comma list of tokens (§4.1, §4.2.2 /subprotocol/).
    InvalidSubprotocol,
    /// `Sec-WebSocket-Extensions` does not follow the §9.1 grammar.
    InvalidExtensions,
    /// (Client) the server answered with a status other than `101` (§4.1, step 1), or other
    /// than `2xx` to an extended CONNECT (RFC 8441 §5). The
    /// [`Response`] that was verified still holds its headers (for a redirect's `Location` or
    /// a `401`'s `WWW-Authenticate`); its body starts `body_offset` bytes into the input.
    UnexpectedStatus {
        /// The status the server sent.
        status: u16,
        /// Where the response body starts: the length of the head.
        body_offset: usize,
    },
    /// (Client) the `101` response lacks `Sec-WebSocket-Accept` (§4.1, step 4).
    MissingAccept,
    /// (Client) `Sec-WebSocket-Accept` does not match the key we sent (§4.1, step 4).
    AcceptMismatch,
    /// (Client) the server chose a subprotocol we did not offer (§4.1, step 6).
    SubprotocolNotOffered,
    /// (Client) the server accepted an extension we did not offer (§4.1, step 5).
    ExtensionNotOffered,
    /// The head did not arrive within the time a [`HandshakeTimeout`] allowed. A server
    /// answers `408 Request Timeout`; a client gives up.
    Timeout,
}

impl HandshakeError {
    /// The HTTP status to answer with. This is the one place where a handshake failure is
    /// turned into a status.
    pub fn status(&self) -> u16 {
        match self {
            Self::HeadTooLarge { .. } | Self::TooManyHeaders { .. } => 431,
            Self::MethodNotAllowed | Self::ConnectRequired => 405,
            Self::UnsupportedVersion => 426,
            Self::Timeout => 408,
            Self::MalformedHead(_)
            | Self::UnsupportedHttpVersion
            | Self::InvalidTarget
            | Self::MissingHost
            | Self::DuplicateHeader(_)
            | Self::InvalidHeaderValue(_)
            | Self::MissingUpgradeWebSocket
            | Self::MissingConnectionUpgrade
            | Self::ConnectionSpecificHeader
            | Self::NotWebSocketProtocol
            | Self::MissingKey
            | Self::InvalidKey
            | Self::MissingVersion
            | Self::InvalidSubprotocol
            | Self::InvalidExtensions => 400,
            Self::UnexpectedStatus { .. }
            | Self::MissingAccept
            | Self::AcceptMismatch
            | Self::SubprotocolNotOffered
            | Self::ExtensionNotOffered => 502,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeadTooLarge { limit } => write!(f, "handshake head longer than {limit} bytes"),
            Self::TooManyHeaders { limit } => write!(f, "more than {limit} header fields"),
            Self::MalformedHead(what) => write!(f, "malformed HTTP head: {what}"),
            Self::MethodNotAllowed => f.write_str("method is not GET"),
            Self::ConnectRequired => f.write_str("method is not CONNECT"),
            Self::UnsupportedHttpVersion => f.write_str("HTTP version older than 1.1"),
            Self::InvalidTarget => f.write_str("request-target is not a path or an absolute URI"),
            Self::MissingHost => f.write_str("no Host header"),
            Self::DuplicateHeader(name) => write!(f, "{name} header repeated"),
            Self::InvalidHeaderValue(name) => write!(f, "invalid {name} header value"),
            Self::MissingUpgradeWebSocket => f.write_str("Upgrade header lacks the token websocket"),
            Self::MissingConnectionUpgrade => f.write_str("Connection header lacks the token upgrade"),
            Self::ConnectionSpecificHeader => {
                f.write_str("Connection or Upgrade header in an extended CONNECT")
            }
            Self::NotWebSocketProtocol => f.write_str(":protocol is not websocket"),
            Self::MissingKey => f.write_str("no Sec-WebSocket-Key header"),
            Self::InvalidKey => f.write_str("Sec-WebSocket-Key does not decode to 16 bytes"),
            Self::MissingVersion => f.write_str("no Sec-WebSocket-Version header"),
            Self::UnsupportedVersion => f.write_str("Sec-WebSocket-Version is not 13"),
            Self::InvalidSubprotocol => f.write_str("malformed Sec-WebSocket-Protocol"),
            Self::InvalidExtensions => f.write_str("malformed Sec-WebSocket-Extensions"),
            Self::UnexpectedStatus { status, .. } => {
                write!(f, "server answered {status} instead of accepting the WebSocket")
            }
            Self::MissingAccept => f.write_str("no Sec-WebSocket-Accept header"),
            Self::AcceptMismatch => f.write_str("Sec-WebSocket-Accept does not match the key"),
            Self::SubprotocolNotOffered => f.write_str("server chose a subprotocol that was not offered"),
            Self::ExtensionNotOffered => f.write_str("server accepted an extension that was not offered"),
            Self::Timeout => f.write_str("the handshake did not complete in time"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HandshakeError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn statuses() {
        assert_eq!(HandshakeError::HeadTooLarge { limit: 1 }.status(), 431);
        assert_eq!(HandshakeError::TooManyHeaders { limit: 1 }.status(), 431);
        assert_eq!(HandshakeError::MethodNotAllowed.status(), 405);
        assert_eq!(HandshakeError::ConnectRequired.status(), 405);
        assert_eq!(HandshakeError::UnsupportedVersion.status(), 426);
        assert_eq!(HandshakeError::MissingKey.status(), 400);
        assert_eq!(HandshakeError::AcceptMismatch.status(), 502);
    }

    #[test]
    fn display_names_the_problem() {
        assert_eq!(
            HandshakeError::UnexpectedStatus { status: 302, body_offset: 10 }.to_string(),
            "server answered 302 instead of accepting the WebSocket"
        );
        assert_eq!(HandshakeError::DuplicateHeader("Host").to_string(), "Host header repeated");
    }

    #[test]
    fn config_defaults() {
        let config = Config::default();
        assert_eq!(config.max_head_size(), 8192);
        assert_eq!(config.max_headers(), 64);
    }

    #[test]
    fn header_helpers() {
        let header = Header { name: "Sec-WebSocket-Key", value: b"abc" };
        assert!(header.is("sec-websocket-key"));
        assert_eq!(header.value_str(), Some("abc"));
        assert_eq!(Header { name: "x", value: b"\xff" }.value_str(), None);
    }
}
