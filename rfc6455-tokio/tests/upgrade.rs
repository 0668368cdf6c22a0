//! `upgrade` and the axum `WebSocketUpgrade` extractor through real hyper and axum servers on
//! loopback: HTTP/1.1 upgrades, RFC 8441 extended CONNECT over HTTP/2, the request hook's
//! subprotocols and rejections, and the core's refusals as HTTP responses.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::response::Response;
use axum::routing::{any, get};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::ext::Protocol;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rfc6455::Role;
use rfc6455::connection::Connection;
use rfc6455::handshake::HandshakeError;
use rfc6455_tokio::{Decision, Error, Message, Options, UpgradedWebSocket, WebSocket, WebSocketUpgrade};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the server side learned from a `PendingUpgrade`: the subprotocol and whether an
/// extension was installed, or the error.
type Outcome = Result<(Option<String>, bool), Error>;

/// Which hyper server to run.
#[derive(Clone, Copy)]
enum Server {
    Http1,
    /// HTTP/2 (h2c, prior knowledge) with extended CONNECT enabled (RFC 8441 §3).
    Http2,
}

/// A hyper server on loopback whose every request goes to `rfc6455_tokio::upgrade` with the
/// options `make` builds; accepted WebSockets echo. Each request's outcome is reported.
async fn hyper_server(
    server: Server,
    make: fn() -> Options,
) -> (SocketAddr, mpsc::UnboundedReceiver<Outcome>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, outcomes) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let report = report.clone();
            let service = service_fn(move |mut request: http::Request<Incoming>| {
                let report = report.clone();
                async move {
                    let (response, pending) = rfc6455_tokio::upgrade(&mut request, make());
                    tokio::spawn(async move {
                        match pending.await {
                            Ok(ws) => {
                                let _ = report.send(Ok((
                                    ws.subprotocol().map(str::to_owned),
                                    ws.connection().has_extension(),
                                )));
                                echo(ws).await;
                            }
                            Err(error) => drop(report.send(Err(error))),
                        }
                    });
                    Ok::<http::Response<Full<Bytes>>, Infallible>(response)
                }
            });
            let io = TokioIo::new(stream);
            tokio::spawn(async move {
                let _ = match server {
                    Server::Http1 => {
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, service)
                            .with_upgrades()
                            .await
                    }
                    Server::Http2 => {
                        hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .enable_connect_protocol()
                            .serve_connection(io, service)
                            .await
                    }
                };
            });
        }
    });
    (addr, outcomes)
}

async fn echo(mut ws: UpgradedWebSocket) {
    while let Some(Ok(message)) = ws.recv().await {
        if message.is_data() && ws.send(message).await.is_err() {
            break;
        }
    }
}

/// Sends a text and a binary message, expects them back, and closes cleanly.
async fn round_trip<S>(ws: &mut WebSocket<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hello"));
    ws.send(Message::binary(vec![0u8, 1, 2, 255])).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(vec![0u8, 1, 2, 255]));
    ws.close(rfc6455_tokio::CloseCode::NORMAL, "bye").await.unwrap();
    assert!(
        matches!(ws.recv().await, Some(Ok(Message::Close(Some(frame)))) if frame.code == rfc6455_tokio::CloseCode::NORMAL)
    );
    assert!(ws.recv().await.is_none());
}

/// An HTTP/1.1 request over a fresh connection; the response with its body read whole.
async fn http1_request(addr: SocketAddr, request: http::Request<Empty<Bytes>>) -> http::Response<Bytes> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    http::Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

/// A WebSocket upgrade request for `path` over HTTP/1.1 (RFC 6455 §4.1), with `extra` headers.
fn http1_upgrade(addr: SocketAddr, path: &str, extra: &[(&str, &str)]) -> http::Request<Empty<Bytes>> {
    let mut builder = http::Request::get(path)
        .header("host", addr.to_string())
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13");
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    builder.body(Empty::new()).unwrap()
}

/// Opens an RFC 8441 WebSocket over HTTP/2 (h2c): an extended CONNECT with `:protocol =
/// websocket` and the `extra` headers (each replacing one of ours). Returns the response head and, on a `200`, the
/// client's WebSocket over the stream.
async fn http2_connect(
    addr: SocketAddr,
    path: &str,
    extra: &[(&str, &str)],
) -> (http::response::Parts, Option<WebSocket<TokioIo<hyper::upgrade::Upgraded>>>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let builder = http::Request::connect(format!("http://{addr}{path}"))
        .version(http::Version::HTTP_2)
        .header("sec-websocket-version", "13")
        .extension(Protocol::from_static("websocket"));
    let mut request = builder.body(Empty::<Bytes>::new()).unwrap();
    for (name, value) in extra {
        let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        request.headers_mut().insert(name, http::HeaderValue::from_str(value).unwrap());
    }
    // The server's SETTINGS (with SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 §3) must have
    // arrived before an extended CONNECT may be sent.
    let mut response = None;
    for _ in 0..50 {
        sender.ready().await.unwrap();
        match sender.send_request(request.clone()).await {
            Ok(answer) => {
                response = Some(answer);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
    let mut response = response.expect("the server took the extended CONNECT");
    if response.status() != http::StatusCode::OK {
        return (response.into_parts().0, None);
    }
    let upgraded = hyper::upgrade::on(&mut response).await.unwrap();
    // RFC 8441 §5: no Sec-WebSocket-Accept; the client's side starts at once, without deflate.
    let connection = Connection::new(Role::Client, rfc6455_tokio::default_config());
    let ws = WebSocket::from_connection(TokioIo::new(upgraded), connection, &Options::default());
    (response.into_parts().0, Some(ws))
}

fn choose_v1() -> Options {
    Options::default().on_request(|request| Decision::accept().with_subprotocol_from(request, &["echo.v1"]))
}

#[tokio::test]
async fn http1_upgrade_yields_a_websocket_that_echoes() {
    let (addr, mut outcomes) = hyper_server(Server::Http1, Options::default).await;
    let mut ws = rfc6455_tokio::connect(&format!("ws://{addr}/chat")).await.unwrap();
    assert_eq!(ws.subprotocol(), None);
    round_trip(&mut ws).await;
    assert_eq!(outcomes.recv().await.unwrap().unwrap(), (None, false));
}

#[tokio::test]
async fn hook_chooses_the_subprotocol() {
    let (addr, mut outcomes) = hyper_server(Server::Http1, choose_v1).await;
    let options = Options::default().subprotocol("echo.v2").subprotocol("echo.v1");
    let mut ws = rfc6455_tokio::connect_with(&format!("ws://{addr}/"), options).await.unwrap();
    assert_eq!(ws.subprotocol(), Some("echo.v1"));
    round_trip(&mut ws).await;
    assert_eq!(outcomes.recv().await.unwrap().unwrap(), (Some("echo.v1".to_owned()), false));
}

#[tokio::test]
async fn permessage_deflate_is_negotiated_by_the_core() {
    fn deflate() -> Options {
        Options::default()
            .config(rfc6455_tokio::default_config().deflate(rfc6455::deflate::DeflateConfig::default()))
    }
    let (addr, mut outcomes) = hyper_server(Server::Http1, deflate).await;
    let mut ws = rfc6455_tokio::connect_with(&format!("ws://{addr}/"), deflate()).await.unwrap();
    assert!(ws.connection().has_extension());
    round_trip(&mut ws).await;
    assert_eq!(outcomes.recv().await.unwrap().unwrap(), (None, true));
}

#[tokio::test]
async fn hook_rejection_is_the_response() {
    fn reject() -> Options {
        Options::default().on_request(|request| match request.header("authorization") {
            Some(b"Bearer secret") => Decision::accept(),
            _ => Decision::reject(401).with_header("WWW-Authenticate", "Bearer").with_body("who are you?\n"),
        })
    }
    let (addr, mut outcomes) = hyper_server(Server::Http1, reject).await;
    let response = http1_request(addr, http1_upgrade(addr, "/chat", &[])).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(response.body().as_ref(), b"who are you?\n");
    assert!(matches!(outcomes.recv().await.unwrap(), Err(Error::Rejected(401))));

    let authorized =
        http1_request(addr, http1_upgrade(addr, "/chat", &[("authorization", "Bearer secret")])).await;
    assert_eq!(authorized.status(), 101);
    assert!(outcomes.recv().await.unwrap().is_ok());
}

#[tokio::test]
async fn invalid_request_gets_the_cores_status() {
    let (addr, mut outcomes) = hyper_server(Server::Http1, Options::default).await;
    // §4.4: a version we do not speak is answered 426 with the one we do.
    let mut request = http1_upgrade(addr, "/chat", &[]);
    request.headers_mut().insert("sec-websocket-version", http::HeaderValue::from_static("8"));
    let response = http1_request(addr, request).await;
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    let reason = format!("{}\n", HandshakeError::UnsupportedVersion);
    assert_eq!(response.body().as_ref(), reason.as_bytes());
    assert!(matches!(outcomes.recv().await.unwrap(), Err(Error::Handshake(_))));

    // §4.2.1 item 1: not a GET.
    let mut request = http1_upgrade(addr, "/chat", &[]);
    *request.method_mut() = http::Method::POST;
    let response = http1_request(addr, request).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
}

#[tokio::test]
async fn hook_choosing_what_was_not_offered_is_a_500() {
    fn unoffered() -> Options {
        Options::default().on_request(|_| Decision::accept().with_subprotocol("never.offered"))
    }
    let (addr, mut outcomes) = hyper_server(Server::Http1, unoffered).await;
    let response = http1_request(addr, http1_upgrade(addr, "/chat", &[])).await;
    assert_eq!(response.status(), 500);
    assert!(matches!(outcomes.recv().await.unwrap(), Err(Error::Handshake(_))));
}

#[tokio::test]
async fn http2_extended_connect_yields_a_websocket_that_echoes() {
    let (addr, mut outcomes) = hyper_server(Server::Http2, choose_v1).await;
    let (head, ws) = http2_connect(addr, "/chat", &[("sec-websocket-protocol", "echo.v1")]).await;
    // RFC 8441 §5: a 2xx, no Sec-WebSocket-Accept; RFC 9110 §9.3.6: no Content-Length.
    assert_eq!(head.status, 200);
    assert_eq!(head.headers["sec-websocket-protocol"], "echo.v1");
    assert!(head.headers.get("sec-websocket-accept").is_none());
    assert!(head.headers.get("content-length").is_none());
    round_trip(&mut ws.expect("a WebSocket")).await;
    assert_eq!(outcomes.recv().await.unwrap().unwrap(), (Some("echo.v1".to_owned()), false));
}

#[tokio::test]
async fn http2_refusal_is_a_response_on_the_stream() {
    let (addr, mut outcomes) = hyper_server(Server::Http2, Options::default).await;
    // RFC 8441 §5 keeps RFC 6455's version check: 426 with the version we speak (§4.4).
    let (head, ws) = http2_connect(addr, "/", &[("sec-websocket-version", "8")]).await;
    assert!(ws.is_none());
    assert_eq!(head.status, 426);
    assert_eq!(head.headers["sec-websocket-version"], "13");
    assert!(matches!(outcomes.recv().await.unwrap(), Err(Error::Handshake(_))));
}

#[tokio::test]
async fn no_on_upgrade_is_a_500_and_the_hook_is_not_asked() {
    static ASKED: AtomicBool = AtomicBool::new(false);
    let options = Options::default().on_request(|_| {
        ASKED.store(true, Ordering::Relaxed);
        Decision::accept()
    });
    // A valid request that did not come from hyper: nothing can hand its connection over.
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let mut request = http1_upgrade(addr, "/chat", &[]);
    let (response, pending) = rfc6455_tokio::upgrade::<_, Full<Bytes>>(&mut request, options);
    assert_eq!(response.status(), 500);
    assert!(!pending.is_accepted());
    match pending.await {
        Err(Error::Io(error)) => assert_eq!(error.kind(), std::io::ErrorKind::Unsupported),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(!ASKED.load(Ordering::Relaxed));
}

/// An axum app with the extractor at `/ws` (routed with `any`), at `/get-only` (routed with
/// `get`) and at `/private` (whose hook rejects), served over HTTP/1.1 and HTTP/2.
async fn axum_server() -> SocketAddr {
    async fn handler(upgrade: WebSocketUpgrade) -> Response {
        upgrade.options(choose_v1()).on_upgrade(echo)
    }
    async fn private(upgrade: WebSocketUpgrade) -> Response {
        let options = Options::default().on_request(|_| Decision::reject(403).with_body("members only\n"));
        upgrade.options(options).on_upgrade(|_| async { unreachable!("a rejected request is not upgraded") })
    }
    let app = Router::new()
        .route("/ws", any(handler))
        .route("/get-only", get(handler))
        .route("/private", any(private));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn axum_extractor_over_http1() {
    let addr = axum_server().await;
    let options = Options::default().subprotocol("echo.v1");
    let mut ws = rfc6455_tokio::connect_with(&format!("ws://{addr}/ws"), options).await.unwrap();
    assert_eq!(ws.subprotocol(), Some("echo.v1"));
    round_trip(&mut ws).await;
}

#[tokio::test]
async fn axum_extractor_over_http2() {
    let addr = axum_server().await;
    let (head, ws) = http2_connect(addr, "/ws", &[("sec-websocket-protocol", "echo.v1")]).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.headers["sec-websocket-protocol"], "echo.v1");
    assert!(head.headers.get("content-length").is_none());
    round_trip(&mut ws.expect("a WebSocket")).await;

    // What the docs warn of: `get` alone does not route the CONNECT.
    let (head, ws) = http2_connect(addr, "/get-only", &[]).await;
    assert!(ws.is_none());
    assert_eq!(head.status, 405);
}

#[tokio::test]
async fn axum_extractor_rejects_a_request_that_is_no_upgrade() {
    let addr = axum_server().await;
    let plain = http::Request::get("/ws").header("host", addr.to_string()).body(Empty::new()).unwrap();
    let response = http1_request(addr, plain).await;
    assert_eq!(response.status(), 400);
    let reason = format!("{}\n", HandshakeError::MissingUpgradeWebSocket);
    assert_eq!(response.body().as_ref(), reason.as_bytes());

    // A request that looks like an upgrade but is not valid: the core's status.
    let mut request = http1_upgrade(addr, "/ws", &[]);
    request.headers_mut().remove("sec-websocket-key");
    let response = http1_request(addr, request).await;
    assert_eq!(response.status(), 400);
    let reason = format!("{}\n", HandshakeError::MissingKey);
    assert_eq!(response.body().as_ref(), reason.as_bytes());
}

#[tokio::test]
async fn axum_hook_rejection_is_the_response() {
    let addr = axum_server().await;
    let response = http1_request(addr, http1_upgrade(addr, "/private", &[])).await;
    assert_eq!(response.status(), 403);
    assert_eq!(response.body().as_ref(), b"members only\n");
}
