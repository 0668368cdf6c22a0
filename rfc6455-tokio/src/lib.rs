//! WebSockets for tokio, on the [`rfc6455`] sans-IO core.
//!
//! The core owns the protocol: framing, messages, the close handshake, limits, keepalive
//! timers, the opening handshake. This crate owns the I/O around it, the way quinn sits on
//! quinn-proto: the socket, the clock and the waiting. It adds no protocol rule of its own.
//! A [`WebSocket`] works over any `AsyncRead + AsyncWrite + Unpin` transport (TCP, TLS, an
//! HTTP library's upgraded connection, an in-memory pipe).
//!
//! # An echo server
//!
//! ```no_run
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> std::io::Result<()> {
//!     let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9001".into());
//!     let listener = tokio::net::TcpListener::bind(addr).await?;
//!     while let Ok((stream, _)) = listener.accept().await {
//!         tokio::spawn(async move {
//!             let Ok(mut ws) = rfc6455_tokio::accept(stream).await else { return };
//!             while let Some(Ok(message)) = ws.recv().await {
//!                 if message.is_data() && ws.send(message).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//!     Ok(())
//! }
//! ```
//!
//! `cargo run -p rfc6455-tokio --example echo` runs it. Pings are answered, an idle peer is
//! pinged, a dead one dropped, and the close handshake run, all by the WebSocket.
//!
//! # A client
//!
//! ```no_run
//! use rfc6455_tokio::{Message, Options};
//!
//! # async fn run() -> Result<(), rfc6455_tokio::Error> {
//! let options = Options::default().subprotocol("chat").header("Authorization", "Bearer abc");
//! let mut ws = rfc6455_tokio::connect_with("ws://127.0.0.1:9001/room", options).await?;
//! ws.send(Message::text("hello")).await?;
//! while let Some(message) = ws.recv().await {
//!     match message? {
//!         Message::Text(text) => println!("{text}"),
//!         Message::Close(frame) => println!("closed by the server: {frame:?}"),
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! `wss://` needs the `rustls` feature (see [Features](#features)). [`client`] does the same
//! over a transport you opened yourself (a proxy tunnel, your own TLS).
//!
//! # The split
//!
//! [`WebSocket::into_split`] gives two owned halves for two tasks, with no lock to hold:
//! each keeps the protocol running while it waits, so the sending task alone answers Pings.
//!
//! ```no_run
//! use rfc6455_tokio::{Message, CloseCode};
//!
//! # async fn run(ws: rfc6455_tokio::WebSocket<tokio::net::TcpStream>) -> Result<(), rfc6455_tokio::Error> {
//! let (mut rx, mut tx) = ws.into_split();
//! let reader = tokio::spawn(async move {
//!     while let Some(Ok(message)) = rx.recv().await {
//!         println!("{message:?}");
//!     }
//! });
//! for n in 0..10 {
//!     tx.send(Message::text(format!("tick {n}"))).await?;
//!     tokio::time::sleep(std::time::Duration::from_secs(1)).await;
//! }
//! tx.close(CloseCode::NORMAL, "done").await?;
//! let _ = reader.await;
//! # Ok(())
//! # }
//! ```
//!
//! # Inside hyper or axum
//!
//! A WebSocket route in an HTTP application: `upgrade` (feature `hyper`) answers a request
//! hyper parsed, `101` for HTTP/1.1 and `200` for an RFC 8441 extended CONNECT over HTTP/2
//! (feature `http2`), with the same [`Options::on_request`] hook as [`accept_with`];
//! `WebSocketUpgrade` (feature `axum`) is the extractor form. In axum 0.8, route it with
//! `any(handler)`: HTTP/2 clients send `CONNECT`, which `get` does not route.
//! `cargo run -p rfc6455-tokio --example axum_upgrade --features axum,http2` runs one.
//!
//! # Over HTTP/2
//!
//! A server gets WebSockets over HTTP/2 (RFC 8441) from `upgrade` when its hyper server
//! enables extended CONNECT (`enable_connect_protocol()`; see `examples/chat` with `--tls`).
//! A client opens them with `http2::Http2Connection` (feature `http2`), several on one
//! connection, or one with [`Options::http2`] and [`connect_with`]:
//!
//! ```no_run
//! # #[cfg(feature = "http2")]
//! # async fn run() -> Result<(), rfc6455_tokio::Error> {
//! use rfc6455_tokio::{Message, Options, http2::Http2Connection};
//!
//! let h2 = Http2Connection::connect("ws://127.0.0.1:8080", &Options::default()).await?;
//! let mut a = h2.open("ws://127.0.0.1:8080/a", Options::default()).await?;
//! let mut b = h2.open("ws://127.0.0.1:8080/b", Options::default()).await?;
//! a.send(Message::text("on stream 1")).await?;
//! b.send(Message::text("on stream 3")).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What the WebSocket promises
//!
//! * **The end comes once, in the stream.** After a clean close handshake the receive side
//!   yields [`Message::Close`] then `None`; after anything else, exactly one `Err`
//!   ([`Error::Closed`] with the close code and who ended it, or [`Error::Io`]), then `None`.
//!   Both come after the transport was finished as RFC 6455 §7.1.1 says.
//! * **[`recv`](WebSocket::recv) is cancellation-safe**: race it in `select!` freely.
//! * **`flush` resolves when the bytes were handed to the transport**, and
//!   [`send`](WebSocket::send) flushes, except right after a `recv` that left another
//!   received message here: then its write is left to the next `recv`, which writes the
//!   answers to one read with one write before it reads. Sending after Close, or after the
//!   end, is an error at once, never a wait.
//! * **Bounded memory both ways.** Sends wait while the core's pending output is at
//!   [`Config::max_pending_output`](rfc6455::connection::Config::max_pending_output)
//!   (1 MiB), reading on meanwhile; received messages the application has not taken are
//!   bounded by [`Options::max_unread`] (1 MiB), past which the socket is not read.
//! * **Timers are on.** Unlike the core, keepalive and the close timeout are on by default:
//!   a Ping after [`DEFAULT_PING_INTERVAL`] (20 s) of silence, the peer dropped
//!   [`DEFAULT_PONG_TIMEOUT`] (20 s) later if nothing came, [`DEFAULT_CLOSE_TIMEOUT`] (10 s)
//!   for the close handshake and the transport's end, [`DEFAULT_HANDSHAKE_TIMEOUT`] (10 s)
//!   for the opening handshake. Change them with [`Options::config`].
//! * **Fair under floods, when asked.** A server facing untrusted peers gives its
//!   connections one [`FairShare`] ([`Options::fair_share`]): connections that keep it busy
//!   (floods of frames or Pings, a compressed message that inflates far) then take turns,
//!   and the others are served as soon as their input arrives instead of after a round of
//!   every busy one.
//! * **The peer learns why.** When we fail a connection (a protocol error, a message over
//!   the limit), the Close with its code is written, the write side shut down, and the
//!   peer's input discarded for a while ([`Options::linger`]) so that the peer reads the
//!   Close instead of a TCP reset.
//!
//! # Features
//!
//! * `deflate` (default): permessage-deflate (RFC 7692), negotiated when
//!   [`Config::deflate`](rfc6455::connection::Config::deflate) is set (it is not by default:
//!   it costs 60–470 KiB per connection).
//! * `simdutf8` (default): SIMD UTF-8 validation of text.
//! * `rustls`: `wss://` in [`connect`], with `Options::tls_config`; `rustls-webpki-roots`
//!   or `rustls-native-roots` add a default config trusting the Mozilla roots or the
//!   platform's.
//! * `hyper`, `http2`, `axum`: the upgrade helper for hyper (HTTP/1.1, and RFC 8441 over
//!   HTTP/2) and its axum extractor; `http2` also adds the client side, `http2::Http2Connection`
//!   and [`Options::http2`].

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod driver;
mod error;
mod fair;
#[cfg(feature = "http2")]
#[cfg_attr(docsrs, doc(cfg(feature = "http2")))]
pub mod http2;
mod message;
mod open;
mod options;
mod stream;
#[cfg(feature = "hyper")]
mod upgrade;
mod wakers;
mod websocket;

pub use error::Error;
pub use fair::FairShare;
pub use message::{CloseFrame, Message, Utf8Bytes};
pub use open::{accept, accept_with, client, connect, connect_with};
pub use options::{
    DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_LINGER_BYTES, DEFAULT_LINGER_TIME,
    DEFAULT_MAX_UNREAD, DEFAULT_PING_INTERVAL, DEFAULT_PONG_TIMEOUT, Decision, Options, default_config,
};
pub use rfc6455::CloseCode;
pub use stream::ClientStream;
/// The rustls crate this one uses for `wss://` (feature `rustls`), to build a
/// [`ClientConfig`](rustls::ClientConfig) for [`Options::tls_config`].
#[cfg(feature = "rustls")]
pub use tokio_rustls::rustls;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use upgrade::{PendingUpgrade, UpgradedWebSocket, upgrade};
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use upgrade::{UpgradeRejection, WebSocketUpgrade};
pub use websocket::{ReadHalf, WebSocket, WriteHalf};

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The workspace README's examples (the core's and this crate's), compiled and run here so
/// that the core needs no dev-dependency on this crate. They use every feature.
#[cfg(all(doctest, feature = "axum", feature = "http2", feature = "rustls"))]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadmeDoctests;
