//! The incremental UTF-8 validator against `core::str::from_utf8` on the same text.
//!
//! `validator/whole` feeds the text in one piece and finishes; `validator/1460` feeds it in
//! 1460-byte pieces (one TCP segment each), which splits code points across pieces.
//! Run with `cargo bench --bench utf8`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::utf8::Utf8Validator;

/// Text of at most `size` bytes made of whole repetitions of the characters of `pattern`.
fn text(pattern: &str, size: usize) -> Vec<u8> {
    let mut out = String::with_capacity(size);
    for c in pattern.chars().cycle() {
        if out.len() + c.len_utf8() > size {
            break;
        }
        out.push(c);
    }
    out.into_bytes()
}

fn validation(c: &mut Criterion) {
    let ascii = "The quick brown fox jumps over the lazy dog; 0123456789 {\"json\": true}\n";
    // 1-, 2-, 3- and 4-byte code points: Latin, Cyrillic, CJK, emoji.
    let mixed = "Hello, Привет мир! 你好，世界。こんにちは 🦀🚀✨ Ελληνικά ";
    let mut group = c.benchmark_group("utf8");
    group.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_secs(1)).sample_size(30);
    for (kind, pattern) in [("ascii", ascii), ("mixed", mixed)] {
        for size in [1024, 64 * 1024] {
            let bytes = text(pattern, size);
            let label = format!("{kind}/{size}");
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            group.bench_with_input(BenchmarkId::new("from_utf8", &label), &bytes, |b, bytes| {
                b.iter(|| core::str::from_utf8(black_box(bytes)).is_ok())
            });
            group.bench_with_input(BenchmarkId::new("validator/whole", &label), &bytes, |b, bytes| {
                let mut validator = Utf8Validator::new();
                b.iter(|| {
                    let fed = validator.feed(black_box(bytes));
                    fed.and(validator.finish()).is_ok()
                })
            });
            group.bench_with_input(BenchmarkId::new("validator/1460", &label), &bytes, |b, bytes| {
                let mut validator = Utf8Validator::new();
                b.iter(|| {
                    let fed = black_box(bytes).chunks(1460).try_for_each(|piece| validator.feed(piece));
                    fed.and(validator.finish()).is_ok()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, validation);
criterion_main!(benches);
