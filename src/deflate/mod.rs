//! permessage-deflate (RFC 7692): negotiation in the opening handshake and compression of
//! messages, with the inflated size held to the connection's message limit.
//!
//! This module owns what the extension's four parameters mean (`params`) and the DEFLATE
//! streams of one connection (`codec`). It plugs into the layers around it without them
//! knowing what it does: the handshake parses `Sec-WebSocket-Extensions` into
//! [`handshake::Extension`](crate::handshake::Extension) elements and carries our answer, and
//! the [`Connection`](crate::Connection) calls a [`PerMessageDeflate`] through its
//! [`Extension`](crate::extension::Extension) hook for each data message, setting RSV1 on
//! first frames only and never touching control frames. The same calls serve HTTP/1.1 and
//! RFC 8441 (HTTP/2) handshakes, since both produce the same [`Request`](crate::handshake::Request).
//!
//! # Negotiating
//!
//! The one-step calls do it all: set a policy in
//! [`connection::Config::deflate`](crate::connection::Config::deflate), and
//! [`Request::upgrade`](crate::handshake::Request::upgrade) (server) negotiates with the
//! client's offers, answers, and installs the codec;
//! [`ClientHandshake::into_connection`](crate::handshake::ClientHandshake::into_connection)
//! (client) checks the server's answer against the policy and installs it. The pieces they
//! use are public for handshakes done elsewhere:
//!
//! | side | call | gives |
//! |---|---|---|
//! | client | [`client_offer`] | the offer for [`ClientRequest::with_extension`](crate::handshake::ClientRequest::with_extension) |
//! | server | [`negotiate_server`] with [`Request::extensions`](crate::handshake::Request::extensions) | the agreed [`DeflateParams`], whose [`response`](DeflateParams::response) is the answer for [`Accept::with_extension`](crate::handshake::Accept::with_extension); `None` declines |
//! | client | [`accept_client`] with [`Accepted::extensions`](crate::handshake::Accepted::extensions) | the agreed [`DeflateParams`], `None` if the server declined, or an error to fail the handshake with |
//! | both | [`PerMessageDeflate::new`] | the [`Extension`](crate::extension::Extension) for [`connection::Builder::extension`](crate::connection::Builder::extension) |
//!
//! ```
//! use rfc6455::connection::{Config, Event};
//! use rfc6455::deflate::{DeflateConfig, client_offer};
//! use rfc6455::handshake::{Accept, ClientRequest, Config as HandshakeConfig, Request, Response, WebSocketKey};
//!
//! // Client: offer permessage-deflate.
//! let client_policy = DeflateConfig::default();
//! let offer = client_offer(&client_policy);
//! let mut request_bytes = Vec::new();
//! let handshake = ClientRequest::new("ws://example.com/chat", WebSocketKey::from_bytes(*b"the sample nonce"))?
//!     .with_extension(&offer)
//!     .write(&mut request_bytes)?;
//!
//! // Server: one step negotiates, answers and installs the codec.
//! let server_policy = DeflateConfig::default().server_no_context_takeover(true);
//! let (request, _) = Request::parse(&request_bytes, &HandshakeConfig::default())?.expect("complete head");
//! let (response, mut server) = request.upgrade(&Accept::new(), Config::default().deflate(server_policy), &[])?;
//! let answer: Vec<String> = response.extensions().iter().map(|e| e.to_string()).collect();
//! assert_eq!(answer, ["permessage-deflate; server_no_context_takeover"]);
//! let mut response_bytes = Vec::new();
//! response.write(&mut response_bytes)?;
//!
//! // Client: one step checks the answer against its policy and installs the codec.
//! let (response, used) = Response::parse(&response_bytes, &HandshakeConfig::default())?.expect("complete head");
//! let mut client =
//!     handshake.into_connection(&response, Config::default().deflate(client_policy), &response_bytes[used..])?;
//! assert!(client.has_extension() && server.has_extension());
//!
//! // Messages are now compressed (RSV1 set) and inflated transparently.
//! let text = "a message long enough to be worth compressing, compressing, compressing";
//! server.send_text(text)?;
//! let mut wire = Vec::new();
//! server.write_to(&mut wire)?;
//! assert_eq!(wire[0], 0xc1); // FIN, RSV1, text
//! assert!(wire.len() < text.len());
//! client.handle_bytes(&wire);
//! assert_eq!(client.poll_event(), Some(Event::Text(text)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Window bits and the zlib backend
//!
//! flate2 runs on zlib-rs, a zlib-class backend, because only those can use windows smaller
//! than 32 KiB (miniz_oxide cannot). zlib silently turns a window of 8 bits into 9, so this
//! crate never compresses with 8: a server declines offers that require
//! `server_max_window_bits=8`, and a client whose server demands `client_max_window_bits=8`
//! sends every message uncompressed (it cannot decline the response, and failing the connection
//! would be harsher than RFC 7692 §6's per-message choice). It decompresses anything from 8 to
//! 15.
//!
//! # Sending uncompressed
//!
//! RFC 7692 §6 lets each message choose. A message goes out uncompressed, and so never enters
//! the compression window, when it is shorter than [`DeflateConfig::min_size`], when it is a
//! binary message that starts like an already-compressed format
//! ([`DeflateConfig::skip_compressed`]), or when it is streamed with
//! [`Connection::send_chunk`](crate::Connection::send_chunk). Without context takeover on our
//! side, a message whose compressed form is not smaller is also sent as is (the window is
//! reset after every message anyway). An endpoint limited to a window of 8 sends everything
//! uncompressed.

mod codec;
mod params;

pub use codec::PerMessageDeflate;
pub(crate) use params::response_params;
pub use params::{
    DeflateConfig, DeflateParams, DeflateResponse, EXTENSION_NAME, MAX_WINDOW_BITS, MIN_COMPRESS_WINDOW_BITS,
    MIN_WINDOW_BITS, NegotiationError, accept_client, client_offer, negotiate_server,
};
