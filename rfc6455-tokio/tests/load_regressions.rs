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
