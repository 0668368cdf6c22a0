//! Properties of the handshake parsers: no input makes them panic, the way bytes are split
//! never changes the result, a slowly arriving head costs work linear in its size (counted,
//! not timed), and a request kept past its buffer (`OwnedRequest`) reads as it did.

use proptest::prelude::*;
use rfc6455::handshake::{
    Accept, ClientRequest, Config, ExtendedConnect, Extension, HandshakeError, Header, OwnedRequest, Request,
    RequestParser, Response, ResponseParser, WebSocketKey, WebSocketUri,
};

const TOKEN: &str = "[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,12}";

/// A valid request head with `extra` header lines.
fn head_with(extra: &[(String, String)]) -> Vec<u8> {
    let mut head = String::from(
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
    );
    for (name, value) in extra {
        head.push_str(&format!("X-{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Feeds `input` to a fresh parser in pieces cut at `cuts`; returns the parse result (as a
/// comparable string) and the bytes left over for the connection.
fn feed_in_pieces(input: &[u8], cuts: &[usize]) -> (String, Vec<u8>) {
    let mut parser = RequestParser::new(Config::default());
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(0);
    points.push(input.len());
    points.sort_unstable();
    for pair in points.windows(2) {
        let piece = &input[pair[0]..pair[1]];
        match parser.feed(piece) {
            Ok(None) => {}
            Ok(Some((request, used))) => {
                let mut rest = piece[used..].to_vec();
                rest.extend_from_slice(&input[pair[1]..]);
                return (format!("{request:?}"), rest);
            }
            Err(error) => return (format!("error {error:?}"), Vec::new()),
        }
    }
    ("incomplete".into(), Vec::new())
}

/// Every getter of `owned` (from [`Request::into_owned`]) answers as `request`'s does.
fn assert_owned_reads_alike(request: &Request<'_>, owned: &OwnedRequest) {
    assert_eq!(owned.bootstrap(), request.bootstrap());
    assert_eq!(owned.target(), request.target());
    assert_eq!((owned.path(), owned.query()), (request.path(), request.query()));
    assert_eq!(owned.host(), request.host());
    assert_eq!(owned.origin(), request.origin());
    assert_eq!(owned.key(), request.key());
    assert_eq!(
        owned.accept_key().map(|k| k.as_str().to_owned()),
        request.accept_key().map(|k| k.as_str().to_owned())
    );
    assert_eq!(owned.subprotocols(), request.subprotocols());
    // Extensions compare by name and parameters, values unescaped.
    assert_eq!(owned.extensions().collect::<Vec<_>>(), request.extensions());
    let headers: Vec<Header<'_>> = request.headers().collect();
    assert_eq!(owned.headers().collect::<Vec<_>>(), headers);
    for header in &headers {
        for name in [header.name.to_owned(), header.name.to_ascii_uppercase()] {
            assert_eq!(owned.header(&name), request.header(&name), "{name}");
        }
    }
    assert_eq!(owned.header("x-not-sent"), None);
}

proptest! {
    #[test]
    fn request_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let _ = Request::parse(&bytes, &Config::default());
        let _ = Request::parse(&bytes, &Config::new().with_max_head_size(64).with_max_headers(2));
        let _ = feed_in_pieces(&bytes, &cuts);
    }

    #[test]
    fn request_parsers_never_panic_on_near_valid_heads(
        extra in proptest::collection::vec(("[A-Za-z-]{1,8}", "[ -~]{0,20}"), 0..6),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut head = head_with(&extra);
        for (at, byte) in flips {
            let len = head.len();
            head[at % len] = byte;
        }
        let _ = Request::parse(&head, &Config::default());
        let _ = feed_in_pieces(&head, &[head.len() / 2]);
    }

    #[test]
    fn response_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Response::parse(&bytes, &Config::default());
        let handshake = ClientRequest::new("ws://h/", WebSocketKey::from_bytes([0; 16]))
            .unwrap()
            .with_subprotocol("chat")
            .with_extension("x")
            .write(&mut Vec::new())
            .unwrap();
        let mut parser = ResponseParser::new(Config::default());
        for chunk in bytes.chunks(7) {
            match parser.feed(chunk) {
                Ok(None) => {}
                Ok(Some((response, _))) => {
                    let _ = handshake.verify(&response);
                    break;
                }
                Err(_) => break,
            }
        }
    }

    #[test]
    fn text_parsers_never_panic(text in "\\PC{0,64}", grammar in "[a-z;=\", \\\\\t\u{e9}]{0,40}") {
        let _ = Extension::parse_list(&text);
        let _ = Extension::parse_list(&grammar);
        let _ = WebSocketUri::parse(&text);
        let _ = WebSocketUri::parse(&format!("ws://{text}"));
        let _ = WebSocketUri::parse(&format!("wss://[{grammar}]:{text}"));
    }

    #[test]
    fn splitting_never_changes_the_result(
        extra in proptest::collection::vec(("[A-Za-z-]{1,8}", "[!-~]{1,30}"), 0..10),
        leftover in proptest::collection::vec(any::<u8>(), 0..64),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let head = head_with(&extra);
        let (whole, _) = Request::parse(&head, &Config::default()).unwrap().unwrap();
        let mut input = head.clone();
        input.extend_from_slice(&leftover);
        let (result, rest) = feed_in_pieces(&input, &cuts);
        prop_assert_eq!(result, format!("{whole:?}"));
        prop_assert_eq!(rest, leftover);
    }

    #[test]
    fn slow_heads_cost_linear_work(padding in 0usize..8000, chunk in 1usize..16) {
        let config = Config::default();
        let head = head_with(&[("Pad".into(), "p".repeat(padding.min(8192 - 200)))]);
        prop_assume!(head.len() <= config.max_head_size());
        let mut parser = RequestParser::new(config);
        let mut done = false;
        for piece in head.chunks(chunk) {
            if parser.feed(piece).unwrap().is_some() {
                done = true;
            }
        }
        prop_assert!(done);
        // Every byte scanned once for the end of the head, then one parse of the whole head.
        prop_assert_eq!(parser.work(), 2 * head.len() as u64);
    }

    #[test]
    fn endless_heads_cost_at_most_the_limit(byte in any::<u8>().prop_filter("not a line end", |b| *b != b'\n')) {
        let config = Config::default();
        let mut parser = RequestParser::new(config);
        let mut refused = None;
        for _ in 0..(2 * config.max_head_size()) {
            if let Err(error) = parser.feed(&[byte]) {
                refused = Some(error);
                break;
            }
        }
        prop_assert_eq!(refused, Some(HandshakeError::HeadTooLarge { limit: config.max_head_size() }));
        prop_assert!(parser.work() <= config.max_head_size() as u64);
    }

    #[test]
    fn extensions_round_trip_through_display(
        list in proptest::collection::vec((TOKEN, proptest::collection::vec((TOKEN, proptest::option::of(TOKEN)), 0..4)), 1..5)
    ) {
        let text: Vec<String> = list
            .iter()
            .map(|(name, params)| {
                let mut s = name.clone();
                for (param, value) in params {
                    s.push_str(&format!("; {param}"));
                    if let Some(value) = value {
                        s.push_str(&format!("=\"{value}\""));
                    }
                }
                s
            })
            .collect();
        let joined = text.join(", ");
        let parsed = Extension::parse_list(&joined).unwrap();
        prop_assert_eq!(parsed.len(), list.len());
        for (extension, (name, params)) in parsed.iter().zip(&list) {
            prop_assert_eq!(extension.name(), name.as_str());
            let got: Vec<(&str, Option<String>)> =
                extension.params().map(|p| (p.name(), p.value().map(String::from))).collect();
            let want: Vec<(&str, Option<String>)> = params.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
            prop_assert_eq!(got, want);
            let shown = extension.to_string();
            prop_assert_eq!(&Extension::parse_list(&shown).unwrap()[0], extension);
        }
    }

    #[test]
    fn an_owned_request_reads_as_the_borrowed_one(
        absolute in any::<bool>(),
        path in "(/[a-z0-9._~-]{0,6}){0,3}",
        query in proptest::option::of("[a-z0-9=&]{0,8}"),
        host in "[a-z]{1,8}(:[0-9]{1,4})?",
        origin in proptest::option::of("https?://[a-z]{1,8}"),
        subprotocols in proptest::collection::vec(TOKEN, 0..4),
        extensions in proptest::collection::vec(
            (TOKEN, proptest::collection::vec((TOKEN, proptest::option::of((TOKEN, any::<bool>()))), 0..3)),
            0..4,
        ),
        split in any::<usize>(),
        extra in proptest::collection::vec(("[A-Za-z]{1,8}", "[!-~]([ -~]{0,10}[!-~])?"), 0..4),
    ) {
        let resource = format!("{path}{}", query.as_deref().map(|q| format!("?{q}")).unwrap_or_default());
        let target = match absolute {
            true => format!("ws://{host}{resource}"),
            false if resource.starts_with('/') => resource,
            false => format!("/{resource}"),
        };
        let mut head = format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        );
        if let Some(origin) = &origin {
            head.push_str(&format!("Origin: {origin}\r\n"));
        }
        // Each list in one or two header lines, cut at `split`.
        let mut lines = |name: &str, items: Vec<String>| {
            let cut = if items.is_empty() { 0 } else { split % (items.len() + 1) };
            for part in [&items[..cut], &items[cut..]] {
                if !part.is_empty() {
                    head.push_str(&format!("{name}: {}\r\n", part.join(", ")));
                }
            }
        };
        lines("Sec-WebSocket-Protocol", subprotocols.clone());
        let elements = extensions
            .iter()
            .map(|(name, params)| {
                let mut element = name.clone();
                for (param, value) in params {
                    element.push_str(&format!("; {param}"));
                    match value {
                        Some((value, true)) => element.push_str(&format!("=\"{value}\"")),
                        Some((value, false)) => element.push_str(&format!("={value}")),
                        None => {}
                    }
                }
                element
            })
            .collect();
        lines("Sec-WebSocket-Extensions", elements);
        for (name, value) in &extra {
            head.push_str(&format!("X-{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let (request, _) = Request::parse(head.as_bytes(), &Config::default()).unwrap().unwrap();
        prop_assert_eq!(request.subprotocols(), subprotocols.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert_eq!(request.extensions().len(), extensions.len());
        prop_assert_eq!(request.origin(), origin.as_deref());
        assert_owned_reads_alike(&request, &request.clone().into_owned());
    }

    #[test]
    fn client_and_server_negotiate_any_offered_subprotocol(
        offered in proptest::collection::btree_set(TOKEN, 1..6),
        pick in any::<usize>(),
        nonce in any::<[u8; 16]>(),
    ) {
        let offered: Vec<String> = offered.into_iter().collect();
        let mut request = ClientRequest::new("ws://h/", WebSocketKey::from_bytes(nonce)).unwrap();
        for p in &offered {
            request = request.with_subprotocol(p);
        }
        let mut wire = Vec::new();
        let handshake = request.write(&mut wire).unwrap();
        let (offer, _) = Request::parse(&wire, &Config::default()).unwrap().unwrap();
        prop_assert_eq!(offer.subprotocols(), offered.iter().map(String::as_str).collect::<Vec<_>>());
        let chosen = offered[pick % offered.len()].as_str();
        let mut answer = Vec::new();
        offer.accept(&Accept::new().with_subprotocol(chosen)).unwrap().write(&mut answer).unwrap();
        let (response, _) = Response::parse(&answer, &Config::default()).unwrap().unwrap();
        prop_assert_eq!(handshake.verify(&response).unwrap().subprotocol(), Some(chosen));
    }
}

/// The figure the issue asks for: an 8 KiB head arriving one byte at a time.
#[test]
fn eight_kib_one_byte_at_a_time_is_linear() {
    let config = Config::default();
    let base = head_with(&[]).len();
    // "X-Pad: " + padding + "\r\n" makes the head exactly 8 KiB.
    let head = head_with(&[("Pad".into(), "p".repeat(8192 - base - 9))]);
    assert_eq!(head.len(), 8192);
    let mut parser = RequestParser::new(config);
    let mut complete_at = None;
    for (i, byte) in head.iter().enumerate() {
        if parser.feed(std::slice::from_ref(byte)).unwrap().is_some() {
            complete_at = Some(i + 1);
        }
    }
    assert_eq!(complete_at, Some(8192));
    // Re-parsing the growing buffer on every byte would examine about n²/2 = 33.5 million
    // bytes; we examine 2n.
    assert_eq!(parser.work(), 2 * 8192);
}

/// An extended CONNECT (RFC 8441) kept past its header block reads as it did: no key, the
/// authority for a host, the fields as given.
#[test]
fn an_owned_extended_connect_reads_as_the_borrowed_one() {
    let headers = [
        Header { name: "sec-websocket-protocol", value: b"chat, superchat" },
        Header {
            name: "sec-websocket-extensions",
            value: b"permessage-deflate; client_max_window_bits, x-y",
        },
        Header { name: "sec-websocket-version", value: b"13" },
        Header { name: "origin", value: b"https://www.example.com" },
        Header { name: "cookie", value: b"id=7" },
    ];
    let connect = ExtendedConnect {
        method: "CONNECT",
        protocol: Some("websocket"),
        path: "/chat?room=1",
        authority: Some("server.example.com"),
        headers: &headers,
    };
    let request = Request::from_extended_connect(&connect, &Config::default()).unwrap();
    let owned = request.clone().into_owned();
    assert_owned_reads_alike(&request, &owned);
    assert_eq!((owned.key(), owned.path(), owned.query()), (None, "/chat", Some("room=1")));
    assert_eq!(
        owned.extensions().map(|e| e.name().to_owned()).collect::<Vec<_>>(),
        ["permessage-deflate", "x-y"]
    );
}

/// An `Origin` need not be ASCII to be read (a browser sends an ASCII serialisation, RFC 6454
/// §6.2, but other clients may not): UTF-8 is kept as sent, anything else refused, so that a
/// server checking origins never sees one it cannot compare.
#[test]
fn an_origin_is_utf8_or_refused() {
    let head = |origin: &[u8]| {
        let mut head = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: "
            .to_vec();
        head.extend_from_slice(origin);
        head.extend_from_slice(b"\r\n\r\n");
        head
    };
    let utf8 = head("http://bücher.example".as_bytes());
    let (request, _) = Request::parse(&utf8, &Config::default()).unwrap().unwrap();
    assert_eq!(request.origin(), Some("http://bücher.example"));
    assert_eq!(
        Request::parse(&head(b"http://b\xfccher.example"), &Config::default()),
        Err(HandshakeError::InvalidHeaderValue("Origin"))
    );
}
