//! Helpers shared by integration tests (each test file that needs them says `mod common;`).

#![allow(dead_code)] // Each test file uses a different part.

/// Bytes no compressor can shrink (xorshift64 from `seed`).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}
