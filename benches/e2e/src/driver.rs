//! The driver: starts each server in its own process pinned to core 0, runs each workload in
//! a load generator process pinned to core 1, round-robin over the servers for several rounds
//! (the order rotating between rounds), and prints the medians as a markdown table. It builds
//! nothing: the servers and the load generator are this same executable in other roles.
//!
//! Knobs (environment): `E2E_ROUNDS` (default 7), `E2E_WARMUP_MS` (300), `E2E_MEASURE_MS`
//! (1500) per measurement, `E2E_IDLE_CONNECTIONS` (10000), `E2E_WINDOW` (messages in flight
//! per connection, 16 B workload; 256), `E2E_LARGE_WINDOW` (64 KiB workload; 4), `E2E_SERVERS`
//! (a comma-separated subset of the server names), `E2E_PRIORITY` (`fifo`, the default: server
//! and load generator run under `chrt -f 20`, so that other work on the machine does not take
//! their core while they are runnable; `normal` to leave the scheduler's default),
//! `E2E_NODELAY` (0: the servers leave Nagle's algorithm on; see `servers`).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::servers;

/// The command the README documents; printed with the table.
const COMMAND: &str = "cargo run --release --manifest-path benches/e2e/Cargo.toml";
/// The servers the throughput and latency workloads run against (deflate off for all).
const TRAFFIC: [&str; 4] = ["rfc6455", "tungstenite", "fastwebsockets", "tokio-websockets"];
/// Ours, the first column; every other entry of [`TRAFFIC`] is a peer.
const OURS: &str = "rfc6455";
/// A server that does not print its address within this is a failed start.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Extra time a load generator run may take beyond its warm-up and measurement (opening
/// connections, start-up) before it is killed.
const RUN_SLACK: Duration = Duration::from_secs(30);
/// An idle-connections run is killed after this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Held for the whole run: two runs at once on the same cores would measure each other.
const LOCK_FILE: &str = "/tmp/rfc6455-e2e.lock";
/// How long to wait for another run to finish before giving up.
const LOCK_TIMEOUT: Duration = Duration::from_secs(900);

struct Settings {
    rounds: usize,
    warm_up_ms: u64,
    measure_ms: u64,
    idle_connections: u64,
    window: u64,
    large_window: u64,
    realtime: bool,
    servers: Vec<&'static str>,
}

impl Settings {
    fn from_env() -> Result<Self, String> {
        fn number(name: &str, default: u64) -> Result<u64, String> {
            match std::env::var(name) {
                Ok(value) => value.parse().map_err(|e| format!("{name}={value}: {e}")),
                Err(_) => Ok(default),
            }
        }
        let servers = match std::env::var("E2E_SERVERS") {
            Ok(list) => {
                let mut chosen = Vec::new();
                for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let known = servers::NAMES.iter().find(|known| **known == name);
                    chosen.push(*known.ok_or_else(|| {
                        format!("E2E_SERVERS: unknown {name:?}; known: {:?}", servers::NAMES)
                    })?);
                }
                chosen
            }
            Err(_) => servers::NAMES.to_vec(),
        };
        let settings = Self {
            rounds: number("E2E_ROUNDS", 7)?.max(1) as usize,
            warm_up_ms: number("E2E_WARMUP_MS", 300)?,
            measure_ms: number("E2E_MEASURE_MS", 1500)?.max(100),
            idle_connections: number("E2E_IDLE_CONNECTIONS", 10_000)?.max(1),
            window: number("E2E_WINDOW", 256)?.max(1),
            large_window: number("E2E_LARGE_WINDOW", 4)?.max(1),
            realtime: match std::env::var("E2E_PRIORITY").as_deref() {
                Ok("fifo") | Err(_) => true,
                Ok("normal") => false,
                Ok(other) => return Err(format!("E2E_PRIORITY={other}: fifo or normal")),
            },
            servers,
        };
        Ok(settings)
    }

    /// The knobs that differ from their defaults, for the command line printed with the table.
    fn changed(&self) -> String {
        let names = ["E2E_ROUNDS", "E2E_WARMUP_MS", "E2E_MEASURE_MS", "E2E_IDLE_CONNECTIONS", "E2E_WINDOW"];
        let mut set: Vec<String> = names
            .iter()
            .chain(&["E2E_LARGE_WINDOW", "E2E_PRIORITY", "E2E_NODELAY", "E2E_SERVERS"])
            .filter_map(|name| std::env::var(name).ok().map(|value| format!("{name}={value}")))
            .collect();
        set.push(COMMAND.to_string());
        set.join(" ")
    }
}

/// Runs everything and prints the table.
pub fn run() -> Result<(), String> {
    let settings = Settings::from_env()?;
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let pinning = works("taskset", &["-c", "0", "true"]);
    if !pinning {
        eprintln!("e2e: taskset failed; server and load generator run unpinned");
    }
    let realtime = settings.realtime && works("chrt", &["-f", "20", "true"]);
    if settings.realtime && !realtime {
        eprintln!("e2e: chrt -f 20 failed; running at the default priority");
    }
    let runner = Runner { exe, pinning, realtime };
    let _lock = exclusive(LOCK_FILE, LOCK_TIMEOUT)?;
    let load_before = load_average();
    let began = Instant::now();
    let mut results = Results::default();
    let traffic: Vec<&str> = TRAFFIC.iter().copied().filter(|s| settings.servers.contains(s)).collect();
    // Each idle run connects from its own source address (see `loadgen`), starting from one
    // that depends on the process id, so that a run started right after another does not meet
    // the earlier one's TIME_WAIT sockets either.
    let mut source = std::process::id() as usize;
    for round in 0..settings.rounds {
        for name in rotated(&traffic, round) {
            eprintln!(
                "e2e: {:>4.0} s: round {}/{}: {name}: traffic",
                began.elapsed().as_secs_f64(),
                round + 1,
                settings.rounds
            );
            runner.traffic(&settings, name, &mut results);
        }
        for name in rotated(&settings.servers, round) {
            eprintln!(
                "e2e: {:>4.0} s: round {}/{}: {name}: {} idle connections",
                began.elapsed().as_secs_f64(),
                round + 1,
                settings.rounds,
                settings.idle_connections
            );
            source += 1;
            runner.idle(&settings, name, source, &mut results);
        }
    }
    let elapsed = began.elapsed();
    print!("{}", table(&settings, &results, &traffic, load_before, elapsed, &runner));
    Ok(())
}

/// Locks `path`, waiting up to `timeout` while another run holds it. The lock goes with the
/// returned file (and with the process, however it ends).
fn exclusive(path: &str, timeout: Duration) -> Result<std::fs::File, String> {
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("{path}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                if !told {
                    eprintln!("e2e: another run holds {path}; waiting for it to finish");
                    told = true;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(format!("{path} still held after {timeout:?}"));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(format!("lock {path}: {e}")),
        }
    }
}

fn rotated<'a>(names: &[&'a str], round: usize) -> Vec<&'a str> {
    let mut order = names.to_vec();
    if !order.is_empty() {
        let by = round % order.len();
        order.rotate_left(by);
    }
    order
}

// ------------------------------------------------------------------------------------------
// Processes
// ------------------------------------------------------------------------------------------

struct Runner {
    exe: PathBuf,
    pinning: bool,
    realtime: bool,
}

/// A running server process; killed when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Runner {
    /// `chrt -f 20 taskset -c CORE e2e`: each program execs the next, so the child's pid is
    /// the server's or the load generator's own.
    fn command(&self, core: u32) -> Command {
        let mut line: Vec<std::ffi::OsString> = Vec::new();
        if self.realtime {
            line.extend(["chrt".into(), "-f".into(), "20".into()]);
        }
        if self.pinning {
            line.extend(["taskset".into(), "-c".into(), core.to_string().into()]);
        }
        line.push(self.exe.clone().into());
        let mut command = Command::new(&line[0]);
        command.args(&line[1..]);
        command
    }

    fn start(&self, name: &str) -> Result<Server, String> {
        let mut child = self
            .command(0)
            .args(["server", name])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn server {name}: {e}"))?;
        let stdout = child.stdout.take().expect("stdout was piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let mut server = Server { child, address: String::new() };
        let line =
            receiver.recv_timeout(START_TIMEOUT).map_err(|_| format!("server {name} did not start"))?;
        server.address = line
            .trim()
            .strip_prefix("listening ")
            .ok_or_else(|| format!("server {name} said {line:?}"))?
            .to_string();
        Ok(server)
    }

    /// Runs one load generator measurement and parses its `key=value` line.
    fn measure(&self, args: &[String], timeout: Duration) -> Result<HashMap<String, f64>, String> {
        let mut child = self
            .command(1)
            .arg("loadgen")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn load generator: {e}"))?;
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait().map_err(|e| e.to_string())? {
                Some(status) => break status,
                None if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("load generator {args:?} killed after {timeout:?}"));
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout was piped");
        let _ = BufReader::new(stdout).read_line(&mut line);
        if !status.success() {
            return Err(format!("load generator {args:?} failed ({status})"));
        }
        let mut values = HashMap::new();
        for pair in line.split_whitespace() {
            if let Some((key, value)) = pair.split_once('=') {
                values.insert(key.to_string(), value.parse().map_err(|e| format!("{pair}: {e}"))?);
            }
        }
        Ok(values)
    }

    /// The four traffic workloads against one fresh server process.
    fn traffic(&self, settings: &Settings, name: &str, results: &mut Results) {
        let server = match self.start(name) {
            Ok(server) => server,
            Err(e) => return eprintln!("e2e: {e}"),
        };
        let pid = server.child.id().to_string();
        let timing = [settings.warm_up_ms.to_string(), settings.measure_ms.to_string()];
        let timeout = Duration::from_millis(settings.warm_up_ms + settings.measure_ms) + RUN_SLACK;
        let address = server.address.clone();
        let runs: [(&str, Vec<String>); 4] = [
            ("pingpong", vec!["pingpong".into(), address.clone(), pid.clone()]),
            (
                "small",
                vec![
                    "stream".into(),
                    address.clone(),
                    pid.clone(),
                    "64".into(),
                    "16".into(),
                    settings.window.to_string(),
                ],
            ),
            (
                "large",
                vec![
                    "stream".into(),
                    address.clone(),
                    pid.clone(),
                    "8".into(),
                    "65536".into(),
                    settings.large_window.to_string(),
                ],
            ),
            // Request/response of large messages: one connection, one 1 MiB message at a time,
            // so the server goes idle after every echo (what it keeps between messages counts).
            ("rr", vec!["stream".into(), address, pid, "1".into(), "1048576".into(), "1".into()]),
        ];
        for (workload, mut args) in runs {
            args.extend(timing.iter().cloned());
            match self.measure(&args, timeout) {
                Ok(values) => results.add(workload, name, values),
                Err(e) => eprintln!("e2e: {name}: {workload}: {e}"),
            }
        }
        drop(server);
    }

    /// Idle connections against one fresh server process.
    fn idle(&self, settings: &Settings, name: &str, source: usize, results: &mut Results) {
        let server = match self.start(name) {
            Ok(server) => server,
            Err(e) => return eprintln!("e2e: {e}"),
        };
        let args = [
            "idle".to_string(),
            server.address.clone(),
            server.child.id().to_string(),
            settings.idle_connections.to_string(),
            source.to_string(),
        ];
        match self.measure(&args, IDLE_TIMEOUT) {
            Ok(values) => results.add("idle", name, values),
            Err(e) => eprintln!("e2e: {name}: idle: {e}"),
        }
        drop(server);
    }
}

// ------------------------------------------------------------------------------------------
// Results and the table
// ------------------------------------------------------------------------------------------

/// Every round's value, by (workload, server, key).
#[derive(Default)]
struct Results(HashMap<(String, String, String), Vec<f64>>);

impl Results {
    fn add(&mut self, workload: &str, server: &str, values: HashMap<String, f64>) {
        for (key, value) in values {
            self.0.entry((workload.into(), server.into(), key)).or_default().push(value);
        }
    }

    fn rounds(&self, workload: &str, server: &str, key: &str) -> Option<&[f64]> {
        self.0.get(&(workload.into(), server.into(), key.into())).map(Vec::as_slice).filter(|v| !v.is_empty())
    }

    fn median(&self, workload: &str, server: &str, key: &str) -> Option<f64> {
        self.rounds(workload, server, key).map(median)
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 }
}

/// A row of the main table: which measurement, how to show it, which way is better.
struct Row {
    label: &'static str,
    workload: &'static str,
    key: &'static str,
    scale: f64,
    decimals: usize,
    higher_is_better: bool,
}

const ROWS: [Row; 7] = [
    Row {
        label: "1 conn, ping-pong 16 B: round trips/s",
        workload: "pingpong",
        key: "round_trips_per_s",
        scale: 1.0,
        decimals: 0,
        higher_is_better: true,
    },
    Row {
        label: "1 conn, ping-pong 16 B: p50 latency, µs",
        workload: "pingpong",
        key: "p50_ns",
        scale: 1e-3,
        decimals: 1,
        higher_is_better: false,
    },
    Row {
        label: "1 conn, ping-pong 16 B: p99 latency, µs",
        workload: "pingpong",
        key: "p99_ns",
        scale: 1e-3,
        decimals: 1,
        higher_is_better: false,
    },
    Row {
        label: "64 conns, pipelined 16 B: messages/s",
        workload: "small",
        key: "messages_per_s",
        scale: 1.0,
        decimals: 0,
        higher_is_better: true,
    },
    Row {
        label: "8 conns, pipelined 64 KiB: GB/s echoed",
        workload: "large",
        key: "payload_bytes_per_s",
        scale: 1e-9,
        decimals: 2,
        higher_is_better: true,
    },
    Row {
        label: "1 conn, request/response 1 MiB: GB/s echoed",
        workload: "rr",
        key: "payload_bytes_per_s",
        scale: 1e-9,
        decimals: 2,
        higher_is_better: true,
    },
    Row {
        label: "idle conns: server RSS per conn, KiB",
        workload: "idle",
        key: "bytes_per_connection",
        scale: 1.0 / 1024.0,
        decimals: 1,
        higher_is_better: false,
    },
];

fn table(
    settings: &Settings,
    results: &Results,
    traffic: &[&str],
    load_before: String,
    elapsed: Duration,
    runner: &Runner,
) -> String {
    let peers: Vec<&str> =
        TRAFFIC.iter().copied().filter(|s| *s != OURS && settings.servers.contains(s)).collect();
    let columns: Vec<&str> = TRAFFIC.iter().copied().filter(|s| settings.servers.contains(s)).collect();
    let mut out = String::new();
    let line = |out: &mut String, text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(&mut out, "## rfc6455 end-to-end: echo servers over loopback TCP".into());
    line(&mut out, String::new());
    line(&mut out, format!("- machine: {}", machine()));
    line(&mut out, format!("- date: {}", date()));
    line(&mut out, format!("- command: `{}`", settings.changed()));
    line(
        &mut out,
        format!(
            "- method: {} rounds, servers round-robin (order rotating), median of the rounds (± half the \
             range); {} ms warm-up + {} ms measured per cell; windows: {} (16 B), {} (64 KiB) messages in \
             flight per conn; {} idle conns; {}",
            settings.rounds,
            settings.warm_up_ms,
            settings.measure_ms,
            settings.window,
            settings.large_window,
            settings.idle_connections,
            placement(runner),
        ),
    );
    line(
        &mut out,
        format!(
            "- load average before / after: {load_before} / {}; run time {:.0} s",
            load_average(),
            elapsed.as_secs_f64()
        ),
    );
    line(&mut out, String::new());

    let mut header = String::from("| workload |");
    let mut rule = String::from("|---|");
    for name in &columns {
        header.push_str(&format!(" {name} |"));
        rule.push_str("---:|");
    }
    header.push_str(" ours ÷ best peer |");
    rule.push_str("---:|");
    line(&mut out, header);
    line(&mut out, rule);
    for row in &ROWS {
        let mut text = format!("| {} |", row.label);
        for name in &columns {
            text.push_str(&format!(" {} |", cell(results, row, name)));
        }
        text.push_str(&format!(
            " {} |",
            ratio(results, row, &peers).map_or("–".into(), |r| format!("{r:.2}×"))
        ));
        line(&mut out, text);
    }
    if settings.servers.contains(&"rfc6455-deflate") {
        let row = &ROWS[6];
        let negotiated = results.median("idle", "rfc6455-deflate", "deflate_negotiated").unwrap_or(0.0);
        let mut text =
            format!("| {}, ours with permessage-deflate negotiated ({negotiated:.0} conns) |", row.label);
        for name in &columns {
            let value = if *name == OURS { cell(results, row, "rfc6455-deflate") } else { "–".into() };
            text.push_str(&format!(" {value} |"));
        }
        text.push_str(" – |");
        line(&mut out, text);
    }
    line(&mut out, String::new());

    line(&mut out, "CPU used over the measured window, server / load generator (cores, median):".into());
    line(&mut out, String::new());
    let mut header = String::from("| workload |");
    let mut rule = String::from("|---|");
    for name in traffic {
        header.push_str(&format!(" {name} |"));
        rule.push_str("---:|");
    }
    line(&mut out, header);
    line(&mut out, rule);
    for (workload, label) in [
        ("pingpong", "ping-pong 16 B"),
        ("small", "pipelined 16 B"),
        ("large", "pipelined 64 KiB"),
        ("rr", "request/response 1 MiB"),
    ] {
        let mut text = format!("| {label} |");
        for name in traffic {
            let server = results.median(workload, name, "server_cpu");
            let client = results.median(workload, name, "client_cpu");
            match (server, client) {
                (Some(s), Some(c)) => text.push_str(&format!(" {s:.2} / {c:.2} |")),
                _ => text.push_str(" – |"),
            }
        }
        line(&mut out, text);
    }
    line(&mut out, String::new());

    line(&mut out, "Goals (ours against the best peer in each row):".into());
    line(&mut out, String::new());
    let goal = |row: usize, want: f64, text: &str| -> String {
        match ratio(results, &ROWS[row], &peers) {
            Some(r) => {
                let holds = if ROWS[row].higher_is_better { r >= want } else { r <= want };
                format!("- {text}: {r:.3}× — {}", if holds { "holds" } else { "NOT MET" })
            }
            None => format!("- {text}: not measured"),
        }
    };
    line(&mut out, goal(3, 1.2, "pipelined 16 B messages/s ≥ 1.2× best peer"));
    line(&mut out, goal(4, 1.0, "64 KiB GB/s ≥ 1.0× best peer"));
    line(&mut out, goal(2, 1.0, "p99 latency ≤ best peer's"));
    line(&mut out, goal(6, 0.5, "idle RSS per conn (deflate off) ≤ 0.5× leanest peer"));
    out
}

fn placement(runner: &Runner) -> String {
    let mut text = String::from(if runner.pinning {
        "server on core 0, load generator on core 1 (taskset)"
    } else {
        "unpinned"
    });
    if std::env::var("E2E_NODELAY").is_ok_and(|v| v == "0") {
        text.push_str(", Nagle's algorithm on in the servers");
    } else {
        text.push_str(", TCP_NODELAY on every server socket");
    }
    if runner.realtime {
        text.push_str(", both SCHED_FIFO (chrt -f 20)");
    }
    text
}

fn cell(results: &Results, row: &Row, server: &str) -> String {
    let Some(rounds) = results.rounds(row.workload, server, row.key) else { return "failed".into() };
    let mid = median(rounds);
    let spread =
        rounds.iter().copied().fold(f64::MIN, f64::max) - rounds.iter().copied().fold(f64::MAX, f64::min);
    let shown = group(mid * row.scale, row.decimals);
    if mid.abs() > 0.0 && rounds.len() > 1 {
        format!("{shown} ±{:.0}%", spread / 2.0 / mid.abs() * 100.0)
    } else {
        shown
    }
}

/// Ours divided by the best peer (highest, or lowest when lower is better).
fn ratio(results: &Results, row: &Row, peers: &[&str]) -> Option<f64> {
    let ours = results.median(row.workload, OURS, row.key)?;
    let values = peers.iter().filter_map(|peer| results.median(row.workload, peer, row.key));
    let best =
        if row.higher_is_better { values.fold(f64::MIN, f64::max) } else { values.fold(f64::MAX, f64::min) };
    (best.is_finite() && best != f64::MIN && best != f64::MAX && best != 0.0).then(|| ours / best)
}

/// `value` with `decimals` decimals and thousands separated by commas.
fn group(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let (sign, digits) = whole.strip_prefix('-').map_or(("", whole), |d| ("-", d));
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

// ------------------------------------------------------------------------------------------
// The machine
// ------------------------------------------------------------------------------------------

fn machine() -> String {
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("?".into(), |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0));
    let kernel = read("/proc/sys/kernel/osrelease");
    let rustc = output(Command::new("rustc").arg("-V"));
    format!("{cpu}, {cores} cores, {memory} RAM, Linux {}, {}", kernel.trim(), rustc.trim())
}

fn date() -> String {
    output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).trim().to_string()
}

fn load_average() -> String {
    read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn output(command: &mut Command) -> String {
    command.output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_grouping() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(group(1234567.0, 0), "1,234,567");
        assert_eq!(group(123.456, 1), "123.5");
        assert_eq!(group(1000.0, 2), "1,000.00");
    }

    #[test]
    fn rotation_changes_the_first() {
        assert_eq!(rotated(&["a", "b", "c"], 1), ["b", "c", "a"]);
        assert_eq!(rotated(&["a", "b", "c"], 3), ["a", "b", "c"]);
    }
}
