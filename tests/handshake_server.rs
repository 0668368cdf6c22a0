//! The server's side of the opening handshake (RFC 6455 §4.2): requests as real clients send
//! them, every rejection with its status, limits, and bytes that arrive in pieces.

use rfc6455::UsageError;
use rfc6455::handshake::{Accept, Config, HandshakeError, MalformedHead, Reject, Request, RequestParser};

/// Request heads captured from common clients (keys and hosts varied), each followed by the
/// accept value its key calls for.
const CORPUS: &[(&str, &[u8], &str)] = &[
    (
        "chromium",
        b"GET /chat HTTP/1.1\r\n\
          Host: localhost:8080\r\n\
          Connection: Upgrade\r\n\
          Pragma: no-cache\r\n\
          Cache-Control: no-cache\r\n\
          User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n\
          Upgrade: websocket\r\n\
          Origin: http://localhost:8080\r\n\
          Sec-WebSocket-Version: 13\r\n\
          Accept-Encoding: gzip, deflate, br\r\n\
          Accept-Language: en-US,en;q=0.9\r\n\
          Cookie: session=abc123; theme=dark\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
          Sec-WebSocket-Protocol: chat, superchat\r\n\
          \r\n",
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    ),
    (
        "firefox",
        b"GET /chat HTTP/1.1\r\n\
          Host: localhost:8080\r\n\
          User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n\
          Accept: */*\r\n\
          Accept-Language: en-US,en;q=0.5\r\n\
          Accept-Encoding: gzip, deflate, br\r\n\
          Sec-WebSocket-Version: 13\r\n\
          Origin: http://localhost:8080\r\n\
          Sec-WebSocket-Protocol: chat\r\n\
          Sec-WebSocket-Extensions: permessage-deflate\r\n\
          Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
          Connection: keep-alive, Upgrade\r\n\
          Sec-Fetch-Dest: empty\r\n\
          Sec-Fetch-Mode: websocket\r\n\
          Sec-Fetch-Site: same-origin\r\n\
          Pragma: no-cache\r\n\
          Cache-Control: no-cache\r\n\
          Upgrade: websocket\r\n\
          \r\n",
        "HSmrc0sMlYUkAGmm5OPpG2HaGWk=",
    ),
    (
        "safari",
        b"GET /chat HTTP/1.1\r\n\
          Host: localhost:8080\r\n\
          Sec-WebSocket-Extensions: permessage-deflate\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\
          Upgrade: websocket\r\n\
          Origin: http://localhost:8080\r\n\
          Pragma: no-cache\r\n\
          Cache-Control: no-cache\r\n\
          Connection: Upgrade\r\n\
          Sec-WebSocket-Protocol: chat\r\n\
          User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15\r\n\
          Accept-Language: en-US,en;q=0.9\r\n\
          Accept-Encoding: gzip, deflate\r\n\
          \r\n",
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    ),
    (
        "curl",
        b"GET /chat HTTP/1.1\r\n\
          Host: localhost:8080\r\n\
          User-Agent: curl/8.5.0\r\n\
          Accept: */*\r\n\
          Upgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
          Connection: Upgrade\r\n\
          \r\n",
        "HSmrc0sMlYUkAGmm5OPpG2HaGWk=",
    ),
    (
        "python-websockets",
        b"GET /chat HTTP/1.1\r\n\
          Host: localhost:8080\r\n\
          Upgrade: websocket\r\n\
          Connection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
          Sec-WebSocket-Protocol: chat\r\n\
          User-Agent: Python/3.12 websockets/12.0\r\n\
          \r\n",
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    ),
];

fn parse(head: &[u8]) -> Result<Request<'_>, HandshakeError> {
    match Request::parse(head, &Config::default())? {
        Some((request, used)) => {
            assert_eq!(used, head.len());
            Ok(request)
        }
        None => panic!("head incomplete"),
    }
}

/// A valid request with `remove` dropped and `extra` appended to the headers.
fn request_with(remove: &[&str], extra: &str) -> Vec<u8> {
    let base = [
        "Host: example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ];
    let mut head = String::from("GET /chat HTTP/1.1\r\n");
    for line in base {
        if !remove.iter().any(|r| line.starts_with(&format!("{r}:"))) {
            head.push_str(line);
            head.push_str("\r\n");
        }
    }
    head.push_str(extra);
    head.push_str("\r\n");
    head.into_bytes()
}

fn accept_bytes(request: &Request<'_>, accept: &Accept<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    request.accept(accept).unwrap().write(&mut out).unwrap();
    out
}

#[test]
fn rfc_vector() {
    let head = request_with(&[], "");
    let request = parse(&head).unwrap();
    assert_eq!(request.accept_key().unwrap().as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn real_clients_are_accepted() {
    for &(client, head, accept) in CORPUS {
        let request = parse(head).unwrap_or_else(|e| panic!("{client}: {e}"));
        assert_eq!(request.path(), "/chat", "{client}");
        assert_eq!(request.host(), "localhost:8080", "{client}");
        assert_eq!(request.accept_key().unwrap().as_str(), accept, "{client}");
        let chosen = request.select_subprotocol(&["chat"]);
        let out = accept_bytes(&request, &Accept::new().with_subprotocol(chosen));
        let mut expected = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n"
        );
        if chosen.is_some() {
            expected.push_str("Sec-WebSocket-Protocol: chat\r\n");
        }
        expected.push_str("\r\n");
        assert_eq!(String::from_utf8(out).unwrap(), expected, "{client}");
    }
}

#[test]
fn what_the_caller_sees() {
    let (_, chromium, _) = CORPUS[0];
    let request = parse(chromium).unwrap();
    assert_eq!(request.origin(), Some("http://localhost:8080"));
    assert_eq!(request.subprotocols(), ["chat", "superchat"]);
    assert_eq!(request.extensions().len(), 1);
    assert_eq!(request.extensions()[0].name(), "permessage-deflate");
    assert_eq!(request.extensions()[0].params().next().unwrap().name(), "client_max_window_bits");
    assert_eq!(request.header("COOKIE"), Some(&b"session=abc123; theme=dark"[..]));
    assert_eq!(request.header("user-agent").map(|v| v.starts_with(b"Mozilla")), Some(true));
    assert_eq!(request.headers().count(), 14);

    let (_, curl, _) = CORPUS[3];
    let request = parse(curl).unwrap();
    assert_eq!(request.origin(), None);
    assert!(request.subprotocols().is_empty());
    assert!(request.extensions().is_empty());
}

#[test]
fn query_and_absolute_targets() {
    let head = b"GET /chat?room=1&x=%20 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let request = parse(head).unwrap();
    assert_eq!(
        (request.target(), request.path(), request.query()),
        ("/chat?room=1&x=%20", "/chat", Some("room=1&x=%20"))
    );
    let head =
        b"GET http://h:8080/chat HTTP/1.1\r\nHost: h:8080\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert_eq!(parse(head).unwrap().path(), "/chat");
}

#[test]
fn tolerated_variations() {
    // Lowercase names, odd token case, bare LF line endings, tabs and spaces around values,
    // HTTP/1.1 list syntax with empty elements.
    let head = b"GET / HTTP/1.1\nhost: h\nupgrade: WebSocket\nconnection: keep-alive, , UPGRADE\n\
        sec-websocket-key:\t dGhlIHNhbXBsZSBub25jZQ== \t\nsec-websocket-version: 13\n\
        sec-websocket-protocol: a,,b\nsec-websocket-protocol: c\n\n";
    let request = parse(head).unwrap();
    assert_eq!(request.key(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(request.subprotocols(), ["a", "b", "c"]);
    // Upgrade listing other protocols too; Connection split over two headers.
    let head = request_with(
        &["Upgrade", "Connection"],
        "Upgrade: h2c, websocket\r\nConnection: keep-alive\r\nConnection: Upgrade\r\n",
    );
    assert!(parse(&head).is_ok());
    // The RFC's own §4.1 example key has trailing bits set.
    let head = request_with(&["Sec-WebSocket-Key"], "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEC==\r\n");
    assert!(parse(&head).is_ok());
}

#[test]
fn every_rejection_with_its_status() {
    let cases: &[(Vec<u8>, HandshakeError, u16)] = &[
        (b"POST /chat HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(), HandshakeError::MethodNotAllowed, 405),
        (b"get /chat HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(), HandshakeError::MethodNotAllowed, 405),
        (b"GET /chat HTTP/1.0\r\nHost: h\r\n\r\n".to_vec(), HandshakeError::UnsupportedHttpVersion, 400),
        (b"GET * HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(), HandshakeError::InvalidTarget, 400),
        (
            b"GET /chat HTTP/2.0\r\nHost: h\r\n\r\n".to_vec(),
            HandshakeError::MalformedHead(MalformedHead::Version),
            400,
        ),
        (
            b"GET /chat HTTP/1.1\r\nBad Header: x\r\n\r\n".to_vec(),
            HandshakeError::MalformedHead(MalformedHead::HeaderName),
            400,
        ),
        (b"\r\n\r\n".to_vec(), HandshakeError::MalformedHead(MalformedHead::IncompleteHead), 400),
        (request_with(&["Host"], ""), HandshakeError::MissingHost, 400),
        (request_with(&["Host"], "Host: \r\n"), HandshakeError::MissingHost, 400),
        (request_with(&[], "Host: other\r\n"), HandshakeError::DuplicateHeader("Host"), 400),
        (request_with(&["Host"], "Host: a b\r\n"), HandshakeError::InvalidHeaderValue("Host"), 400),
        (request_with(&["Upgrade"], ""), HandshakeError::MissingUpgradeWebSocket, 400),
        (request_with(&["Upgrade"], "Upgrade: h2c\r\n"), HandshakeError::MissingUpgradeWebSocket, 400),
        (
            request_with(&["Upgrade"], "Upgrade: websocket/13\r\n"),
            HandshakeError::MissingUpgradeWebSocket,
            400,
        ),
        (request_with(&["Connection"], ""), HandshakeError::MissingConnectionUpgrade, 400),
        (
            request_with(&["Connection"], "Connection: keep-alive\r\n"),
            HandshakeError::MissingConnectionUpgrade,
            400,
        ),
        (
            request_with(&["Connection"], "Connection: upgraded\r\n"),
            HandshakeError::MissingConnectionUpgrade,
            400,
        ),
        (request_with(&["Sec-WebSocket-Key"], ""), HandshakeError::MissingKey, 400),
        (
            request_with(&[], "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"),
            HandshakeError::DuplicateHeader("Sec-WebSocket-Key"),
            400,
        ),
        (
            request_with(&["Sec-WebSocket-Key"], "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4P\r\n"),
            HandshakeError::InvalidKey,
            400,
        ),
        (
            request_with(&["Sec-WebSocket-Key"], "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEBE=\r\n"),
            HandshakeError::InvalidKey,
            400,
        ),
        (
            request_with(&["Sec-WebSocket-Key"], "Sec-WebSocket-Key: not base64 at all!!!!!!!\r\n"),
            HandshakeError::InvalidKey,
            400,
        ),
        (request_with(&["Sec-WebSocket-Version"], ""), HandshakeError::MissingVersion, 400),
        (
            request_with(&["Sec-WebSocket-Version"], "Sec-WebSocket-Version: 8\r\n"),
            HandshakeError::UnsupportedVersion,
            426,
        ),
        (
            request_with(&["Sec-WebSocket-Version"], "Sec-WebSocket-Version: 14\r\n"),
            HandshakeError::UnsupportedVersion,
            426,
        ),
        (
            request_with(&[], "Origin: http://a\r\nOrigin: http://b\r\n"),
            HandshakeError::DuplicateHeader("Origin"),
            400,
        ),
        (
            request_with(&[], "Sec-WebSocket-Protocol: chat, super chat\r\n"),
            HandshakeError::InvalidSubprotocol,
            400,
        ),
        (request_with(&[], "Sec-WebSocket-Protocol: a/b\r\n"), HandshakeError::InvalidSubprotocol, 400),
        (
            request_with(&[], "Sec-WebSocket-Extensions: permessage-deflate;\r\n"),
            HandshakeError::InvalidExtensions,
            400,
        ),
        (
            request_with(&[], "Sec-WebSocket-Extensions: a; b=\"1 2\"\r\n"),
            HandshakeError::InvalidExtensions,
            400,
        ),
    ];
    for (head, error, status) in cases {
        let text = String::from_utf8_lossy(head);
        assert_eq!(parse(head).as_ref().map(|_| ()), Err(error), "{text}");
        assert_eq!(error.status(), *status, "{text}");
        let mut out = Vec::new();
        Reject::for_error(error).write(&mut out).unwrap();
        assert!(out.starts_with(format!("HTTP/1.1 {status} ").as_bytes()), "{text}");
    }
}

#[test]
fn non_utf8_origin_is_refused() {
    let mut head = request_with(&[], "");
    head.truncate(head.len() - 2);
    head.extend_from_slice(b"Origin: http://caf\xe9.example\r\n\r\n");
    assert_eq!(parse(&head).map(|_| ()), Err(HandshakeError::InvalidHeaderValue("Origin")));
}

#[test]
fn rejections_carry_the_required_headers() {
    let mut out = Vec::new();
    Reject::for_error(&HandshakeError::UnsupportedVersion).write(&mut out).unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    out.clear();
    Reject::for_error(&HandshakeError::MethodNotAllowed).write(&mut out).unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    out.clear();
    Reject::for_error(&HandshakeError::TooManyHeaders { limit: 64 }).write(&mut out).unwrap();
    assert!(out.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
}

#[test]
fn caller_refuses_an_origin() {
    let request_bytes = request_with(&[], "Origin: https://evil.example\r\n");
    let request = parse(&request_bytes).unwrap();
    let mut out = Vec::new();
    if request.origin() != Some("https://good.example") {
        Reject::new(403).with_header("X-Reason", "origin").with_body(b"forbidden").write(&mut out).unwrap();
    }
    assert_eq!(
        out,
        b"HTTP/1.1 403 Forbidden\r\nX-Reason: origin\r\nContent-Length: 9\r\nConnection: close\r\n\r\nforbidden"
    );
}

#[test]
fn accept_with_extensions_and_headers() {
    let request_bytes = request_with(
        &[],
        "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_max_window_bits=\"10\"\r\n\
         Sec-WebSocket-Extensions: x-private; level=\"a\\b\", permessage-deflate\r\n",
    );
    let request = parse(&request_bytes).unwrap();
    let offers = request.extensions();
    assert_eq!(offers.len(), 3);
    assert_eq!(offers[0].param("server_max_window_bits").unwrap().value(), Some("10"));
    assert_eq!(offers[1].name(), "x-private");
    assert_eq!(offers[1].param("level").unwrap().value(), Some("ab"));
    assert_eq!(offers[2].params().count(), 0);

    // What an extension module would do: answer the first acceptable offer.
    let answer = offers
        .iter()
        .find(|o| o.is("permessage-deflate"))
        .map(|_| "permessage-deflate; server_max_window_bits=10");
    let out = accept_bytes(
        &request,
        &Accept::new().with_extension(answer).with_header("Set-Cookie", "id=1; HttpOnly"),
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n\
         Set-Cookie: id=1; HttpOnly\r\n\r\n"
    );
    assert_eq!(
        request.accept(&Accept::new().with_extension("x-unknown")),
        Err(UsageError::ExtensionNotOffered)
    );
}

#[test]
fn unoffered_subprotocol_is_a_usage_error() {
    let request_bytes = request_with(&[], "Sec-WebSocket-Protocol: chat\r\n");
    let request = parse(&request_bytes).unwrap();
    assert_eq!(
        request.accept(&Accept::new().with_subprotocol("mqtt")),
        Err(UsageError::SubprotocolNotOffered)
    );
    let request_bytes = request_with(&[], "");
    let request = parse(&request_bytes).unwrap();
    assert_eq!(
        request.accept(&Accept::new().with_subprotocol("chat")),
        Err(UsageError::SubprotocolNotOffered)
    );
}

#[test]
fn split_at_every_offset_gives_the_same_result() {
    let leftover: &[u8] = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    for &(client, head, _) in CORPUS {
        let mut input = head.to_vec();
        input.extend_from_slice(leftover);
        let expected = parse(head).unwrap();
        for split in 0..=input.len() {
            let (first, second) = input.split_at(split);
            let mut parser = RequestParser::new(Config::default());
            let first_used = parser.feed(first).unwrap().map(|(_, used)| used);
            let (request, rest) = match first_used {
                Some(used) => {
                    // Complete already: a further feed takes nothing and gives the same request.
                    let (request, none_used) = parser.feed(second).unwrap().expect("complete");
                    assert_eq!(none_used, 0);
                    (request, [&first[used..], second].concat())
                }
                None => {
                    let (request, used) = parser.feed(second).unwrap().expect("complete");
                    (request, second[used..].to_vec())
                }
            };
            assert_eq!(request, expected, "{client} split at {split}");
            assert_eq!(rest, leftover, "{client} split at {split}");
        }
    }
}

#[test]
fn byte_at_a_time_and_leftover() {
    let (_, head, _) = CORPUS[1];
    let mut input = head.to_vec();
    input.extend_from_slice(b"frames follow");
    let mut parser = RequestParser::new(Config::default());
    let mut result = None;
    for (i, byte) in input.iter().enumerate() {
        if let Some((request, used)) = parser.feed(std::slice::from_ref(byte)).unwrap() {
            assert_eq!(used, 1);
            result = Some((request.path().to_owned(), i + 1));
            break;
        }
    }
    let (path, end) = result.expect("complete");
    assert_eq!((path.as_str(), &input[end..]), ("/chat", &b"frames follow"[..]));
    // Once complete, the parser takes nothing more and gives the same request.
    let (again, used) = parser.feed(b"more").unwrap().unwrap();
    assert_eq!((again.path(), used), ("/chat", 0));
}

#[test]
fn head_size_limit() {
    let config = Config::default();
    let filler = |n: usize| format!("X-Filler: {}\r\n", "a".repeat(n));
    let base = request_with(&[], "").len();
    // Exactly 8 KiB, counting every byte up to and including the final empty line.
    let exact = request_with(&[], &filler(8192 - base - 12));
    assert_eq!(exact.len(), 8192);
    assert!(Request::parse(&exact, &config).unwrap().is_some());
    let over = request_with(&[], &filler(8192 - base - 11));
    assert_eq!(Request::parse(&over, &config).map(|_| ()), Err(HandshakeError::HeadTooLarge { limit: 8192 }));
    let mut parser = RequestParser::new(config);
    assert_eq!(parser.feed(&over).map(|_| ()), Err(HandshakeError::HeadTooLarge { limit: 8192 }));
    // A head that never ends is refused once it passes the limit, not buffered forever.
    let mut parser = RequestParser::new(config);
    let mut refused = false;
    for _ in 0..100 {
        match parser.feed(&[b'a'; 1000]) {
            Ok(None) => {}
            Err(error) => {
                assert_eq!(error.status(), 431);
                refused = true;
                break;
            }
            Ok(Some(_)) => panic!("no head here"),
        }
    }
    assert!(refused);
    // A smaller limit is honoured.
    let small = Config::new().with_max_head_size(64);
    assert_eq!(Request::parse(&exact, &small).map(|_| ()), Err(HandshakeError::HeadTooLarge { limit: 64 }));
}

#[test]
fn header_count_limit() {
    let extra = |n: usize| (0..n).map(|i| format!("X-{i}: v\r\n")).collect::<String>();
    let at_limit = request_with(&[], &extra(64 - 5));
    assert!(Request::parse(&at_limit, &Config::default()).is_ok());
    let over = request_with(&[], &extra(64 - 4));
    let error = Request::parse(&over, &Config::default()).unwrap_err();
    assert_eq!(error, HandshakeError::TooManyHeaders { limit: 64 });
    assert_eq!(error.status(), 431);
    let few = Config::new().with_max_headers(5);
    assert!(Request::parse(&request_with(&[], ""), &few).is_ok());
    assert_eq!(
        Request::parse(&request_with(&[], "A: b\r\n"), &few).map(|_| ()),
        Err(HandshakeError::TooManyHeaders { limit: 5 })
    );
}

#[test]
fn incomplete_heads_are_not_errors() {
    let (_, head, _) = CORPUS[0];
    for end in 0..head.len() {
        assert!(Request::parse(&head[..end], &Config::default()).unwrap().is_none(), "at {end}");
    }
}
