//! The bounded queue between the event loop and the handler workers.
//!
//! Not a channel: the loop hands over every request of one wake-up at once, under one lock,
//! and wakes only as many workers as are waiting and have something to take. A channel wakes
//! a parked receiver on every send (a system call per request when the worker keeps up and
//! parks between requests), and crossbeam's receivers spin before they park, competing with
//! the loop and the transport for the cores.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

/// A bounded multi-consumer queue with one producer (the event loop).
pub(crate) struct JobQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    bound: usize,
}

struct State<T> {
    items: VecDeque<T>,
    /// Workers waiting in `pop`.
    idle: usize,
    /// No more items come; `pop` returns what is left, then `None`.
    closed: bool,
}

impl<T> JobQueue<T> {
    /// A queue holding at most `bound` items (at least 1).
    pub(crate) fn new(bound: usize) -> JobQueue<T> {
        JobQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                idle: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            bound: bound.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A worker panicking while it holds the lock cannot leave the queue inconsistent
        // (every change is a single push, pop or counter step): keep going.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many more items fit now. With one producer this only grows until it pushes.
    pub(crate) fn room(&self) -> usize {
        self.bound.saturating_sub(self.lock().items.len())
    }

    /// Items waiting, and workers waiting for one.
    #[cfg(test)]
    pub(crate) fn backlog(&self) -> (usize, usize) {
        let s = self.lock();
        (s.items.len(), s.idle)
    }

    /// `f` of the item waiting longest, if any.
    pub(crate) fn oldest<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.lock().items.front().map(f)
    }

    /// Queues every item of `items` (leaving it empty) and wakes as many waiting workers as
    /// there are new items. Items beyond the bound, or pushed after `close`, come back.
    pub(crate) fn push_all(&self, items: &mut Vec<T>) -> Vec<T> {
        if items.is_empty() {
            return Vec::new();
        }
        let mut s = self.lock();
        let fit = if s.closed {
            0
        } else {
            self.bound.saturating_sub(s.items.len()).min(items.len())
        };
        let refused = items.split_off(fit);
        let pushed = items.len();
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn bound_is_kept_and_refused_items_come_back_in_order() {
        let q = JobQueue::new(3);
        assert_eq!(q.room(), 3);
        let mut items = vec![1, 2];
        assert!(q.push_all(&mut items).is_empty());
        assert!(items.is_empty());
        assert_eq!(q.room(), 1);
        let mut more = vec![3, 4, 5];
        assert_eq!(q.push_all(&mut more), vec![4, 5]);
        assert_eq!(q.room(), 0);
        assert_eq!(q.backlog(), (3, 0));
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.room(), 1);
        q.close();
        let mut late = vec![6];
        assert_eq!(q.push_all(&mut late), vec![6]);
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(2), Some(3), None));
    }

    #[test]
    fn waiting_workers_are_woken_and_all_items_are_taken_once() {
        let q = Arc::new(JobQueue::new(10_000));
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
}
