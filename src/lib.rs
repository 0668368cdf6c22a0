//! A sans-IO WebSocket protocol implementation: RFC 6455, with RFC 7692 permessage-deflate and
//! the RFC 8441 HTTP/2 bootstrap.
//!
//! Bytes go in, events come out, bytes to send come out. The caller owns the socket, the clock
//! and the event loop; this crate owns the protocol. The same state machines run over std or
//! tokio sockets, TLS, HTTP/2 streams or an in-memory pipe, and under `cargo-fuzz` and
//! `criterion` with no network at all.
//!
//! # Layers
//!
//! Each layer is usable alone and the next is built on it:
//!
//! | module | owns |
//! |---|---|
//! | [`mask`] | XOR with a 4-byte key from any offset (§5.3) |
//! | [`frame`] | [`OpCode`], [`FrameHeader`], a streaming [`FrameDecoder`], the encoder (§5.2–5.5) |
//! | [`utf8`] | incremental UTF-8 validation that fails on the first bad byte (§8.1) |
//! | [`close`] | [`CloseCode`] and Close payloads (§5.5.1, §7.4) |
//! | [`handshake`] | the opening handshake, server and client, HTTP/1.1 and HTTP/2 (§4, RFC 8441) |
//! | [`connection`] | messages, control frames, the close handshake, limits, timers (§5–§7) |
//! | `deflate` | permessage-deflate (RFC 7692), feature `deflate` (on by default) |
//! | [`reconnect`] | a client's reconnect backoff policy |
//!
//! Everything but `deflate` and `http` builds with `#![no_std]` + `alloc`.
//!
//! # The drive loop
//!
//! After any call that changes a [`Connection`], drain what it produced before waiting on the
//! socket again:
//!
//! ```text
//! bytes from the socket   -> connection.handle_bytes(..)   (or read_buf + handle_read)
//! events until None       -> connection.poll_event()
//! act: send, ping, close  -> connection.send_text(..) / send_binary / ping / close
//! bytes to the socket     -> connection.poll_output(), then handle_written(n)
//! timers                  -> connection.poll_timeout(), handle_timeout(now)
//! end of stream           -> connection.handle_eof()
//! when to close the socket -> connection.should_drop_transport()
//! ```
//!
//! Here is a whole server session, from the request's bytes to the close, with the network
//! replaced by byte slices:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use rfc6455::connection::{Config, Connection, Event, TimeoutConfig};
//! use rfc6455::handshake::{self, Accept, RequestParser};
//! use rfc6455::{CloseCode, Role};
//!
//! // 1. The opening handshake. The client's first frame (a masked "Hello") came in the same read.
//! let received = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\r\n\
//!     \x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
//! let mut parser = RequestParser::new(handshake::Config::default());
//! let (request, used) = parser.feed(received)?.expect("a complete head");
//! let mut to_socket = Vec::new();
//! request.accept(&Accept::new())?.write(&mut to_socket)?;
//! assert!(to_socket.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//!
//! // 2. The connection takes over, starting with the bytes after the head.
//! let timeouts = TimeoutConfig::default().ping_interval(Duration::from_secs(30));
//! let mut conn = Connection::new(Role::Server, Config::default().timeouts(timeouts));
//! conn.handle_bytes(&received[used..]);
//! let start = Instant::now();
//! conn.handle_timeout(start); // after every input when timers are on: it stamps the traffic
//!
//! // 3. Drain events; answer them.
//! let mut replies = Vec::new();
//! while let Some(event) = conn.poll_event()? {
//!     match event {
//!         Event::Text(text) => replies.push(format!("echo: {text}")),
//!         Event::Close(info) => println!("peer closed with {}", info.code),
//!         _ => {}
//!     }
//! }
//! for reply in &replies {
//!     conn.send_text(reply)?;
//! }
//!
//! // 4. Write what is pending (a real socket may take only part of it).
//! let pending = conn.poll_output();
//! assert_eq!(pending, b"\x81\x0becho: Hello");
//! to_socket.extend_from_slice(pending);
//! let written = pending.len();
//! conn.handle_written(written);
//!
//! // 5. Timers: sleep until `poll_timeout`, then `handle_timeout`. Silence for 30 s makes
//! //    the connection send a Ping by itself.
//! let deadline = conn.poll_timeout().expect("keepalive is on");
//! assert_eq!(deadline, start + Duration::from_secs(30));
//! conn.handle_timeout(deadline);
//! assert_eq!(conn.poll_output(), b"\x89\x00");
//! conn.handle_written(2);
//!
//! // 6. Close: the server starts the close handshake; the client's reply completes it.
//! conn.close(CloseCode::NORMAL, "bye")?;
//! conn.handle_written(conn.poll_output().len());
//! conn.handle_bytes(b"\x88\x82\x00\x00\x00\x00\x03\xe8"); // masked Close 1000
//! assert!(matches!(conn.poll_event()?, Some(Event::Close(_))));
//! assert!(conn.should_drop_transport()); // the server closes TCP first (§7.1.1)
//! # Ok::<(), rfc6455::Error>(())
//! ```
//!
//! A client runs the same loop; see [`handshake`] for its side of the handshake and
//! `examples/` for programs over real sockets (std, tokio, TLS, axum).
//!
//! # Principles
//!
//! * **No I/O inside.** No socket, file, thread or clock in this crate. Time arrives as
//!   `now`; randomness (mask keys, `Sec-WebSocket-Key`) is injected, with a `rand` default
//!   under `std`.
//! * **Never panic on input.** Any byte sequence from the peer yields a value or a typed
//!   error. Fuzzing and property tests hunt for exceptions.
//! * **Bounded memory.** Everything the peer can make us hold has a limit with a safe default
//!   ([`connection::Config`], [`handshake::Config`]); exceeding one gives a typed error that
//!   carries close code 1009 or HTTP status 431.
//! * **Errors say whose fault.** [`ProtocolError`] is the peer's and knows its close code;
//!   [`handshake::HandshakeError`] is the peer's and knows its HTTP status; [`UsageError`] is
//!   the caller's.
//! * **Safe code.** Only safe Rust, enforced by a crate-level `forbid` attribute.
//!
//! # Features
//!
//! * `std` (default): `std::error::Error` impls, `std::time::Instant`, `rand`-backed keys.
//! * `deflate` (default): permessage-deflate (RFC 7692) through `flate2` on zlib-rs.
//! * `simdutf8` (default): SIMD UTF-8 validation of text; without it, `core`'s validator.
//! * `http`: conversions from and to the `http` crate's types (hyper, axum).
//!
//! `cargo build --no-default-features` gives the `#![no_std]` + `alloc` core.

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

pub mod close;
pub mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod reconnect;
pub mod time;
pub mod utf8;

pub use close::{CloseCode, CloseFrame};
pub use connection::{Config, Connection, Event, MessageKind};
pub use error::{Error, ProtocolError, UsageError};
pub use frame::{FrameDecoder, FrameHeader, OpCode};

/// Which end of the connection this endpoint is (RFC 6455 §1.3, §5.1).
///
/// It decides the masking rules: a client masks every frame it sends and a server never
/// does; each fails frames from the peer that break the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that sent the opening handshake request.
    Client,
    /// The endpoint that accepted it.
    Server,
}

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
