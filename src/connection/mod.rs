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
//!   [`handle_eof`](Connection::handle_eof), [`handle_timeout`](Connection::handle_timeout).
//! * **Commands**: [`send_text`](Connection::send_text), [`send_binary`](Connection::send_binary),
//!   [`send_owned`](Connection::send_owned) (large payloads, written without a copy),
//!   [`send_into`](Connection::send_into) (encoded straight into the caller's buffer),
//!   [`send_chunk`](Connection::send_chunk), [`ping`](Connection::ping),
//!   [`pong`](Connection::pong), [`close`](Connection::close).
//! * **Outputs**, to take in this order after every input or command:
//!   [`poll_event`](Connection::poll_event) until `None` (the last event of a connection is
//!   always [`Event::Closed`], exactly once, whoever ended it); then the bytes to write, with
//!   a call that counts them itself: [`write_to`](Connection::write_to) any `std::io::Write`,
//!   [`poll_transmit`](Connection::poll_transmit) into a buffer,
//!   [`append_output`](Connection::append_output) onto a `Vec`, or for a hand-written
//!   vectored write [`output_pieces`](Connection::output_pieces) +
//!   [`handle_written`](Connection::handle_written); then
//!   [`poll_timeout`](Connection::poll_timeout) for when to call `handle_timeout` next.
//! * **Getters**: [`state`](Connection::state), [`close_info`](Connection::close_info),
//!   [`can_send`](Connection::can_send), [`should_drop_transport`](Connection::should_drop_transport),
//!   [`subprotocol`](Connection::subprotocol), and so on.
//!
//! # Backpressure
//!
//! Output waiting to be written is bounded by [`Config::max_pending_output`]: past it, sends
//! return [`UsageError::OutputFull`] until the transport takes more. Reading is never
//! blocked by it, so two endpoints sending large messages both ways cannot deadlock. Every
//! Ping is answered; once the output is full (a peer that sends Pings without reading), the
//! unsent answer is replaced by the answer to the newest Ping (§5.5.3), so it grows no more.

mod handoff;
mod lifecycle;
mod payload;
mod recv;
mod send;
mod timers;
mod vectored;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

pub use crate::extension::Extension;
pub use lifecycle::{CloseInfo, CloseOrigin, State};
pub use payload::Payload;
pub use timers::{TimeoutConfig, TimerKind};
pub use vectored::VectoredSend;

use crate::fault::UsageError;
use crate::frame::FrameDecoder;
use crate::role::Role;
use lifecycle::Lifecycle;

/// Limits and behaviour of a [`Connection`]. Every limit on what the peer can make us hold,
/// and on what we hold for the peer, has a safe default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The largest frame payload accepted; a larger header fails the connection with 1009
    /// before any payload is read. `None` (the default) follows
    /// [`max_message_size`](Self::max_message_size), so that any message within that limit is
    /// accepted however the peer frames it. A frame of a message that an extension
    /// transforms (permessage-deflate) may exceed the limit by the extension's worst-case
    /// expansion ([`Extension::max_encoded_len`]): incompressible data grows a little.
    pub max_frame_size: Option<u64>,
    /// The largest message accepted, counted after reassembly and after decompression: a
    /// message that would exceed it fails the connection with 1009 as soon as that is known.
    /// Applies to streamed messages too. Default 64 MiB.
    pub max_message_size: u64,
    /// The bound on output waiting to be written (backpressure). A data message, ping or
    /// pong sent while this much or more is pending is refused with
    /// [`UsageError::OutputFull`]: write output, then send again
    /// ([`Connection::can_send`] says when). [`Connection::send_into`] counts the caller's
    /// buffer it appends to as pending too. One message may take the output past the bound,
    /// so a message larger than it can still be sent when nothing is pending. A Close is never
    /// refused, and once the bound is reached the automatic Pongs are coalesced (an unsent one
    /// is replaced by the answer to the newest Ping, §5.5.3), so a peer that sends Pings and
    /// never reads grows our output past the bound by at most one Pong. Reading is never
    /// limited by it.
    /// Default 1 MiB.
    pub max_pending_output: usize,
    /// Deliver data messages in pieces as they arrive ([`Event::Chunk`]) instead of whole
    /// ([`Event::Text`], [`Event::Binary`]), so that a large message is never held whole.
    /// Default `false`.
    pub streaming: bool,
    /// Split outgoing messages into frames of at most this many payload bytes. Default `None`
    /// (one frame per message).
    pub fragment_size: Option<usize>,
    /// Keepalive, idle and close timers; all off by default.
    pub timeouts: TimeoutConfig,
    /// The most frames one [`poll_event`](Connection::poll_event) call decodes without an
    /// event to return (empty or tiny continuation frames, frames of a message still being
    /// assembled). When it stops there, it returns `None` with frames still buffered and
    /// [`frame_budget_spent`](Connection::frame_budget_spent) says so: call it again after
    /// letting other work run. `None` (the default) decodes everything buffered, which is
    /// what a loop that reads after `None` needs. An async driver serving many connections
    /// on one thread sets it, so that a peer flooding tiny frames cannot hold the thread for
    /// milliseconds per poll (a 2 MiB read of 6-byte frames is 350,000 frames).
    pub frame_budget: Option<u32>,
    /// The permessage-deflate policy (RFC 7692) used when a handshake is turned into a
    /// connection ([`Request::upgrade`](crate::handshake::Request::upgrade),
    /// [`ClientHandshake::into_connection`](crate::handshake::ClientHandshake::into_connection)):
    /// `None` (the default) declines compression; `Some` negotiates it with a peer that
    /// offers it. Each compressed connection holds about 60–470 KiB depending on the policy
    /// (see the README's table).
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_pending_output: DEFAULT_MAX_PENDING_OUTPUT,
            streaming: false,
            fragment_size: None,
            timeouts: TimeoutConfig::default(),
            frame_budget: None,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

/// The default maximum message size: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 64 << 20;

/// The default bound on pending output: 1 MiB.
pub const DEFAULT_MAX_PENDING_OUTPUT: usize = 1 << 20;

impl Config {
    /// Sets [`max_frame_size`](Self::max_frame_size).
    pub fn max_frame_size(mut self, bytes: u64) -> Self {
        self.max_frame_size = Some(bytes);
        self
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    pub fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`max_pending_output`](Self::max_pending_output).
    pub fn max_pending_output(mut self, bytes: usize) -> Self {
        self.max_pending_output = bytes;
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

    /// Sets [`frame_budget`](Self::frame_budget) (at least 1).
    pub fn frame_budget(mut self, frames: Option<u32>) -> Self {
        self.frame_budget = frames.map(|n| n.max(1));
        self
    }

    /// Sets [`timeouts`](Self::timeouts).
    pub fn timeouts(mut self, timeouts: TimeoutConfig) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Sets [`deflate`](Self::deflate): negotiate permessage-deflate with this policy.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, policy: crate::deflate::DeflateConfig) -> Self {
        self.deflate = Some(policy);
        self
    }

    /// The frame limit in force for frames no extension transforms:
    /// [`max_frame_size`](field@Self::max_frame_size), or the message limit when that is `None`.
    pub fn frame_limit(&self) -> u64 {
        self.max_frame_size.unwrap_or(self.max_message_size)
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
/// takes `&mut Connection`; [`into_owned`](Event::into_owned) copies it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// The connection has ended: the last event it reports, exactly once, whoever ended it
    /// (the peer's Close, the answer to ours, a protocol error we failed it for, the end of
    /// the transport, a timer). Any Close frame it needs is already queued in the output.
    /// [`Connection::close_info`] keeps returning the same information afterwards.
    Closed(&'a CloseInfo),
}

impl Event<'_> {
    /// Copies the event out of the connection's buffers.
    pub fn into_owned(self) -> OwnedEvent {
        match self {
            Event::Text(text) => OwnedEvent::Text(String::from(text)),
            Event::Binary(data) => OwnedEvent::Binary(data.to_vec()),
            Event::Chunk { kind, data, first, last } => {
                OwnedEvent::Chunk { kind, data: data.to_vec(), first, last }
            }
            Event::Ping(data) => OwnedEvent::Ping(data.to_vec()),
            Event::Pong(data) => OwnedEvent::Pong(data.to_vec()),
            Event::Closed(info) => OwnedEvent::Closed(info.clone()),
        }
    }
}

/// An [`Event`] that owns its data, made with [`Event::into_owned`]: to keep events past the
/// next call on the connection, send them to another task, or compare them in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OwnedEvent {
    /// A whole text message.
    Text(String),
    /// A whole binary message.
    Binary(Vec<u8>),
    /// A piece of a data message (see [`Event::Chunk`]).
    Chunk {
        /// Text or binary.
        kind: MessageKind,
        /// The bytes.
        data: Vec<u8>,
        /// Whether this is the first piece of the message.
        first: bool,
        /// Whether this is the last piece of the message.
        last: bool,
    },
    /// The peer sent a Ping (already answered).
    Ping(Vec<u8>),
    /// The peer sent a Pong.
    Pong(Vec<u8>),
    /// The connection has ended.
    Closed(CloseInfo),
}

/// The source of masking keys for a client (RFC 6455 §5.3: unpredictable, fresh per frame).
pub type MaskKeySource = Box<dyn FnMut() -> [u8; 4] + Send>;

/// A WebSocket connection of either role, after the opening handshake.
///
/// Made from a handshake in one step ([`Request::upgrade`](crate::handshake::Request::upgrade)
/// on a server, [`ClientHandshake::into_connection`](crate::handshake::ClientHandshake::into_connection)
/// on a client), which installs the negotiated extension and feeds the bytes that followed the
/// handshake; or with [`new`](Self::new) / [`builder`](Self::builder) when the handshake
/// happened elsewhere.
///
/// # The drive loop
///
/// ```
/// use rfc6455::Role;
/// use rfc6455::connection::{Config, Connection, Event};
///
/// # let fixed_keys: rfc6455::connection::MaskKeySource = Box::new(|| [1, 2, 3, 4]);
/// let mut server = Connection::new(Role::Server, Config::default());
/// let mut client = Connection::builder(Role::Client).mask_keys(fixed_keys).build();
///
/// client.send_text("hello").unwrap();
/// // Client -> server: the client writes everything pending to the "socket".
/// let mut wire = Vec::new();
/// client.write_to(&mut wire).unwrap();
/// server.handle_bytes(&wire);
/// // Drain the server's events, then its output.
/// let mut echo = Vec::new();
/// while let Some(event) = server.poll_event() {
///     if let Event::Text(text) = event {
///         echo.push(text.to_owned());
///     }
/// }
/// for text in echo {
///     server.send_text(&text).unwrap();
/// }
/// let mut reply = Vec::new();
/// server.write_to(&mut reply).unwrap();
/// assert_eq!(reply, b"\x81\x05hello");
/// ```
pub struct Connection {
    role: Role,
    /// A client waits for the server's end of the transport (§7.1.1); not over a stream.
    waits_for_server_close: bool,
    config: Config,
    life: Lifecycle,
    recv: recv::Receiver,
    out: send::Sender,
    timers: timers::Timers,
    extension: Option<Box<dyn Extension>>,
    subprotocol: Option<Box<str>>,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.life.state())
            .field("pending_output", &self.out.pending_len())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Connection`] with parts beyond a role and a [`Config`]: injected masking keys,
/// a negotiated extension, the subprotocol in use. The handshake's one-step methods use it;
/// call it yourself when the handshake happened elsewhere.
///
/// ```
/// use rfc6455::Role;
/// use rfc6455::connection::{Config, Connection};
///
/// let conn = Connection::builder(Role::Client)
///     .config(Config::default().max_message_size(1 << 20))
///     .mask_keys(Box::new(|| [1, 2, 3, 4])) // tests pin keys; production uses the default
///     .subprotocol("chat")
///     .build();
/// assert_eq!(conn.subprotocol(), Some("chat"));
/// ```
#[must_use = "call build() to get the connection"]
pub struct Builder {
    role: Role,
    server_closes_first: bool,
    config: Config,
    keys: Option<MaskKeySource>,
    extension: Option<Box<dyn Extension>>,
    subprotocol: Option<Box<str>>,
}

impl Builder {
    /// Sets the configuration (default: [`Config::default`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Sets the source of masking keys (used by a client only). Without it, a client draws
    /// keys from the operating system's randomness through `rand` (feature `std`); a `no_std`
    /// client must supply them.
    pub fn mask_keys(mut self, keys: MaskKeySource) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Installs a negotiated extension; without one, any RSV bit fails the connection with
    /// 1002. permessage-deflate is installed for you by the handshake's one-step methods.
    pub fn extension(mut self, extension: Box<dyn Extension>) -> Self {
        self.extension = Some(extension);
        self
    }

    /// Whether a client waits, after a clean close handshake, for the server to close the
    /// transport first (default: yes). RFC 6455 §7.1.1 asks it of TCP, so that the TIME_WAIT
    /// state lands on the server. An HTTP/2 or HTTP/3 stream (RFC 8441, RFC 9220) has no
    /// TIME_WAIT, and servers do not all end their stream after the close handshake, so
    /// over a stream a client ends its side as soon as the handshake completes: pass
    /// `false` (the handshake's one-step methods do, for an extended CONNECT). No effect on
    /// a server.
    pub fn server_closes_first(mut self, wait: bool) -> Self {
        self.server_closes_first = wait;
        self
    }

    /// Records the subprotocol agreed in the handshake, for [`Connection::subprotocol`].
    pub fn subprotocol(mut self, subprotocol: &str) -> Self {
        self.subprotocol = Some(subprotocol.into());
        self
    }

    /// The connection.
    ///
    /// # Panics
    ///
    /// Without the `std` feature, when a client has no [`mask_keys`](Self::mask_keys): there
    /// is no source of randomness to mask with, and masking with predictable keys would break
    /// §5.3. This is a programming error, found the first time the code runs.
    pub fn build(self) -> Connection {
        let Builder { role, server_closes_first, config, keys, extension, subprotocol } = self;
        // §5.1: a server never masks, whatever source of keys it was given.
        let keys = match role {
            Role::Server => None,
            Role::Client => Some(keys.unwrap_or_else(default_mask_keys)),
        };
        let mut decoder = FrameDecoder::new(role);
        let frame_limit = config.frame_limit();
        // Frames of a transformed message may be larger by the extension's expansion; the
        // receive path holds the others to `frame_limit` itself.
        let decoder_limit = extension.as_ref().map_or(frame_limit, |ext| ext.max_encoded_len(frame_limit));
        decoder.set_max_frame_size(decoder_limit.max(frame_limit));
        Connection {
            role,
            waits_for_server_close: role == Role::Client && server_closes_first,
            life: Lifecycle::Open,
            recv: recv::Receiver::new(decoder),
            out: send::Sender::new(keys),
            timers: timers::Timers::new(),
            extension,
            subprotocol,
            config,
        }
    }
}

#[cfg(feature = "std")]
fn default_mask_keys() -> MaskKeySource {
    use rand::{RngCore, SeedableRng};
    // A CSPRNG per connection, so each frame's key costs a few ns, seeded from the thread's
    // CSPRNG (itself seeded from the OS and reseeded as it goes): seeding each connection
    // from the OS cost a `getrandom` system call per connection, a third of a short-lived
    // client connection's time (benches/peers, `@fresh` rows).
    let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
    Box::new(move || rng.next_u32().to_ne_bytes())
}

#[cfg(not(feature = "std"))]
fn default_mask_keys() -> MaskKeySource {
    panic!("a no_std client needs Builder::mask_keys: there is no default source of randomness")
}

impl Connection {
    /// A connection for `role` with `config`, no extension and no subprotocol. A client draws
    /// masking keys from the operating system's randomness through `rand`; use
    /// [`builder`](Self::builder) to inject them.
    #[cfg(feature = "std")]
    pub fn new(role: Role, config: Config) -> Self {
        Self::builder(role).config(config).build()
    }

    /// A [`Builder`] for a connection of `role`.
    pub fn builder(role: Role) -> Builder {
        Builder {
            role,
            server_closes_first: true,
            config: Config::default(),
            keys: None,
            extension: None,
            subprotocol: None,
        }
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The subprotocol agreed in the handshake (§4.1 _Subprotocol In Use_), if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Whether an extension (permessage-deflate) transforms messages on this connection.
    pub fn has_extension(&self) -> bool {
        self.extension.is_some()
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        self.life.state()
    }

    /// Why the connection ended, once it has: the same information
    /// [`Event::Closed`] reported. `None` while it is open or closing.
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.life.ended().map(|ended| &ended.info)
    }

    /// Whether the caller should now close the transport (TCP, TLS, stream).
    ///
    /// True once the connection is [`State::Closed`] and all output has been written, with one
    /// refinement from RFC 6455 §7.1.1: after a clean close handshake a client waits for the
    /// server to close the TCP connection first ([`handle_eof`](Self::handle_eof)), unless a
    /// timer gave up or the connection failed (or it runs on an HTTP/2 stream:
    /// [`Builder::server_closes_first`]). With a
    /// [`close_timeout`](TimeoutConfig::close_timeout), neither wait lasts longer than it:
    /// [`poll_timeout`](Self::poll_timeout) keeps a deadline until the transport may be
    /// dropped, and at that deadline the pending output is abandoned.
    pub fn should_drop_transport(&self) -> bool {
        let Some(ended) = self.life.ended() else { return false };
        if ended.abandoned {
            return true;
        }
        if self.out.pending_len() != 0 {
            return false;
        }
        !self.waits_for_server_close || ended.eof || !ended.info.is_clean()
    }

    /// Writes pending output to `writer` until none is left, the writer would block, or it
    /// fails; returns how many bytes it took. This is the simplest correct way to write: it
    /// counts what the writer took, uses vectored writes so payloads queued with
    /// [`send_owned`](Self::send_owned) go out without a copy, and retries interrupted writes.
    ///
    /// With a non-blocking writer, `Ok(n)` may leave output pending (the writer would block);
    /// `Err(WouldBlock)` means it took nothing. A writer that accepts zero bytes is
    /// `Err(WriteZero)`.
    ///
    /// ```
    /// use rfc6455::{Connection, Role};
    /// use rfc6455::connection::Config;
    ///
    /// let mut conn = Connection::new(Role::Server, Config::default());
    /// conn.send_text("hi").unwrap();
    /// let mut socket = Vec::new(); // a TcpStream in real use
    /// assert_eq!(conn.write_to(&mut socket).unwrap(), 4);
    /// assert_eq!(socket, b"\x81\x02hi");
    /// assert_eq!(conn.pending_output_len(), 0);
    /// ```
    #[cfg(feature = "std")]
    pub fn write_to<W: std::io::Write + ?Sized>(&mut self, writer: &mut W) -> std::io::Result<usize> {
        use std::io::{ErrorKind, IoSlice};
        // Enough slices for a header and a held payload per message for a few messages; a
        // longer queue is written in several calls.
        const SLICES: usize = 16;
        let mut total = 0;
        while self.out.pending_len() > 0 {
            let mut slices = [IoSlice::new(&[]); SLICES];
            let mut count = 0;
            for (slot, piece) in slices.iter_mut().zip(self.out.pieces()) {
                *slot = IoSlice::new(piece);
                count += 1;
            }
            // `count <= SLICES` by the zip.
            let result =
                if count == 1 { writer.write(&slices[0]) } else { writer.write_vectored(&slices[..count]) };
            match result {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    // A `Write` never reports more than it was given; if one did, clamp.
                    self.out.consume(n.min(self.out.pending_len()));
                    total += n;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock && total > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    /// Copies as much pending output as fits into `buf` and counts it as written; returns how
    /// many bytes it copied (0 when nothing is pending). For transports that take a buffer
    /// (an HTTP/2 stream's send buffer, a TLS record, `no_std` drivers).
    ///
    /// ```
    /// use rfc6455::{Connection, Role};
    /// use rfc6455::connection::Config;
    ///
    /// let mut conn = Connection::new(Role::Server, Config::default());
    /// conn.send_binary(&[1, 2, 3]).unwrap();
    /// let mut buf = [0u8; 3];
    /// assert_eq!(conn.poll_transmit(&mut buf), 3); // the header and one payload byte
    /// assert_eq!(buf, [0x82, 0x03, 1]);
    /// assert_eq!(conn.poll_transmit(&mut buf), 2);
    /// assert_eq!(buf[..2], [2, 3]);
    /// assert_eq!(conn.poll_transmit(&mut buf), 0);
    /// ```
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        let mut filled = 0;
        for piece in self.out.pieces() {
            let take = piece.len().min(buf.len() - filled);
            // `filled + take <= buf.len()` and `take <= piece.len()`.
            buf[filled..filled + take].copy_from_slice(&piece[..take]);
            filled += take;
            if filled == buf.len() {
                break;
            }
        }
        self.out.consume(filled);
        filled
    }

    /// Moves all pending output to the end of `out` and counts it as written; returns how many
    /// bytes it moved (0 when nothing is pending). The `Vec` form of
    /// [`poll_transmit`](Self::poll_transmit), for a caller that writes from a buffer of its
    /// own, as [`send_into`](Self::send_into) fills it: take the connection's own output (an
    /// automatic Pong, a Close echo) into the same buffer after every input. When `out` is
    /// empty and has too little room, the connection's buffer is handed over instead of
    /// copied where it can be.
    ///
    /// ```
    /// use rfc6455::{Connection, Role};
    /// use rfc6455::connection::Config;
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.handle_bytes(&[0x89, 0x80, 0, 0, 0, 0]); // a Ping, masked, empty
    /// while server.poll_event().is_some() {}
    /// let mut out = Vec::new();
    /// assert_eq!(server.append_output(&mut out), 2);
    /// assert_eq!(out, [0x8a, 0x00]); // its Pong
    /// assert_eq!(server.append_output(&mut out), 0);
    /// ```
    pub fn append_output(&mut self, out: &mut Vec<u8>) -> usize {
        self.out.move_pending_to(out)
    }

    /// The next piece of pending output; empty when there is none. Write it, then report how
    /// much the transport took with [`handle_written`](Self::handle_written), and call again
    /// until it is empty: output is several pieces when payloads were queued with
    /// [`send_owned`](Self::send_owned). [`write_to`](Self::write_to) and
    /// [`poll_transmit`](Self::poll_transmit) do this counting for you.
    ///
    /// While the output before it is at [`Config::max_pending_output`], an automatic Pong
    /// queued last is not handed out yet: it stays replaceable by the answer to a newer Ping
    /// (§5.5.3), so a Ping flood from a peer that is not reading cannot grow the output
    /// however often the output is handed out. It is handed out once the output before it
    /// drains below the bound; [`pending_output_len`](Self::pending_output_len) counts it.
    #[inline]
    pub fn poll_output(&mut self) -> &[u8] {
        self.out.hand_out_next(self.config.max_pending_output)
    }

    /// Every piece of pending output, in order: for a vectored write (`writev`), which sends
    /// held payloads (see [`send_owned`](Self::send_owned)) without copying them. Report what
    /// the write took with [`handle_written`](Self::handle_written); it may end mid-piece.
    /// An automatic Pong may be held back as for [`poll_output`](Self::poll_output).
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
    ///     server.handle_written(n).unwrap();
    /// }
    /// assert_eq!(socket.len(), 4 + 4096 + 2 + 4);
    /// ```
    #[inline]
    pub fn output_pieces(&mut self) -> impl Iterator<Item = &[u8]> + '_ {
        self.out.hand_out_all(self.config.max_pending_output)
    }

    /// The transport took the first `n` bytes of what [`poll_output`](Self::poll_output) or
    /// [`output_pieces`](Self::output_pieces) last handed out (a partial write is fine).
    ///
    /// `n` larger than what was handed out is [`UsageError::WrittenTooMuch`] and counts
    /// nothing: reporting bytes that were never written would corrupt the stream.
    #[inline]
    pub fn handle_written(&mut self, n: usize) -> Result<(), UsageError> {
        self.out.written(n)
    }

    /// How many bytes are waiting to be written, in all pieces.
    pub fn pending_output_len(&self) -> usize {
        self.out.pending_len()
    }

    /// Whether a data message (or a ping or pong) may be sent now: the connection is open and
    /// its output is not [full](Self::is_output_full). When it is not, write output and ask
    /// again; reading may go on meanwhile.
    pub fn can_send(&self) -> bool {
        self.life.is_open() && !self.is_output_full()
    }

    /// Whether pending output has reached [`Config::max_pending_output`]: sends are refused
    /// until the transport takes some. (An event loop that answers messages as it reads them
    /// can pause reading while this holds.)
    pub fn is_output_full(&self) -> bool {
        self.out.pending_len() >= self.config.max_pending_output
    }

    /// Frees every buffer that holds nothing pending: the receive buffer once all received
    /// bytes are consumed, the reassembly buffer between messages, and the output buffer once
    /// written. A connection keeps these between messages so that steady traffic allocates
    /// nothing; call this when a connection goes idle (a server with many quiet clients) to
    /// bring its heap use back to zero. The next message allocates them again.
    ///
    /// Once the connection has ended ([`State::Closed`]) the receive buffers are freed
    /// whatever they hold: nothing more is read, so bytes left in them (the frame that failed
    /// the connection, or what followed the peer's Close) are never needed. Only output not
    /// yet written (the Close) is kept.
    pub fn release_buffers(&mut self) {
        self.recv.release(self.life.is_closed());
        self.out.release();
    }

    /// How many bytes the connection's buffers have allocated, used or not: the receive buffer,
    /// the reassembly buffers, the output buffer and the extension's scratch space. (Not the
    /// payloads [`send_owned`](Self::send_owned) holds, which are the caller's, nor an
    /// extension's compression state.) A driver can tell from it whether a large message left
    /// large buffers behind, to keep them over a short pause rather than
    /// [release](Self::release_buffers) them at once.
    ///
    /// ```
    /// use rfc6455::{Connection, Role};
    /// use rfc6455::connection::Config;
    ///
    /// let mut conn = Connection::new(Role::Server, Config::default());
    /// assert_eq!(conn.buffer_capacity(), 0);
    /// conn.read_buf(4096);
    /// assert!(conn.buffer_capacity() >= 4096);
    /// conn.release_buffers();
    /// assert_eq!(conn.buffer_capacity(), 0);
    /// ```
    pub fn buffer_capacity(&self) -> usize {
        self.recv.capacity() + self.out.capacity()
    }

    /// How many received bytes the connection holds that it has not yet turned into events
    /// (a partial frame, or a single-frame message still arriving).
    pub fn buffered_input_len(&self) -> usize {
        self.recv.buffered()
    }

    /// The transport reached end of stream (the peer closed its side or vanished).
    ///
    /// If the connection had not ended, the application gets an [`Event::Closed`] with code
    /// 1006 and [`CloseOrigin::Eof`] (§7.1.5), after the events that the bytes received
    /// before the end still hold (so a message followed by end of stream is not lost, and a
    /// Close frame followed by it is a clean close). Nothing more is read.
    ///
    /// When the bytes held make no whole frame (a frame cut off by the end), they can hold no
    /// event, and the connection ends at once: [`state`](Self::state) is then
    /// [`State::Closed`]. Otherwise it ends in the [`poll_event`](Self::poll_event) call that
    /// has handed out those events (a driver that stopped at [`Config::frame_budget`] may
    /// leave whole frames behind).
    pub fn handle_eof(&mut self) {
        // Asked before the reading stops. (False once the connection has ended, and true only
        // when undecoded bytes are held.)
        let events_left = self.has_whole_frame();
        self.recv.end_of_stream();
        if !events_left {
            self.transition(lifecycle::Input::Eof);
        }
    }

    /// Moves the lifecycle and carries out what the move asks for. Every end of the
    /// connection comes through here or through [`apply`] directly.
    fn transition(&mut self, input: lifecycle::Input<'_>) {
        let effect = self.life.step(input);
        self.apply(effect);
    }

    fn apply(&mut self, effect: lifecycle::Effect) {
        apply(effect, &mut self.out);
    }
}

/// Carries out a lifecycle effect on the output. A free function so the receive path can call
/// it while an event borrows its buffers. (The timers need no word of the end: they read the
/// lifecycle, which stays `Closed` once there.)
fn apply(effect: lifecycle::Effect, out: &mut send::Sender) {
    match effect {
        lifecycle::Effect::None => {}
        lifecycle::Effect::QueueClose(code) => {
            let frame = crate::frame::CloseFrame { code, reason: "" };
            // Codes from `close_code` and codes a peer's Close passed parsing with are
            // sendable, so this cannot fail.
            let _ = out.write_close(&frame);
        }
        lifecycle::Effect::DropOutput => out.clear(),
    }
}

#[cfg(test)]
mod tests;
