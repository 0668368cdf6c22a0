//! The scenarios, and what they share: the run's settings, the server under test, a memory
//! sampler and the client options.

pub mod attacks;
pub mod connections;
pub mod soak;
pub mod storm;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rfc6455::connection::Config;
use rfc6455::deflate::DeflateConfig;
use rfc6455_tokio::Options;

use crate::args::Args;
use crate::procfs;
use crate::report::Report;
use crate::server::Server;

/// What every scenario gets: the size of the run, the options, the report.
pub struct Run {
    /// `--full` (the sizes) rather than `--short` (the CI sizes).
    pub full: bool,
    /// The command line.
    pub args: Args,
    /// PASS/FAIL lines and the summary table.
    pub report: Report,
}

impl Run {
    /// The server for a scenario: the one at `--url` (with `--server-pid` for memory and
    /// CPU readings) when given, else a `wsload-server` started with `server_args`.
    pub fn server(&self, server_args: &[&str]) -> Result<Server, String> {
        self.server_with_env(server_args, &[])
    }

    /// [`server`](Self::server) with environment variables for a server it starts.
    pub fn server_with_env(&self, server_args: &[&str], env: &[(&str, &str)]) -> Result<Server, String> {
        if let Some(url) = self.args.text("url") {
            let addr = crate::net::parse_ws_url(url)?;
            let pid = self.args.text("server-pid").and_then(|pid| pid.parse().ok());
            return Ok(Server::external(addr, pid));
        }
        let mut all: Vec<String> = vec!["--listen".into(), "127.0.0.1:0".into()];
        all.extend(server_args.iter().map(|arg| (*arg).to_owned()));
        // Options that reach the server of every scenario, unless the scenario sets them:
        // `--fair-turns N` (0: busy connections do not share turns) and `--accept-rate N` (at
        // most N new connections a second; 0: no cap).
        for name in ["fair-turns", "accept-rate"] {
            let option = format!("--{name}");
            if let Some(value) = self.args.text(name)
                && !server_args.contains(&option.as_str())
            {
                all.extend([option, value.to_owned()]);
            }
        }
        Server::spawn_with_env(&all, env)
    }

    /// `--name` as a number, with one default for short runs and one for full runs.
    pub fn size<T: std::str::FromStr>(&self, name: &str, short: T, full: T) -> T {
        self.args.get(name, if self.full { full } else { short })
    }
}

/// The permessage-deflate policy the clients offer and the lean server accepts: 9-bit
/// windows, no context takeover, states freed between messages.
pub fn lean_deflate() -> DeflateConfig {
    DeflateConfig::default()
        .server_max_window_bits(rfc6455::deflate::MIN_COMPRESS_WINDOW_BITS)
        .client_max_window_bits(rfc6455::deflate::MIN_COMPRESS_WINDOW_BITS)
        .server_no_context_takeover(true)
        .client_no_context_takeover(true)
        .free_between_messages(true)
}

/// A good client's options: the adapter's defaults, 2 MiB messages (an echo of our largest),
/// permessage-deflate offered when `deflate`, outgoing messages cut into frames of
/// `fragment` bytes when given.
pub fn client_options(deflate: bool, fragment: Option<usize>) -> Options {
    let mut config: Config =
        rfc6455_tokio::default_config().max_message_size(2 << 20).fragment_size(fragment);
    if deflate {
        config = config.deflate(lean_deflate());
    }
    Options::default().config(config)
}

/// Samples a process's RSS on its own thread every `period` until dropped.
pub struct Sampler {
    samples: Arc<Mutex<Vec<(f64, u64)>>>,
    stop: Arc<AtomicBool>,
    start: Instant,
}

impl Sampler {
    /// Starts sampling process `pid` (nothing when it is 0).
    pub fn start(pid: u32, period: Duration) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        if pid != 0 {
            let (samples, stop) = (samples.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = procfs::rss_kib(pid) {
                        let at = start.elapsed().as_secs_f64();
                        samples.lock().unwrap_or_else(|e| e.into_inner()).push((at, rss));
                    }
                    std::thread::sleep(period);
                }
            });
        }
        Sampler { samples, stop, start }
    }

    /// The samples so far: (seconds since start, KiB).
    pub fn samples(&self) -> Vec<(f64, u64)> {
        self.samples.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Seconds since the sampler started.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// The largest sample taken in `[from, to)` seconds.
    pub fn peak(&self, from: f64, to: f64) -> Option<u64> {
        self.samples().iter().filter(|(at, _)| *at >= from && *at < to).map(|&(_, kib)| kib).max()
    }

    /// The mean of the samples taken in `[from, to)` seconds.
    pub fn mean(&self, from: f64, to: f64) -> Option<f64> {
        let picked: Vec<u64> =
            self.samples().iter().filter(|(at, _)| *at >= from && *at < to).map(|&(_, kib)| kib).collect();
        (!picked.is_empty()).then(|| picked.iter().sum::<u64>() as f64 / picked.len() as f64)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Opens `n` WebSockets to `server` with at most `parallel` handshakes at a time; the
/// `options` closure gives connection `i` its options. Returns the connections (`None` for
/// those that failed) and the first error text.
pub async fn connect_many(
    server: SocketAddr,
    url: &str,
    n: usize,
    parallel: usize,
    options: impl Fn(usize) -> Options,
) -> (Vec<Option<rfc6455_tokio::WebSocket<tokio::net::TcpStream>>>, Option<String>) {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = semaphore.clone().acquire_owned().await;
        let url = url.to_owned();
        let options = options(i);
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            crate::net::connect_ws(server, &url, options).await
        }));
    }
    let mut connections = Vec::with_capacity(n);
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(Ok(ws)) => connections.push(Some(ws)),
            Ok(Err(error)) => {
                first_error.get_or_insert(error.to_string());
                connections.push(None);
            }
            Err(error) => {
                first_error.get_or_insert(error.to_string());
                connections.push(None);
            }
        }
    }
    (connections, first_error)
}

/// Kibibytes as MiB with one decimal.
pub fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}
