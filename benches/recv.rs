//! Receive throughput of a server (masked client frames), through the frame layer and through
//! `Connection`. Run with `cargo bench --bench recv` (or `-- recv_connection/text` to filter).
//!
//! * `recv_frame/KIND/SIZE`: `FrameDecoder` over many messages back to back in one buffer,
//!   unmasking in place, with `Utf8Validator` on text: what a user of the frame layer does.
//!   Each iteration first copies the wire bytes into the buffer (the decoder unmasks in place),
//!   which stands for the socket read.
//! * `recv_connection/KIND/SIZE`: the same stream through one long-lived `Connection`, fed in
//!   16 KiB reads (`read_buf` + `handle_read`), every event drained.
//! * `recv_slices/SLICE`: one stream of 1 KiB multi-byte text messages fed in reads of 1 B,
//!   1460 B (a TCP segment) and 16 KiB.
//! * `recv_fragmented`: a 1 MiB text message of multi-byte characters in 64 frames, with code
//!   points split across frame boundaries and a Ping after the 32nd frame.
//!
//! Sizes of 16 B and 125 B report messages/s (criterion's "elements"); larger sizes report
//! payload bytes/s. Every benchmark id names the number of messages per iteration, so either
//! figure converts into the other.

#[path = "common/mod.rs"]
mod common;
use common::{label, throughput};
use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use rfc6455::Role;
use rfc6455::connection::{Config, Connection, Event};
use rfc6455::frame::{Decoded, FrameDecoder, OpCode, encode_frame_to_vec};
use rfc6455::utf8::Utf8Validator;

const SIZES: [usize; 5] = [16, 125, 1024, 16 * 1024, 1024 * 1024];

const ASCII: &str = "The quick brown fox jumps over the lazy dog; 0123456789 {\"json\": true}\n";
/// 1-, 2-, 3- and 4-byte code points: Latin, Cyrillic, CJK, emoji.
const MIXED: &str = "Hello, Привет мир! 你好，世界。こんにちは 🦀🚀✨ Ελληνικά ";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Binary,
    Ascii,
    Mixed,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Binary, Kind::Ascii, Kind::Mixed];

    fn name(self) -> &'static str {
        match self {
            Kind::Binary => "binary",
            Kind::Ascii => "text-ascii",
            Kind::Mixed => "text-utf8",
        }
    }

    fn opcode(self) -> OpCode {
        if self == Kind::Binary { OpCode::Binary } else { OpCode::Text }
    }
}

/// Exactly `size` bytes: whole characters of `pattern`, padded with ASCII.
fn text_of(pattern: &str, size: usize) -> Vec<u8> {
    let mut out = String::with_capacity(size);
    for c in pattern.chars().cycle() {
        if out.len() + c.len_utf8() > size {
            break;
        }
        out.push(c);
    }
    while out.len() < size {
        out.push('.');
    }
    out.into_bytes()
}

fn payload(kind: Kind, size: usize) -> Vec<u8> {
    match kind {
        Kind::Binary => (0..size).map(|i| (i * 7 + 3) as u8).collect(),
        Kind::Ascii => text_of(ASCII, size),
        Kind::Mixed => text_of(MIXED, size),
    }
}

/// Messages per iteration: about 1 MiB of payload, at least 4 messages.
fn count_for(size: usize) -> usize {
    ((1 << 20) / size).max(4)
}

fn key_for(i: usize) -> [u8; 4] {
    ((i as u32).wrapping_mul(0x9E37_79B9) ^ 0x5A5A_1234).to_le_bytes()
}

fn masked_messages(opcode: OpCode, data: &[u8], count: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    for i in 0..count {
        encode_frame_to_vec(true, 0, opcode, data, Some(key_for(i)), &mut wire).unwrap();
    }
    wire
}

/// Decodes every frame in `buf` with the frame layer, validating text; returns payload bytes.
fn decode_frames(decoder: &mut FrameDecoder, validator: &mut Utf8Validator, mut buf: &mut [u8]) -> usize {
    let mut total = 0;
    let mut text = false;
    while !buf.is_empty() {
        let step = decoder.decode(buf).unwrap();
        match step.item {
            Decoded::Header(header) => text = header.opcode == OpCode::Text,
            Decoded::Payload { range, frame_end } => {
                total += range.len();
                if text {
                    validator.feed(&buf[range]).unwrap();
                    if frame_end {
                        validator.finish().unwrap();
                    }
                }
            }
            Decoded::NeedMore => break,
        }
        buf = &mut buf[step.consumed..];
    }
    total
}

/// Feeds `wire` to `conn` in reads of at most `slice` bytes and drains every event and the
/// output; returns the data payload bytes seen.
fn feed(conn: &mut Connection, wire: &[u8], slice: usize) -> usize {
    let mut total = 0;
    for piece in wire.chunks(slice) {
        let buf = conn.read_buf(piece.len());
        buf[..piece.len()].copy_from_slice(piece);
        conn.handle_read(piece.len());
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Text(text) => total += black_box(text).len(),
                Event::Binary(data) => total += black_box(data).len(),
                _ => {}
            }
        }
        let pending = black_box(conn.poll_output()).len();
        if pending > 0 {
            conn.handle_written(pending).unwrap();
        }
    }
    total
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.measurement_time(Duration::from_secs(1)).warm_up_time(Duration::from_millis(500)).sample_size(20);
}

fn frame_layer(c: &mut Criterion) {
    let mut group = c.benchmark_group("recv_frame");
    configure(&mut group);
    for kind in Kind::ALL {
        for size in SIZES {
            let count = count_for(size);
            let wire = masked_messages(kind.opcode(), &payload(kind, size), count);
            let mut buf = wire.clone();
            let mut decoder = FrameDecoder::new(Role::Server);
            let mut validator = Utf8Validator::new();
            assert_eq!(decode_frames(&mut decoder, &mut validator, &mut buf), size * count);
            group.throughput(throughput(size, count));
            let id = format!("{}/{}x{count}", kind.name(), label(size));
            group.bench_function(id, |b| {
                b.iter(|| {
                    buf.copy_from_slice(&wire);
                    decode_frames(&mut decoder, &mut validator, black_box(&mut buf))
                })
            });
        }
    }
    group.finish();
}

fn connection(c: &mut Criterion) {
    let mut group = c.benchmark_group("recv_connection");
    configure(&mut group);
    for kind in Kind::ALL {
        for size in SIZES {
            let count = count_for(size);
            let wire = masked_messages(kind.opcode(), &payload(kind, size), count);
            // One connection for the whole run: the steady state, buffers already grown.
            let mut conn = Connection::new(Role::Server, Config::default());
            assert_eq!(feed(&mut conn, &wire, 16 * 1024), size * count);
            group.throughput(throughput(size, count));
            let id = format!("{}/{}x{count}", kind.name(), label(size));
            group.bench_function(id, |b| b.iter(|| feed(&mut conn, black_box(&wire), 16 * 1024)));
        }
    }
    group.finish();
}

fn slices(c: &mut Criterion) {
    let mut group = c.benchmark_group("recv_slices");
    configure(&mut group);
    let count = 64;
    let wire = masked_messages(OpCode::Text, &payload(Kind::Mixed, 1024), count);
    group.throughput(Throughput::Bytes((1024 * count) as u64));
    for slice in [1, 1460, 16 * 1024] {
        let mut conn = Connection::new(Role::Server, Config::default());
        assert_eq!(feed(&mut conn, &wire, slice), 1024 * count);
        let id = format!("text-utf8/1KiBx{count}/read-{slice}B");
        group.bench_function(id, |b| b.iter(|| feed(&mut conn, black_box(&wire), slice)));
    }
    group.finish();
}

/// A 1 MiB text message of multi-byte characters in 64 frames, code points split across
/// frames, a Ping after the 32nd.
fn fragmented_wire() -> (Vec<u8>, usize) {
    let text = text_of(MIXED, 1 << 20);
    let frames: Vec<&[u8]> = text.chunks(text.len() / 64).collect();
    assert!(frames.iter().skip(1).any(|f| f[0] & 0xC0 == 0x80), "a frame starts inside a code point");
    let mut wire = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let opcode = if i == 0 { OpCode::Text } else { OpCode::Continuation };
        encode_frame_to_vec(i == frames.len() - 1, 0, opcode, frame, Some(key_for(i)), &mut wire).unwrap();
        if i == 31 {
            encode_frame_to_vec(true, 0, OpCode::Ping, b"are you there?", Some(key_for(99)), &mut wire)
                .unwrap();
        }
    }
    (wire, text.len())
}

fn fragmented(c: &mut Criterion) {
    let mut group = c.benchmark_group("recv_fragmented");
    configure(&mut group);
    let (wire, len) = fragmented_wire();
    group.throughput(Throughput::Bytes(len as u64));
    let mut conn = Connection::new(Role::Server, Config::default());
    assert_eq!(feed(&mut conn, &wire, 16 * 1024), len);
    group.bench_function("text-utf8/1MiB-in-64-frames+ping", |b| {
        b.iter(|| feed(&mut conn, black_box(&wire), 16 * 1024))
    });
    group.finish();
}

criterion_group!(benches, frame_layer, connection, slices, fragmented);
criterion_main!(benches);
