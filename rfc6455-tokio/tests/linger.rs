//! The lingering close: after we fail a connection, the peer reads our Close (1009 for a
//! message over the limit) instead of a reset, and the linger is bounded in time and bytes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rfc6455::ProtocolError;
use rfc6455::handshake::{ClientRequest, WebSocketKey};
use rfc6455_tokio::{CloseCode, Error, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

const LIMIT: u64 = 64 * 1024;

/// The header of a masked binary frame claiming `len` bytes.
fn oversized_header(len: u64) -> Vec<u8> {
    let mut header = vec![0x82, 0x80 | 127];
    header.extend(len.to_be_bytes());
    header.extend([1, 2, 3, 4]);
    header
}

fn expect_too_big(end: Option<Result<rfc6455_tokio::Message, Error>>) {
    match end {
        Some(Err(Error::Closed(info))) => {
            assert_eq!(info.code(), CloseCode::MESSAGE_TOO_BIG);
            assert_eq!(info.error(), Some(&ProtocolError::FrameTooLarge { size: 16 << 20, limit: LIMIT }));
        }
        other => panic!("expected the 1009 failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_keeps_sending_a_message_over_the_limit_reads_close_1009_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let options = Options::default().config(rfc6455_tokio::default_config().max_message_size(LIMIT));
        let mut ws = rfc6455_tokio::accept_with(stream, options).await.unwrap();
        let end = ws.recv().await;
        (end, ws.recv().await.is_none())
    });

    // A client by hand, which goes on sending after the server has given up.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = Vec::new();
    ClientRequest::new("ws://127.0.0.1/", WebSocketKey::random()).unwrap().write(&mut request).unwrap();
    stream.write_all(&request).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    let (mut reader, mut writer) = stream.into_split();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_writing = Arc::clone(&stop);
    let sender = tokio::spawn(async move {
        writer.write_all(&oversized_header(16 << 20)).await?;
        let chunk = vec![0x55u8; 16 * 1024];
        let mut sent = 0;
        while !stop_writing.load(Ordering::Relaxed) && sent < 16 << 20 {
            writer.write_all(&chunk).await?;
            sent += chunk.len();
        }
        writer.shutdown().await?;
        Ok::<_, std::io::Error>(sent)
    });

    let mut close = [0u8; 4];
    reader.read_exact(&mut close).await.expect("the Close, not a reset");
    stop.store(true, Ordering::Relaxed);
    assert_eq!(close, [0x88, 0x02, 0x03, 0xf1]);
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"", "the server shut its side after the Close");
    let (end, then_none) = server.await.unwrap();
    expect_too_big(end);
    assert!(then_none);
    let _ = sender.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_linger_ends_after_its_time_when_the_peer_stays() {
    let config = rfc6455_tokio::default_config().max_message_size(LIMIT);
    let (mut server, mut peer) = common::server_and_raw(config, &Options::default(), 64 * 1024);
    let mut wire = oversized_header(16 << 20);
    wire.extend(vec![0u8; 32 * 1024]);
    peer.write_all(&wire).await.unwrap();
    let start = Instant::now();
    let peer_task = tokio::spawn(async move {
        let close = common::read_exact(&mut peer, 4).await;
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).await.unwrap();
        // The peer stays (keeps its end open) until the server is done.
        (close, rest, peer)
    });
    expect_too_big(server.recv().await);
    assert_eq!(start.elapsed(), rfc6455_tokio::DEFAULT_LINGER_TIME);
    assert!(server.recv().await.is_none());
    let (close, rest, _peer) = peer_task.await.unwrap();
    assert_eq!(close, b"\x88\x02\x03\xf1");
    assert_eq!(rest, b"");
}

#[tokio::test(start_paused = true)]
async fn a_flood_spends_the_linger_bytes_then_waits_unread_until_the_linger_time() {
    let config = rfc6455_tokio::default_config().max_message_size(LIMIT);
    let options = Options::default().linger(Duration::from_secs(2), 100_000);
    let (mut server, mut peer) = common::server_and_raw(config, &options, 64 * 1024);
    let start = Instant::now();
    let flood = tokio::spawn(async move {
        let mut wire = oversized_header(16 << 20);
        wire.extend(vec![0u8; 16 << 20]);
        // Blocks once the server stops reading; fails once the server is gone.
        let written = peer.write_all(&wire).await;
        (written, peer)
    });
    // After 100,000 bytes the server reads no more, but keeps the transport for the
    // linger's time: a peer still writing (Node's ws) reads the Close before any reset.
    expect_too_big(server.recv().await);
    assert_eq!(start.elapsed(), Duration::from_secs(2), "the linger lasted its time");
    assert!(!flood.is_finished(), "the peer's write was neither completed nor failed");
    assert!(server.recv().await.is_none());
    drop(server);
    let (written, _peer) = flood.await.unwrap();
    assert!(written.is_err(), "16 MiB cannot have been read with a 100,000-byte budget");
}
