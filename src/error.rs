//! Errors, sorted by whose fault they are.
//!
//! * [`ProtocolError`]: the peer broke RFC 6455 after the handshake. Each one knows the close
//!   code to fail the connection with ([`ProtocolError::close_code`]); that mapping lives here
//!   and nowhere else.
//! * [`crate::handshake::HandshakeError`]: the peer sent an opening handshake we must refuse.
//!   Each one knows the HTTP status to answer with.
//! * [`UsageError`]: the caller asked for something the protocol or the current state does
//!   not allow (a 200-byte ping, a message after Close). Nothing goes on the wire for these.
//!
//! [`Error`] joins them for callers who just want `?`.

use core::fmt;

use crate::close::CloseCode;

/// The peer violated the WebSocket protocol (RFC 6455 §5–§8) or one of our configured limits.
///
/// Answer it by failing the connection (§7.1.7) with [`ProtocolError::close_code`]; the
/// [`Connection`](crate::connection::Connection) does that for you.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame used one of the reserved opcodes 0x3–0x7 or 0xB–0xF (§5.2).
    ReservedOpcode(u8),
    /// A control frame (Close, Ping, Pong) had FIN clear (§5.5: control frames MUST NOT be
    /// fragmented).
    FragmentedControlFrame,
    /// A control frame claimed a payload longer than 125 bytes (§5.5).
    ControlFrameTooLong(u64),
    /// A 64-bit payload length had its most significant bit set (§5.2).
    InvalidPayloadLength,
    /// A client sent an unmasked frame to a server (§5.1).
    UnmaskedFrame,
    /// A server sent a masked frame to a client (§5.1).
    MaskedFrame,
    /// RSV bits were set that no negotiated extension defines (§5.2). Carries the three bits
    /// as `0b0RRR` (RSV1 is `0b100`).
    ReservedBits(u8),
    /// A continuation frame arrived with no fragmented message in progress (§5.4).
    UnexpectedContinuation,
    /// A new Text or Binary frame arrived while a fragmented message was unfinished (§5.4).
    ExpectedContinuation,
    /// A frame's payload exceeds the configured maximum frame size.
    FrameTooLarge {
        /// The payload length the frame header claimed.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A message (after reassembly, and after decompression if negotiated) exceeds the
    /// configured maximum message size.
    MessageTooLarge {
        /// The limit that was crossed.
        limit: u64,
    },
    /// A text message, or a close reason, was not valid UTF-8 (§8.1).
    InvalidUtf8,
    /// A Close frame had a one-byte payload (§5.5.1: a body starts with a two-byte code).
    InvalidClosePayload,
    /// A Close frame carried a code that may not appear on the wire (§7.4).
    InvalidCloseCode(u16),
    /// A data frame arrived after the peer's Close frame (§5.5.1: the endpoint MUST NOT send
    /// further data frames after sending a Close frame).
    DataAfterClose,
    /// A negotiated extension rejected the frame or message (for example a corrupt
    /// permessage-deflate stream, RFC 7692 §7.2.3).
    Extension(&'static str),
}

impl ProtocolError {
    /// The close code to fail the connection with (RFC 6455 §7.4.1). This is the one place
    /// in the crate where a peer error is turned into a close code.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            Self::FrameTooLarge { .. } | Self::MessageTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            Self::Extension(_) => CloseCode::INVALID_PAYLOAD,
            Self::ReservedOpcode(_)
            | Self::FragmentedControlFrame
            | Self::ControlFrameTooLong(_)
            | Self::InvalidPayloadLength
            | Self::UnmaskedFrame
            | Self::MaskedFrame
            | Self::ReservedBits(_)
            | Self::UnexpectedContinuation
            | Self::ExpectedContinuation
            | Self::InvalidClosePayload
            | Self::InvalidCloseCode(_)
            | Self::DataAfterClose => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::FragmentedControlFrame => f.write_str("fragmented control frame"),
            Self::ControlFrameTooLong(n) => write!(f, "control frame payload of {n} bytes (max 125)"),
            Self::InvalidPayloadLength => f.write_str("64-bit payload length with the high bit set"),
            Self::UnmaskedFrame => f.write_str("unmasked frame from a client"),
            Self::MaskedFrame => f.write_str("masked frame from a server"),
            Self::ReservedBits(bits) => write!(f, "reserved bits {bits:#05b} set without an extension"),
            Self::UnexpectedContinuation => f.write_str("continuation frame with no message in progress"),
            Self::ExpectedContinuation => {
                f.write_str("new data frame while a fragmented message is unfinished")
            }
            Self::FrameTooLarge { size, limit } => {
                write!(f, "frame of {size} bytes exceeds the limit of {limit}")
            }
            Self::MessageTooLarge { limit } => write!(f, "message exceeds the limit of {limit} bytes"),
            Self::InvalidUtf8 => f.write_str("invalid UTF-8 in a text message or close reason"),
            Self::InvalidClosePayload => f.write_str("close frame with a one-byte payload"),
            Self::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent on the wire"),
            Self::DataAfterClose => f.write_str("data frame after the peer's close frame"),
            Self::Extension(what) => write!(f, "extension error: {what}"),
        }
    }
}

/// The caller misused the API: the request would break the protocol or does not fit the
/// connection's state. Nothing was sent and the connection is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// A control frame payload (ping, pong, close code plus reason) longer than 125 bytes
    /// (RFC 6455 §5.5).
    ControlPayloadTooLong(usize),
    /// A close code that may not be sent (1005, 1006, 1015, or outside the ranges of §7.4).
    InvalidCloseCode(u16),
    /// The connection is closing or closed: no more data may be sent (§5.5.1).
    Closed,
    /// A message was started with a streaming send and not finished before another message.
    MessageInProgress,
    /// A streaming `continue`/`finish` call with no streamed message in progress.
    NoMessageInProgress,
    /// Text to send is not valid UTF-8 (RFC 6455 §5.6 requires it).
    InvalidUtf8,
    /// The output buffer given to an encoder is too small; carries the bytes needed.
    BufferTooSmall(usize),
    /// A frame header the caller built breaks §5.2 (a fragmented control frame, RSV bits
    /// beyond the three defined, a length with the top bit set).
    InvalidFrame(&'static str),
    /// The server chose a subprotocol the client did not offer (RFC 6455 §4.2.2).
    SubprotocolNotOffered,
    /// A value the caller supplied for the handshake is not valid in an HTTP header or URI.
    InvalidHandshakeInput(&'static str),
    /// The server's extension response names an extension the client did not offer
    /// (RFC 6455 §4.2.2: "Extensions not listed by the client MUST NOT be listed").
    ExtensionNotOffered,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ControlPayloadTooLong(n) => write!(f, "control payload of {n} bytes (max 125)"),
            Self::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            Self::Closed => f.write_str("the connection is closing or closed"),
            Self::MessageInProgress => f.write_str("a streamed message is still in progress"),
            Self::NoMessageInProgress => f.write_str("no streamed message in progress"),
            Self::InvalidUtf8 => f.write_str("text to send is not valid UTF-8"),
            Self::BufferTooSmall(n) => write!(f, "output buffer too small: {n} bytes needed"),
            Self::InvalidFrame(what) => write!(f, "invalid frame: {what}"),
            Self::SubprotocolNotOffered => {
                f.write_str("the chosen subprotocol was not offered by the client")
            }
            Self::InvalidHandshakeInput(what) => write!(f, "invalid handshake input: {what}"),
            Self::ExtensionNotOffered => f.write_str("the chosen extension was not offered by the client"),
        }
    }
}

/// Any error of this crate, for callers who want one type to `?` into.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol after the handshake.
    Protocol(ProtocolError),
    /// The opening handshake failed.
    Handshake(crate::handshake::HandshakeError),
    /// The caller misused the API.
    Usage(UsageError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Handshake(e) => write!(f, "handshake error: {e}"),
            Self::Usage(e) => write!(f, "usage error: {e}"),
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Self::Usage(e)
    }
}

impl From<crate::handshake::HandshakeError> for Error {
    fn from(e: crate::handshake::HandshakeError) -> Self {
        Self::Handshake(e)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}
#[cfg(feature = "std")]
impl std::error::Error for UsageError {}
#[cfg(feature = "std")]
impl std::error::Error for Error {}
