//! The client's side of the opening handshake: the request it sends and the checks on the
//! server's answer (RFC 6455 §4.1; RFC 8441 §4–§5 over HTTP/2, RFC 9220 over HTTP/3).
//!
//! This file owns building the `GET` (or the extended `CONNECT`) from a [`WebSocketUri`], a
//! [`WebSocketKey`] and the caller's offers; remembering what was offered
//! ([`ClientHandshake`]); parsing the response head incrementally ([`ResponseParser`]); and
//! verifying it ([`ClientHandshake::verify`]). Both bootstraps share the offer checks and the
//! checks on what the server chose. It does not connect, follow redirects or retry: a refusal
//! is reported with its status and headers, and the caller decides. It knows no HTTP/2
//! framing: an extended CONNECT is a list of fields for the caller's HTTP/2 library.

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
use super::request::Bootstrap;
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

/// Headers of the connection rather than the request, which an HTTP/2 or HTTP/3 request may
/// not carry (RFC 9113 §8.2.2; `Connection` and `Upgrade` are reserved above, RFC 8441 §5).
/// `TE: trailers` is allowed by HTTP/2 but means nothing on a tunnel: refused too.
const CONNECTION_SPECIFIC: [&str; 4] = ["keep-alive", "proxy-connection", "transfer-encoding", "te"];

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
            bootstrap: Bootstrap::Http1Upgrade,
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
        self.push_offers(&mut list, ["Origin", "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"]);
        list.extend(self.headers.iter().map(|&(name, value)| (name, Cow::Borrowed(value))));
        list
    }

    /// Appends the headers both bootstraps send: `Origin`, the subprotocols and the
    /// extension offers, under the given names (HTTP/1.1 spelling or HTTP/2's lowercase).
    fn push_offers(&self, list: &mut Vec<(&'a str, Cow<'a, str>)>, names: [&'static str; 3]) {
        let [origin_name, protocol_name, extensions_name] = names;
        if let Some(origin) = self.origin {
            list.push((origin_name, Cow::Borrowed(origin)));
        }
        if !self.subprotocols.is_empty() {
            list.push((protocol_name, Cow::Owned(self.subprotocols.join(", "))));
        }
        if !self.extensions.is_empty() {
            list.push((extensions_name, Cow::Owned(self.extensions.join(", "))));
        }
    }

    /// The same request as an RFC 8441 extended `CONNECT`, for a WebSocket on an HTTP/2
    /// stream (or an HTTP/3 one, RFC 9220): the pseudo-header fields and header fields the
    /// caller's HTTP/2 library sends, and the [`ClientHandshake`] that verifies the answer.
    ///
    /// Per RFC 8441 §5: `:method CONNECT`, `:protocol websocket`, `:scheme https` for `wss://`
    /// and `http` for `ws://`, `:path` the resource name, `:authority` what `Host` would carry;
    /// no `Host`, `Upgrade`, `Connection` or `Sec-WebSocket-Key`; `Origin`,
    /// `Sec-WebSocket-Version`, `-Protocol` and `-Extensions` as over HTTP/1.1; every name in
    /// lowercase. The caller's own headers are checked as for [`write`](Self::write), and
    /// headers HTTP/2 forbids (`Keep-Alive`, `Transfer-Encoding`, ...) are refused.
    ///
    /// Send the request only once the server's SETTINGS have said
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 §3). Success is a `2xx` answer, which
    /// [`ClientHandshake::verify`] checks (no `Sec-WebSocket-Accept`: the stream itself is the
    /// proof, §5); the WebSocket then runs on the stream's DATA frames, and the stream's end
    /// stands in for TCP's: `END_STREAM` where TCP sends a FIN, `RST_STREAM` (`CANCEL`) for
    /// an abort (§5).
    ///
    /// ```
    /// use rfc6455::handshake::{
    ///     Accept, Config, ExtendedConnect, Header, Request, Response, WebSocketKey, ClientRequest,
    /// };
    ///
    /// let key = WebSocketKey::from_bytes([7; 16]); // not sent: only the HTTP/1.1 GET uses it
    /// let request = ClientRequest::new("wss://server.example.com/chat", key)?
    ///     .with_subprotocol("chat")
    ///     .with_extension("permessage-deflate")
    ///     .with_origin("http://www.example.com");
    /// let (connect, handshake) = request.extended_connect()?;
    /// assert_eq!(
    ///     (connect.method(), connect.protocol(), connect.scheme(), connect.path(), connect.authority()),
    ///     ("CONNECT", "websocket", "https", "/chat", "server.example.com"),
    /// );
    /// let headers: Vec<Header<'_>> = connect.headers().collect();
    /// assert_eq!(headers[0], Header { name: "sec-websocket-version", value: b"13" });
    ///
    /// // What the server does with it (RFC 8441 §5.1's exchange), then the client's check.
    /// let seen = ExtendedConnect {
    ///     method: connect.method(),
    ///     protocol: Some(connect.protocol()),
    ///     path: connect.path(),
    ///     authority: Some(connect.authority()),
    ///     headers: &headers,
    /// };
    /// let server = Request::from_extended_connect(&seen, &Config::default())?;
    /// let answer = server.accept(&Accept::new().with_subprotocol("chat"))?;
    /// assert_eq!(answer.status(), 200);
    /// let fields: Vec<Header<'_>> =
    ///     answer.headers().map(|(name, value)| Header { name, value }).collect();
    /// let accepted = handshake.verify(&Response::from_fields(answer.status(), fields))?;
    /// assert_eq!(accepted.subprotocol(), Some("chat"));
    /// # Ok::<(), rfc6455::Error>(())
    /// ```
    pub fn extended_connect(&self) -> Result<(ClientConnect<'a>, ClientHandshake), UsageError> {
        let mut handshake = self.check()?;
        if self
            .headers
            .iter()
            .any(|(name, _)| CONNECTION_SPECIFIC.iter().any(|c| c.eq_ignore_ascii_case(name)))
        {
            return Err(UsageError::InvalidHandshakeInput(HandshakeInput::ConnectionSpecificHeader));
        }
        handshake.bootstrap = Bootstrap::ExtendedConnect;
        let mut headers: Vec<(&'a str, Cow<'a, str>)> =
            alloc::vec![("sec-websocket-version", Cow::Borrowed(VERSION))];
        self.push_offers(&mut headers, ["origin", "sec-websocket-protocol", "sec-websocket-extensions"]);
        let mut connect = ClientConnect {
            scheme: if self.uri.is_secure() { "https" } else { "http" },
            path: self.uri.resource_name().to_string(),
            authority: self.uri.host_header().to_string(),
            headers: headers.into_iter().map(|(name, value)| (Cow::Borrowed(name), value)).collect(),
        };
        // HTTP/2 field names are lowercase (RFC 9113 §8.2.1; RFC 8441 §5 repeats it).
        connect.headers.extend(self.headers.iter().map(|&(name, value)| {
            let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(name.to_ascii_lowercase())
            } else {
                Cow::Borrowed(name)
            };
            (name, Cow::Borrowed(value))
        }));
        Ok((connect, handshake))
    }
}

/// A client's extended `CONNECT` (RFC 8441 §4–§5), from [`ClientRequest::extended_connect`]:
/// what to put in the HEADERS frame that opens the stream. Names are lowercase; values are
/// checked header values.
///
/// With the `h2` crate or hyper, the method and the URI (`scheme://authority/path`) go in
/// the `http::Request`, and `:protocol` in the request's extensions as `h2::ext::Protocol`
/// (hyper re-exports it as `hyper::ext::Protocol`); the `http` feature's
/// `ClientRequest::to_http_extended_connect` builds all but the `:protocol`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConnect<'a> {
    scheme: &'static str,
    path: String,
    authority: String,
    headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl ClientConnect<'_> {
    /// `:method`: always `CONNECT`.
    pub fn method(&self) -> &'static str {
        "CONNECT"
    }

    /// `:protocol`: always `websocket` (RFC 8441 §5).
    pub fn protocol(&self) -> &'static str {
        "websocket"
    }

    /// `:scheme`: `https` for a `wss://` URI, `http` for `ws://` (RFC 8441 §5).
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// `:path`: the resource name, path and query (`/chat?room=1`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `:authority`: the host, and the port unless it is the scheme's default.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The header fields, in order: `sec-websocket-version`, then `origin`,
    /// `sec-websocket-protocol` and `sec-websocket-extensions` when given, then the caller's.
    pub fn headers(&self) -> impl Iterator<Item = Header<'_>> {
        self.headers.iter().map(|(name, value)| Header { name, value: value.as_bytes() })
    }
}

/// What a client remembers between sending its request and reading the answer: the expected
/// `Sec-WebSocket-Accept`, the offered subprotocols and extension names, and the limits.
/// Owns its data, so it can be kept across awaits without borrowing the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHandshake {
    bootstrap: Bootstrap,
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

    /// The `Sec-WebSocket-Accept` value the server must send (over HTTP/1.1; an extended
    /// CONNECT has none).
    pub fn expected_accept(&self) -> &AcceptKey {
        &self.accept
    }

    /// How the request asked: an HTTP/1.1 upgrade ([`ClientRequest::write`]) or an extended
    /// CONNECT ([`ClientRequest::extended_connect`]). It decides what [`verify`](Self::verify)
    /// expects.
    pub fn bootstrap(&self) -> Bootstrap {
        self.bootstrap
    }

    /// Checks the server's response (§4.1, the client's steps 1–6). On success, the
    /// subprotocol and extensions in use; both borrow from the response.
    ///
    /// For an extended CONNECT (RFC 8441 §5) steps 1–4 become one: the status must be `2xx`
    /// (a CONNECT succeeds with any, RFC 9110 §9.3.6), and `Upgrade`, `Connection` and
    /// `Sec-WebSocket-Accept` are not processed. Steps 5 and 6 are the same.
    ///
    /// Any other status is [`HandshakeError::UnexpectedStatus`]: `response` still has the
    /// headers (`Location`, `WWW-Authenticate`) for the caller to act on.
    pub fn verify<'r>(&self, response: &Response<'r>) -> Result<Accepted<'r>, HandshakeError> {
        let headers = &response.headers;
        let refused =
            HandshakeError::UnexpectedStatus { status: response.status, body_offset: response.head_len };
        match self.bootstrap {
            Bootstrap::ExtendedConnect if (200..300).contains(&response.status) => {}
            Bootstrap::ExtendedConnect => return Err(refused),
            Bootstrap::Http1Upgrade => {
                self.verify_upgrade(response.status, headers).map_err(|e| e.unwrap_or(refused))?
            }
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
        Ok(Accepted { bootstrap: self.bootstrap, subprotocol, extensions })
    }

    /// Steps 1–4 of §4.1 for a `101`: `Err(None)` for a status other than `101`.
    fn verify_upgrade(&self, status: u16, headers: &[Header<'_>]) -> Result<(), Option<HandshakeError>> {
        // Step 1.
        if status != 101 {
            return Err(None);
        }
        // Step 2: the value must be "websocket" (ASCII case-insensitive), nothing else.
        let mut upgrade = head::values(headers, "Upgrade").flat_map(list_elements).peekable();
        if upgrade.peek().is_none() || !upgrade.all(|t| t.eq_ignore_ascii_case(b"websocket")) {
            return Err(Some(HandshakeError::MissingUpgradeWebSocket));
        }
        // Step 3.
        if !has_token(headers, "Connection", "upgrade") {
            return Err(Some(HandshakeError::MissingConnectionUpgrade));
        }
        // Step 4 (values are already trimmed of surrounding whitespace).
        match single(headers, "Sec-WebSocket-Accept").map_err(Some)? {
            None => Err(Some(HandshakeError::MissingAccept)),
            Some(value) if value != self.accept.as_bytes() => Err(Some(HandshakeError::AcceptMismatch)),
            Some(_) => Ok(()),
        }
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
    /// A response from its status and header fields, as an HTTP/2 or HTTP/3 library hands
    /// them over (the answer to an extended CONNECT), for [`ClientHandshake::verify`].
    /// [`Response::head_len`] is zero and the reason phrase empty.
    pub fn from_fields(status: u16, headers: Vec<Header<'a>>) -> Self {
        Response { status, reason: "", headers, head_len: 0 }
    }

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
    bootstrap: Bootstrap,
    subprotocol: Option<&'r str>,
    extensions: Vec<Extension<'r>>,
}

impl<'r> Accepted<'r> {
    /// How the connection was opened: an HTTP/1.1 upgrade or an extended CONNECT, whose
    /// stream stands in for TCP (the connection the one-step methods make does not wait for
    /// the server to end the stream, [`Builder::server_closes_first`](crate::connection::Builder::server_closes_first)).
    pub fn bootstrap(&self) -> Bootstrap {
        self.bootstrap
    }

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
