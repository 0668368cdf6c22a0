//! Masking (RFC 6455 §5.3): XOR of a payload with a 4-byte key, from any key offset.
//!
//! This module owns the byte arithmetic of masking and nothing else: it does not know about
//! frames, who masks (the client, §5.1) or where keys come from (§10.3). The frame layer
//! calls it on payload pieces as they arrive, so both functions take the running `offset`
//! into the payload and resume mid-key.
//!
//! Speed: the loops work on fixed-size blocks of 64, 32, 16, 8 and 4 bytes against a key
//! word that was rotated to the offset once, which LLVM compiles to SSE2 `pxor` on the
//! default x86-64 target (wider on targets with AVX), in safe code and with no
//! target-specific code. The benchmark in
//! `benches/mask.rs` compares it with a plain memcpy of the same size.

/// Width of the main loop's block. Four SSE2 registers per iteration measured fastest.
const BLOCK: usize = 64;

/// XORs `buf` in place with `key`, starting at key byte `offset % 4` (RFC 6455 §5.3).
///
/// Byte `i` of `buf` becomes `buf[i] ^ key[(offset + i) % 4]`. Masking is its own inverse,
/// so the same call masks and unmasks. Pass the number of payload bytes already processed
/// as `offset` when a payload is handled in pieces.
///
/// ```
/// use rfc6455::mask::apply_mask;
///
/// // RFC 6455 §5.7: a masked "Hello".
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut payload = *b"Hello";
/// apply_mask(&mut payload, key, 0);
/// assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
///
/// // The same, unmasked in two pieces: the second resumes at key byte 2.
/// let (first, second) = payload.split_at_mut(2);
/// apply_mask(first, key, 0);
/// apply_mask(second, key, 2);
/// assert_eq!(&payload, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = Key::new(key, offset);
    let mut blocks = buf.chunks_exact_mut(BLOCK);
    for block in &mut blocks {
        key.xor_in_place::<BLOCK>(block);
    }
    // Every step below consumes a multiple of 4 bytes until the last 0..=3, so the key
    // phase stays at the rotated key's byte 0 until then.
    let mut rest = blocks.into_remainder();
    rest = key.xor_in_place_if::<32>(rest);
    rest = key.xor_in_place_if::<16>(rest);
    rest = key.xor_in_place_if::<8>(rest);
    if rest.len() >= 4 {
        let (word, tail) = rest.split_at_mut(4); // In bounds: checked just above.
        let masked = u32::from_ne_bytes(array(word)) ^ key.word32;
        word.copy_from_slice(&masked.to_ne_bytes());
        rest = tail;
    }
    for (byte, key_byte) in rest.iter_mut().zip(key.bytes) {
        *byte ^= key_byte;
    }
}

/// Copies `src` into the front of `dst` while XORing it with `key`, starting at key byte
/// `offset % 4` (RFC 6455 §5.3): the fused "copy and unmask" (or "copy and mask").
///
/// For every `i < src.len()`, `dst[i]` becomes `src[i] ^ key[(offset + i) % 4]`; bytes of
/// `dst` past `src.len()` are left alone. One pass over memory instead of a copy followed
/// by [`apply_mask`].
///
/// # Panics
///
/// If `dst` is shorter than `src`, like [`slice::copy_from_slice`]. Sizing `dst` is the
/// caller's job; no peer input can cause this.
///
/// ```
/// use rfc6455::mask::copy_masked;
///
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut out = [0u8; 8];
/// copy_masked(&[0x7f, 0x9f, 0x4d, 0x51, 0x58], &mut out, key, 0);
/// assert_eq!(&out[..5], b"Hello");
/// ```
pub fn copy_masked(src: &[u8], dst: &mut [u8], key: [u8; 4], offset: usize) {
    let dst = &mut dst[..src.len()]; // Panics if `dst` is too short: documented caller contract.
    let key = Key::new(key, offset);
    let mut src_blocks = src.chunks_exact(BLOCK);
    let mut dst_blocks = dst.chunks_exact_mut(BLOCK);
    for (s, d) in (&mut src_blocks).zip(&mut dst_blocks) {
        key.xor_copy::<BLOCK>(s, d);
    }
    // As in `apply_mask`: multiples of 4 bytes first, so the key phase stays at 0.
    let (mut src, mut dst) = (src_blocks.remainder(), dst_blocks.into_remainder());
    (src, dst) = key.xor_copy_if::<32>(src, dst);
    (src, dst) = key.xor_copy_if::<16>(src, dst);
    (src, dst) = key.xor_copy_if::<8>(src, dst);
    if src.len() >= 4 {
        // In bounds: src.len() >= 4 was checked and dst.len() == src.len().
        let (src_word, src_tail) = src.split_at(4);
        let (dst_word, dst_tail) = dst.split_at_mut(4);
        let masked = u32::from_ne_bytes(array(src_word)) ^ key.word32;
        dst_word.copy_from_slice(&masked.to_ne_bytes());
        (src, dst) = (src_tail, dst_tail);
    }
    for ((d, s), key_byte) in dst.iter_mut().zip(src).zip(key.bytes) {
        *d = s ^ key_byte;
    }
}

/// [`copy_masked`], also saying whether every byte written is ASCII (below 0x80), found in the
/// same pass at no cost the copy's stores do not already set: a Text message whose bytes are
/// all ASCII is valid UTF-8 without a pass of its own.
///
/// Written on bytes against a 64-byte key pattern, with one OR accumulator per byte of a
/// block, which LLVM vectorises (SSE2 `pxor`/`por` on the default target). ORing the 8-byte
/// lanes of [`copy_masked`]'s loop into accumulators measured twice as slow: those lanes
/// were no longer merged into vectors.
pub(crate) fn copy_masked_ascii(src: &[u8], dst: &mut [u8], key: [u8; 4], offset: usize) -> bool {
    let dst = &mut dst[..src.len()]; // Panics if `dst` is too short, as `copy_masked` does.
    let key = Key::new(key, offset);
    let pattern: [u8; BLOCK] = core::array::from_fn(|i| key.bytes[i % 4]);
    let mut high = [0u8; BLOCK];
    let mut src_blocks = src.chunks_exact(BLOCK);
    let mut dst_blocks = dst.chunks_exact_mut(BLOCK);
    for (s, d) in (&mut src_blocks).zip(&mut dst_blocks) {
        let s: &[u8; BLOCK] = s.try_into().expect("block of BLOCK bytes"); // chunks_exact(BLOCK)
        let d: &mut [u8; BLOCK] = d.try_into().expect("block of BLOCK bytes");
        for i in 0..BLOCK {
            let masked = s[i] ^ pattern[i];
            d[i] = masked;
            high[i] |= masked;
        }
    }
    // The rest (under a block, so the key phase is back at 0) by words, then bytes.
    let mut or = u64::from(high.iter().fold(0, |or, &byte| or | byte));
    let (src, dst) = (src_blocks.remainder(), dst_blocks.into_remainder());
    let mut src_words = src.chunks_exact(8);
    let mut dst_words = dst.chunks_exact_mut(8);
    for (s, d) in (&mut src_words).zip(&mut dst_words) {
        let masked = u64::from_ne_bytes(array(s)) ^ key.word64;
        d.copy_from_slice(&masked.to_ne_bytes());
        or |= masked;
    }
    for ((d, s), key_byte) in dst_words.into_remainder().iter_mut().zip(src_words.remainder()).zip(pattern) {
        *d = s ^ key_byte;
        or |= u64::from(*d);
    }
    // A byte's high bit lands on bit 7 of some byte of `or`.
    or & 0x8080_8080_8080_8080 == 0
}

/// `bytes` as an array; `bytes` is exactly `N` long at every call site.
#[inline(always)]
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    // Callers pass chunks_exact(N) items or split_at(N) heads.
    bytes.try_into().expect("slice of N bytes")
}

/// The key rotated to the offset, in the widths the loops use.
///
/// The block loops XOR 8-byte lanes with `word64`; LLVM's SLP vectoriser merges the lanes
/// of a fixed-size block into 16-byte SSE2 `pxor`s. (XORing bytes against a 64-byte key
/// array measured slower for short inputs: the array was built on the stack every call.)
struct Key {
    /// `key[(offset + i) % 4]` for `i` in `0..4`.
    bytes: [u8; 4],
    /// `bytes` as a native-endian word.
    word32: u32,
    /// `bytes` twice, as a native-endian word (the same value on either endianness).
    word64: u64,
}

impl Key {
    #[inline(always)]
    fn new(key: [u8; 4], offset: usize) -> Self {
        // Rotating the little-endian word right by 8 bits moves key byte 1 to the front.
        let shift = 8 * (offset % 4) as u32;
        let bytes = u32::from_le_bytes(key).rotate_right(shift).to_le_bytes();
        let word32 = u32::from_ne_bytes(bytes);
        let word64 = u64::from(word32) * 0x0000_0001_0000_0001;
        Self { bytes, word32, word64 }
    }

    /// XORs `block` (exactly `N` bytes, `N` a multiple of 8) with the key.
    #[inline(always)]
    fn xor_in_place<const N: usize>(&self, block: &mut [u8]) {
        // Callers pass blocks of exactly N bytes (chunks_exact or split_at_mut): the fixed
        // size is what lets LLVM unroll and vectorise the lane loop.
        let block: &mut [u8; N] = block.try_into().expect("block of N bytes");
        for lane in block.chunks_exact_mut(8) {
            let masked = u64::from_ne_bytes(array(lane)) ^ self.word64;
            lane.copy_from_slice(&masked.to_ne_bytes());
        }
    }

    /// If `buf` holds at least `N` bytes, XORs its first `N` and returns the rest.
    #[inline(always)]
    fn xor_in_place_if<'a, const N: usize>(&self, buf: &'a mut [u8]) -> &'a mut [u8] {
        if buf.len() < N {
            return buf;
        }
        let (head, rest) = buf.split_at_mut(N); // In bounds: checked just above.
        self.xor_in_place::<N>(head);
        rest
    }

    /// Writes `src ^ key` into `dst`; both exactly `N` bytes, `N` a multiple of 8.
    #[inline(always)]
    fn xor_copy<const N: usize>(&self, src: &[u8], dst: &mut [u8]) {
        // Callers pass blocks of exactly N bytes (chunks_exact or split_at).
        let src: &[u8; N] = src.try_into().expect("block of N bytes");
        let dst: &mut [u8; N] = dst.try_into().expect("block of N bytes");
        for (d, s) in dst.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
            let masked = u64::from_ne_bytes(array(s)) ^ self.word64;
            d.copy_from_slice(&masked.to_ne_bytes());
        }
    }

    /// If `src` holds at least `N` bytes, copies its first `N` masked into `dst` and returns
    /// the rests of both. `dst` is exactly as long as `src`.
    #[inline(always)]
    fn xor_copy_if<'s, 'd, const N: usize>(
        &self,
        src: &'s [u8],
        dst: &'d mut [u8],
    ) -> (&'s [u8], &'d mut [u8]) {
        if src.len() < N {
            return (src, dst);
        }
        // In bounds: src.len() >= N was checked above and dst.len() == src.len().
        let (src_head, src_rest) = src.split_at(N);
        let (dst_head, dst_rest) = dst.split_at_mut(N);
        self.xor_copy::<N>(src_head, dst_head);
        (src_rest, dst_rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte ^= key[(offset + i) % 4];
        }
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(7)).collect()
    }

    #[test]
    fn apply_mask_matches_reference_for_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..=300 {
            // Also start at unaligned addresses inside a larger buffer.
            for start in [0, 1, 3] {
                for offset in 0..8 {
                    let original = pattern(len + start);
                    let mut expected = original.clone();
                    reference(&mut expected[start..], key, offset);
                    let mut actual = original;
                    apply_mask(&mut actual[start..], key, offset);
                    assert_eq!(actual, expected, "len {len} start {start} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn copy_masked_matches_reference_for_every_length_and_offset() {
        let key = [0x01, 0x80, 0xfe, 0x7f];
        for len in 0..=300 {
            for offset in 0..8 {
                let src = pattern(len);
                let mut expected = src.clone();
                reference(&mut expected, key, offset);
                // `dst` longer than `src`: the excess must stay untouched.
                let mut dst = vec![0xaa; len + 5];
                copy_masked(&src, &mut dst, key, offset);
                assert_eq!(&dst[..len], &expected[..], "len {len} offset {offset}");
                assert!(dst[len..].iter().all(|&b| b == 0xaa), "len {len} offset {offset}");
            }
        }
    }

    /// Printable ASCII of `len` bytes with the high bit set at each of `high`, masked by the
    /// reference with `key` at `offset`: `copy_masked_ascii` must give the text back and call
    /// it ASCII exactly when `high` is empty.
    fn check_copy_masked_ascii(len: usize, key: [u8; 4], offset: usize, high: &[usize]) {
        let mut plain: Vec<u8> = (0..len).map(|i| b' ' + (i % 95) as u8).collect();
        for &at in high {
            plain[at] |= 0x80;
        }
        let mut src = plain.clone();
        reference(&mut src, key, offset);
        let mut dst = vec![0; len];
        let ascii = copy_masked_ascii(&src, &mut dst, key, offset);
        assert_eq!(dst, plain, "len {len} offset {offset} high {high:?}");
        assert_eq!(ascii, high.is_empty(), "len {len} offset {offset} high {high:?}");
    }

    #[test]
    fn copy_masked_ascii_finds_a_high_bit_at_every_position() {
        // Plain ASCII text, masked as a client would, comes back ASCII; one byte of 0x80 or
        // more anywhere (in a block, a word of the rest, or its last bytes) is seen.
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..=200 {
            for offset in 0..4 {
                check_copy_masked_ascii(len, key, offset, &[]);
                for at in 0..len {
                    check_copy_masked_ascii(len, key, offset, &[at]);
                }
            }
        }
    }

    #[test]
    fn copy_masked_ascii_finds_two_high_bits_that_share_a_lane() {
        // Two bytes of 0x80 or more must not cancel out wherever the pass merges them: the
        // same byte of two blocks, two bytes of a block (their accumulators are merged at the
        // end), the same lane of two words, or any two of the last bytes (which all land in
        // one byte of the accumulator). Every pair, in lengths that end in each part.
        // (cargo mutants: merging a block's per-byte accumulators with XOR instead of OR went
        // unseen by the test above, which sets one such byte.)
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in [2, 7, 13, 64, 71, 72, 79, 128, 137] {
            for offset in 0..4 {
                for first in 0..len {
                    for second in first + 1..len {
                        check_copy_masked_ascii(len, key, offset, &[first, second]);
                    }
                }
            }
        }
    }

    #[test]
    fn masking_twice_is_identity() {
        let original = pattern(1000);
        let mut buf = original.clone();
        apply_mask(&mut buf, [9, 8, 7, 6], 3);
        assert_ne!(buf, original);
        apply_mask(&mut buf, [9, 8, 7, 6], 3);
        assert_eq!(buf, original);
    }

    #[test]
    fn offset_wraps_at_four() {
        let mut a = pattern(77);
        let mut b = a.clone();
        apply_mask(&mut a, [1, 2, 3, 4], 2);
        apply_mask(&mut b, [1, 2, 3, 4], usize::MAX - 1); // usize::MAX - 1 ≡ 2 (mod 4)
        assert_eq!(a, b);
    }

    #[test]
    fn rfc_6455_section_5_7_example() {
        let mut payload = *b"Hello";
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    #[should_panic]
    fn copy_masked_panics_on_short_destination() {
        copy_masked(&[1, 2, 3], &mut [0; 2], [0; 4], 0);
    }
}
