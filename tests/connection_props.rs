//! Properties of a client/server pair: whatever one side sends arrives intact on the other,
//! however the bytes between them are chunked; and no input panics a connection.

use proptest::prelude::*;
use rfc6455::connection::{CloseOrigin, Config, Connection, Event, MaskKeySource, MessageKind, State};
use rfc6455::frame::{CloseFrame, Decoded, FrameDecoder, OpCode};
use rfc6455::{OwnedEvent, Role};

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

fn expected(sends: &[Send]) -> Vec<OwnedEvent> {
    sends
        .iter()
        .map(|s| match s {
            Send::Text(t) => OwnedEvent::Text(t.clone()),
            Send::Binary(b) => OwnedEvent::Binary(b.clone()),
            Send::Stream(MessageKind::Text, pieces) => {
                OwnedEvent::Text(String::from_utf8(pieces.concat()).unwrap())
            }
            Send::Stream(_, pieces) => OwnedEvent::Binary(pieces.concat()),
            Send::Ping(p) => OwnedEvent::Ping(p.clone()),
            Send::Owned { data, .. } => OwnedEvent::Binary(data.clone()),
            Send::OwnedText(t) => OwnedEvent::Text(t.clone()),
        })
        .collect()
}

fn run(
    sender: &mut Connection,
    receiver: &mut Connection,
    sends: &[Send],
    cuts: &[usize],
) -> Vec<OwnedEvent> {
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
        sender.handle_written(taken).unwrap();
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
        while let Some(event) = receiver.poll_event() {
            match event {
                Event::Text(_) | Event::Binary(_) | Event::Ping(_) => got.push(event.into_owned()),
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
        let mut client = Connection::builder(Role::Client)
            .config(Config::default().fragment_size(fragment))
            .mask_keys(keys(seed))
            .build();
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
        let mut client = Connection::builder(Role::Client).mask_keys(keys(7)).build();
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
            let mut conn = Connection::builder(role).config(config).mask_keys(keys(1)).build();
            let mut pos = 0;
            let mut cut = cuts.iter().cycle();
            let mut closed: Option<rfc6455::connection::CloseInfo> = None;
            while pos < input.len() {
                let n = (*cut.next().unwrap()).min(input.len() - pos);
                conn.handle_bytes(&input[pos..pos + n]);
                pos += n;
                while let Some(event) = conn.poll_event() {
                    // The end is reported once, as the last event.
                    prop_assert!(closed.is_none(), "{:?} after {:?}", event, closed);
                    if let Event::Closed(info) = event {
                        closed = Some(info.clone());
                    }
                }
                prop_assert!(conn.buffered_input_len() <= 500 + 14 + 300);
            }
            prop_assert_eq!(closed.as_ref(), conn.close_info());
            prop_assert_eq!(closed.is_some(), conn.state() == State::Closed);
            let Some(info) = closed else { continue };
            let peer = if role == Role::Server { Role::Client } else { Role::Server };
            let mut out = Vec::new();
            conn.write_to(&mut out).unwrap();
            let (opcode, payload) = last_frame(peer, &mut out).expect("a Close frame was queued");
            prop_assert_eq!(opcode, OpCode::Close);
            let sent = CloseFrame::parse(&payload).expect("our Close parses");
            match info.origin() {
                // A failed connection queued a Close frame with the error's code, last.
                CloseOrigin::Failed(error) => {
                    prop_assert_eq!(info.code(), error.close_code());
                    prop_assert_eq!(sent.code, Some(error.close_code()));
                }
                // The peer's Close is echoed with its code (an empty body when it had none).
                CloseOrigin::Peer => {
                    let echoed = sent.code.unwrap_or(rfc6455::CloseCode::NO_STATUS);
                    prop_assert_eq!(echoed, info.code());
                }
                other => return Err(TestCaseError::fail(format!("the connection ended by {other:?}"))),
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
