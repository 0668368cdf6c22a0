//! Masking throughput (RFC 6455 §5.3) against a plain memcpy of the same size.
//!
//! `apply_mask` unmasks in place (what a receiver does with a payload in its read buffer);
//! `copy_masked` copies and unmasks in one pass; `memcpy` is `copy_from_slice`, the floor
//! both are measured against. Run with `cargo bench --bench mask`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::mask::{apply_mask, copy_masked};

/// 16 B and 125 B (the largest control frame payload) measure per-call overhead; 64 KiB and
/// 1 MiB measure throughput out of L2 and out of L3.
const SIZES: [usize; 5] = [16, 125, 1024, 64 * 1024, 1024 * 1024];

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn masking(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    group.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_secs(1)).sample_size(30);
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let src: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let mut dst = vec![0u8; size];
        let mut buf = src.clone();

        group.bench_with_input(BenchmarkId::new("memcpy", size), &size, |b, _| {
            b.iter(|| black_box(&mut dst[..]).copy_from_slice(black_box(&src)))
        });
        group.bench_with_input(BenchmarkId::new("apply_mask", size), &size, |b, _| {
            // Offset 1: the key is rotated, as when a payload is unmasked in pieces.
            b.iter(|| apply_mask(black_box(&mut buf), black_box(KEY), black_box(1)))
        });
        group.bench_with_input(BenchmarkId::new("copy_masked", size), &size, |b, _| {
            b.iter(|| copy_masked(black_box(&src), black_box(&mut dst), black_box(KEY), black_box(1)))
        });
    }
    group.finish();
}

criterion_group!(benches, masking);
criterion_main!(benches);
