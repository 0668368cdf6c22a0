//! The tokio echo server over TLS (`wss://`): the same `accept` and `echo` functions as
//! `examples/tokio_echo.rs`, handed a rustls stream instead of a TCP socket. The state machine
//! neither knows nor cares what carries its bytes.
//!
//! A self-signed certificate for `localhost` and `127.0.0.1` is generated at start, so there is
//! nothing to set up, and nothing a browser trusts: `--self-test` runs a client that trusts
//! that certificate, exchanges messages over `wss://` and closes.
//!
//! ```sh
//! cargo run --example wss_echo -- 127.0.0.1:9443
//! cargo run --example wss_echo -- --self-test
//! ```

#[allow(dead_code)] // Its `main` is the other example's; this one uses its functions.
#[path = "tokio_echo.rs"]
mod tokio_echo;

use std::io;
use std::sync::Arc;

use rfc6455::CloseCode;
use rfc6455::connection::{Config, Event, State};
use rfc6455::handshake::{ClientRequest, WebSocketKey};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{PrivatePkcs8KeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9443".to_owned());
    let self_test = arg == "--self-test";
    let addr = if self_test { "127.0.0.1:0" } else { arg.as_str() };

    let certified = rcgen::generate_simple_self_signed(["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(io::Error::other)?;
    let cert = certified.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key.into())
        .map_err(io::Error::other)?;
    let acceptor = TlsAcceptor::from(Arc::new(server_config));

    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    eprintln!("wss_echo: listening on wss://{local} (self-signed certificate for localhost, 127.0.0.1)");
    let server = tokio::spawn(serve(listener, acceptor));
    if !self_test {
        return server.await.map_err(io::Error::other)?;
    }

    let mut roots = RootCertStore::empty();
    roots.add(cert).map_err(io::Error::other)?;
    let client_config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(local).await?;
    let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
    let tls = TlsConnector::from(Arc::new(client_config)).connect(name, tcp).await?;
    let url = format!("wss://localhost:{}/echo", local.port());
    match client(tls, &url).await {
        Ok(()) => {
            println!("self-test passed: text and 100 kB binary echoed over TLS, closed with 1000");
            Ok(())
        }
        Err(error) => {
            println!("self-test FAILED: {error}");
            std::process::exit(1);
        }
    }
}

/// Accepts TLS connections and runs the tokio echo on each.
async fn serve(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<()> {
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let mut tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(error) => return eprintln!("{peer}: TLS handshake failed: {error}"),
            };
            // From here on, exactly the code that serves plain TCP in tokio_echo.rs.
            match tokio_echo::accept(&mut tls, tokio_echo::config()).await {
                Ok(Some(connection)) => match tokio_echo::echo(tls, connection).await {
                    Ok(info) => eprintln!("{peer}: {info}"),
                    Err(error) => eprintln!("{peer}: I/O error: {error}"),
                },
                Ok(None) => eprintln!("{peer}: not a WebSocket request"),
                Err(error) => eprintln!("{peer}: handshake I/O error: {error}"),
            }
        });
    }
}

/// A client over any stream: handshake, a text and a binary message, check their echoes,
/// close, and wait for the server to end the connection (RFC 6455 §7.1.1).
async fn client<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, url: &str) -> io::Result<()> {
    let mut out = Vec::new();
    let request = ClientRequest::new(url, WebSocketKey::random()).map_err(io::Error::other)?;
    let handshake = request.write(&mut out).map_err(io::Error::other)?;
    stream.write_all(&out).await?;
    stream.flush().await?;
    let mut parser = handshake.parser();
    let mut buf = vec![0u8; 64 * 1024];
    let mut connection = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed during the handshake"));
        }
        if let Some((response, used)) = parser.feed(&buf[..n]).map_err(io::Error::other)? {
            break handshake
                .into_connection(&response, Config::default(), &buf[used..n])
                .map_err(io::Error::other)?;
        }
    };

    let text = "hello over TLS — ünïcödé ✓";
    let binary: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    connection.send_text(text).map_err(io::Error::other)?;
    connection.send_binary(&binary).map_err(io::Error::other)?;
    let (mut got_text, mut got_binary, mut close) = (false, false, None);
    loop {
        while let Some(event) = connection.poll_event() {
            match event {
                Event::Text(echo) => got_text = echo == text,
                Event::Binary(echo) => got_binary = echo == binary,
                Event::Closed(info) => close = Some(info.code()),
                _ => {}
            }
        }
        if got_text && got_binary && connection.state() == State::Open {
            connection.close(CloseCode::NORMAL, "done").map_err(io::Error::other)?;
        }
        while connection.pending_output_len() > 0 {
            let n = stream.write(connection.poll_output()).await?;
            connection.handle_written(n).expect("a write takes at most what it was given");
        }
        stream.flush().await?;
        if connection.should_drop_transport() {
            break;
        }
        match stream.read(&mut buf).await {
            Ok(0) => connection.handle_eof(),
            Ok(n) => connection.handle_bytes(&buf[..n]),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => connection.handle_eof(),
            Err(error) => return Err(error),
        }
    }
    match (got_text, got_binary, close) {
        (true, true, Some(CloseCode::NORMAL)) => Ok(()),
        other => Err(io::Error::other(format!("unexpected outcome (text, binary, close) = {other:?}"))),
    }
}
