//! The clock type the timers use. The crate never reads a clock: `now` always comes in as an
//! argument.
//!
//! [`Instant`] is the same type with every feature set: a [`Duration`] since an epoch the
//! caller chooses (process start, boot, a hardware timer), so enabling `std` somewhere in a
//! dependency graph never changes a type under `no_std` code. With `std`, an [`Epoch`] turns
//! `std::time::Instant` readings into [`Instant`]s and back:
//!
//! ```
//! use std::time::Duration;
//! use rfc6455::time::Epoch;
//!
//! let start = std::time::Instant::now(); // the caller reads its clock, never the crate
//! let epoch = Epoch::new(start);
//! let now = epoch.instant(start + Duration::from_millis(1500));
//! assert_eq!(now.since_epoch(), Duration::from_millis(1500));
//! assert_eq!(epoch.to_std(now), start + Duration::from_millis(1500));
//! ```

pub use core::time::Duration;

/// A point in time on a monotonic clock of the caller's choosing: the time elapsed since the
/// clock's epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Self = Self(Duration::ZERO);

    /// The instant `elapsed` after the epoch.
    pub const fn from_since_epoch(elapsed: Duration) -> Self {
        Self(elapsed)
    }

    /// The time elapsed since the epoch.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

/// Adding saturates at the largest representable instant: a deadline that far away never
/// comes.
impl core::ops::Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs))
    }
}

impl core::ops::AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

/// Subtracting saturates at the epoch.
impl core::ops::Sub<Duration> for Instant {
    type Output = Instant;

    fn sub(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_sub(rhs))
    }
}

/// The time from `rhs` to `self`, or zero if `rhs` is later (as
/// [`saturating_duration_since`](Instant::saturating_duration_since)).
impl core::ops::Sub<Instant> for Instant {
    type Output = Duration;

    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

/// Converts `std::time::Instant` readings into [`Instant`]s and back, relative to one reading
/// taken by the caller. Keep one per connection, or one per program.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Epoch(std::time::Instant);

#[cfg(feature = "std")]
impl Epoch {
    /// An epoch at `origin`, typically `std::time::Instant::now()` when the program or the
    /// connection starts.
    pub fn new(origin: std::time::Instant) -> Self {
        Self(origin)
    }

    /// The [`Instant`] of a clock reading; readings before the epoch map to the epoch.
    pub fn instant(&self, reading: std::time::Instant) -> Instant {
        Instant(reading.saturating_duration_since(self.0))
    }

    /// The clock reading of an [`Instant`] (to sleep until a deadline).
    pub fn to_std(&self, instant: Instant) -> std::time::Instant {
        self.0.checked_add(instant.0).unwrap_or(self.0 + Duration::from_secs(u32::MAX.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_since_epoch(Duration::from_secs(5));
        assert_eq!(t + Duration::from_secs(2), Instant::from_since_epoch(Duration::from_secs(7)));
        assert_eq!(
            Instant::from_since_epoch(Duration::MAX) + Duration::from_secs(1),
            Instant::from_since_epoch(Duration::MAX)
        );
        assert_eq!(t.saturating_duration_since(Instant::ZERO), Duration::from_secs(5));
        assert_eq!(Instant::ZERO.saturating_duration_since(t), Duration::ZERO);
        assert!(Instant::ZERO < t);
    }

    #[cfg(feature = "std")]
    #[test]
    fn epoch_round_trips() {
        let origin = std::time::Instant::now();
        let epoch = Epoch::new(origin);
        let later = origin + Duration::from_millis(250);
        assert_eq!(epoch.instant(later), Instant::from_since_epoch(Duration::from_millis(250)));
        assert_eq!(epoch.to_std(epoch.instant(later)), later);
        // A reading before the epoch is the epoch.
        if let Some(before) = origin.checked_sub(Duration::from_secs(1)) {
            assert_eq!(epoch.instant(before), Instant::ZERO);
        }
    }
}
