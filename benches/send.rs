//! Send throughput: server frames (unmasked) and client frames (masked), through the frame
//! layer and through `Connection`. Run with `cargo bench --bench send`.
//!
//! * `send_frame/ROLE/SIZE`: `encode_frame` into a reused buffer, one frame per message.
//! * `send_connection/ROLE/SIZE`: one long-lived `Connection` queues each message
//!   (`send_binary`) and its output is taken at once (`poll_output` + `handle_written`), as a
//!   socket that accepts every write would. The client draws a fresh key per frame from its
//!   default source of randomness.
//!
//! Sizes of 16 B and 125 B report messages/s (criterion's "elements"); larger sizes report
//! payload bytes/s. Every benchmark id names the number of messages per iteration.

#[path = "common/mod.rs"]
mod common;
use common::{label, throughput};
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rfc6455::Role;
use rfc6455::connection::{Config, Connection};
use rfc6455::frame::{MAX_HEADER_LEN, OpCode, encode_frame};

const SIZES: [usize; 5] = [16, 125, 1024, 16 * 1024, 1024 * 1024];

fn count_for(size: usize) -> usize {
    ((1 << 20) / size).max(4)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Server => "server",
        Role::Client => "client-masked",
    }
}

fn frame_layer(c: &mut Criterion) {
    let mut group = c.benchmark_group("send_frame");
    group.measurement_time(Duration::from_secs(1)).warm_up_time(Duration::from_millis(500)).sample_size(20);
    for role in [Role::Server, Role::Client] {
        for size in SIZES {
            let count = count_for(size);
            let data: Vec<u8> = (0..size).map(|i| (i * 7 + 3) as u8).collect();
            let mut out = vec![0u8; size + MAX_HEADER_LEN];
            let mut key = 0x1234_5678u32;
            group.throughput(throughput(size, count));
            let id = format!("{}/{}x{count}", role_name(role), label(size));
            group.bench_function(id, |b| {
                b.iter(|| {
                    let mut total = 0;
                    for _ in 0..count {
                        // A cheap key sequence: the frame layer takes keys from the caller.
                        let mask = (role == Role::Client).then(|| {
                            key = key.wrapping_mul(0x9E37_79B9).wrapping_add(1);
                            key.to_le_bytes()
                        });
                        total +=
                            encode_frame(true, 0, OpCode::Binary, black_box(&data), mask, &mut out).unwrap();
                        black_box(&out);
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

fn connection(c: &mut Criterion) {
    let mut group = c.benchmark_group("send_connection");
    group.measurement_time(Duration::from_secs(1)).warm_up_time(Duration::from_millis(500)).sample_size(20);
    for role in [Role::Server, Role::Client] {
        for size in SIZES {
            let count = count_for(size);
            let data: Vec<u8> = (0..size).map(|i| (i * 7 + 3) as u8).collect();
            let mut conn = Connection::new(role, Config::default());
            group.throughput(throughput(size, count));
            let id = format!("{}/{}x{count}", role_name(role), label(size));
            group.bench_function(id, |b| {
                b.iter(|| {
                    let mut total = 0;
                    for _ in 0..count {
                        conn.send_binary(black_box(&data)).unwrap();
                        let n = black_box(conn.poll_output()).len();
                        conn.handle_written(n).unwrap();
                        total += n;
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, frame_layer, connection);
criterion_main!(benches);
