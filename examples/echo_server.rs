//! An echo server over std::net, a thread per connection: every message comes back with its
//! type. Non-WebSocket requests get a proper HTTP error.
//!
//! ```sh
//! cargo run --release --example echo_server -- 127.0.0.1:9001 [--no-deflate]
//!     [--ping-interval SECS] [--pong-timeout SECS] [--close-timeout SECS]
//!     [--handshake-timeout SECS] [--max-pending-output BYTES]
//! ```
//!
//! permessage-deflate is negotiated with clients that offer it unless `--no-deflate` is given.
//!
//! Each thread blocks in its socket, but never for longer than the connection's next timer
//! deadline, so a peer that goes silent, freezes or stops reading does not hold its thread
//! forever: a Ping goes out after `--ping-interval` (default 20 s) without input, and the
//! peer is given up on when nothing arrives within `--pong-timeout` (default 20 s) after it.
//! `--close-timeout` (default 10 s) bounds the wait for the peer's Close after ours. A
//! request head that has not arrived within `--handshake-timeout` (default 10 s) is answered
//! `408`. `0` turns a timer off. `--max-pending-output` is the bound on output waiting for a
//! slow reader (default the core's 1 MiB).

mod common;

use std::io;
use std::net::TcpListener;
use std::thread;

fn main() -> io::Result<()> {
    let addr = common::positional_args().into_iter().next().unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let mut config = common::config_from_args().timeouts(common::server_timeouts_from_args()?);
    if let Some(bytes) = common::flag_value("--max-pending-output") {
        let bytes = bytes.parse().map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("--max-pending-output takes bytes: {bytes}"))
        })?;
        config = config.max_pending_output(bytes);
    }
    let handshake_timeout = common::handshake_timeout_from_args()?;
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo_server: listening on ws://{}", listener.local_addr()?);
    for (id, stream) in listener.incoming().enumerate() {
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                eprintln!("accept failed: {error}");
                continue;
            }
        };
        let config = config.clone();
        thread::spawn(move || {
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            let _ = stream.set_nodelay(true);
            let (mut connection, path) = match common::accept(&mut stream, config, handshake_timeout) {
                Ok(Some(upgraded)) => upgraded,
                Ok(None) => {
                    eprintln!("[{id}] {peer}: not a WebSocket request, answered with an HTTP error");
                    return;
                }
                Err(error) => {
                    eprintln!("[{id}] {peer}: handshake failed: {error}");
                    return;
                }
            };
            eprintln!("[{id}] {peer}: connected, path {path}");
            match common::drive(&mut stream, &mut connection, common::echo) {
                Ok(info) => eprintln!("[{id}] {peer}: {info}"),
                Err(error) => eprintln!("[{id}] {peer}: I/O error: {error}"),
            }
        });
    }
    Ok(())
}
