//! The server's side of the opening handshake: reading and validating the client's request
//! (RFC 6455 §4.2.1).
//!
//! This file owns turning a request head (HTTP/1.1 bytes, or fields a caller already parsed)
//! into a validated [`Request`], or into the [`HandshakeError`] that says which rule was
//! broken. It does not decide whether to accept (that is the caller's, through
//! [`Request::accept`] in `negotiate.rs`), and it does not know about frames: the bytes after
//! the head are counted and left to the caller.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::mem::MaybeUninit;

use super::accept::{AcceptKey, is_valid_key};
use super::extensions::{self, Extension};
use super::head::{
    Field, HeadBuffer, HeadFields, HeaderIndex, InlineList, Known, UPGRADE, WEBSOCKET, find_end,
    is_authority_char, is_token, list_elements, map_httparse_error,
};
use super::{Config, HandshakeError, Header, MalformedHead};

/// Subprotocols kept inline in a [`Request`] before its list moves to the heap: clients offer
/// one or two.
const INLINE_SUBPROTOCOLS: usize = 2;

/// Extensions kept inline in a [`Request`] before its list moves to the heap: browsers offer
/// one (permessage-deflate).
///
/// A request is moved by value from the parser to its caller (through the `Result` and the
/// `Option` it is returned in), and every move copies its inline room: at 256 bytes or less
/// (see the `a_request_moves_cheaply` test) a move is a few vector loads and stores, beyond it
/// a copying loop. Rare offers pay one allocation instead.
const INLINE_EXTENSIONS: usize = 1;

/// How the client asked for a WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Bootstrap {
    /// An HTTP/1.1 `GET` with `Upgrade: websocket` (RFC 6455 §4.1), answered with `101`.
    Http1Upgrade,
    /// An HTTP/2 or HTTP/3 extended `CONNECT` with `:protocol websocket` (RFC 8441 §4,
    /// RFC 9220), answered with `200` on the same stream.
    ExtendedConnect,
}

/// A client's opening handshake that passed every check of RFC 6455 §4.2.1 (or RFC 8441 §5),
/// borrowed from the bytes or fields it was parsed from.
///
/// Decide with it: look at [`path`](Request::path), [`origin`](Request::origin),
/// [`subprotocols`](Request::subprotocols), [`extensions`](Request::extensions) and any
/// [`header`](Request::header) (cookies, authorization); then call
/// [`accept`](Request::accept) or answer with a [`Reject`](super::Reject).
///
/// It costs no heap on the common path: the offers are kept inline (up to two subprotocols
/// and one extension, past which they move to the heap), and the headers of a head parsed
/// from bytes are read again from those bytes when [`headers`](Request::headers) or
/// [`header`](Request::header) asks. To keep a request beyond the buffer it borrows from,
/// take an [`OwnedRequest`] ([`Request::into_owned`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub(crate) bootstrap: Bootstrap,
    pub(crate) target: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) host: Text<'a>,
    pub(crate) key: Option<Text<'a>>,
    pub(crate) origin: Option<Text<'a>>,
    pub(crate) subprotocols: InlineList<&'a str, INLINE_SUBPROTOCOLS>,
    pub(crate) extensions: InlineList<Extension<'a>, INLINE_EXTENSIONS>,
    pub(crate) headers: HeaderList<'a>,
}

/// Where a [`Request`]'s header fields are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderList<'a> {
    /// A complete head `httparse` accepted: its fields are read again from the bytes.
    Head(&'a [u8]),
    /// Fields given one by one (HTTP/2, the `http` crate), borrowed. (Not a `Cow`: that
    /// would make `Request` invariant in `'a`, so requests borrowed from two buffers could not
    /// be compared.)
    Fields(&'a [Header<'a>]),
    /// Fields given one by one, collected for the request.
    OwnedFields(Vec<Header<'a>>),
}

impl<'a> From<Vec<Header<'a>>> for HeaderList<'a> {
    fn from(fields: Vec<Header<'a>>) -> Self {
        HeaderList::OwnedFields(fields)
    }
}

impl<'a> From<&'a [Header<'a>]> for HeaderList<'a> {
    fn from(fields: &'a [Header<'a>]) -> Self {
        HeaderList::Fields(fields)
    }
}

/// The iterator behind [`Request::headers`].
#[derive(Debug, Clone)]
enum HeaderIter<'r, 'a> {
    Head(HeadFields<'a>),
    Fields(core::slice::Iter<'r, Header<'a>>),
}

impl<'a> Iterator for HeaderIter<'_, 'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        match self {
            HeaderIter::Head(fields) => fields.next(),
            HeaderIter::Fields(fields) => fields.next().copied(),
        }
    }
}

impl<'a> Request<'a> {
    /// Parses and validates a request head from the start of `buf` in one go.
    ///
    /// Returns `Ok(None)` if the head has not ended yet, or `Ok(Some((request, used)))` where
    /// `used` is the length of the head: `buf[used..]` already belongs to the frame stream.
    ///
    /// Each call scans `buf` from the start. If your buffer grows a few bytes at a time, use
    /// a [`RequestParser`], which does not.
    pub fn parse(buf: &'a [u8], config: &Config) -> Result<Option<(Self, usize)>, HandshakeError> {
        // A complete, valid head in one pass: `httparse` finds the end of the head itself.
        // It skips blank lines before the request line, where the end-of-head scan stops, so
        // a head starting with one takes the path below.
        // Invariant: the bound is at most `buf.len()`.
        let window = &buf[..buf.len().min(config.max_head_size)];
        if !matches!(window.first(), Some(b'\r' | b'\n')) {
            if let Ok(Some(parsed)) = parse_prefix(window, config) {
                return Ok(Some(parsed));
            }
        }
        // Incomplete, malformed or refused: decide exactly as `RequestParser` does, by where
        // the head ends, so that both give the same answer for the same bytes.
        let Some(end) = find_end(buf, config)? else {
            return Ok(None);
        };
        // Invariant: `find_end` returns an index within `buf`.
        let request = parse_head(&buf[..end], config)?;
        Ok(Some((request, end)))
    }

    /// How the client asked.
    pub fn bootstrap(&self) -> Bootstrap {
        self.bootstrap
    }

    /// The request-target exactly as sent (over HTTP/2, `:path`).
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// The path of the resource name (§3), without the query: always starts with `/`.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The query of the resource name, without the `?`, if there was one.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The `Host` header (over HTTP/2, `:authority`): the server's authority as the client
    /// sees it.
    pub fn host(&self) -> &'a str {
        self.host.as_str()
    }

    /// The `Origin` header, if the client sent one. Browsers always do (§4.2.1 item 7); a
    /// server that serves browsers should check it against the origins it trusts and answer
    /// others with `403` (§10.2).
    pub fn origin(&self) -> Option<&'a str> {
        self.origin.map(Text::as_str)
    }

    /// The `Sec-WebSocket-Key`, trimmed. `None` only for an extended CONNECT, which has no key
    /// (RFC 8441 §5).
    pub fn key(&self) -> Option<&'a str> {
        self.key.map(Text::as_str)
    }

    /// The `Sec-WebSocket-Accept` value for this request's key (`None` without a key).
    pub fn accept_key(&self) -> Option<AcceptKey> {
        self.key.map(|key| AcceptKey::from_key(key.0))
    }

    /// The subprotocols the client offered, from every `Sec-WebSocket-Protocol` header, in
    /// order of the client's preference.
    pub fn subprotocols(&self) -> &[&'a str] {
        self.subprotocols.as_slice()
    }

    /// The first subprotocol, in the client's order of preference, that is also in
    /// `supported`: a ready answer for [`Accept::with_subprotocol`](super::Accept::with_subprotocol).
    pub fn select_subprotocol(&self, supported: &[&str]) -> Option<&'a str> {
        self.subprotocols().iter().copied().find(|offered| supported.contains(offered))
    }

    /// The extensions the client offered, from every `Sec-WebSocket-Extensions` header, in
    /// order, parsed by the §9.1 grammar.
    pub fn extensions(&self) -> &[Extension<'a>] {
        self.extensions.as_slice()
    }

    /// Every header field, in order, including those already interpreted above (values
    /// without surrounding whitespace).
    ///
    /// For a request parsed from bytes, the fields are read again from the head each time
    /// this is called (the request keeps no list of them): collect them if you look at many
    /// more than once.
    pub fn headers(&self) -> impl Iterator<Item = Header<'a>> + Clone + '_ {
        match &self.headers {
            HeaderList::Head(head) => HeaderIter::Head(HeadFields::new(head)),
            HeaderList::Fields(fields) => HeaderIter::Fields(fields.iter()),
            HeaderList::OwnedFields(fields) => HeaderIter::Fields(fields.iter()),
        }
    }

    /// The value of the first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers().find(|h| h.is(name)).map(|h| h.value)
    }

    /// The same request, owning its text: for keeping it after the buffer it was parsed from
    /// is reused (a log, a session table). Accept or reject with the borrowed `Request`.
    pub fn into_owned(self) -> OwnedRequest {
        OwnedRequest::from(&self)
    }
}

/// A [`Request`] that owns its text ([`Request::into_owned`]), with the same getters.
///
/// ```
/// use rfc6455::handshake::{Config, OwnedRequest, Request};
///
/// let mut buf = b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\
///     Cookie: id=7\r\n\r\n".to_vec();
/// let (request, _) = Request::parse(&buf, &Config::default())?.expect("complete");
/// let kept: OwnedRequest = request.into_owned();
/// buf.clear(); // the buffer is free for the connection
/// assert_eq!((kept.path(), kept.query()), ("/chat", Some("room=1")));
/// assert_eq!(kept.header("cookie"), Some(&b"id=7"[..]));
/// assert_eq!(kept.extensions().next().unwrap().name(), "permessage-deflate");
/// # Ok::<(), rfc6455::handshake::HandshakeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRequest {
    bootstrap: Bootstrap,
    target: String,
    path: String,
    query: Option<String>,
    host: String,
    key: Option<String>,
    origin: Option<String>,
    subprotocols: Vec<String>,
    /// The offers in §9.1 form, `, `-separated (parameters as parsed, values unquoted).
    extensions: String,
    headers: Vec<(String, Vec<u8>)>,
}

impl From<&Request<'_>> for OwnedRequest {
    fn from(request: &Request<'_>) -> Self {
        let mut extensions = String::new();
        for (i, extension) in request.extensions().iter().enumerate() {
            if i > 0 {
                extensions.push_str(", ");
            }
            extensions.push_str(&extension.to_string());
        }
        OwnedRequest {
            bootstrap: request.bootstrap,
            target: request.target.into(),
            path: request.path.into(),
            query: request.query.map(Into::into),
            host: request.host().into(),
            key: request.key().map(Into::into),
            origin: request.origin().map(Into::into),
            subprotocols: request.subprotocols().iter().map(|&p| p.into()).collect(),
            extensions,
            headers: request.headers().map(|h| (h.name.into(), h.value.to_vec())).collect(),
        }
    }
}

impl OwnedRequest {
    /// See [`Request::bootstrap`].
    pub fn bootstrap(&self) -> Bootstrap {
        self.bootstrap
    }

    /// See [`Request::target`].
    pub fn target(&self) -> &str {
        &self.target
    }

    /// See [`Request::path`].
    pub fn path(&self) -> &str {
        &self.path
    }

    /// See [`Request::query`].
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// See [`Request::host`].
    pub fn host(&self) -> &str {
        &self.host
    }

    /// See [`Request::origin`].
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// See [`Request::key`].
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// See [`Request::accept_key`].
    pub fn accept_key(&self) -> Option<AcceptKey> {
        self.key.as_ref().map(|key| AcceptKey::from_key(key.as_bytes()))
    }

    /// See [`Request::subprotocols`].
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// See [`Request::extensions`]; parsed from the kept text as they are iterated.
    pub fn extensions(&self) -> impl Iterator<Item = Extension<'_>> + '_ {
        // The text was written from extensions that parsed, so it parses again.
        extensions::list(self.extensions.as_bytes()).map_while(Result::ok)
    }

    /// See [`Request::headers`].
    pub fn headers(&self) -> impl Iterator<Item = Header<'_>> + '_ {
        self.headers.iter().map(|(name, value)| Header { name, value })
    }

    /// See [`Request::header`].
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers().find(|h| h.is(name)).map(|h| h.value)
    }
}

/// An incremental request parser for a server: feed it bytes as they arrive.
///
/// It keeps the head in a buffer bounded by [`Config::max_head_size`], looks at each new byte
/// once to find the head's end, and runs `httparse` once, when the head is complete; a head
/// that trickles in costs time linear in its size. It never takes a byte past the head: what
/// follows in the same read is left in your input for the connection.
///
/// ```
/// use rfc6455::handshake::{Config, RequestParser};
///
/// let head: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///                     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// let mut parser = RequestParser::new(Config::default());
/// for byte in &head[..head.len() - 1] {
///     assert!(parser.feed(core::slice::from_ref(byte))?.is_none());
/// }
/// let (request, used) = parser.feed(b"\n\x88\x80")?.expect("complete");
/// assert_eq!((request.path(), used), ("/", 1));
/// # Ok::<(), rfc6455::handshake::HandshakeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequestParser {
    head: HeadBuffer,
    config: Config,
}

impl RequestParser {
    /// A parser with the given limits.
    pub fn new(config: Config) -> Self {
        Self { head: HeadBuffer::new(&config), config }
    }

    /// Takes the next bytes from the connection.
    ///
    /// Returns `Ok(None)` while the head is incomplete (all of `input` was taken), or
    /// `Ok(Some((request, used)))` once it is: only `input[..used]` was part of the head, and
    /// `input[used..]` belongs to the frame stream. Once complete, further calls return the
    /// same request with `used == 0`. An error is final: answer it with
    /// [`Reject::for_error`](super::Reject::for_error) and close.
    pub fn feed(&mut self, input: &[u8]) -> Result<Option<(Request<'_>, usize)>, HandshakeError> {
        let Some((head, used)) = self.head.feed_head(input)? else {
            return Ok(None);
        };
        Ok(Some((parse_head(head, &self.config)?, used)))
    }

    /// Bytes examined so far, by the end-of-head scan and by the one parse of the complete
    /// head. Exposed so tests can prove the cost is linear; not part of the stable API.
    #[doc(hidden)]
    pub fn work(&self) -> u64 {
        self.head.work()
    }
}

/// Parses and validates a complete HTTP/1.1 request head.
fn parse_head<'a>(head: &'a [u8], config: &Config) -> Result<Request<'a>, HandshakeError> {
    match parse_prefix(head, config)? {
        Some((request, used)) if used == head.len() => Ok(request),
        _ => Err(HandshakeError::MalformedHead(MalformedHead::IncompleteHead)),
    }
}

/// Parses and validates the request head at the start of `buf`: `Ok(None)` if it has not
/// ended yet, else the request and the length of the head.
#[inline]
fn parse_prefix<'a>(buf: &'a [u8], config: &Config) -> Result<Option<(Request<'a>, usize)>, HandshakeError> {
    // Room for `httparse` to note where each header is: on the stack up to the default limit
    // (left uninitialised, so it costs nothing), on the heap beyond it.
    const ON_STACK: usize = super::DEFAULT_MAX_HEADERS;
    let mut stack = [MaybeUninit::<httparse::Header<'a>>::uninit(); ON_STACK];
    let mut heap = Vec::new();
    let slots = match stack.get_mut(..config.max_headers) {
        Some(slots) => slots,
        None => {
            heap.resize(config.max_headers, MaybeUninit::uninit());
            heap.as_mut_slice()
        }
    };
    let mut parsed = httparse::Request::new(&mut []);
    let used = match parsed.parse_with_uninit_headers(buf, slots) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(map_httparse_error(error, config)),
    };
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version) else {
        return Err(HandshakeError::MalformedHead(MalformedHead::IncompleteRequestLine));
    };
    // The fields are checked where `httparse` noted them, and read again from the head
    // (`HeaderList::Head`) only if the caller asks: no list of them is made.
    // Invariant: `httparse` returns a length within `buf`.
    let head = HeaderList::Head(&buf[..used]);
    Ok(Some((check_upgrade(method, minor >= 1, target, None, &*parsed.headers, head, config)?, used)))
}

/// Validates an HTTP/1.1 upgrade request (RFC 6455 §4.2.1) from the `http` crate's types.
/// `authority` stands in for a missing `Host` (an absolute-form target).
#[cfg(feature = "http")]
pub(crate) fn validate_upgrade<'a>(
    method: &str,
    http11_or_later: bool,
    target: &'a str,
    authority: Option<&'a str>,
    headers: Vec<Header<'a>>,
    config: &Config,
) -> Result<Request<'a>, HandshakeError> {
    let none = HeaderList::Fields(&[]);
    let mut request = check_upgrade(method, http11_or_later, target, authority, &headers[..], none, config)?;
    request.headers = headers.into();
    Ok(request)
}

/// The checks of RFC 6455 §4.2.1 over `fields`, however they were parsed; the request keeps
/// `headers`, where the same fields are.
#[inline]
fn check_upgrade<'a, F: Field<'a>>(
    method: &str,
    http11_or_later: bool,
    target: &'a str,
    authority: Option<&'a str>,
    fields: &[F],
    headers: HeaderList<'a>,
    config: &Config,
) -> Result<Request<'a>, HandshakeError> {
    // §4.2.1 item 1: an HTTP/1.1 or higher GET request.
    if method != "GET" {
        return Err(HandshakeError::MethodNotAllowed);
    }
    if !http11_or_later {
        return Err(HandshakeError::UnsupportedHttpVersion);
    }
    check_header_count(fields, config)?;
    let (path, query) = split_target(target)?;
    let index = HeaderIndex::new(fields);
    // §4.2.1 item 2; RFC 9112 §3.2 asks for a 400 when Host is repeated.
    let host = match index.single(fields, Known::Host)? {
        Some(value) => host_text(value, "Host")?,
        None => Text(authority.ok_or(HandshakeError::MissingHost)?.as_bytes()),
    };
    // §4.2.1 items 3 and 4, both ASCII case-insensitive tokens in comma lists.
    if !index.has_token(fields, Known::Upgrade, &WEBSOCKET) {
        return Err(HandshakeError::MissingUpgradeWebSocket);
    }
    if !index.has_token(fields, Known::Connection, &UPGRADE) {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    // §4.2.1 item 6, checked before the key so that a client of another version learns
    // which one we speak (§4.4).
    check_version(fields, &index)?;
    // §4.2.1 item 5.
    let key = index.single(fields, Known::Key)?.ok_or(HandshakeError::MissingKey)?;
    if !is_valid_key(key) {
        return Err(HandshakeError::InvalidKey);
    }
    // A valid key is 24 base64 characters, so it is ASCII: text.
    let key = Text(key);
    let mut origin = None;
    let mut subprotocols = InlineList::new("");
    let mut extensions = InlineList::new(Extension::EMPTY);
    read_offer_into(fields, &index, &mut origin, &mut subprotocols, &mut extensions)?;
    Ok(Request {
        bootstrap: Bootstrap::Http1Upgrade,
        target,
        path,
        query,
        host,
        key: Some(key),
        origin,
        subprotocols,
        extensions,
        headers,
    })
}

/// Header bytes checked to be UTF-8 when the request was parsed, made `&str` when asked for:
/// the conversion (`core::str::from_utf8`, a few instructions a byte on short values) would
/// cost the handshake as much as its header checks, for values most servers never read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub(crate) &'a [u8]);

impl<'a> Text<'a> {
    pub(crate) fn as_str(self) -> &'a str {
        // Invariant: only bytes checked to be UTF-8 are wrapped (`check_upgrade`, `read_offer`,
        // `host_text`, or a `&str` given as bytes), so the fallback is never taken.
        core::str::from_utf8(self.0).unwrap_or_default()
    }
}

impl core::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// What the client offers, read the same way whichever way it asked: items 7–9 of §4.2.1
/// (and RFC 8441 §5, which keeps them).
pub(crate) struct Offer<'a> {
    pub(crate) origin: Option<Text<'a>>,
    pub(crate) subprotocols: InlineList<&'a str, INLINE_SUBPROTOCOLS>,
    pub(crate) extensions: InlineList<Extension<'a>, INLINE_EXTENSIONS>,
}

pub(crate) fn read_offer<'a, F: Field<'a>>(
    headers: &[F],
    index: &HeaderIndex,
) -> Result<Offer<'a>, HandshakeError> {
    let mut offer = Offer {
        origin: None,
        subprotocols: InlineList::new(""),
        extensions: InlineList::new(Extension::EMPTY),
    };
    read_offer_into(headers, index, &mut offer.origin, &mut offer.subprotocols, &mut offer.extensions)?;
    Ok(offer)
}

/// [`read_offer`] into the caller's own variables, from which `check_upgrade` builds its
/// `Request` as its result: no copy of the request is made inside the parse (building it
/// first and filling its lists in place left two 256-byte copies on the way out, and a
/// returned [`Offer`] is itself a few hundred bytes moved through a `Result`).
#[inline]
fn read_offer_into<'a, F: Field<'a>>(
    headers: &[F],
    index: &HeaderIndex,
    origin: &mut Option<Text<'a>>,
    subprotocols: &mut InlineList<&'a str, INLINE_SUBPROTOCOLS>,
    extensions: &mut InlineList<Extension<'a>, INLINE_EXTENSIONS>,
) -> Result<(), HandshakeError> {
    // A repeated or non-text Origin is refused rather than hidden: a caller that sees no
    // origin might take the client for a non-browser one and skip its origin check.
    *origin = match index.single(headers, Known::Origin)? {
        // ASCII (a word at a time) is the rule; anything else must at least be UTF-8.
        Some(value) if value.is_ascii() || core::str::from_utf8(value).is_ok() => Some(Text(value)),
        Some(_) => return Err(HandshakeError::InvalidHeaderValue("Origin")),
        None => None,
    };
    if index.has(Known::Protocol) {
        for value in index.values(headers, Known::Protocol) {
            for element in list_elements(value) {
                // §4.1 item 10: 1#token.
                if !is_token(element) {
                    return Err(HandshakeError::InvalidSubprotocol);
                }
                subprotocols
                    .push(core::str::from_utf8(element).map_err(|_| HandshakeError::InvalidSubprotocol)?);
            }
        }
    }
    if index.has(Known::Extensions) {
        for value in index.values(headers, Known::Extensions) {
            for extension in extensions::list(value) {
                extensions.push(extension?);
            }
        }
    }
    Ok(())
}

/// §4.2.1 item 6: `Sec-WebSocket-Version` must be present and name 13.
pub(crate) fn check_version<'a, F: Field<'a>>(
    headers: &[F],
    index: &HeaderIndex,
) -> Result<(), HandshakeError> {
    // The common case, one header that says exactly `13`: one comparison, no list to split.
    if let Ok(Some(value)) = index.single(headers, Known::Version) {
        if value == super::VERSION.as_bytes() {
            return Ok(());
        }
    }
    let mut values = index.values(headers, Known::Version).peekable();
    if values.peek().is_none() {
        return Err(HandshakeError::MissingVersion);
    }
    if values.flat_map(list_elements).any(|v| v == super::VERSION.as_bytes()) {
        Ok(())
    } else {
        Err(HandshakeError::UnsupportedVersion)
    }
}

/// `httparse` bounds the header count of bytes it parses; fields from elsewhere are bounded
/// here.
pub(crate) fn check_header_count<F>(headers: &[F], config: &Config) -> Result<(), HandshakeError> {
    if headers.len() > config.max_headers {
        return Err(HandshakeError::TooManyHeaders { limit: config.max_headers });
    }
    Ok(())
}

/// A `Host` or `:authority` value: non-empty, and only characters an authority may hold. They
/// are all ASCII, so the value is text (made `&str` when asked for).
pub(crate) fn host_text<'a>(value: &'a [u8], name: &'static str) -> Result<Text<'a>, HandshakeError> {
    if value.is_empty() {
        return Err(HandshakeError::MissingHost);
    }
    if !value.iter().all(|&c| is_authority_char(c)) {
        return Err(HandshakeError::InvalidHeaderValue(name));
    }
    Ok(Text(value))
}

/// Splits a request-target into the path and query of the resource name (§3, §4.2.1 item 1):
/// origin-form (`/path?query`) or absolute-form (`http://host/path?query`).
pub(crate) fn split_target(target: &str) -> Result<(&str, Option<&str>), HandshakeError> {
    // The request-target never carries a fragment (RFC 9112 §3.2).
    if target.contains('#') {
        return Err(HandshakeError::InvalidTarget);
    }
    let resource = if target.starts_with('/') {
        target
    } else {
        let (scheme, rest) = target.split_once("://").ok_or(HandshakeError::InvalidTarget)?;
        if !["http", "https", "ws", "wss"].iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
            return Err(HandshakeError::InvalidTarget);
        }
        match rest.find(['/', '?']) {
            // Invariant: `find` returns a char boundary within `rest`.
            Some(start) => &rest[start..],
            None => "",
        }
    };
    let (path, query) = match resource.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (resource, None),
    };
    Ok((if path.is_empty() { "/" } else { path }, query))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROMIUM: &[u8] = b"GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com\r\nConnection: Upgrade\r\n\
        Pragma: no-cache\r\nCache-Control: no-cache\r\nUser-Agent: Mozilla/5.0\r\nUpgrade: websocket\r\n\
        Origin: http://example.com\r\nSec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br\r\n\
        Accept-Language: en-US,en;q=0.9\r\nCookie: session=abc\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

    #[test]
    fn parses_a_browser_request() {
        let (request, used) = Request::parse(CHROMIUM, &Config::default()).unwrap().unwrap();
        assert_eq!(used, CHROMIUM.len());
        assert_eq!(request.bootstrap(), Bootstrap::Http1Upgrade);
        assert_eq!(request.target(), "/chat?x=1");
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.query(), Some("x=1"));
        assert_eq!(request.host(), "server.example.com");
        assert_eq!(request.origin(), Some("http://example.com"));
        assert_eq!(request.key(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(request.accept_key().unwrap().as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(request.subprotocols(), [] as [&str; 0]);
        assert_eq!(request.extensions()[0].name(), "permessage-deflate");
        assert_eq!(request.header("cookie"), Some(&b"session=abc"[..]));
        assert_eq!(request.headers().count(), 13);
        let names: Vec<&str> = request.headers().map(|h| h.name).collect();
        assert_eq!(names[..3], ["Host", "Connection", "Pragma"]);
        assert_eq!(
            request.headers().last(),
            Some(Header {
                name: "Sec-WebSocket-Extensions",
                value: b"permessage-deflate; client_max_window_bits"
            })
        );
    }

    /// Header values kept as checked bytes print as the text they are, as `&str` fields do
    /// (cargo mutants: an empty `Debug` for them went unseen).
    #[test]
    fn debug_shows_header_text_as_strings() {
        let (request, _) = Request::parse(CHROMIUM, &Config::default()).unwrap().unwrap();
        let shown = format!("{request:?}");
        for field in [
            r#"host: "server.example.com""#,
            r#"key: Some("dGhlIHNhbXBsZSBub25jZQ==")"#,
            r#"origin: Some("http://example.com")"#,
        ] {
            assert!(shown.contains(field), "{field} not in {shown}");
        }
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_request_moves_cheaply() {
        // Returned by value through a `Result` and an `Option`: see `INLINE_EXTENSIONS`.
        assert!(core::mem::size_of::<Request<'_>>() <= 256, "{}", core::mem::size_of::<Request<'_>>());
        assert_eq!(core::mem::size_of::<Extension<'_>>(), 32);
    }

    #[test]
    fn incomplete_heads_ask_for_more() {
        for end in 0..CHROMIUM.len() {
            assert_eq!(Request::parse(&CHROMIUM[..end], &Config::default()), Ok(None), "at {end}");
        }
    }

    #[test]
    fn targets() {
        assert_eq!(split_target("/"), Ok(("/", None)));
        assert_eq!(split_target("/a/b?c=d?e"), Ok(("/a/b", Some("c=d?e"))));
        assert_eq!(split_target("/?"), Ok(("/", Some(""))));
        assert_eq!(split_target("http://h:1/p?q"), Ok(("/p", Some("q"))));
        assert_eq!(split_target("wss://h"), Ok(("/", None)));
        assert_eq!(split_target("https://h?q"), Ok(("/", Some("q"))));
        assert_eq!(split_target("*"), Err(HandshakeError::InvalidTarget));
        assert_eq!(split_target("h:80"), Err(HandshakeError::InvalidTarget));
        assert_eq!(split_target("ftp://h/"), Err(HandshakeError::InvalidTarget));
        assert_eq!(split_target("/a#b"), Err(HandshakeError::InvalidTarget));
    }

    #[test]
    fn version_rules() {
        let check = |headers: &[Header<'_>]| check_version(headers, &HeaderIndex::new(headers));
        let h = |v: &'static [u8]| [Header { name: "Sec-WebSocket-Version", value: v }];
        assert_eq!(check(&h(b"13")), Ok(()));
        assert_eq!(check(&h(b"8, 13")), Ok(()));
        assert_eq!(check(&h(b"8")), Err(HandshakeError::UnsupportedVersion));
        assert_eq!(check(&h(b"013")), Err(HandshakeError::UnsupportedVersion));
        assert_eq!(check(&h(b"")), Err(HandshakeError::UnsupportedVersion));
        assert_eq!(check(&[]), Err(HandshakeError::MissingVersion));
        // Repeated headers are read in order, whatever lies between them.
        let split = [
            Header { name: "sec-websocket-version", value: b"8" },
            Header { name: "X-Other", value: b"13" },
            Header { name: "Sec-WebSocket-Version", value: b"13" },
        ];
        assert_eq!(check(&split), Ok(()));
        assert_eq!(check(&split[..2]), Err(HandshakeError::UnsupportedVersion));
    }

    #[test]
    fn select_subprotocol_follows_the_client_preference() {
        let head = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
            Sec-WebSocket-Protocol: v2.chat, v1.chat\r\n\r\n";
        let (request, _) = Request::parse(head, &Config::default()).unwrap().unwrap();
        assert_eq!(request.select_subprotocol(&["v1.chat", "v2.chat"]), Some("v2.chat"));
        assert_eq!(request.select_subprotocol(&["v1.chat"]), Some("v1.chat"));
        assert_eq!(request.select_subprotocol(&["other"]), None);
    }

    #[test]
    fn parser_counts_its_work() {
        let mut parser = RequestParser::new(Config::default());
        for byte in CHROMIUM {
            let _ = parser.feed(core::slice::from_ref(byte)).unwrap();
        }
        // Each byte scanned once, plus one parse of the whole head.
        assert_eq!(parser.work(), 2 * CHROMIUM.len() as u64);
    }

    #[test]
    fn a_head_ends_at_its_first_empty_line_even_before_the_request_line() {
        // `httparse` skips empty lines before the request line, so the one-pass path would
        // read a whole request past them; the head ends at the first empty line, as in
        // `RequestParser`.
        let incomplete = Err(HandshakeError::MalformedHead(MalformedHead::IncompleteHead));
        for blank in [&b"\r\n\r\n"[..], b"\n\n"] {
            let buf = [blank, CHROMIUM].concat();
            assert_eq!(Request::parse(&buf, &Config::default()).map(|r| r.map(|(_, used)| used)), incomplete);
            let mut parser = RequestParser::new(Config::default());
            assert_eq!(parser.feed(&buf).map(|r| r.map(|(_, used)| used)), incomplete);
        }
        // One line break before the request line is skipped by both.
        let buf = [&b"\r\n"[..], CHROMIUM].concat();
        assert_eq!(Request::parse(&buf, &Config::default()).unwrap().unwrap().1, buf.len());
        assert_eq!(RequestParser::new(Config::default()).feed(&buf).unwrap().unwrap().1, buf.len());
    }
}
