//! The owned split: two tasks, each half keeping the protocol running.

mod common;

use std::time::Duration;

use bytes::Bytes;
use rfc6455_tokio::{CloseCode, CloseFrame, Message, Options};

const MESSAGES: u64 = 10_000;
const PING_EVERY: u64 = 100;

fn message(index: u64, rng: &mut common::Rng) -> Message {
    Message::binary(common::payload(index, 8 + rng.below(2048) as usize))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halves_in_two_tasks_exchange_10000_messages_each_way_while_the_peer_pings() {
    let (server, client) = common::tcp_pair(Options::default(), Options::default()).await;
    let (mut server_rx, mut server_tx) = server.into_split();
    let (mut client_rx, mut client_tx) = client.into_split();

    let server_sends = tokio::spawn(async move {
        let mut rng = common::Rng::new(1);
        for index in 0..MESSAGES {
            server_tx.send(message(index, &mut rng)).await.unwrap();
        }
        server_tx
    });
    let server_receives = tokio::spawn(async move {
        let mut rng = common::Rng::new(2);
        let (mut data, mut pings) = (0, 0);
        loop {
            match server_rx.recv().await.unwrap().unwrap() {
                Message::Ping(payload) => {
                    assert_eq!(payload, Bytes::from((pings * PING_EVERY).to_be_bytes().to_vec()));
                    pings += 1;
                }
                Message::Close(frame) => {
                    assert_eq!(frame, Some(CloseFrame::new(CloseCode::NORMAL, "done")));
                    break;
                }
                other => {
                    assert_eq!(other, message(data, &mut rng), "server: message {data}");
                    data += 1;
                }
            }
        }
        assert!(server_rx.recv().await.is_none());
        (data, pings)
    });
    let client_sends = tokio::spawn(async move {
        let mut rng = common::Rng::new(2);
        for index in 0..MESSAGES {
            if index % PING_EVERY == 0 {
                client_tx.send(Message::Ping(Bytes::from(index.to_be_bytes().to_vec()))).await.unwrap();
            }
            client_tx.send(message(index, &mut rng)).await.unwrap();
        }
        client_tx
    });
    let client_receives = tokio::spawn(async move {
        let mut rng = common::Rng::new(1);
        let mut data = 0;
        let mut pongs = Vec::new();
        loop {
            match client_rx.recv().await.unwrap().unwrap() {
                Message::Pong(payload) => pongs.push(u64::from_be_bytes(payload[..].try_into().unwrap())),
                Message::Close(_) => break,
                other => {
                    assert_eq!(other, message(data, &mut rng), "client: message {data}");
                    data += 1;
                }
            }
        }
        assert!(client_rx.recv().await.is_none());
        (data, pongs)
    });

    // Both sides have sent everything before the client closes.
    let mut client_tx = client_sends.await.unwrap();
    let _server_tx = server_sends.await.unwrap();
    client_tx.close(CloseCode::NORMAL, "done").await.unwrap();
    assert_eq!(server_receives.await.unwrap(), (MESSAGES, MESSAGES / PING_EVERY));
    let (data, pongs) = client_receives.await.unwrap();
    assert_eq!(data, MESSAGES);
    // Pongs answer Pings in order; an unsent Pong may be replaced by a newer one (§5.5.3),
    // and the last Ping is always answered.
    assert!(!pongs.is_empty() && pongs.windows(2).all(|w| w[0] < w[1]), "{pongs:?}");
    assert!(pongs.iter().all(|p| p % PING_EVERY == 0));
    assert_eq!(pongs.last(), Some(&(MESSAGES - PING_EVERY)));
}

#[tokio::test(start_paused = true)]
async fn pings_are_answered_while_only_the_write_half_is_used() {
    let (server, mut client) = common::pair(Options::default(), Options::default(), 4096).await;
    let (server_rx, mut server_tx) = server.into_split();
    // Nobody reads on the server: its data messages are discarded, control frames handled.
    drop(server_rx);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    // The write half sends a tick every 10 ms until the client has its Pong; reading happens
    // while those sends wait.
    let ticker = tokio::spawn(async move {
        let mut n = 0;
        let mut done = done_rx;
        while done.try_recv().is_err() {
            server_tx.send(Message::text(format!("tick {n}"))).await.unwrap();
            n += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server_tx.close(CloseCode::NORMAL, "bye").await.unwrap();
        n
    });
    for n in 0..3 {
        client.send(Message::binary(vec![n; 100_000])).await.unwrap();
    }
    client.send(Message::Ping(Bytes::from_static(b"are you there"))).await.unwrap();
    let mut ticks = 0;
    let mut pong = None;
    let mut done_tx = Some(done_tx);
    loop {
        match client.recv().await.unwrap().unwrap() {
            Message::Text(text) => {
                assert_eq!(text, format!("tick {ticks}").as_str());
                ticks += 1;
            }
            Message::Pong(payload) => {
                pong = Some(payload);
                done_tx.take().unwrap().send(()).unwrap();
            }
            Message::Close(frame) => {
                assert_eq!(frame, Some(CloseFrame::new(CloseCode::NORMAL, "bye")));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(pong, Some(Bytes::from_static(b"are you there")));
    assert!(client.recv().await.is_none());
    assert_eq!(ticker.await.unwrap(), ticks, "every tick arrived, in order");
}

#[tokio::test(start_paused = true)]
async fn unread_messages_are_bounded_while_the_read_half_is_not_polled() {
    let server_options = Options::default().max_unread(64 * 1024);
    let (server, mut client) = common::pair(server_options, Options::default(), 16 * 1024).await;
    let (mut server_rx, mut server_tx) = server.into_split();
    let (sent_tx, sent_rx) = tokio::sync::watch::channel(0u64);
    let sender = tokio::spawn(async move {
        for index in 0..100 {
            client.send(Message::binary(common::payload(index, 8192))).await.unwrap();
            sent_tx.send_replace(index + 1);
        }
        client
    });
    // Only the write half is polled, for a while: it reads until 64 KiB of messages wait.
    for n in 0..50 {
        server_tx.send(Message::text(format!("tick {n}"))).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stalled = *sent_rx.borrow();
    // 8 messages of 8,256 counted bytes reach the bound; what else was sent is in the pipe
    // (16 KiB) and the connection's receive buffer.
    assert!((8..=16).contains(&stalled), "the client got {stalled} messages out");
    // The reader comes back: everything arrives, in order.
    for index in 0..100 {
        assert_eq!(server_rx.recv().await.unwrap().unwrap(), Message::binary(common::payload(index, 8192)));
    }
    let _client = sender.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_read_half_gets_every_message_while_the_write_half_closes() {
    // The peer sends 2,000 messages of 8 KiB, then waits for our Close. Our write half closes
    // as soon as the peer has queued the last one (up to its 1 MiB output bound is still to
    // come); our read half sleeps a millisecond every 8 messages. While our Close is out, a
    // live read half must still get every message the peer sent before its Close: the write
    // half's close reads only as the read half takes messages, and finishes after. (With
    // messages past `max_unread` discarded while closing, about 450 were lost here.)
    const COUNT: u64 = 2000;
    let client_options = Options::default().max_unread(64 * 1024);
    let (mut server, client) = common::tcp_pair(Options::default(), client_options).await;
    let (mut client_rx, mut client_tx) = client.into_split();
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel();
    let server_task = tokio::spawn(async move {
        for index in 0..COUNT {
            server.send(Message::binary(common::payload(index, 8192))).await.unwrap();
        }
        sent_tx.send(()).unwrap();
        match server.recv().await {
            Some(Ok(Message::Close(frame))) => {
                assert_eq!(frame, Some(CloseFrame::new(CloseCode::NORMAL, "bye")))
            }
            other => panic!("the server got {other:?} instead of the Close"),
        }
        assert!(server.recv().await.is_none());
    });
    let reader = tokio::spawn(async move {
        let mut got = 0;
        loop {
            match client_rx.recv().await.unwrap().unwrap() {
                Message::Close(_) => break,
                message => {
                    // Not `assert_eq!`: a mismatch would print two 8 KiB payloads.
                    assert!(message == Message::binary(common::payload(got, 8192)), "message {got} differs");
                    got += 1;
                    if got % 8 == 0 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
        }
        assert!(client_rx.recv().await.is_none());
        got
    });
    sent_rx.await.unwrap();
    client_tx.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert_eq!(reader.await.unwrap(), COUNT);
    server_task.await.unwrap();
    let info = client_tx.close_info().expect("ended");
    assert!(info.is_clean(), "{info:?}");
}
