//! The peer comparison: the same receive, send, mask and handshake workloads through rfc6455,
//! tungstenite, fastwebsockets and tokio-websockets, interleaved round-robin within one run.
//!
//! Run from the repository root:
//!
//! ```text
//! cargo run --release --manifest-path benches/peers/Cargo.toml
//! cargo run --release --manifest-path benches/peers/Cargo.toml -- recv/text   # a filter
//! ```
//!
//! Environment: `PEERS_ROUNDS` (default 9) rounds per workload, `PEERS_SAMPLE_MS` (default
//! 10) milliseconds per sample. Each workload runs every implementation once per round, in an
//! order that rotates between rounds, so machine noise hits all of them alike; the figure is
//! the median over the rounds.
//!
//! Every implementation is driven through its public API over an in-memory stream, with its
//! default limits and its validation on: received text is validated as UTF-8, received control
//! frames are answered (Pong), and a client masks every frame with a fresh random key. The
//! stream hands out at most 16 KiB per read (a socket's typical read) and copies every written
//! byte into a scratch buffer (what a kernel does with a socket write), so designs that write
//! with `writev` and designs that assemble frames in a buffer are compared on the same terms.
//! Before timing, each implementation's result (messages and payload bytes seen) is checked
//! against the expected one.

use std::cell::Cell;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use sha1::Digest as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use rfc6455::connection::{Config, Connection, Event, MessageKind};
use rfc6455::frame::{OpCode, encode_frame_to_vec};
use rfc6455::handshake::{self, Accept, Request};

/// Bytes one read of the in-memory stream hands out at most.
const READ_SLICE: usize = 16 * 1024;

const SIZES: [usize; 5] = [16, 125, 1024, 16 * 1024, 1024 * 1024];

const ASCII: &str = "The quick brown fox jumps over the lazy dog; 0123456789 {\"json\": true}\n";
/// 1-, 2-, 3- and 4-byte code points: Latin, Cyrillic, CJK, emoji.
const MIXED: &str = "Hello, Привет мир! 你好，世界。こんにちは 🦀🚀✨ Ελληνικά ";

const CHROMIUM: &[u8] = b"GET /chat HTTP/1.1\r\nHost: localhost:8080\r\nConnection: Upgrade\r\nPragma: no-cache\r\n\
    Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
    Chrome/120.0.0.0 Safari/537.36\r\nUpgrade: websocket\r\nOrigin: http://localhost:8080\r\n\
    Sec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
const ACCEPT_KEY: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// ------------------------------------------------------------------------------------------
// In-memory streams
// ------------------------------------------------------------------------------------------

/// Reads serve `input` in pieces of at most [`READ_SLICE`] bytes, starting over at its end
/// (the input is a whole number of messages, so the stream goes on forever); writes are copied
/// into a reused scratch buffer and counted.
struct MemStream<'a> {
    input: &'a [u8],
    at: usize,
    sink: Sink,
}

#[derive(Default)]
struct Sink {
    scratch: Vec<u8>,
    written: Rc<Cell<u64>>,
}

impl Sink {
    fn take(&mut self, bytes: &[u8]) {
        // Copy like a kernel copies into a socket buffer, in pieces of at most 64 KiB.
        for piece in bytes.chunks(64 * 1024) {
            self.scratch.clear();
            self.scratch.extend_from_slice(piece);
        }
        self.written.set(self.written.get() + bytes.len() as u64);
    }
}

impl<'a> MemStream<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self { input, at: 0, sink: Sink { scratch: Vec::with_capacity(64 * 1024), written: Rc::default() } }
    }

    fn read_into(&mut self, out: &mut [u8]) -> usize {
        if self.input.is_empty() {
            return 0;
        }
        let n = out.len().min(self.input.len() - self.at).min(READ_SLICE);
        out[..n].copy_from_slice(&self.input[self.at..self.at + n]);
        self.at += n;
        if self.at == self.input.len() {
            self.at = 0;
        }
        n
    }
}

impl Read for MemStream<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_into(out))
    }
}

impl Write for MemStream<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.sink.take(bytes);
        Ok(bytes.len())
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut n = 0;
        for buf in bufs {
            self.sink.take(buf);
            n += buf.len();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemStream<'_> {
    fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = self.get_mut().read_into(buf.initialize_unfilled());
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemStream<'_> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write(self.get_mut(), bytes))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write_vectored(self.get_mut(), bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// ------------------------------------------------------------------------------------------
// Workload data
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Binary,
    Ascii,
    Mixed,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Binary => "binary",
            Kind::Ascii => "text-ascii",
            Kind::Mixed => "text-utf8",
        }
    }

    fn is_text(self) -> bool {
        self != Kind::Binary
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

/// How many messages of `size` bytes one iteration handles: about 1 MiB of payload, at
/// least 4 messages.
fn count_for(size: usize) -> usize {
    ((1 << 20) / size).max(4)
}

fn key_for(i: usize) -> [u8; 4] {
    let x = (i as u32).wrapping_mul(0x9E37_79B9) ^ 0x5A5A_1234;
    x.to_le_bytes()
}

/// `count` masked client frames of `data`, back to back.
fn masked_messages(opcode: OpCode, data: &[u8], count: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    for i in 0..count {
        encode_frame_to_vec(true, 0, opcode, data, Some(key_for(i)), &mut wire).unwrap();
    }
    wire
}

/// What one pass over a workload saw: messages and payload bytes. Every implementation must
/// report the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct Seen {
    messages: u64,
    bytes: u64,
}

impl Seen {
    fn add(&mut self, bytes: usize) {
        self.messages += 1;
        self.bytes += bytes as u64;
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

// ------------------------------------------------------------------------------------------
// Receive: one pass over the prepared wire bytes per implementation
// ------------------------------------------------------------------------------------------

/// A receiver: called once per iteration, it takes the next `count` messages from one
/// long-lived connection (the steady state: buffers already grown).
type Receiver<'a> = Box<dyn FnMut() -> Seen + 'a>;

fn recv_ours<'a>(wire: &'a [u8], count: usize) -> Receiver<'a> {
    let mut conn = Connection::new(rfc6455::Role::Server, Config::default());
    let mut stream = MemStream::new(wire);
    Box::new(move || {
        let mut seen = Seen::default();
        while (seen.messages as usize) < count {
            match conn.poll_event() {
                Some(Event::Text(text)) => seen.add(black_box(text).len()),
                Some(Event::Binary(data)) => seen.add(black_box(data).len()),
                Some(_) => {}
                None => {
                    let out = conn.poll_output();
                    if !out.is_empty() {
                        let n = out.len();
                        stream.sink.take(out);
                        conn.handle_written(n).unwrap();
                    }
                    let buf = conn.read_buf(READ_SLICE);
                    let n = stream.read_into(buf);
                    conn.handle_read(n);
                }
            }
        }
        seen
    })
}

fn recv_tungstenite<'a>(wire: &'a [u8], count: usize) -> Receiver<'a> {
    use tungstenite::Message;
    let mut ws = tungstenite::WebSocket::from_raw_socket(
        MemStream::new(wire),
        tungstenite::protocol::Role::Server,
        None,
    );
    Box::new(move || {
        let mut seen = Seen::default();
        while (seen.messages as usize) < count {
            match ws.read().unwrap() {
                Message::Text(text) => seen.add(black_box(text.as_str()).len()),
                Message::Binary(data) => seen.add(black_box(&data[..]).len()),
                _ => {}
            }
        }
        seen
    })
}

fn recv_fastwebsockets<'a>(rt: &'a tokio::runtime::Runtime, wire: &'a [u8], count: usize) -> Receiver<'a> {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    let mut ws = FragmentCollector::new(WebSocket::after_handshake(MemStream::new(wire), Role::Server));
    Box::new(move || {
        rt.block_on(async {
            let mut seen = Seen::default();
            while (seen.messages as usize) < count {
                let frame = ws.read_frame().await.unwrap();
                if matches!(frame.opcode, OpCode::Text | OpCode::Binary) {
                    seen.add(black_box(&frame.payload[..]).len());
                }
            }
            seen
        })
    })
}

fn recv_tokio_websockets<'a>(rt: &'a tokio::runtime::Runtime, wire: &'a [u8], count: usize) -> Receiver<'a> {
    let mut ws = tokio_websockets::ServerBuilder::new().serve(MemStream::new(wire));
    Box::new(move || {
        rt.block_on(async {
            let mut seen = Seen::default();
            while (seen.messages as usize) < count {
                let message = ws.next().await.unwrap().unwrap();
                if let Some(text) = message.as_text() {
                    seen.add(black_box(text).len());
                } else if message.is_binary() {
                    seen.add(black_box(&message.as_payload()[..]).len());
                }
            }
            seen
        })
    })
}

/// All four receivers of `wire`, each checked once against `want`.
fn receivers<'a>(
    rt: &'a tokio::runtime::Runtime,
    workload: &str,
    wire: &'a [u8],
    count: usize,
    want: Seen,
) -> Vec<Entry<'a>> {
    let all: [(&'static str, Receiver<'a>); 4] = [
        ("rfc6455", recv_ours(wire, count)),
        ("tungstenite", recv_tungstenite(wire, count)),
        ("fastwebsockets", recv_fastwebsockets(rt, wire, count)),
        ("tokio-websockets", recv_tokio_websockets(rt, wire, count)),
    ];
    all.into_iter()
        .map(|(name, mut receive)| {
            assert_eq!(receive(), want, "{name} saw something else in {workload}");
            entry(name, move || receive().bytes)
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// Send: `count` messages, each written out to the stream before the next
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

/// A sender: called once per iteration, it sends `count` messages on one long-lived
/// connection and returns the bytes written so far.
type Sender<'a> = Box<dyn FnMut() -> u64 + 'a>;

/// Ours through `send_owned`: the message as `Bytes`, as tungstenite and tokio-websockets take it
/// (`send_owned`: a server writes large payloads from where they lie, with a vectored write
/// like fastwebsockets and tokio-websockets; a client copies while masking).
fn send_ours<'a>(side: Side, data: &'a Bytes, count: usize) -> Sender<'a> {
    let role = if side == Side::Server { rfc6455::Role::Server } else { rfc6455::Role::Client };
    let mut conn = Connection::new(role, Config::default());
    let mut sink = Sink::default();
    Box::new(move || {
        for _ in 0..count {
            conn.send_owned(MessageKind::Binary, data.clone()).unwrap();
            // A vectored write of every piece (one unless a payload is held).
            let mut n = 0;
            for piece in conn.output_pieces() {
                sink.take(piece);
                n += piece.len();
            }
            conn.handle_written(n).unwrap();
        }
        sink.written.get()
    })
}

/// Ours with a borrowed payload (`send_binary`), which copies it into the output buffer.
fn send_ours_borrowed<'a>(side: Side, data: &'a [u8], count: usize) -> Sender<'a> {
    let role = if side == Side::Server { rfc6455::Role::Server } else { rfc6455::Role::Client };
    let mut conn = Connection::new(role, Config::default());
    let mut sink = Sink::default();
    Box::new(move || {
        for _ in 0..count {
            conn.send_binary(data).unwrap();
            let out = conn.poll_output();
            let n = out.len();
            sink.take(out);
            conn.handle_written(n).unwrap();
        }
        sink.written.get()
    })
}

fn send_tungstenite<'a>(side: Side, data: &'a Bytes, count: usize) -> Sender<'a> {
    use tungstenite::protocol::Role;
    let role = if side == Side::Server { Role::Server } else { Role::Client };
    let mut ws = tungstenite::WebSocket::from_raw_socket(MemStream::new(&[]), role, None);
    Box::new(move || {
        for _ in 0..count {
            ws.send(tungstenite::Message::Binary(data.clone())).unwrap();
        }
        ws.get_ref().sink.written.get()
    })
}

fn send_fastwebsockets<'a>(
    rt: &'a tokio::runtime::Runtime,
    side: Side,
    data: &'a [u8],
    count: usize,
) -> Sender<'a> {
    use fastwebsockets::{Frame, Payload, Role, WebSocket};
    let role = if side == Side::Server { Role::Server } else { Role::Client };
    // The socket hides its stream (only `into_inner` reaches it), so the count of bytes
    // written is shared with the stream.
    let stream = MemStream::new(&[]);
    let written = stream.sink.written.clone();
    let mut ws = WebSocket::after_handshake(stream, role);
    Box::new(move || {
        rt.block_on(async {
            for _ in 0..count {
                ws.write_frame(Frame::binary(Payload::Borrowed(data))).await.unwrap();
            }
            ws.flush().await.unwrap();
        });
        written.get()
    })
}

fn send_tokio_websockets<'a>(
    rt: &'a tokio::runtime::Runtime,
    side: Side,
    data: &'a Bytes,
    count: usize,
) -> Sender<'a> {
    let mut ws = match side {
        Side::Server => tokio_websockets::ServerBuilder::new().serve(MemStream::new(&[])),
        Side::Client => tokio_websockets::ClientBuilder::new().take_over(MemStream::new(&[])),
    };
    Box::new(move || {
        rt.block_on(async {
            for _ in 0..count {
                ws.send(tokio_websockets::Message::binary(data.clone())).await.unwrap();
            }
            ws.get_ref().sink.written.get()
        })
    })
}

// ------------------------------------------------------------------------------------------
// Handshake: the Chromium request head in, the 101 out
// ------------------------------------------------------------------------------------------

fn handshake_ours(out: &mut Vec<u8>) -> usize {
    out.clear();
    let (request, _) = Request::parse(black_box(CHROMIUM), &handshake::Config::default()).unwrap().unwrap();
    request.accept(&Accept::new()).unwrap().write(out).unwrap();
    out.len()
}

/// The floor: httparse, a header lookup, SHA-1, base64 and writing a minimal 101. No
/// validation beyond finding the key.
fn handshake_bare(out: &mut Vec<u8>) -> usize {
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    out.clear();
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let status = request.parse(black_box(CHROMIUM)).unwrap();
    assert!(status.is_complete());
    let key = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
        .map(|h| h.value)
        .unwrap();
    let mut sha = sha1::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let digest = sha.finalize();
    let mut accept = [0u8; 28];
    base64::engine::general_purpose::STANDARD.encode_slice(digest, &mut accept).unwrap();
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    out.extend_from_slice(&accept);
    out.extend_from_slice(b"\r\n\r\n");
    out.len()
}

fn handshake_tungstenite() -> usize {
    let ws = tungstenite::accept(MemStream::new(black_box(CHROMIUM))).unwrap();
    ws.get_ref().sink.written.get() as usize
}

fn handshake_tokio_websockets(rt: &tokio::runtime::Runtime) -> usize {
    rt.block_on(async {
        let (_request, ws) =
            tokio_websockets::ServerBuilder::new().accept(MemStream::new(black_box(CHROMIUM))).await.unwrap();
        ws.get_ref().sink.written.get() as usize
    })
}

// ------------------------------------------------------------------------------------------
// The timing loop and the table
// ------------------------------------------------------------------------------------------

const PEERS: [&str; 3] = ["tungstenite", "fastwebsockets", "tokio-websockets"];

struct Entry<'a> {
    name: &'static str,
    run: Box<dyn FnMut() -> u64 + 'a>,
}

fn entry<'a>(name: &'static str, run: impl FnMut() -> u64 + 'a) -> Entry<'a> {
    Entry { name, run: Box::new(run) }
}

struct Settings {
    rounds: usize,
    sample: Duration,
}

/// Median nanoseconds per iteration of each entry, interleaved round-robin.
fn measure(settings: &Settings, entries: &mut [Entry<'_>]) -> Vec<f64> {
    // Calibrate: warm up, then size each sample to about `settings.sample`.
    let mut iters = Vec::new();
    for e in entries.iter_mut() {
        black_box((e.run)());
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < settings.sample / 4 || n == 0 {
            black_box((e.run)());
            n += 1;
        }
        let per = start.elapsed().as_secs_f64() / n as f64;
        iters.push(((settings.sample.as_secs_f64() / per).ceil() as u64).max(1));
    }
    let mut samples = vec![Vec::new(); entries.len()];
    for round in 0..settings.rounds {
        for k in 0..entries.len() {
            let i = (k + round) % entries.len();
            let e = &mut entries[i];
            let start = Instant::now();
            for _ in 0..iters[i] {
                black_box((e.run)());
            }
            samples[i].push(start.elapsed().as_nanos() as f64 / iters[i] as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(|a, b| a.total_cmp(b));
            s[s.len() / 2]
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Unit {
    /// Messages per second.
    Messages(u64),
    /// Bytes per second (payload bytes per iteration).
    Bytes(u64),
}

struct Row {
    workload: String,
    unit: Unit,
    ours: f64,
    /// Throughput per peer, `None` where the peer has no comparable public API.
    peers: [Option<f64>; 3],
    /// A reference that is not a peer (memcpy, the bare handshake), with its label.
    reference: Option<(&'static str, f64)>,
    goal: Option<Goal>,
}

#[derive(Clone, Copy)]
enum Goal {
    /// Ours over the best peer at least this much.
    OverBestPeer(f64),
    /// Ours over the reference at least this much.
    OverReference(f64),
}

fn throughput(unit: Unit, ns: f64) -> f64 {
    let per_sec = 1e9 / ns;
    match unit {
        Unit::Messages(n) | Unit::Bytes(n) => n as f64 * per_sec,
    }
}

fn fmt_figure(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Messages(_) => format!("{:.2} M/s", value / 1e6),
        Unit::Bytes(_) if value >= 1e9 => format!("{:.2} GB/s", value / 1e9),
        Unit::Bytes(_) => format!("{:.0} MB/s", value / 1e6),
    }
}

struct Table {
    settings: Settings,
    filter: Vec<String>,
    rows: Vec<Row>,
}

impl Table {
    fn wants(&self, workload: &str) -> bool {
        self.filter.is_empty() || self.filter.iter().any(|f| workload.contains(f.as_str()))
    }

    /// Measures `entries` (ours first, then peers by name, then an optional reference named
    /// "memcpy" or "bare") and records a row.
    fn run(&mut self, workload: String, unit: Unit, goal: Option<Goal>, mut entries: Vec<Entry<'_>>) {
        let times = measure(&self.settings, &mut entries);
        let mut row = Row { workload, unit, ours: 0.0, peers: [None; 3], reference: None, goal };
        let mut ours_via: Vec<(&'static str, f64)> = Vec::new();
        for (e, ns) in entries.iter().zip(times) {
            let value = throughput(unit, ns);
            match e.name {
                "rfc6455" => row.ours = value,
                name if OUR_SEND_APIS.contains(&name) => ours_via.push((name, value)),
                name => match PEERS.iter().position(|p| *p == name) {
                    Some(i) => row.peers[i] = Some(value),
                    None => row.reference = Some((name, value)),
                },
            }
        }
        // Send rows: ours is the faster of our two send APIs; the reference column shows the
        // other one.
        ours_via.sort_by(|a, b| b.1.total_cmp(&a.1));
        if let [(_, best), other, ..] = ours_via[..] {
            row.ours = best;
            row.reference = Some(other);
        }
        print_row(&row);
        self.rows.push(row);
    }
}

fn best_peer(row: &Row) -> Option<f64> {
    row.peers.iter().flatten().copied().reduce(f64::max)
}

fn print_header() {
    println!(
        "| {:<34} | {:>11} | {:>11} | {:>14} | {:>16} | {:>20} | {:>12} | {:>14} |",
        "workload",
        "rfc6455",
        "tungstenite",
        "fastwebsockets",
        "tokio-websockets",
        "reference",
        "ours/best",
        "goal"
    );
    println!(
        "|{:-<36}|{:->13}|{:->13}|{:->16}|{:->18}|{:->22}|{:->14}|{:->16}|",
        "", "", "", "", "", "", "", ""
    );
}

/// Our two ways to send a message: `send_binary` copies a borrowed payload into the output
/// buffer; `send_owned` takes a `Bytes` and, on a server, writes large payloads from where
/// they lie. A send row shows the faster in the rfc6455 column and the other as reference.
const OUR_SEND_APIS: [&str; 2] = ["send_binary", "send_owned"];

fn print_row(row: &Row) {
    let peer = |i: usize| row.peers[i].map_or_else(|| "n/a".to_string(), |v| fmt_figure(row.unit, v));
    let reference =
        row.reference.map_or_else(String::new, |(name, v)| format!("{name} {}", fmt_figure(row.unit, v)));
    let ratio = best_peer(row).map_or_else(|| "-".to_string(), |best| format!("{:.2}x", row.ours / best));
    let goal = match row.goal {
        None => String::new(),
        Some(Goal::OverBestPeer(target)) => {
            let ok = best_peer(row).is_some_and(|best| row.ours / best >= target);
            format!("≥{target}x peer {}", if ok { "ok" } else { "MISS" })
        }
        Some(Goal::OverReference(target)) => {
            let (name, value) = row.reference.expect("a goal over the reference has one");
            let r = row.ours / value;
            format!("{r:.2}x {name} {}", if r >= target { "ok" } else { "MISS" })
        }
    };
    println!(
        "| {:<34} | {:>11} | {:>11} | {:>14} | {:>16} | {:>20} | {:>12} | {:>14} |",
        row.workload,
        fmt_figure(row.unit, row.ours),
        peer(0),
        peer(1),
        peer(2),
        reference,
        ratio,
        goal
    );
}

fn recv_goal(kind: Kind, size: usize) -> Goal {
    Goal::OverBestPeer(match (kind, size) {
        (_, 0..=125) => 3.0,
        (Kind::Binary, _) => 1.3,
        _ => 1.5,
    })
}

fn recv_workloads(table: &mut Table, rt: &tokio::runtime::Runtime) {
    for kind in [Kind::Binary, Kind::Ascii, Kind::Mixed] {
        for size in SIZES {
            let workload = format!("recv/{}/{}", kind.name(), size_label(size));
            if !table.wants(&workload) {
                continue;
            }
            let data = payload(kind, size);
            let count = count_for(size);
            let opcode = if kind.is_text() { OpCode::Text } else { OpCode::Binary };
            let wire = masked_messages(opcode, &data, count);
            let want = Seen { messages: count as u64, bytes: (count * size) as u64 };
            let unit =
                if size <= 125 { Unit::Messages(count as u64) } else { Unit::Bytes((count * size) as u64) };
            let entries = receivers(rt, &workload, &wire, count, want);
            table.run(workload, unit, Some(recv_goal(kind, size)), entries);
        }
    }
}

/// A 1 MiB text message of multi-byte characters in 64 frames (code points split across
/// frame boundaries), with a Ping after the 32nd frame.
fn fragmented_wire() -> (Vec<u8>, usize) {
    let text = text_of(MIXED, 1 << 20);
    let frames: Vec<&[u8]> = text.chunks(text.len() / 64).collect();
    assert_eq!(frames.len(), 64);
    assert!(
        frames.iter().skip(1).any(|f| (f[0] & 0xC0) == 0x80),
        "some frame must start inside a code point"
    );
    let mut wire = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let opcode = if i == 0 { OpCode::Text } else { OpCode::Continuation };
        encode_frame_to_vec(i == 63, 0, opcode, frame, Some(key_for(i)), &mut wire).unwrap();
        if i == 31 {
            encode_frame_to_vec(true, 0, OpCode::Ping, b"are you there?", Some(key_for(99)), &mut wire)
                .unwrap();
        }
    }
    (wire, text.len())
}

fn fragmented_workload(table: &mut Table, rt: &tokio::runtime::Runtime) {
    let workload = "recv/fragmented/1MiB-64frames+ping".to_string();
    if !table.wants(&workload) {
        return;
    }
    let (wire, len) = fragmented_wire();
    let want = Seen { messages: 1, bytes: len as u64 };
    let entries = receivers(rt, &workload, &wire, 1, want);
    table.run(workload, Unit::Bytes(len as u64), Some(Goal::OverBestPeer(1.5)), entries);
}

fn send_workloads(table: &mut Table, rt: &tokio::runtime::Runtime) {
    for side in [Side::Server, Side::Client] {
        for size in SIZES {
            let label = if side == Side::Server { "server" } else { "client-masked" };
            let workload = format!("send/{label}/binary/{}", size_label(size));
            if !table.wants(&workload) {
                continue;
            }
            let data = payload(Kind::Binary, size);
            let bytes = Bytes::from(data.clone());
            let count = count_for(size);
            let header = match size {
                0..=125 => 2,
                126..=0xFFFF => 4,
                _ => 10,
            } + if side == Side::Client { 4 } else { 0 };
            let want = (count * (size + header)) as u64;
            let senders: [(&'static str, Sender<'_>); 5] = [
                ("send_owned", send_ours(side, &bytes, count)),
                ("send_binary", send_ours_borrowed(side, &data, count)),
                ("tungstenite", send_tungstenite(side, &bytes, count)),
                ("fastwebsockets", send_fastwebsockets(rt, side, &data, count)),
                ("tokio-websockets", send_tokio_websockets(rt, side, &bytes, count)),
            ];
            let entries = senders
                .into_iter()
                .map(|(name, mut send)| {
                    assert_eq!(send(), want, "{name} wrote something else in {workload}");
                    entry(name, send)
                })
                .collect();
            let unit =
                if size <= 125 { Unit::Messages(count as u64) } else { Unit::Bytes((count * size) as u64) };
            table.run(workload, unit, Some(Goal::OverBestPeer(1.5)), entries);
        }
    }
}

fn mask_workloads(table: &mut Table) {
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    for size in [16, 125, 1024, 16 * 1024, 64 * 1024, 1024 * 1024] {
        let workload = format!("mask/{}", size_label(size));
        if !table.wants(&workload) {
            continue;
        }
        // Masking is compared with the peers' public mask functions: fastwebsockets exports
        // `unmask`; tungstenite's and tokio-websockets' are private (their cost is inside
        // the receive figures).
        let mut a: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let mut b = a.clone();
        let src = a.clone();
        let mut dst = vec![0u8; size];
        let mut x = a.clone();
        let mut y = a.clone();
        rfc6455::mask::apply_mask(&mut x, KEY, 0);
        fastwebsockets::unmask(&mut y, KEY);
        assert_eq!(x, y, "both mask functions agree");
        let goal = if size >= 64 * 1024 { Goal::OverReference(0.9) } else { Goal::OverBestPeer(1.0) };
        table.run(
            workload,
            Unit::Bytes(size as u64),
            Some(goal),
            vec![
                entry("rfc6455", move || {
                    rfc6455::mask::apply_mask(black_box(&mut a[..]), black_box(KEY), 0);
                    0
                }),
                entry("fastwebsockets", move || {
                    fastwebsockets::unmask(black_box(&mut b[..]), black_box(KEY));
                    0
                }),
                entry("memcpy", move || {
                    black_box(&mut dst[..]).copy_from_slice(black_box(&src));
                    0
                }),
            ],
        );
    }
}

fn handshake_workload(table: &mut Table, rt: &tokio::runtime::Runtime) {
    let workload = "handshake/server/chromium".to_string();
    if !table.wants(&workload) {
        return;
    }
    let mut out = Vec::with_capacity(512);
    handshake_ours(&mut out);
    assert!(out.windows(ACCEPT_KEY.len()).any(|w| w == ACCEPT_KEY), "ours answers with the accept key");
    handshake_bare(&mut out);
    assert!(out.windows(ACCEPT_KEY.len()).any(|w| w == ACCEPT_KEY), "bare answers with the accept key");
    assert!(handshake_tungstenite() > 0);
    assert!(handshake_tokio_websockets(rt) > 0);
    let mut out2 = Vec::with_capacity(512);
    table.run(
        workload,
        Unit::Messages(1),
        Some(Goal::OverReference(1.0 / 1.3)),
        vec![
            entry("rfc6455", move || handshake_ours(&mut out) as u64),
            entry("tungstenite", || handshake_tungstenite() as u64),
            entry("tokio-websockets", move || handshake_tokio_websockets(rt) as u64),
            entry("bare", move || handshake_bare(&mut out2) as u64),
        ],
    );
}

fn size_label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{}MiB", s >> 20),
        s if s >= 1024 => format!("{}KiB", s >> 10),
        s => format!("{s}B"),
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// glibc's `memmove` switches to `rep movsb` above a few KiB. Before glibc 2.39, on AMD Zen
/// CPUs (this machine is an EPYC) that runs 5 to 8 times slower when the destination sits a
/// short distance after the source modulo 4 KiB: 16 KiB copies measured 1.8 GB/s instead of
/// 12 GB/s in the same binary, from one run to the next, as the allocator's addresses moved.
/// Every implementation's reads and writes are copies, and which one hits that case is luck,
/// so the harness runs itself with `rep movsb` off for all copies. `PEERS_KEEP_REP_MOVSB=1`
/// runs with glibc's default instead.
const NO_REP_MOVSB: &str = "glibc.cpu.x86_rep_movsb_threshold=1099511627776";

/// Re-runs this program with [`NO_REP_MOVSB`] set, unless it is set or not wanted. Returns
/// whether it did (the child's output is the run).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn rerun_without_rep_movsb() -> bool {
    use std::os::unix::process::CommandExt as _;
    if std::env::var_os("GLIBC_TUNABLES").is_some() || std::env::var_os("PEERS_KEEP_REP_MOVSB").is_some() {
        return false;
    }
    let Ok(exe) = std::env::current_exe() else { return false };
    // `exec` only returns on failure; then run with the defaults.
    let error = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", NO_REP_MOVSB)
        .exec();
    eprintln!("could not re-run with {NO_REP_MOVSB}: {error}");
    false
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn rerun_without_rep_movsb() -> bool {
    false
}

fn main() {
    if rerun_without_rep_movsb() {
        return;
    }
    let settings = Settings {
        rounds: env_or("PEERS_ROUNDS", 9),
        sample: Duration::from_millis(env_or("PEERS_SAMPLE_MS", 10)),
    };
    let filter: Vec<String> = std::env::args().skip(1).collect();
    let rt = runtime();
    println!(
        "rfc6455 peer comparison: {} rounds of {} ms samples per implementation, median shown.",
        settings.rounds,
        settings.sample.as_millis()
    );
    println!("Receive and send figures are M/s (messages) up to 125 B, else payload bytes/s.");
    println!(
        "Send rows: rfc6455 is the faster of send_binary (borrowed, copied) and send_owned (Bytes, \
         held); the reference column shows the other."
    );
    match std::env::var("GLIBC_TUNABLES") {
        Ok(tunables) if tunables.contains("rep_movsb") => println!("memmove without rep movsb ({tunables})."),
        _ => println!("memmove with glibc's default (rep movsb for large copies)."),
    }
    println!(
        "fastwebsockets has no handshake without hyper; only fastwebsockets exports its mask function.\n"
    );
    let mut table = Table { settings, filter, rows: Vec::new() };
    print_header();
    recv_workloads(&mut table, &rt);
    fragmented_workload(&mut table, &rt);
    send_workloads(&mut table, &rt);
    mask_workloads(&mut table);
    handshake_workload(&mut table, &rt);
    let goals = table.rows.iter().filter(|r| r.goal.is_some()).count();
    let met = table
        .rows
        .iter()
        .filter(|r| match r.goal {
            Some(Goal::OverBestPeer(t)) => best_peer(r).is_some_and(|b| r.ours / b >= t),
            Some(Goal::OverReference(t)) => r.reference.is_some_and(|(_, v)| r.ours / v >= t),
            None => false,
        })
        .count();
    println!("\n{met} of {goals} goals met.");
}
