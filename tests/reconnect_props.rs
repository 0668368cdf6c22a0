//! Properties of the reconnect backoff policy (`rfc6455::reconnect`).

// proptest needs std.
#![cfg(feature = "std")]

use core::time::Duration;

use proptest::prelude::*;
use rfc6455::reconnect::{Backoff, BackoffConfig};
use rfc6455::time::Instant;

/// `min(max, initial * 2^attempt)`, computed independently of the crate (by repeated doubling
/// with saturation) so the property checks the formula, not the implementation against itself.
fn bound(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let mut ceiling = initial;
    for _ in 0..attempt {
        if ceiling >= max {
            break;
        }
        ceiling = ceiling.saturating_mul(2);
    }
    ceiling.min(max)
}

/// Durations from zero to the largest `Duration`, weighted toward realistic values.
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        4 => (0u64..=120_000).prop_map(Duration::from_millis),
        2 => any::<u64>().prop_map(Duration::from_nanos),
        1 => (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        1 => Just(Duration::ZERO),
        1 => Just(Duration::MAX),
    ]
}

fn config() -> impl Strategy<Value = BackoffConfig> {
    (duration(), duration(), proptest::option::of(0u32..200), duration()).prop_map(
        |(initial, max, max_attempts, reset_after)| {
            BackoffConfig::new()
                .with_initial(initial)
                .with_max(max)
                .with_max_attempts(max_attempts)
                .with_reset_after(reset_after)
        },
    )
}

/// What the caller may do between delays.
#[derive(Debug, Clone)]
enum Step {
    /// A failed attempt: ask for the next delay with these random bits.
    Fail(u64),
    /// A connection that stayed up this long, then dropped, reported with
    /// `connected`/`disconnected`.
    Session(Duration),
    /// A connection's uptime, reported with `record_uptime`.
    Uptime(Duration),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => any::<u64>().prop_map(Step::Fail),
        1 => (0u64..=60_000).prop_map(|ms| Step::Session(Duration::from_millis(ms))),
        1 => duration().prop_map(Step::Uptime),
    ]
}

proptest! {
    /// Every delay is at most `min(max, initial * 2^attempt)` where `attempt` counts the
    /// delays since the last reset, whatever the config, the random bits and the resets.
    #[test]
    fn every_delay_is_within_the_ceiling(
        config in config(),
        steps in proptest::collection::vec(step(), 0..300),
    ) {
        let mut backoff = Backoff::new(config);
        let mut attempt = 0u32; // our own count, independent of the crate's
        // Virtual time, advanced by session lengths only, so it cannot overflow.
        let mut now = Instant::ZERO;
        for step in steps {
            match step {
                Step::Fail(random) => {
                    let exhausted = config.max_attempts().is_some_and(|limit| attempt >= limit);
                    match backoff.next_delay(random) {
                        None => prop_assert!(exhausted, "gave up at attempt {attempt}"),
                        Some(delay) => {
                            prop_assert!(!exhausted, "delay past the limit at attempt {attempt}");
                            let bound = bound(config.initial(), config.max(), attempt);
                            prop_assert!(
                                delay <= bound,
                                "attempt {attempt}: {delay:?} > {bound:?}"
                            );
                            attempt += 1;
                        }
                    }
                }
                Step::Session(uptime) => {
                    backoff.connected(now);
                    now += uptime;
                    backoff.disconnected(now);
                    if uptime >= config.reset_after() {
                        attempt = 0;
                    }
                }
                Step::Uptime(uptime) => {
                    backoff.record_uptime(uptime);
                    if uptime >= config.reset_after() {
                        attempt = 0;
                    }
                }
            }
            prop_assert_eq!(backoff.attempt(), attempt);
        }
    }

    /// All-ones random bits give exactly the ceiling, all-zeros give zero.
    #[test]
    fn extreme_bits_hit_both_ends(config in config(), attempts in 0u32..300) {
        let mut backoff = Backoff::new(config.with_max_attempts(None));
        for _ in 0..attempts {
            backoff.next_delay(0);
        }
        let ceiling = bound(config.initial(), config.max(), attempts);
        prop_assert_eq!(backoff.ceiling(), ceiling);
        prop_assert_eq!(backoff.clone().next_delay(0), Some(Duration::ZERO));
        prop_assert_eq!(backoff.next_delay(u64::MAX), Some(ceiling));
    }

    /// Larger random bits never give a shorter delay (the mapping is monotonic).
    #[test]
    fn delay_is_monotonic_in_the_random_bits(config in config(), a in any::<u64>(), b in any::<u64>()) {
        let (low, high) = (a.min(b), a.max(b));
        let backoff = Backoff::new(config.with_max_attempts(None));
        prop_assert!(backoff.clone().next_delay(low) <= backoff.clone().next_delay(high));
    }
}
