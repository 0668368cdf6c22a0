//! Regressions found by the load tool (tools/wsload), at the core's level: what one connection
//! holds while a hostile peer does what the tool's attack scenario does over real sockets.
//!
//! A counting global allocator (the pattern of `tests/hostile.rs`) measures the peak heap of
//! the test's own thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

use rfc6455::Role;
use rfc6455::close::CloseCode;
use rfc6455::connection::{Config, Connection, Event};

struct Counting;

thread_local! {
    static TRACKED: Cell<bool> = const { Cell::new(false) };
}

static CURRENT: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn tracked() -> bool {
    // `try_with` fails only while the thread is being torn down: not ours to count then.
    TRACKED.try_with(Cell::get).unwrap_or(false)
}

fn grew(size: usize) {
    if tracked() {
        let now = CURRENT.fetch_add(size as isize, Ordering::Relaxed) + size as isize;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

fn shrank(size: usize) {
    if tracked() {
        CURRENT.fetch_sub(size as isize, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` unchanged; the counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Counted as a new block before the old one is freed: a moving realloc holds both.
            grew(new_size);
            shrank(layout.size());
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The peak heap of this thread while `f` runs.
fn peak_of<R>(f: impl FnOnce() -> R) -> (R, usize) {
    CURRENT.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    TRACKED.with(|t| t.set(true));
    let result = f();
    TRACKED.with(|t| t.set(false));
    (result, PEAK.load(Ordering::Relaxed).max(0) as usize)
}

/// A masked client frame with a 7-bit length.
fn small_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![u8::from(fin) << 7 | opcode, 0x80 | payload.len() as u8];
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// A text message started, then 1-byte continuation frames until the message limit is passed
/// (what tools/wsload's "1-byte continuation frames" peer sends): the connection fails with
/// 1009, and what it held meanwhile must stay within a small multiple of the message limit,
/// however many frame headers the bytes came with (7 wire bytes per payload byte here).
#[test]
fn one_byte_continuations_up_to_the_message_limit_hold_about_the_limit() {
    let limit: usize = 256 * 1024;
    let config = Config::default().max_message_size(limit as u64);
    let mut wire = small_frame(false, 0x1, b"a");
    let one = small_frame(false, 0x0, b"x");
    for _ in 0..limit + 16 {
        wire.extend_from_slice(&one);
    }
    let (code, peak) = peak_of(|| {
        let mut conn = Connection::new(Role::Server, config);
        let mut code = None;
        // Delivered the way a socket would: 16 KiB reads straight into the connection's buffer.
        for piece in wire.chunks(16 * 1024) {
            let buf = conn.read_buf(piece.len());
            buf[..piece.len()].copy_from_slice(piece);
            conn.handle_read(piece.len());
            while let Some(event) = conn.poll_event() {
                if let Event::Closed(info) = event {
                    code = Some(info.code());
                }
            }
            if code.is_some() {
                break;
            }
        }
        code
    });
    println!("peak {peak} bytes for a {limit}-byte limit ({} wire bytes)", wire.len());
    assert_eq!(code, Some(CloseCode::MESSAGE_TOO_BIG));
    assert!(peak <= 2 * limit + 64 * 1024, "peak {peak} bytes for a message limit of {limit}");
}
