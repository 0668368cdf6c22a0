//! Blocking std::net drivers shared by the examples: the server side of the opening handshake,
//! a client connect, and the drive loop around a `Connection`.
//!
//! This is the whole of what an application writes around the crate when it uses blocking
//! sockets: read bytes in, drain events, write bytes out, repeat.

#![allow(dead_code)] // Each example uses a different part of this module.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use rfc6455::connection::{Config, Connection, Event};
use rfc6455::deflate::{DeflateConfig, PerMessageDeflate, accept_client, client_offer, negotiate_server};
use rfc6455::handshake::{
    self, Accept, ClientRequest, HandshakeTimeout, Reject, RequestParser, WebSocketKey, WebSocketUri,
};
use rfc6455::{ProtocolError, Role};

/// How long either side waits for the other's handshake head.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads into `buf` with the socket's read timeout set to what is left before `timeout`;
/// an expired deadline is reported as `HandshakeError::Timeout`.
fn read_until(stream: &mut TcpStream, buf: &mut [u8], timeout: &HandshakeTimeout) -> io::Result<usize> {
    let left = timeout.deadline().saturating_duration_since(Instant::now());
    timeout.check(Instant::now()).map_err(io::Error::other)?;
    stream.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
    let result = stream.read(buf);
    stream.set_read_timeout(None)?;
    match result {
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            Err(io::Error::other(handshake::HandshakeError::Timeout))
        }
        other => other,
    }
}

/// What the server learned from a successful handshake.
pub struct Upgraded {
    pub connection: Connection,
    pub path: String,
    pub subprotocol: Option<String>,
}

/// Reads a request head from `stream`, answers it, and returns the connection primed with any
/// bytes that followed the head. `choose` picks a subprotocol from the client's offers;
/// `deflate`, when given, is the permessage-deflate policy to negotiate with.
/// Returns `Ok(None)` when the request was rejected (the rejection has been written).
pub fn accept(
    stream: &mut TcpStream,
    config: Config,
    choose: impl Fn(&[&str]) -> Option<String>,
    deflate: Option<&DeflateConfig>,
) -> io::Result<Option<Upgraded>> {
    let mut parser = RequestParser::new(handshake::Config::default());
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    let timeout = HandshakeTimeout::new(Instant::now(), HANDSHAKE_TIMEOUT);
    loop {
        let n = match read_until(stream, &mut buf, &timeout) {
            Ok(n) => n,
            Err(error) if timeout.check(Instant::now()).is_err() => {
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
                let subprotocol = choose(request.subprotocols());
                let path = request.path().to_owned();
                let agreed = deflate
                    .and_then(|policy| Some((negotiate_server(request.extensions(), policy)?, policy)));
                let answer = agreed.map(|(params, _)| params.to_string());
                let accept =
                    Accept::new().with_subprotocol(subprotocol.as_deref()).with_extension(answer.as_deref());
                let response = request.accept(&accept).map_err(io::Error::other)?;
                response.write(&mut out).map_err(io::Error::other)?;
                stream.write_all(&out)?;
                let mut connection = Connection::new(Role::Server, config);
                if let Some((params, policy)) = agreed {
                    connection.set_extension(Box::new(PerMessageDeflate::new(Role::Server, params, policy)));
                }
                connection.handle_bytes(&buf[used..n]);
                return Ok(Some(Upgraded { connection, path, subprotocol }));
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
/// permessage-deflate when `deflate` is given.
pub fn connect(
    url: &str,
    config: Config,
    deflate: Option<&DeflateConfig>,
) -> io::Result<(TcpStream, Connection)> {
    let uri = WebSocketUri::parse(url).map_err(io::Error::other)?;
    if uri.is_secure() {
        return Err(io::Error::other("wss:// needs TLS: see examples/wss_echo.rs"));
    }
    let host = uri.host().trim_start_matches('[').trim_end_matches(']');
    let mut stream = TcpStream::connect((host, uri.port()))?;
    stream.set_nodelay(true)?;
    let mut out = Vec::new();
    let offer = deflate.map(client_offer);
    let mut client = ClientRequest::from_uri(uri, WebSocketKey::random());
    if let Some(offer) = offer.as_deref() {
        client = client.with_extension(offer);
    }
    let handshake = client.write(&mut out).map_err(io::Error::other)?;
    stream.write_all(&out)?;
    let mut parser = handshake.parser();
    let mut buf = [0u8; 4096];
    let timeout = HandshakeTimeout::new(Instant::now(), HANDSHAKE_TIMEOUT);
    loop {
        let n = read_until(&mut stream, &mut buf, &timeout)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed during the handshake"));
        }
        if let Some((response, used)) = parser.feed(&buf[..n]).map_err(io::Error::other)? {
            let accepted = handshake.verify(&response).map_err(io::Error::other)?;
            let mut connection = Connection::new(Role::Client, config);
            if let Some(policy) = deflate
                && let Some(params) =
                    accept_client(accepted.extensions(), policy).map_err(io::Error::other)?
            {
                connection.set_extension(Box::new(PerMessageDeflate::new(Role::Client, params, policy)));
            }
            connection.handle_bytes(&buf[used..n]);
            return Ok((stream, connection));
        }
    }
}

/// Writes everything the connection has pending.
pub fn flush(stream: &mut TcpStream, connection: &mut Connection) -> io::Result<()> {
    loop {
        let pending = connection.poll_output();
        if pending.is_empty() {
            return Ok(());
        }
        let n = stream.write(pending)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        connection.handle_written(n);
    }
}

/// How a drive loop ended.
#[derive(Debug)]
pub enum Ended {
    /// The close handshake completed (or the peer vanished): the code we saw.
    Closed(u16),
    /// The peer broke the protocol.
    Failed(ProtocolError),
}

/// Runs the drive loop until the connection is over: reads, hands every event to `on_event`
/// (which may send through the connection it is given), writes, and closes the socket when the
/// connection says so. Events are copied into `scratch`-backed owned form so `on_event` can
/// use the connection mutably.
pub fn drive(
    stream: &mut TcpStream,
    connection: &mut Connection,
    mut on_event: impl FnMut(&mut Connection, OwnedEvent<'_>),
) -> io::Result<Ended> {
    let mut scratch = Vec::new();
    let mut close_code = None;
    loop {
        loop {
            let event = match connection.poll_event() {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(error) => {
                    flush(stream, connection)?;
                    let _ = stream.shutdown(Shutdown::Both);
                    return Ok(Ended::Failed(error));
                }
            };
            scratch.clear();
            let owned = match event {
                Event::Text(text) => {
                    scratch.extend_from_slice(text.as_bytes());
                    Kind::Text
                }
                Event::Binary(data) => {
                    scratch.extend_from_slice(data);
                    Kind::Binary
                }
                Event::Close(info) => {
                    close_code = Some(info.code.0);
                    Kind::Close(info.code.0)
                }
                _ => Kind::Other,
            };
            on_event(connection, OwnedEvent { kind: owned, data: &scratch });
        }
        flush(stream, connection)?;
        if connection.should_drop_transport() {
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(Ended::Closed(close_code.unwrap_or(1006)));
        }
        let buf = connection.read_buf(64 * 1024);
        match stream.read(buf) {
            Ok(0) => connection.handle_eof(),
            Ok(n) => connection.handle_read(n),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => connection.handle_eof(),
            Err(e) => return Err(e),
        }
    }
}

/// The permessage-deflate policy unless `--no-deflate` is among the program's arguments.
pub fn deflate_from_args() -> Option<DeflateConfig> {
    if std::env::args().any(|arg| arg == "--no-deflate") { None } else { Some(DeflateConfig::default()) }
}

/// The program's arguments without flags (those starting with `--`).
pub fn positional_args() -> Vec<String> {
    std::env::args().skip(1).filter(|arg| !arg.starts_with("--")).collect()
}

/// The events the examples care about, with data copied out of the connection.
pub enum Kind {
    Text,
    Binary,
    Close(u16),
    Other,
}

/// An event with its data in a reused buffer.
pub struct OwnedEvent<'a> {
    pub kind: Kind,
    pub data: &'a [u8],
}
