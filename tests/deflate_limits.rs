//! Limits mean what users expect: a message within `max_message_size` is accepted however the
//! peer frames or compresses it. Incompressible data grows a little under DEFLATE, so a
//! message at the limit arrives in a frame (or frames) larger than the limit; that must not
//! be refused with 1009, and a message one byte over the limit must be.

#![cfg(feature = "deflate")]

mod common;
use common::noise;
use rfc6455::connection::{CloseOrigin, Config, Connection, Event};
use rfc6455::deflate::{DeflateConfig, client_offer};
use rfc6455::handshake::{self, Accept, ClientRequest, Request, Response, WebSocketKey};
use rfc6455::{CloseCode, ProtocolError};

const LIMIT: usize = 1 << 20;

/// A client and a server that negotiated permessage-deflate through the one-step handshake;
/// the server accepts messages up to `LIMIT`, the client sends in frames of `fragment` bytes.
fn pair(fragment: Option<usize>) -> (Connection, Connection) {
    let policy = DeflateConfig::default();
    let offer = client_offer(&policy);
    let mut request_bytes = Vec::new();
    let handshake = ClientRequest::new("ws://localhost/", WebSocketKey::from_bytes(*b"0123456789abcdef"))
        .unwrap()
        .with_extension(&offer)
        .write(&mut request_bytes)
        .unwrap();
    let (request, _) = Request::parse(&request_bytes, &handshake::Config::default()).unwrap().unwrap();
    let server_config = Config::default().max_message_size(LIMIT as u64).deflate(policy.clone());
    let (response, server) = request.upgrade(&Accept::new(), server_config, &[]).unwrap();
    let mut response_bytes = Vec::new();
    response.write(&mut response_bytes).unwrap();
    let (response, _) = Response::parse(&response_bytes, &handshake::Config::default()).unwrap().unwrap();
    let client_config =
        Config::default().deflate(policy).fragment_size(fragment).max_pending_output(usize::MAX);
    let client = handshake.into_connection(&response, client_config, &[]).unwrap();
    assert!(server.has_extension() && client.has_extension());
    (client, server)
}

fn deliver(client: &mut Connection, server: &mut Connection) -> Vec<u8> {
    let mut wire = Vec::new();
    client.write_to(&mut wire).unwrap();
    server.handle_bytes(&wire);
    wire
}

#[test]
fn incompressible_messages_at_the_limit_are_accepted_in_one_frame_and_in_many() {
    for fragment in [None, Some(64 * 1024), Some(4096)] {
        let (mut client, mut server) = pair(fragment);
        let message = noise(LIMIT, 0x9e37_79b9_7f4a_7c15);
        client.send_binary(&message).unwrap();
        let wire = deliver(&mut client, &mut server);
        assert!(wire.len() > LIMIT, "compressed noise is larger than the message ({} bytes)", wire.len());
        assert_eq!(wire[0] & 0x40, 0x40, "RSV1: the message was compressed");
        match server.poll_event() {
            Some(Event::Binary(data)) => assert!(data == message, "{fragment:?}: the message arrives intact"),
            other => panic!("{fragment:?}: expected the message, got {other:?}"),
        }
        // Text too, counted in bytes.
        let text: String = noise(LIMIT / 2, 7).iter().map(|b| char::from(b'a' + b % 26)).collect();
        let text = text + &"é".repeat(LIMIT / 4);
        assert_eq!(text.len(), LIMIT);
        client.send_text(&text).unwrap();
        deliver(&mut client, &mut server);
        assert_eq!(server.poll_event(), Some(Event::Text(&text)), "{fragment:?}");
    }
}

#[test]
fn one_byte_over_the_limit_is_1009_however_it_is_framed() {
    for fragment in [None, Some(4096)] {
        let (mut client, mut server) = pair(fragment);
        client.send_binary(&noise(LIMIT + 1, 3)).unwrap();
        deliver(&mut client, &mut server);
        let Some(Event::Closed(info)) = server.poll_event() else {
            panic!("{fragment:?}: the message is refused")
        };
        assert_eq!(info.code(), CloseCode::MESSAGE_TOO_BIG);
        assert_eq!(
            info.origin(),
            &CloseOrigin::Failed(ProtocolError::MessageTooLarge { limit: LIMIT as u64 })
        );
    }
}

#[test]
fn the_frame_limit_follows_the_message_limit_unless_set() {
    let config = Config::default().max_message_size(100 << 20);
    assert_eq!(config.max_frame_size, None);
    // An uncompressed message of 20 MiB in one frame: over the old fixed 16 MiB frame limit,
    // within the message limit.
    let mut server = Connection::new(rfc6455::Role::Server, config);
    let mut client = Connection::builder(rfc6455::Role::Client)
        .config(Config::default().max_pending_output(usize::MAX))
        .mask_keys(Box::new(|| [1, 2, 3, 4]))
        .build();
    let message = vec![5u8; 20 << 20];
    client.send_binary(&message).unwrap();
    deliver(&mut client, &mut server);
    assert!(matches!(server.poll_event(), Some(Event::Binary(data)) if data.len() == message.len()));
}

/// The decoder lets a compressed frame exceed the frame limit by DEFLATE's expansion; a frame
/// that is not compressed (RSV1 clear) is still held to the limit itself (§5.2 sizes are the
/// wire payload): one byte over is 1009 `FrameTooLarge`, before its payload arrives.
#[test]
fn an_uncompressed_frame_over_the_limit_is_refused_though_deflate_is_on() {
    use rfc6455::frame::{OpCode, encode_frame_to_vec};
    for size in [LIMIT, LIMIT + 1] {
        let (_, mut server) = pair(None);
        let mut wire = Vec::new();
        encode_frame_to_vec(true, 0, OpCode::Binary, &vec![1; size], Some([1, 2, 3, 4]), &mut wire).unwrap();
        if size == LIMIT {
            server.handle_bytes(&wire);
            assert!(matches!(server.poll_event(), Some(Event::Binary(data)) if data.len() == LIMIT));
            continue;
        }
        // The header alone: the claim is refused at once.
        server.handle_bytes(&wire[..14]);
        let Some(Event::Closed(info)) = server.poll_event() else { panic!("the frame is refused") };
        assert_eq!(info.code(), CloseCode::MESSAGE_TOO_BIG);
        let error = ProtocolError::FrameTooLarge { size: size as u64, limit: LIMIT as u64 };
        assert_eq!(info.origin(), &CloseOrigin::Failed(error));
    }
}
