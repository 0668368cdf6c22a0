//! Watching the server from outside, the same way for every server: whether it still holds
//! the socket of one connection (Linux's `/proc/net/tcp`: a socket some process owns has a
//! nonzero inode; once the server closes it, it is gone or orphaned in `FIN_WAIT`/`TIME_WAIT`
//! with inode 0), and its resident memory (`VmRSS` in `/proc/PID/status`).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The process's resident memory in bytes.
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .ok_or_else(|| io::Error::other("no VmRSS in /proc/PID/status"))?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().map_err(io::Error::other)?;
    Ok(kib * 1024)
}

/// Whether a process holds an open socket of the IPv4 TCP connection `local` -> `remote`
/// (seen from the holder: `local` is its own address).
pub fn holds_socket(local: SocketAddr, remote: SocketAddr) -> io::Result<bool> {
    let (SocketAddr::V4(local), SocketAddr::V4(remote)) = (local, remote) else {
        return Err(io::Error::other("only IPv4 loopback is probed"));
    };
    let table = std::fs::read_to_string("/proc/net/tcp")?;
    Ok(table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st queues tr retrnsmt uid timeout inode ...
        fields.len() > 9
            && parse_addr(fields[1]) == Some(local)
            && parse_addr(fields[2]) == Some(remote)
            && fields[9] != "0"
    }))
}

/// Waits until the server no longer holds its socket of the connection from `peer`, polling
/// every 5 ms; returns when it was first seen released, or `None` if it still held it after
/// `within`.
pub async fn wait_released(
    server: SocketAddr,
    peer: SocketAddr,
    within: Duration,
) -> io::Result<Option<tokio::time::Instant>> {
    let start = Instant::now();
    loop {
        if !holds_socket(server, peer)? {
            return Ok(Some(tokio::time::Instant::now()));
        }
        if start.elapsed() >= within {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `/proc/net/tcp`'s `0100007F:1F91`: the address as the kernel's native-endian `u32` of the
/// network-order bytes, the port in host order, both in hex.
fn parse_addr(field: &str) -> Option<SocketAddrV4> {
    let (ip, port) = field.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?.to_ne_bytes();
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddrV4::new(Ipv4Addr::from(ip), port))
}

/// Samples a process's resident memory on a thread of its own until stopped, keeping the
/// peak.
#[derive(Debug)]
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    /// Starts sampling `pid` every `every`.
    pub fn start(pid: u32, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_bytes(pid).unwrap_or(0)));
        let thread = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(rss) = rss_bytes(pid) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(every);
                }
            })
        };
        Self { stop, peak, thread: Some(thread) }
    }

    /// The peak so far, in bytes.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Stops sampling and returns the peak, in bytes.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.peak()
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_net_tcp_addresses() {
        assert_eq!(parse_addr("0100007F:1F91"), Some("127.0.0.1:8081".parse().unwrap()));
    }

    #[test]
    fn sees_a_held_socket_and_its_release() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        let local = server.local_addr().unwrap();
        assert!(holds_socket(local, peer).unwrap());
        drop(server);
        assert!(!holds_socket(local, peer).unwrap());
        drop(client);
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
    }
}
