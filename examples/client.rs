//! A line-oriented client: sends each line of stdin as a text message and prints what comes
//! back. End stdin (Ctrl-D) to close.
//!
//! ```sh
//! cargo run --example client -- ws://127.0.0.1:9001/
//! ```

mod common;

use std::io::{BufRead, ErrorKind, Read};
use std::sync::mpsc;
use std::thread;

use rfc6455::{CloseCode, Event};

fn main() -> std::io::Result<()> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9001/".to_owned());
    let (mut stream, mut connection) = common::connect(&url, common::config_from_args())?;
    eprintln!("connected to {url}");

    // Stdin lines arrive on a channel; the socket is polled with a short read timeout so one
    // thread can serve both without locking the connection.
    let (lines_tx, lines) = mpsc::channel::<Option<String>>();
    thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = lines_tx.send(None);
    });
    stream.set_read_timeout(Some(std::time::Duration::from_millis(50)))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Ok(line) = lines.try_recv() {
            match line {
                Some(line) => common::send(&mut stream, &mut connection, |c| c.send_text(&line))?,
                None => {
                    let _ = connection.close(CloseCode::NORMAL, "");
                }
            }
        }
        while let Some(event) = connection.poll_event() {
            match event {
                Event::Text(text) => println!("{text}"),
                Event::Binary(data) => println!("<{} bytes of binary>", data.len()),
                Event::Closed(info) => {
                    eprintln!("{info}");
                    return common::finish(&mut stream, &mut connection);
                }
                _ => {}
            }
        }
        connection.write_to(&mut stream)?;
        match stream.read(&mut buf) {
            Ok(0) => connection.handle_eof(),
            Ok(n) => connection.handle_bytes(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
}
