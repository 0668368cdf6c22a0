//! The transport [`connect`](crate::connect) opens: plain TCP for `ws://`, and for `wss://`
//! (feature `rustls`) TLS over TCP, with the root certificates of a `rustls-*-roots` feature
//! or the [`ClientConfig`](crate::rustls::ClientConfig) given to
//! [`Options::tls_config`](crate::Options::tls_config).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// What [`connect`](crate::connect) connected over: TCP, or TLS over TCP for `wss://`.
///
/// It is `AsyncRead + AsyncWrite` like the stream inside; [`tcp`](Self::tcp) reaches the
/// socket (for its addresses or socket options).
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientStream {
    /// `ws://`: the TCP connection itself.
    Plain(TcpStream),
    /// `wss://`: TLS by rustls over the TCP connection (boxed: it holds the TLS state and
    /// its buffers).
    #[cfg(feature = "rustls")]
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// A stream of an HTTP/2 connection (RFC 8441; [`Options::http2`](crate::Options::http2)),
    /// over TLS for `wss://` or cleartext for `ws://`.
    #[cfg(feature = "http2")]
    Http2(Box<crate::http2::H2Stream>),
}

impl ClientStream {
    /// The TCP connection underneath; `None` for an HTTP/2 stream, whose connection is
    /// the h2 task's.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            ClientStream::Plain(tcp) => Some(tcp),
            #[cfg(feature = "rustls")]
            ClientStream::Rustls(tls) => Some(tls.get_ref().0),
            #[cfg(feature = "http2")]
            ClientStream::Http2(_) => None,
        }
    }

    /// Whether the connection is encrypted (`wss://`).
    pub fn is_tls(&self) -> bool {
        match self {
            ClientStream::Plain(_) => false,
            #[cfg(feature = "rustls")]
            ClientStream::Rustls(_) => true,
            #[cfg(feature = "http2")]
            ClientStream::Http2(stream) => stream.is_tls(),
        }
    }

    /// Whether the WebSocket runs on an HTTP/2 stream (RFC 8441).
    pub fn is_http2(&self) -> bool {
        #[cfg(feature = "http2")]
        return matches!(self, ClientStream::Http2(_));
        #[cfg(not(feature = "http2"))]
        false
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            #[cfg(feature = "rustls")]
            ClientStream::Rustls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            #[cfg(feature = "http2")]
            ClientStream::Http2(h2) => Pin::new(h2.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            ClientStream::Rustls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
            #[cfg(feature = "http2")]
            ClientStream::Http2(h2) => Pin::new(h2.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            #[cfg(feature = "rustls")]
            ClientStream::Rustls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
            #[cfg(feature = "http2")]
            ClientStream::Http2(h2) => Pin::new(h2.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Plain(tcp) => tcp.is_write_vectored(),
            #[cfg(feature = "rustls")]
            ClientStream::Rustls(tls) => tls.is_write_vectored(),
            #[cfg(feature = "http2")]
            ClientStream::Http2(h2) => h2.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            #[cfg(feature = "rustls")]
            ClientStream::Rustls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
            #[cfg(feature = "http2")]
            ClientStream::Http2(h2) => Pin::new(h2.as_mut()).poll_flush(cx),
        }
    }

    /// Shuts the write side down: for TLS, a `close_notify` alert, then the TCP FIN; for an
    /// HTTP/2 stream, `END_STREAM`.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            #[cfg(feature = "rustls")]
            ClientStream::Rustls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
            #[cfg(feature = "http2")]
            ClientStream::Http2(h2) => Pin::new(h2.as_mut()).poll_shutdown(cx),
        }
    }
}

/// TLS for `wss://` clients.
#[cfg(feature = "rustls")]
pub(crate) mod tls {
    use std::io;
    use std::sync::{Arc, OnceLock};

    use tokio::net::TcpStream;
    use tokio_rustls::TlsConnector;
    use tokio_rustls::client::TlsStream;
    use tokio_rustls::rustls::pki_types::ServerName;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    use super::ClientStream;

    /// Runs the TLS handshake on `tcp` for `host` (a name, or an IP address checked against
    /// the certificate's IP addresses), with `config` or the default one.
    pub(crate) async fn connect(
        tcp: TcpStream,
        host: &str,
        config: Option<Arc<ClientConfig>>,
    ) -> io::Result<ClientStream> {
        Ok(ClientStream::Rustls(Box::new(handshake(tcp, host, config, &[]).await?)))
    }

    /// The TLS handshake, offering the `alpn` protocols (none: the config's own).
    pub(crate) async fn handshake(
        tcp: TcpStream,
        host: &str,
        config: Option<Arc<ClientConfig>>,
        alpn: &[&[u8]],
    ) -> io::Result<TlsStream<TcpStream>> {
        let mut config = match config {
            Some(config) => config,
            None => default_config()?,
        };
        if !alpn.is_empty() {
            let mut with_alpn = (*config).clone();
            with_alpn.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
            config = Arc::new(with_alpn);
        }
        let name = ServerName::try_from(host.to_owned())
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        TlsConnector::from(config).connect(name, tcp).await
    }

    /// The client config built from the roots the crate's features name, once per process.
    fn default_config() -> io::Result<Arc<ClientConfig>> {
        static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
        CONFIG
            .get_or_init(|| {
                let roots = roots()?;
                if roots.is_empty() {
                    return Err("wss:// needs root certificates: enable the `rustls-webpki-roots` or \
                                `rustls-native-roots` feature, or give `Options::tls_config`"
                        .to_owned());
                }
                let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
                let config = ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|error| error.to_string())?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Ok(Arc::new(config))
            })
            .clone()
            .map_err(|message| io::Error::new(io::ErrorKind::Unsupported, message))
    }

    /// The root certificates of the enabled `rustls-*-roots` features.
    fn roots() -> Result<RootCertStore, String> {
        #[allow(unused_mut)] // Without a roots feature nothing is added.
        let mut roots = RootCertStore::empty();
        #[cfg(feature = "rustls-webpki-roots")]
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        #[cfg(feature = "rustls-native-roots")]
        {
            let found = rustls_native_certs::load_native_certs();
            // Certificates the platform has but rustls cannot parse are skipped, as browsers do.
            let (_added, _skipped) = roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                if let Some(error) = found.errors.first() {
                    return Err(format!("no usable platform root certificates: {error}"));
                }
            }
        }
        Ok(roots)
    }
}
