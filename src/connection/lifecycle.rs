//! Where a connection is in its life (RFC 6455 §7): open, closing, or ended with a reason.
//!
//! One enum and one transition function, [`Lifecycle::step`]: every way a connection ends
//! goes through it, so the reason is recorded once and reported once, and no combination of
//! "close sent", "close received", "failed" and "end of stream" can disagree with another.
//! It owns no buffer and writes nothing: it says what the connection must queue or drop.

use alloc::boxed::Box;
use core::fmt;

use crate::close::CloseCode;
use crate::fault::ProtocolError;

use super::TimerKind;

/// Where the close handshake stands (RFC 6455 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a Close and wait for the peer's (§7.1.2). Messages still arrive; none may be sent.
    CloseSent,
    /// The connection has ended ([`Event::Closed`](super::Event::Closed) says why). Only queued
    /// output (a Close) remains to be written.
    Closed,
}

/// How the connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseOrigin {
    /// The peer started the close handshake; our answer is queued (§5.5.1).
    Peer,
    /// The peer answered the Close we sent: the close handshake is complete.
    Reply,
    /// The peer broke the protocol, so we failed the connection (§7.1.7): a Close with the
    /// error's [close code](ProtocolError::close_code) is queued (unless we had sent one).
    Failed(ProtocolError),
    /// The transport ended without a Close frame (code 1006, §7.1.5).
    Eof,
    /// A timer gave up on the peer (code 1006): see [`TimerKind`].
    Timeout(TimerKind),
}

/// The longest close reason: a Close body is at most 125 bytes, two of them the code (§5.5).
const MAX_REASON: usize = 123;

/// Why and how the connection ended, reported by [`Event::Closed`](super::Event::Closed) and
/// kept by [`Connection::close_info`](super::Connection::close_info).
#[derive(Clone, PartialEq, Eq)]
pub struct CloseInfo {
    code: CloseCode,
    origin: CloseOrigin,
    /// The peer's reason, copied out of its Close frame (no allocation: it is short).
    reason: [u8; MAX_REASON],
    reason_len: u8,
}

impl CloseInfo {
    pub(super) fn new(code: CloseCode, origin: CloseOrigin, reason: &str) -> Self {
        // A reason longer than a Close frame can carry cannot come from the peer; truncate at
        // a character boundary rather than fail.
        let mut len = reason.len().min(MAX_REASON);
        while !reason.is_char_boundary(len) {
            len -= 1;
        }
        let mut bytes = [0u8; MAX_REASON];
        bytes[..len].copy_from_slice(&reason.as_bytes()[..len]);
        // `len <= MAX_REASON < 256`.
        Self { code, origin, reason: bytes, reason_len: len as u8 }
    }

    /// The close code: the peer's (1005 if its Close had no body), the one we failed the
    /// connection with, or 1006 when it ended without a Close frame.
    pub fn code(&self) -> CloseCode {
        self.code
    }

    /// The peer's close reason; empty if it gave none or the connection ended otherwise.
    pub fn reason(&self) -> &str {
        // Copied from a `&str` at a character boundary in `new`.
        core::str::from_utf8(&self.reason[..usize::from(self.reason_len)]).unwrap_or_default()
    }

    /// Who or what ended the connection.
    pub fn origin(&self) -> &CloseOrigin {
        &self.origin
    }

    /// The protocol error we failed the connection for, if that is how it ended.
    pub fn error(&self) -> Option<&ProtocolError> {
        match &self.origin {
            CloseOrigin::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// Whether both Close frames were exchanged (a clean close, §7.1.4's "cleanly").
    pub fn is_clean(&self) -> bool {
        matches!(self.origin, CloseOrigin::Peer | CloseOrigin::Reply)
    }
}

impl fmt::Debug for CloseInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloseInfo")
            .field("code", &self.code)
            .field("reason", &self.reason())
            .field("origin", &self.origin)
            .finish()
    }
}

impl fmt::Display for CloseInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            CloseOrigin::Peer => write!(f, "closed by the peer with {}", self.code)?,
            CloseOrigin::Reply => write!(f, "closed by us, answered with {}", self.code)?,
            CloseOrigin::Failed(error) => write!(f, "failed with {}: {error}", self.code)?,
            CloseOrigin::Eof => f.write_str("the transport ended without a Close (1006)")?,
            CloseOrigin::Timeout(kind) => write!(f, "gave up on the peer: {kind:?} timeout (1006)")?,
        }
        if self.reason_len > 0 {
            write!(f, " ({:?})", self.reason())?;
        }
        Ok(())
    }
}

/// What happened to the connection, the input of [`Lifecycle::step`].
#[derive(Debug)]
pub(super) enum Input<'a> {
    /// The application sent a Close (`Connection::close`, or the idle timer).
    SendClose,
    /// A valid Close frame arrived.
    PeerClose { code: Option<CloseCode>, reason: &'a str },
    /// The peer broke the protocol.
    Fail(ProtocolError),
    /// The transport reached end of stream.
    Eof,
    /// A timer gave up on the peer.
    GiveUp(TimerKind),
}

/// What the connection must do after a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// Nothing more (the input changed nothing, or only the state).
    None,
    /// Queue a Close frame: our answer to the peer's (§5.5.1: echo its code, or an empty body
    /// when it sent none), or the close code we fail the connection with (§7.1.7).
    QueueClose(Option<CloseCode>),
    /// Drop all pending output: the peer is gone or given up on, nothing more will be written.
    DropOutput,
}

/// The end of a connection: why, and what is left to do.
#[derive(Debug)]
pub(super) struct Ended {
    pub(super) info: CloseInfo,
    /// The transport has reached end of stream.
    pub(super) eof: bool,
    /// [`Event::Closed`](super::Event::Closed) has been handed out.
    pub(super) reported: bool,
    /// The close timeout ran out while waiting for the output to be written or, for a client,
    /// for the server to close the transport: drop it now.
    pub(super) abandoned: bool,
}

#[derive(Debug)]
pub(super) enum Lifecycle {
    Open,
    CloseSent,
    /// Boxed: the close information (a reason of up to 123 bytes) is needed only at the end,
    /// and kept inline it made every connection ~140 bytes larger for its whole life.
    Closed(Box<Ended>),
}

impl Lifecycle {
    /// The one transition function. Invalid inputs for a state (a second Close, anything
    /// after the end but end of stream) leave it unchanged.
    pub(super) fn step(&mut self, input: Input<'_>) -> Effect {
        let close_sent = matches!(self, Lifecycle::CloseSent);
        match (&mut *self, input) {
            (Lifecycle::Open, Input::SendClose) => {
                *self = Lifecycle::CloseSent;
                Effect::None
            }
            (Lifecycle::Open | Lifecycle::CloseSent, Input::PeerClose { code, reason }) => {
                let origin = if close_sent { CloseOrigin::Reply } else { CloseOrigin::Peer };
                let shown = code.unwrap_or(CloseCode::NO_STATUS);
                self.end(CloseInfo::new(shown, origin, reason), false);
                if close_sent { Effect::None } else { Effect::QueueClose(code) }
            }
            (Lifecycle::Open | Lifecycle::CloseSent, Input::Fail(error)) => {
                let code = error.close_code();
                self.end(CloseInfo::new(code, CloseOrigin::Failed(error), ""), false);
                if close_sent { Effect::None } else { Effect::QueueClose(Some(code)) }
            }
            (Lifecycle::Open | Lifecycle::CloseSent, Input::Eof) => {
                self.end(CloseInfo::new(CloseCode::ABNORMAL, CloseOrigin::Eof, ""), true);
                Effect::DropOutput
            }
            (Lifecycle::Open | Lifecycle::CloseSent, Input::GiveUp(kind)) => {
                self.end(CloseInfo::new(CloseCode::ABNORMAL, CloseOrigin::Timeout(kind), ""), false);
                Effect::DropOutput
            }
            // The peer may have closed only its sending side after its Close (a half-close):
            // it can still read our answer, so what is queued stays.
            (Lifecycle::Closed(ended), Input::Eof) => {
                ended.eof = true;
                Effect::None
            }
            // The close timeout after the end: stop waiting for the output to drain or for the
            // server to close the transport.
            (Lifecycle::Closed(ended), Input::GiveUp(_)) => {
                ended.abandoned = true;
                Effect::DropOutput
            }
            (Lifecycle::CloseSent | Lifecycle::Closed(_), Input::SendClose)
            | (Lifecycle::Closed(_), Input::PeerClose { .. } | Input::Fail(_)) => Effect::None,
        }
    }

    fn end(&mut self, info: CloseInfo, eof: bool) {
        *self = Lifecycle::Closed(Box::new(Ended { info, eof, reported: false, abandoned: false }));
    }

    pub(super) fn state(&self) -> State {
        match self {
            Lifecycle::Open => State::Open,
            Lifecycle::CloseSent => State::CloseSent,
            Lifecycle::Closed(_) => State::Closed,
        }
    }

    #[inline]
    pub(super) fn is_open(&self) -> bool {
        matches!(self, Lifecycle::Open)
    }

    #[inline]
    pub(super) fn is_closed(&self) -> bool {
        matches!(self, Lifecycle::Closed(_))
    }

    pub(super) fn ended(&self) -> Option<&Ended> {
        match self {
            Lifecycle::Closed(ended) => Some(&**ended),
            _ => None,
        }
    }

    /// The end, the first time it is asked for; `None` before the end and after it was
    /// reported.
    pub(super) fn report(&mut self) -> Option<&CloseInfo> {
        match self {
            Lifecycle::Closed(ended) if !ended.reported => {
                ended.reported = true;
                Some(&ended.info)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> [Input<'static>; 7] {
        [
            Input::SendClose,
            Input::PeerClose { code: Some(CloseCode::NORMAL), reason: "bye" },
            Input::PeerClose { code: None, reason: "" },
            Input::Fail(ProtocolError::MaskedFrame),
            Input::Eof,
            Input::GiveUp(TimerKind::Keepalive),
            Input::GiveUp(TimerKind::Close),
        ]
    }

    /// Every sequence of three inputs from every reachable state: the state only moves
    /// forward (Open, CloseSent, Closed), the end is recorded by the first input that ends the
    /// connection and never replaced, and a Close is queued only where §5.5.1 and §7.1.7 ask
    /// for one (never after we sent ours, never after the end).
    #[test]
    fn every_transition_is_one_the_rfc_allows() {
        let rank = |s: State| match s {
            State::Open => 0,
            State::CloseSent => 1,
            State::Closed => 2,
        };
        for a in 0..7 {
            for b in 0..7 {
                for c in 0..7 {
                    let mut life = Lifecycle::Open;
                    let mut first_end: Option<CloseInfo> = None;
                    let mut close_queued_or_sent = false;
                    for i in [a, b, c] {
                        let before = life.state();
                        let input = inputs().into_iter().nth(i).unwrap();
                        let sends_close = matches!(input, Input::SendClose) && before == State::Open;
                        let effect = life.step(input);
                        let after = life.state();
                        assert!(rank(after) >= rank(before), "{before:?} -> {after:?}");
                        if let Effect::QueueClose(_) = effect {
                            assert!(!close_queued_or_sent, "a second Close queued");
                            assert_eq!(before, State::Open, "Close queued from {before:?}");
                        }
                        close_queued_or_sent |= sends_close || matches!(effect, Effect::QueueClose(_));
                        match (&first_end, life.ended()) {
                            (None, Some(ended)) => first_end = Some(ended.info.clone()),
                            (Some(first), Some(ended)) => assert_eq!(first, &ended.info),
                            (Some(_), None) => panic!("an ended connection came back"),
                            (None, None) => {}
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_end_is_reported_once_with_its_reason() {
        let mut life = Lifecycle::Open;
        assert_eq!(life.step(Input::SendClose), Effect::None);
        assert_eq!(life.state(), State::CloseSent);
        assert_eq!(
            life.step(Input::PeerClose { code: Some(CloseCode::GOING_AWAY), reason: "later" }),
            Effect::None
        );
        let info = life.report().expect("reported once").clone();
        assert_eq!(
            (info.code(), info.reason(), info.origin()),
            (CloseCode::GOING_AWAY, "later", &CloseOrigin::Reply)
        );
        assert!(info.is_clean());
        assert!(life.report().is_none());
        // End of stream afterwards only marks the transport: a half-closed peer may still
        // read what is queued.
        assert_eq!(life.step(Input::Eof), Effect::None);
        assert!(life.ended().unwrap().eof);
        assert_eq!(life.ended().unwrap().info, info);
        // A timer after the end abandons the transport without a new reason.
        assert_eq!(life.step(Input::GiveUp(TimerKind::Close)), Effect::DropOutput);
        assert!(life.ended().unwrap().abandoned);
        assert_eq!(life.ended().unwrap().info, info);
    }

    #[test]
    fn a_failure_queues_its_close_code_unless_we_closed_first() {
        let mut open = Lifecycle::Open;
        let error = ProtocolError::FrameTooLarge { size: 10, limit: 5 };
        assert_eq!(
            open.step(Input::Fail(error.clone())),
            Effect::QueueClose(Some(CloseCode::MESSAGE_TOO_BIG))
        );
        assert_eq!(open.ended().unwrap().info.error(), Some(&error));
        assert_eq!(open.ended().unwrap().info.code(), CloseCode::MESSAGE_TOO_BIG);

        let mut closing = Lifecycle::CloseSent;
        assert_eq!(closing.step(Input::Fail(error)), Effect::None);
        assert!(!closing.ended().unwrap().info.is_clean());

        let mut peer = Lifecycle::Open;
        assert_eq!(peer.step(Input::PeerClose { code: None, reason: "" }), Effect::QueueClose(None));
        assert_eq!(peer.ended().unwrap().info.code(), CloseCode::NO_STATUS);
    }

    #[test]
    fn long_reasons_are_cut_at_a_character_boundary() {
        let reason = "é".repeat(70); // 140 bytes
        let info = CloseInfo::new(CloseCode::NORMAL, CloseOrigin::Peer, &reason);
        assert_eq!(info.reason(), "é".repeat(61));
        assert_eq!(format!("{info}"), format!("closed by the peer with 1000 ({:?})", "é".repeat(61)));
    }
}
