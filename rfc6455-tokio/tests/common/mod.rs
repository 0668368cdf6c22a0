//! Shared by the scenario tests: connected pairs over an in-memory pipe and loopback TCP, a
//! server facing a raw peer, client frames, a seeded generator.
#![allow(dead_code)]

use rfc6455::Role;
use rfc6455::connection::{Config, Connection};
use rfc6455_tokio::{ClientStream, Options, WebSocket};
use tokio::io::{AsyncReadExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};

/// A server and a client that did the opening handshake over a pipe of `buffer` bytes.
pub async fn pair(
    server: Options,
    client: Options,
    buffer: usize,
) -> (WebSocket<DuplexStream>, WebSocket<DuplexStream>) {
    let (a, b) = tokio::io::duplex(buffer);
    let (server, client) =
        tokio::join!(rfc6455_tokio::accept_with(a, server), rfc6455_tokio::client(b, "ws://pipe/", client));
    (server.expect("server handshake"), client.expect("client handshake"))
}

/// A server and a client over loopback TCP.
pub async fn tcp_pair(server: Options, client: Options) -> (WebSocket<TcpStream>, WebSocket<ClientStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let accepting = async {
        let (stream, _) = listener.accept().await.unwrap();
        rfc6455_tokio::accept_with(stream, server).await
    };
    let (server, client) = tokio::join!(accepting, rfc6455_tokio::connect_with(&url, client));
    (server.expect("server handshake"), client.expect("client handshake"))
}

/// A server WebSocket (no handshake) and the raw other end of its pipe, for peers that
/// misbehave or stay silent.
pub fn server_and_raw(
    config: Config,
    options: &Options,
    buffer: usize,
) -> (WebSocket<DuplexStream>, DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(buffer);
    let conn = Connection::new(Role::Server, config);
    (WebSocket::from_connection(ours, conn, options), theirs)
}

/// A client frame, masked with the key 1, 2, 3, 4.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1u8, 2, 3, 4];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n < 65536 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// Reads exactly `n` bytes from a raw peer.
pub async fn read_exact(stream: &mut DuplexStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf).await.unwrap();
    buf
}

/// Reads a raw peer's input to its end.
pub async fn read_to_end(stream: &mut DuplexStream) -> Vec<u8> {
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    buf
}

/// A small seeded generator (xorshift64*), so runs repeat.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The payload of message `index`: its index, then filler, `len` bytes in all (at least 8).
pub fn payload(index: u64, len: usize) -> Vec<u8> {
    let mut data = index.to_be_bytes().to_vec();
    data.extend((8..len.max(8)).map(|i| (i as u64 ^ index) as u8));
    data
}

/// TLS for tests: a server config with a certificate for `localhost` made now, and client
/// options that trust that certificate alone.
#[cfg(feature = "rustls")]
pub mod tls {
    use std::sync::Arc;

    use rfc6455_tokio::Options;
    use rfc6455_tokio::rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
    use rfc6455_tokio::rustls::{ClientConfig, RootCertStore, ServerConfig, crypto::ring};

    /// A self-signed certificate for `localhost`, and a server config that presents it and
    /// offers the `alpn` protocols.
    pub fn localhost_server(alpn: &[&[u8]]) -> (CertificateDer<'static>, ServerConfig) {
        let certified = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
        let cert = certified.cert.der().clone();
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key.into())
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        (cert, config)
    }

    /// Client options whose TLS trusts `cert` alone.
    pub fn trusting(cert: CertificateDer<'static>) -> Options {
        let mut roots = RootCertStore::empty();
        roots.add(cert).unwrap();
        let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Options::default().tls_config(Arc::new(config))
    }
}
