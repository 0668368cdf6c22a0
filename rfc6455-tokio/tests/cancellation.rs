//! `recv()` raced in `select!` against timers that fire all the time: no message is lost,
//! duplicated or reordered when the `recv` future is dropped half way.

mod common;

use std::time::Duration;

use rfc6455_tokio::{CloseCode, Message, Options};

const MESSAGES: u64 = 10_000;

#[tokio::test]
async fn recv_raced_against_constant_timers_loses_nothing() {
    // A small pipe, so messages arrive in many pieces and `recv` is often half way.
    let (mut server, mut client) = common::pair(Options::default(), Options::default(), 2048).await;
    let sender = tokio::spawn(async move {
        let mut rng = common::Rng::new(6455);
        for index in 0..MESSAGES {
            let len = match rng.below(10) {
                0 => 8 + rng.below(64 * 1024) as usize,
                _ => 8 + rng.below(512) as usize,
            };
            let data = common::payload(index, len);
            let message = if index % 3 == 0 {
                Message::text(data.iter().map(|b| char::from(b'a' + b % 26)).collect::<String>())
            } else {
                Message::binary(data)
            };
            server.send(message).await.unwrap();
        }
        server.close(CloseCode::NORMAL, "done").await.unwrap();
    });

    let mut rng = common::Rng::new(6455);
    let mut next = 0;
    let (mut yields_won, mut sleeps_won) = (0u64, 0u64);
    loop {
        tokio::select! {
            // Ready on its second poll: it wins whenever `recv` has to wait at all.
            () = tokio::task::yield_now() => yields_won += 1,
            () = tokio::time::sleep(Duration::from_micros(100)) => sleeps_won += 1,
            message = client.recv() => match message.unwrap().unwrap() {
                Message::Close(_) => break,
                message => {
                    let len = match rng.below(10) {
                        0 => 8 + rng.below(64 * 1024) as usize,
                        _ => 8 + rng.below(512) as usize,
                    };
                    let data = common::payload(next, len);
                    let expected = if next % 3 == 0 {
                        Message::text(data.iter().map(|b| char::from(b'a' + b % 26)).collect::<String>())
                    } else {
                        Message::binary(data)
                    };
                    assert_eq!(message, expected, "message {next}");
                    next += 1;
                }
            },
        }
    }
    assert_eq!(next, MESSAGES, "every message once, in order");
    assert!(client.recv().await.is_none());
    sender.await.unwrap();
    // The race was real: `recv` futures were dropped while waiting, many times.
    assert!(yields_won > 1000, "recv was cancelled only {yields_won} times");
    eprintln!("recv cancelled {yields_won} times by yield, {sleeps_won} by sleep");
}
