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

use rfc6455::connection::{CloseInfo, Config, Connection, Event, MessageKind, OwnedEvent, TimeoutConfig};
use rfc6455::handshake::{self, Accept, Reject, RequestParser};
use rfc6455::time::Epoch;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// How long an ended connection may take to write out its Close before the transport is
/// closed anyway: the connection's timers stop at its end, and a peer that stops reading
/// would otherwise hold the task forever.
const LINGER: Duration = Duration::from_secs(5);

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
                        Ok(info) => eprintln!("[{id}] {peer}: {info}"),
                        Err(error) => eprintln!("[{id}] {peer}: I/O error: {error}"),
                    }
                }
                Ok(None) => eprintln!("[{id}] {peer}: not a WebSocket request, answered with an HTTP error"),
                Err(error) => eprintln!("[{id}] {peer}: handshake I/O error: {error}"),
            }
        });
    }
}

/// The connection settings: default limits (among them 1 MiB of output waiting for a slow
/// reader at most), a Ping after 30 s of silence, the peer declared dead 30 s after that, and
/// 5 s for the peer to answer our Close.
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
                // The client may send its first frames right behind the head.
                let (response, connection) =
                    request.upgrade(&Accept::new(), config, &buf[used..n]).map_err(io::Error::other)?;
                response.write(&mut out).map_err(io::Error::other)?;
                stream.write_all(&out).await?;
                stream.flush().await?;
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

/// Echoes every message until the connection is over; returns how it ended.
///
/// The loop is the crate's drive loop with tokio's `select!` as the wait: drain events, then
/// wait for whichever comes first of "the peer sent bytes" (only while the output has room:
/// backpressure), "the socket took some output" (only while output is pending), and "the next
/// timer is due"; feed what happened back in and go round again.
pub async fn echo<S>(stream: S, mut connection: Connection) -> io::Result<CloseInfo>
where
    S: AsyncRead + AsyncWrite,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut buf = vec![0u8; 64 * 1024];
    let epoch = Epoch::new(std::time::Instant::now());
    let mut ended: Option<(CloseInfo, Instant)> = None;
    connection.handle_timeout(epoch.instant(std::time::Instant::now())); // starts the keepalive clock
    loop {
        // 1. Drain events while the output has room for their echoes; when it is full, the
        //    rest wait in the connection, and reading pauses below, until the socket takes
        //    some output. Pongs, the answer to the peer's Close and the Close of a protocol
        //    error are queued by the crate.
        while has_room(&connection)
            && let Some(event) = connection.poll_event()
        {
            if let Event::Closed(info) = event {
                ended = Some((info.clone(), Instant::now() + LINGER));
                break;
            }
            // There is room: only a Close of ours refuses the echo, and then it is moot.
            let _ = match event.into_owned() {
                OwnedEvent::Text(text) => connection.send_owned(MessageKind::Text, text),
                OwnedEvent::Binary(data) => connection.send_owned(MessageKind::Binary, data),
                _ => Ok(()),
            };
        }
        // 2. Done once the connection has ended and its Close is written (or LINGER is over).
        if let Some((info, linger)) = &ended
            && (connection.should_drop_transport() || Instant::now() >= *linger)
        {
            let _ = writer.shutdown().await;
            return Ok(info.clone());
        }
        // 3. Wait for the socket or the clock.
        let pending = connection.pending_output_len();
        let wake = connection
            .poll_timeout()
            .map(|deadline| epoch.to_std(deadline).into())
            .or(ended.as_ref().map(|e| e.1));
        tokio::select! {
            read = reader.read(&mut buf), if has_room(&connection) => match read {
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
                connection.handle_written(written?).expect("a write takes at most what it was given");
                if connection.pending_output_len() == 0 {
                    // TLS buffers records; a plain socket has nothing to flush.
                    writer.flush().await?;
                }
            }
            () = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {}
        }
        // 4. Tell the connection the time after every input: it stamps the traffic and fires
        //    due timers (a keepalive Ping, a dead peer, the end of the wait for a Close).
        connection.handle_timeout(epoch.instant(std::time::Instant::now()));
    }
}

/// Whether the output has room for another message (backpressure: past
/// `Config::max_pending_output` a send is refused). `can_send` also says no once we closed.
fn has_room(connection: &Connection) -> bool {
    connection.pending_output_len() < connection.config().max_pending_output
}
