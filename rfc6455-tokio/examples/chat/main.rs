//! A chat room: the instant-messaging case this project started from.
//!
//! One axum server on one port serves the page (`GET /`, `index.html` beside this file) and
//! the WebSocket endpoint (`/ws`). Every browser that opens the page joins the room; every text
//! message is broadcast to everyone, sender included; the server pings each client when it has
//! been silent and drops the ones that stop answering; on Ctrl-C or SIGTERM it closes every
//! connection with 1001 (going away), and the pages reconnect with backoff when it comes back.
//!
//! ```sh
//! cargo run -p rfc6455-tokio --example chat --features axum,http2 -- 127.0.0.1:8080 [--ping-ms 15000] [--tls]
//! ```
//!
//! It negotiates permessage-deflate (RFC 7692) with the browsers, which offer it.
//! `scripts/browser_test.sh` drives two Chromium pages against it.
//!
//! With `--tls` it serves `https://` and `wss://` on the same port with a self-signed
//! certificate made at start, offering `h2` and `http/1.1` by ALPN: a browser loads the page
//! over HTTP/2 and then opens its WebSocket as an extended CONNECT on that same connection
//! (RFC 8441; the server sends `SETTINGS_ENABLE_CONNECT_PROTOCOL`), while HTTP/1.1 clients use
//! the `Upgrade`; both land in the same room. Each WebSocket request is logged with its HTTP
//! version, method and `:protocol`. `scripts/browser_h2_test.sh` proves it in Chromium.
//!
//! What it shows: a WebSocket route beside ordinary ones, an `Origin` check (RFC 6455 §10.2)
//! in the request hook, and a connection task that waits at once on the WebSocket, the room
//! and shutdown. Pings, Pongs, the keepalive and the close handshake are the WebSocket's.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{Method, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Router};
use rfc6455::connection::{CloseOrigin, Config, TimeoutConfig};
use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::Request;
use rfc6455_tokio::{
    CloseCode, Decision, Error, Message, Options, UpgradedWebSocket, Utf8Bytes, WebSocketUpgrade,
};
use tokio::sync::{broadcast, watch};

/// The page, served at `/`.
const PAGE: &str = include_str!("index.html");

/// Room messages a slow client may fall behind by before it is dropped.
const ROOM_BACKLOG: usize = 1024;

/// The largest chat message accepted (after decompression).
const MAX_MESSAGE: u64 = 1 << 20;

/// What every connection task shares.
struct Room {
    /// Every room event, as the JSON text sent to the pages (shared, not copied, per client).
    events: broadcast::Sender<Utf8Bytes>,
    online: AtomicUsize,
    next_id: AtomicU64,
    ping_interval: Duration,
    /// Turns true on Ctrl-C or SIGTERM.
    shutting_down: watch::Receiver<bool>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let mut addr = "127.0.0.1:8080".to_owned();
    let mut ping_interval = Duration::from_secs(15);
    let mut tls = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tls" => tls = true,
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

    let (shutdown, shutting_down) = watch::channel(false);
    let room = Arc::new(Room {
        events: broadcast::channel(ROOM_BACKLOG).0,
        online: AtomicUsize::new(0),
        next_id: AtomicU64::new(1),
        ping_interval,
        shutting_down,
    });
    let app = Router::new()
        .route("/", get(page))
        .route("/index.html", get(page))
        .route("/ws", any(websocket))
        .with_state(room.clone());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;

    // Stop accepting on the signal; every connection then closes with 1001.
    let stop = async move {
        stop_signal().await;
        let _ = shutdown.send(true);
    };
    if tls {
        println!(
            "chat: open https://{local}/ (HTTP/2 and HTTP/1.1, self-signed certificate, permessage-deflate on)"
        );
        tls::serve(listener, app, stop).await?;
    } else {
        println!("chat: open http://{local}/ (permessage-deflate on)");
        axum::serve(listener, app).with_graceful_shutdown(stop).await?;
    }
    // Give the connections a moment to send their Close and hear the reply.
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
    io::Error::other(format!("{problem}\nusage: chat [ADDR] [--ping-ms N] [--tls]"))
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

async fn page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], PAGE)
}

/// `/ws`: same-origin pages join the room, with permessage-deflate when they offer it. Over
/// HTTP/1.1 the request is a `GET` with `Upgrade: websocket`; over HTTP/2 a `CONNECT` with
/// `:protocol = websocket` (RFC 8441), which hyper hands over as a request extension.
async fn websocket(
    State(room): State<Arc<Room>>,
    method: Method,
    version: Version,
    protocol: Option<Extension<hyper::ext::Protocol>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let protocol = protocol.map_or_else(|| "-".to_owned(), |Extension(p)| p.as_str().to_owned());
    eprintln!("ws request: {version:?} {method} /ws :protocol={protocol}");
    // A Ping after `ping_interval` of silence; no answer within as long again drops the client.
    let timeouts = TimeoutConfig::default()
        .ping_interval(room.ping_interval)
        .pong_timeout(room.ping_interval)
        .close_timeout(Duration::from_secs(5));
    // Browsers offer permessage-deflate (Chromium: `permessage-deflate; client_max_window_bits`).
    // The defaults, 32 KiB windows with context takeover, compress a chat's many similar
    // messages best, at about 300 KiB of zlib state per client.
    let config =
        Config::default().max_message_size(MAX_MESSAGE).timeouts(timeouts).deflate(DeflateConfig::default());
    let options = Options::default().config(config).on_request(same_origin);
    upgrade.options(options).on_upgrade(move |ws| join(ws, room))
}

/// `--tls`: HTTPS and WSS on one port, HTTP/2 or HTTP/1.1 by ALPN.
mod tls {
    use std::future::Future;
    use std::io;
    use std::sync::Arc;

    use axum::Router;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    use rfc6455_tokio::rustls::ServerConfig;
    use rfc6455_tokio::rustls::crypto::ring;
    use rfc6455_tokio::rustls::pki_types::PrivatePkcs8KeyDer;
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    /// Serves `app` over TLS until `stop` resolves.
    pub async fn serve(listener: TcpListener, app: Router, stop: impl Future<Output = ()>) -> io::Result<()> {
        // A certificate for this run only: browsers are told to accept it
        // (`--ignore-certificate-errors`), or show their warning once.
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let certified = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key.into())
            .map_err(io::Error::other)?;
        // HTTP/2 first: browsers then load the page, and open the WebSocket, over one h2
        // connection. HTTP/1.1 clients (and `ws` libraries) still get the Upgrade.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        // One server for both versions; HTTP/2 announces SETTINGS_ENABLE_CONNECT_PROTOCOL
        // (RFC 8441 §3), without which browsers never send an extended CONNECT.
        let mut http = Builder::new(TokioExecutor::new());
        http.http2().enable_connect_protocol();
        let service = TowerToHyperService::new(app);
        tokio::pin!(stop);
        loop {
            let (tcp, peer) = tokio::select! {
                _ = &mut stop => return Ok(()),
                accepted = listener.accept() => accepted?,
            };
            let (acceptor, http, service) = (acceptor.clone(), http.clone(), service.clone());
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(error) => return eprintln!("{peer}: TLS handshake failed: {error}"),
                };
                let alpn = tls
                    .get_ref()
                    .1
                    .alpn_protocol()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default()
                    .into_owned();
                eprintln!("{peer}: TLS connection, ALPN {alpn:?}");
                // `with_upgrades`: HTTP/1.1 upgrades hand the connection over; HTTP/2
                // WebSockets are streams of the connection, which keeps serving the others.
                if let Err(error) = http.serve_connection_with_upgrades(TokioIo::new(tls), service).await {
                    eprintln!("{peer}: connection ended: {error}");
                }
            });
        }
    }
}

/// §10.2: a browser always sends `Origin`; only pages served by this server may connect.
/// Clients that are not browsers send none and are let in.
fn same_origin(request: &Request<'_>) -> Decision {
    if let Some(origin) = request.origin() {
        let host = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
        if host != Some(request.host()) {
            return Decision::reject(403).with_body("cross-origin WebSocket refused\n");
        }
    }
    Decision::accept()
}

/// A joined client: relays its messages to the room and the room's to it until it leaves.
async fn join(mut ws: UpgradedWebSocket, room: Arc<Room>) {
    let name = format!("user-{}", room.next_id.fetch_add(1, Ordering::Relaxed));
    // Subscribe before announcing, so the newcomer sees its own arrival.
    let mut events = room.events.subscribe();
    let online = (room.online.fetch_add(1, Ordering::Relaxed) + 1).to_string();
    let welcome = json(&[("kind", "welcome"), ("you", &name), ("online", &online)]);
    let _ = room.events.send(json(&[("kind", "join"), ("who", &name), ("online", &online)]).into());
    eprintln!("{name}: joined ({online} online)");

    let why = match ws.send(Message::text(welcome)).await {
        Ok(()) => relay(&mut ws, &room, &name, &mut events).await,
        Err(error) => describe(&error),
    };

    let online = (room.online.fetch_sub(1, Ordering::Relaxed) - 1).to_string();
    let _ = room.events.send(json(&[("kind", "leave"), ("who", &name), ("online", &online)]).into());
    eprintln!("{name}: left, {why} ({online} online)");
}

/// One client's loop; returns why it ended. Backpressure: while the client's output is full
/// (`Config::max_pending_output`), `send` waits and nothing more is taken from the room; a
/// client that falls `ROOM_BACKLOG` messages behind is closed with 1008.
async fn relay(
    ws: &mut UpgradedWebSocket,
    room: &Room,
    name: &str,
    events: &mut broadcast::Receiver<Utf8Bytes>,
) -> String {
    let mut shutting_down = room.shutting_down.clone();
    // Once we have closed, only the end is left to receive.
    let mut closing = false;
    loop {
        tokio::select! {
            message = ws.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    let _ = room.events.send(json(&[("kind", "msg"), ("from", name), ("text", text.as_str())]).into());
                }
                Some(Ok(Message::Close(Some(frame)))) => return format!("closed with {}", frame.code),
                Some(Ok(Message::Close(None))) => return "closed".to_owned(),
                Some(Ok(_)) => {} // binary is not part of this chat
                Some(Err(error)) => return describe(&error),
                None => return "ended".to_owned(),
            },
            event = events.recv(), if !closing => match event {
                // An error here means the connection ended; `recv` says how.
                Ok(event) => drop(ws.send(Message::Text(event)).await),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    closing = true;
                    let _ = ws.close(CloseCode::POLICY_VIOLATION, "too slow").await;
                }
                Err(broadcast::error::RecvError::Closed) => {}
            },
            changed = shutting_down.changed(), if !closing => {
                if changed.is_err() || *shutting_down.borrow() {
                    closing = true;
                    let _ = ws.close(CloseCode::GOING_AWAY, "server shutting down").await;
                }
            }
        }
    }
}

/// Why a client left, for the log.
fn describe(error: &Error) -> String {
    match error {
        Error::Closed(info) if matches!(info.origin(), CloseOrigin::Timeout(_)) => {
            "no answer to ping: dropped".to_owned()
        }
        error => error.to_string(),
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
