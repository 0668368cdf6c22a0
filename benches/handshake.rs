//! Opening handshake benchmarks: the accept key, parsing a browser's request in one piece and
//! one byte at a time, writing the 101, and a client's request and verification.

#[path = "common/mod.rs"]
mod common;
use common::CHROMIUM;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::handshake::{
    Accept, AcceptKey, ClientRequest, Config, Request, RequestParser, Response, WebSocketKey,
};

const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n";

fn eight_kib_head() -> Vec<u8> {
    let mut head = CHROMIUM[..CHROMIUM.len() - 2].to_vec();
    let pad = 8192 - head.len() - 2 - "X-Pad: \r\n".len();
    head.extend_from_slice(format!("X-Pad: {}\r\n\r\n", "p".repeat(pad)).as_bytes());
    assert_eq!(head.len(), 8192);
    head
}

fn server(c: &mut Criterion) {
    c.bench_function("accept_key", |b| {
        b.iter(|| AcceptKey::from_key(black_box(b"dGhlIHNhbXBsZSBub25jZQ==")))
    });

    let mut group = c.benchmark_group("server");
    group.throughput(Throughput::Bytes(CHROMIUM.len() as u64));
    group.bench_function("parse_chromium_one_shot", |b| {
        b.iter(|| Request::parse(black_box(CHROMIUM), &Config::default()).unwrap().unwrap().1)
    });
    group.bench_function("parse_and_write_101", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            let (request, _) = Request::parse(black_box(CHROMIUM), &Config::default()).unwrap().unwrap();
            request.accept(&Accept::new()).unwrap().write(&mut out).unwrap();
            out.len()
        })
    });
    let head = eight_kib_head();
    group.throughput(Throughput::Bytes(head.len() as u64));
    group.bench_function("parser_8k_head_one_byte_at_a_time", |b| {
        b.iter(|| {
            let mut parser = RequestParser::new(Config::default());
            let mut used = 0;
            for byte in &head {
                if let Some((_, n)) = parser.feed(std::slice::from_ref(byte)).unwrap() {
                    used = n;
                }
            }
            used
        })
    });
    group.bench_function("parser_8k_head_in_one_piece", |b| {
        b.iter(|| RequestParser::new(Config::default()).feed(black_box(&head)).unwrap().unwrap().1)
    });
    group.finish();
}

fn client(c: &mut Criterion) {
    let mut group = c.benchmark_group("client");
    group.bench_function("write_request", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            ClientRequest::new(
                black_box("wss://example.com:8443/chat?room=1"),
                WebSocketKey::from_bytes([7; 16]),
            )
            .unwrap()
            .with_subprotocol("chat")
            .write(&mut out)
            .unwrap()
        })
    });
    let handshake = ClientRequest::new("ws://h/", WebSocketKey::from_bytes(*b"the sample nonce"))
        .unwrap()
        .with_subprotocol("chat")
        .write(&mut Vec::new())
        .unwrap();
    group.bench_function("parse_and_verify_101", |b| {
        b.iter(|| {
            let (response, _) = Response::parse(black_box(RESPONSE), &Config::default()).unwrap().unwrap();
            handshake.verify(&response).unwrap().subprotocol().is_some()
        })
    });
    group.finish();
}

criterion_group!(benches, server, client);
criterion_main!(benches);
