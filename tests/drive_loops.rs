//! The README's drive-loop shapes, run against a misbehaving transport and a peer that breaks
//! the protocol: every way of writing output (`write_to`, `poll_output` + `handle_written`,
//! `output_pieces` + a vectored write, `poll_transmit`) must put exactly the frames that were
//! sent on the wire, in order, with held (`send_owned`) payloads, automatic Pongs and the
//! final Close; and the application must see the end of the connection exactly once, with
//! its reason. Also: a peer that floods Pings and never reads leaves our output bounded, and
//! every Ping is answered while the output has room.

use std::io::{self, IoSlice, Write};

use rfc6455::connection::{CloseOrigin, Config, Connection, Event, OwnedEvent, State};
use rfc6455::frame::{Decoded, FrameDecoder, OpCode};
use rfc6455::{CloseCode, MessageKind, ProtocolError, Role, UsageError};

/// A socket that takes at most `max` bytes per write and says `WouldBlock` on every third
/// call, as a non-blocking socket under pressure does.
struct Stingy {
    wire: Vec<u8>,
    max: usize,
    calls: usize,
}

impl Stingy {
    fn new(max: usize) -> Self {
        Self { wire: Vec::new(), max, calls: 0 }
    }

    fn allow(&mut self) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 3 == 0 { Err(io::ErrorKind::WouldBlock.into()) } else { Ok(self.max) }
    }
}

impl Write for Stingy {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.allow()?.min(buf.len());
        self.wire.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut room = self.allow()?;
        let mut n = 0;
        for buf in bufs {
            let take = room.min(buf.len());
            self.wire.extend_from_slice(&buf[..take]);
            n += take;
            room -= take;
            if room == 0 {
                break;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The ways the README and the crate docs write output.
#[derive(Debug, Clone, Copy)]
enum Shape {
    WriteTo,
    PollOutput,
    OutputPieces,
    PollTransmit,
}

/// Writes everything `conn` has pending to `socket` the way `shape` does, retrying on
/// `WouldBlock` (a real loop would wait for the socket to be writable).
fn flush(conn: &mut Connection, socket: &mut Stingy, shape: Shape) {
    while conn.pending_output_len() > 0 {
        match shape {
            Shape::WriteTo => match conn.write_to(socket) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            },
            Shape::PollOutput => {
                let out = conn.poll_output();
                match socket.write(out) {
                    Ok(n) => conn.handle_written(n).unwrap(),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            Shape::OutputPieces => {
                let slices: Vec<IoSlice<'_>> = conn.output_pieces().map(IoSlice::new).collect();
                match socket.write_vectored(&slices) {
                    Ok(n) => conn.handle_written(n).unwrap(),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            Shape::PollTransmit => {
                let mut buf = [0u8; 5];
                let n = conn.poll_transmit(&mut buf);
                socket.wire.extend_from_slice(&buf[..n]);
            }
        }
    }
}

/// The frames on a server's wire, as (FIN, opcode, payload), decoded by the frame layer alone.
fn frames(mut wire: Vec<u8>) -> Vec<(bool, OpCode, Vec<u8>)> {
    let mut decoder = FrameDecoder::new(Role::Client);
    decoder.set_max_frame_size(u64::MAX >> 1);
    let mut frames = Vec::new();
    let mut at = 0;
    let mut current: Option<(bool, OpCode, Vec<u8>)> = None;
    while at < wire.len() {
        let step = decoder.decode(&mut wire[at..]).expect("our own output is valid");
        match step.item {
            Decoded::Header(header) => {
                current = Some((header.fin, header.opcode, Vec::new()));
                if header.payload_len == 0 {
                    frames.push(current.take().unwrap());
                }
            }
            Decoded::Payload { range, frame_end } => {
                let frame = current.as_mut().expect("payload after a header");
                frame.2.extend_from_slice(&wire[at + range.start..at + range.end]);
                if frame_end {
                    frames.push(current.take().unwrap());
                }
            }
            Decoded::NeedMore => break,
        }
        at += step.consumed;
    }
    assert_eq!(at, wire.len(), "the wire ends at a frame boundary");
    frames
}

/// What the peer (a client) sends: text, a large binary message, pings, then a frame with a
/// reserved opcode, then more text that must never be read.
fn peer_bytes() -> Vec<u8> {
    let mut client = Connection::builder(Role::Client).mask_keys(Box::new(|| [9, 8, 7, 6])).build();
    client.send_text("hello").unwrap();
    client.ping(b"p1").unwrap();
    client.send_binary(&vec![0xab; 5000]).unwrap();
    client.ping(b"p2").unwrap();
    client.send_text("héllo again").unwrap();
    let mut wire = Vec::new();
    client.write_to(&mut wire).unwrap();
    wire.extend_from_slice(b"\x83\x80\x00\x00\x00\x00"); // reserved opcode 3: a protocol error
    client.send_text("never read").unwrap();
    client.write_to(&mut wire).unwrap();
    wire
}

/// The README's server loop: echo text with `send_text`, binary with `send_owned`, record the
/// events, write with `shape`. The peer's bytes arrive in reads of `read` bytes.
fn run_server(shape: Shape, read: usize) -> (Vec<OwnedEvent>, Vec<u8>) {
    let mut conn = Connection::new(Role::Server, Config::default());
    let mut socket = Stingy::new(7);
    let mut seen = Vec::new();
    for bytes in peer_bytes().chunks(read) {
        conn.handle_bytes(bytes);
        let mut replies: Vec<(MessageKind, Vec<u8>)> = Vec::new();
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Text(text) => replies.push((MessageKind::Text, text.as_bytes().to_vec())),
                Event::Binary(data) => replies.push((MessageKind::Binary, data.to_vec())),
                _ => {}
            }
            seen.push(event.into_owned());
        }
        for (kind, payload) in replies {
            // Refused (`Closed`) once the connection has failed: nothing is sent after our
            // Close (§5.5.1).
            let sent = match kind {
                MessageKind::Text => conn.send_text(std::str::from_utf8(&payload).unwrap()),
                MessageKind::Binary => conn.send_owned(MessageKind::Binary, payload),
            };
            assert!(sent.is_ok() || (sent == Err(UsageError::Closed) && conn.state() == State::Closed));
        }
        flush(&mut conn, &mut socket, shape);
        if conn.should_drop_transport() {
            break;
        }
    }
    assert!(conn.should_drop_transport(), "{shape:?}: the server drops the transport after its Close");
    // Later calls say the same thing: no event, the same reason, commands refused.
    assert_eq!(conn.poll_event(), None);
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(conn.close_info().unwrap().error(), Some(&ProtocolError::ReservedOpcode(3)));
    assert_eq!(conn.send_text("late"), Err(UsageError::Closed));
    (seen, socket.wire)
}

#[test]
fn every_loop_shape_puts_exactly_what_was_sent_on_the_wire_and_sees_the_end_once() {
    for read in [1, 3, 1460, usize::MAX] {
        let reference = run_server(Shape::WriteTo, read);
        for shape in [Shape::PollOutput, Shape::OutputPieces, Shape::PollTransmit] {
            let (events, wire) = run_server(shape, read);
            assert_eq!(events, reference.0, "{shape:?}, reads of {read}");
            assert_eq!(wire, reference.1, "{shape:?}, reads of {read}");
        }
        let (events, _) = &reference;
        // The application saw the messages, the pings, and the end exactly once, last; nothing
        // after the failure was read.
        assert_eq!(
            &events[..5],
            &[
                OwnedEvent::Text("hello".into()),
                OwnedEvent::Ping(b"p1".to_vec()),
                OwnedEvent::Binary(vec![0xab; 5000]),
                OwnedEvent::Ping(b"p2".to_vec()),
                OwnedEvent::Text("héllo again".into()),
            ]
        );
        assert_eq!(events.len(), 6, "reads of {read}");
        let OwnedEvent::Closed(info) = &events[5] else { panic!("the end is the last event") };
        assert_eq!(info.origin(), &CloseOrigin::Failed(ProtocolError::ReservedOpcode(3)));
        assert_eq!(info.code(), CloseCode::PROTOCOL_ERROR);
    }

    let close = (true, OpCode::Close, 1002u16.to_be_bytes().to_vec());
    // Read a byte at a time, every message is answered before the failure is seen: the wire
    // holds exactly the echoes, a Pong per Ping, and the Close with 1002, in order.
    let (_, wire) = run_server(Shape::WriteTo, 1);
    assert_eq!(
        frames(wire),
        vec![
            (true, OpCode::Text, b"hello".to_vec()),
            (true, OpCode::Pong, b"p1".to_vec()),
            (true, OpCode::Binary, vec![0xab; 5000]),
            (true, OpCode::Pong, b"p2".to_vec()),
            (true, OpCode::Text, "héllo again".as_bytes().to_vec()),
            close.clone(),
        ]
    );
    // Read at once, the failure is seen before any reply is sent, so none is (nothing follows
    // our Close); the Pings were answered as they were read.
    let (_, wire) = run_server(Shape::WriteTo, usize::MAX);
    assert_eq!(
        frames(wire),
        vec![(true, OpCode::Pong, b"p1".to_vec()), (true, OpCode::Pong, b"p2".to_vec()), close]
    );
}

#[test]
fn a_ping_flood_from_a_peer_that_never_reads_leaves_output_bounded() {
    let limit = 4096;
    let mut server = Connection::new(Role::Server, Config::default().max_pending_output(limit));
    let mut client = Connection::builder(Role::Client).mask_keys(Box::new(|| [1, 2, 3, 4])).build();
    let mut peak = 0;
    let mut pings = 0u32;
    while pings < 100_000 {
        let mut wire = Vec::new();
        // Batches of up to 100 Pings per read; we never write anything back.
        for _ in 0..100 {
            client.ping(&pings.to_be_bytes()).unwrap();
            pings += 1;
        }
        client.write_to(&mut wire).unwrap();
        server.handle_bytes(&wire);
        while let Some(event) = server.poll_event() {
            assert!(matches!(event, Event::Ping(_)));
        }
        peak = peak.max(server.pending_output_len());
    }
    // Every Ping is answered until the output is full (6-byte Pongs); from then on the last
    // unsent Pong answers the most recent Ping (§5.5.3): at most one Pong past the bound.
    assert_eq!(peak, limit + 6 - limit % 6, "pending output stops at the bound");
    let mut out = Vec::new();
    server.write_to(&mut out).unwrap();
    assert_eq!(out.len(), peak);
    assert_eq!(out[..6], [0x8a, 0x04, 0, 0, 0, 0], "the first Pings were answered in order");
    assert_eq!(out[out.len() - 6..], [&[0x8a, 0x04][..], &(pings - 1).to_be_bytes()].concat()[..]);
    println!("100,000 Pings, never read: peak pending output {peak} bytes (bound {limit})");
}

#[test]
fn a_ping_flood_stays_bounded_while_output_is_handed_out_and_partly_written() {
    // An async driver hands its output out (`output_pieces`), the transport takes part of it
    // and then blocks, and the handed-out bytes stay handed out while it waits. Pongs queued
    // after them were never handed out, so they may still be coalesced: the bound must hold.
    // (Found by tools/wsload: with `handed_out != 0` read as "nothing may be replaced", a
    // server grew by 2 GiB in 12 s under ten Ping floods.)
    let limit = 4096;
    let mut server = Connection::new(Role::Server, Config::default().max_pending_output(limit));
    let mut client = Connection::builder(Role::Client).mask_keys(Box::new(|| [1, 2, 3, 4])).build();
    let mut peak = 0;
    let mut pings = 0u32;
    let mut written = Vec::new();
    while pings < 100_000 {
        for _ in 0..100 {
            client.ping(&pings.to_be_bytes()).unwrap();
            pings += 1;
        }
        let mut wire = Vec::new();
        client.write_to(&mut wire).unwrap();
        server.handle_bytes(&wire);
        while let Some(event) = server.poll_event() {
            assert!(matches!(event, Event::Ping(_)));
        }
        // Hand everything out, as a vectored write would; the transport takes 5 bytes (not a
        // whole Pong) and then would block, so the rest stays handed out.
        let handed: usize = server.output_pieces().map(<[u8]>::len).sum();
        let n = handed.min(5);
        let first: Vec<u8> = server.output_pieces().flatten().copied().take(n).collect();
        written.extend_from_slice(&first);
        server.handle_written(n).unwrap();
        peak = peak.max(server.pending_output_len());
    }
    assert!(peak <= limit + 6, "pending output reached {peak} bytes (bound {limit})");
    // The wire is still a sequence of whole Pongs, and the last one answers the last Ping.
    let mut rest = Vec::new();
    server.write_to(&mut rest).unwrap();
    written.extend_from_slice(&rest);
    assert_eq!(written.len() % 6, 0);
    assert!(written.chunks(6).all(|pong| pong[..2] == [0x8a, 0x04]));
    assert_eq!(written[written.len() - 6..], [&[0x8a, 0x04][..], &(pings - 1).to_be_bytes()].concat()[..]);
}

#[test]
fn every_ping_is_answered_while_output_has_room() {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut client = Connection::builder(Role::Client).mask_keys(Box::new(|| [1, 2, 3, 4])).build();
    for i in 0..10u8 {
        client.ping(&[i]).unwrap();
    }
    let mut wire = Vec::new();
    client.write_to(&mut wire).unwrap();
    server.handle_bytes(&wire); // all ten in one read, as Autobahn case 2.10 sends them
    while server.poll_event().is_some() {}
    let mut out = Vec::new();
    server.write_to(&mut out).unwrap();
    let expected: Vec<u8> = (0..10u8).flat_map(|i| [0x8a, 0x01, i]).collect();
    assert_eq!(out, expected);
}

#[test]
fn backpressure_refuses_sends_not_reads_and_never_a_close() {
    let limit = 64 * 1024;
    let mut server = Connection::new(Role::Server, Config::default().max_pending_output(limit));
    let chunk = vec![0u8; 16 * 1024];
    let mut accepted = 0;
    let refused = loop {
        match server.send_binary(&chunk) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(accepted, 4, "sends are accepted while under the bound");
    assert_eq!(refused, UsageError::OutputFull { pending: 4 * (16 * 1024 + 4), limit });
    assert!(!server.can_send());
    assert_eq!(server.ping(b""), Err(refused.clone()));
    // Reading goes on: the peer's messages and Pings still arrive and are answered.
    let mut client = Connection::builder(Role::Client).mask_keys(Box::new(|| [1, 2, 3, 4])).build();
    client.send_binary(&chunk).unwrap();
    client.ping(b"still there?").unwrap();
    let mut wire = Vec::new();
    client.write_to(&mut wire).unwrap();
    server.handle_bytes(&wire);
    assert!(matches!(server.poll_event(), Some(Event::Binary(data)) if data.len() == chunk.len()));
    assert_eq!(server.poll_event(), Some(Event::Ping(b"still there?")));
    // Writing makes room; a Close is accepted even when full.
    let mut sink = Vec::new();
    let mut buf = [0u8; 10];
    let n = server.poll_transmit(&mut buf);
    sink.extend_from_slice(&buf[..n]);
    assert!(!server.can_send(), "still at the bound after 10 bytes");
    server.close(CloseCode::GOING_AWAY, "full").unwrap();
    server.write_to(&mut sink).unwrap();
    assert_eq!(server.pending_output_len(), 0);
    assert_eq!(server.send_binary(b"x"), Err(UsageError::Closed));
}

#[test]
fn a_send_larger_than_the_bound_is_taken_when_nothing_is_pending() {
    let mut server = Connection::new(Role::Server, Config::default().max_pending_output(1024));
    server.send_owned(MessageKind::Binary, vec![1u8; 10_000]).unwrap();
    assert_eq!(server.send_text("next"), Err(UsageError::OutputFull { pending: 10_004, limit: 1024 }));
    let mut sink = Vec::new();
    server.write_to(&mut sink).unwrap();
    assert!(server.can_send());
    server.send_text("next").unwrap();
}
