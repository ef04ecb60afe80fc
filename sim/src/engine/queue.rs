//! The event queue: events ordered by (time, insertion sequence).
//!
//! Two events scheduled for the same instant come out in the order they were
//! scheduled, so a run never depends on heap internals. Cancellation is lazy:
//! a cancelled key is remembered and its event skipped when it reaches the
//! front, which keeps `cancel` O(1) and the heap free of removals.

use crate::time::SimTime;
use rustc_hash::FxHashSet;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Identifies one scheduled event, for cancelling it before it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(u64);

impl EventKey {
    /// The insertion sequence number behind this key.
    pub fn sequence(self) -> u64 {
        self.0
    }
}

struct Entry<E> {
    /// `time << 64 | seq`: one comparison orders by time, then by insertion.
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the earliest key is on top.
        other.key.cmp(&self.key)
    }
}

/// A priority queue of future events, earliest first, FIFO among equal times.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    cancelled: FxHashSet<u64>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            cancelled: FxHashSet::default(),
        }
    }

    /// An empty queue with room for `n` pending events.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(n),
            next_seq: 0,
            cancelled: FxHashSet::default(),
        }
    }

    /// Schedules `event` at `time` and returns the key that can cancel it.
    #[inline]
    pub fn schedule(&mut self, time: SimTime, event: E) -> EventKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry {
            key: ((time.0 as u128) << 64) | seq as u128,
            event,
        });
        EventKey(seq)
    }

    /// Cancels a pending event. Cancelling a key whose event has already
    /// fired or was already cancelled is a logic error in the caller; the
    /// queue cannot see it and would remember the key needlessly.
    pub fn cancel(&mut self, key: EventKey) {
        self.cancelled.insert(key.0);
    }

    /// Removes and returns the earliest live event with its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        loop {
            let entry = self.heap.pop()?;
            if !self.cancelled.is_empty() && self.cancelled.remove(&(entry.key as u64)) {
                continue;
            }
            return Some((SimTime((entry.key >> 64) as u64), entry.event));
        }
    }

    /// The time of the earliest live event, dropping cancelled ones on the way.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        loop {
            let key = self.heap.peek()?.key;
            if !self.cancelled.is_empty() && self.cancelled.contains(&(key as u64)) {
                self.cancelled.remove(&(key as u64));
                self.heap.pop();
                continue;
            }
            return Some(SimTime((key >> 64) as u64));
        }
    }

    /// Live (scheduled, not cancelled) events still pending.
    pub fn len(&self) -> usize {
        self.heap.len() - self.cancelled.len()
    }

    /// Whether no live event is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events scheduled since the queue was made, cancelled ones included.
    pub fn scheduled_total(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_fifo_among_ties() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(5), "c");
        q.schedule(SimTime(1), "a");
        q.schedule(SimTime(5), "d");
        q.schedule(SimTime(1), "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![
                (SimTime(1), "a"),
                (SimTime(1), "b"),
                (SimTime(5), "c"),
                (SimTime(5), "d")
            ]
        );
    }

    #[test]
    fn cancelled_events_are_skipped_and_not_counted() {
        let mut q = EventQueue::new();
        let a = q.schedule(SimTime(1), 1);
        q.schedule(SimTime(2), 2);
        let c = q.schedule(SimTime(3), 3);
        q.cancel(a);
        q.cancel(c);
        assert_eq!(q.len(), 1);
        assert_eq!(q.peek_time(), Some(SimTime(2)));
        assert_eq!(q.pop(), Some((SimTime(2), 2)));
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn large_times_keep_their_order() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(u64::MAX - 1), 2);
        q.schedule(SimTime(u64::MAX - 2), 1);
        assert_eq!(q.pop().unwrap().1, 1);
        assert_eq!(q.pop().unwrap().1, 2);
    }
}
