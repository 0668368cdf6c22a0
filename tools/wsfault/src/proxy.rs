//! A TCP proxy on loopback that misbehaves on purpose, the `netem` this machine does not have.
//!
//! Each accepted connection is relayed to the upstream address in both directions, "up"
//! (client to server) and "down" (server to client). A [`Plan`] shapes each direction
//! ([`Shaping`]: delay and jitter, a bandwidth cap, writes cut into pieces with gaps) and may
//! hold one [`Fault`], which fires once `after` more client bytes have been forwarded: a
//! reset (`SO_LINGER` 0 on both sockets, so both peers get an RST), a half-close (the
//! server's side is shut for writing, as by a peer that ends without a Close frame; the
//! client's later bytes are dropped, the server's still forwarded), or a freeze (nothing more
//! is read or written either way; the sockets stay open). The plan can be replaced while
//! connections run ([`Proxy::set`]): a fault with `after` 0 fires at once.
//!
//! Order is kept whatever the jitter: a chunk is never written before the one read before it.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::Rng;

/// How one direction is shaped. The default forwards at once, unshaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shaping {
    /// Each chunk is written this long after it was read.
    pub delay: Duration,
    /// Plus a random extra delay below this (order is kept).
    pub jitter: Duration,
    /// At most this many bytes per second (written in pieces of a fiftieth of a second).
    pub rate: Option<u64>,
    /// Writes cut into pieces of at most this many bytes...
    pub piece: Option<usize>,
    /// ...with this long between the starts of two pieces.
    pub gap: Duration,
}

/// What the proxy does to a connection once, at a point in its client bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Both sockets closed with `SO_LINGER` 0: an RST each way, mid-frame if the point is.
    Reset,
    /// The server's socket shut for writing (a FIN without a Close frame); the client's later
    /// bytes are dropped, the server's still forwarded.
    HalfClose,
    /// Nothing more read or written in either direction; the sockets stay open.
    Freeze,
}

/// The proxy's behaviour: shaping per direction and an optional fault.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Client to server.
    pub up: Shaping,
    /// Server to client.
    pub down: Shaping,
    /// The fault, if any...
    pub fault: Option<Fault>,
    /// ...fired once this many more client bytes have been forwarded (counted from the
    /// connection's start, or from [`Proxy::set`] for connections already open).
    pub after: u64,
}

impl Plan {
    /// The same shaping both ways.
    pub fn both(shaping: Shaping) -> Self {
        Self { up: shaping.clone(), down: shaping, ..Self::default() }
    }

    /// A fault after `after` client bytes, no shaping.
    pub fn fault(fault: Fault, after: u64) -> Self {
        Self { fault: Some(fault), after, ..Self::default() }
    }
}

/// What the proxy knows about one relayed connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    /// The client's address.
    pub client: SocketAddr,
    /// The proxy's own address on its connection to the server: the server's peer.
    pub upstream_local: SocketAddr,
    /// When the fault fired.
    pub fault_at: Option<Instant>,
}

/// A running proxy; dropping it ends every connection it relays.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    plan: watch::Sender<Plan>,
    relayed: Arc<Mutex<Vec<Relayed>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on `listen` (port 0: any free one) and relays each connection to `upstream`
    /// under `plan`. Runs on the current tokio runtime.
    pub async fn start(listen: SocketAddr, upstream: SocketAddr, plan: Plan) -> io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (plan, plan_rx) = watch::channel(plan);
        let relayed = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn(accept_loop(listener, upstream, plan_rx, relayed.clone()));
        Ok(Self { addr, plan, relayed, accept })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the plan, for new connections and those already open.
    pub fn set(&self, plan: Plan) {
        self.plan.send_replace(plan);
    }

    /// The connections relayed so far, oldest first.
    pub fn relayed(&self) -> Vec<Relayed> {
        lock(&self.relayed).clone()
    }

    /// Waits (up to `within`) until the fault has fired on connection `index`; returns when.
    pub async fn fault_fired(&self, index: usize, within: Duration) -> Option<Instant> {
        let end = Instant::now() + within;
        loop {
            if let Some(at) = lock(&self.relayed).get(index).and_then(|r| r.fault_at) {
                return Some(at);
            }
            if Instant::now() >= end {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The accept task owns the connections' tasks (a JoinSet): aborting it drops them all.
        self.accept.abort();
    }
}

fn lock(relayed: &Mutex<Vec<Relayed>>) -> std::sync::MutexGuard<'_, Vec<Relayed>> {
    // A panic elsewhere leaves the list valid: entries are pushed or updated whole.
    relayed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    plan: watch::Receiver<Plan>,
    relayed: Arc<Mutex<Vec<Relayed>>>,
) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, peer)) = accepted else { continue };
                tasks.spawn(relay(client, peer, upstream, plan.clone(), relayed.clone()));
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
}

/// How one direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// End of stream passed on, or the direction was shut by a half-close.
    Done,
    /// A reset fault, or an error on either socket (passed on as a reset).
    Reset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

enum Item {
    Data(Instant, Vec<u8>),
    Fault(Fault),
    Eof,
    Failed,
}

async fn relay(
    mut client: TcpStream,
    peer: SocketAddr,
    upstream: SocketAddr,
    plan: watch::Receiver<Plan>,
    relayed: Arc<Mutex<Vec<Relayed>>>,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let Ok(upstream_local) = server.local_addr() else { return };
    let index = {
        let mut list = lock(&relayed);
        list.push(Relayed { client: peer, upstream_local, fault_at: None });
        list.len() - 1
    };
    let (frozen, _) = watch::channel(false);
    let reset = {
        let (mut client_read, mut client_write) = client.split();
        let (mut server_read, mut server_write) = server.split();
        let stamp = || {
            if let Some(entry) = lock(&relayed).get_mut(index) {
                entry.fault_at = Some(Instant::now());
            }
        };
        let up = pump(Direction::Up, &mut client_read, &mut server_write, plan.clone(), &frozen, &stamp);
        let down = pump(Direction::Down, &mut server_read, &mut client_write, plan.clone(), &frozen, &stamp);
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                ended = &mut up, if !up_done => {
                    if ended == Ended::Reset { break true; }
                    up_done = true;
                }
                ended = &mut down, if !down_done => {
                    if ended == Ended::Reset { break true; }
                    down_done = true;
                }
            }
            if up_done && down_done {
                break false;
            }
        }
    };
    if reset {
        // Closing a socket with a zero linger time sends an RST instead of a FIN.
        let _ = socket2::SockRef::from(&server).set_linger(Some(Duration::ZERO));
        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
    }
}

/// One direction: a reader that stamps chunks and decides the fault, and a writer that
/// shapes them, joined by a small queue (the proxy's buffer: at most 16 chunks of 16 KiB).
async fn pump<R, W>(
    direction: Direction,
    reader: &mut R,
    writer: &mut W,
    plan: watch::Receiver<Plan>,
    frozen: &watch::Sender<bool>,
    stamp: &impl Fn(),
) -> Ended
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, rx) = mpsc::channel(16);
    let read = read_side(direction, reader, tx, plan.clone(), frozen.subscribe());
    let write = write_side(direction, writer, rx, plan, frozen, stamp);
    tokio::pin!(read, write);
    let (mut read_done, mut written) = (false, None);
    loop {
        tokio::select! {
            () = &mut read, if !read_done => read_done = true,
            ended = &mut write, if written.is_none() => {
                if ended == Ended::Reset {
                    return ended;
                }
                written = Some(ended);
            }
        }
        // A half-closed direction still reads (and drops) the client's bytes until it ends.
        if let (true, Some(ended)) = (read_done, written) {
            return ended;
        }
    }
}

async fn read_side<R: AsyncRead + Unpin>(
    direction: Direction,
    reader: &mut R,
    tx: mpsc::Sender<Item>,
    mut plan: watch::Receiver<Plan>,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    // (fault, client bytes left before it fires), for the up direction.
    let mut armed = match direction {
        Direction::Up => {
            let plan = plan.borrow_and_update();
            plan.fault.map(|fault| (fault, plan.after))
        }
        Direction::Down => None,
    };
    let mut watching = direction == Direction::Up;
    // After a half-close the client's bytes are read and dropped; after a reset or a freeze,
    // nothing more is read.
    let mut discard = false;
    loop {
        if frozen.wait_for(|frozen| !*frozen).await.is_err() {
            return;
        }
        if let (Some((fault, 0)), false) = (armed, discard) {
            armed = None;
            if tx.send(Item::Fault(fault)).await.is_err() || fault != Fault::HalfClose {
                return std::future::pending().await;
            }
            discard = true;
        }
        tokio::select! {
            changed = plan.changed(), if watching => {
                if changed.is_err() {
                    watching = false;
                    continue;
                }
                let plan = plan.borrow_and_update();
                armed = plan.fault.map(|fault| (fault, plan.after));
            }
            read = reader.read(&mut buf) => {
                let n = match read {
                    // After a half-close the writer is gone: nothing more to tell it.
                    Ok(0) | Err(_) if discard => return,
                    Ok(0) => {
                        let _ = tx.send(Item::Eof).await;
                        return;
                    }
                    Ok(n) => n,
                    Err(_) => {
                        let _ = tx.send(Item::Failed).await;
                        return;
                    }
                };
                if discard {
                    continue;
                }
                let now = Instant::now();
                let mut chunk = &buf[..n];
                if let Some((_, left)) = &mut armed {
                    // The bytes past the fault's point are not forwarded; it fires at the top
                    // of the loop once `left` is 0.
                    let before = (*left).min(chunk.len() as u64) as usize;
                    *left -= before as u64;
                    chunk = &chunk[..before];
                }
                if !chunk.is_empty() && tx.send(Item::Data(now, chunk.to_vec())).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn write_side<W: AsyncWrite + Unpin>(
    direction: Direction,
    writer: &mut W,
    mut rx: mpsc::Receiver<Item>,
    plan: watch::Receiver<Plan>,
    frozen: &watch::Sender<bool>,
    stamp: &impl Fn(),
) -> Ended {
    let mut rng = Rng::from_clock();
    let mut last_due = Instant::now();
    let mut next_free = Instant::now();
    let mut last_piece: Option<Instant> = None;
    let mut unfrozen = frozen.subscribe();
    while let Some(item) = rx.recv().await {
        match item {
            Item::Data(read_at, bytes) => {
                let shaping = match direction {
                    Direction::Up => plan.borrow().up.clone(),
                    Direction::Down => plan.borrow().down.clone(),
                };
                let jitter = Duration::from_micros(rng.below(shaping.jitter.as_micros() as u64));
                let due = (read_at + shaping.delay + jitter).max(last_due);
                last_due = due;
                tokio::time::sleep_until(due).await;
                let paced = shaping.rate.map_or(usize::MAX, |rate| (rate / 50).max(1) as usize);
                let piece_len = shaping.piece.unwrap_or(usize::MAX).min(paced).max(1);
                for piece in bytes.chunks(piece_len) {
                    if let (Some(last), false) = (last_piece, shaping.gap.is_zero()) {
                        tokio::time::sleep_until(last + shaping.gap).await;
                    }
                    tokio::time::sleep_until(next_free).await;
                    if unfrozen.wait_for(|frozen| !*frozen).await.is_err() {
                        return Ended::Done;
                    }
                    if writer.write_all(piece).await.is_err() {
                        return Ended::Reset;
                    }
                    let now = Instant::now();
                    last_piece = Some(now);
                    if let Some(rate) = shaping.rate {
                        let cost = Duration::from_secs_f64(piece.len() as f64 / rate.max(1) as f64);
                        next_free = next_free.max(now) + cost;
                    }
                }
            }
            Item::Fault(Fault::Reset) => {
                stamp();
                return Ended::Reset;
            }
            Item::Fault(Fault::HalfClose) => {
                stamp();
                let _ = writer.shutdown().await;
                return Ended::Done;
            }
            Item::Fault(Fault::Freeze) => {
                stamp();
                frozen.send_replace(true);
                return std::future::pending().await;
            }
            Item::Eof => {
                let _ = writer.shutdown().await;
                return Ended::Done;
            }
            Item::Failed => return Ended::Reset,
        }
    }
    Ended::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A proxy in front of a listener; returns the proxy, the client's socket and the
    /// server's socket of the same connection.
    async fn pair(plan: Plan) -> (Proxy, TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy =
            Proxy::start("127.0.0.1:0".parse().unwrap(), listener.local_addr().unwrap(), plan).await.unwrap();
        let client = TcpStream::connect(proxy.addr()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (proxy, client, server)
    }

    async fn read_some(stream: &mut TcpStream, within: Duration) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; 64 * 1024];
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(n)) => Ok(buf[..n].to_vec()),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    #[tokio::test]
    async fn reset_cuts_at_the_byte_and_sends_rst_both_ways() {
        let (_proxy, mut client, mut server) = pair(Plan::fault(Fault::Reset, 5)).await;
        client.write_all(b"0123456789").await.unwrap();
        let mut got = Vec::new();
        let error = loop {
            match read_some(&mut server, Duration::from_secs(2)).await {
                Ok(bytes) if !bytes.is_empty() => got.extend(bytes),
                Ok(_) => panic!("a FIN, not a reset"),
                Err(error) => break error,
            }
        };
        assert_eq!(got, b"01234");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
        let error = read_some(&mut client, Duration::from_secs(2)).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    }

    #[tokio::test]
    async fn half_close_ends_the_servers_input_and_keeps_its_output() {
        let (proxy, mut client, mut server) = pair(Plan::default()).await;
        client.write_all(b"hello").await.unwrap();
        assert_eq!(read_some(&mut server, Duration::from_secs(2)).await.unwrap(), b"hello");
        proxy.set(Plan::fault(Fault::HalfClose, 0));
        assert!(proxy.fault_fired(0, Duration::from_secs(2)).await.is_some());
        assert_eq!(read_some(&mut server, Duration::from_secs(2)).await.unwrap(), b"", "a FIN");
        server.write_all(b"still here").await.unwrap();
        assert_eq!(read_some(&mut client, Duration::from_secs(2)).await.unwrap(), b"still here");
        // The client's later bytes are dropped.
        client.write_all(b"dropped").await.unwrap();
        server.shutdown().await.unwrap();
        assert_eq!(read_some(&mut client, Duration::from_secs(2)).await.unwrap(), b"");
    }

    #[tokio::test]
    async fn freeze_stops_both_directions_and_keeps_the_sockets() {
        let (proxy, mut client, mut server) = pair(Plan::default()).await;
        proxy.set(Plan::fault(Fault::Freeze, 0));
        assert!(proxy.fault_fired(0, Duration::from_secs(2)).await.is_some());
        client.write_all(b"up").await.unwrap();
        server.write_all(b"down").await.unwrap();
        let quiet = Duration::from_millis(300);
        assert_eq!(read_some(&mut server, quiet).await.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert_eq!(read_some(&mut client, quiet).await.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn pieces_arrive_one_byte_at_a_time_with_gaps() {
        let gap = Duration::from_millis(50);
        let plan = Plan { up: Shaping { piece: Some(1), gap, ..Shaping::default() }, ..Plan::default() };
        let (_proxy, mut client, mut server) = pair(plan).await;
        let start = Instant::now();
        client.write_all(b"abcdef").await.unwrap();
        let mut got = Vec::new();
        while got.len() < 6 {
            let bytes = read_some(&mut server, Duration::from_secs(2)).await.unwrap();
            assert_eq!(bytes.len(), 1, "one byte per write");
            got.extend(bytes);
        }
        assert_eq!(got, b"abcdef");
        assert!(start.elapsed() >= gap * 5);
    }

    #[tokio::test]
    async fn delay_and_rate_cap_hold() {
        let shaping =
            Shaping { delay: Duration::from_millis(100), rate: Some(64 * 1024), ..Shaping::default() };
        let (_proxy, mut client, mut server) = pair(Plan { down: shaping, ..Plan::default() }).await;
        let start = Instant::now();
        server.write_all(&[7u8; 32 * 1024]).await.unwrap();
        let first = read_some(&mut client, Duration::from_secs(2)).await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(100), "delayed");
        let mut total = first.len();
        while total < 32 * 1024 {
            total += read_some(&mut client, Duration::from_secs(2)).await.unwrap().len();
        }
        // Half a second by the cap, less the first piece.
        assert!(start.elapsed() >= Duration::from_millis(550), "capped: {:?}", start.elapsed());
        assert!(start.elapsed() < Duration::from_millis(1500));
    }

    #[tokio::test]
    async fn jitter_delays_without_reordering() {
        let shaping = Shaping {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(30),
            ..Shaping::default()
        };
        let (_proxy, mut client, mut server) = pair(Plan { up: shaping, ..Plan::default() }).await;
        let start = Instant::now();
        let sent: Vec<u8> = (0..40).collect();
        for byte in &sent {
            client.write_all(&[*byte]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let mut got = Vec::new();
        while got.len() < sent.len() {
            got.extend(read_some(&mut server, Duration::from_secs(2)).await.unwrap());
        }
        assert_eq!(got, sent, "in order");
        assert!(start.elapsed() >= Duration::from_millis(20 + 2 * 39));
    }
}
