//! The client side of Autobahn|Testsuite (`wstest -m fuzzingserver`): asks for the case count,
//! runs every case echoing what the server sends, then asks the server to write its reports.
//!
//! ```sh
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001 rfc6455 [--no-deflate]
//! ```
//!
//! It offers permessage-deflate on every connection unless `--no-deflate` is given.

mod common;

use common::Kind;
use rfc6455::connection::{Config, MessageKind};

fn main() -> std::io::Result<()> {
    let mut args = common::positional_args().into_iter();
    let deflate = common::deflate_from_args();
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let agent = args.next().unwrap_or_else(|| "rfc6455".to_owned());

    let count = case_count(&base)?;
    eprintln!("autobahn_client: {count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(error) = run_case(&url, deflate.as_ref()) {
            eprintln!("case {case}: {error}");
        }
    }
    let (mut stream, mut connection) =
        common::connect(&format!("{base}/updateReports?agent={agent}"), Config::default(), None)?;
    common::drive(&mut stream, &mut connection, |_, _| {})?;
    eprintln!("autobahn_client: reports updated");
    Ok(())
}

fn case_count(base: &str) -> std::io::Result<u32> {
    let (mut stream, mut connection) =
        common::connect(&format!("{base}/getCaseCount"), Config::default(), None)?;
    let mut count = None;
    common::drive(&mut stream, &mut connection, |_, event| {
        if let Kind::Text = event.kind {
            count = std::str::from_utf8(event.data).ok().and_then(|s| s.trim().parse().ok());
        }
    })?;
    count.ok_or_else(|| std::io::Error::other("no case count"))
}

fn run_case(url: &str, deflate: Option<&rfc6455::deflate::DeflateConfig>) -> std::io::Result<()> {
    let (mut stream, mut connection) = common::connect(url, Config::default(), deflate)?;
    common::drive(&mut stream, &mut connection, |connection, event| {
        let _ = match event.kind {
            Kind::Text => connection.send(MessageKind::Text, event.data),
            Kind::Binary => connection.send(MessageKind::Binary, event.data),
            _ => Ok(()),
        };
    })?;
    Ok(())
}
