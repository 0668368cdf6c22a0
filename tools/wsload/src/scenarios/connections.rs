//! Connections: N concurrent connections, each sending one 64-byte message per second for
//! T seconds, first without permessage-deflate, then with the lean policy. Every message must
//! come back intact; the figures are p50/p99 round trip, server RSS per connection and server
//! CPU per 1,000 messages.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rfc6455_tokio::{CloseCode, Message, WebSocket};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{Run, Sampler, client_options, connect_many, mib};
use crate::stats::{InFlight, Tally, ms, percentile};
use crate::{Rng, wire};

/// Runs the scenario.
pub async fn run(run: &mut Run) {
    let n: usize = run.size("connections", 1_000, 10_000);
    let secs: u64 = run.size("duration", 15, 60);
    println!(
        "== connections: {n} connections x one 64-byte message per second for {secs} s, deflate off then lean"
    );
    for deflate in [false, true] {
        let name = if deflate { "connections/deflate-lean" } else { "connections/deflate-off" };
        let server = match run.server(&["--deflate", if deflate { "lean" } else { "off" }]) {
            Ok(server) => server,
            Err(error) => {
                run.report.check(false, name, format!("server: {error}"));
                continue;
            }
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rss_idle = server.rss_kib();
        let opened_at = Instant::now();
        let (connections, error) =
            connect_many(server.addr, &server.url(), n, 256, |_| client_options(deflate, None)).await;
        let open_time = opened_at.elapsed();
        let opened = connections.iter().filter(|ws| ws.is_some()).count();
        let compressed = connections.iter().flatten().filter(|ws| ws.connection().has_extension()).count();
        run.report.check(
            compressed == if deflate { opened } else { 0 },
            &format!(
                "{name}: permessage-deflate {}",
                if deflate { "negotiated on every connection" } else { "on no connection" }
            ),
            format!("{compressed} of {opened}"),
        );
        run.report.check(
            opened == n,
            &format!("{name}: all open"),
            format!(
                "{opened} of {n} in {:.2} s{}",
                open_time.as_secs_f64(),
                error.map(|e| format!(" (first error: {e})")).unwrap_or_default()
            ),
        );
        let rss_open = server.rss_kib();
        let sampler = Sampler::start(server.pid, Duration::from_secs(1));
        let cpu_before = server.cpu_time();
        let own_cpu_before = crate::procfs::cpu_time(std::process::id());
        let start = Instant::now() + Duration::from_millis(200);
        let stop = start + Duration::from_secs(secs);
        let phase = Arc::new(AtomicUsize::new(0));
        let mut rng = Rng::from_time(1);
        let tasks: Vec<_> = connections
            .into_iter()
            .enumerate()
            .filter_map(|(i, ws)| Some((i, ws?)))
            .map(|(i, ws)| {
                let first = start + Duration::from_micros(rng.range(0, 1_000_000));
                let plan =
                    Steady { conn: i as u32, first, interval: Duration::from_secs(1), stop, sizes: (64, 65) };
                tokio::spawn(steady(ws, plan, phase.clone(), Rng::new(i as u64)))
            })
            .collect();
        let mut tally = Tally::default();
        for task in tasks {
            match task.await {
                Ok(one) => tally.merge(one),
                Err(error) => tally.error(error),
            }
        }
        let cpu = server.cpu_time().zip(cpu_before).map(|(after, before)| after - before);
        let own_cpu = crate::procfs::cpu_time(std::process::id())
            .zip(own_cpu_before)
            .map(|(after, before)| after - before);
        let peak = sampler.peak(0.0, f64::MAX);
        let loaded = sampler.mean(sampler.elapsed() - secs as f64 / 2.0, f64::MAX);
        drop(sampler);
        run.report.check(
            tally.all_echoed() && tally.sent > 0,
            &format!("{name}: every message echoed intact"),
            tally.summary(),
        );
        run.report.check(
            tally.unexpected_errors == 0,
            &format!("{name}: no errors"),
            format!("{:?}", tally.error_samples),
        );
        let p50 = percentile(&mut tally.latencies_us, 50.0);
        let p99 = percentile(&mut tally.latencies_us, 99.0);
        let max = percentile(&mut tally.latencies_us, 100.0);
        run.report.row(name, "connections x seconds", format!("{opened} x {secs} s"));
        run.report.row(name, "messages echoed", tally.echoed);
        run.report.row(
            name,
            "round trip p50 / p99 / max",
            format!("{} / {} / {}", ms(p50), ms(p99), ms(max)),
        );
        if let (Some(idle), Some(open), Some(loaded), Some(peak)) = (rss_idle, rss_open, loaded, peak) {
            let per_conn = |kib: f64| format!("{:.1} KiB", (kib - idle as f64) / opened.max(1) as f64);
            run.report.row(
                name,
                "server RSS idle / all open / under traffic (mean, 2nd half) / peak",
                format!(
                    "{} / {} / {} / {}",
                    mib(idle as f64),
                    mib(open as f64),
                    mib(loaded),
                    mib(peak as f64)
                ),
            );
            run.report.row(
                name,
                "server RSS per connection, open / under traffic",
                format!("{} / {}", per_conn(open as f64), per_conn(loaded)),
            );
        }
        if let Some(cpu) = cpu {
            let per_thousand = cpu.as_secs_f64() * 1000.0 / tally.echoed.max(1) as f64;
            run.report.row(
                name,
                "server CPU per 1,000 messages echoed",
                format!("{:.1} ms (total {:.2} s)", per_thousand * 1000.0, cpu.as_secs_f64()),
            );
        }
        if let Some(own) = own_cpu {
            // The load generator's own CPU: its round trips include its own waiting for a core.
            run.report.row(name, "load generator CPU (same period)", format!("{:.2} s", own.as_secs_f64()));
        }
        drop(server);
    }
}

/// What a steady client sends: from `first`, a message every `interval` until `stop`, of a
/// size in `sizes` (half-open).
#[derive(Debug, Clone, Copy)]
pub struct Steady {
    /// Its connection id.
    pub conn: u32,
    /// When it sends its first message.
    pub first: Instant,
    /// The time between messages.
    pub interval: Duration,
    /// When it stops sending (then waits for the last echoes, and closes).
    pub stop: Instant,
    /// Message sizes, `[low, high)`.
    pub sizes: (usize, usize),
}

/// A good client: sends on its schedule, checks every echo, records round trips (also under
/// the run's current `phase`), closes cleanly at the end.
pub async fn steady(
    mut ws: WebSocket<TcpStream>,
    plan: Steady,
    phase: Arc<AtomicUsize>,
    mut rng: Rng,
) -> Tally {
    let mut tally = Tally { opened: 1, ..Tally::default() };
    let mut in_flight = InFlight::new(plan.conn);
    let mut seq = 0u64;
    let mut next = plan.first;
    let drain_deadline = plan.stop + Duration::from_secs(10);
    loop {
        let sending = next < plan.stop;
        if !sending && in_flight.is_empty() {
            break;
        }
        tokio::select! {
            received = ws.recv() => match received {
                Some(Ok(message)) if message.is_data() => {
                    if let Some(rtt) = in_flight.received(message.as_bytes(), Instant::now(), &mut tally) {
                        tally.phased(phase.load(Ordering::Relaxed), rtt);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tally.error(error);
                    break;
                }
                None => {
                    tally.error("the server ended the connection");
                    break;
                }
            },
            () = tokio::time::sleep_until(next), if sending => {
                let size = rng.range(plan.sizes.0 as u64, plan.sizes.1 as u64) as usize;
                let message = wire::build(plan.conn, seq, size);
                tally.bytes_sent += message.len() as u64;
                in_flight.sent(seq, Instant::now());
                seq += 1;
                tally.sent += 1;
                let message = if seq.is_multiple_of(2) {
                    // ASCII by construction (wire::build).
                    Message::text(String::from_utf8(message).expect("wire messages are ASCII"))
                } else {
                    Message::binary(message)
                };
                if let Err(error) = ws.send(message).await {
                    tally.error(error);
                    break;
                }
                next += plan.interval;
            },
            () = tokio::time::sleep_until(drain_deadline) => break,
        }
    }
    in_flight.finish(&mut tally);
    close(&mut ws, &mut tally).await;
    tally
}

/// Closes with 1000 and reads to the end (5 s at most); anything but the peer's Close then
/// the end is an error.
pub async fn close(ws: &mut WebSocket<TcpStream>, tally: &mut Tally) {
    if let Err(error) = ws.close(CloseCode::NORMAL, "done").await {
        tally.error(format!("close: {error}"));
        return;
    }
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(received) = ws.recv().await {
            if let Err(error) = received {
                return Err(error.to_string());
            }
        }
        Ok(())
    })
    .await;
    match end {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tally.error(format!("closing: {error}")),
        Err(_) => tally.error("closing: no answer within 5 s"),
    }
}
