//! Properties of a client/server pair: whatever one side sends arrives intact on the other,
//! however the bytes between them are chunked; and no input panics a connection.

use proptest::prelude::*;
use rfc6455::connection::{Config, Connection, Event, MaskKeySource, MessageKind};
use rfc6455::frame::{Decoded, FrameDecoder, OpCode};
use rfc6455::{ProtocolError, Role};

#[derive(Debug, Clone)]
enum Send {
    Text(String),
    Binary(Vec<u8>),
    /// A streamed message in pieces.
    Stream(MessageKind, Vec<Vec<u8>>),
    Ping(Vec<u8>),
    /// Through `send_owned`: binary from a `Vec` (shared: from an `Arc<[u8]>`), or text.
    Owned {
        shared: bool,
        data: Vec<u8>,
    },
    OwnedText(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
}

fn keys(seed: u32) -> MaskKeySource {
    let mut n = seed;
    Box::new(move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_le_bytes()
    })
}

fn send_strategy() -> impl Strategy<Value = Send> {
    prop_oneof![
        ".{0,300}".prop_map(Send::Text),
        proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Send::Binary),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..5)
            .prop_map(|pieces| Send::Stream(MessageKind::Binary, pieces)),
        ".{0,100}".prop_map(|s: String| {
            // Split text at arbitrary byte positions, even inside characters.
            let bytes = s.into_bytes();
            let mid = bytes.len() / 2;
            Send::Stream(MessageKind::Text, vec![bytes[..mid].to_vec(), bytes[mid..].to_vec()])
        }),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Send::Ping),
        // Sizes on both sides of the size from which `send_owned` holds payloads (1 KiB).
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..3000))
            .prop_map(|(shared, data)| Send::Owned { shared, data }),
        ".{0,700}".prop_map(Send::OwnedText),
    ]
}

fn expected(sends: &[Send]) -> Vec<Got> {
    sends
        .iter()
        .map(|s| match s {
            Send::Text(t) => Got::Text(t.clone()),
            Send::Binary(b) => Got::Binary(b.clone()),
            Send::Stream(MessageKind::Text, pieces) => Got::Text(String::from_utf8(pieces.concat()).unwrap()),
            Send::Stream(_, pieces) => Got::Binary(pieces.concat()),
            Send::Ping(p) => Got::Ping(p.clone()),
            Send::Owned { data, .. } => Got::Binary(data.clone()),
            Send::OwnedText(t) => Got::Text(t.clone()),
        })
        .collect()
}

fn run(sender: &mut Connection, receiver: &mut Connection, sends: &[Send], cuts: &[usize]) -> Vec<Got> {
    for s in sends {
        match s {
            Send::Text(t) => sender.send_text(t).unwrap(),
            Send::Binary(b) => sender.send_binary(b).unwrap(),
            Send::Stream(kind, pieces) => {
                for (i, piece) in pieces.iter().enumerate() {
                    sender.send_chunk(*kind, piece, i + 1 == pieces.len()).unwrap();
                }
            }
            Send::Ping(p) => sender.ping(p).unwrap(),
            Send::Owned { shared: false, data } => {
                sender.send_owned(MessageKind::Binary, data.clone()).unwrap()
            }
            Send::Owned { shared: true, data } => {
                sender.send_owned(MessageKind::Binary, std::sync::Arc::<[u8]>::from(&data[..])).unwrap()
            }
            Send::OwnedText(t) => sender.send_owned(MessageKind::Text, t.clone()).unwrap(),
        }
    }
    // Write the output out in partial writes of the cut sizes, alternating between one piece
    // at a time (`poll_output`) and vectored writes across pieces (`output_pieces`).
    let mut wire = Vec::new();
    let mut cut = cuts.iter().cycle();
    let mut vectored = false;
    while sender.pending_output_len() > 0 {
        let pending = sender.pending_output_len();
        assert_eq!(sender.output_pieces().map(<[u8]>::len).sum::<usize>(), pending);
        let limit = *cut.next().unwrap();
        let mut taken = 0;
        if vectored {
            for piece in sender.output_pieces() {
                let k = piece.len().min(limit - taken);
                wire.extend_from_slice(&piece[..k]);
                taken += k;
                if taken == limit {
                    break;
                }
            }
        } else {
            let out = sender.poll_output();
            assert!(!out.is_empty());
            taken = out.len().min(limit);
            wire.extend_from_slice(&out[..taken]);
        }
        sender.handle_written(taken);
        assert_eq!(sender.pending_output_len(), pending - taken);
        vectored = !vectored;
    }
    assert!(sender.poll_output().is_empty());
    let mut got = Vec::new();
    let mut pos = 0;
    let mut cut = cuts.iter().cycle();
    while pos < wire.len() {
        let n = (*cut.next().unwrap()).clamp(1, wire.len() - pos);
        receiver.handle_bytes(&wire[pos..pos + n]);
        pos += n;
        while let Some(event) = receiver.poll_event().unwrap() {
            match event {
                Event::Text(t) => got.push(Got::Text(t.to_owned())),
                Event::Binary(b) => got.push(Got::Binary(b.to_vec())),
                Event::Ping(p) => got.push(Got::Ping(p.to_vec())),
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
    got
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn client_to_server_any_chunking(
        sends in proptest::collection::vec(send_strategy(), 0..12),
        cuts in proptest::collection::vec(1usize..2000, 1..8),
        fragment in proptest::option::of(1usize..500),
        seed: u32,
    ) {
        let mut client = Connection::with_mask_keys(Role::Client, Config::default().fragment_size(fragment), keys(seed));
        let mut server = Connection::new(Role::Server, Config::default());
        prop_assert_eq!(run(&mut client, &mut server, &sends, &cuts), expected(&sends));
    }

    #[test]
    fn server_to_client_any_chunking(
        sends in proptest::collection::vec(send_strategy(), 0..12),
        cuts in proptest::collection::vec(1usize..2000, 1..8),
        fragment in proptest::option::of(1usize..500),
    ) {
        let mut server = Connection::new(Role::Server, Config::default().fragment_size(fragment));
        let mut client = Connection::with_mask_keys(Role::Client, Config::default(), keys(7));
        prop_assert_eq!(run(&mut server, &mut client, &sends, &cuts), expected(&sends));
    }

    #[test]
    fn arbitrary_input_never_panics(
        input in proptest::collection::vec(any::<u8>(), 0..4000),
        cuts in proptest::collection::vec(1usize..300, 1..8),
        streaming: bool,
    ) {
        for role in [Role::Server, Role::Client] {
            let config = Config::default().streaming(streaming).max_message_size(1000).max_frame_size(500);
            let mut conn = Connection::with_mask_keys(role, config, keys(1));
            let mut pos = 0;
            let mut cut = cuts.iter().cycle();
            let mut failed: Option<ProtocolError> = None;
            while pos < input.len() {
                let n = (*cut.next().unwrap()).min(input.len() - pos);
                conn.handle_bytes(&input[pos..pos + n]);
                pos += n;
                loop {
                    match conn.poll_event() {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => { failed = Some(e); break; }
                    }
                }
                prop_assert!(conn.buffered_input_len() <= 500 + 14 + 300);
            }
            if let Some(error) = failed {
                // A failed connection queued a Close frame with the error's code, last, unless
                // the peer's Close had arrived first (then nothing more may be sent).
                let peer = if role == Role::Server { Role::Client } else { Role::Server };
                let mut out = conn.poll_output().to_vec();
                let last = last_frame(peer, &mut out);
                if error != ProtocolError::DataAfterClose {
                    let (opcode, payload) = last.expect("a close frame was queued");
                    prop_assert_eq!(opcode, OpCode::Close);
                    prop_assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), error.close_code().0);
                }
            }
        }
    }
}

/// Decodes `wire` as `receiver` would and returns the last frame's opcode and payload.
fn last_frame(receiver: Role, wire: &mut [u8]) -> Option<(OpCode, Vec<u8>)> {
    let mut decoder = FrameDecoder::new(receiver);
    let mut last = None;
    let mut pos = 0;
    while pos < wire.len() {
        let step = decoder.decode(&mut wire[pos..]).expect("our own output decodes");
        match step.item {
            Decoded::Header(h) => last = Some((h.opcode, Vec::new())),
            Decoded::Payload { range, .. } => last.as_mut()?.1.extend_from_slice(&wire[pos..][range]),
            Decoded::NeedMore => break,
        }
        pos += step.consumed;
    }
    last
}
