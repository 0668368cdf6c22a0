//! The hot paths the instruction-count guard measures, one per process.
//!
//! `rfc6455-callgrind PATH` sets PATH up, runs it a few times to warm it (buffers grown,
//! SIMD dispatch chosen), then runs it [`ITERATIONS`] times through [`callgrind_measured`],
//! the one function whose entry and exit `scripts/callgrind.sh` toggles collection on
//! (`--collect-atstart=no --toggle-collect=...`): only the path itself is counted, not the
//! setup, the warm-up or the process around it. `--list` prints the paths, one a line, and
//! `--iterations` the number of runs counted, so the script can divide.
//!
//! Run outside callgrind it simply runs (and checks) every path, which is how `cargo run`
//! smoke-tests it.

use std::hint::black_box;

use base64::Engine as _;
use rfc6455::Role;
use rfc6455::connection::{Config, Connection, Event};
use rfc6455::deflate::{DeflateConfig, negotiate_server};
use rfc6455::frame::{OpCode, encode_frame_to_vec};
use rfc6455::handshake::{self, Accept, Request, RequestParser};
use rfc6455::mask::apply_mask;
use sha1::Digest as _;

/// Runs of each path counted; the script reports the count divided by this.
const ITERATIONS: usize = 64;

/// Runs before counting starts.
const WARM_UP: usize = 8;

/// One run of a path; returns something derived from its output, so nothing is optimised
/// away.
type Op = Box<dyn FnMut() -> usize>;

/// A path's name and how to set it up.
type Path = (&'static str, fn() -> Op);

/// Every path. Names starting with `floor/` are references (the bare steps our code is
/// measured against), reported but not guarded.
const PATHS: &[Path] = &[
    ("recv/binary/16B", || recv(OpCode::Binary, binary(16))),
    ("recv/binary/16KiB", || recv(OpCode::Binary, binary(16 * 1024))),
    ("recv/binary/16KiB/16KiB-reads", || recv_in_reads(OpCode::Binary, binary(16 * 1024), 16 * 1024)),
    ("recv/text-ascii/16KiB/16KiB-reads", || recv_in_reads(OpCode::Text, ascii_text(16 * 1024), 16 * 1024)),
    ("recv/text-utf8/16KiB", || recv(OpCode::Text, utf8_text(16 * 1024))),
    ("send/server/binary/16B", || send(16)),
    ("send/server/binary/16KiB", || send(16 * 1024)),
    ("send/server/binary/125B", || send(125)),
    ("send/client-masked/binary/16B", || send_as(Role::Client, 16)),
    ("send_into/server/binary/16B", || send_into(Role::Server, 16)),
    ("send_into/server/binary/125B", || send_into(Role::Server, 125)),
    ("send_into/server/binary/1KiB", || send_into(Role::Server, 1024)),
    ("send_into/server/binary/16KiB", || send_into(Role::Server, 16 * 1024)),
    ("send_into/client-masked/binary/16B", || send_into(Role::Client, 16)),
    ("send_owned/server/binary/256B", || send_owned(256)),
    ("send_owned/server/binary/1KiB", || send_owned(1024)),
    ("send_owned/server/binary/2KiB", || send_owned(2 * 1024)),
    ("send_owned/server/binary/4KiB", || send_owned(4 * 1024)),
    ("send_owned/server/binary/16KiB", || send_owned(16 * 1024)),
    ("send_vectored/server/binary/16KiB", || send_vectored(16 * 1024)),
    ("mask/16KiB", mask),
    ("handshake/server/chromium", || handshake(chromium(false), false, Parse::Whole)),
    ("handshake/server/chromium+deflate", || handshake(chromium(true), true, Parse::Whole)),
    ("handshake/server/chromium+deflate/parser", || handshake(chromium(true), true, Parse::Parser)),
    ("floor/handshake/chromium", || floor(chromium(false))),
    ("floor/handshake/chromium+deflate", || floor(chromium(true))),
];

fn main() {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--list") => PATHS.iter().for_each(|(name, _)| println!("{name}")),
        Some("--iterations") => println!("{ITERATIONS}"),
        Some(name) => {
            let Some((_, setup)) = PATHS.iter().find(|(n, _)| *n == name) else {
                eprintln!("unknown path {name:?}; --list lists them");
                std::process::exit(2);
            };
            run(setup());
        }
        None => {
            for (name, setup) in PATHS {
                run(setup());
                println!("ok {name}");
            }
        }
    }
}

fn run(mut op: Op) {
    for _ in 0..WARM_UP {
        black_box(op());
    }
    for _ in 0..ITERATIONS {
        black_box(callgrind_measured(&mut op));
    }
}

/// The function callgrind counts: everything it calls, from entry to exit.
#[inline(never)]
fn callgrind_measured(op: &mut Op) -> usize {
    op()
}

fn binary(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 7 + 3) as u8).collect()
}

/// `size` bytes of ASCII text, shaped like JSON.
fn ascii_text(size: usize) -> Vec<u8> {
    br#"{"id":12345,"user":"someone","text":"hello there","tags":["a","b"]},"#.iter().copied().cycle().take(size).collect()
}

/// `size` bytes of 1- to 4-byte characters.
fn utf8_text(size: usize) -> Vec<u8> {
    const MIXED: &str = "Hello, Привет мир! 你好，世界。こんにちは 🦀🚀✨ Ελληνικά ";
    let mut out = String::with_capacity(size);
    for c in MIXED.chars().cycle() {
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

/// A server receiving one masked message per run through a long-lived `Connection`: the read
/// (copied into its buffer, as a socket read would), the event, the output check.
fn recv(opcode: OpCode, payload: Vec<u8>) -> Op {
    let mut wire = Vec::new();
    encode_frame_to_vec(true, 0, opcode, &payload, Some([0x37, 0xfa, 0x21, 0x3d]), &mut wire).unwrap();
    let mut conn = Connection::new(Role::Server, Config::default());
    let expected = payload.len();
    Box::new(move || {
        let buf = conn.read_buf(wire.len());
        buf[..wire.len()].copy_from_slice(&wire);
        conn.handle_read(wire.len());
        let mut total = 0;
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Text(text) => total += text.len(),
                Event::Binary(data) => total += data.len(),
                _ => panic!("unexpected event"),
            }
        }
        assert_eq!(total, expected);
        assert!(conn.poll_output().is_empty());
        total
    })
}

/// A server receiving a stream of masked 16 KiB messages that the transport hands over
/// `read` bytes at a time (a socket read of 16 KiB, as the peer harness does): one message per
/// run, taking as many reads as it needs. A frame is 8 bytes longer than its payload, so
/// almost every message arrives in two pieces, the second only a few bytes of it.
fn recv_in_reads(opcode: OpCode, payload: Vec<u8>, read: usize) -> Op {
    let mut wire = Vec::new();
    encode_frame_to_vec(true, 0, opcode, &payload, Some([0x37, 0xfa, 0x21, 0x3d]), &mut wire).unwrap();
    let frame = wire.len();
    // The stream is the frame repeated; `at` is where the next read starts in it.
    let stream: Vec<u8> = wire.iter().copied().cycle().take(frame * 2 + read).collect();
    let mut at = 0;
    let mut conn = Connection::new(Role::Server, Config::default());
    let expected = payload.len();
    Box::new(move || {
        let mut total = 0;
        while total == 0 {
            let buf = conn.read_buf(read);
            buf[..read].copy_from_slice(&stream[at..at + read]);
            conn.handle_read(read);
            at = (at + read) % frame;
            while let Some(event) = conn.poll_event() {
                match event {
                    Event::Binary(data) => total += data.len(),
                    Event::Text(text) => total += text.len(),
                    _ => panic!("unexpected event"),
                }
            }
        }
        assert_eq!(total, expected);
        total
    })
}

/// A server sending one binary message per run through `send_owned` (an `Arc<[u8]>` it keeps,
/// cloned per message), its output taken as a vectored write would: every piece, then
/// `handle_written`. Held (header in the output buffer, the payload where it lies) or copied
/// into the output buffer, as `HOLD_MIN` decides.
fn send_owned(size: usize) -> Op {
    let data: std::sync::Arc<[u8]> = binary(size).into();
    let mut conn = Connection::new(Role::Server, Config::default());
    Box::new(move || {
        conn.send_owned(rfc6455::MessageKind::Binary, std::sync::Arc::clone(black_box(&data))).unwrap();
        let n: usize = conn.output_pieces().map(<[u8]>::len).sum();
        conn.handle_written(n).unwrap();
        n
    })
}

/// A server sending one binary message per run with `send_vectored`, every piece taken by
/// one vectored write.
fn send_vectored(size: usize) -> Op {
    let data = binary(size);
    let mut conn = Connection::new(Role::Server, Config::default());
    Box::new(move || {
        let mut send = conn.send_vectored(rfc6455::MessageKind::Binary, black_box(&data)).unwrap();
        let n: usize = send.pieces().map(<[u8]>::len).sum();
        send.written(n).unwrap();
        n
    })
}

/// A server sending one binary message per run (`send_binary`), its output taken at once.
fn send(size: usize) -> Op {
    send_as(Role::Server, size)
}

/// [`send`] by either role; a client masks with keys from its default source.
fn send_as(role: Role, size: usize) -> Op {
    let data = binary(size);
    let mut conn = Connection::new(role, Config::default());
    Box::new(move || {
        conn.send_binary(black_box(&data)).unwrap();
        let n = conn.poll_output().len();
        conn.handle_written(n).unwrap();
        n
    })
}

/// One binary message per run encoded straight into the caller's buffer (`send_into`), which
/// the caller then writes and clears; a client masks with keys from its default source.
fn send_into(role: Role, size: usize) -> Op {
    let data = binary(size);
    let mut conn = Connection::new(role, Config::default());
    let mut out = Vec::with_capacity(size + 14);
    Box::new(move || {
        conn.send_into(rfc6455::MessageKind::Binary, black_box(&data), &mut out).unwrap();
        let n = black_box(&out).len();
        out.clear();
        n
    })
}

/// Unmasking 16 KiB in place.
fn mask() -> Op {
    let mut buf = binary(16 * 1024);
    Box::new(move || {
        apply_mask(black_box(&mut buf), [0x37, 0xfa, 0x21, 0x3d], 0);
        buf[0] as usize
    })
}

/// The request head Chromium sends for `new WebSocket("ws://localhost:8080/chat")`, with or
/// without its permessage-deflate offer.
fn chromium(deflate: bool) -> Vec<u8> {
    let mut head = b"GET /chat HTTP/1.1\r\nHost: localhost:8080\r\nConnection: Upgrade\r\nPragma: no-cache\r\n\
        Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
        Chrome/120.0.0.0 Safari/537.36\r\nUpgrade: websocket\r\nOrigin: http://localhost:8080\r\n\
        Sec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        .to_vec();
    if deflate {
        head.extend_from_slice(b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

const ACCEPT_KEY: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// How a handshake's request head is parsed.
#[derive(Clone, Copy)]
enum Parse {
    /// `Request::parse`, on a buffer holding the whole head.
    Whole,
    /// A [`RequestParser`], as a server reading from a socket does (rfc6455-tokio's
    /// `accept`): the head, arrived in one read, is scanned for its end and kept in the
    /// parser's buffer before it is parsed.
    Parser,
}

/// A server's handshake: the request head in, validated, negotiated, and the 101 written into
/// a reused buffer. With `deflate`, the answer accepts the client's permessage-deflate offer
/// (negotiated with the default policy), as a server with compression on does.
fn handshake(head: Vec<u8>, deflate: bool, parse: Parse) -> Op {
    let mut out = Vec::with_capacity(512);
    let policy = deflate.then(DeflateConfig::default);
    let mut checks = WARM_UP;
    Box::new(move || {
        out.clear();
        let mut parser;
        let (request, used) = match parse {
            Parse::Whole => Request::parse(black_box(&head), &handshake::Config::default()).unwrap().unwrap(),
            Parse::Parser => {
                parser = RequestParser::new(handshake::Config::default());
                parser.feed(black_box(&head)).unwrap().unwrap()
            }
        };
        let answer =
            policy.as_ref().and_then(|p| negotiate_server(request.extensions(), p)).map(|p| p.response());
        request.accept(&Accept::new().with_extension(answer.as_deref())).unwrap().write(&mut out).unwrap();
        // Checked in the warm-up only: scanning the output would cost more than writing it.
        if checks > 0 {
            checks -= 1;
            assert_eq!(used, head.len());
            assert!(out.windows(ACCEPT_KEY.len()).any(|w| w == ACCEPT_KEY));
            assert_eq!(deflate, out.windows(18).any(|w| w == b"permessage-deflate"));
        }
        out.len()
    })
}

/// The floor: `httparse`, a lookup of the key, SHA-1, base64 and a minimal 101 (no validation,
/// no negotiation), as in `benches/handshake_floor.rs`.
fn floor(head: Vec<u8>) -> Op {
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut out = Vec::with_capacity(512);
    let mut checks = WARM_UP;
    Box::new(move || {
        out.clear();
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        assert!(request.parse(black_box(&head)).unwrap().is_complete());
        let key =
            request.headers.iter().find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key")).unwrap().value;
        let mut sha = sha1::Sha1::new();
        sha.update(key);
        sha.update(GUID);
        let mut accept = [0u8; 28];
        base64::engine::general_purpose::STANDARD.encode_slice(sha.finalize(), &mut accept).unwrap();
        out.extend_from_slice(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
        );
        out.extend_from_slice(&accept);
        out.extend_from_slice(b"\r\n\r\n");
        if checks > 0 {
            checks -= 1;
            assert_eq!(&out[out.len() - 32..out.len() - 4], ACCEPT_KEY);
        }
        out.len()
    })
}
