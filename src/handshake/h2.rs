//! Bootstrapping WebSockets over HTTP/2 and HTTP/3 with an extended CONNECT (RFC 8441,
//! RFC 9220).
//!
//! This file owns the checks RFC 8441 §5 puts on an extended CONNECT: method `CONNECT`,
//! `:protocol` `websocket`, `sec-websocket-version: 13`, no `Connection` or `Upgrade`, no key
//! to prove. The result is the same [`Request`] an HTTP/1.1 upgrade gives, negotiated by the
//! same [`Request::accept`], answered with `200` instead of `101`. It does not know HTTP/2
//! framing, HPACK or streams: the caller's HTTP/2 library has already decoded the header
//! block (and advertised `SETTINGS_ENABLE_CONNECT_PROTOCOL`, RFC 8441 §3).

use alloc::vec::Vec;

use super::head::{HeaderIndex, Known};
use super::request::{
    Bootstrap, Request, check_header_count, check_version, host_text, read_offer, split_target,
};
use super::{Config, HandshakeError, Header};

/// The decoded header block of an HTTP/2 or HTTP/3 request that may be an extended CONNECT.
///
/// ```
/// use rfc6455::handshake::{Accept, Config, ExtendedConnect, Header, Request};
///
/// // RFC 8441 §5.1's example.
/// let headers = [
///     Header { name: "sec-websocket-protocol", value: b"chat, superchat" },
///     Header { name: "sec-websocket-extensions", value: b"permessage-deflate" },
///     Header { name: "sec-websocket-version", value: b"13" },
///     Header { name: "origin", value: b"http://www.example.com" },
/// ];
/// let connect = ExtendedConnect {
///     method: "CONNECT",
///     protocol: Some("websocket"),
///     path: "/chat",
///     authority: Some("server.example.com"),
///     headers: &headers,
/// };
/// let request = Request::from_extended_connect(&connect, &Config::default())?;
/// let response = request.accept(&Accept::new().with_subprotocol("chat"))?;
/// assert_eq!(response.status(), 200);
/// let headers: Vec<_> = response.headers().collect();
/// assert_eq!(headers, [("sec-websocket-protocol", &b"chat"[..])]);
/// # Ok::<(), rfc6455::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedConnect<'a> {
    /// The `:method` pseudo-header.
    pub method: &'a str,
    /// The `:protocol` pseudo-header (RFC 8441 §4), if present.
    pub protocol: Option<&'a str>,
    /// The `:path` pseudo-header: the resource name.
    pub path: &'a str,
    /// The `:authority` pseudo-header (it replaces `Host`, RFC 8441 §5).
    pub authority: Option<&'a str>,
    /// The regular header fields, in order (lowercase names, as HTTP/2 sends them).
    pub headers: &'a [Header<'a>],
}

impl<'a> Request<'a> {
    /// Validates an extended CONNECT (RFC 8441 §4–§5; RFC 9220 for HTTP/3). Answer the result
    /// with [`Request::accept`], whose [`AcceptResponse`](super::AcceptResponse) has status
    /// `200`, or with a [`Reject`](super::Reject).
    pub fn from_extended_connect(
        connect: &ExtendedConnect<'a>,
        config: &Config,
    ) -> Result<Self, HandshakeError> {
        validate_extended_connect(
            connect.method,
            connect.protocol,
            connect.path,
            connect.authority,
            connect.headers.to_vec(),
            config,
        )
    }
}

/// The checks of RFC 8441 §5, shared with the `http` adapter.
pub(crate) fn validate_extended_connect<'a>(
    method: &str,
    protocol: Option<&str>,
    path: &'a str,
    authority: Option<&'a str>,
    headers: Vec<Header<'a>>,
    config: &Config,
) -> Result<Request<'a>, HandshakeError> {
    if method != "CONNECT" {
        return Err(HandshakeError::ConnectRequired);
    }
    // §5: ":protocol ... MUST have a value of "websocket"". Upgrade tokens compare
    // case-insensitively (RFC 9110 §7.8).
    if !protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket")) {
        return Err(HandshakeError::NotWebSocketProtocol);
    }
    check_header_count(&headers, config)?;
    // §5: Connection and Upgrade "MUST NOT be included".
    let index = HeaderIndex::new(&headers);
    if index.has(Known::Connection) || index.has(Known::Upgrade) {
        return Err(HandshakeError::ConnectionSpecificHeader);
    }
    let host = host_text(authority.ok_or(HandshakeError::MissingHost)?.as_bytes(), ":authority")?;
    // Over HTTP/2 the path is always origin-form.
    if !path.starts_with('/') {
        return Err(HandshakeError::InvalidTarget);
    }
    let (path_only, query) = split_target(path)?;
    check_version(&headers, &index)?;
    // §5: Sec-WebSocket-Key is not processed; a stray one is ignored, but not twice.
    index.single(&headers, Known::Key)?;
    let offer = read_offer(&headers, &index)?;
    Ok(Request {
        bootstrap: Bootstrap::ExtendedConnect,
        target: path,
        path: path_only,
        query,
        host,
        key: None,
        origin: offer.origin,
        subprotocols: offer.subprotocols,
        extensions: offer.extensions,
        headers: headers.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::UsageError;
    use crate::handshake::Accept;

    const HEADERS: [Header<'static>; 3] = [
        Header { name: "sec-websocket-version", value: b"13" },
        Header { name: "sec-websocket-extensions", value: b"permessage-deflate; client_max_window_bits" },
        Header { name: "cookie", value: b"a=b" },
    ];

    fn connect<'a>(headers: &'a [Header<'a>]) -> ExtendedConnect<'a> {
        ExtendedConnect {
            method: "CONNECT",
            protocol: Some("websocket"),
            path: "/ws?x",
            authority: Some("example.com:8443"),
            headers,
        }
    }

    #[test]
    fn valid_connect() {
        let request = Request::from_extended_connect(&connect(&HEADERS), &Config::default()).unwrap();
        assert_eq!(request.bootstrap(), Bootstrap::ExtendedConnect);
        assert_eq!((request.path(), request.query(), request.host()), ("/ws", Some("x"), "example.com:8443"));
        assert_eq!(request.key(), None);
        assert_eq!(request.header("cookie"), Some(&b"a=b"[..]));
        let response = request.accept(&Accept::new().with_extension("permessage-deflate")).unwrap();
        assert_eq!(response.status(), 200);
        let headers: Vec<_> = response.headers().collect();
        assert_eq!(headers, [("sec-websocket-extensions", &b"permessage-deflate"[..])]);
        // Over HTTP/2 there are no HTTP/1.1 bytes to write.
        let mut out = Vec::new();
        assert!(matches!(response.write(&mut out), Err(UsageError::InvalidHandshakeInput(_))));
        assert!(out.is_empty());
    }

    #[test]
    fn each_rule() {
        let config = Config::default();
        let check = |c: ExtendedConnect<'_>| Request::from_extended_connect(&c, &config).map(|_| ());
        assert_eq!(
            check(ExtendedConnect { method: "GET", ..connect(&HEADERS) }),
            Err(HandshakeError::ConnectRequired)
        );
        assert_eq!(
            check(ExtendedConnect { protocol: None, ..connect(&HEADERS) }),
            Err(HandshakeError::NotWebSocketProtocol)
        );
        assert_eq!(
            check(ExtendedConnect { protocol: Some("h2c"), ..connect(&HEADERS) }),
            Err(HandshakeError::NotWebSocketProtocol)
        );
        assert_eq!(check(ExtendedConnect { protocol: Some("WebSocket"), ..connect(&HEADERS) }), Ok(()));
        assert_eq!(
            check(ExtendedConnect { authority: None, ..connect(&HEADERS) }),
            Err(HandshakeError::MissingHost)
        );
        assert_eq!(
            check(ExtendedConnect { authority: Some("a b"), ..connect(&HEADERS) }),
            Err(HandshakeError::InvalidHeaderValue(":authority"))
        );
        assert_eq!(
            check(ExtendedConnect { path: "", ..connect(&HEADERS) }),
            Err(HandshakeError::InvalidTarget)
        );
        assert_eq!(
            check(ExtendedConnect { path: "*", ..connect(&HEADERS) }),
            Err(HandshakeError::InvalidTarget)
        );
        let no_version = [HEADERS[1], HEADERS[2]];
        assert_eq!(check(connect(&no_version)), Err(HandshakeError::MissingVersion));
        let old = [Header { name: "sec-websocket-version", value: b"8" }];
        assert_eq!(check(connect(&old)), Err(HandshakeError::UnsupportedVersion));
        let with_upgrade = [HEADERS[0], Header { name: "upgrade", value: b"websocket" }];
        assert_eq!(check(connect(&with_upgrade)), Err(HandshakeError::ConnectionSpecificHeader));
        let with_connection = [HEADERS[0], Header { name: "connection", value: b"upgrade" }];
        assert_eq!(check(connect(&with_connection)), Err(HandshakeError::ConnectionSpecificHeader));
        let with_key = [HEADERS[0], Header { name: "sec-websocket-key", value: b"ignored" }];
        assert_eq!(check(connect(&with_key)), Ok(()));
        let bad_protocols = [HEADERS[0], Header { name: "sec-websocket-protocol", value: b"a b" }];
        assert_eq!(check(connect(&bad_protocols)), Err(HandshakeError::InvalidSubprotocol));
        let few = Config::new().with_max_headers(2);
        assert_eq!(
            Request::from_extended_connect(&connect(&HEADERS), &few),
            Err(HandshakeError::TooManyHeaders { limit: 2 })
        );
    }
}
