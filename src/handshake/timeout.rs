//! A deadline for the opening handshake: a server gives up on a client whose request head has
//! not arrived in time (answering `408`), a client gives up waiting for the response.
//!
//! Like every timer in this crate it reads no clock: the caller passes `now`.

use core::time::Duration;

use super::HandshakeError;
use crate::time::Instant;

/// A handshake deadline.
///
/// ```
/// use std::time::Duration;
/// use rfc6455::handshake::{HandshakeError, HandshakeTimeout, Reject};
/// use rfc6455::time::Epoch;
///
/// let epoch = Epoch::new(std::time::Instant::now()); // the caller's clock
/// let start = epoch.instant(std::time::Instant::now());
/// let timeout = HandshakeTimeout::new(start, Duration::from_secs(10));
/// // Sleep until `timeout.deadline()` or until bytes arrive, whichever comes first; then:
/// assert_eq!(timeout.check(start + Duration::from_secs(9)), Ok(()));
/// let error = timeout.check(start + Duration::from_secs(10)).unwrap_err();
/// assert_eq!(error, HandshakeError::Timeout);
/// let mut out = Vec::new();
/// Reject::for_error(&error).write(&mut out).unwrap(); // a server answers 408
/// assert!(out.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeTimeout {
    deadline: Instant,
}

impl HandshakeTimeout {
    /// A deadline `timeout` after `now` (when the connection was accepted or the request sent).
    pub fn new(now: Instant, timeout: Duration) -> Self {
        Self { deadline: now + timeout }
    }

    /// When the handshake must have completed: wake up then and call [`check`](Self::check).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// `Err(HandshakeError::Timeout)` once `now` has reached the deadline.
    pub fn check(&self, now: Instant) -> Result<(), HandshakeError> {
        if now >= self.deadline { Err(HandshakeError::Timeout) } else { Ok(()) }
    }
}
