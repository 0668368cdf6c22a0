//! An echo server on rfc6455-tokio with its timers and bounds as flags, the adapter's side
//! of the fault scenarios:
//!
//! ```sh
//! wsfault-echo 127.0.0.1:9001 [--ping-interval S] [--pong-timeout S] [--close-timeout S]
//!     [--handshake-timeout S] [--max-pending-output BYTES] [--max-unread BYTES]
//! ```
//!
//! Defaults are the adapter's (keepalive 20 s + 20 s, close 10 s, handshake 10 s, 1 MiB
//! pending output, 1 MiB unread). Every text and binary message comes back as it came.

use std::time::Duration;

use rfc6455::connection::TimeoutConfig;
use rfc6455_tokio::Options;
use wsfault::args::Args;

const VALUE_FLAGS: [&str; 6] = [
    "--ping-interval",
    "--pong-timeout",
    "--close-timeout",
    "--handshake-timeout",
    "--max-pending-output",
    "--max-unread",
];

fn main() {
    if let Err(error) = run() {
        eprintln!("wsfault-echo: {error}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args = Args::from_env();
    let addr = args.positional(&VALUE_FLAGS).unwrap_or("127.0.0.1:9001").to_owned();
    let timeouts = TimeoutConfig::default()
        .ping_interval(args.seconds("--ping-interval", rfc6455_tokio::DEFAULT_PING_INTERVAL)?)
        .pong_timeout(args.seconds("--pong-timeout", rfc6455_tokio::DEFAULT_PONG_TIMEOUT)?)
        .close_timeout(args.seconds("--close-timeout", rfc6455_tokio::DEFAULT_CLOSE_TIMEOUT)?);
    let config = rfc6455_tokio::default_config().timeouts(timeouts).max_pending_output(
        args.parsed("--max-pending-output", rfc6455::connection::DEFAULT_MAX_PENDING_OUTPUT)?,
    );
    let handshake_timeout: Duration =
        args.seconds("--handshake-timeout", rfc6455_tokio::DEFAULT_HANDSHAKE_TIMEOUT)?;
    let max_unread = args.parsed("--max-unread", rfc6455_tokio::DEFAULT_MAX_UNREAD)?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| format!("bind {addr}: {e}"))?;
        eprintln!("wsfault-echo: listening on ws://{addr}");
        loop {
            let Ok((stream, peer)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let options = Options::default()
                .config(config.clone())
                .handshake_timeout(Some(handshake_timeout))
                .max_unread(max_unread);
            tokio::spawn(async move {
                let mut ws = match rfc6455_tokio::accept_with(stream, options).await {
                    Ok(ws) => ws,
                    Err(error) => {
                        eprintln!("{peer}: handshake failed: {error}");
                        return;
                    }
                };
                while let Some(received) = ws.recv().await {
                    match received {
                        Ok(message) if message.is_data() => {
                            if let Err(error) = ws.send(message).await {
                                eprintln!("{peer}: send failed: {error}");
                                break;
                            }
                        }
                        Ok(_) => {}
                        Err(error) => eprintln!("{peer}: {error}"),
                    }
                }
                eprintln!("{peer}: ended: {:?}", ws.close_info().map(ToString::to_string));
            });
        }
    })
}
