//! Counting what came back: per-connection tallies merged at the end, and latencies.

use std::time::Duration;

use crate::wire::{self, Checked};

/// What one or more connections saw.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Connections opened (handshake complete).
    pub opened: u64,
    /// Connections that failed to open.
    pub open_failed: u64,
    /// Data messages sent.
    pub sent: u64,
    /// Echoes that came back intact, in order, to the right connection.
    pub echoed: u64,
    /// Messages sent whose echo never came (counted when a later one came first, or at the end).
    pub lost: u64,
    /// Echoes of a message already echoed (or never sent).
    pub duplicated: u64,
    /// Echoes whose header, length or checksum did not match.
    pub corrupted: u64,
    /// Intact echoes that carry another connection's id.
    pub misdelivered: u64,
    /// Errors nobody injected (text of the first few kept in `error_samples`).
    pub unexpected_errors: u64,
    /// A few of the unexpected errors, for the report.
    pub error_samples: Vec<String>,
    /// Round-trip times of intact echoes, in microseconds.
    pub latencies_us: Vec<u32>,
    /// Bytes of data messages sent.
    pub bytes_sent: u64,
    /// Round-trip times by phase of the run (attacks: baseline, then one per hostile kind).
    pub phased_us: Vec<Vec<u32>>,
}

impl Tally {
    /// Adds `other` into this.
    pub fn merge(&mut self, mut other: Tally) {
        self.opened += other.opened;
        self.open_failed += other.open_failed;
        self.sent += other.sent;
        self.echoed += other.echoed;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.corrupted += other.corrupted;
        self.misdelivered += other.misdelivered;
        self.unexpected_errors += other.unexpected_errors;
        self.bytes_sent += other.bytes_sent;
        for sample in other.error_samples.drain(..) {
            if self.error_samples.len() < 5 {
                self.error_samples.push(sample);
            }
        }
        self.latencies_us.append(&mut other.latencies_us);
        if self.phased_us.len() < other.phased_us.len() {
            self.phased_us.resize(other.phased_us.len(), Vec::new());
        }
        for (mine, theirs) in self.phased_us.iter_mut().zip(other.phased_us.iter_mut()) {
            mine.append(theirs);
        }
    }

    /// Records a round trip in phase `phase`.
    pub fn phased(&mut self, phase: usize, rtt: Duration) {
        if self.phased_us.len() <= phase {
            self.phased_us.resize(phase + 1, Vec::new());
        }
        self.phased_us[phase].push(rtt.as_micros().min(u128::from(u32::MAX)) as u32);
    }

    /// Records an error nobody injected.
    pub fn error(&mut self, what: impl std::fmt::Display) {
        self.unexpected_errors += 1;
        if self.error_samples.len() < 5 {
            self.error_samples.push(what.to_string());
        }
    }

    /// Whether nothing was lost, duplicated, corrupted or misdelivered, and every message
    /// sent was echoed.
    pub fn all_echoed(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.corrupted == 0
            && self.misdelivered == 0
            && self.echoed == self.sent
    }

    /// One line: sent, echoed and every kind of fault.
    pub fn summary(&self) -> String {
        format!(
            "sent {} echoed {} lost {} duplicated {} corrupted {} misdelivered {} unexpected errors {}",
            self.sent,
            self.echoed,
            self.lost,
            self.duplicated,
            self.corrupted,
            self.misdelivered,
            self.unexpected_errors
        )
    }
}

/// The messages one connection has in flight, in order, and what their echoes show.
#[derive(Debug)]
pub struct InFlight {
    conn: u32,
    /// (sequence number, when sent, length), oldest first.
    waiting: std::collections::VecDeque<(u64, tokio::time::Instant)>,
    /// The highest sequence number echoed so far, to tell a duplicate from a stray.
    last_echoed: Option<u64>,
}

impl InFlight {
    /// Nothing in flight yet for connection `conn`.
    pub fn new(conn: u32) -> Self {
        Self { conn, waiting: Default::default(), last_echoed: None }
    }

    /// Message `seq` was sent at `at`.
    pub fn sent(&mut self, seq: u64, at: tokio::time::Instant) {
        self.waiting.push_back((seq, at));
    }

    /// How many messages wait for their echo.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether no message waits for its echo.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// An echo arrived at `now`; returns its round trip when it is the expected one.
    pub fn received(
        &mut self,
        message: &[u8],
        now: tokio::time::Instant,
        tally: &mut Tally,
    ) -> Option<Duration> {
        match wire::check(message) {
            Checked::Corrupt => {
                tally.corrupted += 1;
                None
            }
            Checked::Valid { conn, .. } if conn != self.conn => {
                tally.misdelivered += 1;
                None
            }
            Checked::Valid { seq, .. } => {
                // An echo of a message already echoed, or never sent.
                if self.last_echoed.is_some_and(|last| seq <= last)
                    || !self.waiting.iter().any(|&(waiting, _)| waiting == seq)
                {
                    tally.duplicated += 1;
                    return None;
                }
                // The echo stream is ordered: everything sent before `seq` that is still
                // waiting was lost.
                while let Some(&(waiting, sent_at)) = self.waiting.front() {
                    self.waiting.pop_front();
                    if waiting == seq {
                        self.last_echoed = Some(seq);
                        tally.echoed += 1;
                        let rtt = now.saturating_duration_since(sent_at);
                        tally.latencies_us.push(rtt.as_micros().min(u128::from(u32::MAX)) as u32);
                        return Some(rtt);
                    }
                    tally.lost += 1;
                }
                None
            }
        }
    }

    /// The connection is over: whatever still waits was lost.
    pub fn finish(&mut self, tally: &mut Tally) {
        tally.lost += self.waiting.len() as u64;
        self.waiting.clear();
    }
}

/// The `p`-th percentile (0–100) of `values`, sorting them; 0 when empty.
pub fn percentile(values: &mut [u32], p: f64) -> u32 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank.min(values.len() - 1)]
}

/// Microseconds as milliseconds with two decimals.
pub fn ms(us: u32) -> String {
    format!("{:.2} ms", f64::from(us) / 1000.0)
}
