//! The echo server under test, on `rfc6455-tokio`: every text and binary message comes back;
//! `!close` makes it close the connection (1000), `!ping` makes it send a Ping. It prints its
//! limits at start, then `ready <addr> pid <pid>`, and with `--stats S` a line of counters
//! every S seconds.
//!
//!     wsload-server [--listen 127.0.0.1:9001] [--deflate off|lean|default]
//!         [--max-message BYTES] [--max-unread BYTES] [--max-pending BYTES]
//!         [--handshake-timeout S] [--ping-interval S] [--pong-timeout S]
//!         [--fragment-size BYTES] [--threads N] [--fair-turns N] [--accept-rate N] [--stats S]

// `deny`, not `forbid`: the one exception is the counting allocator (module `heap`).
#![deny(unsafe_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rfc6455::connection::{Config, TimeoutConfig};
use rfc6455::deflate::DeflateConfig;
use rfc6455_tokio::{CloseCode, Error, Message, Options};
use tokio::time::Instant;
use wsload::args::Args;
use wsload::wire;

/// The server's settings, from the command line.
#[derive(Clone)]
struct Settings {
    config: Config,
    max_unread: usize,
    handshake_timeout: Duration,
    /// Turns shared by the busy connections (`--fair-turns`; none when 0).
    fair_share: Option<rfc6455_tokio::FairShare>,
    /// New connections accepted a second at most (`--accept-rate`; no cap when 0).
    accept_rate: f64,
}

impl Settings {
    fn options(&self) -> Options {
        let options = Options::default()
            .config(self.config.clone())
            .max_unread(self.max_unread)
            .handshake_timeout(Some(self.handshake_timeout));
        match &self.fair_share {
            Some(share) => options.fair_share(share),
            None => options,
        }
    }
}

/// What the server saw, printed with `--stats`.
#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    open: AtomicU64,
    handshake_failed: AtomicU64,
    messages: AtomicU64,
    clean_closes: AtomicU64,
    failed_1002: AtomicU64,
    failed_1006: AtomicU64,
    failed_1009: AtomicU64,
    failed_other: AtomicU64,
}

fn main() {
    let args = match Args::parse(std::env::args().skip(1), &["poll-times"]) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("wsload-server: {error}");
            std::process::exit(2);
        }
    };
    let limit = wsload::raise_nofile_limit();
    let listen: SocketAddr = args.get("listen", "127.0.0.1:9001".parse().expect("a literal address"));
    let deflate = args.text("deflate").unwrap_or("off").to_owned();
    let max_message: u64 = args.get("max-message", 1 << 20);
    let max_pending: usize = args.get("max-pending", rfc6455::connection::DEFAULT_MAX_PENDING_OUTPUT);
    let max_unread: usize = args.get("max-unread", rfc6455_tokio::DEFAULT_MAX_UNREAD);
    let handshake_timeout = Duration::from_secs_f64(args.get("handshake-timeout", 10.0));
    let ping_interval = Duration::from_secs_f64(args.get("ping-interval", 20.0));
    let pong_timeout = Duration::from_secs_f64(args.get("pong-timeout", 20.0));
    let threads: usize = args.get("threads", 1);
    // Busy connections take turns (`rfc6455_tokio::FairShare`), as many a round as the
    // runtime has threads; `--fair-turns 0` turns it off, for comparison.
    let fair_turns: usize = args.get("fair-turns", threads);
    // At most this many new connections a second (0: no cap). A server that peers flood
    // with new connections caps how fast it takes them, so that the open ones keep their
    // share of the machine: each costs the kernel a TCP handshake, an accept, a close and
    // the closing states, which no code in user space can make cheaper. The connections
    // not yet taken wait in the listen backlog, then the kernel drops further SYNs (their
    // clients retry a second later). The cost is that new clients wait too while a flood
    // lasts.
    let accept_rate: f64 = args.get("accept-rate", 0.0);
    let stats_every: f64 = args.get("stats", 0.0);
    // Times every poll of every connection's task (two clock reads per poll) and adds the
    // counts of long polls to the `stats:` lines: what delays the other connections on a
    // `current_thread` runtime is the longest polls.
    let poll_times = args.flag("poll-times");

    let mut config =
        Config::default().max_message_size(max_message).max_pending_output(max_pending).timeouts(
            TimeoutConfig::default()
                .ping_interval(ping_interval)
                .pong_timeout(pong_timeout)
                .close_timeout(rfc6455_tokio::DEFAULT_CLOSE_TIMEOUT),
        );
    if let Some(size) = args.text("fragment-size") {
        config = config.fragment_size(Some(size.parse().expect("--fragment-size: a number")));
    }
    let deflate_text = match deflate.as_str() {
        "off" => "off".to_owned(),
        "lean" => {
            config = config.deflate(lean_deflate());
            "lean: server_max_window_bits=9, client_max_window_bits=9, no context takeover both \
             ways, states freed between messages"
                .to_owned()
        }
        "default" => {
            config = config.deflate(DeflateConfig::default());
            "default: 15-bit windows, context takeover".to_owned()
        }
        other => {
            eprintln!("wsload-server: --deflate {other}: want off, lean or default");
            std::process::exit(2);
        }
    };
    println!("wsload-server: permessage-deflate {deflate_text}");
    println!(
        "limits: max_message_size {max_message} B, max_frame_size {} B, max_pending_output {max_pending} B, \
         max_unread {max_unread} B, handshake head {} B, handshake timeout {:?}, ping interval {:?}, \
         pong timeout {:?}, close timeout {:?}, fragment size {:?}, open files {limit}, threads {threads}",
        config.frame_limit(),
        rfc6455::handshake::Config::default().max_head_size(),
        handshake_timeout,
        ping_interval,
        pong_timeout,
        rfc6455_tokio::DEFAULT_CLOSE_TIMEOUT,
        config.fragment_size,
    );
    let fair_share = (fair_turns > 0).then(|| rfc6455_tokio::FairShare::new(fair_turns));
    println!("wsload-server: fair share: {fair_turns} turn(s) (0: off)");
    println!("wsload-server: accept rate: {accept_rate} connections a second at most (0: no cap)");
    let settings = Arc::new(Settings { config, max_unread, handshake_timeout, fair_share, accept_rate });

    // Commands on standard input, one per line: `trim` gives glibc's free pages back to the
    // kernel and answers `trimmed <released>` (the soak's quiet samples, see soak.rs). The
    // thread ends at end of input, when the tool that started the server closes its pipe.
    std::thread::spawn(|| {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if line.trim() == "trim" {
                println!("trimmed {}", heap::trim());
            }
        }
    });
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    };
    let runtime = runtime.expect("a tokio runtime");
    if let Err(error) = runtime.block_on(serve(listen, settings, stats_every, poll_times)) {
        eprintln!("wsload-server: {error}");
        std::process::exit(1);
    }
}

/// The memory-lean permessage-deflate policy: the smallest windows zlib compresses with, no
/// context takeover either way, and the states freed between messages (the README's 57 KiB
/// between messages, 298 KiB at the peak of a message).
fn lean_deflate() -> DeflateConfig {
    DeflateConfig::default()
        .server_max_window_bits(rfc6455::deflate::MIN_COMPRESS_WINDOW_BITS)
        .client_max_window_bits(rfc6455::deflate::MIN_COMPRESS_WINDOW_BITS)
        .server_no_context_takeover(true)
        .client_no_context_takeover(true)
        .free_between_messages(true)
}

async fn serve(
    listen: SocketAddr,
    settings: Arc<Settings>,
    stats_every: f64,
    poll_times: bool,
) -> std::io::Result<()> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(listen)?;
    let mut rate =
        (settings.accept_rate > 0.0).then(|| AcceptRate::new(settings.accept_rate, Instant::now()));
    // With a cap on accepts, the backlog holds the bucket's burst (at least 64): a connection
    // further back would wait seconds for its accept while its client's handshake timeout
    // runs, so the kernel drops further SYNs instead, and their clients retry.
    let backlog = rate.as_ref().map_or(4096, |rate| (rate.burst as u32).clamp(64, 4096));
    let listener = socket.listen(backlog)?;
    println!("ready {} pid {}", listener.local_addr()?, std::process::id());
    let counters = Arc::new(Counters::default());
    if poll_times {
        // How late a 1 ms timer fires: the runtime's stalls, whatever holds it.
        tokio::spawn(async {
            let mut last = std::time::Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
                let now = std::time::Instant::now();
                polls::tick_late((now - last).as_micros() as u64);
                last = now;
            }
        });
    }
    if stats_every > 0.0 {
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(stats_every));
            loop {
                tick.tick().await;
                print_stats(&counters);
            }
        });
    }
    loop {
        // Sharing turns, one connection is accepted per turn: the open connections go
        // first (see `FairShare::turn`).
        if let Some(share) = &settings.fair_share {
            share.turn().await;
        }
        if let Some(rate) = &mut rate {
            rate.take().await;
        }
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors, or a connection reset before accept: keep serving.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let settings = settings.clone();
        let counters = counters.clone();
        let connection = async move {
            let Ok(mut ws) = rfc6455_tokio::accept_with(stream, settings.options()).await else {
                counters.handshake_failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            counters.open.fetch_add(1, Ordering::Relaxed);
            let end = echo(&mut ws, &counters).await;
            counters.open.fetch_sub(1, Ordering::Relaxed);
            let counter = match end {
                None => &counters.clean_closes,
                Some(1002) => &counters.failed_1002,
                Some(1006) => &counters.failed_1006,
                Some(1009) => &counters.failed_1009,
                Some(_) => &counters.failed_other,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        };
        if poll_times {
            tokio::spawn(polls::Timed(Box::pin(connection)));
        } else {
            tokio::spawn(connection);
        }
    }
}

/// A token bucket for `--accept-rate`: `per_sec` tokens a second, holding at most a quarter
/// of a second's worth (at least one), so that a burst after a quiet time is bounded too.
struct AcceptRate {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl AcceptRate {
    fn new(per_sec: f64, now: Instant) -> Self {
        let burst = (per_sec / 4.0).max(1.0);
        AcceptRate { per_sec, burst, tokens: burst, last: now }
    }

    /// Takes a token at `now` if there is one (`None`), else says how long until there is.
    fn try_take(&mut self, now: Instant) -> Option<Duration> {
        let earned = now.saturating_duration_since(self.last).as_secs_f64() * self.per_sec;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return None;
        }
        Some(Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec))
    }

    /// Waits for a token and takes it.
    async fn take(&mut self) {
        // The timer's resolution is a millisecond: at more than 1,000 a second one wait earns
        // several tokens, which the next calls spend without waiting.
        while let Some(wait) = self.try_take(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_rate_allows_a_quarter_second_burst_then_paces() {
        let start = Instant::now();
        let mut rate = AcceptRate::new(1000.0, start);
        // A full bucket: 250 at once, then a wait of one token's time.
        for _ in 0..250 {
            assert_eq!(rate.try_take(start), None);
        }
        let wait = rate.try_take(start).expect("an empty bucket");
        assert!((wait.as_secs_f64() - 0.001).abs() < 1e-9, "{wait:?}");
        // Half a token's time earns half a token: still waiting, for the other half.
        let wait = rate.try_take(start + Duration::from_micros(500)).expect("half a token");
        assert!((wait.as_secs_f64() - 0.0005).abs() < 1e-9, "{wait:?}");
        // 10 ms later: 10 tokens (and a half), no more.
        let later = start + Duration::from_micros(10_500);
        for _ in 0..10 {
            assert_eq!(rate.try_take(later), None);
        }
        assert!(rate.try_take(later).is_some());
        // A long quiet time refills to the burst, not beyond.
        let much_later = later + Duration::from_secs(60);
        let taken = (0..1000).take_while(|_| rate.try_take(much_later).is_none()).count();
        assert_eq!(taken, 250);
    }

    #[test]
    fn accept_rate_below_four_a_second_still_holds_one() {
        let start = Instant::now();
        let mut rate = AcceptRate::new(2.0, start);
        assert_eq!(rate.try_take(start), None);
        let wait = rate.try_take(start).expect("an empty bucket");
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert_eq!(rate.try_take(start + Duration::from_millis(500)), None);
    }
}

/// Echoes until the end; `None` after a clean close, else the close code of the failure.
async fn echo(ws: &mut rfc6455_tokio::WebSocket<tokio::net::TcpStream>, counters: &Counters) -> Option<u16> {
    while let Some(received) = ws.recv().await {
        let message = match received {
            Ok(message) => message,
            Err(Error::Closed(info)) => return Some(info.code().0),
            Err(_) => return Some(0),
        };
        if !message.is_data() {
            continue;
        }
        counters.messages.fetch_add(1, Ordering::Relaxed);
        let sent = match message.as_text() {
            Some(wire::CLOSE_COMMAND) => ws.close(CloseCode::NORMAL, "asked").await,
            Some(wire::PING_COMMAND) => ws.send(Message::Ping(wire::SERVER_PING.to_vec().into())).await,
            _ => ws.send(message).await,
        };
        if sent.is_err() {
            // The end comes through `recv`, which says how.
            continue;
        }
    }
    None
}

/// The server's live heap, counted by a wrapper around the system allocator: what the
/// connections hold (the bytes they asked for and have not freed), as opposed to the RSS,
/// which also holds what glibc's malloc keeps after a free (fragmented heap, the top of the
/// heap below the trim threshold). `stats:` lines print the live bytes and the peak since the
/// previous line (then the peak restarts from the live bytes), so that a reader sees every
/// high-water mark. The cost is two relaxed atomic operations per allocation.
mod heap {
    #![allow(unsafe_code)]
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    static LIVE: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    pub struct Counting;

    fn grew(by: usize) {
        let now = LIVE.fetch_add(by, Relaxed) + by;
        PEAK.fetch_max(now, Relaxed);
    }

    // SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
    // counters are only bookkeeping.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract for `alloc`, passed on.
            let ptr = unsafe { System.alloc(layout) };
            if !ptr.is_null() {
                grew(layout.size());
            }
            ptr
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as above.
            let ptr = unsafe { System.alloc_zeroed(layout) };
            if !ptr.is_null() {
                grew(layout.size());
            }
            ptr
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as above.
            unsafe { System.dealloc(ptr, layout) };
            LIVE.fetch_sub(layout.size(), Relaxed);
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as above.
            let new = unsafe { System.realloc(ptr, layout, new_size) };
            if !new.is_null() {
                if new_size >= layout.size() {
                    grew(new_size - layout.size());
                } else {
                    LIVE.fetch_sub(layout.size() - new_size, Relaxed);
                }
            }
            new
        }
    }

    /// Asks glibc's malloc to give the free pages of its arenas back to the kernel
    /// (`malloc_trim(0)`); true when it released some. Elsewhere a no-op.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    pub fn trim() -> bool {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointer; it only returns free pages of glibc's arenas
        // and may be called from any thread at any time.
        unsafe { malloc_trim(0) != 0 }
    }

    /// Asks glibc's malloc to give free pages back; not glibc: nothing to do.
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    pub fn trim() -> bool {
        false
    }

    /// The live bytes now and the peak since the last call (in KiB).
    pub fn take() -> (usize, usize) {
        let live = LIVE.load(Relaxed);
        let peak = PEAK.swap(live, Relaxed).max(live);
        (live / 1024, peak / 1024)
    }
}

/// How long each poll of a connection's task takes, counted in `stats:` lines: polls, polls
/// over 100 us, over 250 us and over 1 ms, and the longest since the previous line.
mod polls {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::task::{Context, Poll};
    use std::time::Instant;

    static POLLS: AtomicU64 = AtomicU64::new(0);
    static OVER_100US: AtomicU64 = AtomicU64::new(0);
    static OVER_250US: AtomicU64 = AtomicU64::new(0);
    static OVER_1MS: AtomicU64 = AtomicU64::new(0);
    static MAX_US: AtomicU64 = AtomicU64::new(0);

    static STALLS_OVER_4MS: AtomicU64 = AtomicU64::new(0);
    static STALL_MAX_US: AtomicU64 = AtomicU64::new(0);

    /// Records the time between two ticks of a 1 ms timer.
    pub fn tick_late(us: u64) {
        if us > 4_000 {
            STALLS_OVER_4MS.fetch_add(1, Relaxed);
        }
        STALL_MAX_US.fetch_max(us, Relaxed);
    }

    /// A task's future, timed at each poll.
    pub struct Timed(pub Pin<Box<dyn Future<Output = ()> + Send>>);

    impl Future for Timed {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let start = Instant::now();
            let poll = self.0.as_mut().poll(cx);
            let us = start.elapsed().as_micros() as u64;
            POLLS.fetch_add(1, Relaxed);
            for (over, counter) in [(100, &OVER_100US), (250, &OVER_250US), (1000, &OVER_1MS)] {
                if us > over {
                    counter.fetch_add(1, Relaxed);
                }
            }
            MAX_US.fetch_max(us, Relaxed);
            poll
        }
    }

    /// The counts for a `stats:` line (the longest poll restarts at each line); empty when
    /// nothing is timed.
    pub fn line() -> String {
        if POLLS.load(Relaxed) == 0 {
            return String::new();
        }
        format!(
            " polls {} polls_over_100us {} polls_over_250us {} polls_over_1ms {} poll_max_us {} ticks_over_4ms {} tick_max_us {}",
            POLLS.load(Relaxed),
            OVER_100US.load(Relaxed),
            OVER_250US.load(Relaxed),
            OVER_1MS.load(Relaxed),
            MAX_US.swap(0, Relaxed),
            STALLS_OVER_4MS.load(Relaxed),
            STALL_MAX_US.swap(0, Relaxed)
        )
    }
}

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

fn print_stats(counters: &Counters) {
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let (heap_live, heap_peak) = heap::take();
    println!(
        "stats: accepted {} open {} handshake_failed {} messages {} clean {} failed_1002 {} failed_1006 {} \
         failed_1009 {} failed_other {} heap_live_kib {heap_live} heap_peak_kib {heap_peak}{}",
        load(&counters.accepted),
        load(&counters.open),
        load(&counters.handshake_failed),
        load(&counters.messages),
        load(&counters.clean_closes),
        load(&counters.failed_1002),
        load(&counters.failed_1006),
        load(&counters.failed_1009),
        load(&counters.failed_other),
        polls::line(),
    );
}
