//! The client's side of the opening handshake: the request it sends and the checks on the
//! server's answer (RFC 6455 §4.1).
//!
//! This file owns building the `GET` from a [`WebSocketUri`], a [`WebSocketKey`] and the
//! caller's offers; remembering what was offered ([`ClientHandshake`]); parsing the response
//! head incrementally ([`ResponseParser`]); and verifying it ([`ClientHandshake::verify`]). It
//! does not connect, follow redirects or retry: a non-`101` answer is reported with its status
//! and headers, and the caller decides.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::accept::{AcceptKey, WebSocketKey};
use super::extensions::{self, Extension};
use super::head::{
    self, HeadBuffer, convert_headers, find_end, has_token, header_slots, is_token, is_valid_value,
    list_elements, map_httparse_error, single,
};
use super::negotiate::{check_headers, push_header};
use super::uri::WebSocketUri;
use super::{Config, HandshakeError, Header, MalformedHead, VERSION};
use crate::fault::{HandshakeInput, UsageError};

/// The client's opening handshake, being built: the URI, the key, and what to offer.
///
/// Setters take what they are given; [`ClientRequest::write`] checks it all and reports the
/// first problem as a [`UsageError`].
///
/// ```
/// use rfc6455::handshake::{ClientRequest, WebSocketKey};
/// let mut out = Vec::new();
/// let key = WebSocketKey::from_bytes([7; 16]);
/// ClientRequest::new("ws://[::1]:9001/echo", key)?
///     .with_header("Authorization", "Bearer abc")
///     .write(&mut out)?;
/// assert!(out.starts_with(b"GET /echo HTTP/1.1\r\nHost: [::1]:9001\r\nUpgrade: websocket\r\n"));
/// # Ok::<(), rfc6455::UsageError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest<'a> {
    uri: WebSocketUri<'a>,
    key: WebSocketKey,
    subprotocols: Vec<&'a str>,
    extensions: Vec<&'a str>,
    origin: Option<&'a str>,
    headers: Vec<(&'a str, &'a str)>,
    config: Config,
}

/// Headers the client's handshake writes itself, which a caller may not add.
const CLIENT_RESERVED: [&str; 9] = [
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "origin",
    "content-length",
];

impl<'a> ClientRequest<'a> {
    /// A request for `uri` (see [`WebSocketUri::parse`]) with `key`, which must be fresh and
    /// random for every connection (`WebSocketKey::random` under `std`).
    pub fn new(uri: &'a str, key: WebSocketKey) -> Result<Self, UsageError> {
        Ok(Self::from_uri(WebSocketUri::parse(uri)?, key))
    }

    /// A request for an already parsed URI.
    pub fn from_uri(uri: WebSocketUri<'a>, key: WebSocketKey) -> Self {
        Self {
            uri,
            key,
            subprotocols: Vec::new(),
            extensions: Vec::new(),
            origin: None,
            headers: Vec::new(),
            config: Config::default(),
        }
    }

    /// Offers a subprotocol (a token); call once per subprotocol, most preferred first
    /// (§4.1 item 10).
    pub fn with_subprotocol(mut self, subprotocol: &'a str) -> Self {
        self.subprotocols.push(subprotocol);
        self
    }

    /// Offers one or more extensions, in the §9.1 grammar
    /// (`permessage-deflate; client_max_window_bits`); call again for more, most preferred
    /// first.
    pub fn with_extension(mut self, offer: &'a str) -> Self {
        self.extensions.push(offer);
        self
    }

    /// Sends `Origin` (§4.1 item 8; browsers always do, other clients may).
    pub fn with_origin(mut self, origin: &'a str) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Adds a header (cookies, authorization). The handshake's own headers are refused.
    pub fn with_header(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Sets the limits for parsing the server's response.
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The URI.
    pub fn uri(&self) -> &WebSocketUri<'a> {
        &self.uri
    }

    /// The key.
    pub fn key(&self) -> &WebSocketKey {
        &self.key
    }

    /// Checks the request and appends it to `out` as HTTP/1.1 bytes. Returns the
    /// [`ClientHandshake`] that verifies the answer; keep it until the response arrives.
    /// On error nothing is written.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<ClientHandshake, UsageError> {
        let handshake = self.check()?;
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.uri.resource_name().to_string().as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in self.header_list() {
            push_header(out, name, value.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        Ok(handshake)
    }

    /// Checks everything the caller supplied and records what is offered.
    pub(crate) fn check(&self) -> Result<ClientHandshake, UsageError> {
        let invalid = UsageError::InvalidHandshakeInput;
        for (i, subprotocol) in self.subprotocols.iter().enumerate() {
            if !is_token(subprotocol.as_bytes()) {
                return Err(invalid(HandshakeInput::SubprotocolNotToken));
            }
            // §4.1 item 10: the offered subprotocols "MUST all be unique strings".
            if self.subprotocols.iter().take(i).any(|earlier| earlier == subprotocol) {
                return Err(invalid(HandshakeInput::SubprotocolTwice));
            }
        }
        let mut offered = Vec::new();
        for offer in &self.extensions {
            let before = offered.len();
            extensions::parse_into(offer.as_bytes(), &mut offered)
                .map_err(|_| invalid(HandshakeInput::ExtensionSyntax))?;
            if offered.len() == before {
                return Err(invalid(HandshakeInput::ExtensionEmpty));
            }
        }
        if let Some(origin) = self.origin {
            if origin.is_empty() || !is_valid_value(origin.as_bytes()) {
                return Err(invalid(HandshakeInput::Origin));
            }
        }
        check_headers(&self.headers, &CLIENT_RESERVED)?;
        Ok(ClientHandshake {
            accept: self.key.accept(),
            subprotocols: self.subprotocols.iter().map(|s| (*s).into()).collect(),
            extensions: offered.iter().map(|e| e.name().into()).collect(),
            config: self.config,
        })
    }

    /// The request's headers, in the order they are sent.
    pub(crate) fn header_list(&self) -> Vec<(&'a str, Cow<'a, str>)> {
        let mut list: Vec<(&'a str, Cow<'a, str>)> = alloc::vec![
            ("Host", Cow::Owned(self.uri.host_header().to_string())),
            ("Upgrade", Cow::Borrowed("websocket")),
            ("Connection", Cow::Borrowed("Upgrade")),
            ("Sec-WebSocket-Key", Cow::Owned(self.key.as_str().into())),
            ("Sec-WebSocket-Version", Cow::Borrowed(VERSION)),
        ];
        if let Some(origin) = self.origin {
            list.push(("Origin", Cow::Borrowed(origin)));
        }
        if !self.subprotocols.is_empty() {
            list.push(("Sec-WebSocket-Protocol", Cow::Owned(self.subprotocols.join(", "))));
        }
        if !self.extensions.is_empty() {
            list.push(("Sec-WebSocket-Extensions", Cow::Owned(self.extensions.join(", "))));
        }
        list.extend(self.headers.iter().map(|&(name, value)| (name, Cow::Borrowed(value))));
        list
    }
}

/// What a client remembers between sending its request and reading the answer: the expected
/// `Sec-WebSocket-Accept`, the offered subprotocols and extension names, and the limits.
/// Owns its data, so it can be kept across awaits without borrowing the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHandshake {
    accept: AcceptKey,
    subprotocols: Vec<String>,
    extensions: Vec<String>,
    config: Config,
}

impl ClientHandshake {
    /// A parser for the server's response, with this handshake's limits.
    pub fn parser(&self) -> ResponseParser {
        ResponseParser::new(self.config)
    }

    /// The `Sec-WebSocket-Accept` value the server must send.
    pub fn expected_accept(&self) -> &AcceptKey {
        &self.accept
    }

    /// Checks the server's response (§4.1, the client's steps 1–6). On success, the
    /// subprotocol and extensions in use; both borrow from the response.
    ///
    /// A status other than `101` is [`HandshakeError::UnexpectedStatus`]: `response` still
    /// has the headers (`Location`, `WWW-Authenticate`) for the caller to act on.
    pub fn verify<'r>(&self, response: &Response<'r>) -> Result<Accepted<'r>, HandshakeError> {
        // Step 1.
        if response.status != 101 {
            return Err(HandshakeError::UnexpectedStatus {
                status: response.status,
                body_offset: response.head_len,
            });
        }
        let headers = &response.headers;
        // Step 2: the value must be "websocket" (ASCII case-insensitive), nothing else.
        let mut upgrade = head::values(headers, "Upgrade").flat_map(list_elements).peekable();
        if upgrade.peek().is_none() || !upgrade.all(|t| t.eq_ignore_ascii_case(b"websocket")) {
            return Err(HandshakeError::MissingUpgradeWebSocket);
        }
        // Step 3.
        if !has_token(headers, "Connection", "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        // Step 4 (values are already trimmed of surrounding whitespace).
        match single(headers, "Sec-WebSocket-Accept")? {
            None => return Err(HandshakeError::MissingAccept),
            Some(value) if value != self.accept.as_bytes() => return Err(HandshakeError::AcceptMismatch),
            Some(_) => {}
        }
        // Step 5.
        let extensions = extensions::parse_headers(headers)?;
        for extension in &extensions {
            if !self.extensions.iter().any(|offered| extension.is(offered)) {
                return Err(HandshakeError::ExtensionNotOffered);
            }
        }
        // Step 6: a single token (§4.2.2 /subprotocol/), one we offered.
        let subprotocol = match single(headers, "Sec-WebSocket-Protocol")? {
            None => None,
            Some(value) => {
                let value = core::str::from_utf8(value).ok().filter(|v| is_token(v.as_bytes()));
                let value = value.ok_or(HandshakeError::InvalidSubprotocol)?;
                if !self.subprotocols.iter().any(|offered| offered == value) {
                    return Err(HandshakeError::SubprotocolNotOffered);
                }
                Some(value)
            }
        };
        Ok(Accepted { subprotocol, extensions })
    }
}

/// A server's response head, parsed but not yet verified, borrowed from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    pub(crate) status: u16,
    pub(crate) reason: &'a str,
    pub(crate) headers: Vec<Header<'a>>,
    pub(crate) head_len: usize,
}

impl<'a> Response<'a> {
    /// Parses a response head from the start of `buf` in one go: `Ok(None)` if it has not
    /// ended yet, else the head and its length (`buf[used..]` is the body, or for a `101`
    /// the frame stream). Each call scans `buf` from the start; for a buffer that grows a
    /// little at a time, use a [`ResponseParser`].
    pub fn parse(buf: &'a [u8], config: &Config) -> Result<Option<(Self, usize)>, HandshakeError> {
        let Some(end) = find_end(buf, config)? else {
            return Ok(None);
        };
        // Invariant: `find_end` returns an index within `buf`.
        Ok(Some((parse_head(&buf[..end], config)?, end)))
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase (may be empty).
    pub fn reason(&self) -> &'a str {
        self.reason
    }

    /// Every header field, in order.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.headers
    }

    /// The value of the first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers.iter().find(|h| h.is(name)).map(|h| h.value)
    }

    /// The length of the head in bytes: where a body (or the frame stream) starts. Zero for a
    /// response built from `http` types.
    pub fn head_len(&self) -> usize {
        self.head_len
    }
}

/// The outcome of a verified handshake: what the connection speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted<'r> {
    subprotocol: Option<&'r str>,
    extensions: Vec<Extension<'r>>,
}

impl<'r> Accepted<'r> {
    /// The subprotocol in use (§4.1: the _Subprotocol In Use_), if the server chose one.
    pub fn subprotocol(&self) -> Option<&'r str> {
        self.subprotocol
    }

    /// The extensions in use (§4.1: the _Extensions In Use_), in the server's order, with
    /// their parameters. Each one was offered; whether its parameters are acceptable is for
    /// the extension to check.
    pub fn extensions(&self) -> &[Extension<'r>] {
        &self.extensions
    }
}

/// An incremental response parser for a client: feed it bytes as they arrive.
///
/// Like [`RequestParser`](super::RequestParser): bounded by [`Config::max_head_size`], linear
/// in the bytes fed, never takes a byte past the head.
#[derive(Debug, Clone)]
pub struct ResponseParser {
    head: HeadBuffer,
    config: Config,
}

impl ResponseParser {
    /// A parser with the given limits.
    pub fn new(config: Config) -> Self {
        Self { head: HeadBuffer::new(&config), config }
    }

    /// Takes the next bytes from the connection: `Ok(None)` while the head is incomplete,
    /// then the response head and how many bytes of `input` it used (`input[used..]` is the
    /// body, or after a `101` the frame stream). Once complete, further calls return the same
    /// head with `used == 0`.
    pub fn feed(&mut self, input: &[u8]) -> Result<Option<(Response<'_>, usize)>, HandshakeError> {
        let Some((head, used)) = self.head.feed_head(input)? else {
            return Ok(None);
        };
        Ok(Some((parse_head(head, &self.config)?, used)))
    }

    /// Bytes examined so far; for tests that prove the cost is linear.
    #[doc(hidden)]
    pub fn work(&self) -> u64 {
        self.head.work()
    }
}

fn parse_head<'a>(head: &'a [u8], config: &Config) -> Result<Response<'a>, HandshakeError> {
    let mut slots = header_slots(config);
    let mut parsed = httparse::Response::new(&mut slots);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(_) => return Err(HandshakeError::MalformedHead(MalformedHead::IncompleteHead)),
        Err(error) => return Err(map_httparse_error(error, config)),
    }
    let Some(status) = parsed.code else {
        return Err(HandshakeError::MalformedHead(MalformedHead::IncompleteStatusLine));
    };
    Ok(Response {
        status,
        reason: parsed.reason.unwrap_or(""),
        headers: convert_headers(parsed.headers),
        head_len: head.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake() -> ClientHandshake {
        let key = WebSocketKey::from_bytes(*b"the sample nonce");
        ClientRequest::new("ws://h/", key)
            .unwrap()
            .with_subprotocol("chat")
            .with_subprotocol("superchat")
            .with_extension("permessage-deflate; client_max_window_bits, x-foo")
            .check()
            .unwrap()
    }

    fn verify(extra: &str) -> Result<Option<&'static str>, HandshakeError> {
        let mut head = String::from(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
        );
        head.push_str(extra);
        head.push_str("\r\n");
        let head: &'static [u8] = head.leak().as_bytes();
        let (response, _) = Response::parse(head, &Config::default())?.expect("complete");
        handshake().verify(&response).map(|accepted| accepted.subprotocol())
    }

    #[test]
    fn checks_the_offers() {
        assert_eq!(handshake().extensions, ["permessage-deflate", "x-foo"]);
        assert_eq!(verify(""), Ok(None));
        assert_eq!(verify("Sec-WebSocket-Protocol: superchat\r\n"), Ok(Some("superchat")));
        assert_eq!(verify("Sec-WebSocket-Protocol: other\r\n"), Err(HandshakeError::SubprotocolNotOffered));
        assert_eq!(
            verify("Sec-WebSocket-Protocol: chat, superchat\r\n"),
            Err(HandshakeError::InvalidSubprotocol)
        );
        assert_eq!(
            verify("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
            Err(HandshakeError::DuplicateHeader("Sec-WebSocket-Protocol"))
        );
        assert_eq!(verify("Sec-WebSocket-Extensions: x-foo, permessage-deflate\r\n"), Ok(None));
        assert_eq!(verify("Sec-WebSocket-Extensions: x-bar\r\n"), Err(HandshakeError::ExtensionNotOffered));
        assert_eq!(verify("Sec-WebSocket-Extensions: x-foo;\r\n"), Err(HandshakeError::InvalidExtensions));
    }

    #[test]
    fn checks_the_caller_input() {
        let key = WebSocketKey::from_bytes([0; 16]);
        let base = || ClientRequest::new("ws://h/", key).unwrap();
        let invalid = |r: ClientRequest<'_>| matches!(r.check(), Err(UsageError::InvalidHandshakeInput(_)));
        assert!(invalid(base().with_subprotocol("a b")));
        assert!(invalid(base().with_subprotocol("")));
        assert!(invalid(base().with_subprotocol("a").with_subprotocol("a")));
        assert!(invalid(base().with_extension("a;")));
        assert!(invalid(base().with_extension("")));
        assert!(invalid(base().with_origin("a\nb")));
        assert!(invalid(base().with_header("Host", "other")));
        assert!(invalid(base().with_header("Sec-WebSocket-Key", "x")));
        assert!(invalid(base().with_header("X", "a\r\n")));
        assert!(base().with_header("Cookie", "a=b").check().is_ok());
    }

    #[test]
    fn parser_counts_its_work_and_keeps_every_header() {
        // RFC 6455 §1.3's response, fed one byte at a time.
        let head: &[u8] =
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        let mut parser = handshake().parser();
        for byte in head {
            let _ = parser.feed(core::slice::from_ref(byte)).unwrap();
        }
        // Each byte scanned once, plus one parse of the whole head.
        assert_eq!(parser.work(), 2 * head.len() as u64);
        let (response, used) = parser.feed(b"").unwrap().unwrap();
        assert_eq!(used, 0);
        assert_eq!(
            response.headers(),
            [
                Header { name: "Upgrade", value: b"websocket" },
                Header { name: "Connection", value: b"Upgrade" },
                Header { name: "Sec-WebSocket-Accept", value: b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" },
            ]
        );
        assert_eq!(
            (response.status(), response.reason(), response.head_len()),
            (101, "Switching Protocols", head.len())
        );
    }
}
