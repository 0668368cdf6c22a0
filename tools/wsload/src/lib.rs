//! wsload: load, soak, attack and reconnect-storm scenarios for a WebSocket server over
//! loopback TCP. The binaries are `wsload` (the load generator and scenario runner) and
//! `wsload-server` (the echo server under test, on `rfc6455-tokio`).
//!
//! Every data message carries a header with the connection id, a sequence number, the length
//! and an FNV-1a checksum over all of it, so that lost, duplicated, corrupted and misdelivered
//! echoes are counted, not assumed (see [`wire`]).

#![forbid(unsafe_code)]

pub mod args;
pub mod hostile;
pub mod net;
pub mod procfs;
pub mod report;
pub mod scenarios;
pub mod server;
pub mod stats;
pub mod wire;

/// A small, fast pseudo-random generator (xorshift64*): message sizes, kinds, timings and the
/// reconnect jitter's random bits. Not for anything secret.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value; 0 is remapped).
    pub fn new(seed: u64) -> Self {
        Self(splitmix(seed) | 1)
    }

    /// A generator seeded from the clock and `salt`.
    pub fn from_time(salt: u64) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Self::new(nanos ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `[low, high)` (`low` when the range is empty).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low { low } else { low + self.next_u64() % (high - low) }
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Raises the soft open-files limit to the hard one (this machine: 20,000), so that one
/// process holds as many connections as it may.
pub fn raise_nofile_limit() -> u64 {
    match rlimit::Resource::NOFILE.get() {
        Ok((soft, hard)) => {
            if soft < hard && rlimit::Resource::NOFILE.set(hard, hard).is_ok() {
                return hard;
            }
            soft
        }
        Err(_) => 0,
    }
}
