//! Nodes and pools: provisioning, interruptions, failures, prices, stock-outs,
//! and placing pending work on them.

use super::{Event, Fabric};
use crate::engine::Context;
use crate::fleet::{Node, NodeState, Owner};
use crate::ids::{NodeId, PoolId, WorkloadId};
use crate::metrics::DecisionRecord;
use crate::placement::{Decision, FleetChange, FleetView, PlacementRequest, Verdict};
use crate::time::SimTime;
use crate::workload::{JobState, ReplicaState};
use std::collections::VecDeque;

impl Fabric {
    /// Tells the placement about a change to the fleet.
    pub(super) fn notify(&mut self, change: FleetChange) {
        let view = FleetView { pools: &self.pools, nodes: &self.nodes };
        self.placement.observe(change, &view);
    }

    /// Adds a line to the decision trace.
    pub(super) fn trace(
        &mut self,
        time: SimTime,
        kind: &'static str,
        subject: String,
        outcome: &str,
        node: Option<NodeId>,
        detail: String,
    ) {
        if !self.options.record_decisions {
            return;
        }
        let (node_name, pool) = match node {
            Some(n) => {
                let p = &self.pools[self.nodes[n.index()].pool.index()];
                (Some(format!("{}/node-{}", p.name, n.0)), Some(p.name.clone()))
            }
            None => (None, None),
        };
        self.records.decisions.push(DecisionRecord { time, kind, subject, outcome: outcome.to_string(), node: node_name, pool, detail });
    }

    /// A node's name in traces.
    pub(super) fn node_name(&self, n: NodeId) -> String {
        format!("{}/node-{}", self.pools[self.nodes[n.index()].pool.index()].name, n.0)
    }

    /// Asks `pool` for a node. It becomes ready after the pool's provisioning
    /// delay, or at once while the run is starting (the fleet was already up).
    pub(super) fn launch_node(&mut self, pool: PoolId, ctx: &mut Context<'_, Event>) -> NodeId {
        let now = ctx.now();
        let id = NodeId(self.nodes.len() as u32);
        let p = &mut self.pools[pool.index()];
        self.nodes.push(Node::new(id, pool, p.gpus_per_node, now));
        p.nodes.push(id);
        p.stats.nodes_launched += 1;
        p.stats.peak_nodes = p.stats.peak_nodes.max(p.nodes.len() as u32);
        let delay = p.provisioning;
        self.notify(FleetChange::NodeAdded(id));
        if self.starting {
            self.make_ready(id, ctx);
        } else {
            ctx.schedule_in(delay, Event::NodeReady(id));
            let name = self.node_name(id);
            self.trace(now, "node", name, "launched", Some(id), format!("ready in {delay}"));
        }
        id
    }

    /// Makes a provisioning node ready and arms its interruption and failure clocks.
    pub(super) fn make_ready(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let node = &mut self.nodes[id.index()];
        if node.state != NodeState::Provisioning && node.state != NodeState::Failed {
            return;
        }
        node.state = NodeState::Ready;
        node.ready_at.get_or_insert(now);
        let pool = &mut self.pools[node.pool.index()];
        if let Some(i) = pool.interruptions
            && let Some(d) = i.sample_until_notice(&mut pool.rng_interrupt)
        {
            node.timer_interrupt = Some(ctx.schedule_in(d, Event::NodeNotice(id)));
        }
        if let Some((mtbf, _)) = pool.failures
            && let Some(d) = Self::exp_wait(mtbf, &mut pool.rng_failure)
        {
            node.timer_failure = Some(ctx.schedule_in(d, Event::NodeFail(id)));
        }
        self.notify(FleetChange::NodeState(id));
        self.arm_idle_check(id, ctx);
    }

    pub(super) fn on_node_ready(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        if self.nodes[id.index()].state != NodeState::Provisioning {
            return;
        }
        self.make_ready(id, ctx);
        let name = self.node_name(id);
        self.trace(ctx.now(), "node", name, "ready", Some(id), String::new());
        self.place_pending(ctx);
    }

    /// Starts the release clock of an empty, unreserved cloud node.
    pub(super) fn arm_idle_check(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        let node = &mut self.nodes[id.index()];
        let pool = &self.pools[node.pool.index()];
        if node.state != NodeState::Ready || !node.allocs.is_empty() || !node.reservations.is_empty() || pool.capacity.is_committed() {
            return;
        }
        if let Some(k) = node.timer_idle.take() {
            ctx.cancel(k);
        }
        node.timer_idle = Some(ctx.schedule_in(pool.scale_down, Event::NodeIdle(id)));
    }

    pub(super) fn on_node_idle(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        let node = &mut self.nodes[id.index()];
        node.timer_idle = None;
        let pool = &self.pools[node.pool.index()];
        let empty = node.state == NodeState::Ready && node.allocs.is_empty() && node.reservations.is_empty();
        if empty && !pool.capacity.is_committed() && pool.nodes.len() as u32 > pool.min_nodes {
            let detail = format!("empty for {}", pool.scale_down);
            let name = self.node_name(id);
            self.trace(ctx.now(), "node", name, "released", Some(id), detail);
            self.terminate_node(id, ctx);
        }
    }

    /// Withdraws every promise on a node, telling the placement.
    fn clear_promises(&mut self, id: NodeId) {
        let owners: Vec<Owner> = self.nodes[id.index()].reservations.iter().map(|r| r.0).collect();
        self.nodes[id.index()].reservations.clear();
        for owner in owners {
            self.notify(FleetChange::Unreserved { node: id, owner });
        }
    }

    pub(super) fn on_node_notice(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        let node = &mut self.nodes[id.index()];
        node.timer_interrupt = None;
        if node.state != NodeState::Ready {
            return;
        }
        node.state = NodeState::Draining;
        if let Some(k) = node.timer_idle.take() {
            ctx.cancel(k);
        }
        let pool = &mut self.pools[node.pool.index()];
        pool.stats.notices += 1;
        let notice = pool.interruptions.map(|i| i.notice).unwrap_or_default();
        node.timer_interrupt = Some(ctx.schedule_in(notice, Event::NodeReclaim(id)));
        let owners: Vec<Owner> = node.allocs.iter().map(|a| a.owner).collect();
        self.clear_promises(id);
        self.notify(FleetChange::NodeState(id));
        let name = self.node_name(id);
        self.trace(ctx.now(), "node", name, "spot-notice", Some(id), format!("reclaimed in {notice}; {} workload(s) on it", owners.len()));
        for owner in owners {
            match owner {
                Owner::Replica(r) => {
                    let s = self.replicas[r.index()].service;
                    self.drain_replica(r, ctx);
                    self.reconcile(s, ctx);
                }
                Owner::Job(j) => self.job_on_notice(j, notice, ctx),
            }
        }
        self.place_pending(ctx);
    }

    pub(super) fn on_node_reclaim(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        let node = &mut self.nodes[id.index()];
        node.timer_interrupt = None;
        if node.state != NodeState::Draining {
            return;
        }
        self.pools[node.pool.index()].stats.reclaims += 1;
        let name = self.node_name(id);
        self.trace(ctx.now(), "node", name, "reclaimed", Some(id), String::new());
        self.evict_all(id, ctx);
        self.terminate_node(id, ctx);
        self.place_pending(ctx);
    }

    pub(super) fn on_node_fail(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        let node = &mut self.nodes[id.index()];
        node.timer_failure = None;
        if !matches!(node.state, NodeState::Ready | NodeState::Draining) {
            return;
        }
        // Broken first, so nothing evicted from it is placed back on it.
        node.state = NodeState::Failed;
        for k in [node.timer_interrupt.take(), node.timer_idle.take()].into_iter().flatten() {
            ctx.cancel(k);
        }
        let pool = node.pool;
        self.pools[pool.index()].stats.failures += 1;
        self.clear_promises(id);
        self.notify(FleetChange::NodeState(id));
        let name = self.node_name(id);
        self.trace(ctx.now(), "node", name, "failed", Some(id), String::new());
        self.evict_all(id, ctx);
        let p = &self.pools[pool.index()];
        if p.capacity.is_committed() {
            let repair = p.failures.map(|f| f.1).unwrap_or_default();
            self.nodes[id.index()].timer_failure = Some(ctx.schedule_in(repair, Event::NodeRepair(id)));
        } else {
            self.terminate_node(id, ctx);
        }
        self.place_pending(ctx);
    }

    pub(super) fn on_node_repair(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        self.nodes[id.index()].timer_failure = None;
        if self.nodes[id.index()].state == NodeState::Failed {
            self.make_ready(id, ctx);
            let name = self.node_name(id);
            self.trace(ctx.now(), "node", name, "repaired", Some(id), String::new());
            self.place_pending(ctx);
        }
    }

    /// Takes every workload off a node: replicas lose their requests (which go
    /// back to their queue), jobs roll back to their last checkpoint.
    fn evict_all(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        let owners: Vec<Owner> = self.nodes[id.index()].allocs.iter().map(|a| a.owner).collect();
        for owner in owners {
            self.evict(owner, ctx);
        }
    }

    /// Takes a workload off its accelerators.
    fn evict(&mut self, owner: Owner, ctx: &mut Context<'_, Event>) {
        match owner {
            Owner::Replica(r) => {
                let s = self.replicas[r.index()].service;
                self.kill_replica(r, ctx);
                self.reconcile(s, ctx);
            }
            Owner::Job(j) => self.preempt_job(j, ctx),
        }
    }

    /// Ends a node: billing stops (after its minimum charge), it leaves its pool.
    pub(super) fn terminate_node(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        self.clear_promises(id);
        let node = &mut self.nodes[id.index()];
        for k in [node.timer_interrupt.take(), node.timer_failure.take(), node.timer_idle.take()].into_iter().flatten() {
            ctx.cancel(k);
        }
        let pool = &mut self.pools[node.pool.index()];
        self.ledger.terminate_node(node, pool, now, self.minimum_charge);
        node.state = NodeState::Terminated;
        pool.nodes.retain(|&n| n != id);
        let p = node.pool;
        self.notify(FleetChange::NodeRemoved(id));
        self.top_up(p, ctx);
    }

    /// Launches nodes until a cloud pool has its minimum (as an auto-scaling
    /// group replaces lost instances), stock permitting.
    pub(super) fn top_up(&mut self, p: PoolId, ctx: &mut Context<'_, Event>) {
        while {
            let pool = &self.pools[p.index()];
            !pool.capacity.is_committed() && (pool.nodes.len() as u32) < pool.min_nodes && pool.can_launch()
        } {
            self.launch_node(p, ctx);
        }
    }

    /// Gives `gpus` of a node to `owner`, booking its cost up to now first.
    pub(super) fn allocate(&mut self, id: NodeId, owner: Owner, workload: WorkloadId, gpus: u32, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let node = &mut self.nodes[id.index()];
        self.ledger.settle_node(node, &mut self.pools[node.pool.index()], now);
        let had_promise = node.reserved_for(owner) > 0;
        node.allocate(owner, workload, gpus);
        if let Some(k) = node.timer_idle.take() {
            ctx.cancel(k);
        }
        if had_promise {
            self.notify(FleetChange::Unreserved { node: id, owner });
        }
        let priority = self.workloads[workload.index()].traits.priority;
        self.notify(FleetChange::Allocated { node: id, owner, gpus, priority });
    }

    /// Takes back what `owner` holds on a node, booking its cost up to now first.
    pub(super) fn release(&mut self, id: NodeId, owner: Owner, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let node = &mut self.nodes[id.index()];
        self.ledger.settle_node(node, &mut self.pools[node.pool.index()], now);
        node.release(owner);
        self.notify(FleetChange::Released { node: id, owner });
        self.arm_idle_check(id, ctx);
    }

    pub(super) fn on_price_change(&mut self, p: PoolId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let pool = &mut self.pools[p.index()];
        for i in 0..pool.nodes.len() {
            let n = pool.nodes[i];
            self.ledger.settle_node(&mut self.nodes[n.index()], pool, now);
        }
        pool.price.apply_pending();
        pool.refresh_price();
        if let Some(t) = pool.price.next_change(now)
            && t < self.horizon
        {
            ctx.schedule_at(t, Event::PriceChange(p));
        }
        self.notify(FleetChange::PoolChanged(p));
    }

    pub(super) fn on_stockout(&mut self, p: PoolId, begins: bool, ctx: &mut Context<'_, Event>) {
        let pool = &mut self.pools[p.index()];
        let Some((avail, dur)) = pool.stockouts else { return };
        pool.stocked_out = begins;
        if begins {
            pool.stats.stockouts += 1;
        }
        let (mean, next) = if begins { (dur, Event::StockoutEnd(p)) } else { (avail, Event::StockoutStart(p)) };
        if let Some(d) = Self::exp_wait(mean, &mut pool.rng_stockout) {
            ctx.schedule_in(d, next);
        }
        let name = pool.name.clone();
        self.trace(ctx.now(), "pool", name, if begins { "stock-out" } else { "back-in-stock" }, None, String::new());
        if !begins {
            self.top_up(p, ctx);
            self.place_pending(ctx);
        }
    }

    /// The subject of an owner in traces: `service/replica-N` or the job's name.
    pub(super) fn owner_name(&self, owner: Owner) -> String {
        match owner {
            Owner::Replica(r) => format!("{}/replica-{}", self.services[self.replicas[r.index()].service.index()].name, r.0),
            Owner::Job(j) => self.jobs[j.index()].name.clone(),
        }
    }

    /// Offers every pending unit of work to the placement policy, higher
    /// priority first, then in the order they arrived.
    pub(super) fn place_pending(&mut self, ctx: &mut Context<'_, Event>) {
        // A preemption frees room for the preemptor: place again at once (a
        // bounded number of times, in case victims preempt in turn).
        for _ in 0..8 {
            let before = self.stats_preemptions;
            self.place_pending_once(ctx);
            if self.stats_preemptions == before {
                break;
            }
        }
    }

    fn place_pending_once(&mut self, ctx: &mut Context<'_, Event>) {
        if self.pending.is_empty() || self.fatal.is_some() {
            return;
        }
        let mut queue: Vec<Owner> = self.pending.drain(..).collect();
        // Stable: equal priorities keep their arrival order.
        queue.sort_by_key(|o| std::cmp::Reverse(self.workloads[self.workload_of(*o).index()].traits.priority));
        let mut waiting = VecDeque::with_capacity(queue.len());
        let mut queue = queue.into_iter();
        while let Some(owner) = queue.next() {
            let (gpus, pools, workload) = match owner {
                Owner::Replica(r) => {
                    let rep = &self.replicas[r.index()];
                    if rep.state != ReplicaState::Pending {
                        continue;
                    }
                    let svc = &self.services[rep.service.index()];
                    (svc.gpus_per_replica, svc.pools.clone(), svc.workload)
                }
                Owner::Job(j) => {
                    let job = &self.jobs[j.index()];
                    if job.state != JobState::Queued {
                        continue;
                    }
                    (job.gpus, job.pools.clone(), job.workload)
                }
            };
            let pools = self.policy_pools(owner, &pools, ctx);
            if pools.is_empty() {
                let subject = self.owner_name(owner);
                if self.last_wait.get(&owner) != Some(&"policy") {
                    self.last_wait.insert(owner, "policy");
                    self.trace(
                        ctx.now(),
                        "placement",
                        subject,
                        "policy",
                        None,
                        "every allowed pool is ruled out by the placement policy".into(),
                    );
                }
                waiting.push_back(owner);
                continue;
            }
            let speeds: Vec<f64> = (0..self.pools.len()).map(|p| self.speed_of(owner, PoolId(p as u32))).collect();
            let speed = |p: PoolId| speeds[p.index()];
            let traits = self.workloads[workload.index()].traits.clone();
            let view = FleetView { pools: &self.pools, nodes: &self.nodes };
            let request = PlacementRequest { now: ctx.now(), owner, gpus, pools: &pools, traits: &traits, speed: &speed };
            let verdict = match self.placement.place(&request, &view) {
                Ok(v) => v,
                Err(e) => {
                    // The run ends here: nothing more is asked of a placement that failed.
                    self.fatal = Some(format!("placement of {} at {}: {e}", self.owner_name(owner), ctx.now()));
                    waiting.push_back(owner);
                    waiting.extend(queue);
                    break;
                }
            };
            if !self.apply(owner, gpus, &pools, verdict, ctx) {
                waiting.push_back(owner);
            }
        }
        // Units added while placing (replacements) go after those that waited.
        waiting.append(&mut self.pending);
        self.pending = waiting;
    }

    /// Whether `count` distinct nodes of `per_node` accelerators each give
    /// the owner exactly the `gpus` it asks for (a replica: on one node).
    fn shape_is_exact(owner: Owner, gpus: u32, count: usize, per_node: u32) -> bool {
        let one_node = matches!(owner, Owner::Replica(_));
        per_node >= 1 && count >= 1 && u64::from(per_node) * count as u64 == u64::from(gpus) && (!one_node || count == 1)
    }

    /// Carries out a placement's verdict; whether the owner is placed.
    /// Nothing a placement says can over-allocate a node or shortchange the
    /// work: a bind or provision that does not give exactly the accelerators
    /// asked for, on distinct usable nodes of the allowed pools, is refused
    /// and traced.
    fn apply(&mut self, owner: Owner, gpus: u32, pools: &[PoolId], verdict: Verdict, ctx: &mut Context<'_, Event>) -> bool {
        let now = ctx.now();
        let subject = self.owner_name(owner);
        match verdict.decision {
            Decision::Bind { nodes, per_node } => {
                let distinct = nodes.iter().collect::<std::collections::BTreeSet<_>>().len() == nodes.len();
                let valid = Self::shape_is_exact(owner, gpus, nodes.len(), per_node)
                    && distinct
                    && nodes
                        .iter()
                        .all(|n| self.nodes.get(n.index()).is_some_and(|node| pools.contains(&node.pool) && node.fits(owner, per_node)));
                if valid {
                    let why = if nodes.len() > 1 {
                        let names: Vec<String> = nodes.iter().map(|n| self.node_name(*n)).collect();
                        format!("gang of {} × {per_node} on {} · {}", nodes.len(), names.join(", "), verdict.why)
                    } else {
                        verdict.why
                    };
                    self.trace(now, "placement", subject, "bound", Some(nodes[0]), why);
                    self.bind(owner, &nodes, per_node, ctx);
                    true
                } else {
                    // A placement that names nodes that cannot take the work is ignored.
                    let names: Vec<String> = nodes.iter().map(|n| self.node_name(*n)).collect();
                    self.trace_wait(
                        owner,
                        "invalid-bind",
                        now,
                        format!(
                            "placement named [{}] × {per_node} accelerators for work that needs {gpus}: not distinct nodes of its pools with room for exactly that, ignored · {}",
                            names.join(", "),
                            verdict.why
                        ),
                    );
                    false
                }
            }
            Decision::Preempt { victims } => {
                let prio = self.workloads[self.workload_of(owner).index()].traits.priority;
                // Never evict work of equal or higher priority, whatever a policy says.
                let victims: Vec<Owner> = victims
                    .into_iter()
                    .filter(|v| {
                        *v != owner && self.workloads[self.workload_of(*v).index()].traits.priority < prio && self.holds_accelerators(*v)
                    })
                    .collect();
                if victims.is_empty() {
                    self.trace_wait(owner, "preemption-refused", now, verdict.why);
                    return false;
                }
                let names: Vec<String> = victims.iter().map(|v| self.owner_name(*v)).collect();
                // Where each victim runs (its first node), so `twin explain --node` tells it too.
                let node_of = |v: Owner| self.nodes.iter().position(|n| n.allocs.iter().any(|a| a.owner == v)).map(|i| NodeId(i as u32));
                let at: Vec<Option<NodeId>> = victims.iter().map(|v| node_of(*v)).collect();
                self.trace(now, "preemption", subject, "preempts", at[0], format!("{} · evicting {}", verdict.why, names.join(", ")));
                for (v, node) in victims.iter().zip(at) {
                    let vname = self.owner_name(*v);
                    self.trace(now, "preemption", vname, "evicted", node, format!("by {} (priority {prio})", self.owner_name(owner)));
                    self.evict(*v, ctx);
                }
                self.stats_preemptions += victims.len() as u64;
                // Placed on the next pass, ahead of lower priorities.
                false
            }
            Decision::Provision { pool, reuse, launch, per_node } => {
                let distinct = reuse.iter().collect::<std::collections::BTreeSet<_>>().len() == reuse.len();
                if !pools.contains(&pool) || !distinct || !Self::shape_is_exact(owner, gpus, reuse.len() + launch as usize, per_node) {
                    self.trace_wait(
                        owner,
                        "invalid-provision",
                        now,
                        format!(
                            "placement asked for {} reused + {launch} new node(s) × {per_node} accelerators in pool {} for work that needs {gpus}: ignored · {}",
                            reuse.len(),
                            self.pools.get(pool.index()).map_or("?", |p| p.name.as_str()),
                            verdict.why
                        ),
                    );
                    return false;
                }
                let (reuse_ok, room) = (
                    reuse.iter().all(|n| {
                        self.nodes
                            .get(n.index())
                            .is_some_and(|node| node.pool == pool && node.state == NodeState::Provisioning && node.unpromised() >= per_node)
                    }),
                    launch <= self.pools[pool.index()].headroom(),
                );
                if !(reuse_ok && room) {
                    self.trace_wait(
                        owner,
                        "invalid-provision",
                        now,
                        format!(
                            "placement asked to {} in pool {}: {}, ignored · {}",
                            if launch > 0 { format!("launch {launch} node(s)") } else { "reuse nodes".to_string() },
                            self.pools[pool.index()].name,
                            if reuse_ok { "beyond the pool's headroom" } else { "a reused node is not on its way or lacks room" },
                            verdict.why
                        ),
                    );
                    return false;
                }
                if launch > 0 {
                    // Launches that went elsewhere because a pool was out of stock.
                    for &q in pools {
                        if q != pool && self.pools[q.index()].stocked_out {
                            self.pools[q.index()].stats.refused_launches += 1;
                        }
                    }
                }
                self.trace_wait(owner, "provision", now, verdict.why);
                for n in reuse {
                    self.nodes[n.index()].reserve(owner, per_node);
                    self.notify(FleetChange::Reserved { node: n, owner, gpus: per_node });
                }
                for _ in 0..launch {
                    let n = self.launch_node(pool, ctx);
                    self.nodes[n.index()].reserve(owner, per_node);
                    self.notify(FleetChange::Reserved { node: n, owner, gpus: per_node });
                }
                false
            }
            Decision::Wait(reason) => {
                self.trace_wait(owner, reason.as_str(), now, verdict.why);
                false
            }
        }
    }

    /// Records why a unit waits, once per change of reason (a waiting unit is
    /// asked again at every change of capacity).
    fn trace_wait(&mut self, owner: Owner, outcome: &'static str, now: SimTime, why: String) {
        if self.last_wait.get(&owner) == Some(&outcome) {
            return;
        }
        self.last_wait.insert(owner, outcome);
        let subject = self.owner_name(owner);
        self.trace(now, "placement", subject, outcome, None, why);
    }

    fn holds_accelerators(&self, owner: Owner) -> bool {
        match owner {
            Owner::Replica(r) => {
                matches!(self.replicas[r.index()].state, ReplicaState::Starting | ReplicaState::Ready | ReplicaState::Draining)
            }
            Owner::Job(j) => matches!(self.jobs[j.index()].state, JobState::Running | JobState::Checkpointing),
        }
    }

    pub(super) fn workload_of(&self, owner: Owner) -> WorkloadId {
        match owner {
            Owner::Replica(r) => self.services[self.replicas[r.index()].service.index()].workload,
            Owner::Job(j) => self.jobs[j.index()].workload,
        }
    }

    fn bind(&mut self, owner: Owner, nodes: &[NodeId], per_node: u32, ctx: &mut Context<'_, Event>) {
        self.last_wait.remove(&owner);
        // Nodes provisioned for this owner but not used are freed for others.
        let pools = match owner {
            Owner::Replica(r) => self.services[self.replicas[r.index()].service.index()].pools.clone(),
            Owner::Job(j) => self.jobs[j.index()].pools.clone(),
        };
        match owner {
            Owner::Replica(r) => {
                let svc = self.replicas[r.index()].service;
                let workload = self.services[svc.index()].workload;
                self.allocate(nodes[0], owner, workload, per_node, ctx);
                self.start_replica(r, nodes[0], ctx);
            }
            Owner::Job(j) => {
                let workload = self.jobs[j.index()].workload;
                for &n in nodes {
                    self.allocate(n, owner, workload, per_node, ctx);
                }
                self.jobs[j.index()].placement = nodes.iter().map(|&n| (n, per_node)).collect();
                self.start_job(j, ctx);
            }
        }
        for p in pools {
            let ids = self.pools[p.index()].nodes.clone();
            for n in ids {
                if self.nodes[n.index()].unreserve(owner) {
                    self.notify(FleetChange::Unreserved { node: n, owner });
                    self.arm_idle_check(n, ctx);
                }
            }
        }
    }
}
