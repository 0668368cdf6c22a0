//! A WebSocket route inside an ordinary axum application.
//!
//! axum (through hyper) parses the request; the [`WebSocketUpgrade`] extractor hands it to
//! the core, which validates it and negotiates the subprotocol the hook picks; the handler
//! returns the answer, and the echo runs once hyper hands the connection over. The route
//! takes HTTP/1.1 upgrades (`101`) and, over h2c, RFC 8441 extended CONNECTs (`200`). axum's
//! own `ws` feature stays off.
//!
//! ```sh
//! cargo run -p rfc6455-tokio --example axum_upgrade --features axum,http2 -- 127.0.0.1:3000
//! curl http://127.0.0.1:3000/            # an ordinary route of the same server
//! # In a browser console: new WebSocket("ws://127.0.0.1:3000/ws", ["echo.v1"]).protocol
//! ```

use axum::Router;
use axum::response::Response;
use axum::routing::{any, get};
use rfc6455_tokio::{Decision, Message, Options, WebSocketUpgrade};

/// The subprotocols this route speaks (the client's order of preference decides among them).
const SUBPROTOCOLS: &[&str] = &["echo.v2", "echo.v1"];

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let app = Router::new()
        .route("/", get(|| async { "An ordinary route. The WebSocket is at /ws.\n" }))
        // `any`, not `get`: over HTTP/2 the upgrade is a CONNECT (RFC 8441 §4).
        .route("/ws", any(websocket));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("axum_upgrade: http://{0}/ and ws://{0}/ws", listener.local_addr()?);
    axum::serve(listener, app).await
}

/// The WebSocket route: the first of the client's subprotocols that we speak (none in
/// common: no `Sec-WebSocket-Protocol` in the answer), then an echo.
async fn websocket(upgrade: WebSocketUpgrade) -> Response {
    let options = Options::default()
        .on_request(|request| Decision::accept().with_subprotocol_from(request, SUBPROTOCOLS));
    upgrade.options(options).on_upgrade(|mut ws| async move {
        let protocol = ws.subprotocol().unwrap_or("none").to_owned();
        eprintln!("connected, subprotocol {protocol}");
        while let Some(message) = ws.recv().await {
            match message {
                Ok(message) if message.is_data() => {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
                Ok(Message::Close(frame)) => eprintln!("closed by the client: {frame:?}"),
                Ok(_) => {}
                Err(error) => eprintln!("ended: {error}"),
            }
        }
    })
}
