//! The bodies of the fuzz targets, in one place.
//!
//! Each `fuzz/fuzz_targets/<name>.rs` is `fuzz_target!(|data| targets::<name>(data))`, and
//! `tests/fuzz_replay.rs` includes this same file to replay every committed corpus file and
//! crash reproducer on the stable toolchain, so a reproducer fails `cargo test` exactly the
//! way it failed under libFuzzer.
//!
//! # Input layout
//!
//! Every target reads its input as `[chunk_seed, knobs, body...]`:
//!
//! * `chunk_seed` decides how `body` is cut into the pieces the code under test receives:
//!   `0` delivers it whole, `n > 0` cuts pieces of 1 to `n` bytes (so `1` is byte by byte),
//!   their lengths drawn from a small PRNG seeded with both header bytes;
//! * `knobs` selects configuration (limits, streaming, timers, fragment size), decoded by each
//!   target as documented on it;
//! * `body` is the bytes from the peer (frames, a request or response head), or for
//!   `roundtrip` a script of messages.
//!
//! An input shorter than two bytes is an empty body with seed and knobs 0.
//!
//! Every target asserts invariants with `assert!`: a failed assertion is a finding, exactly
//! like a panic inside the crate. Every invariant is always enforced: there is no switch to
//! look past one, so `cargo test` replays the corpora against all of them.

#![allow(dead_code)]

use std::time::Duration;

use rfc6455::close::CloseCode;
use rfc6455::connection::{
    CloseInfo, CloseOrigin, Config, Connection, Event, MaskKeySource, MessageKind, State,
};
#[cfg(feature = "deflate")]
use rfc6455::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use rfc6455::error::{ProtocolError, UsageError};
use rfc6455::frame::{
    CloseFrame, DecodeStep, Decoded, FrameDecoder, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode,
};
use rfc6455::handshake::{
    self, Accept, Bootstrap, ClientHandshake, ClientRequest, HandshakeError, Reject, Request, RequestParser,
    Response, WebSocketKey,
};
use rfc6455::time::Instant;
use rfc6455::{OwnedEvent, Role};

/// The name of every target, whether or not this build has it (`inflate` needs the `deflate`
/// feature).
pub const ALL_TARGETS: &[&str] = &[
    "frame_decoder",
    "server_request",
    "client_response",
    "server_connection",
    "client_connection",
    "roundtrip",
    "inflate",
];

/// A target's body.
pub type Target = fn(&[u8]);

/// The targets this build has, by name, for the replay test and for tooling.
pub fn targets() -> Vec<(&'static str, Target)> {
    let common: [(&'static str, Target); 6] = [
        ("frame_decoder", frame_decoder),
        ("server_request", server_request),
        ("client_response", client_response),
        ("server_connection", server_connection),
        ("client_connection", client_connection),
        ("roundtrip", roundtrip),
    ];
    [&common[..], DEFLATE_TARGETS].concat()
}

#[cfg(feature = "deflate")]
const DEFLATE_TARGETS: &[(&str, Target)] = &[("inflate", inflate)];
#[cfg(not(feature = "deflate"))]
const DEFLATE_TARGETS: &[(&str, Target)] = &[];

/// Runs the target called `name` on `data`; `false` if this build has no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match targets().into_iter().find(|(target, _)| *target == name) {
        Some((_, body)) => {
            body(data);
            true
        }
        None => false,
    }
}

// ---------------------------------------------------------------------------------------------
// frame_decoder
// ---------------------------------------------------------------------------------------------

/// Frame size limits `frame_decoder` and the connection targets choose from (`knobs & 7`).
const FRAME_LIMITS: [u64; 8] = [16 << 20, 0, 1, 125, 126, 1000, 65_536, u64::MAX];

/// `FrameDecoder` in both roles, fed `body` whole, in pieces (in-place `decode`) and in pieces
/// through `decode_into` with a small output buffer. The three must find the same frames, the
/// same payload bytes and the same error; every step must obey the decoder's contract.
///
/// Knobs: bits 0-2 the maximum frame size ([`FRAME_LIMITS`]); bits 3-7 the `decode_into`
/// output buffer length minus one.
pub fn frame_decoder(data: &[u8]) {
    let input = Input::new(data);
    let limit = FRAME_LIMITS[usize::from(input.knobs & 7)];
    let out_len = usize::from(input.knobs >> 3) + 1;
    let pieces = input.pieces();
    for role in [Role::Server, Role::Client] {
        let whole = decode_in_place(role, limit, &[input.body]);
        let chunked = decode_in_place(role, limit, &pieces);
        assert_eq!(whole, chunked, "chunking changed what {role:?} decoded");
        let copied = decode_copying(role, limit, &pieces, out_len);
        assert_eq!(whole, copied, "decode_into disagrees with decode for {role:?}");
    }
}

/// What a decoder made of a byte stream.
#[derive(Debug, PartialEq, Eq)]
struct Decoding {
    frames: Vec<(FrameHeader, Vec<u8>)>,
    error: Option<ProtocolError>,
    /// Whether the stream ended between frames (meaningless after an error).
    at_boundary: bool,
}

fn decode_in_place(role: Role, limit: u64, pieces: &[&[u8]]) -> Decoding {
    let mut decoder = FrameDecoder::new(role);
    decoder.set_max_frame_size(limit);
    let mut frames: Vec<(FrameHeader, Vec<u8>)> = Vec::new();
    for piece in pieces {
        let mut buf = piece.to_vec();
        let mut at = 0;
        while at < buf.len() {
            let before = decoder.payload_remaining();
            let input = &mut buf[at..];
            let len = input.len();
            let step = match decoder.decode(input) {
                Ok(step) => step,
                Err(error) => return Decoding { frames, error: Some(error), at_boundary: false },
            };
            check_step(&decoder, role, limit, &step, len, before);
            if let Decoded::Payload { range, .. } = &step.item {
                // The payload is at the range of the slice that was passed in.
                let payload = &buf[at + range.start..at + range.end];
                push_payload(&mut frames, payload, &step.item);
            } else if let Decoded::Header(header) = step.item {
                frames.push((header, Vec::new()));
            }
            at += step.consumed;
        }
    }
    Decoding { frames, error: None, at_boundary: decoder.is_at_frame_boundary() }
}

fn decode_copying(role: Role, limit: u64, pieces: &[&[u8]], out_len: usize) -> Decoding {
    let mut decoder = FrameDecoder::new(role);
    decoder.set_max_frame_size(limit);
    let mut frames: Vec<(FrameHeader, Vec<u8>)> = Vec::new();
    let mut out = vec![0u8; out_len];
    for piece in pieces {
        let mut input: &[u8] = piece;
        while !input.is_empty() {
            let before = decoder.payload_remaining();
            let step = match decoder.decode_into(input, &mut out) {
                Ok(step) => step,
                Err(error) => return Decoding { frames, error: Some(error), at_boundary: false },
            };
            check_step(&decoder, role, limit, &step, input.len(), before);
            match &step.item {
                Decoded::Payload { range, .. } => {
                    assert!(range.end <= out_len, "decode_into's range {range:?} overruns out");
                    push_payload(&mut frames, &out[range.clone()], &step.item);
                }
                Decoded::Header(header) => frames.push((*header, Vec::new())),
                Decoded::NeedMore => {}
            }
            input = &input[step.consumed..];
        }
    }
    Decoding { frames, error: None, at_boundary: decoder.is_at_frame_boundary() }
}

fn push_payload(frames: &mut [(FrameHeader, Vec<u8>)], payload: &[u8], item: &Decoded) {
    let Some((header, bytes)) = frames.last_mut() else {
        panic!("payload before any header: {item:?}");
    };
    bytes.extend_from_slice(payload);
    let frame_end = matches!(item, Decoded::Payload { frame_end: true, .. });
    assert!(bytes.len() as u64 <= header.payload_len, "more payload than the header claimed");
    assert_eq!(frame_end, bytes.len() as u64 == header.payload_len, "frame_end disagrees with the length");
}

/// The contract of one successful `decode`/`decode_into` step on `len` input bytes.
fn check_step(decoder: &FrameDecoder, role: Role, limit: u64, step: &DecodeStep, len: usize, before: u64) {
    assert!(step.consumed <= len, "consumed {} of {len} bytes", step.consumed);
    // Progress: a non-empty input always yields at least one byte's worth of progress, so a
    // caller's loop terminates.
    assert!(step.consumed > 0, "no progress on {len} bytes: {step:?}");
    match &step.item {
        Decoded::NeedMore => {
            assert_eq!(step.consumed, len, "NeedMore must take every byte offered");
            assert_eq!(before, 0, "NeedMore inside a payload with input available");
        }
        Decoded::Header(header) => {
            assert_eq!(before, 0, "a header inside a payload");
            assert!(header.payload_len <= limit, "header above the limit: {header:?}");
            assert!(header.payload_len >> 63 == 0, "63-bit length rule broken: {header:?}");
            assert!(header.rsv <= 0b111);
            assert_eq!(header.mask.is_some(), role == Role::Server, "masking rule broken: {header:?}");
            if header.opcode.is_control() {
                assert!(header.fin, "fragmented control frame accepted");
                assert!(header.payload_len <= MAX_CONTROL_PAYLOAD as u64, "long control frame accepted");
            }
            assert!(step.consumed <= MAX_HEADER_LEN);
            assert_eq!(decoder.payload_remaining(), header.payload_len);
            assert_eq!(decoder.is_at_frame_boundary(), header.payload_len == 0);
            // The parsed header re-encodes (in minimal form) without complaint.
            let mut again = [0u8; MAX_HEADER_LEN];
            let n = header.encode(&mut again).expect("a parsed header must re-encode");
            assert_eq!(
                FrameHeader::parse(&again[..n], role),
                Ok(rfc6455::frame::ParsedHeader::Complete(*header, n))
            );
        }
        Decoded::Payload { range, frame_end } => {
            assert!(before > 0, "payload outside a frame");
            assert_eq!(range.start, 0);
            assert_eq!(range.end, step.consumed, "payload range and consumed differ");
            assert_eq!(decoder.payload_remaining(), before - step.consumed as u64);
            assert_eq!(*frame_end, decoder.payload_remaining() == 0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// server_request / client_response
// ---------------------------------------------------------------------------------------------

/// Handshake limits the handshake targets choose from: `knobs & 3` picks the head size and
/// `(knobs >> 2) & 3` the header count.
fn handshake_config(knobs: u8) -> handshake::Config {
    let head = [8 * 1024, 64, 300, 1024][usize::from(knobs & 3)];
    let headers = [64, 0, 3, 8][usize::from((knobs >> 2) & 3)];
    handshake::Config::new().with_max_head_size(head).with_max_headers(headers)
}

/// The server's request parsing: [`RequestParser::feed`] with `body` in pieces must agree with
/// the one-shot [`Request::parse`] (same request, same head length, same error), never hold
/// more than the configured head, and do work linear in the input. An accepted request must
/// produce a `101` that parses back with the right `Sec-WebSocket-Accept`; a refused one a
/// rejection whose status is the error's.
///
/// Knobs: see [`handshake_config`].
pub fn server_request(data: &[u8]) {
    let input = Input::new(data);
    let config = handshake_config(input.knobs);
    let oneshot = Request::parse(input.body, &config);
    let mut parser = RequestParser::new(config);
    let mut fed = 0usize;
    let pieces = input.pieces();
    for (index, piece) in pieces.iter().enumerate() {
        match parser.feed(piece) {
            Ok(None) => {
                fed += piece.len();
                assert!(
                    fed < config.max_head_size(),
                    "parser holds {fed} bytes, limit {}",
                    config.max_head_size()
                );
            }
            Ok(Some((request, used))) => {
                assert!(used <= piece.len());
                let head_len = fed + used;
                assert!(head_len <= config.max_head_size());
                match &oneshot {
                    Ok(Some((expected, expected_len))) => {
                        assert_eq!(&request, expected, "incremental and one-shot requests differ");
                        assert_eq!(head_len, *expected_len);
                    }
                    other => panic!("incremental parse completed, one-shot gave {other:?}"),
                }
                check_request(&request);
                check_linear(parser.work(), head_len);
                // Once complete, the parser keeps answering with the same request.
                let rest = pieces.get(index + 1).copied().unwrap_or(b"");
                let expected = oneshot.as_ref().ok().and_then(Option::as_ref).map(|(request, _)| request);
                match parser.feed(rest) {
                    Ok(Some((again, 0))) => assert_eq!(Some(&again), expected),
                    other => panic!("a complete parser answered {other:?}"),
                }
                return;
            }
            Err(error) => {
                assert_eq!(oneshot.as_ref().err(), Some(&error), "one-shot gave {oneshot:?}");
                check_rejection(&error);
                return;
            }
        }
    }
    assert!(matches!(oneshot, Ok(None)), "incremental parse is incomplete, one-shot gave {oneshot:?}");
    check_linear(parser.work(), fed);
}

fn check_linear(work: u64, bytes: usize) {
    // Each byte is scanned once, and the complete head is parsed once.
    assert!(work <= 2 * bytes as u64 + 16, "{work} units of work for {bytes} bytes");
}

fn check_request(request: &Request<'_>) {
    assert_eq!(request.bootstrap(), Bootstrap::Http1Upgrade);
    assert!(request.path().starts_with('/'), "path {:?}", request.path());
    let key = request.key().expect("an HTTP/1.1 upgrade has a key");
    let accept_key = request.accept_key().expect("a key has an accept key");
    assert_eq!(key.len(), 24);
    // Accept with the client's first subprotocol and the first extension it offered, echoed
    // back as offered: both were offered, so `accept` must take them.
    let extension = request.extensions().first().map(|e| e.to_string());
    let accept = Accept::new()
        .with_subprotocol(request.subprotocols().first().copied())
        .with_extension(extension.as_deref());
    let response = request.accept(&accept).expect("accepting what was offered");
    let mut out = Vec::new();
    response.write(&mut out).expect("writing an accepted response");
    let big = handshake::Config::new().with_max_head_size(1 << 20).with_max_headers(1024);
    let (parsed, used) = Response::parse(&out, &big).expect("our 101 parses").expect("our 101 is complete");
    assert_eq!(used, out.len());
    assert_eq!(parsed.status(), 101);
    assert_eq!(parsed.header("Sec-WebSocket-Accept"), Some(accept_key.as_bytes()));
    assert_eq!(
        parsed.header("Sec-WebSocket-Protocol").map(<[u8]>::to_vec),
        request.subprotocols().first().map(|p| p.as_bytes().to_vec())
    );
}

fn check_rejection(error: &HandshakeError) {
    let status = error.status();
    assert!((400..600).contains(&status), "status {status} for {error:?}");
    let mut out = Vec::new();
    Reject::for_error(error).write(&mut out).expect("a rejection always writes");
    let (parsed, _) = Response::parse(&out, &handshake::Config::new())
        .expect("our rejection parses")
        .expect("our rejection is complete");
    assert_eq!(parsed.status(), status);
}

/// The key every `client_response` input is verified against: RFC 6455 §1.3's
/// `dGhlIHNhbXBsZSBub25jZQ==`, whose accept value is `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
pub const CLIENT_NONCE: [u8; 16] = *b"the sample nonce";

/// Subprotocols and extension the fixed client handshake offers.
const OFFERED_PROTOCOLS: [&str; 2] = ["chat", "superchat"];
const OFFERED_EXTENSION: &str = "permessage-deflate";

fn client_handshake(config: handshake::Config) -> (ClientHandshake, Vec<u8>) {
    let key = WebSocketKey::from_bytes(CLIENT_NONCE);
    let mut out = Vec::new();
    let handshake = ClientRequest::new("ws://example.com/chat?room=1", key)
        .expect("a valid URI")
        .with_subprotocol(OFFERED_PROTOCOLS[0])
        .with_subprotocol(OFFERED_PROTOCOLS[1])
        .with_extension("permessage-deflate; client_max_window_bits")
        .with_origin("http://example.com")
        .with_config(config)
        .write(&mut out)
        .expect("a valid request");
    (handshake, out)
}

/// The client's response parsing and verification against a fixed key and offer: the
/// incremental parser with `body` in pieces must agree with [`Response::parse`], and
/// [`ClientHandshake::verify`] may accept only a `101` with the right accept value, an offered
/// subprotocol and offered extensions.
///
/// Knobs: see [`handshake_config`].
pub fn client_response(data: &[u8]) {
    let input = Input::new(data);
    let config = handshake_config(input.knobs);
    let (handshake, request) = client_handshake(config);
    // The request we would have sent passes our own server's checks.
    let roomy = handshake::Config::new().with_max_head_size(1 << 16);
    let (server_view, _) = Request::parse(&request, &roomy).expect("our request is valid").expect("complete");
    assert_eq!(server_view.subprotocols(), OFFERED_PROTOCOLS);
    assert_eq!(server_view.accept_key().as_ref(), Some(handshake.expected_accept()));

    let oneshot = Response::parse(input.body, &config);
    let oneshot_verdict = match &oneshot {
        Ok(Some((response, _))) => Some(handshake.verify(response)),
        _ => None,
    };
    let mut parser = handshake.parser();
    let mut fed = 0usize;
    for piece in input.pieces() {
        match parser.feed(piece) {
            Ok(None) => {
                fed += piece.len();
                assert!(fed < config.max_head_size());
            }
            Ok(Some((response, used))) => {
                assert!(used <= piece.len());
                let head_len = fed + used;
                assert_eq!(response.head_len(), head_len);
                match &oneshot {
                    Ok(Some((expected, expected_len))) => {
                        assert_eq!(&response, expected, "incremental and one-shot responses differ");
                        assert_eq!(head_len, *expected_len);
                    }
                    other => panic!("incremental parse completed, one-shot gave {other:?}"),
                }
                let verdict = handshake.verify(&response);
                assert_eq!(Some(&verdict), oneshot_verdict.as_ref());
                check_verdict(&handshake, &response, &verdict);
                check_linear(parser.work(), head_len);
                return;
            }
            Err(error) => {
                assert_eq!(oneshot.as_ref().err(), Some(&error), "one-shot gave {oneshot:?}");
                assert!(matches!(error.status(), 400..=599));
                return;
            }
        }
    }
    assert!(matches!(oneshot, Ok(None)), "incremental parse is incomplete, one-shot gave {oneshot:?}");
}

fn check_verdict(
    handshake: &ClientHandshake,
    response: &Response<'_>,
    verdict: &Result<handshake::Accepted<'_>, HandshakeError>,
) {
    match verdict {
        Ok(accepted) => {
            assert_eq!(response.status(), 101);
            assert_eq!(response.header("Sec-WebSocket-Accept"), Some(handshake.expected_accept().as_bytes()));
            if let Some(protocol) = accepted.subprotocol() {
                assert!(OFFERED_PROTOCOLS.contains(&protocol), "unoffered subprotocol {protocol:?} accepted");
            }
            for extension in accepted.extensions() {
                assert!(extension.is(OFFERED_EXTENSION), "unoffered extension {extension} accepted");
            }
        }
        Err(HandshakeError::UnexpectedStatus { status, body_offset }) => {
            assert_ne!(*status, 101);
            assert_eq!(*status, response.status());
            assert_eq!(*body_offset, response.head_len());
        }
        Err(error) => {
            assert_eq!(response.status(), 101, "{error:?} for a non-101 response");
            assert!(matches!(error.status(), 400..=599));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// server_connection / client_connection
// ---------------------------------------------------------------------------------------------

/// Message size limits the connection targets choose from (`(knobs >> 3) & 3`).
const MESSAGE_LIMITS: [u64; 4] = [64 << 20, 0, 130, 4096];

/// The connection configuration encoded in `knobs`: bits 0-2 the maximum frame size
/// ([`FRAME_LIMITS`]), bits 3-4 the maximum message size ([`MESSAGE_LIMITS`]), bit 5
/// streaming, bit 6 keepalive/idle/close timers of a few virtual milliseconds, bit 7 outgoing
/// fragments of 3 bytes.
fn connection_config(knobs: u8) -> Config {
    let mut config = Config::default()
        .max_frame_size(FRAME_LIMITS[usize::from(knobs & 7)])
        .max_message_size(MESSAGE_LIMITS[usize::from((knobs >> 3) & 3)])
        .streaming(knobs & 0x20 != 0);
    if knobs & 0x40 != 0 {
        config = config.timeouts(
            rfc6455::connection::TimeoutConfig::default()
                .ping_interval(Duration::from_millis(5))
                .pong_timeout(Duration::from_millis(20))
                .idle_timeout(Duration::from_millis(50), CloseCode::GOING_AWAY)
                .close_timeout(Duration::from_millis(10)),
        );
    }
    if knobs & 0x80 != 0 {
        config = config.fragment_size(Some(3));
    }
    config
}

/// A deterministic, predictable source of masking keys (fine for tests; never for a real
/// client, §10.3).
pub fn fixed_keys() -> MaskKeySource {
    let mut state: u32 = 0x1234_5678;
    Box::new(move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        state.to_be_bytes()
    })
}

/// A server [`Connection`] (the handshake is done) fed `body` in pieces; see
/// [`drive_connection`].
pub fn server_connection(data: &[u8]) {
    drive_connection(Role::Server, data);
}

/// A client [`Connection`] fed `body` in pieces; see [`drive_connection`].
pub fn client_connection(data: &[u8]) {
    drive_connection(Role::Client, data);
}

/// A connection under test, what it wrote, and what the harness knows it must have done.
struct Driven {
    conn: Connection,
    config: Config,
    rng: Rng,
    /// Every byte the connection handed out through `poll_output` + `handle_written`.
    written: Vec<u8>,
    /// The output was discarded unwritten (end of stream, a timer gave up): `written` may end
    /// inside a frame.
    truncated: bool,
    /// The protocol error the connection was failed for, and whether we had sent a Close
    /// before it (then no second Close is queued).
    failed: Option<(ProtocolError, bool)>,
    /// The end of the connection, as its one [`Event::Closed`] reported it.
    ended: Option<CloseInfo>,
    /// The streamed message being received, and its size so far.
    receiving_chunks: Option<(MessageKind, u64)>,
    /// The message being sent with `send_chunk`.
    sending_chunks: Option<MessageKind>,
    /// Virtual time.
    now: Instant,
    /// End of stream came while whole frames were still held (a frame budget stopped the
    /// last drain): the end is reported by a later poll, after their events.
    eof_deferred: bool,
}

impl Driven {
    /// Drains events, checking each one.
    fn drain(&mut self) {
        loop {
            let limit = self.config.max_message_size;
            let streaming = self.config.streaming;
            let state_before = self.conn.state();
            let Some(event) = self.conn.poll_event() else {
                // Once the connection has ended, the end has been reported, and only then.
                assert_eq!(
                    self.ended.is_some(),
                    self.conn.state() == State::Closed,
                    "{:?} with the end {}reported",
                    self.conn.state(),
                    if self.ended.is_some() { "" } else { "not " }
                );
                return;
            };
            let event = event.into_owned();
            if let Some(end) = &self.ended {
                panic!("event {event:?} after the end {end:?}");
            }
            // Nothing is read once the connection has ended (its end not yet reported).
            if !matches!(event, OwnedEvent::Closed(_)) {
                assert_ne!(self.conn.state(), State::Closed, "{event:?} read after the connection ended");
            }
            match &event {
                OwnedEvent::Text(text) => {
                    assert!(!streaming, "a whole message in streaming mode");
                    assert!(text.len() as u64 <= limit, "{}-byte text above the {limit} limit", text.len());
                }
                OwnedEvent::Binary(data) => {
                    assert!(!streaming, "a whole message in streaming mode");
                    assert!(data.len() as u64 <= limit, "{}-byte binary above the {limit} limit", data.len());
                }
                OwnedEvent::Chunk { kind, data, first, last } => {
                    assert!(streaming, "a chunk outside streaming mode");
                    let so_far = match self.receiving_chunks {
                        None => {
                            assert!(*first, "a message began without first");
                            0
                        }
                        Some((current, so_far)) => {
                            assert!(!*first, "first in the middle of a message");
                            assert_eq!(current, *kind, "kind changed within a message");
                            so_far
                        }
                    };
                    let total = so_far + data.len() as u64;
                    assert!(total <= limit, "streamed message of {total} bytes above the {limit} limit");
                    self.receiving_chunks = if *last { None } else { Some((*kind, total)) };
                }
                OwnedEvent::Ping(data) | OwnedEvent::Pong(data) => {
                    assert!(data.len() <= MAX_CONTROL_PAYLOAD);
                }
                OwnedEvent::Closed(info) => {
                    assert_eq!(self.conn.state(), State::Closed, "{info:?} while {:?}", self.conn.state());
                    assert_eq!(self.conn.close_info(), Some(info), "close_info disagrees with the event");
                    assert!(info.reason().len() <= MAX_CONTROL_PAYLOAD - 2);
                    assert_eq!(
                        info.is_clean(),
                        matches!(info.origin(), CloseOrigin::Peer | CloseOrigin::Reply)
                    );
                    let code = info.code();
                    match info.origin() {
                        // Ended by an input other than bytes, before this poll; or end of
                        // stream behind whole frames, after their events.
                        CloseOrigin::Eof if self.eof_deferred => {
                            assert_eq!(code, CloseCode::ABNORMAL, "{info:?}");
                        }
                        CloseOrigin::Eof | CloseOrigin::Timeout(_) => {
                            assert_eq!(state_before, State::Closed, "{info:?}");
                            assert_eq!(code, CloseCode::ABNORMAL, "{info:?}");
                        }
                        // Ended by what this poll read.
                        CloseOrigin::Peer | CloseOrigin::Reply => {
                            let expected = if matches!(info.origin(), CloseOrigin::Peer) {
                                State::Open
                            } else {
                                State::CloseSent
                            };
                            assert_eq!(state_before, expected, "{info:?}");
                            assert!(
                                code == CloseCode::NO_STATUS || code.is_sendable(),
                                "close code {code} reported"
                            );
                        }
                        CloseOrigin::Failed(error) => {
                            assert_ne!(state_before, State::Closed, "{info:?}");
                            assert_eq!(code, error.close_code(), "{info:?}");
                            assert_eq!(info.error(), Some(error));
                            self.failed = Some((error.clone(), state_before == State::CloseSent));
                        }
                        other => panic!("an end this harness does not know: {other:?}"),
                    }
                    if !matches!(info.origin(), CloseOrigin::Failed(_)) {
                        assert_eq!(info.error(), None);
                    }
                    self.ended = Some(info.clone());
                    self.receiving_chunks = None;
                }
                other => panic!("an event this harness does not know: {other:?}"),
            }
        }
    }

    /// Writes out a random part of the pending output.
    fn write_some(&mut self) {
        let pending = self.conn.poll_output();
        let len = pending.len();
        let n = self.rng.below(len + 1);
        self.written.extend_from_slice(&pending[..n]);
        // Reporting more than was handed out is refused and counts nothing.
        let before = self.conn.pending_output_len();
        assert_eq!(
            self.conn.handle_written(len + 1),
            Err(UsageError::WrittenTooMuch { written: len + 1, handed_out: len })
        );
        assert_eq!(self.conn.pending_output_len(), before);
        self.conn.handle_written(n).expect("no more than poll_output handed out");
        assert_eq!(self.conn.pending_output_len(), before - n);
    }

    fn write_all(&mut self) {
        while self.conn.pending_output_len() > 0 {
            let pending = self.conn.poll_output();
            assert!(!pending.is_empty(), "output pending, none handed out");
            self.written.extend_from_slice(pending);
            let n = pending.len();
            self.conn.handle_written(n).expect("what poll_output handed out");
        }
        assert!(self.conn.poll_output().is_empty());
    }

    /// End of stream: the connection ends at once, unless it holds whole frames not yet
    /// decoded (then after their events).
    fn end_of_stream(&mut self) {
        let whole_frames = self.conn.has_whole_frame();
        self.discarding(Connection::handle_eof);
        if whole_frames {
            self.eof_deferred = self.conn.state() != State::Closed;
        } else {
            assert_eq!(self.conn.state(), State::Closed, "end of stream without a whole frame held");
        }
    }

    /// Runs `input`, noting whether it discarded output that was not yet written (which may
    /// leave `written` ending inside a frame). Only end of stream and timers that give up do.
    fn discarding(&mut self, input: impl FnOnce(&mut Connection)) {
        let before = self.conn.pending_output_len();
        input(&mut self.conn);
        if self.conn.pending_output_len() < before {
            self.truncated = true;
        }
    }

    /// One random command or input other than bytes.
    fn command(&mut self) {
        let open = self.conn.state() == State::Open;
        let pending = self.conn.pending_output_len();
        let limit = self.config.max_pending_output;
        let can_send = self.conn.can_send();
        assert_eq!(can_send, open && pending < limit, "can_send with {pending} of {limit} pending");
        let choice = self.rng.below(12);
        let result: Result<(), UsageError> = match choice {
            0 => {
                let text = self.rng.text(40);
                self.conn.send_text(&text)
            }
            1 => {
                let data = self.rng.bytes(40);
                self.conn.send_binary(&data)
            }
            2 => {
                let kind = self.sending_chunks.unwrap_or(if self.rng.below(2) == 0 {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                });
                let data = match kind {
                    MessageKind::Text => self.rng.text(10).into_bytes(),
                    MessageKind::Binary => self.rng.bytes(10),
                };
                let last = self.rng.below(3) == 0;
                let result = self.conn.send_chunk(kind, &data, last);
                if result.is_ok() {
                    self.sending_chunks = if last { None } else { Some(kind) };
                }
                result
            }
            3 => {
                let payload = self.rng.bytes(130);
                let result = self.conn.ping(&payload);
                if payload.len() > MAX_CONTROL_PAYLOAD && can_send {
                    assert_eq!(result, Err(UsageError::ControlPayloadTooLong(payload.len())));
                }
                result
            }
            4 => {
                let payload = self.rng.bytes(20);
                self.conn.pong(&payload)
            }
            5 => {
                let code = [1000, 1001, 1003, 1005, 1006, 1011, 3000, 4999, 999][self.rng.below(9)];
                let reason = self.rng.text(10);
                let result = self.conn.close(CloseCode(code), &reason);
                if open {
                    // A Close is never refused for backpressure, only for its code.
                    let expected = if CloseCode(code).is_sendable() {
                        Ok(())
                    } else {
                        Err(UsageError::InvalidCloseCode(code))
                    };
                    assert_eq!(result, expected, "close({code}) while open");
                }
                if result.is_ok() {
                    assert_eq!(self.conn.state(), State::CloseSent);
                }
                result
            }
            6 | 7 => {
                self.write_some();
                Ok(())
            }
            8 => {
                self.now += Duration::from_millis(self.rng.below(30) as u64);
                let now = self.now;
                // A timer that gives up discards the unwritten output.
                self.discarding(|conn| conn.handle_timeout(now));
                Ok(())
            }
            9 if self.rng.below(16) == 0 => {
                self.end_of_stream();
                Ok(())
            }
            _ => Ok(()),
        };
        if !open && matches!(choice, 0..=5) {
            // Closing, closed or failed: nothing more may be sent (§5.5.1).
            assert_eq!(result, Err(UsageError::Closed), "command {choice} while {:?}", self.conn.state());
        } else if !can_send && matches!(choice, 0..=4) {
            // Backpressure: refused, and nothing queued.
            assert_eq!(result, Err(UsageError::OutputFull { pending, limit }), "command {choice}");
            assert_eq!(self.conn.pending_output_len(), pending);
        }
    }
}

/// A connection of `role` fed `body` in pieces, alternating `handle_bytes` and
/// `read_buf`/`handle_read`, with commands (sends, pings, closes, partial writes, virtual time,
/// end of stream) between pieces.
///
/// Invariants: events respect the limits and the message structure; the end of the connection
/// is reported exactly once, as `Event::Closed`, the last event, with the code its origin
/// calls for, and `close_info` keeps it; after the end nothing but `None`, the state is
/// `Closed`, commands are refused and input is not read; a failure has the error's close code
/// and, unless we had sent a Close before it, the output ends with a Close frame carrying that
/// code; the bytes held (`buffered_input_len`) never exceed the frame limit plus a header plus
/// the last piece; everything the connection wrote is a valid frame stream, with nothing after
/// its one Close frame, that a peer decodes without a protocol error.
///
/// Knobs: see [`connection_config`].
fn drive_connection(role: Role, data: &[u8]) {
    let input = Input::new(data);
    let config = connection_config(input.knobs);
    let mut driven = Driven {
        conn: Connection::builder(role).config(config.clone()).mask_keys(fixed_keys()).build(),
        config,
        rng: input.rng(),
        written: Vec::new(),
        truncated: false,
        failed: None,
        ended: None,
        receiving_chunks: None,
        sending_chunks: None,
        now: Instant::ZERO,
        eof_deferred: false,
    };
    let frame_limit = driven.config.frame_limit();
    let mut held_when_ended: Option<u64> = None;
    for piece in input.pieces() {
        if driven.rng.below(2) == 0 {
            driven.conn.handle_bytes(piece);
        } else {
            let buf = driven.conn.read_buf(piece.len());
            assert!(buf.len() >= piece.len(), "read_buf gave {} bytes for {}", buf.len(), piece.len());
            buf[..piece.len()].copy_from_slice(piece);
            driven.conn.handle_read(piece.len());
        }
        driven.drain();
        // Drained, a live connection holds at most one frame (in place) and a header, plus
        // what it was just given; an ended one keeps what it held and takes nothing more.
        let held = driven.conn.buffered_input_len() as u64;
        if let Some(before) = held_when_ended {
            assert!(held <= before, "an ended connection grew from {before} to {held} bytes");
        } else {
            let bound = frame_limit.saturating_add((MAX_HEADER_LEN + piece.len()) as u64);
            assert!(held <= bound, "holding {held} bytes, bound {bound}");
            if driven.ended.is_some() {
                held_when_ended = Some(held);
            }
        }
        for _ in 0..driven.rng.below(3) {
            driven.command();
            driven.drain();
        }
    }
    if driven.rng.below(4) == 0 {
        driven.end_of_stream();
        driven.drain();
    }
    driven.write_all();
    check_output(role, &driven);

    // The end comes exactly once, whoever ends the connection: end of stream now, if nothing
    // ended it before (nothing is pending, so nothing is discarded).
    driven.end_of_stream();
    driven.drain();
    // A frame budget may stop a drain with frames left: poll again until the end comes.
    while driven.ended.is_none() && driven.conn.frame_budget_spent() {
        driven.drain();
    }
    let end = driven.ended.as_ref().expect("end of stream ends the connection");
    assert_eq!(driven.conn.close_info(), Some(end));
    assert_eq!(driven.conn.poll_event(), None);
    assert_eq!(driven.conn.poll_timeout(), None, "timers armed after the end");
    assert!(driven.conn.should_drop_transport(), "ended, written out and at end of stream");
}

/// Everything `driven` wrote must decode, at the peer, without a protocol error, with nothing
/// after its one Close frame; after a failure the last frame is a Close with the failure's
/// code, and after the peer's Close the last frame is its echo.
fn check_output(role: Role, driven: &Driven) {
    let peer_role = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    // Frame by frame: the stream is a valid sequence of frames from `role`.
    let mut decoder = FrameDecoder::new(peer_role);
    decoder.set_max_frame_size(u64::MAX >> 1);
    let mut stream = driven.written.clone();
    let mut at = 0;
    let mut last: Option<(FrameHeader, Vec<u8>)> = None;
    let mut closes = 0;
    while at < stream.len() {
        let step = decoder.decode(&mut stream[at..]).expect("our own output must decode");
        match step.item {
            Decoded::Header(header) => {
                assert_eq!(closes, 0, "{header:?} after our Close frame");
                if header.opcode == OpCode::Close {
                    closes += 1;
                }
                last = Some((header, Vec::new()));
            }
            Decoded::Payload { range, .. } => {
                let (_, payload) = last.as_mut().expect("payload after a header");
                payload.extend_from_slice(&stream[at + range.start..at + range.end]);
            }
            Decoded::NeedMore => {}
        }
        at += step.consumed;
    }
    assert!(driven.truncated || decoder.is_at_frame_boundary(), "our output ends inside a frame");
    if !driven.truncated {
        let last_close = || {
            let (header, payload) = last.as_ref().expect("a Close was written");
            assert_eq!(header.opcode, OpCode::Close, "the last frame is {header:?}");
            CloseFrame::parse(payload).expect("our Close parses")
        };
        if let Some((error, false)) = &driven.failed {
            assert_eq!(last_close().code, Some(error.close_code()), "wrong code for {error:?}");
        }
        if let Some(end) = driven.ended.as_ref().filter(|end| end.origin() == &CloseOrigin::Peer) {
            // §5.5.1: the echo carries the peer's code, or nothing when it sent none.
            let echoed = last_close().code.unwrap_or(CloseCode::NO_STATUS);
            assert_eq!(echoed, end.code(), "the echo of {end:?}");
        }
    }
    // Message by message: a peer connection accepts all of it.
    let config = Config::default().max_frame_size(u64::MAX >> 1).max_message_size(u64::MAX >> 1);
    let mut peer = Connection::builder(peer_role).config(config).mask_keys(fixed_keys()).build();
    peer.handle_bytes(&driven.written);
    while let Some(event) = peer.poll_event() {
        if let Event::Closed(info) = event {
            assert_eq!(info.error(), None, "the peer rejects our output: {info:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// roundtrip
// ---------------------------------------------------------------------------------------------

/// One thing the roundtrip script sends.
#[derive(Debug, Clone)]
enum Send {
    Text(String),
    Binary(Vec<u8>),
    /// A streamed message, as the pieces passed to `send_chunk`.
    Streamed(MessageKind, Vec<Vec<u8>>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

/// Parses the roundtrip script: per item a kind byte, a length byte (times 64 when the kind
/// byte's top bit is set) and that many payload bytes (cycled when the body runs short).
fn script(body: &[u8], rng: &mut Rng) -> (Vec<Send>, u16, String) {
    let mut sends = Vec::new();
    let mut rest = body;
    while let [kind, len, tail @ ..] = rest {
        let scale = if kind & 0x80 != 0 { 64 } else { 1 };
        let len = usize::from(*len) * scale;
        let take = len.min(tail.len());
        let source = &tail[..take];
        let payload: Vec<u8> = if source.is_empty() {
            vec![0x61; len]
        } else {
            source.iter().copied().cycle().take(len).collect()
        };
        rest = &tail[take..];
        let control = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
        sends.push(match kind % 6 {
            0 => Send::Text(String::from_utf8_lossy(&payload).into_owned()),
            1 => Send::Binary(payload),
            2 | 3 => {
                let (kind, bytes) = if kind % 6 == 2 {
                    (MessageKind::Text, String::from_utf8_lossy(&payload).into_owned().into_bytes())
                } else {
                    (MessageKind::Binary, payload)
                };
                // Cut anywhere, even inside a character: `send_chunk` validates across pieces.
                let mut pieces = Vec::new();
                let mut left = &bytes[..];
                loop {
                    let n = rng.below(left.len() + 1);
                    pieces.push(left[..n].to_vec());
                    left = &left[n..];
                    if left.is_empty() {
                        break;
                    }
                }
                Send::Streamed(kind, pieces)
            }
            4 => Send::Ping(control.to_vec()),
            _ => Send::Pong(control.to_vec()),
        });
    }
    let code = [1000, 1001, 1003, 1011, 3000, 4999][rng.below(6)];
    let reason = rng.text(30);
    (sends, code, reason)
}

/// Messages derived from `body` sent by a client `Connection` and received by a server
/// `Connection` must come out equal, in order, with the automatic Pongs coming back; then the
/// same from the server to the client; then a clean close handshake.
///
/// Knobs: bits 0-2 the sender's fragment size (none, 1, 2, 3, 125, 126, 1000, 65536), bit 3
/// the receiver streams, bit 4 delivery through `read_buf`/`handle_read` instead of
/// `handle_bytes`, bit 5 permessage-deflate on both sides (with the `deflate` feature), bits
/// 6-7 its parameters ([`deflate_params`]).
pub fn roundtrip(data: &[u8]) {
    let input = Input::new(data);
    let mut rng = input.rng();
    let (sends, code, reason) = script(input.body, &mut rng);
    let fragment = [None, Some(1), Some(2), Some(3), Some(125), Some(126), Some(1000), Some(65_536)]
        [usize::from(input.knobs & 7)];
    let streaming = input.knobs & 0x08 != 0;
    let use_read_buf = input.knobs & 0x10 != 0;
    let sender_config = Config::default().fragment_size(fragment);
    let receiver_config = Config::default().streaming(streaming);
    for sender_role in [Role::Client, Role::Server] {
        let receiver_role = if sender_role == Role::Client { Role::Server } else { Role::Client };
        let mut sender =
            Connection::builder(sender_role).config(sender_config.clone()).mask_keys(fixed_keys());
        let mut receiver =
            Connection::builder(receiver_role).config(receiver_config.clone()).mask_keys(fixed_keys());
        #[cfg(feature = "deflate")]
        if input.knobs & 0x20 != 0 {
            // Compress everything, however small, so that short scripts exercise the codec.
            let params = deflate_params(input.knobs >> 6);
            let config = DeflateConfig::default().min_size(0);
            sender = sender.extension(Box::new(PerMessageDeflate::new(sender_role, params, &config)));
            receiver = receiver.extension(Box::new(PerMessageDeflate::new(receiver_role, params, &config)));
        }
        let (mut sender, mut receiver) = (sender.build(), receiver.build());
        let mut expected = Vec::new();
        let mut received = Vec::new();
        let mut pongs_back = Vec::new();
        for send in &sends {
            // A script may queue more than the output bound: then what is pending goes first.
            make_room(&mut sender, &mut receiver, &mut rng, use_read_buf, &mut received);
            match send {
                // Borrowed sends, and owned ones (held where they lie, masked in place, or
                // copied: `send_owned` decides by role, size, extension and fragmenting).
                Send::Text(text) => {
                    match rng.below(5) {
                        0 => sender.send_text(text).expect("send_text"),
                        1 => sender.send_owned(MessageKind::Text, text.clone()).expect("send_owned String"),
                        2 => sender
                            .send_owned(MessageKind::Text, text.clone().into_bytes())
                            .expect("send_owned text"),
                        3 => {
                            let taken =
                                send_vectored(&mut sender, MessageKind::Text, text.as_bytes(), &mut rng);
                            received.extend(deliver(&mut receiver, &taken, &mut rng, use_read_buf));
                        }
                        // Into a buffer of our own, after everything queued before it.
                        _ => {
                            let mut out = Vec::new();
                            sender
                                .send_into(MessageKind::Text, text.as_bytes(), &mut out)
                                .expect("send_into text");
                            assert_eq!(sender.pending_output_len(), 0, "send_into left output queued");
                            received.extend(deliver(&mut receiver, &out, &mut rng, use_read_buf));
                        }
                    }
                    expected.push(OwnedEvent::Text(text.clone()));
                }
                Send::Binary(data) => {
                    match rng.below(5) {
                        0 => sender.send_binary(data).expect("send_binary"),
                        1 => sender.send_owned(MessageKind::Binary, data.clone()).expect("send_owned Vec"),
                        2 => sender
                            .send_owned(MessageKind::Binary, std::sync::Arc::<[u8]>::from(&data[..]))
                            .expect("send_owned Arc"),
                        3 => {
                            let taken = send_vectored(&mut sender, MessageKind::Binary, data, &mut rng);
                            received.extend(deliver(&mut receiver, &taken, &mut rng, use_read_buf));
                        }
                        _ => {
                            let mut out = Vec::new();
                            sender.send_into(MessageKind::Binary, data, &mut out).expect("send_into binary");
                            assert_eq!(sender.pending_output_len(), 0, "send_into left output queued");
                            received.extend(deliver(&mut receiver, &out, &mut rng, use_read_buf));
                        }
                    }
                    expected.push(OwnedEvent::Binary(data.clone()));
                }
                Send::Streamed(kind, pieces) => {
                    for (i, piece) in pieces.iter().enumerate() {
                        make_room(&mut sender, &mut receiver, &mut rng, use_read_buf, &mut received);
                        sender.send_chunk(*kind, piece, i + 1 == pieces.len()).expect("send_chunk");
                    }
                    let whole = pieces.concat();
                    expected.push(match kind {
                        MessageKind::Text => {
                            OwnedEvent::Text(String::from_utf8(whole).expect("lossy text is UTF-8"))
                        }
                        MessageKind::Binary => OwnedEvent::Binary(whole),
                    });
                }
                Send::Ping(payload) => {
                    sender.ping(payload).expect("ping");
                    expected.push(OwnedEvent::Ping(payload.clone()));
                    pongs_back.push(OwnedEvent::Pong(payload.clone()));
                }
                Send::Pong(payload) => {
                    sender.pong(payload).expect("pong");
                    expected.push(OwnedEvent::Pong(payload.clone()));
                }
            }
        }
        sender.close(CloseCode(code), &reason).expect("close");
        assert_eq!(sender.state(), State::CloseSent);

        received.extend(transfer(&mut sender, &mut receiver, &mut rng, use_read_buf));
        // The messages, then the end: the sender's Close.
        let end = received.pop();
        assert_eq!(merge_chunks(received), expected, "{sender_role:?} -> {receiver_role:?}");
        assert_closed(end, CloseCode(code), &reason, &CloseOrigin::Peer);
        assert_eq!(receiver.state(), State::Closed);
        // The receiver answered every Ping (its output, Pongs only, stays far below the bound
        // at which unsent Pongs are coalesced) and echoed the Close.
        let mut back = transfer(&mut receiver, &mut sender, &mut rng, use_read_buf);
        let close = back.pop();
        assert_eq!(back, pongs_back);
        assert_closed(close, CloseCode(code), "", &CloseOrigin::Reply);
        assert_eq!(sender.state(), State::Closed);
        // §7.1.1: the server drops the TCP connection first; the client waits for it.
        let (server, client) = if sender_role == Role::Server {
            (&mut sender, &mut receiver)
        } else {
            (&mut receiver, &mut sender)
        };
        assert!(server.should_drop_transport());
        assert!(!client.should_drop_transport());
        client.handle_eof();
        assert!(client.should_drop_transport());
        assert_eq!(client.poll_event(), None, "no second Close after a clean close");
    }
}

/// Asserts that `event` is the end of a connection, with `code`, `reason` and `origin`.
fn assert_closed(event: Option<OwnedEvent>, code: CloseCode, reason: &str, origin: &CloseOrigin) {
    match event {
        Some(OwnedEvent::Closed(info)) => {
            assert_eq!((info.code(), info.reason(), info.origin()), (code, reason, origin));
            assert!(info.is_clean());
        }
        other => panic!("expected the end ({origin:?}), got {other:?}"),
    }
}

/// Backpressure: once `sender` holds [`Config::max_pending_output`] bytes it refuses to send,
/// queueing nothing; then everything it holds is moved to `receiver` (whose events go to
/// `received`) before the script goes on.
fn make_room(
    sender: &mut Connection,
    receiver: &mut Connection,
    rng: &mut Rng,
    use_read_buf: bool,
    received: &mut Vec<OwnedEvent>,
) {
    if sender.can_send() {
        return;
    }
    let pending = sender.pending_output_len();
    let limit = sender.config().max_pending_output;
    assert!(pending >= limit, "{pending} of {limit} bytes pending, and sending refused");
    assert_eq!(sender.ping(b""), Err(UsageError::OutputFull { pending, limit }));
    assert_eq!(sender.pending_output_len(), pending, "a refused send queued something");
    received.extend(transfer(sender, receiver, rng, use_read_buf));
    assert!(sender.can_send());
}

/// Moves everything `from` has pending into `to` in random pieces, returning `to`'s events.
fn transfer(
    from: &mut Connection,
    to: &mut Connection,
    rng: &mut Rng,
    use_read_buf: bool,
) -> Vec<OwnedEvent> {
    // Written out in random partial writes: of one piece (`poll_output`) or across all of
    // them (a vectored write of `output_pieces`); or moved whole (`append_output`).
    let mut bytes = Vec::new();
    if rng.below(4) == 0 {
        let pending = from.pending_output_len();
        assert_eq!(from.append_output(&mut bytes), pending);
    }
    while from.pending_output_len() > 0 {
        let pending = from.pending_output_len();
        assert_eq!(from.output_pieces().map(<[u8]>::len).sum::<usize>(), pending);
        let limit = 1 + rng.below(pending);
        let before = bytes.len();
        if rng.below(2) == 0 {
            let out = from.poll_output();
            bytes.extend_from_slice(&out[..out.len().min(limit)]);
        } else {
            for piece in from.output_pieces() {
                let room = limit - (bytes.len() - before);
                bytes.extend_from_slice(&piece[..piece.len().min(room)]);
                if bytes.len() - before == limit {
                    break;
                }
            }
        }
        from.handle_written(bytes.len() - before).expect("no more than was handed out");
        assert_eq!(from.pending_output_len(), pending - (bytes.len() - before));
    }
    assert!(from.poll_output().is_empty());
    deliver(to, &bytes, rng, use_read_buf)
}

/// Feeds `bytes` to `to` in random pieces, returning its events.
/// Sends with `send_vectored`, a vectored write taking some of its pieces (all, none, or a
/// random prefix; sometimes the send is dropped unreported), and returns the bytes taken: they
/// go on the wire before whatever the connection still holds.
fn send_vectored(conn: &mut Connection, kind: MessageKind, data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut send = conn.send_vectored(kind, data).expect("send_vectored");
    let pieces: Vec<u8> = send.pieces().flatten().copied().collect();
    assert_eq!(pieces.len(), send.len(), "send_vectored's len is its pieces'");
    let n = match rng.below(4) {
        0 => pieces.len(),
        1 => 0,
        2 => rng.below(pieces.len() + 1),
        _ => {
            // Dropped unreported: the whole message stays in the connection's output.
            drop(send);
            return Vec::new();
        }
    };
    send.written(n).expect("send_vectored written");
    pieces[..n].to_vec()
}

fn deliver(to: &mut Connection, bytes: &[u8], rng: &mut Rng, use_read_buf: bool) -> Vec<OwnedEvent> {
    let mut events = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = 1 + rng.below(rest.len().min(200));
        let (piece, tail) = rest.split_at(n);
        rest = tail;
        if use_read_buf {
            let buf = to.read_buf(n);
            buf[..n].copy_from_slice(piece);
            to.handle_read(n);
        } else {
            to.handle_bytes(piece);
        }
        while let Some(event) = to.poll_event() {
            assert!(!matches!(events.last(), Some(OwnedEvent::Closed(_))), "{event:?} after the end");
            if let Event::Closed(info) = event {
                assert_eq!(info.error(), None, "valid traffic rejected: {info:?}");
            }
            events.push(event.into_owned());
        }
    }
    events
}

/// Joins streamed chunks into whole messages so streaming and whole delivery compare equal.
fn merge_chunks(events: Vec<OwnedEvent>) -> Vec<OwnedEvent> {
    let mut merged = Vec::new();
    let mut partial: Option<(MessageKind, Vec<u8>)> = None;
    for event in events {
        match event {
            OwnedEvent::Chunk { kind, data, first, last } => {
                assert_eq!(first, partial.is_none(), "first flag wrong");
                let (_, bytes) = partial.get_or_insert((kind, Vec::new()));
                bytes.extend_from_slice(&data);
                if last {
                    let (kind, bytes) = partial.take().expect("just inserted");
                    merged.push(match kind {
                        MessageKind::Text => {
                            OwnedEvent::Text(String::from_utf8(bytes).expect("streamed text is UTF-8"))
                        }
                        MessageKind::Binary => OwnedEvent::Binary(bytes),
                    });
                }
            }
            other => merged.push(other),
        }
    }
    assert!(partial.is_none(), "a streamed message never ended");
    merged
}

// ---------------------------------------------------------------------------------------------
// inflate (permessage-deflate, RFC 7692)
// ---------------------------------------------------------------------------------------------

/// Agreed permessage-deflate parameters the deflate targets choose from (`knobs & 3` for
/// `inflate`, `knobs >> 6` for `roundtrip`).
#[cfg(feature = "deflate")]
fn deflate_params(choice: u8) -> DeflateParams {
    match choice & 3 {
        0 => DeflateParams::default(),
        1 => DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            ..Default::default()
        },
        2 => DeflateParams { server_max_window_bits: 9, client_max_window_bits: 10, ..Default::default() },
        _ => DeflateParams {
            server_no_context_takeover: true,
            client_max_window_bits: 12,
            ..Default::default()
        },
    }
}

/// Inflated-size limits `inflate` chooses from (`(knobs >> 2) & 3`).
#[cfg(feature = "deflate")]
const INFLATE_LIMITS: [usize; 4] = [1 << 20, 0, 100, 4096];

/// The RFC 7692 trailer a sender strips and a receiver puts back (§7.2.1, §7.2.2).
#[cfg(feature = "deflate")]
const DEFLATE_TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// `body` as the compressed payload of one message received by a client, inflated by
/// [`PerMessageDeflate`] through the [`Extension`](rfc6455::extension::Extension) hook, whole
/// and in pieces, and then through a client [`Connection`] as a (fragmented) RSV1 message.
///
/// Invariants: the output never exceeds the limit, in length or in capacity (the buffer is
/// not grown past it); the only errors are `MessageTooLarge` (1009) and `Extension` (1007);
/// chunking does not change the result; with default parameters the output equals a plain
/// flate2 inflate of `body` + `00 00 ff ff` (or the message is refused as too large, or as
/// corrupt, when that one is); the connection delivers the same bytes or fails with the same
/// error (or with 1007 for invalid UTF-8 in a text message); a second message with the same
/// payload (context takeover) keeps to the limit too.
///
/// Knobs: bits 0-1 the parameters ([`deflate_params`]), bits 2-3 the limit
/// ([`INFLATE_LIMITS`]), bit 4 text instead of binary.
#[cfg(feature = "deflate")]
pub fn inflate(data: &[u8]) {
    use rfc6455::extension::Extension as _;

    let input = Input::new(data);
    let params = deflate_params(input.knobs);
    let limit = INFLATE_LIMITS[usize::from((input.knobs >> 2) & 3)];
    let text = input.knobs & 0x10 != 0;
    let pieces = input.pieces();

    let run = |pieces: &[&[u8]], messages: usize| -> Vec<Result<Vec<u8>, ProtocolError>> {
        let mut codec = PerMessageDeflate::new(Role::Client, params, &DeflateConfig::default());
        let mut results = Vec::new();
        for _ in 0..messages {
            let mut out = Vec::new();
            let result = (|| {
                assert_eq!(codec.decode_begin(0b100), Ok(true));
                for piece in pieces {
                    codec.decode_chunk(piece, &mut out, limit)?;
                    assert!(
                        out.capacity() <= limit,
                        "{} / {} bytes, limit {limit}",
                        out.len(),
                        out.capacity()
                    );
                }
                codec.decode_end(&mut out, limit)
            })();
            assert!(out.len() <= limit, "{} bytes inflated, limit {limit}", out.len());
            assert!(out.capacity() <= limit, "output buffer of {} bytes, limit {limit}", out.capacity());
            if let Err(error) = &result {
                assert!(
                    matches!(error, ProtocolError::MessageTooLarge { limit: l } if *l == limit as u64)
                        || matches!(error, ProtocolError::Extension(_)),
                    "unexpected inflate error {error:?}"
                );
            }
            let failed = result.is_err();
            results.push(result.map(|()| out));
            if failed {
                break;
            }
        }
        results
    };
    let whole = run(&[input.body], 1);
    let chunked = run(&pieces, 2);
    match (&whole[0], &chunked[0]) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "chunking changed the inflated message"),
        // A stream both corrupt and too large may be refused for either, depending on how far
        // the inflater read before its output filled up.
        (Err(_), Err(_)) => {}
        (a, b) => panic!("chunking changed the verdict: whole {a:?}, in pieces {b:?}"),
    }

    if input.knobs & 3 == 0 {
        if let Some(reference) = reference_inflate(input.body, limit) {
            match (&reference, &whole[0]) {
                (Ok(expected), Ok(out)) => assert_eq!(expected, out, "inflate differs from flate2"),
                // Past the limit: refused, as too large or as corrupt further on.
                (Ok(expected), Err(_)) if expected.len() > limit => {}
                (Ok(expected), Err(error)) => {
                    panic!("flate2 inflates {} bytes, we fail with {error:?}", expected.len())
                }
                (Err(()), result) => assert!(result.is_err(), "flate2 finds the stream corrupt, we do not"),
            }
        }
    }

    // The same payload as a message received by a client connection, fragmented at random.
    // The frame limit is set apart from the message limit (by default it follows it): the
    // codec above has none, and what is compared here is the inflating.
    let config = Config::default().max_message_size(limit as u64).max_frame_size(16 << 20);
    let mut conn = Connection::builder(Role::Client)
        .config(config)
        .mask_keys(fixed_keys())
        .extension(Box::new(PerMessageDeflate::new(Role::Client, params, &DeflateConfig::default())))
        .build();
    let mut wire = Vec::new();
    let mut rng = input.rng();
    let mut rest = input.body;
    let mut first = true;
    loop {
        let n = if rest.is_empty() { 0 } else { 1 + rng.below(rest.len()) };
        let (payload, tail) = rest.split_at(n);
        rest = tail;
        let opcode = match (first, text) {
            (false, _) => OpCode::Continuation,
            (true, true) => OpCode::Text,
            (true, false) => OpCode::Binary,
        };
        let rsv = if first { 0b100 } else { 0 };
        rfc6455::frame::encode_frame_to_vec(rest.is_empty(), rsv, opcode, payload, None, &mut wire)
            .expect("a valid frame");
        first = false;
        if rest.is_empty() {
            break;
        }
    }
    conn.handle_bytes(&wire);
    let outcome = match conn.poll_event() {
        Some(Event::Text(t)) => Ok(t.as_bytes().to_vec()),
        Some(Event::Binary(b)) => Ok(b.to_vec()),
        Some(Event::Closed(info)) => {
            let error = info.error().unwrap_or_else(|| panic!("ended, not failed: {info:?}")).clone();
            assert_eq!(info.code(), error.close_code());
            Err(error)
        }
        other => panic!("a whole message expected, got {other:?}"),
    };
    if outcome.is_ok() {
        assert_eq!(conn.poll_event(), None, "an event after the one message");
    } else {
        assert_eq!(conn.poll_event(), None, "an event after the end");
    }
    match (&whole[0], &outcome) {
        (Ok(expected), Ok(got)) => assert_eq!(expected, got),
        (Ok(expected), Err(ProtocolError::InvalidUtf8(error))) => {
            assert!(text, "a binary message failed as text");
            // Where: the same as `core` finds in the whole inflated message.
            let whole_text = std::str::from_utf8(expected).map(drop).map_err(rfc6455::utf8::Utf8Error::from);
            assert_eq!(whole_text, Err(*error));
        }
        // Either fault of a stream with two may be found first (see above).
        (Err(_), Err(error)) => assert!(
            matches!(error, ProtocolError::MessageTooLarge { .. } | ProtocolError::Extension(_))
                || text && matches!(error, ProtocolError::InvalidUtf8(_)),
            "connection failed with {error:?}"
        ),
        (expected, got) => panic!("codec gave {expected:?}, connection {got:?}"),
    }
}

/// A plain flate2 inflate of one RFC 7692 message (`body` + the trailer), stopping once past
/// `limit` bytes: `Ok(output)`, `Err(())` for a corrupt stream, or `None` when the stream
/// ends a DEFLATE stream early (RFC 7692 lets more blocks follow, which flate2 alone does not
/// model), so there is nothing to compare with.
#[cfg(feature = "deflate")]
fn reference_inflate(body: &[u8], limit: usize) -> Option<Result<Vec<u8>, ()>> {
    use flate2::{Decompress, FlushDecompress, Status};
    let input = [body, &DEFLATE_TRAILER].concat();
    let mut inflater = Decompress::new(false);
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        out.reserve(4096);
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let status = match inflater.decompress_vec(&input[at..], &mut out, FlushDecompress::None) {
            Ok(status) => status,
            Err(_) => return Some(Err(())),
        };
        at += (inflater.total_in() - in_before) as usize;
        let progress = inflater.total_in() != in_before || inflater.total_out() != out_before;
        if status == Status::StreamEnd {
            return None;
        }
        if out.len() > limit {
            return Some(Ok(out));
        }
        if at == input.len() && out.len() < out.capacity() {
            return Some(Ok(out));
        }
        if !progress {
            return None;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Input decoding and a small PRNG
// ---------------------------------------------------------------------------------------------

/// A fuzz input split into its header bytes and body.
pub struct Input<'a> {
    pub chunk_seed: u8,
    pub knobs: u8,
    pub body: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        match data {
            [chunk_seed, knobs, body @ ..] => Self { chunk_seed: *chunk_seed, knobs: *knobs, body },
            _ => Self { chunk_seed: 0, knobs: 0, body: &[] },
        }
    }

    /// A PRNG seeded by the two header bytes.
    pub fn rng(&self) -> Rng {
        Rng::new(u64::from(self.chunk_seed) << 8 | u64::from(self.knobs))
    }

    /// `body` cut as `chunk_seed` says.
    pub fn pieces(&self) -> Vec<&'a [u8]> {
        if self.chunk_seed == 0 {
            return if self.body.is_empty() { Vec::new() } else { vec![self.body] };
        }
        let mut rng = self.rng();
        let max = usize::from(self.chunk_seed);
        let mut pieces = Vec::new();
        let mut rest = self.body;
        while !rest.is_empty() {
            let n = (1 + rng.below(max)).min(rest.len());
            let (piece, tail) = rest.split_at(n);
            pieces.push(piece);
            rest = tail;
        }
        pieces
    }
}

/// SplitMix64: tiny, deterministic, good enough to derive choices from a fuzz input.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }

    /// Up to `max` random bytes.
    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Up to `max` characters drawn from ASCII and multi-byte ones.
    pub fn text(&mut self, max: usize) -> String {
        const ALPHABET: [char; 8] = ['a', 'Z', ' ', '0', 'é', '€', '😀', '\u{10FFFF}'];
        let len = self.below(max + 1);
        (0..len).map(|_| ALPHABET[self.below(ALPHABET.len())]).collect()
    }
}
