//! How a connection ends, as the application sees it: `Message::Close` then `None` after a
//! clean close, exactly one `Err` then `None` after anything else; sends after the end fail at
//! once; flush means the bytes are with the transport.

mod common;

use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use rfc6455::ProtocolError;
use rfc6455::connection::CloseOrigin;
use rfc6455_tokio::{CloseCode, CloseFrame, Error, Message, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_clean_close_ends_the_stream_with_close_then_none() {
    let (mut server, mut client) = common::pair(Options::default(), Options::default(), 4096).await;
    let (closed, seen) = tokio::join!(client.close(CloseCode::NORMAL, "bye"), async {
        let first = server.next().await;
        (first, server.next().await, server.next().await)
    });
    closed.unwrap();
    let frame = |reason: &str| Some(CloseFrame::new(CloseCode::NORMAL, reason.to_owned()));
    assert_eq!(seen.0.unwrap().unwrap(), Message::Close(frame("bye")));
    assert!(seen.1.is_none() && seen.2.is_none());
    assert!(futures_core::FusedStream::is_terminated(&server));
    assert_eq!(server.close_info().unwrap().origin(), &CloseOrigin::Peer);
    // The client's side: the server's answer (its code, no reason), then the end.
    assert_eq!(client.next().await.unwrap().unwrap(), Message::Close(frame("")));
    assert!(client.next().await.is_none());
    assert_eq!(client.close_info().unwrap().origin(), &CloseOrigin::Reply);
}

#[tokio::test]
async fn a_protocol_error_ends_the_stream_with_exactly_one_err() {
    let options = Options::default();
    let (mut server, mut peer) = common::server_and_raw(rfc6455_tokio::default_config(), &options, 4096);
    // An unmasked frame from a client breaks §5.1.
    peer.write_all(b"\x81\x02hi").await.unwrap();
    let peer_task = tokio::spawn(async move { common::read_to_end(&mut peer).await });
    match server.next().await {
        Some(Err(Error::Closed(info))) => {
            assert_eq!(info.code(), CloseCode::PROTOCOL_ERROR);
            assert_eq!(info.error(), Some(&ProtocolError::UnmaskedFrame));
        }
        other => panic!("expected one Err, got {other:?}"),
    }
    assert!(server.next().await.is_none());
    assert!(server.next().await.is_none());
    // The peer was told why: a Close with 1002, then the end of the stream.
    assert_eq!(peer_task.await.unwrap(), b"\x88\x02\x03\xea");
}

#[tokio::test]
async fn end_of_stream_without_a_close_is_one_err_with_1006() {
    let options = Options::default();
    let (mut server, peer) = common::server_and_raw(rfc6455_tokio::default_config(), &options, 4096);
    drop(peer);
    match server.recv().await {
        Some(Err(Error::Closed(info))) => {
            assert_eq!((info.code(), info.origin()), (CloseCode::ABNORMAL, &CloseOrigin::Eof));
        }
        other => panic!("expected one Err, got {other:?}"),
    }
    assert!(server.recv().await.is_none());
}

#[tokio::test]
async fn messages_before_the_end_are_delivered_first() {
    let options = Options::default();
    let (mut server, mut peer) = common::server_and_raw(rfc6455_tokio::default_config(), &options, 4096);
    let mut wire = common::client_frame(0x1, b"one");
    wire.extend(common::client_frame(0x2, b"two"));
    wire.extend(common::client_frame(0x8, b"\x03\xe9going"));
    peer.write_all(&wire).await.unwrap();
    let peer_task = tokio::spawn(async move { common::read_to_end(&mut peer).await });
    assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("one"));
    assert_eq!(server.recv().await.unwrap().unwrap(), Message::binary(&b"two"[..]));
    let close = Message::Close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "going")));
    assert_eq!(server.recv().await.unwrap().unwrap(), close);
    assert!(server.recv().await.is_none());
    // The echo of the peer's code (§5.5.1), then the server closed the transport first.
    assert_eq!(peer_task.await.unwrap(), b"\x88\x02\x03\xe9");
}

#[tokio::test]
async fn send_after_close_is_an_error_not_a_hang() {
    let options = Options::default();
    let (mut server, _peer) = common::server_and_raw(rfc6455_tokio::default_config(), &options, 4096);
    server.start_send(Message::Close(None)).unwrap();
    let send = tokio::time::timeout(Duration::from_secs(1), server.send(Message::text("late"))).await;
    assert!(matches!(send, Ok(Err(Error::Usage(rfc6455::UsageError::Closed)))), "{send:?}");
    let sink =
        tokio::time::timeout(Duration::from_secs(1), SinkExt::send(&mut server, Message::text("late"))).await;
    assert!(matches!(sink, Ok(Err(Error::Usage(rfc6455::UsageError::Closed)))), "{sink:?}");

    // After the end, the same.
    let (mut server, mut client) = common::pair(Options::default(), Options::default(), 4096).await;
    let (closed, _) = tokio::join!(client.close(CloseCode::NORMAL, ""), server.recv());
    closed.unwrap();
    let send = tokio::time::timeout(Duration::from_secs(1), client.send(Message::text("late"))).await;
    assert!(matches!(send, Ok(Err(Error::Usage(rfc6455::UsageError::Closed)))), "{send:?}");
}

#[tokio::test]
async fn flush_resolves_once_the_bytes_are_with_the_transport() {
    let options = Options::default();
    let (mut server, mut peer) = common::server_and_raw(rfc6455_tokio::default_config(), &options, 4096);
    server.feed(Message::binary(&b"abc"[..])).await.unwrap();
    server.feed(Message::text("de")).await.unwrap();
    let mut byte = [0u8; 1];
    assert!(peer.read(&mut byte).now_or_never().is_none(), "nothing is written before a flush");
    server.flush().await.unwrap();
    assert_eq!(server.connection().pending_output_len(), 0);
    assert_eq!(common::read_exact(&mut peer, 9).await, b"\x82\x03abc\x81\x02de");
}

#[tokio::test]
async fn an_answer_to_a_message_goes_out_before_the_close_of_an_error_after_it() {
    let options = Options::default();
    let (mut server, mut peer) = common::server_and_raw(rfc6455_tokio::default_config(), &options, 4096);
    // A message, then a frame with a reserved bit set (§5.2), in one write: one read brings
    // both. An echo server answers the message before the core decodes the bad frame
    // (Autobahn|Testsuite 3.2 grades this).
    let mut wire = common::client_frame(0x1, b"hello");
    wire.extend(common::client_frame(0x1, b"bad"));
    let bad = wire.len() - b"bad".len() - 6;
    wire[bad] |= 0x20;
    peer.write_all(&wire).await.unwrap();
    let peer_task = tokio::spawn(async move { common::read_to_end(&mut peer).await });
    let message = server.recv().await.unwrap().unwrap();
    assert_eq!(message, Message::text("hello"));
    server.send(message).await.unwrap();
    match server.recv().await {
        Some(Err(Error::Closed(info))) => assert_eq!(info.code(), CloseCode::PROTOCOL_ERROR),
        other => panic!("expected one Err, got {other:?}"),
    }
    assert!(server.recv().await.is_none());
    // The echo (unmasked, server to client), then the Close with 1002.
    assert_eq!(peer_task.await.unwrap(), b"\x81\x05hello\x88\x02\x03\xea");
}
