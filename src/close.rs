//! Close codes and Close frame payloads (RFC 6455 §5.5.1, §7.4).
//!
//! This module owns the rules for which status codes may travel on the wire and the layout
//! of a Close frame's body: nothing, or a two-byte big-endian code followed by a UTF-8
//! reason, at most 125 bytes in all. It knows nothing of connection state.

use core::fmt;

use crate::error::{ProtocolError, UsageError};
use crate::frame::MAX_CONTROL_PAYLOAD;

/// A WebSocket close status code (RFC 6455 §7.4).
///
/// A newtype rather than an enum: peers may legitimately send any code in 3000–4999, and
/// future registrations may fill the gaps. Named constants cover §7.4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure; the purpose of the connection has been fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, browser navigating away).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the endpoint is terminating the connection due to a protocol error.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: the endpoint received a type of data it cannot accept.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1005: reserved; "no status code was present". Never sent on the wire.
    pub const NO_STATUS: Self = Self(1005);
    /// 1006: reserved; the connection closed abnormally, without a Close frame. Never sent on
    /// the wire.
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: a message contained data inconsistent with its type (e.g. non-UTF-8 text).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: (client) the server did not negotiate an extension the client requires.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: (server) an unexpected condition prevented the server from fulfilling the request.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: (IANA) the service is restarting; the client may reconnect.
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: (IANA) try again later; the server is overloaded.
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: (IANA) a gateway or proxy received an invalid response from upstream.
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: reserved; the TLS handshake failed. Never sent on the wire.
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// Whether this code may appear in a Close frame (RFC 6455 §7.4.1, §7.4.2).
    ///
    /// 1000–1003 and 1007–1011 are defined by §7.4.1. 1012–1014 were registered with IANA
    /// later under §7.4.2's rule for 1000–2999 (a public specification) and are sent by real
    /// servers and accepted by browsers, so we accept them too. 3000–4999 belong to
    /// libraries, frameworks and applications (§7.4.2). 1004, 1005, 1006 and 1015 are reserved
    /// and never sent; the rest of 0–2999 and everything above 4999 is invalid.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The parsed body of a Close frame: an optional code and a reason borrowed from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code, or `None` for an empty body (the application sees 1005 then).
    pub code: Option<CloseCode>,
    /// The UTF-8 reason; empty when none was given.
    pub reason: &'a str,
}

impl<'a> CloseFrame<'a> {
    /// Parses a Close frame payload (RFC 6455 §5.5.1).
    ///
    /// Fails with [`ProtocolError::InvalidClosePayload`] for a one-byte body,
    /// [`ProtocolError::InvalidCloseCode`] for a code that may not be on the wire, and
    /// [`ProtocolError::InvalidUtf8`] for a reason that is not UTF-8 (§8.1).
    pub fn parse(payload: &'a [u8]) -> Result<Self, ProtocolError> {
        match payload {
            [] => Ok(Self { code: None, reason: "" }),
            [_] => Err(ProtocolError::InvalidClosePayload),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_sendable() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                let reason = core::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidUtf8)?;
                Ok(Self { code: Some(code), reason })
            }
        }
    }

    /// The length of the encoded payload: 0 without a code, else 2 plus the reason's bytes.
    pub fn encoded_len(&self) -> usize {
        match self.code {
            None => 0,
            Some(_) => 2 + self.reason.len(),
        }
    }

    /// Checks that this close body may be sent: a sendable code, no reason without a code,
    /// and at most 125 bytes in all (RFC 6455 §5.5).
    pub fn validate(&self) -> Result<(), UsageError> {
        match self.code {
            None if !self.reason.is_empty() => Err(UsageError::InvalidCloseCode(CloseCode::NO_STATUS.0)),
            None => Ok(()),
            Some(code) if !code.is_sendable() => Err(UsageError::InvalidCloseCode(code.0)),
            Some(_) if self.encoded_len() > MAX_CONTROL_PAYLOAD => {
                Err(UsageError::ControlPayloadTooLong(self.encoded_len()))
            }
            Some(_) => Ok(()),
        }
    }

    /// Writes the payload into `out` after [`validate`](Self::validate)-ing it; returns the
    /// number of bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, UsageError> {
        self.validate()?;
        let len = self.encoded_len();
        let Some(dst) = out.get_mut(..len) else {
            return Err(UsageError::BufferTooSmall(len));
        };
        if let Some(code) = self.code {
            dst[..2].copy_from_slice(&code.0.to_be_bytes());
            dst[2..].copy_from_slice(self.reason.as_bytes());
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_ranges() {
        for code in 0..=u16::MAX {
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode(code).is_sendable(), expected, "code {code}");
        }
        for reserved in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000] {
            assert!(!CloseCode(reserved).is_sendable());
        }
    }

    #[test]
    fn parse_payloads() {
        assert_eq!(CloseFrame::parse(&[]).unwrap(), CloseFrame { code: None, reason: "" });
        assert_eq!(CloseFrame::parse(&[0x03]), Err(ProtocolError::InvalidClosePayload));
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, b'b', b'y', b'e']).unwrap(),
            CloseFrame { code: Some(CloseCode::NORMAL), reason: "bye" }
        );
        assert_eq!(CloseFrame::parse(&[0x03, 0xed]), Err(ProtocolError::InvalidCloseCode(1005)));
        assert_eq!(CloseFrame::parse(&[0x03, 0xe8, 0xff]), Err(ProtocolError::InvalidUtf8));
        assert_eq!(CloseFrame::parse(&[0x0f, 0xa0]).unwrap().code, Some(CloseCode(4000)));
    }

    #[test]
    fn encode_roundtrip_and_limits() {
        let mut buf = [0u8; 125];
        let frame = CloseFrame { code: Some(CloseCode::GOING_AWAY), reason: "restart" };
        let n = frame.encode(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"\x03\xe9restart");
        assert_eq!(CloseFrame::parse(&buf[..n]).unwrap(), frame);

        let long = "x".repeat(124);
        let too_long = CloseFrame { code: Some(CloseCode::NORMAL), reason: &long };
        assert_eq!(too_long.encode(&mut buf), Err(UsageError::ControlPayloadTooLong(126)));
        let reserved = CloseFrame { code: Some(CloseCode::ABNORMAL), reason: "" };
        assert_eq!(reserved.encode(&mut buf), Err(UsageError::InvalidCloseCode(1006)));
        let reason_only = CloseFrame { code: None, reason: "x" };
        assert!(reason_only.validate().is_err());
        assert_eq!(CloseFrame { code: None, reason: "" }.encode(&mut buf), Ok(0));
    }
}
