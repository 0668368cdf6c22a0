//! Opening connections: the server's answers (the hook's, the core's errors, the timeout) and
//! a client facing a refusal.

mod common;

use rfc6455::handshake::HandshakeError;
use rfc6455_tokio::{Decision, Error, Options};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
    Origin: http://evil.example\r\n\r\n";

#[tokio::test]
async fn the_hook_rejects_with_status_headers_and_body() {
    let (ours, mut theirs) = tokio::io::duplex(4096);
    let options = Options::default().on_request(|request| {
        if request.origin() == Some("http://evil.example") {
            Decision::reject(403).with_header("X-Reason", "origin").with_body("not from there")
        } else {
            Decision::accept()
        }
    });
    theirs.write_all(REQUEST).await.unwrap();
    let accepted = rfc6455_tokio::accept_with(ours, options).await;
    assert!(matches!(accepted, Err(Error::Rejected(403))), "{accepted:?}");
    assert_eq!(
        common::read_to_end(&mut theirs).await,
        b"HTTP/1.1 403 Forbidden\r\nX-Reason: origin\r\nContent-Length: 14\r\nConnection: close\r\n\r\nnot from there"
    );
}

#[tokio::test]
async fn the_hook_accepts_with_headers_and_frames_after_the_head_are_kept() {
    let (ours, mut theirs) = tokio::io::duplex(4096);
    let options = Options::default().on_request(|_| Decision::accept().with_header("Set-Cookie", "id=1"));
    let mut wire = REQUEST.to_vec();
    wire.extend(common::client_frame(0x1, b"early"));
    theirs.write_all(&wire).await.unwrap();
    let mut ws = rfc6455_tokio::accept_with(ours, options).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), rfc6455_tokio::Message::text("early"));
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        response.push(tokio::io::AsyncReadExt::read_u8(&mut theirs).await.unwrap());
    }
    assert_eq!(
        std::str::from_utf8(&response).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSet-Cookie: id=1\r\n\r\n"
    );
}

#[tokio::test]
async fn an_invalid_request_is_answered_with_the_cores_status() {
    let (ours, mut theirs) = tokio::io::duplex(4096);
    theirs.write_all(b"POST /chat HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let accepted = rfc6455_tokio::accept(ours).await;
    assert!(
        matches!(
            accepted,
            Err(Error::Handshake(rfc6455::Error::Handshake(HandshakeError::MethodNotAllowed)))
        ),
        "{accepted:?}"
    );
    let answer = common::read_to_end(&mut theirs).await;
    assert_eq!(
        answer,
        b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

#[tokio::test(start_paused = true)]
async fn a_late_request_is_answered_408_at_the_handshake_timeout() {
    let (ours, mut theirs) = tokio::io::duplex(4096);
    theirs.write_all(b"GET /chat HTTP/1.1\r\n").await.unwrap();
    let start = Instant::now();
    let accepted = rfc6455_tokio::accept(ours).await;
    assert_eq!(start.elapsed(), rfc6455_tokio::DEFAULT_HANDSHAKE_TIMEOUT);
    assert!(
        matches!(accepted, Err(Error::Handshake(rfc6455::Error::Handshake(HandshakeError::Timeout)))),
        "{accepted:?}"
    );
    let answer = common::read_to_end(&mut theirs).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn a_client_reports_a_refusal_with_its_status() {
    let (ours, mut theirs) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut request = vec![0u8; 1024];
        let _ = tokio::io::AsyncReadExt::read(&mut theirs, &mut request).await.unwrap();
        theirs.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await.unwrap();
        theirs
    });
    let opened = rfc6455_tokio::client(ours, "ws://example.com/missing", Options::default()).await;
    match opened {
        Err(Error::Handshake(rfc6455::Error::Handshake(HandshakeError::UnexpectedStatus {
            status, ..
        }))) => {
            assert_eq!(status, 404)
        }
        other => panic!("{other:?}"),
    }
    let _ = server.await.unwrap();
}

#[tokio::test]
async fn connect_refuses_urls_that_are_not_websocket_urls() {
    let error = rfc6455_tokio::connect("http://127.0.0.1/").await.unwrap_err();
    assert!(matches!(error, Error::Usage(_)), "{error:?}");
}
