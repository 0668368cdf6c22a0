//! Both roles of Autobahn|Testsuite through this crate, with permessage-deflate offered and
//! accepted (`scripts/autobahn.sh` runs them against `wstest`):
//!
//! ```sh
//! # the server: echoes every data message, like examples/echo.rs
//! cargo run --release -p rfc6455-tokio --example autobahn -- server 127.0.0.1:9001
//! # the client: asks `wstest -m fuzzingserver` for its cases, runs each, echoing what it
//! # is sent, then asks for the reports
//! cargo run --release -p rfc6455-tokio --example autobahn -- client ws://127.0.0.1:9001 rfc6455-tokio
//! ```
//!
//! Everything else is the crate's defaults: limits, keepalive, close timeout, lingering close.

use rfc6455::deflate::DeflateConfig;
use rfc6455_tokio::{Error, Message, Options, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["server", addr] => server(addr).await?,
        ["client", base, agent] => client(base, agent).await?,
        _ => return Err("usage: autobahn server ADDR | autobahn client WS-URL AGENT".into()),
    }
    Ok(())
}

/// The adapter's defaults with permessage-deflate negotiated (RFC 7692).
fn options() -> Options {
    Options::default().config(rfc6455_tokio::default_config().deflate(DeflateConfig::default()))
}

async fn server(addr: &str) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("autobahn server: listening on ws://{}", listener.local_addr()?);
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            if let Ok(ws) = rfc6455_tokio::accept_with(stream, options()).await {
                echo(ws).await;
            }
        });
    }
    Ok(())
}

/// Sends back every text and binary message until the connection ends.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>) {
    while let Some(Ok(message)) = ws.recv().await {
        if message.is_data() && ws.send(message).await.is_err() {
            break;
        }
    }
}

async fn client(base: &str, agent: &str) -> Result<(), Error> {
    let mut ws = rfc6455_tokio::connect_with(&format!("{base}/getCaseCount"), options()).await?;
    let mut count = 0u32;
    while let Some(message) = ws.recv().await {
        if let Message::Text(text) = message? {
            count = text.trim().parse().unwrap_or(0);
        }
    }
    eprintln!("autobahn client: {count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        match rfc6455_tokio::connect_with(&url, options()).await {
            Ok(ws) => echo(ws).await,
            Err(error) => eprintln!("case {case}: {error}"),
        }
    }
    let mut ws =
        rfc6455_tokio::connect_with(&format!("{base}/updateReports?agent={agent}"), options()).await?;
    while ws.recv().await.is_some() {}
    eprintln!("autobahn client: reports updated");
    Ok(())
}
