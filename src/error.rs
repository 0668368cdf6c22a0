//! Errors, sorted by whose fault they are.
//!
//! * [`ProtocolError`]: the peer broke RFC 6455 after the handshake. Each one knows the close
//!   code to fail the connection with ([`ProtocolError::close_code`]); that mapping lives in
//!   one place, on the type.
//! * [`HandshakeError`]: the peer sent an opening handshake we must refuse. Each one knows the
//!   HTTP status to answer with ([`HandshakeError::status`]).
//! * `NegotiationError` (feature `deflate`): a server's permessage-deflate answer that a client
//!   must refuse (RFC 7692 §7).
//! * [`UsageError`]: the caller asked for something the protocol or the current state does
//!   not allow (a 200-byte ping, a message after Close). Nothing goes on the wire for these.
//!
//! [`Error`] joins them for callers who just want `?`. This module sits above every other
//! layer: the errors themselves live with the layer that raises them.

use core::fmt;

#[cfg(feature = "deflate")]
use crate::deflate::NegotiationError;
pub use crate::fault::{ExtensionError, FrameRule, HandshakeInput, ProtocolError, UsageError};
use crate::handshake::HandshakeError;

/// Any error of this crate, for callers who want one type to `?` into.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol after the handshake.
    Protocol(ProtocolError),
    /// The opening handshake failed.
    Handshake(HandshakeError),
    /// The caller misused the API.
    Usage(UsageError),
    /// A client could not accept the server's permessage-deflate answer (RFC 7692 §7).
    #[cfg(feature = "deflate")]
    Negotiation(NegotiationError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Handshake(e) => write!(f, "handshake error: {e}"),
            Self::Usage(e) => write!(f, "usage error: {e}"),
            #[cfg(feature = "deflate")]
            Self::Negotiation(e) => write!(f, "extension negotiation failed: {e}"),
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

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Self::Handshake(e)
    }
}

#[cfg(feature = "deflate")]
impl From<NegotiationError> for Error {
    fn from(e: NegotiationError) -> Self {
        Self::Negotiation(e)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Protocol(e) => Some(e),
            Self::Handshake(e) => Some(e),
            Self::Usage(e) => Some(e),
            #[cfg(feature = "deflate")]
            Self::Negotiation(e) => Some(e),
        }
    }
}
