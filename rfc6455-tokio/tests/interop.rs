//! Interop with peers nobody here wrote: Python `websockets` and Node `ws`, each as a client of
//! our server and as a server for our client, over loopback TCP.
//!
//! The peers are scripts/interop/peer.py and peer.mjs, spawned as subprocesses. They are
//! installed, pinned, by scripts/interop.sh, which runs these tests:
//!
//!     cargo test -p rfc6455-tokio --all-features --test interop -- --include-ignored --test-threads=1
//!
//! with `INTEROP_PYTHON` (the venv's interpreter), `INTEROP_NODE` (node), `INTEROP_PEERS`
//! (scripts/interop) and, optionally, `INTEROP_REPORT` (a file that collects what each peer
//! negotiated) set. `cargo test --workspace` builds them and skips them.
//!
//! Both sides make the same messages (text and binary of 0 B to 1 MiB, multi-byte UTF-8) from
//! the same generators, and each side checks every message it receives against its own copy,
//! byte for byte: the peer what we sent, we what the peer sent.
//!
//! It needs the core's `deflate` feature (on by default; the commands above turn on all).

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use rfc6455::ProtocolError;
use rfc6455::connection::{CloseOrigin, TimeoutConfig, TimerKind};
use rfc6455::deflate::DeflateConfig;
use rfc6455_tokio::{CloseCode, CloseFrame, Decision, Error, Message, Options, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// The longest any one step may take (a handshake, a message, a close).
const WAIT: Duration = Duration::from_secs(10);
/// The longest a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(60);

// The messages: these must stay identical to peer.py's and peer.mjs's.
const SIZES: [usize; 6] = [0, 125, 126, 65_535, 65_536, 1 << 20];
const FIXED_TEXT: &str = "héllo wörld – 日本語 – 🎉🦀 ✓ Ελληνικά";
const PATTERN: [char; 4] = ['a', 'é', '€', '😀'];
const PING: &[u8] = "ping ✓".as_bytes();

/// `n` bytes of UTF-8: 'a', 'é', '€', '😀' in turn (1 to 4 bytes) while they fit, then 'z's.
fn text_of(n: usize) -> String {
    let mut text = String::with_capacity(n);
    for c in PATTERN.iter().cycle() {
        if text.len() + c.len_utf8() > n {
            break;
        }
        text.push(*c);
    }
    text.extend(std::iter::repeat_n('z', n - text.len()));
    text
}

/// `n` bytes from the LCG x = (x * 1103515245 + 12345) mod 2^31, each byte (x >> 16) & 0xff.
fn binary_of(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345) & 0x7fff_ffff;
            (x >> 16) as u8
        })
        .collect()
}

/// Text then binary for each size, then a fixed multi-byte text.
fn cases() -> Vec<Message> {
    let mut cases = Vec::new();
    for n in SIZES {
        cases.push(Message::text(text_of(n)));
        cases.push(Message::binary(binary_of(n, n as u32 + 1)));
    }
    cases.push(Message::text(FIXED_TEXT));
    cases
}

fn describe(message: &Message) -> String {
    let kind = match message {
        Message::Text(_) => "text",
        Message::Binary(_) => "binary",
        Message::Ping(_) => "Ping",
        Message::Pong(_) => "Pong",
        Message::Close(_) => "Close",
    };
    format!("{kind} of {} bytes", message.len())
}

/// Same kind and the same bytes; on a difference, says where (never prints a whole 1 MiB).
fn check_same(got: &Message, want: &Message, what: &str) {
    if got == want {
        return;
    }
    let first_difference = got.as_bytes().iter().zip(want.as_bytes()).position(|(a, b)| a != b);
    panic!(
        "{what}: want {}, got {} (first differing byte at {first_difference:?})",
        describe(want),
        describe(got)
    );
}

/// Appends a line to the report scripts/interop.sh prints (stderr when run by hand).
fn note(line: String) {
    match std::env::var_os("INTEROP_REPORT") {
        Some(path) => {
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
            writeln!(file, "{line}").unwrap();
        }
        None => eprintln!("{line}"),
    }
}

fn env_path(var: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{var} is not set: run scripts/interop.sh"))
}

/// A peer implementation: how to start it.
struct Peer {
    name: &'static str,
    program: PathBuf,
    script: PathBuf,
}

impl Peer {
    fn python() -> Self {
        Self {
            name: "python websockets",
            program: env_path("INTEROP_PYTHON"),
            script: env_path("INTEROP_PEERS").join("peer.py"),
        }
    }

    fn node() -> Self {
        Self {
            name: "node ws",
            program: env_path("INTEROP_NODE"),
            script: env_path("INTEROP_PEERS").join("peer.mjs"),
        }
    }

    /// Starts the peer with `args`; it is killed when the handle is dropped.
    fn spawn(&self, args: &[&str]) -> Running {
        let mut child = Command::new(&self.program)
            .arg(&self.script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {} ({:?}): {error}", self.name, self.program));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (lines_tx, lines) = mpsc::unbounded_channel();
        // The pipes end when the peer exits (it has a deadline of its own, and is killed on
        // drop); the line count is bounded too.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().take(10_000) {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.take(64 * 1024).read_to_string(&mut text);
            text
        });
        Running { name: self.name, child, lines, seen: Vec::new(), stderr: Some(stderr) }
    }
}

/// A running peer and what it printed so far.
struct Running {
    name: &'static str,
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    /// Waits for the peer to print `key=...` and returns the value.
    async fn value(&mut self, key: &str) -> String {
        let prefix = format!("{key}=");
        for _ in 0..1000 {
            match timeout(WAIT, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if let Some(value) = line.strip_prefix(&prefix) {
                        return value.to_owned();
                    }
                }
                Ok(None) => break,
                Err(_) => panic!("{} did not print {key} in time; printed {:?}", self.name, self.seen),
            }
        }
        panic!("{} ended without printing {key}; printed {:?}", self.name, self.seen)
    }

    /// Waits (bounded) for the peer to exit and collects what it printed.
    async fn finish(mut self) -> Report {
        let mut status = None;
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Some(exited) = self.child.try_wait().unwrap() {
                status = Some(exited);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.report(status)
    }

    /// Kills the peer (it may be stopped) and collects what it printed.
    fn kill(mut self) -> Report {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.report(None)
    }

    fn report(&mut self, status: Option<ExitStatus>) -> Report {
        // The peer has exited: its pipes are closed, the reader threads end.
        let stderr = self.stderr.take().map(|reader| reader.join().unwrap_or_default()).unwrap_or_default();
        let mut lines = std::mem::take(&mut self.seen);
        while let Ok(line) = self.lines.try_recv() {
            lines.push(line);
        }
        Report { name: self.name, status, lines, stderr }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() && self.stderr.is_some() {
            eprintln!("{}", self.report(None));
        }
    }
}

/// What a peer printed, and how it exited.
struct Report {
    name: &'static str,
    status: Option<ExitStatus>,
    lines: Vec<String>,
    stderr: String,
}

impl Report {
    /// The last value the peer printed for `key`.
    fn get(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key}=");
        self.lines.iter().rev().find_map(|line| line.strip_prefix(&prefix))
    }

    fn number(&self, key: &str) -> u64 {
        self.get(key)
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{} printed no number for {key}\n{self}", self.name))
    }

    /// The peer exited 0 and none of its own checks failed.
    fn assert_success(&self) {
        let succeeded = self.status.is_some_and(|status| status.success());
        assert!(succeeded && self.get("fail").is_none(), "{} failed\n{self}", self.name);
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- {} exited {:?}, printed:", self.name, self.status)?;
        for line in &self.lines {
            writeln!(f, "  {line}")?;
        }
        write!(f, "--- its stderr:\n{}", self.stderr)
    }
}

/// A transport that counts the bytes that cross it, to see what permessage-deflate saved.
struct Counting {
    inner: TcpStream,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

#[derive(Clone)]
struct Counters {
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl Counters {
    fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

impl Counting {
    fn new(inner: TcpStream) -> (Self, Counters) {
        let counters = Counters { read: Arc::default(), written: Arc::default() };
        let stream = Self { inner, read: Arc::clone(&counters.read), written: Arc::clone(&counters.written) };
        (stream, counters)
    }
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        self.read.fetch_add((buf.filled().len() - before) as u64, Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))?;
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The adapter's default config, with permessage-deflate (the core's default policy) or not.
fn config_with(deflate: bool) -> rfc6455::connection::Config {
    let config = rfc6455_tokio::default_config();
    if deflate { config.deflate(DeflateConfig::default()) } else { config }
}

fn deflate_arg(deflate: bool) -> &'static str {
    if deflate { "--deflate" } else { "--no-deflate" }
}

/// Who starts the close handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closer {
    Us,
    Peer,
}

/// The next message, within [`WAIT`]; anything else fails the test.
async fn next<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>, what: &str) -> Message {
    match timeout(WAIT, ws.recv()).await {
        Ok(Some(Ok(message))) => message,
        Ok(Some(Err(error))) => panic!("waiting for {what}: {error:?}"),
        Ok(None) => panic!("waiting for {what}: the connection had ended"),
        Err(_) => panic!("waiting for {what}: nothing within {WAIT:?}"),
    }
}

/// What the receive side yields next, within [`WAIT`] (its end included).
async fn end<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) -> Option<Result<Message, Error>> {
    timeout(WAIT, ws.recv()).await.expect("the receive side moved on within the wait")
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>, message: Message, what: &str) {
    match timeout(WAIT, ws.send(message)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("sending {what}: {error:?}"),
        Err(_) => panic!("sending {what}: not flushed within {WAIT:?}"),
    }
}

/// Bytes on the wire for `payload` bytes of messages: with permessage-deflate, well under the
/// payload (half of it is text that compresses to almost nothing); without, at least all of it.
fn assert_wire(deflate: bool, wire: u64, payload: u64, what: &str) {
    if deflate {
        assert!(
            wire < payload * 3 / 4,
            "{what}: {wire} bytes on the wire for {payload} of payload, compressed"
        );
    } else {
        assert!(wire >= payload, "{what}: {wire} bytes on the wire for {payload} of payload, uncompressed");
    }
}

fn close_message(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame::new(CloseCode(code), reason)))
}

/// Runs `test` within [`TEST_LIMIT`].
async fn bounded(test: impl Future<Output = ()>) {
    timeout(TEST_LIMIT, test).await.expect("the test finished within its limit");
}

/// Our server on 127.0.0.1:0; the peer, started as a client with `args` after the URL,
/// connects. Returns our WebSocket (counting its bytes), the peer, and the extension header
/// the peer offered.
async fn accept_peer(
    peer: &Peer,
    args: &[&str],
    options: Options,
) -> (WebSocket<Counting>, Running, Counters, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/interop", listener.local_addr().unwrap());
    let mut full = vec!["client", url.as_str()];
    full.extend_from_slice(args);
    let child = peer.spawn(&full);
    let (stream, _) = timeout(WAIT, listener.accept()).await.expect("the peer connected in time").unwrap();
    let (stream, counters) = Counting::new(stream);
    let offered = Arc::new(Mutex::new(String::new()));
    let offered_in_hook = Arc::clone(&offered);
    let options = options.on_request(move |request| {
        let offer = request.header("Sec-WebSocket-Extensions").unwrap_or_default();
        *offered_in_hook.lock().unwrap() = String::from_utf8_lossy(offer).into_owned();
        Decision::accept()
    });
    let ws = match timeout(WAIT, rfc6455_tokio::accept_with(stream, options)).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(error)) => panic!("our server's handshake with {}: {error:?}", peer.name),
        Err(_) => panic!("our server's handshake with {}: not within {WAIT:?}", peer.name),
    };
    let offered = offered.lock().unwrap().clone();
    (ws, child, counters, offered)
}

/// The peer's client sends every message to our server, which checks it and echoes it back
/// (the peer checks the echo); the peer pings; then one side closes with a code and reason.
async fn our_server_exchange(peer: Peer, deflate: bool, closer: Closer) {
    let closer_arg = if closer == Closer::Peer { "peer" } else { "server" };
    let options = Options::default().config(config_with(deflate));
    let (mut ws, child, counters, offered) =
        accept_peer(&peer, &["exchange", deflate_arg(deflate), "--closer", closer_arg], options).await;
    assert_eq!(ws.connection().has_extension(), deflate, "permessage-deflate in use with {}", peer.name);
    assert_eq!(offered.starts_with("permessage-deflate"), deflate, "the offer: {offered:?}");
    let (read_before, written_before) = (counters.read(), counters.written());

    let all = cases();
    let payload: u64 = all.iter().map(|m| m.len() as u64).sum();
    for (i, want) in all.iter().enumerate() {
        let got = next(&mut ws, &format!("message {i}")).await;
        check_same(&got, want, &format!("message {i} from {}", peer.name));
        send(&mut ws, got, &format!("the echo of message {i}")).await;
    }
    let wire_in = counters.read() - read_before;
    let wire_out = counters.written() - written_before;
    assert_wire(deflate, wire_in, payload, "from the peer");
    assert_wire(deflate, wire_out, payload, "to the peer");

    assert_eq!(next(&mut ws, "the peer's Ping").await, Message::Ping(Bytes::from_static(PING)));
    // The Close each side receives: the closer's code and reason, and the echo. Our echo
    // carries the code without the reason (the core's choice); these peers echo both.
    let (code, reason_we_see, reason_peer_sees) = match closer {
        Closer::Peer => (4001, "client bye ✓", ""),
        Closer::Us => {
            assert_eq!(next(&mut ws, "the request to close").await, Message::text("please close"));
            timeout(WAIT, ws.close(CloseCode(4002), "server bye ✓")).await.expect("closed in time").unwrap();
            (4002, "server bye ✓", "server bye ✓")
        }
    };
    assert_eq!(next(&mut ws, "the Close").await, close_message(code, reason_we_see));
    assert!(end(&mut ws).await.is_none());
    drop(ws);

    let report = child.finish().await;
    report.assert_success();
    assert_eq!(report.number("echoes"), all.len() as u64, "{report}");
    assert_eq!(report.get("pong"), Some("ok"), "{report}");
    assert_eq!(report.get("close_code"), Some(code.to_string().as_str()), "{report}");
    assert_eq!(report.get("close_reason"), Some(reason_peer_sees), "{report}");
    let agreed = report.get("extensions").unwrap_or_default();
    assert_eq!(agreed.starts_with("permessage-deflate"), deflate, "{report}");
    note(format!(
        "{} {} client -> our server, {}: offered {offered:?}, agreed {agreed:?}; \
         {wire_in} B in / {wire_out} B out on the wire for {payload} B of messages each way; \
         {} closed with {code}",
        peer.name,
        report.get("version").unwrap_or("?"),
        if deflate { "deflate" } else { "no deflate" },
        if closer == Closer::Us { "we" } else { "the peer" },
    ));
}

/// Our client sends every message to the peer's server, which checks it and echoes it back
/// (we check the echo); we ping; then one side closes with a code and reason.
async fn our_client_exchange(peer: Peer, deflate: bool, subprotocols: bool, closer: Closer) {
    let mut args = vec!["server", deflate_arg(deflate)];
    if subprotocols {
        args.extend(["--subprotocols", "chat.v1,chat.v2"]);
    }
    let mut child = peer.spawn(&args);
    let url = format!("ws://127.0.0.1:{}/interop", child.value("port").await);
    let mut options = Options::default().config(config_with(deflate));
    if subprotocols {
        options = options.subprotocol("x-unknown").subprotocol("chat.v2");
    }
    let mut ws = match timeout(WAIT, rfc6455_tokio::connect_with(&url, options)).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(error)) => panic!("our client's handshake with {}: {error:?}", peer.name),
        Err(_) => panic!("our client's handshake with {}: not within {WAIT:?}", peer.name),
    };
    assert_eq!(ws.connection().has_extension(), deflate, "permessage-deflate in use with {}", peer.name);
    assert_eq!(ws.subprotocol(), subprotocols.then_some("chat.v2"));

    let all = cases();
    let payload: u64 = all.iter().map(|m| m.len() as u64).sum();
    for (i, message) in all.iter().enumerate() {
        send(&mut ws, message.clone(), &format!("message {i}")).await;
        let echo = next(&mut ws, &format!("the echo of message {i}")).await;
        check_same(&echo, message, &format!("the echo of message {i} from {}", peer.name));
    }
    send(&mut ws, Message::Ping(Bytes::from_static(PING)), "a Ping").await;
    assert_eq!(next(&mut ws, "the Pong").await, Message::Pong(Bytes::from_static(PING)));
    // As in `our_server_exchange`: our echo of a Close carries its code, not its reason.
    let (code, reason_we_see, reason_peer_sees) = match closer {
        Closer::Us => {
            timeout(WAIT, ws.close(CloseCode(4003), "client bye ✓")).await.expect("closed in time").unwrap();
            (4003, "client bye ✓", "client bye ✓")
        }
        Closer::Peer => {
            send(&mut ws, Message::text("please close"), "the request to close").await;
            (4004, "server bye ✓", "")
        }
    };
    assert_eq!(next(&mut ws, "the Close").await, close_message(code, reason_we_see));
    assert!(end(&mut ws).await.is_none());
    drop(ws);

    let report = child.finish().await;
    report.assert_success();
    assert_eq!(report.number("received"), all.len() as u64, "{report}");
    assert_eq!(report.number("payload"), payload, "{report}");
    assert_eq!(report.get("close_code"), Some(code.to_string().as_str()), "{report}");
    assert_eq!(report.get("close_reason"), Some(reason_peer_sees), "{report}");
    assert_eq!(report.get("subprotocol"), Some(if subprotocols { "chat.v2" } else { "" }), "{report}");
    let offered = report.get("offered").unwrap_or_default();
    let agreed = report.get("extensions").unwrap_or_default();
    assert_eq!(offered.starts_with("permessage-deflate"), deflate, "{report}");
    assert_eq!(agreed.starts_with("permessage-deflate"), deflate, "{report}");
    // What the peer counted on its socket: what we sent compressed, and what it did.
    let (wire_in, wire_out) = (report.number("bytes_in"), report.number("bytes_out"));
    assert_wire(deflate, wire_in, payload, "what the peer read");
    assert_wire(deflate, wire_out, payload, "what the peer wrote");
    note(format!(
        "our client -> {} {} server, {}{}: we offered {offered:?}, agreed {agreed:?}; \
         the peer read {wire_in} B / wrote {wire_out} B for {payload} B of messages each way; \
         {} closed with {code}",
        peer.name,
        report.get("version").unwrap_or("?"),
        if deflate { "deflate" } else { "no deflate" },
        if subprotocols { ", subprotocol chat.v2" } else { "" },
        if closer == Closer::Us { "we" } else { "the peer" },
    ));
}

/// The peer sends one 4 MiB message to our server limited to 64 KiB: we fail the connection
/// with 1009 while the peer is still sending, and the lingering close lets it read our Close
/// instead of a reset.
async fn lingering_close(peer: Peer) {
    const LIMIT: u64 = 64 * 1024;
    const SIZE: u64 = 4 << 20;
    let options = Options::default().config(rfc6455_tokio::default_config().max_message_size(LIMIT));
    let (mut ws, child, counters, _) = accept_peer(&peer, &["oversize", &SIZE.to_string()], options).await;
    let start = Instant::now();
    match end(&mut ws).await {
        Some(Err(Error::Closed(info))) => {
            assert_eq!(info.code(), CloseCode::MESSAGE_TOO_BIG, "{info:?}");
            assert_eq!(info.error(), Some(&ProtocolError::FrameTooLarge { size: SIZE, limit: LIMIT }));
        }
        other => panic!("expected our server to fail the connection with 1009, got {other:?}"),
    }
    let finished = start.elapsed();
    assert!(end(&mut ws).await.is_none());
    drop(ws);
    let report = child.finish().await;
    // Noted before the checks: what the peer saw is the finding either way.
    note(format!(
        "{} {} client sending {SIZE} B to our server limited to {LIMIT} B: it saw close code {} \
         (reason {:?}; send: {}; errors: {:?}); we read {} B and finished in {finished:?}",
        peer.name,
        report.get("version").unwrap_or("?"),
        report.get("close_code").unwrap_or("?"),
        report.get("close_reason").unwrap_or("?"),
        report.get("send").unwrap_or("not reported"),
        report.get("errors").unwrap_or(""),
        counters.read(),
    ));
    report.assert_success();
    assert_eq!(report.get("close_code"), Some("1009"), "the peer saw our Close\n{report}");
}

/// Our server pings a quiet peer every 200 ms and the peer answers; then the peer stops
/// itself (SIGSTOP) and our server drops it within ping interval + pong timeout.
async fn keepalive(peer: Peer) {
    const INTERVAL: Duration = Duration::from_millis(200);
    const PONG_TIMEOUT: Duration = Duration::from_millis(400);
    const IDLE: Duration = Duration::from_millis(1500);
    /// What the machine's scheduling may add to a timer.
    const SLACK: Duration = Duration::from_millis(300);
    let timeouts = TimeoutConfig::default()
        .ping_interval(INTERVAL)
        .pong_timeout(PONG_TIMEOUT)
        .close_timeout(Duration::from_secs(1));
    let options = Options::default().config(rfc6455_tokio::default_config().timeouts(timeouts));
    let idle = format!("{}", IDLE.as_secs_f64());
    let (mut ws, mut child, _, _) = accept_peer(&peer, &["keepalive", &idle], options).await;
    let start = Instant::now();

    let mut pongs = 0;
    for _ in 0..1000 {
        match next(&mut ws, "a Pong or the peer's text").await {
            Message::Pong(payload) => {
                assert!(payload.is_empty(), "our keepalive Pings are empty: {payload:?}");
                pongs += 1;
            }
            message => {
                assert_eq!(message, Message::text("alive"));
                break;
            }
        }
    }
    let quiet_for = start.elapsed();
    let peer_pings: u64 = child.value("pings").await.parse().unwrap();
    // About 1.5 s / 200 ms = 7 Pings; each Pong we saw answers one the peer counted.
    assert!(pongs >= 4, "{pongs} Pongs in {quiet_for:?}");
    assert!(peer_pings >= pongs, "the peer counted {peer_pings} Pings, we {pongs} Pongs");

    let mut frozen_at = None;
    for _ in 0..100 {
        match next(&mut ws, "the peer's last text").await {
            Message::Pong(_) => {}
            message => {
                assert_eq!(message, Message::text("freezing"));
                frozen_at = Some(Instant::now());
                break;
            }
        }
    }
    let frozen_at = frozen_at.expect("the peer said it was freezing");
    // The peer stops right after that message, so nothing more comes: a Ping at 200 ms of
    // silence, unanswered, and the end 400 ms later.
    let info = loop {
        match end(&mut ws).await {
            Some(Ok(Message::Pong(_))) => {}
            Some(Err(Error::Closed(info))) => break info,
            other => panic!("expected keepalive to drop the frozen peer, got {other:?}"),
        }
    };
    let dropped_after = frozen_at.elapsed();
    assert_eq!(
        (info.code(), info.origin()),
        (CloseCode::ABNORMAL, &CloseOrigin::Timeout(TimerKind::Keepalive))
    );
    let due = INTERVAL + PONG_TIMEOUT;
    assert!(
        dropped_after + Duration::from_millis(50) >= due && dropped_after <= due + SLACK,
        "dropped {dropped_after:?} after the peer froze; due after {due:?}"
    );
    assert!(end(&mut ws).await.is_none());
    let report = child.kill();
    assert_eq!(report.get("fail"), None, "{report}");
    note(format!(
        "{} {} client, quiet for {quiet_for:?}: answered {pongs} of our keepalive Pings (it counted {peer_pings}); \
         frozen by SIGSTOP, dropped by keepalive after {dropped_after:?} (interval {INTERVAL:?} + pong timeout {PONG_TIMEOUT:?})",
        peer.name,
        report.get("version").unwrap_or("?"),
    ));
}

#[tokio::test]
#[ignore = "needs the peers installed by scripts/interop.sh"]
async fn python_client_to_our_server_deflate_peer_closes() {
    bounded(our_server_exchange(Peer::python(), true, Closer::Peer)).await;
}

#[tokio::test]
#[ignore = "needs the peers installed by scripts/interop.sh"]
async fn python_client_to_our_server_plain_we_close() {
    bounded(our_server_exchange(Peer::python(), false, Closer::Us)).await;
}

#[tokio::test]
#[ignore = "needs the peers installed by scripts/interop.sh"]
async fn node_client_to_our_server_deflate_peer_closes() {
    bounded(our_server_exchange(Peer::node(), true, Closer::Peer)).await;
}

#[tokio::test]
#[ignore = "needs the peers installed by scripts/interop.sh"]
async fn node_client_to_our_server_plain_we_close() {
    bounded(our_server_exchange(Peer::node(), false, Closer::Us)).await;
}

#[tokio::test]
#[ignore = "needs the peers installed by scripts/interop.sh"]
async fn our_client_to_python_server_deflate_subprotocol_we_close() {
    bounded(our_client_exchange(Peer::python(), true, true, Closer::Us)).await;
}

#[tokio::test]
#[ignore = "needs the peers installed by scripts/interop.sh"]
async fn our_client_to_python_server_plain_peer_closes() {
    bounded(our_client_exchange(Peer::python(), false, false, Closer::Peer)).await;
}

#[tokio::test]
#[ignore = "needs the peers installed by scripts/interop.sh"]
async fn our_client_to_node_server_deflate_subprotocol_we_close() {
    bounded(our_client_exchange(Peer::node(), true, true, Closer::Us)).await;
}

#[tokio::test]
#[ignore = "needs the peers installed by scripts/interop.sh"]
async fn our_client_to_node_server_plain_peer_closes() {
    bounded(our_client_exchange(Peer::node(), false, false, Closer::Peer)).await;
}

#[tokio::test]
#[ignore = "needs the peers installed by scripts/interop.sh"]
async fn python_client_over_the_limit_reads_close_1009() {
    bounded(lingering_close(Peer::python())).await;
}

#[tokio::test]
#[ignore = "needs the peers installed by scripts/interop.sh"]
async fn node_client_over_the_limit_reads_close_1009() {
    bounded(lingering_close(Peer::node())).await;
}

#[tokio::test]
#[ignore = "needs the peers installed by scripts/interop.sh"]
async fn python_client_answers_keepalive_and_is_dropped_when_frozen() {
    bounded(keepalive(Peer::python())).await;
}

#[tokio::test]
#[ignore = "needs the peers installed by scripts/interop.sh"]
async fn node_client_answers_keepalive_and_is_dropped_when_frozen() {
    bounded(keepalive(Peer::node())).await;
}

/// What the Node result above depends on, without a peer (it runs with the other tests, not
/// only under scripts/interop.sh): a client that writes its whole over-limit message before
/// it reads (as Node `ws` effectively does: it destroys the socket when a write fails, before
/// reading what arrived) must not be reset before [`DEFAULT_LINGER_TIME`]. The linger reads
/// and discards at most [`DEFAULT_LINGER_BYTES`] (1 MiB), while a message in flight over
/// loopback is several MiB: once the budget is spent the server stops reading but keeps the
/// socket until the linger time, so the peer has that long to read our Close. (It failed, 2–14
/// ms into the write, when the linger dropped the socket as soon as the budget was spent.)
///
/// [`DEFAULT_LINGER_BYTES`]: rfc6455_tokio::DEFAULT_LINGER_BYTES
/// [`DEFAULT_LINGER_TIME`]: rfc6455_tokio::DEFAULT_LINGER_TIME
#[tokio::test]
async fn a_peer_still_writing_its_message_is_not_reset_before_the_linger_time() {
    bounded(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        const LIMIT: u64 = 64 * 1024;
        const SIZE: u64 = 4 << 20;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let options = Options::default().config(rfc6455_tokio::default_config().max_message_size(LIMIT));
            let mut ws = rfc6455_tokio::accept_with(stream, options).await.unwrap();
            timeout(WAIT, ws.recv()).await.unwrap().map(|end| end.map(|_| ()))
        });

        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut request = Vec::new();
        rfc6455::handshake::ClientRequest::new("ws://127.0.0.1/", rfc6455::handshake::WebSocketKey::random())
            .unwrap()
            .write(&mut request)
            .unwrap();
        stream.write_all(&request).await.unwrap();
        let mut head = Vec::new();
        for _ in 0..4096 {
            if head.ends_with(b"\r\n\r\n") {
                break;
            }
            head.push(stream.read_u8().await.unwrap());
        }
        assert!(head.starts_with(b"HTTP/1.1 101 "), "{}", String::from_utf8_lossy(&head));
        // One masked binary frame of 4 MiB, written whole before anything is read.
        let mut wire = vec![0x82, 0x80 | 127];
        wire.extend(SIZE.to_be_bytes());
        wire.extend([1, 2, 3, 4]);
        wire.resize(wire.len() + SIZE as usize, 0x55);
        let start = Instant::now();
        let written = timeout(WAIT, stream.write_all(&wire)).await.expect("the write ended in time");
        let writing_for = start.elapsed();
        let mut rest = Vec::new();
        let _ = timeout(WAIT, stream.read_to_end(&mut rest)).await.expect("the read ended in time");

        match server.await.unwrap() {
            Some(Err(Error::Closed(info))) => assert_eq!(info.code(), CloseCode::MESSAGE_TOO_BIG),
            other => panic!("expected the 1009 failure, got {other:?}"),
        }
        assert!(rest.starts_with(&[0x88, 0x02, 0x03, 0xf1]), "the Close 1009 came first: {rest:x?}");
        let margin = Duration::from_millis(100);
        assert!(
            written.is_ok() || writing_for + margin >= rfc6455_tokio::DEFAULT_LINGER_TIME,
            "the peer's write of its message failed {writing_for:?} into it ({written:?}), \
             before the linger time ({:?}): the server reset the connection",
            rfc6455_tokio::DEFAULT_LINGER_TIME
        );
    })
    .await;
}
