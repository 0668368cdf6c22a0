//! Opening a connection: the server's and the client's side of the HTTP/1.1 handshake over a
//! transport, each one step on the core's handshake types ([`RequestParser`] and
//! [`Request::upgrade`]; [`ClientRequest`] and [`ClientHandshake::into_connection`]). The
//! core decides what is valid and what to answer; this module reads, writes and keeps time.
//!
//! [`ClientHandshake::into_connection`]: rfc6455::handshake::ClientHandshake::into_connection

use std::future::Future;
use std::io;
use std::time::Duration;

use rfc6455::connection::{Config, Connection};
use rfc6455::handshake::{
    ClientRequest, HandshakeError, Reject, Request, RequestParser, WebSocketKey, WebSocketUri,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::options::{Hook, accept_of, reject_of};
use crate::{ClientStream, Decision, Error, Options, WebSocket};

/// Bytes read at a time during the handshake (the parsers keep the head themselves).
const HANDSHAKE_READ: usize = 4096;

/// How long a server may take to write a refusal (the handshake deadline may have passed:
/// the `408` is written after it).
const REFUSAL_WRITE: Duration = Duration::from_secs(1);

/// Accepts a WebSocket on `stream` with the default [`Options`]: reads the request, answers
/// `101` (or the HTTP error the core chose, then returns the error), and returns the
/// WebSocket with any frames that followed the request already in it.
pub async fn accept<S>(stream: S) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, Options::default()).await
}

/// [`accept`] with `options`: limits and timers ([`Options::config`], including the
/// permessage-deflate policy), the handshake's limits and timeout (a late request is answered
/// `408`), and the [`Options::on_request`] hook that accepts (with a subprotocol and
/// headers) or rejects (with a status, headers and a body).
///
/// Errors: [`Error::Handshake`] for a request the core refused (answered with its status),
/// [`Error::Rejected`] when the hook rejected, [`Error::Io`] when the transport failed or
/// ended first.
pub async fn accept_with<S>(stream: S, options: Options) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // The handshake's state lives on the heap while it runs, so the caller's task, which
    // holds this future and later the WebSocket, is sized for the WebSocket: about 1 KiB
    // less per connection for as long as it lives.
    Box::pin(server_handshake(stream, options)).await
}

async fn server_handshake<S>(mut stream: S, mut options: Options) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = options.handshake_timeout.map(|timeout| Instant::now() + timeout);
    let mut hook = options.on_request.take();
    let mut parser = RequestParser::new(options.handshake);
    let mut buf = vec![0; HANDSHAKE_READ];
    let outcome = loop {
        let n = match within(deadline, stream.read(&mut buf)).await {
            Ok(read) => read?,
            Err(_elapsed) => {
                let error = HandshakeError::Timeout;
                let mut out = Vec::new();
                // A status from the core's own table is always writable.
                let _ = Reject::for_error(&error).write(&mut out);
                break Outcome::Refuse(out, Error::Handshake(error.into()));
            }
        };
        if n == 0 {
            return Err(Error::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        match parser.feed(&buf[..n]) {
            Ok(None) => continue,
            Ok(Some((request, used))) => {
                break respond(&request, hook.take(), options.connection_config(), &buf[used..n]);
            }
            Err(error) => {
                let mut out = Vec::new();
                let _ = Reject::for_error(&error).write(&mut out);
                break Outcome::Refuse(out, Error::Handshake(error.into()));
            }
        }
    };
    match outcome {
        Outcome::Upgrade(response, connection) => {
            write_all(&mut stream, &response, deadline).await?;
            Ok(WebSocket::from_connection(stream, *connection, &options))
        }
        Outcome::Refuse(response, error) => {
            // The answer is a courtesy: the error is what the caller needs.
            let deadline = Some(Instant::now() + REFUSAL_WRITE);
            if write_all(&mut stream, &response, deadline).await.is_ok() {
                let _ = within(deadline, stream.shutdown()).await;
            }
            Err(error)
        }
    }
}

/// Opens a WebSocket as a client over a transport the caller already has (TCP, TLS, a
/// proxy tunnel): sends the request for `uri` (`ws://` or `wss://`: the scheme only decides
/// the default port of the `Host` header here) with the [`Options`]' subprotocols, headers
/// and origin, and a permessage-deflate offer when [`Options::config`] has a policy; verifies
/// the answer and returns the WebSocket.
///
/// Errors: [`Error::Usage`] for an invalid URI or header, [`Error::Handshake`] for an
/// answer the core refused (a status other than `101` among them) or a timeout,
/// [`Error::Io`] when the transport failed or ended first.
pub async fn client<S>(stream: S, uri: &str, options: Options) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // As in `accept_with`: the handshake's state on the heap, not in the caller's task.
    Box::pin(client_handshake(stream, uri, options)).await
}

async fn client_handshake<S>(mut stream: S, uri: &str, options: Options) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = options.handshake_timeout.map(|timeout| Instant::now() + timeout);
    let config = options.connection_config();
    let offer = deflate_offer(&config);
    let request = client_request(uri, &options, offer.as_deref())?;
    let mut out = Vec::new();
    let handshake = request.write(&mut out)?;
    write_all(&mut stream, &out, deadline).await?;

    let mut parser = handshake.parser();
    let mut buf = vec![0; HANDSHAKE_READ];
    loop {
        let n = match within(deadline, stream.read(&mut buf)).await {
            Ok(read) => read?,
            Err(_elapsed) => return Err(Error::Handshake(HandshakeError::Timeout.into())),
        };
        if n == 0 {
            return Err(Error::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        match parser.feed(&buf[..n]) {
            Ok(None) => continue,
            Ok(Some((response, used))) => {
                let connection =
                    handshake.into_connection(&response, config, &buf[used..n]).map_err(Error::Handshake)?;
                return Ok(WebSocket::from_connection(stream, connection, &options));
            }
            Err(error) => return Err(Error::Handshake(error.into())),
        }
    }
}

/// The permessage-deflate offer for `config`'s policy, if it has one.
pub(crate) fn deflate_offer(config: &Config) -> Option<String> {
    #[cfg(feature = "deflate")]
    return config.deflate.as_ref().map(rfc6455::deflate::client_offer);
    #[cfg(not(feature = "deflate"))]
    {
        let _ = config;
        None
    }
}

/// The client's request for `uri` with what `options` offers and adds (either bootstrap).
pub(crate) fn client_request<'a>(
    uri: &'a str,
    options: &'a Options,
    offer: Option<&'a str>,
) -> Result<ClientRequest<'a>, Error> {
    let mut request = ClientRequest::new(uri, WebSocketKey::random())?.with_config(options.handshake);
    for subprotocol in &options.subprotocols {
        request = request.with_subprotocol(subprotocol);
    }
    if let Some(origin) = &options.origin {
        request = request.with_origin(origin);
    }
    for (name, value) in &options.headers {
        request = request.with_header(name, value);
    }
    if let Some(offer) = offer {
        request = request.with_extension(offer);
    }
    Ok(request)
}

/// Connects to a `ws://` or `wss://` URL with the default [`Options`].
pub async fn connect(url: &str) -> Result<WebSocket<ClientStream>, Error> {
    connect_with(url, Options::default()).await
}

/// Connects to a `ws://` or `wss://` URL over TCP (`TCP_NODELAY` on), runs the TLS handshake
/// for `wss://`, and runs [`client`] with `options`. The handshake timeout bounds the whole:
/// the TCP connect, the TLS handshake and the WebSocket handshake.
///
/// `wss://` needs the `rustls` feature, and root certificates: those of the
/// `rustls-webpki-roots` or `rustls-native-roots` feature, or `Options::tls_config`.
/// Without them it is [`Error::Io`] with [`io::ErrorKind::Unsupported`]. A failed TLS
/// handshake (an untrusted certificate, a name that does not match) is [`Error::Io`].
pub async fn connect_with(url: &str, options: Options) -> Result<WebSocket<ClientStream>, Error> {
    #[cfg(feature = "http2")]
    if options.http2 {
        return Box::pin(crate::http2::connect_one(url, options)).await;
    }
    let uri = WebSocketUri::parse(url)?;
    let deadline = options.handshake_timeout.map(|timeout| Instant::now() + timeout);
    let opened = within(deadline, async {
        let tcp = TcpStream::connect((uri.host(), uri.port())).await?;
        tcp.set_nodelay(true)?;
        if !uri.is_secure() {
            return Ok(ClientStream::Plain(tcp));
        }
        #[cfg(feature = "rustls")]
        return crate::stream::tls::connect(tcp, uri.host(), options.tls.clone()).await;
        #[cfg(not(feature = "rustls"))]
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "wss:// needs this crate's `rustls` feature (or connect a TLS stream and use `client`)",
        ));
    });
    let stream = match opened.await {
        Ok(opened) => opened?,
        Err(_elapsed) => return Err(Error::Io(io::ErrorKind::TimedOut.into())),
    };
    // The rest of the handshake gets what is left of the time.
    let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
    client(stream, url, Options { handshake_timeout: left, ..options }).await
}

/// What the server answers, and what comes of it.
enum Outcome {
    /// The `101`, and the connection.
    Upgrade(Vec<u8>, Box<Connection>),
    /// An HTTP error response, and the error to return.
    Refuse(Vec<u8>, Error),
}

/// Runs the hook on a complete request and makes the answer.
fn respond(request: &Request<'_>, hook: Option<Hook>, config: Config, after_head: &[u8]) -> Outcome {
    let decision = match hook {
        Some(hook) => hook(request),
        None => Decision::accept(),
    };
    let mut out = Vec::new();
    match decision {
        Decision::Accept { subprotocol, headers } => {
            let accept = accept_of(subprotocol.as_deref(), &headers);
            let upgraded = request.upgrade(&accept, config, after_head).and_then(|(response, connection)| {
                response.write(&mut out)?;
                Ok(connection)
            });
            match upgraded {
                Ok(connection) => Outcome::Upgrade(out, Box::new(connection)),
                // The hook chose what the request did not offer (or a reserved header).
                Err(error) => Outcome::Refuse(internal_error(), Error::Handshake(error)),
            }
        }
        Decision::Reject { status, headers, body } => {
            match reject_of(status, &headers).with_body(&body).write(&mut out) {
                Ok(()) => Outcome::Refuse(out, Error::Rejected(status)),
                Err(error) => Outcome::Refuse(internal_error(), Error::Usage(error)),
            }
        }
    }
}

/// A `500` for a decision the core could not write.
fn internal_error() -> Vec<u8> {
    let mut out = Vec::new();
    let _ = Reject::new(500).write(&mut out);
    out
}

async fn write_all<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    deadline: Option<Instant>,
) -> io::Result<()> {
    let written = within(deadline, async {
        stream.write_all(bytes).await?;
        stream.flush().await
    })
    .await;
    written.unwrap_or_else(|_elapsed| Err(io::ErrorKind::TimedOut.into()))
}

/// `future`, cut off at `deadline` if there is one.
pub(crate) async fn within<F: Future>(
    deadline: Option<Instant>,
    future: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await,
        None => Ok(future.await),
    }
}
