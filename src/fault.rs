//! The two errors every layer shares, sorted by whose fault they are: [`ProtocolError`] (the
//! peer's, after the handshake; it knows its close code) and [`UsageError`] (the caller's).
//! A leaf apart from [`CloseCode`]: the layers above raise these, and [`crate::error`] joins
//! them with the handshake's errors.

use core::fmt;

use crate::close::CloseCode;
use crate::utf8::Utf8Error;

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
    /// A text message, or a close reason, was not valid UTF-8 (§8.1). Carries where: the
    /// position counts from the start of the message (or of the reason).
    InvalidUtf8(Utf8Error),
    /// A Close frame had a one-byte payload (§5.5.1: a body starts with a two-byte code).
    InvalidClosePayload,
    /// A Close frame carried a code that may not appear on the wire (§7.4).
    InvalidCloseCode(u16),
    /// A negotiated extension rejected the frame or message (for example a corrupt
    /// permessage-deflate stream, RFC 7692 §7.2.3).
    Extension(ExtensionError),
}

impl ProtocolError {
    /// The close code to fail the connection with (RFC 6455 §7.4.1). This is the one place
    /// in the crate where a peer error is turned into a close code.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8(_) => CloseCode::INVALID_PAYLOAD,
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
            | Self::InvalidCloseCode(_) => CloseCode::PROTOCOL_ERROR,
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
            Self::InvalidUtf8(e) => write!(f, "text message or close reason is not UTF-8: {e}"),
            Self::InvalidClosePayload => f.write_str("close frame with a one-byte payload"),
            Self::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent on the wire"),
            Self::Extension(e) => write!(f, "extension error: {e}"),
        }
    }
}

/// Why a negotiated extension rejected a message ([`ProtocolError::Extension`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionError {
    /// A compressed message is not a valid DEFLATE stream (RFC 7692 §7.2.3), or it ends in
    /// the middle of one.
    CorruptCompressedData,
    /// The extension found the message invalid for a reason of its own.
    InvalidData,
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CorruptCompressedData => "invalid permessage-deflate data",
            Self::InvalidData => "the extension refused the message",
        })
    }
}

/// What is wrong with a value the caller gave the handshake
/// ([`UsageError::InvalidHandshakeInput`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeInput {
    /// The URI has no `scheme://`.
    UriNoScheme,
    /// The URI's scheme is not `ws` or `wss` (RFC 6455 §3).
    UriScheme,
    /// The URI has a fragment (§3: "MUST NOT be used").
    UriFragment,
    /// The URI has user information (`user@host`).
    UriUserInfo,
    /// The URI's authority has a character a host may not have.
    UriAuthority,
    /// The URI's port is not a number from 0 to 65535.
    UriPort,
    /// The URI's path or query has a character that must be percent-encoded.
    UriNotEncoded,
    /// The URI's IPv6 literal is malformed.
    UriIpv6,
    /// The URI has no host.
    UriNoHost,
    /// A subprotocol is not a token (§4.1).
    SubprotocolNotToken,
    /// A subprotocol is offered twice (§4.1: "unique").
    SubprotocolTwice,
    /// An extension offer or answer is not valid `Sec-WebSocket-Extensions` syntax (§9.1).
    ExtensionSyntax,
    /// An extension offer is empty.
    ExtensionEmpty,
    /// The origin is not a valid header value.
    Origin,
    /// A header name is not a token.
    HeaderName,
    /// A header value has a control character or outer whitespace.
    HeaderValue,
    /// The header is one the handshake writes itself.
    ReservedHeader,
    /// A rejection's status is not 3xx, 4xx or 5xx.
    RejectStatus,
    /// An extended CONNECT (RFC 8441) is answered on its own stream, not with HTTP/1.1 bytes:
    /// use the response's status and headers.
    ExtendedConnectAnswer,
    /// The `http` crate refused a name, value or status.
    RefusedByHttpCrate,
    /// A header of the connection, not of the request (`Keep-Alive`, `Proxy-Connection`,
    /// `Transfer-Encoding`, `TE`), which an HTTP/2 or HTTP/3 request may not carry (RFC 9113
    /// §8.2.2): refused in an extended CONNECT (RFC 8441).
    ConnectionSpecificHeader,
}

impl fmt::Display for HandshakeInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UriNoScheme => "URI has no scheme",
            Self::UriScheme => "URI scheme is not ws or wss",
            Self::UriFragment => "URI has a fragment",
            Self::UriUserInfo => "URI has user information",
            Self::UriAuthority => "URI authority has an invalid character",
            Self::UriPort => "URI port is not a number from 0 to 65535",
            Self::UriNotEncoded => "URI path or query has a character that must be percent-encoded",
            Self::UriIpv6 => "URI IPv6 literal is malformed",
            Self::UriNoHost => "URI has no host",
            Self::SubprotocolNotToken => "subprotocol is not a token",
            Self::SubprotocolTwice => "subprotocol offered twice",
            Self::ExtensionSyntax => "extension offer or answer is not valid §9.1 syntax",
            Self::ExtensionEmpty => "extension offer is empty",
            Self::Origin => "origin is not a valid header value",
            Self::HeaderName => "header name is not a token",
            Self::HeaderValue => "header value has a control character or outer whitespace",
            Self::ReservedHeader => "header is written by the handshake itself",
            Self::RejectStatus => "a rejection's status must be 3xx, 4xx or 5xx",
            Self::ConnectionSpecificHeader => "header is connection-specific, which HTTP/2 forbids",
            Self::ExtendedConnectAnswer => {
                "an extended CONNECT is answered on its own stream: use status() and headers()"
            }
            Self::RefusedByHttpCrate => "refused by the http crate",
        })
    }
}

/// Which §5.2 rule a frame header built by the caller breaks ([`UsageError::InvalidFrame`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameRule {
    /// Control frames cannot be fragmented (§5.5).
    FragmentedControl,
    /// RSV has bits beyond RSV1–RSV3.
    RsvBits,
    /// The payload length needs the 64th bit (§5.2: the most significant bit must be 0).
    LengthTopBit,
}

impl fmt::Display for FrameRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FragmentedControl => "control frames cannot be fragmented",
            Self::RsvBits => "rsv has bits beyond RSV1-RSV3",
            Self::LengthTopBit => "payload length needs 64 bits",
        })
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
    /// Not a bug: the output waiting to be written has reached
    /// [`Config::max_pending_output`](crate::connection::Config::max_pending_output). Write
    /// pending output, then send again ([`Connection::can_send`](crate::Connection::can_send)
    /// says when). Nothing was queued.
    OutputFull {
        /// Bytes waiting to be written.
        pending: usize,
        /// The configured bound.
        limit: usize,
    },
    /// [`Connection::handle_written`](crate::Connection::handle_written) was told of more
    /// bytes than the last `poll_output` or `output_pieces` handed out. Nothing was counted.
    WrittenTooMuch {
        /// The count reported.
        written: usize,
        /// What had been handed out and not yet reported.
        handed_out: usize,
    },
    /// A message was started with a streaming send and not finished before another message.
    MessageInProgress,
    /// The handshake agreed on an extension this crate does not implement (one the caller
    /// offered or accepted by name): install its codec with
    /// [`connection::Builder::extension`](crate::connection::Builder::extension).
    ExtensionNotImplemented,
    /// Text to send is not valid UTF-8 (RFC 6455 §5.6 requires it).
    InvalidUtf8,
    /// The output buffer given to an encoder is too small; carries the bytes needed.
    BufferTooSmall(usize),
    /// A frame header the caller built breaks §5.2 (a fragmented control frame, RSV bits
    /// beyond the three defined, a length with the top bit set).
    InvalidFrame(FrameRule),
    /// The server chose a subprotocol the client did not offer (RFC 6455 §4.2.2).
    SubprotocolNotOffered,
    /// A value the caller supplied for the handshake is not valid in an HTTP header or URI;
    /// says which.
    InvalidHandshakeInput(HandshakeInput),
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
            Self::OutputFull { pending, limit } => {
                write!(f, "{pending} bytes of output pending (limit {limit}): write before sending more")
            }
            Self::WrittenTooMuch { written, handed_out } => {
                write!(f, "{written} bytes reported written, but only {handed_out} were handed out")
            }
            Self::MessageInProgress => f.write_str("a streamed message is still in progress"),
            Self::ExtensionNotImplemented => {
                f.write_str("the negotiated extension is not implemented here: supply its codec")
            }
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

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}
#[cfg(feature = "std")]
impl std::error::Error for UsageError {}
