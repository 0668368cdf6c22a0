//! End-to-end comparison of WebSocket echo servers over loopback TCP: ours (rfc6455-tokio),
//! tokio-tungstenite, fastwebsockets and tokio-websockets, driven by one load generator that
//! is the same client code for all of them. See README.md for the method.
//!
//! One binary plays three roles, so that `cargo run` builds everything the run needs:
//!
//! ```text
//! e2e                          the driver: runs every workload and prints a markdown table
//! e2e server <name>            one echo server (spawned by the driver, pinned to core 0)
//! e2e loadgen <workload> ...   one measurement (spawned by the driver, pinned to core 1)
//! ```

use std::process::ExitCode;

mod driver;
mod loadgen;
mod servers;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None => driver::run(),
        Some("server") => match args.get(1) {
            Some(name) => servers::run(name),
            None => Err(format!("usage: e2e server <name>; names: {:?}", servers::NAMES)),
        },
        Some("loadgen") => loadgen::run(&args[1..]),
        Some(_) => Err("usage: e2e | e2e server <name> | e2e loadgen <workload> ... (see README.md)".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("e2e: {message}");
            ExitCode::FAILURE
        }
    }
}
