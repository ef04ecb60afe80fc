//! `FrameworkPlacement`: Twin's scheduler (the `twin-scheduler` framework) in
//! the loop.
//!
//! The adapter keeps a mirror of the fleet as the scheduler's [`Cluster`],
//! updated from every [`FleetChange`] the fabric reports, as kube-scheduler
//! keeps its cache from the API server. Pools become node shapes (labels
//! `twin.dev/pool`, `gpu.type`, region and zone, the pool's own labels and
//! taints, price, capacity type, interruption hazard); allocations and
//! promises on nodes become bound pods. A replica is one pod; a training gang
//! is one pod per node it spans. When nothing fits, the profile may preempt;
//! failing that, it picks the pool to grow the way a cluster autoscaler's
//! expander does: by scoring an empty node of each pool with the same plugins.

use super::{
    Decision, FleetChange, FleetView, Placement, PlacementError, PlacementRequest, Verdict, WaitReason, gang_shape, provision_where,
};
use crate::fabric::InvariantViolation;
use crate::fleet::{NodeState, Owner, Pool};
use crate::ids::{NodeId, PoolId};
use crate::scenario::spec::CapacityType;
use std::collections::BTreeMap;
use twin_scheduler::{Capacity, Cluster, Gang, GangOutcome, NodeIdx, NodeShape, Outcome, Pod, PodId, Profile, Selector, ShapeId};

/// The label naming a node's pool.
pub const POOL_LABEL: &str = "twin.dev/pool";

/// Twin's scheduler framework with a profile, deciding placements in the simulation.
pub struct FrameworkPlacement {
    profile: Profile,
    cluster: Cluster,
    shapes: Vec<Option<ShapeId>>,
    node_idx: Vec<Option<NodeIdx>>,
    /// The fleet's node for each mirror node, by `NodeIdx`.
    node_of: Vec<NodeId>,
    /// Pods standing for what owners hold on nodes.
    held: BTreeMap<(Owner, NodeId), PodId>,
    /// Placeholder pods standing for promises to pending owners.
    promised: BTreeMap<(Owner, NodeId), (PodId, u32)>,
    owners: BTreeMap<PodId, Owner>,
    /// CPU millicores and memory MiB per accelerator that each owner's pods
    /// ask for (only owners that ask for some), from their placement requests.
    demands: BTreeMap<Owner, (u32, u32)>,
    next_pod: u64,
    drift: Option<String>,
}

impl FrameworkPlacement {
    /// The framework with a profile.
    pub fn new(profile: Profile) -> FrameworkPlacement {
        FrameworkPlacement {
            profile,
            cluster: Cluster::default(),
            shapes: Vec::new(),
            node_idx: Vec::new(),
            node_of: Vec::new(),
            held: BTreeMap::new(),
            promised: BTreeMap::new(),
            owners: BTreeMap::new(),
            demands: BTreeMap::new(),
            next_pod: 0,
            drift: None,
        }
    }

    /// The scheduler's view of the fleet.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    fn shape_of(pool: &Pool) -> NodeShape {
        let labels = crate::scenario::spec::node_labels(
            &pool.name,
            &pool.accelerator.name,
            pool.capacity,
            &pool.node_type.name,
            &pool.region,
            &pool.zone,
            &pool.labels,
        );
        NodeShape {
            pool: pool.name.clone(),
            gpu_model: pool.accelerator.name.clone(),
            gpus: pool.gpus_per_node,
            cpu_milli: pool.node_type.vcpus.saturating_mul(1_000),
            memory_mib: (pool.node_type.memory_gb * 1_024.0) as u32,
            labels,
            taints: pool.taints.clone(),
            price_per_gpu_hour: pool.price_units as f64 / 1e9,
            capacity: match pool.capacity {
                CapacityType::OnPrem => Capacity::OnPrem,
                CapacityType::Reserved => Capacity::Reserved,
                CapacityType::Spot => Capacity::Spot,
                CapacityType::OnDemand => Capacity::OnDemand,
            },
            interruption_per_hour: pool.interruptions.map_or(0.0, |i| i.rate_per_hour),
        }
    }

    fn shape_id(&mut self, pool: &Pool) -> ShapeId {
        let i = pool.id.index();
        if self.shapes.len() <= i {
            self.shapes.resize(i + 1, None);
        }
        match self.shapes[i] {
            Some(s) => s,
            None => {
                // One shape per pool, even where two pools look alike: the pool label differs.
                let s = self.cluster.add_shape(Self::shape_of(pool));
                self.shapes[i] = Some(s);
                s
            }
        }
    }

    fn idx(&self, n: NodeId) -> Option<NodeIdx> {
        self.node_idx.get(n.index()).copied().flatten()
    }

    /// A pod of `gpus` accelerators standing for `owner`, asking the CPU and
    /// memory its workload asks per accelerator.
    fn owner_pod(&self, id: u64, name: &str, gpus: u32, owner: Owner) -> Pod {
        let mut pod = Pod::gpus(id, name, gpus);
        if let Some(&(cpu, mem)) = self.demands.get(&owner) {
            pod.cpu_milli = cpu.saturating_mul(gpus);
            pod.memory_mib = mem.saturating_mul(gpus);
        }
        pod
    }

    fn new_pod(&mut self, name: String, gpus: u32, priority: i32, owner: Owner) -> Pod {
        self.next_pod += 1;
        let mut pod = self.owner_pod(self.next_pod, &name, gpus, owner);
        pod.priority = priority;
        if let Owner::Job(j) = owner {
            pod.gang = Some(Gang { name: Owner::Job(j).to_string(), size: 0 });
        }
        pod
    }

    /// Binds a pod where it fits; whether it did.
    fn try_bind(&mut self, pod: &Pod, idx: NodeIdx) -> bool {
        match self.cluster.fit(pod, idx) {
            Some(alloc) => self.cluster.bind(pod, idx, alloc).is_ok(),
            None => false,
        }
    }

    fn note_drift(&mut self, what: String) {
        self.drift.get_or_insert(what);
    }

    /// The pods a request becomes on pools of one node size.
    fn pods_for(&mut self, req: &PlacementRequest<'_>, fleet: &FleetView<'_>, pools: &[PoolId], members: u32, per: u32) -> Vec<Pod> {
        let mut speedup = BTreeMap::new();
        for &p in req.pools {
            speedup.insert(fleet.pools[p.index()].accelerator.name.clone(), (req.speed)(p));
        }
        let mut selector =
            vec![Selector::In { key: POOL_LABEL.into(), values: pools.iter().map(|p| fleet.pools[p.index()].name.clone()).collect() }];
        selector.extend(req.traits.node_selector.iter().map(|(k, v)| Selector::In { key: k.clone(), values: vec![v.clone()] }));
        (0..members)
            .map(|m| {
                self.next_pod += 1;
                let mut pod = Pod::gpus(self.next_pod, &format!("{}/{}", req.traits.name, member_name(req.owner, m)), per);
                pod.namespace = req.traits.namespace.clone();
                pod.priority = req.traits.priority;
                pod.checkpointed = req.traits.checkpointed;
                pod.tolerations = req.traits.tolerations.clone();
                pod.cpu_milli = req.traits.cpu_milli_per_gpu.saturating_mul(per);
                pod.memory_mib = req.traits.memory_mib_per_gpu.saturating_mul(per);
                pod.selector = selector.clone();
                pod.speedup = speedup.clone();
                if members > 1 {
                    pod.gang = Some(Gang { name: req.traits.name.clone(), size: members });
                }
                pod
            })
            .collect()
    }

    fn decide(&mut self, req: &PlacementRequest<'_>, fleet: &FleetView<'_>) -> Verdict {
        // Group the allowed pools by how the request splits over their nodes.
        let mut groups: BTreeMap<(u32, u32), Vec<PoolId>> = BTreeMap::new();
        for &p in req.pools {
            if let Some(shape) = gang_shape(req.gpus, fleet.pools[p.index()].gpus_per_node) {
                groups.entry(shape).or_default().push(p);
            }
        }
        let mut last_why = String::from("no allowed pool has nodes this request fits on");
        let mut preempt: Option<(Vec<Owner>, String)> = None;
        let mut first_pod: Option<Pod> = None;
        for (&(members, per), pools) in &groups {
            let pods = self.pods_for(req, fleet, pools, members, per);
            if first_pod.is_none() {
                first_pod = pods.first().cloned();
            }
            if members == 1 {
                let pod = &pods[0];
                match self.profile.schedule(pod, &self.cluster) {
                    Outcome::Bind { node, trace, .. } => {
                        if let Some(id) = self.node_id(node) {
                            return Verdict { decision: Decision::Bind { nodes: vec![id], per_node: per }, why: trace.summary() };
                        }
                    }
                    Outcome::Preempt { victims, trace, .. } => {
                        if preempt.is_none() {
                            let mut owners: Vec<Owner> = victims.iter().filter_map(|v| self.owners.get(v).copied()).collect();
                            owners.sort();
                            owners.dedup();
                            if !owners.is_empty() {
                                preempt = Some((owners, trace.summary()));
                            }
                        }
                        last_why = trace.summary();
                    }
                    Outcome::Unschedulable { trace } => last_why = trace.summary(),
                }
            } else {
                match self.profile.schedule_gang(&pods, &mut self.cluster) {
                    GangOutcome::Bind { placements, trace } => {
                        let nodes: Option<Vec<NodeId>> = placements.iter().map(|(_, n, _)| self.node_id(*n)).collect();
                        if let Some(nodes) = nodes {
                            // Members are placed in turn; the trace is the last one's.
                            let why = format!("{} members placed in turn, the last: {}", placements.len(), trace.summary());
                            return Verdict { decision: Decision::Bind { nodes, per_node: per }, why };
                        }
                    }
                    GangOutcome::Wait { trace } => last_why = trace.summary(),
                }
            }
        }
        if let Some((victims, why)) = preempt {
            return Verdict { decision: Decision::Preempt { victims }, why };
        }
        // Grow a pool: score an empty node of each with the same plugins.
        let Some(pod) = first_pod else {
            return Verdict { decision: Decision::Wait(WaitReason::NoCapacity), why: last_why };
        };
        let growable: Vec<(PoolId, Pod, NodeShape)> = req
            .pools
            .iter()
            .filter(|p| fleet.pools[p.index()].headroom() > 0)
            .filter_map(|&p| {
                let pool = &fleet.pools[p.index()];
                let (_, per) = gang_shape(req.gpus, pool.gpus_per_node)?;
                let (cpu_milli, memory_mib) =
                    (req.traits.cpu_milli_per_gpu.saturating_mul(per), req.traits.memory_mib_per_gpu.saturating_mul(per));
                Some((p, Pod { gpus: per, gang: None, cpu_milli, memory_mib, ..pod.clone() }, Self::shape_of(pool)))
            })
            .collect();
        let candidates: Vec<(Pod, NodeShape)> = growable.iter().map(|(_, pod, shape)| (pod.clone(), shape.clone())).collect();
        let scores = self.profile.rank_empty_nodes(&candidates);
        let mut ranked: Vec<(f64, PoolId)> = growable.iter().zip(scores).filter_map(|((p, _, _), s)| s.map(|s| (s, *p))).collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let order: Vec<PoolId> = ranked.iter().map(|r| r.1).collect();
        let (cpu, mem) = (req.traits.cpu_milli_per_gpu, req.traits.memory_mib_per_gpu);
        // A node on its way is reused only where the mirror still has the CPU and memory too.
        let room = |n: NodeId, per: u32| {
            (cpu == 0 && mem == 0)
                || self
                    .idx(n)
                    .and_then(|i| self.cluster.node(i))
                    .is_some_and(|m| m.free_cpu >= cpu.saturating_mul(per) && m.free_mem >= mem.saturating_mul(per))
        };
        match provision_where(req, fleet, &order, room) {
            Some(decision) => {
                let why = match &decision {
                    Decision::Provision { pool, .. } => {
                        format!("{last_why} · growing pool {} (best empty-node score {:.1})", fleet.pools[pool.index()].name, ranked[0].0)
                    }
                    _ => format!("{last_why} · waiting for nodes promised to it"),
                };
                Verdict { decision, why }
            }
            None => Verdict { decision: Decision::Wait(WaitReason::NoCapacity), why: format!("{last_why} · no allowed pool can grow") },
        }
    }

    fn node_id(&self, idx: NodeIdx) -> Option<NodeId> {
        self.node_of.get(idx.0 as usize).copied()
    }
}

fn member_name(owner: Owner, member: u32) -> String {
    match owner {
        Owner::Replica(_) => owner.to_string(),
        Owner::Job(_) => format!("member-{member}"),
    }
}

impl Placement for FrameworkPlacement {
    fn name(&self) -> String {
        format!("framework:{}", self.profile.name)
    }

    fn place(&mut self, req: &PlacementRequest<'_>, fleet: &FleetView<'_>) -> Result<Verdict, PlacementError> {
        if req.traits.cpu_milli_per_gpu > 0 || req.traits.memory_mib_per_gpu > 0 {
            self.demands.insert(req.owner, (req.traits.cpu_milli_per_gpu, req.traits.memory_mib_per_gpu));
        }
        // The asker's own promises must not block it: lift them while deciding.
        let own: Vec<((Owner, NodeId), (PodId, u32))> =
            self.promised.iter().filter(|((o, _), _)| *o == req.owner).map(|(k, v)| (*k, *v)).collect();
        for (_, (pod, _)) in &own {
            self.cluster.unbind(*pod);
        }
        let verdict = self.decide(req, fleet);
        for ((owner, node), (pod, gpus)) in own {
            if let Some(idx) = self.idx(node) {
                let placeholder = Pod { priority: i32::MAX, ..self.owner_pod(pod.0, "promise", gpus, owner) };
                if !self.try_bind(&placeholder, idx) {
                    self.note_drift(format!("promise of {gpus} to {owner} on {node:?} no longer fits"));
                }
            }
        }
        Ok(verdict)
    }

    fn observe(&mut self, change: FleetChange, fleet: &FleetView<'_>) {
        match change {
            FleetChange::NodeAdded(n) => {
                let node = &fleet.nodes[n.index()];
                let pool = &fleet.pools[node.pool.index()];
                let shape = self.shape_id(pool);
                let idx = self.cluster.add_node(&format!("{}/node-{}", pool.name, n.0), shape);
                self.cluster.set_schedulable(idx, node.state == NodeState::Ready);
                if self.node_idx.len() <= n.index() {
                    self.node_idx.resize(n.index() + 1, None);
                }
                self.node_idx[n.index()] = Some(idx);
                debug_assert_eq!(self.node_of.len(), idx.0 as usize);
                self.node_of.push(n);
            }
            FleetChange::NodeState(n) => {
                if let Some(idx) = self.idx(n) {
                    self.cluster.set_schedulable(idx, fleet.nodes[n.index()].state == NodeState::Ready);
                }
            }
            FleetChange::NodeRemoved(n) => {
                if let Some(idx) = self.idx(n) {
                    for pod in self.cluster.remove_node(idx) {
                        self.owners.remove(&pod);
                    }
                    self.held.retain(|(_, node), _| *node != n);
                    self.promised.retain(|(_, node), _| *node != n);
                    self.node_idx[n.index()] = None;
                }
            }
            FleetChange::Allocated { node, owner, gpus, priority } => {
                let Some(idx) = self.idx(node) else { return };
                let pod = self.new_pod(owner.to_string(), gpus, priority, owner);
                // What runs is the workload mix fragmentation-aware scoring weighs against.
                self.profile.observe(&pod);
                if self.try_bind(&pod, idx) {
                    self.held.insert((owner, node), pod.id);
                    self.owners.insert(pod.id, owner);
                } else {
                    self.note_drift(format!("{owner} took {gpus} on {node:?}, which the mirror had not free"));
                }
            }
            FleetChange::Released { node, owner } => {
                if let Some(pod) = self.held.remove(&(owner, node)) {
                    self.cluster.unbind(pod);
                    self.owners.remove(&pod);
                }
            }
            FleetChange::Reserved { node, owner, gpus } => {
                let Some(idx) = self.idx(node) else { return };
                self.next_pod += 1;
                let pod = Pod { priority: i32::MAX, ..self.owner_pod(self.next_pod, "promise", gpus, owner) };
                if self.try_bind(&pod, idx) {
                    self.promised.insert((owner, node), (pod.id, gpus));
                } else {
                    self.note_drift(format!("promise of {gpus} to {owner} on {node:?} does not fit the mirror"));
                }
            }
            FleetChange::Unreserved { node, owner } => {
                if let Some((pod, _)) = self.promised.remove(&(owner, node)) {
                    self.cluster.unbind(pod);
                }
            }
            FleetChange::PoolChanged(p) => {
                if let Some(Some(shape)) = self.shapes.get(p.index()) {
                    self.cluster.update_shape(*shape, Self::shape_of(&fleet.pools[p.index()]));
                }
            }
        }
    }

    fn check(&self, fleet: &FleetView<'_>) -> Result<(), InvariantViolation> {
        if let Some(d) = &self.drift {
            return Err(format!("scheduler mirror drifted: {d}").into());
        }
        for pool in fleet.pools {
            for &n in &pool.nodes {
                let node = &fleet.nodes[n.index()];
                let Some(idx) = self.idx(n) else {
                    return Err(format!("node {n:?} missing from the scheduler's mirror").into());
                };
                let Some(m) = self.cluster.node(idx) else { return Err(format!("node {n:?} gone from the mirror").into()) };
                if m.whole_free() != node.unpromised() {
                    return Err(format!("node {n:?}: mirror has {} free, fleet {} unpromised", m.whole_free(), node.unpromised()).into());
                }
                if m.schedulable != (node.state == NodeState::Ready) {
                    return Err(format!("node {n:?}: mirror schedulable {} but node is {:?}", m.schedulable, node.state).into());
                }
            }
        }
        Ok(())
    }
}
