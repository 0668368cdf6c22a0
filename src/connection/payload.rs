//! [`Payload`]: an owned message body that [`Connection::send_owned`](super::Connection::send_owned)
//! can queue for output without copying it.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// An owned message payload, handed to [`Connection::send_owned`](super::Connection::send_owned).
///
/// Made with `From` from the owned buffers applications already hold:
///
/// * `Vec<u8>`, `Box<[u8]>` and `String`: owned outright, so a client can mask the bytes in
///   place (RFC 6455 §5.3) instead of copying them;
/// * `Arc<[u8]>` and `Arc<str>`: shared, so one message can be queued on many connections (a
///   broadcast) without a copy per connection; cloning an `Arc` costs a reference count;
/// * `bytes::Bytes` with the `bytes` feature (what tokio and hyper hand out), shared like an `Arc`.
///
/// Payloads made from `String` or `Arc<str>` are known to be UTF-8, so sending them as text
/// skips validation.
///
/// ```
/// use std::sync::Arc;
/// use rfc6455::connection::Payload;
///
/// let shared: Arc<[u8]> = Arc::from(&b"to everyone"[..]);
/// let payload = Payload::from(Arc::clone(&shared));
/// assert_eq!(payload.as_bytes(), b"to everyone");
/// assert_eq!(Payload::from(String::from("héllo")).len(), 6);
/// ```
#[derive(Clone)]
pub struct Payload {
    repr: Repr,
    /// Known to be valid UTF-8 (made from a `String` or an `Arc<str>`).
    utf8: bool,
}

#[derive(Clone)]
enum Repr {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
    #[cfg(feature = "bytes")]
    Bytes(bytes::Bytes),
}

impl Payload {
    /// The payload's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.repr {
            Repr::Owned(bytes) => bytes,
            Repr::Shared(bytes) => bytes,
            #[cfg(feature = "bytes")]
            Repr::Bytes(bytes) => bytes,
        }
    }

    /// The length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// Whether the payload is known to be UTF-8 without looking at it.
    #[inline]
    pub(super) fn is_known_utf8(&self) -> bool {
        self.utf8
    }

    /// The bytes, writable, when this payload owns them outright (nothing else can see a
    /// change): what lets a client mask in place.
    #[inline]
    pub(super) fn owned_mut(&mut self) -> Option<&mut [u8]> {
        match &mut self.repr {
            Repr::Owned(bytes) => Some(bytes),
            _ => None,
        }
    }
}

impl core::fmt::Debug for Payload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = match self.repr {
            Repr::Owned(_) => "owned",
            Repr::Shared(_) => "shared",
            #[cfg(feature = "bytes")]
            Repr::Bytes(_) => "bytes",
        };
        f.debug_struct("Payload").field("kind", &kind).field("len", &self.len()).finish()
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Self { repr: Repr::Owned(bytes), utf8: false }
    }
}

impl From<alloc::boxed::Box<[u8]>> for Payload {
    fn from(bytes: alloc::boxed::Box<[u8]>) -> Self {
        Self::from(Vec::from(bytes))
    }
}

impl From<String> for Payload {
    fn from(text: String) -> Self {
        Self { repr: Repr::Owned(text.into_bytes()), utf8: true }
    }
}

impl From<Arc<[u8]>> for Payload {
    fn from(bytes: Arc<[u8]>) -> Self {
        Self { repr: Repr::Shared(bytes), utf8: false }
    }
}

impl From<Arc<str>> for Payload {
    fn from(text: Arc<str>) -> Self {
        Self { repr: Repr::Shared(Arc::from(text)), utf8: true }
    }
}

#[cfg(feature = "bytes")]
impl From<bytes::Bytes> for Payload {
    fn from(bytes: bytes::Bytes) -> Self {
        Self { repr: Repr::Bytes(bytes), utf8: false }
    }
}
