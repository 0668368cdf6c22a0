//! The echo server over TLS (`wss://`): `accept` handed a rustls stream instead of a TCP
//! socket. The WebSocket neither knows nor cares what carries its bytes.
//!
//! A self-signed certificate for `localhost` and `127.0.0.1` is generated at start, so there
//! is nothing to set up, and nothing a browser trusts: `--self-test` runs a client
//! ([`rfc6455_tokio::connect_with`] with a TLS config that trusts that certificate), which
//! exchanges messages over `wss://` and closes.
//!
//! ```sh
//! cargo run -p rfc6455-tokio --features rustls --example wss_echo -- 127.0.0.1:9443
//! cargo run -p rfc6455-tokio --features rustls --example wss_echo -- --self-test
//! ```

use std::io;
use std::sync::Arc;

use rfc6455_tokio::rustls::pki_types::PrivatePkcs8KeyDer;
use rfc6455_tokio::rustls::{ClientConfig, RootCertStore, ServerConfig, crypto::ring};
use rfc6455_tokio::{CloseCode, Error, Message, Options};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9443".to_owned());
    let self_test = arg == "--self-test";
    let certified = rcgen::generate_simple_self_signed(["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(io::Error::other)?;
    let cert = certified.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let provider = Arc::new(ring::default_provider());
    let server_config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key.into())
        .map_err(io::Error::other)?;
    let acceptor = TlsAcceptor::from(Arc::new(server_config));

    let listener = TcpListener::bind(if self_test { "127.0.0.1:0" } else { arg.as_str() }).await?;
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
    let url = format!("wss://localhost:{}/echo", local.port());
    match self_test_client(&url, Options::default().tls_config(Arc::new(client_config))).await {
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

/// Accepts TLS connections and echoes every data message on each.
async fn serve(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<()> {
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(error) => return eprintln!("{peer}: TLS handshake failed: {error}"),
            };
            // From here on, exactly the code that serves plain TCP in echo.rs.
            let mut ws = match rfc6455_tokio::accept(tls).await {
                Ok(ws) => ws,
                Err(error) => return eprintln!("{peer}: {error}"),
            };
            while let Some(Ok(message)) = ws.recv().await {
                if message.is_data() && ws.send(message).await.is_err() {
                    break;
                }
            }
            if let Some(info) = ws.close_info() {
                eprintln!("{peer}: {info}");
            }
        });
    }
}

/// A text and a binary message, their echoes checked, then the close handshake.
async fn self_test_client(url: &str, options: Options) -> Result<(), Error> {
    let mut ws = rfc6455_tokio::connect_with(url, options).await?;
    assert!(ws.transport().is_tls());
    let text = "hello over TLS — ünïcödé ✓";
    let binary: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    ws.send(Message::text(text)).await?;
    ws.send(Message::binary(binary.clone())).await?;
    let mut echoed = (false, false);
    while let Some(message) = ws.recv().await {
        match message? {
            Message::Text(echo) => echoed.0 = echo == text,
            Message::Binary(echo) => echoed.1 = echo == binary,
            _ => {}
        }
        if echoed == (true, true) {
            ws.close(CloseCode::NORMAL, "done").await?;
        }
    }
    match (echoed, ws.close_info().map(|info| info.code())) {
        ((true, true), Some(CloseCode::NORMAL)) => Ok(()),
        other => Err(Error::Io(io::Error::other(format!("unexpected outcome (echoes, close) = {other:?}")))),
    }
}
