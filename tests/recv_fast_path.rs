//! A whole frame in the receive buffer takes a fast path through `Connection::poll_event`;
//! a frame arriving in pieces takes the general one. These tests feed the same bytes both ways
//! (all at once, and one byte at a time) and require the same events and the same error,
//! including for frames that break a limit or a rule.

use proptest::prelude::*;
use rfc6455::connection::{Config, Connection, Event};
use rfc6455::frame::{OpCode, encode_frame_to_vec};
use rfc6455::{ProtocolError, Role};

#[derive(Debug, PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16),
    Error(ProtocolError),
}

/// Everything `conn` reports for `wire` fed in pieces of `slice` bytes, up to the first error.
fn run(config: &Config, wire: &[u8], slice: usize) -> Vec<Got> {
    let mut conn = Connection::new(Role::Server, config.clone());
    let mut got = Vec::new();
    for piece in wire.chunks(slice) {
        conn.handle_bytes(piece);
        loop {
            match conn.poll_event() {
                Ok(Some(Event::Text(t))) => got.push(Got::Text(t.to_owned())),
                Ok(Some(Event::Binary(b))) => got.push(Got::Binary(b.to_vec())),
                Ok(Some(Event::Ping(p))) => got.push(Got::Ping(p.to_vec())),
                Ok(Some(Event::Pong(p))) => got.push(Got::Pong(p.to_vec())),
                Ok(Some(Event::Close(info))) => got.push(Got::Close(info.code.into())),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(error) => {
                    got.push(Got::Error(error));
                    return got;
                }
            }
        }
    }
    got
}

fn frame(wire: &mut Vec<u8>, first_byte: u8, payload: &[u8]) {
    let opcode = OpCode::from_u8(first_byte & 0x0F).unwrap();
    let start = wire.len();
    encode_frame_to_vec(first_byte & 0x80 != 0, 0, opcode, payload, Some([9, 8, 7, 6]), wire).unwrap();
    wire[start] = first_byte; // RSV bits as given
}

fn same_both_ways(config: &Config, wire: &[u8]) -> Vec<Got> {
    let whole = run(config, wire, wire.len().max(1));
    let bytewise = run(config, wire, 1);
    assert_eq!(whole, bytewise);
    whole
}

#[test]
fn limits_and_rules_fail_the_same_way_on_either_path() {
    let small = Config::default().max_message_size(10);
    let mut wire = Vec::new();
    frame(&mut wire, 0x82, &[1; 10]);
    frame(&mut wire, 0x82, &[1; 11]);
    let got = same_both_ways(&small, &wire);
    assert_eq!(got.last(), Some(&Got::Error(ProtocolError::MessageTooLarge { limit: 10 })));

    let small_frames = Config::default().max_frame_size(10);
    let got = same_both_ways(&small_frames, &wire);
    assert!(matches!(got.last(), Some(Got::Error(ProtocolError::FrameTooLarge { .. }))));

    let mut wire = Vec::new();
    frame(&mut wire, 0xC1, b"rsv1"); // no extension negotiated
    let got = same_both_ways(&Config::default(), &wire);
    assert_eq!(got, [Got::Error(ProtocolError::ReservedBits(0b100))]);

    let mut wire = Vec::new();
    frame(&mut wire, 0x81, b"ok");
    frame(&mut wire, 0x81, b"\xFF not utf-8");
    let got = same_both_ways(&Config::default(), &wire);
    assert_eq!(got, [Got::Text("ok".into()), Got::Error(ProtocolError::InvalidUtf8)]);

    let mut wire = Vec::new();
    frame(&mut wire, 0x88, &[0x03, 0xE8]);
    frame(&mut wire, 0x82, b"late");
    let got = same_both_ways(&Config::default(), &wire);
    assert_eq!(got, [Got::Close(1000), Got::Error(ProtocolError::DataAfterClose)]);

    // A whole Text frame while a fragmented message is open.
    let mut wire = Vec::new();
    frame(&mut wire, 0x01, b"part");
    frame(&mut wire, 0x81, b"whole");
    let got = same_both_ways(&Config::default(), &wire);
    assert_eq!(got, [Got::Error(ProtocolError::ExpectedContinuation)]);

    // An unmasked frame from a client.
    let got = same_both_ways(&Config::default(), b"\x82\x02hi");
    assert_eq!(got, [Got::Error(ProtocolError::UnmaskedFrame)]);
}

#[test]
fn empty_and_boundary_sized_messages() {
    let mut wire = Vec::new();
    for size in [0, 1, 125, 126, 127, 65535, 65536, 65537] {
        frame(&mut wire, 0x82, &vec![0x5A; size]);
        frame(&mut wire, 0x81, "é".repeat(size / 2).as_bytes());
    }
    let got = same_both_ways(&Config::default(), &wire);
    assert_eq!(got.len(), 16);
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
        let config = Config::default().max_message_size(200);
        let whole = run(&config, &wire, wire.len().max(1));
        prop_assert_eq!(&whole, &run(&config, &wire, 1));
        prop_assert_eq!(&whole, &run(&config, &wire, slice));
    }
}
