//! Blocking std::net drivers shared by the examples: the server side of the opening handshake,
//! a client connect, and the drive loop around a `Connection`.
//!
//! This is the whole of what an application writes around the crate when it uses blocking
//! sockets: read bytes in, drain events, write bytes out, repeat. The connection's timers
//! (keepalive, close timeout) run on the same thread: every blocking read or write is given
//! the time left until the connection's next deadline ([`Connection::poll_timeout`]) as its
//! socket timeout, so the thread wakes up to call [`Connection::handle_timeout`] even when the
//! peer sends nothing or stops reading.

#![allow(dead_code)] // Each example uses a different part of this module.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use rfc6455::UsageError;
use rfc6455::connection::{CloseInfo, Config, Connection, Event, OwnedEvent, TimeoutConfig};
use rfc6455::deflate::{DeflateConfig, client_offer};
use rfc6455::handshake::{
    self, Accept, ClientRequest, HandshakeTimeout, Reject, RequestParser, WebSocketKey, WebSocketUri,
};
use rfc6455::time::{Epoch, Instant};

/// How long either side waits for the other's handshake head, unless `--handshake-timeout`
/// says otherwise.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's keepalive unless flags say otherwise: a Ping after this long without hearing
/// from the peer (`--ping-interval`; the value rfc6455-tokio uses).
pub const PING_INTERVAL: Duration = Duration::from_secs(20);

/// A server's keepalive unless flags say otherwise: the peer is dead when nothing arrives this
/// long after the Ping (`--pong-timeout`).
pub const PONG_TIMEOUT: Duration = Duration::from_secs(20);

/// A server's wait for the peer's Close after its own, unless `--close-timeout` says
/// otherwise.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The flags that take a value (`--flag VALUE` or `--flag=VALUE`).
const VALUE_FLAGS: [&str; 5] =
    ["--ping-interval", "--pong-timeout", "--close-timeout", "--handshake-timeout", "--max-pending-output"];

/// How long an ended connection waits for the peer to end the transport (a client waits for
/// the server to close TCP first, RFC 6455 §7.1.1) before closing it itself.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A handshake's deadline on the program's clock.
struct Deadline {
    epoch: Epoch,
    timeout: HandshakeTimeout,
}

impl Deadline {
    /// A deadline `timeout` from now, on a clock that starts now.
    fn start(timeout: Duration) -> Self {
        let epoch = Epoch::new(std::time::Instant::now());
        Self { epoch, timeout: HandshakeTimeout::new(Instant::ZERO, timeout) }
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
/// rejection has been written). A head that has not arrived within `timeout` is answered
/// `408` and returned as an error.
pub fn accept(
    stream: &mut TcpStream,
    config: Config,
    timeout: Duration,
) -> io::Result<Option<(Connection, String)>> {
    let mut parser = RequestParser::new(handshake::Config::default());
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    let deadline = Deadline::start(timeout);
    loop {
        let n = match deadline.read(stream, &mut buf) {
            Ok(n) => n,
            Err(error) if deadline.check().is_err() => {
                // §4.2.1 gives no deadline; we answer a client too slow to send its head with 408.
                let _ = Reject::for_error(&handshake::HandshakeError::Timeout).write(&mut out);
                if stream.write_all(&out).is_ok() {
                    linger_close(stream);
                }
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
                linger_close(stream);
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
    let deadline = Deadline::start(HANDSHAKE_TIMEOUT);
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
/// it to the socket first (backpressure: a blocking socket waits for the peer to read, running
/// the connection's timers meanwhile). A message after the close handshake began, or after a
/// timer gave up on the peer, is dropped: the peer will not read it.
pub fn send(
    stream: &mut TcpStream,
    connection: &mut Connection,
    mut queue: impl FnMut(&mut Connection) -> Result<(), UsageError>,
) -> io::Result<()> {
    loop {
        match queue(connection) {
            Err(UsageError::OutputFull { .. }) => flush(stream, connection)?,
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

/// The program's clock for the connections' timers: the time since its first reading.
pub fn now() -> Instant {
    static EPOCH: OnceLock<Epoch> = OnceLock::new();
    let reading = std::time::Instant::now();
    EPOCH.get_or_init(|| Epoch::new(reading)).instant(reading)
}

/// Writes all pending output. While the peer does not take it, the write waits at most until
/// the connection's next deadline and then runs its timers, so a keepalive notices a peer that
/// stopped reading (giving up on it drops the output, which ends this).
pub fn flush(stream: &mut TcpStream, connection: &mut Connection) -> io::Result<()> {
    while connection.pending_output_len() > 0 && !connection.should_drop_transport() {
        stream.set_write_timeout(until_deadline(connection))?;
        write_once(stream, connection)?;
        connection.handle_timeout(now());
    }
    Ok(())
}

/// One write of pending output, with one system call: the socket's write timeout bounds the
/// wait. (`Connection::write_to` writes until the output is empty, so on a blocking socket
/// each of its writes could wait a whole timeout, overshooting a timer's deadline.) A write
/// that timed out having taken nothing is not an error.
fn write_once(stream: &mut TcpStream, connection: &mut Connection) -> io::Result<()> {
    // Enough slices for a few queued messages; the rest goes in the next call.
    const SLICES: usize = 16;
    let mut slices = [IoSlice::new(&[]); SLICES];
    let mut count = 0;
    for (slot, piece) in slices.iter_mut().zip(connection.output_pieces()) {
        *slot = IoSlice::new(piece);
        count += 1;
    }
    // `count <= SLICES` by the zip.
    match stream.write_vectored(&slices[..count]) {
        Ok(0) if count > 0 => Err(io::ErrorKind::WriteZero.into()),
        Ok(n) => connection.handle_written(n).map_err(io::Error::other),
        Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => Ok(()),
        Err(e) => Err(e),
    }
}

/// Runs the drive loop until the connection ends: reads, hands every event but the last to
/// `on_event` (owned, so that it may send through the connection), writes, runs the timers,
/// and returns the end ([`Event::Closed`]) once the socket is closed. Reads wait at most until
/// the connection's next deadline; with every timer off they block.
pub fn drive(
    stream: &mut TcpStream,
    connection: &mut Connection,
    mut on_event: impl FnMut(&mut TcpStream, &mut Connection, OwnedEvent) -> io::Result<()>,
) -> io::Result<CloseInfo> {
    // The first call tells the connection the time: its timers start now.
    connection.handle_timeout(now());
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
        flush(stream, connection)?;
        stream.set_read_timeout(until_deadline(connection))?;
        let buf = connection.read_buf(64 * 1024);
        match stream.read(buf) {
            Ok(0) => connection.handle_eof(),
            Ok(n) => connection.handle_read(n),
            Err(e) if is_timeout(&e) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => connection.handle_eof(),
            Err(e) => return Err(e),
        }
        connection.handle_timeout(now());
    }
}

/// After [`Event::Closed`]: writes what is queued (our Close, or the answer to the peer's),
/// waits for the peer to end the transport if the connection says to
/// (`should_drop_transport`), and closes the socket. All of it takes at most [`CLOSE_GRACE`]:
/// after that, output the peer has not taken is abandoned.
pub fn finish(stream: &mut TcpStream, connection: &mut Connection) -> io::Result<()> {
    let grace_end = now() + CLOSE_GRACE;
    let mut buf = [0u8; 1024];
    loop {
        let left = grace_end - now();
        if left.is_zero() {
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        stream.set_write_timeout(Some(left))?;
        stream.set_read_timeout(Some(left))?;
        if connection.should_drop_transport() {
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        if connection.pending_output_len() > 0 {
            write_once(stream, connection)?;
            continue;
        }
        // Bytes after the end are not read; EOF or a reset is the end of the transport, and
        // the grace period's end is checked above.
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => {}
            Err(e) if is_timeout(&e) => {}
            _ => connection.handle_eof(),
        }
    }
}

/// Ends a refused handshake the way HTTP servers do (a lingering close): the answer is
/// written, the write side shut, and the client's remaining input read and discarded for a
/// moment, so that closing the socket with unread input (which sends a reset) cannot destroy
/// the answer before the client reads it.
fn linger_close(stream: &mut TcpStream) {
    const LINGER: Duration = Duration::from_secs(1);
    const LINGER_BYTES: usize = 64 * 1024;
    let _ = stream.shutdown(Shutdown::Write);
    let end = std::time::Instant::now() + LINGER;
    let mut buf = [0u8; 4096];
    let mut discarded = 0;
    while discarded < LINGER_BYTES {
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => discarded += n,
            _ => break,
        }
    }
}

/// The time until the connection's next deadline (at least a millisecond: a zero socket
/// timeout means none), or `None` when no timer is armed.
fn until_deadline(connection: &Connection) -> Option<Duration> {
    connection.poll_timeout().map(|deadline| (deadline - now()).max(Duration::from_millis(1)))
}

/// Whether an I/O error is a socket timeout (`SO_RCVTIMEO`/`SO_SNDTIMEO` report `EAGAIN`).
fn is_timeout(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
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

/// A server's timers from the program's flags, in seconds (`0` turns a timer off):
/// `--ping-interval` and `--pong-timeout` (keepalive, default [`PING_INTERVAL`] and
/// [`PONG_TIMEOUT`]), `--close-timeout` (default [`CLOSE_TIMEOUT`]).
pub fn server_timeouts_from_args() -> io::Result<TimeoutConfig> {
    let mut timeouts = TimeoutConfig::default();
    if let Some(interval) = seconds_flag("--ping-interval", PING_INTERVAL)? {
        timeouts = timeouts.ping_interval(interval);
        if let Some(timeout) = seconds_flag("--pong-timeout", PONG_TIMEOUT)? {
            timeouts = timeouts.pong_timeout(timeout);
        }
    }
    if let Some(timeout) = seconds_flag("--close-timeout", CLOSE_TIMEOUT)? {
        timeouts = timeouts.close_timeout(timeout);
    }
    Ok(timeouts)
}

/// The handshake timeout from `--handshake-timeout SECONDS` (default [`HANDSHAKE_TIMEOUT`]; `0`
/// waits without limit).
pub fn handshake_timeout_from_args() -> io::Result<Duration> {
    Ok(seconds_flag("--handshake-timeout", HANDSHAKE_TIMEOUT)?.unwrap_or(Duration::MAX))
}

/// The value of a flag that takes one: `--name VALUE` or `--name=VALUE`.
pub fn flag_value(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == name {
            return args.next();
        }
        if let Some(value) = arg.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')) {
            return Some(value.to_owned());
        }
    }
    None
}

/// A duration flag in (fractional) seconds: `Some(default)` when absent, `None` when `0`.
fn seconds_flag(name: &str, default: Duration) -> io::Result<Option<Duration>> {
    let Some(value) = flag_value(name) else { return Ok(Some(default)) };
    let invalid = || io::Error::new(io::ErrorKind::InvalidInput, format!("{name} takes seconds: {value}"));
    let seconds: f64 = value.parse().map_err(|_| invalid())?;
    let duration = Duration::try_from_secs_f64(seconds).map_err(|_| invalid())?;
    Ok(Some(duration).filter(|d| !d.is_zero()))
}

/// The program's arguments without flags (those starting with `--`, and the values of those
/// that take one).
pub fn positional_args() -> Vec<String> {
    let mut positional = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if VALUE_FLAGS.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with("--") {
            positional.push(arg);
        }
    }
    positional
}
