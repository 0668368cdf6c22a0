//! permessage-deflate's message transformation (RFC 7692 §6, §7.2): compressing outgoing
//! messages and inflating incoming ones, with or without context takeover, under the message
//! size limit.
//!
//! This file owns the DEFLATE streams of one connection and the [`Extension`] hook through
//! which the [`Connection`](crate::Connection) uses them. It does not know about frames (the
//! connection splits and joins them, and sets RSV1 on the first frame only) nor about the
//! handshake (`params.rs` decides what was agreed).

use alloc::vec::Vec;
use core::fmt;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::params::{DeflateConfig, DeflateParams, MIN_COMPRESS_WINDOW_BITS, compress_bits, decompress_bits};
use crate::extension::Extension;
use crate::fault::{ExtensionError, ProtocolError};
use crate::frame::OpCode;
use crate::role::Role;

/// The "Per-Message Compressed" bit: RSV1 (RFC 7692 §6).
const RSV1: u8 = 0b100;

/// What a sync flush ends with, removed on send and restored on receive (RFC 7692 §7.2.1
/// step 3, §7.2.2 step 1).
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The first step by which the inflate output grows; later steps double, up to the limit.
const MIN_OUTPUT_STEP: usize = 16 * 1024;

/// Output for the last bytes under the limit, when the output buffer already has more room
/// than the limit allows (a buffer reused from a larger earlier message).
const SCRATCH: usize = 4 * 1024;

/// permessage-deflate in use on one connection. The handshake's one-step calls install it
/// (see [`connection::Config::deflate`](crate::connection::Config::deflate)); for a handshake
/// done elsewhere, plug it in with
/// [`connection::Builder::extension`](crate::connection::Builder::extension).
///
/// Built from the agreed parameters ([`negotiate_server`](super::negotiate_server) or
/// [`accept_client`](super::accept_client)) and the local [`DeflateConfig`], which adds the
/// compression level, the size threshold and our own choice to forgo context takeover or use a
/// smaller window than agreed.
///
/// # Memory
///
/// The DEFLATE states are allocated on first use: a connection that never receives a
/// compressed message holds no inflate state, and one that never sends one holds no deflate
/// state. With context takeover they are kept between messages, as they must be; without it
/// they are freed after each message ([`DeflateConfig::free_between_messages`]) or reset.
/// Measured on zlib-rs, which always uses a 64 Ki-entry hash table and a 32 KiB inflate window:
///
/// | window bits | deflate state | inflate state |
/// |---|---|---|
/// | 15 | 371 KiB | 46 KiB |
/// | 12 | 259 KiB | 46 KiB |
/// | 9 | 245 KiB | 46 KiB |
///
/// # Limits
///
/// Inflated output counts against the connection's
/// [`max_message_size`](crate::connection::Config::max_message_size) as it is produced: the
/// output buffer grows in bounded steps, never past the limit, and the first byte beyond it
/// fails the connection with 1009. A corrupt stream fails it with 1007.
pub struct PerMessageDeflate {
    params: DeflateParams,
    /// Settings of what we send.
    compress: bool,
    level: Compression,
    compress_bits: u8,
    compress_reset: bool,
    min_size: usize,
    skip_compressed: bool,
    /// Free a state instead of resetting it, where it is reset after every message.
    free_between_messages: bool,
    /// Settings of what we receive.
    decompress_bits: u8,
    peer_takes_over: bool,
    compressor: Option<Compress>,
    decompressor: Option<Decompress>,
    /// Bytes inflated so far in the message being received.
    produced: usize,
}

impl PerMessageDeflate {
    /// permessage-deflate for an endpoint of `role` that agreed on `params`.
    ///
    /// `config` supplies the level and the size threshold, and may only make our side
    /// stricter than agreed: a smaller window or no context takeover for what we send.
    pub fn new(role: Role, params: DeflateParams, config: &DeflateConfig) -> Self {
        // RFC 7692 §7: `server_*` parameters govern what the server compresses and the client
        // decompresses; `client_*` the reverse.
        let (own_bits, own_reset, peer_bits, peer_reset, local_bits, local_reset) = match role {
            Role::Server => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
                params.client_max_window_bits,
                params.client_no_context_takeover,
                config.server_max_window_bits,
                config.server_no_context_takeover,
            ),
            Role::Client => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
                params.server_max_window_bits,
                params.server_no_context_takeover,
                config.client_max_window_bits,
                config.client_no_context_takeover,
            ),
        };
        Self {
            params,
            level: Compression::new(config.level.min(9)),
            // Held to 8 (which zlib cannot do), we send everything uncompressed.
            compress: own_bits >= MIN_COMPRESS_WINDOW_BITS,
            compress_bits: compress_bits(own_bits.min(local_bits)),
            compress_reset: own_reset || local_reset,
            min_size: config.min_size,
            skip_compressed: config.skip_compressed,
            free_between_messages: config.free_between_messages,
            // A window of 8 is inflated with 9: a larger window decodes anything a smaller one
            // produced, and flate2 takes 9–15.
            decompress_bits: decompress_bits(peer_bits).max(MIN_COMPRESS_WINDOW_BITS),
            peer_takes_over: !peer_reset,
            compressor: None,
            decompressor: None,
            produced: 0,
        }
    }

    /// The agreed parameters.
    pub fn params(&self) -> DeflateParams {
        self.params
    }

    /// Compresses `payload` for one message into `out` (RFC 7692 §7.2.1), without the
    /// trailing `00 00 ff ff`. `None` means: send it uncompressed (nothing was added to the
    /// window, or the window is reset before the next message anyway).
    fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Option<()> {
        let (level, bits) = (self.level, self.compress_bits);
        let compressor =
            self.compressor.get_or_insert_with(|| Compress::new_with_window_bits(level, false, bits));
        let start = out.len();
        let done = deflate_sync(compressor, payload, out).is_ok() && out[start..].ends_with(&TRAILER);
        if !done {
            // The library refused (it never does for valid input). Start afresh: the peer's
            // window keeps bytes we will no longer refer to, which is harmless.
            compressor.reset();
            out.truncate(start);
            return None;
        }
        out.truncate(out.len() - TRAILER.len());
        if self.compress_reset {
            // §7.2.1: without context takeover, each message starts from an empty window.
            if self.free_between_messages {
                self.compressor = None;
            } else {
                compressor.reset();
            }
            // So a message that did not shrink may go out as is: nobody's window keeps it.
            if out.len() - start >= payload.len() {
                out.truncate(start);
                return None;
            }
        }
        Some(())
    }

    /// Inflates `input` into `out`, failing once the message would exceed `limit` bytes.
    fn inflate(&mut self, mut input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), ProtocolError> {
        let bits = self.decompress_bits;
        let decompressor =
            self.decompressor.get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        loop {
            // `out` holds this message's output so far (all of it, unless the connection
            // streams and hands pieces out), so both measures count toward the limit.
            let remaining = limit.saturating_sub(self.produced.max(out.len()));
            if out.capacity() == out.len() && remaining > 0 {
                // Grow geometrically for speed, but never past the limit.
                out.reserve_exact(remaining.min(out.len().max(MIN_OUTPUT_STEP)));
            }
            let spare = out.capacity() - out.len();
            let (in_before, out_before) = (decompressor.total_in(), decompressor.total_out());
            let (status, full) = if spare > 0 && spare <= remaining {
                let status =
                    decompressor.decompress_vec(input, out, FlushDecompress::None).map_err(corrupt)?;
                (status, out.len() == out.capacity())
            } else {
                // More room than the limit allows: inflate at most one byte past the limit
                // into a scratch buffer, to find out whether the message goes over.
                let mut scratch = [0u8; SCRATCH];
                let size = SCRATCH.min(remaining.saturating_add(1));
                // `size` is at most `SCRATCH`.
                let scratch = &mut scratch[..size];
                let status =
                    decompressor.decompress(input, scratch, FlushDecompress::None).map_err(corrupt)?;
                let written = (decompressor.total_out() - out_before) as usize;
                if written > remaining {
                    return Err(ProtocolError::MessageTooLarge { limit: limit as u64 });
                }
                // `written` is at most `size`, the scratch's length.
                out.extend_from_slice(&scratch[..written]);
                (status, written == size)
            };
            // Both counts are bounded by the slices just passed in.
            let consumed = (decompressor.total_in() - in_before) as usize;
            let written = (decompressor.total_out() - out_before) as usize;
            input = input.get(consumed..).unwrap_or_default();
            self.produced += written;
            if status == Status::StreamEnd {
                // A block with BFINAL set ended the DEFLATE stream. RFC 7692 §7.2.1 lets the
                // sender go on with more blocks (the next one follows the padding), and
                // §7.2.2 keeps the window across messages unless the peer gave up context
                // takeover: start a new stream that remembers what this message produced.
                decompressor.reset(false);
                if self.peer_takes_over {
                    let window = 1usize << bits;
                    // The range starts within `out`.
                    let history = &out[out.len().saturating_sub(window)..];
                    if !history.is_empty() {
                        decompressor.set_dictionary(history).map_err(corrupt)?;
                    }
                }
                if input.is_empty() {
                    return Ok(());
                }
                continue;
            }
            // Done once all input is taken and the decompressor had room to spare, so it
            // holds no pending output; or when it can make no progress at all.
            if !full && (input.is_empty() || consumed == 0 && written == 0) {
                return Ok(());
            }
        }
    }
}

impl Extension for PerMessageDeflate {
    fn rsv_bits(&self) -> u8 {
        RSV1
    }

    /// zlib's bound for any compressor settings (`deflateBound` for a non-default memory
    /// level): data that does not compress is sent in stored blocks of a few bytes' overhead
    /// each, and smaller blocks cost more, so allow an eighth and a bit plus a margin. The
    /// inflated size is held to the message limit separately, while inflating.
    fn max_encoded_len(&self, decoded_len: u64) -> u64 {
        decoded_len
            .saturating_add(decoded_len >> 3)
            .saturating_add(decoded_len >> 8)
            .saturating_add(decoded_len >> 9)
            .saturating_add(1024)
    }

    fn decode_begin(&mut self, rsv: u8) -> Result<bool, ProtocolError> {
        // §6: RSV1 on the first frame marks a compressed message; without it the message is
        // delivered as is. (The connection rejects RSV1 on control and continuation frames.)
        self.produced = 0;
        Ok(rsv & RSV1 != 0)
    }

    fn decode_chunk(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), ProtocolError> {
        self.inflate(input, out, limit)
    }

    fn decode_end(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), ProtocolError> {
        // §7.2.2 step 1: the sender removed the sync flush's trailer; put it back so the
        // decompressor emits everything up to the message's end.
        self.inflate(&TRAILER, out, limit)?;
        // A peer without context takeover never refers to earlier messages, so the window
        // need not be reset (§7.2.2 "MAY"); it may be freed.
        if !self.peer_takes_over && self.free_between_messages {
            self.decompressor = None;
        }
        Ok(())
    }

    fn encode(&mut self, opcode: OpCode, payload: &[u8], out: &mut Vec<u8>) -> Option<u8> {
        // §6.1: control frames are never compressed (the connection does not offer them).
        // An empty message is sent as is: nothing is smaller.
        if !self.compress || opcode.is_control() || payload.is_empty() || payload.len() < self.min_size {
            return None;
        }
        if self.skip_compressed && opcode == OpCode::Binary && looks_compressed(payload) {
            return None;
        }
        self.compress(payload, out).map(|()| RSV1)
    }
}

impl fmt::Debug for PerMessageDeflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerMessageDeflate")
            .field("params", &self.params)
            .field("compress", &self.compress)
            .field("level", &self.level.level())
            .field("compress_bits", &self.compress_bits)
            .field("compress_reset", &self.compress_reset)
            .field("decompress_bits", &self.decompress_bits)
            .field("min_size", &self.min_size)
            .field("free_between_messages", &self.free_between_messages)
            .finish_non_exhaustive()
    }
}

/// Compresses all of `input` and sync-flushes, appending to `out`.
fn deflate_sync(
    compressor: &mut Compress,
    mut input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), flate2::CompressError> {
    // Enough for incompressible input (stored blocks cost 5 bytes per 64 KiB) plus the flush,
    // so one call usually suffices.
    out.reserve(input.len() + (input.len() >> 10) + 64);
    loop {
        let before = compressor.total_in();
        compressor.compress_vec(input, out, FlushCompress::Sync)?;
        // Bounded by the slice just passed in.
        let consumed = (compressor.total_in() - before) as usize;
        input = input.get(consumed..).unwrap_or_default();
        // zlib's rule for a flush: it is complete when input is used up and room was left.
        if input.is_empty() && out.len() < out.capacity() {
            return Ok(());
        }
        out.reserve(input.len() / 2 + 1024);
    }
}

fn corrupt<E>(_: E) -> ProtocolError {
    ProtocolError::Extension(ExtensionError::CorruptCompressedData)
}

/// Whether a binary payload starts with the signature of a compressed format, which deflate
/// would only make larger.
fn looks_compressed(payload: &[u8]) -> bool {
    const SIGNATURES: [&[u8]; 14] = [
        b"\x1f\x8b",           // gzip
        b"\x28\xb5\x2f\xfd",   // zstd
        b"\xfd7zXZ\x00",       // xz
        b"BZh",                // bzip2
        b"PK\x03\x04",         // zip, docx, jar, apk
        b"7z\xbc\xaf\x27\x1c", // 7z
        b"\x89PNG",            // PNG
        b"\xff\xd8\xff",       // JPEG
        b"GIF8",               // GIF
        b"OggS",               // Ogg
        b"\x1a\x45\xdf\xa3",   // Matroska, WebM
        b"fLaC",               // FLAC
        b"\x04\x22\x4d\x18",   // LZ4 frame
        b"wOF2",               // WOFF2
    ];
    let riff_webp =
        payload.len() >= 12 && payload.starts_with(b"RIFF") && payload.get(8..12) == Some(b"WEBP");
    // ISO base media (MP4, MOV, HEIF, AVIF): a box size, then "ftyp".
    let mp4 = payload.get(4..8) == Some(b"ftyp");
    riff_webp || mp4 || SIGNATURES.iter().any(|s| payload.starts_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn pair(params: DeflateParams, config: &DeflateConfig) -> (PerMessageDeflate, PerMessageDeflate) {
        (
            PerMessageDeflate::new(Role::Client, params, config),
            PerMessageDeflate::new(Role::Server, params, config),
        )
    }

    fn all() -> DeflateConfig {
        DeflateConfig::default().min_size(0)
    }

    /// zlib's usual level 6 reproduces the RFC's bytes (level 1 encodes the second "Hello"
    /// differently, and as validly).
    fn rfc() -> DeflateConfig {
        all().level(6)
    }

    fn send(sender: &mut PerMessageDeflate, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        assert_eq!(sender.encode(OpCode::Text, payload, &mut out), Some(RSV1));
        out
    }

    fn receive(
        receiver: &mut PerMessageDeflate,
        pieces: &[&[u8]],
        limit: usize,
    ) -> Result<Vec<u8>, ProtocolError> {
        assert!(receiver.decode_begin(RSV1)?);
        let mut out = Vec::new();
        for piece in pieces {
            receiver.decode_chunk(piece, &mut out, limit)?;
        }
        receiver.decode_end(&mut out, limit)?;
        Ok(out)
    }

    #[test]
    fn hello_is_the_rfc_vector() {
        // RFC 7692 §7.2.3.1 and §7.2.3.2.
        let (mut client, mut server) = pair(DeflateParams::default(), &rfc());
        assert_eq!(send(&mut client, b"Hello"), [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert_eq!(send(&mut client, b"Hello"), [0xf2, 0x00, 0x11, 0x00, 0x00]);
        let first = receive(&mut server, &[&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]], 100).unwrap();
        assert_eq!(first, b"Hello");
        assert_eq!(receive(&mut server, &[&[0xf2, 0x00, 0x11, 0x00, 0x00]], 100).unwrap(), b"Hello");
    }

    #[test]
    fn limit_is_exact() {
        let (mut client, mut server) = pair(DeflateParams::default(), &all());
        let payload = vec![b'a'; 100_000];
        let wire = send(&mut client, &payload);
        assert_eq!(receive(&mut server, &[&wire], 100_000).unwrap(), payload);
        let wire = send(&mut client, &payload);
        assert_eq!(
            receive(&mut server, &[&wire], 99_999),
            Err(ProtocolError::MessageTooLarge { limit: 99_999 })
        );
    }

    #[test]
    fn limit_with_a_roomy_output_buffer() {
        let (mut client, mut server) = pair(DeflateParams::default(), &all());
        let wire = send(&mut client, &[b'x'; 5000]);
        assert!(server.decode_begin(RSV1).unwrap());
        let mut out = Vec::with_capacity(1 << 20);
        server.decode_chunk(&wire, &mut out, 5000).unwrap();
        server.decode_end(&mut out, 5000).unwrap();
        assert_eq!(out, [b'x'; 5000]);
        let wire = send(&mut client, &[b'x'; 5001]);
        out.clear();
        assert!(server.decode_begin(RSV1).unwrap());
        let result =
            server.decode_chunk(&wire, &mut out, 5000).and_then(|()| server.decode_end(&mut out, 5000));
        assert_eq!(result, Err(ProtocolError::MessageTooLarge { limit: 5000 }));
        assert!(out.len() <= 5000);
    }

    #[test]
    fn limit_zero() {
        let (mut client, mut server) = pair(DeflateParams::default(), &all());
        assert_eq!(client.encode(OpCode::Text, b"", &mut Vec::new()), None);
        // §7.2.3.6: an empty message may also come compressed, as one octet.
        assert_eq!(receive(&mut server, &[&[0x00]], 0).unwrap(), b"");
        let wire = send(&mut client, b"a");
        assert_eq!(receive(&mut server, &[&wire], 0), Err(ProtocolError::MessageTooLarge { limit: 0 }));
    }

    #[test]
    fn bfinal_with_a_small_window_keeps_the_history() {
        // RFC 7692 §7.2.3.4's BFINAL "Hello", then a back-reference to it, inflated with a
        // 9-bit window (flate2 recreates the state on reset for windows below 15).
        let params = DeflateParams { server_max_window_bits: 9, ..DeflateParams::default() };
        let mut client = PerMessageDeflate::new(Role::Client, params, &all());
        let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(receive(&mut client, &[&bfinal], 100).unwrap(), b"Hello");
        assert_eq!(receive(&mut client, &[&[0xf2, 0x00, 0x11, 0x00, 0x00]], 100).unwrap(), b"Hello");
    }

    #[test]
    fn corrupt_data() {
        let (_, mut server) = pair(DeflateParams::default(), &all());
        // BTYPE 11 is reserved (RFC 1951 §3.2.3).
        assert_eq!(receive(&mut server, &[&[0xff, 0xff]], 100), Err(corrupt(())));
    }

    #[test]
    fn compressed_formats_are_sent_as_is() {
        let (mut client, _) = pair(DeflateParams::default(), &DeflateConfig::default());
        let mut out = Vec::new();
        let mut gzip = vec![0x1f, 0x8b];
        gzip.extend_from_slice(&[7; 100]);
        assert_eq!(client.encode(OpCode::Binary, &gzip, &mut out), None);
        assert_eq!(
            client.encode(OpCode::Binary, b"\0\0\0\x20ftypisom........................", &mut out),
            None
        );
        // Text is never sniffed: "BZh" starts plenty of words.
        assert_eq!(
            client.encode(OpCode::Text, b"BZh is not always bzip2, not at all, not at all", &mut out),
            Some(RSV1)
        );
        assert!(out.len() > 2);
        out.clear();
        // Below the threshold.
        assert_eq!(client.encode(OpCode::Text, b"short", &mut out), None);
        assert!(out.is_empty());
    }
}
