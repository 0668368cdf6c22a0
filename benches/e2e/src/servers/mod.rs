//! The echo servers, one module per implementation, each written the way its own crate's
//! README or examples write one: accept a TCP connection, spawn a task, do the opening
//! handshake, send every text and binary message back. Deflate is off for all of them (the
//! peers do not offer it; ours only when asked for with `rfc6455-deflate`).
//!
//! Each runs alone in its process, on a tokio `current_thread` runtime, on a listener bound to
//! `127.0.0.1:0`; the process prints `listening <address>` once it accepts connections.
//! One thing is set outside the crates, the same for all: `TCP_NODELAY` on every accepted
//! socket (`E2E_NODELAY=0` leaves Nagle's algorithm on), as WebSocket servers usually run, so
//! that a small write goes out when written instead of waiting for the client's ACK. Nothing
//! else is tuned: no `unconstrained` tasks, every crate's default limits and buffer sizes.

use std::io::Write as _;
use std::net::SocketAddr;

use tokio::net::TcpListener;

mod fastwebsockets;
mod rfc6455;
mod tokio_websockets;
mod tungstenite;

/// The server names the driver and `e2e server <name>` know, in the order the tables show.
pub const NAMES: [&str; 5] =
    ["rfc6455", "rfc6455-deflate", "tungstenite", "fastwebsockets", "tokio-websockets"];

/// Runs server `name` until the process is killed.
pub fn run(name: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async {
        // A `SocketAddr`, not a string: binding a string resolves it on a blocking thread.
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let address = listener.local_addr().map_err(|e| format!("local_addr: {e}"))?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "listening {address}").and_then(|()| stdout.flush()).map_err(|e| e.to_string())?;
        let nodelay = std::env::var("E2E_NODELAY").map_or(true, |v| v != "0");
        match name {
            "rfc6455" => rfc6455::serve(listener, nodelay).await,
            "rfc6455-deflate" => rfc6455::serve_deflate(listener, nodelay).await,
            "tungstenite" => tungstenite::serve(listener, nodelay).await,
            "fastwebsockets" => fastwebsockets::serve(listener, nodelay).await,
            "tokio-websockets" => tokio_websockets::serve(listener, nodelay).await,
            _ => return Err(format!("unknown server {name:?}; known: {NAMES:?}")),
        }
        Ok(())
    })
}
