//! Keepalive, the close timeout and backpressure on tokio's paused clock, so that the
//! timings are exact and the tests fast.

mod common;

use std::time::Duration;

use futures_util::SinkExt;
use rfc6455::connection::{CloseOrigin, TimeoutConfig, TimerKind};
use rfc6455_tokio::{CloseCode, Error, Message, Options};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_dropped_by_keepalive() {
    let options = Options::default();
    let (mut server, mut peer) = common::server_and_raw(rfc6455_tokio::default_config(), &options, 4096);
    let start = Instant::now();
    let peer_task = tokio::spawn(async move {
        let ping = common::read_exact(&mut peer, 2).await;
        let pinged_at = start.elapsed();
        (ping, pinged_at, common::read_to_end(&mut peer).await)
    });
    match server.recv().await {
        Some(Err(Error::Closed(info))) => {
            assert_eq!(info.code(), CloseCode::ABNORMAL);
            assert_eq!(info.origin(), &CloseOrigin::Timeout(TimerKind::Keepalive));
        }
        other => panic!("expected the keepalive to end it, got {other:?}"),
    }
    // Ping after 20 s of silence, given up 20 s later.
    assert_eq!(start.elapsed(), Duration::from_secs(40));
    assert!(server.recv().await.is_none());
    let (ping, pinged_at, rest) = peer_task.await.unwrap();
    assert_eq!(ping, b"\x89\x00");
    assert_eq!(pinged_at, Duration::from_secs(20));
    assert_eq!(rest, b"", "nothing more is said to a peer given up on");
}

#[tokio::test(start_paused = true)]
async fn a_live_peer_keeps_the_connection_while_the_application_only_reads() {
    // The client runs no keepalive of its own: it only answers, from its `recv`.
    let quiet = rfc6455_tokio::default_config().timeouts(TimeoutConfig::default());
    let (mut server, mut client) =
        common::pair(Options::default(), Options::default().config(quiet), 4096).await;
    let start = Instant::now();
    let client_task = tokio::spawn(async move {
        let mut pings = 0;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(90)) => {}
            message = async {
                loop {
                    match client.recv().await {
                        Some(Ok(Message::Ping(_))) => pings += 1,
                        other => break other,
                    }
                }
            } => panic!("the client saw {message:?}"),
        }
        client.send(Message::text("still here")).await.unwrap();
        (client, pings)
    });
    let mut pongs = 0;
    let text = loop {
        match server.recv().await.unwrap().unwrap() {
            Message::Pong(payload) => {
                assert!(payload.is_empty());
                pongs += 1;
            }
            other => break other,
        }
    };
    assert_eq!(text, Message::text("still here"));
    assert_eq!(start.elapsed(), Duration::from_secs(90));
    let (_client, pings) = client_task.await.unwrap();
    // Pings at 20, 40, 60 and 80 s, each answered.
    assert_eq!((pings, pongs), (4, 4));
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_costs_bounded_output_then_keepalive_ends_it() {
    let timeouts = TimeoutConfig::default()
        .ping_interval(Duration::from_secs(1))
        .pong_timeout(Duration::from_secs(1))
        .close_timeout(Duration::from_secs(1));
    let limit = 64 * 1024;
    let config = rfc6455_tokio::default_config().timeouts(timeouts).max_pending_output(limit);
    // The pipe holds 64 KiB; the peer neither reads nor writes.
    let (mut server, _peer) = common::server_and_raw(config, &Options::default(), 64 * 1024);
    let start = Instant::now();
    let message = Message::binary(vec![7u8; 16 * 1024]);
    let mut accepted = 0;
    let mut most_pending = 0;
    let error = loop {
        match server.feed(message.clone()).await {
            Ok(()) => accepted += 1,
            Err(error) => break error,
        }
        most_pending = most_pending.max(server.connection().pending_output_len());
    };
    assert!(matches!(error, Error::Usage(rfc6455::UsageError::Closed)), "{error:?}");
    // Four 16 KiB frames (16,388 bytes each) fill the 64 KiB bound; the pipe takes 64 KiB of
    // them, four more fill the bound again, and the ninth waits until keepalive gives up.
    assert_eq!(accepted, 8);
    assert_eq!(most_pending, 16 + 4 * 16_388);
    assert!(most_pending < limit + 16_388);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    let info = server.close_info().unwrap().clone();
    assert_eq!(info.origin(), &CloseOrigin::Timeout(TimerKind::Keepalive));
    // What was never written is reported by a flush.
    assert!(matches!(server.flush().await, Err(Error::Closed(ref flushed)) if **flushed == info));
    assert!(matches!(server.recv().await, Some(Err(Error::Closed(ref ended))) if **ended == info));
}

#[tokio::test(start_paused = true)]
async fn send_waits_for_a_peer_that_never_reads() {
    let config = rfc6455_tokio::default_config();
    let (mut server, _peer) = common::server_and_raw(config, &Options::default(), 1024);
    let start = Instant::now();
    let sent = server.send(Message::binary(vec![1u8; 4096])).await;
    // The flush waited for the peer until keepalive gave up on it (20 s + 20 s).
    assert!(
        matches!(sent, Err(Error::Closed(ref info)) if info.origin() == &CloseOrigin::Timeout(TimerKind::Keepalive))
    );
    assert_eq!(start.elapsed(), Duration::from_secs(40));
}

#[tokio::test(start_paused = true)]
async fn close_returns_after_the_close_timeout_when_the_peer_never_answers() {
    let (mut server, mut peer) =
        common::server_and_raw(rfc6455_tokio::default_config(), &Options::default(), 4096);
    let peer_task = tokio::spawn(async move { common::read_to_end(&mut peer).await });
    let start = Instant::now();
    server.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert_eq!(start.elapsed(), rfc6455_tokio::DEFAULT_CLOSE_TIMEOUT);
    let info = server.close_info().unwrap().clone();
    assert_eq!((info.code(), info.origin()), (CloseCode::ABNORMAL, &CloseOrigin::Timeout(TimerKind::Close)));
    assert_eq!(peer_task.await.unwrap(), b"\x88\x05\x03\xe8bye");
    assert!(matches!(server.recv().await, Some(Err(Error::Closed(ref ended))) if **ended == info));
    assert!(server.recv().await.is_none());
}
