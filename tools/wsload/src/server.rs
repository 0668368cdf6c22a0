//! The server under test as a child process: `wsload-server` from the directory of the
//! running `wsload`, started with a scenario's flags, read until it says `ready`, sampled
//! through /proc, killed with SIGKILL for the reconnect storm.

use std::io::Write;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::procfs;

/// A running server: its address and pid, and the last `stats:` line it printed.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id, for /proc readings.
    pub pid: u32,
    child: Option<Child>,
    /// Its standard input, for commands (`trim`).
    stdin: Mutex<Option<ChildStdin>>,
    /// How many `trimmed` answers it has printed.
    trims: Arc<AtomicU64>,
    last_stats: Arc<Mutex<String>>,
    /// From its `stats:` lines: when read, live heap KiB, peak heap KiB since the line before,
    /// open connections.
    heap: Arc<Mutex<Vec<HeapLine>>>,
}

/// A `stats:` line's heap figures: when read, live KiB, peak KiB, open connections.
type HeapLine = (Instant, u64, u64, u64);

impl Server {
    /// Starts `wsload-server` with `args` and waits (at most 30 s) for its `ready` line.
    /// Its other output is printed with a `server:` prefix, except `stats:` lines, which are
    /// kept for [`last_stats`](Self::last_stats).
    pub fn spawn(args: &[String]) -> Result<Server, String> {
        Self::spawn_with_env(args, &[])
    }

    /// [`spawn`](Self::spawn) with environment variables set for the server.
    pub fn spawn_with_env(args: &[String], env: &[(&str, &str)]) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let path = exe.with_file_name("wsload-server");
        let mut command = Command::new(&path);
        for (name, value) in env {
            println!("server: environment {name}={value}");
            command.env(name, value);
        }
        let mut child = command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stdin = Mutex::new(child.stdin.take());
        let trims = Arc::new(AtomicU64::new(0));
        let trims_seen = trims.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let last_stats = Arc::new(Mutex::new(String::new()));
        let stats = last_stats.clone();
        let heap = Arc::new(Mutex::new(Vec::new()));
        let heap_lines = heap.clone();
        std::thread::spawn(move || {
            let mut ready_tx = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("ready ") {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(rest.to_owned());
                    }
                } else if line.starts_with("trimmed ") {
                    trims_seen.fetch_add(1, Ordering::SeqCst);
                } else if line.starts_with("stats: ") {
                    let word = |name: &str| -> Option<u64> {
                        let mut words = line.split_whitespace();
                        words.find(|w| *w == name)?;
                        words.next()?.parse().ok()
                    };
                    if let (Some(live), Some(peak), Some(open)) =
                        (word("heap_live_kib"), word("heap_peak_kib"), word("open"))
                    {
                        heap_lines.lock().unwrap_or_else(|e| e.into_inner()).push((
                            Instant::now(),
                            live,
                            peak,
                            open,
                        ));
                    }
                    *stats.lock().unwrap_or_else(|e| e.into_inner()) = line;
                } else {
                    println!("server: {line}");
                }
            }
        });
        let ready = match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(ready) => ready,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the server did not say ready within 30 s".into());
            }
        };
        let mut words = ready.split_whitespace();
        let addr: SocketAddr = words
            .next()
            .and_then(|word| word.parse().ok())
            .ok_or_else(|| format!("bad ready line: {ready}"))?;
        Ok(Server { addr, pid: child.id(), child: Some(child), stdin, trims, last_stats, heap })
    }

    /// A server someone else started, known by address and (for memory and CPU) pid.
    pub fn external(addr: SocketAddr, pid: Option<u32>) -> Server {
        Server {
            addr,
            pid: pid.unwrap_or(0),
            child: None,
            stdin: Mutex::new(None),
            trims: Default::default(),
            last_stats: Default::default(),
            heap: Default::default(),
        }
    }

    /// The `ws://` URL of the server.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// Its resident memory in KiB (`None` for an external server without a pid).
    pub fn rss_kib(&self) -> Option<u64> {
        (self.pid != 0).then(|| procfs::rss_kib(self.pid)).flatten()
    }

    /// Has the server give glibc's free pages back to the kernel (`malloc_trim`) and waits
    /// (at most 2 s) for its answer; false for an external server or without an answer.
    pub async fn trim(&self) -> bool {
        let before = self.trims.load(Ordering::SeqCst);
        let sent = {
            let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
            stdin
                .as_mut()
                .is_some_and(|stdin| stdin.write_all(b"trim\n").and_then(|()| stdin.flush()).is_ok())
        };
        if !sent {
            return false;
        }
        let give_up = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.trims.load(Ordering::SeqCst) == before {
            if tokio::time::Instant::now() >= give_up {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// The CPU time it has used.
    pub fn cpu_time(&self) -> Option<Duration> {
        (self.pid != 0).then(|| procfs::cpu_time(self.pid)).flatten()
    }

    /// The server's counted heap (with `--stats`): the live KiB of the last line read before
    /// `from`, and the peak KiB over the lines read in `(from, to]` (each line's peak covers
    /// the period since the line before). `None` without such lines.
    pub fn heap_between(&self, from: Instant, to: Instant) -> Option<(u64, u64, u64)> {
        let lines = self.heap.lock().unwrap_or_else(|e| e.into_inner());
        let before = lines.iter().filter(|(at, ..)| *at <= from).map(|&(_, live, ..)| live).next_back()?;
        let within = || lines.iter().filter(|(at, ..)| *at > from && *at <= to);
        let peak = within().map(|&(_, _, peak, _)| peak).max()?;
        let open = within().map(|&(.., open)| open).max()?;
        Some((before, peak, open))
    }

    /// The live heap KiB of the first `stats:` line read after `after` (with `--stats`), or
    /// `None` when there is none yet.
    pub fn heap_live_after(&self, after: Instant) -> Option<u64> {
        let lines = self.heap.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().find(|(at, ..)| *at > after).map(|&(_, live, ..)| live)
    }

    /// The last `stats:` line it printed (with `--stats`).
    pub fn last_stats(&self) -> String {
        self.last_stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
