//! Network faults on loopback against a WebSocket server.
//!
//! This machine has no `tc netem`, so faults are made by a TCP [`proxy`] of our own that sits
//! between one client and the server: it delays (with jitter), caps bandwidth, cuts writes
//! into 1-byte pieces, resets mid-frame (`SO_LINGER` 0), half-closes (shuts the write side
//! without a Close frame) or freezes (stops forwarding, keeps the sockets open). Its plan can
//! be changed while a connection runs, so a scenario opens a WebSocket through a clean proxy
//! and then turns the fault on.
//!
//! The [`scenarios`] run each fault against a server process started for the scenario, with a
//! few [`good`] clients beside it the whole time whose every message carries a connection id,
//! a sequence number and a checksum ([`payload`]), so that "nothing lost, nothing duplicated,
//! nothing corrupted, nothing delivered to the wrong connection" is checked. What the server
//! did is observed from outside ([`probe`]): whether it still holds the socket of a
//! connection (`/proc/net/tcp`) and its resident memory (`/proc/PID/status`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod args;
pub mod good;
pub mod payload;
pub mod probe;
pub mod proxy;
pub mod raw;
pub mod scenarios;
pub mod server;

/// A small xorshift generator: jitter and message sizes need variety, not quality.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value; zero is replaced).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// A generator seeded from the clock.
    pub fn from_clock() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Self::new(nanos)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`0` when `n` is zero).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}
