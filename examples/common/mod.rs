//! Blocking std::net drivers shared by the examples: the server side of the opening handshake,
//! a client connect, and the drive loop around a `Connection`.
//!
//! This is the whole of what an application writes around the crate when it uses blocking
//! sockets: read bytes in, drain events, write bytes out, repeat.

#![allow(dead_code)] // Each example uses a different part of this module.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use rfc6455::UsageError;
use rfc6455::connection::{CloseInfo, Config, Connection, Event, OwnedEvent};
use rfc6455::deflate::{DeflateConfig, client_offer};
use rfc6455::handshake::{
    self, Accept, ClientRequest, HandshakeTimeout, Reject, RequestParser, WebSocketKey, WebSocketUri,
};
use rfc6455::time::{Epoch, Instant};

/// How long either side waits for the other's handshake head.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an ended connection waits for the peer to end the transport (a client waits for
/// the server to close TCP first, RFC 6455 §7.1.1) before closing it itself.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A handshake's deadline on the program's clock.
struct Deadline {
    epoch: Epoch,
    timeout: HandshakeTimeout,
}

impl Deadline {
    /// A deadline `HANDSHAKE_TIMEOUT` from now, on a clock that starts now.
    fn start() -> Self {
        let epoch = Epoch::new(std::time::Instant::now());
        Self { epoch, timeout: HandshakeTimeout::new(Instant::ZERO, HANDSHAKE_TIMEOUT) }
    }

    fn check(&self) -> Result<(), handshake::HandshakeError> {
        self.timeout.check(self.epoch.instant(std::time::Instant::now()))
    }

    fn left(&self) -> Duration {
        self.timeout.deadline() - self.epoch.instant(std::time::Instant::now())
    }

    /// Reads into `buf` with the socket's read timeout set to what is left before the
    /// deadline; an expired deadline is reported as `HandshakeError::Timeout`.
    fn read(&self, stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        self.check().map_err(io::Error::other)?;
        stream.set_read_timeout(Some(self.left().max(Duration::from_millis(1))))?;
        let result = stream.read(buf);
        stream.set_read_timeout(None)?;
        match result {
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                Err(io::Error::other(handshake::HandshakeError::Timeout))
            }
            other => other,
        }
    }
}

/// Reads a request head from `stream`, answers it, and returns the connection (primed with
/// any bytes that followed the head, permessage-deflate on if `config.deflate` agreed it with
/// the client) and the request's path. Returns `Ok(None)` when the request was rejected (the
/// rejection has been written).
pub fn accept(stream: &mut TcpStream, config: Config) -> io::Result<Option<(Connection, String)>> {
    let mut parser = RequestParser::new(handshake::Config::default());
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    let deadline = Deadline::start();
    loop {
        let n = match deadline.read(stream, &mut buf) {
            Ok(n) => n,
            Err(error) if deadline.check().is_err() => {
                // §4.2.1 gives no deadline; we answer a client too slow to send its head with 408.
                let _ = Reject::for_error(&handshake::HandshakeError::Timeout).write(&mut out);
                let _ = stream.write_all(&out);
                return Err(error);
            }
            Err(error) => return Err(error),
        };
        if n == 0 {
            return Ok(None);
        }
        match parser.feed(&buf[..n]) {
            Ok(None) => continue,
            Ok(Some((request, used))) => {
                let path = request.path().to_owned();
                let (response, connection) =
                    request.upgrade(&Accept::new(), config, &buf[used..n]).map_err(io::Error::other)?;
                response.write(&mut out).map_err(io::Error::other)?;
                stream.write_all(&out)?;
                return Ok(Some((connection, path)));
            }
            Err(error) => {
                Reject::for_error(&error).write(&mut out).map_err(io::Error::other)?;
                stream.write_all(&out)?;
                let _ = stream.shutdown(Shutdown::Both);
                return Ok(None);
            }
        }
    }
}

/// Connects to a `ws://` URL over TCP and performs the client handshake, offering
/// permessage-deflate when `config.deflate` is set.
pub fn connect(url: &str, config: Config) -> io::Result<(TcpStream, Connection)> {
    let uri = WebSocketUri::parse(url).map_err(io::Error::other)?;
    if uri.is_secure() {
        return Err(io::Error::other(
            "wss:// needs TLS: rfc6455-tokio opens it (feature rustls), see its examples/wss_echo.rs",
        ));
    }
    let host = uri.host().trim_start_matches('[').trim_end_matches(']');
    let mut stream = TcpStream::connect((host, uri.port()))?;
    stream.set_nodelay(true)?;
    let mut out = Vec::new();
    let offer = config.deflate.as_ref().map(client_offer);
    let mut client = ClientRequest::from_uri(uri, WebSocketKey::random());
    if let Some(offer) = offer.as_deref() {
        client = client.with_extension(offer);
    }
    let handshake = client.write(&mut out).map_err(io::Error::other)?;
    stream.write_all(&out)?;
    let mut parser = handshake.parser();
    let mut buf = [0u8; 4096];
    let deadline = Deadline::start();
    loop {
        let n = deadline.read(&mut stream, &mut buf)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed during the handshake"));
        }
        if let Some((response, used)) = parser.feed(&buf[..n]).map_err(io::Error::other)? {
            let connection =
                handshake.into_connection(&response, config, &buf[used..n]).map_err(io::Error::other)?;
            return Ok((stream, connection));
        }
    }
}

/// Queues a message with `queue` (a send call); while the connection's output is full, writes
/// it to the socket first (backpressure: a blocking socket waits for the peer to read). A
/// message after the close handshake began is dropped: the peer will not read it.
pub fn send(
    stream: &mut TcpStream,
    connection: &mut Connection,
    mut queue: impl FnMut(&mut Connection) -> Result<(), UsageError>,
) -> io::Result<()> {
    loop {
        match queue(connection) {
            Err(UsageError::OutputFull { .. }) => {
                connection.write_to(stream)?;
            }
            Ok(()) | Err(UsageError::Closed) => return Ok(()),
            Err(error) => return Err(io::Error::other(error)),
        }
    }
}

/// Sends every data message back as it came.
pub fn echo(stream: &mut TcpStream, connection: &mut Connection, event: OwnedEvent) -> io::Result<()> {
    match event {
        OwnedEvent::Text(text) => send(stream, connection, |c| c.send_text(&text)),
        OwnedEvent::Binary(data) => send(stream, connection, |c| c.send_binary(&data)),
        _ => Ok(()),
    }
}

/// Runs the drive loop until the connection ends: reads, hands every event but the last to
/// `on_event` (owned, so that it may send through the connection), writes, and returns the
/// end ([`Event::Closed`]) once the socket is closed.
pub fn drive(
    stream: &mut TcpStream,
    connection: &mut Connection,
    mut on_event: impl FnMut(&mut TcpStream, &mut Connection, OwnedEvent) -> io::Result<()>,
) -> io::Result<CloseInfo> {
    loop {
        while let Some(event) = connection.poll_event() {
            if let Event::Closed(info) = event {
                let info = info.clone();
                finish(stream, connection)?;
                return Ok(info);
            }
            let event = event.into_owned();
            on_event(stream, connection, event)?;
        }
        connection.write_to(stream)?;
        let buf = connection.read_buf(64 * 1024);
        match stream.read(buf) {
            Ok(0) => connection.handle_eof(),
            Ok(n) => connection.handle_read(n),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => connection.handle_eof(),
            Err(e) => return Err(e),
        }
    }
}

/// After [`Event::Closed`]: writes what is queued (our Close, or the answer to the peer's),
/// waits up to [`CLOSE_GRACE`] for the peer to end the transport if the connection says to
/// (`should_drop_transport`), and closes the socket.
pub fn finish(stream: &mut TcpStream, connection: &mut Connection) -> io::Result<()> {
    stream.set_read_timeout(Some(CLOSE_GRACE))?;
    let mut buf = [0u8; 1024];
    loop {
        connection.write_to(stream)?;
        if connection.should_drop_transport() {
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        // Bytes after the end are not read; EOF, a reset or the grace period's end are the end
        // of the transport.
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => {}
            _ => connection.handle_eof(),
        }
    }
}

/// The connection settings: the defaults, with permessage-deflate unless `--no-deflate` is
/// among the program's arguments.
pub fn config_from_args() -> Config {
    let config = Config::default();
    if std::env::args().any(|arg| arg == "--no-deflate") {
        config
    } else {
        config.deflate(DeflateConfig::default())
    }
}

/// The program's arguments without flags (those starting with `--`).
pub fn positional_args() -> Vec<String> {
    std::env::args().skip(1).filter(|arg| !arg.starts_with("--")).collect()
}
