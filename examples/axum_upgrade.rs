//! A WebSocket route inside an ordinary axum application (needs the `http` feature).
//!
//! axum (through hyper) parses the request; the crate validates it from the `http` types and
//! negotiates a subprotocol; the handler returns the crate's `101` as an axum response; hyper
//! sends it and hands over the connection (`hyper::upgrade::on`); from then on the same drive
//! loop as `examples/tokio_echo.rs` echoes every message. No WebSocket code of axum's or
//! hyper's is involved: axum's `ws` feature stays off.
//!
//! ```sh
//! cargo run --example axum_upgrade --features http -- 127.0.0.1:3000
//! curl http://127.0.0.1:3000/            # an ordinary route of the same server
//! # In a browser console: new WebSocket("ws://127.0.0.1:3000/ws", ["echo.v1"]).protocol
//! ```

#[allow(dead_code)] // Its `main` is the other example's; this one uses its functions.
#[path = "tokio_echo.rs"]
mod tokio_echo;

use std::io;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use rfc6455::handshake::{self, Accept, Reject};

/// The subprotocols this route speaks (the client's order of preference decides among them).
const SUBPROTOCOLS: &[&str] = &["echo.v2", "echo.v1"];

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let app = Router::new()
        .route("/", get(|| async { "An ordinary route. The WebSocket is at /ws.\n" }))
        .route("/ws", get(websocket));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("axum_upgrade: http://{0}/ and ws://{0}/ws", listener.local_addr()?);
    axum::serve(listener, app).await
}

/// The WebSocket route: answer the handshake, then take the connection over from hyper.
async fn websocket(mut request: Request) -> Response {
    // 1. Validate and negotiate with the crate, from the request axum parsed: a 101 and its connection.
    let (response, connection) = match handshake::Request::from_http(&request, &handshake::Config::default())
    {
        Ok(upgrade) => {
            // The first of the client's offers that we speak (the client's preference
            // wins, §4.2.2); none in common means no `Sec-WebSocket-Protocol` in the answer.
            let accept = Accept::new().with_subprotocol(upgrade.select_subprotocol(SUBPROTOCOLS));
            // hyper replays any bytes it read past the head through the upgraded I/O: none to feed.
            let upgraded = upgrade
                .upgrade(&accept, tokio_echo::config(), &[])
                .and_then(|(response, connection)| Ok((response.to_http()?, connection)));
            match upgraded {
                Ok(upgraded) => upgraded,
                Err(error) => return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
            }
        }
        // Not a valid upgrade: the status (and `Allow`, `Sec-WebSocket-Version`) the
        // error calls for, with the reason as the body.
        Err(error) => {
            let reject = Reject::for_error(&error);
            return match reject.to_http() {
                Ok(response) => response.map(|()| Body::from(format!("{error}\n"))),
                Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
            };
        }
    };

    // 2. hyper resolves this once our 101 is on the wire; the bytes after it are frames.
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let io = match upgrade.await {
            Ok(upgraded) => TokioIo::new(upgraded),
            Err(error) => return eprintln!("upgrade failed: {error}"),
        };
        let protocol = connection.subprotocol().unwrap_or("none").to_owned();
        eprintln!("connected, subprotocol {protocol}");
        match tokio_echo::echo(io, connection).await {
            Ok(info) => eprintln!("{info}, subprotocol {protocol}"),
            Err(error) => eprintln!("I/O error: {error}"),
        }
    });

    // 3. Return the 101; axum sends it like any other response.
    response.map(|()| Body::empty())
}
