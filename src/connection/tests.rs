//! Connection unit tests: a client and a server driven against each other in memory.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::error::{ProtocolError, UsageError};

/// An owned copy of an event, so tests can collect them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owned {
    Text(String),
    Binary(Vec<u8>),
    Chunk(MessageKind, Vec<u8>, bool, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String, CloseOrigin),
}

fn own(event: Event<'_>) -> Owned {
    match event {
        Event::Text(t) => Owned::Text(t.to_owned()),
        Event::Binary(b) => Owned::Binary(b.to_vec()),
        Event::Chunk { kind, data, first, last } => Owned::Chunk(kind, data.to_vec(), first, last),
        Event::Ping(p) => Owned::Ping(p.to_vec()),
        Event::Pong(p) => Owned::Pong(p.to_vec()),
        Event::Close(info) => Owned::Close(info.code.0, info.reason.to_owned(), info.origin),
    }
}

fn keys() -> MaskKeySource {
    let mut n: u32 = 0x1234_5678;
    Box::new(move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_be_bytes()
    })
}

fn client(config: Config) -> Connection {
    Connection::with_mask_keys(Role::Client, config, keys())
}

fn server(config: Config) -> Connection {
    Connection::with_mask_keys(Role::Server, config, keys())
}

/// Moves everything `from` has pending into `to`, `chunk` bytes at a time, draining `to`'s
/// events after each piece.
fn transfer(from: &mut Connection, to: &mut Connection, chunk: usize) -> Result<Vec<Owned>, ProtocolError> {
    let bytes = from.poll_output().to_vec();
    from.handle_written(bytes.len());
    let mut events = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        to.handle_bytes(piece);
        while let Some(event) = to.poll_event()? {
            events.push(own(event));
        }
    }
    Ok(events)
}

#[test]
fn messages_of_every_boundary_size_both_ways() {
    for size in [0usize, 1, 125, 126, 65535, 65536, 1 << 20] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let text: String = "aé€😀".chars().cycle().take(size / 3).collect();
        let mut c = client(Config::default());
        let mut s = server(Config::default());
        c.send_binary(&payload).unwrap();
        c.send_text(&text).unwrap();
        for chunk in [usize::MAX, 1460] {
            let mut c2 = client(Config::default());
            c2.send_binary(&payload).unwrap();
            c2.send_text(&text).unwrap();
            let mut s2 = server(Config::default());
            let events = transfer(&mut c2, &mut s2, chunk).unwrap();
            assert_eq!(
                events,
                vec![Owned::Binary(payload.clone()), Owned::Text(text.clone())],
                "size {size}"
            );
        }
        s.send_binary(&payload).unwrap();
        s.send_text(&text).unwrap();
        let events = transfer(&mut s, &mut c, usize::MAX).unwrap();
        assert_eq!(events, vec![Owned::Binary(payload.clone()), Owned::Text(text.clone())]);
    }
}

#[test]
fn one_byte_at_a_time() {
    let mut c = client(Config::default());
    let mut s = server(Config::default());
    c.send_text("Hello, wörld").unwrap();
    c.ping(b"p").unwrap();
    c.send_binary(&[1, 2, 3]).unwrap();
    let events = transfer(&mut c, &mut s, 1).unwrap();
    assert_eq!(
        events,
        vec![Owned::Text("Hello, wörld".into()), Owned::Ping(b"p".to_vec()), Owned::Binary(vec![1, 2, 3])]
    );
    // The server answered the Ping by itself.
    let events = transfer(&mut s, &mut c, 1).unwrap();
    assert_eq!(events, vec![Owned::Pong(b"p".to_vec())]);
}

#[test]
fn fragmented_with_pings_between_fragments() {
    let mut c = client(Config::default());
    let mut s = server(Config::default());
    c.send_chunk(MessageKind::Text, "frag".as_bytes(), false).unwrap();
    c.ping(b"1").unwrap();
    // A code point split across fragments.
    c.send_chunk(MessageKind::Text, &"é".as_bytes()[..1], false).unwrap();
    c.ping(b"2").unwrap();
    c.send_chunk(MessageKind::Text, &"é".as_bytes()[1..], true).unwrap();
    assert_eq!(c.send_text("x"), Ok(()));
    let events = transfer(&mut c, &mut s, 3).unwrap();
    assert_eq!(
        events,
        vec![
            Owned::Ping(b"1".to_vec()),
            Owned::Ping(b"2".to_vec()),
            Owned::Text("fragé".into()),
            Owned::Text("x".into())
        ]
    );
}

#[test]
fn configured_fragmentation_and_streaming_receive() {
    let mut c = client(Config::default().fragment_size(Some(4)));
    let mut s = server(Config::default().streaming(true));
    c.send_binary(b"0123456789").unwrap();
    let events = transfer(&mut c, &mut s, usize::MAX).unwrap();
    assert_eq!(
        events,
        vec![
            Owned::Chunk(MessageKind::Binary, b"0123".to_vec(), true, false),
            Owned::Chunk(MessageKind::Binary, b"4567".to_vec(), false, false),
            Owned::Chunk(MessageKind::Binary, b"89".to_vec(), false, true),
        ]
    );
}

#[test]
fn close_from_client() {
    let mut c = client(Config::default());
    let mut s = server(Config::default());
    c.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(c.state(), State::CloseSent);
    assert_eq!(c.send_text("late"), Err(UsageError::Closed));
    let events = transfer(&mut c, &mut s, usize::MAX).unwrap();
    assert_eq!(events, vec![Owned::Close(1000, "bye".into(), CloseOrigin::Peer)]);
    assert_eq!(s.state(), State::Closed);
    assert!(!s.should_drop_transport(), "the echo is not written yet");
    let events = transfer(&mut s, &mut c, usize::MAX).unwrap();
    assert!(s.should_drop_transport(), "the server closes TCP first (§7.1.1)");
    assert_eq!(events, vec![Owned::Close(1000, "".into(), CloseOrigin::Reply)]);
    assert_eq!(c.state(), State::Closed);
    assert!(!c.should_drop_transport(), "the client waits for the server's TCP close");
    c.handle_eof();
    assert_eq!(c.poll_event().unwrap(), None);
    assert!(c.should_drop_transport());
}

#[test]
fn close_from_server_and_from_both_at_once() {
    let mut c = client(Config::default());
    let mut s = server(Config::default());
    s.close(CloseCode::GOING_AWAY, "").unwrap();
    let events = transfer(&mut s, &mut c, usize::MAX).unwrap();
    assert_eq!(events, vec![Owned::Close(1001, "".into(), CloseOrigin::Peer)]);
    let events = transfer(&mut c, &mut s, usize::MAX).unwrap();
    assert_eq!(events, vec![Owned::Close(1001, "".into(), CloseOrigin::Reply)]);
    assert!(s.should_drop_transport());

    let mut c = client(Config::default());
    let mut s = server(Config::default());
    c.close(CloseCode::NORMAL, "c").unwrap();
    s.close(CloseCode::GOING_AWAY, "s").unwrap();
    let at_server = transfer(&mut c, &mut s, usize::MAX).unwrap();
    let at_client = transfer(&mut s, &mut c, usize::MAX).unwrap();
    assert_eq!(at_server, vec![Owned::Close(1000, "c".into(), CloseOrigin::Reply)]);
    assert_eq!(at_client, vec![Owned::Close(1001, "s".into(), CloseOrigin::Reply)]);
    assert_eq!((c.state(), s.state()), (State::Closed, State::Closed));
    // Neither echoed: both had sent their Close already.
    assert!(c.poll_output().is_empty() && s.poll_output().is_empty());
}

#[test]
fn eof_without_close_is_1006() {
    let mut s = server(Config::default());
    s.handle_eof();
    assert_eq!(own(s.poll_event().unwrap().unwrap()), Owned::Close(1006, "".into(), CloseOrigin::Eof));
    assert_eq!(s.poll_event().unwrap(), None);
    assert!(s.should_drop_transport());
}

fn feed_raw(conn: &mut Connection, bytes: &[u8]) -> Result<Vec<Owned>, ProtocolError> {
    conn.handle_bytes(bytes);
    let mut events = Vec::new();
    while let Some(event) = conn.poll_event()? {
        events.push(own(event));
    }
    Ok(events)
}

/// A masked client frame with key 0 (so the payload reads as plain bytes).
fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![b0];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(payload);
    out
}

#[test]
fn protocol_errors_fail_with_the_right_code() {
    let cases: Vec<(Vec<u8>, ProtocolError)> = vec![
        (client_frame(0x83, b""), ProtocolError::ReservedOpcode(3)),
        (client_frame(0xC1, b"x"), ProtocolError::ReservedBits(0b100)),
        (client_frame(0x80, b"x"), ProtocolError::UnexpectedContinuation),
        ([client_frame(0x01, b"a"), client_frame(0x81, b"b")].concat(), ProtocolError::ExpectedContinuation),
        (client_frame(0x81, &[0xce, 0xba, 0xe1, 0xbd]), ProtocolError::InvalidUtf8),
        (client_frame(0x81, &[0xed, 0xa0, 0x80]), ProtocolError::InvalidUtf8),
        (client_frame(0x88, &[0x03]), ProtocolError::InvalidClosePayload),
        (client_frame(0x88, &[0x03, 0xed]), ProtocolError::InvalidCloseCode(1005)),
        (client_frame(0x88, &[0x03, 0xe8, 0xff]), ProtocolError::InvalidUtf8),
        (client_frame(0x09, b""), ProtocolError::FragmentedControlFrame),
        (client_frame(0x89, &[0; 126]), ProtocolError::ControlFrameTooLong(126)),
        (vec![0x81, 0x01, b'x'], ProtocolError::UnmaskedFrame),
    ];
    for (wire, expected) in cases {
        let mut s = server(Config::default());
        let code = expected.close_code();
        assert_eq!(feed_raw(&mut s, &wire), Err(expected.clone()), "{wire:02x?}");
        assert_eq!(s.state(), State::Closed);
        let mut c = client(Config::default());
        c.handle_bytes(s.poll_output());
        match c.poll_event().unwrap() {
            Some(Event::Close(info)) => assert_eq!(info.code, code, "{expected:?}"),
            other => panic!("expected a close, got {other:?}"),
        }
        // Nothing more is read from a failed connection.
        assert_eq!(feed_raw(&mut s, &client_frame(0x81, b"x")), Ok(vec![]));
    }
}

#[test]
fn limits_give_1009() {
    let mut s = server(Config::default().max_frame_size(10));
    assert!(matches!(
        feed_raw(&mut s, &client_frame(0x82, &[0; 11])),
        Err(ProtocolError::FrameTooLarge { .. })
    ));
    let mut s = server(Config::default().max_message_size(10));
    let wire = [client_frame(0x02, &[0; 6]), client_frame(0x80, &[0; 5])].concat();
    let err = feed_raw(&mut s, &wire).unwrap_err();
    assert_eq!(err, ProtocolError::MessageTooLarge { limit: 10 });
    assert_eq!(err.close_code(), CloseCode::MESSAGE_TOO_BIG);
}

#[test]
fn fail_fast_utf8_before_the_frame_is_complete() {
    let mut s = server(Config::default());
    let wire = client_frame(0x81, &[b'a', 0xff, b'b', b'c']);
    // Everything up to and including the bad byte, but not the rest of the frame.
    assert_eq!(feed_raw(&mut s, &wire[..wire.len() - 2]), Err(ProtocolError::InvalidUtf8));
}

#[test]
fn data_after_close_and_usage_errors() {
    let mut s = server(Config::default());
    let wire = [client_frame(0x88, &[0x03, 0xe8]), client_frame(0x81, b"x")].concat();
    s.handle_bytes(&wire);
    assert!(matches!(s.poll_event(), Ok(Some(Event::Close(_)))));
    assert_eq!(s.poll_event(), Err(ProtocolError::DataAfterClose));

    let mut c = client(Config::default());
    assert_eq!(c.ping(&[0; 126]), Err(UsageError::ControlPayloadTooLong(126)));
    assert_eq!(c.close(CloseCode::ABNORMAL, ""), Err(UsageError::InvalidCloseCode(1006)));
    c.send_chunk(MessageKind::Binary, b"a", false).unwrap();
    assert_eq!(c.send_text("b"), Err(UsageError::MessageInProgress));
    assert_eq!(c.send_chunk(MessageKind::Text, b"b", true), Err(UsageError::MessageInProgress));
    assert_eq!(c.send_chunk(MessageKind::Binary, b"b", true), Ok(()));
    assert_eq!(c.send_chunk(MessageKind::Text, &[0xff], true), Err(UsageError::InvalidUtf8));
}

#[test]
fn read_buf_zero_copy_path() {
    let mut c = client(Config::default());
    let mut s = server(Config::default());
    c.send_text("zero copy").unwrap();
    let bytes = c.poll_output().to_vec();
    let buf = s.read_buf(bytes.len());
    buf[..bytes.len()].copy_from_slice(&bytes);
    s.handle_read(bytes.len());
    assert_eq!(s.poll_event().unwrap(), Some(Event::Text("zero copy")));
    assert_eq!(s.poll_event().unwrap(), None);
}

#[test]
fn keepalive_ping_then_dead_exactly_at_deadline() {
    use core::time::Duration;
    let t0 = crate::time::Instant::now();
    let cfg = Config::default().timeouts(
        TimeoutConfig::default().ping_interval(Duration::from_secs(10)).pong_timeout(Duration::from_secs(5)),
    );
    let mut c = client(cfg);
    c.handle_timeout(t0);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    // Traffic at t0+4 postpones the Ping to t0+14.
    c.handle_bytes(b"\x8a\x00");
    while c.poll_event().unwrap().is_some() {}
    c.handle_timeout(t0 + Duration::from_secs(4));
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(14)));
    c.handle_timeout(t0 + Duration::from_secs(14));
    assert_eq!(c.poll_output().len(), 6, "a masked empty Ping went out");
    assert_eq!(c.poll_output()[0], 0x89);
    c.handle_written(6);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(19)));
    c.handle_timeout(t0 + Duration::from_secs(19) - Duration::from_nanos(1));
    assert_eq!(c.poll_event().unwrap(), None);
    c.handle_timeout(t0 + Duration::from_secs(19));
    assert_eq!(
        own(c.poll_event().unwrap().unwrap()),
        Owned::Close(1006, "".into(), CloseOrigin::Timeout(TimerKind::Keepalive))
    );
    assert!(c.poll_output().is_empty(), "nothing more is sent to a dead peer");
    assert!(c.should_drop_transport());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn close_timeout_fires_and_drops_the_transport() {
    use core::time::Duration;
    let t0 = crate::time::Instant::now();
    let mut c =
        client(Config::default().timeouts(TimeoutConfig::default().close_timeout(Duration::from_secs(5))));
    c.handle_timeout(t0);
    assert_eq!(c.poll_timeout(), None, "no timer runs before Close is sent");
    c.close(CloseCode::NORMAL, "").unwrap();
    c.handle_written(c.poll_output().len());
    c.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(6)));
    assert!(!c.should_drop_transport());
    c.handle_timeout(t0 + Duration::from_secs(6));
    assert_eq!(
        own(c.poll_event().unwrap().unwrap()),
        Owned::Close(1006, "".into(), CloseOrigin::Timeout(TimerKind::Close))
    );
    assert!(c.should_drop_transport());
}

#[test]
fn idle_timeout_closes_with_the_configured_code() {
    use core::time::Duration;
    let t0 = crate::time::Instant::now();
    let timeouts = TimeoutConfig::default()
        .idle_timeout(Duration::from_secs(60), CloseCode(4000))
        .close_timeout(Duration::from_secs(2));
    let mut s = server(Config::default().timeouts(timeouts));
    s.handle_timeout(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    // Sending counts as traffic too.
    s.send_text("tick").unwrap();
    s.handle_written(s.poll_output().len());
    s.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(70)));
    s.handle_timeout(t0 + Duration::from_secs(70));
    assert_eq!(s.state(), State::CloseSent);
    assert_eq!(&s.poll_output()[..4], b"\x88\x0e\x0f\xa0", "Close 4000 'idle timeout'");
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(72)), "the close timer runs next");
}

#[test]
fn poll_timeout_is_the_earliest_deadline() {
    use core::time::Duration;
    // Drive a client through random traffic with all timers on, always jumping straight to the
    // deadline it announces: nothing may happen a nanosecond early, and something must happen
    // at the deadline itself.
    let mut seed = 0x9e37_79b9_u32;
    let mut rand = move |n: u32| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed % n
    };
    for _round in 0..200 {
        let timeouts = TimeoutConfig::default()
            .ping_interval(Duration::from_millis(u64::from(1 + rand(50))))
            .pong_timeout(Duration::from_millis(u64::from(1 + rand(50))))
            .idle_timeout(Duration::from_millis(u64::from(1 + rand(200))), CloseCode::GOING_AWAY)
            .close_timeout(Duration::from_millis(u64::from(1 + rand(50))));
        let mut c = client(Config::default().timeouts(timeouts));
        let mut now = crate::time::Instant::now();
        c.handle_timeout(now);
        for _step in 0..30 {
            match rand(4) {
                0 => {
                    // Traffic from the peer, stamped at once as the docs ask.
                    now += Duration::from_millis(u64::from(rand(5)));
                    c.handle_bytes(b"\x8a\x00");
                    while c.poll_event().unwrap().is_some() {}
                    c.handle_timeout(now);
                }
                _ => {
                    let Some(deadline) = c.poll_timeout() else { break };
                    assert!(deadline > now, "an overdue deadline survived handle_timeout");
                    let before = (c.state(), c.poll_output().len());
                    c.handle_timeout(deadline - Duration::from_nanos(1));
                    assert_eq!(c.poll_event().unwrap(), None);
                    assert_eq!((c.state(), c.poll_output().len()), before, "a timer fired early");
                    now = deadline;
                    c.handle_timeout(now);
                    let event = c.poll_event().unwrap().map(own);
                    let after = (c.state(), c.poll_output().len());
                    assert!(event.is_some() || after != before, "nothing fired at the deadline");
                    c.handle_written(c.poll_output().len());
                }
            }
        }
    }
}

#[test]
fn no_event_after_an_error_even_with_a_close_timer() {
    // Found by fuzzing (fuzz/artifacts/client_connection/regression-close-timer-event-after-error).
    use core::time::Duration;
    let mut c =
        client(Config::default().timeouts(TimeoutConfig::default().close_timeout(Duration::from_millis(10))));
    let t0 = crate::time::Instant::now();
    c.handle_timeout(t0);
    c.close(CloseCode::NORMAL, "").unwrap();
    c.handle_timeout(t0);
    c.handle_bytes(b"\x83\x00");
    assert_eq!(c.poll_event(), Err(ProtocolError::ReservedOpcode(3)));
    assert_eq!(c.poll_timeout(), None);
    c.handle_timeout(t0 + Duration::from_millis(20));
    assert_eq!(c.poll_event(), Ok(None));
}

#[test]
fn a_second_close_frame_is_not_reported() {
    // Found by fuzzing (regression-second-close-frame-reported-twice).
    let mut c = client(Config::default());
    c.handle_bytes(b"\x88\x00\x88\x00");
    assert!(matches!(c.poll_event(), Ok(Some(Event::Close(CloseInfo { origin: CloseOrigin::Peer, .. })))));
    assert_eq!(c.poll_event(), Ok(None));
    assert_eq!(c.poll_output().len(), 6, "one masked empty Close echo, no more");
}

#[test]
fn receive_buffer_does_not_double_past_the_frame_limit() {
    let limit = 64 * 1024;
    let mut s = server(Config::default().max_frame_size(limit as u64));
    let mut frame = vec![0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    frame.extend(core::iter::repeat_n(0u8, limit));
    for piece in frame.chunks(1000) {
        s.handle_bytes(piece);
        while s.poll_event().unwrap().is_some() {}
        assert!(s.recv.allocated() <= limit + 14 + 1000 + 4096, "buffer grew to {}", s.recv.allocated());
    }
}

#[test]
fn release_buffers_returns_an_idle_connection_to_zero_heap() {
    let mut c = client(Config::default());
    let mut s = server(Config::default());
    c.send_chunk(MessageKind::Text, b"first half, ", false).unwrap();
    let events = transfer(&mut c, &mut s, usize::MAX).unwrap();
    assert!(events.is_empty());
    // Mid-message: the reassembly buffer holds the first half and must survive.
    s.release_buffers();
    c.send_chunk(MessageKind::Text, b"second half", true).unwrap();
    let events = transfer(&mut c, &mut s, usize::MAX).unwrap();
    assert_eq!(events, vec![Owned::Text("first half, second half".into())]);
    s.send_text("reply").unwrap();
    assert!(s.recv.allocated() > 0 && !s.poll_output().is_empty());
    s.release_buffers();
    assert!(!s.poll_output().is_empty(), "unwritten output is kept");
    s.handle_written(s.poll_output().len());
    s.release_buffers();
    assert_eq!(s.recv.allocated(), 0);
    // And it works again afterwards.
    c.send_text("again").unwrap();
    assert_eq!(transfer(&mut c, &mut s, 3).unwrap(), vec![Owned::Text("again".into())]);
}

/// Everything `conn` has pending, written out one `poll_output` piece at a time.
fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut wire = Vec::new();
    loop {
        let out = conn.poll_output();
        if out.is_empty() {
            return wire;
        }
        wire.extend_from_slice(out);
        let n = out.len();
        conn.handle_written(n);
    }
}

/// Writes out everything `from` has pending, piece by piece, and returns the events `to`
/// makes of it.
fn deliver(from: &mut Connection, to: &mut Connection) -> Vec<Owned> {
    to.handle_bytes(&drain(from));
    let mut events = Vec::new();
    while let Some(event) = to.poll_event().unwrap() {
        events.push(own(event));
    }
    events
}

#[test]
fn send_owned_holds_large_payloads_and_keeps_frame_order() {
    let mut s = server(Config::default());
    let big: alloc::sync::Arc<[u8]> = (0..5000u32).map(|i| i as u8).collect::<Vec<u8>>().into();
    s.send_text("before").unwrap();
    s.send_owned(MessageKind::Binary, alloc::sync::Arc::clone(&big)).unwrap();
    s.ping(b"between").unwrap();
    s.send_owned(MessageKind::Text, String::from("small text is copied")).unwrap();
    // Three pieces: the buffered bytes up to the held payload, the payload, the rest.
    let pieces: Vec<&[u8]> = s.output_pieces().collect();
    assert_eq!(pieces.len(), 3);
    assert_eq!(pieces[1].as_ptr(), big.as_ptr(), "the payload is written from where it lies");
    assert_eq!(s.poll_output(), pieces[0]);
    let first = pieces[0].len();
    let total = s.pending_output_len();
    assert_eq!(total, pieces.iter().map(|p| p.len()).sum::<usize>());
    // A write that ends mid-payload, then the rest.
    s.handle_written(first + 100);
    assert_eq!(s.poll_output(), &big[100..]);
    assert_eq!(s.pending_output_len(), total - first - 100);
    let rest = s.output_pieces().flatten().copied().collect::<Vec<u8>>();
    assert_eq!(rest.len(), total - first - 100);
    s.handle_written(usize::MAX);
    assert_eq!(s.pending_output_len(), 0);
    assert!(s.poll_output().is_empty());
    assert_eq!(s.output_pieces().count(), 0);

    // The client sees the same four messages (the bytes lost to the partial write aside, so
    // replay the whole stream from a fresh server).
    let mut s = server(Config::default());
    s.send_text("before").unwrap();
    s.send_owned(MessageKind::Binary, alloc::sync::Arc::clone(&big)).unwrap();
    s.ping(b"between").unwrap();
    s.send_owned(MessageKind::Text, String::from("small text is copied")).unwrap();
    let mut c = client(Config::default());
    assert_eq!(
        deliver(&mut s, &mut c),
        vec![
            Owned::Text("before".into()),
            Owned::Binary(big.to_vec()),
            Owned::Ping(b"between".to_vec()),
            Owned::Text("small text is copied".into()),
        ]
    );
}

#[test]
fn a_client_masks_owned_payloads_in_place_and_copies_shared_ones() {
    let data: Vec<u8> = (0..4096u32).map(|i| (i % 253) as u8).collect();
    let mut c = client(Config::default());
    c.send_owned(MessageKind::Binary, data.clone()).unwrap();
    assert_eq!(c.output_pieces().count(), 2, "header, then the payload masked where it lies");
    c.send_owned(MessageKind::Binary, alloc::sync::Arc::<[u8]>::from(&data[..])).unwrap();
    assert_eq!(c.output_pieces().count(), 3, "a shared payload is copied while masking");
    let mut s = server(Config::default());
    assert_eq!(deliver(&mut c, &mut s), vec![Owned::Binary(data.clone()), Owned::Binary(data)]);
}

#[test]
fn send_owned_refuses_what_send_refuses() {
    let mut s = server(Config::default());
    let not_utf8 = vec![0xff; 2000];
    assert_eq!(s.send_owned(MessageKind::Text, not_utf8.clone()), Err(UsageError::InvalidUtf8));
    assert_eq!(s.send_owned(MessageKind::Text, vec![0xff; 3]), Err(UsageError::InvalidUtf8));
    assert_eq!(s.pending_output_len(), 0);
    s.send_chunk(MessageKind::Binary, b"streaming", false).unwrap();
    assert_eq!(s.send_owned(MessageKind::Binary, vec![1; 2000]), Err(UsageError::MessageInProgress));
    s.send_chunk(MessageKind::Binary, b"", true).unwrap();
    s.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(s.send_owned(MessageKind::Binary, vec![1; 2000]), Err(UsageError::Closed));
}

#[test]
fn held_payloads_are_fragmented_by_copying_and_dropped_on_eof() {
    // With a fragment size the payload is copied into fragments: one piece of output.
    let mut s = server(Config::default().fragment_size(Some(1500)));
    s.send_owned(MessageKind::Binary, vec![3u8; 4000]).unwrap();
    assert_eq!(s.output_pieces().count(), 1);
    let mut c = client(Config::default());
    c.handle_bytes(&drain(&mut s));
    assert_eq!(own(c.poll_event().unwrap().unwrap()), Owned::Binary(vec![3u8; 4000]));

    // Unwritten held output keeps the transport open; end of stream drops it.
    let mut s = server(Config::default());
    s.send_owned(MessageKind::Binary, vec![3u8; 4000]).unwrap();
    s.close(CloseCode::NORMAL, "bye").unwrap();
    s.handle_bytes(&[0x88, 0x80, 0, 0, 0, 0]);
    while s.poll_event().unwrap().is_some() {}
    assert_eq!(s.state(), State::Closed);
    assert!(!s.should_drop_transport(), "held output not yet written");
    s.release_buffers();
    // Header and payload, then the Close: header, code, "bye".
    assert_eq!(s.pending_output_len(), 4 + 4000 + 2 + 2 + 3, "release keeps unwritten output");
    s.handle_eof();
    assert_eq!(s.pending_output_len(), 0);
    assert!(s.should_drop_transport());
}
