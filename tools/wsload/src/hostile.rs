//! Hostile peers over raw TCP: a handshake written by hand, then frames built with the
//! core's encoder (`rfc6455::frame::encode_frame_to_vec`) or by hand where the encoder would
//! refuse (a length claim with no payload behind it), and the server's Close read back with
//! the core's header parser.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use rfc6455::Role;
use rfc6455::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use rfc6455::extension::Extension;
use rfc6455::frame::{FrameHeader, OpCode, ParsedHeader, encode_frame_to_vec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::time::Instant;

/// Bytes the hostile peers have written, all kinds together (the attack's intensity).
pub static BYTES_WRITTEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts `n` bytes written by a hostile peer.
fn wrote(n: usize) {
    BYTES_WRITTEN.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
}

/// The kinds of hostile peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A text message started, then empty continuation frames without end.
    EmptyContinuations,
    /// A text message started, then 1-byte continuation frames without end.
    ByteContinuations,
    /// A permessage-deflate message of 16 KiB on the wire that inflates to 64 MiB.
    Bomb,
    /// Pings as fast as the socket takes them, never reading.
    PingFlood,
    /// A binary frame claiming 2^63 bytes (the 64-bit length's top bit set).
    Length63,
    /// A binary frame claiming 2^63 - 1 bytes.
    Length63Minus1,
    /// The handshake request, one byte per second.
    Trickle,
}

impl Kind {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::EmptyContinuations => "empty continuation frames",
            Kind::ByteContinuations => "1-byte continuation frames",
            Kind::Bomb => "decompression bomb",
            Kind::PingFlood => "Ping flood, never reading",
            Kind::Length63 => "2^63-byte length claim",
            Kind::Length63Minus1 => "(2^63-1)-byte length claim",
            Kind::Trickle => "handshake trickled 1 byte/s",
        }
    }
}

/// How one hostile connection ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The server sent a Close with this code.
    Closed(u16),
    /// The server answered the handshake with this HTTP status.
    Status(u16),
    /// Still open when the attack phase ended.
    OpenAtEnd,
    /// The server ended the TCP connection without a Close (or reset it).
    Dropped,
    /// The attack could not start (connect or handshake failed).
    NotStarted(String),
}

/// When hostile peers stop: at the phase's end, or earlier when the runner aborts the phase
/// (the server's memory ran past twice the bound).
#[derive(Debug, Clone)]
pub struct Stop {
    /// The phase's end.
    pub at: Instant,
    /// Set to `true` to stop at once.
    pub abort: tokio::sync::watch::Receiver<bool>,
}

impl Stop {
    /// Whether it is time to stop.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.at || *self.abort.borrow()
    }

    /// Waits until it is time to stop.
    pub async fn wait(&self) {
        let mut abort = self.abort.clone();
        tokio::select! {
            () = tokio::time::sleep_until(self.at) => {}
            _ = abort.wait_for(|abort| *abort) => {}
        }
    }
}

/// What a hostile run produced: each connection's outcome and how long it took.
pub type Ended = (Outcome, Duration);

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// The raw request, with a permessage-deflate offer (9-bit windows, no context takeover)
/// when `deflate`.
fn request(server: SocketAddr, deflate: bool) -> String {
    let offer = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=9; server_max_window_bits=9; \
         client_no_context_takeover; server_no_context_takeover\r\n"
    } else {
        ""
    };
    format!(
        "GET / HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    )
}

/// Connects and completes the handshake; fails unless the answer is `101` (and, with
/// `deflate`, accepts permessage-deflate).
async fn open(server: SocketAddr, deflate: bool) -> io::Result<TcpStream> {
    let mut stream = crate::net::connect_tcp(server).await?;
    stream.write_all(request(server, deflate).as_bytes()).await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 8192 {
            return Err(io::Error::other("no handshake answer"));
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    if !text.starts_with("HTTP/1.1 101") {
        return Err(io::Error::other(format!("answer: {}", text.lines().next().unwrap_or(""))));
    }
    if deflate && !text.contains("permessage-deflate") {
        return Err(io::Error::other("permessage-deflate not accepted"));
    }
    Ok(stream)
}

/// A masked frame.
fn frame(fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    // Only over-long control payloads fail to encode; callers send at most 125 bytes in them.
    encode_frame_to_vec(fin, rsv, opcode, payload, Some(MASK), &mut out).expect("a valid frame");
    out
}

/// The bomb's payload: 64 MiB of zeros compressed once by the core's codec as a client with
/// a 9-bit window and no context takeover (what the lean server accepts).
pub fn bomb_payload() -> Vec<u8> {
    let params = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 9,
        client_max_window_bits: 9,
    };
    let config = DeflateConfig::default()
        .client_max_window_bits(9)
        .server_max_window_bits(9)
        .client_no_context_takeover(true)
        .server_no_context_takeover(true)
        .level(9)
        .min_size(0);
    let mut codec = PerMessageDeflate::new(Role::Client, params, &config);
    let mut out = Vec::new();
    let zeros = vec![0u8; 64 << 20];
    codec.encode(OpCode::Binary, &zeros, &mut out);
    out
}

/// Reads from the server until its Close (its code), the end, or `deadline`.
async fn read_close(reader: &mut OwnedReadHalf, stop: &Stop) -> Option<Outcome> {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        // Whole frames at the front of `buf`: a Close ends it, others are skipped.
        while let Ok(ParsedHeader::Complete(header, at)) = FrameHeader::parse(&buf, Role::Client) {
            let end = at + header.payload_len as usize;
            if buf.len() < end {
                break;
            }
            if header.opcode == OpCode::Close {
                let code = buf.get(at..at + 2).map_or(1005, |c| u16::from_be_bytes([c[0], c[1]]));
                return Some(Outcome::Closed(code));
            }
            buf.drain(..end);
        }
        tokio::select! {
            () = stop.wait() => return None,
            read = reader.read(&mut chunk) => match read {
                Ok(0) | Err(_) => return Some(Outcome::Dropped),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            },
        }
    }
}

/// Runs hostile connections of `kind` one after another until `stop`; returns how each ended.
pub async fn attack(server: SocketAddr, kind: Kind, stop: Stop, bomb: std::sync::Arc<Vec<u8>>) -> Vec<Ended> {
    let mut ended = Vec::new();
    while !stop.passed() {
        let started = Instant::now();
        let outcome = match kind {
            Kind::Trickle => trickle(server, &stop).await,
            _ => match open(server, kind == Kind::Bomb).await {
                Ok(stream) => frames(stream, kind, &stop, &bomb).await,
                Err(error) => Outcome::NotStarted(error.to_string()),
            },
        };
        let failed_to_start = matches!(outcome, Outcome::NotStarted(_));
        ended.push((outcome, started.elapsed()));
        if failed_to_start {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    ended
}

/// The frame attacks on an open connection.
async fn frames(stream: TcpStream, kind: Kind, stop: &Stop, bomb: &[u8]) -> Outcome {
    let (mut reader, mut writer) = stream.into_split();
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel();
    // Everyone but the Ping flood reads, so the Close is seen as soon as it comes.
    let reads = kind != Kind::PingFlood;
    let read_task = reads.then(|| {
        let stop = stop.clone();
        tokio::spawn(async move {
            let outcome = read_close(&mut reader, &stop).await;
            let _ = done_tx.send(());
            outcome
        })
    });
    let batch: Vec<u8> = match kind {
        Kind::EmptyContinuations => {
            (0..1000).flat_map(|_| frame(false, 0, OpCode::Continuation, b"")).collect()
        }
        Kind::ByteContinuations => {
            (0..1000).flat_map(|_| frame(false, 0, OpCode::Continuation, b"x")).collect()
        }
        Kind::PingFlood => (0..100).flat_map(|_| frame(true, 0, OpCode::Ping, &[b'p'; 125])).collect(),
        _ => Vec::new(),
    };
    let opening: Vec<u8> = match kind {
        Kind::EmptyContinuations | Kind::ByteContinuations => frame(false, 0, OpCode::Text, b""),
        Kind::Bomb => frame(true, 0b100, OpCode::Binary, bomb),
        Kind::Length63 | Kind::Length63Minus1 => {
            let claim: u64 = if kind == Kind::Length63 { 1 << 63 } else { (1 << 63) - 1 };
            // By hand: the encoder refuses a length with the top bit set.
            let mut out = vec![0x82, 0x80 | 127];
            out.extend_from_slice(&claim.to_be_bytes());
            out.extend_from_slice(&MASK);
            out.extend_from_slice(&[0u8; 16]);
            out
        }
        _ => Vec::new(),
    };
    let write = async {
        writer.write_all(&opening).await?;
        wrote(opening.len());
        if batch.is_empty() {
            // One shot: wait for the answer.
            std::future::pending::<()>().await;
        }
        loop {
            writer.write_all(&batch).await?;
            wrote(batch.len());
        }
        #[allow(unreachable_code)]
        Ok::<(), io::Error>(())
    };
    let reader_done = async {
        match reads {
            true => {
                let _ = (&mut done_rx).await;
            }
            // No reader, nothing to wait for (its sender is gone at once).
            false => std::future::pending().await,
        }
    };
    let write_ended = tokio::select! {
        result = write => Some(result),
        () = reader_done => None,
        () = stop.wait() => None,
    };
    match read_task {
        Some(task) => match task.await {
            Ok(Some(outcome)) => outcome,
            Ok(None) => Outcome::OpenAtEnd,
            Err(_) => Outcome::Dropped,
        },
        // The Ping flood never reads: it learns of the end from a failed write.
        None => match write_ended {
            Some(Err(_)) => Outcome::Dropped,
            _ => Outcome::OpenAtEnd,
        },
    }
}

/// The handshake, one byte per second, until the server answers or `stop`.
async fn trickle(server: SocketAddr, stop: &Stop) -> Outcome {
    let mut stream = match crate::net::connect_tcp(server).await {
        Ok(stream) => stream,
        Err(error) => return Outcome::NotStarted(error.to_string()),
    };
    let request = request(server, false).into_bytes();
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    for byte in request.iter().cycle() {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        let wait = tokio::time::sleep(Duration::from_secs(1));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return status_of(&answer),
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                },
                () = &mut wait => break,
                () = stop.wait() => return Outcome::OpenAtEnd,
            }
        }
    }
    status_of(&answer)
}

fn status_of(answer: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(answer);
    match text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok()) {
        Some(status) => Outcome::Status(status),
        None => Outcome::Dropped,
    }
}
