//! Clients that misbehave above the network, written on the core directly: the opening
//! handshake by hand, so that the socket stays ours afterwards (the one that never reads),
//! and the request bytes alone (the one whose handshake trickles).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use rfc6455::connection::{Config, Connection};
use rfc6455::handshake::{ClientRequest, WebSocketKey, WebSocketUri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An opening handshake's request for `ws://addr/`.
pub fn request(addr: SocketAddr) -> io::Result<Vec<u8>> {
    let url = format!("ws://{addr}/");
    let uri = WebSocketUri::parse(&url).map_err(io::Error::other)?;
    let mut out = Vec::new();
    ClientRequest::from_uri(uri, WebSocketKey::random()).write(&mut out).map_err(io::Error::other)?;
    Ok(out)
}

/// Performs the client's opening handshake on `stream` (within `within`) and returns the
/// connection, primed with any bytes that followed the response.
pub async fn handshake(stream: &mut TcpStream, addr: SocketAddr, within: Duration) -> io::Result<Connection> {
    let url = format!("ws://{addr}/");
    let uri = WebSocketUri::parse(&url).map_err(io::Error::other)?;
    let mut out = Vec::new();
    let handshake =
        ClientRequest::from_uri(uri, WebSocketKey::random()).write(&mut out).map_err(io::Error::other)?;
    let run = async {
        stream.write_all(&out).await?;
        let mut parser = handshake.parser();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed during the handshake"));
            }
            if let Some((response, used)) = parser.feed(&buf[..n]).map_err(io::Error::other)? {
                return handshake
                    .into_connection(&response, Config::default(), &buf[used..n])
                    .map_err(io::Error::other);
            }
        }
    };
    tokio::time::timeout(within, run)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "handshake"))?
}

/// Reads everything the peer sends until it ends the stream (or `within` passes, or 64 KiB
/// arrived): a refused handshake's whole answer.
pub async fn read_to_end(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(within, async {
        while got.len() < 64 * 1024 {
            match stream.read(&mut buf).await {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
    })
    .await;
    got
}
