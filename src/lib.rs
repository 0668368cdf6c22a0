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
//! Each layer is usable alone and the next is built on it; a module imports only the ones
//! above it in this table (`tests/module_layers.rs` checks that the imports form no circle):
//!
//! | module | owns |
//! |---|---|
//! | [`close`], [`mask`], [`utf8`], [`time`] | leaves: [`CloseCode`], XOR masking (§5.3), incremental UTF-8 validation (§8.1), the timers' clock type |
//! | [`frame`] | [`OpCode`], [`FrameHeader`], a streaming [`FrameDecoder`], the encoder, the Close body (§5.2–5.5) |
//! | [`extension`] | the hook through which a negotiated extension transforms messages |
//! | [`handshake`] | the opening handshake, server and client, HTTP/1.1 and HTTP/2 (§4, RFC 8441) |
//! | `deflate` | permessage-deflate (RFC 7692), feature `deflate` (on by default) |
//! | [`error`] | [`Error`], joining every layer's errors for `?` |
//! | [`connection`] | messages, control frames, the close handshake, limits, backpressure, timers (§5–§7), and the one step from a handshake to a connection |
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
//! bytes from the socket    -> connection.handle_bytes(..)   (or read_buf + handle_read)
//! events until None        -> connection.poll_event()       (the last one is Event::Closed)
//! act: send, ping, close   -> connection.send_text(..) / send_binary / send_owned / ping / close
//! bytes to the socket      -> connection.write_to(&mut socket)   (or poll_transmit(&mut buf))
//!   (or, with a write buffer of your own: send_into(kind, data, &mut buf), append_output(&mut buf))
//! timers                   -> connection.poll_timeout(), handle_timeout(now)
//! end of stream            -> connection.handle_eof()
//! when to close the socket -> connection.should_drop_transport()
//! ```
//!
//! Here is a whole server session, from the request's bytes to the close, with the network
//! replaced by byte vectors:
//!
//! ```
//! use std::time::Duration;
//! use rfc6455::connection::{CloseOrigin, Config, Event, TimeoutConfig};
//! use rfc6455::handshake::{self, Accept, RequestParser};
//! use rfc6455::time::Instant;
//! use rfc6455::CloseCode;
//!
//! // 1. The opening handshake. The client's first frame (a masked "Hello") came in the same read.
//! let received = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\r\n\
//!     \x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
//! let mut parser = RequestParser::new(handshake::Config::default());
//! let (request, used) = parser.feed(received)?.expect("a complete head");
//!
//! // 2. One step from the request to a connection: it answers, negotiates what `config`
//! //    allows, and takes over the bytes that followed the head.
//! let timeouts = TimeoutConfig::default().ping_interval(Duration::from_secs(30));
//! let config = Config::default().timeouts(timeouts);
//! let (response, mut conn) = request.upgrade(&Accept::new(), config, &received[used..])?;
//! let mut socket = Vec::new(); // a TcpStream in real use
//! response.write(&mut socket)?;
//! assert!(socket.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! let start = Instant::ZERO; // time is the caller's: here a virtual clock
//! conn.handle_timeout(start); // after every input when timers are on: it stamps the traffic
//!
//! // 3. Drain events; answer them.
//! let mut replies = Vec::new();
//! while let Some(event) = conn.poll_event() {
//!     match event {
//!         Event::Text(text) => replies.push(format!("echo: {text}")),
//!         Event::Closed(info) => println!("connection ended: {info}"),
//!         _ => {}
//!     }
//! }
//! for reply in &replies {
//!     conn.send_text(reply)?;
//! }
//!
//! // 4. Write what is pending; `write_to` counts what the socket took.
//! socket.clear();
//! conn.write_to(&mut socket)?;
//! assert_eq!(socket, b"\x81\x0becho: Hello");
//!
//! // 5. Timers: sleep until `poll_timeout`, then `handle_timeout`. Silence for 30 s makes
//! //    the connection send a Ping by itself.
//! let deadline = conn.poll_timeout().expect("keepalive is on");
//! assert_eq!(deadline, start + Duration::from_secs(30));
//! conn.handle_timeout(deadline);
//! socket.clear();
//! conn.write_to(&mut socket)?;
//! assert_eq!(socket, b"\x89\x00");
//!
//! // 6. Close: the server starts the close handshake; the client's reply completes it, and
//! //    the end arrives as the last event.
//! conn.close(CloseCode::NORMAL, "bye")?;
//! conn.write_to(&mut socket)?;
//! conn.handle_bytes(b"\x88\x82\x00\x00\x00\x00\x03\xe8"); // masked Close 1000
//! let Some(Event::Closed(info)) = conn.poll_event() else { panic!("the end is an event") };
//! assert_eq!((info.code(), info.origin()), (CloseCode::NORMAL, &CloseOrigin::Reply));
//! assert_eq!(conn.poll_event(), None); // reported once; `close_info()` keeps it
//! assert!(conn.should_drop_transport()); // the server closes TCP first (§7.1.1)
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A peer that breaks the protocol ends the connection the same way: the last event is
//! [`Event::Closed`], whose [`CloseInfo::error`](connection::CloseInfo::error) is the
//! [`ProtocolError`], after the Close with its code was queued. A client runs the same loop;
//! see [`handshake`] for its side of the handshake and `examples/` for programs over std
//! sockets. Over tokio (TCP, TLS, hyper and axum, HTTP/2 streams), the `rfc6455-tokio` crate
//! runs this loop for you.
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
//! * **Bounded output.** What we hold for the peer is bounded too
//!   ([`Config::max_pending_output`]): sends past it wait for the socket, automatic Pongs are
//!   coalesced, and reading is never blocked by it.
//! * **Errors say whose fault.** [`ProtocolError`] is the peer's and knows its close code;
//!   [`handshake::HandshakeError`] is the peer's and knows its HTTP status; [`UsageError`] is
//!   the caller's.
//! * **Safe code.** Only safe Rust, enforced by a crate-level `forbid` attribute.
//!
//! # Features
//!
//! * `std` (default): `std::error::Error` impls, [`Connection::write_to`] any
//!   `std::io::Write`, [`time::Epoch`] to turn `std::time::Instant` readings into the timers'
//!   [`time::Instant`], `rand`-backed keys.
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

// Leaves first: each module uses only the ones listed above it (tests/module_layers.rs
// checks that the imports between them form no circle).
pub mod close;
pub mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod error;
pub mod extension;
mod fault;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod reconnect;
mod role;
pub mod time;
pub mod utf8;

pub use close::CloseCode;
pub use connection::{Config, Connection, Event, MessageKind, OwnedEvent};
pub use error::{Error, ProtocolError, UsageError};
pub use frame::{CloseFrame, FrameDecoder, FrameHeader, OpCode};
pub use role::Role;
