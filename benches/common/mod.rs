//! Helpers shared by the criterion benches (each bench includes this file as a module).

#![allow(dead_code)] // Each bench uses only some of these.

use criterion::Throughput;

/// A size as a bench id: `16B`, `1KiB`, `1MiB`.
pub fn label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{}MiB", s >> 20),
        s if s >= 1024 => format!("{}KiB", s >> 10),
        s => format!("{s}B"),
    }
}

/// Messages per second for small payloads (where per-message cost dominates), bytes per
/// second above 125 B.
pub fn throughput(size: usize, count: usize) -> Throughput {
    if size <= 125 { Throughput::Elements(count as u64) } else { Throughput::Bytes((size * count) as u64) }
}

/// The request head Chromium sends for `new WebSocket("ws://localhost:8080/chat")`.
pub const CHROMIUM: &[u8] = b"GET /chat HTTP/1.1\r\nHost: localhost:8080\r\nConnection: Upgrade\r\nPragma: no-cache\r\n\
    Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
    Chrome/120.0.0.0 Safari/537.36\r\nUpgrade: websocket\r\nOrigin: http://localhost:8080\r\n\
    Sec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
