//! The adapter's one error type, sorted like the core's by whose fault it is.

use std::fmt;
use std::io;

use rfc6455::UsageError;
use rfc6455::connection::CloseInfo;

/// What went wrong on a [`WebSocket`](crate::WebSocket) or while opening one.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The connection ended without a clean close handshake: the peer broke the protocol and
    /// we failed the connection ([`CloseInfo::error`] says how; the peer was sent the close
    /// code), the transport ended without a Close (1006), or a timer gave up on the peer
    /// (keepalive or close timeout). [`CloseInfo::code`] and [`CloseInfo::origin`] say which.
    /// The receive side yields it once, as its last item before `None`. (Boxed: a close
    /// reason is up to 123 bytes, and errors travel in every `Result`.)
    Closed(Box<CloseInfo>),
    /// The transport failed with an error other than a reset or end of stream (those end the
    /// connection as [`Closed`](Self::Closed) with 1006).
    Io(io::Error),
    /// The request does not fit the connection's state or the protocol: sending after Close
    /// or after the end ([`UsageError::Closed`]), a control payload over 125 bytes, a close
    /// code that may not be sent. Nothing was sent.
    Usage(UsageError),
    /// The opening handshake failed: the peer's request or response was refused (a server
    /// has answered it with the error's HTTP status), a timeout (a server answered 408), or
    /// the options were invalid.
    Handshake(rfc6455::Error),
    /// The [`Options::on_request`](crate::Options::on_request) hook rejected the request;
    /// the client was answered with this status.
    Rejected(u16),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed(info) => write!(f, "connection ended: {info}"),
            Error::Io(error) => write!(f, "I/O error: {error}"),
            Error::Usage(error) => write!(f, "{error}"),
            Error::Handshake(error) => write!(f, "opening handshake failed: {error}"),
            Error::Rejected(status) => write!(f, "request rejected with HTTP status {status}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Closed(info) => info.error().map(|e| e as _),
            Error::Io(error) => Some(error),
            Error::Usage(error) => Some(error),
            Error::Handshake(error) => Some(error),
            Error::Rejected(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Error::Io(error)
    }
}

impl From<UsageError> for Error {
    fn from(error: UsageError) -> Self {
        Error::Usage(error)
    }
}
