//! permessage-deflate negotiation (RFC 7692 §5, §7.1): reading offers and responses with their
//! four parameters, the server's choice among offers, the client's offer, and the check of the
//! server's answer.
//!
//! This file owns what the parameters mean and which combinations this crate supports. It does
//! not parse the `Sec-WebSocket-Extensions` grammar (that is [`crate::handshake::Extension`]'s
//! job) and does not compress anything (that is `codec.rs`).

use alloc::string::String;
use core::fmt;

use crate::handshake::{Extension, HandshakeError, Lowercase};

/// The registered extension name (RFC 7692 §7).
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The largest LZ77 window, as a base-2 logarithm: 32 KiB (RFC 7692 §7.2.1).
pub const MAX_WINDOW_BITS: u8 = 15;

/// The smallest window RFC 7692 allows (§7.1.2): 256 bytes. This crate decompresses with it
/// but never compresses with it (see [`MIN_COMPRESS_WINDOW_BITS`]).
pub const MIN_WINDOW_BITS: u8 = 8;

/// The smallest window this crate compresses with: 512 bytes. zlib (and zlib-rs) silently
/// turn a raw-deflate window of 8 into 9, so promising a peer a 256-byte window would be a lie
/// it could not decode. A server declines offers that require 8 for its compressor; a client
/// told to use 8 sends its messages uncompressed.
pub const MIN_COMPRESS_WINDOW_BITS: u8 = 9;

/// How permessage-deflate is offered (client) or accepted (server), and how messages are
/// compressed once it is in use.
///
/// The same type serves both roles. Each parameter of RFC 7692 §7.1 is named after the
/// direction it governs: `server_*` is about what the server compresses, `client_*` about
/// what the client compresses.
///
/// | field | as server | as client |
/// |---|---|---|
/// | [`server_max_window_bits`](Self::server_max_window_bits) | the largest window it compresses with (9–15); below 15 it is always announced | asks the server for this window or smaller (8–15), in the offer when below 15 |
/// | [`client_max_window_bits`](Self::client_max_window_bits) | demands this window or smaller of the client (9–15); below 15, offers without `client_max_window_bits` are declined | the largest window it compresses with (9–15), hinted in the offer |
/// | [`server_no_context_takeover`](Self::server_no_context_takeover) | compresses every message from an empty window, and says so | asks the server to do so |
/// | [`client_no_context_takeover`](Self::client_no_context_takeover) | demands that the client does so | compresses every message from an empty window, and hints so |
///
/// Out-of-range window bits are clamped to what the role can do. Windows of 8 are never
/// compressed with nor demanded (zlib cannot honour them, see [`MIN_COMPRESS_WINDOW_BITS`]);
/// a client's own hint of 8 is still accepted and echoed, and a client told to use 8 sends
/// uncompressed messages. A smaller window costs compression
/// ratio and saves memory in the compressor: see the crate README's table of bytes per
/// connection.
///
/// ```
/// use rfc6455::deflate::DeflateConfig;
/// // A server short of memory: small windows both ways, and messages under 64 bytes sent as is.
/// let config = DeflateConfig::default()
///     .server_max_window_bits(10)
///     .client_max_window_bits(10)
///     .server_no_context_takeover(true)
///     .min_size(64);
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The base-2 logarithm of the window the server compresses with (RFC 7692 §7.1.2.1).
    /// Default 15.
    pub server_max_window_bits: u8,
    /// The base-2 logarithm of the window the client compresses with (RFC 7692 §7.1.2.2).
    /// Default 15.
    pub client_max_window_bits: u8,
    /// The server compresses each message from an empty window (RFC 7692 §7.1.1.1).
    /// Default `false`.
    pub server_no_context_takeover: bool,
    /// The client compresses each message from an empty window (RFC 7692 §7.1.1.2).
    /// Default `false`.
    pub client_no_context_takeover: bool,
    /// The zlib compression level, 0 (store only) to 9 (smallest output). Default 1: on
    /// JSON-like text it is about ten times faster than zlib's usual 6, for output about a
    /// fifth (16 KiB messages: a half) larger.
    pub level: u32,
    /// Messages shorter than this many bytes are sent uncompressed: deflate's few bytes of
    /// framing outweigh what it saves on tiny messages. Default 32; 0 compresses everything.
    pub min_size: usize,
    /// Binary messages that start like an already-compressed format (gzip, zstd, xz, bzip2,
    /// zip, 7z, PNG, JPEG, GIF, WebP, Ogg, Matroska, MP4) are sent uncompressed. Default
    /// `true`.
    pub skip_compressed: bool,
    /// Without context takeover in a direction, free that direction's DEFLATE state after each
    /// message instead of resetting it, so that a connection between messages holds none of
    /// it (some 300 KiB for the compressor). Costs an allocation per compressed message;
    /// resetting costs about as much (it clears a 128 KiB hash table). Default `true`.
    pub free_between_messages: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            level: 1,
            min_size: 32,
            skip_compressed: true,
            free_between_messages: true,
        }
    }
}

impl DeflateConfig {
    /// Sets [`server_max_window_bits`](Self::server_max_window_bits).
    pub fn server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = bits;
        self
    }

    /// Sets [`client_max_window_bits`](Self::client_max_window_bits).
    pub fn client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = bits;
        self
    }

    /// Sets [`server_no_context_takeover`](Self::server_no_context_takeover).
    pub fn server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// Sets [`client_no_context_takeover`](Self::client_no_context_takeover).
    pub fn client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// Sets [`level`](Self::level) (values above 9 mean 9).
    pub fn level(mut self, level: u32) -> Self {
        self.level = level;
        self
    }

    /// Sets [`min_size`](Self::min_size).
    pub fn min_size(mut self, bytes: usize) -> Self {
        self.min_size = bytes;
        self
    }

    /// Sets [`skip_compressed`](Self::skip_compressed).
    pub fn skip_compressed(mut self, on: bool) -> Self {
        self.skip_compressed = on;
        self
    }

    /// Sets [`free_between_messages`](Self::free_between_messages).
    pub fn free_between_messages(mut self, on: bool) -> Self {
        self.free_between_messages = on;
        self
    }
}

/// The agreed parameters of a permessage-deflate connection (RFC 7692 §5: what the server's
/// response says), with an absent window parameter read as 15.
///
/// Its [`response`](DeflateParams::response) (inline) and its [`Display`](fmt::Display) form
/// are the server's response element, for
/// [`Accept::with_extension`](crate::handshake::Accept::with_extension):
///
/// ```
/// use rfc6455::deflate::DeflateParams;
/// let params = DeflateParams { server_no_context_takeover: true, client_max_window_bits: 10, ..Default::default() };
/// let text = "permessage-deflate; server_no_context_takeover; client_max_window_bits=10";
/// assert_eq!(params.response().as_str(), text);
/// assert_eq!(params.to_string(), text);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server compresses every message from an empty window.
    pub server_no_context_takeover: bool,
    /// The client compresses every message from an empty window.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with (8–15).
    pub server_max_window_bits: u8,
    /// The largest window the client compresses with (8–15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// Plain `permessage-deflate`: context takeover and 32 KiB windows both ways.
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
        }
    }
}

impl DeflateParams {
    /// The server's response element for these parameters, written inline (no heap), for
    /// [`Accept::with_extension`](crate::handshake::Accept::with_extension): the name, then
    /// each parameter that differs from the default. The same text as the
    /// [`Display`](fmt::Display) form, without building a `String`.
    ///
    /// ```
    /// use rfc6455::deflate::{DeflateConfig, DeflateParams, negotiate_server};
    /// use rfc6455::handshake::{Accept, Extension};
    /// let offers = Extension::parse_list("permessage-deflate; client_max_window_bits")?;
    /// let answer = negotiate_server(&offers, &DeflateConfig::default()).map(|p| p.response());
    /// let accept = Accept::new().with_extension(answer.as_deref());
    /// assert_eq!(answer.as_deref(), Some("permessage-deflate"));
    /// # let _ = accept;
    /// # Ok::<(), rfc6455::handshake::HandshakeError>(())
    /// ```
    #[inline]
    pub fn response(&self) -> DeflateResponse {
        let mut out = DeflateResponse { len: 0, bytes: [0; DeflateResponse::CAPACITY] };
        out.push(EXTENSION_NAME.as_bytes());
        if self.server_no_context_takeover {
            out.push(b"; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push(b"; client_no_context_takeover");
        }
        if self.server_max_window_bits < MAX_WINDOW_BITS {
            out.push(b"; server_max_window_bits=");
            out.push_bits(self.server_max_window_bits);
        }
        if self.client_max_window_bits < MAX_WINDOW_BITS {
            out.push(b"; client_max_window_bits=");
            out.push_bits(self.client_max_window_bits);
        }
        out
    }
}

/// Writes the response element: the name, then each parameter that differs from the default
/// (see [`DeflateParams::response`]).
impl fmt::Display for DeflateParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.response())
    }
}

/// A server's permessage-deflate response element, held inline: see
/// [`DeflateParams::response`]. Dereferences to `str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateResponse {
    len: u8,
    bytes: [u8; DeflateResponse::CAPACITY],
}

impl DeflateResponse {
    /// The longest response: the name, both no-context-takeover parameters and both window
    /// parameters with two digits.
    const CAPACITY: usize = 128;

    /// The element as text.
    pub fn as_str(&self) -> &str {
        // The most common answer, the name alone, needs no conversion.
        if usize::from(self.len) == EXTENSION_NAME.len() {
            return EXTENSION_NAME;
        }
        // Invariant: only ASCII is ever written (`push` of ASCII literals, `push_bits` of
        // digits), and `len` never passes the capacity; the fallback is never taken.
        self.bytes
            .get(..usize::from(self.len))
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or(EXTENSION_NAME)
    }

    fn push(&mut self, piece: &[u8]) {
        let start = usize::from(self.len);
        // Invariant: the longest response fits in `CAPACITY` (128 bytes), so the range always
        // exists; were it not to, the piece would be dropped, never written out of bounds.
        if let Some(slot) = self.bytes.get_mut(start..start + piece.len()) {
            slot.copy_from_slice(piece);
            self.len += piece.len() as u8;
        }
    }

    /// A window size (8–15) in decimal.
    fn push_bits(&mut self, bits: u8) {
        if bits >= 10 {
            self.push(&[b'1', b'0' + bits % 10]);
        } else {
            self.push(&[b'0' + bits]);
        }
    }
}

impl core::ops::Deref for DeflateResponse {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for DeflateResponse {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for DeflateResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DeflateResponse").field(&self.as_str()).finish()
    }
}

impl fmt::Display for DeflateResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permessage-deflate offer or response that breaks RFC 7692 §7, or a response this crate
/// cannot honour (§7: the client "MUST _Fail the WebSocket Connection_").
///
/// A server never sees these: it declines a bad offer and tries the next one. A client gets
/// one from [`accept_client`]; it converts into
/// [`HandshakeError::InvalidExtensions`] for `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// A parameter RFC 7692 does not define (or not for this side); carries its name.
    UnknownParameter(String),
    /// A parameter appears twice in one element; carries its name.
    DuplicateParameter(&'static str),
    /// A parameter has a missing, extra or out-of-range value; carries its name.
    InvalidValue(&'static str),
    /// The response lists permessage-deflate more than once.
    DuplicateExtension,
    /// A valid response this endpoint cannot honour, or one that ignores a request of our
    /// offer; says which.
    Unsupported(&'static str),
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownParameter(name) => write!(f, "unknown permessage-deflate parameter {name:?}"),
            Self::DuplicateParameter(name) => write!(f, "permessage-deflate parameter {name} repeated"),
            Self::InvalidValue(name) => write!(f, "invalid value for permessage-deflate parameter {name}"),
            Self::DuplicateExtension => f.write_str("permessage-deflate accepted more than once"),
            Self::Unsupported(what) => write!(f, "unsupported permessage-deflate response: {what}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NegotiationError {}

/// A bad response fails the handshake like any malformed `Sec-WebSocket-Extensions`.
impl From<NegotiationError> for HandshakeError {
    fn from(_: NegotiationError) -> Self {
        HandshakeError::InvalidExtensions
    }
}

/// Chooses the first offer, in the client's order of preference (RFC 7692 §5), that is valid
/// and that `config` allows, and returns the agreed parameters; `None` declines them all.
///
/// Invalid offers (unknown or repeated parameters, bad values: §7) are skipped, not errors:
/// the server "MUST decline" them, and may accept a later one. So is an offer that asks for
/// `server_max_window_bits=8` (see [`MIN_COMPRESS_WINDOW_BITS`]), and, when
/// [`DeflateConfig::client_max_window_bits`] is below 15, an offer without
/// `client_max_window_bits` (the client could not honour the limit, §7.1.2.2).
///
/// Answer with the returned parameters' [`response`](DeflateParams::response), then attach
/// [`PerMessageDeflate::new`](super::PerMessageDeflate::new)`(Role::Server, params, config)`
/// to the connection. See the [module docs](super) for the whole exchange.
pub fn negotiate_server(offers: &[Extension<'_>], config: &DeflateConfig) -> Option<DeflateParams> {
    const NAME: Lowercase = Lowercase::new(EXTENSION_NAME);
    offers
        .iter()
        .filter(|offer| offer.is_lowercase(&NAME))
        .find_map(|offer| answer_offer(&Parsed::read(offer, Side::Offer).ok()?, config))
}

/// The client's offer, for
/// [`ClientRequest::with_extension`](crate::handshake::ClientRequest::with_extension).
///
/// It always includes `client_max_window_bits` (so the server may limit our window, §7.1.2.2),
/// with a value when [`DeflateConfig::client_max_window_bits`] is below 15; it asks for
/// `server_max_window_bits` when that is below 15, and for the no-context-takeover parameters
/// that are set.
///
/// ```
/// use rfc6455::deflate::{DeflateConfig, client_offer};
/// assert_eq!(client_offer(&DeflateConfig::default()), "permessage-deflate; client_max_window_bits");
/// let config = DeflateConfig::default().server_max_window_bits(10).server_no_context_takeover(true);
/// assert_eq!(
///     client_offer(&config),
///     "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits"
/// );
/// ```
pub fn client_offer(config: &DeflateConfig) -> String {
    use core::fmt::Write;
    let mut offer = String::from(EXTENSION_NAME);
    if config.server_no_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    if config.client_no_context_takeover {
        offer.push_str("; client_no_context_takeover");
    }
    // Writing into a String cannot fail.
    let server_bits = decompress_bits(config.server_max_window_bits);
    if server_bits < MAX_WINDOW_BITS {
        let _ = write!(offer, "; server_max_window_bits={server_bits}");
    }
    let client_bits = compress_bits(config.client_max_window_bits);
    if client_bits < MAX_WINDOW_BITS {
        let _ = write!(offer, "; client_max_window_bits={client_bits}");
    } else {
        offer.push_str("; client_max_window_bits");
    }
    offer
}

/// Checks the server's answer to [`client_offer`]`(config)` (RFC 7692 §7: the client's duty to
/// fail on a bad response) and returns the agreed parameters, or `None` if the server did not
/// accept permessage-deflate.
///
/// `extensions` is the handshake's
/// [`Accepted::extensions`](crate::handshake::Accepted::extensions); elements with other names
/// are ignored. An error means the connection must not proceed (fail it, §7): permessage-deflate
/// listed twice, a malformed parameter, or a response that ignores a request of our offer
/// (`server_max_window_bits`, `server_no_context_takeover`).
///
/// A response that limits the client to `client_max_window_bits=8` is accepted, but zlib cannot
/// compress with a 256-byte window (see [`MIN_COMPRESS_WINDOW_BITS`]): the client then sends
/// every message uncompressed (RFC 7692 §6 lets each message choose) and still inflates the
/// server's.
pub fn accept_client(
    extensions: &[Extension<'_>],
    config: &DeflateConfig,
) -> Result<Option<DeflateParams>, NegotiationError> {
    let mut found = extensions.iter().filter(|e| e.is(EXTENSION_NAME));
    let Some(response) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(NegotiationError::DuplicateExtension);
    }
    let params = response_params(response)?;
    // `client_max_window_bits=8` is accepted although zlib cannot compress with it: the
    // client then sends every message uncompressed, which §6 allows and which keeps any window.
    // §7.1.1.1 and §7.1.2.1: a server accepts these requests by echoing them.
    if config.server_no_context_takeover && !params.server_no_context_takeover {
        return Err(NegotiationError::Unsupported(
            "server_no_context_takeover was requested and not granted",
        ));
    }
    if params.server_max_window_bits > decompress_bits(config.server_max_window_bits) {
        return Err(NegotiationError::Unsupported("server_max_window_bits larger than requested"));
    }
    Ok(Some(params))
}

/// The agreement a server's permessage-deflate answer states (either side may read it).
pub(crate) fn response_params(response: &Extension<'_>) -> Result<DeflateParams, NegotiationError> {
    let parsed = Parsed::read(response, Side::Response)?;
    Ok(DeflateParams {
        server_no_context_takeover: parsed.server_no_context_takeover,
        client_no_context_takeover: parsed.client_no_context_takeover,
        server_max_window_bits: parsed.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
        client_max_window_bits: parsed.client_max_window_bits.bits().unwrap_or(MAX_WINDOW_BITS),
    })
}

/// The server's answer to one valid offer, or `None` to decline it.
fn answer_offer(offer: &Parsed, config: &DeflateConfig) -> Option<DeflateParams> {
    let mut server_bits = compress_bits(config.server_max_window_bits);
    if let Some(requested) = offer.server_max_window_bits {
        // §7.1.2.1: answer with the same or a smaller value; below 9 we cannot.
        if requested < MIN_COMPRESS_WINDOW_BITS {
            return None;
        }
        server_bits = server_bits.min(requested);
    }
    // We could inflate a window of 8, but zlib-based clients (browsers, and this crate) cannot
    // compress with it, so we never demand less than 9.
    let wanted = compress_bits(config.client_max_window_bits);
    let client_bits = match offer.client_max_window_bits {
        // §7.1.2.2: without the parameter in the offer, the response must not limit the client.
        ClientBits::Absent if wanted < MAX_WINDOW_BITS => return None,
        ClientBits::Absent => MAX_WINDOW_BITS,
        ClientBits::Supported => wanted,
        // The client's hint: it will not use more, so a larger window would only waste memory.
        ClientBits::Hint(hint) => wanted.min(hint),
    };
    Some(DeflateParams {
        // §7.1.1.1: the request is granted by echoing it; the server may add it on its own.
        server_no_context_takeover: offer.server_no_context_takeover || config.server_no_context_takeover,
        // §7.1.1.2: acknowledging the client's hint costs nothing; the server may also demand it.
        client_no_context_takeover: offer.client_no_context_takeover || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    })
}

/// A window this endpoint compresses with: 9–15.
pub(crate) fn compress_bits(bits: u8) -> u8 {
    bits.clamp(MIN_COMPRESS_WINDOW_BITS, MAX_WINDOW_BITS)
}

/// A window this endpoint decompresses with, or lets the peer compress with: 8–15.
pub(crate) fn decompress_bits(bits: u8) -> u8 {
    bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)
}

/// Whether the element is an offer (client to server) or a response.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Offer,
    Response,
}

/// `client_max_window_bits` in an element: absent, bare (offers only), or with a value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ClientBits {
    Absent,
    Supported,
    Hint(u8),
}

impl ClientBits {
    fn bits(self) -> Option<u8> {
        match self {
            Self::Hint(bits) => Some(bits),
            Self::Absent | Self::Supported => None,
        }
    }
}

/// The parameters of one element, validated by RFC 7692 §7.1's rules.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    client_max_window_bits: ClientBits,
    /// Which of the four parameters were read (to refuse repeats).
    seen: [bool; 4],
}

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

impl Parsed {
    /// Reads one element: every parameter known, none repeated, every value valid (§7).
    fn read(element: &Extension<'_>, side: Side) -> Result<Self, NegotiationError> {
        let mut parsed = Parsed {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: None,
            client_max_window_bits: ClientBits::Absent,
            seen: [false; 4],
        };
        // The parameters' places were noted when the list was checked: nothing is scanned
        // again.
        element.try_for_each_param(|name, value| parsed.take(name, value, side))?;
        Ok(parsed)
    }

    /// Takes one parameter, by RFC 7692 §7.1's rules.
    fn take(&mut self, name: &[u8], value: Option<&[u8]>, side: Side) -> Result<(), NegotiationError> {
        // The length and the first letter pick the one name to compare with (a word at a
        // time; each arm with its own constant, so the comparison is compiled for its words).
        const SERVER_NO_CONTEXT: Lowercase = Lowercase::new(SERVER_NO_CONTEXT_TAKEOVER);
        const CLIENT_NO_CONTEXT: Lowercase = Lowercase::new(CLIENT_NO_CONTEXT_TAKEOVER);
        const SERVER_BITS: Lowercase = Lowercase::new(SERVER_MAX_WINDOW_BITS);
        const CLIENT_BITS: Lowercase = Lowercase::new(CLIENT_MAX_WINDOW_BITS);
        let (index, known, matches) = match (name.len(), name.first().map(|b| b | 0x20)) {
            (26, Some(b's')) => (0, SERVER_NO_CONTEXT_TAKEOVER, SERVER_NO_CONTEXT.matches(name)),
            (26, Some(b'c')) => (1, CLIENT_NO_CONTEXT_TAKEOVER, CLIENT_NO_CONTEXT.matches(name)),
            (22, Some(b's')) => (2, SERVER_MAX_WINDOW_BITS, SERVER_BITS.matches(name)),
            (22, Some(b'c')) => (3, CLIENT_MAX_WINDOW_BITS, CLIENT_BITS.matches(name)),
            _ => (0, "", false),
        };
        if !matches {
            return Err(NegotiationError::UnknownParameter(String::from_utf8_lossy(name).into()));
        }
        // `index` is one of the four above.
        if core::mem::replace(&mut self.seen[index], true) {
            return Err(NegotiationError::DuplicateParameter(known));
        }
        match index {
            // §7.1.1.1, §7.1.1.2: "This extension parameter has no value."
            0 | 1 if value.is_some() => return Err(NegotiationError::InvalidValue(known)),
            0 => self.server_no_context_takeover = true,
            1 => self.client_no_context_takeover = true,
            // §7.1.2.1: a value is required in offers and responses alike.
            2 => self.server_max_window_bits = Some(window_bits(value, known)?),
            // §7.1.2.2: an offer may send it bare; a response must carry a value.
            _ => {
                self.client_max_window_bits = match value {
                    None if side == Side::Offer => ClientBits::Supported,
                    _ => ClientBits::Hint(window_bits(value, known)?),
                }
            }
        }
        Ok(())
    }
}

/// A window-bits value: `1*DIGIT` without leading zeroes, 8 to 15 (§7.1.2.1, §7.1.2.2).
fn window_bits(value: Option<&[u8]>, name: &'static str) -> Result<u8, NegotiationError> {
    // The only such values are `8`, `9` and `10` to `15`.
    match value {
        Some(&[digit @ b'8'..=b'9']) => Ok(digit - b'0'),
        Some(&[b'1', digit @ b'0'..=b'5']) => Ok(10 + digit - b'0'),
        _ => Err(NegotiationError::InvalidValue(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn parse(list: &str, side: Side) -> Result<Parsed, NegotiationError> {
        let list = Extension::parse_list(list).unwrap();
        Parsed::read(&list[0], side)
    }

    #[test]
    fn window_bits_values() {
        for (value, ok) in [
            ("8", Some(8)),
            ("15", Some(15)),
            ("9", Some(9)),
            ("7", None),
            ("16", None),
            ("0", None),
            ("08", None),
            ("015", None),
            ("abc", None),
            ("+9", None),
            ("", None),
            ("255", None),
            ("99999999999", None),
        ] {
            assert_eq!(window_bits(Some(value.as_bytes()), "x").ok(), ok, "{value:?}");
        }
        assert_eq!(window_bits(None, "x"), Err(NegotiationError::InvalidValue("x")));
    }

    #[test]
    fn offers_and_responses_differ_on_bare_client_bits() {
        assert_eq!(
            parse("permessage-deflate; client_max_window_bits", Side::Offer).unwrap().client_max_window_bits,
            ClientBits::Supported
        );
        assert_eq!(
            parse("permessage-deflate; client_max_window_bits", Side::Response),
            Err(NegotiationError::InvalidValue(CLIENT_MAX_WINDOW_BITS))
        );
        assert_eq!(
            parse("permessage-deflate; server_max_window_bits", Side::Offer),
            Err(NegotiationError::InvalidValue(SERVER_MAX_WINDOW_BITS))
        );
    }

    #[test]
    fn all_four_parameters() {
        let parsed = parse(
            r#"permessage-deflate; server_no_context_takeover; CLIENT_no_context_takeover; server_max_window_bits="10"; client_max_window_bits=12"#,
            Side::Offer,
        )
        .unwrap();
        assert_eq!(
            parsed,
            Parsed {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: Some(10),
                client_max_window_bits: ClientBits::Hint(12),
                seen: [true; 4],
            }
        );
    }

    #[test]
    fn bad_parameters() {
        for (element, error) in [
            ("permessage-deflate; x", NegotiationError::UnknownParameter("x".into())),
            (
                "permessage-deflate; server_no_context_takeover=1",
                NegotiationError::InvalidValue(SERVER_NO_CONTEXT_TAKEOVER),
            ),
            (
                "permessage-deflate; client_no_context_takeover=\"x\"",
                NegotiationError::InvalidValue(CLIENT_NO_CONTEXT_TAKEOVER),
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                NegotiationError::DuplicateParameter(SERVER_NO_CONTEXT_TAKEOVER),
            ),
            (
                "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
                NegotiationError::DuplicateParameter(CLIENT_MAX_WINDOW_BITS),
            ),
            (
                "permessage-deflate; server_max_window_bits=16",
                NegotiationError::InvalidValue(SERVER_MAX_WINDOW_BITS),
            ),
        ] {
            assert_eq!(parse(element, Side::Offer), Err(error), "{element}");
        }
    }

    #[test]
    fn display_is_a_parseable_response() {
        let params = DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 9,
            client_max_window_bits: 8,
        };
        let text = params.to_string();
        let list = Extension::parse_list(&text).unwrap();
        let parsed = Parsed::read(&list[0], Side::Response).unwrap();
        assert_eq!(parsed.server_max_window_bits, Some(9));
        assert_eq!(parsed.client_max_window_bits, ClientBits::Hint(8));
        assert_eq!(DeflateParams::default().to_string(), "permessage-deflate");
    }

    fn params(server_nct: bool, client_nct: bool, server_bits: u8, client_bits: u8) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: server_nct,
            client_no_context_takeover: client_nct,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        }
    }

    /// The server's answer to one offer under each policy (RFC 7692 §7.1).
    #[test]
    fn server_answers_each_offer_by_its_policy() {
        let plain = DeflateConfig::default();
        let client_10 = DeflateConfig::default().client_max_window_bits(10);
        let client_8 = DeflateConfig::default().client_max_window_bits(8);
        let server_9 = DeflateConfig::default().server_max_window_bits(9);
        let no_takeover =
            DeflateConfig::default().server_no_context_takeover(true).client_no_context_takeover(true);
        for (offer, config, answer) in [
            ("permessage-deflate", &plain, Some(params(false, false, 15, 15))),
            // §7.1.2.2: no client_max_window_bits in the offer, so no limit on the client:
            // a policy that wants one declines.
            ("permessage-deflate", &client_10, None),
            ("permessage-deflate; client_max_window_bits", &client_10, Some(params(false, false, 15, 10))),
            // The client's hint and the policy: the smaller.
            ("permessage-deflate; client_max_window_bits=12", &client_10, Some(params(false, false, 15, 10))),
            ("permessage-deflate; client_max_window_bits=12", &plain, Some(params(false, false, 15, 12))),
            ("permessage-deflate; client_max_window_bits=9", &client_10, Some(params(false, false, 15, 9))),
            // A policy of 8 for the client is raised to 9, which zlib compresses with.
            ("permessage-deflate; client_max_window_bits", &client_8, Some(params(false, false, 15, 9))),
            // §7.1.2.1: the server answers with the requested window or a smaller one, never
            // below 9, the smallest it compresses with.
            ("permessage-deflate; server_max_window_bits=10", &plain, Some(params(false, false, 10, 15))),
            ("permessage-deflate; server_max_window_bits=10", &server_9, Some(params(false, false, 9, 15))),
            ("permessage-deflate; server_max_window_bits=9", &plain, Some(params(false, false, 9, 15))),
            ("permessage-deflate; server_max_window_bits=8", &plain, None),
            ("permessage-deflate", &server_9, Some(params(false, false, 9, 15))),
            // §7.1.1: granted by echoing; the server may add either on its own.
            ("permessage-deflate; server_no_context_takeover", &plain, Some(params(true, false, 15, 15))),
            ("permessage-deflate; client_no_context_takeover", &plain, Some(params(false, true, 15, 15))),
            ("permessage-deflate", &no_takeover, Some(params(true, true, 15, 15))),
        ] {
            let offers = Extension::parse_list(offer).unwrap();
            assert_eq!(negotiate_server(&offers, config), answer, "{offer} with {config:?}");
        }
    }

    /// The client's checks of the server's answer (RFC 7692 §7: fail on a bad one).
    #[test]
    fn client_checks_the_answer_against_its_offer() {
        let plain = DeflateConfig::default();
        let answer =
            |list: &str, config: &DeflateConfig| accept_client(&Extension::parse_list(list).unwrap(), config);
        assert_eq!(answer("x-other", &plain), Ok(None));
        assert_eq!(answer("x-other, permessage-deflate", &plain), Ok(Some(params(false, false, 15, 15))));
        assert_eq!(
            answer("permessage-deflate, permessage-deflate", &plain),
            Err(NegotiationError::DuplicateExtension)
        );
        assert_eq!(
            answer("permessage-deflate; x", &plain),
            Err(NegotiationError::UnknownParameter("x".into()))
        );
        // A limit on our window, down to 8, is accepted (we then send uncompressed).
        assert_eq!(
            answer("permessage-deflate; client_max_window_bits=8", &plain),
            Ok(Some(params(false, false, 15, 8)))
        );
        // What we asked for must be granted.
        let asked = DeflateConfig::default().server_no_context_takeover(true);
        assert!(matches!(answer("permessage-deflate", &asked), Err(NegotiationError::Unsupported(_))));
        assert_eq!(
            answer("permessage-deflate; server_no_context_takeover", &asked),
            Ok(Some(params(true, false, 15, 15)))
        );
        let asked = DeflateConfig::default().server_max_window_bits(10);
        assert!(matches!(answer("permessage-deflate", &asked), Err(NegotiationError::Unsupported(_))));
        assert!(matches!(
            answer("permessage-deflate; server_max_window_bits=11", &asked),
            Err(NegotiationError::Unsupported(_))
        ));
        for bits in 8..=10 {
            let list = format!("permessage-deflate; server_max_window_bits={bits}");
            assert_eq!(answer(&list, &asked), Ok(Some(params(false, false, bits, 15))), "{list}");
        }
    }

    /// Names of a known parameter's length and first letter that are not it, and a known
    /// name in capitals.
    #[test]
    fn parameters_are_told_apart_by_their_whole_names() {
        for name in [
            "server_no_context_takeovex",
            "client_no_context_takeovex",
            "server_max_window_bitz",
            "client_max_window_bitz",
        ] {
            let element = format!("permessage-deflate; {name}");
            assert_eq!(
                parse(&element, Side::Offer),
                Err(NegotiationError::UnknownParameter(name.into())),
                "{element}"
            );
        }
        let parsed =
            parse("permessage-deflate; Server_Max_Window_Bits=11; CLIENT_MAX_WINDOW_BITS=12", Side::Response)
                .unwrap();
        assert_eq!(
            (parsed.server_max_window_bits, parsed.client_max_window_bits),
            (Some(11), ClientBits::Hint(12))
        );
    }

    /// The response names each parameter that differs from the default, windows of one and
    /// two digits alike.
    #[test]
    fn response_writes_each_parameter_that_differs() {
        assert_eq!(params(false, false, 15, 15).response().as_str(), "permessage-deflate");
        assert_eq!(
            params(true, false, 15, 15).response().as_str(),
            "permessage-deflate; server_no_context_takeover"
        );
        assert_eq!(
            params(false, true, 15, 15).response().as_str(),
            "permessage-deflate; client_no_context_takeover"
        );
        for bits in 8..=14 {
            assert_eq!(
                params(false, false, bits, 15).response().as_str(),
                format!("permessage-deflate; server_max_window_bits={bits}")
            );
            assert_eq!(
                params(false, false, 15, bits).response().as_str(),
                format!("permessage-deflate; client_max_window_bits={bits}")
            );
        }
        let all = params(true, true, 9, 10).response();
        let text = "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                    server_max_window_bits=9; client_max_window_bits=10";
        assert_eq!(&*all, text);
        assert_eq!(all.to_string(), text);
        assert_eq!(format!("{all:?}"), format!("DeflateResponse({text:?})"));
    }

    /// The client's offer for each policy: windows raised to what each side can use.
    #[test]
    fn client_offer_for_each_policy() {
        let offer = |config: DeflateConfig| client_offer(&config);
        assert_eq!(offer(DeflateConfig::default()), "permessage-deflate; client_max_window_bits");
        // We inflate a window of 8, so we may ask the server for it; we compress with 9 at least.
        assert_eq!(
            offer(DeflateConfig::default().server_max_window_bits(8).client_max_window_bits(8)),
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=9"
        );
        assert_eq!(
            offer(DeflateConfig::default().client_no_context_takeover(true).client_max_window_bits(14)),
            "permessage-deflate; client_no_context_takeover; client_max_window_bits=14"
        );
    }

    /// Each setter sets its own field, the defaults' opposites included.
    #[test]
    fn config_setters_set_their_own_fields() {
        let config = DeflateConfig::default()
            .server_max_window_bits(10)
            .client_max_window_bits(11)
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .level(6)
            .min_size(0)
            .skip_compressed(false)
            .free_between_messages(false);
        let expected = DeflateConfig {
            server_max_window_bits: 10,
            client_max_window_bits: 11,
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            level: 6,
            min_size: 0,
            skip_compressed: false,
            free_between_messages: false,
        };
        assert_eq!(config, expected);
    }

    /// The texts a user sees: the response as `&str` by every route, and each error's message.
    #[test]
    fn response_and_error_texts() {
        let response = params(false, false, 12, 15).response();
        let text = "permessage-deflate; server_max_window_bits=12";
        assert_eq!(AsRef::<str>::as_ref(&response), text);
        assert_eq!(response.as_str(), text);
        for (error, message) in [
            (NegotiationError::UnknownParameter("x".into()), "unknown permessage-deflate parameter \"x\""),
            (
                NegotiationError::DuplicateParameter(SERVER_MAX_WINDOW_BITS),
                "permessage-deflate parameter server_max_window_bits repeated",
            ),
            (
                NegotiationError::InvalidValue(CLIENT_MAX_WINDOW_BITS),
                "invalid value for permessage-deflate parameter client_max_window_bits",
            ),
            (NegotiationError::DuplicateExtension, "permessage-deflate accepted more than once"),
            (NegotiationError::Unsupported("why"), "unsupported permessage-deflate response: why"),
        ] {
            assert_eq!(error.to_string(), message);
            assert_eq!(HandshakeError::from(error), HandshakeError::InvalidExtensions);
        }
    }

    #[test]
    fn server_takes_the_first_acceptable_offer() {
        let offers = Extension::parse_list(
            "x-other, permessage-deflate; server_max_window_bits=8, permessage-deflate; bogus, \
             permessage-deflate; server_max_window_bits=10, permessage-deflate",
        )
        .unwrap();
        let params = negotiate_server(&offers, &DeflateConfig::default()).unwrap();
        assert_eq!(params.server_max_window_bits, 10);
    }
}
