//! Requests in flight, in a table whose slots are reused.

use crate::ids::{ReplicaId, RequestId, ServiceId};
use crate::time::SimTime;

/// One inference request while it is in the system.
#[derive(Clone, Debug)]
pub struct Request {
    /// Arrival order in the run: the request's id in records.
    pub seq: u64,
    /// Its service.
    pub service: ServiceId,
    /// When it arrived.
    pub arrival: SimTime,
    /// Prompt tokens.
    pub prompt: u32,
    /// Output tokens it will generate.
    pub output: u32,
    /// When a replica first took it.
    pub admitted: Option<SimTime>,
    /// When its first token came out (on its latest attempt).
    pub first_token: Option<SimTime>,
    /// The replica it is routed to, if any.
    pub replica: Option<ReplicaId>,
    /// The step count (roofline) or time in ns (sampled service) at which it finishes.
    pub finish_key: u64,
    /// Times it was restarted because its replica went away.
    pub retries: u16,
}

/// The table of requests in flight.
#[derive(Clone, Debug, Default)]
pub struct Requests {
    slots: Vec<Request>,
    free: Vec<RequestId>,
    live: usize,
}

impl Requests {
    /// Stores a new request and returns its slot.
    pub fn insert(&mut self, r: Request) -> RequestId {
        self.live += 1;
        match self.free.pop() {
            Some(id) => {
                self.slots[id.index()] = r;
                id
            }
            None => {
                self.slots.push(r);
                RequestId(self.slots.len() as u32 - 1)
            }
        }
    }

    /// Frees a slot once its request has ended.
    pub fn remove(&mut self, id: RequestId) {
        self.live -= 1;
        self.free.push(id);
    }

    /// Requests in flight.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether none is in flight.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
}

impl std::ops::Index<RequestId> for Requests {
    type Output = Request;
    #[inline]
    fn index(&self, id: RequestId) -> &Request {
        &self.slots[id.index()]
    }
}

impl std::ops::IndexMut<RequestId> for Requests {
    #[inline]
    fn index_mut(&mut self, id: RequestId) -> &mut Request {
        &mut self.slots[id.index()]
    }
}
