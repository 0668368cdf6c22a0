//! `wsfault`: network faults on loopback against a WebSocket server.
//!
//! ```sh
//! # every fault scenario against a server (started afresh for each on a free port, with
//! # ADDR and the timer flags appended to the command):
//! wsfault run --name std [--held-input BYTES] [--scenarios a,b] [--log FILE] [--markdown FILE] \
//!     -- target/release/examples/echo_server --no-deflate
//! # the scenarios' names:
//! wsfault list
//! # a standalone proxy (stops by itself after --seconds, default 300):
//! wsfault proxy --listen 127.0.0.1:9002 --upstream 127.0.0.1:9001 [--direction up|down|both]
//!     [--delay MS] [--jitter MS] [--rate BYTES_PER_S] [--piece BYTES] [--gap MS]
//!     [--fault reset|half-close|freeze] [--after BYTES] [--seconds S]
//! ```
//!
//! `run` prints one `PASS`/`FAIL` line per scenario (outcome, time, the good clients'
//! tally), then `N passed, N failed`, and exits 1 if any failed.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use wsfault::args::Args;
use wsfault::proxy::{Fault, Plan, Proxy, Shaping};
use wsfault::scenarios::{self, Outcome};
use wsfault::server::ServerSpec;

fn main() {
    let args = Args::from_env();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("wsfault: no runtime: {error}");
            std::process::exit(2);
        }
    };
    let result = match args.as_slice().first().map(String::as_str) {
        Some("run") => runtime.block_on(run(&args)),
        Some("proxy") => runtime.block_on(proxy(&args)),
        Some("list") => {
            scenarios::ALL.iter().for_each(|name| println!("{name}"));
            Ok(true)
        }
        _ => Err("usage: wsfault run|list|proxy ... (see the README)".to_owned()),
    };
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(error) => {
            eprintln!("wsfault: {error}");
            std::process::exit(2);
        }
    }
}

/// Runs the scenarios; `Ok(false)` when one failed.
async fn run(args: &Args) -> Result<bool, String> {
    let command = args.after_double_dash();
    if command.is_empty() {
        return Err("run needs the server command after --".into());
    }
    let spec = ServerSpec {
        name: args.value("--name").unwrap_or("server").to_owned(),
        command,
        held_input: args.parsed("--held-input", 0)?,
        log: args.value("--log").map(Into::into),
    };
    let selected: Vec<&'static str> = match args.value("--scenarios") {
        None => scenarios::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .map(|name| {
                scenarios::ALL
                    .iter()
                    .find(|known| **known == name)
                    .copied()
                    .ok_or(format!("no scenario {name}"))
            })
            .collect::<Result<_, _>>()?,
    };
    // The slow link is mostly waiting (33 s of a capped transfer): it runs beside the others,
    // on a server and proxy of its own.
    let (slow, quick): (Vec<_>, Vec<_>) = selected.into_iter().partition(|name| *name == "slow-link");
    let background = slow.first().copied().map(|name| {
        let spec = spec.clone();
        tokio::spawn(async move { scenarios::run(name, &spec).await })
    });
    let mut outcomes = Vec::new();
    for name in quick {
        let outcome = scenarios::run(name, &spec).await;
        println!("{outcome}");
        outcomes.push(outcome);
    }
    if let Some(task) = background {
        let outcome = task.await.map_err(|e| format!("slow-link task: {e}"))?;
        println!("{outcome}");
        outcomes.push(outcome);
    }
    let passed = outcomes.iter().filter(|o| o.passed).count();
    let failed = outcomes.len() - passed;
    println!("{passed} passed, {failed} failed");
    if let Some(path) = args.value("--markdown") {
        write_markdown(path, &outcomes).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(failed == 0)
}

/// Appends one table row per outcome: fault, server, result, outcome, time.
fn write_markdown(path: &str, outcomes: &[Outcome]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    for o in outcomes {
        let took = o.took.map_or_else(|| "-".to_owned(), |t| format!("{:.3} s", t.as_secs_f64()));
        writeln!(
            file,
            "| {} | {} | {} | {} | {took} | {} |",
            o.scenario,
            o.server,
            if o.passed { "PASS" } else { "FAIL" },
            o.outcome.replace('|', "/"),
            o.good.to_string().replace('|', "/")
        )?;
    }
    Ok(())
}

/// Runs a standalone proxy until `--seconds` pass.
async fn proxy(args: &Args) -> Result<bool, String> {
    let addr = |name: &str| -> Result<SocketAddr, String> {
        let value = args.value(name).ok_or(format!("proxy needs {name} ADDR"))?;
        let addr: SocketAddr = value.parse().map_err(|_| format!("{name}: not an address: {value}"))?;
        if !addr.ip().is_loopback() {
            return Err(format!("{name}: loopback addresses only: {addr}"));
        }
        Ok(addr)
    };
    let (listen, upstream) = (addr("--listen")?, addr("--upstream")?);
    let millis = |name: &str| args.parsed(name, 0u64).map(Duration::from_millis);
    let shaping = Shaping {
        delay: millis("--delay")?,
        jitter: millis("--jitter")?,
        rate: args.value("--rate").map(|_| args.parsed("--rate", 0)).transpose()?,
        piece: args.value("--piece").map(|_| args.parsed("--piece", 1)).transpose()?,
        gap: millis("--gap")?,
    };
    let mut plan = match args.value("--direction").unwrap_or("both") {
        "up" => Plan { up: shaping, ..Plan::default() },
        "down" => Plan { down: shaping, ..Plan::default() },
        "both" => Plan::both(shaping),
        other => return Err(format!("--direction: up, down or both, not {other}")),
    };
    plan.fault = match args.value("--fault") {
        None => None,
        Some("reset") => Some(Fault::Reset),
        Some("half-close") => Some(Fault::HalfClose),
        Some("freeze") => Some(Fault::Freeze),
        Some(other) => return Err(format!("--fault: reset, half-close or freeze, not {other}")),
    };
    plan.after = args.parsed("--after", 0)?;
    let seconds = args.seconds("--seconds", Duration::from_secs(300))?;
    let proxy =
        Proxy::start(listen, upstream, plan.clone()).await.map_err(|e| format!("listen {listen}: {e}"))?;
    eprintln!("wsfault proxy: {} -> {upstream} for {seconds:?}: {plan:?}", proxy.addr());
    tokio::time::sleep(seconds).await;
    Ok(true)
}
