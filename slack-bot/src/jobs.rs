//! The bounded queue between the event loop and the handler workers.
//!
//! Not a channel: the loop hands over every request of one wake-up at once, under one lock,
//! and wakes only as many workers as are waiting and have something to take. A channel wakes
//! a parked receiver on every send (a system call per request when the worker keeps up and
//! parks between requests), and crossbeam's receivers spin before they park, competing with
//! the loop and the transport for the cores.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use slack_envelope::Envelope;

use crate::dispatch::QueueView;
use crate::handler::Reply;

/// A job for the worker pool.
pub(crate) struct Job {
    pub(crate) envelope: Envelope,
    pub(crate) work: Work,
    /// When the loop queued it (the pool grows when jobs wait too long).
    pub(crate) queued: Instant,
}

/// What a worker does with a job's envelope.
pub(crate) enum Work {
    /// Run its handler. `wants_reply`: the loop waits for the reply to ack.
    Handle { wants_reply: bool },
    /// Run its handler: a request acked before the last shutdown and spooled. A payload it
    /// returns is a late reply (it was acked long ago).
    Restored,
    /// Deliver a reply that came after the envelope was acked empty (`workers::late_reply`).
    LateReply(Reply),
    /// Run its handler: a request the fleet recorded in its stream (acked already); then
    /// acknowledge this stream entry.
    Recorded {
        /// The stream entry.
        entry: String,
    },
}

/// What a queued item weighs and when it was queued.
pub(crate) trait Weighed {
    /// Its size in bytes, counted against the queue's byte bound.
    fn bytes(&self) -> usize;
    /// When it was queued.
    fn queued(&self) -> Instant;
}

impl Weighed for Job {
    fn bytes(&self) -> usize {
        self.envelope.frame_text().len()
    }
    fn queued(&self) -> Instant {
        self.queued
    }
}

/// A bounded multi-consumer queue with one producer (the event loop), bounded by count and
/// by bytes.
pub(crate) struct JobQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    bound: usize,
    bound_bytes: usize,
}

struct State<T> {
    items: VecDeque<T>,
    /// The bytes of `items`.
    bytes: usize,
    /// Workers waiting in `pop`.
    idle: usize,
    /// No more items come; `pop` returns what is left, then `None`.
    closed: bool,
}

impl<T: Weighed> JobQueue<T> {
    /// A queue holding at most `bound` items (at least 1) and `bound_bytes` bytes.
    pub(crate) fn new(bound: usize, bound_bytes: usize) -> JobQueue<T> {
        JobQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                bytes: 0,
                idle: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            bound: bound.max(1),
            bound_bytes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A worker panicking while it holds the lock cannot leave the queue inconsistent
        // (every change is a single push, pop or counter step): keep going.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The room left and the oldest item's age, in one look (`workers` is filled in by the
    /// caller). With one producer the room only grows until it pushes.
    pub(crate) fn view(&self, workers: usize) -> QueueView {
        let s = self.lock();
        QueueView {
            room: self.bound.saturating_sub(s.items.len()),
            room_bytes: self.bound_bytes.saturating_sub(s.bytes),
            oldest_queued: s.items.front().map(Weighed::queued),
            workers,
        }
    }

    /// Whether items are waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    /// Items waiting, and workers waiting for one.
    #[cfg(test)]
    pub(crate) fn backlog(&self) -> (usize, usize) {
        let s = self.lock();
        (s.items.len(), s.idle)
    }

    /// Queues every item of `items` (leaving it empty) and wakes as many waiting workers as
    /// there are new items. Items beyond the bounds, or pushed after `close`, come back.
    pub(crate) fn push_all(&self, items: &mut Vec<T>) -> Vec<T> {
        self.push(items, false)
    }

    /// Like [`JobQueue::push_all`], beyond the bounds (items restored from the spool, run
    /// before any new request is taken). Only items pushed after `close` come back.
    pub(crate) fn push_all_unbounded(&self, items: &mut Vec<T>) -> Vec<T> {
        self.push(items, true)
    }

    fn push(&self, items: &mut Vec<T>, unbounded: bool) -> Vec<T> {
        if items.is_empty() {
            return Vec::new();
        }
        let mut s = self.lock();
        let fit = if s.closed {
            0
        } else if unbounded {
            items.len()
        } else {
            let mut room = self.bound.saturating_sub(s.items.len()).min(items.len());
            let mut bytes = s.bytes;
            for (i, item) in items.iter().take(room).enumerate() {
                bytes += item.bytes();
                if bytes > self.bound_bytes {
                    room = i;
                    break;
                }
            }
            room
        };
        let refused = items.split_off(fit);
        let pushed = items.len();
        s.bytes += items.iter().map(Weighed::bytes).sum::<usize>();
        s.items.extend(items.drain(..));
        let wake = s.idle.min(pushed);
        drop(s);
        for _ in 0..wake {
            self.ready.notify_one();
        }
        refused
    }

    /// The next item, waiting for one; `None` once the queue is closed and empty.
    pub(crate) fn pop(&self) -> Option<T> {
        let mut s = self.lock();
        loop {
            if let Some(item) = s.items.pop_front() {
                s.bytes = s.bytes.saturating_sub(item.bytes());
                return Some(item);
            }
            if s.closed {
                return None;
            }
            s.idle += 1;
            s = self
                .ready
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            s.idle -= 1;
        }
    }

    /// No more items: workers take what is left and then end.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// Takes every item still waiting (at the shutdown deadline: they go to the spool).
    pub(crate) fn take_all(&self) -> Vec<T> {
        let mut s = self.lock();
        s.bytes = 0;
        s.items.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, LazyLock};
    use std::time::Duration;

    static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

    /// Items weigh their value in bytes.
    impl Weighed for u32 {
        fn bytes(&self) -> usize {
            *self as usize
        }
        fn queued(&self) -> Instant {
            *EPOCH
        }
    }

    fn room(q: &JobQueue<u32>) -> usize {
        q.view(0).room
    }

    #[test]
    fn bound_is_kept_and_refused_items_come_back_in_order() {
        let q = JobQueue::new(3, usize::MAX);
        assert_eq!(room(&q), 3);
        let mut items = vec![1, 2];
        assert!(q.push_all(&mut items).is_empty());
        assert!(items.is_empty());
        assert_eq!(room(&q), 1);
        let mut more = vec![3, 4, 5];
        assert_eq!(q.push_all(&mut more), vec![4, 5]);
        assert_eq!(room(&q), 0);
        assert_eq!(q.backlog(), (3, 0));
        assert_eq!(q.pop(), Some(1));
        assert_eq!(room(&q), 1);
        q.close();
        let mut late = vec![6];
        assert_eq!(q.push_all(&mut late), vec![6]);
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(2), Some(3), None));
    }

    #[test]
    fn waiting_workers_are_woken_and_all_items_are_taken_once() {
        let q = Arc::new(JobQueue::new(10_000, usize::MAX));
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let q = Arc::clone(&q);
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Some(i) = q.pop() {
                        got.push(i);
                    }
                    got
                })
            })
            .collect();
        // Let them park first, so the wake-up path is the one taken.
        let parked = std::time::Instant::now();
        while q.backlog().1 < 3 && parked.elapsed() < Duration::from_secs(10) {
            std::thread::yield_now();
        }
        for chunk in 0..100 {
            let mut items: Vec<u32> = (chunk * 50..(chunk + 1) * 50).collect();
            assert!(q.push_all(&mut items).is_empty());
        }
        q.close();
        let mut all: Vec<u32> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..5000).collect::<Vec<u32>>());
    }

    #[test]
    fn the_byte_bound_is_kept_and_unbounded_pushes_pass_it() {
        let q = JobQueue::new(100, 10);
        let mut items = vec![4, 4, 4];
        assert_eq!(q.push_all(&mut items), vec![4]);
        let v = q.view(1);
        assert_eq!((v.room, v.room_bytes), (98, 2));
        assert_eq!(q.pop(), Some(4));
        assert_eq!(q.view(1).room_bytes, 6);
        let mut restored = vec![9, 9];
        assert!(q.push_all_unbounded(&mut restored).is_empty());
        assert_eq!(q.view(1).room_bytes, 0);
        assert_eq!(q.take_all(), vec![4, 9, 9]);
        assert_eq!(q.view(1).room_bytes, 10);
        assert!(q.is_empty());
    }
}
