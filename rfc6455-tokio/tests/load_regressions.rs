//! Regressions found by the load tool (tools/wsload): each reproduces, at small scale, what a
//! scenario there showed over real sockets.

mod common;

use std::time::Duration;

use rfc6455_tokio::{Message, Options};
use tokio::io::AsyncWriteExt;

/// A peer sends Pings as fast as it can and never reads: the server answers each with a
/// Pong it cannot write. The core coalesces unsent Pongs once its output is at
/// `max_pending_output`, so what the server holds must stay near that bound however many
/// Pings come. (tools/wsload's attack scenario saw a server grow by 2 GiB in 12 s with ten
/// such peers.)
#[tokio::test]
async fn a_ping_flood_from_a_peer_that_never_reads_stays_bounded() {
    let options = Options::default();
    let config = rfc6455_tokio::default_config();
    let bound = config.max_pending_output;
    let (mut server, mut raw) = common::server_and_raw(config, &options, 64 * 1024);
    let flood: Vec<u8> = (0..100).flat_map(|_| common::client_frame(0x9, &[b'p'; 125])).collect();
    let writer = tokio::spawn(async move {
        // 64 MiB of Pings, never reading the Pongs.
        for _ in 0..(64 << 20) / flood.len() {
            if raw.write_all(&flood).await.is_err() {
                break;
            }
        }
        raw
    });
    let mut largest = (0, 0);
    while !writer.is_finished() {
        match tokio::time::timeout(Duration::from_millis(1), server.recv()).await {
            Ok(Some(Ok(Message::Ping(_)))) | Err(_) => {}
            other => panic!("unexpected {other:?}"),
        }
        let connection = server.connection();
        largest.0 = largest.0.max(connection.pending_output_len());
        largest.1 = largest.1.max(connection.buffered_input_len());
    }
    let _raw = writer.await.unwrap();
    assert!(largest.0 <= bound + 256, "pending output reached {} bytes (bound {bound})", largest.0);
    assert!(largest.1 <= 1 << 20, "buffered input reached {} bytes", largest.1);
}

/// A transport that counts the bytes read through it.
struct Counting<S> {
    inner: S,
    read: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counting<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read.fetch_add(buf.filled().len() - before, std::sync::atomic::Ordering::Relaxed);
        polled
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counting<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A peer floods empty continuation frames: with the adapter's frame budget, one poll of the
/// receive side decodes a bounded number of them and yields, so other tasks on the thread run
/// (tools/wsload's attack scenario measured 4 ms per poll, and the good clients' p99 at 200 ms
/// beside 100 such peers, before the budget). Without the budget the same poll takes in the
/// whole flood the pipe holds.
#[tokio::test]
async fn a_flood_of_empty_frames_is_decoded_a_bounded_number_per_poll() {
    use std::future::Future;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Waker};

    let mut wire = Vec::new();
    let key = Some([1, 2, 3, 4]);
    rfc6455::frame::encode_frame_to_vec(false, 0, rfc6455::OpCode::Text, b"he", key, &mut wire).unwrap();
    for _ in 0..200_000 {
        rfc6455::frame::encode_frame_to_vec(false, 0, rfc6455::OpCode::Continuation, b"", key, &mut wire)
            .unwrap();
    }
    rfc6455::frame::encode_frame_to_vec(true, 0, rfc6455::OpCode::Continuation, b"llo", key, &mut wire)
        .unwrap();

    // The budget the adapter's handshakes give every connection.
    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(rfc6455_tokio::accept(server_io));
    let client = rfc6455_tokio::client(client_io, "ws://localhost/", Options::default()).await.unwrap();
    let accepted = server.await.unwrap().unwrap();
    assert_eq!(accepted.connection().config().frame_budget, Some(32));
    drop((client, accepted));

    let mut read_in_one_poll = Vec::new();
    for budget in [Some(32), None] {
        let (ours, mut raw) = tokio::io::duplex(wire.len() + 1024);
        let read = Arc::new(AtomicUsize::new(0));
        let config = rfc6455_tokio::default_config().frame_budget(budget);
        let conn = rfc6455::Connection::new(rfc6455::Role::Server, config);
        let stream = Counting { inner: ours, read: read.clone() };
        let mut server = rfc6455_tokio::WebSocket::from_connection(stream, conn, &Options::default());
        raw.write_all(&wire).await.unwrap();
        {
            let mut recv = Box::pin(server.recv());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(matches!(recv.as_mut().poll(&mut cx), Poll::Pending), "one poll took the whole flood");
        }
        read_in_one_poll.push(read.load(Ordering::Relaxed));
        // Polled on, the message arrives whole either way.
        assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("hello"));
    }
    // With the budget: at most 32 steps of 3 calls of 32 frames (6 bytes each) decoded, and
    // what the reads brought for them. Without it, 32 reads of whatever the buffer holds.
    let (with, without) = (read_in_one_poll[0], read_in_one_poll[1]);
    println!("bytes read in one poll under the flood: {with} with the frame budget, {without} without");
    assert!(with <= 32 * 3 * 32 * 6 + 64 * 1024, "one poll read {with} bytes with the budget");
    assert!(without > 4 * with, "without the budget one poll read only {without} bytes (with: {with})");
}
