//! The server under test: a process started afresh for each scenario, on a free loopback
//! port, with the scenario's timers given as flags, and killed when the scenario ends.
//!
//! Both servers take the same flags: `ADDR --ping-interval S --pong-timeout S
//! --close-timeout S --handshake-timeout S --max-pending-output BYTES`.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server to test: how to start it and what it holds besides its output.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// The name in the results (`tokio`, `std`).
    pub name: String,
    /// The program and its own arguments; the address and the timer flags are appended.
    pub command: Vec<String>,
    /// Received bytes the server may hold for its application besides its send bound
    /// (rfc6455-tokio's `max_unread`; 0 for a server that answers each read before the next),
    /// counted in its memory bound.
    pub held_input: u64,
    /// Where the server's stderr goes (none: discarded).
    pub log: Option<std::path::PathBuf>,
}

/// The timers and the send bound a scenario runs the server with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `--ping-interval`.
    pub ping_interval: Duration,
    /// `--pong-timeout`.
    pub pong_timeout: Duration,
    /// `--close-timeout`.
    pub close_timeout: Duration,
    /// `--handshake-timeout`.
    pub handshake_timeout: Duration,
    /// `--max-pending-output`.
    pub max_pending_output: u64,
}

impl Default for Settings {
    /// Short timers, so that faults end within seconds: keepalive 1 s + 1 s, close 2 s,
    /// handshake 2 s, a 256 KiB send bound.
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(1),
            pong_timeout: Duration::from_secs(1),
            close_timeout: Duration::from_secs(2),
            handshake_timeout: Duration::from_secs(2),
            max_pending_output: 256 * 1024,
        }
    }
}

impl Settings {
    fn args(&self) -> Vec<String> {
        let secs = |d: Duration| d.as_secs_f64().to_string();
        vec![
            "--ping-interval".into(),
            secs(self.ping_interval),
            "--pong-timeout".into(),
            secs(self.pong_timeout),
            "--close-timeout".into(),
            secs(self.close_timeout),
            "--handshake-timeout".into(),
            secs(self.handshake_timeout),
            "--max-pending-output".into(),
            self.max_pending_output.to_string(),
        ]
    }
}

/// A running server process; dropping it kills it.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts the server on a free port of 127.0.0.1 and waits (up to 10 s) until it accepts.
    pub async fn start(spec: &ServerSpec, settings: &Settings) -> io::Result<Self> {
        let (program, own_args) =
            spec.command.split_first().ok_or_else(|| io::Error::other("no server command"))?;
        // A port the kernel just gave out and took back: free unless another process grabs it
        // in the moment before the server binds it (then the wait below fails).
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let stderr = match &spec.log {
            Some(path) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
            None => Stdio::null(),
        };
        let child = Command::new(program)
            .args(own_args)
            .arg(addr.to_string())
            .args(settings.args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()?;
        let mut server = Self { child, addr };
        for _ in 0..1000 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                return Err(io::Error::other(format!("{program} exited at start: {status}")));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(io::Error::other(format!("{program} did not listen on {addr} within 10 s")))
    }

    /// The process id, for `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
