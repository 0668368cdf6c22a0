//! A WebSocket client over HTTP/2 (RFC 8441) that checks an echo server: several WebSockets
//! on one HTTP/2 connection, messages of 0 B to 1 MiB (text and binary), a fragmented message,
//! a Ping, permessage-deflate, and the close handshake. One PASS/FAIL line per check, then
//! `N passed, N failed`; the exit status says whether all passed.
//!
//! ```sh
//! cargo run -p rfc6455-tokio --example h2_client --features http2,rustls -- wss://localhost:8443/echo --ca cert.pem
//! cargo run -p rfc6455-tokio --example h2_client --features http2,rustls -- ws://127.0.0.1:8080/echo   # h2c
//! ```
//!
//! `scripts/h2_peer.sh` runs it against Python's hypercorn, an HTTP/2 server nobody here wrote.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rfc6455::MessageKind;
use rfc6455_tokio::http2::Http2Connection;
use rfc6455_tokio::rustls::pki_types::CertificateDer;
use rfc6455_tokio::rustls::pki_types::pem::PemObject;
use rfc6455_tokio::rustls::{ClientConfig, RootCertStore, crypto::ring};
use rfc6455_tokio::{CloseCode, Error, Message, Options, WebSocket};

/// Every check's outcome.
#[derive(Default)]
struct Report {
    passed: usize,
    failed: usize,
}

impl Report {
    fn check(&mut self, name: &str, outcome: Result<String, String>) {
        match outcome {
            Ok(detail) => {
                self.passed += 1;
                println!(
                    "PASS: {name}{}",
                    if detail.is_empty() { String::new() } else { format!(" ({detail})") }
                );
            }
            Err(why) => {
                self.failed += 1;
                println!("FAIL: {name} ({why})");
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut ca = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ca" => ca = args.next(),
            _ if !arg.starts_with('-') => url = Some(arg),
            _ => return Err(io::Error::other(format!("unknown option {arg}"))),
        }
    }
    let url = url.ok_or_else(|| io::Error::other("usage: h2_client URL [--ca CERT.pem]"))?;
    let tls = match ca {
        Some(path) => Some(trusting(&path)?),
        None => None,
    };
    let options_for = move |deflate: bool| {
        let mut o = Options::default();
        if let Some(tls) = &tls {
            o = o.tls_config(tls.clone());
        }
        let mut config = rfc6455_tokio::default_config().max_message_size(4 << 20);
        if deflate {
            config = config.deflate(Default::default());
        }
        o.config(config).handshake_timeout(Some(Duration::from_secs(10)))
    };

    let mut report = Report::default();
    let h2 = match Http2Connection::connect(&url, &options_for(false)).await {
        Ok(h2) => {
            report.check("HTTP/2 connection with extended CONNECT allowed (RFC 8441 §3)", Ok(url.clone()));
            h2
        }
        Err(error) => {
            report.check(
                "HTTP/2 connection with extended CONNECT allowed (RFC 8441 §3)",
                Err(error.to_string()),
            );
            println!("{} passed, {} failed", report.passed, report.failed);
            std::process::exit(1);
        }
    };

    // Messages of every length class (7-bit, 16-bit and 64-bit lengths), text and binary.
    match h2.open(&url, options_for(false)).await {
        Ok(mut ws) => {
            report.check(
                "WebSocket opened on an HTTP/2 stream",
                Ok(format!("stream {}", ws.transport().stream_id())),
            );
            for size in [0, 1, 125, 126, 65535, 65536, 1 << 20] {
                let text = text_of(size);
                report.check(&format!("text {size} B echoed"), echo(&mut ws, Message::text(text)).await);
                let binary: Vec<u8> = (0..size).map(|i| (i * 31 + i / 251) as u8).collect();
                report
                    .check(&format!("binary {size} B echoed"), echo(&mut ws, Message::binary(binary)).await);
            }
            report.check("Ping answered with a Pong of the same payload", ping(&mut ws).await);
            report.check("close handshake", close(ws).await);
        }
        Err(error) => report.check("WebSocket opened on an HTTP/2 stream", Err(error.to_string())),
    }

    // A fragmented message (RFC 6455 §5.4), queued on the core before the WebSocket runs.
    report
        .check("fragmented text and binary messages echoed whole", fragments(&h2, &url, &options_for).await);

    // permessage-deflate over the stream.
    match h2.open(&url, options_for(true)).await {
        Ok(mut ws) => {
            let agreed = ws.connection().has_extension();
            report.check(
                "permessage-deflate negotiated over HTTP/2",
                if agreed { Ok(String::new()) } else { Err("the server did not accept the offer".into()) },
            );
            let big = "compressible text, ".repeat(50_000);
            report.check(
                "1 MiB compressible text echoed with deflate",
                echo(&mut ws, Message::text(big)).await,
            );
            report.check("close handshake with deflate", close(ws).await);
        }
        Err(error) => report.check("permessage-deflate negotiated over HTTP/2", Err(error.to_string())),
    }

    // Several WebSockets on the one connection at once.
    let mut tasks = Vec::new();
    for n in 0..4 {
        let (h2, url, options) = (h2.clone(), url.clone(), options_for(false));
        tasks.push(tokio::spawn(async move {
            let mut ws = h2.open(&url, options).await.map_err(|e| e.to_string())?;
            let id = ws.transport().stream_id();
            for i in 0..50 {
                echo(&mut ws, Message::text(format!("stream {n} message {i}"))).await?;
            }
            close(ws).await?;
            Ok::<u32, String>(id)
        }));
    }
    let mut ids = Vec::new();
    let mut outcome = Ok(());
    for task in tasks {
        match task.await {
            Ok(Ok(id)) => ids.push(id),
            Ok(Err(why)) => outcome = Err(why),
            Err(panic) => outcome = Err(panic.to_string()),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let concurrent = outcome.and_then(|()| {
        if ids.len() == 4 {
            Ok(format!("streams {ids:?}, 50 echoes each"))
        } else {
            Err(format!("streams {ids:?}"))
        }
    });
    report.check("4 concurrent WebSockets on one HTTP/2 connection", concurrent);

    println!("{} passed, {} failed", report.passed, report.failed);
    if report.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// `size` bytes of text with 1-, 2- and 3-byte characters (ASCII where a longer one would not fit).
fn text_of(size: usize) -> String {
    let mut text = String::with_capacity(size);
    let pieces = ["a", "é", "€", "z"];
    let mut i = 0;
    while text.len() < size {
        let piece = pieces[i % pieces.len()];
        text.push_str(if text.len() + piece.len() <= size { piece } else { "a" });
        i += 1;
    }
    text
}

/// Sends `message` and expects it back, unchanged.
async fn echo<S>(ws: &mut WebSocket<S>, message: Message) -> Result<String, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.send(message.clone()).await.map_err(|e| e.to_string())?;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.recv()).await {
            Err(_) => return Err("no echo within 10 s".into()),
            Ok(None) => return Err("the connection ended".into()),
            Ok(Some(Err(error))) => return Err(error.to_string()),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(echoed))) if echoed == message => return Ok(String::new()),
            Ok(Some(Ok(other))) => return Err(format!("got {} B that differ", other.len())),
        }
    }
}

async fn ping<S>(ws: &mut WebSocket<S>) -> Result<String, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.send(Message::Ping("are you there".into())).await.map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(10), ws.recv()).await {
        Ok(Some(Ok(Message::Pong(data)))) if data == "are you there" => Ok(String::new()),
        other => Err(format!("{other:?}")),
    }
}

/// Closes with 1000 and expects the server's Close and the end of the stream.
async fn close<S>(mut ws: WebSocket<S>) -> Result<String, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let start = std::time::Instant::now();
    ws.close(CloseCode::NORMAL, "done").await.map_err(|e| e.to_string())?;
    let mut code = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.recv()).await {
            Err(_) => return Err("the close handshake did not finish within 10 s".into()),
            Ok(Some(Ok(Message::Close(frame)))) => code = frame.map(|f| f.code),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(error))) => return Err(error.to_string()),
            Ok(None) => break,
        }
    }
    match (code, ws.close_info().map(|info| info.is_clean())) {
        (Some(CloseCode::NORMAL), Some(true)) => {
            Ok(format!("1000 both ways, ended in {} ms", start.elapsed().as_millis()))
        }
        other => Err(format!("(server's code, clean) = {other:?}")),
    }
}

/// A text message in three fragments and a binary one in two, sent with the core's
/// `send_chunk` on a stream opened with `open_raw`.
async fn fragments(
    h2: &Http2Connection,
    url: &str,
    options_for: &impl Fn(bool) -> Options,
) -> Result<String, String> {
    let options = options_for(false);
    let (stream, mut connection) = h2.open_raw(url, &options).await.map_err(|e: Error| e.to_string())?;
    let parts = ["first fragment, ", "second — ünïcödé, ", "last"];
    for (i, part) in parts.iter().enumerate() {
        connection
            .send_chunk(MessageKind::Text, part.as_bytes(), i == parts.len() - 1)
            .map_err(|e| e.to_string())?;
    }
    connection.send_chunk(MessageKind::Binary, &[1, 2, 3], false).map_err(|e| e.to_string())?;
    connection.send_chunk(MessageKind::Binary, &[4, 5], true).map_err(|e| e.to_string())?;
    let mut ws = WebSocket::from_connection(stream, connection, &options);
    let expect = [Message::text(parts.concat()), Message::binary(vec![1u8, 2, 3, 4, 5])];
    for expected in expect {
        match tokio::time::timeout(Duration::from_secs(10), ws.recv()).await {
            Ok(Some(Ok(message))) if message == expected => {}
            other => return Err(format!("expected {expected:?}, got {other:?}")),
        }
    }
    close(ws).await?;
    Ok("3 + 2 fragments".into())
}

/// A TLS config that trusts the certificate in the PEM file at `path` (a test server's own).
fn trusting(path: &str) -> io::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(io::Error::other)? {
        roots.add(cert.map_err(io::Error::other)?).map_err(io::Error::other)?;
    }
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
