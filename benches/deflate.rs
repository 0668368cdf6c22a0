//! permessage-deflate benchmarks: compressed send, and send plus receive, of JSON-like text
//! messages of 200 B, 1 KiB and 16 KiB between a client and a server `Connection` in memory,
//! with and without context takeover (freeing or keeping the states between messages), at the
//! default level 1 and at zlib's usual 6; plain (uncompressed) round trips for reference.
//!
//! Each size cycles through enough different messages to overflow the 32 KiB window, so
//! context takeover gains only from the real similarity of the messages, not from exact
//! repeats. Receive time is `roundtrip - send`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::Role;
use rfc6455::connection::{Connection, Event, MaskKeySource};
use rfc6455::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};

const SIZES: [usize; 3] = [200, 1024, 16 * 1024];

fn keys() -> MaskKeySource {
    let mut n: u32 = 1;
    Box::new(move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_le_bytes()
    })
}

/// JSON-like text of `len` bytes (padded or cut), varied by `seed`.
fn json(len: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as u32
    };
    let names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
    let mut out = String::from("[");
    while out.len() < len {
        out.push_str(&format!(
            r#"{{"id":{},"user":"{}","score":{},"active":{},"ts":"2024-05-{:02}T{:02}:{:02}:{:02}Z"}},"#,
            next() % 1_000_000,
            names[(next() % 8) as usize],
            next() % 10_000,
            next() % 2 == 0,
            1 + next() % 28,
            next() % 24,
            next() % 60,
            next() % 60,
        ));
    }
    out.truncate(len - 1);
    out.push(']');
    out
}

/// Different messages of `size` bytes, at least 128 KiB of them in all.
fn messages(size: usize) -> Vec<String> {
    let count = (128 * 1024 / size).max(8);
    (0..count as u64).map(|seed| json(size, seed)).collect()
}

/// A client and a server with the extension of these parameters installed (as a handshake
/// that agreed them would), or none.
fn pair(deflate: Option<(DeflateParams, DeflateConfig)>) -> (Connection, Connection) {
    pair_with(rfc6455::connection::Config::default(), deflate)
}

/// [`pair`] with `config` for both.
fn pair_with(
    config: rfc6455::connection::Config,
    deflate: Option<(DeflateParams, DeflateConfig)>,
) -> (Connection, Connection) {
    let mut client = Connection::builder(Role::Client).config(config.clone()).mask_keys(keys());
    let mut server = Connection::builder(Role::Server).config(config);
    if let Some((params, config)) = deflate {
        client = client.extension(Box::new(PerMessageDeflate::new(Role::Client, params, &config)));
        server = server.extension(Box::new(PerMessageDeflate::new(Role::Server, params, &config)));
    }
    (client.build(), server.build())
}

fn settings() -> [(&'static str, Option<(DeflateParams, DeflateConfig)>); 5] {
    let no_takeover = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    [
        ("takeover", Some((DeflateParams::default(), DeflateConfig::default()))),
        // zlib's usual level instead of the default 1.
        ("takeover_level6", Some((DeflateParams::default(), DeflateConfig::default().level(6)))),
        ("no_takeover", Some((no_takeover, DeflateConfig::default()))),
        // Resetting the states between messages instead of freeing them.
        ("no_takeover_kept", Some((no_takeover, DeflateConfig::default().free_between_messages(false)))),
        ("plain", None),
    ]
}

fn send(client: &mut Connection, text: &str) -> usize {
    client.send_text(text).unwrap();
    let n = client.poll_output().len();
    client.handle_written(n).unwrap();
    n
}

fn round_trip(client: &mut Connection, server: &mut Connection, text: &str) -> usize {
    client.send_text(text).unwrap();
    let wire = client.poll_output();
    server.handle_bytes(wire);
    let n = wire.len();
    client.handle_written(n).unwrap();
    match server.poll_event() {
        Some(Event::Text(got)) => got.len(),
        other => panic!("{other:?}"),
    }
}

fn deflate(c: &mut Criterion) {
    // Compression ratios, for the record.
    for size in SIZES {
        let texts = messages(size);
        for (name, deflate) in settings() {
            let (mut client, _) = pair(deflate);
            let wire: usize = texts.iter().chain(&texts).map(|t| send(&mut client, t)).sum();
            eprintln!(
                "{size:>6} B {name:<12} wire/payload = {:.3}",
                wire as f64 / (2 * size * texts.len()) as f64
            );
        }
    }

    let mut group = c.benchmark_group("deflate_send");
    for size in SIZES {
        let texts = messages(size);
        group.throughput(Throughput::Bytes(size as u64));
        for (name, deflate) in settings() {
            if deflate.is_none() {
                continue;
            }
            let (mut client, _) = pair(deflate);
            let mut i = 0;
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter(|| {
                    i = (i + 1) % texts.len();
                    send(&mut client, black_box(&texts[i]))
                })
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("deflate_roundtrip");
    for size in SIZES {
        let texts = messages(size);
        group.throughput(Throughput::Bytes(size as u64));
        for (name, deflate) in settings() {
            let (mut client, mut server) = pair(deflate);
            let mut i = 0;
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter(|| {
                    i = (i + 1) % texts.len();
                    round_trip(&mut client, &mut server, black_box(&texts[i]))
                })
            });
        }
    }
    group.finish();

    // Receiving compressed messages as the tokio adapter does, with a frame budget (a call
    // then inflates about 16 KiB and returns, so that a decompression bomb cannot hold a
    // runtime), and without one: the budget's cost on honest traffic.
    let mut group = c.benchmark_group("deflate_receive");
    for size in [64 * 1024, 1024 * 1024] {
        let texts = messages(size);
        group.throughput(Throughput::Bytes(size as u64));
        for (name, budget) in [("no_budget", None), ("frame_budget_32", Some(32))] {
            let config = rfc6455::connection::Config::default().frame_budget(budget);
            let (mut client, mut server) = pair_with(config, default_deflate());
            let wires: Vec<Vec<u8>> = texts
                .iter()
                .map(|text| {
                    client.send_text(text).unwrap();
                    let wire = client.poll_output().to_vec();
                    client.handle_written(wire.len()).unwrap();
                    wire
                })
                .collect();
            let mut i = 0;
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter(|| {
                    // Takeover: the server keeps its window across messages. Going back to the
                    // first message is safe: it was compressed with no history, and each later
                    // one refers back only to its predecessor (every message is longer than
                    // the 32 KiB window).
                    server.handle_bytes(black_box(&wires[i]));
                    i = (i + 1) % wires.len();
                    loop {
                        if let Some(Event::Text(got)) = server.poll_event() {
                            break got.len();
                        }
                        assert!(server.frame_budget_spent(), "no message and the budget not spent");
                    }
                })
            });
        }
    }
    group.finish();
}

/// The first of [`settings`]: the default parameters and configuration.
fn default_deflate() -> Option<(DeflateParams, DeflateConfig)> {
    settings().into_iter().next().and_then(|(_, deflate)| deflate)
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = deflate
}
criterion_main!(benches);
