//! WebSockets over HTTP/2 (RFC 8441) end to end on loopback: our client (`Http2Connection`,
//! `Options::http2`) against hyper servers running our `upgrade` helper. Several WebSockets
//! share one connection; a 16 MiB message each way on one stream while the others carry
//! traffic; a clean close ends one stream with `END_STREAM` and an abort resets it, neither
//! touching the connection; `wss://` negotiates `h2` by ALPN and falls back to HTTP/1.1.
#![cfg(all(feature = "http2", feature = "rustls"))]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rfc6455::connection::CloseOrigin;
use rfc6455_tokio::http2::Http2Connection;
use rfc6455_tokio::rustls::pki_types::CertificateDer;
use rfc6455_tokio::{CloseCode, Error, Message, Options, UpgradedWebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

mod common;

use common::tls::{localhost_server, trusting};

/// How a server-side WebSocket ended: its path, whether the request came over HTTP/2, and
/// the close code and origin the core recorded (`None` if it ended with no close info).
#[derive(Debug)]
struct Ended {
    path: String,
    http2: bool,
    close: Option<(u16, Origin)>,
}

/// Where a close came from, without the error's details.
#[derive(Debug, PartialEq, Eq)]
enum Origin {
    Peer,
    Reply,
    Failed,
    Eof,
    Timeout,
}

/// What a test server does with each request.
#[derive(Clone, Copy)]
struct Serve {
    /// Send `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 §3) on HTTP/2 connections.
    extended_connect: bool,
}

/// Serves one HTTP/1.1 or HTTP/2 connection: every request goes to `upgrade`; accepted
/// WebSockets echo, then report how they ended.
async fn serve_connection<T>(io: T, http2: bool, serve: Serve, report: mpsc::UnboundedSender<Ended>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |mut request: http::Request<Incoming>| {
        let report = report.clone();
        let path = request.uri().path().to_owned();
        let over_h2 = request.version() == http::Version::HTTP_2;
        async move {
            // permessage-deflate for the clients that offer it; room for the 16 MiB message.
            let config =
                rfc6455_tokio::default_config().max_message_size(32 << 20).deflate(Default::default());
            let (response, pending) = rfc6455_tokio::upgrade(&mut request, Options::default().config(config));
            tokio::spawn(async move {
                if let Ok(ws) = pending.await {
                    let close = echo(ws).await;
                    let _ = report.send(Ended { path, http2: over_h2, close });
                }
            });
            Ok::<http::Response<Full<Bytes>>, Infallible>(response)
        }
    });
    let io = TokioIo::new(io);
    let _ = if http2 {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        if serve.extended_connect {
            builder.enable_connect_protocol();
        }
        builder.serve_connection(io, service).await
    } else {
        hyper::server::conn::http1::Builder::new().serve_connection(io, service).with_upgrades().await
    };
}

/// Echoes until the end; the close code and origin the WebSocket ended with.
async fn echo(mut ws: UpgradedWebSocket) -> Option<(u16, Origin)> {
    loop {
        match ws.recv().await {
            Some(Ok(message)) if message.is_data() => {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    ws.close_info().map(|info| {
        let origin = match info.origin() {
            CloseOrigin::Peer => Origin::Peer,
            CloseOrigin::Reply => Origin::Reply,
            CloseOrigin::Failed(_) => Origin::Failed,
            CloseOrigin::Eof => Origin::Eof,
            _ => Origin::Timeout,
        };
        (u16::from(info.code()), origin)
    })
}

/// An h2c server (HTTP/2 with prior knowledge) on loopback.
async fn h2c_server(serve: Serve) -> (SocketAddr, mpsc::UnboundedReceiver<Ended>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, ended) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(serve_connection(tcp, true, serve, report.clone()));
        }
    });
    (addr, ended)
}

/// A TLS server for `localhost` offering the `alpn` protocols, HTTP/2 or HTTP/1.1 by what
/// ALPN chose; its certificate, address and the report of ended WebSockets.
async fn tls_server(
    alpn: &[&[u8]],
    serve: Serve,
) -> (CertificateDer<'static>, SocketAddr, mpsc::UnboundedReceiver<Ended>) {
    let (cert, config) = localhost_server(alpn);
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, ended) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, report) = (acceptor.clone(), report.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let http2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                serve_connection(tls, http2, serve, report).await;
            });
        }
    });
    (cert, addr, ended)
}

const WITH_CONNECT: Serve = Serve { extended_connect: true };

/// The next ended WebSocket the server reports, within a bound.
async fn next_end(ended: &mut mpsc::UnboundedReceiver<Ended>) -> Ended {
    tokio::time::timeout(Duration::from_secs(10), ended.recv())
        .await
        .expect("the server's WebSocket ended")
        .unwrap()
}

#[tokio::test]
async fn websockets_share_one_connection_and_one_closing_leaves_the_others() {
    let (addr, mut ended) = h2c_server(WITH_CONNECT).await;
    let h2 = Http2Connection::connect(&format!("ws://{addr}"), &Options::default()).await.unwrap();
    let mut sockets = Vec::new();
    for i in 0..3 {
        let ws = h2.open(&format!("ws://{addr}/s{i}"), Options::default()).await.unwrap();
        sockets.push(ws);
    }
    // Distinct streams of one connection (client streams are odd: 1, 3, 5).
    let ids: Vec<u32> = sockets.iter().map(|ws| ws.transport().stream_id()).collect();
    assert_eq!(ids, [1, 3, 5]);
    for (i, ws) in sockets.iter_mut().enumerate() {
        ws.send(Message::text(format!("hello {i}"))).await.unwrap();
    }
    for (i, ws) in sockets.iter_mut().enumerate() {
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(format!("hello {i}")));
    }

    // A clean close of the first: Close both ways, then END_STREAM both ways (the server's
    // side ends first, RFC 6455 §7.1.1); the client reads the end of the stream.
    let mut first = sockets.remove(0);
    first.close(CloseCode::NORMAL, "done").await.unwrap();
    assert!(
        matches!(first.recv().await, Some(Ok(Message::Close(Some(frame)))) if frame.code == CloseCode::NORMAL)
    );
    assert!(first.recv().await.is_none());
    let end = next_end(&mut ended).await;
    assert_eq!((end.path.as_str(), end.http2), ("/s0", true));
    assert_eq!(end.close, Some((1000, Origin::Peer)));
    drop(first);

    // The others and the connection go on: old streams echo, a new one opens.
    for ws in sockets.iter_mut() {
        ws.send(Message::binary(vec![7u8; 1000])).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(vec![7u8; 1000]));
    }
    let mut late = h2.open(&format!("ws://{addr}/late"), Options::default()).await.unwrap();
    assert_eq!(late.transport().stream_id(), 7);
    late.send(Message::text("still open")).await.unwrap();
    assert_eq!(late.recv().await.unwrap().unwrap(), Message::text("still open"));
}

#[tokio::test]
async fn dropping_a_websocket_resets_its_stream_only() {
    let (addr, mut ended) = h2c_server(WITH_CONNECT).await;
    let h2 = Http2Connection::connect(&format!("ws://{addr}"), &Options::default()).await.unwrap();
    let mut kept = h2.open(&format!("ws://{addr}/kept"), Options::default()).await.unwrap();
    let mut aborted = h2.open(&format!("ws://{addr}/aborted"), Options::default()).await.unwrap();
    aborted.send(Message::text("x")).await.unwrap();
    assert_eq!(aborted.recv().await.unwrap().unwrap(), Message::text("x"));
    // No Close, no END_STREAM: RST_STREAM (CANCEL), which the server reads as TCP's reset,
    // the abnormal closure 1006 with no Close frame (RFC 6455 §7.1.5).
    drop(aborted);
    let end = next_end(&mut ended).await;
    assert_eq!(end.path, "/aborted");
    assert_eq!(end.close, Some((1006, Origin::Eof)));
    kept.send(Message::text("unaffected")).await.unwrap();
    assert_eq!(kept.recv().await.unwrap().unwrap(), Message::text("unaffected"));
}

#[tokio::test]
async fn sixteen_mib_each_way_on_one_stream_while_others_talk() {
    const BIG: usize = 16 << 20;
    let (addr, _ended) = h2c_server(WITH_CONNECT).await;
    let h2 = Http2Connection::connect(&format!("ws://{addr}"), &Options::default()).await.unwrap();
    let big_options =
        || Options::default().config(rfc6455_tokio::default_config().max_message_size(32 << 20));
    let mut big = h2.open(&format!("ws://{addr}/big"), big_options()).await.unwrap();
    let payload: Vec<u8> = (0..BIG).map(|i| (i * 7 + i / 4096) as u8).collect();
    let expected = payload.clone();
    let big_task = tokio::spawn(async move {
        big.send(Message::binary(payload)).await.unwrap();
        let echoed = big.recv().await.unwrap().unwrap();
        assert_eq!(echoed.len(), BIG);
        assert!(echoed.as_bytes() == expected.as_slice(), "the 16 MiB echo differs");
        big.close(CloseCode::NORMAL, "").await.unwrap();
    });
    let mut chatty = Vec::new();
    for i in 0..2 {
        let mut ws = h2.open(&format!("ws://{addr}/chat{i}"), Options::default()).await.unwrap();
        chatty.push(tokio::spawn(async move {
            for n in 0..300u32 {
                let text = format!("{i}:{n}");
                ws.send(Message::text(text.clone())).await.unwrap();
                assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
            }
            ws.close(CloseCode::NORMAL, "").await.unwrap();
            let closed = ws.recv().await;
            matches!(closed, Some(Ok(Message::Close(Some(frame)))) if frame.code == CloseCode::NORMAL)
        }));
    }
    // Nothing stalls: everything finishes within a bound far above what it needs.
    tokio::time::timeout(Duration::from_secs(60), async {
        big_task.await.unwrap();
        for task in chatty {
            assert!(task.await.unwrap(), "the chatty stream's close handshake completed");
        }
    })
    .await
    .expect("no stream stalled");
}

#[tokio::test]
async fn a_server_without_extended_connect_is_refused_before_any_stream() {
    let (addr, _ended) = h2c_server(Serve { extended_connect: false }).await;
    let error = Http2Connection::connect(&format!("ws://{addr}"), &Options::default()).await.unwrap_err();
    assert!(matches!(&error, Error::Io(e) if e.kind() == std::io::ErrorKind::Unsupported), "{error:?}");
}

#[tokio::test]
async fn refusals_are_usage_errors_or_the_cores_unexpected_status() {
    let (addr, _ended) = h2c_server(WITH_CONNECT).await;
    let h2 = Http2Connection::connect(&format!("ws://{addr}"), &Options::default()).await.unwrap();
    // A header the handshake writes itself, or one HTTP/2 forbids: refused before any stream.
    for name in ["sec-websocket-version", "transfer-encoding"] {
        let error =
            h2.open(&format!("ws://{addr}/"), Options::default().header(name, "x")).await.unwrap_err();
        assert!(matches!(error, Error::Usage(_)), "{name}: {error:?}");
    }
    // The first stream opened after those is still stream 1.
    let ws = h2.open(&format!("ws://{addr}/"), Options::default()).await.unwrap();
    assert_eq!(ws.transport().stream_id(), 1);

    // A server whose hook says 403: the core's UnexpectedStatus, with that status.
    let addr = rejecting_h2c_server().await;
    let h2 = Http2Connection::connect(&format!("ws://{addr}"), &Options::default()).await.unwrap();
    let error = h2.open(&format!("ws://{addr}/private"), Options::default()).await.unwrap_err();
    use rfc6455::handshake::HandshakeError::UnexpectedStatus;
    assert!(
        matches!(&error, Error::Handshake(rfc6455::Error::Handshake(UnexpectedStatus { status: 403, .. }))),
        "{error:?}"
    );
}

/// An h2c server whose hook rejects every request with 403.
async fn rejecting_h2c_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let service = service_fn(|mut request: http::Request<Incoming>| async move {
                let options = Options::default().on_request(|_| rfc6455_tokio::Decision::reject(403));
                let (response, _pending) = rfc6455_tokio::upgrade(&mut request, options);
                Ok::<http::Response<Full<Bytes>>, Infallible>(response)
            });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .enable_connect_protocol()
                    .serve_connection(TokioIo::new(tcp), service),
            );
        }
    });
    addr
}

#[tokio::test]
async fn connect_with_http2_over_h2c_and_permessage_deflate() {
    let (addr, mut ended) = h2c_server(WITH_CONNECT).await;
    let options =
        Options::default().http2(true).config(rfc6455_tokio::default_config().deflate(Default::default()));
    let mut ws = rfc6455_tokio::connect_with(&format!("ws://{addr}/d"), options).await.unwrap();
    assert!(ws.transport().is_http2());
    assert!(!ws.transport().is_tls());
    assert!(ws.connection().has_extension(), "permessage-deflate over h2");
    ws.send(Message::text("compressed ".repeat(100))).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("compressed ".repeat(100)));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.recv().await.is_some() {}
    assert!(next_end(&mut ended).await.http2);
}

#[tokio::test]
async fn wss_negotiates_h2_by_alpn() {
    let (cert, addr, mut ended) = tls_server(&[b"h2", b"http/1.1"], WITH_CONNECT).await;
    let url = format!("wss://localhost:{}/tls", addr.port());
    let mut ws = rfc6455_tokio::connect_with(&url, trusting(cert.clone()).http2(true)).await.unwrap();
    assert!(ws.transport().is_http2() && ws.transport().is_tls());
    ws.send(Message::text("over h2")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over h2"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.recv().await.is_some() {}
    assert!(next_end(&mut ended).await.http2);
    // Without the option, the same server is reached over HTTP/1.1 (no ALPN offered).
    let mut ws = rfc6455_tokio::connect_with(&url, trusting(cert)).await.unwrap();
    assert!(!ws.transport().is_http2());
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.recv().await.is_some() {}
    assert!(!next_end(&mut ended).await.http2);
}

#[tokio::test]
async fn wss_falls_back_to_http1_when_alpn_says_so() {
    let (cert, addr, mut ended) = tls_server(&[b"http/1.1"], WITH_CONNECT).await;
    let url = format!("wss://localhost:{}/fallback", addr.port());
    let mut ws = rfc6455_tokio::connect_with(&url, trusting(cert).http2(true)).await.unwrap();
    assert!(!ws.transport().is_http2() && ws.transport().is_tls());
    ws.send(Message::text("over http/1.1")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over http/1.1"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.recv().await.is_some() {}
    assert!(!next_end(&mut ended).await.http2);
}

#[tokio::test]
async fn wss_falls_back_to_http1_when_h2_lacks_extended_connect() {
    let (cert, addr, mut ended) = tls_server(&[b"h2", b"http/1.1"], Serve { extended_connect: false }).await;
    let url = format!("wss://localhost:{}/no-connect", addr.port());
    let mut ws = rfc6455_tokio::connect_with(&url, trusting(cert).http2(true)).await.unwrap();
    assert!(!ws.transport().is_http2());
    ws.send(Message::text("second connection")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("second connection"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.recv().await.is_some() {}
    assert!(!next_end(&mut ended).await.http2);
}

#[test]
fn the_futures_are_send_whatever_the_options_hold() {
    // `Options` holds the server hook, which is `Send` but not `Sync`: no future may hold a
    // reference to it across an await, or it could not be spawned.
    fn assert_send<T: Send>(_: &T) {}
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _guard = runtime.enter();
    let options = Options::default().http2(true).on_request(|_| rfc6455_tokio::Decision::accept());
    assert_send(&Http2Connection::connect("ws://127.0.0.1:9/", &options));
    assert_send(&rfc6455_tokio::connect_with("wss://localhost:9/", options));
}
