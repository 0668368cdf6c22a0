//! The client side of Autobahn|Testsuite (`wstest -m fuzzingserver`): asks for the case count,
//! runs every case echoing what the server sends, then asks the server to write its reports.
//!
//! ```sh
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001 rfc6455 [--no-deflate]
//! ```
//!
//! It offers permessage-deflate on every connection unless `--no-deflate` is given.

mod common;

use rfc6455::OwnedEvent;
use rfc6455::connection::Config;

fn main() -> std::io::Result<()> {
    let mut args = common::positional_args().into_iter();
    let config = common::config_from_args();
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let agent = args.next().unwrap_or_else(|| "rfc6455".to_owned());

    let count = case_count(&base)?;
    eprintln!("autobahn_client: {count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        let result = common::connect(&url, config.clone()).and_then(|(mut stream, mut connection)| {
            common::drive(&mut stream, &mut connection, common::echo)
        });
        if let Err(error) = result {
            eprintln!("case {case}: {error}");
        }
    }
    let (mut stream, mut connection) =
        common::connect(&format!("{base}/updateReports?agent={agent}"), Config::default())?;
    common::drive(&mut stream, &mut connection, |_, _, _| Ok(()))?;
    eprintln!("autobahn_client: reports updated");
    Ok(())
}

fn case_count(base: &str) -> std::io::Result<u32> {
    let (mut stream, mut connection) = common::connect(&format!("{base}/getCaseCount"), Config::default())?;
    let mut count = None;
    common::drive(&mut stream, &mut connection, |_, _, event| {
        if let OwnedEvent::Text(text) = event {
            count = text.trim().parse().ok();
        }
        Ok(())
    })?;
    count.ok_or_else(|| std::io::Error::other("no case count"))
}
