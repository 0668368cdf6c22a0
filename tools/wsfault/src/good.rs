//! Good clients: they run beside every fault for its whole length, each on its own
//! connection straight to the server, sending a message every 10 ms (at most 4 unanswered,
//! 16 B to 2 KiB, every 16th 64 KiB, text and binary in turn) and checking every echo: its
//! connection id is theirs, its sequence number the next one expected (no loss, no
//! duplicate, no reordering), its checksum and body intact. At the end each sends its last
//! messages, waits for their echoes and closes cleanly.

use std::fmt;
use std::time::Duration;

use rfc6455_tokio::{CloseCode, Message, Options};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::{Rng, payload};

/// How long an unanswered message may wait before it counts as lost.
const LOST_AFTER: Duration = Duration::from_secs(5);

/// What one good client saw.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Messages sent.
    pub sent: u64,
    /// Echoes received intact and in order.
    pub echoed: u64,
    /// Everything that went wrong (empty when all was well).
    pub problems: Vec<String>,
}

/// The good clients' combined result.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// How many clients ran.
    pub clients: usize,
    /// Messages sent by all.
    pub sent: u64,
    /// Echoes received intact and in order by all.
    pub echoed: u64,
    /// Every problem any client saw, prefixed with its id.
    pub problems: Vec<String>,
}

impl Report {
    /// Nothing lost, duplicated, corrupted or misdelivered, and every client closed cleanly.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.sent == self.echoed && self.sent > 0
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} good clients: {} sent, {} echoed", self.clients, self.sent, self.echoed)?;
        if self.sent > self.echoed {
            write!(f, ", {} lost", self.sent - self.echoed)?;
        }
        if let Some(first) = self.problems.first() {
            write!(f, ", {} problem(s), first: {first}", self.problems.len())?;
        }
        Ok(())
    }
}

/// Good clients running against a server.
#[derive(Debug)]
pub struct GoodClients {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Tally>>,
}

impl GoodClients {
    /// Connects `count` clients to `url` (ids `first_id..`) and starts them; fails if one
    /// cannot connect.
    pub async fn start(url: &str, count: u32, first_id: u32) -> Result<Self, rfc6455_tokio::Error> {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for id in first_id..first_id + count {
            let ws = rfc6455_tokio::connect_with(url, Options::default()).await?;
            tasks.push(tokio::spawn(run(ws, id, stopped.clone())));
        }
        Ok(Self { stop, tasks })
    }

    /// Stops them: each finishes its messages in flight and closes; returns what they saw.
    pub async fn finish(self) -> Report {
        self.stop.send_replace(true);
        let mut report = Report { clients: self.tasks.len(), ..Report::default() };
        for task in self.tasks {
            match task.await {
                Ok(tally) => {
                    report.sent += tally.sent;
                    report.echoed += tally.echoed;
                    report.problems.extend(tally.problems);
                }
                Err(error) => report.problems.push(format!("client task failed: {error}")),
            }
        }
        report
    }
}

async fn run(
    mut ws: rfc6455_tokio::WebSocket<rfc6455_tokio::ClientStream>,
    id: u32,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let mut tally = Tally::default();
    let mut rng = Rng::new(u64::from(id) * 7919 + 1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut stopping = false;
    let mut waiting_since = Instant::now();
    loop {
        let in_flight = tally.sent - tally.echoed;
        if stopping && in_flight == 0 {
            break;
        }
        if in_flight > 0 && waiting_since.elapsed() > LOST_AFTER {
            tally.problems.push(format!("[{id}] no echo for {LOST_AFTER:?} ({in_flight} in flight)"));
            return tally;
        }
        tokio::select! {
            _ = tick.tick(), if !stopping && in_flight < 4 => {
                let seq = tally.sent;
                let size = if seq % 16 == 15 { 64 * 1024 } else { 16 + rng.below(2032) as usize };
                if in_flight == 0 {
                    waiting_since = Instant::now();
                }
                if let Err(error) = ws.send(payload::message(id, seq, size, seq % 2 == 0)).await {
                    tally.problems.push(format!("[{id}] send failed: {error}"));
                    return tally;
                }
                tally.sent += 1;
            }
            received = ws.recv() => match received {
                Some(Ok(message)) if message.is_data() => {
                    match payload::check(&message) {
                        Ok(stamp) if stamp.id != id => {
                            tally.problems.push(format!("[{id}] got connection {}'s message {}", stamp.id, stamp.seq));
                        }
                        Ok(stamp) if stamp.seq != tally.echoed => {
                            tally.problems.push(format!("[{id}] got seq {} expecting {}", stamp.seq, tally.echoed));
                        }
                        Ok(_) => {
                            tally.echoed += 1;
                            waiting_since = Instant::now();
                        }
                        Err(corrupt) => tally.problems.push(format!("[{id}] {corrupt}")),
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(other)) => {
                    tally.problems.push(format!("[{id}] the server ended the connection: {other:?}"));
                    return tally;
                }
                Some(Err(error)) => {
                    tally.problems.push(format!("[{id}] connection failed: {error}"));
                    return tally;
                }
                None => {
                    tally.problems.push(format!("[{id}] connection ended"));
                    return tally;
                }
            },
            _ = stop.changed(), if !stopping => stopping = true,
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    if let Err(error) = ws.close(CloseCode::NORMAL, "done").await {
        tally.problems.push(format!("[{id}] close failed: {error}"));
    } else if !ws.close_info().is_some_and(|info| info.is_clean()) {
        tally.problems.push(format!("[{id}] close not clean: {:?}", ws.close_info()));
    }
    tally
}
