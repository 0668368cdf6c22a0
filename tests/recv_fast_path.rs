//! A whole frame in the receive buffer takes a fast path through `Connection::poll_event`;
//! a frame arriving in pieces takes the general one. These tests feed the same bytes both ways
//! (all at once, and one byte at a time) and require the same events and the same error,
//! including for frames that break a limit or a rule.

use proptest::prelude::*;
use rfc6455::connection::{CloseOrigin, Config, Connection};
use rfc6455::frame::{OpCode, encode_frame_to_vec};
use rfc6455::{CloseCode, OwnedEvent, ProtocolError, Role};

/// Everything `conn` reports for `wire` fed in pieces of `slice` bytes, up to the end of the
/// connection (its last event, [`OwnedEvent::Closed`]), and the output it queued.
fn run(config: &Config, wire: &[u8], slice: usize) -> (Vec<OwnedEvent>, Vec<u8>) {
    let mut conn = Connection::new(Role::Server, config.clone());
    let mut got = Vec::new();
    for piece in wire.chunks(slice) {
        conn.handle_bytes(piece);
        while let Some(event) = conn.poll_event() {
            assert!(!matches!(got.last(), Some(OwnedEvent::Closed(_))), "{event:?} after the end");
            got.push(event.into_owned());
        }
    }
    let mut output = Vec::new();
    conn.write_to(&mut output).unwrap();
    (got, output)
}

/// Whether `event` is the end of a connection we failed for `error`, with close `code`.
fn is_failure(event: Option<&OwnedEvent>, error: &ProtocolError, code: CloseCode) -> bool {
    assert_eq!(error.close_code(), code, "{error:?}");
    matches!(event, Some(OwnedEvent::Closed(info))
        if info.origin() == &CloseOrigin::Failed(error.clone()) && info.code() == code)
}

/// A server's Close frame with `code`, the only output the tests below expect.
fn close_frame(code: CloseCode) -> Vec<u8> {
    [&[0x88, 0x02][..], &code.0.to_be_bytes()].concat()
}

/// The error for a text message that is not UTF-8, with its position.
fn utf8_error(text: &[u8]) -> ProtocolError {
    ProtocolError::InvalidUtf8(std::str::from_utf8(text).expect_err("not UTF-8").into())
}

fn frame(wire: &mut Vec<u8>, first_byte: u8, payload: &[u8]) {
    let opcode = OpCode::from_u8(first_byte & 0x0F).unwrap();
    let start = wire.len();
    encode_frame_to_vec(first_byte & 0x80 != 0, 0, opcode, payload, Some([9, 8, 7, 6]), wire).unwrap();
    wire[start] = first_byte; // RSV bits as given
}

fn same_both_ways(config: &Config, wire: &[u8]) -> (Vec<OwnedEvent>, Vec<u8>) {
    let whole = run(config, wire, wire.len().max(1));
    let bytewise = run(config, wire, 1);
    assert_eq!(whole, bytewise);
    whole
}

#[test]
fn limits_and_rules_fail_the_same_way_on_either_path() {
    // The message limit, below a frame limit it does not reach (by default the frame limit
    // follows the message limit, and would answer first).
    let small = Config::default().max_message_size(10).max_frame_size(16 << 20);
    let mut wire = Vec::new();
    frame(&mut wire, 0x82, &[1; 10]);
    frame(&mut wire, 0x82, &[1; 11]);
    let (got, out) = same_both_ways(&small, &wire);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], OwnedEvent::Binary(vec![1; 10]));
    let too_large = ProtocolError::MessageTooLarge { limit: 10 };
    assert!(is_failure(got.last(), &too_large, CloseCode::MESSAGE_TOO_BIG), "{got:?}");
    assert_eq!(out, close_frame(CloseCode::MESSAGE_TOO_BIG));

    let small_frames = Config::default().max_frame_size(10);
    let (got, out) = same_both_ways(&small_frames, &wire);
    assert_eq!(got.len(), 2, "{got:?}");
    let too_large = ProtocolError::FrameTooLarge { size: 11, limit: 10 };
    assert!(is_failure(got.last(), &too_large, CloseCode::MESSAGE_TOO_BIG), "{got:?}");
    assert_eq!(out, close_frame(CloseCode::MESSAGE_TOO_BIG));

    let mut wire = Vec::new();
    frame(&mut wire, 0xC1, b"rsv1"); // no extension negotiated
    let (got, out) = same_both_ways(&Config::default(), &wire);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        is_failure(got.last(), &ProtocolError::ReservedBits(0b100), CloseCode::PROTOCOL_ERROR),
        "{got:?}"
    );
    assert_eq!(out, close_frame(CloseCode::PROTOCOL_ERROR));

    let mut wire = Vec::new();
    frame(&mut wire, 0x81, b"ok");
    frame(&mut wire, 0x81, b"\xFF not utf-8");
    let (got, out) = same_both_ways(&Config::default(), &wire);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], OwnedEvent::Text("ok".into()));
    let invalid = utf8_error(b"\xFF not utf-8");
    assert!(is_failure(got.last(), &invalid, CloseCode::INVALID_PAYLOAD), "{got:?}");
    assert_eq!(out, close_frame(CloseCode::INVALID_PAYLOAD));

    // Nothing after the peer's Close is read: the late frame is neither delivered nor an error,
    // and the only output is the echo of the Close.
    let mut wire = Vec::new();
    frame(&mut wire, 0x88, &[0x03, 0xE8]);
    frame(&mut wire, 0x82, b"late");
    let (got, out) = same_both_ways(&Config::default(), &wire);
    assert_eq!(got.len(), 1, "{got:?}");
    match &got[0] {
        OwnedEvent::Closed(info) => {
            assert_eq!(
                (info.code(), info.reason(), info.origin()),
                (CloseCode::NORMAL, "", &CloseOrigin::Peer)
            );
        }
        other => panic!("expected the peer's Close, got {other:?}"),
    }
    assert_eq!(out, close_frame(CloseCode::NORMAL));

    // A whole Text frame while a fragmented message is open.
    let mut wire = Vec::new();
    frame(&mut wire, 0x01, b"part");
    frame(&mut wire, 0x81, b"whole");
    let (got, out) = same_both_ways(&Config::default(), &wire);
    assert_eq!(got.len(), 1, "{got:?}");
    let error = ProtocolError::ExpectedContinuation;
    assert!(is_failure(got.last(), &error, CloseCode::PROTOCOL_ERROR), "{got:?}");
    assert_eq!(out, close_frame(CloseCode::PROTOCOL_ERROR));

    // An unmasked frame from a client.
    let (got, out) = same_both_ways(&Config::default(), b"\x82\x02hi");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(is_failure(got.last(), &ProtocolError::UnmaskedFrame, CloseCode::PROTOCOL_ERROR), "{got:?}");
    assert_eq!(out, close_frame(CloseCode::PROTOCOL_ERROR));
}

#[test]
fn empty_and_boundary_sized_messages() {
    let mut wire = Vec::new();
    for size in [0, 1, 125, 126, 127, 65535, 65536, 65537] {
        frame(&mut wire, 0x82, &vec![0x5A; size]);
        frame(&mut wire, 0x81, "é".repeat(size / 2).as_bytes());
    }
    let (got, out) = same_both_ways(&Config::default(), &wire);
    assert_eq!(got.len(), 16);
    assert!(out.is_empty());
}

fn piece() -> impl Strategy<Value = (u8, Vec<u8>)> {
    prop_oneof![
        (Just(0x81u8), ".{0,40}".prop_map(String::into_bytes)),
        (Just(0x82u8), proptest::collection::vec(any::<u8>(), 0..300)),
        (Just(0x01u8), ".{0,20}".prop_map(String::into_bytes)),
        (Just(0x00u8), ".{0,20}".prop_map(String::into_bytes)),
        (Just(0x80u8), ".{0,20}".prop_map(String::into_bytes)),
        (Just(0x89u8), proptest::collection::vec(any::<u8>(), 0..20)),
        (Just(0x8Au8), proptest::collection::vec(any::<u8>(), 0..20)),
        (Just(0x81u8), proptest::collection::vec(any::<u8>(), 0..8)),
    ]
}

proptest! {
    /// Any mix of whole frames, fragments, control frames and invalid text gives the same
    /// events and error whether the bytes come at once, in odd slices or byte by byte.
    #[test]
    fn any_stream_is_chunking_independent(frames in proptest::collection::vec(piece(), 0..12), slice in 2usize..64) {
        let mut wire = Vec::new();
        for (first_byte, payload) in &frames {
            frame(&mut wire, *first_byte, payload);
        }
        // A message limit under the frame limit: single frames over it fail on the message limit.
        let config = Config::default().max_message_size(200).max_frame_size(16 << 20);
        let whole = run(&config, &wire, wire.len().max(1));
        prop_assert_eq!(&whole, &run(&config, &wire, 1));
        prop_assert_eq!(&whole, &run(&config, &wire, slice));
    }
}
