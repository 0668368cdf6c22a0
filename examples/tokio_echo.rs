//! An echo server on tokio: one task per connection, reading and writing concurrently, with
//! backpressure and keepalive timers. Every message comes back with its type.
//!
//! ```sh
//! cargo run --example tokio_echo -- 127.0.0.1:9002
//! cargo run --example client -- ws://127.0.0.1:9002/
//! ```
//!
//! The crate does no I/O, so the async part is all here, in [`accept`] and [`echo`]: a
//! `select!` that waits at once for the socket to be readable, for it to take the pending
//! output, and for the connection's next timer. Both functions are generic over the byte
//! stream; `examples/wss_echo.rs` runs them unchanged over TLS.

use std::io;
use std::time::Duration;

use rfc6455::connection::{Config, Connection, Event, MessageKind, TimeoutConfig};
use rfc6455::handshake::{self, Accept, Reject, RequestParser};
use rfc6455::{CloseCode, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// Stop reading from a peer while this many bytes wait to be written to it. A client that
/// sends faster than it reads its echoes then stalls on its own socket instead of growing
/// our output buffer without end.
pub const HIGH_WATER: usize = 1 << 20;

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("tokio_echo: listening on ws://{}", listener.local_addr()?);
    let mut id = 0u64;
    loop {
        let (mut stream, peer) = listener.accept().await?;
        id += 1;
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            match accept(&mut stream, config()).await {
                Ok(Some(connection)) => {
                    eprintln!("[{id}] {peer}: connected");
                    match echo(stream, connection).await {
                        Ok(code) => eprintln!("[{id}] {peer}: closed ({code})"),
                        Err(error) => eprintln!("[{id}] {peer}: I/O error: {error}"),
                    }
                }
                Ok(None) => eprintln!("[{id}] {peer}: not a WebSocket request, answered with an HTTP error"),
                Err(error) => eprintln!("[{id}] {peer}: handshake I/O error: {error}"),
            }
        });
    }
}

/// The connection settings: default limits, a Ping after 30 s of silence, the peer declared
/// dead 30 s after that, and 5 s for the peer to answer our Close.
pub fn config() -> Config {
    let timeouts = TimeoutConfig::default()
        .ping_interval(Duration::from_secs(30))
        .pong_timeout(Duration::from_secs(30))
        .close_timeout(Duration::from_secs(5));
    Config::default().timeouts(timeouts)
}

/// The server side of the opening handshake over any byte stream: reads the request head,
/// answers `101` (or an HTTP error, then `Ok(None)`), and returns the connection primed with
/// the bytes that followed the head.
pub async fn accept<S>(stream: &mut S, config: Config) -> io::Result<Option<Connection>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut parser = RequestParser::new(handshake::Config::default());
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::new();
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        match parser.feed(&buf[..n]) {
            Ok(None) => continue,
            Ok(Some((request, used))) => {
                request
                    .accept(&Accept::new())
                    .map_err(io::Error::other)?
                    .write(&mut out)
                    .map_err(io::Error::other)?;
                stream.write_all(&out).await?;
                stream.flush().await?;
                let mut connection = Connection::new(Role::Server, config);
                // The client may send its first frames right behind the head.
                connection.handle_bytes(&buf[used..n]);
                return Ok(Some(connection));
            }
            Err(error) => {
                Reject::for_error(&error).write(&mut out).map_err(io::Error::other)?;
                stream.write_all(&out).await?;
                let _ = stream.shutdown().await;
                return Ok(None);
            }
        }
    }
}

/// Echoes every message until the connection is over; returns the close code seen.
///
/// The loop is the crate's drive loop with tokio's `select!` as the wait: drain events, then
/// wait for whichever comes first of "the peer sent bytes" (only while less than
/// [`HIGH_WATER`] is pending), "the socket took some output" (only while output is pending),
/// and "the next timer is due"; feed what happened back in and go round again.
pub async fn echo<S>(stream: S, mut connection: Connection) -> io::Result<CloseCode>
where
    S: AsyncRead + AsyncWrite,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut buf = vec![0u8; 64 * 1024];
    let mut scratch = Vec::new();
    let mut close_code = CloseCode::ABNORMAL;
    connection.handle_timeout(std::time::Instant::now()); // starts the keepalive clock
    loop {
        // 1. Drain events. Data is copied out because the event borrows the connection and
        //    the echo needs it back; Pongs and the Close echo are queued by the crate.
        loop {
            let kind = match connection.poll_event() {
                Ok(Some(Event::Text(text))) => {
                    scratch.clear();
                    scratch.extend_from_slice(text.as_bytes());
                    MessageKind::Text
                }
                Ok(Some(Event::Binary(data))) => {
                    scratch.clear();
                    scratch.extend_from_slice(data);
                    MessageKind::Binary
                }
                Ok(Some(Event::Close(info))) => {
                    close_code = info.code;
                    continue;
                }
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(error) => {
                    // The peer broke the protocol: a Close with this code is queued.
                    eprintln!("protocol error: {error}");
                    close_code = error.close_code();
                    break;
                }
            };
            // Sending fails only once we are closing; the echo is then moot.
            let _ = connection.send(kind, &scratch);
        }
        // 2. Done once the close handshake is over and everything is written.
        if connection.should_drop_transport() {
            let _ = writer.shutdown().await;
            return Ok(close_code);
        }
        // 3. Wait for the socket or the clock.
        let pending = connection.pending_output_len();
        let deadline = connection.poll_timeout();
        let wake = deadline.map_or_else(far_future, tokio::time::Instant::from_std);
        tokio::select! {
            read = reader.read(&mut buf), if pending < HIGH_WATER => match read {
                Ok(0) => connection.handle_eof(),
                Ok(n) => connection.handle_bytes(&buf[..n]),
                // A reset, or TLS ending without close_notify, is the peer vanishing: the same
                // as end of stream (code 1006).
                Err(error) if matches!(error.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof) => {
                    connection.handle_eof()
                }
                Err(error) => return Err(error),
            },
            written = writer.write(connection.poll_output()), if pending > 0 => {
                connection.handle_written(written?);
                if connection.pending_output_len() == 0 {
                    // TLS buffers records; a plain socket has nothing to flush.
                    writer.flush().await?;
                }
            }
            () = tokio::time::sleep_until(wake), if deadline.is_some() => {}
        }
        // 4. Tell the connection the time after every input: it stamps the traffic and fires
        //    due timers (a keepalive Ping, a dead peer, the end of the wait for a Close).
        connection.handle_timeout(std::time::Instant::now());
    }
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(24 * 3600)
}
