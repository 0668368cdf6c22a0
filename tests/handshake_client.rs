//! The client's side of the opening handshake (RFC 6455 §4.1): the request it writes, the
//! checks on the answer, and a client talking to this crate's own server side.

use rfc6455::UsageError;
use rfc6455::handshake::{
    Accept, ClientHandshake, ClientRequest, Config, HandshakeError, MalformedHead, RequestParser, Response,
    WebSocketKey, WebSocketUri,
};

fn sample_key() -> WebSocketKey {
    WebSocketKey::from_bytes(*b"the sample nonce")
}

fn written(request: &ClientRequest<'_>) -> (String, ClientHandshake) {
    let mut out = Vec::new();
    let handshake = request.write(&mut out).unwrap();
    (String::from_utf8(out).unwrap(), handshake)
}

const OK_101: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                      Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

fn response(extra: &str) -> Vec<u8> {
    format!("{OK_101}{extra}\r\n").into_bytes()
}

#[test]
fn the_exact_request() {
    let request = ClientRequest::new("ws://server.example.com/chat", sample_key())
        .unwrap()
        .with_origin("http://example.com")
        .with_subprotocol("chat")
        .with_subprotocol("superchat")
        .with_extension("permessage-deflate; client_max_window_bits")
        .with_extension("x-private; level=\"1\"")
        .with_header("Cookie", "session=1");
    let (text, handshake) = written(&request);
    // §1.2's example request, plus the optional parts.
    assert_eq!(
        text,
        "GET /chat HTTP/1.1\r\n\
         Host: server.example.com\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Origin: http://example.com\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-private; level=\"1\"\r\n\
         Cookie: session=1\r\n\
         \r\n"
    );
    assert_eq!(handshake.expected_accept().as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn request_lines_and_host_headers_from_uris() {
    let cases = [
        ("ws://example.com", "GET / HTTP/1.1\r\nHost: example.com\r\n"),
        ("ws://example.com:80/", "GET / HTTP/1.1\r\nHost: example.com\r\n"),
        ("wss://example.com:443/a", "GET /a HTTP/1.1\r\nHost: example.com\r\n"),
        ("ws://example.com:443/a", "GET /a HTTP/1.1\r\nHost: example.com:443\r\n"),
        ("wss://example.com:8443/a/b?c=d&e", "GET /a/b?c=d&e HTTP/1.1\r\nHost: example.com:8443\r\n"),
        ("ws://example.com?x=1", "GET /?x=1 HTTP/1.1\r\nHost: example.com\r\n"),
        ("ws://[::1]:9001/echo", "GET /echo HTTP/1.1\r\nHost: [::1]:9001\r\n"),
        ("wss://[fe80::1]/", "GET / HTTP/1.1\r\nHost: [fe80::1]\r\n"),
        ("ws://10.0.0.1:8080", "GET / HTTP/1.1\r\nHost: 10.0.0.1:8080\r\n"),
    ];
    for (uri, start) in cases {
        let (text, _) = written(&ClientRequest::new(uri, sample_key()).unwrap());
        assert!(text.starts_with(start), "{uri}: {text}");
    }
    let uri = WebSocketUri::parse("wss://[fe80::1]/").unwrap();
    assert_eq!((uri.host(), uri.port(), uri.is_secure()), ("fe80::1", 443, true));
}

#[test]
fn bad_uris_and_inputs_are_usage_errors() {
    for uri in [
        "http://example.com/",
        "ws://example.com/#top",
        "ws://u@example.com/",
        "ws://example.com:99999/",
        "ws:///x",
    ] {
        assert!(
            matches!(ClientRequest::new(uri, sample_key()), Err(UsageError::InvalidHandshakeInput(_))),
            "{uri}"
        );
    }
    let base = || ClientRequest::new("ws://h/", sample_key()).unwrap();
    let mut out = Vec::new();
    for request in [
        base().with_subprotocol("has space"),
        base().with_subprotocol("chat").with_subprotocol("chat"),
        base().with_extension("deflate;"),
        base().with_origin("http://a\r\nX: y"),
        base().with_header("Upgrade", "h2c"),
        base().with_header("X-Bad", "line\nbreak"),
        base().with_header("Bad Name", "v"),
    ] {
        assert!(matches!(request.write(&mut out), Err(UsageError::InvalidHandshakeInput(_))), "{request:?}");
        assert!(out.is_empty(), "nothing is written on error");
    }
}

#[test]
fn response_split_at_every_offset() {
    let (_, handshake) =
        written(&ClientRequest::new("ws://h/", sample_key()).unwrap().with_subprotocol("chat"));
    let head = response("Sec-WebSocket-Protocol: chat\r\n");
    let frames: &[u8] = b"\x81\x05Hello\x89\x00";
    let input = [&head[..], frames].concat();
    for split in 0..=input.len() {
        let (first, second) = input.split_at(split);
        let mut parser = handshake.parser();
        let first_used = parser.feed(first).unwrap().map(|(_, used)| used);
        let rest = match first_used {
            Some(used) => [&first[used..], second].concat(),
            None => {
                let (_, used) = parser.feed(second).unwrap().expect("complete");
                second[used..].to_vec()
            }
        };
        assert_eq!(rest, frames, "split at {split}");
        let (response, _) = parser.feed(&[]).unwrap().expect("complete");
        let accepted = handshake.verify(&response).unwrap();
        assert_eq!(accepted.subprotocol(), Some("chat"), "split at {split}");
    }
}

#[test]
fn every_failure_of_the_response() {
    let request = ClientRequest::new("ws://h/", sample_key())
        .unwrap()
        .with_subprotocol("chat")
        .with_extension("permessage-deflate");
    let (_, handshake) = written(&request);
    let verify = |head: &[u8]| -> Result<(), HandshakeError> {
        let (response, _) = Response::parse(head, &Config::default())?.expect("complete");
        handshake.verify(&response).map(|_| ())
    };
    let accept = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    let cases: Vec<(String, HandshakeError)> = vec![
        (format!("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n{accept}\r\n"), HandshakeError::MissingUpgradeWebSocket),
        (format!("HTTP/1.1 101 OK\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n{accept}\r\n"), HandshakeError::MissingUpgradeWebSocket),
        (
            format!("HTTP/1.1 101 OK\r\nUpgrade: websocket, h2c\r\nConnection: Upgrade\r\n{accept}\r\n"),
            HandshakeError::MissingUpgradeWebSocket,
        ),
        (format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n{accept}\r\n"), HandshakeError::MissingConnectionUpgrade),
        (
            format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: close\r\n{accept}\r\n"),
            HandshakeError::MissingConnectionUpgrade,
        ),
        ("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".into(), HandshakeError::MissingAccept),
        (
            "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n\r\n"
                .into(),
            HandshakeError::AcceptMismatch,
        ),
        (
            // base64 is case-sensitive.
            "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n\r\n"
                .into(),
            HandshakeError::AcceptMismatch,
        ),
        (format!("{OK_101}{accept}\r\n"), HandshakeError::DuplicateHeader("Sec-WebSocket-Accept")),
        (format!("{OK_101}Sec-WebSocket-Protocol: mqtt\r\n\r\n"), HandshakeError::SubprotocolNotOffered),
        (format!("{OK_101}Sec-WebSocket-Protocol: \r\n\r\n"), HandshakeError::InvalidSubprotocol),
        (format!("{OK_101}Sec-WebSocket-Extensions: x-other\r\n\r\n"), HandshakeError::ExtensionNotOffered),
        (
            format!("{OK_101}Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Extensions: x-other\r\n\r\n"),
            HandshakeError::ExtensionNotOffered,
        ),
        (format!("{OK_101}Sec-WebSocket-Extensions: permessage-deflate; a=\"\"\r\n\r\n"), HandshakeError::InvalidExtensions),
        ("HTTP/1.1 abc OK\r\n\r\n".into(), HandshakeError::MalformedHead(MalformedHead::StatusLine)),
    ];
    for (head, error) in cases {
        assert_eq!(verify(head.as_bytes()), Err(error.clone()), "{head}");
    }
    // The same response, with tolerable variations, passes.
    let fine = "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n\
                sec-websocket-accept:   s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\nSec-WebSocket-Extensions: PerMessage-Deflate\r\n\r\n";
    assert_eq!(verify(fine.as_bytes()), Ok(()));
}

#[test]
fn a_redirect_is_reported_with_its_headers_and_body() {
    let (_, handshake) = written(&ClientRequest::new("ws://h/old", sample_key()).unwrap());
    let input = b"HTTP/1.1 302 Found\r\nLocation: ws://h/new\r\nContent-Length: 5\r\n\r\nmoved";
    let mut parser = handshake.parser();
    let (response, used) = parser.feed(input).unwrap().unwrap();
    let error = handshake.verify(&response).unwrap_err();
    assert_eq!(error, HandshakeError::UnexpectedStatus { status: 302, body_offset: used });
    assert_eq!((response.status(), response.reason()), (302, "Found"));
    assert_eq!(response.header("location"), Some(&b"ws://h/new"[..]));
    assert_eq!(&input[response.head_len()..], b"moved");
    assert_eq!(&input[used..], b"moved");
}

#[test]
fn response_limits() {
    let (_, handshake) = written(
        &ClientRequest::new("ws://h/", sample_key())
            .unwrap()
            .with_config(Config::new().with_max_head_size(128)),
    );
    let mut parser = handshake.parser();
    let long = format!("{OK_101}X-Long: {}\r\n\r\n", "a".repeat(100));
    assert_eq!(parser.feed(long.as_bytes()).map(|_| ()), Err(HandshakeError::HeadTooLarge { limit: 128 }));
    let many = format!("{OK_101}{}\r\n", (0..70).map(|i| format!("X-{i}: v\r\n")).collect::<String>());
    assert_eq!(
        Response::parse(many.as_bytes(), &Config::default()).map(|_| ()),
        Err(HandshakeError::TooManyHeaders { limit: 64 })
    );
}

/// A client built by this crate, talking to a server built by this crate, through bytes only.
#[test]
fn client_and_server_agree() {
    let request = ClientRequest::new("wss://chat.example:8443/room/1?token=abc", sample_key())
        .unwrap()
        .with_origin("https://chat.example")
        .with_subprotocol("v2.chat")
        .with_subprotocol("v1.chat")
        .with_extension("permessage-deflate; client_max_window_bits")
        .with_header("Authorization", "Bearer xyz");
    let mut to_server = Vec::new();
    let handshake = request.write(&mut to_server).unwrap();
    to_server.extend_from_slice(b"\x81\x82mask"); // the client's first frame, sent eagerly

    // Server side.
    let mut server = RequestParser::new(Config::default());
    let (offer, used) = server.feed(&to_server).unwrap().expect("complete");
    assert_eq!(&to_server[used..], b"\x81\x82mask");
    assert_eq!(
        (offer.host(), offer.path(), offer.query()),
        ("chat.example:8443", "/room/1", Some("token=abc"))
    );
    assert_eq!(offer.origin(), Some("https://chat.example"));
    assert_eq!(offer.header("authorization"), Some(&b"Bearer xyz"[..]));
    let chosen = offer.select_subprotocol(&["v1.chat"]);
    let deflate =
        offer.extensions().iter().find(|e| e.is("permessage-deflate")).map(|_| "permessage-deflate");
    let mut to_client = Vec::new();
    offer
        .accept(&Accept::new().with_subprotocol(chosen).with_extension(deflate))
        .unwrap()
        .write(&mut to_client)
        .unwrap();
    to_client.extend_from_slice(b"\x81\x02hi");

    // Client side.
    let mut client = handshake.parser();
    let (answer, used) = client.feed(&to_client).unwrap().expect("complete");
    let accepted = handshake.verify(&answer).unwrap();
    assert_eq!(accepted.subprotocol(), Some("v1.chat"));
    assert_eq!(accepted.extensions().len(), 1);
    assert_eq!(accepted.extensions()[0].name(), "permessage-deflate");
    assert_eq!(&to_client[used..], b"\x81\x02hi");
}

#[cfg(feature = "std")]
#[test]
fn random_keys_are_fresh_and_valid() {
    let a = WebSocketKey::random();
    let b = WebSocketKey::random();
    assert_ne!(a, b);
    let (text, _) = written(&ClientRequest::new("ws://h/", a).unwrap());
    let mut server = RequestParser::new(Config::default());
    let (offer, _) = server.feed(text.as_bytes()).unwrap().expect("complete");
    assert_eq!(offer.key(), Some(a.as_str()));
    assert_eq!(offer.accept_key(), Some(a.accept()));
}

// RFC 8441: the same request as an extended CONNECT over HTTP/2, and its answer.

use rfc6455::Event;
use rfc6455::error::HandshakeInput;
use rfc6455::handshake::{Bootstrap, ExtendedConnect, Header, Request};

/// The fields of an extended CONNECT as (name, value) text pairs, pseudo-headers first.
fn connect_fields(request: &ClientRequest<'_>) -> (Vec<(String, String)>, ClientHandshake) {
    let (connect, handshake) = request.extended_connect().unwrap();
    let mut fields = vec![
        (":method".to_owned(), connect.method().to_owned()),
        (":protocol".to_owned(), connect.protocol().to_owned()),
        (":scheme".to_owned(), connect.scheme().to_owned()),
        (":path".to_owned(), connect.path().to_owned()),
        (":authority".to_owned(), connect.authority().to_owned()),
    ];
    fields.extend(connect.headers().map(|h| (h.name.to_owned(), h.value_str().unwrap().to_owned())));
    (fields, handshake)
}

#[test]
fn extended_connect_is_rfc_8441_s5_1s_example() {
    let request = ClientRequest::new("wss://server.example.com/chat", sample_key())
        .unwrap()
        .with_subprotocol("chat")
        .with_subprotocol("superchat")
        .with_extension("permessage-deflate")
        .with_origin("http://www.example.com");
    let (fields, handshake) = connect_fields(&request);
    let expected = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/chat"),
        (":authority", "server.example.com"),
        ("sec-websocket-version", "13"),
        ("origin", "http://www.example.com"),
        ("sec-websocket-protocol", "chat, superchat"),
        ("sec-websocket-extensions", "permessage-deflate"),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(fields, expected);
    assert_eq!(handshake.bootstrap(), Bootstrap::ExtendedConnect);
}

#[test]
fn extended_connect_scheme_authority_path_and_header_names() {
    let request = ClientRequest::new("ws://[::1]:9001/a/b?room=1&x", sample_key())
        .unwrap()
        .with_header("Authorization", "Bearer abc")
        .with_header("x-lower", "1");
    let (fields, _) = connect_fields(&request);
    let get = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(get(":scheme"), Some("http"));
    assert_eq!(get(":authority"), Some("[::1]:9001"));
    assert_eq!(get(":path"), Some("/a/b?room=1&x"));
    // HTTP/2 names are lowercase; values are kept.
    assert_eq!(get("authorization"), Some("Bearer abc"));
    assert_eq!(get("x-lower"), Some("1"));
    // Nothing of the HTTP/1.1 upgrade, no key (RFC 8441 §5).
    for name in ["host", "upgrade", "connection", "sec-websocket-key"] {
        assert_eq!(get(name), None, "{name}");
    }
    // The default port of the scheme is left out of :authority, as of Host.
    let (fields, _) = connect_fields(&ClientRequest::new("wss://example.com:443/", sample_key()).unwrap());
    assert!(fields.contains(&(":authority".to_owned(), "example.com".to_owned())));
}

#[test]
fn extended_connect_refuses_what_http2_forbids() {
    let refused = |name: &'static str| {
        ClientRequest::new("wss://a/", sample_key())
            .unwrap()
            .with_header(name, "x")
            .extended_connect()
            .unwrap_err()
    };
    for name in ["Keep-Alive", "proxy-connection", "Transfer-Encoding", "TE"] {
        assert_eq!(
            refused(name),
            UsageError::InvalidHandshakeInput(HandshakeInput::ConnectionSpecificHeader)
        );
    }
    for name in ["Host", "upgrade", "Connection", "Sec-WebSocket-Key"] {
        assert_eq!(refused(name), UsageError::InvalidHandshakeInput(HandshakeInput::ReservedHeader));
    }
    // The offer checks are the HTTP/1.1 request's.
    let twice =
        ClientRequest::new("wss://a/", sample_key()).unwrap().with_subprotocol("a").with_subprotocol("a");
    assert_eq!(
        twice.extended_connect().unwrap_err(),
        UsageError::InvalidHandshakeInput(HandshakeInput::SubprotocolTwice)
    );
}

#[test]
fn extended_connect_answers_are_verified() {
    let request = ClientRequest::new("wss://a/", sample_key())
        .unwrap()
        .with_subprotocol("chat")
        .with_extension("permessage-deflate; client_max_window_bits");
    let (_, h2) = request.extended_connect().unwrap();
    let verify = |handshake: &ClientHandshake, status: u16, fields: &[(&'static str, &'static [u8])]| {
        let headers = fields.iter().map(|&(name, value)| Header { name, value }).collect();
        handshake.verify(&Response::from_fields(status, headers)).map(|a| a.subprotocol())
    };
    assert_eq!(verify(&h2, 200, &[]), Ok(None));
    // Any 2xx opens a CONNECT tunnel (RFC 9110 §9.3.6); no Accept is needed or looked at.
    assert_eq!(verify(&h2, 204, &[("sec-websocket-accept", b"whatever")]), Ok(None));
    assert_eq!(verify(&h2, 200, &[("sec-websocket-protocol", b"chat")]), Ok(Some("chat")));
    for status in [101, 199, 300, 400, 404, 501] {
        assert_eq!(
            verify(&h2, status, &[]),
            Err(HandshakeError::UnexpectedStatus { status, body_offset: 0 })
        );
    }
    // Steps 5 and 6 are the same as over HTTP/1.1.
    assert_eq!(
        verify(&h2, 200, &[("sec-websocket-protocol", b"other")]),
        Err(HandshakeError::SubprotocolNotOffered)
    );
    assert_eq!(
        verify(&h2, 200, &[("sec-websocket-extensions", b"x-other")]),
        Err(HandshakeError::ExtensionNotOffered)
    );
    // An HTTP/1.1 handshake still wants its 101 and Accept: a 200 is a refusal there.
    let mut out = Vec::new();
    let h1 = request.write(&mut out).unwrap();
    assert_eq!(h1.bootstrap(), Bootstrap::Http1Upgrade);
    assert_eq!(verify(&h1, 200, &[]), Err(HandshakeError::UnexpectedStatus { status: 200, body_offset: 0 }));
}

/// Our client's extended CONNECT read by our server side (`inspect` sees the request there),
/// answered with `accept` (a `200` without `Sec-WebSocket-Accept`), verified, and the
/// connection made on each side: (client, server).
fn over_h2(
    request: &ClientRequest<'_>,
    accept: &Accept<'_>,
    config: rfc6455::Config,
    inspect: impl FnOnce(&Request<'_>),
) -> (rfc6455::Connection, rfc6455::Connection) {
    let (connect, handshake) = request.extended_connect().unwrap();
    let headers: Vec<Header<'_>> = connect.headers().collect();
    let seen = ExtendedConnect {
        method: connect.method(),
        protocol: Some(connect.protocol()),
        path: connect.path(),
        authority: Some(connect.authority()),
        headers: &headers,
    };
    let server_request = Request::from_extended_connect(&seen, &Config::default()).unwrap();
    assert_eq!(server_request.bootstrap(), Bootstrap::ExtendedConnect);
    inspect(&server_request);
    let (answer, server) = server_request.upgrade(accept, config.clone(), &[]).unwrap();
    assert_eq!(answer.status(), 200);
    let fields: Vec<Header<'_>> = answer.headers().map(|(name, value)| Header { name, value }).collect();
    assert!(fields.iter().all(|h| h.name != "sec-websocket-accept"));
    let client = handshake.into_connection(&Response::from_fields(200, fields), config, &[]).unwrap();
    (client, server)
}

#[test]
fn extended_connect_client_and_server_agree_and_talk() {
    // permessage-deflate on both sides: the stream carries frames as TCP would.
    let offer = rfc6455::deflate::client_offer(&Default::default());
    let request = ClientRequest::new("wss://example.com/chat?room=1", sample_key())
        .unwrap()
        .with_subprotocol("chat")
        .with_extension(&offer)
        .with_header("Cookie", "a=b");
    let config = rfc6455::Config::default().deflate(Default::default());
    let (mut client, mut server) =
        over_h2(&request, &Accept::new().with_subprotocol("chat"), config, |seen| {
            assert_eq!((seen.path(), seen.query()), ("/chat", Some("room=1")));
            assert_eq!(seen.header("cookie"), Some(&b"a=b"[..]));
        });
    assert!(client.has_extension() && server.has_extension());
    assert_eq!(client.subprotocol(), Some("chat"));

    client.send_text("over an h2 stream").unwrap();
    let mut wire = Vec::new();
    client.write_to(&mut wire).unwrap();
    server.handle_bytes(&wire);
    assert_eq!(server.poll_event(), Some(Event::Text("over an h2 stream")));
}

#[test]
fn over_an_extended_connect_the_client_does_not_wait_for_the_server_to_end_the_stream() {
    // §7.1.1's "server closes the TCP connection first" keeps TIME_WAIT on the server; an
    // HTTP/2 stream has none, so a client on one ends its side once the close handshake is
    // done, while a client on TCP waits for the server's FIN.
    fn closed_client(h2: bool) -> rfc6455::Connection {
        let request = ClientRequest::new("wss://example.com/", sample_key()).unwrap();
        let (mut client, mut server) = if h2 {
            over_h2(&request, &Accept::new(), Default::default(), |_| {})
        } else {
            let mut out = Vec::new();
            let handshake = request.write(&mut out).unwrap();
            let (server_request, _) = Request::parse(&out, &Config::default()).unwrap().unwrap();
            let (answer, server) = server_request.upgrade(&Accept::new(), Default::default(), &[]).unwrap();
            let mut head = Vec::new();
            answer.write(&mut head).unwrap();
            let (response, _) = Response::parse(&head, &Config::default()).unwrap().unwrap();
            (handshake.into_connection(&response, Default::default(), &[]).unwrap(), server)
        };
        client.close(rfc6455::CloseCode::NORMAL, "").unwrap();
        let mut wire = Vec::new();
        client.write_to(&mut wire).unwrap();
        server.handle_bytes(&wire);
        while server.poll_event().is_some() {}
        let mut reply = Vec::new();
        server.write_to(&mut reply).unwrap();
        assert!(server.should_drop_transport(), "the server ends its side at once either way");
        client.handle_bytes(&reply);
        while client.poll_event().is_some() {}
        assert!(client.close_info().is_some_and(|info| info.is_clean()));
        client
    }
    assert!(closed_client(true).should_drop_transport());
    let mut tcp_client = closed_client(false);
    assert!(!tcp_client.should_drop_transport(), "over TCP the client waits for the server's FIN");
    tcp_client.handle_eof();
    assert!(tcp_client.should_drop_transport());
}
