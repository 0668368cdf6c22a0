//! `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` (RFC 6455 §4.1, §4.2.2).
//!
//! This file owns the nonce the client sends and the proof the server returns: SHA-1 of the
//! key (as text) followed by the GUID, base64-encoded, computed on the stack. It does not know
//! where the 16 random bytes come from: the caller injects them ([`WebSocketKey::from_bytes`]),
//! or, under `std`, `WebSocketKey::random` draws them from `rand`.

use core::fmt;
use core::ops::Deref;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest as _, Sha1};

use super::GUID;

/// The value of `Sec-WebSocket-Accept`: 28 base64 characters, held inline (no heap).
///
/// ```
/// use rfc6455::handshake::AcceptKey;
/// // The example of RFC 6455 §4.2.2.
/// let accept = AcceptKey::from_key(b"dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(accept.as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// Computes the accept value for a `Sec-WebSocket-Key` as sent (the base64 text, not the
    /// decoded bytes; §4.2.2 says the server need not decode it).
    pub fn from_key(key: &[u8]) -> Self {
        let mut sha1 = Sha1::new();
        sha1.update(key);
        sha1.update(GUID.as_bytes());
        let digest = sha1.finalize();
        let mut out = [0u8; 28];
        // Invariant: base64 of 20 bytes is exactly 4 * ceil(20 / 3) = 28 characters, so the
        // slice always fits.
        let written = STANDARD.encode_slice(digest, &mut out).expect("28 bytes hold base64 of 20");
        debug_assert_eq!(written, 28);
        Self(out)
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        // Invariant: the array only ever holds base64 output, which is ASCII.
        core::str::from_utf8(&self.0).expect("base64 is ASCII")
    }

    /// The value as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Deref for AcceptKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for AcceptKey {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AcceptKey").field(&self.as_str()).finish()
    }
}

impl fmt::Display for AcceptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The client's `Sec-WebSocket-Key`: 16 random bytes, base64-encoded into 24 characters
/// (§4.1, item 7). Held inline.
///
/// The nonce MUST be chosen randomly for each connection. Under `std`,
/// `WebSocketKey::random` does that; without it, fill 16 bytes from your platform's random
/// source and call [`WebSocketKey::from_bytes`].
///
/// ```
/// use rfc6455::handshake::WebSocketKey;
/// let key = WebSocketKey::from_bytes(*b"the sample nonce");
/// assert_eq!(key.as_str(), "dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(key.accept().as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct WebSocketKey([u8; 24]);

impl WebSocketKey {
    /// Encodes a 16-byte nonce.
    pub fn from_bytes(nonce: [u8; 16]) -> Self {
        let mut out = [0u8; 24];
        // Invariant: base64 of 16 bytes is exactly 4 * ceil(16 / 3) = 24 characters.
        let written = STANDARD.encode_slice(nonce, &mut out).expect("24 bytes hold base64 of 16");
        debug_assert_eq!(written, 24);
        Self(out)
    }

    /// A key from 16 bytes drawn from `rand`'s thread-local generator.
    #[cfg(feature = "std")]
    pub fn random() -> Self {
        Self::from_bytes(rand::random::<[u8; 16]>())
    }

    /// The key as text, as it goes on the wire.
    pub fn as_str(&self) -> &str {
        // Invariant: the array only ever holds base64 output, which is ASCII.
        core::str::from_utf8(&self.0).expect("base64 is ASCII")
    }

    /// The `Sec-WebSocket-Accept` value a server must answer this key with.
    pub fn accept(&self) -> AcceptKey {
        AcceptKey::from_key(&self.0)
    }
}

impl fmt::Debug for WebSocketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WebSocketKey").field(&self.as_str()).finish()
    }
}

impl fmt::Display for WebSocketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a received `Sec-WebSocket-Key` (already trimmed) is base64 that decodes to exactly
/// 16 bytes (§4.2.1, item 5). No heap.
///
/// Trailing bits in the last character are tolerated: the RFC's own example in §4.1
/// (`AQIDBAUGBwgJCgsMDQ4PEC==`) has them set.
pub(crate) fn is_valid_key(key: &[u8]) -> bool {
    // 16 bytes are 22 base64 characters and two `=` of padding (RFC 4648 §4). With trailing
    // bits tolerated, any 22 characters of the alphabet decode to 16 bytes.
    static BASE64: [bool; 256] = super::head::byte_class(b"+/");
    match key.split_at_checked(22) {
        Some((digits, b"==")) => digits.iter().all(|&b| BASE64[usize::from(b)]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_vector() {
        assert_eq!(&*AcceptKey::from_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn keys_read_as_their_text() {
        // §4.1's sample nonce and §4.2.2's answer to it, through every way of reading them.
        // (cargo mutants: `AsRef`, `Display` and `Debug` of both were untested.)
        use alloc::format;
        let key = WebSocketKey::from_bytes(*b"the sample nonce");
        assert_eq!(format!("{key}"), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(format!("{key:?}"), r#"WebSocketKey("dGhlIHNhbXBsZSBub25jZQ==")"#);
        let accept = key.accept();
        assert_eq!(AsRef::<str>::as_ref(&accept), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(format!("{accept}"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(format!("{accept:?}"), r#"AcceptKey("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")"#);
        assert_eq!(accept.as_bytes(), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn key_encoding() {
        let key = WebSocketKey::from_bytes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        assert_eq!(key.as_str(), "AQIDBAUGBwgJCgsMDQ4PEA==");
        assert!(is_valid_key(key.as_str().as_bytes()));
    }

    #[test]
    fn key_validation() {
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        // The RFC's §4.1 example, with trailing bits set.
        assert!(is_valid_key(b"AQIDBAUGBwgJCgsMDQ4PEC=="));
        // 15 and 17 bytes, bad characters, missing padding.
        assert!(!is_valid_key(b"AQIDBAUGBwgJCgsMDQ4P"));
        assert!(!is_valid_key(b"AQIDBAUGBwgJCgsMDQ4PEBE="));
        assert!(!is_valid_key(b"AQIDBAUGBwgJCgsMDQ4PE!=="));
        assert!(!is_valid_key(b"AQIDBAUGBwgJCgsMDQ4PEA"));
        assert!(!is_valid_key(b""));
        assert!(!is_valid_key(b"========================"));
    }

    #[test]
    fn key_validation_agrees_with_a_lenient_base64_decoder() {
        use base64::Engine as _;
        const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        let decodes_to_16 = |key: &[u8]| {
            let mut out = [0u8; 18];
            key.len() == 24 && matches!(LENIENT.decode_slice(key, &mut out), Ok(16))
        };
        // Every byte value at every position of a valid key.
        for at in 0..24 {
            for b in 0..=255u8 {
                let mut key = *b"dGhlIHNhbXBsZSBub25jZQ==";
                key[at] = b;
                assert_eq!(is_valid_key(&key), decodes_to_16(&key), "{:?}", key);
            }
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn random_keys_differ_and_are_valid() {
        let a = WebSocketKey::random();
        let b = WebSocketKey::random();
        assert_ne!(a, b);
        assert!(is_valid_key(a.as_str().as_bytes()));
    }
}
