//! Conversions from and to the `http` crate's types (feature `http`), for servers and clients
//! that already speak HTTP: hyper, axum, and anything built on them.
//!
//! This file owns only conversions. Every check and every negotiation is the one the byte
//! path uses ([`Request`] validation, [`Request::accept`], [`ClientHandshake::verify`]); a
//! server that parsed HTTP itself gets the same answers as one that hands us bytes. It does
//! not know hyper: over HTTP/2, hyper's `:protocol` (the request extension
//! `hyper::ext::Protocol`) is passed in as a `&str`.

use alloc::vec::Vec;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::head::trim_ows;
use super::request::validate_upgrade;
use super::{
    AcceptResponse, Accepted, ClientHandshake, ClientRequest, Config, HandshakeError, Header, Reject,
    Request, Response, h2,
};
use crate::fault::{HandshakeInput, UsageError};

impl<'a> Request<'a> {
    /// Validates an HTTP/1.1 upgrade request that an HTTP server already parsed (RFC 6455
    /// §4.2.1). `Host` comes from the header, or from the URI's authority if the request
    /// used the absolute form. The head's size was bounded by your HTTP server; the header
    /// count limit of `config` is checked here.
    ///
    /// For an HTTP/2 or HTTP/3 extended CONNECT, use
    /// [`Request::from_http_extended_connect`].
    pub fn from_http<B>(request: &'a http::Request<B>, config: &Config) -> Result<Self, HandshakeError> {
        from_http_fields(request.method(), request.version(), request.uri(), request.headers(), config)
    }

    /// Like [`Request::from_http`], from a request's `Parts` (after `into_parts`).
    pub fn from_http_parts(parts: &'a http::request::Parts, config: &Config) -> Result<Self, HandshakeError> {
        from_http_fields(&parts.method, parts.version, &parts.uri, &parts.headers, config)
    }

    /// Validates an RFC 8441 extended CONNECT that an HTTP/2 (or HTTP/3) server already
    /// decoded. `protocol` is the `:protocol` pseudo-header, which the `http` types do not
    /// carry: hyper users get it with
    /// `request.extensions().get::<hyper::ext::Protocol>().map(|p| p.as_str())`.
    ///
    /// ```
    /// use rfc6455::handshake::{Accept, Config, Request};
    ///
    /// let http_request = http::Request::connect("https://example.com/chat")
    ///     .version(http::Version::HTTP_2)
    ///     .header("sec-websocket-version", "13")
    ///     .header("sec-websocket-protocol", "chat")
    ///     .body(())?;
    /// let request = Request::from_http_extended_connect(&http_request, Some("websocket"), &Config::default())?;
    /// let response = request.accept(&Accept::new().with_subprotocol("chat"))?.to_http()?;
    /// assert_eq!(response.status(), http::StatusCode::OK);
    /// assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_http_extended_connect<B>(
        request: &'a http::Request<B>,
        protocol: Option<&str>,
        config: &Config,
    ) -> Result<Self, HandshakeError> {
        let uri = request.uri();
        let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
        let authority = uri.authority().map(|a| a.as_str());
        let headers = convert_headers(request.headers());
        h2::validate_extended_connect(request.method().as_str(), protocol, path, authority, headers, config)
    }
}

fn from_http_fields<'a>(
    method: &http::Method,
    version: http::Version,
    uri: &'a http::Uri,
    headers: &'a HeaderMap,
    config: &Config,
) -> Result<Request<'a>, HandshakeError> {
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let authority = uri.authority().map(|a| a.as_str());
    validate_upgrade(
        method.as_str(),
        version >= http::Version::HTTP_11,
        target,
        authority,
        convert_headers(headers),
        config,
    )
}

fn convert_headers(headers: &HeaderMap) -> Vec<Header<'_>> {
    headers
        .iter()
        .map(|(name, value)| Header { name: name.as_str(), value: trim_ows(value.as_bytes()) })
        .collect()
}

/// Builds an `http` header map, reporting a value the `http` crate refuses as a usage error.
fn header_map<'h>(headers: impl Iterator<Item = (&'h str, &'h [u8])>) -> Result<HeaderMap, UsageError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| UsageError::InvalidHandshakeInput(HandshakeInput::RefusedByHttpCrate))?;
        let value = HeaderValue::from_bytes(value)
            .map_err(|_| UsageError::InvalidHandshakeInput(HandshakeInput::RefusedByHttpCrate))?;
        map.append(name, value);
    }
    Ok(map)
}

fn response(status: u16, headers: HeaderMap) -> Result<http::Response<()>, UsageError> {
    let status = http::StatusCode::from_u16(status)
        .map_err(|_| UsageError::InvalidHandshakeInput(HandshakeInput::RefusedByHttpCrate))?;
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

impl AcceptResponse<'_> {
    /// The response as an `http::Response<()>`: `101` with the upgrade headers for HTTP/1.1,
    /// `200` for an extended CONNECT. Return it from your handler; the connection (or stream)
    /// carries frames once your server has sent it.
    pub fn to_http(&self) -> Result<http::Response<()>, UsageError> {
        response(self.status(), header_map(self.headers())?)
    }
}

impl Reject<'_> {
    /// The rejection as an `http::Response<()>` with its status and headers. The body is
    /// [`Reject::body`]: attach it with your server's body type. `Content-Length` and
    /// `Connection` are left to your server.
    pub fn to_http(&self) -> Result<http::Response<()>, UsageError> {
        self.check()?;
        response(self.status(), header_map(self.headers().iter().map(|&(n, v)| (n, v.as_bytes())))?)
    }
}

impl ClientRequest<'_> {
    /// The request as an `http::Request<()>` (for hyper's client connection), and the
    /// [`ClientHandshake`] to verify the response with. The URI is the resource name
    /// (origin-form) and `Host` is among the headers, which is what goes on an HTTP/1.1 wire.
    ///
    /// ```
    /// use rfc6455::handshake::{ClientRequest, WebSocketKey};
    ///
    /// let key = WebSocketKey::from_bytes(*b"the sample nonce");
    /// let (request, handshake) = ClientRequest::new("ws://example.com/chat", key)?.to_http()?;
    /// assert_eq!(request.uri(), "/chat");
    /// assert_eq!(request.headers()["sec-websocket-key"], "dGhlIHNhbXBsZSBub25jZQ==");
    ///
    /// // What hyper gives back once the server has answered.
    /// let response = http::Response::builder()
    ///     .status(101)
    ///     .header("upgrade", "websocket")
    ///     .header("connection", "upgrade")
    ///     .header("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    ///     .body(())?;
    /// let accepted = handshake.verify_http(&response)?;
    /// assert_eq!(accepted.subprotocol(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_http(&self) -> Result<(http::Request<()>, ClientHandshake), UsageError> {
        let handshake = self.check()?;
        let resource = alloc::string::ToString::to_string(&self.uri().resource_name());
        let uri = http::Uri::try_from(resource)
            .map_err(|_| UsageError::InvalidHandshakeInput(HandshakeInput::RefusedByHttpCrate))?;
        let list = self.header_list();
        let headers = header_map(list.iter().map(|(name, value)| (*name, value.as_bytes())))?;
        let mut request = http::Request::new(());
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        *request.version_mut() = http::Version::HTTP_11;
        Ok((request, handshake))
    }
}

impl ClientRequest<'_> {
    /// The extended CONNECT of [`ClientRequest::extended_connect`] as an `http::Request<()>`
    /// for an HTTP/2 client (hyper's or the `h2` crate's): method `CONNECT`, version HTTP/2,
    /// the absolute URI `scheme://authority/path` (from which those libraries take
    /// `:scheme`, `:authority` and `:path`), and the header fields. The `http` crate has no
    /// type for `:protocol`: insert `hyper::ext::Protocol::from_static("websocket")` (or
    /// `h2::ext::Protocol`) into the request's extensions before sending it.
    ///
    /// ```
    /// use rfc6455::handshake::{Bootstrap, ClientRequest, WebSocketKey};
    ///
    /// let key = WebSocketKey::from_bytes([7; 16]);
    /// let (request, handshake) = ClientRequest::new("wss://example.com/chat", key)?
    ///     .with_subprotocol("chat")
    ///     .to_http_extended_connect()?;
    /// assert_eq!(request.method(), http::Method::CONNECT);
    /// assert_eq!(request.uri(), "https://example.com/chat");
    /// assert_eq!(request.version(), http::Version::HTTP_2);
    /// assert_eq!(request.headers()["sec-websocket-protocol"], "chat");
    /// assert!(request.headers().get("sec-websocket-key").is_none());
    /// assert_eq!(handshake.bootstrap(), Bootstrap::ExtendedConnect);
    ///
    /// // The server's answer on the stream: a 200, no Sec-WebSocket-Accept.
    /// let response = http::Response::builder()
    ///     .status(200)
    ///     .header("sec-websocket-protocol", "chat")
    ///     .body(())?;
    /// assert_eq!(handshake.verify_http(&response)?.subprotocol(), Some("chat"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_http_extended_connect(&self) -> Result<(http::Request<()>, ClientHandshake), UsageError> {
        let (connect, handshake) = self.extended_connect()?;
        let refused = || UsageError::InvalidHandshakeInput(HandshakeInput::RefusedByHttpCrate);
        let uri = http::Uri::builder()
            .scheme(connect.scheme())
            .authority(connect.authority())
            .path_and_query(connect.path())
            .build()
            .map_err(|_| refused())?;
        let headers = header_map(connect.headers().map(|header| (header.name, header.value)))?;
        let mut request = http::Request::new(());
        *request.method_mut() = http::Method::CONNECT;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        *request.version_mut() = http::Version::HTTP_2;
        Ok((request, handshake))
    }
}

impl<'a> Response<'a> {
    /// A response head from the `http` type, for [`ClientHandshake::verify`].
    /// [`Response::head_len`] is zero: the body is the `http` response's, not in a buffer.
    pub fn from_http<B>(response: &'a http::Response<B>) -> Self {
        Response {
            status: response.status().as_u16(),
            reason: response.status().canonical_reason().unwrap_or(""),
            headers: convert_headers(response.headers()),
            head_len: 0,
        }
    }
}

impl ClientHandshake {
    /// [`ClientHandshake::verify`] for a response the caller's HTTP client parsed.
    pub fn verify_http<'r, B>(
        &self,
        response: &'r http::Response<B>,
    ) -> Result<Accepted<'r>, HandshakeError> {
        self.verify(&Response::from_http(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{Accept, Bootstrap, WebSocketKey};

    fn upgrade_request() -> http::Request<()> {
        http::Request::get("/chat?x=1")
            .header("host", "example.com")
            .header("upgrade", "websocket")
            .header("connection", "keep-alive, Upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "chat")
            .header("origin", "https://example.com")
            .body(())
            .unwrap()
    }

    #[test]
    fn server_round_trip() {
        let http_request = upgrade_request();
        let request = Request::from_http(&http_request, &Config::default()).unwrap();
        assert_eq!(request.bootstrap(), Bootstrap::Http1Upgrade);
        assert_eq!((request.path(), request.query(), request.host()), ("/chat", Some("x=1"), "example.com"));
        let response =
            request.accept(&Accept::new().with_subprotocol("chat").with_header("Set-Cookie", "a=b")).unwrap();
        let http_response = response.to_http().unwrap();
        assert_eq!(http_response.status(), 101);
        assert_eq!(http_response.headers()["upgrade"], "websocket");
        assert_eq!(http_response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(http_response.headers()["sec-websocket-protocol"], "chat");
        assert_eq!(http_response.headers()["set-cookie"], "a=b");
        // The same negotiation rules as the byte path.
        assert_eq!(
            request.accept(&Accept::new().with_subprotocol("x")),
            Err(UsageError::SubprotocolNotOffered)
        );

        let (parts, ()) = upgrade_request().into_parts();
        assert_eq!(Request::from_http_parts(&parts, &Config::default()).unwrap().path(), "/chat");
    }

    #[test]
    fn server_rejections() {
        let mut http_request = upgrade_request();
        *http_request.method_mut() = http::Method::POST;
        let error = Request::from_http(&http_request, &Config::default()).unwrap_err();
        assert_eq!(error, HandshakeError::MethodNotAllowed);
        let response = Reject::for_error(&error).to_http().unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "GET");

        let mut http_request = upgrade_request();
        *http_request.version_mut() = http::Version::HTTP_10;
        assert_eq!(
            Request::from_http(&http_request, &Config::default()),
            Err(HandshakeError::UnsupportedHttpVersion)
        );

        let mut http_request = upgrade_request();
        http_request.headers_mut().insert("sec-websocket-version", HeaderValue::from_static("8"));
        let error = Request::from_http(&http_request, &Config::default()).unwrap_err();
        let response = Reject::for_error(&error).to_http().unwrap();
        assert_eq!(response.status(), 426);
        assert_eq!(response.headers()["sec-websocket-version"], "13");

        let few = Config::new().with_max_headers(3);
        assert_eq!(
            Request::from_http(&upgrade_request(), &few),
            Err(HandshakeError::TooManyHeaders { limit: 3 })
        );
        assert_eq!(
            Reject::new(200).to_http().err(),
            Some(UsageError::InvalidHandshakeInput(crate::fault::HandshakeInput::RejectStatus))
        );
    }

    #[test]
    fn host_from_an_absolute_uri() {
        let mut http_request = upgrade_request();
        http_request.headers_mut().remove("host");
        assert_eq!(Request::from_http(&http_request, &Config::default()), Err(HandshakeError::MissingHost));
        *http_request.uri_mut() = http::Uri::from_static("http://example.org:8080/chat");
        let request = Request::from_http(&http_request, &Config::default()).unwrap();
        assert_eq!((request.host(), request.path()), ("example.org:8080", "/chat"));
    }

    #[test]
    fn extended_connect() {
        let http_request = http::Request::connect("https://example.com/chat")
            .version(http::Version::HTTP_2)
            .header("sec-websocket-version", "13")
            .header("sec-websocket-extensions", "permessage-deflate")
            .body(())
            .unwrap();
        let config = Config::default();
        assert_eq!(
            Request::from_http_extended_connect(&http_request, None, &config),
            Err(HandshakeError::NotWebSocketProtocol)
        );
        let request = Request::from_http_extended_connect(&http_request, Some("websocket"), &config).unwrap();
        assert_eq!((request.host(), request.path()), ("example.com", "/chat"));
        let response =
            request.accept(&Accept::new().with_extension("permessage-deflate")).unwrap().to_http().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["sec-websocket-extensions"], "permessage-deflate");
        assert!(response.headers().get("sec-websocket-accept").is_none());
        assert_eq!(
            Request::from_http_extended_connect(&upgrade_request(), Some("websocket"), &config),
            Err(HandshakeError::ConnectRequired)
        );
    }

    #[test]
    fn client_round_trip() {
        let key = WebSocketKey::from_bytes(*b"the sample nonce");
        let (request, handshake) = ClientRequest::new("wss://example.com:8443/chat?x", key)
            .unwrap()
            .with_subprotocol("chat")
            .with_extension("permessage-deflate")
            .to_http()
            .unwrap();
        assert_eq!(request.uri(), "/chat?x");
        assert_eq!(request.method(), http::Method::GET);
        assert_eq!(request.headers()["host"], "example.com:8443");
        assert_eq!(request.headers()["sec-websocket-protocol"], "chat");

        // The server side of this crate accepts what the client side built.
        let server = Request::from_http(&request, &Config::default()).unwrap();
        let answer = server
            .accept(&Accept::new().with_subprotocol("chat").with_extension("permessage-deflate"))
            .unwrap()
            .to_http()
            .unwrap();
        let accepted = handshake.verify_http(&answer).unwrap();
        assert_eq!(accepted.subprotocol(), Some("chat"));
        assert_eq!(accepted.extensions()[0].name(), "permessage-deflate");

        let redirect = http::Response::builder().status(302).header("location", "/x").body(()).unwrap();
        assert_eq!(
            handshake.verify_http(&redirect),
            Err(HandshakeError::UnexpectedStatus { status: 302, body_offset: 0 })
        );
    }
}
