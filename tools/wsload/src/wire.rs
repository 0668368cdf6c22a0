//! The self-checking message format every good client sends and the echo server returns.
//!
//! A message is a 45-byte ASCII header, `c<conn:8 hex>s<seq:16 hex>n<len:8 hex>k<sum:8 hex>|`,
//! then a body of ASCII letters derived from the connection id and sequence number. `len` is
//! the whole message's length and `sum` an FNV-1a hash over the id, the sequence number, the
//! length and the body, so a message cut short, padded, altered in any byte, or carrying
//! another connection's id is recognised as such. ASCII makes the same bytes valid as text
//! and as binary.
//!
//! Messages whose first byte is `!` are commands to `wsload-server`: `!close` (the server
//! closes the connection with 1000) and `!ping` (the server sends a Ping). They are not
//! echoed.

use crate::Rng;

/// The header's length in bytes.
pub const HEADER_LEN: usize = 45;

/// The command that makes the server close the connection (1000, "asked").
pub const CLOSE_COMMAND: &str = "!close";
/// The command that makes the server send a Ping with payload [`SERVER_PING`].
pub const PING_COMMAND: &str = "!ping";
/// The payload of the server's Ping on [`PING_COMMAND`].
pub const SERVER_PING: &[u8] = b"server-ping";

/// What a received message turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// A well-formed message of connection `conn`, number `seq`.
    Valid { conn: u32, seq: u64 },
    /// The header does not parse, the length or the checksum does not match.
    Corrupt,
}

/// Builds message number `seq` of connection `conn`, `len` bytes long (at least
/// [`HEADER_LEN`]).
pub fn build(conn: u32, seq: u64, len: usize) -> Vec<u8> {
    let len = len.max(HEADER_LEN);
    let mut out = Vec::with_capacity(len);
    out.resize(HEADER_LEN, b'0');
    let mut rng = Rng::new(u64::from(conn) << 40 ^ seq);
    let mut word = 0u64;
    for i in 0..len - HEADER_LEN {
        if i % 8 == 0 {
            word = rng.next_u64();
        }
        out.push(b'a' + ((word >> ((i % 8) * 8)) as u8 % 26));
    }
    let sum = checksum(conn, seq, len as u32, &out[HEADER_LEN..]);
    let header = format!("c{conn:08x}s{seq:016x}n{:08x}k{sum:08x}|", len as u32);
    debug_assert_eq!(header.len(), HEADER_LEN);
    out[..HEADER_LEN].copy_from_slice(header.as_bytes());
    out
}

/// Checks a received message.
pub fn check(message: &[u8]) -> Checked {
    let Some(header) = message.get(..HEADER_LEN) else { return Checked::Corrupt };
    let field = |tag: u8, at: usize, digits: usize| -> Option<u64> {
        if header[at] != tag {
            return None;
        }
        let text = std::str::from_utf8(&header[at + 1..at + 1 + digits]).ok()?;
        u64::from_str_radix(text, 16).ok()
    };
    let parsed = (|| {
        let conn = field(b'c', 0, 8)? as u32;
        let seq = field(b's', 9, 16)?;
        let len = field(b'n', 26, 8)? as u32;
        let sum = field(b'k', 35, 8)? as u32;
        (header[44] == b'|').then_some((conn, seq, len, sum))
    })();
    let Some((conn, seq, len, sum)) = parsed else { return Checked::Corrupt };
    if len as usize != message.len() || checksum(conn, seq, len, &message[HEADER_LEN..]) != sum {
        return Checked::Corrupt;
    }
    Checked::Valid { conn, seq }
}

/// FNV-1a (32 bits) over the id, sequence number, length and body.
fn checksum(conn: u32, seq: u64, len: u32, body: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    let mut eat = |byte: u8| {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    };
    conn.to_le_bytes().into_iter().for_each(&mut eat);
    seq.to_le_bytes().into_iter().for_each(&mut eat);
    len.to_le_bytes().into_iter().for_each(&mut eat);
    body.iter().copied().for_each(eat);
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_kind_of_damage() {
        let message = build(7, 42, 200);
        assert_eq!(message.len(), 200);
        assert_eq!(check(&message), Checked::Valid { conn: 7, seq: 42 });
        assert_eq!(check(&build(1, 0, 0)), Checked::Valid { conn: 1, seq: 0 });
        // Any flipped byte, in the header or the body, is caught.
        for at in 0..message.len() {
            let mut damaged = message.clone();
            damaged[at] ^= 0x01;
            assert!(!matches!(check(&damaged), Checked::Valid { conn: 7, seq: 42 }), "byte {at}");
        }
        assert_eq!(check(&message[..199]), Checked::Corrupt);
        let mut longer = message.clone();
        longer.push(b'a');
        assert_eq!(check(&longer), Checked::Corrupt);
        // Another connection's header on this body does not check.
        let mut swapped = message.clone();
        swapped[..HEADER_LEN].copy_from_slice(&build(8, 42, 200)[..HEADER_LEN]);
        assert_eq!(check(&swapped), Checked::Corrupt);
        assert!(std::str::from_utf8(&message).is_ok());
    }
}
