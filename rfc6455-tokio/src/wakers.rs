//! One waker for the transport that wakes both sides of a connection.
//!
//! A transport keeps one waker per direction: whichever task polled last. When one task
//! receives and another sends (the split halves, or `StreamExt::split`), both drive reads,
//! writes and timers, so a task that registered alone could be replaced by the other and
//! never woken. Every poll therefore registers its task here, under its side, and passes the
//! transport a waker that wakes both.

use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Wake, Waker};

/// Which side of the connection a task polls.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    Receive = 0,
    Send = 1,
}

pub(crate) struct Wakers {
    set: Arc<WakerSet>,
    /// The waker handed to the transport and the timer: wakes every registered task.
    joint: Waker,
}

impl Wakers {
    pub(crate) fn new() -> Self {
        let set = Arc::new(WakerSet::default());
        let joint = Waker::from(Arc::clone(&set));
        Self { set, joint }
    }

    /// Registers the task of `cx` for `side` and returns the context to poll the driver with.
    pub(crate) fn register(&self, side: Side, cx: &Context<'_>) -> Context<'_> {
        {
            let mut slots = self.set.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = &mut slots[side as usize];
            if !slot.as_ref().is_some_and(|waker| waker.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        Context::from_waker(&self.joint)
    }

    /// Wakes every registered task.
    pub(crate) fn wake_all(&self) {
        self.joint.wake_by_ref();
    }

    /// The task of `side` is gone.
    pub(crate) fn forget(&self, side: Side) {
        self.set.slots.lock().unwrap_or_else(PoisonError::into_inner)[side as usize] = None;
    }
}

#[derive(Default)]
struct WakerSet {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl Wake for WakerSet {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Taken, not cloned: a woken task registers again when it polls.
        let taken = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            [slots[0].take(), slots[1].take()]
        };
        for waker in taken.into_iter().flatten() {
            waker.wake();
        }
    }
}
