//! Attacks among good clients: G good clients (half with permessage-deflate) send a message
//! every 250 ms throughout; first alone (the baseline), then beside H hostile connections of
//! one kind at a time. The good clients must lose nothing, and their p99 round trip in each
//! attack phase must stay within 2x the baseline's. Each hostile kind must end as the core's
//! rules say, and the server's RSS during the phase may exceed its RSS just before by no more
//! than H times the per-connection bound its limits allow.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::connections::{Steady, steady};
use super::{Run, Sampler, client_options, connect_many, mib};
use crate::Rng;
use crate::hostile::{self, Ended, Kind, Outcome};
use crate::stats::{Tally, ms, percentile};

/// Each phase's kinds: the hostile connections of a phase alternate between them.
const PHASES: [&[Kind]; 5] = [
    &[Kind::EmptyContinuations, Kind::ByteContinuations],
    &[Kind::Bomb],
    &[Kind::PingFlood],
    &[Kind::Length63, Kind::Length63Minus1],
    &[Kind::Trickle],
];

/// A phase's number, each hostile's kind and outcomes, the server's RSS before and at its peak,
/// its counted heap (live KiB before, peak KiB in the phase).
type PhaseResult = (usize, Vec<(Kind, Vec<Ended>)>, Option<u64>, Option<u64>, Option<(u64, u64, u64)>);

/// The phase number while no phase is measured (the gaps between phases).
const GAP: usize = 99;

/// The server's limits in this scenario (also passed to it).
const MAX_MESSAGE: u64 = 1 << 20;
const MAX_UNREAD: u64 = 1 << 20;
const MAX_PENDING: u64 = 1 << 20;
const HANDSHAKE_TIMEOUT: f64 = 10.0;

/// Runs the scenario.
pub async fn run(run: &mut Run) {
    let good: usize = run.size("good", 100, 1_000);
    let hostile: usize = run.size("hostile", 10, 100);
    let phase_secs: f64 = run.size("phase", 12.0, 20.0);
    let interval = Duration::from_millis(run.size("interval-ms", 250, 250));
    println!(
        "== attacks: {hostile} hostile beside {good} good connections; baseline then {} attack phases of {phase_secs} s",
        PHASES.len()
    );
    // glibc's malloc as it comes. The memory check is on the server's counted heap, so the
    // fixed mmap threshold the soak uses (freed 1 MiB buffers returned at once, for its RSS)
    // is not needed here, and it made every hostile message limit cost fresh pages: with it,
    // page faults and zeroing were most of the server's time under the bombs, and the good
    // clients' p99 some 3x higher. WSLOAD_ATTACK_MMAP_THRESHOLD=<bytes> sets one anyway.
    let threshold = std::env::var("WSLOAD_ATTACK_MMAP_THRESHOLD").ok();
    let env: Vec<(&str, &str)> =
        threshold.as_deref().map(|bytes| vec![("MALLOC_MMAP_THRESHOLD_", bytes)]).unwrap_or_default();
    let server = match run.server_with_env(
        &[
            "--deflate",
            "lean",
            "--max-message",
            &MAX_MESSAGE.to_string(),
            "--max-unread",
            &MAX_UNREAD.to_string(),
            "--max-pending",
            &MAX_PENDING.to_string(),
            "--handshake-timeout",
            &HANDSHAKE_TIMEOUT.to_string(),
            "--stats",
            "0.2",
        ],
        &env,
    ) {
        Ok(server) => server,
        Err(error) => {
            run.report.check(false, "attacks", format!("server: {error}"));
            return;
        }
    };
    // What one hostile connection may make the server hold, by its limits: a message being
    // assembled or inflated (max_message_size), delivered messages not yet taken
    // (max_unread), output not yet written (max_pending_output, plus one coalesced Pong), the
    // handshake head (8 KiB), permessage-deflate's state at its peak (the README's 298 KiB for
    // the lean policy), and 64 KiB for the task, its buffers and the socket's bookkeeping.
    let per_connection_kib = (MAX_MESSAGE + MAX_UNREAD + MAX_PENDING) / 1024 + 8 + 298 + 64;
    let bound_kib = per_connection_kib * hostile as u64;
    println!(
        "  attacks: bound per hostile connection {per_connection_kib} KiB (max_message_size + max_unread + \
         max_pending_output + 8 KiB head + 298 KiB deflate peak + 64 KiB), x {hostile} = {}",
        mib(bound_kib as f64)
    );
    let bomb = Arc::new(hostile::bomb_payload());
    println!("  attacks: the bomb is {} bytes on the wire, 64 MiB inflated", bomb.len());

    let sampler = Sampler::start(server.pid, Duration::from_millis(100));
    let (connections, error) =
        connect_many(server.addr, &server.url(), good, 128, |i| client_options(i % 2 == 1, None)).await;
    let opened = connections.iter().flatten().count();
    run.report.check(
        opened == good,
        "attacks: good clients open",
        format!("{opened} of {good}{}", error.map(|e| format!(" (first error: {e})")).unwrap_or_default()),
    );
    let gap = Duration::from_secs(2);
    let phase_len = Duration::from_secs_f64(phase_secs);
    let start = Instant::now() + Duration::from_millis(200);
    // The phases may overrun a little (hostile connections end when they notice the phase's
    // end): the good clients go on a few seconds longer, uncounted.
    let total = phase_len + (gap + phase_len) * PHASES.len() as u32 + Duration::from_secs(5);
    let stop = start + total;
    let phase = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng::from_time(3);
    let good_tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .filter_map(|(i, ws)| Some((i, ws?)))
        .map(|(i, ws)| {
            let first = start + Duration::from_micros(rng.range(0, interval.as_micros() as u64));
            let plan = Steady { conn: i as u32, first, interval, stop, sizes: (64, 1024) };
            tokio::spawn(steady(ws, plan, phase.clone(), Rng::new(i as u64)))
        })
        .collect();

    // Baseline, then each kind after a gap.
    tokio::time::sleep_until(start + phase_len).await;
    let mut results: Vec<PhaseResult> = Vec::new();
    for (index, kinds) in PHASES.iter().enumerate() {
        phase.store(GAP, Ordering::Relaxed);
        let gap_start = sampler.elapsed();
        tokio::time::sleep(gap).await;
        let before = sampler.mean(gap_start + 1.0, f64::MAX).map(|kib| kib as u64);
        let phase_start = sampler.elapsed();
        let phase_start_std = std::time::Instant::now();
        phase.store(index + 1, Ordering::Relaxed);
        // The hostile peers run on a thread of their own, so that their writing does not
        // delay the good clients' reading in this process and inflate their round trips.
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let kinds: Vec<Kind> = kinds.to_vec();
        let (addr, bomb) = (server.addr, bomb.clone());
        let phase_stop_std = std::time::Instant::now() + phase_len;
        let (abort_tx, abort) = tokio::sync::watch::channel(false);
        let written_before = hostile::BYTES_WRITTEN.load(Ordering::Relaxed);
        std::thread::spawn(move || {
            // At the lowest CPU priority: on a network the attackers' CPU is other machines';
            // here, on a machine of few cores, a flooder at full priority takes its core from
            // the server and the good clients, and their p99 would measure the load
            // generator's contention rather than how the server shares its time. It still
            // writes as fast as the server takes the bytes whenever a core is free (the bytes
            // written per second are printed for each phase).
            lowest_priority();
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
            let ended = runtime.block_on(async move {
                let stop = hostile::Stop { at: Instant::from_std(phase_stop_std), abort };
                let tasks: Vec<_> = (0..hostile)
                    .map(|i| {
                        let kind = kinds[i % kinds.len()];
                        let (bomb, stop) = (bomb.clone(), stop.clone());
                        tokio::spawn(async move { (kind, hostile::attack(addr, kind, stop, bomb).await) })
                    })
                    .collect();
                let mut ended = Vec::new();
                for task in tasks {
                    if let Ok(one) = task.await {
                        ended.push(one);
                    }
                }
                ended
            });
            let _ = done_tx.send(ended);
        });
        // Watch the server's memory: past twice the bound the phase is cut short (its check
        // fails), so that a server that does not bound a hostile's memory cannot take the
        // machine's.
        let mut aborted = None;
        while Instant::now() < Instant::from_std(phase_stop_std) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let peak = sampler.peak(phase_start, f64::MAX).unwrap_or(0);
            if aborted.is_none() && peak > before.unwrap_or(0) + 2 * bound_kib {
                println!("  attacks: server RSS {} past twice the bound: phase cut short", mib(peak as f64));
                aborted = Some(sampler.elapsed() - phase_start);
                let _ = abort_tx.send(true);
                break;
            }
        }
        phase.store(GAP, Ordering::Relaxed);
        let ended = done_rx.await.unwrap_or_default();
        let written = hostile::BYTES_WRITTEN.load(Ordering::Relaxed) - written_before;
        println!(
            "  attacks: phase {}: the hostile peers wrote {} ({:.1} MiB/s)",
            index + 1,
            mib(written as f64 / 1024.0),
            written as f64 / (1 << 20) as f64 / phase_len.as_secs_f64()
        );
        let peak = sampler.peak(phase_start, f64::MAX);
        if let Some(after) = aborted {
            println!("  attacks: phase {} aborted after {after:.1} s", index + 1);
        }
        // The server's stats line after the phase's end (every 0.2 s) covers its last moments.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let heap = server.heap_between(phase_start_std, std::time::Instant::now());
        results.push((index + 1, ended, before, peak, heap));
    }
    let mut tally = Tally::default();
    for task in good_tasks {
        match task.await {
            Ok(one) => tally.merge(one),
            Err(error) => tally.error(error),
        }
    }
    println!("  attacks: server {}", server.last_stats());
    run.report.check(
        tally.all_echoed() && tally.sent > 0,
        "attacks: good clients lost nothing",
        tally.summary(),
    );
    run.report.check(
        tally.unexpected_errors == 0,
        "attacks: good clients saw no error",
        format!("{:?}", tally.error_samples),
    );
    let mut baseline = tally.phased_us.first().cloned().unwrap_or_default();
    let baseline_p99 = percentile(&mut baseline, 99.0);
    run.report.row(
        "attacks",
        "good clients' baseline p50 / p99",
        format!(
            "{} / {} ({} round trips)",
            ms(percentile(&mut baseline, 50.0)),
            ms(baseline_p99),
            baseline.len()
        ),
    );

    for (index, ended, before, peak, heap) in results {
        let kinds = PHASES[index - 1];
        let name = kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(" / ");
        let mut latencies = tally.phased_us.get(index).cloned().unwrap_or_default();
        let p99 = percentile(&mut latencies, 99.0);
        run.report.check(
            !latencies.is_empty() && p99 <= baseline_p99.saturating_mul(2),
            &format!("attacks/{name}: good clients' p99 within 2x baseline"),
            format!(
                "p99 {} vs baseline {} ({:.2}x, {} round trips)",
                ms(p99),
                ms(baseline_p99),
                f64::from(p99) / f64::from(baseline_p99.max(1)),
                latencies.len()
            ),
        );
        // The check is on the server's counted heap: the bytes its connections hold, which is
        // what the limits bound. The RSS delta is printed beside it: it also holds what glibc's
        // malloc keeps after a free.
        let rss = match (before, peak) {
            (Some(before), Some(peak)) => format!(
                "RSS peak {} - before {} = {}",
                mib(peak as f64),
                mib(before as f64),
                mib(peak.saturating_sub(before) as f64)
            ),
            _ => "RSS: no server pid to sample (--server-pid)".to_owned(),
        };
        match heap {
            Some((heap_before, heap_peak, open)) => {
                // The limits are per connection, and a hostile peer can have more than one
                // open: after a 1009 the server lingers on the old connection (reading and
                // discarding up to its budget, then waiting out the close timeout) while the
                // peer is already attacking on a new one. The bound is the limits' allowance
                // times the hostile connections the server had open (its count minus the good
                // clients, at least H).
                let hostile_open = (open as usize).saturating_sub(good).max(hostile) as u64;
                let phase_bound = per_connection_kib * hostile_open;
                let delta = heap_peak.saturating_sub(heap_before);
                run.report.check(
                    delta <= phase_bound,
                    &format!("attacks/{name}: server memory within the bound"),
                    format!(
                        "heap peak {} - before {} = {} ({:.0} KiB per hostile connection open) vs bound {} \
                         ({hostile_open} hostile connections open at most, x {per_connection_kib} KiB); {rss}",
                        mib(heap_peak as f64),
                        mib(heap_before as f64),
                        mib(delta as f64),
                        delta as f64 / hostile_open as f64,
                        mib(phase_bound as f64)
                    ),
                );
                run.report.row(
                    &format!("attacks/{name}"),
                    "server heap delta peak / bound, hostile connections open (RSS delta)",
                    format!(
                        "{} / {}, {hostile_open} ({})",
                        mib(delta as f64),
                        mib(phase_bound as f64),
                        mib(peak.unwrap_or(0).saturating_sub(before.unwrap_or(0)) as f64)
                    ),
                );
            }
            None => run.report.check(
                false,
                &format!("attacks/{name}: server memory"),
                format!("no heap figures from the server (a wsload-server started by this tool prints them); {rss}"),
            ),
        }
        for &kind in kinds {
            let outcomes: Vec<&Ended> =
                ended.iter().filter(|(k, _)| *k == kind).flat_map(|(_, list)| list.iter()).collect();
            let mut counts: BTreeMap<String, (u64, Duration)> = BTreeMap::new();
            for (outcome, took) in &outcomes {
                let entry = counts.entry(describe(outcome)).or_default();
                entry.0 += 1;
                entry.1 = entry.1.max(*took);
            }
            let text = counts
                .iter()
                .map(|(what, (n, took))| format!("{what} x{n} (slowest {:.2} s)", took.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ");
            let (ok, expected) = judge(kind, &outcomes);
            run.report.check(ok, &format!("attacks/{}: {expected}", kind.name()), &text);
            run.report.row(&format!("attacks/{}", kind.name()), "outcomes", &text);
        }
        let mut all = latencies;
        run.report.row(
            &format!("attacks/{name}"),
            "good clients' p50 / p99",
            format!("{} / {}", ms(percentile(&mut all, 50.0)), ms(p99)),
        );
    }
}

/// Lowers the calling thread to nice 19 (`renice` on its thread id; Linux threads have a
/// nice value each). Says so when it cannot: the phase then runs at full priority.
fn lowest_priority() {
    let tid = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|link| link.file_name().map(|name| name.to_string_lossy().into_owned()));
    let done = tid.is_some_and(|tid| {
        std::process::Command::new("renice")
            .args(["-n", "19", "-p", &tid])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if !done {
        println!(
            "  attacks: could not lower the hostile peers' priority (renice): they run at full priority"
        );
    }
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Closed(code) => format!("Close {code}"),
        Outcome::Status(status) => format!("HTTP {status}"),
        Outcome::OpenAtEnd => "open at the phase's end".into(),
        Outcome::Dropped => "dropped without a Close".into(),
        Outcome::NotStarted(error) => format!("not started ({error})"),
    }
}

/// Whether a kind's outcomes are the ones the core's rules call for, and what those are.
fn judge(kind: Kind, outcomes: &[&Ended]) -> (bool, &'static str) {
    let finished: Vec<&Outcome> =
        outcomes.iter().map(|(outcome, _)| outcome).filter(|o| **o != Outcome::OpenAtEnd).collect();
    let all = |wanted: Outcome| !finished.is_empty() && finished.iter().all(|o| **o == wanted);
    match kind {
        // Empty frames add nothing to the message: nothing to refuse, memory stays flat.
        Kind::EmptyContinuations => (
            !outcomes.is_empty() && finished.iter().all(|o| matches!(o, Outcome::Closed(1009))),
            "held open (nothing grows) or closed 1009",
        ),
        Kind::ByteContinuations => (all(Outcome::Closed(1009)), "closed 1009 at the message limit"),
        Kind::Bomb => (all(Outcome::Closed(1009)), "closed 1009 while inflating"),
        Kind::PingFlood => (
            !outcomes.is_empty() && finished.iter().all(|o| !matches!(o, Outcome::NotStarted(_))),
            "held open by the server (its memory is the check above)",
        ),
        Kind::Length63 => (all(Outcome::Closed(1002)), "closed 1002 (top bit of the length set)"),
        Kind::Length63Minus1 => {
            (all(Outcome::Closed(1009)), "closed 1009 at the header (over the frame limit)")
        }
        Kind::Trickle => (
            all(Outcome::Status(408))
                && outcomes
                    .iter()
                    .filter(|(outcome, _)| *outcome != Outcome::OpenAtEnd)
                    .all(|(_, took)| took.as_secs_f64() <= HANDSHAKE_TIMEOUT + 2.0),
            "answered 408 at the handshake timeout",
        ),
    }
}
