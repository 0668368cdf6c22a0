//! Attacks among good clients: G good clients (half with permessage-deflate) send a message
//! every 250 ms throughout, while H hostile connections of one kind at a time attack in
//! phases, with quiet windows (no attack) before, between and after the phases. The good
//! clients must lose nothing, and their p99 round trip in each attack phase must stay within
//! 2x their p99 in the two quiet windows around it (the baseline). Each hostile kind must end
//! as the core's rules say, and the server's counted heap during the phase may exceed its
//! heap just before by no more than the per-connection bound its limits allow, times the
//! hostile connections it had open.

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

/// One run of a phase.
struct PhaseRun {
    /// The phase's number in `PHASES`, from 1.
    number: usize,
    /// Its place in the scenario's sequence, from 0: the good clients' round trips in it are
    /// under phase number `n + 1`, the quiet windows around it `QUIET + n` and `QUIET + n + 1`.
    n: usize,
    /// Each hostile's kind and outcomes.
    ended: Vec<(Kind, Vec<Ended>)>,
    /// The server's RSS before (the quiet window's mean) and at its peak, KiB.
    rss_before: Option<u64>,
    rss_peak: Option<u64>,
    /// Its counted heap: live KiB before, peak KiB in the phase, connections open at most.
    heap: Option<(u64, u64, u64)>,
}

/// A phase's kinds by name, "a / b".
fn phase_name(number: usize) -> String {
    PHASES[number - 1].iter().map(|k| k.name()).collect::<Vec<_>>().join(" / ")
}

/// The phase number while no phase is measured (settling after a phase).
const GAP: usize = 99;

/// The phase numbers of the quiet windows, `QUIET + n` for the one before the `n`th phase run
/// (and `QUIET + phases run` after the last).
const QUIET: usize = 100;

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
    // `--phases 2,3` runs only those attack phases (numbered from 1 as printed), for a closer
    // look at one attack; all by default.
    let chosen: Vec<usize> = match run.args.text("phases") {
        Some(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .filter(|n| (1..=PHASES.len()).contains(n))
            .collect(),
        None => (1..=PHASES.len()).collect(),
    };
    // Each phase runs `repeats` times, the sequence of phases over again (so that one phase's
    // runs are spread over the scenario, not back to back). The good clients' p99 is judged
    // by the majority of a phase's runs (two of three in the short run): a few-millisecond
    // stall of the machine, which shows in the quiet windows too (their p99.9 reaches 3 ms),
    // can land in one attack window's worst 1 % and not in the windows around it. Every run's
    // figure is printed; the memory and outcome checks hold in every run.
    let repeats: usize = run.size("repeats", 3, 1).max(1);
    // `--latency-gate no` prints the p99 criterion as MET or MISSED without failing the run;
    // `--latency-gate except:4` does so for the phases listed (CI, for the length claims,
    // whose cost is the kernel's: see README Reliability) and gates the others. The memory,
    // outcome and delivery checks gate either way.
    let ungated: Vec<usize> = match run.args.text("latency-gate") {
        Some("no") => (1..=PHASES.len()).collect(),
        Some(text) => match text.strip_prefix("except:") {
            Some(list) => list.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let quiet_secs: f64 = run.size("quiet", 6.0, 10.0);
    let sequence: Vec<usize> = (0..repeats).flat_map(|_| chosen.iter().copied()).collect();
    println!(
        "== attacks: {hostile} hostile beside {good} good connections; {} attack phases of {phase_secs} s \
         ({repeats} run(s) of {} kinds), each between quiet windows of {} s",
        sequence.len(),
        chosen.len(),
        quiet_secs
    );
    // glibc's malloc, told to keep what it frees (`M_TRIM_THRESHOLD` 64 MiB, `M_MMAP_THRESHOLD`
    // 4 MiB), as a server that expects message-sized churn would run it. With the defaults, a
    // freed 1 MiB message buffer at the top of the heap goes back to the kernel (the trim
    // threshold follows the mmap threshold up to 2 MiB), and the next hostile message faults
    // fresh pages in: a poll of a few hundred microseconds, in which every good client waits.
    // Measured on the bombs (perf, and `--poll-times`): polls over 250 us 2,270 with the
    // defaults, 59 with these settings; the good clients' p99 5.7x and 1.9x the baseline.
    // The memory check is on the server's counted heap, so what glibc keeps does not count
    // against the bound; the RSS is printed beside it. WSLOAD_ATTACK_GLIBC_TUNABLES sets other
    // tunables (empty: glibc's defaults).
    let threads = run.args.text("server-threads").unwrap_or("1").to_owned();
    // The server's busy connections share turns (`rfc6455_tokio::FairShare`), one a round
    // per server thread, as `wsload-server` does by default; `--fair-turns N` reaches it
    // through `Run::server_with_env` (0: without, for comparison).
    let tunables = std::env::var("WSLOAD_ATTACK_GLIBC_TUNABLES").unwrap_or_else(|_| {
        "glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=4194304".into()
    });
    println!("  attacks: server's GLIBC_TUNABLES={tunables}");
    // `--accept-rate N`: the server takes at most N new connections a second (`wsload-server
    // --accept-rate`); none at CI size, 2,000 at full size. The attacks that end in a Close make
    // their peers reconnect at once: 100 of them reconnected some 11,000 times a second, each
    // connection a TCP handshake, an accept, a close and its closing states in the kernel, which
    // took the cores from the server (README, Reliability). Measured at full size on the length
    // claims (2026-11-28, a run each): the good clients' p99 2.75-2.94x the quiet windows with no
    // cap, 1.84x at 4,000 a second, 1.23-1.43x at 2,000, 1.18-1.41x at 1,000. At CI size a cap of
    // 2,000 binds on the bombs (about 2,040 a second without it), and their p99 grew from 0.97x
    // to 3.1-5.8x, the server's thread 63-85 % busy instead of 99 %: it sleeps between paced
    // accepts, and on this virtual machine a core that halts wakes late (the guest's cpuidle driver
    // does not poll; with an idle-class busy loop on each core, so that none halts, the same runs
    // measured 1.37x and 1.41x). At full size the good clients' own traffic keeps the server
    // busier, and the bombs measured 1.34-2.36x at 2,000 against 0.59-1.57x with no cap.
    let accept_rate: u32 = run.size("accept-rate", 0, 2_000);
    let accept_rate = accept_rate.to_string();
    println!("  attacks: server accepts at most {accept_rate} new connections a second (0: no cap)");
    let env: Vec<(&str, &str)> = vec![("GLIBC_TUNABLES", tunables.as_str())];
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
            "--poll-times",
            "--threads",
            &threads,
            "--accept-rate",
            &accept_rate,
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

    // `--pin yes` puts the server on a core of its own (see `Pinned`); off by default.
    let pinned = if run.args.text("pin") == Some("yes") { Pinned::apart(server.pid) } else { None };
    let sampler = Sampler::start(server.pid, Duration::from_millis(100));
    let (connections, error) =
        connect_many(server.addr, &server.url(), good, 128, |i| client_options(i % 2 == 1, None)).await;
    let opened = connections.iter().flatten().count();
    run.report.check(
        opened == good,
        "attacks: good clients open",
        format!("{opened} of {good}{}", error.map(|e| format!(" (first error: {e})")).unwrap_or_default()),
    );
    // The good clients' baseline is taken beside each attack, not once at the start: a quiet
    // window before every phase and one after the last, each phase judged against the two
    // around it (pooled). A load that comes and goes on the machine (other processes; a
    // virtual machine's host taking its CPU for a while) then falls on both sides of the
    // comparison alike. Each quiet window follows a second of settling (the hostile
    // connections' ends, uncounted), and is also when the server's memory "before" is read.
    let settle = Duration::from_secs(1);
    let quiet_len = Duration::from_secs_f64(quiet_secs);
    let phase_len = Duration::from_secs_f64(phase_secs);
    let start = Instant::now() + Duration::from_millis(200);
    // The phases may overrun a little (hostile connections end when they notice the phase's
    // end): the good clients go on a few seconds longer, uncounted.
    let total = settle
        + quiet_len
        + (phase_len + settle + quiet_len) * sequence.len() as u32
        + Duration::from_secs(5);
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

    // A quiet window, then each kind, each followed by a quiet window.
    tokio::time::sleep_until(start).await;
    let mut results: Vec<PhaseRun> = Vec::new();
    let mut before = quiet_window(&sampler, &phase, 0, settle, quiet_len).await;
    for (n, &number) in sequence.iter().enumerate() {
        let phase_start = sampler.elapsed();
        let phase_start_std = std::time::Instant::now();
        // The good clients' round trips in this run of the phase.
        phase.store(n + 1, Ordering::Relaxed);
        // The hostile peers run on a thread of their own, so that their writing does not
        // delay the good clients' reading in this process and inflate their round trips.
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let kinds: Vec<Kind> = PHASES[number - 1].to_vec();
        let (addr, bomb) = (server.addr, bomb.clone());
        let phase_stop_std = std::time::Instant::now() + phase_len;
        let (abort_tx, abort) = tokio::sync::watch::channel(false);
        let written_before = hostile::BYTES_WRITTEN.load(Ordering::Relaxed);
        let server_cpu_before = server.cpu_time();
        let polls_before = poll_counts(&server.last_stats());
        std::thread::spawn(move || {
            // At the lowest CPU priority (SCHED_IDLE): on a network the attackers' CPU is other
            // machines'; here, on a machine of few cores, a flooder at full priority takes its
            // core from the server and the good clients, and their p99 would measure the load
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
        let server_cpu = match (server_cpu_before, server.cpu_time()) {
            (Some(before), Some(after)) => {
                format!(
                    "{:.0} %",
                    100.0 * (after - before).as_secs_f64() / phase_start_std.elapsed().as_secs_f64()
                )
            }
            _ => "unknown".into(),
        };
        println!(
            "  attacks: phase {number}: the hostile peers wrote {} ({:.1} MiB/s); the server used {server_cpu} of a core",
            mib(written as f64 / 1024.0),
            written as f64 / (1 << 20) as f64 / phase_len.as_secs_f64()
        );
        let rss_peak = sampler.peak(phase_start, f64::MAX);
        if let (Some(before), Some(after)) = (polls_before, poll_counts(&server.last_stats())) {
            let delta: Vec<u64> = after.iter().zip(before).map(|(a, b)| a.saturating_sub(b)).collect();
            println!(
                "  attacks: phase {number}: the server's connection tasks were polled {} times, {} over 100 us, \
                 {} over 250 us, {} over 1 ms; its 1 ms timer fired over 4 ms late {} times",
                delta[0], delta[1], delta[2], delta[3], delta[4]
            );
        }
        if let Some(after) = aborted {
            println!("  attacks: phase {number} aborted after {after:.1} s");
        }
        // The server's stats line after the phase's end (every 0.2 s) covers its last moments.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let heap = server.heap_between(phase_start_std, std::time::Instant::now());
        results.push(PhaseRun { number, n, ended, rss_before: before, rss_peak, heap });
        before = quiet_window(&sampler, &phase, n + 1, settle, quiet_len).await;
    }
    let mut tally = Tally::default();
    for task in good_tasks {
        match task.await {
            Ok(one) => tally.merge(one),
            Err(error) => tally.error(error),
        }
    }
    drop(pinned);
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
    let quiet = |n: usize| tally.phased_us.get(QUIET + n).cloned().unwrap_or_default();
    let mut all_quiet: Vec<u32> = (0..=results.len()).flat_map(quiet).collect();
    run.report.row(
        "attacks",
        "good clients' baseline p50 / p99 (all quiet windows)",
        format!(
            "{} / {} ({} round trips)",
            ms(percentile(&mut all_quiet, 50.0)),
            ms(percentile(&mut all_quiet, 99.0)),
            all_quiet.len()
        ),
    );

    // Each run's round trips, and its baseline: the quiet windows just before and just after it.
    let mut measured: Vec<(Vec<u32>, Vec<u32>)> = results
        .iter()
        .map(|run| {
            let latencies = tally.phased_us.get(run.n + 1).cloned().unwrap_or_default();
            (latencies, quiet(run.n).into_iter().chain(quiet(run.n + 1)).collect())
        })
        .collect();

    // The p99 check, one per phase over its runs.
    for &number in &chosen {
        let name = phase_name(number);
        // Each run's p99, its baseline's (0 when either has no round trip: the run fails) and
        // its count of round trips.
        let runs: Vec<(u32, u32, usize)> = results
            .iter()
            .zip(measured.iter_mut())
            .filter(|(run, _)| run.number == number)
            .map(|(_, (latencies, baseline))| {
                let within = !latencies.is_empty() && !baseline.is_empty();
                let (p99, baseline_p99) = (percentile(latencies, 99.0), percentile(baseline, 99.0));
                (p99, if within { baseline_p99 } else { 0 }, latencies.len())
            })
            .collect();
        let passed = runs.iter().filter(|&&(p99, base, _)| base > 0 && p99 <= base.saturating_mul(2)).count();
        let text = runs
            .iter()
            .map(|&(p99, base, count)| {
                format!(
                    "p99 {} vs baseline {} ({:.2}x, {count} round trips)",
                    ms(p99),
                    ms(base),
                    f64::from(p99) / f64::from(base.max(1))
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let met = !runs.is_empty() && passed * 2 > runs.len();
        let most = if runs.len() > 1 {
            format!(", in most of {} runs ({passed} did)", runs.len())
        } else {
            String::new()
        };
        let criterion = format!(
            "attacks/{name}: good clients' p99 within 2x baseline (the quiet windows around it){most}"
        );
        if !ungated.contains(&number) {
            run.report.check(met, &criterion, text);
        } else {
            run.report.observe(met, &criterion, text);
        }
    }

    // With repeats, the figures of each run are told apart by its number.
    let labelled = |name: &str, n: usize| {
        if repeats > 1 { format!("{name} (run {})", n / chosen.len() + 1) } else { name.to_owned() }
    };
    for (
        PhaseRun { number, n, ended, rss_before: before, rss_peak: peak, heap },
        (mut latencies, mut baseline),
    ) in results.into_iter().zip(measured)
    {
        let kinds = PHASES[number - 1];
        let name = labelled(&phase_name(number), n);
        let p99 = percentile(&mut latencies, 99.0);
        let baseline_p99 = percentile(&mut baseline, 99.0);
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
            let kind_name = labelled(kind.name(), n);
            run.report.check(ok, &format!("attacks/{kind_name}: {expected}"), &text);
            run.report.row(&format!("attacks/{kind_name}"), "outcomes", &text);
        }
        run.report.row(
            &format!("attacks/{name}"),
            "good clients' p50 / p99",
            format!(
                "{} / {} (baseline {} / {}, the quiet window before {} and after {}; p90 {} vs {}, p99.9 {} vs {})",
                ms(percentile(&mut latencies, 50.0)),
                ms(p99),
                ms(percentile(&mut baseline, 50.0)),
                ms(baseline_p99),
                ms(percentile(&mut quiet(n), 99.0)),
                ms(percentile(&mut quiet(n + 1), 99.0)),
                ms(percentile(&mut latencies, 90.0)),
                ms(percentile(&mut baseline, 90.0)),
                ms(percentile(&mut latencies, 99.9)),
                ms(percentile(&mut baseline, 99.9)),
            ),
        );
    }
}

/// Waits `settle` uncounted, then `quiet` as quiet window `n`; returns the server's mean RSS
/// in the quiet window (KiB).
async fn quiet_window(
    sampler: &Sampler,
    phase: &AtomicUsize,
    n: usize,
    settle: Duration,
    quiet: Duration,
) -> Option<u64> {
    phase.store(GAP, Ordering::Relaxed);
    tokio::time::sleep(settle).await;
    let quiet_start = sampler.elapsed();
    phase.store(QUIET + n, Ordering::Relaxed);
    tokio::time::sleep(quiet).await;
    phase.store(GAP, Ordering::Relaxed);
    sampler.mean(quiet_start, f64::MAX).map(|kib| kib as u64)
}

/// With `--pin yes`: the server on a core of its own and this process (good clients, hostile
/// peers) on the others, as a load test runs its generator apart from the server under test;
/// undone on drop. On the 2^63 length claims (ten peers reconnecting some 7,000 times a
/// second) the good clients' p99 was 2.0-3.3x the baseline unpinned, 0.4-1.2x pinned. Off by
/// default because it flatters the ratio: the server's core, idle between the quiet windows'
/// messages, sleeps, and waking it across cores (a virtual machine's interrupt) raised the
/// quiet windows' p99 from 0.35-0.4 ms to 0.5-1.9 ms, while under attack the core never
/// sleeps. `taskset` (util-linux); on one core, or without it, nothing.
struct Pinned {
    cpus: usize,
}

impl Pinned {
    /// Pins server `server` (a pid; 0, an external server's unknown one, pins nothing).
    fn apart(server: u32) -> Option<Pinned> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if server == 0 || cpus < 2 {
            return None;
        }
        let own = std::process::id();
        if taskset("0", server) && taskset(&format!("1-{}", cpus - 1), own) {
            println!(
                "  attacks: the server runs on CPU 0, the good clients and hostile peers on CPUs 1-{}",
                cpus - 1
            );
            Some(Pinned { cpus })
        } else {
            println!("  attacks: could not pin the server and the load generator apart (taskset)");
            None
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        taskset(&format!("0-{}", self.cpus - 1), std::process::id());
    }
}

/// `taskset -a -p -c <cpus> <pid>`: every thread of `pid` onto those CPUs.
fn taskset(cpus: &str, pid: u32) -> bool {
    succeeds("taskset", &["-a", "-p", "-c", cpus, &pid.to_string()])
}

/// Runs `program` with `args`, its output discarded; whether it ran and succeeded.
fn succeeds(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Puts the calling thread in Linux's `SCHED_IDLE` class (`chrt --idle` on its thread id;
/// Linux threads have a scheduling policy each): it runs whenever a core would otherwise idle,
/// and a woken thread of the normal class takes the core from it at once. Nice 19 is the
/// fallback: under EEVDF a nice-19 thread may still finish its slice (up to a few ms) before
/// a woken good client or server gets the core, which showed as ~1 ms in the good clients'
/// p99. Says so when neither works: the phase then runs at full priority.
fn lowest_priority() {
    let Some(tid) = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|link| link.file_name().map(|name| name.to_string_lossy().into_owned()))
    else {
        println!("  attacks: no thread id (/proc/thread-self): the hostile peers run at full priority");
        return;
    };
    if succeeds("chrt", &["--idle", "-p", "0", &tid]) {
        return;
    }
    if succeeds("renice", &["-n", "19", "-p", &tid]) {
        println!("  attacks: could not set SCHED_IDLE (chrt): the hostile peers run at nice 19");
        return;
    }
    println!(
        "  attacks: could not lower the hostile peers' priority (chrt, renice): they run at full priority"
    );
}

/// The poll counts of a `stats:` line of a server run with `--poll-times`: polls, and polls
/// over 100 us, 250 us and 1 ms.
fn poll_counts(stats: &str) -> Option<[u64; 5]> {
    let words: Vec<&str> = stats.split_whitespace().collect();
    let field = |name: &str| -> Option<u64> {
        let at = words.iter().position(|word| *word == name)?;
        words.get(at + 1)?.parse().ok()
    };
    Some([
        field("polls")?,
        field("polls_over_100us")?,
        field("polls_over_250us")?,
        field("polls_over_1ms")?,
        field("ticks_over_4ms")?,
    ])
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
