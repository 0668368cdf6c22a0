//! The message layer: a WebSocket connection after the opening handshake (RFC 6455 §5–§7).
//!
//! [`Connection`] owns reassembly of fragmented messages, UTF-8 validation of text, the
//! automatic Pong and Close echo, the close handshake's states, the limits on what the peer may
//! make us hold, and the keepalive timers. It does not own a socket or a clock: bytes and time
//! come in through `handle_*` methods, and events, bytes to write and the next deadline come
//! out through `poll_*` methods.
//!
//! # The four kinds of method
//!
//! * **Inputs** (`handle_*`): [`handle_bytes`](Connection::handle_bytes) (or the zero-copy
//!   [`read_buf`](Connection::read_buf) + [`handle_read`](Connection::handle_read)),
//!   [`handle_eof`](Connection::handle_eof), [`handle_written`](Connection::handle_written),
//!   [`handle_timeout`](Connection::handle_timeout).
//! * **Commands**: [`send_text`](Connection::send_text), [`send_binary`](Connection::send_binary),
//!   [`send_owned`](Connection::send_owned) (large payloads, written without a copy),
//!   [`send_chunk`](Connection::send_chunk), [`ping`](Connection::ping),
//!   [`pong`](Connection::pong), [`close`](Connection::close).
//! * **Outputs** (`poll_*`), to call in this order after every input or command, until each
//!   has nothing more: [`poll_event`](Connection::poll_event) until `None`, then
//!   [`poll_output`](Connection::poll_output) until it is empty (write what it returns,
//!   report with `handle_written`; or write all [`output_pieces`](Connection::output_pieces)
//!   at once), then [`poll_timeout`](Connection::poll_timeout) for when to call
//!   `handle_timeout` next.
//! * **Getters**: [`state`](Connection::state), [`role`](Connection::role),
//!   [`should_drop_transport`](Connection::should_drop_transport), and so on.

mod extension;
mod payload;
mod recv;
mod send;
mod timers;

use alloc::boxed::Box;

pub use extension::Extension;
pub use payload::Payload;
pub use timers::{TimeoutConfig, TimerKind};

use crate::Role;
use crate::close::CloseCode;
use crate::frame::{DEFAULT_MAX_FRAME_SIZE, FrameDecoder};

/// Limits and behaviour of a [`Connection`]. Every limit on what the peer can make us hold has
/// a safe default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The largest frame payload accepted; a larger header fails the connection with 1009
    /// before any payload is read. Default 16 MiB.
    pub max_frame_size: u64,
    /// The largest message accepted, after reassembly (and after decompression when an
    /// extension transforms messages); a message that would exceed it fails the connection
    /// with 1009 as soon as that is known. Applies to streamed messages too. Default 64 MiB.
    pub max_message_size: u64,
    /// Deliver data messages in pieces as they arrive ([`Event::Chunk`]) instead of whole
    /// ([`Event::Text`], [`Event::Binary`]), so that a large message is never held whole.
    /// Default `false`.
    pub streaming: bool,
    /// Split outgoing messages into frames of at most this many payload bytes. Default `None`
    /// (one frame per message).
    pub fragment_size: Option<usize>,
    /// Keepalive, idle and close timers; all off by default.
    pub timeouts: TimeoutConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            streaming: false,
            fragment_size: None,
            timeouts: TimeoutConfig::default(),
        }
    }
}

/// The default maximum message size: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 64 << 20;

impl Config {
    /// Sets [`max_frame_size`](Self::max_frame_size).
    pub fn max_frame_size(mut self, bytes: u64) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    pub fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`streaming`](Self::streaming).
    pub fn streaming(mut self, on: bool) -> Self {
        self.streaming = on;
        self
    }

    /// Sets [`fragment_size`](Self::fragment_size). `Some(0)` is treated as `None`.
    pub fn fragment_size(mut self, bytes: Option<usize>) -> Self {
        self.fragment_size = bytes.filter(|&n| n > 0);
        self
    }

    /// Sets [`timeouts`](Self::timeouts).
    pub fn timeouts(mut self, timeouts: TimeoutConfig) -> Self {
        self.timeouts = timeouts;
        self
    }
}

/// The type of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Binary data (opcode 0x2).
    Binary,
}

/// Something that happened on the connection, returned by [`Connection::poll_event`].
///
/// Borrowed data points into the connection's buffers and is valid until the next call that
/// takes `&mut Connection`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A whole text message, validated as UTF-8.
    Text(&'a str),
    /// A whole binary message.
    Binary(&'a [u8]),
    /// A piece of a data message, in [`Config::streaming`] mode. Text pieces have been
    /// validated up to their end, but a piece may end inside a multi-byte character that the
    /// next piece completes.
    Chunk {
        /// Text or binary.
        kind: MessageKind,
        /// The bytes.
        data: &'a [u8],
        /// Whether this is the first piece of the message.
        first: bool,
        /// Whether this is the last piece of the message.
        last: bool,
    },
    /// The peer sent a Ping; a Pong with the same payload has already been queued (§5.5.2).
    Ping(&'a [u8]),
    /// The peer sent a Pong (§5.5.3).
    Pong(&'a [u8]),
    /// The connection is closing or has closed; see [`CloseInfo`].
    Close(CloseInfo<'a>),
}

/// Why and how the connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseInfo<'a> {
    /// The code: the peer's (1005 if its Close had no body), or 1006 when the connection ended
    /// without a Close frame.
    pub code: CloseCode,
    /// The peer's reason, empty if none.
    pub reason: &'a str,
    /// How the close came about.
    pub origin: CloseOrigin,
}

/// How a close came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseOrigin {
    /// The peer started the close handshake; the echo is queued (§5.5.1).
    Peer,
    /// The peer answered the Close we sent: the close handshake is complete.
    Reply,
    /// The transport ended without a Close frame (code 1006, §7.1.5).
    Eof,
    /// A timer gave up on the peer (code 1006): see [`TimerKind`].
    Timeout(TimerKind),
}

/// Where the close handshake stands (RFC 6455 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a Close and wait for the peer's (§7.1.2). Messages still arrive; none may be sent.
    CloseSent,
    /// The close handshake completed, the connection failed, or the transport ended. Only
    /// queued output (the Close echo) remains to be written.
    Closed,
}

/// Where the connection is in its life: kept apart from the buffers so that the failure path
/// can update it while an event still borrows the receive buffer.
#[derive(Debug)]
struct Lifecycle {
    state: State,
    /// Set once the connection failed, the transport ended or a timer gave up: nothing more is
    /// read and only queued output is written.
    dead: bool,
    eof: bool,
    close_sent: bool,
    close_received: bool,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self { state: State::Open, dead: false, eof: false, close_sent: false, close_received: false }
    }
}

/// The source of masking keys for a client (RFC 6455 §5.3: unpredictable, fresh per frame).
pub type MaskKeySource = Box<dyn FnMut() -> [u8; 4] + Send>;

/// A WebSocket connection of either role, after the opening handshake.
///
/// # The drive loop
///
/// ```
/// use rfc6455::Role;
/// use rfc6455::connection::{Config, Connection, Event};
///
/// # let fixed_keys: rfc6455::connection::MaskKeySource = Box::new(|| [1, 2, 3, 4]);
/// let mut server = Connection::new(Role::Server, Config::default());
/// let mut client = Connection::with_mask_keys(Role::Client, Config::default(), fixed_keys);
///
/// client.send_text("hello").unwrap();
/// // Client -> server: write what the client has pending, and tell it how much was taken.
/// let bytes = client.poll_output().to_vec();
/// client.handle_written(bytes.len());
/// server.handle_bytes(&bytes);
/// // Drain the server's events, then its output.
/// let mut echo = Vec::new();
/// while let Some(event) = server.poll_event().unwrap() {
///     if let Event::Text(text) = event {
///         echo.push(text.to_owned());
///     }
/// }
/// for text in echo {
///     server.send_text(&text).unwrap();
/// }
/// assert_eq!(server.poll_output(), b"\x81\x05hello");
/// ```
pub struct Connection {
    role: Role,
    config: Config,
    life: Lifecycle,
    recv: recv::Receiver,
    out: send::Sender,
    timers: timers::Timers,
    extension: Option<Box<dyn Extension>>,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.life.state)
            .field("pending_output", &self.out.pending_len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection for `role`. A client draws masking keys from the operating system's
    /// randomness through `rand`; use [`with_mask_keys`](Self::with_mask_keys) to inject them.
    #[cfg(feature = "std")]
    pub fn new(role: Role, config: Config) -> Self {
        let keys: Option<MaskKeySource> = match role {
            Role::Server => None,
            Role::Client => {
                use rand::{RngCore, SeedableRng};
                // A CSPRNG seeded once from the OS, so each frame's key costs a few ns.
                let mut rng = rand::rngs::StdRng::from_os_rng();
                Some(Box::new(move || rng.next_u32().to_ne_bytes()))
            }
        };
        Self::build(role, config, keys)
    }

    /// A connection whose masking keys come from `keys` (used only by a client). Tests use
    /// this to pin keys; `no_std` callers use it to supply their platform's randomness.
    pub fn with_mask_keys(role: Role, config: Config, keys: MaskKeySource) -> Self {
        Self::build(role, config, Some(keys))
    }

    fn build(role: Role, config: Config, keys: Option<MaskKeySource>) -> Self {
        // §5.1: a server never masks, whatever source of keys it was given.
        let keys = if role == Role::Client { keys } else { None };
        let mut decoder = FrameDecoder::new(role);
        decoder.set_max_frame_size(config.max_frame_size);
        Self {
            role,
            life: Lifecycle::default(),
            recv: recv::Receiver::new(decoder),
            out: send::Sender::new(keys),
            timers: timers::Timers::new(&config.timeouts),
            extension: None,
            config,
        }
    }

    /// Plugs in a negotiated extension (for example permessage-deflate). Call before any bytes
    /// flow; with no extension, any RSV bit fails the connection with 1002.
    pub fn set_extension(&mut self, extension: Box<dyn Extension>) {
        self.extension = Some(extension);
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        self.life.state
    }

    /// Whether the caller should now close the transport (TCP, TLS, stream).
    ///
    /// True once the connection is [`State::Closed`] and all output has been written, with one
    /// refinement from RFC 6455 §7.1.1: after a clean close handshake a client waits for the
    /// server to close the TCP connection first ([`handle_eof`](Self::handle_eof)), unless a
    /// close timeout fired or the connection failed.
    pub fn should_drop_transport(&self) -> bool {
        if self.life.state != State::Closed || self.out.pending_len() != 0 {
            return false;
        }
        match self.role {
            Role::Server => true,
            Role::Client => self.life.eof || self.life.dead,
        }
    }

    /// The bytes waiting to be written to the transport; empty when there are none. Report how
    /// many were written with [`handle_written`](Self::handle_written) (partial writes are fine).
    ///
    /// Output is one piece unless payloads were queued with [`send_owned`](Self::send_owned):
    /// then this returns the pieces one after another, so write until it comes back empty (or
    /// write them all at once with [`output_pieces`](Self::output_pieces)).
    #[inline]
    pub fn poll_output(&self) -> &[u8] {
        self.out.pending()
    }

    /// Every piece of pending output, in order: for a vectored write (`writev`), which sends
    /// held payloads (see [`send_owned`](Self::send_owned)) without copying them. Report what
    /// the write took with [`handle_written`](Self::handle_written); it may end mid-piece.
    ///
    /// ```
    /// use std::io::{IoSlice, Write};
    /// use rfc6455::{Connection, MessageKind, Role};
    /// use rfc6455::connection::Config;
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send_owned(MessageKind::Binary, vec![7u8; 4096]).unwrap();
    /// server.send_text("done").unwrap();
    ///
    /// let mut socket: Vec<u8> = Vec::new(); // stands in for a TcpStream
    /// while server.pending_output_len() > 0 {
    ///     let slices: Vec<IoSlice<'_>> = server.output_pieces().map(IoSlice::new).collect();
    ///     let n = socket.write_vectored(&slices).unwrap();
    ///     server.handle_written(n);
    /// }
    /// assert_eq!(socket.len(), 4 + 4096 + 2 + 4);
    /// ```
    pub fn output_pieces(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.out.pieces()
    }

    /// The transport accepted the first `n` bytes of pending output (of what
    /// [`poll_output`](Self::poll_output) returned, or of the
    /// [`output_pieces`](Self::output_pieces) taken in order). `n` larger than what is
    /// pending is clamped.
    #[inline]
    pub fn handle_written(&mut self, n: usize) {
        self.out.consume(n);
    }

    /// How many bytes are waiting to be written, in all pieces: use it for backpressure (stop
    /// reading, or stop producing messages, while it is large).
    pub fn pending_output_len(&self) -> usize {
        self.out.pending_len()
    }

    /// Frees every buffer that holds nothing pending: the receive buffer once all received
    /// bytes are consumed, the reassembly buffer between messages, and the output buffer once
    /// written. A connection keeps these between messages so that steady traffic allocates
    /// nothing; call this when a connection goes idle (a server with many quiet clients) to
    /// bring its heap use back to zero. The next message allocates them again.
    pub fn release_buffers(&mut self) {
        self.recv.release();
        self.out.release();
    }

    /// How many received bytes the connection holds that it has not yet turned into events
    /// (a partial frame, or a single-frame message still arriving).
    pub fn buffered_input_len(&self) -> usize {
        self.recv.buffered()
    }

    /// The transport reached end of stream (the peer closed its side or vanished).
    ///
    /// If the close handshake had not completed, the application gets an [`Event::Close`] with
    /// code 1006 and [`CloseOrigin::Eof`] (§7.1.5). Nothing more is sent or read.
    pub fn handle_eof(&mut self) {
        self.life.eof = true;
        if self.life.state != State::Closed || !self.life.close_received && !self.life.dead {
            self.recv.push_abnormal_close(CloseOrigin::Eof);
        }
        self.life.dead = true;
        self.life.state = State::Closed;
        self.out.clear();
    }

    fn mark_close_sent(&mut self) {
        self.life.close_sent = true;
        self.life.state = if self.life.close_received { State::Closed } else { State::CloseSent };
    }
}

#[cfg(test)]
mod tests;
