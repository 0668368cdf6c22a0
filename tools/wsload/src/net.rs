//! Client connections over loopback from several source addresses, so that connection churn
//! does not run out of ephemeral ports on one address.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicUsize, Ordering};

use rfc6455_tokio::{Options, WebSocket};
use tokio::net::{TcpSocket, TcpStream};

/// How many source addresses the clients spread over: 127.0.0.2 to 127.0.0.17.
pub const SOURCE_ADDRESSES: u8 = 16;

static NEXT_SOURCE: AtomicUsize = AtomicUsize::new(0);

/// The next source address, round robin over 127.0.0.2..=127.0.0.(1 + SOURCE_ADDRESSES).
pub fn next_source() -> Ipv4Addr {
    let n = NEXT_SOURCE.fetch_add(1, Ordering::Relaxed) % usize::from(SOURCE_ADDRESSES);
    Ipv4Addr::new(127, 0, 0, 2 + n as u8)
}

/// A TCP connection to `server` from the next source address, `TCP_NODELAY` on.
pub async fn connect_tcp(server: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::V4(SocketAddrV4::new(next_source(), 0)))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A WebSocket to `server` (URL `url`) with `options`, over [`connect_tcp`].
pub async fn connect_ws(
    server: SocketAddr,
    url: &str,
    options: Options,
) -> Result<WebSocket<TcpStream>, rfc6455_tokio::Error> {
    let stream = connect_tcp(server).await?;
    rfc6455_tokio::client(stream, url, options).await
}

/// The socket address and path of a `ws://host:port/path` URL on loopback.
pub fn parse_ws_url(url: &str) -> Result<SocketAddr, String> {
    let rest = url.strip_prefix("ws://").ok_or_else(|| format!("{url}: only ws:// URLs"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let addr: SocketAddr = authority.parse().map_err(|_| format!("{url}: want ws://IP:PORT/..."))?;
    if !addr.ip().is_loopback() {
        return Err(format!("{url}: only loopback addresses"));
    }
    Ok(addr)
}
