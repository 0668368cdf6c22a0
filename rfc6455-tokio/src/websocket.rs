//! [`WebSocket`], and its owned halves [`ReadHalf`] and [`WriteHalf`].

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};

use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use rfc6455::CloseCode;
use rfc6455::connection::{CloseInfo, Connection};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::driver::Driver;
use crate::wakers::{Side, Wakers};
use crate::{Error, Message, Options};

/// A WebSocket connection over a transport `S` (TCP, TLS, any `AsyncRead + AsyncWrite`).
///
/// Receive with [`recv`](Self::recv) or as a [`Stream`]; send with [`send`](Self::send) or as
/// a [`Sink`]; end with [`close`](Self::close). Split into two owned halves for two tasks with
/// [`into_split`](Self::into_split).
///
/// # The protocol keeps running
///
/// Every call that waits (receiving, waiting for room to send, flushing, closing) also reads
/// the transport into the connection, writes what the connection has queued, and runs its
/// timers. So Pings are answered and the keepalive runs whether the application only reads or
/// only sends; they stop only while nobody polls the WebSocket at all.
///
/// # The end
///
/// The receive side's last items say how the connection ended:
/// * after a clean close handshake (ours or the peer's): [`Message::Close`] with the peer's
///   code and reason, then `None`;
/// * after anything else: exactly one `Err` ([`Error::Closed`] with the core's
///   [`CloseInfo`]: the close code and who ended it; or [`Error::Io`] for a transport
///   error), then `None`.
///
/// Both come only once the transport is finished as RFC 6455 §7.1.1 says: our last output
/// (the Close) written, a server's side shut down first, a client's after the server's (each
/// wait bounded by the close timeout); after we failed the connection, a lingering close
/// ([`Options::linger`]). Dropping the WebSocket then loses nothing.
///
/// Messages that arrive while the application does not receive wait in a queue bounded by
/// [`Options::max_unread`]; past it, the transport is not read until the application takes
/// some (and with keepalive on, a connection whose application never reads is eventually
/// dropped: the peer's Pongs are not read either).
///
/// Sends are bounded by the core's [`Config::max_pending_output`]: [`send`](Self::send) and
/// [`Sink::poll_ready`] wait while that much output is pending, reading on meanwhile, so two
/// endpoints sending large messages both ways never deadlock, and a peer that never reads
/// costs bounded memory.
///
/// [`Config::max_pending_output`]: rfc6455::connection::Config::max_pending_output
pub struct WebSocket<S> {
    driver: Driver<S>,
    wakers: Wakers,
    /// The application's last call took a received message, and more wait: it is working
    /// through what one read brought, so `send` may leave its write to the next `recv`.
    answering: bool,
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket").finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// A WebSocket for a connection whose handshake happened elsewhere (an HTTP library's
    /// upgrade, a test): `connection` was made by the core
    /// ([`Request::upgrade`](rfc6455::handshake::Request::upgrade),
    /// [`ClientHandshake::into_connection`](rfc6455::handshake::ClientHandshake::into_connection)
    /// or [`Connection::new`]) and `stream` carries its frames. Uses `options`'s
    /// [`max_unread`](Options::max_unread) and [`linger`](Options::linger); the
    /// connection keeps its own [`Config`](rfc6455::connection::Config) (make it with
    /// [`default_config`](crate::default_config) for the adapter's timers). Messages arrive
    /// whole: a connection made with `streaming` on gets its pieces dropped.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with time enabled (it creates the timer).
    pub fn from_connection(stream: S, connection: Connection, options: &Options) -> Self {
        Self { driver: Driver::new(stream, connection, options), wakers: Wakers::new(), answering: false }
    }

    /// The next message; `None` once the connection has ended and its end was reported.
    ///
    /// The last items are a [`Message::Close`] (clean close) or one `Err` (anything else),
    /// then `None` for ever: see [the end](Self#the-end).
    ///
    /// **Cancellation-safe**: use it in `tokio::select!` freely. A message leaves the
    /// WebSocket only when this returns it; the bytes of a message that has not arrived
    /// whole wait in the connection, so a future dropped before completing loses nothing.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_next_message(cx)).await
    }

    /// Sends a message: waits for room under the output bound (reading on meanwhile), queues
    /// it, and waits until it has been handed to the transport (flushed) — except right after
    /// a [`recv`](Self::recv) that left more received messages waiting.
    ///
    /// Then the application is answering messages as they come (an echo, requests and
    /// responses), and `send` returns once the message is queued: the next `recv` returns the
    /// next waiting message at once, and once none is left, before it waits to read, writes
    /// all the answers queued meanwhile with one write. So the answers to everything one read
    /// brought go out with one system call, as they came in with one; an answer waits at most
    /// until the other messages that came with it are handled. Any other call that waits (`send`
    /// again, [`flush`](Self::poll_flush), `close`) writes it too, and a transport error it
    /// meets is reported by that call or, once the connection has ended, by the receive
    /// side's last item. An application that stops there, with messages still unread, should
    /// flush before it waits for something else.
    ///
    /// After our Close or the end of the connection, an error
    /// ([`Error::Usage`]`(`[`UsageError::Closed`](rfc6455::UsageError::Closed)`)`), at
    /// once: [`close_info`](Self::close_info) says why it ended. If the future is dropped
    /// after the message was queued, the message is still sent by later calls.
    ///
    /// To send many messages with one write otherwise, use the [`Sink`] (`feed` them, then
    /// `flush`).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready(cx)).await?;
        self.start_send(message)?;
        if std::mem::take(&mut self.answering) && self.driver.has_unread() {
            return Ok(());
        }
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Closes the connection: sends a Close with `code` and `reason` (at most 123 bytes),
    /// waits for the peer's Close up to the close timeout, and finishes the transport as
    /// §7.1.1 says (a server shuts its side down first; a client waits for the server's end
    /// of stream, up to the close timeout, then shuts down).
    ///
    /// Returns when the transport is finished, also when the peer did not answer in time;
    /// [`close_info`](Self::close_info) tells which. Messages that arrived meanwhile are
    /// still received by [`recv`](Self::recv). Calling it again, or after the end, only waits
    /// for the transport. An invalid code or a long reason is an [`Error::Usage`].
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.driver.start_close(code, reason)?;
        poll_fn(|cx| {
            let mut cx = self.wakers.register(Side::Send, cx);
            self.driver.poll_finish(&mut cx)
        })
        .await
    }

    /// The poll function behind [`recv`](Self::recv) and the [`Stream`] impl.
    ///
    /// Each message handed out spends a unit of tokio's cooperative budget, as a message
    /// from a tokio channel does: a task that receives in a loop yields to the runtime after
    /// its budget (128 per poll of the task) even while the peer keeps messages coming, so
    /// it cannot hold the thread.
    pub fn poll_next_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let Poll::Ready(coop) = tokio::task::coop::poll_proceed(cx) else {
            // The task's budget is spent (its wake is deferred); sharing turns, its next
            // poll also waits for one.
            if self.driver.shares_turns() {
                self.driver.wait_turn(&mut self.wakers.register(Side::Receive, cx));
            }
            return Poll::Pending;
        };
        // A busy connection that shares turns (`Options::fair_share`) waits for its turn
        // before it hands out a message already here, as before it reads. Any other needs
        // no waker for that: registering one on every message cost a lock per `recv`.
        if self.driver.waits_for_turn() {
            ready!(self.driver.poll_turn(&mut self.wakers.register(Side::Receive, cx)));
        }
        // A message already here needs no waker: nothing is polled.
        let polled = match self.driver.next_received() {
            Some(message) => Poll::Ready(Some(Ok(message))),
            None => {
                let mut cx = self.wakers.register(Side::Receive, cx);
                self.driver.poll_next_message(&mut cx)
            }
        };
        self.answering = matches!(polled, Poll::Ready(Some(Ok(_)))) && self.driver.has_unread();
        spend(cx, coop, polled.is_ready());
        polled
    }

    /// Ready when a message may be queued with [`start_send`](Self::start_send): pending
    /// output is under the bound. An error once no more messages may be sent.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // Room needs no waker: nothing is polled.
        if self.driver.can_queue() {
            return Poll::Ready(Ok(()));
        }
        let mut cx = self.wakers.register(Side::Send, cx);
        self.driver.poll_ready(&mut cx)
    }

    /// Queues a message; it is written by the next poll of any kind. Call
    /// [`poll_ready`](Self::poll_ready) first: without room, the core refuses it
    /// ([`UsageError::OutputFull`](rfc6455::UsageError::OutputFull)).
    pub fn start_send(&mut self, message: Message) -> Result<(), Error> {
        self.driver.start_send(message)
    }

    /// Ready when everything queued has been handed to the transport and the transport
    /// flushed. An error if the connection ended with output unwritten.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.answering = false;
        let mut cx = self.wakers.register(Side::Send, cx);
        self.driver.poll_flush(&mut cx)
    }

    /// [`close`](Self::close) with 1000 (normal closure) and no reason, as a poll function:
    /// the [`Sink`]'s close.
    pub fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.driver.start_close(CloseCode::NORMAL, "")?;
        let mut cx = self.wakers.register(Side::Send, cx);
        self.driver.poll_finish(&mut cx)
    }

    /// Splits into a receiving and a sending half, each owned, for two tasks. See
    /// [`ReadHalf`] and [`WriteHalf`].
    pub fn into_split(mut self) -> (ReadHalf<S>, WriteHalf<S>) {
        self.driver.set_split();
        let shared = Arc::new(Shared { driver: Mutex::new(self.driver), wakers: self.wakers });
        (ReadHalf { shared: Arc::clone(&shared) }, WriteHalf { shared })
    }
}

impl<S> WebSocket<S> {
    /// The driver, for the driver's tests.
    #[cfg(test)]
    pub(crate) fn driver_mut(&mut self) -> &mut Driver<S> {
        &mut self.driver
    }

    /// The core's connection: its state, limits, pending output and so on (read-only: the
    /// WebSocket drives it).
    pub fn connection(&self) -> &Connection {
        self.driver.connection()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.driver.connection().subprotocol()
    }

    /// Why the connection ended, once it has.
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.driver.connection().close_info()
    }

    /// The transport.
    pub fn transport(&self) -> &S {
        self.driver.transport()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_message(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FusedStream for WebSocket<S> {
    fn is_terminated(&self) -> bool {
        self.driver.is_terminated()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().start_send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_close(cx)
    }
}

struct Shared<S> {
    driver: Mutex<Driver<S>>,
    wakers: Wakers,
}

impl<S> Shared<S> {
    /// The driver. Held only inside a poll function, never across an await.
    fn lock(&self) -> MutexGuard<'_, Driver<S>> {
        self.driver.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The receiving half of a [`WebSocket`], from [`WebSocket::into_split`].
///
/// Receives exactly as the WebSocket does ([`recv`](Self::recv), [`Stream`]), with the same
/// end. While it waits it also writes and runs the timers, so Pings are answered when the
/// [`WriteHalf`] is idle.
///
/// If it is dropped, data messages (and Pings and Pongs) that arrive afterwards are
/// discarded; control frames are still handled by the connection (Pings answered, the
/// peer's Close echoed), as long as the [`WriteHalf`] is polled. While it is alive but not
/// polled, at most [`Options::max_unread`] bytes of messages wait for it (plus one message),
/// and then the transport stops being read.
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The sending half of a [`WebSocket`], from [`WebSocket::into_split`].
///
/// Sends exactly as the WebSocket does ([`send`](Self::send), [`Sink`],
/// [`close`](Self::close)). While it waits it also reads the transport into the connection
/// (messages are queued for the [`ReadHalf`]), so Pings are answered and keepalive runs when
/// only this half is used.
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
}

impl<S> std::fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S> std::fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReadHalf<S> {
    /// As [`WebSocket::recv`], cancellation-safe too.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_next_message(cx)).await
    }

    /// As [`WebSocket::poll_next_message`] (it spends tokio's cooperative budget the same way).
    pub fn poll_next_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let Poll::Ready(coop) = tokio::task::coop::poll_proceed(cx) else {
            let mut driver = self.shared.lock();
            if driver.shares_turns() {
                driver.wait_turn(&mut self.shared.wakers.register(Side::Receive, cx));
            }
            return Poll::Pending;
        };
        let polled =
            self.shared.lock().poll_next_message(&mut self.shared.wakers.register(Side::Receive, cx));
        spend(cx, coop, polled.is_ready());
        polled
    }
}

impl<S> ReadHalf<S> {
    /// Why the connection ended, once it has.
    pub fn close_info(&self) -> Option<CloseInfo> {
        self.shared.lock().connection().close_info().cloned()
    }
}

impl<S> Drop for ReadHalf<S> {
    fn drop(&mut self) {
        self.shared.lock().drop_reader();
        self.shared.wakers.forget(Side::Receive);
        // A send waiting while reading had stopped for want of a reader can read again.
        self.shared.wakers.wake_all();
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WriteHalf<S> {
    /// As [`WebSocket::send`].
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready(cx)).await?;
        self.start_send(message)?;
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// As [`WebSocket::close`]. Messages that arrive meanwhile wait for the [`ReadHalf`]:
    /// none is discarded while it is alive, so past [`Options::max_unread`](crate::Options::max_unread) the transport is
    /// read only as the read half takes messages, and the close finishes once it has taken
    /// them (or at the close timeout). Drop the read half first to close without reading:
    /// then messages are discarded as they arrive.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.shared.lock().start_close(code, reason)?;
        poll_fn(|cx| {
            let mut cx = self.shared.wakers.register(Side::Send, cx);
            self.shared.lock().poll_finish(&mut cx)
        })
        .await
    }

    /// As [`WebSocket::poll_ready`].
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut cx = self.shared.wakers.register(Side::Send, cx);
        self.shared.lock().poll_ready(&mut cx)
    }

    /// As [`WebSocket::start_send`].
    pub fn start_send(&mut self, message: Message) -> Result<(), Error> {
        self.shared.lock().start_send(message)
    }

    /// As [`WebSocket::poll_flush`].
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut cx = self.shared.wakers.register(Side::Send, cx);
        self.shared.lock().poll_flush(&mut cx)
    }

    /// As [`WebSocket::poll_close`].
    pub fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut driver = self.shared.lock();
        driver.start_close(CloseCode::NORMAL, "")?;
        let mut cx = self.shared.wakers.register(Side::Send, cx);
        driver.poll_finish(&mut cx)
    }
}

impl<S> WriteHalf<S> {
    /// Why the connection ended, once it has.
    pub fn close_info(&self) -> Option<CloseInfo> {
        self.shared.lock().connection().close_info().cloned()
    }
}

impl<S> Drop for WriteHalf<S> {
    fn drop(&mut self) {
        self.shared.wakers.forget(Side::Send);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_message(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FusedStream for ReadHalf<S> {
    fn is_terminated(&self) -> bool {
        self.shared.lock().is_terminated()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WriteHalf<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().start_send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_close(cx)
    }
}

/// Spends tokio's cooperative budget for a poll of the receive side that got `coop`:
/// [`UNITS_PER_MESSAGE`] units when it handed something out (`ready`), none when it is
/// pending. The caller polls only after `poll_proceed` gave it `coop`: with the budget
/// spent, it is pending at once, the task woken again after the runtime has run its other
/// tasks and polled its I/O driver (and, sharing turns, it waits for a turn).
///
/// Without it a receive loop never yielded while a peer kept the connection busy: messages
/// already decoded are handed out without touching the socket, and the socket, which has a
/// budget of its own, is read only once per ~64 KiB. Ten peers flooding Pings held a
/// `current_thread` server for milliseconds at a time (tools/wsload's attack scenario).
/// Outside a tokio runtime the budget is unlimited.
fn spend(cx: &mut Context<'_>, coop: tokio::task::coop::RestoreOnPending, ready: bool) {
    if ready {
        coop.made_progress();
        for _ in 1..UNITS_PER_MESSAGE {
            match tokio::task::coop::poll_proceed(cx) {
                Poll::Ready(coop) => coop.made_progress(),
                // Spent: the next message waits for the next poll.
                Poll::Pending => break,
            }
        }
    }
}

/// Units of tokio's cooperative budget (128 a poll) a message spends: 32 messages a poll.
/// With one unit (128 messages a poll), ten peers flooding Pings raised the p99 of a hundred
/// good clients on a `current_thread` server 1.4-1.9x (a poll handing out 128 Pings takes
/// some 60 µs, and the ten flooders' polls come one after another); with four, 1.1-1.3x
/// (tools/wsload's attack scenario). A task that takes 32 messages without waiting has plenty
/// to do: the yield costs it about a microsecond. (A first try lost messages in
/// `tests/split.rs`: a read half that yields more often fell behind the write half's close,
/// which discarded messages past `max_unread`; a live read half now keeps them.)
const UNITS_PER_MESSAGE: usize = 4;
