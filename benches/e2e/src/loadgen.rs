//! The load generator: the same client code for every server. It opens loopback TCP
//! connections, does the opening handshake itself (a fixed request, the `101` and its
//! `Sec-WebSocket-Accept` checked), then writes frames encoded and masked before the clock
//! starts and parses the echoes only as far as counting them needs (opcode, length; the
//! payload too in the ping-pong). Payload it does not look at, it lets the kernel drop
//! (`recv` with `MSG_TRUNC` on TCP discards without copying), so that the client costs less
//! than any server. It never uses a WebSocket library, so no server shares code with its
//! client.
//!
//! Each workload runs in its own process, started by the driver, and prints one line of
//! `key=value` results. The clock runs only after a warm-up on the same connections. CPU time
//! of this process and of the server over the measured window is read from
//! `/proc/<pid>/schedstat`, so the table can show which side was the bottleneck.
//!
//! ```text
//! e2e loadgen pingpong <address> <server pid> <warm-up ms> <measure ms>
//! e2e loadgen stream   <address> <server pid> <connections> <payload bytes> <window> <warm-up ms> <measure ms>
//! e2e loadgen idle     <address> <server pid> <connections> <source address index>
//! ```

use std::io::{ErrorKind, Read as _, Write as _};
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::StreamExt as _;
use sha1::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, Interest};
use tokio::net::{TcpSocket, TcpStream};

/// A handshake (connect, request, response) that takes longer than this fails the run.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in flight at once while opening the idle connections.
const OPENING_CONCURRENCY: usize = 16;
/// Distinct masking keys the pre-encoded frames cycle through.
const KEYS: usize = 256;
/// Payload left in an echo from which on the client discards it in the kernel instead of
/// reading it.
const SKIP_MIN: u64 = 4096;

/// Runs the workload `args` names and prints its result line.
pub fn run(args: &[String]) -> Result<(), String> {
    let arg =
        |i: usize| args.get(i).map(String::as_str).ok_or_else(|| "loadgen: missing argument".to_string());
    let number =
        |i: usize| -> Result<u64, String> { arg(i)?.parse().map_err(|e| format!("argument {i}: {e}")) };
    let address: SocketAddr = arg(1)?.parse().map_err(|e| format!("address: {e}"))?;
    let server = u32::try_from(number(2)?).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let line = match arg(0)? {
        "pingpong" => {
            let (warm_up, measure) = (ms(number(3)?), ms(number(4)?));
            let stream = runtime.block_on(open(address, None, 0, false))?.0;
            pingpong(stream, server, warm_up, measure)?
        }
        "stream" => {
            let (connections, size, window) = (number(3)?, number(4)?, number(5)?);
            let (warm_up, measure) = (ms(number(6)?), ms(number(7)?));
            runtime.block_on(stream(address, server, connections, size as usize, window, warm_up, measure))?
        }
        "idle" => runtime.block_on(idle(address, server, number(3)? as usize, number(4)?))?,
        other => return Err(format!("loadgen: unknown workload {other:?}")),
    };
    println!("{line}");
    Ok(())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ------------------------------------------------------------------------------------------
// Workloads
// ------------------------------------------------------------------------------------------

/// One connection, one 16-byte binary message at a time: write it, wait for the whole echo,
/// compare it, repeat. Blocking socket calls with `TCP_NODELAY`: the least client work per
/// round trip. Every round trip's time is kept for the percentiles.
fn pingpong(stream: TcpStream, server: u32, warm_up: Duration, measure: Duration) -> Result<String, String> {
    const SIZE: usize = 16;
    let mut socket = stream.into_std().map_err(|e| e.to_string())?;
    socket.set_nonblocking(false).and_then(|()| socket.set_nodelay(true)).map_err(|e| e.to_string())?;
    let payload = payload(SIZE);
    let (frames, frame_len) = encode_frames(&payload, KEYS);
    let mut echo = [0u8; 2 + SIZE];
    let mut latencies: Vec<u32> = Vec::with_capacity(1 << 20);
    let mut round_trip = |i: usize| -> Result<Duration, String> {
        let at = (i % KEYS) * frame_len;
        let start = Instant::now();
        socket.write_all(&frames[at..at + frame_len]).map_err(|e| format!("write: {e}"))?;
        socket.read_exact(&mut echo).map_err(|e| format!("read: {e}"))?;
        let took = start.elapsed();
        if echo[..2] != [0x82, SIZE as u8] || echo[2..] != payload[..] {
            return Err(format!("unexpected echo {echo:02x?}"));
        }
        Ok(took)
    };
    let mut i = 0;
    let warm_end = Instant::now() + warm_up;
    while Instant::now() < warm_end {
        round_trip(i)?;
        i += 1;
    }
    let cpu = CpuClock::start(server);
    let start = Instant::now();
    while start.elapsed() < measure {
        let took = round_trip(i)?;
        latencies.push(u32::try_from(took.as_nanos()).unwrap_or(u32::MAX));
        i += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (server_cpu, client_cpu) = cpu.stop(elapsed);
    if latencies.is_empty() {
        return Err("no round trip completed".into());
    }
    latencies.sort_unstable();
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    Ok(format!(
        "round_trips_per_s={:.0} p50_ns={} p99_ns={} server_cpu={server_cpu:.3} client_cpu={client_cpu:.3}",
        latencies.len() as f64 / elapsed,
        percentile(0.50),
        percentile(0.99),
    ))
}

/// `connections` connections, each keeping up to `window` messages of `size` bytes written
/// and not yet echoed: whenever echoes arrive, as many new messages go out. Counts echoed
/// messages per second over all connections.
async fn stream(
    address: SocketAddr,
    server: u32,
    connections: u64,
    size: usize,
    window: u64,
    warm_up: Duration,
    measure: Duration,
) -> Result<String, String> {
    let payload = payload(size);
    let (frames, frame_len) = encode_frames(&payload, (window as usize).clamp(1, KEYS));
    let frames: Arc<[u8]> = frames.into();
    let echoed = Arc::new(AtomicU64::new(0));
    // All handshakes first: a handshake queued behind running traffic would wait its turn.
    let mut sockets = Vec::new();
    for i in 0..connections {
        sockets.push(open(address, None, i, false).await?.0);
    }
    let mut pumps = Vec::new();
    for socket in sockets {
        let pump = Pump { frames: frames.clone(), frame_len, window, echoed: echoed.clone() };
        pumps.push(tokio::spawn(pump.run(socket, EchoParser::new(size as u64))));
    }
    tokio::time::sleep(warm_up).await;
    let cpu = CpuClock::start(server);
    let (start, before) = (Instant::now(), echoed.load(Ordering::Relaxed));
    tokio::time::sleep(measure).await;
    let (elapsed, after) = (start.elapsed().as_secs_f64(), echoed.load(Ordering::Relaxed));
    let (server_cpu, client_cpu) = cpu.stop(elapsed);
    if let Some(ended) = pumps.into_iter().find(|pump| pump.is_finished()) {
        return Err(format!("a connection ended early: {:?}", ended.await));
    }
    let messages = (after - before) as f64 / elapsed;
    Ok(format!(
        "messages_per_s={messages:.0} payload_bytes_per_s={:.0} server_cpu={server_cpu:.3} client_cpu={client_cpu:.3}",
        messages * size as f64
    ))
}

/// Opens `connections` connections (from source address 127.0.0.`2 + source % 250`, so that
/// runs one after another do not run out of ports while earlier ones sit in TIME_WAIT), each
/// offering permessage-deflate as browsers do, and reads the server's resident set size
/// before and after. Reports the growth per connection and how many negotiated deflate.
async fn idle(address: SocketAddr, server: u32, connections: usize, source: u64) -> Result<String, String> {
    let before = resident_kib(server)?;
    let source = Ipv4Addr::new(127, 0, 0, 2 + (source % 250) as u8);
    let opened: Vec<Result<(TcpStream, bool), String>> =
        futures_util::stream::iter((0..connections as u64).map(|i| open(address, Some(source), i, true)))
            .buffer_unordered(OPENING_CONCURRENCY)
            .collect()
            .await;
    let mut sockets = Vec::with_capacity(connections);
    let mut deflate = 0;
    for result in opened {
        let (socket, negotiated) = result?;
        sockets.push(socket);
        deflate += usize::from(negotiated);
    }
    // Let every server task reach its first read, then wait for the size to settle.
    let mut after = resident_kib(server)?;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = resident_kib(server)?;
        if now == after {
            break;
        }
        after = now;
    }
    let per_connection = (after as f64 - before as f64) * 1024.0 / connections as f64;
    drop(sockets);
    Ok(format!(
        "rss_before_kib={before} rss_after_kib={after} bytes_per_connection={per_connection:.0} deflate_negotiated={deflate}"
    ))
}

// ------------------------------------------------------------------------------------------
// One connection
// ------------------------------------------------------------------------------------------

/// Connects and does the opening handshake; returns the socket and whether the server
/// accepted permessage-deflate.
async fn open(
    address: SocketAddr,
    source: Option<Ipv4Addr>,
    seed: u64,
    offer_deflate: bool,
) -> Result<(TcpStream, bool), String> {
    let opening = async {
        let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
        if let Some(source) = source {
            socket.bind(SocketAddr::from((source, 0))).map_err(|e| format!("bind {source}: {e}"))?;
        }
        let mut stream = socket.connect(address).await.map_err(|e| format!("connect: {e}"))?;
        let deflate = handshake(&mut stream, address, seed, offer_deflate).await?;
        Ok((stream, deflate))
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, opening).await.map_err(|_| "handshake timed out".to_string())?
}

/// Writes the upgrade request and checks the response: `101`, the right
/// `Sec-WebSocket-Accept`, and no bytes after the head (nothing was sent to echo yet).
async fn handshake(
    stream: &mut TcpStream,
    address: SocketAddr,
    seed: u64,
    offer_deflate: bool,
) -> Result<bool, String> {
    let mut random = XorShift::new(seed);
    let key_bytes: Vec<u8> = (0..16).map(|_| random.next() as u8).collect();
    let key = base64::engine::general_purpose::STANDARD.encode(key_bytes);
    let extensions = if offer_deflate {
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    } else {
        ""
    };
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extensions}\r\n"
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("write request: {e}"))?;
    let mut sha = sha1::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let expected = base64::engine::general_purpose::STANDARD.encode(sha.finalize());

    let mut head = Vec::with_capacity(512);
    loop {
        if head.len() > 8192 {
            return Err("response head too long".into());
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.map_err(|e| format!("read response: {e}"))?;
        if n == 0 {
            return Err("connection closed during the handshake".into());
        }
        head.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&head).map_err(|e| format!("response: {e}"))? {
            httparse::Status::Partial => continue,
            httparse::Status::Complete(length) => {
                if response.code != Some(101) || length != head.len() {
                    return Err(format!("unexpected response: {:?}", String::from_utf8_lossy(&head)));
                }
                let header = |name: &str| response.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name));
                if header("Sec-WebSocket-Accept").map(|h| h.value) != Some(expected.as_bytes()) {
                    return Err("wrong Sec-WebSocket-Accept".into());
                }
                let deflate = header("Sec-WebSocket-Extensions")
                    .is_some_and(|h| String::from_utf8_lossy(h.value).contains("permessage-deflate"));
                return Ok(deflate);
            }
        }
    }
}

/// One connection of the `stream` workload.
struct Pump {
    frames: Arc<[u8]>,
    frame_len: usize,
    window: u64,
    echoed: Arc<AtomicU64>,
}

impl Pump {
    /// Writes from the cyclic run of pre-encoded frames once a quarter of the window (at
    /// least one message) is free, reads and counts echoes, and waits on the socket only
    /// when neither can go on. After each step that moved bytes it yields, so every
    /// connection gets its turn.
    async fn run(self, socket: TcpStream, mut parser: EchoParser) -> Result<(), String> {
        let mut sent: u64 = 0;
        let mut input = vec![0u8; 256 * 1024];
        let mut skip = vec![MaybeUninit::<u8>::uninit(); 256 * 1024];
        let frame_len = self.frame_len as u64;
        let top_up = (self.window / 4).max(1) * frame_len;
        loop {
            let mut moved = false;
            let allowed = (parser.messages + self.window) * frame_len;
            let wanted = allowed - sent;
            // A write that has started a frame finishes it whatever the window.
            if wanted >= top_up || (wanted > 0 && !sent.is_multiple_of(frame_len)) {
                let at = (sent % self.frames.len() as u64) as usize;
                let end = self.frames.len().min(at + wanted as usize);
                match socket.try_write(&self.frames[at..end]) {
                    Ok(n) => {
                        sent += n as u64;
                        moved = true;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => return Err(format!("write: {e}")),
                }
            }
            let before = parser.messages;
            let read = if parser.payload_left >= SKIP_MIN {
                let n = parser.payload_left.min(skip.len() as u64) as usize;
                let socket_ref = socket2::SockRef::from(&socket);
                socket
                    .try_io(Interest::READABLE, || {
                        socket_ref.recv_with_flags(&mut skip[..n], libc::MSG_TRUNC)
                    })
                    .map(|n| (n, parser.skip(n as u64)))
            } else {
                socket.try_read(&mut input).map(|n| (n, parser.feed(&input[..n])))
            };
            match read {
                Ok((0, _)) => return Err("the server closed the connection".into()),
                Ok((_, parsed)) => {
                    parsed?;
                    self.echoed.fetch_add(parser.messages - before, Ordering::Relaxed);
                    moved = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("read: {e}")),
            }
            if moved {
                tokio::task::yield_now().await;
            } else {
                let writing = wanted >= top_up || (wanted > 0 && !sent.is_multiple_of(frame_len));
                let interest =
                    if writing { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
                socket.ready(interest).await.map_err(|e| format!("ready: {e}"))?;
            }
        }
    }
}

/// Counts the server's echoes: unmasked binary frames with FIN set and the expected payload
/// length, in any chunking. Payload bytes are skipped, not looked at.
struct EchoParser {
    expected: u64,
    header: [u8; 10],
    header_len: usize,
    payload_left: u64,
    messages: u64,
}

impl EchoParser {
    fn new(expected: u64) -> Self {
        Self { expected, header: [0; 10], header_len: 0, payload_left: 0, messages: 0 }
    }

    /// Counts `n` payload bytes dropped unread (`n` at most what is left of this payload).
    fn skip(&mut self, n: u64) -> Result<(), String> {
        if n > self.payload_left {
            return Err("skipped past the payload".into());
        }
        self.payload_left -= n;
        if n > 0 && self.payload_left == 0 {
            self.messages += 1;
        }
        Ok(())
    }

    fn feed(&mut self, mut input: &[u8]) -> Result<(), String> {
        while !input.is_empty() {
            if self.payload_left > 0 {
                let n = self.payload_left.min(input.len() as u64);
                self.payload_left -= n;
                input = &input[n as usize..];
                if self.payload_left == 0 {
                    self.messages += 1;
                }
                continue;
            }
            self.header[self.header_len] = input[0];
            self.header_len += 1;
            input = &input[1..];
            let needed = match (self.header_len, self.header[1]) {
                (1, _) => 2,
                (_, 126) => 4,
                (_, 127) => 10,
                _ => 2,
            };
            if self.header_len < needed {
                continue;
            }
            let length = match self.header[1] {
                126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
                127 => u64::from_be_bytes(self.header[2..10].try_into().expect("eight bytes")),
                short => u64::from(short),
            };
            if self.header[0] != 0x82 || self.header[1] & 0x80 != 0 || length != self.expected {
                return Err(format!("unexpected frame header {:02x?}", &self.header[..self.header_len]));
            }
            self.header_len = 0;
            self.payload_left = length;
            if length == 0 {
                self.messages += 1;
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------
// Frames, randomness, /proc
// ------------------------------------------------------------------------------------------

/// `size` bytes of fixed pseudo-random payload.
fn payload(size: usize) -> Vec<u8> {
    let mut random = XorShift::new(0x5eed);
    (0..size).map(|_| random.next() as u8).collect()
}

/// `count` masked binary frames of `payload`, back to back, each with its own key; returns
/// them and the length of one.
fn encode_frames(payload: &[u8], count: usize) -> (Vec<u8>, usize) {
    let mut random = XorShift::new(0x6d61736b);
    let mut frames = Vec::new();
    for _ in 0..count {
        let key = (random.next() as u32).to_be_bytes();
        frames.push(0x82);
        match payload.len() {
            n if n < 126 => frames.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frames.push(0x80 | 126);
                frames.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frames.push(0x80 | 127);
                frames.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frames.extend_from_slice(&key);
        frames.extend(payload.iter().zip(key.iter().cycle()).map(|(byte, mask)| byte ^ mask));
    }
    let one = frames.len() / count;
    (frames, one)
}

struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// CPU time of the server and of this process over a measured window.
struct CpuClock {
    server: u32,
    server_ns: u64,
    client_ns: u64,
}

impl CpuClock {
    fn start(server: u32) -> Self {
        Self { server, server_ns: cpu_ns(&server.to_string()), client_ns: cpu_ns("self") }
    }

    /// Fractions of one core each used over `elapsed` seconds.
    fn stop(self, elapsed: f64) -> (f64, f64) {
        let server = cpu_ns(&self.server.to_string()).saturating_sub(self.server_ns);
        let client = cpu_ns("self").saturating_sub(self.client_ns);
        (server as f64 / 1e9 / elapsed, client as f64 / 1e9 / elapsed)
    }
}

/// Nanoseconds the main thread of process `pid` has run (both runtimes run everything on it).
fn cpu_ns(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// `VmRSS` of process `pid`, in KiB.
fn resident_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("status of {pid}: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS for {pid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_parser_counts_in_any_chunking() {
        for size in [0usize, 16, 125, 126, 65535, 65536] {
            let mut wire = Vec::new();
            for _ in 0..3 {
                wire.push(0x82);
                match size {
                    n if n < 126 => wire.push(n as u8),
                    n if n <= 0xffff => {
                        wire.push(126);
                        wire.extend_from_slice(&(n as u16).to_be_bytes());
                    }
                    n => {
                        wire.push(127);
                        wire.extend_from_slice(&(n as u64).to_be_bytes());
                    }
                }
                wire.extend(std::iter::repeat_n(7u8, size));
            }
            for chunk in [1, 2, 3, 7, 1000, wire.len()] {
                let mut parser = EchoParser::new(size as u64);
                for piece in wire.chunks(chunk) {
                    parser.feed(piece).unwrap();
                }
                assert_eq!(parser.messages, 3, "size {size} chunk {chunk}");
            }
        }
    }

    #[test]
    fn echo_parser_rejects_other_frames() {
        assert!(EchoParser::new(16).feed(&[0x81, 16]).is_err());
        assert!(EchoParser::new(16).feed(&[0x82, 17]).is_err());
        assert!(EchoParser::new(16).feed(&[0x82, 0x90]).is_err());
    }

    #[test]
    fn frames_are_masked() {
        let payload = payload(300);
        let (frames, one) = encode_frames(&payload, 2);
        assert_eq!(one, 2 + 2 + 4 + 300);
        assert_eq!(&frames[..4], &[0x82, 0x80 | 126, 1, 44]);
        let key = &frames[4..8];
        let unmasked: Vec<u8> = frames[8..one].iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k).collect();
        assert_eq!(unmasked, payload);
    }
}
