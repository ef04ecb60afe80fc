//! Consistency checks over the whole fabric, for tests and debugging.
//!
//! [`Fabric::check_invariants`] states what must never happen: a node handing
//! out more accelerators than it has, an allocation nobody owns, a request
//! counted nowhere, a gang only partly placed.

use super::Fabric;
use crate::fleet::{NodeState, Owner};
use crate::workload::{JobState, ReplicaState};

/// Something that must never happen, happened: the fabric (or a
/// placement's view of it) is inconsistent. The message says what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvariantViolation(pub String);

impl From<String> for InvariantViolation {
    fn from(what: String) -> Self {
        InvariantViolation(what)
    }
}

impl Fabric {
    /// Checks that the fabric is consistent; the error says what is not.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        for node in &self.nodes {
            let held: u32 = node.allocs.iter().map(|a| a.gpus).sum();
            if held + node.free != node.gpus {
                return Err(format!("node {:?}: {held} held + {} free != {} accelerators", node.id, node.free, node.gpus).into());
            }
            if !node.allocs.is_empty() && !matches!(node.state, NodeState::Ready | NodeState::Draining) {
                return Err(format!("node {:?} is {:?} but holds work", node.id, node.state).into());
            }
            let listed = self.pools[node.pool.index()].nodes.contains(&node.id);
            if listed != node.is_live() {
                return Err(format!("node {:?} ({:?}) listed in its pool: {listed}", node.id, node.state).into());
            }
            for a in &node.allocs {
                let ok = match a.owner {
                    Owner::Replica(r) => {
                        let rep = &self.replicas[r.index()];
                        rep.node == Some(node.id)
                            && matches!(rep.state, ReplicaState::Starting | ReplicaState::Ready | ReplicaState::Draining)
                    }
                    Owner::Job(j) => {
                        let job = &self.jobs[j.index()];
                        matches!(job.state, JobState::Running | JobState::Checkpointing) && job.placement.iter().any(|p| p.0 == node.id)
                    }
                };
                if !ok {
                    return Err(format!("node {:?} holds accelerators for {:?}, which does not hold them", node.id, a.owner).into());
                }
            }
        }
        for pool in &self.pools {
            if pool.nodes.len() as u32 > pool.max_nodes {
                return Err(format!("pool {} has {} nodes, max {}", pool.name, pool.nodes.len(), pool.max_nodes).into());
            }
        }
        for job in &self.jobs {
            let placed: u32 = job.placement.iter().map(|p| p.1).sum();
            let running = matches!(job.state, JobState::Running | JobState::Checkpointing);
            if running && placed != job.gpus || !running && placed != 0 {
                return Err(format!("job {} is {:?} with {placed} of {} accelerators placed", job.name, job.state, job.gpus).into());
            }
            if job.saved > job.progress + 1e-6 || job.progress > job.work + 1e-6 {
                return Err(format!("job {}: saved {} progress {} work {}", job.name, job.saved, job.progress, job.work).into());
            }
        }
        let view = crate::placement::FleetView { pools: &self.pools, nodes: &self.nodes };
        self.placement.check(&view)?;
        let mut in_system = 0usize;
        for svc in &self.services {
            let mut on_replicas = 0u64;
            for &r in &svc.replicas {
                let rep = &self.replicas[r.index()];
                if rep.state == ReplicaState::Stopped {
                    return Err(format!("service {} lists stopped replica {r:?}", svc.name).into());
                }
                if rep.running.len() + rep.joining.len() > svc.max_batch as usize {
                    return Err(format!("replica {r:?} of {} runs more than max_batch", svc.name).into());
                }
                if rep.kv_committed > rep.kv_capacity {
                    return Err(
                        format!("replica {r:?} of {} promised {} KV tokens of {}", svc.name, rep.kv_committed, rep.kv_capacity).into()
                    );
                }
                on_replicas += u64::from(rep.load());
                if rep.state == ReplicaState::Ready && rep.load_key != rep.load() {
                    return Err(format!("replica {r:?} of {} is routed at load {} but holds {}", svc.name, rep.load_key, rep.load()).into());
                }
            }
            let ready = svc.replicas.iter().filter(|r| self.replicas[r.index()].state == ReplicaState::Ready).count();
            if ready != svc.routable.len() {
                return Err(format!("service {} routes to {} replicas but {ready} are ready", svc.name, svc.routable.len()).into());
            }
            let st = &svc.stats;
            let ended = st.finished + st.dropped.iter().sum::<u64>();
            let here = svc.queue.len() as u64 + on_replicas;
            if st.arrived != ended + here {
                return Err(format!("service {}: {} arrived != {ended} ended + {here} in the system", svc.name, st.arrived).into());
            }
            in_system += here as usize;
        }
        if in_system != self.requests.len() {
            return Err(format!("{} requests in the table, {in_system} found in queues and replicas", self.requests.len()).into());
        }
        Ok(())
    }
}
