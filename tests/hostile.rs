//! The hostile-input suite: what a malicious or broken peer can send, the typed error and close
//! code (or HTTP status) each one must get, and the memory each one may cost.
//!
//! A counting global allocator measures the peak bytes allocated while each case runs (on the
//! test's own thread only), and every case asserts that the peak stays within the configured
//! limits plus a small constant. All cases run sequentially inside one `#[test]`, so no other
//! test's allocations pollute the figures. Run with `--nocapture` to see the table of peaks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use rfc6455::Role;
use rfc6455::close::CloseCode;
use rfc6455::connection::{CloseOrigin, Config, Connection, Event, MaskKeySource, MessageKind, State};
use rfc6455::error::ProtocolError;
use rfc6455::frame::{CloseFrame, Decoded, FrameDecoder, OpCode};
use rfc6455::handshake::{self, HandshakeError, Request, RequestParser};

// ---------------------------------------------------------------------------------------------
// The counting allocator
// ---------------------------------------------------------------------------------------------

/// Counts the bytes allocated by the thread that set [`TRACKED`], and their peak.
struct Counting;

thread_local! {
    static TRACKED: Cell<bool> = const { Cell::new(false) };
}

static CURRENT: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn tracked() -> bool {
    // `try_with` fails only while the thread is being torn down: not ours to count then.
    TRACKED.try_with(Cell::get).unwrap_or(false)
}

fn grew(size: usize) {
    if tracked() {
        let now = CURRENT.fetch_add(size as isize, Ordering::Relaxed) + size as isize;
        PEAK.fetch_max(now, Ordering::Relaxed);
        LARGEST.fetch_max(size, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

fn shrank(size: usize) {
    if tracked() {
        CURRENT.fetch_sub(size as isize, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` unchanged; the counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Counted as a new block before the old one is freed: a moving realloc holds both.
            grew(new_size);
            shrank(layout.size());
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What one case allocated.
#[derive(Debug, Clone, Copy)]
struct Usage {
    /// The most bytes live at once.
    peak: usize,
    /// The largest single allocation.
    largest: usize,
    /// How many allocations.
    count: usize,
}

/// Runs `f` with this thread's allocations counted from zero.
fn measure<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    CURRENT.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
    ALLOCATIONS.store(0, Ordering::Relaxed);
    TRACKED.with(|t| t.set(true));
    let result = f();
    TRACKED.with(|t| t.set(false));
    let usage = Usage {
        peak: PEAK.load(Ordering::Relaxed).max(0) as usize,
        largest: LARGEST.load(Ordering::Relaxed),
        count: ALLOCATIONS.load(Ordering::Relaxed),
    };
    (result, usage)
}

/// The cases run so far, with their figures, for the summary table.
struct Suite {
    rows: Vec<(String, Usage, usize)>,
}

/// The small constant every bound allows on top of the configured limits: the receive
/// buffer's minimum size, header slots, event bookkeeping.
const SMALL: usize = 64 * 1024;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

impl Suite {
    /// Runs a case, asserting its peak memory is at most `bound` bytes.
    fn case<R>(&mut self, name: &str, bound: usize, f: impl FnOnce() -> R) -> R {
        let (result, usage) = measure(f);
        assert!(
            usage.peak <= bound,
            "{name}: peak {} bytes exceeds the bound of {bound} (largest allocation {})",
            usage.peak,
            usage.largest
        );
        self.rows.push((name.to_owned(), usage, bound));
        result
    }

    fn print(&self) {
        println!("{:<64} {:>10} {:>10} {:>8} {:>10}", "case", "peak", "largest", "allocs", "bound");
        for (name, usage, bound) in &self.rows {
            println!("{name:<64} {:>10} {:>10} {:>8} {:>10}", usage.peak, usage.largest, usage.count, bound);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Wire helpers: raw frames, including ones no encoder would write
// ---------------------------------------------------------------------------------------------

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A raw frame: `first` is the whole first header byte (FIN, RSV, opcode), `len` the claimed
/// payload length (which may differ from `payload.len()`), masked with [`KEY`] when `masked`.
fn raw(first: u8, len: u64, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut out = vec![first];
    match len {
        0..=125 => out.push(mask_bit | len as u8),
        126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&KEY);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A well-formed frame as `sender` would send it (a client masks).
fn frame(sender: Role, fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw(u8::from(fin) << 7 | opcode, payload.len() as u64, payload, sender == Role::Client)
}

fn peer_of(role: Role) -> Role {
    match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    }
}

fn keys() -> MaskKeySource {
    let mut n: u32 = 7;
    Box::new(move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_be_bytes()
    })
}

fn connection(role: Role, config: Config) -> Connection {
    Connection::builder(role).config(config).mask_keys(keys()).build()
}

/// The error for a text (a message, or a close reason) that is not UTF-8, with its position.
fn utf8_error(text: &[u8]) -> ProtocolError {
    ProtocolError::InvalidUtf8(std::str::from_utf8(text).expect_err("not UTF-8").into())
}

/// An event, summarised so that recording it costs little memory. (A failure is not one: it is
/// [`Outcome::error`].)
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Message { kind: MessageKind, len: usize, hash: u64 },
    Chunk { kind: MessageKind, len: usize, first: bool, last: bool },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close { code: u16, reason: String, origin: CloseOrigin },
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn message(kind: MessageKind, bytes: &[u8]) -> Seen {
    Seen::Message { kind, len: bytes.len(), hash: fnv(bytes) }
}

fn see(event: &Event<'_>) -> Seen {
    match event {
        Event::Text(text) => message(MessageKind::Text, text.as_bytes()),
        Event::Binary(data) => message(MessageKind::Binary, data),
        Event::Chunk { kind, data, first, last } => {
            Seen::Chunk { kind: *kind, len: data.len(), first: *first, last: *last }
        }
        Event::Ping(data) => Seen::Ping(data.to_vec()),
        Event::Pong(data) => Seen::Pong(data.to_vec()),
        Event::Closed(info) => Seen::Close {
            code: info.code().0,
            reason: info.reason().to_owned(),
            origin: info.origin().clone(),
        },
        other => panic!("unknown event {other:?}"),
    }
}

/// Appends `seen`, merging a streamed piece into the previous piece of the same message so
/// that recording costs the same whatever the chunking (and compares equal across chunkings).
fn record(events: &mut Vec<Seen>, seen: Seen) {
    if let (
        Some(Seen::Chunk { kind, len, last: false, .. }),
        Seen::Chunk { kind: next, len: more, last, .. },
    ) = (events.last_mut(), &seen)
    {
        assert_eq!(kind, next, "kind changed within a message");
        *len += more;
        if *last {
            if let Some(Seen::Chunk { last: done, .. }) = events.last_mut() {
                *done = true;
            }
        }
        return;
    }
    events.push(seen);
}

/// What a connection made of some input.
#[derive(Debug)]
struct Outcome {
    /// The events, but for the end of a connection we failed.
    events: Vec<Seen>,
    /// The protocol error we failed the connection for (its [`Event::Closed`], with the
    /// error's close code).
    error: Option<ProtocolError>,
    /// How many input bytes had been delivered when the error surfaced.
    error_at: usize,
    /// The most bytes the connection held after draining (`buffered_input_len`).
    max_buffered: usize,
}

/// Feeds `wire` to `conn` in pieces of `chunk` bytes, draining events after each piece,
/// through `handle_bytes` or (`read_buf`) the zero-copy path. The end of the connection
/// ([`Event::Closed`]) must be its last event: nothing comes after it, whatever follows on the
/// wire.
fn feed(conn: &mut Connection, wire: &[u8], chunk: usize, read_buf: bool) -> Outcome {
    let mut outcome = Outcome { events: Vec::new(), error: None, error_at: 0, max_buffered: 0 };
    let mut delivered = 0;
    let mut ended = false;
    for piece in wire.chunks(chunk.max(1)) {
        if read_buf {
            let buf = conn.read_buf(piece.len());
            buf[..piece.len()].copy_from_slice(piece);
            conn.handle_read(piece.len());
        } else {
            conn.handle_bytes(piece);
        }
        delivered += piece.len();
        while let Some(event) = conn.poll_event() {
            assert!(!ended, "{event:?} after the end");
            ended = matches!(event, Event::Closed(_));
            match event {
                Event::Closed(info) if info.error().is_some() => {
                    let error = info.error().cloned();
                    assert_eq!(Some(info.origin()), error.clone().map(CloseOrigin::Failed).as_ref());
                    assert_eq!(Some(info.code()), error.as_ref().map(ProtocolError::close_code));
                    outcome.error = error;
                    outcome.error_at = delivered;
                }
                event => record(&mut outcome.events, see(&event)),
            }
        }
        outcome.max_buffered = outcome.max_buffered.max(conn.buffered_input_len());
    }
    outcome
}

/// The frames in `conn`'s pending output, taken and decoded as its peer would:
/// `(opcode, payload)`.
fn output_frames(conn: &mut Connection) -> Vec<(OpCode, Vec<u8>)> {
    let mut wire = Vec::new();
    conn.write_to(&mut wire).expect("a Vec takes everything");
    let mut decoder = FrameDecoder::new(peer_of(conn.role()));
    let mut frames: Vec<(OpCode, Vec<u8>)> = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let step = decoder.decode(&mut wire[at..]).expect("our output decodes");
        match step.item {
            Decoded::Header(header) => frames.push((header.opcode, Vec::new())),
            Decoded::Payload { range, .. } => {
                frames.last_mut().expect("a header came first").1.extend_from_slice(&wire[at..][range]);
            }
            Decoded::NeedMore => panic!("our output ends inside a frame"),
        }
        at += step.consumed;
    }
    frames
}

/// Asserts that feeding `wire` to a fresh connection of `role` (in pieces of each size in
/// `chunks`) fails with `expected`, whose close code is `code`; that the connection is closed,
/// answers nothing more, and has queued a Close with that code as its last frame.
fn expect_failure(
    suite: &mut Suite,
    name: &str,
    role: Role,
    config: &Config,
    wire: &[u8],
    expected: &ProtocolError,
    code: CloseCode,
) {
    assert_eq!(expected.close_code(), code, "{name}: {expected:?} maps to the wrong code");
    for chunk in [wire.len(), 1] {
        let label = format!("{name} ({role:?}, {})", if chunk == 1 { "byte by byte" } else { "whole" });
        // The connection may hold what it was handed at once (the whole wire, when delivered
        // whole) and, byte by byte, no more of it than one frame: times 3 for a growing
        // buffer's doubling and the moment a reallocation holds old and new.
        let frame_limit = config.frame_limit();
        let held = if chunk == 1 { wire.len().min(frame_limit as usize) } else { wire.len() };
        let bound = SMALL + 3 * held;
        let (mut conn, outcome) = suite.case(&label, bound, || {
            let mut conn = connection(role, config.clone());
            let outcome = feed(&mut conn, wire, chunk, false);
            (conn, outcome)
        });
        assert_eq!(outcome.error.as_ref(), Some(expected), "{label}: events {:?}", outcome.events);
        assert_eq!(conn.state(), State::Closed, "{label}");
        assert_eq!(conn.poll_event(), None, "{label}: an event after the error");
        let info = conn.close_info().expect("the connection ended");
        assert_eq!(info.error(), Some(expected), "{label}");
        assert_eq!(info.code(), code, "{label}");
        let frames = output_frames(&mut conn);
        let (opcode, payload) = frames.last().unwrap_or_else(|| panic!("{label}: no Close queued"));
        assert_eq!(*opcode, OpCode::Close, "{label}");
        assert_eq!(CloseFrame::parse(payload).expect("our Close parses").code, Some(code), "{label}");
    }
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_inputs() {
    let mut suite = Suite { rows: Vec::new() };
    huge_length_claims(&mut suite);
    sixteen_mib_claim_then_one_byte(&mut suite);
    frame_claims_at_the_room_ahead(&mut suite);
    a_million_empty_continuations(&mut suite);
    one_byte_continuations_up_to_the_message_limit(&mut suite);
    one_byte_over_each_limit(&mut suite);
    #[cfg(feature = "deflate")]
    deflate_bombs(&mut suite);
    oversized_handshake_heads(&mut suite);
    everything_one_byte_at_a_time(&mut suite);
    invalid_utf8_at_every_position(&mut suite);
    reserved_opcodes_and_rsv_bits(&mut suite);
    control_frame_rules(&mut suite);
    close_payloads(&mut suite);
    data_after_close(&mut suite);
    suite.print();
}

/// A 2^63−1 length claim: refused at the header by the frame limit (1009; by default it is
/// the message limit), or, when the caller lifts the frame limit, by the message limit (1009);
/// never allocated up front. 2^63 breaks §5.2 (1002).
fn huge_length_claims(suite: &mut Suite) {
    let claim = i64::MAX as u64;
    for role in [Role::Server, Role::Client] {
        let masked = role == Role::Server;
        let wire = raw(0x82, claim, b"", masked);
        // The default frame limit follows the message limit.
        assert_eq!(Config::default().max_frame_size, None);
        let limit = Config::default().max_message_size;
        expect_failure(
            suite,
            "2^63-1 length claim, default limits",
            role,
            &Config::default(),
            &wire,
            &ProtocolError::FrameTooLarge { size: claim, limit },
            CloseCode::MESSAGE_TOO_BIG,
        );
        let no_frame_limit = Config::default().max_frame_size(u64::MAX);
        let message_limit = no_frame_limit.max_message_size;
        expect_failure(
            suite,
            "2^63-1 length claim, no frame limit",
            role,
            &no_frame_limit,
            &wire,
            &ProtocolError::MessageTooLarge { limit: message_limit },
            CloseCode::MESSAGE_TOO_BIG,
        );
        expect_failure(
            suite,
            "2^63 length claim",
            role,
            &Config::default(),
            &raw(0x82, 1 << 63, b"", masked),
            &ProtocolError::InvalidPayloadLength,
            CloseCode::PROTOCOL_ERROR,
        );
    }
    // The bare decoder with no limit at all streams such a frame without allocating.
    let mut wire = raw(0x82, claim, b"abc", true);
    let ((), usage) = measure(|| {
        let mut decoder = FrameDecoder::new(Role::Server);
        decoder.set_max_frame_size(u64::MAX);
        let step = decoder.decode(&mut wire).expect("a legal header");
        assert!(matches!(step.item, Decoded::Header(h) if h.payload_len == claim));
        let step = decoder.decode(&mut wire[14..]).expect("payload");
        assert!(matches!(step.item, Decoded::Payload { frame_end: false, .. }));
        assert_eq!(decoder.payload_remaining(), claim - 3);
    });
    assert_eq!(usage.peak, 0, "the frame decoder allocated {usage:?}");
    suite.rows.push(("2^63-1 claim through a bare FrameDecoder".into(), usage, 0));
}

/// A frame that arrives in pieces gets room for all of it when it is a message's last frame of
/// at most 64 KiB (one growth of the reassembly buffer, not one per piece): a claim of 64 KiB
/// followed by one byte may cost those 64 KiB, and no more; one byte more and the room follows
/// what arrives again. Masked ASCII text and binary (a server's), with and without `read_buf`.
fn frame_claims_at_the_room_ahead(suite: &mut Suite) {
    for (claim, bound, what) in [(64 * KIB, SMALL + 64 * KIB, "64 KiB"), (64 * KIB + 1, SMALL, "64 KiB + 1")]
    {
        for (first, name) in [(0x81, "text"), (0x82, "binary")] {
            let mut wire = raw(first, claim as u64, b"", true);
            wire.extend(raw(first, claim as u64, b"a", true).last());
            for read_buf in [false, true] {
                let label = format!("{what} {name} claim + 1 byte (Server, read_buf {read_buf})");
                let outcome = suite.case(&label, bound, || {
                    let mut conn = connection(Role::Server, Config::default());
                    feed(&mut conn, &wire, wire.len(), read_buf)
                });
                assert_eq!(outcome.error, None, "{label}");
                assert_eq!(outcome.events, vec![], "{label}");
            }
        }
    }
}

/// A 16 MiB length claim (exactly the frame limit, set to 16 MiB) followed by one byte must
/// cost a few KiB, not 16 MiB, whatever the role, type, fragmentation and delivery mode; one
/// byte more is 1009. (A first fragment, and a whole Binary frame of 4 to 64 KiB, go to a
/// reassembly buffer that grows with what arrives, not with what is claimed.)
fn sixteen_mib_claim_then_one_byte(suite: &mut Suite) {
    let claim = 16 << 20;
    let limits = Config::default().max_frame_size(claim);
    for role in [Role::Server, Role::Client] {
        let masked = role == Role::Server;
        let shapes = [
            (0x81, "text"),
            (0x82, "binary"),
            (0x01, "first text fragment"),
            (0x02, "first binary fragment"),
        ];
        for (first, name) in shapes {
            for streaming in [false, true] {
                let mut wire = raw(first, claim, b"", masked);
                // The one byte: a valid UTF-8 start for text.
                wire.extend(raw(first, claim, b"a", masked).last());
                for read_buf in [false, true] {
                    let label = format!(
                        "16 MiB {name} claim + 1 byte ({role:?}, streaming {streaming}, read_buf {read_buf})"
                    );
                    let outcome = suite.case(&label, SMALL, || {
                        let mut conn = connection(role, limits.clone().streaming(streaming));
                        feed(&mut conn, &wire, wire.len(), read_buf)
                    });
                    assert_eq!(outcome.error, None, "{label}");
                    let expected = if streaming {
                        vec![Seen::Chunk {
                            kind: if first & 0x0f == 0x1 { MessageKind::Text } else { MessageKind::Binary },
                            len: 1,
                            first: true,
                            last: false,
                        }]
                    } else {
                        vec![]
                    };
                    assert_eq!(outcome.events, expected, "{label}");
                }
            }
        }
        expect_failure(
            suite,
            "16 MiB + 1 length claim",
            role,
            &limits,
            &raw(0x82, claim + 1, b"a", masked),
            &ProtocolError::FrameTooLarge { size: claim + 1, limit: claim },
            CloseCode::MESSAGE_TOO_BIG,
        );
    }
}

/// A million empty continuation frames between a message's first and last fragments: one
/// message comes out, and memory does not grow with the number of frames.
fn a_million_empty_continuations(suite: &mut Suite) {
    let role = Role::Server;
    let mut wire = frame(Role::Client, false, 0x1, b"a");
    let empty = frame(Role::Client, false, 0x0, b"");
    wire.reserve(empty.len() * 1_000_000 + 16);
    for _ in 0..1_000_000 {
        wire.extend_from_slice(&empty);
    }
    wire.extend(frame(Role::Client, true, 0x0, b"b"));
    // Delivered the way a socket would: 4 KiB reads straight into the connection's buffer.
    let outcome = suite.case("a million empty continuation frames (4 KiB reads)", SMALL, || {
        let mut conn = connection(role, Config::default());
        feed(&mut conn, &wire, 4096, true)
    });
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.events, vec![message(MessageKind::Text, b"ab")]);
    drop(wire);
}

/// A text message started, then 1-byte continuation frames until the message limit is passed
/// (what tools/wsload's "1-byte continuation frames" peer sends): the connection fails with
/// 1009, and what it held meanwhile stays within a small multiple of the message limit,
/// however many frame headers the bytes came with (7 wire bytes per payload byte here).
fn one_byte_continuations_up_to_the_message_limit(suite: &mut Suite) {
    let limit = 256 * KIB;
    let config = Config::default().max_message_size(limit as u64);
    let mut wire = frame(Role::Client, false, 0x1, b"a");
    let one = frame(Role::Client, false, 0x0, b"x");
    for _ in 0..limit + 16 {
        wire.extend_from_slice(&one);
    }
    // Delivered the way a socket would: 16 KiB reads straight into the connection's buffer.
    let label = format!("1-byte continuations past a {} KiB message limit (16 KiB reads)", limit / KIB);
    let outcome = suite.case(&label, 2 * limit + SMALL, || {
        let mut conn = connection(Role::Server, config);
        feed(&mut conn, &wire, 16 * KIB, true)
    });
    assert_eq!(outcome.error.as_ref().map(ProtocolError::close_code), Some(CloseCode::MESSAGE_TOO_BIG));
    assert!(outcome.events.is_empty());
}

/// One byte over the frame limit and over the message limit (whole, fragmented, streamed)
/// fails with 1009 before the excess is accepted; exactly at the limit passes. Memory stays
/// within a small multiple of the limit (buffers grow by doubling).
fn one_byte_over_each_limit(suite: &mut Suite) {
    let limit = 64 * KIB;
    let config = Config::default().max_frame_size(limit as u64).max_message_size(limit as u64);
    for role in [Role::Server, Role::Client] {
        let sender = peer_of(role);
        let at_limit = vec![0x5a; limit];
        let over = vec![0x5a; limit + 1];
        // Frame size.
        let wire = frame(sender, true, 0x2, &at_limit);
        let outcome =
            suite.case(&format!("frame exactly at the 64 KiB limit ({role:?})"), 3 * limit + SMALL, || {
                let mut conn = connection(role, config.clone());
                feed(&mut conn, &wire, 4096, false)
            });
        assert_eq!(outcome.error, None);
        assert_eq!(outcome.events, vec![message(MessageKind::Binary, &at_limit)]);
        expect_failure(
            suite,
            "frame one byte over the 64 KiB limit",
            role,
            &config.clone().max_message_size(u64::MAX),
            &frame(sender, true, 0x2, &over),
            &ProtocolError::FrameTooLarge { size: limit as u64 + 1, limit: limit as u64 },
            CloseCode::MESSAGE_TOO_BIG,
        );
        // Message size: a single frame under the frame limit but over the message limit.
        expect_failure(
            suite,
            "single-frame message one byte over the message limit",
            role,
            &config.clone().max_frame_size(u64::MAX),
            &frame(sender, true, 0x2, &over),
            &ProtocolError::MessageTooLarge { limit: limit as u64 },
            CloseCode::MESSAGE_TOO_BIG,
        );
        // Message size, fragmented: 32 KiB + 32 KiB is fine, one more byte is not.
        let half = &at_limit[..limit / 2];
        let mut exact = frame(sender, false, 0x1, half);
        exact.extend(frame(sender, true, 0x0, half));
        let mut over_by_one = frame(sender, false, 0x1, half);
        over_by_one.extend(frame(sender, false, 0x0, half));
        over_by_one.extend(frame(sender, true, 0x0, b"Z"));
        for streaming in [false, true] {
            let config = config.clone().streaming(streaming);
            let outcome = suite.case(
                &format!("fragmented message exactly at the limit ({role:?}, streaming {streaming})"),
                3 * limit + SMALL,
                || {
                    let mut conn = connection(role, config.clone());
                    feed(&mut conn, &exact, 4096, false)
                },
            );
            assert_eq!(outcome.error, None);
            if !streaming {
                assert_eq!(outcome.events, vec![message(MessageKind::Text, &at_limit)]);
            }
            expect_failure(
                suite,
                &format!("fragmented message one byte over the limit (streaming {streaming})"),
                role,
                &config,
                &over_by_one,
                &ProtocolError::MessageTooLarge { limit: limit as u64 },
                CloseCode::MESSAGE_TOO_BIG,
            );
        }
    }
}

/// A permessage-deflate bomb: 1 MiB of zeros compressed to about a kilobyte, against a 64 KiB
/// message limit, fails with 1009 while inflating, whole or fragmented; a message that
/// inflates to exactly the limit passes. Memory: the limit, plus the inflate state.
#[cfg(feature = "deflate")]
fn deflate_bombs(suite: &mut Suite) {
    use rfc6455::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};

    /// zlib-rs's inflate state and 32 KiB window, measured at about 46 KiB (see
    /// `PerMessageDeflate`'s docs), with room to spare.
    const INFLATE_STATE: usize = 64 * KIB;
    let limit = 64 * KIB;
    let params = DeflateParams::default();
    let compressed = |size: usize, fragment: Option<usize>| {
        let mut server = Connection::builder(Role::Server)
            .config(Config::default().fragment_size(fragment))
            .extension(Box::new(PerMessageDeflate::new(Role::Server, params, &DeflateConfig::default())))
            .build();
        server.send_binary(&vec![0u8; size]).expect("send");
        let mut wire = Vec::new();
        server.write_to(&mut wire).expect("a Vec takes everything");
        wire
    };
    for fragment in [None, Some(100)] {
        let bomb = compressed(MIB, fragment);
        assert!(bomb.len() < 16 * KIB, "the bomb is {} bytes", bomb.len());
        assert_eq!(bomb[0] & 0x40, 0x40, "RSV1 set: the message is compressed");
        let exact = compressed(limit, fragment);
        for (wire, size) in [(&bomb, MIB), (&exact, limit)] {
            for chunk in [wire.len(), 1] {
                let label = format!(
                    "deflate: {size} zeros in {} wire bytes, fragments {fragment:?}, {chunk}-byte pieces",
                    wire.len()
                );
                let outcome = suite.case(&label, 3 * limit + INFLATE_STATE + SMALL, || {
                    let mut client = Connection::builder(Role::Client)
                        .config(Config::default().max_message_size(limit as u64))
                        .mask_keys(keys())
                        .extension(Box::new(PerMessageDeflate::new(
                            Role::Client,
                            params,
                            &DeflateConfig::default(),
                        )))
                        .build();
                    feed(&mut client, wire, chunk, false)
                });
                if size > limit {
                    assert_eq!(
                        outcome.error,
                        Some(ProtocolError::MessageTooLarge { limit: limit as u64 }),
                        "{label}"
                    );
                } else {
                    assert_eq!(outcome.error, None, "{label}");
                    assert_eq!(
                        outcome.events,
                        vec![message(MessageKind::Binary, &vec![0u8; limit])],
                        "{label}"
                    );
                }
            }
        }
    }
}

/// A 1 MB request head and one with 10,000 headers: 431 after at most the configured head
/// size is held.
fn oversized_handshake_heads(suite: &mut Suite) {
    let config = handshake::Config::new();
    let limit = config.max_head_size();
    let mut huge = b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Filler: ".to_vec();
    huge.resize(1_000_000, b'a');
    let mut ended = huge.clone();
    ended.extend_from_slice(b"\r\n\r\n");
    for (name, head) in [("1 MB request head that never ends", &huge), ("1 MB request head", &ended)] {
        for chunk in [4096, 1] {
            let error =
                suite.case(&format!("{name}, RequestParser, {chunk}-byte pieces"), limit * 2 + SMALL, || {
                    let mut parser = RequestParser::new(config);
                    for piece in head.chunks(chunk) {
                        match parser.feed(piece) {
                            Ok(None) => {}
                            Ok(Some(_)) => panic!("{name} accepted"),
                            Err(error) => return error,
                        }
                    }
                    panic!("{name}: no error");
                });
            assert_eq!(error, HandshakeError::HeadTooLarge { limit });
            assert_eq!(error.status(), 431);
        }
        let result = suite.case(&format!("{name}, Request::parse"), SMALL, || {
            Request::parse(head, &config).map(|parsed| parsed.is_some())
        });
        assert_eq!(result, Err(HandshakeError::HeadTooLarge { limit }));
    }

    let mut many = b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        .to_vec();
    for i in 0..10_000 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let error = suite.case("10,000 headers, default limits", limit * 2 + SMALL, || {
        let mut parser = RequestParser::new(config);
        parser.feed(&many).map(|done| done.is_some()).unwrap_err()
    });
    assert_eq!(error, HandshakeError::HeadTooLarge { limit });
    // With room for the head, the header count limit answers.
    let roomy = config.with_max_head_size(MIB);
    let error = suite.case("10,000 headers, 1 MiB head limit", 2 * MIB + SMALL, || {
        let mut parser = RequestParser::new(roomy);
        for piece in many.chunks(4096) {
            match parser.feed(piece) {
                Ok(None) => {}
                Ok(Some(_)) => panic!("10,000 headers accepted"),
                Err(error) => return error,
            }
        }
        panic!("no error");
    });
    assert_eq!(error, HandshakeError::TooManyHeaders { limit: config.max_headers() });
    assert_eq!(error.status(), 431);
    let error = suite.case("10,000 headers, 1 MiB head limit, Request::parse", SMALL, || {
        Request::parse(&many, &roomy).map(|parsed| parsed.is_some()).unwrap_err()
    });
    assert_eq!(error, HandshakeError::TooManyHeaders { limit: config.max_headers() });
}

/// A whole conversation delivered one byte at a time gives the same events as delivered at
/// once; a request head one byte at a time costs linear work.
fn everything_one_byte_at_a_time(suite: &mut Suite) {
    let head = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n";
    let (path, work) = suite.case("request head one byte at a time", SMALL, || {
        let mut parser = RequestParser::new(handshake::Config::new());
        let (last, rest) = head.split_last().expect("non-empty");
        for byte in rest {
            assert!(parser.feed(std::slice::from_ref(byte)).expect("valid so far").is_none());
        }
        let (request, used) = parser.feed(std::slice::from_ref(last)).expect("valid").expect("complete");
        assert_eq!(used, 1);
        (request.path().to_owned(), parser.work())
    });
    assert_eq!(path, "/chat");
    assert!(work <= 2 * head.len() as u64, "{work} units of work for {} bytes", head.len());

    for role in [Role::Server, Role::Client] {
        let sender = peer_of(role);
        let mut wire = Vec::new();
        wire.extend(frame(sender, false, 0x1, "Hello, ".as_bytes()));
        wire.extend(frame(sender, true, 0x9, b"ping 1"));
        wire.extend(frame(sender, false, 0x0, "wörld".as_bytes()));
        wire.extend(frame(sender, true, 0x9, b""));
        wire.extend(frame(sender, true, 0x0, "!".as_bytes()));
        wire.extend(frame(sender, true, 0x2, &[0u8; 300]));
        wire.extend(frame(sender, true, 0xA, b"pong"));
        wire.extend(frame(sender, true, 0x8, b"\x03\xe8bye"));
        let whole = feed(&mut connection(role, Config::default()), &wire, wire.len(), false);
        let bytewise = suite.case(&format!("conversation one byte at a time ({role:?})"), SMALL, || {
            feed(&mut connection(role, Config::default()), &wire, 1, false)
        });
        assert_eq!(whole.error, None);
        assert_eq!(bytewise.error, None);
        assert_eq!(bytewise.events, whole.events);
        assert_eq!(
            whole.events,
            vec![
                Seen::Ping(b"ping 1".to_vec()),
                Seen::Ping(Vec::new()),
                message(MessageKind::Text, "Hello, wörld!".as_bytes()),
                message(MessageKind::Binary, &[0u8; 300]),
                Seen::Pong(b"pong".to_vec()),
                Seen::Close { code: 1000, reason: "bye".into(), origin: CloseOrigin::Peer },
            ]
        );
        // Byte by byte, a frame is never held beyond itself plus a header.
        assert!(bytewise.max_buffered <= 300 + 14, "held {} bytes", bytewise.max_buffered);
    }
}

/// Invalid UTF-8 at every position of a fragmented text message fails with 1007, and fails
/// fast: by the end of the fragment that holds the bad byte.
fn invalid_utf8_at_every_position(suite: &mut Suite) {
    let text = "héllo wörld € 😀 ok".as_bytes();
    let fragment = 4;
    for role in [Role::Server, Role::Client] {
        let sender = peer_of(role);
        let build = |bytes: &[u8]| {
            let pieces: Vec<&[u8]> = bytes.chunks(fragment).collect();
            let mut wire = Vec::new();
            let mut ends = Vec::new();
            for (i, piece) in pieces.iter().enumerate() {
                let opcode = if i == 0 { 0x1 } else { 0x0 };
                wire.extend(frame(sender, i + 1 == pieces.len(), opcode, piece));
                ends.push(wire.len());
            }
            (wire, ends)
        };
        // Valid as a whole, though fragments split characters.
        let (wire, _) = build(text);
        let outcome = feed(&mut connection(role, Config::default()), &wire, 1, false);
        assert_eq!(outcome.events, vec![message(MessageKind::Text, text)]);
        for streaming in [false, true] {
            let config = Config::default().streaming(streaming);
            for position in 0..text.len() {
                let mut bad = text.to_vec();
                bad[position] = 0xFF;
                let (wire, ends) = build(&bad);
                let label = format!("invalid UTF-8 at byte {position} ({role:?}, streaming {streaming})");
                let (outcome, output) = suite.case(&label, SMALL, || {
                    let mut conn = connection(role, config.clone());
                    let outcome = feed(&mut conn, &wire, 1, false);
                    (outcome, output_frames(&mut conn))
                });
                assert_eq!(outcome.error, Some(utf8_error(&bad)), "{label}");
                let fragment_end = ends[position / fragment];
                assert!(
                    outcome.error_at <= fragment_end,
                    "{label}: found at {} > {fragment_end}",
                    outcome.error_at
                );
                let (opcode, payload) = output.last().expect("a Close");
                assert_eq!(*opcode, OpCode::Close);
                assert_eq!(CloseFrame::parse(payload).unwrap().code, Some(CloseCode::INVALID_PAYLOAD));
            }
        }
        // A message that ends inside a character.
        let cut = &text[..text.len() - " ok".len() - 1]; // inside 😀
        expect_failure(
            suite,
            "text ending inside a character",
            role,
            &Config::default(),
            &build(cut).0,
            &utf8_error(cut),
            CloseCode::INVALID_PAYLOAD,
        );
    }
}

/// Every reserved opcode, and every RSV combination on every frame type, with no extension:
/// 1002.
fn reserved_opcodes_and_rsv_bits(suite: &mut Suite) {
    for role in [Role::Server, Role::Client] {
        let masked = role == Role::Server;
        for opcode in (0x3..=0x7).chain(0xB..=0xF) {
            expect_failure(
                suite,
                &format!("reserved opcode {opcode:#x}"),
                role,
                &Config::default(),
                &raw(0x80 | opcode, 0, b"", masked),
                &ProtocolError::ReservedOpcode(opcode),
                CloseCode::PROTOCOL_ERROR,
            );
        }
        for rsv in 1..=7u8 {
            for opcode in [0x1, 0x2, 0x8, 0x9, 0xA] {
                expect_failure(
                    suite,
                    &format!("RSV {rsv:#05b} on opcode {opcode:#x}"),
                    role,
                    &Config::default(),
                    &raw(0x80 | rsv << 4 | opcode, 1, b"\x03", masked),
                    &ProtocolError::ReservedBits(rsv),
                    CloseCode::PROTOCOL_ERROR,
                );
            }
            // On a continuation frame of a message in progress.
            let mut wire = raw(0x01, 1, b"a", masked);
            wire.extend(raw(0x80 | rsv << 4, 1, b"b", masked));
            expect_failure(
                suite,
                &format!("RSV {rsv:#05b} on a continuation"),
                role,
                &Config::default(),
                &wire,
                &ProtocolError::ReservedBits(rsv),
                CloseCode::PROTOCOL_ERROR,
            );
        }
    }
}

/// Control frames of 126 bytes and fragmented control frames: 1002. 125 bytes is fine.
fn control_frame_rules(suite: &mut Suite) {
    for role in [Role::Server, Role::Client] {
        let masked = role == Role::Server;
        for opcode in [0x8, 0x9, 0xA] {
            let mut payload = vec![b'p'; 126];
            payload[..2].copy_from_slice(&1000u16.to_be_bytes());
            expect_failure(
                suite,
                &format!("126-byte control frame {opcode:#x}"),
                role,
                &Config::default(),
                &raw(0x80 | opcode, 126, &payload, masked),
                &ProtocolError::ControlFrameTooLong(126),
                CloseCode::PROTOCOL_ERROR,
            );
            expect_failure(
                suite,
                &format!("fragmented control frame {opcode:#x}"),
                role,
                &Config::default(),
                &raw(opcode, 2, b"\x03\xe8", masked),
                &ProtocolError::FragmentedControlFrame,
                CloseCode::PROTOCOL_ERROR,
            );
            // Between the fragments of a message, too.
            let mut wire = raw(0x01, 1, b"a", masked);
            wire.extend(raw(opcode, 0, b"", masked));
            expect_failure(
                suite,
                &format!("fragmented control frame {opcode:#x} inside a message"),
                role,
                &Config::default(),
                &wire,
                &ProtocolError::FragmentedControlFrame,
                CloseCode::PROTOCOL_ERROR,
            );
        }
        let ping = vec![b'p'; 125];
        let mut conn = connection(role, Config::default());
        let outcome = feed(&mut conn, &raw(0x89, 125, &ping, masked), 1, false);
        assert_eq!(outcome.events, vec![Seen::Ping(ping.clone())]);
        assert_eq!(output_frames(&mut conn), vec![(OpCode::Pong, ping)]);
    }
}

/// Close payloads of one byte, with codes that may not be sent, and with invalid UTF-8
/// reasons.
fn close_payloads(suite: &mut Suite) {
    for role in [Role::Server, Role::Client] {
        let masked = role == Role::Server;
        let close = |payload: &[u8]| raw(0x88, payload.len() as u64, payload, masked);
        expect_failure(
            suite,
            "one-byte close payload",
            role,
            &Config::default(),
            &close(b"\x03"),
            &ProtocolError::InvalidClosePayload,
            CloseCode::PROTOCOL_ERROR,
        );
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            expect_failure(
                suite,
                &format!("close code {code}"),
                role,
                &Config::default(),
                &close(&code.to_be_bytes()),
                &ProtocolError::InvalidCloseCode(code),
                CloseCode::PROTOCOL_ERROR,
            );
        }
        let bad_reasons: [&[u8]; 5] =
            [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ok\xe2\x82"];
        for reason in bad_reasons {
            let payload = [&1000u16.to_be_bytes()[..], reason].concat();
            expect_failure(
                suite,
                &format!("close reason {reason:02x?}"),
                role,
                &Config::default(),
                &close(&payload),
                &utf8_error(reason),
                CloseCode::INVALID_PAYLOAD,
            );
        }
        // Valid edge cases pass and are echoed.
        for (code, reason) in [(1000u16, ""), (3000, "app"), (4999, "✓")] {
            let payload = [&code.to_be_bytes()[..], reason.as_bytes()].concat();
            let mut conn = connection(role, Config::default());
            let outcome = feed(&mut conn, &close(&payload), 1, false);
            assert_eq!(
                outcome.events,
                vec![Seen::Close { code, reason: reason.into(), origin: CloseOrigin::Peer }]
            );
            let echo = output_frames(&mut conn);
            assert_eq!(echo.len(), 1);
            assert_eq!(CloseFrame::parse(&echo[0].1).unwrap().code, Some(CloseCode(code)));
        }
    }
}

/// A data frame after the peer's Close is not read (§5.5.1: the Close is the last frame): the
/// connection has ended with the peer's Close, nothing more is reported, and the only Close we
/// send is the echo.
fn data_after_close(suite: &mut Suite) {
    for role in [Role::Server, Role::Client] {
        let sender = peer_of(role);
        // A Close with a code, and an empty one (handled at its header: the fuzzer found data
        // after it read, regression-data-after-empty-close-read).
        for (body, code, echo) in [(&b"\x03\xe9"[..], 1001, &b"\x03\xe9"[..]), (b"", 1005, b"")] {
            for (opcode, payload) in [(0x1u8, &b"late"[..]), (0x2, b"late"), (0x0, b"late"), (0x9, b"")] {
                let mut wire = frame(sender, true, 0x8, body);
                wire.extend(frame(sender, true, opcode, payload));
                let label = format!("frame {opcode:#x} after Close {code} ({role:?})");
                let (outcome, output, state) = suite.case(&label, SMALL, || {
                    let mut conn = connection(role, Config::default());
                    let outcome = feed(&mut conn, &wire, 1, false);
                    (outcome, output_frames(&mut conn), conn.state())
                });
                assert_eq!(
                    outcome.events,
                    vec![Seen::Close { code, reason: String::new(), origin: CloseOrigin::Peer }],
                    "{label}"
                );
                assert_eq!(outcome.error, None, "{label}");
                assert_eq!(state, State::Closed, "{label}");
                assert_eq!(output, vec![(OpCode::Close, echo.to_vec())], "{label}: only the echo");
            }
        }
    }
}

#[test]
fn a_frame_budget_bounds_the_work_of_one_poll_under_a_flood_of_empty_frames() {
    // A message started, then 10,000 empty continuation frames, then its last frame: with a
    // budget of 64, each poll_event decodes at most 64 of them and says so; the message and
    // every byte arrive all the same, and the end of the stream is not taken early.
    let mut wire = Vec::new();
    let key = Some([1, 2, 3, 4]);
    rfc6455::frame::encode_frame_to_vec(false, 0, rfc6455::OpCode::Text, b"he", key, &mut wire).unwrap();
    for _ in 0..10_000 {
        rfc6455::frame::encode_frame_to_vec(false, 0, rfc6455::OpCode::Continuation, b"", key, &mut wire)
            .unwrap();
    }
    rfc6455::frame::encode_frame_to_vec(true, 0, rfc6455::OpCode::Continuation, b"llo", key, &mut wire)
        .unwrap();
    for budget in [None, Some(64)] {
        let config = rfc6455::connection::Config::default().frame_budget(budget);
        let mut server = rfc6455::Connection::new(rfc6455::Role::Server, config);
        server.handle_bytes(&wire);
        server.handle_eof();
        let mut polls = 0;
        loop {
            polls += 1;
            match server.poll_event() {
                Some(rfc6455::Event::Text(text)) => {
                    assert_eq!(text, "hello");
                    break;
                }
                Some(other) => panic!("unexpected {other:?}"),
                None => {
                    assert!(server.frame_budget_spent(), "None before the message, without the budget spent")
                }
            }
        }
        assert!(!server.frame_budget_spent());
        match budget {
            None => assert_eq!(polls, 1),
            // The 10,001 frames that give no event, 64 per call; the last call ends with the
            // message.
            Some(n) => assert_eq!(polls, 10_001usize.div_ceil(n as usize)),
        }
        assert!(matches!(server.poll_event(), Some(rfc6455::Event::Closed(_))));
    }
}
