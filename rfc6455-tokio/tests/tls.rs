//! `wss://` in `connect_with`: TLS by rustls against a server with a self-signed certificate,
//! trusted through `Options::tls_config` and refused by the default roots.

use std::io;
use std::sync::Arc;

use rfc6455_tokio::rustls::pki_types::CertificateDer;
use rfc6455_tokio::{CloseCode, Error, Message};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

mod common;

use common::tls::{localhost_server, trusting};

/// A TLS echo server for `localhost` on a free port: its certificate and address.
async fn tls_echo_server() -> (CertificateDer<'static>, std::net::SocketAddr) {
    let (cert, config) = localhost_server(&[]);
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut ws) = rfc6455_tokio::accept(tls).await else { return };
                while let Some(Ok(message)) = ws.recv().await {
                    if message.is_data() && ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (cert, addr)
}

#[tokio::test]
async fn wss_echo_with_a_trusted_certificate() {
    let (cert, addr) = tls_echo_server().await;
    let url = format!("wss://localhost:{}/", addr.port());
    let mut ws = rfc6455_tokio::connect_with(&url, trusting(cert)).await.unwrap();
    assert!(ws.transport().is_tls());
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
    ws.send(Message::text("über TLS")).await.unwrap();
    ws.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("über TLS"));
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(big));
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
    assert!(ws.recv().await.is_none());
    let info = ws.close_info().unwrap();
    assert!(info.is_clean(), "{info}");
    assert_eq!(info.code(), CloseCode::NORMAL);
}

#[tokio::test]
async fn an_untrusted_certificate_is_an_io_error() {
    let (_cert, addr) = tls_echo_server().await;
    // The default config trusts the Mozilla roots (feature rustls-webpki-roots), not ours.
    let error = rfc6455_tokio::connect(&format!("wss://localhost:{}/", addr.port())).await.unwrap_err();
    let Error::Io(error) = error else { panic!("{error:?}") };
    assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
    assert!(error.to_string().contains("certificate"), "{error}");
}

#[tokio::test]
async fn a_name_the_certificate_does_not_cover_is_refused() {
    let (cert, addr) = tls_echo_server().await;
    // The certificate names `localhost` only; 127.0.0.1 is checked as an IP address.
    let error = rfc6455_tokio::connect_with(&format!("wss://127.0.0.1:{}/", addr.port()), trusting(cert))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Io(_)), "{error:?}");
}
