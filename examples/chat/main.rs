//! A chat room: the instant-messaging case this crate started from.
//!
//! One tokio server on one port serves the page (`GET /`, `index.html` beside this file) and
//! the WebSocket endpoint (`/ws`). Every browser that opens the page joins the room; every text
//! message is broadcast to everyone, sender included; the server pings each client when it has
//! been silent and drops the ones that stop answering; on Ctrl-C or SIGTERM it closes every
//! connection with 1001 (going away), and the pages reconnect with backoff when it comes back.
//!
//! ```sh
//! cargo run --example chat -- 127.0.0.1:8080 [--ping-ms 15000]
//! ```
//!
//! With the crate's `deflate` feature it negotiates permessage-deflate (RFC 7692) with the
//! browsers, which offer it; built without it, the chat runs the same with no compression.
//! `scripts/browser_test.sh` drives two Chromium pages against it.
//!
//! What it shows: routing plain HTTP and WebSocket requests with the crate's own handshake
//! parser, an `Origin` check (RFC 6455 §10.2), extension negotiation, and a connection task
//! that waits at once on the socket, the room and the keepalive timer, with backpressure.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use rfc6455::CloseCode;
use rfc6455::connection::{
    CloseInfo, CloseOrigin, Config, Connection, Event, MessageKind, State, TimeoutConfig,
};
use rfc6455::handshake::{self, Accept, HandshakeError, Reject, Request, RequestParser};
use rfc6455::time::Epoch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// The page, served at `/`.
const PAGE: &str = include_str!("index.html");

/// Room messages a slow client may fall behind by before it is dropped.
const ROOM_BACKLOG: usize = 1024;

/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest chat message accepted (after decompression).
const MAX_MESSAGE: u64 = 1 << 20;

/// How long a connection that has ended may take to write out its Close before the socket is
/// closed anyway (the connection's timers stop at its end).
const LINGER: Duration = Duration::from_secs(5);

/// What every connection task shares.
struct Room {
    /// Every room event, as the JSON text sent to the pages.
    events: broadcast::Sender<Arc<str>>,
    online: AtomicUsize,
    next_id: AtomicU64,
    ping_interval: Duration,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let mut addr = "127.0.0.1:8080".to_owned();
    let mut ping_interval = Duration::from_secs(15);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ping-ms" => {
                let ms = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| usage("--ping-ms needs a number"))?;
                ping_interval = Duration::from_millis(ms);
            }
            _ if !arg.starts_with('-') => addr = arg,
            _ => return Err(usage(&format!("unknown option {arg}"))),
        }
    }

    let listener = TcpListener::bind(&addr).await?;
    let room = Arc::new(Room {
        events: broadcast::channel(ROOM_BACKLOG).0,
        online: AtomicUsize::new(0),
        next_id: AtomicU64::new(1),
        ping_interval,
    });
    let deflate = if cfg!(feature = "deflate") { "on" } else { "off (build with --features deflate)" };
    println!("chat: open http://{}/ (permessage-deflate {deflate})", listener.local_addr()?);

    let (shutdown, shutting_down) = watch::channel(false);
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(handle(stream, peer, room.clone(), shutting_down.clone()));
                }
                Err(error) => eprintln!("accept failed: {error}"),
            },
            () = &mut stop => break,
        }
    }

    // Every connection closes with 1001; give them a moment to send it and hear the reply.
    drop(listener);
    let _ = shutdown.send(true);
    for _ in 0..100 {
        if room.online.load(Ordering::Relaxed) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("chat: stopped");
    Ok(())
}

fn usage(problem: &str) -> io::Error {
    io::Error::other(format!("{problem}\nusage: chat [ADDR] [--ping-ms N]"))
}

/// Resolves on Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => drop(tokio::signal::ctrl_c().await),
        }
    }
    #[cfg(not(unix))]
    drop(tokio::signal::ctrl_c().await);
}

/// One TCP connection: read a request head, then serve the page, refuse, or upgrade.
async fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
    room: Arc<Room>,
    shutting_down: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut parser = RequestParser::new(handshake::Config::default());
    // The head so far, kept only to route a request that is not an upgrade. The parser
    // bounds it: past 8 KiB it fails with 431.
    let mut head = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    // A client that does not finish its head in time is dropped (a slowloris holds no task).
    let deadline = tokio::time::Instant::now() + HEAD_TIMEOUT;
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return,
        };
        match parser.feed(&buf[..n]) {
            Ok(None) => head.extend_from_slice(&buf[..n]),
            Ok(Some((request, used))) => {
                // The page's first frames may have come in with the head.
                let Some(connection) = upgrade(&request, room.ping_interval, &buf[used..n], &mut out) else {
                    let _ = write_and_close(&mut stream, &out).await;
                    return;
                };
                if stream.write_all(&out).await.is_err() {
                    return;
                }
                let result = run(stream, connection, &room, shutting_down).await;
                if let Err(error) = result {
                    eprintln!("{peer}: I/O error: {error}");
                }
                return;
            }
            Err(HandshakeError::MissingUpgradeWebSocket) => {
                // An ordinary HTTP request: the page, or nothing.
                head.extend_from_slice(&buf[..n]);
                let page = head.starts_with(b"GET / ") || head.starts_with(b"GET /index.html ");
                if page {
                    out.extend_from_slice(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                             Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                            PAGE.len()
                        )
                        .as_bytes(),
                    );
                    out.extend_from_slice(PAGE.as_bytes());
                } else {
                    let _ = Reject::new(404).with_body(b"not found\n").write(&mut out);
                }
                let _ = write_and_close(&mut stream, &out).await;
                return;
            }
            Err(error) => {
                let _ = Reject::for_error(&error).write(&mut out);
                let _ = write_and_close(&mut stream, &out).await;
                return;
            }
        }
    }
}

async fn write_and_close(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes).await?;
    stream.shutdown().await
}

/// Answers a valid upgrade request: writes the `101` (or a rejection) to `out` and returns
/// the connection, fed `after_head`, with permessage-deflate on when the browser offered it.
fn upgrade(
    request: &Request<'_>,
    ping_interval: Duration,
    after_head: &[u8],
    out: &mut Vec<u8>,
) -> Option<Connection> {
    if request.path() != "/ws" {
        let _ = Reject::new(404).with_body(b"the WebSocket endpoint is /ws\n").write(out);
        return None;
    }
    // §10.2: a browser always sends Origin; only pages served by this server may connect.
    // Clients that are not browsers send none and are let in.
    if let Some(origin) = request.origin() {
        let host = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
        if host != Some(request.host()) {
            let _ = Reject::new(403).with_body(b"cross-origin WebSocket refused\n").write(out);
            return None;
        }
    }
    // A Ping after `ping_interval` of silence; no answer within as long again drops the client.
    let timeouts = TimeoutConfig::default()
        .ping_interval(ping_interval)
        .pong_timeout(ping_interval)
        .close_timeout(Duration::from_secs(5));
    let config = Config::default().max_message_size(MAX_MESSAGE).timeouts(timeouts);
    // Browsers offer permessage-deflate (Chromium: `permessage-deflate; client_max_window_bits`).
    // The defaults, 32 KiB windows with context takeover, compress a chat's many similar
    // messages best, at about 300 KiB of zlib state per client.
    #[cfg(feature = "deflate")]
    let config = config.deflate(rfc6455::deflate::DeflateConfig::default());
    match request.upgrade(&Accept::new(), config, after_head) {
        Ok((response, connection)) => {
            response.write(out).ok()?;
            Some(connection)
        }
        Err(error) => {
            eprintln!("cannot accept: {error}");
            let _ = Reject::new(500).write(out);
            None
        }
    }
}

/// A joined client: relays its messages to the room and the room's to it until it leaves.
async fn run(
    mut stream: TcpStream,
    mut connection: Connection,
    room: &Room,
    mut shutting_down: watch::Receiver<bool>,
) -> io::Result<()> {
    let name = format!("user-{}", room.next_id.fetch_add(1, Ordering::Relaxed));
    // Subscribe before announcing, so the newcomer sees its own arrival.
    let mut events = room.events.subscribe();
    let online = room.online.fetch_add(1, Ordering::Relaxed) + 1;
    // The first message of a fresh connection, whose output is all but empty: only a Close
    // that came with the head can refuse it, and then it is moot.
    let _ =
        connection.send_text(&json(&[("kind", "welcome"), ("you", &name), ("online", &online.to_string())]));
    let _ =
        room.events.send(json(&[("kind", "join"), ("who", &name), ("online", &online.to_string())]).into());
    eprintln!("{name}: joined ({online} online)");

    let result = relay(&mut stream, &mut connection, room, &name, &mut events, &mut shutting_down).await;

    let online = room.online.fetch_sub(1, Ordering::Relaxed) - 1;
    let _ =
        room.events.send(json(&[("kind", "leave"), ("who", &name), ("online", &online.to_string())]).into());
    match &result {
        Ok(why) => eprintln!("{name}: left, {why} ({online} online)"),
        Err(error) => eprintln!("{name}: left, I/O error {error} ({online} online)"),
    }
    result.map(drop)
}

/// The drive loop of one client. Returns why it ended.
async fn relay(
    stream: &mut TcpStream,
    connection: &mut Connection,
    room: &Room,
    name: &str,
    events: &mut broadcast::Receiver<Arc<str>>,
    shutting_down: &mut watch::Receiver<bool>,
) -> io::Result<String> {
    let (mut reader, mut writer) = stream.split();
    let mut buf = vec![0u8; 64 * 1024];
    let epoch = Epoch::new(std::time::Instant::now());
    let mut ended: Option<(String, Instant)> = None;
    connection.handle_timeout(epoch.instant(std::time::Instant::now())); // starts the keepalive clock
    loop {
        // 1. Drain the client's events: its messages go to the room as they are.
        while let Some(event) = connection.poll_event() {
            match event {
                Event::Text(text) => {
                    let message = json(&[("kind", "msg"), ("from", name), ("text", text)]);
                    let _ = room.events.send(message.into());
                }
                // The end; a Close it calls for (the answer to the page's, or the code of a
                // protocol error) is queued: write it, then drop the client.
                Event::Closed(info) => ended = Some((why(info), Instant::now() + LINGER)),
                _ => {} // binary is not part of this chat; pings are answered already
            }
        }
        if let Some((why, linger)) = &ended
            && (connection.should_drop_transport() || Instant::now() >= *linger)
        {
            let _ = writer.shutdown().await;
            return Ok(why.clone());
        }
        // 2. Wait for the socket, the room, shutdown or the keepalive timer. Backpressure: a
        //    client whose output is full (past `Config::max_pending_output`) is not read from
        //    and takes nothing from the room until it drains; one that falls ROOM_BACKLOG
        //    messages behind is dropped.
        let pending = connection.pending_output_len();
        let room_for_more = pending < connection.config().max_pending_output;
        let open = connection.state() == State::Open;
        let wake = connection
            .poll_timeout()
            .map(|deadline| epoch.to_std(deadline).into())
            .or(ended.as_ref().map(|e| e.1));
        tokio::select! {
            read = reader.read(&mut buf), if room_for_more => match read {
                Ok(0) => connection.handle_eof(),
                Ok(n) => connection.handle_bytes(&buf[..n]),
                Err(_) => connection.handle_eof(), // a reset: the page is gone
            },
            written = writer.write(connection.poll_output()), if pending > 0 => {
                connection.handle_written(written?).expect("a write takes at most what it was given");
            }
            message = events.recv(), if connection.can_send() => match message {
                Ok(message) => {
                    // `can_send` held, so this is not refused. A large message is queued
                    // where it lies, shared with the other clients, not copied.
                    let _ = connection.send_owned(MessageKind::Text, message);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = connection.close(CloseCode::POLICY_VIOLATION, "too slow");
                }
                Err(broadcast::error::RecvError::Closed) => {}
            },
            changed = shutting_down.changed(), if open => {
                if changed.is_err() || *shutting_down.borrow() {
                    let _ = connection.close(CloseCode::GOING_AWAY, "server shutting down");
                }
            }
            () = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {}
        }
        // 3. The time, after every input: stamps traffic, sends a due Ping, gives up on a
        //    client that did not answer the last one.
        connection.handle_timeout(epoch.instant(std::time::Instant::now()));
    }
}

/// Why a client left, for the log.
fn why(info: &CloseInfo) -> String {
    match info.origin() {
        CloseOrigin::Timeout(_) => "no answer to ping: dropped".to_owned(),
        _ => info.to_string(),
    }
}

/// A flat JSON object of string fields (`online` is sent as a string too; the page parses it).
fn json(fields: &[(&str, &str)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, key);
        out.push(':');
        push_json_string(&mut out, value);
    }
    out.push('}');
    out
}

/// Appends `text` to `out` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
