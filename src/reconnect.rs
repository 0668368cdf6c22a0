//! Reconnect backoff for clients: how long to wait before the next connection attempt.
//!
//! This module owns one policy, [`Backoff`]: exponential growth of the wait, a cap, "full
//! jitter" so that many clients dropped at once do not come back in lockstep, a reset once a
//! connection has stayed up long enough, and an optional limit on attempts. It never sleeps,
//! never reads a clock and never draws randomness itself: the caller passes the time and the
//! random bits in and does the waiting, so the policy works the same over std, tokio, an
//! embedded executor or a test with virtual time.
//!
//! The delay before retry number `attempt` (counting from 0 since the last reset) is drawn
//! uniformly from `[0, ceiling]`, where `ceiling = min(max, initial * 2^attempt)`. This is the
//! "full jitter" scheme: spreading every retry over the whole window, rather than adding a
//! little noise to a fixed delay, is what breaks up a herd of clients that all lost the same
//! server at the same moment.
//!
//! RFC 6455 §7.2.3 asks this of clients: after an abnormal closure the first reconnect
//! attempt SHOULD be delayed by a random amount (0 to 5 seconds is its example) and later ones
//! by increasingly longer amounts, "using a method such as truncated binary exponential
//! backoff", which is what the doubling up to a cap is.

use core::time::Duration;

use crate::time::Instant;

/// Settings for a [`Backoff`]. Start from [`BackoffConfig::new`] (the defaults) and adjust with
/// the `with_*` methods.
///
/// | setting | default | meaning |
/// |---|---|---|
/// | [`initial`](Self::initial) | 500 ms | ceiling of the first delay |
/// | [`max`](Self::max) | 30 s | no delay ever exceeds this |
/// | [`max_attempts`](Self::max_attempts) | `None` (retry forever) | delays handed out before giving up |
/// | [`reset_after`](Self::reset_after) | 10 s | a connection up this long resets the backoff |
///
/// ```
/// use core::time::Duration;
/// use rfc6455::reconnect::BackoffConfig;
///
/// let config = BackoffConfig::new()
///     .with_initial(Duration::from_millis(250))
///     .with_max(Duration::from_secs(60))
///     .with_max_attempts(Some(10));
/// assert_eq!(config.reset_after(), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BackoffConfig {
    initial: Duration,
    max: Duration,
    max_attempts: Option<u32>,
    reset_after: Duration,
}

impl BackoffConfig {
    /// The default ceiling of the first delay: 500 ms.
    pub const DEFAULT_INITIAL: Duration = Duration::from_millis(500);
    /// The default cap on every delay: 30 s.
    pub const DEFAULT_MAX: Duration = Duration::from_secs(30);
    /// The default uptime after which a connection counts as healthy: 10 s.
    pub const DEFAULT_RESET_AFTER: Duration = Duration::from_secs(10);

    /// The defaults: 500 ms initial ceiling, 30 s cap, no attempt limit, reset after 10 s up.
    pub const fn new() -> Self {
        Self {
            initial: Self::DEFAULT_INITIAL,
            max: Self::DEFAULT_MAX,
            max_attempts: None,
            reset_after: Self::DEFAULT_RESET_AFTER,
        }
    }

    /// Sets the ceiling of the first delay; each further attempt doubles it up to
    /// [`max`](Self::max).
    ///
    /// Zero makes every delay zero: the client retries at once, forever (unless
    /// [`max_attempts`](Self::max_attempts) is set). That is rarely what a client wants.
    #[must_use]
    pub const fn with_initial(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    /// Sets the cap: no delay exceeds it, however many attempts have failed. A cap below
    /// [`initial`](Self::initial) wins over it.
    #[must_use]
    pub const fn with_max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// Sets how many delays [`Backoff::next_delay`] hands out before it returns `None`
    /// (give up). `None`, the default, retries forever.
    ///
    /// The first connection attempt is not counted: `Some(3)` allows the first attempt and
    /// three retries. `Some(0)` never retries.
    #[must_use]
    pub const fn with_max_attempts(mut self, max_attempts: Option<u32>) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets how long a connection must stay up for its end to reset the backoff to the first
    /// attempt (see [`Backoff::record_uptime`]).
    ///
    /// A connection that opens and then drops at once (a server that accepts and crashes, a
    /// proxy that cuts idle links) must not reset the backoff, or the client would hammer the
    /// server with `initial`-sized delays forever.
    #[must_use]
    pub const fn with_reset_after(mut self, reset_after: Duration) -> Self {
        self.reset_after = reset_after;
        self
    }

    /// The ceiling of the first delay.
    pub const fn initial(&self) -> Duration {
        self.initial
    }

    /// The cap on every delay.
    pub const fn max(&self) -> Duration {
        self.max
    }

    /// How many delays are handed out before giving up; `None` retries forever.
    pub const fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    /// The uptime after which a connection's end resets the backoff.
    pub const fn reset_after(&self) -> Duration {
        self.reset_after
    }

    /// The largest delay retry number `attempt` (from 0) may get:
    /// `min(max, initial * 2^attempt)`, saturating rather than overflowing.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let initial = self.initial.as_nanos();
        // `initial * 2^attempt` in nanoseconds, or "above any cap" when it would overflow:
        // `Duration::MAX` is below 2^94 ns, so an overflowing product is above every cap.
        // Zero stays zero however large the factor.
        let grown = match 1u128.checked_shl(attempt) {
            _ if initial == 0 => 0,
            Some(factor) => initial.saturating_mul(factor),
            None => u128::MAX,
        };
        nanos_to_duration(grown.min(self.max.as_nanos()))
    }
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// A client's reconnect policy: exponential backoff with a cap and full jitter.
///
/// The caller drives it with three kinds of calls:
///
/// * [`next_delay`](Self::next_delay) after a failed connection attempt or a dropped
///   connection: it returns how long to wait before trying again, or `None` once
///   [`max_attempts`](BackoffConfig::max_attempts) delays have been handed out (give up).
///   The caller supplies 64 random bits per call (with the `std` feature,
///   `next_delay_random` draws them from `rand`).
/// * [`connected`](Self::connected) when a connection opens (the handshake completed) and
///   [`disconnected`](Self::disconnected) when it ends, each with the current time as the
///   crate's [`Instant`] (the same `now` the connection's timers take). A connection that
///   stayed up for [`reset_after`](BackoffConfig::reset_after) resets the backoff. Callers who
///   measure uptime themselves call [`record_uptime`](Self::record_uptime) instead.
/// * [`reset`](Self::reset) to start over by hand (e.g. the user pressed "reconnect now").
///
/// It never sleeps: waiting is the caller's business, with whatever timer its runtime offers.
///
/// # Example: a reconnect loop
///
/// The loop below fails five times in a row, then holds a connection for a minute, which
/// resets the backoff, then fails until the attempt limit says to give up. Real code would
/// sleep for each delay and take the randomness from an RNG; here a fixed stream stands in.
///
/// ```
/// use core::time::Duration;
/// use rfc6455::reconnect::{Backoff, BackoffConfig};
/// use rfc6455::time::Instant;
///
/// let mut backoff = Backoff::new(
///     BackoffConfig::new()
///         .with_initial(Duration::from_millis(500))
///         .with_max(Duration::from_secs(30))
///         .with_max_attempts(Some(8)),
/// );
/// let mut random_bits = [u64::MAX, 1 << 63, 3 << 62, u64::MAX].into_iter().cycle();
/// let mut now = Instant::ZERO; // simulated below; real code reads its clock at each step
///
/// let mut delays = Vec::new();
/// let mut tries = 0;
/// loop {
///     tries += 1;
///     // "Connect": fail five times, then stay up for 60 s, then fail for good.
///     if tries == 6 {
///         backoff.connected(now);
///         now += Duration::from_secs(60);
///         backoff.disconnected(now); // up 60 s >= reset_after (10 s): backoff starts over
///     }
///     let Some(delay) = backoff.next_delay(random_bits.next().unwrap()) else {
///         println!("giving up after {tries} tries");
///         break;
///     };
///     println!("try {tries} ended; retrying in {delay:?}");
///     delays.push(delay);
///     now += delay; // real code: sleep(delay), then read the clock again
/// }
///
/// assert_eq!(delays[0], Duration::from_millis(500)); // all-ones bits: the full ceiling
/// assert!(delays[5] <= Duration::from_millis(500)); // reset by the long connection
/// assert_eq!(delays.len(), 5 + 8);
/// assert!(delays.iter().all(|d| *d <= Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    /// Delays handed out since the last reset; the next delay's ceiling grows with it.
    attempt: u32,
    /// When the current connection opened, if one is open.
    connected_at: Option<Instant>,
}

impl Backoff {
    /// A fresh policy: the next delay is the first attempt's.
    pub const fn new(config: BackoffConfig) -> Self {
        Self { config, attempt: 0, connected_at: None }
    }

    /// The settings this policy runs with.
    pub const fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// How many delays have been handed out since the last reset.
    pub const fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The largest delay the next call to [`next_delay`](Self::next_delay) may return.
    pub fn ceiling(&self) -> Duration {
        self.config.ceiling(self.attempt)
    }

    /// Whether the attempt limit is used up, so that [`next_delay`](Self::next_delay) returns
    /// `None` until the next reset.
    pub const fn is_exhausted(&self) -> bool {
        match self.config.max_attempts {
            Some(limit) => self.attempt >= limit,
            None => false,
        }
    }

    /// The delay to wait before the next connection attempt, or `None` to give up.
    ///
    /// Call it once per failed attempt or dropped connection. `random` should be 64 uniformly
    /// random bits, fresh for each call; the delay is `ceiling() * random / u64::MAX` rounded
    /// down to the nanosecond, so `0` gives zero and `u64::MAX` gives the ceiling exactly. The
    /// randomness need not be cryptographically strong: it only spreads clients apart in time.
    ///
    /// Returns `None`, without counting an attempt, once
    /// [`max_attempts`](BackoffConfig::max_attempts) delays have been handed out since the last
    /// reset.
    pub fn next_delay(&mut self, random: u64) -> Option<Duration> {
        if self.is_exhausted() {
            return None;
        }
        let ceiling = self.ceiling();
        // Saturating: past u32::MAX attempts the ceiling is long since pinned at `max`.
        self.attempt = self.attempt.saturating_add(1);
        Some(scale(random, ceiling))
    }

    /// [`next_delay`](Self::next_delay) with the random bits drawn from `rand`'s thread-local
    /// generator.
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn next_delay_random(&mut self) -> Option<Duration> {
        self.next_delay(rand::random())
    }

    /// Reports that a connection opened at time `now`. Call it once the opening handshake has
    /// completed, not when TCP connects.
    ///
    /// It does not reset the backoff by itself: only a connection that then stays up for
    /// [`reset_after`](BackoffConfig::reset_after) does, when [`disconnected`](Self::disconnected)
    /// reports its end.
    pub fn connected(&mut self, now: Instant) {
        self.connected_at = Some(now);
    }

    /// Reports that the connection reported by [`connected`](Self::connected) ended at time
    /// `now`. If it stayed up at least [`reset_after`](BackoffConfig::reset_after), the
    /// backoff starts over.
    ///
    /// Without a preceding `connected` (the attempt never got a connection) this does
    /// nothing. A `now` earlier than the connection's start counts as zero uptime.
    pub fn disconnected(&mut self, now: Instant) {
        if let Some(opened) = self.connected_at.take() {
            self.record_uptime(now.saturating_duration_since(opened));
        }
    }

    /// Reports that a connection ended after staying up for `uptime`; for callers who measure
    /// it themselves instead of calling [`connected`](Self::connected) and
    /// [`disconnected`](Self::disconnected). An uptime of at least
    /// [`reset_after`](BackoffConfig::reset_after) resets the backoff.
    pub fn record_uptime(&mut self, uptime: Duration) {
        if uptime >= self.config.reset_after {
            self.reset();
        }
    }

    /// Starts over: the next delay is the first attempt's, and the attempt limit is full again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(BackoffConfig::new())
    }
}

/// Maps 64 random bits onto `[0, ceiling]`: `floor(ceiling * random / u64::MAX)` in
/// nanoseconds, so both ends are reached exactly and the mapping is monotonic.
fn scale(random: u64, ceiling: Duration) -> Duration {
    // `ceiling * random` can reach 2^158, too wide for u128. With
    // `ceiling = quotient * u64::MAX + remainder`, the product over u64::MAX is
    // `random * quotient + (random * remainder) / u64::MAX` and the first term is exact.
    // `quotient` is below 2^30 (`Duration::MAX` is below 2^94 ns) and `remainder` below 2^64,
    // so neither product overflows, and the sum is at most `ceiling`.
    let all_ones = u128::from(u64::MAX);
    let ceiling = ceiling.as_nanos();
    let (quotient, remainder) = (ceiling / all_ones, ceiling % all_ones);
    let random = u128::from(random);
    nanos_to_duration(random * quotient + random * remainder / all_ones)
}

/// Converts nanoseconds back to a `Duration`. Callers pass at most some `Duration`'s
/// `as_nanos()`, so the seconds fit in a u64; larger input saturates to `Duration::MAX`.
fn nanos_to_duration(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    match u64::try_from(nanos / NANOS_PER_SEC) {
        // The remainder is below 10^9, so it fits in a u32; the fallback is unreachable.
        Ok(secs) => Duration::new(secs, u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0)),
        Err(_) => Duration::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A fixed origin plus `offset`.
    fn at(offset: Duration) -> Instant {
        Instant::from_since_epoch(Duration::from_secs(1000)) + offset
    }

    /// A deterministic generator (SplitMix64), so failures reproduce.
    struct SplitMix(u64);

    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn defaults() {
        let config = BackoffConfig::default();
        assert_eq!(config.initial(), Duration::from_millis(500));
        assert_eq!(config.max(), Duration::from_secs(30));
        assert_eq!(config.max_attempts(), None);
        assert_eq!(config.reset_after(), Duration::from_secs(10));
        assert_eq!(Backoff::default().config(), &config);
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let config = BackoffConfig::new(); // 500 ms, cap 30 s
        let expected = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
        for (attempt, ms) in expected.into_iter().enumerate() {
            let attempt = u32::try_from(attempt).unwrap();
            assert_eq!(config.ceiling(attempt), ms * MS, "attempt {attempt}");
        }
    }

    #[test]
    fn extreme_bits_hit_zero_and_the_ceiling_exactly() {
        let mut backoff = Backoff::default();
        for attempt in 0..40 {
            let ceiling = backoff.ceiling();
            let mut low = backoff.clone();
            assert_eq!(low.next_delay(0), Some(Duration::ZERO), "attempt {attempt}");
            assert_eq!(backoff.next_delay(u64::MAX), Some(ceiling), "attempt {attempt}");
        }
        assert_eq!(backoff.ceiling(), Duration::from_secs(30));
    }

    #[test]
    fn sequence_stays_within_bounds() {
        let mut rng = SplitMix(1);
        let mut backoff =
            Backoff::new(BackoffConfig::new().with_initial(100 * MS).with_max(Duration::from_secs(5)));
        for attempt in 0..200u32 {
            let bound = (100 * MS).saturating_mul(2u32.saturating_pow(attempt)).min(Duration::from_secs(5));
            let delay = backoff.next_delay(rng.next()).unwrap();
            assert!(delay <= bound, "attempt {attempt}: {delay:?} > {bound:?}");
        }
    }

    #[test]
    fn jitter_covers_the_whole_range() {
        // Feed values spanning u64 evenly at a fixed ceiling (1 s): the delays must reach
        // both ends and fill every tenth of the range.
        let config =
            BackoffConfig::new().with_initial(Duration::from_secs(1)).with_max(Duration::from_secs(1));
        let ceiling = Duration::from_secs(1);
        let steps = 1000u64;
        let mut deciles = [0u32; 10];
        let (mut min, mut max) = (Duration::MAX, Duration::ZERO);
        for i in 0..=steps {
            let random = u64::try_from(u128::from(u64::MAX) * u128::from(i) / u128::from(steps)).unwrap();
            let delay = Backoff::new(config).next_delay(random).unwrap();
            min = min.min(delay);
            max = max.max(delay);
            let decile = (delay.as_nanos() * 10 / (ceiling.as_nanos() + 1)) as usize;
            deciles[decile] += 1;
        }
        assert_eq!(min, Duration::ZERO);
        assert_eq!(max, ceiling);
        for (i, count) in deciles.iter().enumerate() {
            assert!((99..=101).contains(count), "decile {i} got {count} of {steps}");
        }

        // And with a real pseudo-random stream: close to both ends, mean near the middle.
        let mut rng = SplitMix(42);
        let (mut min, mut max, mut sum) = (Duration::MAX, Duration::ZERO, 0u128);
        let samples = 10_000u32;
        for _ in 0..samples {
            let delay = Backoff::new(config).next_delay(rng.next()).unwrap();
            min = min.min(delay);
            max = max.max(delay);
            sum += delay.as_nanos();
        }
        assert!(min < 5 * MS, "min {min:?}");
        assert!(max > ceiling - 5 * MS, "max {max:?}");
        let mean_ms = sum / u128::from(samples) / 1_000_000;
        assert!((480..=520).contains(&mean_ms), "mean {mean_ms} ms");
    }

    #[test]
    fn cap_holds_for_all_bits() {
        let cap = Duration::from_secs(2);
        let mut backoff = Backoff::new(BackoffConfig::new().with_initial(MS).with_max(cap));
        let mut rng = SplitMix(7);
        for _ in 0..100 {
            backoff.next_delay(rng.next());
        }
        assert_eq!(backoff.ceiling(), cap);
        assert_eq!(backoff.next_delay(u64::MAX), Some(cap));
        for _ in 0..1000 {
            assert!(backoff.next_delay(rng.next()).unwrap() <= cap);
        }
    }

    #[test]
    fn cap_below_initial_wins() {
        let mut backoff = Backoff::new(
            BackoffConfig::new().with_initial(Duration::from_secs(10)).with_max(Duration::from_secs(1)),
        );
        assert_eq!(backoff.next_delay(u64::MAX), Some(Duration::from_secs(1)));
    }

    #[test]
    fn long_connection_resets() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next_delay(0);
        }
        assert_eq!(backoff.attempt(), 5);
        assert_eq!(backoff.ceiling(), 16 * Duration::from_millis(1000));

        backoff.connected(at(Duration::from_secs(100)));
        backoff.disconnected(at(Duration::from_secs(110))); // exactly reset_after: resets
        assert_eq!(backoff.attempt(), 0);
        assert_eq!(backoff.next_delay(u64::MAX), Some(500 * MS));
    }

    #[test]
    fn short_connection_does_not_reset() {
        let mut backoff = Backoff::default();
        for _ in 0..3 {
            backoff.next_delay(0);
        }
        backoff.connected(at(Duration::from_secs(100)));
        backoff.disconnected(at(Duration::from_secs(100) + 9999 * MS));
        assert_eq!(backoff.attempt(), 3);
        assert_eq!(backoff.next_delay(u64::MAX), Some(4000 * MS));
    }

    #[test]
    fn disconnected_without_connected_or_backwards_does_nothing() {
        let mut backoff = Backoff::default();
        backoff.next_delay(0);
        backoff.disconnected(at(Duration::from_secs(1000)));
        assert_eq!(backoff.attempt(), 1);
        // A clock that went backwards: zero uptime, no reset, no panic.
        backoff.connected(at(Duration::from_secs(50)));
        backoff.disconnected(at(Duration::from_secs(10)));
        assert_eq!(backoff.attempt(), 1);
        // The `connected` was consumed: a later `disconnected` does not count it again.
        backoff.disconnected(at(Duration::from_secs(1000)));
        assert_eq!(backoff.attempt(), 1);
    }

    #[test]
    fn record_uptime_and_reset() {
        let mut backoff = Backoff::default();
        backoff.next_delay(0);
        backoff.next_delay(0);
        backoff.record_uptime(Duration::from_secs(3));
        assert_eq!(backoff.attempt(), 2);
        backoff.record_uptime(Duration::from_secs(10));
        assert_eq!(backoff.attempt(), 0);
        backoff.next_delay(0);
        backoff.reset();
        assert_eq!(backoff.attempt(), 0);
    }

    #[test]
    fn max_attempts_gives_none_until_reset() {
        let mut backoff = Backoff::new(BackoffConfig::new().with_max_attempts(Some(3)));
        for _ in 0..3 {
            assert!(!backoff.is_exhausted());
            assert!(backoff.next_delay(u64::MAX).is_some());
        }
        assert!(backoff.is_exhausted());
        assert_eq!(backoff.next_delay(u64::MAX), None);
        assert_eq!(backoff.next_delay(0), None);
        assert_eq!(backoff.attempt(), 3, "giving up does not count attempts");

        backoff.record_uptime(Duration::from_secs(60));
        assert_eq!(backoff.next_delay(u64::MAX), Some(500 * MS));

        let mut never = Backoff::new(BackoffConfig::new().with_max_attempts(Some(0)));
        assert_eq!(never.next_delay(u64::MAX), None);
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let config = BackoffConfig::new().with_initial(Duration::MAX).with_max(Duration::MAX);
        for attempt in [0, 1, 63, 64, 93, 94, 127, 128, 129, u32::MAX - 1, u32::MAX] {
            assert_eq!(config.ceiling(attempt), Duration::MAX, "attempt {attempt}");
        }
        let small = BackoffConfig::new();
        for attempt in [31, 32, 63, 64, 127, 128, u32::MAX] {
            assert_eq!(small.ceiling(attempt), Duration::from_secs(30), "attempt {attempt}");
        }
        let zero = BackoffConfig::new().with_initial(Duration::ZERO);
        assert_eq!(zero.ceiling(u32::MAX), Duration::ZERO);

        // The counter itself saturates instead of wrapping back to small delays.
        let mut backoff = Backoff::new(config);
        backoff.attempt = u32::MAX - 1;
        assert_eq!(backoff.next_delay(u64::MAX), Some(Duration::MAX));
        assert_eq!(backoff.next_delay(u64::MAX), Some(Duration::MAX));
        assert_eq!(backoff.attempt(), u32::MAX);
        assert_eq!(backoff.next_delay(0), Some(Duration::ZERO));
    }

    #[test]
    fn scale_is_exact_at_the_edges() {
        let tiny = Duration::from_nanos(1);
        assert_eq!(scale(0, tiny), Duration::ZERO);
        assert_eq!(scale(u64::MAX, tiny), tiny);
        assert_eq!(scale(u64::MAX - 1, tiny), Duration::ZERO);
        assert_eq!(scale(u64::MAX, Duration::ZERO), Duration::ZERO);
        assert_eq!(scale(1 << 63, Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(scale(0, Duration::MAX), Duration::ZERO);
        assert_eq!(scale(u64::MAX, Duration::MAX), Duration::MAX);
        let half = scale(1 << 63, Duration::MAX);
        assert!(Duration::MAX / 2 <= half && half <= Duration::MAX / 2 + Duration::from_secs(1));
        assert_eq!(nanos_to_duration(Duration::MAX.as_nanos()), Duration::MAX);
        assert_eq!(nanos_to_duration(u128::MAX), Duration::MAX);
    }

    #[cfg(feature = "std")]
    #[test]
    fn random_convenience_stays_in_bounds() {
        let mut backoff = Backoff::default();
        for _ in 0..50 {
            let ceiling = backoff.ceiling();
            assert!(backoff.next_delay_random().unwrap() <= ceiling);
        }
    }
}
