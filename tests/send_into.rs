//! `Connection::send_into` and `append_output`: the bytes a caller's buffer receives are, byte
//! for byte, the stream `send` + draining the output would have written, whatever is
//! interleaved (Pings, Pongs, the peer's Pings and Close, streamed messages, partial writes),
//! for both roles (a client with a pinned key source), with and without permessage-deflate and
//! fragmentation; queued control frames come out first; the send bound counts the caller's
//! buffer.
//!
//! `Connection::send_vectored` the same way: its pieces, written in part or whole (or not at
//! all, or reported wrongly), then the connection's output, are the stream `send` writes.

use proptest::prelude::*;
use rfc6455::close::CloseCode;
use rfc6455::connection::{Config, Connection, Event, MaskKeySource, MessageKind};
use rfc6455::frame::{OpCode, encode_frame_to_vec};
use rfc6455::{Role, UsageError};

fn keys(seed: u32) -> MaskKeySource {
    let mut n = seed;
    Box::new(move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_le_bytes()
    })
}

fn connection(role: Role, config: Config, deflate: bool) -> Connection {
    let mut builder = Connection::builder(role).config(config).mask_keys(keys(0x5eed));
    if deflate {
        #[cfg(feature = "deflate")]
        {
            use rfc6455::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
            let config = DeflateConfig::default();
            builder =
                builder.extension(Box::new(PerMessageDeflate::new(role, DeflateParams::default(), &config)));
        }
    }
    builder.build()
}

/// A frame from `conn`'s peer: masked when `conn` is a server (§5.1).
fn from_peer(conn: &Connection, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mask = (conn.role() == Role::Server).then_some([9, 8, 7, 6]);
    let mut wire = Vec::new();
    encode_frame_to_vec(true, 0, opcode, payload, mask, &mut wire).unwrap();
    wire
}

fn take_events(conn: &mut Connection) -> usize {
    let mut n = 0;
    while conn.poll_event().is_some() {
        n += 1;
    }
    n
}

/// Writes up to `n` pending bytes through `poll_output` + `handle_written`.
fn write_some(conn: &mut Connection, wire: &mut Vec<u8>, mut n: usize) {
    while n > 0 {
        let out = conn.poll_output();
        if out.is_empty() {
            return;
        }
        let take = out.len().min(n);
        wire.extend_from_slice(&out[..take]);
        conn.handle_written(take).unwrap();
        n -= take;
    }
}

/// How much of a `send_vectored`'s pieces the vectored write takes.
#[derive(Debug, Clone, Copy)]
enum Take {
    /// All of them.
    All,
    /// This many thousandths of them (rounded down; 0 is `written(0)`).
    Part(usize),
    /// The send is dropped without a report.
    Dropped,
    /// One byte more than was handed out is reported.
    TooMuch,
}

#[derive(Debug, Clone)]
enum Op {
    /// A message; `Take` is for the `send_vectored` side.
    Send(MessageKind, Vec<u8>, Take),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// One piece of a streamed message.
    Chunk(MessageKind, Vec<u8>, bool),
    PeerPing(Vec<u8>),
    PeerClose,
    Close,
    /// The transport takes this many bytes.
    Write(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![Just(MessageKind::Binary), Just(MessageKind::Text)];
    let data = prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..140),
        1 => proptest::collection::vec(b'a'..=b'c', 0..70_000),
        1 => proptest::collection::vec(any::<u8>(), 0..2000),
    ];
    let text_or_binary = (kind.clone(), data).prop_map(|(kind, data)| match kind {
        // Mostly valid text; sometimes invalid, which both refuse alike.
        MessageKind::Text if data.first().is_some_and(|b| b % 8 != 0) => {
            (kind, String::from_utf8_lossy(&data).into_owned().into_bytes())
        }
        _ => (kind, data),
    });
    let control = proptest::collection::vec(any::<u8>(), 0..130);
    prop_oneof![
        6 => (text_or_binary, take()).prop_map(|((k, d), take)| Op::Send(k, d, take)),
        1 => control.clone().prop_map(Op::Ping),
        1 => control.clone().prop_map(Op::Pong),
        1 => (kind, proptest::collection::vec(any::<u8>(), 0..50), any::<bool>())
            .prop_map(|(k, d, last)| Op::Chunk(k, d, last)),
        1 => proptest::collection::vec(any::<u8>(), 0..125).prop_map(Op::PeerPing),
        1 => Just(Op::PeerClose),
        1 => Just(Op::Close),
        3 => (0usize..5000).prop_map(Op::Write),
    ]
}

fn take() -> impl Strategy<Value = Take> {
    prop_oneof![
        3 => Just(Take::All),
        3 => (0usize..=1000).prop_map(Take::Part),
        1 => Just(Take::Dropped),
        1 => Just(Take::TooMuch),
    ]
}

/// Runs an op that is neither a message nor a write on both connections (the same call on
/// each, or the same bytes from the peer), checking that both answer alike.
fn on_both(op: &Op, by_send: &mut Connection, other: &mut Connection) {
    match op {
        Op::Ping(data) => assert_eq!(other.ping(data), by_send.ping(data)),
        Op::Pong(data) => assert_eq!(other.pong(data), by_send.pong(data)),
        Op::Chunk(kind, data, last) => {
            assert_eq!(other.send_chunk(*kind, data, *last), by_send.send_chunk(*kind, data, *last))
        }
        Op::PeerPing(_) | Op::PeerClose => {
            let frame = match op {
                Op::PeerPing(data) => from_peer(by_send, OpCode::Ping, data),
                _ => from_peer(by_send, OpCode::Close, &[0x03, 0xe8]),
            };
            by_send.handle_bytes(&frame);
            other.handle_bytes(&frame);
            assert_eq!(take_events(other), take_events(by_send));
        }
        Op::Close => {
            assert_eq!(other.close(CloseCode::NORMAL, "bye"), by_send.close(CloseCode::NORMAL, "bye"))
        }
        Op::Send(..) | Op::Write(_) => unreachable!("each runner handles {op:?} its own way"),
    }
}

/// Runs `ops` on two identical connections, one with `send` + draining, the other with
/// `send_into` + `append_output` into a buffer of its own, and returns both streams.
fn run(role: Role, config: Config, deflate: bool, ops: &[Op]) -> (Vec<u8>, Vec<u8>) {
    let mut by_send = connection(role, config.clone(), deflate);
    let mut by_into = connection(role, config, deflate);
    let (mut wire_send, mut wire_into) = (Vec::new(), Vec::new());
    // The caller's buffer of the `send_into` side: output not yet written.
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Send(kind, data, _) => {
                let before = out.len() + by_into.pending_output_len();
                let expected = by_send.send(*kind, data);
                let got = by_into.send_into(*kind, data, &mut out);
                assert_eq!(got, expected, "{op:?}");
                if got.is_err() {
                    assert_eq!(
                        out.len() + by_into.pending_output_len(),
                        before,
                        "a refused send moves nothing"
                    );
                } else {
                    assert_eq!(by_into.pending_output_len(), 0, "everything is in the caller's buffer");
                }
            }
            Op::Ping(_) | Op::Pong(_) | Op::Chunk(..) | Op::PeerPing(_) | Op::PeerClose | Op::Close => {
                on_both(op, &mut by_send, &mut by_into)
            }
            Op::Write(n) => {
                write_some(&mut by_send, &mut wire_send, *n);
                by_into.append_output(&mut out);
                let take = (*n).min(out.len());
                wire_into.extend(out.drain(..take));
            }
        }
        // The bound sees the same output waiting on both sides.
        assert_eq!(out.len() + by_into.pending_output_len(), by_send.pending_output_len(), "after {op:?}");
        assert_eq!(by_into.state(), by_send.state());
    }
    write_some(&mut by_send, &mut wire_send, usize::MAX);
    by_into.append_output(&mut out);
    wire_into.append(&mut out);
    (wire_send, wire_into)
}

/// Runs `ops` on two identical connections, one with `send` + draining, the other with
/// `send_vectored`, whose pieces a vectored write takes as the op's `Take` says (the `send`
/// side then writes as many bytes of its output), and returns both streams.
fn run_vectored(role: Role, config: Config, deflate: bool, ops: &[Op]) -> (Vec<u8>, Vec<u8>) {
    let mut by_send = connection(role, config.clone(), deflate);
    let mut by_vec = connection(role, config, deflate);
    let (mut wire_send, mut wire_vec) = (Vec::new(), Vec::new());
    for op in ops {
        match op {
            Op::Send(kind, data, take) => {
                let expected = by_send.send(*kind, data);
                // Text held as `&str` half the time: `send_text_vectored`, not validated again.
                let sent = match (*kind, std::str::from_utf8(data)) {
                    (MessageKind::Text, Ok(text)) if data.len() % 2 == 0 => by_vec.send_text_vectored(text),
                    _ => by_vec.send_vectored(*kind, data),
                };
                let mut send = match sent {
                    Ok(send) => send,
                    Err(refused) => {
                        assert_eq!(Err(refused), expected, "{op:?}");
                        continue;
                    }
                };
                assert_eq!(expected, Ok(()), "{op:?}");
                let len = send.len();
                let pieces: Vec<u8> = send.pieces().flatten().copied().collect();
                assert_eq!(pieces.len(), len, "len() is what the pieces hold");
                let n = match *take {
                    Take::All => len,
                    Take::Part(thousandths) => len * thousandths / 1000,
                    Take::Dropped | Take::TooMuch => 0,
                };
                match *take {
                    Take::Dropped => drop(send),
                    Take::TooMuch => {
                        let report = send.written(len + 1);
                        assert_eq!(
                            report,
                            Err(UsageError::WrittenTooMuch { written: len + 1, handed_out: len })
                        );
                    }
                    Take::All | Take::Part(_) => {
                        wire_vec.extend_from_slice(&pieces[..n]);
                        send.written(n).unwrap();
                    }
                }
                write_some(&mut by_send, &mut wire_send, n);
            }
            Op::Ping(_) | Op::Pong(_) | Op::Chunk(..) | Op::PeerPing(_) | Op::PeerClose | Op::Close => {
                on_both(op, &mut by_send, &mut by_vec)
            }
            Op::Write(n) => {
                write_some(&mut by_send, &mut wire_send, *n);
                write_some(&mut by_vec, &mut wire_vec, *n);
            }
        }
        // What the write did not take is the connection's output: the same output waiting.
        assert_eq!(by_vec.pending_output_len(), by_send.pending_output_len(), "after {op:?}");
        assert_eq!(by_vec.state(), by_send.state());
    }
    write_some(&mut by_send, &mut wire_send, usize::MAX);
    write_some(&mut by_vec, &mut wire_vec, usize::MAX);
    (wire_send, wire_vec)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn send_into_writes_the_stream_send_writes(
        ops in proptest::collection::vec(op(), 0..24),
        client in any::<bool>(),
        deflate in any::<bool>(),
        fragment in prop_oneof![Just(None), (1usize..300).prop_map(Some)],
    ) {
        let role = if client { Role::Client } else { Role::Server };
        // Pings answered while the output is full are coalesced on the connection's own
        // queue, which the caller's buffer does not share: keep the bound out of reach here
        // (the bound has its own property below).
        let config = Config::default().fragment_size(fragment).max_pending_output(64 << 20);
        let (by_send, by_into) = run(role, config, deflate && cfg!(feature = "deflate"), &ops);
        prop_assert!(by_send == by_into, "streams differ ({} and {} bytes)", by_send.len(), by_into.len());
    }

    #[test]
    fn send_into_refuses_at_the_bound_exactly_as_send(
        ops in proptest::collection::vec(op(), 0..24),
        client in any::<bool>(),
        limit in 1usize..3000,
    ) {
        // Only messages, the close and writes: a Ping from the peer is coalesced on the
        // connection's own queue (see above), and `ping`, `pong` and `send_chunk` are bound by
        // the connection's own output, which the caller's buffer is not part of.
        let ops: Vec<Op> = ops
            .into_iter()
            .filter(|op| matches!(op, Op::Send(..) | Op::Close | Op::PeerClose | Op::Write(_)))
            .collect();
        let role = if client { Role::Client } else { Role::Server };
        let (by_send, by_into) = run(role, Config::default().max_pending_output(limit), false, &ops);
        prop_assert!(by_send == by_into);
    }

    #[test]
    fn send_vectored_writes_the_stream_send_writes(
        ops in proptest::collection::vec(op(), 0..24),
        client in any::<bool>(),
        deflate in any::<bool>(),
        fragment in prop_oneof![2 => Just(None), 1 => (1usize..300).prop_map(Some)],
        limit in prop_oneof![Just(64usize << 20), 1usize..5000],
    ) {
        // Unlike `send_into`, nothing leaves the connection but what the transport took, so
        // the bound is the connection's own on both sides, Ping coalescing included.
        let role = if client { Role::Client } else { Role::Server };
        let config = Config::default().fragment_size(fragment).max_pending_output(limit);
        let (by_send, by_vec) = run_vectored(role, config, deflate && cfg!(feature = "deflate"), &ops);
        prop_assert!(by_send == by_vec, "streams differ ({} and {} bytes)", by_send.len(), by_vec.len());
    }
}

#[test]
fn queued_control_frames_come_out_first() {
    for role in [Role::Server, Role::Client] {
        let mut conn = connection(role, Config::default(), false);
        let mut reference = connection(role, Config::default(), false);
        for c in [&mut conn, &mut reference] {
            let ping = from_peer(c, OpCode::Ping, b"auto");
            c.handle_bytes(&ping);
            assert_eq!(take_events(c), 1);
            c.ping(b"mine").unwrap();
        }
        reference.send_binary(b"data").unwrap();
        let mut expected = Vec::new();
        write_some(&mut reference, &mut expected, usize::MAX);

        let mut out = b"earlier".to_vec();
        conn.send_into(MessageKind::Binary, b"data", &mut out).unwrap();
        assert_eq!(out[..7], *b"earlier", "{role:?}: what the buffer held stays first");
        assert_eq!(out[7..], expected[..], "{role:?}: the automatic Pong, our Ping, then the message");
        assert_eq!(conn.pending_output_len(), 0);
        // The Pong and the Ping come first, unmasked or masked as the role says.
        let mask_bit = if role == Role::Client { 0x80 } else { 0 };
        assert_eq!(out[7..9], [0x8a, mask_bit | 4]);
    }
}

#[test]
fn nothing_after_our_close_and_the_close_keeps_its_place() {
    let mut conn = connection(Role::Server, Config::default(), false);
    let mut out = Vec::new();
    conn.send_into(MessageKind::Text, b"last words", &mut out).unwrap();
    conn.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(conn.send_into(MessageKind::Text, b"more", &mut out), Err(UsageError::Closed));
    assert_eq!(out, b"\x81\x0alast words", "a refused send moves nothing");
    assert_eq!(conn.append_output(&mut out), 4);
    assert_eq!(out[12..], [0x88, 0x02, 0x03, 0xe8]);
}

#[test]
fn the_callers_buffer_counts_toward_the_bound() {
    let mut conn = connection(Role::Server, Config::default().max_pending_output(100), false);
    let mut out = vec![0u8; 60];
    conn.pong(&[1; 30]).unwrap(); // 32 bytes pending in the connection
    conn.send_into(MessageKind::Binary, &[2; 10], &mut out).unwrap();
    assert_eq!(out.len(), 60 + 32 + 12);
    assert_eq!(
        conn.send_into(MessageKind::Binary, &[3], &mut out),
        Err(UsageError::OutputFull { pending: 104, limit: 100 })
    );
    // The same bound refuses the connection's own sends only by what it holds itself.
    conn.ping(b"").unwrap();
    assert_eq!(
        conn.send_into(MessageKind::Binary, &[3], &mut out),
        Err(UsageError::OutputFull { pending: 106, limit: 100 })
    );
    assert_eq!(out.len(), 104, "nothing moved");
    out.clear(); // written
    conn.send_into(MessageKind::Binary, &[3], &mut out).unwrap();
    assert_eq!(out, [0x89, 0x00, 0x82, 0x01, 3]);
    // One message may take the output past the bound, as with `send`.
    let mut out = Vec::new();
    conn.send_into(MessageKind::Binary, &[4; 500], &mut out).unwrap();
    assert_eq!(out.len(), 504);
}

#[test]
fn refused_like_send() {
    let mut conn = connection(Role::Client, Config::default(), false);
    let mut out = Vec::new();
    assert_eq!(conn.send_into(MessageKind::Text, &[0xff], &mut out), Err(UsageError::InvalidUtf8));
    conn.send_chunk(MessageKind::Binary, b"part", false).unwrap();
    assert_eq!(conn.send_into(MessageKind::Binary, b"x", &mut out), Err(UsageError::MessageInProgress));
    assert!(out.is_empty());
    conn.send_chunk(MessageKind::Binary, b"end", true).unwrap();
    conn.send_into(MessageKind::Binary, b"x", &mut out).unwrap();
    assert_eq!(out.len(), (6 + 4) + (6 + 3) + (6 + 1));
}

#[test]
fn output_taken_this_way_ends_what_was_handed_out() {
    let mut conn = connection(Role::Server, Config::default(), false);
    conn.send_binary(b"abc").unwrap();
    let handed = conn.poll_output().len();
    let mut out = Vec::new();
    conn.send_into(MessageKind::Binary, b"d", &mut out).unwrap();
    assert_eq!(out, b"\x82\x03abc\x82\x01d");
    // The moved bytes are the caller's now: reporting them written again is refused.
    assert_eq!(conn.handle_written(handed), Err(UsageError::WrittenTooMuch { written: 5, handed_out: 0 }));
}

#[test]
fn append_output_hands_over_the_buffer_or_appends_every_piece() {
    let mut conn = connection(Role::Server, Config::default(), false);
    let mut out = Vec::new();
    assert_eq!(conn.append_output(&mut out), 0);
    conn.send_text("one").unwrap();
    assert_eq!(conn.append_output(&mut out), 5);
    assert_eq!(out, b"\x81\x03one");
    // Held payloads and a partly written buffer.
    conn.send_owned(MessageKind::Binary, vec![7u8; 4096]).unwrap();
    conn.send_text("two").unwrap();
    let mut wire = Vec::new();
    write_some(&mut conn, &mut wire, 2);
    assert_eq!(conn.append_output(&mut out), 2 + 4096 + 5);
    assert_eq!(out.len(), 5 + 2 + 4096 + 5);
    assert_eq!(out[5..7], [0x10, 0x00]); // the rest of the 16-bit length
    assert_eq!(out[out.len() - 5..], *b"\x81\x03two");
    assert_eq!(conn.pending_output_len(), 0);
    // The connection keeps working after its buffer was handed over.
    conn.send_binary(b"three").unwrap();
    let mut again = Vec::new();
    assert_eq!(conn.append_output(&mut again), 7);
    conn.send_binary(b"four").unwrap();
    assert_eq!(conn.poll_output(), b"\x82\x04four");
}

#[test]
fn a_client_masks_with_fresh_keys_from_its_source() {
    let mut conn = connection(Role::Client, Config::default(), false);
    let mut reference = connection(Role::Client, Config::default(), false);
    let mut out = Vec::new();
    for i in 0..4u8 {
        conn.send_into(MessageKind::Binary, &[i; 16], &mut out).unwrap();
        reference.send_binary(&[i; 16]).unwrap();
    }
    let mut expected = Vec::new();
    write_some(&mut reference, &mut expected, usize::MAX);
    assert_eq!(out, expected);
    let keys: Vec<&[u8]> = out.chunks(22).map(|frame| &frame[2..6]).collect();
    assert!(keys.windows(2).all(|w| w[0] != w[1]), "a fresh key per frame (§5.3)");
    // What a server reads is what was sent.
    let mut server = connection(Role::Server, Config::default(), false);
    server.handle_bytes(&out);
    let mut seen = Vec::new();
    while let Some(event) = server.poll_event() {
        if let Event::Binary(data) = event {
            seen.push(data.to_vec());
        }
    }
    assert_eq!(seen, (0..4u8).map(|i| vec![i; 16]).collect::<Vec<_>>());
}

/// The bytes `conn` writes for one message sent with `send` (after anything it had queued).
fn what_send_writes(mut conn: Connection, kind: MessageKind, data: &[u8]) -> Vec<u8> {
    conn.send(kind, data).unwrap();
    let mut wire = Vec::new();
    write_some(&mut conn, &mut wire, usize::MAX);
    wire
}

/// A server's payload of 2 KiB or more, with nothing pending, goes out from where it lies.
#[test]
fn a_servers_payload_is_handed_out_in_place() {
    let data = vec![7u8; 4096];
    let mut conn = connection(Role::Server, Config::default(), false);
    let mut send = conn.send_vectored(MessageKind::Binary, &data).unwrap();
    assert!(send.in_place());
    assert_eq!((send.len(), send.is_empty()), (4 + 4096, false));
    let pieces: Vec<&[u8]> = send.pieces().collect();
    assert_eq!(pieces.len(), 2);
    assert_eq!(pieces[0], [0x82, 126, 0x10, 0x00], "FIN + Binary, a 16-bit length (§5.2)");
    assert!(core::ptr::eq(pieces[1], &data[..]), "the payload itself, not a copy");
    assert!(format!("{send:?}").contains("in_place: true"));
    send.written(4 + 4096).unwrap();
    assert_eq!(conn.pending_output_len(), 0, "nothing was copied");

    // Cut anywhere, header included: the rest is the connection's output.
    for n in [0, 1, 3, 4, 5, 4099] {
        let mut send = conn.send_vectored(MessageKind::Binary, &data).unwrap();
        let mut wire: Vec<u8> = send.pieces().flatten().copied().take(n).collect();
        send.written(n).unwrap();
        assert_eq!(conn.pending_output_len(), 4 + 4096 - n);
        write_some(&mut conn, &mut wire, usize::MAX);
        assert_eq!(wire[..4], [0x82, 126, 0x10, 0x00], "cut at {n}");
        assert_eq!(wire[4..], data[..], "cut at {n}");
    }
}

/// Text held as `&str` goes out in place as a Text frame.
#[test]
fn text_goes_out_in_place_as_text() {
    let page = "é".repeat(2000);
    let expected = what_send_writes(
        connection(Role::Server, Config::default(), false),
        MessageKind::Text,
        page.as_bytes(),
    );
    for by_str in [false, true] {
        let mut conn = connection(Role::Server, Config::default(), false);
        let mut send = if by_str {
            conn.send_text_vectored(&page).unwrap()
        } else {
            conn.send_vectored(MessageKind::Text, page.as_bytes()).unwrap()
        };
        assert!(send.in_place());
        let wire: Vec<u8> = send.pieces().flatten().copied().collect();
        send.written(wire.len()).unwrap();
        assert_eq!(wire, expected, "by &str: {by_str}");
    }
}

/// Where a copy is needed, or cheaper, the message goes into the connection's output and the
/// pieces are that output, in order: what `send` would have written.
#[test]
fn copied_when_masked_transformed_split_small_or_behind_output() {
    let data = vec![b'a'; 4096];
    let plain = |role| move || connection(role, Config::default(), false);
    let split = || connection(Role::Server, Config::default().fragment_size(Some(1000)), false);
    let deflate = || connection(Role::Server, Config::default(), true);
    let behind = || {
        let mut conn = connection(Role::Server, Config::default(), false);
        conn.ping(b"first").unwrap();
        conn
    };
    type Case<'a> = (&'a str, Box<dyn Fn() -> Connection>, &'a [u8]);
    let mut cases: Vec<Case<'_>> = vec![
        ("client (masks)", Box::new(plain(Role::Client)), &data),
        ("fragmented", Box::new(split), &data),
        ("small", Box::new(plain(Role::Server)), &data[..2047]),
        ("behind a Ping", Box::new(behind), &data),
    ];
    if cfg!(feature = "deflate") {
        cases.push(("permessage-deflate", Box::new(deflate), &data));
    }
    for (case, new, payload) in cases {
        let expected = what_send_writes(new(), MessageKind::Text, payload);

        let mut conn = new();
        let mut send = conn.send_vectored(MessageKind::Text, payload).unwrap();
        assert!(!send.in_place(), "{case}");
        assert_eq!(send.len(), expected.len(), "{case}");
        let wire: Vec<u8> = send.pieces().flatten().copied().collect();
        assert_eq!(wire, expected, "{case}");
        send.written(wire.len()).unwrap();
        assert_eq!(conn.pending_output_len(), 0, "{case}");
        if case == "behind a Ping" {
            assert_eq!(wire[..7], *b"\x89\x05first", "the Ping stays first");
        }
    }
}

#[test]
fn vectored_sends_are_refused_like_send() {
    let data = vec![0xffu8; 4096];
    let mut conn = connection(Role::Server, Config::default().max_pending_output(10), false);
    assert_eq!(conn.send_vectored(MessageKind::Text, &data).unwrap_err(), UsageError::InvalidUtf8);
    conn.send_chunk(MessageKind::Binary, b"part", false).unwrap();
    assert_eq!(conn.send_vectored(MessageKind::Binary, &data).unwrap_err(), UsageError::MessageInProgress);
    conn.send_chunk(MessageKind::Binary, b"end", true).unwrap();
    assert_eq!(
        conn.send_vectored(MessageKind::Binary, &data).unwrap_err(),
        UsageError::OutputFull { pending: 11, limit: 10 }
    );
    write_some(&mut conn, &mut Vec::new(), usize::MAX);
    conn.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(conn.send_vectored(MessageKind::Binary, &data).unwrap_err(), UsageError::Closed);
}

/// Dropped without a report, or reported wrongly, the message is still sent, whole and once.
#[test]
fn an_unreported_send_is_still_sent_whole() {
    let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let expected =
        what_send_writes(connection(Role::Server, Config::default(), false), MessageKind::Binary, &data);
    for wrong in [false, true] {
        let mut conn = connection(Role::Server, Config::default(), false);
        let send = conn.send_vectored(MessageKind::Binary, &data).unwrap();
        if wrong {
            assert!(send.written(expected.len() + 1).is_err());
        } else {
            drop(send);
        }
        let mut wire = Vec::new();
        write_some(&mut conn, &mut wire, usize::MAX);
        assert_eq!(wire, expected, "wrong report: {wrong}");
        // Frames queued after it come after it.
        conn.ping(b"next").unwrap();
        write_some(&mut conn, &mut wire, usize::MAX);
        assert_eq!(wire[expected.len()..], *b"\x89\x04next");
    }
}
