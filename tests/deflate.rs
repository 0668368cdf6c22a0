//! permessage-deflate (RFC 7692) end to end: negotiation through the real handshake types, the
//! RFC's byte vectors through `Connection`, and client <-> server round trips over every window
//! size, with and without context takeover, fragmented and byte by byte.

#![cfg(feature = "deflate")]

mod common;
use common::noise;
use rfc6455::close::CloseCode;
use rfc6455::connection::{CloseOrigin, Config, Connection, Event, MaskKeySource, MessageKind};
use rfc6455::deflate::{
    DeflateConfig, DeflateParams, NegotiationError, PerMessageDeflate, accept_client, client_offer,
    negotiate_server,
};
use rfc6455::error::ExtensionError;
use rfc6455::frame::{OpCode, encode_frame_to_vec};
use rfc6455::handshake::{
    Accept, ClientRequest, Config as HandshakeConfig, ExtendedConnect, Extension, HandshakeError, Header,
    Request, Response, WebSocketKey,
};
use rfc6455::{OwnedEvent, ProtocolError, Role};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Polls every event, joining streamed chunks into whole messages and leaving Pongs out. The
/// end of the connection ([`OwnedEvent::Closed`]) is the last event.
fn drain(conn: &mut Connection, partial: &mut Vec<u8>) -> Vec<OwnedEvent> {
    let mut got = Vec::new();
    while let Some(event) = conn.poll_event() {
        assert!(!matches!(got.last(), Some(OwnedEvent::Closed(_))), "{event:?} after the end");
        match event {
            Event::Chunk { kind, data, first, last } => {
                if first {
                    partial.clear();
                }
                partial.extend_from_slice(data);
                if last {
                    let whole = std::mem::take(partial);
                    got.push(match kind {
                        MessageKind::Text => OwnedEvent::Text(String::from_utf8(whole).unwrap()),
                        MessageKind::Binary => OwnedEvent::Binary(whole),
                    });
                }
            }
            Event::Pong(_) => {}
            other => got.push(other.into_owned()),
        }
    }
    got
}

/// Asserts that `events` are `before`, then the end of a connection we failed for `error`
/// with close code `code`.
fn assert_failed(events: &[OwnedEvent], before: &[OwnedEvent], error: &ProtocolError, code: CloseCode) {
    assert_eq!(error.close_code(), code, "{error:?}");
    let Some((OwnedEvent::Closed(info), rest)) = events.split_last() else {
        panic!("expected a failure with {error:?}, got {events:?}");
    };
    assert_eq!(rest, before);
    assert_eq!(info.origin(), &CloseOrigin::Failed(error.clone()));
    assert_eq!(info.error(), Some(error));
    assert_eq!(info.code(), code);
}

/// Takes everything `from` has to send.
fn take_output(from: &mut Connection) -> Vec<u8> {
    let mut wire = Vec::new();
    from.write_to(&mut wire).unwrap();
    wire
}

/// Moves `from`'s output to `to` in pieces of `piece` bytes, polling after each.
fn transfer(from: &mut Connection, to: &mut Connection, piece: usize) -> Vec<OwnedEvent> {
    let wire = take_output(from);
    let mut got = Vec::new();
    let mut partial = Vec::new();
    for chunk in wire.chunks(piece.max(1)) {
        to.handle_bytes(chunk);
        got.extend(drain(to, &mut partial));
    }
    got
}

fn zero_keys() -> MaskKeySource {
    Box::new(|| [0; 4])
}

fn lcg_keys(seed: u32) -> MaskKeySource {
    let mut n = seed;
    Box::new(move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_le_bytes()
    })
}

/// Runs the whole HTTP/1.1 handshake with both configs and returns what each side agreed.
fn handshake(
    client: &DeflateConfig,
    server: &DeflateConfig,
) -> (Option<DeflateParams>, Result<Option<DeflateParams>, NegotiationError>) {
    let offer = client_offer(client);
    let mut request_bytes = Vec::new();
    let shake = ClientRequest::new("ws://example.com/", WebSocketKey::from_bytes(*b"the sample nonce"))
        .unwrap()
        .with_extension(&offer)
        .write(&mut request_bytes)
        .unwrap();
    let (request, _) = Request::parse(&request_bytes, &HandshakeConfig::default()).unwrap().unwrap();
    let agreed = negotiate_server(request.extensions(), server);
    let answer = agreed.map(|p| p.to_string());
    let mut response_bytes = Vec::new();
    request
        .accept(&Accept::new().with_extension(answer.as_deref()))
        .unwrap()
        .write(&mut response_bytes)
        .unwrap();
    let (response, _) = Response::parse(&response_bytes, &HandshakeConfig::default()).unwrap().unwrap();
    let accepted = shake.verify(&response).unwrap();
    (agreed, accept_client(accepted.extensions(), client))
}

/// A client and a server made by the one-step handshake (`Request::upgrade`,
/// `Accepted::into_connection_with_keys`), which negotiates and installs deflate.
fn pair(
    client_deflate: &DeflateConfig,
    server_deflate: &DeflateConfig,
    config: Config,
) -> (Connection, Connection) {
    // Both sides agree on the parameters in the two-step negotiation too.
    let (server_params, client_params) = handshake(client_deflate, server_deflate);
    let server_params = server_params.expect("the server accepted");
    let client_params = client_params.unwrap().expect("the client accepted");
    assert_eq!(server_params, client_params);

    let mut request_bytes = Vec::new();
    let shake = ClientRequest::new("ws://example.com/", WebSocketKey::from_bytes(*b"the sample nonce"))
        .unwrap()
        .with_extension(&client_offer(client_deflate))
        .write(&mut request_bytes)
        .unwrap();
    let (request, used) = Request::parse(&request_bytes, &HandshakeConfig::default()).unwrap().unwrap();
    let server_config = config.clone().deflate(server_deflate.clone());
    let (response, server) = request.upgrade(&Accept::new(), server_config, &request_bytes[used..]).unwrap();
    let mut response_bytes = Vec::new();
    response.write(&mut response_bytes).unwrap();
    let (response, used) = Response::parse(&response_bytes, &HandshakeConfig::default()).unwrap().unwrap();
    let client = shake
        .verify(&response)
        .unwrap()
        .into_connection_with_keys(
            config.deflate(client_deflate.clone()),
            lcg_keys(7),
            &response_bytes[used..],
        )
        .unwrap();
    assert!(server.has_extension() && client.has_extension(), "deflate installed on both sides");
    (client, server)
}

/// Deflate in every message, whatever its size.
fn all() -> DeflateConfig {
    DeflateConfig::default().min_size(0)
}

/// zlib's usual level 6, which reproduces RFC 7692's bytes. (The default level 1 encodes the
/// second "Hello" of §7.2.3.2 differently, and as validly.)
fn rfc() -> DeflateConfig {
    all().level(6)
}

/// A server with the RFC's plain parameters, receiving from a test that writes frames by hand.
fn server_with(params: DeflateParams, deflate: &DeflateConfig) -> Connection {
    Connection::builder(Role::Server)
        .extension(Box::new(PerMessageDeflate::new(Role::Server, params, deflate)))
        .build()
}

/// A client whose received frames a test writes by hand (servers do not mask).
fn client_with(params: DeflateParams, deflate: &DeflateConfig) -> Connection {
    client_with_config(params, deflate, Config::default())
}

/// [`client_with`] with a connection config of its own.
fn client_with_config(params: DeflateParams, deflate: &DeflateConfig, config: Config) -> Connection {
    Connection::builder(Role::Client)
        .config(config)
        .mask_keys(zero_keys())
        .extension(Box::new(PerMessageDeflate::new(Role::Client, params, deflate)))
        .build()
}

fn frame(fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame_to_vec(fin, rsv, opcode, payload, None, &mut out).unwrap();
    out
}

fn receive(conn: &mut Connection, bytes: &[u8]) -> Vec<OwnedEvent> {
    conn.handle_bytes(bytes);
    drain(conn, &mut Vec::new())
}

/// JSON-like text of about `len` bytes, varied by `seed`, with the repetition real APIs have.
fn json(len: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as u32
    };
    let names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
    let mut out = String::from("[");
    while out.len() < len {
        if out.len() > 1 {
            out.push(',');
        }
        let id = next() % 100_000;
        let name = names[(next() % 8) as usize];
        let score = next() % 1000;
        out.push_str(&format!(
            r#"{{"id":{id},"user":"{name}","score":{score},"active":{},"tags":["t{}","t{}"]}}"#,
            next() % 2 == 0,
            next() % 50,
            next() % 50
        ));
    }
    out.push(']');
    out
}

fn offers(list: &str) -> Vec<Extension<'_>> {
    Extension::parse_list(list).unwrap()
}

fn server_answer(list: &str, config: &DeflateConfig) -> Option<String> {
    negotiate_server(&offers(list), config).map(|p| p.to_string())
}

// ---------------------------------------------------------------------------------------------
// Negotiation: the server's side (RFC 7692 §5, §7, §7.1)

#[test]
fn server_accepts_valid_offers() {
    let default = DeflateConfig::default();
    for (offer, answer) in [
        ("permessage-deflate", "permessage-deflate"),
        ("Permessage-Deflate", "permessage-deflate"),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
        ("permessage-deflate; client_max_window_bits=10", "permessage-deflate; client_max_window_bits=10"),
        ("permessage-deflate; client_max_window_bits=\"8\"", "permessage-deflate; client_max_window_bits=8"),
        ("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"),
        ("permessage-deflate; server_max_window_bits=9", "permessage-deflate; server_max_window_bits=9"),
        ("permessage-deflate; server_max_window_bits=15", "permessage-deflate"),
        ("permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover"),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=11",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=11",
        ),
        // RFC 7692 §7.1.3's example, first choice accepted.
        (
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10, \
             permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=10",
        ),
    ] {
        assert_eq!(server_answer(offer, &default).as_deref(), Some(answer), "{offer}");
    }
}

#[test]
fn server_declines_invalid_offers() {
    let default = DeflateConfig::default();
    for offer in [
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=-9",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=\"abc\"",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=true",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=9; CLIENT_MAX_WINDOW_BITS=9",
        "permessage-deflate; unknown",
        "permessage-deflate; unknown=1",
        "permessage-deflate; max_window_bits=10",
        "x-webkit-deflate-frame",
        "deflate-frame",
        "",
    ] {
        assert_eq!(server_answer(offer, &default), None, "{offer}");
    }
}

#[test]
fn server_falls_back_to_the_next_offer_in_order() {
    let default = DeflateConfig::default();
    for (offers, answer) in [
        // An invalid first offer is skipped, the second taken.
        ("permessage-deflate; server_max_window_bits=16, permessage-deflate", "permessage-deflate"),
        (
            "permessage-deflate; foo, permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover",
        ),
        // Offers that need a window of 8 from our compressor are declined (zlib uses 9).
        (
            "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9",
            "permessage-deflate; server_max_window_bits=9",
        ),
        // Other extensions are not ours to answer.
        (
            "x-foo; bar, permessage-deflate; client_max_window_bits=12",
            "permessage-deflate; client_max_window_bits=12",
        ),
        // The first acceptable offer wins, even if a later one is "better".
        (
            "permessage-deflate; server_max_window_bits=12, permessage-deflate",
            "permessage-deflate; server_max_window_bits=12",
        ),
    ] {
        assert_eq!(server_answer(offers, &default).as_deref(), Some(answer), "{offers}");
    }
    assert_eq!(server_answer("permessage-deflate; server_max_window_bits=8", &default), None);
}

#[test]
fn server_policy() {
    // A smaller window for what the server sends is always announced, and caps requests.
    let small = DeflateConfig::default().server_max_window_bits(10);
    assert_eq!(
        server_answer("permessage-deflate", &small).unwrap(),
        "permessage-deflate; server_max_window_bits=10"
    );
    assert_eq!(
        server_answer("permessage-deflate; server_max_window_bits=12", &small).unwrap(),
        "permessage-deflate; server_max_window_bits=10"
    );
    assert_eq!(
        server_answer("permessage-deflate; server_max_window_bits=9", &small).unwrap(),
        "permessage-deflate; server_max_window_bits=9"
    );
    // A server_max_window_bits of 8 in the config cannot be honoured by zlib: 9 is used.
    let eight = DeflateConfig::default().server_max_window_bits(8);
    assert_eq!(
        server_answer("permessage-deflate", &eight).unwrap(),
        "permessage-deflate; server_max_window_bits=9"
    );

    // Limiting the client's window needs the client's support (§7.1.2.2).
    let limit_client = DeflateConfig::default().client_max_window_bits(9);
    assert_eq!(server_answer("permessage-deflate", &limit_client), None);
    assert_eq!(
        server_answer("permessage-deflate; client_max_window_bits", &limit_client).unwrap(),
        "permessage-deflate; client_max_window_bits=9"
    );
    assert_eq!(
        server_answer("permessage-deflate, permessage-deflate; client_max_window_bits=12", &limit_client)
            .unwrap(),
        "permessage-deflate; client_max_window_bits=9"
    );
    // The server never demands 8 (zlib-based clients cannot honour it) but accepts a client's
    // own promise of 8, since it decompresses that fine.
    let eight = DeflateConfig::default().client_max_window_bits(8);
    assert_eq!(
        server_answer("permessage-deflate; client_max_window_bits", &eight).unwrap(),
        "permessage-deflate; client_max_window_bits=9"
    );
    assert_eq!(
        server_answer("permessage-deflate; client_max_window_bits=8", &eight).unwrap(),
        "permessage-deflate; client_max_window_bits=8"
    );
    // The client's own hint is smaller than the policy: the hint is echoed.
    assert_eq!(
        server_answer(
            "permessage-deflate; client_max_window_bits=9",
            &limit_client.clone().client_max_window_bits(12)
        )
        .unwrap(),
        "permessage-deflate; client_max_window_bits=9"
    );

    // No context takeover, for the server's own messages or demanded of the client.
    let no_takeover =
        DeflateConfig::default().server_no_context_takeover(true).client_no_context_takeover(true);
    assert_eq!(
        server_answer("permessage-deflate", &no_takeover).unwrap(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
}

#[test]
fn negotiation_over_http2_extended_connect() {
    // RFC 8441 §5: the same `Request`, hence the same negotiation.
    let headers = [
        Header { name: "sec-websocket-version", value: b"13" },
        Header {
            name: "sec-websocket-extensions",
            value: b"permessage-deflate; server_max_window_bits=11; client_max_window_bits",
        },
    ];
    let connect = ExtendedConnect {
        method: "CONNECT",
        protocol: Some("websocket"),
        path: "/chat",
        authority: Some("example.com"),
        headers: &headers,
    };
    let request = Request::from_extended_connect(&connect, &HandshakeConfig::default()).unwrap();
    let params = negotiate_server(request.extensions(), &DeflateConfig::default()).unwrap();
    let answer = params.to_string();
    let response = request.accept(&Accept::new().with_extension(answer.as_str())).unwrap();
    assert_eq!(response.status(), 200);
    let headers: Vec<_> = response.headers().collect();
    assert_eq!(
        headers,
        [("sec-websocket-extensions", &b"permessage-deflate; server_max_window_bits=11"[..])]
    );
}

// ---------------------------------------------------------------------------------------------
// Negotiation: the client's side

#[test]
fn client_offers() {
    for (config, offer) in [
        (DeflateConfig::default(), "permessage-deflate; client_max_window_bits"),
        (
            DeflateConfig::default().client_max_window_bits(10),
            "permessage-deflate; client_max_window_bits=10",
        ),
        // The client compresses with 9 at least.
        (DeflateConfig::default().client_max_window_bits(8), "permessage-deflate; client_max_window_bits=9"),
        (
            DeflateConfig::default().server_max_window_bits(8),
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits",
        ),
        (
            DeflateConfig::default()
                .server_no_context_takeover(true)
                .client_no_context_takeover(true)
                .server_max_window_bits(12)
                .client_max_window_bits(13),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=13",
        ),
    ] {
        assert_eq!(client_offer(&config), offer);
        // Our own server accepts every offer but one that asks it to compress with 8 bits.
        let accepted = negotiate_server(&offers(&client_offer(&config)), &DeflateConfig::default()).is_some();
        assert_eq!(accepted, config.server_max_window_bits != 8, "{offer}");
    }
}

#[test]
fn client_accepts_valid_responses() {
    let default = DeflateConfig::default();
    let accept = |response: &str, config: &DeflateConfig| accept_client(&offers(response), config);
    assert_eq!(accept("", &default), Ok(None));
    assert_eq!(accept("x-other", &default), Ok(None));
    assert_eq!(accept("permessage-deflate", &default), Ok(Some(DeflateParams::default())));
    assert_eq!(
        accept(
            "x-other, permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=8; client_max_window_bits=9",
            &default
        ),
        Ok(Some(DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 8,
            client_max_window_bits: 9,
        }))
    );
    // Held to a window of 8, which zlib cannot compress with: accepted (the client will send
    // uncompressed messages, see `held_to_a_window_of_8_sends_uncompressed`).
    assert_eq!(
        accept("permessage-deflate; client_max_window_bits=8", &default)
            .unwrap()
            .unwrap()
            .client_max_window_bits,
        8
    );
    // A server may be stricter than asked.
    let asked = DeflateConfig::default().server_max_window_bits(12).server_no_context_takeover(true);
    assert_eq!(
        accept("permessage-deflate; server_max_window_bits=10; server_no_context_takeover", &asked)
            .unwrap()
            .unwrap()
            .server_max_window_bits,
        10
    );
}

#[test]
fn client_fails_invalid_responses() {
    let default = DeflateConfig::default();
    let accept = |response: &str, config: &DeflateConfig| accept_client(&offers(response), config);
    for response in [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=09",
        "permessage-deflate; server_no_context_takeover=yes",
    ] {
        assert!(matches!(accept(response, &default), Err(NegotiationError::InvalidValue(_))), "{response}");
    }
    assert_eq!(
        accept("permessage-deflate; client_no_context_takeover; client_no_context_takeover", &default),
        Err(NegotiationError::DuplicateParameter("client_no_context_takeover"))
    );
    assert_eq!(
        accept("permessage-deflate; whatever", &default),
        Err(NegotiationError::UnknownParameter("whatever".into()))
    );
    assert_eq!(
        accept("permessage-deflate, permessage-deflate", &default),
        Err(NegotiationError::DuplicateExtension)
    );
    // The server ignored our requests (§7.1.1.1, §7.1.2.1).
    let asked = DeflateConfig::default().server_max_window_bits(10).server_no_context_takeover(true);
    for response in [
        "permessage-deflate; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10",
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
    ] {
        assert!(matches!(accept(response, &asked), Err(NegotiationError::Unsupported(_))), "{response}");
    }
    // The error fails the handshake like any bad extension header.
    let error: HandshakeError = NegotiationError::DuplicateExtension.into();
    assert_eq!(error, HandshakeError::InvalidExtensions);
}

#[test]
fn full_handshakes_agree() {
    let configs = [
        DeflateConfig::default(),
        DeflateConfig::default().server_no_context_takeover(true),
        DeflateConfig::default().client_no_context_takeover(true),
        DeflateConfig::default().server_max_window_bits(9).client_max_window_bits(9),
        DeflateConfig::default().server_max_window_bits(8).client_max_window_bits(8),
        DeflateConfig::default().server_max_window_bits(12).client_max_window_bits(10),
    ];
    for client in &configs {
        for server in &configs {
            let (agreed, accepted) = handshake(client, server);
            match agreed {
                // A client that asks for a server window of 8 is declined by our server.
                None => assert_eq!(client.server_max_window_bits, 8, "{client:?} {server:?}"),
                Some(params) => assert_eq!(accepted, Ok(Some(params)), "{client:?} {server:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 7692 §7.2.3's examples, byte for byte

const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

#[test]
fn rfc_hello_one_block() {
    // §7.2.3.1: "Hello" in one compressed block, as a server (unmasked) sends it.
    let mut server = server_with(DeflateParams::default(), &rfc());
    server.send_text("Hello").unwrap();
    assert_eq!(take_output(&mut server), [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    // The same from a client, masked with a zero key so the payload reads as is.
    let mut client = client_with(DeflateParams::default(), &rfc());
    client.send_text("Hello").unwrap();
    assert_eq!(take_output(&mut client), [0xc1, 0x87, 0, 0, 0, 0, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    // And it is received as "Hello".
    let mut client = client_with(DeflateParams::default(), &rfc());
    assert_eq!(
        receive(&mut client, &frame(true, 0b100, OpCode::Text, &HELLO)),
        [OwnedEvent::Text("Hello".into())]
    );
}

#[test]
fn rfc_hello_fragmented() {
    // §7.2.3.1: the compressed data split into 3 and 4 octets; RSV1 on the first frame only.
    let mut client = client_with(DeflateParams::default(), &all());
    let mut wire = vec![0x41, 0x03, 0xf2, 0x48, 0xcd];
    wire.extend_from_slice(&[0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00]);
    assert_eq!(receive(&mut client, &wire), [OwnedEvent::Text("Hello".into())]);

    // Sending with 3-byte fragments: 3 + 3 + 1, RSV1 only on the first.
    let mut server_fragmenting = Connection::builder(Role::Server)
        .config(Config::default().fragment_size(Some(3)))
        .extension(Box::new(PerMessageDeflate::new(Role::Server, DeflateParams::default(), &all())))
        .build();
    server_fragmenting.send_text("Hello").unwrap();
    assert_eq!(
        take_output(&mut server_fragmenting),
        [0x41, 0x03, 0xf2, 0x48, 0xcd, 0x00, 0x03, 0xc9, 0xc9, 0x07, 0x80, 0x01, 0x00]
    );
    // RSV1 on a continuation frame is a protocol error (§6.1).
    let mut wire = vec![0x41, 0x03, 0xf2, 0x48, 0xcd];
    wire.extend_from_slice(&[0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00]);
    let mut client = client_with(DeflateParams::default(), &all());
    let events = receive(&mut client, &wire);
    assert_failed(&events, &[], &ProtocolError::ReservedBits(0b100), CloseCode::PROTOCOL_ERROR);
}

#[test]
fn rfc_sharing_the_window() {
    // §7.2.3.2: with context takeover the second "Hello" refers back to the first.
    let mut server = server_with(DeflateParams::default(), &rfc());
    server.send_text("Hello").unwrap();
    server.send_text("Hello").unwrap();
    let mut expected = vec![0xc1, 0x07];
    expected.extend_from_slice(&HELLO);
    expected.extend_from_slice(&[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
    assert_eq!(take_output(&mut server), expected);

    // Without it, both messages compress to the same bytes. (Seven bytes are more than "Hello"
    // itself, and without context takeover nothing is lost by sending it as is, so this
    // endpoint does that; a longer text shows the rule.)
    let text = "Hello, hello, hello, hello!";
    let params = DeflateParams { server_no_context_takeover: true, ..DeflateParams::default() };
    let mut server = server_with(params, &rfc());
    server.send_text("Hello").unwrap();
    assert_eq!(take_output(&mut server), b"\x81\x05Hello");
    server.send_text(text).unwrap();
    let first = take_output(&mut server);
    assert_eq!(first[0], 0xc1);
    assert!(first.len() < 2 + text.len());
    server.send_text(text).unwrap();
    assert_eq!(take_output(&mut server), first);
    // Or by our own choice (config), even when context takeover was agreed.
    let mut server = server_with(DeflateParams::default(), &rfc().server_no_context_takeover(true));
    server.send_text(text).unwrap();
    server.send_text(text).unwrap();
    assert_eq!(take_output(&mut server), [first.clone(), first.clone()].concat());
    // With context takeover the second is a few bytes of back-reference.
    let mut server = server_with(DeflateParams::default(), &rfc());
    server.send_text(text).unwrap();
    assert_eq!(take_output(&mut server), first);
    server.send_text(text).unwrap();
    assert!(take_output(&mut server).len() < 8);

    // Receiving both, and an uncompressed message between them that leaves the window alone.
    let mut client = client_with(DeflateParams::default(), &rfc());
    let mut wire = frame(true, 0b100, OpCode::Text, &HELLO);
    wire.extend(frame(true, 0, OpCode::Text, b"Howdy, uncompressed"));
    wire.extend(frame(true, 0b100, OpCode::Text, &[0xf2, 0x00, 0x11, 0x00, 0x00]));
    assert_eq!(
        receive(&mut client, &wire),
        [
            OwnedEvent::Text("Hello".into()),
            OwnedEvent::Text("Howdy, uncompressed".into()),
            OwnedEvent::Text("Hello".into())
        ]
    );
}

#[test]
fn rfc_stored_block() {
    // §7.2.3.3: a DEFLATE block with no compression.
    let mut client = client_with(DeflateParams::default(), &all());
    let wire = [0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00];
    assert_eq!(receive(&mut client, &wire), [OwnedEvent::Text("Hello".into())]);
}

#[test]
fn rfc_bfinal_block() {
    // §7.2.3.4: "Hello" in a block with BFINAL set, then an empty stored block's header.
    let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    let mut client = client_with(DeflateParams::default(), &all());
    let mut wire = frame(true, 0b100, OpCode::Text, &bfinal);
    // The window survives the end of the DEFLATE stream (§7.2.2): the next message refers
    // back to "Hello" in it.
    wire.extend(frame(true, 0b100, OpCode::Text, &[0xf2, 0x00, 0x11, 0x00, 0x00]));
    // And another BFINAL message, fragmented one byte per frame.
    wire.extend(frame(false, 0b100, OpCode::Text, &bfinal[..1]));
    for byte in &bfinal[1..bfinal.len() - 1] {
        wire.extend(frame(false, 0, OpCode::Continuation, std::slice::from_ref(byte)));
    }
    wire.extend(frame(true, 0, OpCode::Continuation, &bfinal[bfinal.len() - 1..]));
    assert_eq!(
        receive(&mut client, &wire),
        [
            OwnedEvent::Text("Hello".into()),
            OwnedEvent::Text("Hello".into()),
            OwnedEvent::Text("Hello".into())
        ]
    );
    // Without context takeover from the server the same works too.
    let params = DeflateParams { server_no_context_takeover: true, ..DeflateParams::default() };
    let mut client = client_with(params, &all());
    let mut wire = frame(true, 0b100, OpCode::Text, &bfinal);
    wire.extend(frame(true, 0b100, OpCode::Text, &HELLO));
    assert_eq!(
        receive(&mut client, &wire),
        [OwnedEvent::Text("Hello".into()), OwnedEvent::Text("Hello".into())]
    );
}

#[test]
fn rfc_two_blocks() {
    // §7.2.3.5: two DEFLATE blocks in one message, the first flushed with 00 00 ff ff.
    let mut client = client_with(DeflateParams::default(), &all());
    let payload = [0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(
        receive(&mut client, &frame(true, 0b100, OpCode::Text, &payload)),
        [OwnedEvent::Text("Hello".into())]
    );
}

#[test]
fn rfc_empty_fragment() {
    // §7.2.3.6: the last fragment may be an empty stored block's header, 0x00.
    let mut client = client_with(DeflateParams::default(), &all());
    let mut wire = frame(false, 0b100, OpCode::Text, &HELLO[..6]);
    wire.extend(frame(true, 0, OpCode::Continuation, &[0x00]));
    // A message of nothing at all: the single octet alone.
    wire.extend(frame(true, 0b100, OpCode::Binary, &[0x00]));
    assert_eq!(
        receive(&mut client, &wire),
        [OwnedEvent::Text("Hello".into()), OwnedEvent::Binary(Vec::new())]
    );
}

#[test]
fn trailer_is_removed_on_send_and_restored_on_receive() {
    let mut server = server_with(DeflateParams::default(), &all());
    for text in ["Hello", "a", &json(5000, 1)] {
        server.send_text(text).unwrap();
        let wire = take_output(&mut server);
        assert_eq!(wire[0], 0xc1, "{text}");
        assert!(!wire.ends_with(&[0x00, 0x00, 0xff, 0xff]), "{text}");
    }
    // A sender that leaves the trailer in sends one more empty stored block: still fine.
    let mut client = client_with(DeflateParams::default(), &all());
    let mut payload = HELLO.to_vec();
    payload.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    assert_eq!(
        receive(&mut client, &frame(true, 0b100, OpCode::Text, &payload)),
        [OwnedEvent::Text("Hello".into())]
    );
    // An empty message is sent as is (compressed, it would be the single octet of §7.2.3.6).
    let mut server = server_with(DeflateParams::default(), &all());
    server.send_binary(b"").unwrap();
    assert_eq!(take_output(&mut server), [0x82, 0x00]);
}

// ---------------------------------------------------------------------------------------------
// Round trips through a negotiated pair

fn round_trip(client_deflate: &DeflateConfig, server_deflate: &DeflateConfig, config: Config, piece: usize) {
    let (mut client, mut server) = pair(client_deflate, server_deflate, config);
    // Messages that refer back to each other across more than a small window.
    let texts: Vec<String> = (0..6).map(|i| json(300 + i * 700, i as u64 % 3)).collect();
    for text in &texts {
        client.send_text(text).unwrap();
    }
    client.send_binary(&noise(3000, 9)).unwrap();
    client.ping(b"between").unwrap();
    client.send_text("").unwrap();
    let got = transfer(&mut client, &mut server, piece);
    let mut expected: Vec<OwnedEvent> = texts.iter().map(|t| OwnedEvent::Text(t.clone())).collect();
    expected.push(OwnedEvent::Binary(noise(3000, 9)));
    expected.push(OwnedEvent::Ping(b"between".to_vec()));
    expected.push(OwnedEvent::Text(String::new()));
    assert_eq!(got, expected, "client -> server {client_deflate:?} {server_deflate:?}");

    for text in texts.iter().rev() {
        server.send_text(text).unwrap();
    }
    server.send_binary(&json(100_000, 4).into_bytes()).unwrap();
    let got = transfer(&mut server, &mut client, piece);
    let mut expected: Vec<OwnedEvent> = texts.iter().rev().map(|t| OwnedEvent::Text(t.clone())).collect();
    expected.push(OwnedEvent::Binary(json(100_000, 4).into_bytes()));
    // The Pong answering the client's Ping comes first; `drain` does not report Pongs.
    assert_eq!(got, expected, "server -> client {client_deflate:?} {server_deflate:?}");
}

#[test]
fn round_trips_with_and_without_context_takeover() {
    for (client, server) in [
        (all(), all()),
        (all().server_no_context_takeover(true), all()),
        (all().client_no_context_takeover(true), all()),
        (all(), all().server_no_context_takeover(true).client_no_context_takeover(true)),
        (DeflateConfig::default(), DeflateConfig::default()),
        (all().level(0), all().level(9)),
        (all().level(1), all().level(1)),
    ] {
        round_trip(&client, &server, Config::default(), usize::MAX);
    }
}

#[test]
fn round_trips_over_every_window_size() {
    for server_bits in 8..=15 {
        for client_bits in 8..=15 {
            let client = all().client_max_window_bits(client_bits).server_max_window_bits(server_bits);
            // The server declines a request for 8; let it choose 9 on its own instead.
            let client = if server_bits == 8 { client.server_max_window_bits(15) } else { client };
            let server = all().server_max_window_bits(server_bits).client_max_window_bits(client_bits);
            round_trip(&client, &server, Config::default(), usize::MAX);
        }
    }
}

#[test]
fn round_trips_fragmented_and_byte_by_byte() {
    let takeover = (all(), all());
    let no_takeover = (all().client_no_context_takeover(true), all().server_no_context_takeover(true));
    for (client, server) in [takeover, no_takeover] {
        round_trip(&client, &server, Config::default().fragment_size(Some(7)), usize::MAX);
        round_trip(&client, &server, Config::default().fragment_size(Some(1000)), 1);
        round_trip(&client, &server, Config::default(), 1);
        round_trip(&client, &server, Config::default().streaming(true).fragment_size(Some(333)), 17);
    }
}

#[test]
fn small_windows_really_are_small() {
    // A message repeated from 4000 bytes back: a 32 KiB window sends the repeat as a few bytes
    // of back-reference, a 512-byte window cannot see that far and compresses it afresh.
    // (zlib-rs inflates with a 32 KiB window whatever it is told, so the receiver cannot prove
    // that a sender kept to its window; the sizes do.)
    let text = json(4000, 3);
    let mut sizes = Vec::new();
    for bits in [15, 9] {
        let deflate = rfc().client_max_window_bits(bits).server_max_window_bits(bits);
        let (mut client, mut server) = pair(&deflate, &deflate, Config::default());
        let mut wire_sizes = Vec::new();
        for _ in 0..3 {
            client.send_text(&text).unwrap();
            let wire = take_output(&mut client);
            wire_sizes.push(wire.len());
            assert_eq!(receive(&mut server, &wire), [OwnedEvent::Text(text.clone())]);
        }
        sizes.push(wire_sizes);
    }
    let (wide, narrow) = (&sizes[0], &sizes[1]);
    assert!(wide[1] < 100 && wide[2] < 100, "{wide:?}");
    assert!(narrow[1] > 10 * wide[1] && narrow[2] > 10 * wide[2], "{narrow:?} {wide:?}");
    assert!(narrow[0] > wide[0], "{narrow:?} {wide:?}");
}

// ---------------------------------------------------------------------------------------------
// Sending uncompressed, per message

#[test]
fn small_messages_go_uncompressed_and_stay_out_of_the_window() {
    let config = DeflateConfig::default().min_size(5).level(6);
    let mut server = server_with(DeflateParams::default(), &config);
    server.send_text("Hello").unwrap();
    server.send_text("Hi").unwrap();
    server.send_text("Hello").unwrap();
    let mut expected = vec![0xc1, 0x07];
    expected.extend_from_slice(&HELLO);
    expected.extend_from_slice(&[0x81, 0x02, b'H', b'i']);
    // Had "Hi" entered the window, the back-reference would differ.
    expected.extend_from_slice(&[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
    assert_eq!(take_output(&mut server), expected);
    let mut client = client_with(DeflateParams::default(), &config);
    assert_eq!(
        receive(&mut client, &expected),
        [OwnedEvent::Text("Hello".into()), OwnedEvent::Text("Hi".into()), OwnedEvent::Text("Hello".into())]
    );
}

#[test]
fn compressed_formats_go_uncompressed() {
    let mut server = server_with(DeflateParams::default(), &DeflateConfig::default());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(noise(500, 3));
    server.send_binary(&png).unwrap();
    let wire = take_output(&mut server);
    assert_eq!(wire[0], 0x82);
    assert_eq!(&wire[4..], &png[..]);
    // Unless told otherwise.
    let mut server = server_with(DeflateParams::default(), &DeflateConfig::default().skip_compressed(false));
    server.send_binary(&png).unwrap();
    assert_eq!(take_output(&mut server)[0], 0xc2);
}

#[test]
fn incompressible_messages_go_uncompressed_without_context_takeover() {
    let data = noise(2000, 5);
    // Without context takeover the window is reset anyway, so nothing is lost.
    let params = DeflateParams { server_no_context_takeover: true, ..DeflateParams::default() };
    let mut server = server_with(params, &DeflateConfig::default());
    server.send_binary(&data).unwrap();
    let wire = take_output(&mut server);
    assert_eq!(wire[0], 0x82);
    assert_eq!(&wire[4..], &data[..]);
    // With it, the bytes are in the window already: they go compressed, slightly larger.
    let mut server = server_with(DeflateParams::default(), &DeflateConfig::default());
    server.send_binary(&data).unwrap();
    let wire = take_output(&mut server);
    assert_eq!(wire[0], 0xc2);
    let mut client = client_with(DeflateParams::default(), &DeflateConfig::default());
    assert_eq!(receive(&mut client, &wire), [OwnedEvent::Binary(data)]);
}

#[test]
fn held_to_a_window_of_8_sends_uncompressed() {
    // A server (not this crate's) that demands a 256-byte window of the client.
    let params = DeflateParams { client_max_window_bits: 8, ..DeflateParams::default() };
    let text = json(2000, 1);
    let mut client = client_with(params, &all());
    let mut server = server_with(params, &all());
    client.send_text(&text).unwrap();
    let wire = take_output(&mut client);
    assert_eq!(wire[0], 0x81, "sent uncompressed");
    assert_eq!(receive(&mut server, &wire), [OwnedEvent::Text(text.clone())]);
    // The other direction still compresses.
    server.send_text(&text).unwrap();
    let wire = take_output(&mut server);
    assert_eq!(wire[0], 0xc1);
    assert_eq!(receive(&mut client, &wire), [OwnedEvent::Text(text)]);
}

#[test]
fn streamed_sends_go_uncompressed() {
    let (mut client, mut server) = pair(&all(), &all(), Config::default());
    client.send_chunk(MessageKind::Text, b"Hel", false).unwrap();
    client.send_chunk(MessageKind::Text, b"lo", true).unwrap();
    client.send_text("Hello").unwrap();
    let got = transfer(&mut client, &mut server, usize::MAX);
    assert_eq!(got, [OwnedEvent::Text("Hello".into()), OwnedEvent::Text("Hello".into())]);
}

// ---------------------------------------------------------------------------------------------
// Failures

#[test]
fn corrupt_data_fails_with_1007() {
    let mut client = client_with(DeflateParams::default(), &all());
    // BTYPE = 11 is reserved (RFC 1951).
    let events = receive(&mut client, &frame(true, 0b100, OpCode::Binary, &[0xff, 0xff, 0xff]));
    let corrupt = ProtocolError::Extension(ExtensionError::CorruptCompressedData);
    assert_failed(&events, &[], &corrupt, CloseCode::INVALID_PAYLOAD);
    // Any extension error fails with 1007.
    assert_eq!(
        ProtocolError::Extension(ExtensionError::InvalidData).close_code(),
        CloseCode::INVALID_PAYLOAD
    );
    // The close frame with 1007 is queued (masked with the zero key).
    assert_eq!(take_output(&mut client), [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xef]);
}

#[test]
fn invalid_utf8_after_inflating_fails_with_1007() {
    let not_utf8 = vec![0xff, 0xfe, 0xfd];
    let mut sender = server_with(DeflateParams::default(), &all());
    sender.send_binary(&not_utf8).unwrap();
    let wire = take_output(&mut sender);
    let mut client = client_with(DeflateParams::default(), &all());
    // Relabel the compressed binary message as text.
    let mut relabelled = wire;
    relabelled[0] = 0xc1;
    let invalid = ProtocolError::InvalidUtf8(std::str::from_utf8(&not_utf8).unwrap_err().into());
    assert_failed(&receive(&mut client, &relabelled), &[], &invalid, CloseCode::INVALID_PAYLOAD);
    assert_eq!(take_output(&mut client), [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xef]);
}

#[test]
fn rsv1_is_refused_where_it_does_not_belong() {
    let reserved = |bits| ProtocolError::ReservedBits(bits);
    // On a control frame (§6.1).
    let mut client = client_with(DeflateParams::default(), &all());
    let events = receive(&mut client, &frame(true, 0b100, OpCode::Ping, b""));
    assert_failed(&events, &[], &reserved(0b100), CloseCode::PROTOCOL_ERROR);
    // RSV2 and RSV3 are not ours.
    let mut client = client_with(DeflateParams::default(), &all());
    let events = receive(&mut client, &frame(true, 0b010, OpCode::Text, b""));
    assert_failed(&events, &[], &reserved(0b010), CloseCode::PROTOCOL_ERROR);
    // Without the extension, RSV1 is refused outright.
    let mut plain = Connection::builder(Role::Client).mask_keys(zero_keys()).build();
    let events = receive(&mut plain, &frame(true, 0b100, OpCode::Text, &HELLO));
    assert_failed(&events, &[], &reserved(0b100), CloseCode::PROTOCOL_ERROR);
}

#[test]
fn inflated_size_is_limited_with_1009() {
    // 10 MB of zeros compress to about 10 KB at level 9; the limit is 1 MiB.
    let mut sender = server_with(DeflateParams::default(), &all().level(9));
    sender.send_binary(&vec![0; 10_000_000]).unwrap();
    let wire = take_output(&mut sender);
    assert!(wire.len() < 20_000, "{}", wire.len());
    let too_large = |limit| ProtocolError::MessageTooLarge { limit };
    for streaming in [false, true] {
        let config = Config::default().max_message_size(1 << 20).streaming(streaming);
        let mut client = client_with_config(DeflateParams::default(), &all(), config);
        // Streamed pieces delivered before the failure are joined by `drain`, never completed.
        assert_failed(&receive(&mut client, &wire), &[], &too_large(1 << 20), CloseCode::MESSAGE_TOO_BIG);
        assert_eq!(take_output(&mut client), [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xf1]);
    }
    // Streamed pieces count toward the message's limit too, however small they come.
    let config = Config::default().max_message_size(100_000).streaming(true);
    let mut client = client_with_config(DeflateParams::default(), &all(), config);
    let mut delivered = 0;
    let mut pieces = 0;
    let mut end = None;
    for chunk in wire.chunks(8) {
        client.handle_bytes(chunk);
        while let Some(event) = client.poll_event() {
            assert!(end.is_none(), "{event:?} after the end");
            match event {
                Event::Chunk { data, .. } => {
                    delivered += data.len();
                    pieces += 1;
                }
                Event::Closed(info) => end = Some(info.clone()),
                other => panic!("{other:?}"),
            }
        }
        if end.is_some() {
            break;
        }
    }
    let end = end.expect("the connection failed");
    assert_eq!(end.error(), Some(&too_large(100_000)));
    assert_eq!(end.code(), CloseCode::MESSAGE_TOO_BIG);
    assert!(pieces > 3 && delivered <= 100_000, "{pieces} pieces, {delivered} bytes");
    // Exactly at the limit is fine, one byte over is not.
    for size in [1 << 20, (1 << 20) + 1] {
        let mut sender = server_with(DeflateParams::default(), &all());
        sender.send_binary(&vec![7; size]).unwrap();
        let wire = take_output(&mut sender);
        let config = Config::default().max_message_size(1 << 20);
        let mut client = client_with_config(DeflateParams::default(), &all(), config);
        let events = receive(&mut client, &wire);
        if size <= 1 << 20 {
            assert_eq!(events, [OwnedEvent::Binary(vec![7; size])], "{size}");
        } else {
            assert_failed(&events, &[], &too_large(1 << 20), CloseCode::MESSAGE_TOO_BIG);
        }
    }
}

#[test]
fn close_and_pings_are_never_compressed() {
    let (mut client, mut server) = pair(&all(), &all(), Config::default());
    server.ping(b"a ping payload that would compress, compress, compress").unwrap();
    server.close(CloseCode::NORMAL, "bye bye bye bye bye bye bye bye bye bye").unwrap();
    let wire = take_output(&mut server);
    assert_eq!(wire[0], 0x89);
    assert_eq!(wire[2 + 54], 0x88);
    let got = {
        client.handle_bytes(&wire);
        drain(&mut client, &mut Vec::new())
    };
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], OwnedEvent::Ping(b"a ping payload that would compress, compress, compress".to_vec()));
    let OwnedEvent::Closed(info) = &got[1] else { panic!("{got:?}") };
    assert_eq!(
        (info.code(), info.reason(), info.origin()),
        (CloseCode::NORMAL, "bye bye bye bye bye bye bye bye bye bye", &CloseOrigin::Peer)
    );
}
