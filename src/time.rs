//! The clock type the timers use. The crate never reads a clock: `now` always comes in as an
//! argument.
//!
//! With `std` this is `std::time::Instant`. Without it, [`Instant`] is a small newtype over a
//! [`Duration`] since any epoch the caller chooses (boot, a hardware timer), so the timers work
//! on `no_std` targets too.

#[cfg(feature = "std")]
pub use std::time::Instant;

pub use core::time::Duration;

/// A point in time on a monotonic clock of the caller's choosing (the `no_std` stand-in for
/// `std::time::Instant`).
#[cfg(not(feature = "std"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub Duration);

#[cfg(not(feature = "std"))]
impl core::ops::Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs))
    }
}

#[cfg(not(feature = "std"))]
impl Instant {
    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}
