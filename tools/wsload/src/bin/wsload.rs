//! The load generator and scenario runner.
//!
//!     wsload [--short|--full] [SCENARIO...] [--url ws://127.0.0.1:PORT/ --server-pid PID]
//!            [--connections N] [--duration S] ...
//!
//! Scenarios: connections, soak, attacks, storm (all four when none is named). Each prints
//! PASS/FAIL lines; the run ends with a summary table and `N passed, N failed`, and exits
//! non-zero when a check failed. Without `--url` each scenario starts its own
//! `wsload-server` (found beside this executable) with the flags it needs.

#![forbid(unsafe_code)]

use wsload::args::Args;
use wsload::report::Report;
use wsload::scenarios::{self, Run};

const SCENARIOS: [&str; 4] = ["connections", "soak", "attacks", "storm"];

fn main() {
    let args = match Args::parse(std::env::args().skip(1), &["short", "full", "help", "no-jitter"]) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("wsload: {error}");
            std::process::exit(2);
        }
    };
    if args.flag("help") {
        println!(
            "usage: wsload [--short|--full] [{}...] [--url ws://IP:PORT/ --server-pid PID] [--no-jitter (storm: self-test of the herd check, must FAIL)]",
            SCENARIOS.join("|")
        );
        return;
    }
    let chosen: Vec<String> = if args.words.is_empty() {
        SCENARIOS.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.words.clone()
    };
    if let Some(unknown) = chosen.iter().find(|s| !SCENARIOS.contains(&s.as_str())) {
        eprintln!("wsload: unknown scenario {unknown}; want one of {}", SCENARIOS.join(", "));
        std::process::exit(2);
    }
    let limit = wsload::raise_nofile_limit();
    let full = args.flag("full");
    println!(
        "wsload: {} run of {}; open files {limit}",
        if full { "full" } else { "short" },
        chosen.join(", ")
    );
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let mut run = Run { full, args, report: Report::default() };
    runtime.block_on(async {
        for scenario in &chosen {
            let started = std::time::Instant::now();
            match scenario.as_str() {
                "connections" => scenarios::connections::run(&mut run).await,
                "soak" => scenarios::soak::run(&mut run).await,
                "attacks" => scenarios::attacks::run(&mut run).await,
                "storm" => scenarios::storm::run(&mut run).await,
                _ => unreachable!("checked above"),
            }
            println!("== {scenario} took {:.1} s", started.elapsed().as_secs_f64());
        }
    });
    run.report.finish();
    std::process::exit(if run.report.failed() == 0 { 0 } else { 1 });
}
