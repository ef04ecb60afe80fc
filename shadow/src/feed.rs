//! The queue between live sources and the shadow loop, and what travels in
//! it.
//!
//! A [`Feed`] holds at most its capacity of events. Pushing never waits: when
//! the queue is full, the oldest readings are dropped and a [`Event::Gap`]
//! takes their place, so a slow consumer loses samples visibly and the
//! sources keep sampling. Gaps and health changes are never dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use twin_replay::Sample;

/// One GPU's reading from a live source.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// The host the GPU is in (`Hostname` or `hostname` label, or the
    /// source's own host).
    pub host: String,
    /// The GPU's UUID, when the source gives it.
    pub uuid: Option<String>,
    /// The Kubernetes pod using the GPU (`namespace/name`), when the source maps it.
    pub pod: Option<String>,
    /// The measurements, in Twin's canonical telemetry fields.
    pub sample: Sample,
}

/// How a source is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Reading normally.
    Up,
    /// Failing; retried after a backoff.
    Retrying {
        /// Failures in a row.
        attempt: u32,
        /// What went wrong, for the user.
        error: String,
    },
    /// Reading, but part of it cannot be read (a GPU lost, a field not supported).
    Degraded(String),
    /// Given up on (the source cannot work here at all, such as no NVML library).
    Down(String),
}

/// What a source says.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Readings, in time order within the source.
    Readings {
        /// The source, as the user named it (`dcgm:http://...`).
        source: String,
        /// Its readings.
        readings: Vec<Reading>,
    },
    /// No readings from `source` between two times (ns since the epoch),
    /// and why: the gap is marked, never filled.
    Gap {
        /// The source.
        source: String,
        /// Start of the gap.
        from_ns: i64,
        /// End of the gap.
        to_ns: i64,
        /// Why (a stall, a disconnect, readings dropped by a slow consumer).
        why: String,
    },
    /// The source's health changed.
    Health {
        /// The source.
        source: String,
        /// Its health now.
        health: Health,
    },
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<Event>,
    dropped_readings: u64,
    closed: bool,
}

/// A bounded, never-blocking queue of [`Event`]s (cheap to clone; clones
/// share the queue).
#[derive(Clone, Debug)]
pub struct Feed {
    inner: Arc<Mutex<Inner>>,
    notify: Arc<Notify>,
    capacity: usize,
}

impl Feed {
    /// A feed holding at most `capacity` events (at least 2).
    pub fn new(capacity: usize) -> Feed {
        Feed { inner: Arc::default(), notify: Arc::new(Notify::new()), capacity: capacity.max(2) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere must not end the feed: the queue stays consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `event` without waiting. When full, the oldest readings make
    /// room and are replaced by a gap of the same span.
    pub fn push(&self, event: Event) {
        {
            let mut q = self.lock();
            if q.queue.len() >= self.capacity
                && let Some(i) = q.queue.iter().position(|e| matches!(e, Event::Readings { .. }))
                && let Some(Event::Readings { source, readings }) = q.queue.remove(i)
            {
                let (from, to) = span(&readings);
                q.dropped_readings += readings.len() as u64;
                q.queue.insert(i, Event::Gap { source, from_ns: from, to_ns: to, why: "dropped: the shadow loop fell behind".into() });
            }
            q.queue.push_back(event);
        }
        self.notify.notify_one();
    }

    /// Pushes `health` for `source` when it differs from `last` (what the
    /// source said before), and remembers it there; true when pushed.
    pub fn push_health_if_new(&self, source: &str, last: &mut Option<Health>, health: Health) -> bool {
        if last.as_ref() == Some(&health) {
            return false;
        }
        *last = Some(health.clone());
        self.push(Event::Health { source: source.to_string(), health });
        true
    }

    /// The next event, waiting for one; `None` once closed and empty.
    pub async fn next(&self) -> Option<Event> {
        loop {
            let notified = self.notify.notified();
            {
                let mut q = self.lock();
                if let Some(e) = q.queue.pop_front() {
                    return Some(e);
                }
                if q.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Every event waiting now, without waiting.
    pub fn drain(&self) -> Vec<Event> {
        self.lock().queue.drain(..).collect()
    }

    /// No more events will come: [`Self::next`] returns `None` once empty.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }

    /// Readings dropped so far because the consumer fell behind.
    pub fn dropped_readings(&self) -> u64 {
        self.lock().dropped_readings
    }
}

/// First and last time of `readings`.
fn span(readings: &[Reading]) -> (i64, i64) {
    let times = readings.iter().map(|r| r.sample.time_ns);
    (times.clone().min().unwrap_or(0), times.max().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readings(t: i64, n: usize) -> Event {
        let r = (0..n).map(|g| Reading { host: "h".into(), uuid: None, pod: None, sample: Sample::new(t, g as u32) }).collect();
        Event::Readings { source: "s".into(), readings: r }
    }

    #[test]
    fn a_full_feed_turns_the_oldest_readings_into_a_gap_and_keeps_the_rest() {
        let f = Feed::new(3);
        f.push(Event::Health { source: "s".into(), health: Health::Up });
        f.push(readings(10, 4));
        f.push(readings(20, 4));
        f.push(readings(30, 4));
        let got = f.drain();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], Event::Health { source: "s".into(), health: Health::Up });
        assert!(matches!(&got[1], Event::Gap { from_ns: 10, to_ns: 10, .. }));
        assert_eq!(got[3], readings(30, 4));
        assert_eq!(f.dropped_readings(), 4);
    }

    #[tokio::test]
    async fn next_waits_for_a_push_and_ends_when_closed() {
        let f = Feed::new(8);
        let g = f.clone();
        let t = tokio::spawn(async move {
            let mut n = 0;
            while g.next().await.is_some() {
                n += 1;
            }
            n
        });
        f.push(readings(1, 1));
        f.push(readings(2, 1));
        tokio::task::yield_now().await;
        f.close();
        assert_eq!(t.await.unwrap(), 2);
    }
}
