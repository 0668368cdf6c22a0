//! An echo server over std::net, a thread per connection: every message comes back with its
//! type. Non-WebSocket requests get a proper HTTP error.
//!
//! ```sh
//! cargo run --release --example echo_server -- 127.0.0.1:9001 [--no-deflate]
//! ```
//!
//! permessage-deflate is negotiated with clients that offer it unless `--no-deflate` is given.

mod common;

use std::net::TcpListener;
use std::thread;

fn main() -> std::io::Result<()> {
    let addr = common::positional_args().into_iter().next().unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let config = common::config_from_args();
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
            let (mut connection, path) = match common::accept(&mut stream, config) {
                Ok(Some(upgraded)) => upgraded,
                Ok(None) => {
                    eprintln!("[{id}] {peer}: not a WebSocket request, answered with an HTTP error");
                    return;
                }
                Err(error) => {
                    eprintln!("[{id}] {peer}: handshake I/O error: {error}");
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
