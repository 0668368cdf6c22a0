//! The body of a Close frame (RFC 6455 §5.5.1): nothing, or a two-byte big-endian code
//! followed by a UTF-8 reason, at most 125 bytes in all. It knows nothing of connection state;
//! which codes may be sent is [`CloseCode::is_sendable`]'s rule.

use super::MAX_CONTROL_PAYLOAD;
use crate::close::CloseCode;
use crate::fault::{ProtocolError, UsageError};

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
                let reason =
                    core::str::from_utf8(reason).map_err(|e| ProtocolError::InvalidUtf8(e.into()))?;
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
    fn parse_payloads() {
        assert_eq!(CloseFrame::parse(&[]).unwrap(), CloseFrame { code: None, reason: "" });
        assert_eq!(CloseFrame::parse(&[0x03]), Err(ProtocolError::InvalidClosePayload));
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, b'b', b'y', b'e']).unwrap(),
            CloseFrame { code: Some(CloseCode::NORMAL), reason: "bye" }
        );
        assert_eq!(CloseFrame::parse(&[0x03, 0xed]), Err(ProtocolError::InvalidCloseCode(1005)));
        let Err(ProtocolError::InvalidUtf8(error)) = CloseFrame::parse(&[0x03, 0xe8, b'o', b'k', 0xff])
        else {
            panic!("a reason that is not UTF-8 is refused");
        };
        assert_eq!((error.valid_up_to(), error.error_len()), (2, Some(1)));
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
        assert_eq!(reason_only.validate(), Err(UsageError::InvalidCloseCode(1005)));
        assert_eq!(CloseFrame { code: None, reason: "" }.encode(&mut buf), Ok(0));
    }

    #[test]
    fn a_body_of_exactly_125_bytes_may_be_sent() {
        // §5.5: "All control frames MUST have a payload length of 125 bytes or less".
        let reason = "x".repeat(123);
        let frame = CloseFrame { code: Some(CloseCode::NORMAL), reason: &reason };
        assert_eq!(frame.encoded_len(), 125);
        assert_eq!(frame.validate(), Ok(()));
        let mut buf = [0u8; 125];
        assert_eq!(frame.encode(&mut buf), Ok(125));
        assert_eq!((&buf[..2], &buf[2..]), (&b"\x03\xe8"[..], reason.as_bytes()));
        assert_eq!(frame.encode(&mut buf[..124]), Err(UsageError::BufferTooSmall(125)));
    }
}
