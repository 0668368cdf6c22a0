//! Keepalive, idle and close timers, in the style of quinn-proto: a few `Option<Instant>`
//! deadlines, `poll_timeout` for the earliest one, `handle_timeout(now)` to act on them.
//!
//! The connection never reads a clock. It learns the time only from `handle_timeout(now)`:
//! traffic seen by `handle_bytes` or sent by a command is stamped with the `now` of the next
//! `handle_timeout` call. Call it after every input when timers are on (it is cheap and does
//! nothing when no deadline has passed) and whenever [`Connection::poll_timeout`] comes due.

use core::time::Duration;

use super::Connection;
use super::lifecycle::Input;
use crate::close::CloseCode;
use crate::time::Instant;

/// Timer settings. Every timer is off (`None`) by default: RFC 6455 sets none of them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimeoutConfig {
    /// Send a Ping after this long with nothing received.
    pub ping_interval: Option<Duration>,
    /// After a keepalive Ping, declare the peer dead if nothing at all arrives within this
    /// long: the application sees close code 1006 with [`TimerKind::Keepalive`] and nothing
    /// more is sent. Defaults to `ping_interval` when that is set and this is not.
    pub pong_timeout: Option<Duration>,
    /// Close the connection after this long without traffic in either direction.
    pub idle_timeout: Option<Duration>,
    /// The code the idle timeout closes with. Default 1001 (going away).
    pub idle_close_code: CloseCode,
    /// After we send Close, stop waiting for the peer's Close after this long and tell the
    /// caller to drop the transport (§7.1.1 leaves this wait to the implementation).
    pub close_timeout: Option<Duration>,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self {
            ping_interval: None,
            pong_timeout: None,
            idle_timeout: None,
            idle_close_code: CloseCode::GOING_AWAY,
            close_timeout: None,
        }
    }
}

impl TimeoutConfig {
    /// Sets [`ping_interval`](Self::ping_interval).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = Some(interval);
        self
    }

    /// Sets [`pong_timeout`](Self::pong_timeout).
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.pong_timeout = Some(timeout);
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout) and the code it closes with.
    pub fn idle_timeout(mut self, timeout: Duration, code: CloseCode) -> Self {
        self.idle_timeout = Some(timeout);
        self.idle_close_code = code;
        self
    }

    /// Sets [`close_timeout`](Self::close_timeout).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = Some(timeout);
        self
    }
}

/// Which timer gave up on the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimerKind {
    /// Nothing arrived within `pong_timeout` of a keepalive Ping.
    Keepalive,
    /// No traffic either way for `idle_timeout` (we sent Close).
    Idle,
    /// The peer did not answer our Close within `close_timeout`.
    Close,
}

/// The timers' state. The durations are read from the connection's [`TimeoutConfig`], passed
/// in, not copied here: every connection would carry them twice.
pub(super) struct Timers {
    /// The latest `now` seen.
    now: Option<Instant>,
    received: bool,
    sent: bool,
    close_sent: bool,
    last_receive: Option<Instant>,
    last_activity: Option<Instant>,
    /// When the keepalive Ping went out and we started waiting for any reply.
    awaiting_since: Option<Instant>,
    close_deadline: Option<Instant>,
    /// After the end: when to stop waiting for the output to drain or for the server to close
    /// the transport (the close timeout again, from the end).
    linger_deadline: Option<Instant>,
}

impl Timers {
    pub(super) fn new() -> Self {
        Self {
            now: None,
            received: false,
            sent: false,
            close_sent: false,
            last_receive: None,
            last_activity: None,
            awaiting_since: None,
            close_deadline: None,
            linger_deadline: None,
        }
    }

    pub(super) fn on_receive(&mut self) {
        self.received = true;
    }

    pub(super) fn on_send(&mut self) {
        self.sent = true;
    }

    /// We sent a Close: from now the close timer runs, armed at once from the latest `now`
    /// seen (so `poll_timeout` has the deadline without another `handle_timeout`), or at the
    /// next `handle_timeout` if time was never given.
    pub(super) fn on_close_sent(&mut self, config: &TimeoutConfig) {
        self.close_sent = true;
        if let (None, Some(now), Some(timeout)) = (self.close_deadline, self.now, config.close_timeout) {
            self.close_deadline = Some(now + timeout);
        }
    }

    fn ping_deadline(&self, config: &TimeoutConfig) -> Option<Instant> {
        if self.awaiting_since.is_some() || self.close_sent {
            return None;
        }
        Some(self.last_receive? + config.ping_interval?)
    }

    fn dead_deadline(&self, config: &TimeoutConfig) -> Option<Instant> {
        Some(self.awaiting_since? + config.pong_timeout.or(config.ping_interval)?)
    }

    fn idle_deadline(&self, config: &TimeoutConfig) -> Option<Instant> {
        if self.close_sent {
            return None;
        }
        Some(self.last_activity? + config.idle_timeout?)
    }

    /// The earliest deadline of a connection that has not ended (after the end, only the
    /// linger deadline is timed: see `poll_timeout`).
    fn earliest(&self, config: &TimeoutConfig) -> Option<Instant> {
        [
            self.ping_deadline(config),
            self.dead_deadline(config),
            self.idle_deadline(config),
            self.close_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl Connection {
    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if any timer is
    /// armed. Timers start with the first `handle_timeout` call, which tells the connection
    /// the time.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.life.is_closed() {
            // Only the wait for the transport to be droppable is timed after the end.
            return self.timers.linger_deadline.filter(|_| !self.should_drop_transport());
        }
        self.timers.earliest(&self.config.timeouts)
    }

    /// Tells the connection the time, stamping traffic seen since the last call with `now`,
    /// and fires every timer whose deadline is at or before `now`: a keepalive Ping, a dead
    /// peer (an [`Event::Closed`](super::Event::Closed) with 1006), an idle close, or the end of
    /// the wait for the peer's Close. Then drain events and output as after any input.
    ///
    /// After the end no event follows; with a close timeout, the wait until the transport may
    /// be dropped (output to drain, or a client's wait for the server to close) is bounded by
    /// it, counted from the first call after the end.
    pub fn handle_timeout(&mut self, now: Instant) {
        // After the end the connection's own timers no longer run: the end is final
        // (`Lifecycle::Closed` is never left), so this branch is the only one taken from then.
        if self.life.is_closed() {
            if self.should_drop_transport() {
                return;
            }
            let Some(timeout) = self.config.timeouts.close_timeout else { return };
            let deadline = *self.timers.linger_deadline.get_or_insert(now + timeout);
            if deadline <= now {
                self.transition(Input::GiveUp(TimerKind::Close));
            }
            return;
        }
        let t = &mut self.timers;
        let config = &self.config.timeouts;
        t.now = Some(now);
        if t.received || t.last_receive.is_none() {
            t.last_receive = Some(now);
            t.awaiting_since = None;
        }
        if t.received || t.sent || t.last_activity.is_none() {
            t.last_activity = Some(now);
        }
        t.received = false;
        t.sent = false;
        if t.close_sent && t.close_deadline.is_none() {
            t.close_deadline = config.close_timeout.map(|timeout| now + timeout);
        }

        if t.close_deadline.is_some_and(|deadline| deadline <= now) {
            self.give_up(TimerKind::Close);
            return;
        }
        if t.dead_deadline(config).is_some_and(|deadline| deadline <= now) {
            self.give_up(TimerKind::Keepalive);
            return;
        }
        if t.idle_deadline(config).is_some_and(|deadline| deadline <= now) && self.life.is_open() {
            let code = self.config.timeouts.idle_close_code;
            // An idle close needs no data in flight; if the code is not sendable the caller
            // configured it wrongly, and we close with 1001 instead.
            if self.close(code, "idle timeout").is_err() {
                let _ = self.close(CloseCode::GOING_AWAY, "idle timeout");
            }
            self.timers.close_deadline = self.config.timeouts.close_timeout.map(|timeout| now + timeout);
            return;
        }
        if self.timers.ping_deadline(&self.config.timeouts).is_some_and(|deadline| deadline <= now)
            && self.life.is_open()
        {
            // An empty payload is always a valid Ping.
            let _ = self.out.write_control(crate::frame::OpCode::Ping, b"");
            self.timers.awaiting_since = Some(now);
            // The Ping itself is traffic for the idle timer.
            self.timers.last_activity = Some(now);
        }
    }

    fn give_up(&mut self, kind: TimerKind) {
        // §7.1.1 leaves nothing more to say to a peer we gave up on: the transition drops the
        // pending output.
        self.transition(Input::GiveUp(kind));
    }
}
