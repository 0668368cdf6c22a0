//! The server handshake against its floor: a Chromium request head in, the 101 out, through
//! `rfc6455::handshake` and through the bare `httparse` + SHA-1 + base64 steps it is built on
//! (no validation beyond finding the key). Run with `cargo bench --bench handshake_floor`.
//!
//! `rfc6455/chromium_to_101` answers without an extension; `rfc6455/chromium_to_101+deflate`
//! negotiates the request's permessage-deflate offer (default policy) and answers it, as a
//! server with compression on does. `scripts/callgrind.sh` counts the same paths' instructions,
//! which, unlike these times, do not move with the machine's load.

#[path = "common/mod.rs"]
mod common;
use common::CHROMIUM;
use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use rfc6455::deflate::{DeflateConfig, negotiate_server};
use rfc6455::handshake::{Accept, Config, Request};
use sha1::Digest as _;

const ACCEPT_KEY: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn ours(out: &mut Vec<u8>) -> usize {
    out.clear();
    let (request, _) = Request::parse(black_box(CHROMIUM), &Config::default()).unwrap().unwrap();
    request.accept(&Accept::new()).unwrap().write(out).unwrap();
    out.len()
}

fn ours_deflate(out: &mut Vec<u8>) -> usize {
    out.clear();
    let (request, _) = Request::parse(black_box(CHROMIUM), &Config::default()).unwrap().unwrap();
    let answer = negotiate_server(request.extensions(), &DeflateConfig::default()).map(|p| p.to_string());
    request.accept(&Accept::new().with_extension(answer.as_deref())).unwrap().write(out).unwrap();
    out.len()
}

/// httparse, a header lookup, SHA-1, base64 and a minimal 101.
fn bare(out: &mut Vec<u8>) -> usize {
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    out.clear();
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    assert!(request.parse(black_box(CHROMIUM)).unwrap().is_complete());
    let key =
        request.headers.iter().find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key")).unwrap().value;
    let mut sha = sha1::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let mut accept = [0u8; 28];
    base64::engine::general_purpose::STANDARD.encode_slice(sha.finalize(), &mut accept).unwrap();
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    out.extend_from_slice(&accept);
    out.extend_from_slice(b"\r\n\r\n");
    out.len()
}

fn floor(c: &mut Criterion) {
    let mut out = Vec::with_capacity(512);
    for f in [ours, ours_deflate, bare] {
        f(&mut out);
        assert!(out.windows(ACCEPT_KEY.len()).any(|w| w == ACCEPT_KEY));
    }
    let mut group = c.benchmark_group("handshake_floor");
    group.measurement_time(Duration::from_secs(1)).warm_up_time(Duration::from_millis(500)).sample_size(30);
    group.bench_function("rfc6455/chromium_to_101", |b| b.iter(|| ours(&mut out)));
    group.bench_function("rfc6455/chromium_to_101+deflate", |b| b.iter(|| ours_deflate(&mut out)));
    group.bench_function("bare_httparse_sha1_base64/chromium_to_101", |b| b.iter(|| bare(&mut out)));
    group.finish();
}

criterion_group!(benches, floor);
criterion_main!(benches);
