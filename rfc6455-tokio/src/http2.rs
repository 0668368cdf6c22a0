//! WebSockets over HTTP/2 for clients (RFC 8441): an [`Http2Connection`] to a server, on
//! which each WebSocket is an extended CONNECT stream ([`H2Stream`]).
//!
//! The core builds the extended CONNECT and verifies its `2xx`
//! ([`ClientRequest::extended_connect`](rfc6455::handshake::ClientRequest::extended_connect));
//! the `h2` crate does the HTTP/2 framing and flow control. This module opens the connection
//! (h2c with prior knowledge for `ws://`, TLS with ALPN `h2` for `wss://`), waits for the
//! server's SETTINGS to allow extended CONNECT (§3), and turns a stream into the transport a
//! [`WebSocket`] runs on. The stream stands in for TCP (§5): the WebSocket's orderly end of
//! its side (where TCP sends a FIN) is `END_STREAM`; dropping the WebSocket before that is
//! `RST_STREAM` with `CANCEL`. Neither touches the shared connection, which other streams
//! keep using; it closes when the last [`Http2Connection`] handle and stream are gone.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use h2::client::SendRequest;
use h2::{Reason, RecvStream, SendStream};
use rfc6455::connection::Connection;
use rfc6455::handshake::{HandshakeError, WebSocketUri};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::open::{client_request, deflate_offer, within};
use crate::{ClientStream, Error, Options, WebSocket};

/// The most a single write hands to h2 at once. A WebSocket frame larger than this goes out
/// in several DATA frames (h2 splits at the peer's frame size anyway); the bound keeps one
/// write from asking the flow-control window for megabytes at once.
const MAX_WRITE: usize = 64 * 1024;

/// An HTTP/2 connection to a server that accepts WebSockets over HTTP/2 (RFC 8441). Open
/// WebSockets on it with [`open`](Self::open); they share the connection and its flow
/// control, each on a stream of its own. Clones share the connection.
///
/// ```no_run
/// use rfc6455_tokio::{Message, Options, http2::Http2Connection};
///
/// # async fn run() -> Result<(), rfc6455_tokio::Error> {
/// // ws:// is HTTP/2 over cleartext with prior knowledge (h2c); wss:// negotiates `h2` by
/// // ALPN (feature `rustls`).
/// let h2 = Http2Connection::connect("ws://127.0.0.1:8080", &Options::default()).await?;
/// let mut chat = h2.open("ws://127.0.0.1:8080/chat", Options::default()).await?;
/// let mut feed = h2.open("ws://127.0.0.1:8080/feed", Options::default()).await?;
/// chat.send(Message::text("hello")).await?;
/// let first = feed.recv().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Http2Connection {
    send_request: SendRequest<Bytes>,
    tls: bool,
}

impl Http2Connection {
    /// Connects to the server of `url` and runs the HTTP/2 handshake: `ws://` speaks HTTP/2
    /// in cleartext from the first byte (prior knowledge, for servers that accept h2c);
    /// `wss://` (feature `rustls`, with the roots of a `rustls-*-roots` feature or
    /// [`Options::tls_config`]) offers only `h2` by ALPN. The handshake timeout of `options`
    /// bounds it all; only the URL's host and port are used.
    ///
    /// Errors: [`Error::Io`] with [`io::ErrorKind::Unsupported`] when the server does not speak
    /// HTTP/2 (ALPN) or does not allow extended CONNECT (its SETTINGS lack
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`, RFC 8441 §3); other I/O and TLS failures as
    /// [`Error::Io`]; an invalid URL as [`Error::Usage`].
    ///
    /// The future holds nothing of `options` (it is `Send` whatever the options hold).
    pub fn connect<'u>(
        url: &'u str,
        options: &Options,
    ) -> impl Future<Output = Result<Self, Error>> + Send + 'u {
        let deadline = options.handshake_timeout.map(|timeout| Instant::now() + timeout);
        #[cfg(feature = "rustls")]
        let tls = options.tls.clone();
        async move {
            let uri = WebSocketUri::parse(url)?;
            let opened = within(deadline, async {
                let tcp = TcpStream::connect((uri.host(), uri.port())).await?;
                tcp.set_nodelay(true)?;
                if !uri.is_secure() {
                    return Self::handshake(tcp).await.map(|h2| h2.over_tls(false));
                }
                #[cfg(feature = "rustls")]
                {
                    let tls = crate::stream::tls::handshake(tcp, uri.host(), tls, &[b"h2"]).await?;
                    if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                        return Err(unsupported("the server did not agree to HTTP/2 (ALPN h2)"));
                    }
                    Self::handshake(tls).await.map(|h2| h2.over_tls(true))
                }
                #[cfg(not(feature = "rustls"))]
                Err(unsupported("wss:// needs this crate's `rustls` feature"))
            });
            match opened.await {
                Ok(connected) => connected.map_err(Error::Io),
                Err(_elapsed) => Err(Error::Io(io::ErrorKind::TimedOut.into())),
            }
        }
    }

    /// Runs the HTTP/2 client handshake over a transport the caller opened (TLS that
    /// negotiated `h2`, or cleartext for a server that takes h2c), spawns the connection's
    /// task on the current tokio runtime, and waits until the server's SETTINGS have arrived.
    ///
    /// Errors: [`io::ErrorKind::Unsupported`] when those SETTINGS do not allow extended
    /// CONNECT (RFC 8441 §3); the h2 crate's errors as I/O errors.
    pub async fn handshake<T>(io: T) -> io::Result<Self>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (send_request, mut connection) = h2::client::handshake(io).await.map_err(h2_io)?;
        // The server's SETTINGS are the first frame it sends (RFC 9113 §3.4), so once our
        // PING's answer is back they have been applied: then we know whether extended CONNECT
        // is allowed, without guessing with a timer.
        let mut ping = connection.ping_pong().ok_or_else(|| io::Error::other("h2 gave no ping handle"))?;
        tokio::spawn(async move {
            // The connection's end (the last handle dropped, a GOAWAY, a transport error)
            // reaches every stream as an error of its own.
            let _ = connection.await;
        });
        ping.ping(h2::Ping::opaque()).await.map_err(h2_io)?;
        if !send_request.is_extended_connect_protocol_enabled() {
            return Err(unsupported(
                "the server does not allow WebSockets over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 §3)",
            ));
        }
        // A caller's own transport may well be TLS; `connect` says what it opened.
        Ok(Self { send_request, tls: true })
    }

    fn over_tls(self, tls: bool) -> Self {
        Self { tls, ..self }
    }

    /// Opens a WebSocket for `url` on a new stream of this connection: sends the extended
    /// CONNECT the core builds (with the subprotocols, origin, headers and permessage-deflate
    /// offer of `options`), verifies the `2xx` with the core, and returns the WebSocket,
    /// which runs as one over TCP does. The handshake timeout of `options` bounds the wait.
    ///
    /// `url` should name this connection's server: its scheme, host and port become
    /// `:scheme` and `:authority`, its path and query `:path`.
    ///
    /// Errors: [`Error::Handshake`] for an answer the core refused (a status other than
    /// `2xx` is [`HandshakeError::UnexpectedStatus`]) or a timeout; [`Error::Io`] when the
    /// connection is gone or the server reset the stream; [`Error::Usage`] for invalid options.
    pub async fn open(&self, url: &str, options: Options) -> Result<WebSocket<H2Stream>, Error> {
        let opening = self.open_raw(url, &options);
        let (stream, connection) = opening.await?;
        Ok(WebSocket::from_connection(stream, connection, &options))
    }

    /// [`open`](Self::open)'s handshake without the WebSocket around it: the stream and the
    /// core's [`Connection`], for callers that drive the core themselves, or queue output
    /// (a fragmented message with [`Connection::send_chunk`]) before handing both to
    /// [`WebSocket::from_connection`] with the same `options`.
    ///
    /// The future holds nothing of `url`, `options` or `self` (it is `Send` and `'static`).
    pub fn open_raw(
        &self,
        url: &str,
        options: &Options,
    ) -> impl Future<Output = Result<(H2Stream, Connection), Error>> + Send + 'static {
        let deadline = options.handshake_timeout.map(|timeout| Instant::now() + timeout);
        let config = options.connection_config();
        let offer = deflate_offer(&config);
        // The request is built (and checked) now, into owned values.
        let request = client_request(url, options, offer.as_deref())
            .and_then(|request| Ok(request.to_http_extended_connect()?));
        let (send_request, tls) = (self.send_request.clone(), self.tls);
        async move {
            let (mut request, handshake) = request?;
            request.extensions_mut().insert(h2::ext::Protocol::from_static("websocket"));
            let opened = within(deadline, async {
                let mut send_request = send_request.ready().await.map_err(h2_io)?;
                let (response, send) = send_request.send_request(request, false).map_err(h2_io)?;
                let response = response.await.map_err(h2_io)?;
                Ok::<_, io::Error>((response, send))
            });
            let (response, send) = match opened.await {
                Ok(opened) => opened?,
                Err(_elapsed) => return Err(Error::Handshake(HandshakeError::Timeout.into())),
            };
            let (parts, recv) = response.into_parts();
            let stream = H2Stream { send, recv, unread: Bytes::new(), ended: false, eof: false, tls };
            let head = http::Response::from_parts(parts, ());
            // On a refusal `stream` is dropped: reset, if the server left it open.
            let accepted = handshake.verify_http(&head).map_err(|e| Error::Handshake(e.into()))?;
            let connection = accepted.into_connection(config, &[]).map_err(Error::Handshake)?;
            Ok((stream, connection))
        }
    }
}

/// [`connect_with`](crate::connect_with) with [`Options::http2`]: one WebSocket over HTTP/2,
/// falling back to HTTP/1.1 for `wss://` servers that do not offer it.
pub(crate) async fn connect_one(url: &str, options: Options) -> Result<WebSocket<ClientStream>, Error> {
    let uri = WebSocketUri::parse(url)?;
    if !uri.is_secure() {
        let connecting = Http2Connection::connect(url, &options);
        let h2 = connecting.await?;
        let opening = h2.open_raw(url, &options);
        let (stream, connection) = opening.await?;
        return Ok(WebSocket::from_connection(ClientStream::Http2(Box::new(stream)), connection, &options));
    }
    #[cfg(feature = "rustls")]
    {
        let deadline = options.handshake_timeout.map(|timeout| Instant::now() + timeout);
        let tls_config = options.tls.clone();
        let opened = within(deadline, async {
            let tcp = TcpStream::connect((uri.host(), uri.port())).await?;
            tcp.set_nodelay(true)?;
            let tls =
                crate::stream::tls::handshake(tcp, uri.host(), tls_config, &[b"h2", b"http/1.1"]).await?;
            if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                return Ok(Negotiated::Http1(ClientStream::Rustls(Box::new(tls))));
            }
            match Http2Connection::handshake(tls).await {
                Ok(h2) => Ok(Negotiated::Http2(h2.over_tls(true))),
                Err(error) if error.kind() == io::ErrorKind::Unsupported => Ok(Negotiated::NoExtendedConnect),
                Err(error) => Err(error),
            }
        });
        let negotiated = match opened.await {
            Ok(negotiated) => negotiated.map_err(Error::Io)?,
            Err(_elapsed) => return Err(Error::Io(io::ErrorKind::TimedOut.into())),
        };
        // The rest of the handshake gets what is left of the time.
        let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        let options = Options { handshake_timeout: left, ..options };
        match negotiated {
            // ALPN chose HTTP/1.1: the upgrade on this connection.
            Negotiated::Http1(stream) => crate::client(stream, url, options).await,
            Negotiated::Http2(h2) => {
                let opening = h2.open_raw(url, &options);
                let (stream, connection) = opening.await?;
                Ok(WebSocket::from_connection(ClientStream::Http2(Box::new(stream)), connection, &options))
            }
            // HTTP/2 without extended CONNECT: as a browser does, HTTP/1.1 on a new connection.
            Negotiated::NoExtendedConnect => {
                crate::connect_with(url, Options { http2: false, ..options }).await
            }
        }
    }
    #[cfg(not(feature = "rustls"))]
    Err(Error::Io(unsupported("wss:// needs this crate's `rustls` feature")))
}

/// What a `wss://` server offered [`connect_one`] by ALPN and its SETTINGS.
#[cfg(feature = "rustls")]
enum Negotiated {
    /// ALPN chose HTTP/1.1 (or nothing): the TLS connection, for the Upgrade.
    Http1(ClientStream),
    /// HTTP/2 with extended CONNECT allowed.
    Http2(Http2Connection),
    /// HTTP/2 whose SETTINGS do not allow extended CONNECT (RFC 8441 §3).
    NoExtendedConnect,
}

/// One WebSocket's HTTP/2 stream as an `AsyncRead + AsyncWrite` transport: DATA frames in
/// and out, with h2's flow control. Received bytes are given back to the flow-control window
/// as the WebSocket reads them, so a reader that stops reading stops the peer's stream (not
/// the connection's other streams).
///
/// `poll_shutdown` ends our side with `END_STREAM` (TCP's FIN); dropping the stream before
/// that resets it with `CANCEL` (RFC 8441 §5). An incoming `RST_STREAM` reads as
/// [`io::ErrorKind::ConnectionReset`], as a TCP reset does.
#[derive(Debug)]
pub struct H2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// A DATA frame's bytes not read yet.
    unread: Bytes,
    /// `END_STREAM` has been sent.
    ended: bool,
    /// The peer's `END_STREAM` has been read.
    eof: bool,
    /// The connection is TLS.
    tls: bool,
}

impl H2Stream {
    /// The stream's HTTP/2 identifier.
    pub fn stream_id(&self) -> u32 {
        self.send.stream_id().as_u32()
    }

    /// Whether the connection under the stream is TLS (`wss://`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }
}

impl AsyncRead for H2Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.unread.is_empty() {
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => this.unread = data,
                Some(Err(error)) => return Poll::Ready(Err(h2_io(error))),
                None => this.eof = true,
            }
        }
        let n = this.unread.len().min(buf.remaining());
        buf.put_slice(&this.unread[..n]);
        this.unread.advance(n);
        // The bytes are the WebSocket's now: the peer may send that many more. (An error
        // here means the stream is gone, which the next read reports.)
        let _ = this.recv.flow_control().release_capacity(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let wanted = buf.len().min(MAX_WRITE);
        this.send.reserve_capacity(wanted);
        let granted = loop {
            match this.send.capacity() {
                0 => match ready!(this.send.poll_capacity(cx)) {
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => return Poll::Ready(Err(h2_io(error))),
                    // The stream can no longer send: the peer reset it or it ended.
                    None => return Poll::Ready(Err(stream_gone(&mut this.send, cx))),
                },
                granted => break granted.min(wanted),
            }
        };
        // Invariant: `granted <= wanted <= buf.len()`.
        this.send.send_data(Bytes::copy_from_slice(&buf[..granted]), false).map_err(h2_io)?;
        Poll::Ready(Ok(granted))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written bytes are within the stream's granted window: the connection's task
        // writes them out without waiting on the peer.
        Poll::Ready(Ok(()))
    }

    /// Ends our side of the stream with `END_STREAM`: the HTTP/2 form of TCP's FIN (RFC 8441 §5).
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.ended {
            this.ended = true;
            this.send.send_data(Bytes::new(), true).map_err(h2_io)?;
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for H2Stream {
    /// A stream dropped before its orderly end is aborted: `RST_STREAM` with `CANCEL`, the
    /// HTTP/2 form of a TCP reset (RFC 8441 §5). Once both sides have ended it is closed and
    /// nothing is sent.
    fn drop(&mut self) {
        if !self.ended {
            self.send.send_reset(Reason::CANCEL);
        }
    }
}

/// Why a stream stopped taking data: the peer's reset if there was one.
fn stream_gone(send: &mut SendStream<Bytes>, cx: &mut Context<'_>) -> io::Error {
    match send.poll_reset(cx) {
        Poll::Ready(Ok(reason)) => {
            io::Error::new(io::ErrorKind::ConnectionReset, format!("stream reset: {reason:?}"))
        }
        Poll::Ready(Err(error)) => h2_io(error),
        Poll::Pending => io::ErrorKind::BrokenPipe.into(),
    }
}

/// The h2 crate's error as an I/O error of the kind the WebSocket's driver understands: a
/// reset stream or a GOAWAY is the peer going away (as a TCP reset), a transport error
/// keeps its own kind.
fn h2_io(error: h2::Error) -> io::Error {
    if error.is_io() {
        return error.into_io().unwrap_or_else(|| io::ErrorKind::Other.into());
    }
    if error.is_reset() || error.is_go_away() {
        return io::Error::new(io::ErrorKind::ConnectionReset, error);
    }
    io::Error::other(error)
}

fn unsupported(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, why)
}
