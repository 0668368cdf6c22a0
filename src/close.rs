//! Close status codes (RFC 6455 §7.4).
//!
//! This module owns the rules for which status codes may travel on the wire. It is a leaf:
//! it imports nothing from the crate, so every other layer may use [`CloseCode`]. The layout
//! of a Close frame's body lives with the other frame rules, in
//! [`frame::CloseFrame`](crate::frame::CloseFrame).

use core::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_codes_follow_section_7_4() {
        // §7.4.1's defined codes that may be sent, IANA's 1012–1014, and the ends of the
        // 3000–4999 range.
        for code in
            [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
        {
            assert!(CloseCode(code).is_sendable(), "{code} may be sent");
        }
        // Reserved (1004–1006, 1015), unassigned, and out of range.
        for code in [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 5001, u16::MAX] {
            assert!(!CloseCode(code).is_sendable(), "{code} may not be sent");
        }
        // 4 + 8 codes from the 1000s and the 2000 codes of 3000–4999, and no others.
        assert_eq!((0..=u16::MAX).filter(|&c| CloseCode(c).is_sendable()).count(), 4 + 8 + 2000);
    }

    #[test]
    fn display_is_the_number() {
        assert_eq!(CloseCode::NORMAL.to_string(), "1000");
        assert_eq!(CloseCode(4999).to_string(), "4999");
        assert_eq!(u16::from(CloseCode::from(1009)), 1009);
    }
}
