//! The messages the clients send: each carries the sender's connection id, a sequence number
//! and a checksum, so that an echo proves which connection it belongs to, where it falls in
//! the order, and that not a byte changed.
//!
//! Binary: `"WF"`, id (u32 LE), seq (u64 LE), body length (u32 LE), body, FNV-1a 64 of all of
//! the above (u64 LE). Text: `WF <id> <seq> <body> <checksum in hex>`, the body ASCII letters.
//! The body is made from (id, seq), so a body from another message does not pass either.

use std::fmt;

use rfc6455_tokio::Message;

use crate::Rng;

/// Who sent a message, and which one of theirs it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The sending connection's id.
    pub id: u32,
    /// The message's place in that connection's order, from 0.
    pub seq: u64,
}

/// A message that does not decode or whose checksum or body does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt message: {}", self.0)
    }
}

impl std::error::Error for Corrupt {}

/// The binary encoding of message `seq` of connection `id` with a body of `body_len` bytes.
pub fn binary(id: u32, seq: u64, body_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(18 + body_len + 8);
    out.extend_from_slice(b"WF");
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    let mut rng = body_rng(id, seq);
    out.extend((0..body_len).map(|_| rng.next_u64() as u8));
    let sum = fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// The text encoding of message `seq` of connection `id` with a body of `body_len` letters.
pub fn text(id: u32, seq: u64, body_len: usize) -> String {
    let mut rng = body_rng(id, seq);
    let body: String = (0..body_len).map(|_| (b'a' + rng.below(26) as u8) as char).collect();
    let head = format!("WF {id} {seq} {body}");
    let sum = fnv1a(head.as_bytes());
    format!("{head} {sum:016x}")
}

/// A message for the adapter: text or binary.
pub fn message(id: u32, seq: u64, body_len: usize, as_text: bool) -> Message {
    if as_text { Message::text(text(id, seq, body_len)) } else { Message::binary(binary(id, seq, body_len)) }
}

/// Checks a received message and says whose it is.
pub fn check(message: &Message) -> Result<Stamp, Corrupt> {
    match message {
        Message::Binary(data) => check_binary(data),
        Message::Text(text) => check_text(text.as_str()),
        _ => Err(Corrupt("not a data message")),
    }
}

/// Checks a binary message.
pub fn check_binary(data: &[u8]) -> Result<Stamp, Corrupt> {
    if data.len() < 26 || &data[..2] != b"WF" {
        return Err(Corrupt("short or no magic"));
    }
    let (signed, sum) = data.split_at(data.len() - 8);
    if fnv1a(signed).to_le_bytes() != sum {
        return Err(Corrupt("checksum"));
    }
    // The lengths were checked above: 2 + 4 + 8 + 4 header bytes, 8 checksum bytes.
    let id = u32::from_le_bytes(data[2..6].try_into().expect("4 bytes"));
    let seq = u64::from_le_bytes(data[6..14].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(data[14..18].try_into().expect("4 bytes")) as usize;
    if len != data.len() - 26 {
        return Err(Corrupt("length"));
    }
    if binary(id, seq, len) != data {
        return Err(Corrupt("body"));
    }
    Ok(Stamp { id, seq })
}

/// Checks a text message.
pub fn check_text(text: &str) -> Result<Stamp, Corrupt> {
    let mut parts = text.split(' ');
    let (Some("WF"), Some(id), Some(seq), Some(body), Some(_sum), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Corrupt("text layout"));
    };
    let id: u32 = id.parse().map_err(|_| Corrupt("text id"))?;
    let seq: u64 = seq.parse().map_err(|_| Corrupt("text seq"))?;
    if self::text(id, seq, body.len()) != text {
        return Err(Corrupt("text body or checksum"));
    }
    Ok(Stamp { id, seq })
}

fn body_rng(id: u32, seq: u64) -> Rng {
    Rng::new((u64::from(id) << 40) ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995)
}

/// FNV-1a, 64 bits.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let data = binary(7, 42, 100);
        assert_eq!(check_binary(&data), Ok(Stamp { id: 7, seq: 42 }));
        let mut bad = data.clone();
        bad[30] ^= 1;
        assert!(check_binary(&bad).is_err());
        let text = text(3, 9, 20);
        assert_eq!(check_text(&text), Ok(Stamp { id: 3, seq: 9 }));
        let mut tampered = text.into_bytes();
        let first = "WF 3 9 ".len();
        tampered[first] = if tampered[first] == b'a' { b'b' } else { b'a' };
        assert!(check_text(&String::from_utf8(tampered).unwrap()).is_err());
        assert!(check_binary(&binary(1, 2, 0)).is_ok());
    }
}
