//! Connection unit tests: a client and a server driven against each other in memory.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::close::CloseCode;
use crate::fault::{ProtocolError, UsageError};

fn chunk(kind: MessageKind, data: Vec<u8>, first: bool, last: bool) -> OwnedEvent {
    OwnedEvent::Chunk { kind, data, first, last }
}

fn closed(code: u16, reason: &str, origin: CloseOrigin) -> OwnedEvent {
    OwnedEvent::Closed(CloseInfo::new(CloseCode(code), origin, reason))
}

/// The end of a connection we failed because the peer broke the protocol.
fn failed(error: ProtocolError) -> OwnedEvent {
    closed(error.close_code().0, "", CloseOrigin::Failed(error))
}

fn keys() -> MaskKeySource {
    let mut n: u32 = 0x1234_5678;
    Box::new(move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_be_bytes()
    })
}

fn client(config: Config) -> Connection {
    Connection::builder(Role::Client).config(config).mask_keys(keys()).build()
}

fn server(config: Config) -> Connection {
    Connection::builder(Role::Server).config(config).build()
}

/// Moves everything `from` has pending into `to`, `chunk` bytes at a time, draining `to`'s
/// events after each piece.
fn transfer(from: &mut Connection, to: &mut Connection, chunk: usize) -> Vec<OwnedEvent> {
    let bytes = drain(from);
    let mut events = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        to.handle_bytes(piece);
        while let Some(event) = to.poll_event() {
            events.push(event.into_owned());
        }
    }
    events
}

#[test]
fn messages_of_every_boundary_size_both_ways() {
    // Two messages of up to 1 MiB are queued before any is written.
    let roomy = || Config::default().max_pending_output(4 << 20);
    for size in [0usize, 1, 125, 126, 65535, 65536, 1 << 20] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let text: String = "aé€😀".chars().cycle().take(size / 3).collect();
        let mut c = client(roomy());
        let mut s = server(roomy());
        c.send_binary(&payload).unwrap();
        c.send_text(&text).unwrap();
        for chunk in [usize::MAX, 1460] {
            let mut c2 = client(roomy());
            c2.send_binary(&payload).unwrap();
            c2.send_text(&text).unwrap();
            let mut s2 = server(roomy());
            let events = transfer(&mut c2, &mut s2, chunk);
            assert_eq!(
                events,
                vec![OwnedEvent::Binary(payload.clone()), OwnedEvent::Text(text.clone())],
                "size {size}"
            );
        }
        s.send_binary(&payload).unwrap();
        s.send_text(&text).unwrap();
        let events = transfer(&mut s, &mut c, usize::MAX);
        assert_eq!(events, vec![OwnedEvent::Binary(payload.clone()), OwnedEvent::Text(text.clone())]);
    }
}

#[test]
fn one_byte_at_a_time() {
    let mut c = client(Config::default());
    let mut s = server(Config::default());
    c.send_text("Hello, wörld").unwrap();
    c.ping(b"p").unwrap();
    c.send_binary(&[1, 2, 3]).unwrap();
    let events = transfer(&mut c, &mut s, 1);
    assert_eq!(
        events,
        vec![
            OwnedEvent::Text("Hello, wörld".into()),
            OwnedEvent::Ping(b"p".to_vec()),
            OwnedEvent::Binary(vec![1, 2, 3])
        ]
    );
    // The server answered the Ping by itself.
    let events = transfer(&mut s, &mut c, 1);
    assert_eq!(events, vec![OwnedEvent::Pong(b"p".to_vec())]);
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
    let events = transfer(&mut c, &mut s, 3);
    assert_eq!(
        events,
        vec![
            OwnedEvent::Ping(b"1".to_vec()),
            OwnedEvent::Ping(b"2".to_vec()),
            OwnedEvent::Text("fragé".into()),
            OwnedEvent::Text("x".into())
        ]
    );
}

#[test]
fn configured_fragmentation_and_streaming_receive() {
    let mut c = client(Config::default().fragment_size(Some(4)));
    let mut s = server(Config::default().streaming(true));
    c.send_binary(b"0123456789").unwrap();
    let events = transfer(&mut c, &mut s, usize::MAX);
    assert_eq!(
        events,
        vec![
            chunk(MessageKind::Binary, b"0123".to_vec(), true, false),
            chunk(MessageKind::Binary, b"4567".to_vec(), false, false),
            chunk(MessageKind::Binary, b"89".to_vec(), false, true),
        ]
    );
}

#[test]
fn a_streamed_frame_comes_out_a_piece_per_read() {
    // With `streaming`, what arrived of a frame is handed out as one chunk, however large:
    // a whole frame as one, a frame split across two reads as two.
    let frame = client_frame(0x82, &[7; 1000]);
    let mut s = server(Config::default().streaming(true));
    assert_eq!(feed_raw(&mut s, &frame), vec![chunk(MessageKind::Binary, vec![7; 1000], true, true)]);
    let mut events = feed_raw(&mut s, &frame[..500]);
    events.extend(feed_raw(&mut s, &frame[500..]));
    assert_eq!(
        events,
        vec![
            chunk(MessageKind::Binary, vec![7; 492], true, false),
            chunk(MessageKind::Binary, vec![7; 508], false, true)
        ]
    );
}

#[test]
fn pings_and_pongs_are_refused_at_the_bound_after_our_close_and_past_125_bytes() {
    // §5.5: a control frame's payload is at most 125 bytes, 125 included.
    let mut s = server(Config::default().max_pending_output(150));
    assert_eq!(s.ping(&[1; 126]), Err(UsageError::ControlPayloadTooLong(126)));
    assert_eq!(s.pong(&[1; 126]), Err(UsageError::ControlPayloadTooLong(126)));
    for payload in [&[][..], &[1; 125]] {
        s.ping(payload).unwrap();
        s.pong(payload).unwrap();
    }
    // The output is past its bound (two frames of 2 bytes and two of 127): refused, as data.
    let full = Err(UsageError::OutputFull { pending: 258, limit: 150 });
    assert_eq!((s.ping(b""), s.pong(b"")), (full.clone(), full));
    let n = s.poll_output().len();
    s.handle_written(n).unwrap();
    s.ping(b"again").unwrap();
    // Nothing but the Close after ours (§5.5.1).
    s.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!((s.ping(b""), s.pong(b"")), (Err(UsageError::Closed), Err(UsageError::Closed)));
}

#[test]
fn owned_text_is_checked_unless_its_type_proves_it() {
    // A `Vec<u8>` may hold anything: valid UTF-8 is sent, anything else refused. A `String`
    // is text by its type and is not checked again.
    let mut s = server(Config::default());
    s.send_owned(MessageKind::Text, "h\u{e9}llo".as_bytes().to_vec()).unwrap();
    assert_eq!(s.send_owned(MessageKind::Text, vec![b'h', 0xe9]), Err(UsageError::InvalidUtf8));
    s.send_owned(MessageKind::Text, String::from("h\u{e9}llo")).unwrap();
    let mut wire = Vec::new();
    s.write_to(&mut wire).unwrap();
    let frame = [&[0x81, 6][..], "h\u{e9}llo".as_bytes()].concat();
    assert_eq!(wire, [&frame[..], &frame[..]].concat());
}

#[test]
fn append_output_moves_what_is_pending_swapping_into_an_empty_buffer() {
    let frame = [&[0x82, 10][..], &[7; 10]].concat();
    // Into an empty buffer too small for it, the connection's buffer is handed over whole
    // (no copy): the connection keeps the caller's empty one.
    let mut s = server(Config::default());
    s.send_binary(&[7; 10]).unwrap();
    let mut out = Vec::new();
    assert_eq!(s.append_output(&mut out), 12);
    assert_eq!((out, s.buffer_capacity(), s.pending_output_len()), (frame.clone(), 0, 0));
    // After a partial write only what is still pending moves, into an empty buffer or after
    // what the caller's holds.
    for mut out in [Vec::new(), vec![1, 2, 3]] {
        let mut s = server(Config::default());
        s.send_binary(&[7; 10]).unwrap();
        assert_eq!(s.poll_output().len(), 12);
        s.handle_written(5).unwrap();
        let before = out.clone();
        assert_eq!(s.append_output(&mut out), 7);
        assert_eq!(out, [&before[..], &frame[5..]].concat());
        assert_eq!(s.pending_output_len(), 0);
    }
}

#[test]
fn close_from_client() {
    let mut c = client(Config::default());
    let mut s = server(Config::default());
    c.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(c.state(), State::CloseSent);
    assert_eq!(c.send_text("late"), Err(UsageError::Closed));
    let events = transfer(&mut c, &mut s, usize::MAX);
    assert_eq!(events, vec![closed(1000, "bye", CloseOrigin::Peer)]);
    assert_eq!(s.state(), State::Closed);
    assert!(!s.should_drop_transport(), "the echo is not written yet");
    let events = transfer(&mut s, &mut c, usize::MAX);
    assert!(s.should_drop_transport(), "the server closes TCP first (§7.1.1)");
    assert_eq!(events, vec![closed(1000, "", CloseOrigin::Reply)]);
    assert_eq!(c.state(), State::Closed);
    assert!(!c.should_drop_transport(), "the client waits for the server's TCP close");
    c.handle_eof();
    assert_eq!(c.poll_event(), None);
    assert!(c.should_drop_transport());
}

#[test]
fn close_from_server_and_from_both_at_once() {
    let mut c = client(Config::default());
    let mut s = server(Config::default());
    s.close(CloseCode::GOING_AWAY, "").unwrap();
    let events = transfer(&mut s, &mut c, usize::MAX);
    assert_eq!(events, vec![closed(1001, "", CloseOrigin::Peer)]);
    let events = transfer(&mut c, &mut s, usize::MAX);
    assert_eq!(events, vec![closed(1001, "", CloseOrigin::Reply)]);
    assert!(s.should_drop_transport());

    let mut c = client(Config::default());
    let mut s = server(Config::default());
    c.close(CloseCode::NORMAL, "c").unwrap();
    s.close(CloseCode::GOING_AWAY, "s").unwrap();
    let at_server = transfer(&mut c, &mut s, usize::MAX);
    let at_client = transfer(&mut s, &mut c, usize::MAX);
    assert_eq!(at_server, vec![closed(1000, "c", CloseOrigin::Reply)]);
    assert_eq!(at_client, vec![closed(1001, "s", CloseOrigin::Reply)]);
    assert_eq!((c.state(), s.state()), (State::Closed, State::Closed));
    // Neither echoed: both had sent their Close already.
    assert!(c.poll_output().is_empty() && s.poll_output().is_empty());
}

#[test]
fn eof_without_close_is_1006() {
    let mut s = server(Config::default());
    s.handle_eof();
    assert_eq!(s.poll_event().unwrap().into_owned(), closed(1006, "", CloseOrigin::Eof));
    assert_eq!(s.poll_event(), None);
    assert!(s.should_drop_transport());
}

fn feed_raw(conn: &mut Connection, bytes: &[u8]) -> Vec<OwnedEvent> {
    conn.handle_bytes(bytes);
    let mut events = Vec::new();
    while let Some(event) = conn.poll_event() {
        events.push(event.into_owned());
    }
    events
}

/// A masked client frame with key 0 (so the payload reads as plain bytes), its length in the
/// shortest form (§5.2).
fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![b0];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(payload);
    out
}

/// The UTF-8 error `core` reports for `bytes`.
fn utf8_error(bytes: &[u8]) -> ProtocolError {
    ProtocolError::InvalidUtf8(core::str::from_utf8(bytes).unwrap_err().into())
}

#[test]
fn protocol_errors_fail_with_the_right_code() {
    let cases: Vec<(Vec<u8>, ProtocolError)> = vec![
        (client_frame(0x83, b""), ProtocolError::ReservedOpcode(3)),
        (client_frame(0xC1, b"x"), ProtocolError::ReservedBits(0b100)),
        (client_frame(0x80, b"x"), ProtocolError::UnexpectedContinuation),
        ([client_frame(0x01, b"a"), client_frame(0x81, b"b")].concat(), ProtocolError::ExpectedContinuation),
        (client_frame(0x81, &[0xce, 0xba, 0xe1, 0xbd]), utf8_error(&[0xce, 0xba, 0xe1, 0xbd])),
        (client_frame(0x81, &[0xed, 0xa0, 0x80]), utf8_error(&[0xed, 0xa0, 0x80])),
        (client_frame(0x88, &[0x03]), ProtocolError::InvalidClosePayload),
        (client_frame(0x88, &[0x03, 0xed]), ProtocolError::InvalidCloseCode(1005)),
        (client_frame(0x88, &[0x03, 0xe8, 0xff]), utf8_error(&[0xff])),
        (client_frame(0x09, b""), ProtocolError::FragmentedControlFrame),
        (client_frame(0x89, &[0; 126]), ProtocolError::ControlFrameTooLong(126)),
        (vec![0x81, 0x01, b'x'], ProtocolError::UnmaskedFrame),
    ];
    for (wire, expected) in cases {
        let mut s = server(Config::default());
        let code = expected.close_code();
        assert_eq!(feed_raw(&mut s, &wire), vec![failed(expected.clone())], "{wire:02x?}");
        assert_eq!(s.state(), State::Closed);
        assert_eq!(s.close_info().and_then(CloseInfo::error), Some(&expected));
        // The Close with the error's code is what the peer receives.
        let mut c = client(Config::default());
        c.handle_bytes(&drain(&mut s));
        match c.poll_event() {
            Some(Event::Closed(info)) => {
                assert_eq!((info.code(), info.origin()), (code, &CloseOrigin::Peer), "{expected:?}")
            }
            other => panic!("expected a close, got {other:?}"),
        }
        // Nothing more is read from a failed connection, and nothing more is reported.
        assert_eq!(feed_raw(&mut s, &client_frame(0x81, b"x")), vec![]);
        assert!(s.should_drop_transport());
    }
}

#[test]
fn limits_give_1009() {
    let mut s = server(Config::default().max_frame_size(10));
    assert_eq!(
        feed_raw(&mut s, &client_frame(0x82, &[0; 11])),
        vec![failed(ProtocolError::FrameTooLarge { size: 11, limit: 10 })]
    );
    let mut s = server(Config::default().max_message_size(10));
    let wire = [client_frame(0x02, &[0; 6]), client_frame(0x80, &[0; 5])].concat();
    let events = feed_raw(&mut s, &wire);
    assert_eq!(events, vec![failed(ProtocolError::MessageTooLarge { limit: 10 })]);
    assert_eq!(s.close_info().unwrap().code(), CloseCode::MESSAGE_TOO_BIG);
    // With no frame limit set, the frame limit is the message limit: one frame of exactly the
    // message limit is a message within it.
    let mut s = server(Config::default().max_message_size(300));
    assert_eq!(feed_raw(&mut s, &client_frame(0x82, &[7; 300])), vec![OwnedEvent::Binary(vec![7; 300])]);
    assert_eq!(
        feed_raw(&mut s, &client_frame(0x82, &[7; 301])),
        vec![failed(ProtocolError::FrameTooLarge { size: 301, limit: 300 })]
    );
}

#[test]
fn fail_fast_utf8_before_the_frame_is_complete() {
    let mut s = server(Config::default());
    let wire = client_frame(0x81, &[b'a', 0xff, b'b', b'c']);
    // Everything up to and including the bad byte, but not the rest of the frame: the error
    // says where in the message the bad byte was.
    let events = feed_raw(&mut s, &wire[..wire.len() - 2]);
    assert_eq!(events, vec![failed(utf8_error(&[b'a', 0xff]))]);
    let Some(ProtocolError::InvalidUtf8(error)) = s.close_info().and_then(CloseInfo::error) else {
        panic!("failed for invalid UTF-8");
    };
    assert_eq!((error.valid_up_to(), error.error_len()), (1, Some(1)));
}

#[test]
fn nothing_after_the_peers_close_is_read_and_usage_errors() {
    let mut s = server(Config::default());
    let wire = [client_frame(0x88, &[0x03, 0xe8]), client_frame(0x81, b"x")].concat();
    // §5.5.1: the peer must send nothing after its Close; whatever it does send is not read.
    assert_eq!(feed_raw(&mut s, &wire), vec![closed(1000, "", CloseOrigin::Peer)]);
    assert_eq!(s.poll_event(), None);
    assert_eq!(s.close_info().unwrap().code(), CloseCode::NORMAL);

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
    assert_eq!(s.poll_event(), Some(Event::Text("zero copy")));
    assert_eq!(s.poll_event(), None);
}

#[test]
fn keepalive_ping_then_dead_exactly_at_deadline() {
    use core::time::Duration;
    let t0 = crate::time::Instant::ZERO;
    let cfg = Config::default().timeouts(
        TimeoutConfig::default().ping_interval(Duration::from_secs(10)).pong_timeout(Duration::from_secs(5)),
    );
    let mut c = client(cfg);
    c.handle_timeout(t0);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    // Traffic at t0+4 postpones the Ping to t0+14.
    c.handle_bytes(b"\x8a\x00");
    while c.poll_event().is_some() {}
    c.handle_timeout(t0 + Duration::from_secs(4));
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(14)));
    c.handle_timeout(t0 + Duration::from_secs(14));
    assert_eq!(c.poll_output().len(), 6, "a masked empty Ping went out");
    assert_eq!(c.poll_output()[0], 0x89);
    c.handle_written(6).unwrap();
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(19)));
    c.handle_timeout(t0 + Duration::from_secs(19) - Duration::from_nanos(1));
    assert_eq!(c.poll_event(), None);
    c.handle_timeout(t0 + Duration::from_secs(19));
    assert_eq!(
        c.poll_event().unwrap().into_owned(),
        closed(1006, "", CloseOrigin::Timeout(TimerKind::Keepalive))
    );
    assert!(c.poll_output().is_empty(), "nothing more is sent to a dead peer");
    assert!(c.should_drop_transport());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn close_timeout_fires_and_drops_the_transport() {
    use core::time::Duration;
    let t0 = crate::time::Instant::ZERO;
    let mut c =
        client(Config::default().timeouts(TimeoutConfig::default().close_timeout(Duration::from_secs(5))));
    c.handle_timeout(t0);
    assert_eq!(c.poll_timeout(), None, "no timer runs before Close is sent");
    c.close(CloseCode::NORMAL, "").unwrap();
    // Armed by `close` itself, from the latest time the connection was told.
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    let n = c.poll_output().len();
    c.handle_written(n).unwrap();
    c.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    assert!(!c.should_drop_transport());
    c.handle_timeout(t0 + Duration::from_secs(5));
    assert_eq!(
        c.poll_event().unwrap().into_owned(),
        closed(1006, "", CloseOrigin::Timeout(TimerKind::Close))
    );
    assert!(c.should_drop_transport());
}

#[test]
fn a_close_sent_before_any_time_is_timed_from_the_first_reading() {
    // `close` before the connection was ever told the time: the close timer starts at the
    // first `handle_timeout`, and fires a whole timeout after it.
    use core::time::Duration;
    let t0 = crate::time::Instant::ZERO + Duration::from_secs(100);
    let mut c =
        client(Config::default().timeouts(TimeoutConfig::default().close_timeout(Duration::from_secs(5))));
    c.close(CloseCode::NORMAL, "").unwrap();
    let n = c.poll_output().len();
    c.handle_written(n).unwrap();
    c.handle_timeout(t0);
    assert_eq!(c.poll_event(), None);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    c.handle_timeout(t0 + Duration::from_secs(5));
    assert_eq!(
        c.poll_event().unwrap().into_owned(),
        closed(1006, "", CloseOrigin::Timeout(TimerKind::Close))
    );
}

#[test]
fn no_timer_runs_after_a_clean_close() {
    // The close handshake completes before the close timeout: the close timer is gone, and a
    // reading past its deadline neither ends the connection again nor changes how it ended.
    // What is timed after the end is only the wait for the transport to be droppable: a
    // server's, none (it may drop at once); a client's, for the server to close first
    // (§7.1.1), the close timeout again from the first reading after the end.
    use core::time::Duration;
    let t0 = crate::time::Instant::ZERO;
    let timeouts = TimeoutConfig::default().close_timeout(Duration::from_secs(5));
    let mut s = server(Config::default().timeouts(timeouts.clone()));
    let mut c = client(Config::default().timeouts(timeouts));
    for (conn, answer) in [(&mut s, client_frame(0x88, b"\x03\xe8")), (&mut c, b"\x88\x02\x03\xe8".to_vec())]
    {
        conn.handle_timeout(t0);
        conn.close(CloseCode::NORMAL, "").unwrap();
        let n = conn.poll_output().len();
        conn.handle_written(n).unwrap();
        assert_eq!(conn.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(feed_raw(conn, &answer), vec![closed(1000, "", CloseOrigin::Reply)]);
        assert_eq!(conn.poll_timeout(), None, "no reading since the end");
        conn.handle_timeout(t0 + Duration::from_secs(6));
        assert_eq!(conn.poll_event(), None);
        assert_eq!(conn.close_info().map(CloseInfo::origin), Some(&CloseOrigin::Reply));
    }
    assert!(s.should_drop_transport());
    assert_eq!(s.poll_timeout(), None);
    assert!(!c.should_drop_transport(), "waiting for the server to close");
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(11)));
}

#[test]
fn close_info_reads_as_text() {
    let info = CloseInfo::new(CloseCode::NORMAL, CloseOrigin::Peer, "bye");
    assert_eq!(format!("{info}"), "closed by the peer with 1000 (\"bye\")");
    assert_eq!(format!("{info:?}"), "CloseInfo { code: CloseCode(1000), reason: \"bye\", origin: Peer }");
    // No reason, no parentheses.
    let info = CloseInfo::new(CloseCode::NORMAL, CloseOrigin::Reply, "");
    assert_eq!(format!("{info}"), "closed by us, answered with 1000");
    let info = CloseInfo::new(CloseCode(1006), CloseOrigin::Timeout(TimerKind::Close), "");
    assert_eq!(format!("{info}"), "gave up on the peer: Close timeout (1006)");
}

#[test]
fn idle_timeout_closes_with_the_configured_code() {
    use core::time::Duration;
    let t0 = crate::time::Instant::ZERO;
    let timeouts = TimeoutConfig::default()
        .idle_timeout(Duration::from_secs(60), CloseCode(4000))
        .close_timeout(Duration::from_secs(2));
    let mut s = server(Config::default().timeouts(timeouts));
    s.handle_timeout(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    // Sending counts as traffic too.
    s.send_text("tick").unwrap();
    let n = s.poll_output().len();
    s.handle_written(n).unwrap();
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
        let mut now = crate::time::Instant::ZERO;
        c.handle_timeout(now);
        for _step in 0..30 {
            match rand(4) {
                0 => {
                    // Traffic from the peer, stamped at once as the docs ask.
                    now += Duration::from_millis(u64::from(rand(5)));
                    c.handle_bytes(b"\x8a\x00");
                    while c.poll_event().is_some() {}
                    c.handle_timeout(now);
                }
                _ => {
                    let Some(deadline) = c.poll_timeout() else { break };
                    assert!(deadline > now, "an overdue deadline survived handle_timeout");
                    let before = (c.state(), c.poll_output().len());
                    c.handle_timeout(deadline - Duration::from_nanos(1));
                    assert_eq!(c.poll_event(), None);
                    assert_eq!((c.state(), c.poll_output().len()), before, "a timer fired early");
                    now = deadline;
                    c.handle_timeout(now);
                    let event = c.poll_event().map(Event::into_owned);
                    let after = (c.state(), c.poll_output().len());
                    assert!(event.is_some() || after != before, "nothing fired at the deadline");
                    let n = c.poll_output().len();
                    c.handle_written(n).unwrap();
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
    let t0 = crate::time::Instant::ZERO;
    c.handle_timeout(t0);
    c.close(CloseCode::NORMAL, "").unwrap();
    c.handle_timeout(t0);
    c.handle_bytes(b"\x83\x00");
    // We had sent our Close: the failure queues no second one, and is the end.
    assert_eq!(c.poll_event().map(Event::into_owned), Some(failed(ProtocolError::ReservedOpcode(3))));
    assert_eq!(c.poll_timeout(), None);
    c.handle_timeout(t0 + Duration::from_millis(20));
    assert_eq!(c.poll_event(), None);
    assert_eq!(c.close_info().and_then(CloseInfo::error), Some(&ProtocolError::ReservedOpcode(3)));
}

#[test]
fn a_second_close_frame_is_not_reported() {
    // Found by fuzzing (regression-second-close-frame-reported-twice).
    let mut c = client(Config::default());
    c.handle_bytes(b"\x88\x00\x88\x00");
    assert_eq!(c.poll_event().map(Event::into_owned), Some(closed(1005, "", CloseOrigin::Peer)));
    assert_eq!(c.poll_event(), None);
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
        while s.poll_event().is_some() {}
        assert!(s.recv.allocated() <= limit + 14 + 1000 + 4096, "buffer grew to {}", s.recv.allocated());
    }
}

#[test]
fn release_buffers_returns_an_idle_connection_to_zero_heap() {
    let mut c = client(Config::default());
    let mut s = server(Config::default());
    c.send_chunk(MessageKind::Text, b"first half, ", false).unwrap();
    let events = transfer(&mut c, &mut s, usize::MAX);
    assert!(events.is_empty());
    // Mid-message: the reassembly buffer holds the first half and must survive.
    s.release_buffers();
    c.send_chunk(MessageKind::Text, b"second half", true).unwrap();
    let events = transfer(&mut c, &mut s, usize::MAX);
    assert_eq!(events, vec![OwnedEvent::Text("first half, second half".into())]);
    s.send_text("reply").unwrap();
    assert!(s.recv.allocated() > 0 && !s.poll_output().is_empty());
    s.release_buffers();
    assert!(!s.poll_output().is_empty(), "unwritten output is kept");
    let n = s.poll_output().len();
    s.handle_written(n).unwrap();
    s.release_buffers();
    assert_eq!(s.recv.allocated(), 0);
    // And it works again afterwards.
    c.send_text("again").unwrap();
    assert_eq!(transfer(&mut c, &mut s, 3), vec![OwnedEvent::Text("again".into())]);
}

/// A masked client Binary frame with key 0 and a 64-bit length.
fn long_client_frame(len: usize) -> Vec<u8> {
    let mut out = vec![0x82, 0x80 | 127];
    out.extend_from_slice(&(len as u64).to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.resize(out.len() + len, 7);
    out
}

#[test]
fn an_empty_receive_buffer_is_kept_while_frames_need_it_and_freed_after() {
    let small = client_frame(0x82, b"x");
    // Each frame arrives in one read into an empty buffer, which grows to exactly that read.
    // A stream of such frames reuses it. After small traffic, a buffer of up to 64 KiB
    // (a frame with 64 KiB of payload, 65,550 bytes) is kept; a larger one is freed once
    // twice as many bytes as it holds arrived without needing a quarter of it, and the next
    // read starts again from 4 KiB.
    for (frame, len, freed) in [
        (client_frame(0x82, &[7; 10_000]), 10_000, false),
        (client_frame(0x82, &[7; 65_528]), 65_528, false),
        (long_client_frame(65_536), 65_536, false),
        (long_client_frame(65_537), 65_537, true),
        (long_client_frame(100_000), 100_000, true),
    ] {
        let mut s = server(Config::default());
        for _ in 0..3 {
            assert_eq!(feed_raw(&mut s, &frame), vec![OwnedEvent::Binary(vec![7; len])]);
            assert_eq!(s.recv.allocated(), frame.len());
        }
        // Small frames, one read each: the buffer stays until their bytes add up to twice its
        // size.
        let needed = (2 * frame.len()).div_ceil(small.len());
        for i in 0..needed {
            assert_eq!(feed_raw(&mut s, &small), vec![OwnedEvent::Binary(b"x".to_vec())]);
            assert_eq!(s.recv.allocated(), frame.len(), "after {i} small frames, {} bytes", frame.len());
        }
        assert_eq!(feed_raw(&mut s, &small), vec![OwnedEvent::Binary(b"x".to_vec())]);
        let kept = if freed { 4096 } else { frame.len() };
        assert_eq!(s.recv.allocated(), kept, "after small traffic, {} bytes", frame.len());
    }
}

/// Reads `bytes` the way a transport does, through `read_buf` of at least 4 KiB, and drains
/// the events after each read.
fn read_in_pieces(conn: &mut Connection, bytes: &[u8]) -> Vec<OwnedEvent> {
    let mut events = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let room = conn.read_buf(4096);
        let n = room.len().min(rest.len());
        room[..n].copy_from_slice(&rest[..n]);
        conn.handle_read(n);
        rest = &rest[n..];
        while let Some(event) = conn.poll_event() {
            events.push(event.into_owned());
        }
    }
    events
}

#[test]
fn the_receive_buffer_grows_to_the_rest_of_a_frame_at_once() {
    // A 70,000-byte frame (held in place: over 64 KiB) read 4 KiB first: once its header is
    // known, the buffer grows once, to 64 KiB past doubling (8 KiB), which holds all of it and
    // part of a read, and keeps that size for the next one.
    let frame = long_client_frame(70_000);
    let mut s = server(Config::default());
    assert_eq!(read_in_pieces(&mut s, &frame[..4096]), vec![]);
    assert_eq!(s.recv.allocated(), 4096);
    assert_eq!(read_in_pieces(&mut s, &frame[4096..]), vec![OwnedEvent::Binary(vec![7; 70_000])]);
    assert_eq!(s.recv.allocated(), 2 * 4096 + 64 * 1024);
    assert_eq!(read_in_pieces(&mut s, &frame), vec![OwnedEvent::Binary(vec![7; 70_000])]);
    assert_eq!(s.recv.allocated(), 2 * 4096 + 64 * 1024);
    // Not doubled past the frame: a 1 MiB frame in 16 KiB reads ends at the frame and a read
    // (32 KiB: the first read filled the 16 KiB asked for).
    let frame = long_client_frame(1 << 20);
    let mut s = server(Config::default());
    let mut events = Vec::new();
    for piece in frame.chunks(16 * 1024) {
        let room = s.read_buf(16 * 1024);
        room[..piece.len()].copy_from_slice(piece);
        s.handle_read(piece.len());
        events.extend(s.poll_event().map(|e| e.into_owned()));
    }
    assert_eq!(events, vec![OwnedEvent::Binary(vec![7; 1 << 20])]);
    assert_eq!(s.recv.allocated(), frame.len() + 32 * 1024);
    // A length the peer claims but does not send grows the buffer at most 64 KiB past doubling.
    let mut s = server(Config::default());
    let claim = &long_client_frame(10 << 20)[..4096];
    assert_eq!(read_in_pieces(&mut s, claim), vec![]);
    assert_eq!(read_in_pieces(&mut s, &[7]), vec![]);
    assert_eq!(s.recv.allocated(), 2 * 4096 + 64 * 1024);
}

#[test]
fn a_large_frame_grows_the_buffer_at_most_an_eighth_past_doubling() {
    // A 10 MiB frame arriving 64 KiB at a time (`handle_bytes`, so each read asks for exactly
    // 64 KiB): the buffer grows to the first read, then each time it is full to twice its
    // size and 64 KiB or an eighth of that more, whichever is larger, never to the length the
    // peer claims. Sizes through the first 2.5 MiB:
    // 64 KiB; 2 x 64 + 64 = 192 KiB; 2 x 192 + 64 = 448 KiB; 896 + 112 = 1008 KiB;
    // 2016 + 252 = 2268 KiB; 4536 + 567 = 5103 KiB.
    let frame = long_client_frame(10 << 20);
    let mut s = server(Config::default());
    let mut sizes = vec![];
    for piece in frame.chunks(64 * 1024).take(40) {
        assert_eq!(feed_raw(&mut s, piece), vec![]);
        if sizes.last() != Some(&s.recv.allocated()) {
            sizes.push(s.recv.allocated());
        }
    }
    assert_eq!(sizes, [64, 192, 448, 1008, 2268, 5103].map(|kib| kib * 1024));
}

#[test]
fn binary_frames_of_4_to_64_kib_split_across_reads_are_unmasked_into_the_reassembly_buffer() {
    // A 60,000-byte frame read 4 KiB at a time is copied out of the receive buffer, unmasked,
    // as it arrives: the receive buffer stays a read long (never grown to the frame, and no
    // part of it moved), the reassembly buffer grows once to the frame, and both are reused by
    // the next messages. The payload is unmasked with the right key offset across pieces.
    use crate::frame::{OpCode, encode_frame_to_vec};
    let payload: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    let mut frame = Vec::new();
    encode_frame_to_vec(true, 0, OpCode::Binary, &payload, Some([0x37, 0xfa, 0x21, 0x3d]), &mut frame)
        .unwrap();
    let mut s = server(Config::default());
    assert_eq!(read_in_pieces(&mut s, &frame), vec![OwnedEvent::Binary(payload.clone())]);
    assert_eq!(s.recv.reassembly_capacity().0, 60_000);
    // (Reads that fill all the room offered double it up to 64 KiB: two messages get there.)
    assert_eq!(read_in_pieces(&mut s, &frame), vec![OwnedEvent::Binary(payload.clone())]);
    let (receive, reassembly) = (s.recv.allocated(), s.recv.reassembly_capacity().0);
    assert!(receive <= 4096 + 64 * 1024, "receive buffer {receive}");
    assert_eq!(reassembly, 60_000);
    assert_eq!(read_in_pieces(&mut s, &frame), vec![OwnedEvent::Binary(payload.clone())]);
    assert_eq!((s.recv.allocated(), s.recv.reassembly_capacity().0), (receive, reassembly), "reused");
    // Cut at every offset modulo the mask's 4 bytes, and at odd places.
    for cut in [1, 2, 3, 5, 14, 15, 4097, 30_001, frame.len() - 1] {
        let mut events = feed_raw(&mut s, &frame[..cut]);
        events.extend(feed_raw(&mut s, &frame[cut..]));
        assert_eq!(events, vec![OwnedEvent::Binary(payload.clone())], "cut at {cut}");
    }
    // Mid-message, the receive buffer holds nothing needed: it can be handed on.
    assert_eq!(read_in_pieces(&mut s, &frame[..20_000]), vec![]);
    let spare = s.take_read_buffer().expect("nothing of the frame is kept in it");
    assert_eq!(read_in_pieces(&mut s, &frame[20_000..]), vec![OwnedEvent::Binary(payload.clone())]);
    drop(spare);
    // Between messages, `release_buffers` frees it.
    s.release_buffers();
    assert_eq!(s.recv.reassembly_capacity(), (0, 0));
    // Outside 4-64 KiB, a frame split across reads is held in place: nothing is reassembled.
    for len in [4095, 65_537] {
        let frame = long_client_frame(len);
        let mut s = server(Config::default());
        assert_eq!(read_in_pieces(&mut s, &frame), vec![OwnedEvent::Binary(vec![7; len])]);
        assert_eq!(s.recv.reassembly_capacity(), (0, 0), "{len} bytes");
    }
}

/// permessage-deflate at the default parameters, for `role`.
#[cfg(feature = "deflate")]
fn deflate(role: Role) -> Box<dyn crate::extension::Extension> {
    use crate::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
    Box::new(PerMessageDeflate::new(role, DeflateParams::default(), &DeflateConfig::default()))
}

/// With an extension on, every message takes the general path (the whole-frame fast path
/// leaves messages to the extension); one that is not transformed (RSV1 clear) and arrived
/// whole is still handed out where it lies, with no reassembly buffer.
#[cfg(feature = "deflate")]
#[test]
fn an_uncompressed_message_that_arrived_whole_is_held_in_place_with_deflate_on() {
    let mut s = Connection::builder(Role::Server).extension(deflate(Role::Server)).build();
    let text = "a".repeat(1000);
    let binary = vec![7; 5000];
    assert_eq!(feed_raw(&mut s, &client_frame(0x81, text.as_bytes())), vec![OwnedEvent::Text(text)]);
    assert_eq!(feed_raw(&mut s, &client_frame(0x82, &binary)), vec![OwnedEvent::Binary(binary)]);
    assert_eq!(s.recv.reassembly_capacity(), (0, 0));
}

/// `buffer_capacity` counts the receive buffer and whichever reassembly buffer a message left
/// allocated: `whole` (a Binary frame of 4-64 KiB read in pieces), `text` (masked Text that
/// is not ASCII, read in pieces) and `assembled` (a message permessage-deflate decoded), each
/// once, with the output buffer.
#[test]
fn buffer_capacity_counts_the_receive_and_every_reassembly_buffer() {
    let parts = |s: &Connection| {
        let (binary, text) = s.recv.reassembly_capacity();
        (s.recv.allocated(), binary, text, s.out.capacity())
    };
    let sum = |(receive, binary, text, out): (usize, usize, usize, usize)| receive + binary + text + out;
    // Binary, unmasked into `whole` as it arrives.
    let mut s = server(Config::default());
    assert_eq!(read_in_pieces(&mut s, &long_client_frame(20_000)), vec![OwnedEvent::Binary(vec![7; 20_000])]);
    let (receive, binary, text, out) = parts(&s);
    assert!(receive >= 4096 && binary >= 20_000 && text == 0, "{:?}", parts(&s));
    assert_eq!(s.buffer_capacity(), sum((receive, binary, text, out)));
    // Text that is not ASCII moves to `text`; a Ping's answer fills the output buffer.
    let mut s = server(Config::default());
    let body = "\u{e9}".repeat(10_000);
    let mut wire = client_frame(0x89, b"ping");
    wire.extend(client_frame(0x81, body.as_bytes()));
    assert_eq!(
        read_in_pieces(&mut s, &wire),
        vec![OwnedEvent::Ping(b"ping".to_vec()), OwnedEvent::Text(body.clone())]
    );
    let (receive, binary, text, out) = parts(&s);
    assert!(receive >= 4096 && text >= body.len() && out > 0, "{:?}", parts(&s));
    assert_eq!(s.buffer_capacity(), sum((receive, binary, text, out)));
    // A compressed message, inflated into `assembled`.
    #[cfg(feature = "deflate")]
    {
        let mut c =
            Connection::builder(Role::Client).mask_keys(keys()).extension(deflate(Role::Client)).build();
        let mut s = Connection::builder(Role::Server).extension(deflate(Role::Server)).build();
        let message = "compressible ".repeat(2_000);
        c.send_text(&message).unwrap();
        assert_eq!(transfer(&mut c, &mut s, 4096), vec![OwnedEvent::Text(message.clone())]);
        let (receive, binary, text, out) = parts(&s);
        assert!(receive > 0 && binary >= message.len() && text == 0, "{:?}", parts(&s));
        assert_eq!(s.buffer_capacity(), sum((receive, binary, text, out)));
    }
}

#[test]
fn text_arriving_in_a_large_read_is_validated_in_steps_across_code_points() {
    // A Text frame whose header came alone is validated as it arrives; a read of 100 KB after
    // it is unmasked, validated and appended `TEXT_STEP` bytes at a time. Code points of one
    // to four bytes, shifted by 0 to 3 bytes, put every kind of cut at the step boundaries.
    // (The few payload bytes sent with the header already hold a byte that is not ASCII, so
    // the server's message leaves `whole` for the `String` route, the one taken in steps.)
    use crate::frame::{OpCode, encode_frame_to_vec};
    let key = Some([0x37, 0xfa, 0x21, 0x3d]);
    let body: String = "a\u{e9}\u{20ac}\u{1f980}".chars().cycle().take(40_000).collect();
    assert!(body.len() > 4 * recv::TEXT_STEP);
    let mut s = server(Config::default());
    for shift in 0..4 {
        let text = "x".repeat(shift) + &body;
        let mut frame = Vec::new();
        encode_frame_to_vec(true, 0, OpCode::Text, text.as_bytes(), key, &mut frame).unwrap();
        // The header (14 bytes with a 64-bit length and a key) and a few payload bytes first.
        assert_eq!(feed_raw(&mut s, &frame[..20]), vec![]);
        assert_eq!(feed_raw(&mut s, &frame[20..]), vec![OwnedEvent::Text(text)], "shift {shift}");
    }
    // An invalid byte in the third step of the large read: the error says where it is in the
    // message, as for text that arrives in small pieces.
    let mut bad = body.clone().into_bytes();
    let at = 2 * recv::TEXT_STEP + 1000;
    let at = (at..).find(|&i| body.is_char_boundary(i)).unwrap();
    bad[at] = 0xff;
    let mut frame = Vec::new();
    encode_frame_to_vec(true, 0, OpCode::Text, &bad, key, &mut frame).unwrap();
    assert_eq!(feed_raw(&mut s, &frame[..20]), vec![]);
    assert_eq!(feed_raw(&mut s, &frame[20..]), vec![failed(utf8_error(&bad[..=at]))]);
}

#[test]
fn masked_text_in_pieces_is_checked_as_ascii_until_it_is_not() {
    // A server unmasks a Text message that arrives in pieces into its reassembly buffer,
    // checking each piece for ASCII in the same pass; at the first piece that is not ASCII
    // the message so far is validated and the rest is validated as it comes. Wherever the
    // reads are cut, the message comes out whole, and invalid UTF-8 fails at the piece that
    // holds it, with its position in the message.
    use crate::frame::{OpCode, encode_frame_to_vec};
    let key = Some([0x37, 0xfa, 0x21, 0x3d]);
    let ascii = "plain ascii text, ".repeat(300);
    let text = ascii.clone() + "then \u{e9}\u{20ac}\u{1f980} and " + &ascii;
    let mut frame = Vec::new();
    encode_frame_to_vec(true, 0, OpCode::Text, text.as_bytes(), key, &mut frame).unwrap();
    let first_other = ascii.len() + 5 + 8; // Header: 8 bytes (16-bit length, key).
    for cut in [9, 100, first_other - 1, first_other, first_other + 1, first_other + 2, frame.len() - 1] {
        let mut s = server(Config::default());
        let mut events = feed_raw(&mut s, &frame[..cut]);
        events.extend(feed_raw(&mut s, &frame[cut..]));
        assert_eq!(events, vec![OwnedEvent::Text(text.clone())], "cut at {cut}");
    }
    // Fragments: ASCII, then not, then ASCII again; a Ping between them.
    let mut wire = Vec::new();
    // (The first fragment ends inside the first code point that is not ASCII.)
    let (a, b) = text.as_bytes().split_at(ascii.len() + 6);
    let (b, c) = b.split_at(b.len() - ascii.len());
    encode_frame_to_vec(false, 0, OpCode::Text, a, key, &mut wire).unwrap();
    encode_frame_to_vec(true, 0, OpCode::Ping, b"p", key, &mut wire).unwrap();
    encode_frame_to_vec(false, 0, OpCode::Continuation, b, key, &mut wire).unwrap();
    encode_frame_to_vec(true, 0, OpCode::Continuation, c, key, &mut wire).unwrap();
    let mut s = server(Config::default());
    assert_eq!(
        read_in_pieces(&mut s, &wire),
        vec![OwnedEvent::Ping(b"p".to_vec()), OwnedEvent::Text(text.clone())]
    );
    // Invalid UTF-8 after ASCII pieces: refused at the piece that holds it, before the frame
    // ends (§8.1), with its position in the message.
    let mut bad = text.clone().into_bytes();
    let at = ascii.len() + 3;
    bad[at] = 0xff;
    let mut frame = Vec::new();
    encode_frame_to_vec(true, 0, OpCode::Text, &bad, key, &mut frame).unwrap();
    let mut s = server(Config::default());
    assert_eq!(feed_raw(&mut s, &frame[..100]), vec![]);
    assert_eq!(feed_raw(&mut s, &frame[100..8 + at + 1]), vec![failed(utf8_error(&bad[..=at]))]);
}

#[test]
fn has_whole_frame_says_whether_held_bytes_hold_a_frame() {
    let mut s = server(Config::default());
    assert!(!s.has_whole_frame(), "nothing held");
    let a = client_frame(0x82, b"first");
    let b = client_frame(0x82, &[2; 300]);
    // Two frames in one read: the first is handed out, the second is held whole.
    s.handle_bytes(&[&a[..], &b[..]].concat());
    assert!(s.has_whole_frame());
    assert_eq!(s.poll_event().map(Event::into_owned), Some(OwnedEvent::Binary(b"first".to_vec())));
    assert!(s.has_whole_frame());
    assert_eq!(s.poll_event().map(Event::into_owned), Some(OwnedEvent::Binary(vec![2; 300])));
    assert!(!s.has_whole_frame());
    // A header split across reads (its first bytes in the decoder), then a partial payload,
    // then the rest.
    assert_eq!(feed_raw(&mut s, &b[..1]), vec![]);
    assert!(!s.has_whole_frame());
    assert_eq!(feed_raw(&mut s, &b[1..100]), vec![]);
    assert!(!s.has_whole_frame());
    s.handle_bytes(&b[100..]);
    assert!(s.has_whole_frame(), "the rest of the frame being received");
    assert_eq!(s.poll_event().map(Event::into_owned), Some(OwnedEvent::Binary(vec![2; 300])));
    // Only part of a header, or of a payload, is not a whole frame.
    s.handle_bytes(&b[..3]);
    assert!(!s.has_whole_frame());
    assert_eq!(feed_raw(&mut s, &b[3..]), vec![OwnedEvent::Binary(vec![2; 300])]);
    s.handle_bytes(&a[..a.len() - 1]);
    assert!(!s.has_whole_frame());
    // 64-bit lengths count in full.
    let mut s = server(Config::default());
    let long = long_client_frame(70_000);
    s.handle_bytes(&long[..long.len() - 1]);
    assert!(!s.has_whole_frame());
    assert_eq!(feed_raw(&mut s, &long[long.len() - 1..]), vec![OwnedEvent::Binary(vec![7; 70_000])]);
    s.handle_bytes(&long[..14]);
    assert!(!s.has_whole_frame());
    // After the end, nothing is decoded.
    let mut s = server(Config::default());
    s.handle_bytes(b"\x82\x05hello"); // unmasked
    assert!(s.has_whole_frame());
    while s.poll_event().is_some() {}
    assert!(!s.has_whole_frame());
}

#[test]
fn the_receive_buffer_is_taken_only_when_it_holds_nothing_needed() {
    let mut s = server(Config::default());
    assert!(s.take_read_buffer().is_none(), "no buffer yet");
    // A partial header is kept by the decoder, not in the buffer.
    let ping = client_frame(0x89, b"hello");
    assert_eq!(read_in_pieces(&mut s, &ping[..3]), vec![]);
    let buffer = s.take_read_buffer().expect("nothing needed in the buffer");
    s.give_read_buffer(buffer).unwrap();
    // A partial control payload, and a single-frame message kept in place, keep the buffer.
    assert_eq!(read_in_pieces(&mut s, &ping[3..8]), vec![]);
    assert!(s.take_read_buffer().is_none());
    assert_eq!(read_in_pieces(&mut s, &ping[8..]), vec![OwnedEvent::Ping(b"hello".to_vec())]);
    let frame = client_frame(0x82, &[1; 300]);
    assert_eq!(read_in_pieces(&mut s, &frame[..100]), vec![]);
    assert!(s.take_read_buffer().is_none());
    assert_eq!(read_in_pieces(&mut s, &frame[100..]), vec![OwnedEvent::Binary(vec![1; 300])]);
    // Everything handed out: the buffer comes out, and another connection reads into it.
    let buffer = s.take_read_buffer().expect("an empty buffer is taken");
    // (It had grown to the 300-byte frame and a read of the 4 KiB asked.)
    assert_eq!((buffer.len(), s.recv.allocated(), s.buffered_input_len()), (308 + 4096, 0, 0));
    let mut other = server(Config::default());
    let at = buffer.as_ptr();
    other.give_read_buffer(buffer).unwrap();
    assert_eq!(other.read_buf(1).as_ptr(), at, "read into the given buffer");
    assert_eq!(read_in_pieces(&mut other, &frame), vec![OwnedEvent::Binary(vec![1; 300])]);
    // A connection that has a buffer hands a given one back; one with none uses all of a
    // buffer's capacity, and refuses one without any.
    assert!(other.give_read_buffer(vec![0; 10]).is_err());
    assert!(s.give_read_buffer(Vec::new()).is_err());
    s.give_read_buffer(Vec::with_capacity(8192)).unwrap();
    assert_eq!(s.recv.allocated(), 8192);
    assert_eq!(read_in_pieces(&mut s, &frame), vec![OwnedEvent::Binary(vec![1; 300])]);
    assert_eq!(s.recv.allocated(), 8192);
}

#[test]
fn kept_bytes_move_to_the_front_only_when_few() {
    // A message and the first bytes of a second one arrive in a first read (the buffer
    // grows to 4 KiB); the rest of the second one arrives in a read that fits only if the
    // kept bytes move to the front (in the first case, exactly). They move when they are at
    // most an eighth of the buffer (or the buffer is 8 reads long); otherwise the buffer
    // grows, here to the second frame's end (byte 4,099) and a read of the size asked (its
    // rest, 3,092 bytes).
    for (first, kept, second, allocated) in
        [(1, 10, 4088, 4096), (1, 1000, 4084, 4099 + 3092), (2992, 10, 4002, 4096)]
    {
        let a = client_frame(0x82, &vec![1; first]);
        let payload: Vec<u8> = (0..second).map(|i| (i % 251) as u8).collect();
        let b = client_frame(0x82, &payload);
        let mut s = server(Config::default());
        let read = [&a[..], &b[..kept]].concat();
        assert_eq!(feed_raw(&mut s, &read), vec![OwnedEvent::Binary(vec![1; first])]);
        assert_eq!(s.recv.allocated(), 4096);
        assert_eq!(feed_raw(&mut s, &b[kept..]), vec![OwnedEvent::Binary(payload)]);
        assert_eq!(s.recv.allocated(), allocated, "{first}-byte message, {kept} bytes kept");
    }
}

#[test]
fn a_frame_is_moved_to_the_front_early_only_if_it_will_not_fit_where_it_is() {
    // A message and the first 20 bytes of a second frame arrive in one read (the buffer grows
    // to 4 KiB), then 100 more bytes, for which there is room after them. A frame that ends
    // within the buffer stays where it is; one that ends past it (held in place: over 64 KiB)
    // is moved to the front at once, while 20 bytes of it are here, rather than once the
    // buffer is full.
    let a = client_frame(0x82, b"a");
    for (len, moved) in [(1000, false), (70_000, true)] {
        let b = client_frame(0x82, &vec![7; len]);
        let mut s = server(Config::default());
        let read = [&a[..], &b[..20]].concat();
        assert_eq!(feed_raw(&mut s, &read), vec![OwnedEvent::Binary(b"a".to_vec())]);
        assert_eq!((s.recv.allocated(), s.recv.kept_from()), (4096, a.len()));
        assert_eq!(feed_raw(&mut s, &b[20..120]), vec![]);
        let kept_from = if moved { 0 } else { a.len() };
        assert_eq!((s.recv.allocated(), s.recv.kept_from()), (4096, kept_from), "{len}-byte frame");
        assert_eq!(feed_raw(&mut s, &b[120..]), vec![OwnedEvent::Binary(vec![7; len])]);
    }
}

#[test]
fn handle_read_is_clamped_to_the_read_buffer() {
    let mut s = server(Config::default());
    let frame = client_frame(0x82, b"hi");
    s.handle_bytes(&frame[..3]);
    let room = s.read_buf(frame.len() - 3);
    room[..frame.len() - 3].copy_from_slice(&frame[3..]);
    let n = room.len();
    assert_eq!(n, 4096 - 3);
    s.handle_read(n + 1000);
    assert_eq!(s.buffered_input_len(), 4096);
}

#[test]
fn release_keeps_the_bytes_of_a_partial_frame() {
    let mut s = server(Config::default());
    let ping = client_frame(0x89, b"hello");
    assert_eq!(feed_raw(&mut s, &ping[..ping.len() - 2]), vec![]);
    assert_eq!(s.buffered_input_len(), ping.len() - 2);
    s.release_buffers();
    assert_eq!(s.buffered_input_len(), ping.len() - 2);
    assert_eq!(feed_raw(&mut s, &ping[ping.len() - 2..]), vec![OwnedEvent::Ping(b"hello".to_vec())]);
    assert_eq!(s.buffered_input_len(), 0);
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
        conn.handle_written(n).unwrap();
    }
}

/// Writes out everything `from` has pending, piece by piece, and returns the events `to`
/// makes of it.
fn deliver(from: &mut Connection, to: &mut Connection) -> Vec<OwnedEvent> {
    to.handle_bytes(&drain(from));
    let mut events = Vec::new();
    while let Some(event) = to.poll_event() {
        events.push(event.into_owned());
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
    let pieces: Vec<Vec<u8>> = s.output_pieces().map(<[u8]>::to_vec).collect();
    let held_at = s.output_pieces().nth(1).unwrap().as_ptr();
    assert_eq!(pieces.len(), 3);
    assert_eq!(held_at, big.as_ptr(), "the payload is written from where it lies");
    assert_eq!(s.poll_output(), pieces[0]);
    let first = pieces[0].len();
    let total = s.pending_output_len();
    assert_eq!(total, pieces.iter().map(|p| p.len()).sum::<usize>());
    // Only what was handed out may be reported: `poll_output` handed out the first piece.
    assert_eq!(
        s.handle_written(first + 100),
        Err(UsageError::WrittenTooMuch { written: first + 100, handed_out: first })
    );
    let _ = s.output_pieces();
    // A write that ends mid-payload, then the rest.
    s.handle_written(first + 100).unwrap();
    assert_eq!(s.poll_output(), &big[100..]);
    assert_eq!(s.pending_output_len(), total - first - 100);
    let rest = s.output_pieces().flatten().copied().collect::<Vec<u8>>();
    assert_eq!(rest.len(), total - first - 100);
    // A count past what was handed out is refused and counts nothing.
    assert!(matches!(s.handle_written(usize::MAX), Err(UsageError::WrittenTooMuch { .. })));
    assert_eq!(s.pending_output_len(), rest.len());
    s.handle_written(rest.len()).unwrap();
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
            OwnedEvent::Text("before".into()),
            OwnedEvent::Binary(big.to_vec()),
            OwnedEvent::Ping(b"between".to_vec()),
            OwnedEvent::Text("small text is copied".into()),
        ]
    );
}

#[test]
fn output_pieces_walk_many_held_payloads_in_order() {
    // Three held payloads, a Ping between the second and the third: six pieces (header,
    // payload, header, payload, Ping and header, payload), and after a write that ends inside
    // the second header, the rest in order from there.
    let big: alloc::sync::Arc<[u8]> = (0..3000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into();
    let queue = |s: &mut Connection| {
        s.send_owned(MessageKind::Binary, alloc::sync::Arc::clone(&big)).unwrap();
        s.send_owned(MessageKind::Binary, alloc::sync::Arc::clone(&big)).unwrap();
        s.ping(b"x").unwrap();
        s.send_owned(MessageKind::Binary, alloc::sync::Arc::clone(&big)).unwrap();
    };
    let mut s = server(Config::default());
    queue(&mut s);
    let pieces: Vec<Vec<u8>> = s.output_pieces().map(<[u8]>::to_vec).collect();
    let lens: Vec<usize> = pieces.iter().map(Vec::len).collect();
    assert_eq!(lens, vec![4, 3000, 4, 3000, 3 + 4, 3000]);
    let whole: Vec<u8> = pieces.concat();
    s.handle_written(4 + 3000 + 1).unwrap();
    let rest: Vec<Vec<u8>> = s.output_pieces().map(<[u8]>::to_vec).collect();
    let lens: Vec<usize> = rest.iter().map(Vec::len).collect();
    assert_eq!(lens, vec![3, 3000, 7, 3000]);
    assert_eq!(rest.concat(), whole[4 + 3000 + 1..]);
    let n = s.pending_output_len();
    s.handle_written(n).unwrap();
    assert_eq!(s.output_pieces().count(), 0);
    // What the peer reads.
    let mut s = server(Config::default());
    queue(&mut s);
    let mut c = client(Config::default());
    let data = OwnedEvent::Binary(big.to_vec());
    assert_eq!(
        deliver(&mut s, &mut c),
        vec![data.clone(), data.clone(), OwnedEvent::Ping(b"x".to_vec()), data]
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
    assert_eq!(deliver(&mut c, &mut s), vec![OwnedEvent::Binary(data.clone()), OwnedEvent::Binary(data)]);
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
fn held_payloads_are_fragmented_by_copying_and_kept_for_a_half_closed_peer() {
    // With a fragment size the payload is copied into fragments: one piece of output.
    let mut s = server(Config::default().fragment_size(Some(1500)));
    s.send_owned(MessageKind::Binary, vec![3u8; 4000]).unwrap();
    assert_eq!(s.output_pieces().count(), 1);
    let mut c = client(Config::default());
    c.handle_bytes(&drain(&mut s));
    assert_eq!(c.poll_event().unwrap().into_owned(), OwnedEvent::Binary(vec![3u8; 4000]));

    // Unwritten held output keeps the transport open, even after end of stream (a peer that
    // half-closed after its Close can still read); the close timeout bounds the wait.
    let t0 = crate::time::Instant::ZERO;
    let timeouts = TimeoutConfig::default().close_timeout(core::time::Duration::from_secs(5));
    let mut s = server(Config::default().timeouts(timeouts));
    s.send_owned(MessageKind::Binary, vec![3u8; 4000]).unwrap();
    s.close(CloseCode::NORMAL, "bye").unwrap();
    s.handle_bytes(&[0x88, 0x80, 0, 0, 0, 0]);
    while s.poll_event().is_some() {}
    assert_eq!(s.state(), State::Closed);
    assert!(!s.should_drop_transport(), "held output not yet written");
    s.release_buffers();
    // Header and payload, then the Close: header, code, "bye".
    assert_eq!(s.pending_output_len(), 4 + 4000 + 2 + 2 + 3, "release keeps unwritten output");
    s.handle_eof();
    assert_eq!(s.pending_output_len(), 4 + 4000 + 2 + 2 + 3, "a half-closed peer can still read");
    assert!(!s.should_drop_transport());
    assert_eq!(s.poll_event(), None, "no second end");
    s.handle_timeout(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + core::time::Duration::from_secs(5)));
    s.handle_timeout(t0 + core::time::Duration::from_secs(5));
    assert_eq!(s.pending_output_len(), 0, "abandoned at the close timeout");
    assert!(s.should_drop_transport());
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(s.close_info().unwrap().origin(), &CloseOrigin::Reply, "the reason stays");
}

#[test]
fn a_client_waits_for_the_servers_close_at_most_the_close_timeout() {
    let t0 = crate::time::Instant::ZERO;
    let timeouts = TimeoutConfig::default().close_timeout(core::time::Duration::from_secs(2));
    let mut c = client(Config::default().timeouts(timeouts));
    let mut s = server(Config::default());
    c.handle_timeout(t0);
    c.close(CloseCode::NORMAL, "").unwrap();
    transfer(&mut c, &mut s, usize::MAX);
    let events = transfer(&mut s, &mut c, usize::MAX);
    assert_eq!(events, vec![closed(1000, "", CloseOrigin::Reply)]);
    // §7.1.1: the client waits for the server to close TCP first...
    c.handle_timeout(t0 + core::time::Duration::from_secs(1));
    assert!(!c.should_drop_transport());
    assert_eq!(c.poll_timeout(), Some(t0 + core::time::Duration::from_secs(3)));
    // ...but not forever.
    c.handle_timeout(t0 + core::time::Duration::from_secs(3));
    assert!(c.should_drop_transport());
    assert_eq!(c.poll_event(), None);
}

/// The receive path is layout-sensitive (see `recv.rs`): an event is two words and a tag,
/// and the end of a connection is reported by reference so it does not widen every event.
#[test]
fn events_stay_small() {
    assert!(core::mem::size_of::<Event<'_>>() <= 24, "{}", core::mem::size_of::<Event<'_>>());
    assert!(core::mem::size_of::<ProtocolError>() <= 24, "{}", core::mem::size_of::<ProtocolError>());
}

#[cfg(feature = "std")]
mod write_to {
    use super::*;
    use std::io::{self, ErrorKind, Write};

    /// A writer that answers from a script of results, taking at most `n` bytes for `Ok(n)`.
    struct Scripted {
        script: Vec<Result<usize, ErrorKind>>,
        wire: Vec<u8>,
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            match self.script.remove(0) {
                Ok(n) => {
                    let n = n.min(buf.len());
                    self.wire.extend_from_slice(&buf[..n]);
                    Ok(n)
                }
                Err(kind) => Err(kind.into()),
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn retries_interrupted_stops_at_would_block_and_refuses_zero() {
        let mut s = server(Config::default());
        s.send_binary(&[7; 10]).unwrap();
        let mut w = Scripted {
            script: vec![Ok(3), Err(ErrorKind::Interrupted), Ok(4), Err(ErrorKind::WouldBlock)],
            wire: Vec::new(),
        };
        assert_eq!(s.write_to(&mut w).unwrap(), 7, "what the writer took before it would block");
        assert_eq!(s.pending_output_len(), 5);
        w.script = vec![Err(ErrorKind::WouldBlock)];
        assert_eq!(s.write_to(&mut w).unwrap_err().kind(), ErrorKind::WouldBlock, "took nothing");
        w.script = vec![Ok(0)];
        assert_eq!(s.write_to(&mut w).unwrap_err().kind(), ErrorKind::WriteZero);
        w.script = vec![Ok(100)];
        assert_eq!(s.write_to(&mut w).unwrap(), 5);
        assert_eq!(w.wire, [&[0x82, 10][..], &[7; 10]].concat());
        w.script = vec![Err(ErrorKind::BrokenPipe)];
        s.send_text("x").unwrap();
        assert_eq!(s.write_to(&mut w).unwrap_err().kind(), ErrorKind::BrokenPipe);
        assert_eq!(s.pending_output_len(), 3, "nothing counted on an error");
    }
}

/// The receive side's message state machine against a reference model of RFC 6455 §5.4
/// (fragmentation, control frames between fragments), §5.5 and §8.1 (fail fast on UTF-8),
/// with the message and frame limits: random frame sequences, cut into random reads, in both
/// delivery modes, must give exactly the model's events, and end (if they do) with the model's
/// error as the one, last `Event::Closed`.
mod receive_model {
    use super::*;
    use crate::frame::{OpCode, encode_frame_to_vec};
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Frame {
        Data { opcode: OpCode, fin: bool, payload: Vec<u8> },
        Ping(Vec<u8>),
        Pong(Vec<u8>),
    }

    /// Frame sequences that are mostly well formed (whole messages, in up to four fragments,
    /// with control frames between them) with now and then a stray data frame that breaks
    /// §5.4, and payload bytes that are now and then not UTF-8 (or end inside a code point).
    fn frames() -> impl Strategy<Value = Vec<Frame>> {
        // Message bodies: text of one- to four-byte characters, which fragments split at any
        // byte; now and then corrupted (a byte that is never UTF-8) or cut inside a character.
        let ch = prop_oneof![6 => Just('a'), 1 => Just('é'), 1 => Just('€'), 1 => Just('😀')];
        let body = (proptest::collection::vec(ch, 0..100), 0u8..10, any::<prop::sample::Index>()).prop_map(
            |(chars, damage, at)| {
                let mut bytes = chars.into_iter().collect::<String>().into_bytes();
                match damage {
                    0 if !bytes.is_empty() => {
                        let i = at.index(bytes.len());
                        bytes[i] = 0xff;
                    }
                    1 if !bytes.is_empty() => {
                        let i = at.index(bytes.len());
                        bytes.truncate(i.max(1));
                        bytes.push(0xf0); // a four-byte lead with nothing after it
                    }
                    _ => {}
                }
                bytes
            },
        );
        let kind = prop_oneof![Just(OpCode::Text), Just(OpCode::Binary)];
        let cuts = proptest::collection::vec(any::<prop::sample::Index>(), 0..4);
        let message = (kind, body.clone(), cuts).prop_map(|(kind, body, cuts)| {
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
            at.sort_unstable();
            let mut pieces = Vec::new();
            let mut from = 0;
            for cut in at.into_iter().chain([body.len()]) {
                pieces.push(body[from..cut].to_vec());
                from = cut;
            }
            let last = pieces.len() - 1;
            pieces
                .into_iter()
                .enumerate()
                .map(|(i, payload)| Frame::Data {
                    opcode: if i == 0 { kind } else { OpCode::Continuation },
                    fin: i == last,
                    payload,
                })
                .collect::<Vec<_>>()
        });
        let opcode = prop_oneof![Just(OpCode::Text), Just(OpCode::Binary), Just(OpCode::Continuation)];
        let big = proptest::collection::vec(b'a'..=b'c', 150..260);
        let stray = (opcode, any::<bool>(), prop_oneof![body, big])
            .prop_map(|(opcode, fin, payload)| vec![Frame::Data { opcode, fin, payload }]);
        let control = proptest::collection::vec(any::<u8>(), 0..20);
        let item = prop_oneof![
            8 => message,
            2 => control.clone().prop_map(|p| vec![Frame::Ping(p)]),
            1 => control.prop_map(|p| vec![Frame::Pong(p)]),
            1 => stray,
        ];
        proptest::collection::vec(item, 0..8).prop_map(|items| {
            // Control frames may also come between the fragments of a message (§5.4): move
            // every third one a place back.
            let mut frames: Vec<Frame> = items.into_iter().flatten().collect();
            for i in 1..frames.len() {
                if matches!(frames[i], Frame::Ping(_) | Frame::Pong(_)) && i % 3 == 0 {
                    frames.swap(i, i - 1);
                }
            }
            frames
        })
    }

    /// What the model says happens: messages, pings and pongs in order, then possibly the
    /// error that ends the connection.
    fn model(frames: &[Frame], limit: u64) -> (Vec<OwnedEvent>, Option<ProtocolError>) {
        let mut events = Vec::new();
        let mut message: Option<(OpCode, Vec<u8>)> = None;
        let utf8 = |bytes: &[u8], complete: bool| match core::str::from_utf8(bytes) {
            Ok(_) => None,
            Err(e) if e.error_len().is_none() && !complete => None,
            Err(e) => Some(ProtocolError::InvalidUtf8(e.into())),
        };
        for frame in frames {
            match frame {
                Frame::Ping(p) => events.push(OwnedEvent::Ping(p.clone())),
                Frame::Pong(p) => events.push(OwnedEvent::Pong(p.clone())),
                Frame::Data { opcode, fin, payload } => {
                    let size = payload.len() as u64;
                    if size > limit {
                        return (events, Some(ProtocolError::FrameTooLarge { size, limit }));
                    }
                    match (opcode, &mut message) {
                        (OpCode::Continuation, None) => {
                            return (events, Some(ProtocolError::UnexpectedContinuation));
                        }
                        (OpCode::Text | OpCode::Binary, Some(_)) => {
                            return (events, Some(ProtocolError::ExpectedContinuation));
                        }
                        (OpCode::Continuation, Some(_)) => {}
                        _ => message = Some((*opcode, Vec::new())),
                    }
                    let (kind, bytes) = message.as_mut().unwrap();
                    if bytes.len() as u64 + size > limit {
                        return (events, Some(ProtocolError::MessageTooLarge { limit }));
                    }
                    bytes.extend_from_slice(payload);
                    if *kind == OpCode::Text {
                        if let Some(error) = utf8(bytes, *fin) {
                            return (events, Some(error));
                        }
                    }
                    if *fin {
                        let (kind, bytes) = message.take().unwrap();
                        events.push(match kind {
                            OpCode::Text => OwnedEvent::Text(String::from_utf8(bytes).unwrap()),
                            _ => OwnedEvent::Binary(bytes),
                        });
                    }
                }
            }
        }
        (events, None)
    }

    /// Joins streamed pieces back into whole messages, checking their `first`/`last` flags.
    fn reassemble(events: Vec<OwnedEvent>) -> Vec<OwnedEvent> {
        let mut out = Vec::new();
        let mut open: Option<(MessageKind, Vec<u8>)> = None;
        for event in events {
            match event {
                OwnedEvent::Chunk { kind, data, first, last } => {
                    assert_eq!(first, open.is_none(), "`first` marks exactly the first piece");
                    let (_, bytes) = open.get_or_insert((kind, Vec::new()));
                    bytes.extend_from_slice(&data);
                    if last {
                        let (kind, bytes) = open.take().unwrap();
                        out.push(match kind {
                            MessageKind::Text => OwnedEvent::Text(String::from_utf8(bytes).unwrap()),
                            MessageKind::Binary => OwnedEvent::Binary(bytes),
                        });
                    }
                }
                other => out.push(other),
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn the_receive_state_machine_follows_section_5_4(
            frames in frames(),
            reads in proptest::collection::vec(1usize..300, 1..8),
            streaming in any::<bool>(),
            small_limit in any::<bool>(),
        ) {
            let limit = if small_limit { 200 } else { DEFAULT_MAX_MESSAGE_SIZE };
            let mut wire = Vec::new();
            for (i, frame) in frames.iter().enumerate() {
                let key = Some([i as u8, 0x5a, 0xa5, 7]);
                let (fin, opcode, payload) = match frame {
                    Frame::Data { opcode, fin, payload } => (*fin, *opcode, payload),
                    Frame::Ping(p) => (true, OpCode::Ping, p),
                    Frame::Pong(p) => (true, OpCode::Pong, p),
                };
                encode_frame_to_vec(fin, 0, opcode, payload, key, &mut wire).unwrap();
            }
            let (expected, error) = model(&frames, limit);

            let mut conn = server(Config::default().max_message_size(limit).streaming(streaming));
            let mut events = Vec::new();
            let mut at = 0;
            for read in reads.iter().cycle() {
                if at == wire.len() {
                    break;
                }
                let n = (*read).min(wire.len() - at);
                conn.handle_bytes(&wire[at..at + n]);
                at += n;
                while let Some(event) = conn.poll_event() {
                    events.push(event.into_owned());
                }
            }
            let end = match events.last() {
                Some(OwnedEvent::Closed(info)) => Some(info.clone()),
                _ => None,
            };
            if end.is_some() {
                events.pop();
            }
            prop_assert!(events.iter().all(|e| !matches!(e, OwnedEvent::Closed(_))), "one end, last");
            let events = if streaming { reassemble(events) } else { events };
            prop_assert_eq!(events, expected);
            prop_assert_eq!(end.as_ref().and_then(CloseInfo::error), error.as_ref());
            prop_assert_eq!(conn.state() == State::Closed, error.is_some());
        }
    }
}

#[test]
fn handed_out_output_is_counted_once_and_never_rewritten() {
    let mut s = server(Config::default());
    let mut c = client(Config::default());
    s.send_text("one").unwrap();
    let n = s.poll_output().len();
    // Written another way: what `poll_output` handed out is no longer there to report.
    let mut sink = Vec::new();
    s.write_to(&mut sink).unwrap();
    s.send_text("two").unwrap();
    assert_eq!(s.handle_written(n), Err(UsageError::WrittenTooMuch { written: n, handed_out: 0 }));
    assert_eq!(s.pending_output_len(), 5, "nothing counted");
    let _ = drain(&mut s);

    // Once output is full, an unsent automatic Pong is replaced by the answer to a newer Ping,
    // but not one handed out to the caller, who may be writing it.
    let mut s = server(Config::default().max_pending_output(1));
    c.ping(b"1").unwrap();
    transfer(&mut c, &mut s, usize::MAX);
    assert_eq!(s.poll_output(), b"\x8a\x011");
    c.ping(b"2").unwrap();
    transfer(&mut c, &mut s, usize::MAX);
    assert_eq!(s.pending_output_len(), 6, "both Pongs: the first was handed out");
    s.handle_written(3).unwrap();
    assert_eq!(s.poll_output(), b"\x8a\x012");
    s.handle_written(3).unwrap();
    // Not handed out: replaced.
    c.ping(b"3").unwrap();
    c.ping(b"4").unwrap();
    transfer(&mut c, &mut s, usize::MAX);
    assert_eq!(drain(&mut s), b"\x8a\x014");
    // With room in the output, every Ping is answered.
    let mut s = server(Config::default());
    c.ping(b"5").unwrap();
    c.ping(b"6").unwrap();
    transfer(&mut c, &mut s, usize::MAX);
    assert_eq!(drain(&mut s), b"\x8a\x015\x8a\x016");
}

#[test]
fn end_of_stream_comes_after_the_events_the_received_bytes_hold() {
    // A message, then the transport ends before the application drained it.
    let mut s = server(Config::default());
    s.handle_bytes(&client_frame(0x81, b"last words"));
    s.handle_eof();
    assert_eq!(s.state(), State::Open, "the end waits for the bytes before it");
    let events: Vec<OwnedEvent> = core::iter::from_fn(|| s.poll_event().map(Event::into_owned)).collect();
    assert_eq!(events, vec![OwnedEvent::Text("last words".into()), closed(1006, "", CloseOrigin::Eof)]);
    // A Close frame, then end of stream: a clean close (the echo stays queued for a peer that
    // only half-closed).
    let mut s = server(Config::default());
    s.handle_bytes(&client_frame(0x88, &[0x03, 0xe8]));
    s.handle_eof();
    assert_eq!(feed_raw(&mut s, b""), vec![closed(1000, "", CloseOrigin::Peer)]);
    assert_eq!(drain(&mut s), b"\x88\x02\x03\xe8");
    assert!(s.should_drop_transport());
    // A partial frame at the end is dropped; bytes after end of stream are not read. It can
    // hold no event, so the connection ends at once (a partial Close frame too: found by the
    // fuzzer, the state stayed Open until the next poll).
    for cut in [client_frame(0x82, b"cut")[..5].to_vec(), client_frame(0x88, &[0x03, 0xe8])[..7].to_vec()] {
        let mut s = server(Config::default());
        s.handle_bytes(&cut);
        s.handle_eof();
        assert_eq!(s.state(), State::Closed, "{cut:?}");
        s.handle_bytes(b"\x82\x80\0\0\0\0");
        assert_eq!(feed_raw(&mut s, b""), vec![closed(1006, "", CloseOrigin::Eof)]);
    }
    // A whole frame behind a partial one: its event, then the end.
    let mut s = server(Config::default());
    s.handle_bytes(&[&client_frame(0x82, b"whole")[..], &client_frame(0x82, b"cut")[..5]].concat());
    s.handle_eof();
    assert_eq!(s.state(), State::Open);
    assert_eq!(
        feed_raw(&mut s, b""),
        vec![OwnedEvent::Binary(b"whole".to_vec()), closed(1006, "", CloseOrigin::Eof)]
    );
}

#[test]
fn keepalive_and_close_timers_do_not_depend_on_when_events_are_drained() {
    use core::time::Duration;
    let t0 = crate::time::Instant::ZERO;
    let secs = Duration::from_secs;
    let timeouts = TimeoutConfig::default().ping_interval(secs(20)).close_timeout(secs(10));
    let mut c = client(Config::default().timeouts(timeouts));
    c.handle_timeout(t0);
    // A Pong arrives at 5 s; it is stamped then, not when it is decoded later.
    c.handle_bytes(b"\x8a\x00");
    c.handle_timeout(t0 + secs(5));
    c.handle_timeout(t0 + secs(12));
    assert_eq!(c.poll_event(), Some(Event::Pong(b"")));
    c.handle_timeout(t0 + secs(13));
    assert_eq!(c.poll_timeout(), Some(t0 + secs(25)), "20 s after the Pong arrived");
    // `close` arms the close timer at once, from the latest time seen.
    c.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(c.poll_timeout(), Some(t0 + secs(23)));
}

/// Fragments of `total` bytes of `fill`, `piece` bytes each: `kind` then continuations.
fn fragmented(kind: u8, total: usize, piece: usize, fill: u8) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut sent = 0;
    while sent < total {
        let n = piece.min(total - sent);
        let opcode = if sent == 0 { kind } else { 0x0 };
        let fin = if sent + n == total { 0x80 } else { 0 };
        let mut frame = long_client_frame(n);
        frame[0] = fin | opcode;
        frame[14..].fill(fill);
        wire.extend_from_slice(&frame);
        sent += n;
    }
    wire
}

#[test]
fn reassembly_buffers_are_kept_while_messages_need_them_and_freed_after() {
    // A fragmented binary message reassembles in `whole`, and so does a (masked) text one
    // while it is ASCII; one that is not moves to `text`. After a message is handed out, the
    // next call keeps a buffer of up to 64 KiB, and a larger one while the messages need a
    // quarter of it or more: a stream of large messages reuses it. The first smaller message
    // frees it, so a connection back to small messages holds little.
    for (kind, total, unit) in [
        (0x2u8, 40_000, "a"),
        (0x2, 100_000, "a"),
        (0x1, 40_000, "a"),
        (0x1, 100_000, "a"),
        (0x1, 40_000, "\u{e9}"),
        (0x1, 100_000, "\u{e9}"),
    ] {
        let capacity = |s: &Connection| {
            let (assembled, text) = s.recv.reassembly_capacity();
            if unit.is_ascii() { assembled } else { text }
        };
        let mut s = server(Config::default());
        let expected = |total: usize| {
            let text = unit.repeat(total / unit.len());
            if kind == 0x1 { OwnedEvent::Text(text) } else { OwnedEvent::Binary(text.into_bytes()) }
        };
        s.handle_bytes(&fragmented_of(kind, total, 10_000, unit));
        assert_eq!(s.poll_event().unwrap().into_owned(), expected(total));
        assert_eq!(s.poll_event(), None);
        let grown = capacity(&s);
        assert!(grown >= total, "kind {kind}, {total} bytes of {unit:?}: kept ({grown})");
        // The same message again: same buffer.
        s.handle_bytes(&fragmented_of(kind, total, 10_000, unit));
        assert_eq!(s.poll_event().unwrap().into_owned(), expected(total));
        assert_eq!(s.poll_event(), None);
        assert_eq!(capacity(&s), grown, "kind {kind}, {total} bytes of {unit:?}: reused");
        // A small message: a buffer over 64 KiB is freed.
        s.handle_bytes(&fragmented_of(kind, 2_000, 1_000, unit));
        assert_eq!(s.poll_event().unwrap().into_owned(), expected(2_000));
        assert_eq!(s.poll_event(), None);
        let after = capacity(&s);
        if total <= 64 * 1024 {
            assert_eq!(after, grown, "kind {kind}, {total} bytes of {unit:?}: kept");
        } else {
            assert_eq!(after, 0, "kind {kind}, {total} bytes of {unit:?}: freed");
        }
        // Between messages, `release_buffers` frees what was kept.
        s.release_buffers();
        assert_eq!(s.recv.reassembly_capacity(), (0, 0));
    }
}

/// Like [`fragmented`], the payload `unit` repeated (`piece` a multiple of its length).
fn fragmented_of(kind: u8, total: usize, piece: usize, unit: &str) -> Vec<u8> {
    let mut wire = fragmented(kind, total, piece, 0);
    let mut at = 0;
    while at < wire.len() {
        // `long_client_frame`'s header: 14 bytes, a 64-bit length at 2..10, a zero key.
        let len = u64::from_be_bytes(wire[at + 2..at + 10].try_into().unwrap()) as usize;
        for (byte, &u) in wire[at + 14..at + 14 + len].iter_mut().zip(unit.as_bytes().iter().cycle()) {
            *byte = u;
        }
        at += 14 + len;
    }
    wire
}

#[test]
fn a_new_message_inside_a_fragmented_one_fails_whichever_read_it_comes_in() {
    // The whole-frame fast path is tried between frames; inside a fragmented message it must
    // step aside so that the general path refuses a new Text or Binary frame (§5.4).
    for first in [0x01u8, 0x02] {
        for second in [0x81u8, 0x82] {
            let mut s = server(Config::default());
            assert_eq!(feed_raw(&mut s, &client_frame(first, b"a")), vec![], "{first:#x}");
            assert_eq!(
                feed_raw(&mut s, &client_frame(second, b"b")),
                vec![failed(ProtocolError::ExpectedContinuation)],
                "{first:#x} then {second:#x}"
            );
        }
    }
}

#[test]
fn the_fast_path_steps_aside_in_streaming_mode_and_inside_a_header() {
    // Streaming: a whole single-frame message is still handed out as one piece.
    let mut s = server(Config::default().streaming(true));
    assert_eq!(
        feed_raw(&mut s, &client_frame(0x82, b"abc")),
        vec![chunk(MessageKind::Binary, b"abc".to_vec(), true, true)]
    );
    // A header split after its second byte: the decoder holds the first two; the rest begins
    // with a masking key whose bytes would read as a whole frame of their own
    // (82 80: FIN, Binary, masked, empty), which must not be taken for one.
    let mut s = server(Config::default());
    let key = [0x82, 0x80, 0x01, 0x02];
    let mut payload = *b"xyz";
    crate::mask::apply_mask(&mut payload, key, 0);
    let wire = [&[0x82, 0x83][..], &key, &payload].concat();
    assert_eq!(feed_raw(&mut s, &wire[..2]), vec![]);
    assert_eq!(feed_raw(&mut s, &wire[2..]), vec![OwnedEvent::Binary(b"xyz".to_vec())]);
}

/// The read-ahead's steps, one read at a time (cargo mutants: the test above checks only
/// where it ends, so halving to zero at once, or halving after reads of half or more, went
/// unseen). It is adjusted when the next room is asked for, from what the last read brought.
#[test]
fn read_ahead_halves_only_after_reads_under_half_of_it() {
    let mut s = server(Config::default());
    let stream = client_frame(0x82, b"x").repeat(100_000);
    let mut rest = &stream[..];
    // Reads `n` bytes of the stream (`None`: all the room offered) and returns the read-ahead
    // the room was offered with.
    let mut read = |s: &mut Connection, n: Option<usize>| {
        let room = s.read_buf(4096);
        let n = n.unwrap_or(room.len());
        assert!(n <= room.len());
        room[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        let ahead = s.recv.read_ahead();
        s.handle_read(n);
        while s.poll_event().is_some() {}
        ahead
    };
    while read(&mut s, None) < 64 * 1024 {}
    assert_eq!(read(&mut s, None), 64 * 1024, "stays at its ceiling while reads fill the room");
    // A read of half the read-ahead, or of three quarters, leaves it.
    read(&mut s, Some(32 * 1024));
    read(&mut s, Some(48 * 1024));
    assert_eq!(read(&mut s, Some(7)), 64 * 1024);
    // Each read under half of it halves it, down to the smallest step; below that, nothing is
    // read ahead.
    let steps: Vec<usize> = (0..5).map(|_| read(&mut s, Some(7))).collect();
    assert_eq!(steps, [32 * 1024, 16 * 1024, 8 * 1024, 4 * 1024, 0]);
}

/// After the end of the stream (§7.1.1: the transport closed) bytes are ignored, also while
/// frames that arrived before it are still being handed out (cargo mutants: only the case
/// where the connection had already ended was tested).
#[test]
fn bytes_after_the_end_of_the_stream_are_ignored() {
    // Fed by `handle_bytes`, then through `read_buf` and `handle_read`.
    for feed in [feed_raw, read_in_pieces] {
        let mut s = server(Config::default());
        s.handle_bytes(&client_frame(0x82, b"before"));
        s.handle_eof();
        let events = feed(&mut s, &client_frame(0x82, b"after"));
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0], OwnedEvent::Binary(b"before".to_vec()));
        assert!(matches!(events[1], OwnedEvent::Closed(_)), "{events:?}");
    }
}

/// Once the connection has ended (here failed by a frame with a reserved opcode, §5.2),
/// nothing more is taken in by either way of feeding it (cargo mutants: requiring the end of
/// the stream as well went unseen), and `release_buffers` frees the receive buffer though
/// it still holds the failing frame (it used to keep it: those bytes were "unconsumed").
#[test]
fn bytes_after_the_connection_ended_are_ignored() {
    // Fed by `handle_bytes`, then through `read_buf` and `handle_read`.
    for feed in [feed_raw, read_in_pieces] {
        let mut s = server(Config::default());
        let events = feed_raw(&mut s, &client_frame(0x83, b""));
        assert!(matches!(events[..], [OwnedEvent::Closed(_)]), "{events:?}");
        assert_eq!(s.state(), State::Closed);
        let held = s.buffered_input_len();
        assert_eq!(feed(&mut s, &client_frame(0x82, b"late")), vec![]);
        assert_eq!(s.buffered_input_len(), held);
        assert_eq!(s.poll_event(), None);
        // What it still holds is never needed: released with the rest, except the Close to
        // write.
        assert!(held > 0);
        let close = s.pending_output_len();
        assert!(close > 0, "the Close (1002) is queued");
        s.release_buffers();
        assert_eq!(s.buffered_input_len(), 0);
        assert_eq!(s.pending_output_len(), close);
        assert_eq!(s.buffer_capacity(), s.out.capacity());
        assert_eq!(s.poll_event(), None);
        assert_eq!(s.poll_output().len(), close);
        s.handle_written(close).unwrap();
        s.release_buffers();
        assert_eq!(s.buffer_capacity(), 0);
    }
}

/// A long masked Text frame arriving in pieces (each unmasked into the reassembly buffer and
/// checked to be ASCII as it comes) gets room for what arrived, doubling, never for what
/// the peer only claims (cargo mutants: sizing the room by the buffer's end plus the cursor
/// instead of minus, or growing a buffer that was already big enough, went unseen).
#[test]
fn a_long_text_frame_gets_room_for_what_arrived() {
    let mut s = server(Config::default());
    // Of a 1 MiB frame, its payload ASCII (7s), the header and four 4 KiB pieces arrive.
    let mut frame = long_client_frame(1 << 20);
    frame[0] = 0x81; // Text
    let first = 14 + 4096; // the header and the first piece
    let mut rooms = Vec::new();
    for piece in [&frame[..first]].into_iter().chain(frame[first..].chunks(4096).take(3)) {
        assert_eq!(feed_raw(&mut s, piece), vec![]);
        rooms.push(s.recv.reassembly_capacity().0);
    }
    assert_eq!(rooms, [4096, 8192, 16384, 16384]);
}

/// A last frame of at most 64 KiB that arrives in pieces gets room for all of it with its
/// first piece, so the reassembly buffer grows once (cargo mutants: growing it by doubling
/// instead changed no message, only the copies).
#[test]
fn a_frame_arriving_in_pieces_gets_its_room_at_once() {
    let mut s = server(Config::default());
    let payload = vec![7u8; 16 * 1024];
    let wire = client_frame(0x82, &payload);
    assert_eq!(feed_raw(&mut s, &wire[..4096]), vec![]);
    assert_eq!(s.recv.reassembly_capacity().0, payload.len(), "room for the whole payload");
    assert_eq!(feed_raw(&mut s, &wire[4096..]), vec![OwnedEvent::Binary(payload)]);
}

#[test]
fn read_buf_offers_more_while_reads_fill_it() {
    // A new connection asked for 4 KiB zeroes 4 KiB, not more.
    let mut s = server(Config::default());
    assert_eq!(s.read_buf(4096).len(), 4096);
    // A transport with much to give (a 1-byte frame stream) fills every room offered: the
    // read-ahead doubles up to 64 KiB, and stays there.
    let stream = client_frame(0x82, b"x").repeat(200_000);
    let mut rest = &stream[..];
    let mut offered = Vec::new();
    let mut events = 0;
    for _ in 0..12 {
        let room = s.read_buf(4096);
        let n = room.len();
        offered.push(n);
        room.copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        s.handle_read(n);
        while let Some(event) = s.poll_event() {
            assert_eq!(event.into_owned(), OwnedEvent::Binary(b"x".to_vec()));
            events += 1;
        }
    }
    assert_eq!(events, (stream.len() - rest.len()) / 7);
    for (i, pair) in offered.windows(2).enumerate() {
        assert!(pair[1] >= (2 * pair[0]).min(64 * 1024), "read {i}: offered {offered:?}");
    }
    assert!(offered.iter().all(|&n| n <= 2 * 64 * 1024), "bounded: {offered:?}");
    // Reads under half of it halve it: a quiet connection is offered what it asks for again.
    let frame = client_frame(0x82, b"x");
    let tail = (frame.len() - (stream.len() - rest.len()) % frame.len()) % frame.len();
    s.read_buf(4096)[..tail].copy_from_slice(&rest[..tail]);
    s.handle_read(tail);
    while let Some(event) = s.poll_event() {
        assert_eq!(event.into_owned(), OwnedEvent::Binary(b"x".to_vec()));
    }
    for _ in 0..5 {
        s.read_buf(4096)[..frame.len()].copy_from_slice(&frame);
        s.handle_read(frame.len());
        assert_eq!(s.poll_event().map(Event::into_owned), Some(OwnedEvent::Binary(b"x".to_vec())));
    }
    assert_eq!(s.recv.read_ahead(), 0, "halved to nothing after five quiet reads");
    // A caller asking for more than the read-ahead gets what it asks for.
    assert!(s.read_buf(200_000).len() >= 200_000);
}
