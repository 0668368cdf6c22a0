//! Properties of the `mask` and `utf8` layers against simple references.
//!
//! * Masking equals a byte-by-byte XOR for any length and key offset, applied whole or in
//!   pieces with the running offset; `copy_masked` equals a copy followed by `apply_mask`.
//! * The incremental UTF-8 validator agrees with `core::str::from_utf8` on the whole text
//!   however it is split, and reports an error in the very piece that holds the first byte
//!   after which the text can no longer become valid UTF-8 (fail fast, RFC 6455 §8.1).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use rfc6455::mask::{apply_mask, copy_masked};
use rfc6455::utf8::Utf8Validator;

fn reference_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

/// Sorted cut positions in `0..=len` (duplicates allowed: they make empty pieces).
fn cut_points(cuts: &[Index], len: usize) -> Vec<usize> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(len + 1)).collect();
    points.sort_unstable();
    points
}

/// `bytes` split at `points` (sorted, each <= bytes.len()), with each piece's start.
fn pieces<'a>(bytes: &'a [u8], points: &[usize]) -> Vec<(usize, &'a [u8])> {
    let mut out = Vec::new();
    let mut start = 0;
    for &point in points.iter().chain([&bytes.len()]) {
        out.push((start, &bytes[start..point]));
        start = point;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mask_matches_byte_by_byte_reference(
        data in vec(any::<u8>(), 0..2000),
        key in any::<[u8; 4]>(),
        offset in any::<usize>(),
        start in 0usize..8,
    ) {
        // `start` also moves the buffer to unaligned addresses.
        let start = start.min(data.len());
        let mut expected = data.clone();
        reference_mask(&mut expected[start..], key, offset);
        let mut actual = data;
        apply_mask(&mut actual[start..], key, offset);
        prop_assert_eq!(actual, expected);
    }

    #[test]
    fn mask_in_pieces_equals_mask_whole(
        data in vec(any::<u8>(), 0..2000),
        key in any::<[u8; 4]>(),
        offset in 0usize..1 << 20,
        cuts in vec(any::<Index>(), 0..12),
    ) {
        let mut whole = data.clone();
        apply_mask(&mut whole, key, offset);
        let mut pieced = data;
        let points = cut_points(&cuts, pieced.len());
        let mut start = 0;
        for &point in points.iter().chain([&pieced.len()]) {
            apply_mask(&mut pieced[start..point], key, offset + start);
            start = point;
        }
        prop_assert_eq!(pieced, whole);
    }

    #[test]
    fn copy_masked_equals_copy_then_mask(
        src in vec(any::<u8>(), 0..2000),
        key in any::<[u8; 4]>(),
        offset in any::<usize>(),
        extra in 0usize..40,
        filler in any::<u8>(),
    ) {
        let mut expected = vec![filler; src.len() + extra];
        expected[..src.len()].copy_from_slice(&src);
        apply_mask(&mut expected[..src.len()], key, offset);
        let mut actual = vec![filler; src.len() + extra];
        copy_masked(&src, &mut actual, key, offset);
        prop_assert_eq!(actual, expected);
    }
}

/// Bytes at the edges of the UTF-8 rules: invalid leads, leads with a narrow second-byte
/// range, and the ends of those ranges.
const EDGE_BYTES: [u8; 18] = [
    0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
    0x7F,
];

/// A piece of test text: mostly UTF-8, with stray bytes and truncated code points mixed in.
fn segment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<char>(), 0..8).prop_map(|chars| String::from_iter(chars).into_bytes()),
        2 => "[a-z ]{0,24}".prop_map(String::into_bytes),
        1 => (0x80u8..=0xFF).prop_map(|byte| vec![byte]),
        2 => select(EDGE_BYTES.to_vec()).prop_map(|byte| vec![byte]),
        2 => (any::<char>(), 1usize..4).prop_map(|(c, n)| {
            let mut buf = [0; 4];
            let encoded = c.encode_utf8(&mut buf).as_bytes();
            encoded[..n.min(encoded.len())].to_vec()
        }),
    ]
}

fn text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Mostly valid: a single defect, if any, late in the text.
        1 => (vec(any::<char>(), 0..200), vec(segment(), 0..3)).prop_map(|(chars, tail)| {
            let mut bytes = String::from_iter(chars).into_bytes();
            bytes.extend(tail.concat());
            bytes
        }),
        3 => vec(segment(), 0..40).prop_map(|segments| segments.concat()),
    ]
}

/// Whether some continuation makes `prefix` valid UTF-8. Brute force, using only the verdict
/// of `from_utf8`: a code point has at most 3 bytes after its lead, and only the byte right
/// after the lead has a range that depends on the lead, so trying `c`, `c 80`, `c 80 80`
/// for every continuation byte `c` covers every way to finish the last code point.
fn completable(prefix: &[u8]) -> bool {
    if std::str::from_utf8(prefix).is_ok() {
        return true;
    }
    let mut candidate = prefix.to_vec();
    (0x80..=0xBFu8).any(|c| {
        [[c].as_slice(), &[c, 0x80], &[c, 0x80, 0x80]].iter().any(|suffix| {
            candidate.truncate(prefix.len());
            candidate.extend_from_slice(suffix);
            std::str::from_utf8(&candidate).is_ok()
        })
    })
}

/// Index of the first byte after which no continuation of the text is valid UTF-8.
fn first_dead_byte(bytes: &[u8]) -> Option<usize> {
    if completable(bytes) {
        return None;
    }
    // `completable(bytes[..p])` is monotone in p (a completion of a longer prefix completes
    // every shorter one): binary search for the smallest uncompletable prefix.
    let (mut completable_len, mut dead_len) = (0, bytes.len());
    while dead_len - completable_len > 1 {
        let mid = (completable_len + dead_len) / 2;
        if completable(&bytes[..mid]) {
            completable_len = mid;
        } else {
            dead_len = mid;
        }
    }
    Some(dead_len - 1)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn utf8_validator_agrees_with_from_utf8_and_fails_fast(
        bytes in text(),
        cuts in vec(any::<Index>(), 0..8),
    ) {
        let whole = std::str::from_utf8(&bytes);
        let dead = first_dead_byte(&bytes);

        // The reference position, also derived from from_utf8's error: the offending byte
        // follows the `error_len` bytes of a broken sequence, or is an invalid lead itself.
        let derived = whole.err().and_then(|e| {
            let len = e.error_len()?;
            let start = e.valid_up_to();
            let invalid_lead = matches!(bytes[start], 0x80..=0xC1 | 0xF5..=0xFF);
            Some(if invalid_lead { start } else { start + len })
        });
        prop_assert_eq!(dead, derived);

        let points = cut_points(&cuts, bytes.len());
        let mut validator = Utf8Validator::new();
        let mut failed = None;
        for (start, piece) in pieces(&bytes, &points) {
            match validator.feed(piece) {
                Ok(()) => {
                    // No byte of this piece is dead yet.
                    prop_assert!(dead.is_none_or(|d| d >= start + piece.len()));
                    prop_assert_eq!(validator.is_boundary(), completable_boundary(&bytes[..start + piece.len()]));
                }
                Err(error) => {
                    // This piece holds the first dead byte.
                    let d = dead.expect("an error implies a dead byte");
                    prop_assert!(start <= d && d < start + piece.len(), "dead byte {} not in {}..{}", d, start, start + piece.len());
                    failed = Some(error);
                    // It sticks.
                    prop_assert_eq!(validator.feed(b"abc"), Err(error));
                    prop_assert!(!validator.is_boundary());
                    break;
                }
            }
        }
        let finished = validator.finish();
        match whole {
            Ok(_) => prop_assert_eq!(finished, Ok(())),
            Err(expected) => {
                let error = finished.expect_err("finish reports the failure");
                if let Some(early) = failed {
                    prop_assert_eq!(error, early);
                }
                prop_assert_eq!(error.valid_up_to(), expected.valid_up_to() as u64);
                prop_assert_eq!(error.error_len(), expected.error_len());
            }
        }
        // finish() reset the validator.
        prop_assert!(validator.is_boundary());
        prop_assert_eq!(validator.feed("ok ✓".as_bytes()), Ok(()));
        prop_assert_eq!(validator.finish(), Ok(()));
    }
}

/// Whether the valid text `prefix` ends at a code point boundary.
fn completable_boundary(prefix: &[u8]) -> bool {
    std::str::from_utf8(prefix).is_ok()
}
