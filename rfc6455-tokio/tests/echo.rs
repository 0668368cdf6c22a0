//! Messages of several sizes, text and binary, echoed both ways over a pipe and over loopback
//! TCP, and the opening handshake's options end to end.

mod common;

use bytes::Bytes;
use rfc6455_tokio::{CloseCode, Decision, Message, Options, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

const SIZES: [usize; 9] = [0, 1, 125, 126, 1000, 65_535, 65_536, 300_000, (1 << 20) + 7];

fn text_of(len: usize) -> String {
    // Multi-byte characters where they fit, so text crosses read boundaries mid-character.
    let mut text = String::with_capacity(len);
    while text.len() + 2 <= len {
        text.push(if text.len() % 7 == 0 { 'é' } else { 'a' });
    }
    if text.len() < len {
        text.push('z');
    }
    assert_eq!(text.len(), len);
    text
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>) -> Option<rfc6455_tokio::Error> {
    while let Some(message) = ws.recv().await {
        match message {
            Ok(Message::Close(_)) => return None,
            Ok(message) if message.is_data() => ws.send(message).await.unwrap(),
            Ok(_) => {}
            Err(error) => return Some(error),
        }
    }
    None
}

/// Sends every size as text and as binary and checks each echo, byte for byte.
async fn send_and_check<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) {
    for size in SIZES {
        let text = text_of(size);
        ws.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
        let data = Bytes::from(common::payload(size as u64, size.max(8))[..size].to_vec());
        ws.send(Message::Binary(data.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::Binary(data));
    }
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Close(Some(rfc6455_tokio::CloseFrame::new(CloseCode::NORMAL, "")))
    );
    assert!(ws.recv().await.is_none());
}

#[tokio::test]
async fn client_to_server_over_a_pipe() {
    let (server, mut client) = common::pair(Options::default(), Options::default(), 16 * 1024).await;
    let echoer = tokio::spawn(echo(server));
    send_and_check(&mut client).await;
    assert!(echoer.await.unwrap().is_none());
}

#[tokio::test]
async fn server_to_client_over_a_pipe() {
    let (mut server, client) = common::pair(Options::default(), Options::default(), 16 * 1024).await;
    let echoer = tokio::spawn(echo(client));
    send_and_check(&mut server).await;
    assert!(echoer.await.unwrap().is_none());
}

#[tokio::test]
async fn both_ways_over_loopback_tcp() {
    let (server, mut client) = common::tcp_pair(Options::default(), Options::default()).await;
    let echoer = tokio::spawn(echo(server));
    send_and_check(&mut client).await;
    assert!(echoer.await.unwrap().is_none());

    let (mut server, client) = common::tcp_pair(Options::default(), Options::default()).await;
    let echoer = tokio::spawn(echo(client));
    send_and_check(&mut server).await;
    assert!(echoer.await.unwrap().is_none());
}

#[tokio::test]
async fn permessage_deflate_negotiated_by_the_core_both_ways() {
    let deflate = || Options::default().config(rfc6455_tokio::default_config().deflate(Default::default()));
    let (server, mut client) = common::pair(deflate(), deflate(), 16 * 1024).await;
    assert!(server.connection().has_extension() && client.connection().has_extension());
    let echoer = tokio::spawn(echo(server));
    send_and_check(&mut client).await;
    assert!(echoer.await.unwrap().is_none());
}

#[tokio::test]
async fn the_hook_sees_the_request_and_chooses_subprotocol_and_headers() {
    let server_options = Options::default().on_request(|request| {
        assert_eq!(request.path(), "/room");
        assert_eq!(request.query(), Some("id=7"));
        match request.header("Authorization") {
            Some(b"Bearer abc") => Decision::accept()
                .with_subprotocol_from(request, &["v2", "v1"])
                .with_header("Set-Cookie", "session=1"),
            _ => Decision::reject(401),
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/room?id=7", listener.local_addr().unwrap());
    let accepting = async {
        let (stream, _) = listener.accept().await.unwrap();
        rfc6455_tokio::accept_with(stream, server_options).await
    };
    let client_options =
        Options::default().subprotocol("v1").subprotocol("v2").header("Authorization", "Bearer abc");
    let (server, client) = tokio::join!(accepting, rfc6455_tokio::connect_with(&url, client_options));
    let (mut server, mut client) = (server.unwrap(), client.unwrap());
    // The client's order of preference decides.
    assert_eq!(server.subprotocol(), Some("v1"));
    assert_eq!(client.subprotocol(), Some("v1"));
    client.send(Message::text("hi")).await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("hi"));
}
