//! Watching the server from outside, the same way for every server: whether it still holds
//! the socket of one connection, and its resident memory (`VmRSS` in `/proc/PID/status`).
//!
//! The socket is found once in Linux's `/proc/net/tcp` by its two addresses (its inode; a
//! socket no process owns any more, orphaned in `FIN_WAIT`/`TIME_WAIT`, has inode 0), then
//! watched in the server's `/proc/PID/fd`, which is a few entries: `/proc/net/tcp` lists every
//! socket of the machine (tens of thousands while a load test runs beside us) and takes
//! about 100 ms to read.

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

/// The inode of the socket that owns the IPv4 TCP connection `local` -> `remote` (seen from
/// its owner: `local` is the owner's address), if some process holds one. Reads all of
/// `/proc/net/tcp`, which is slow on a machine with many sockets: call it once per
/// connection, then poll [`holds`].
pub fn socket_inode(local: SocketAddr, remote: SocketAddr) -> io::Result<Option<u64>> {
    let (SocketAddr::V4(local), SocketAddr::V4(remote)) = (local, remote) else {
        return Err(io::Error::other("only IPv4 loopback is probed"));
    };
    let table = std::fs::read_to_string("/proc/net/tcp")?;
    Ok(table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st queues tr retrnsmt uid timeout inode ...
        let matches =
            fields.len() > 9 && parse_addr(fields[1]) == Some(local) && parse_addr(fields[2]) == Some(remote);
        matches.then(|| fields[9].parse().ok()).flatten().filter(|&inode| inode != 0)
    }))
}

/// Whether process `pid` has the socket with this inode open (one of its `/proc/PID/fd`
/// entries is `socket:[inode]`).
pub fn holds(pid: u32, inode: u64) -> io::Result<bool> {
    let wanted = format!("socket:[{inode}]");
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        // An fd closed while we list them is simply not held.
        let Ok(entry) = entry else { continue };
        if std::fs::read_link(entry.path()).is_ok_and(|target| target.as_os_str() == wanted.as_str()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The inode of the server's socket of the connection from `peer`, or an error if the
/// server process does not hold one.
pub fn server_socket(pid: u32, server: SocketAddr, peer: SocketAddr) -> io::Result<u64> {
    match socket_inode(server, peer)? {
        Some(inode) if holds(pid, inode)? => Ok(inode),
        _ => Err(io::Error::other(format!("the server holds no socket of the connection from {peer}"))),
    }
}

/// Waits until process `pid` no longer holds the socket `inode`, polling every 5 ms; returns
/// when it was first seen released, or `None` if it still held it after `within`.
pub async fn wait_released(
    pid: u32,
    inode: u64,
    within: Duration,
) -> io::Result<Option<tokio::time::Instant>> {
    wait_released_watching(pid, inode, within, || {}).await
}

/// [`wait_released`], calling `watch` at every poll while the socket is held.
pub async fn wait_released_watching(
    pid: u32,
    inode: u64,
    within: Duration,
    mut watch: impl FnMut(),
) -> io::Result<Option<tokio::time::Instant>> {
    let start = Instant::now();
    loop {
        if !holds(pid, inode)? {
            return Ok(Some(tokio::time::Instant::now()));
        }
        watch();
        if start.elapsed() >= within {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How many bytes the owner of the TCP connection `local` -> `remote` has read from it so
/// far: what its kernel received (`bytes_received` in `ss -ti`) less what still waits in its
/// receive queue (`Recv-Q`). It grows only when the process reads, so it tells when a server
/// last read, which a peer cannot see: the kernel's buffers take a peer's writes for a while
/// after the server stops reading, and hand it more when the server reads again. `None` if
/// `ss` (iproute2) is missing or does not list the connection.
pub fn bytes_read(local: SocketAddr, remote: SocketAddr) -> Option<u64> {
    let output = std::process::Command::new("ss")
        .args(["-tinH", "state", "established", "src", &local.to_string(), "dst", &remote.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    // `Recv-Q Send-Q Local Peer`, then the connection's TCP_INFO on the next line.
    let queued: u64 = text.split_whitespace().next()?.parse().ok()?;
    let received: u64 =
        text.split_whitespace().find_map(|word| word.strip_prefix("bytes_received:"))?.parse().ok()?;
    Some(received.saturating_sub(queued))
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
        let inode = server_socket(std::process::id(), local, peer).unwrap();
        assert!(holds(std::process::id(), inode).unwrap());
        drop(server);
        assert!(!holds(std::process::id(), inode).unwrap());
        assert_eq!(socket_inode(local, peer).unwrap(), None);
        drop(client);
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
    }
}
