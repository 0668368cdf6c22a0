//! [`FairShare`]: connections that keep a server busy take turns, so that they cannot make
//! every other connection wait for a round of them.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// Turns shared by the connections of a server: a connection that used up what one poll may
/// do and still has work (a peer flooding frames or Pings, a compressed message that
/// inflates far) waits in line for a turn before its next poll; a connection whose poll
/// ended waiting on its socket needs none.
///
/// Without it, a task that yields with work left is back in the runtime's run queue after
/// every poll, and a connection whose message has just arrived queues behind all of them:
/// with a hundred flooding peers on one thread, a round of their polls takes milliseconds,
/// and so does every good client's round trip. With a `FairShare`, the busy connections
/// wait in one line, and `turns` of them are let go each time the runtime has run its other
/// ready tasks and polled its I/O driver: the others are served as soon as their input
/// arrives, and the busy ones share what they leave of the thread instead of everyone
/// sharing it with each of them.
///
/// The line is kept by a task of its own, spawned on the runtime at the first connection
/// that waits in it. A turn is not a lock: a connection that is let go and then not polled
/// (its task busy elsewhere) holds nobody up. A connection alone on the server pays a poll
/// of the keeper per busy poll: a million empty frames (a hundred a poll) took 16.2 ms with a
/// share, 15.6 ms without, in a release build; a busy poll of real work (a 16 KiB step of a
/// compressed message) takes tens of microseconds.
///
/// One `FairShare` for all the connections of a server ([`Options::fair_share`]). `turns`:
/// how many busy connections go per round, 1 for a `current_thread` runtime, the worker
/// threads for a multi-thread one.
///
/// ```
/// use rfc6455_tokio::{FairShare, Options};
///
/// // Once, for the whole server (a `current_thread` runtime: one turn a round).
/// let share = FairShare::new(1);
/// // For each connection accepted.
/// let options = Options::default().fair_share(&share);
/// # drop(options);
/// ```
///
/// [`Options::fair_share`]: crate::Options::fair_share
#[derive(Clone)]
pub struct FairShare {
    shared: Arc<Shared>,
}

struct Shared {
    /// Busy connections let go per round (at least 1).
    turns: usize,
    line: Mutex<Line>,
}

#[derive(Default)]
struct Line {
    /// Who waits, in the order they came, by ticket.
    waiting: VecDeque<(u64, Waker)>,
    /// The ticket the next connection to wait gets.
    next_ticket: u64,
    /// Every ticket below this has been let go.
    let_go_below: u64,
    /// The task that keeps the line, while it waits for someone to stand in it.
    keeper: Option<Waker>,
    /// The keeper task was spawned.
    keeper_started: bool,
}

impl FairShare {
    /// A line that lets `turns` busy connections go per round of the runtime (at least 1):
    /// its worker threads.
    pub fn new(turns: usize) -> Self {
        Self { shared: Arc::new(Shared { turns: turns.max(1), line: Mutex::new(Line::default()) }) }
    }

    /// How many wait for a turn now (for statistics).
    pub fn waiting(&self) -> usize {
        self.shared.lock().waiting.len()
    }

    /// Waits in line for a turn, for other work of the server that comes in bursts: an
    /// accept loop that takes one connection per turn lets the connections that are
    /// already open go first, so a crowd of peers that connect and disconnect as fast as
    /// they can (each new connection is a handshake, and under attack a Close and a
    /// lingering close: about ten system calls) cannot make them wait for a round of new
    /// connections. Without a runtime, ready at once.
    ///
    /// ```no_run
    /// # async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    /// use rfc6455_tokio::{FairShare, Options};
    ///
    /// let share = FairShare::new(1);
    /// loop {
    ///     share.turn().await;
    ///     let (stream, _) = listener.accept().await?;
    ///     let options = Options::default().fair_share(&share);
    ///     tokio::spawn(async move {
    ///         if let Ok(mut ws) = rfc6455_tokio::accept_with(stream, options).await {
    ///             while let Some(Ok(message)) = ws.recv().await {
    ///                 if message.is_data() && ws.send(message).await.is_err() {
    ///                     break;
    ///                 }
    ///             }
    ///         }
    ///     });
    /// }
    /// # }
    /// ```
    pub async fn turn(&self) {
        let mut turn = Turn::new(self);
        let mut in_line = false;
        poll_fn(|cx| {
            if !in_line {
                in_line = true;
                if !turn.wait(cx) {
                    return Poll::Ready(());
                }
                return Poll::Pending;
            }
            turn.poll_take(cx)
        })
        .await
    }
}

impl fmt::Debug for FairShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FairShare")
            .field("turns", &self.shared.turns)
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Line> {
        // The line's state is whole after every statement that changes it.
        self.line.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The keeper: lets `turns` connections go, then waits until the runtime has run its other
/// ready tasks and polled its I/O driver (`yield_now` defers its wake until then), or, with
/// nobody in line, until someone stands in it.
async fn keep(shared: Arc<Shared>) {
    let _gone = KeeperGone(shared.clone());
    loop {
        poll_fn(|cx| {
            let mut line = shared.lock();
            if line.waiting.is_empty() {
                line.keeper = Some(cx.waker().clone());
                return Poll::Pending;
            }
            for _ in 0..shared.turns {
                let Some((ticket, waker)) = line.waiting.pop_front() else { break };
                line.let_go_below = ticket + 1;
                waker.wake();
            }
            Poll::Ready(())
        })
        .await;
        tokio::task::yield_now().await;
    }
}

/// Dropped with the keeper task (its runtime shut down): everyone in line goes, and the next
/// connection to wait starts a new keeper on its own runtime, so that a share used on more
/// than one runtime (one per test, say) never strands a connection.
struct KeeperGone(Arc<Shared>);

impl Drop for KeeperGone {
    fn drop(&mut self) {
        let waiting = {
            let mut line = self.0.lock();
            line.keeper_started = false;
            line.keeper = None;
            line.let_go_below = line.next_ticket;
            std::mem::take(&mut line.waiting)
        };
        for (_, waker) in waiting {
            waker.wake();
        }
    }
}

/// A connection's place in a [`FairShare`]'s line.
pub(crate) struct Turn {
    shared: Arc<Shared>,
    /// Its ticket while it waits: its last poll ended with work left.
    ticket: Option<u64>,
}

impl Turn {
    pub(crate) fn new(share: &FairShare) -> Self {
        Self { shared: share.shared.clone(), ticket: None }
    }

    /// Whether it stands in line (let go or not).
    pub(crate) fn is_waiting(&self) -> bool {
        self.ticket.is_some()
    }

    /// Ready when the connection may work: at once, unless it is waiting in line and has
    /// not been let go yet; then pending, `cx` woken when it is.
    pub(crate) fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(ticket) = self.ticket else { return Poll::Ready(()) };
        let mut line = self.shared.lock();
        if ticket < line.let_go_below {
            self.ticket = None;
            return Poll::Ready(());
        }
        // Woken by something else (the socket, a timer, the other half): keep the newest
        // waker in line. The line holds only busy connections, a few hundred under attack.
        if let Some((_, waker)) = line.waiting.iter_mut().find(|(t, _)| *t == ticket) {
            waker.clone_from(cx.waker());
        }
        Poll::Pending
    }

    /// The poll ends with work left: stand in line, `cx` woken when the connection is let
    /// go. False when there is no runtime to keep the line (the caller wakes itself).
    pub(crate) fn wait(&mut self, cx: &mut Context<'_>) -> bool {
        if self.ticket.is_some() {
            return true;
        }
        let mut line = self.shared.lock();
        if !line.keeper_started {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else { return false };
            runtime.spawn(keep(self.shared.clone()));
            line.keeper_started = true;
        }
        let ticket = line.next_ticket;
        line.next_ticket += 1;
        line.waiting.push_back((ticket, cx.waker().clone()));
        self.ticket = Some(ticket);
        if let Some(keeper) = line.keeper.take() {
            keeper.wake();
        }
        true
    }
}
