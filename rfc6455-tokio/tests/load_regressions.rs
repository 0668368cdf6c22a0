//! Regressions found by the load tool (tools/wsload): each reproduces, at small scale, what a
//! scenario there showed over real sockets.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use rfc6455_tokio::{Message, Options};
use tokio::io::AsyncWriteExt;

/// Counts the polls of the future it wraps.
struct Polls<F> {
    inner: Pin<Box<F>>,
    polls: Arc<AtomicUsize>,
}

impl<F: Future> Future for Polls<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        self.inner.as_mut().poll(cx)
    }
}

/// A client's Text message started with `start`, then `continuations` empty continuation
/// frames, all unfinished.
fn unfinished_text(start: &[u8], continuations: usize) -> Vec<u8> {
    let mut wire = common::client_frame(0x1, start);
    wire[0] &= 0x7f;
    let mut continuation = common::client_frame(0x0, b"");
    continuation[0] &= 0x7f;
    for _ in 0..continuations {
        wire.extend_from_slice(&continuation);
    }
    wire
}

/// How many polls of flooded tasks (counted in `polls`) come between a neighbour's socket
/// becoming readable and the neighbour reading it. The neighbour first waits on its socket;
/// `flood` then spawns the flooded tasks, and once they have been polled `after` times
/// another thread writes to the neighbour's socket: the runtime learns that only from its
/// I/O driver.
async fn polls_before_the_neighbour_is_served(
    polls: &Arc<AtomicUsize>,
    after: usize,
    flood: impl FnOnce(),
) -> usize {
    use std::io::Write;
    use tokio::io::AsyncReadExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut poke = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut neighbour, _) = listener.accept().await.unwrap();
    let served = {
        let polls = polls.clone();
        tokio::spawn(async move {
            let mut byte = [0u8; 1];
            neighbour.read_exact(&mut byte).await.unwrap();
            polls.load(Ordering::SeqCst)
        })
    };
    tokio::task::yield_now().await;
    flood();
    let poked_at = {
        let polls = polls.clone();
        std::thread::spawn(move || {
            while polls.load(Ordering::SeqCst) < after {
                std::thread::yield_now();
            }
            poke.write_all(b"!").unwrap();
            (polls.load(Ordering::SeqCst), poke)
        })
    };
    let served_at = served.await.unwrap();
    let (poked_at, _poke) = poked_at.join().unwrap();
    served_at.saturating_sub(poked_at)
}

/// A peer sends Pings as fast as it can and never reads: the server answers each with a
/// Pong it cannot write. The core coalesces unsent Pongs once its output is at
/// `max_pending_output`, so what the server holds must stay near that bound however many
/// Pings come. (tools/wsload's attack scenario saw a server grow by 2 GiB in 12 s with ten
/// such peers.)
#[tokio::test]
async fn a_ping_flood_from_a_peer_that_never_reads_stays_bounded() {
    let options = Options::default();
    let config = rfc6455_tokio::default_config();
    let bound = config.max_pending_output;
    let (mut server, mut raw) = common::server_and_raw(config, &options, 64 * 1024);
    let flood: Vec<u8> = (0..100).flat_map(|_| common::client_frame(0x9, &[b'p'; 125])).collect();
    let writer = tokio::spawn(async move {
        // 64 MiB of Pings, never reading the Pongs.
        for _ in 0..(64 << 20) / flood.len() {
            if raw.write_all(&flood).await.is_err() {
                break;
            }
        }
        raw
    });
    let mut largest = (0, 0);
    while !writer.is_finished() {
        match tokio::time::timeout(Duration::from_millis(1), server.recv()).await {
            Ok(Some(Ok(Message::Ping(_)))) | Err(_) => {}
            other => panic!("unexpected {other:?}"),
        }
        let connection = server.connection();
        largest.0 = largest.0.max(connection.pending_output_len());
        largest.1 = largest.1.max(connection.buffered_input_len());
    }
    let _raw = writer.await.unwrap();
    assert!(largest.0 <= bound + 256, "pending output reached {} bytes (bound {bound})", largest.0);
    assert!(largest.1 <= 1 << 20, "buffered input reached {} bytes", largest.1);
}

/// A transport that counts the bytes read through it.
struct Counting<S> {
    inner: S,
    read: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counting<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read.fetch_add(buf.filled().len() - before, std::sync::atomic::Ordering::Relaxed);
        polled
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counting<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A peer floods empty continuation frames: with the adapter's frame budget, one poll of the
/// receive side decodes a bounded number of them and yields, so other tasks on the thread run
/// (tools/wsload's attack scenario measured 4 ms per poll, and the good clients' p99 at 200 ms
/// beside 100 such peers, before the budget). Without the budget the same poll takes in the
/// whole flood the pipe holds.
#[tokio::test]
async fn a_flood_of_empty_frames_is_decoded_a_bounded_number_per_poll() {
    use std::task::Waker;

    let mut wire = Vec::new();
    let key = Some([1, 2, 3, 4]);
    rfc6455::frame::encode_frame_to_vec(false, 0, rfc6455::OpCode::Text, b"he", key, &mut wire).unwrap();
    // 6 MB of empty frames: more than 32 of the core's largest reads (its read-ahead offers
    // up to 64 KiB while reads fill the room), so a poll without the budget cannot take it all.
    for _ in 0..1_000_000 {
        rfc6455::frame::encode_frame_to_vec(false, 0, rfc6455::OpCode::Continuation, b"", key, &mut wire)
            .unwrap();
    }
    rfc6455::frame::encode_frame_to_vec(true, 0, rfc6455::OpCode::Continuation, b"llo", key, &mut wire)
        .unwrap();

    // The budget the adapter's handshakes give every connection.
    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(rfc6455_tokio::accept(server_io));
    let client = rfc6455_tokio::client(client_io, "ws://localhost/", Options::default()).await.unwrap();
    let accepted = server.await.unwrap().unwrap();
    assert_eq!(accepted.connection().config().frame_budget, Some(32));
    drop((client, accepted));

    let mut read_in_one_poll = Vec::new();
    for budget in [Some(32), None] {
        let (ours, mut raw) = tokio::io::duplex(wire.len() + 1024);
        let read = Arc::new(AtomicUsize::new(0));
        let config = rfc6455_tokio::default_config().frame_budget(budget);
        let conn = rfc6455::Connection::new(rfc6455::Role::Server, config);
        let stream = Counting { inner: ours, read: read.clone() };
        let mut server = rfc6455_tokio::WebSocket::from_connection(stream, conn, &Options::default());
        raw.write_all(&wire).await.unwrap();
        {
            let mut recv = Box::pin(server.recv());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(matches!(recv.as_mut().poll(&mut cx), Poll::Pending), "one poll took the whole flood");
        }
        read_in_one_poll.push(read.load(Ordering::Relaxed));
        // Polled on, the message arrives whole either way.
        assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("hello"));
    }
    // With the budget: at most 32 steps of 3 calls of 32 frames (6 bytes each) decoded, and
    // what the reads brought for them. Without it, 32 reads of whatever the buffer holds.
    let (with, without) = (read_in_one_poll[0], read_in_one_poll[1]);
    println!("bytes read in one poll under the flood: {with} with the frame budget, {without} without");
    assert!(with <= 32 * 3 * 32 * 6 + 64 * 1024, "one poll read {with} bytes with the budget");
    assert!(without > 4 * with, "without the budget one poll read only {without} bytes (with: {with})");
}

/// A task that receives in a loop yields to the runtime even while its peer keeps messages
/// coming: each message spends four units of tokio's cooperative budget (128 per poll of a
/// task), so a poll takes at most 32 messages. Before, the loop ran on through every message the
/// connection could decode, touching the socket (which spends the budget too) only once per
/// ~64 KiB read, and ten peers flooding Pings held a `current_thread` server for milliseconds
/// at a time (tools/wsload's attack scenario). Counted in messages per poll, not in time.
#[tokio::test(flavor = "current_thread")]
async fn a_receive_loop_under_a_ping_flood_yields_after_the_cooperative_budget() {
    /// Receives `left` messages, noting the most it took in one poll.
    struct Receive<S> {
        ws: rfc6455_tokio::WebSocket<S>,
        left: usize,
        most_per_poll: usize,
        polls: usize,
    }
    impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Future for Receive<S> {
        type Output = (usize, usize);
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(usize, usize)> {
            let this = &mut *self;
            this.polls += 1;
            let mut now = 0;
            loop {
                match this.ws.poll_next_message(cx) {
                    Poll::Ready(Some(Ok(Message::Ping(_)))) => {
                        now += 1;
                        this.left -= 1;
                        if this.left == 0 {
                            return Poll::Ready((this.most_per_poll.max(now), this.polls));
                        }
                    }
                    Poll::Ready(other) => panic!("expected Pings, got {other:?}"),
                    Poll::Pending => {
                        this.most_per_poll = this.most_per_poll.max(now);
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    // 20,000 Pings (2.6 MB) waiting in the pipe before the loop starts: without the budget
    // it takes them all in one poll.
    const PINGS: usize = 20_000;
    let (ours, mut raw) = tokio::io::duplex(4 << 20);
    let batch: Vec<u8> = (0..1000).flat_map(|_| common::client_frame(0x9, &[b'p'; 125])).collect();
    for _ in 0..PINGS / 1000 {
        raw.write_all(&batch).await.unwrap();
    }
    let conn = rfc6455::Connection::new(rfc6455::Role::Server, rfc6455_tokio::default_config());
    let ws = rfc6455_tokio::WebSocket::from_connection(ours, conn, &Options::default());
    let (most, polls) = tokio::spawn(Receive { ws, left: PINGS, most_per_poll: 0, polls: 0 }).await.unwrap();
    println!("{PINGS} Pings received in {polls} polls, at most {most} in one");
    // 32 when each message spends four units; 124 with one unit a message (the first
    // version), 3,968 with none.
    assert!(most <= 32, "one poll of the receiving task took {most} messages");
    drop(raw);
}

/// A connection that spends its per-poll budget on a flood yields so that the runtime polls
/// its I/O driver before running it again: a neighbour whose socket is readable is served
/// after a poll or two of the flooded connection. Waking itself instead put the flooded task
/// straight back on the run queue, and a runtime whose tasks are always ready polls its
/// driver only every 61 polls: ten flooding peers made every other connection wait
/// milliseconds (tools/wsload's attack scenario). Counted in polls, not in time.
#[tokio::test(flavor = "current_thread")]
async fn a_flooded_connection_lets_the_runtime_poll_its_io_driver() {
    // A text message started, then 1,000,000 empty continuation frames waiting in the pipe:
    // the connection is never short of input during the test.
    let flood = unfinished_text(b"", 1_000_000);
    let (ours, mut raw) = tokio::io::duplex(flood.len());
    raw.write_all(&flood).await.unwrap();
    let conn = rfc6455::Connection::new(rfc6455::Role::Server, rfc6455_tokio::default_config());
    let mut server = rfc6455_tokio::WebSocket::from_connection(ours, conn, &Options::default());

    let polls = Arc::new(AtomicUsize::new(0));
    let mut flooded = None;
    let waited = polls_before_the_neighbour_is_served(&polls, 5, || {
        flooded = Some(tokio::spawn(Polls {
            inner: Box::pin(async move { server.recv().await.is_some() }),
            polls: polls.clone(),
        }));
    })
    .await;
    flooded.unwrap().abort();
    println!("polls of the flooded connection between the poke and the neighbour's turn: {waited}");
    assert!(waited <= 3, "the neighbour waited for {waited} polls of the flooded connection");
    drop(raw);
}

/// Busy connections that share turns ([`rfc6455_tokio::FairShare`]) wait in one line, one
/// let go per round of the runtime: a neighbour whose socket becomes readable is served
/// after a poll or two of theirs, however many there are. Without the line, every busy
/// connection is back in the run queue after each poll, and the neighbour waits for the rest
/// of a round of all of them: with a hundred flooding peers on one thread, 2-3 ms for every
/// good client's round trip (tools/wsload's attack scenario, full size). One connection is
/// let go and never polled again (its task stops polling its WebSocket): it holds nobody up.
/// Counted in polls, not in time.
#[tokio::test(flavor = "current_thread")]
async fn busy_connections_that_share_turns_let_a_neighbour_go_first() {
    use std::task::Waker;

    // A text message started, then 200,000 empty continuation frames: each connection is
    // never short of input during the test.
    let flood = unfinished_text(b"", 200_000);
    const FLOODED: usize = 20;
    let share = rfc6455_tokio::FairShare::new(1);
    let options = Options::default().fair_share(&share);
    let new_flooded = async || {
        let (ours, mut raw) = tokio::io::duplex(flood.len());
        raw.write_all(&flood).await.unwrap();
        // The frame budget every connection from a handshake has.
        let config = rfc6455_tokio::default_config().frame_budget(Some(32));
        let conn = rfc6455::Connection::new(rfc6455::Role::Server, config);
        (rfc6455_tokio::WebSocket::from_connection(ours, conn, &options), raw)
    };

    // One that is polled until it waits in line, then never again.
    let (mut forgotten, _forgotten_raw) = new_flooded().await;
    {
        let mut recv = Box::pin(forgotten.recv());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(recv.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(share.waiting(), 1, "the busy connection waits in line");

    let mut connections = Vec::new();
    for _ in 0..FLOODED {
        connections.push(new_flooded().await);
    }
    let polls = Arc::new(AtomicUsize::new(0));
    let mut flooded = Vec::new();
    let mut raws = Vec::new();
    // The neighbour's socket becomes readable once every flooded connection has been busy
    // for a while (five rounds of them without the line).
    let waited = polls_before_the_neighbour_is_served(&polls, 5 * FLOODED, || {
        for (mut ws, raw) in connections {
            raws.push(raw);
            flooded.push(tokio::spawn(Polls {
                inner: Box::pin(async move { ws.recv().await.is_some() }),
                polls: polls.clone(),
            }));
        }
    })
    .await;
    for task in &flooded {
        task.abort();
    }
    println!(
        "polls of {FLOODED} flooded connections sharing turns between the poke and the neighbour's turn: {waited}"
    );
    // Without the share: what is left of a round of all twenty when the poke lands (19 when
    // this was written; 0 or 1 with it).
    assert!(waited <= 3, "the neighbour waited for {waited} polls of the flooded connections");
    drop((forgotten, raws));
}

/// The line is kept in order: connections and `FairShare::turn` callers are let go in the
/// order they stood in it, one per round with one turn, `turns` per round with more.
#[tokio::test(flavor = "current_thread")]
async fn a_fair_share_lets_its_line_go_in_order_and_by_turns() {
    use std::sync::Mutex;

    for turns in [1, 3] {
        let share = rfc6455_tokio::FairShare::new(turns);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for n in 0..7 {
            let share = share.clone();
            let order = order.clone();
            // Spawned tasks first run in the order they were spawned: that is the line's.
            tasks.push(tokio::spawn(async move {
                share.turn().await;
                order.lock().unwrap().push(n);
            }));
        }
        // Rounds: each yield lets the runtime run its ready tasks and poll its driver once.
        let mut let_go = vec![0];
        for _ in 0..20 {
            tokio::task::yield_now().await;
            let_go.push(order.lock().unwrap().len());
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..7).collect::<Vec<_>>(), "let go out of order");
        // No round lets more than `turns` go.
        let most = let_go.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        println!("{turns} turn(s): let go after each round {let_go:?}");
        assert!(most <= turns, "{most} let go in one round with {turns} turn(s)");
        assert_eq!(share.waiting(), 0);
    }
}

/// A share outlives the runtime its line's keeper ran on (one share, one runtime per test):
/// the next runtime starts a keeper of its own.
#[test]
fn a_fair_share_used_on_a_second_runtime_still_lets_its_line_go() {
    let share = rfc6455_tokio::FairShare::new(1);
    for _ in 0..2 {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let tasks: Vec<_> = (0..3)
                .map(|_| {
                    let share = share.clone();
                    tokio::spawn(async move { share.turn().await })
                })
                .collect();
            let all = async {
                for task in tasks {
                    task.await.unwrap();
                }
            };
            tokio::time::timeout(Duration::from_secs(10), all).await.expect("the line was let go");
        });
        // The runtime ends with the keeper waiting for the next in line; without the keeper's
        // end resetting the line, nobody would start one on the second runtime and its
        // tasks would wait for ever.
        assert_eq!(share.waiting(), 0);
    }
}

/// Sharing turns on a multi-thread runtime, whole connections and split ones alike: every
/// busy connection gets through its flood to its message (the keeper runs on one worker and
/// wakes connections on either), none is left waiting in line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_connections_sharing_turns_on_two_threads_all_get_through() {
    // A text message started, 20,000 empty continuation frames, then its end: about 200
    // polls of work per connection at the frame budget.
    let mut wire = unfinished_text(b"he", 20_000);
    wire.extend_from_slice(&common::client_frame(0x0, b"llo"));

    let share = rfc6455_tokio::FairShare::new(2);
    let mut tasks = Vec::new();
    let mut raws = Vec::new();
    for n in 0..12 {
        let (ours, mut raw) = tokio::io::duplex(wire.len());
        raw.write_all(&wire).await.unwrap();
        raws.push(raw);
        let config = rfc6455_tokio::default_config().frame_budget(Some(32));
        let conn = rfc6455::Connection::new(rfc6455::Role::Server, config);
        let ws =
            rfc6455_tokio::WebSocket::from_connection(ours, conn, &Options::default().fair_share(&share));
        tasks.push(tokio::spawn(async move {
            if n % 2 == 0 {
                let mut ws = ws;
                ws.recv().await
            } else {
                let (mut read, _write) = ws.into_split();
                read.recv().await
            }
        }));
    }
    // The most that waited in line at once, seen between rounds: the connections did take
    // turns (on a thread of their own each they would never wait).
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let most_waiting = {
        let (share, done) = (share.clone(), done.clone());
        tokio::spawn(async move {
            let mut most = 0;
            while !done.load(Ordering::SeqCst) {
                most = most.max(share.waiting());
                tokio::task::yield_now().await;
            }
            most
        })
    };
    let all = async {
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().unwrap(), Message::text("hello"));
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all).await.expect("every connection got through");
    done.store(true, Ordering::SeqCst);
    let most_waiting = most_waiting.await.unwrap();
    println!("at most {most_waiting} of 12 busy connections waited in line at once");
    assert!(most_waiting >= 2, "the busy connections never waited in line ({most_waiting})");
    assert_eq!(share.waiting(), 0);
    drop(raws);
}
