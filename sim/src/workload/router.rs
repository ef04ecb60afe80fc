//! Least-loaded routing in constant time: ready replicas in buckets by load.
//!
//! A replica's load changes on every admission and completion, so the
//! structure must make both the update and the lookup cheap. Buckets indexed
//! by load, with each replica's position kept on the replica, give O(1)
//! moves; the lowest non-empty bucket is tracked and only scanned upwards
//! when it empties. Ties go to the replica that has been in the bucket
//! longest (the front); the order depends only on the run's events, so
//! routing is deterministic.

use super::replica::Replica;
use crate::ids::ReplicaId;

/// Ready replicas of one service, by load.
#[derive(Clone, Debug, Default)]
pub struct Router {
    buckets: Vec<Vec<ReplicaId>>,
    min: usize,
    len: usize,
}

impl Router {
    /// Replicas in the router.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no replica is in the router.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a replica with its current load.
    pub fn insert(&mut self, r: ReplicaId, replicas: &mut [Replica]) {
        let load = replicas[r.index()].load();
        let l = load as usize;
        if self.buckets.len() <= l {
            self.buckets.resize_with(l + 1, Vec::new);
        }
        let rep = &mut replicas[r.index()];
        rep.load_key = load;
        rep.route_pos = self.buckets[l].len() as u32;
        self.buckets[l].push(r);
        if self.len == 0 || l < self.min {
            self.min = l;
        }
        self.len += 1;
    }

    /// Removes a replica.
    pub fn remove(&mut self, r: ReplicaId, replicas: &mut [Replica]) {
        let (l, pos) = {
            let rep = &replicas[r.index()];
            (rep.load_key as usize, rep.route_pos as usize)
        };
        let bucket = &mut self.buckets[l];
        debug_assert_eq!(bucket.get(pos), Some(&r), "router position out of date");
        bucket.swap_remove(pos);
        if let Some(&moved) = bucket.get(pos) {
            replicas[moved.index()].route_pos = pos as u32;
        }
        self.len -= 1;
        if self.len == 0 {
            self.min = 0;
        } else if l == self.min {
            while self.buckets[self.min].is_empty() {
                self.min += 1;
            }
        }
    }

    /// Moves a replica to the bucket of its current load.
    pub fn update(&mut self, r: ReplicaId, replicas: &mut [Replica]) {
        if replicas[r.index()].load() != replicas[r.index()].load_key {
            self.remove(r, replicas);
            self.insert(r, replicas);
        }
    }

    /// The least-loaded replica and its load.
    pub fn least_loaded(&self) -> Option<(u32, ReplicaId)> {
        if self.len == 0 { None } else { self.buckets[self.min].first().map(|&r| (self.min as u32, r)) }
    }

    /// Replicas in increasing load, with their loads.
    pub fn iter(&self) -> impl Iterator<Item = (u32, ReplicaId)> + '_ {
        self.buckets.iter().enumerate().skip(self.min).flat_map(|(l, b)| b.iter().map(move |&r| (l as u32, r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{RequestId, ServiceId};
    use crate::time::SimTime;

    #[test]
    fn tracks_the_least_loaded_through_moves() {
        let mut reps: Vec<Replica> = (0..4).map(|_| Replica::new(ServiceId(0), SimTime::ZERO)).collect();
        let mut router = Router::default();
        for i in 0..4 {
            reps[i].inbox.extend((0..i).map(|k| RequestId(k as u32)));
            router.insert(ReplicaId(i as u32), &mut reps);
        }
        assert_eq!(router.least_loaded(), Some((0, ReplicaId(0))));
        reps[0].inbox.extend([RequestId(9), RequestId(9), RequestId(9), RequestId(9)]);
        router.update(ReplicaId(0), &mut reps);
        assert_eq!(router.least_loaded(), Some((1, ReplicaId(1))));
        router.remove(ReplicaId(1), &mut reps);
        assert_eq!(router.least_loaded(), Some((2, ReplicaId(2))));
        let order: Vec<u32> = router.iter().map(|x| x.1.0).collect();
        assert_eq!(order, vec![2, 3, 0]);
        assert_eq!(router.len(), 3);
        for r in [0, 2, 3] {
            router.remove(ReplicaId(r), &mut reps);
        }
        assert!(router.is_empty());
        assert_eq!(router.least_loaded(), None);
    }
}
