//! Soak: mixed traffic for minutes while connections open and close all the time, and the
//! server's RSS sampled, to show it does not creep upward.
//!
//! Each of S slots opens a connection after another: permessage-deflate on the odd slots
//! (half the connections), outgoing frames cut into 512 B–64 KiB pieces on a third of them
//! (the server cuts its own at 64 KiB, so large echoes come back fragmented too). On each it
//! sends 1–40 rounds of 1–3 messages (45 B, the smallest self-checking message, to 1 MiB,
//! log-uniform; text or binary), waiting for the echoes, with client Pings (their Pongs
//! counted) and `!ping` commands (the server's Ping counted) among them; then it ends in one
//! of three ways: the client closes (1000), the server closes on `!close` (1000), or the
//! client drops the TCP connection without a Close (an injected fault: the server sees 1006).
//! Anything else that goes wrong is an error that was not injected.
//!
//! Memory is judged at quiet moments: every sampling period the slots finish their round and
//! hold their connections open without traffic, and the server's RSS is read then. Under
//! traffic the RSS swings by the messages in flight (several MiB of 1 MiB messages against a
//! server of about 10 MiB), which would hide a slow leak or fake one; at a quiet moment it is
//! what the server keeps. The continuous samples are printed too, with their peak.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rfc6455_tokio::{CloseCode, Message};
use tokio::time::Instant;

use super::{Run, Sampler, client_options, mib};
use crate::stats::{InFlight, Tally, ms, percentile};
use crate::{Rng, net, wire};

/// The largest message: 1 MiB.
const MAX_MESSAGE: usize = 1 << 20;

/// How long a quiet moment waits, once every slot is quiet, before the server's RSS is read:
/// the server's last writes and frees, and the second for which `rfc6455-tokio` keeps a quiet
/// connection's buffers when they are larger than its spare pool takes (64 KiB; its
/// `KEEP_LARGE_BUFFERS_FOR`), so that request/response traffic does not regrow them per
/// message. With 200 ms, a sample read those buffers for every slot whose last message was
/// large, a few MiB that came and went with the luck of the draw: the short run's two
/// window means differed by -12.6 % to +10.7 % from one run to the next on the same code,
/// against the 5 % the check allows. What the server keeps for good is what a creep would
/// show, and that is what is read after this.
const SETTLE: Duration = Duration::from_millis(1_200);

/// Runs the scenario.
pub async fn run(run: &mut Run) {
    let slots: usize = run.size("slots", 40, 100);
    let secs: f64 = run.size("duration", 50.0, 600.0);
    let warmup: f64 = run.size("warmup", 10.0, 60.0);
    // Each quiet moment lasts about 1.5 s (see `SETTLE`): the short run samples every 3 s so
    // that traffic still runs half the time.
    let period: f64 = run.size("sample", 3.0, 10.0);
    println!(
        "== soak: {slots} connections at a time, opening and closing, for {secs} s; RSS sampled every {period} s"
    );
    // glibc's malloc raises its mmap threshold after the first large free, and from then on
    // keeps freed 1 MiB message buffers in the heap, where fragmentation stops them being
    // returned: the RSS then follows the allocator's high-water mark, not what the server
    // holds. A fixed threshold gives every buffer of 128 KiB or more its own mapping, returned
    // on free, so the RSS shows what is held. (It costs CPU: every permessage-deflate
    // compressor state is mapped and unmapped; the soak measures memory, not speed.)
    let threshold = std::env::var("WSLOAD_SOAK_MMAP_THRESHOLD").unwrap_or_else(|_| "131072".into());
    let env = [("MALLOC_MMAP_THRESHOLD_", threshold.as_str())];
    // `--stats`: the server's counted live heap beside each quiet RSS sample (what its
    // connections and tasks hold, without the allocator's retained pages).
    let server_args =
        ["--deflate", "lean", "--fragment-size", "65536", "--max-message", "1048576", "--stats", "0.1"];
    let server = match run.server_with_env(&server_args, &env) {
        Ok(server) => server,
        Err(error) => {
            run.report.check(false, "soak", format!("server: {error}"));
            return;
        }
    };
    let sampler = Sampler::start(server.pid, Duration::from_secs_f64(period));
    let cpu_before = server.cpu_time();
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let url = server.url();
    let quiet = Arc::new(Quiet::default());
    let tasks: Vec<_> = (0..slots)
        .map(|slot| {
            let rng = Rng::from_time(slot as u64);
            tokio::spawn(slot_loop(server.addr, url.clone(), slot, stop, rng, quiet.clone()))
        })
        .collect();
    let started = Instant::now();
    let mut quiet_samples: Vec<QuietSample> = Vec::new();
    let mut next_sample = started + Duration::from_secs_f64(period);
    while next_sample + Duration::from_secs(1) < stop {
        tokio::time::sleep_until(next_sample).await;
        next_sample += Duration::from_secs_f64(period);
        quiet.pause.store(true, Ordering::SeqCst);
        let wait_until = Instant::now() + Duration::from_secs(5);
        while quiet.paused.load(Ordering::SeqCst) < slots && Instant::now() < wait_until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let paused = quiet.paused.load(Ordering::SeqCst);
        // Let the server finish its last writes and frees, and release what it keeps only
        // over a short pause (see `SETTLE`).
        tokio::time::sleep(SETTLE).await;
        if let Some(rss) = server.rss_kib() {
            let at = started.elapsed().as_secs_f64();
            let read_at = std::time::Instant::now();
            // Then the same moment with glibc's free pages given back to the kernel.
            let trimmed = if server.trim().await { server.rss_kib() } else { None };
            // The heap as of the first stats line after the RSS reading (printed every 0.1 s).
            tokio::time::sleep(Duration::from_millis(150)).await;
            quiet_samples.push(QuietSample {
                at,
                rss,
                trimmed,
                paused,
                heap: server.heap_live_after(read_at),
            });
        }
        quiet.pause.store(false, Ordering::SeqCst);
    }
    let mut tally = Tally::default();
    let mut counts = Counts::default();
    for task in tasks {
        match task.await {
            Ok((one, more)) => {
                tally.merge(one);
                counts.add(&more);
            }
            Err(error) => tally.error(error),
        }
    }
    let cpu = server.cpu_time().zip(cpu_before).map(|(after, before)| after - before);
    let samples = sampler.samples();
    drop(sampler);
    let series = |pick: &dyn Fn(&QuietSample) -> Option<u64>, digits: usize| -> String {
        let words: Vec<String> = quiet_samples
            .iter()
            .filter_map(|sample| {
                let busy = if sample.paused < slots { "(busy)" } else { "" };
                pick(sample).map(|kib| format!("{:.0}s:{:.digits$}{busy}", sample.at, kib as f64 / 1024.0))
            })
            .collect();
        words.join(" ")
    };
    println!("  soak: server RSS at quiet moments (MiB): {}", series(&|s| Some(s.rss), 1));
    println!("  soak: the same, free pages given back (malloc_trim) (MiB): {}", series(&|s| s.trimmed, 1));
    println!("  soak: server live heap at quiet moments (MiB): {}", series(&|s| s.heap, 2));
    let name = "soak";
    run.report.check(
        tally.all_echoed() && tally.sent > 0,
        &format!("{name}: every message echoed intact"),
        tally.summary(),
    );
    run.report.check(
        tally.unexpected_errors == 0,
        &format!("{name}: no error that was not injected"),
        format!("{} ({:?})", tally.unexpected_errors, tally.error_samples),
    );
    run.report.check(
        counts.pongs == counts.pings && counts.server_pings == counts.ping_commands,
        &format!("{name}: every Ping answered both ways"),
        format!(
            "client Pings {} Pongs {}; server Pings asked {} received {}",
            counts.pings, counts.pongs, counts.ping_commands, counts.server_pings
        ),
    );
    // The RSS figures, from the quiet samples: the mean over a window right after the warm-up
    // against the mean over a window of the same length at the end. Full run: the second
    // minute against the last minute. Short run: the time after the warm-up cut in two halves
    // (20 s each at the CI size, 6 or 7 samples each).
    //
    // The check is on the RSS after the server has given glibc's free pages back to the kernel
    // (`malloc_trim(0)` at each quiet moment), when it has a server of its own to ask: glibc
    // keeps freed memory for reuse, so the untrimmed RSS follows the highest the heap has
    // been, a step up each time the traffic reaches a new peak, with a live heap that stays
    // flat (measured: RSS 4.9 -> 5.2 MiB in 40 s with 0.1 MiB live throughout; anonymous
    // pages only, the executable's pages constant). That is a property of glibc, not of the
    // server, and it dies down (the full run's RSS falls 10 % from the second minute to the
    // last): a slow leak shows in the trimmed RSS as in the untrimmed one, the allocator's
    // high-water mark only in the latter. Both series and the live heap are printed.
    let window = if run.full { 60.0 } else { (secs - warmup) / 2.0 };
    let mean = |from: f64, to: f64, pick: &dyn Fn(&QuietSample) -> Option<u64>| {
        let picked: Vec<u64> = quiet_samples
            .iter()
            .filter(|sample| sample.at >= from && sample.at < to)
            .filter_map(pick)
            .collect();
        (!picked.is_empty()).then(|| picked.iter().sum::<u64>() as f64 / picked.len() as f64)
    };
    let heap = |sample: &QuietSample| sample.heap;
    let untrimmed = |sample: &QuietSample| Some(sample.rss);
    let trimmed_everywhere = quiet_samples.iter().all(|sample| sample.trimmed.is_some());
    let (rss, rss_name): (&Pick, &str) = if trimmed_everywhere {
        (&|sample: &QuietSample| sample.trimmed, "server RSS, free pages given back")
    } else {
        (&untrimmed, "server RSS")
    };
    let early_window = if run.full { (60.0, 120.0) } else { (warmup, warmup + window) };
    let late_window = (secs - window, secs);
    for (pick, what) in [(&heap as &Pick, "server live heap"), (&untrimmed, "server RSS as glibc leaves it")]
    {
        if let (Some(early), Some(late)) =
            (mean(early_window.0, early_window.1, pick), mean(late_window.0, late_window.1, pick))
        {
            run.report.row(
                name,
                &format!("{what} after warm-up -> at the end (window means)"),
                format!("{} -> {} ({:+.1} %)", mib(early), mib(late), (late - early) / early * 100.0),
            );
        }
    }
    match (mean(early_window.0, early_window.1, rss), mean(late_window.0, late_window.1, rss)) {
        (Some(early), Some(late)) => {
            let change = (late - early) / early * 100.0;
            run.report.check(
                change <= 5.0,
                &format!("{name}: no upward trend in {rss_name}"),
                format!(
                    "mean over {:.0}-{:.0} s {} -> mean over {:.0}-{:.0} s {} ({change:+.1} %, limit +5 %)",
                    early_window.0,
                    early_window.1,
                    mib(early),
                    late_window.0,
                    late_window.1,
                    mib(late)
                ),
            );
            run.report.row(
                name,
                &format!("{rss_name} after warm-up -> at the end (window means)"),
                format!("{} -> {} ({change:+.1} %; quiet samples every {period} s)", mib(early), mib(late)),
            );
        }
        _ => {
            run.report.check(false, &format!("{name}: RSS samples"), "no server pid to sample (--server-pid)")
        }
    }
    let series: Vec<String> =
        samples.iter().map(|(at, kib)| format!("{at:.0}s:{:.1}", *kib as f64 / 1024.0)).collect();
    println!("  soak: server RSS under traffic (MiB): {}", series.join(" "));
    let mut latencies = std::mem::take(&mut tally.latencies_us);
    run.report.row(name, "duration / slots", format!("{secs} s / {slots}"));
    run.report.row(name, "connections opened", format!("{} ({} failed)", tally.opened, tally.open_failed));
    run.report.row(
        name,
        "messages echoed / bytes sent",
        format!("{} / {}", tally.echoed, mib(tally.bytes_sent as f64 / 1024.0)),
    );
    run.report.row(
        name,
        "ends: client close / server close / dropped without Close",
        format!("{} / {} / {}", counts.client_closes, counts.server_closes, counts.drops),
    );
    run.report.row(
        name,
        "round trip p50 / p99 (all sizes)",
        format!("{} / {}", ms(percentile(&mut latencies, 50.0)), ms(percentile(&mut latencies, 99.0))),
    );
    run.report.row(
        name,
        "server RSS peak under traffic",
        samples.iter().map(|s| s.1).max().map_or("-".into(), |kib| mib(kib as f64)),
    );
    if let Some(cpu) = cpu {
        run.report.row(name, "server CPU", format!("{:.1} s", cpu.as_secs_f64()));
    }
}

/// Which figure of a quiet sample to use.
type Pick = dyn Fn(&QuietSample) -> Option<u64>;

/// One reading at a quiet moment.
struct QuietSample {
    /// Seconds since the start.
    at: f64,
    /// The server's RSS, KiB.
    rss: u64,
    /// Its RSS right after it gave glibc's free pages back (`None`: it could not be asked).
    trimmed: Option<u64>,
    /// How many slots were quiet (all of them unless one was stuck in a round).
    paused: usize,
    /// Its counted live heap, KiB (`None` without `stats:` lines).
    heap: Option<u64>,
}

/// What the slots counted beyond the echoes.
#[derive(Debug, Default)]
struct Counts {
    pings: u64,
    pongs: u64,
    ping_commands: u64,
    server_pings: u64,
    client_closes: u64,
    server_closes: u64,
    drops: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.pings += other.pings;
        self.pongs += other.pongs;
        self.ping_commands += other.ping_commands;
        self.server_pings += other.server_pings;
        self.client_closes += other.client_closes;
        self.server_closes += other.server_closes;
        self.drops += other.drops;
    }
}

/// The quiet moments: the sampler sets `pause`; each slot, between rounds, counts itself in
/// `paused` and waits.
#[derive(Debug, Default)]
struct Quiet {
    pause: AtomicBool,
    paused: AtomicUsize,
}

impl Quiet {
    async fn wait(&self) {
        if !self.pause.load(Ordering::SeqCst) {
            return;
        }
        self.paused.fetch_add(1, Ordering::SeqCst);
        while self.pause.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.paused.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One slot: connections one after another until `stop`.
async fn slot_loop(
    server: std::net::SocketAddr,
    url: String,
    slot: usize,
    stop: Instant,
    mut rng: Rng,
    quiet: Arc<Quiet>,
) -> (Tally, Counts) {
    let mut tally = Tally::default();
    let mut counts = Counts::default();
    let mut generation = 0u32;
    while Instant::now() < stop {
        quiet.wait().await;
        // Connection ids: the slot in the high bits, the generation in the low ones.
        let conn = (slot as u32) << 16 | (generation & 0xffff);
        generation += 1;
        let deflate = slot % 2 == 1;
        let fragment = rng.chance(33).then(|| rng.range(512, 65536) as usize);
        let mut ws = match net::connect_ws(server, &url, client_options(deflate, fragment)).await {
            Ok(ws) => ws,
            Err(error) => {
                tally.open_failed += 1;
                tally.error(format!("open: {error}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        tally.opened += 1;
        if deflate != ws.connection().has_extension() {
            tally.error("permessage-deflate not negotiated as asked");
        }
        let mut in_flight = InFlight::new(conn);
        let mut seq = 0u64;
        let rounds = rng.range(1, 41);
        let mut healthy = true;
        'rounds: for _ in 0..rounds {
            quiet.wait().await;
            if Instant::now() >= stop {
                break;
            }
            let mut pings_waiting = 0u64;
            let mut server_pings_waiting = 0u64;
            for _ in 0..rng.range(1, 4) {
                let size = log_uniform(&mut rng, wire::HEADER_LEN, MAX_MESSAGE);
                let bytes = wire::build(conn, seq, size);
                tally.bytes_sent += bytes.len() as u64;
                let message = if rng.chance(50) {
                    // ASCII by construction (wire::build).
                    Message::text(String::from_utf8(bytes).expect("wire messages are ASCII"))
                } else {
                    Message::binary(bytes)
                };
                in_flight.sent(seq, Instant::now());
                seq += 1;
                tally.sent += 1;
                if let Err(error) = ws.send(message).await {
                    tally.error(format!("send: {error}"));
                    healthy = false;
                    break 'rounds;
                }
            }
            if rng.chance(15) {
                counts.pings += 1;
                pings_waiting += 1;
                if let Err(error) = ws.send(Message::Ping(b"client-ping".to_vec().into())).await {
                    tally.error(format!("ping: {error}"));
                    healthy = false;
                    break 'rounds;
                }
            }
            if rng.chance(10) {
                counts.ping_commands += 1;
                server_pings_waiting += 1;
                if let Err(error) = ws.send(Message::text(wire::PING_COMMAND)).await {
                    tally.error(format!("send: {error}"));
                    healthy = false;
                    break 'rounds;
                }
            }
            let deadline = Instant::now() + Duration::from_secs(15);
            while !in_flight.is_empty() || pings_waiting > 0 || server_pings_waiting > 0 {
                let received = match tokio::time::timeout_at(deadline, ws.recv()).await {
                    Ok(received) => received,
                    Err(_) => {
                        tally.error(format!(
                            "nothing for 15 s with {} echoes, {pings_waiting} Pongs, {server_pings_waiting} Pings awaited",
                            in_flight.len()
                        ));
                        healthy = false;
                        break 'rounds;
                    }
                };
                match received {
                    Some(Ok(Message::Pong(payload)))
                        if &payload[..] == b"client-ping" && pings_waiting > 0 =>
                    {
                        pings_waiting -= 1;
                        counts.pongs += 1;
                    }
                    Some(Ok(Message::Ping(payload)))
                        if &payload[..] == wire::SERVER_PING && server_pings_waiting > 0 =>
                    {
                        server_pings_waiting -= 1;
                        counts.server_pings += 1;
                    }
                    Some(Ok(message)) if message.is_data() => {
                        in_flight.received(message.as_bytes(), Instant::now(), &mut tally);
                    }
                    Some(Ok(other)) => {
                        tally.error(format!("unexpected {other:?}"));
                    }
                    Some(Err(error)) => {
                        tally.error(format!("recv: {error}"));
                        healthy = false;
                        break 'rounds;
                    }
                    None => {
                        tally.error("ended without a Close");
                        healthy = false;
                        break 'rounds;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(rng.range(0, 20))).await;
        }
        in_flight.finish(&mut tally);
        if !healthy {
            continue;
        }
        match rng.range(0, 10) {
            0 => {
                // An injected fault: the TCP connection ends without a Close.
                counts.drops += 1;
                drop(ws);
            }
            1..=5 => {
                counts.client_closes += 1;
                super::connections::close(&mut ws, &mut tally).await;
            }
            _ => {
                counts.server_closes += 1;
                if let Err(error) = ws.send(Message::text(wire::CLOSE_COMMAND)).await {
                    tally.error(format!("send !close: {error}"));
                    continue;
                }
                let end = tokio::time::timeout(Duration::from_secs(5), async {
                    let mut close = None;
                    while let Some(received) = ws.recv().await {
                        match received {
                            Ok(Message::Close(frame)) => close = Some(frame.map(|f| f.code)),
                            Ok(other) => return Err(format!("after !close: {other:?}")),
                            Err(error) => return Err(format!("after !close: {error}")),
                        }
                    }
                    Ok(close)
                })
                .await;
                match end {
                    Ok(Ok(Some(Some(CloseCode::NORMAL)))) => {}
                    Ok(Ok(other)) => tally.error(format!("server close: {other:?}")),
                    Ok(Err(error)) => tally.error(error),
                    Err(_) => tally.error("server close: not within 5 s"),
                }
            }
        }
    }
    (tally, counts)
}

/// A size in `[low, high]`, log-uniform: as many messages of 16–32 KiB as of 64–128 B.
fn log_uniform(rng: &mut Rng, low: usize, high: usize) -> usize {
    let (low, high) = ((low as f64).ln(), (high as f64).ln());
    let unit = rng.next_u64() as f64 / u64::MAX as f64;
    ((low + (high - low) * unit).exp() as usize).max(wire::HEADER_LEN)
}
