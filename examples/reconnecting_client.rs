//! A client that stays connected: it keeps the connection alive with heartbeats, notices when
//! the server goes away (a closed socket, or a peer that stops answering), and reconnects
//! with exponential backoff and full jitter, starting each time from a fresh `Connection`.
//!
//! ```sh
//! cargo run --example reconnecting_client -- ws://127.0.0.1:9001/ [--seconds N]
//! ```
//!
//! It sends `tick N` once a second and prints every state change with the time since start.

mod common;

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::Duration;

use rfc6455::connection::{Connection, Event, State, TimeoutConfig};
use rfc6455::reconnect::{Backoff, BackoffConfig};
use rfc6455::time::{Epoch, Instant};

const TICK: Duration = Duration::from_secs(1);

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001/".to_owned());
    let run_for = match (args.next().as_deref(), args.next()) {
        (Some("--seconds"), Some(n)) => n.parse().ok().map(Duration::from_secs),
        _ => None,
    };
    // The crate's clock is time since an epoch of ours: the program's start.
    let epoch = Epoch::new(std::time::Instant::now());
    let now = || epoch.instant(std::time::Instant::now());
    let log = |what: &str| println!("[{:>8.3}s] {what}", now().since_epoch().as_secs_f64());
    let over = || run_for.is_some_and(|limit| now().since_epoch() >= limit);

    let mut backoff = Backoff::new(
        BackoffConfig::new()
            .with_initial(Duration::from_millis(250))
            .with_max(Duration::from_secs(5))
            .with_reset_after(Duration::from_secs(3)),
    );
    while !over() {
        log(&format!("connecting to {url} (attempt {})", backoff.attempt() + 1));
        // Every attempt starts from nothing: a new socket and a new Connection, so no buffered
        // bytes, half-sent message or timer survives from the connection that died.
        let timeouts = TimeoutConfig::default()
            .ping_interval(Duration::from_secs(2))
            .pong_timeout(Duration::from_secs(3));
        match common::connect(&url, common::config_from_args().timeouts(timeouts)) {
            Ok((mut stream, mut connection)) => {
                backoff.connected(now());
                log("open");
                let ended = session(&mut stream, &mut connection, &now, &log, &over);
                backoff.disconnected(now());
                match ended {
                    Ok(reason) => log(&format!("closed: {reason}")),
                    Err(error) => log(&format!("connection lost: {error}")),
                }
            }
            Err(error) => log(&format!("connect failed: {error}")),
        }
        if over() {
            break;
        }
        let Some(delay) = backoff.next_delay_random() else {
            log("giving up");
            return;
        };
        log(&format!("reconnecting in {} ms", delay.as_millis()));
        std::thread::sleep(delay);
    }
    log("done");
}

/// One connection's life: ticks out, echoes in, timers, until it ends.
fn session(
    stream: &mut TcpStream,
    connection: &mut Connection,
    clock: &impl Fn() -> Instant,
    log: &impl Fn(&str),
    over: &impl Fn() -> bool,
) -> io::Result<String> {
    let mut next_tick = clock();
    let mut ticks = 0u64;
    let mut buf = vec![0u8; 16 * 1024];
    connection.handle_timeout(clock()); // starts the keepalive timer
    loop {
        let now = clock();
        if now >= next_tick && connection.state() == State::Open {
            ticks += 1;
            common::send(stream, connection, |c| c.send_text(&format!("tick {ticks}")))?;
            next_tick = now + TICK;
            if over() {
                let _ = connection.close(rfc6455::CloseCode::NORMAL, "done");
            }
        }
        connection.handle_timeout(now);
        while let Some(event) = connection.poll_event() {
            match event {
                Event::Text(text) => log(&format!("echo: {text}")),
                Event::Pong(_) => log("pong"),
                Event::Closed(info) => {
                    let reason = info.to_string();
                    common::finish(stream, connection)?;
                    return Ok(reason);
                }
                _ => {}
            }
        }
        connection.write_to(stream)?;
        // Sleep in the socket until data, the next tick, or the connection's next deadline.
        let wake = connection.poll_timeout().map_or(next_tick, |deadline| deadline.min(next_tick));
        stream.set_read_timeout(Some((wake - clock()).max(Duration::from_millis(1))))?;
        match stream.read(&mut buf) {
            Ok(0) => connection.handle_eof(),
            Ok(n) => connection.handle_bytes(&buf[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => connection.handle_eof(),
            Err(e) => return Err(e),
        }
    }
}
