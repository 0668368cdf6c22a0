//! Heap use of a `Connection`: allocations per message in steady state (a counting global
//! allocator), the size of an idle connection and the heap it holds.
//!
//! The counters are per thread, so tests running in parallel do not disturb each other. Run
//! with `cargo test --test alloc_per_message -- --nocapture` to see the figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rfc6455::Role;
use rfc6455::connection::{Config, Connection, Event, MaskKeySource, MessageKind};
use rfc6455::frame::{OpCode, encode_frame_to_vec};

/// Counts allocations and live bytes of the current thread, then defers to the system
/// allocator.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
}

fn note(allocations: u64, bytes: i64) {
    // `try_with`: the thread-local may already be gone while a thread exits.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + allocations));
    let _ = LIVE_BYTES.try_with(|c| c.set(c.get() + bytes));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// bookkeeping touches only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(1, layout.size() as i64);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(1, layout.size() as i64);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(0, -(layout.size() as i64));
        // SAFETY: `ptr` came from `System` through this allocator, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(1, new_size as i64 - layout.size() as i64);
        // SAFETY: as for `dealloc`; `new_size` is the caller's, checked by its contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made and live bytes gained on this thread while running `f`.
fn count<T>(f: impl FnOnce() -> T) -> (T, u64, i64) {
    let (a0, b0) = (ALLOCATIONS.with(Cell::get), LIVE_BYTES.with(Cell::get));
    let value = f();
    let (a1, b1) = (ALLOCATIONS.with(Cell::get), LIVE_BYTES.with(Cell::get));
    (value, a1 - a0, b1 - b0)
}

fn fixed_keys() -> MaskKeySource {
    // A zero-sized closure: boxing it does not allocate.
    Box::new(|| [0x37, 0xfa, 0x21, 0x3d])
}

fn key_for(i: usize) -> [u8; 4] {
    ((i as u32).wrapping_mul(0x9E37_79B9) ^ 0x5A5A_1234).to_le_bytes()
}

/// A mixed stream as a client sends it: single-frame text and binary of several sizes, a
/// fragmented text message with a Ping between its fragments, a Pong.
fn client_stream() -> (Vec<u8>, usize) {
    let mut wire = Vec::new();
    let mut messages = 0;
    let mut k = 0;
    let mut frame = |fin: bool, opcode: OpCode, payload: &[u8], wire: &mut Vec<u8>| {
        k += 1;
        encode_frame_to_vec(fin, 0, opcode, payload, Some(key_for(k)), wire).unwrap();
    };
    for size in [0, 16, 125, 1024, 16 * 1024] {
        frame(true, OpCode::Binary, &vec![0xA5; size], &mut wire);
        frame(true, OpCode::Text, "é".repeat(size / 2).as_bytes(), &mut wire);
        messages += 2;
    }
    let text = "Привет, мир! 🦀".repeat(200);
    let (a, rest) = text.as_bytes().split_at(1001); // splits a code point
    let (b, c) = rest.split_at(1500);
    frame(false, OpCode::Text, a, &mut wire);
    frame(false, OpCode::Continuation, b, &mut wire);
    frame(true, OpCode::Ping, b"ping", &mut wire);
    frame(true, OpCode::Continuation, c, &mut wire);
    frame(true, OpCode::Pong, b"pong", &mut wire);
    messages += 1;
    (wire, messages)
}

/// Feeds `wire` in reads of `slice` bytes, drains events and output; returns data messages.
fn receive(conn: &mut Connection, wire: &[u8], slice: usize) -> usize {
    let mut messages = 0;
    for piece in wire.chunks(slice) {
        let buf = conn.read_buf(piece.len());
        buf[..piece.len()].copy_from_slice(piece);
        conn.handle_read(piece.len());
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Text(_) | Event::Binary(_) => messages += 1,
                Event::Ping(_) | Event::Pong(_) => {}
                other => panic!("unexpected event {other:?}"),
            }
        }
        let n = conn.poll_output().len();
        conn.handle_written(n).unwrap();
        assert_eq!(conn.pending_output_len(), 0);
    }
    messages
}

/// Writes all pending output to nowhere (a sink takes every byte without allocating).
fn write_all(conn: &mut Connection) {
    conn.write_to(&mut std::io::sink()).unwrap();
    assert_eq!(conn.pending_output_len(), 0);
}

#[test]
fn receiving_allocates_nothing_in_steady_state() {
    let (wire, per_pass) = client_stream();
    for slice in [1, 1460, 16 * 1024, 64 * 1024] {
        let mut conn = Connection::new(Role::Server, Config::default());
        // The first pass grows the buffers to what this traffic needs. Its reads fill all the
        // room offered, so the second may be offered more (`read_buf`'s read-ahead) and grow
        // the receive buffer once more: steady state begins after it.
        for _ in 0..2 {
            assert_eq!(receive(&mut conn, &wire, slice), per_pass);
        }
        let (messages, allocations, _) =
            count(|| (0..20).map(|_| receive(&mut conn, &wire, slice)).sum::<usize>());
        assert_eq!(messages, 20 * per_pass);
        println!("receive, reads of {slice} B: {allocations} allocations for {messages} messages");
        assert_eq!(allocations, 0, "reads of {slice} B");
    }
}

/// A large message as a client sends it: 1 MiB of text or binary, in one frame or in 64.
fn large_message(opcode: OpCode, fragmented: bool, wire: &mut Vec<u8>) {
    let payload = vec![b'w'; 1 << 20];
    let frame = if fragmented { 16 * 1024 } else { payload.len() };
    for (i, piece) in payload.chunks(frame).enumerate() {
        let opcode = if i == 0 { opcode } else { OpCode::Continuation };
        let fin = (i + 1) * frame == payload.len();
        encode_frame_to_vec(fin, 0, opcode, piece, Some(key_for(i)), wire).unwrap();
    }
}

#[test]
fn receiving_large_messages_allocates_nothing_in_steady_state() {
    // A stream of large messages reuses the buffers their first one grew: they are freed only
    // once traffic stops needing them (or by `release_buffers`), not at every message. Each
    // kind alone, and single binary frames (held in place in the receive buffer) alternating
    // with each other kind (which need the reassembly buffers instead).
    let kinds =
        [(OpCode::Binary, false), (OpCode::Binary, true), (OpCode::Text, false), (OpCode::Text, true)];
    let mut streams: Vec<Vec<(OpCode, bool)>> = kinds.iter().map(|&kind| vec![kind]).collect();
    streams.extend(kinds[1..].iter().map(|&kind| vec![kinds[0], kind]));
    for stream in streams {
        let mut wire = Vec::new();
        for &(opcode, fragmented) in &stream {
            large_message(opcode, fragmented, &mut wire);
        }
        for slice in [16 * 1024, 128 * 1024] {
            let mut conn = Connection::new(Role::Server, Config::default());
            assert_eq!(receive(&mut conn, &wire, slice), stream.len());
            let (messages, allocations, _) =
                count(|| (0..3).map(|_| receive(&mut conn, &wire, slice)).sum::<usize>());
            assert_eq!(messages, 3 * stream.len());
            println!(
                "receive 1 MiB {stream:?}, reads of {slice} B: {allocations} allocations for {messages} messages"
            );
            assert_eq!(allocations, 0, "{stream:?}, reads of {slice} B");
        }
    }
}

#[test]
fn sending_allocates_nothing_in_steady_state() {
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::builder(role).mask_keys(fixed_keys()).build();
        let data = vec![7u8; 16 * 1024];
        let text = "é".repeat(600);
        let send_all = |conn: &mut Connection| {
            for size in [0, 16, 125, 1024, 16 * 1024] {
                conn.send_binary(&data[..size]).unwrap();
                conn.send_text(&text).unwrap();
                conn.ping(b"hi").unwrap();
                let n = conn.poll_output().len();
                conn.handle_written(n).unwrap();
                assert_eq!(conn.pending_output_len(), 0);
            }
        };
        send_all(&mut conn);
        let ((), allocations, _) = count(|| (0..20).for_each(|_| send_all(&mut conn)));
        println!("send as {role:?}: {allocations} allocations for {} messages", 20 * 15);
        assert_eq!(allocations, 0, "{role:?}");
    }
}

#[test]
fn sending_owned_payloads_allocates_nothing_in_steady_state() {
    // A server holds shared payloads (a broadcast) where they lie; a client masks an owned
    // `Vec` in place. Neither copies nor allocates once the hold queue has its capacity.
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::builder(role).mask_keys(fixed_keys()).build();
        let shared: std::sync::Arc<[u8]> = vec![7u8; 64 * 1024].into();
        // The application's own buffers, made before counting.
        let mut owned: Vec<Vec<u8>> = (0..21).map(|_| vec![9u8; 16 * 1024]).collect();
        let send_all = |conn: &mut Connection, owned: Vec<u8>| {
            conn.send_owned(MessageKind::Binary, std::sync::Arc::clone(&shared)).unwrap();
            conn.send_binary(b"between").unwrap();
            conn.send_owned(MessageKind::Binary, owned).unwrap();
            while conn.pending_output_len() > 0 {
                let n = conn.output_pieces().take(2).map(<[u8]>::len).sum();
                conn.handle_written(n).unwrap();
            }
        };
        send_all(&mut conn, owned.pop().unwrap());
        let ((), allocations, _) = count(|| owned.drain(..).for_each(|buf| send_all(&mut conn, buf)));
        println!("send_owned as {role:?}: {allocations} allocations for {} messages", 20 * 3);
        assert_eq!(allocations, 0, "{role:?}");
    }
}

#[test]
fn vectored_sends_allocate_nothing_in_steady_state() {
    // A server's large payload goes out from where it lies (nothing allocated, even when
    // the write takes only part of it and the rest is copied into the output buffer, which
    // is kept); a client's is masked into the output buffer.
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::builder(role).mask_keys(fixed_keys()).build();
        let data = vec![7u8; 16 * 1024];
        let send_all = |conn: &mut Connection| {
            for (size, take) in
                [(16, usize::MAX), (4096, usize::MAX), (16 * 1024, usize::MAX), (16 * 1024, 3000)]
            {
                let mut send = conn.send_vectored(MessageKind::Binary, &data[..size]).unwrap();
                let n = send.pieces().map(<[u8]>::len).sum::<usize>().min(take);
                send.written(n).unwrap();
                write_all(conn);
            }
        };
        send_all(&mut conn);
        let ((), allocations, _) = count(|| (0..20).for_each(|_| send_all(&mut conn)));
        println!("send_vectored as {role:?}: {allocations} allocations for {} messages", 20 * 4);
        assert_eq!(allocations, 0, "{role:?}");
    }
}

#[test]
fn the_default_client_key_source_allocates_nothing_per_frame() {
    let mut conn = Connection::new(Role::Client, Config::default());
    conn.send_binary(b"the same 16 byte").unwrap();
    write_all(&mut conn);
    let ((), allocations, _) = count(|| {
        for _ in 0..1000 {
            conn.send_binary(b"0123456789abcdef").unwrap();
            write_all(&mut conn);
        }
    });
    assert_eq!(allocations, 0);
}

#[test]
fn idle_connection_size_and_heap() {
    let size = std::mem::size_of::<Connection>();
    println!("size_of::<Connection>() = {size} bytes");
    // Sized by its fields (config, decoder state, buffer handles); the buffers are on the heap.
    assert!(size <= 1024, "Connection grew to {size} bytes");

    // A new connection allocates nothing (the zero-sized key source box included).
    let (server, allocations, bytes) = count(|| Connection::new(Role::Server, Config::default()));
    assert_eq!((allocations, bytes), (0, 0), "a new server connection");
    let (client, allocations, bytes) =
        count(|| Connection::builder(Role::Client).mask_keys(fixed_keys()).build());
    assert_eq!((allocations, bytes), (0, 0), "a new client connection");
    drop((server, client));

    // The default client key source is one boxed CSPRNG.
    let (client, _, bytes) = count(|| Connection::new(Role::Client, Config::default()));
    println!("a new client with the default key source holds {bytes} heap bytes");
    drop(client);

    // After traffic, an idle connection keeps its receive and send buffers, so that the next
    // message allocates nothing; how much is bounded by the keep limits below.
    let (wire, _) = client_stream();
    let mut conn = Connection::new(Role::Server, Config::default());
    receive(&mut conn, &wire, 16 * 1024);
    conn.send_binary(&[1; 16 * 1024]).unwrap();
    write_all(&mut conn);
    let ((), _, freed) = count(|| drop(conn));
    println!("an idle server connection after traffic of up to 16 KiB holds {} heap bytes", -freed);
    assert!(-freed < 128 * 1024, "{} bytes held", -freed);

    // A large message grows the receive buffer to the frame and one read (not to the next
    // power of two), which is kept while large messages need it
    // (`receiving_large_messages_allocates_nothing_in_steady_state`) and released once twice
    // as many bytes as it holds arrived without needing a quarter of it.
    let held_after = |small_passes: usize| {
        let mut conn = Connection::new(Role::Server, Config::default());
        let mut big = Vec::new();
        encode_frame_to_vec(true, 0, OpCode::Binary, &vec![0; 4 << 20], Some([1, 2, 3, 4]), &mut big)
            .unwrap();
        receive(&mut conn, &big, 64 * 1024);
        for _ in 0..small_passes {
            receive(&mut conn, &wire, 16 * 1024);
        }
        let ((), _, freed) = count(|| drop(conn));
        -freed
    };
    let frame: usize = (4 << 20) + 14;
    let passes = (2 * (frame + 64 * 1024)).div_ceil(wire.len()) + 1;
    let (held, released) = (held_after(1), held_after(passes));
    println!("after a 4 MiB message: {held} heap bytes; after {passes} passes of small traffic: {released}");
    assert!(held >= frame as i64 && held <= (frame + 64 * 1024 + 128 * 1024) as i64, "{held} bytes held");
    assert!(released < 1 << 20, "the large receive buffer was released ({released} bytes held)");

    // The same for the reassembly buffer of a large fragmented message.
    let mut conn = Connection::new(Role::Server, Config::default());
    let mut big = Vec::new();
    for i in 0..64 {
        let opcode = if i == 0 { OpCode::Binary } else { OpCode::Continuation };
        encode_frame_to_vec(i == 63, 0, opcode, &vec![0; 64 * 1024], Some(key_for(i)), &mut big).unwrap();
    }
    receive(&mut conn, &big, 64 * 1024);
    receive(&mut conn, &wire, 16 * 1024);
    let ((), _, freed) = count(|| drop(conn));
    println!("after a fragmented 4 MiB message and small traffic: {} heap bytes", -freed);
    assert!(-freed < 1 << 20, "the large reassembly buffer was released ({} bytes held)", -freed);
}
