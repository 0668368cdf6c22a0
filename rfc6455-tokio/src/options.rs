//! [`Options`]: the core's limits and timers with the adapter's defaults, the opening
//! handshake's settings, and what the adapter itself buffers.

use std::fmt;
use std::time::Duration;

use rfc6455::connection::{Config, TimeoutConfig};
use rfc6455::handshake::{self, Accept, Reject, Request};

use crate::FairShare;

/// Send a Ping after this long without hearing from the peer: 20 s.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
/// Declare the peer dead when nothing arrives this long after a keepalive Ping: 20 s.
pub const DEFAULT_PONG_TIMEOUT: Duration = Duration::from_secs(20);
/// Wait this long for the peer's Close after ours, and for the transport to finish after the
/// end: 10 s.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// The opening handshake must complete within this: 10 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Received messages that wait for the application, in bytes: 1 MiB.
pub const DEFAULT_MAX_UNREAD: usize = 1 << 20;
/// After failing a connection, keep the transport for the peer to read our Close at most this long: 2 s.
pub const DEFAULT_LINGER_TIME: Duration = Duration::from_secs(2);
/// After failing a connection, discard at most this many bytes of the peer's input: 1 MiB.
pub const DEFAULT_LINGER_BYTES: usize = 1 << 20;

/// The core's [`Config`] with the adapter's defaults: the core's limits (64 MiB messages,
/// 1 MiB of pending output), and, unlike the core, keepalive and the close timeout on
/// ([`DEFAULT_PING_INTERVAL`], [`DEFAULT_PONG_TIMEOUT`], [`DEFAULT_CLOSE_TIMEOUT`], the
/// values python-websockets uses). A dead peer is noticed within 40 s.
pub fn default_config() -> Config {
    Config::default().timeouts(
        TimeoutConfig::default()
            .ping_interval(DEFAULT_PING_INTERVAL)
            .pong_timeout(DEFAULT_PONG_TIMEOUT)
            .close_timeout(DEFAULT_CLOSE_TIMEOUT),
    )
}

/// The hook a server runs on the request: see [`Options::on_request`].
pub(crate) type Hook = Box<dyn FnOnce(&Request<'_>) -> Decision + Send>;

/// Settings for a connection and its opening handshake, built with chained calls.
///
/// Both sides use [`config`](Self::config), [`handshake_config`](Self::handshake_config),
/// [`handshake_timeout`](Self::handshake_timeout), [`max_unread`](Self::max_unread) and
/// [`linger`](Self::linger). A server uses [`on_request`](Self::on_request); a client
/// [`subprotocol`](Self::subprotocol), [`header`](Self::header) and [`origin`](Self::origin).
///
/// ```
/// use std::time::Duration;
/// use rfc6455_tokio::{Decision, Options};
///
/// let options = Options::default()
///     .config(rfc6455_tokio::default_config().max_message_size(1 << 20))
///     .handshake_timeout(Some(Duration::from_secs(5)))
///     .on_request(|request| match request.header("Authorization") {
///         Some(b"Bearer secret") => Decision::accept().with_subprotocol_from(request, &["chat"]),
///         _ => Decision::reject(401).with_header("WWW-Authenticate", "Bearer"),
///     });
/// # drop(options);
/// ```
pub struct Options {
    pub(crate) config: Config,
    pub(crate) handshake: handshake::Config,
    pub(crate) handshake_timeout: Option<Duration>,
    pub(crate) max_unread: usize,
    pub(crate) linger_time: Duration,
    pub(crate) linger_bytes: usize,
    pub(crate) on_request: Option<Hook>,
    pub(crate) subprotocols: Vec<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) origin: Option<String>,
    pub(crate) fair_share: Option<FairShare>,
    #[cfg(feature = "rustls")]
    pub(crate) tls: Option<std::sync::Arc<crate::rustls::ClientConfig>>,
    #[cfg(feature = "http2")]
    pub(crate) http2: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            config: default_config(),
            handshake: handshake::Config::default(),
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            max_unread: DEFAULT_MAX_UNREAD,
            linger_time: DEFAULT_LINGER_TIME,
            linger_bytes: DEFAULT_LINGER_BYTES,
            on_request: None,
            subprotocols: Vec::new(),
            headers: Vec::new(),
            origin: None,
            fair_share: None,
            #[cfg(feature = "rustls")]
            tls: None,
            #[cfg(feature = "http2")]
            http2: false,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("Options");
        f.field("config", &self.config)
            .field("handshake", &self.handshake)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_unread", &self.max_unread)
            .field("linger", &(self.linger_time, self.linger_bytes))
            .field("on_request", &self.on_request.is_some())
            .field("subprotocols", &self.subprotocols)
            .field("headers", &self.headers)
            .field("origin", &self.origin)
            .field("fair_share", &self.fair_share);
        #[cfg(feature = "rustls")]
        f.field("tls", &self.tls.is_some());
        #[cfg(feature = "http2")]
        f.field("http2", &self.http2);
        f.finish()
    }
}

impl Options {
    /// The connection's config as the WebSocket runs it: messages delivered whole.
    pub(crate) fn connection_config(&self) -> Config {
        let mut config = self.config.clone();
        config.streaming = false;
        // One poll decodes a bounded number of frames that give no message (see the driver).
        config.frame_budget.get_or_insert(crate::driver::FRAME_BUDGET);
        config
    }

    /// The connection's limits, timers and permessage-deflate policy (default
    /// [`default_config`]). [`Config::streaming`] is ignored: messages arrive whole.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The limits on the handshake's HTTP head (size, header count).
    pub fn handshake_config(mut self, config: handshake::Config) -> Self {
        self.handshake = config;
        self
    }

    /// How long the opening handshake may take (default [`DEFAULT_HANDSHAKE_TIMEOUT`];
    /// `None`: no limit). A server answers a late request with `408`.
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How many bytes of received messages may wait for the application (default
    /// [`DEFAULT_MAX_UNREAD`]). Each message counts its payload plus 64 bytes. Once this much
    /// waits, the socket is not read until the application takes messages, so at most this
    /// plus one message ([`Config::max_message_size`]) is held. While our close handshake is
    /// running, messages past the bound are discarded instead, so the peer's Close is still
    /// read.
    pub fn max_unread(mut self, bytes: usize) -> Self {
        self.max_unread = bytes;
        self
    }

    /// The lingering close after we fail a connection (default [`DEFAULT_LINGER_TIME`],
    /// [`DEFAULT_LINGER_BYTES`]): the Close is written, the write side shut down, and the
    /// transport kept until the peer ends its side, for at most `time`, so that the peer
    /// reads the Close instead of a TCP reset. Its input is read and discarded up to `bytes`;
    /// past that it is left unread (our memory stays bounded; a peer still writing blocks
    /// instead of being reset) until `time` ends.
    pub fn linger(mut self, time: Duration, bytes: usize) -> Self {
        self.linger_time = time;
        self.linger_bytes = bytes;
        self
    }

    /// Server: the hook that sees the whole request (path, query, headers such as `Cookie`,
    /// `Authorization` and `Origin`, offered subprotocols) and decides. Without one, every
    /// valid request is accepted with no subprotocol.
    pub fn on_request(mut self, hook: impl FnOnce(&Request<'_>) -> Decision + Send + 'static) -> Self {
        self.on_request = Some(Box::new(hook));
        self
    }

    /// Shares turns with the other connections of `share` (a server's): when this connection
    /// keeps the runtime busy, its polls take turns with theirs, and connections whose input
    /// just arrived go first. See [`FairShare`]. Default: none (a busy connection is back
    /// in the run queue after each poll, like any task).
    pub fn fair_share(mut self, share: &FairShare) -> Self {
        self.fair_share = Some(share.clone());
        self
    }

    /// Client: offers a subprotocol; call once per subprotocol, most preferred first.
    pub fn subprotocol(mut self, subprotocol: &str) -> Self {
        self.subprotocols.push(subprotocol.to_owned());
        self
    }

    /// Client: adds a request header (`Authorization`, `Cookie`). The handshake's own
    /// headers are refused when the request is written.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Client: sends `Origin`.
    pub fn origin(mut self, origin: &str) -> Self {
        self.origin = Some(origin.to_owned());
        self
    }

    /// Client, `wss://` in [`connect_with`](crate::connect_with): the TLS configuration
    /// (roots to trust, client certificates, ALPN), instead of the default one built from
    /// the `rustls-webpki-roots` or `rustls-native-roots` feature's roots.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use rfc6455_tokio::rustls::{ClientConfig, RootCertStore, crypto::ring};
    ///
    /// # async fn run(my_ca: rfc6455_tokio::rustls::pki_types::CertificateDer<'static>) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut roots = RootCertStore::empty();
    /// roots.add(my_ca)?;
    /// let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
    ///     .with_safe_default_protocol_versions()?
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let options = rfc6455_tokio::Options::default().tls_config(Arc::new(config));
    /// let ws = rfc6455_tokio::connect_with("wss://localhost:9443/", options).await?;
    /// # drop(ws);
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "rustls")]
    pub fn tls_config(mut self, config: std::sync::Arc<crate::rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// For [`connect`](crate::connect) and [`connect_with`](crate::connect_with) (client):
    /// open the WebSocket over HTTP/2 (RFC 8441), as browsers do, on a connection of its
    /// own (to share one among several WebSockets, use
    /// [`Http2Connection`](crate::http2::Http2Connection)). Off by default.
    ///
    /// - `wss://` offers `h2` and `http/1.1` by ALPN. When the server chooses HTTP/1.1, the
    ///   WebSocket opens with the HTTP/1.1 upgrade on that same connection; when it speaks
    ///   HTTP/2 but its SETTINGS do not allow extended CONNECT (RFC 8441 §3), on a new
    ///   connection that offers only `http/1.1`. Either way the caller gets a WebSocket.
    /// - `ws://` speaks HTTP/2 in cleartext from the first byte (h2c with prior knowledge):
    ///   only for servers known to accept it; there is no fallback.
    ///
    /// [`ClientStream::is_http2`](crate::ClientStream::is_http2) tells which one it became.
    #[cfg(feature = "http2")]
    pub fn http2(mut self, on: bool) -> Self {
        self.http2 = on;
        self
    }
}

/// An acceptance's `101` (or `200`) as the core writes it: the chosen subprotocol and the
/// extra headers.
pub(crate) fn accept_of<'a>(subprotocol: Option<&'a str>, headers: &'a [(String, String)]) -> Accept<'a> {
    headers.iter().fold(Accept::new().with_subprotocol(subprotocol), |accept, (name, value)| {
        accept.with_header(name, value)
    })
}

/// A rejection's status and extra headers as the core writes them (the body apart).
pub(crate) fn reject_of(status: u16, headers: &[(String, String)]) -> Reject<'_> {
    headers.iter().fold(Reject::new(status), |reject, (name, value)| reject.with_header(name, value))
}

/// A server's answer to a request, returned by the [`Options::on_request`] hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Accept: `101 Switching Protocols`.
    Accept {
        /// The subprotocol to speak; one the client offered (else the handshake fails with
        /// a `500` to the client).
        subprotocol: Option<String>,
        /// Extra response headers (`Set-Cookie`); the handshake's own are refused.
        headers: Vec<(String, String)>,
    },
    /// Reject with an HTTP error.
    Reject {
        /// A 3xx, 4xx or 5xx status.
        status: u16,
        /// Extra headers (`WWW-Authenticate`, `Location`).
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
}

impl Decision {
    /// Accept with no subprotocol and no extra headers.
    pub fn accept() -> Self {
        Decision::Accept { subprotocol: None, headers: Vec::new() }
    }

    /// Reject with `status`, no extra headers and an empty body.
    pub fn reject(status: u16) -> Self {
        Decision::Reject { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Speak `subprotocol` (an acceptance; ignored on a rejection).
    pub fn with_subprotocol(mut self, chosen: &str) -> Self {
        if let Decision::Accept { subprotocol, .. } = &mut self {
            *subprotocol = Some(chosen.to_owned());
        }
        self
    }

    /// Speak the first subprotocol, in the client's order of preference, that is in
    /// `supported`, if any (an acceptance; see [`Request::select_subprotocol`]).
    pub fn with_subprotocol_from(self, request: &Request<'_>, supported: &[&str]) -> Self {
        match request.select_subprotocol(supported) {
            Some(chosen) => self.with_subprotocol(chosen),
            None => self,
        }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        match &mut self {
            Decision::Accept { headers, .. } | Decision::Reject { headers, .. } => {
                headers.push((name.to_owned(), value.to_owned()));
            }
        }
        self
    }

    /// Sets a rejection's body (ignored on an acceptance).
    pub fn with_body(mut self, content: impl Into<Vec<u8>>) -> Self {
        if let Decision::Reject { body, .. } = &mut self {
            *body = content.into();
        }
        self
    }
}
