//! The peer comparison: the same receive, send, mask and handshake workloads through rfc6455,
//! tungstenite, fastwebsockets and tokio-websockets, interleaved round-robin within one run;
//! and our frame layer against the frame codec `websocket-sans-io`.
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
//! the median over the rounds. The default run takes about a minute on two cores.
//!
//! Filters: a row runs if its name contains any of the arguments. Row names say what varies:
//!
//! * the main section, `recv/…`, `send/…`, `mask/…`, `handshake/…`: reads of at most 16 KiB
//!   (a socket's typical read) on long-lived connections (the steady state). Text is sent
//!   from a `String` made per message (`send/server/text/…`), which each implementation takes
//!   as it takes text: `&str` (ours `send_text` and `send_vectored`, fastwebsockets' borrowed
//!   payload) or the `String` itself (ours `send_owned`, tungstenite, tokio-websockets);
//! * `…@read128K`: reads of at most 128 KiB, what tungstenite asks for by default (sends do
//!   not read, so only receive rows have it);
//! * `…@fresh`, `…@read128K+fresh`: a new connection (constructed after the handshake:
//!   `Connection::new`, `from_raw_socket`, `after_handshake`, `serve`/`take_over`) for every
//!   16 messages, so setup and buffer growth count;
//! * `frame/…`: frame codecs, binary frames of 16 B to 16 KiB. Receive: 16 KiB reads into the
//!   caller's buffer, decoded and unmasked in place (`FrameDecoder::decode` against
//!   `WebsocketFrameDecoder::add_data`). Send: header and payload into the caller's buffer
//!   (`encode_frame` against `start_frame` + copy + `transform_frame_payload`), then written.
//!   The reference column is our `Connection` doing the same (`send_binary`, a receive with
//!   16 KiB reads). websocket-sans-io checks nothing (no opcode, mask or length rules); ours
//!   checks what §5 says of one frame.
//!
//! * `send_into/…`: binary sends through ours' `Connection::send_into`, which encodes into a
//!   buffer the caller owns (then written and cleared, per message), against the peers' send
//!   rows; the reference column is ours through the connection's output (`send_binary`).
//!
//! So `-- @read128K` runs the 128 KiB section, `-- @fresh` the fresh connections, `-- frame/`
//! the codecs; `-- recv/binary/16KiB` runs that row under every condition.
//!
//! Every implementation is driven through its public API over an in-memory stream, with its
//! default limits and its validation on: received text is validated as UTF-8, received control
//! frames are answered (Pong), and a client masks every frame with a fresh random key. The
//! stream hands out at most the row's read size per read, or what the reader has room for if
//! less: each implementation reads into its own buffer as it does by default (tungstenite a
//! 128 KiB buffer, fastwebsockets and tokio-websockets the spare capacity of a `BytesMut`,
//! which they grow). Ours asks `Connection::read_buf` for 4 KiB, as the `rfc6455-tokio` driver
//! does: the core's buffer may have more room (it offers more while reads fill all it
//! offered), and the stream fills what there is. The reference column of receive rows shows
//! ours asking for room for one whole read of the stream instead. An async read copies into
//! the reader's unfilled bytes without zeroing them first, as a socket read does. Every
//! written byte is copied into a scratch buffer (what a kernel does with a socket write), so
//! designs that write with `writev` and designs that assemble frames in a buffer are compared
//! on the same terms. Before timing, each
//! implementation's result (messages and payload bytes seen, or bytes written) is checked
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
use rfc6455::deflate::{DeflateConfig, negotiate_server};
use rfc6455::frame::{Decoded, FrameDecoder, MAX_HEADER_LEN, OpCode, encode_frame, encode_frame_to_vec};
use rfc6455::handshake::{self, Accept, Request};

/// Bytes one read of the in-memory stream hands out at most, in the main table: a socket's
/// typical read.
const READ_16K: usize = 16 * 1024;
/// The larger read of the `@read128K` rows: what tungstenite asks for by default.
const READ_128K: usize = 128 * 1024;
/// Messages per connection in the `@fresh` rows.
const FRESH_BATCH: usize = 16;

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

/// Reads serve `input` in pieces of at most `cap` bytes (or what the reader's buffer has room
/// for, if less), starting over at its end (the input is a whole number of messages, so the
/// stream goes on forever); writes are copied into a reused scratch buffer and counted.
struct MemStream<'a> {
    input: &'a [u8],
    at: usize,
    cap: usize,
    sink: Sink,
}

/// Where in a 4 KiB page the harness's own buffers start (the scratch buffer writes are
/// copied into, the frame rows' buffers). A copy runs up to a fifth slower when its
/// destination lies a short distance after its source modulo 4 KiB (the CPU takes a load
/// for a dependence on an earlier store to the same page offset): 16 KiB copied in 142 ns at
/// most distances, 163-177 ns within 16 bytes on either side (glibc's AVX-512 `memmove`,
/// `rep movsb` off). With each implementation's buffers wherever the allocator put them,
/// which one met that was luck, and it moved from build to build (`frame/send/…/16KiB`
/// measured 0.84× in one build, 0.98-1.02× in the next). The sources (the messages, the
/// wire) are shared, so buffers at one page offset make every implementation's copies alike.
/// Buffers inside an implementation (its read and write buffers) are its own business.
const PAGE_PHASE: usize = 2048;

/// A buffer of `len` bytes whose first byte sits at [`PAGE_PHASE`] within its page.
struct Phased {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl Phased {
    fn new(len: usize) -> Self {
        let storage = vec![0u8; len + 4096];
        let start = (PAGE_PHASE + 4096 - storage.as_ptr() as usize % 4096) % 4096;
        Self { storage, start, len }
    }
}

impl std::ops::Deref for Phased {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }
}

impl std::ops::DerefMut for Phased {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

/// Where writes go: copied into a scratch buffer at [`PAGE_PHASE`], and counted.
#[derive(Default)]
struct Sink {
    written: Rc<Cell<u64>>,
}

/// The largest piece a write is copied in, like a kernel copying into a socket buffer.
const SINK_PIECE: usize = 64 * 1024;

thread_local! {
    /// The one scratch buffer every stream's writes are copied into (the harness runs on one
    /// thread): made once, so a new connection (`@fresh`) costs no allocation or zeroing of
    /// the harness's, and every implementation's writes land at the same page offset.
    static SCRATCH: std::cell::RefCell<Phased> = std::cell::RefCell::new(Phased::new(SINK_PIECE));
}

impl Sink {
    fn take(&mut self, bytes: &[u8]) {
        SCRATCH.with_borrow_mut(|scratch| {
            for piece in bytes.chunks(SINK_PIECE) {
                scratch[..piece.len()].copy_from_slice(piece);
            }
        });
        self.written.set(self.written.get() + bytes.len() as u64);
    }

    /// One vectored write of every piece; returns the bytes written.
    fn take_pieces<'p>(&mut self, pieces: impl IntoIterator<Item = &'p [u8]>) -> usize {
        pieces
            .into_iter()
            .map(|piece| {
                self.take(piece);
                piece.len()
            })
            .sum()
    }
}

impl<'a> MemStream<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self { input, at: 0, cap: READ_16K, sink: Sink::default() }
    }

    /// Reads of at most `cap` bytes.
    fn capped(mut self, cap: usize) -> Self {
        self.cap = cap;
        self
    }

    /// Counts written bytes in `written` (shared by the connections of one `@fresh` sender).
    fn counting(mut self, written: &Rc<Cell<u64>>) -> Self {
        self.sink.written = Rc::clone(written);
        self
    }

    fn read_into(&mut self, out: &mut [u8]) -> usize {
        let n = self.readable(out.len());
        out[..n].copy_from_slice(&self.input[self.at..self.at + n]);
        self.consume(n);
        n
    }

    /// How many bytes a read into `room` bytes hands out.
    fn readable(&self, room: usize) -> usize {
        room.min(self.input.len() - self.at).min(self.cap)
    }

    fn consume(&mut self, n: usize) {
        self.at += n;
        if self.at == self.input.len() {
            self.at = 0;
        }
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
        Ok(self.sink.take_pieces(bufs.iter().map(|buf| &buf[..])))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemStream<'_> {
    fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        // Copy into the unfilled part without zeroing it first, as a socket read does.
        let this = self.get_mut();
        let n = this.readable(buf.remaining());
        buf.put_slice(&this.input[this.at..this.at + n]);
        this.consume(n);
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

impl std::ops::AddAssign for Seen {
    fn add_assign(&mut self, other: Seen) {
        self.messages += other.messages;
        self.bytes += other.bytes;
    }
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

/// What decides a receive row besides the workload: the stream's largest read, and whether
/// every iteration goes through one long-lived connection (the steady state: buffers already
/// grown) or through a new connection per [`FRESH_BATCH`] messages (setup and buffer growth
/// count).
#[derive(Clone, Copy)]
struct Shape {
    read: usize,
    fresh: bool,
}

impl Shape {
    const MAIN: Shape = Shape { read: READ_16K, fresh: false };

    /// The row-name suffix: empty for the main table's conditions, so its names stay stable.
    fn suffix(self) -> String {
        let read = (self.read != READ_16K).then(|| format!("read{}K", self.read >> 10));
        let fresh = self.fresh.then(|| "fresh".to_string());
        let parts: Vec<String> = read.into_iter().chain(fresh).collect();
        if parts.is_empty() { String::new() } else { format!("@{}", parts.join("+")) }
    }
}

/// Where each connection's bytes come from: a long-lived connection reads `wire` for ever; a
/// fresh one reads one batch of whole messages (`message_len` wire bytes each) and is dropped.
#[derive(Clone, Copy)]
struct RecvInput<'a> {
    wire: &'a [u8],
    /// Messages in `wire`.
    count: usize,
    /// Wire bytes of one message.
    message_len: usize,
    shape: Shape,
}

impl<'a> RecvInput<'a> {
    /// The batches of a fresh-connection iteration, each with its number of messages.
    fn batches(self) -> impl Iterator<Item = (&'a [u8], usize)> {
        let message_len = self.message_len;
        self.wire.chunks(message_len * FRESH_BATCH).map(move |batch| (batch, batch.len() / message_len))
    }

    fn stream(self, batch: &'a [u8]) -> MemStream<'a> {
        MemStream::new(batch).capped(self.shape.read)
    }
}

/// A receiver: called once per iteration, it takes the next `count` messages from one
/// long-lived connection, or from new connections (see [`Shape`]).
type Receiver<'a> = Box<dyn FnMut() -> Seen + 'a>;

/// Ours, offering the stream at least `room` bytes of the receive buffer per read
/// (`read_buf(room)`; the buffer may have more room, and the stream fills what it can).
fn recv_ours(input: RecvInput<'_>, room: usize) -> Receiver<'_> {
    let new = || Connection::new(rfc6455::Role::Server, Config::default());
    let take = move |conn: &mut Connection, stream: &mut MemStream<'_>, count: usize| {
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
                    let buf = conn.read_buf(room);
                    let n = stream.read_into(buf);
                    conn.handle_read(n);
                }
            }
        }
        seen
    };
    if input.shape.fresh {
        return Box::new(move || {
            let mut seen = Seen::default();
            for (batch, count) in input.batches() {
                seen += take(&mut new(), &mut input.stream(batch), count);
            }
            seen
        });
    }
    let (mut conn, mut stream) = (new(), input.stream(input.wire));
    Box::new(move || take(&mut conn, &mut stream, input.count))
}

fn recv_tungstenite(input: RecvInput<'_>) -> Receiver<'_> {
    use tungstenite::{Message, WebSocket, protocol::Role};
    type Ws<'s> = WebSocket<MemStream<'s>>;
    let new = |stream| WebSocket::from_raw_socket(stream, Role::Server, None);
    fn take(ws: &mut Ws<'_>, count: usize) -> Seen {
        let mut seen = Seen::default();
        while (seen.messages as usize) < count {
            match ws.read().unwrap() {
                Message::Text(text) => seen.add(black_box(text.as_str()).len()),
                Message::Binary(data) => seen.add(black_box(&data[..]).len()),
                _ => {}
            }
        }
        seen
    }
    if input.shape.fresh {
        return Box::new(move || {
            let mut seen = Seen::default();
            for (batch, count) in input.batches() {
                seen += take(&mut new(input.stream(batch)), count);
            }
            seen
        });
    }
    let mut ws = new(input.stream(input.wire));
    Box::new(move || take(&mut ws, input.count))
}

fn recv_fastwebsockets<'a>(rt: &'a tokio::runtime::Runtime, input: RecvInput<'a>) -> Receiver<'a> {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    type Ws<'s> = FragmentCollector<MemStream<'s>>;
    let new = |stream| FragmentCollector::new(WebSocket::after_handshake(stream, Role::Server));
    async fn take(ws: &mut Ws<'_>, count: usize) -> Seen {
        let mut seen = Seen::default();
        while (seen.messages as usize) < count {
            let frame = ws.read_frame().await.unwrap();
            if matches!(frame.opcode, OpCode::Text | OpCode::Binary) {
                seen.add(black_box(&frame.payload[..]).len());
            }
        }
        seen
    }
    if input.shape.fresh {
        return Box::new(move || {
            rt.block_on(async {
                let mut seen = Seen::default();
                for (batch, count) in input.batches() {
                    seen += take(&mut new(input.stream(batch)), count).await;
                }
                seen
            })
        });
    }
    let mut ws = new(input.stream(input.wire));
    Box::new(move || rt.block_on(take(&mut ws, input.count)))
}

fn recv_tokio_websockets<'a>(rt: &'a tokio::runtime::Runtime, input: RecvInput<'a>) -> Receiver<'a> {
    type Ws<'s> = tokio_websockets::WebSocketStream<MemStream<'s>>;
    let new = |stream| tokio_websockets::ServerBuilder::new().serve(stream);
    async fn take(ws: &mut Ws<'_>, count: usize) -> Seen {
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
    }
    if input.shape.fresh {
        return Box::new(move || {
            rt.block_on(async {
                let mut seen = Seen::default();
                for (batch, count) in input.batches() {
                    seen += take(&mut new(input.stream(batch)), count).await;
                }
                seen
            })
        });
    }
    let mut ws = new(input.stream(input.wire));
    Box::new(move || rt.block_on(take(&mut ws, input.count)))
}

/// The least room `rfc6455-tokio` offers per read (its `READ_MIN`): ours is driven that way,
/// where the core's buffer policy, not the driver, decides how much one read may bring.
const TOKIO_READ_MIN: usize = 4096;

/// The reference column of a receive row: ours asking for room for one whole read.
fn whole_read_label(read: usize) -> &'static str {
    if read == READ_16K { "read_buf(16K)" } else { "read_buf(128K)" }
}

/// All receivers of `input` (ours as `rfc6455-tokio` asks, ours asking for room for a whole
/// read, the three peers), each checked once against `want`.
fn receivers<'a>(
    rt: &'a tokio::runtime::Runtime,
    workload: &str,
    input: RecvInput<'a>,
    want: Seen,
) -> Vec<Entry<'a>> {
    let all: [(&'static str, Receiver<'a>); 5] = [
        ("rfc6455", recv_ours(input, TOKIO_READ_MIN)),
        (whole_read_label(input.shape.read), recv_ours(input, input.shape.read)),
        ("tungstenite", recv_tungstenite(input)),
        ("fastwebsockets", recv_fastwebsockets(rt, input)),
        ("tokio-websockets", recv_tokio_websockets(rt, input)),
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

/// What the application sends, in the type it holds it in: a binary payload as `Bytes`
/// (borrowed as `&[u8]` by the APIs that borrow), or text it has just made as a `String`
/// (each message's `String` is made by the same `to_owned` in every implementation's loop,
/// then handed over in the type that implementation takes: `&str` or the `String` itself).
#[derive(Clone, Copy)]
enum Source<'a> {
    Binary(&'a Bytes),
    Text(&'a str),
}

/// How a sender runs: which side, what, how many messages per iteration, and whether they go
/// through one long-lived connection or a new one per [`FRESH_BATCH`] messages.
#[derive(Clone, Copy)]
struct SendInput<'a> {
    side: Side,
    source: Source<'a>,
    count: usize,
    fresh: bool,
}

impl SendInput<'_> {
    /// The number of messages each connection of one iteration sends.
    fn batches(self) -> impl Iterator<Item = usize> {
        let per = if self.fresh { FRESH_BATCH } else { self.count };
        (0..self.count).step_by(per).map(move |start| per.min(self.count - start))
    }
}

/// A sender: called once per iteration, it sends `count` messages and returns the bytes
/// written so far (by all its connections).
type Sender<'a> = Box<dyn FnMut() -> u64 + 'a>;

/// Runs `send_batch` for every message of an iteration on connections made by `new`: one
/// long-lived connection, or a new one per [`FRESH_BATCH`] messages. Each connection owns (or,
/// for ours, holds beside it) a stream whose written bytes are counted in one shared counter,
/// since a fresh sender has many streams and fastwebsockets hides its own (only `into_inner`
/// reaches it).
fn sender<'a, C: 'a>(
    input: SendInput<'a>,
    new: impl Fn(MemStream<'a>) -> C + 'a,
    mut send_batch: impl FnMut(&mut C, usize) + 'a,
) -> Sender<'a> {
    let written: Rc<Cell<u64>> = Rc::default();
    let stream = {
        let written = written.clone();
        move || MemStream::new(&[]).counting(&written)
    };
    if input.fresh {
        return Box::new(move || {
            for count in input.batches() {
                send_batch(&mut new(stream()), count);
            }
            written.get()
        });
    }
    let mut conn = new(stream());
    Box::new(move || {
        send_batch(&mut conn, input.count);
        written.get()
    })
}

fn our_role(side: Side) -> rfc6455::Role {
    if side == Side::Server { rfc6455::Role::Server } else { rfc6455::Role::Client }
}

/// Ours through `send_owned`: the message as `Bytes` or `String`, as tungstenite and
/// tokio-websockets take it (a server writes large payloads from where they lie, with a
/// vectored write like fastwebsockets and tokio-websockets; a client copies a shared payload
/// while masking and masks an owned one in place).
fn send_ours(input: SendInput<'_>) -> Sender<'_> {
    let role = our_role(input.side);
    let new = move |stream| (Connection::new(role, Config::default()), stream);
    sender(input, new, move |(conn, stream): &mut (Connection, MemStream<'_>), count| {
        for _ in 0..count {
            match input.source {
                Source::Binary(data) => conn.send_owned(MessageKind::Binary, data.clone()).unwrap(),
                Source::Text(text) => conn.send_owned(MessageKind::Text, text.to_owned()).unwrap(),
            }
            // A vectored write of every piece (one unless a payload is held).
            let n = stream.sink.take_pieces(conn.output_pieces());
            conn.handle_written(n).unwrap();
        }
    })
}

/// Ours with a borrowed payload (`send_binary`, `send_text`), which copies it into the output
/// buffer.
fn send_ours_borrowed(input: SendInput<'_>) -> Sender<'_> {
    let role = our_role(input.side);
    let new = move |stream| (Connection::new(role, Config::default()), stream);
    sender(input, new, move |(conn, stream): &mut (Connection, MemStream<'_>), count| {
        for _ in 0..count {
            match input.source {
                Source::Binary(data) => conn.send_binary(data).unwrap(),
                Source::Text(text) => {
                    let text = text.to_owned();
                    conn.send_text(&text).unwrap();
                }
            }
            let out = conn.poll_output();
            let n = out.len();
            stream.sink.take(out);
            conn.handle_written(n).unwrap();
        }
    })
}

/// Ours with a borrowed payload written from where it lies (`send_vectored`, and
/// `send_text_vectored` for text, which a `&str` needs no validation for): the header and
/// the payload handed to one vectored write, as fastwebsockets writes a borrowed payload; a
/// client (which must mask) and payloads under 2 KiB are copied into the output instead.
fn send_ours_vectored(input: SendInput<'_>) -> Sender<'_> {
    let role = our_role(input.side);
    let new = move |stream| (Connection::new(role, Config::default()), stream);
    sender(input, new, move |(conn, stream): &mut (Connection, MemStream<'_>), count| {
        for _ in 0..count {
            let text;
            let mut send = match input.source {
                Source::Binary(data) => conn.send_vectored(MessageKind::Binary, data).unwrap(),
                Source::Text(borrowed) => {
                    text = borrowed.to_owned();
                    conn.send_text_vectored(&text).unwrap()
                }
            };
            // A vectored write of every piece.
            let n = stream.sink.take_pieces(send.pieces());
            send.written(n).unwrap();
        }
    })
}

/// Ours encoding straight into the caller's buffer (`send_into`), which the caller then writes and
/// clears: the write buffer an application owns, with no copy out of the connection.
fn send_ours_into(input: SendInput<'_>) -> Sender<'_> {
    let role = our_role(input.side);
    let new = move |stream| (Connection::new(role, Config::default()), stream, Vec::new());
    sender(input, new, move |(conn, stream, buf): &mut (Connection, MemStream<'_>, Vec<u8>), count| {
        for _ in 0..count {
            match input.source {
                Source::Binary(data) => conn.send_into(MessageKind::Binary, data, buf).unwrap(),
                Source::Text(text) => {
                    let text = text.to_owned();
                    conn.send_into(MessageKind::Text, text.as_bytes(), buf).unwrap();
                }
            }
            stream.sink.take(buf);
            buf.clear();
        }
    })
}

fn send_tungstenite(input: SendInput<'_>) -> Sender<'_> {
    use tungstenite::{Message, WebSocket, protocol::Role};
    let role = if input.side == Side::Server { Role::Server } else { Role::Client };
    let new = move |stream| WebSocket::from_raw_socket(stream, role, None);
    sender(input, new, move |ws, count| {
        for _ in 0..count {
            let message = match input.source {
                Source::Binary(data) => Message::Binary(data.clone()),
                Source::Text(text) => Message::text(text.to_owned()),
            };
            ws.send(message).unwrap();
        }
    })
}

fn send_fastwebsockets<'a>(rt: &'a tokio::runtime::Runtime, input: SendInput<'a>) -> Sender<'a> {
    use fastwebsockets::{Frame, Payload, Role, WebSocket};
    let role = if input.side == Side::Server { Role::Server } else { Role::Client };
    let new = move |stream| WebSocket::after_handshake(stream, role);
    sender(input, new, move |ws, count| {
        rt.block_on(async {
            for _ in 0..count {
                match input.source {
                    Source::Binary(data) => {
                        ws.write_frame(Frame::binary(Payload::Borrowed(data))).await.unwrap()
                    }
                    Source::Text(text) => {
                        let text = text.to_owned();
                        ws.write_frame(Frame::text(Payload::Borrowed(text.as_bytes()))).await.unwrap();
                    }
                }
            }
            ws.flush().await.unwrap();
        });
    })
}

fn send_tokio_websockets<'a>(rt: &'a tokio::runtime::Runtime, input: SendInput<'a>) -> Sender<'a> {
    use tokio_websockets::{ClientBuilder, Message, ServerBuilder};
    let side = input.side;
    let new = move |stream| match side {
        Side::Server => ServerBuilder::new().serve(stream),
        Side::Client => ClientBuilder::new().take_over(stream),
    };
    sender(input, new, move |ws, count| {
        rt.block_on(async {
            for _ in 0..count {
                let message = match input.source {
                    Source::Binary(data) => Message::binary(data.clone()),
                    Source::Text(text) => Message::text(text.to_owned()),
                };
                ws.send(message).await.unwrap();
            }
        });
    })
}

// ------------------------------------------------------------------------------------------
// Handshake: the Chromium request head in, the 101 out
// ------------------------------------------------------------------------------------------

/// Ours: the request parsed and validated, the 101 written. With a `policy`, the client's
/// permessage-deflate offer is negotiated with it and the answer written, as a server with
/// compression on does; without, the offer is declined.
fn handshake_ours(head: &[u8], policy: Option<&DeflateConfig>, out: &mut Vec<u8>) -> usize {
    out.clear();
    let (request, _) = Request::parse(black_box(head), &handshake::Config::default()).unwrap().unwrap();
    match policy {
        Some(policy) => {
            let answer = negotiate_server(request.extensions(), policy).map(|params| params.response());
            request.accept(&Accept::new().with_extension(answer.as_deref())).unwrap().write(out).unwrap();
        }
        None => request.accept(&Accept::new()).unwrap().write(out).unwrap(),
    }
    out.len()
}

/// The floor: httparse, a header lookup, SHA-1, base64 and writing a minimal 101. No
/// validation beyond finding the key.
fn handshake_bare(head: &[u8], out: &mut Vec<u8>) -> usize {
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    out.clear();
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let status = request.parse(black_box(head)).unwrap();
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

fn handshake_tungstenite(head: &[u8]) -> usize {
    let ws = tungstenite::accept(MemStream::new(black_box(head))).unwrap();
    ws.get_ref().sink.written.get() as usize
}

fn handshake_tokio_websockets(rt: &tokio::runtime::Runtime, head: &[u8]) -> usize {
    rt.block_on(async {
        let (_request, ws) =
            tokio_websockets::ServerBuilder::new().accept(MemStream::new(black_box(head))).await.unwrap();
        ws.get_ref().sink.written.get() as usize
    })
}

// ------------------------------------------------------------------------------------------
// Frame codecs: our frame layer against websocket-sans-io, and our Connection for reference
// ------------------------------------------------------------------------------------------

/// Frame sizes of the frame-codec rows.
const FRAME_SIZES: [usize; 4] = [16, 125, 1024, 16 * 1024];

/// Our frame layer receiving: reads of at most 16 KiB into the caller's buffer, decoded with
/// [`FrameDecoder`] and unmasked in place (it also checks what §5 asks of one frame: the
/// client's mask, opcodes, lengths).
fn frame_recv_ours(wire: &[u8], count: usize) -> Receiver<'_> {
    let mut stream = MemStream::new(wire);
    let mut buf = Phased::new(READ_16K);
    let mut decoder = FrameDecoder::new(rfc6455::Role::Server);
    let (mut fin, mut message_len) = (false, 0);
    Box::new(move || {
        let mut seen = Seen::default();
        while (seen.messages as usize) < count {
            let n = stream.read_into(&mut buf);
            let mut input = &mut buf[..n];
            while !input.is_empty() {
                let step = decoder.decode(input).unwrap();
                match step.item {
                    Decoded::Header(header) => {
                        assert!(header.opcode.is_data(), "only data frames are sent");
                        fin = header.fin;
                        if header.payload_len == 0 && fin {
                            seen.add(std::mem::take(&mut message_len));
                        }
                    }
                    Decoded::Payload { range, frame_end } => {
                        message_len += black_box(&input[range]).len();
                        if frame_end && fin {
                            seen.add(std::mem::take(&mut message_len));
                        }
                    }
                    Decoded::NeedMore => {}
                }
                input = &mut input[step.consumed..];
            }
        }
        seen
    })
}

/// websocket-sans-io receiving the same way: `add_data` on the caller's buffer, unmasked in
/// place. It checks nothing (its docs leave validation to the caller).
fn frame_recv_sans_io(wire: &[u8], count: usize) -> Receiver<'_> {
    use websocket_sans_io::{Opcode, WebsocketFrameDecoder, WebsocketFrameEvent};
    let mut stream = MemStream::new(wire);
    let mut buf = Phased::new(READ_16K);
    let mut decoder = WebsocketFrameDecoder::new();
    let mut message_len = 0;
    Box::new(move || {
        let mut seen = Seen::default();
        while (seen.messages as usize) < count {
            let n = stream.read_into(&mut buf);
            let mut at = 0;
            // As its docs say: call again while it consumes bytes or reports an event (a
            // frame's End comes from a call after its last payload bytes, even an empty one).
            loop {
                let Ok(step) = decoder.add_data(&mut buf[at..n]);
                match step.event {
                    Some(WebsocketFrameEvent::PayloadChunk { .. }) => {
                        message_len += black_box(&buf[at..at + step.consumed_bytes]).len();
                    }
                    // The last frame of a data message.
                    Some(WebsocketFrameEvent::End { frame_info, original_opcode })
                        if frame_info.fin && matches!(original_opcode, Opcode::Text | Opcode::Binary) =>
                    {
                        seen.add(std::mem::take(&mut message_len));
                    }
                    Some(WebsocketFrameEvent::Start { .. } | WebsocketFrameEvent::End { .. }) => {}
                    None if step.consumed_bytes == 0 => break,
                    None => {}
                }
                at += step.consumed_bytes;
            }
        }
        seen
    })
}

/// Our frame layer sending: [`encode_frame`] writes header and payload (masked as it is
/// copied, for a client) into the caller's buffer, which is then written out.
fn frame_send_ours(side: Side, data: &[u8], count: usize) -> Sender<'_> {
    let mut buf = Phased::new(data.len() + MAX_HEADER_LEN);
    let mut sink = Sink::default();
    let mut i = 0;
    Box::new(move || {
        for _ in 0..count {
            let mask = (side == Side::Client).then(|| key_for(i));
            i += 1;
            let n = encode_frame(true, 0, OpCode::Binary, data, mask, &mut buf).unwrap();
            sink.take(&buf[..n]);
        }
        sink.written.get()
    })
}

/// websocket-sans-io sending as its docs show: `start_frame` returns the header, the caller
/// places header and payload in its buffer and `transform_frame_payload` masks in place.
fn frame_send_sans_io(side: Side, data: &[u8], count: usize) -> Sender<'_> {
    use websocket_sans_io::{FrameInfo, Opcode, WebsocketFrameEncoder};
    let mut buf = Phased::new(data.len() + websocket_sans_io::MAX_HEADER_LENGTH);
    let mut sink = Sink::default();
    let mut encoder = WebsocketFrameEncoder::new();
    let mut i = 0;
    Box::new(move || {
        for _ in 0..count {
            let mask = (side == Side::Client).then(|| key_for(i));
            i += 1;
            let header = encoder.start_frame(&FrameInfo {
                opcode: Opcode::Binary,
                payload_length: data.len() as u64,
                mask,
                fin: true,
                reserved: 0,
            });
            let (head, rest) = buf.split_at_mut(header.len());
            head.copy_from_slice(&header);
            let payload = &mut rest[..data.len()];
            payload.copy_from_slice(data);
            encoder.transform_frame_payload(payload);
            sink.take(&buf[..header.len() + data.len()]);
        }
        sink.written.get()
    })
}

fn frame_workloads(table: &mut Table) {
    for size in FRAME_SIZES {
        let workload = format!("frame/recv/binary/{}", size_label(size));
        if !table.wants(&workload) {
            continue;
        }
        let data = payload(Kind::Binary, size);
        let count = count_for(size);
        let wire = masked_messages(OpCode::Binary, &data, count);
        let want = Seen { messages: count as u64, bytes: (count * size) as u64 };
        let input = RecvInput { wire: &wire, count, message_len: wire.len() / count, shape: Shape::MAIN };
        let receivers: [(&'static str, Receiver<'_>); 3] = [
            ("rfc6455", frame_recv_ours(&wire, count)),
            ("websocket-sans-io", frame_recv_sans_io(&wire, count)),
            ("Connection", recv_ours(input, TOKIO_READ_MIN)),
        ];
        let entries = receivers
            .into_iter()
            .map(|(name, mut receive)| {
                assert_eq!(receive(), want, "{name} saw something else in {workload}");
                entry(name, move || receive().bytes)
            })
            .collect();
        let unit = unit_for(size, count);
        table.run(workload, unit, Some(Goal::OverBestPeer(1.0)), entries);
    }
    for side in [Side::Server, Side::Client] {
        for size in FRAME_SIZES {
            let label = if side == Side::Server { "server" } else { "client-masked" };
            let workload = format!("frame/send/{label}/binary/{}", size_label(size));
            if !table.wants(&workload) {
                continue;
            }
            let data = payload(Kind::Binary, size);
            let count = count_for(size);
            let want = (count * (size + header_len(size, side))) as u64;
            let data_bytes = Bytes::from(data.clone());
            let input = SendInput { side, source: Source::Binary(&data_bytes), count, fresh: false };
            let senders: [(&'static str, Sender<'_>); 3] = [
                ("rfc6455", frame_send_ours(side, &data, count)),
                ("websocket-sans-io", frame_send_sans_io(side, &data, count)),
                ("Connection", send_ours_borrowed(input)),
            ];
            run_send_row(table, workload, unit_for(size, count), Goal::OverBestPeer(1.0), want, senders);
        }
    }
}

// ------------------------------------------------------------------------------------------
// The timing loop and the table
// ------------------------------------------------------------------------------------------

/// The peers of the message-level sections, in column order.
const PEERS: &[&str] = &["tungstenite", "fastwebsockets", "tokio-websockets"];
/// The peer of the frame-codec section.
const FRAME_PEERS: &[&str] = &["websocket-sans-io"];

struct Entry<'a> {
    name: &'static str,
    run: Box<dyn FnMut() -> u64 + 'a>,
}

fn entry<'a>(name: &'static str, run: impl FnMut() -> u64 + 'a) -> Entry<'a> {
    Entry { name, run: Box::new(run) }
}

/// What a row of `count` messages of `size` bytes is measured in: messages up to 125 B (the
/// cost is per message there), payload bytes above.
fn unit_for(size: usize, count: usize) -> Unit {
    if size <= 125 { Unit::Messages(count as u64) } else { Unit::Bytes((count * size) as u64) }
}

/// Times one send row: each sender must write `want` bytes (checked once, before timing).
fn run_send_row<'a, const N: usize>(
    table: &mut Table,
    workload: String,
    unit: Unit,
    goal: Goal,
    want: u64,
    senders: [(&'static str, Sender<'a>); N],
) {
    let entries = senders
        .into_iter()
        .map(|(name, mut send)| {
            assert_eq!(send(), want, "{name} wrote something else in {workload}");
            entry(name, send)
        })
        .collect();
    table.run(workload, unit, Some(goal), entries);
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
    /// Throughput per peer of the section, `None` where the peer has no comparable public API.
    peers: Vec<Option<f64>>,
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
    /// The peers (columns) of the current section.
    peers: &'static [&'static str],
}

impl Table {
    /// Starts a section of the table: a title and a header with `peers` as columns.
    fn section(&mut self, title: &str, peers: &'static [&'static str]) {
        self.peers = peers;
        println!("\n{title}\n");
        print_header(peers);
    }

    fn wants(&self, workload: &str) -> bool {
        self.filter.is_empty() || self.filter.iter().any(|f| workload.contains(f.as_str()))
    }

    /// Measures `entries` (ours first, then peers by name, then an optional reference named
    /// "memcpy" or "bare") and records a row.
    fn run(&mut self, workload: String, unit: Unit, goal: Option<Goal>, mut entries: Vec<Entry<'_>>) {
        let times = measure(&self.settings, &mut entries);
        let mut row =
            Row { workload, unit, ours: 0.0, peers: vec![None; self.peers.len()], reference: None, goal };
        let mut ours_via: Vec<(&'static str, f64)> = Vec::new();
        for (e, ns) in entries.iter().zip(times) {
            let value = throughput(unit, ns);
            match e.name {
                "rfc6455" => row.ours = value,
                name if OUR_SEND_APIS.contains(&name) => ours_via.push((name, value)),
                name => match self.peers.iter().position(|p| *p == name) {
                    Some(i) => row.peers[i] = Some(value),
                    None => row.reference = Some((name, value)),
                },
            }
        }
        // Send rows: ours is the fastest of our send APIs; the reference column shows the
        // next one.
        ours_via.sort_by(|a, b| b.1.total_cmp(&a.1));
        if let [(_, best), other, ..] = ours_via[..] {
            row.ours = best;
            row.reference = Some(other);
        } else if let [only] = ours_via[..] {
            // A row whose ours is another API (`send_into`): the send API is its reference.
            row.reference = Some(only);
        }
        print_row(&row, self.peers);
        self.rows.push(row);
    }
}

fn best_peer(row: &Row) -> Option<f64> {
    row.peers.iter().flatten().copied().reduce(f64::max)
}

/// Column widths: the workload, then ours, then one per peer, then the rest.
const WORKLOAD_WIDTH: usize = 43;
const OURS_WIDTH: usize = 11;
const REFERENCE_WIDTH: usize = 24;
const RATIO_WIDTH: usize = 9;
const GOAL_WIDTH: usize = 15;

fn peer_width(peer: &str) -> usize {
    peer.len().max(11)
}

fn print_header(peers: &[&str]) {
    let mut head = format!("| {:<WORKLOAD_WIDTH$} | {:>OURS_WIDTH$} |", "workload", "rfc6455");
    let mut rule = format!("|{:-<w$}|{:->o$}|", "", "", w = WORKLOAD_WIDTH + 2, o = OURS_WIDTH + 2);
    for peer in peers {
        head += &format!(" {:>w$} |", peer, w = peer_width(peer));
        rule += &format!("{:->w$}|", "", w = peer_width(peer) + 2);
    }
    head += &format!(
        " {:>REFERENCE_WIDTH$} | {:>RATIO_WIDTH$} | {:>GOAL_WIDTH$} |",
        "reference", "ours/best", "goal"
    );
    rule += &format!(
        "{:->r$}|{:->q$}|{:->g$}|",
        "",
        "",
        "",
        r = REFERENCE_WIDTH + 2,
        q = RATIO_WIDTH + 2,
        g = GOAL_WIDTH + 2
    );
    println!("{head}\n{rule}");
}

/// Our three ways to send a message: `send_binary`/`send_text` copy a borrowed payload into
/// the output buffer; `send_owned` takes a `Bytes` or `String` and, on a server, writes large
/// payloads from where they lie; `send_vectored` writes a borrowed payload from where it lies
/// (a server's, from 2 KiB). A send row shows the fastest in the rfc6455 column and the next
/// as reference.
const OUR_SEND_APIS: [&str; 4] = ["send_binary", "send_text", "send_owned", "send_vectored"];

fn print_row(row: &Row, peers: &[&str]) {
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
    let mut line =
        format!("| {:<WORKLOAD_WIDTH$} | {:>OURS_WIDTH$} |", row.workload, fmt_figure(row.unit, row.ours));
    for (peer, value) in peers.iter().zip(&row.peers) {
        let figure = value.map_or_else(|| "n/a".to_string(), |v| fmt_figure(row.unit, v));
        line += &format!(" {:>w$} |", figure, w = peer_width(peer));
    }
    line += &format!(" {reference:>REFERENCE_WIDTH$} | {ratio:>RATIO_WIDTH$} | {goal:>GOAL_WIDTH$} |");
    println!("{line}");
}

fn recv_goal(kind: Kind, size: usize) -> Goal {
    Goal::OverBestPeer(match (kind, size) {
        (_, 0..=125) => 3.0,
        (Kind::Binary, _) => 1.3,
        _ => 1.5,
    })
}

/// The receive rows of `kinds` under `shape`.
fn recv_workloads(table: &mut Table, rt: &tokio::runtime::Runtime, kinds: &[Kind], shape: Shape) {
    for &kind in kinds {
        for size in SIZES {
            let workload = format!("recv/{}/{}{}", kind.name(), size_label(size), shape.suffix());
            if !table.wants(&workload) {
                continue;
            }
            let data = payload(kind, size);
            let count = count_for(size);
            let opcode = if kind.is_text() { OpCode::Text } else { OpCode::Binary };
            let wire = masked_messages(opcode, &data, count);
            let want = Seen { messages: count as u64, bytes: (count * size) as u64 };
            let unit = unit_for(size, count);
            let input = RecvInput { wire: &wire, count, message_len: wire.len() / count, shape };
            let entries = receivers(rt, &workload, input, want);
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

fn fragmented_workload(table: &mut Table, rt: &tokio::runtime::Runtime, shape: Shape) {
    let workload = format!("recv/fragmented/1MiB-64frames+ping{}", shape.suffix());
    if !table.wants(&workload) {
        return;
    }
    let (wire, len) = fragmented_wire();
    let want = Seen { messages: 1, bytes: len as u64 };
    let input = RecvInput { wire: &wire, count: 1, message_len: wire.len(), shape };
    let entries = receivers(rt, &workload, input, want);
    table.run(workload, Unit::Bytes(len as u64), Some(Goal::OverBestPeer(1.5)), entries);
}

/// The send rows of `kinds` (binary from `Bytes`, text from a `String` per message), each
/// side, through long-lived or fresh connections.
fn send_workloads(table: &mut Table, rt: &tokio::runtime::Runtime, kinds: &[Kind], fresh: bool) {
    for side in [Side::Server, Side::Client] {
        for &kind in kinds {
            for size in SIZES {
                let label = if side == Side::Server { "server" } else { "client-masked" };
                let suffix = if fresh { "@fresh" } else { "" };
                let name = if kind.is_text() { "text" } else { "binary" };
                let workload = format!("send/{label}/{name}/{}{suffix}", size_label(size));
                if !table.wants(&workload) {
                    continue;
                }
                let data = payload(kind, size);
                let text =
                    if kind.is_text() { String::from_utf8(data.clone()).unwrap() } else { String::new() };
                let bytes = Bytes::from(data);
                let source = if kind.is_text() { Source::Text(&text) } else { Source::Binary(&bytes) };
                let count = count_for(size);
                let want = (count * (size + header_len(size, side))) as u64;
                let input = SendInput { side, source, count, fresh };
                let ours_borrowed = if kind.is_text() { "send_text" } else { "send_binary" };
                let senders: [(&'static str, Sender<'_>); 6] = [
                    ("send_owned", send_ours(input)),
                    (ours_borrowed, send_ours_borrowed(input)),
                    ("send_vectored", send_ours_vectored(input)),
                    ("tungstenite", send_tungstenite(input)),
                    ("fastwebsockets", send_fastwebsockets(rt, input)),
                    ("tokio-websockets", send_tokio_websockets(rt, input)),
                ];
                run_send_row(table, workload, unit_for(size, count), Goal::OverBestPeer(1.5), want, senders);
            }
        }
    }
}

/// The `send_into/…` rows: binary messages from `Bytes` encoded by ours straight into the
/// caller's buffer ([`send_ours_into`]), against the peers' send of the same messages; the
/// reference column is ours through the connection's output (`send_binary` + `poll_output`).
fn send_into_workloads(table: &mut Table, rt: &tokio::runtime::Runtime) {
    for side in [Side::Server, Side::Client] {
        for size in SIZES {
            let label = if side == Side::Server { "server" } else { "client-masked" };
            let workload = format!("send_into/{label}/binary/{}", size_label(size));
            if !table.wants(&workload) {
                continue;
            }
            let bytes = Bytes::from(payload(Kind::Binary, size));
            let count = count_for(size);
            let want = (count * (size + header_len(size, side))) as u64;
            let input = SendInput { side, source: Source::Binary(&bytes), count, fresh: false };
            let senders: [(&'static str, Sender<'_>); 5] = [
                ("rfc6455", send_ours_into(input)),
                ("tungstenite", send_tungstenite(input)),
                ("fastwebsockets", send_fastwebsockets(rt, input)),
                ("tokio-websockets", send_tokio_websockets(rt, input)),
                ("send_binary", send_ours_borrowed(input)),
            ];
            run_send_row(table, workload, unit_for(size, count), Goal::OverBestPeer(1.5), want, senders);
        }
    }
}

/// Bytes of a frame header for a `size`-byte payload sent by `side`.
fn header_len(size: usize, side: Side) -> usize {
    let len = match size {
        0..=125 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    };
    len + if side == Side::Client { 4 } else { 0 }
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

/// The handshake rows: the Chromium request with its permessage-deflate offer declined (a
/// server without compression) and accepted (`+deflate`: negotiated with the default policy,
/// the answer in the 101), and the same request without the offer (`no-offer`). The peers
/// negotiate no extensions, so they have no `+deflate` figure. The goal is issue 17's: within
/// 1.5x the time of the bare floor, which parses the same head (and validates, negotiates
/// nothing).
fn handshake_workload(table: &mut Table, rt: &tokio::runtime::Runtime) {
    let offer_line = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    let at = CHROMIUM.windows(offer_line.len()).position(|w| w == offer_line).expect("the offer");
    let no_offer: &'static [u8] = [&CHROMIUM[..at], &CHROMIUM[at + offer_line.len()..]].concat().leak();
    for (name, head, deflate) in
        [("no-offer", no_offer, false), ("chromium", CHROMIUM, false), ("chromium+deflate", CHROMIUM, true)]
    {
        let workload = format!("handshake/server/{name}");
        if !table.wants(&workload) {
            continue;
        }
        let policy = deflate.then(DeflateConfig::default);
        let mut out = Vec::with_capacity(512);
        let ours_len = handshake_ours(head, policy.as_ref(), &mut out);
        assert!(
            ours_len > 0 && out.windows(ACCEPT_KEY.len()).any(|w| w == ACCEPT_KEY),
            "ours answers with the key"
        );
        assert_eq!(
            deflate,
            out.windows(18).any(|w| w == b"permessage-deflate"),
            "ours answers the offer as asked"
        );
        handshake_bare(head, &mut out);
        assert!(out.windows(ACCEPT_KEY.len()).any(|w| w == ACCEPT_KEY), "bare answers with the accept key");
        assert!(handshake_tungstenite(head) > 0);
        assert!(handshake_tokio_websockets(rt, head) > 0);
        let mut out2 = Vec::with_capacity(512);
        let mut entries =
            vec![entry("rfc6455", move || handshake_ours(head, policy.as_ref(), &mut out) as u64)];
        if !deflate {
            entries.push(entry("tungstenite", move || handshake_tungstenite(head) as u64));
            entries.push(entry("tokio-websockets", move || handshake_tokio_websockets(rt, head) as u64));
        }
        entries.push(entry("bare", move || handshake_bare(head, &mut out2) as u64));
        table.run(workload, Unit::Messages(1), Some(Goal::OverReference(1.0 / 1.5)), entries);
    }
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
        "Send rows: rfc6455 is the fastest of send_binary/send_text (borrowed, copied), send_owned \
         (Bytes or String, held) and send_vectored (borrowed, written in place); the reference column \
         shows the next. Text is sent from a String made per message."
    );
    match std::env::var("GLIBC_TUNABLES") {
        Ok(tunables) if tunables.contains("rep_movsb") => println!("memmove without rep movsb ({tunables})."),
        _ => println!("memmove with glibc's default (rep movsb for large copies)."),
    }
    println!(
        "fastwebsockets has no handshake without hyper; only fastwebsockets exports its mask function.\n"
    );
    let mut table = Table { settings, filter, rows: Vec::new(), peers: PEERS };
    let all = [Kind::Binary, Kind::Ascii, Kind::Mixed];
    table.section("Reads of at most 16 KiB, long-lived connections:", PEERS);
    recv_workloads(&mut table, &rt, &all, Shape::MAIN);
    fragmented_workload(&mut table, &rt, Shape::MAIN);
    send_workloads(&mut table, &rt, &[Kind::Binary, Kind::Ascii], false);
    send_into_workloads(&mut table, &rt);
    mask_workloads(&mut table);
    handshake_workload(&mut table, &rt);
    let read128 = Shape { read: READ_128K, fresh: false };
    table.section("Reads of at most 128 KiB (tungstenite's default read), long-lived connections:", PEERS);
    recv_workloads(&mut table, &rt, &all, read128);
    fragmented_workload(&mut table, &rt, read128);
    table.section(
        &format!("Fresh connections: a new one per {FRESH_BATCH} messages (setup and buffer growth count):"),
        PEERS,
    );
    for read in [READ_16K, READ_128K] {
        recv_workloads(&mut table, &rt, &[Kind::Binary, Kind::Ascii], Shape { read, fresh: true });
    }
    send_workloads(&mut table, &rt, &[Kind::Binary], true);
    table.section(
        "Frame codecs (16 KiB reads into the caller's buffer; binary frames; reference: our Connection):",
        FRAME_PEERS,
    );
    frame_workloads(&mut table);
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
