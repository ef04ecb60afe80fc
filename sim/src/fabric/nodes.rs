//! Nodes and pools: provisioning, interruptions, failures, prices, stock-outs,
//! and placing pending work on them.

use super::{Event, Fabric};
use crate::engine::Context;
use crate::fleet::{Node, NodeState, Owner};
use crate::ids::{NodeId, PoolId, WorkloadId};
use crate::placement::{Decision, FleetView, PlacementRequest};
use crate::workload::{JobState, ReplicaState};
use std::collections::VecDeque;

impl Fabric {
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
        if self.starting {
            self.make_ready(id, ctx);
        } else {
            ctx.schedule_in(p.provisioning, Event::NodeReady(id));
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
        if let Some(i) = pool.interruptions {
            if let Some(d) = i.sample_until_notice(&mut pool.rng_interrupt) {
                node.timer_interrupt = Some(ctx.schedule_in(d, Event::NodeNotice(id)));
            }
        }
        if let Some((mtbf, _)) = pool.failures {
            if let Some(d) = Self::exp_wait(mtbf, &mut pool.rng_failure) {
                node.timer_failure = Some(ctx.schedule_in(d, Event::NodeFail(id)));
            }
        }
        self.arm_idle_check(id, ctx);
    }

    pub(super) fn on_node_ready(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        if self.nodes[id.index()].state != NodeState::Provisioning {
            return;
        }
        self.make_ready(id, ctx);
        self.place_pending(ctx);
    }

    /// Starts the release clock of an empty, unreserved cloud node.
    pub(super) fn arm_idle_check(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        let node = &mut self.nodes[id.index()];
        let pool = &self.pools[node.pool.index()];
        if node.state != NodeState::Ready
            || !node.allocs.is_empty()
            || !node.reservations.is_empty()
            || pool.capacity.is_committed()
        {
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
        let empty = node.state == NodeState::Ready
            && node.allocs.is_empty()
            && node.reservations.is_empty();
        if empty && !pool.capacity.is_committed() && pool.nodes.len() as u32 > pool.min_nodes {
            self.terminate_node(id, ctx);
        }
    }

    pub(super) fn on_node_notice(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        let node = &mut self.nodes[id.index()];
        node.timer_interrupt = None;
        if node.state != NodeState::Ready {
            return;
        }
        node.state = NodeState::Draining;
        node.reservations.clear();
        if let Some(k) = node.timer_idle.take() {
            ctx.cancel(k);
        }
        let pool = &mut self.pools[node.pool.index()];
        pool.stats.notices += 1;
        let notice = pool.interruptions.map(|i| i.notice).unwrap_or_default();
        node.timer_interrupt = Some(ctx.schedule_in(notice, Event::NodeReclaim(id)));
        let owners: Vec<Owner> = node.allocs.iter().map(|a| a.owner).collect();
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
        node.reservations.clear();
        for k in [node.timer_interrupt.take(), node.timer_idle.take()]
            .into_iter()
            .flatten()
        {
            ctx.cancel(k);
        }
        let pool = node.pool;
        self.pools[pool.index()].stats.failures += 1;
        self.evict_all(id, ctx);
        let p = &self.pools[pool.index()];
        if p.capacity.is_committed() {
            let repair = p.failures.map(|f| f.1).unwrap_or_default();
            self.nodes[id.index()].timer_failure =
                Some(ctx.schedule_in(repair, Event::NodeRepair(id)));
        } else {
            self.terminate_node(id, ctx);
        }
        self.place_pending(ctx);
    }

    pub(super) fn on_node_repair(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        self.nodes[id.index()].timer_failure = None;
        if self.nodes[id.index()].state == NodeState::Failed {
            self.make_ready(id, ctx);
            self.place_pending(ctx);
        }
    }

    /// Takes every workload off a node: replicas lose their requests (which go
    /// back to their queue), jobs roll back to their last checkpoint.
    fn evict_all(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        let owners: Vec<Owner> = self.nodes[id.index()]
            .allocs
            .iter()
            .map(|a| a.owner)
            .collect();
        for owner in owners {
            match owner {
                Owner::Replica(r) => {
                    let s = self.replicas[r.index()].service;
                    self.kill_replica(r, ctx);
                    self.reconcile(s, ctx);
                }
                Owner::Job(j) => self.preempt_job(j, ctx),
            }
        }
    }

    /// Ends a node: billing stops (after its minimum charge), it leaves its pool.
    pub(super) fn terminate_node(&mut self, id: NodeId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let node = &mut self.nodes[id.index()];
        for k in [
            node.timer_interrupt.take(),
            node.timer_failure.take(),
            node.timer_idle.take(),
        ]
        .into_iter()
        .flatten()
        {
            ctx.cancel(k);
        }
        let pool = &mut self.pools[node.pool.index()];
        self.ledger
            .terminate_node(node, pool, now, self.minimum_charge);
        node.state = NodeState::Terminated;
        pool.nodes.retain(|&n| n != id);
        let p = node.pool;
        self.top_up(p, ctx);
    }

    /// Launches nodes until a cloud pool has its minimum (as an auto-scaling
    /// group replaces lost instances), stock permitting.
    pub(super) fn top_up(&mut self, p: PoolId, ctx: &mut Context<'_, Event>) {
        while {
            let pool = &self.pools[p.index()];
            !pool.capacity.is_committed()
                && (pool.nodes.len() as u32) < pool.min_nodes
                && pool.can_launch()
        } {
            self.launch_node(p, ctx);
        }
    }

    /// Gives `gpus` of a node to `owner`, booking its cost up to now first.
    pub(super) fn allocate(
        &mut self,
        id: NodeId,
        owner: Owner,
        workload: WorkloadId,
        gpus: u32,
        ctx: &mut Context<'_, Event>,
    ) {
        let now = ctx.now();
        let node = &mut self.nodes[id.index()];
        self.ledger
            .settle_node(node, &mut self.pools[node.pool.index()], now);
        node.allocate(owner, workload, gpus);
        if let Some(k) = node.timer_idle.take() {
            ctx.cancel(k);
        }
    }

    /// Takes back what `owner` holds on a node, booking its cost up to now first.
    pub(super) fn release(&mut self, id: NodeId, owner: Owner, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let node = &mut self.nodes[id.index()];
        self.ledger
            .settle_node(node, &mut self.pools[node.pool.index()], now);
        node.release(owner);
        self.arm_idle_check(id, ctx);
    }

    pub(super) fn on_price_change(&mut self, p: PoolId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let pool = &mut self.pools[p.index()];
        for i in 0..pool.nodes.len() {
            let n = pool.nodes[i];
            self.ledger
                .settle_node(&mut self.nodes[n.index()], pool, now);
        }
        pool.price.apply_pending();
        pool.refresh_price();
        if let Some(t) = pool.price.next_change(now) {
            if t < self.horizon {
                ctx.schedule_at(t, Event::PriceChange(p));
            }
        }
    }

    pub(super) fn on_stockout(&mut self, p: PoolId, begins: bool, ctx: &mut Context<'_, Event>) {
        let pool = &mut self.pools[p.index()];
        let Some((avail, dur)) = pool.stockouts else {
            return;
        };
        pool.stocked_out = begins;
        if begins {
            pool.stats.stockouts += 1;
        }
        let (mean, next) = if begins {
            (dur, Event::StockoutEnd(p))
        } else {
            (avail, Event::StockoutStart(p))
        };
        if let Some(d) = Self::exp_wait(mean, &mut pool.rng_stockout) {
            ctx.schedule_in(d, next);
        }
        if !begins {
            self.top_up(p, ctx);
            self.place_pending(ctx);
        }
    }

    /// Offers every pending unit of work to the placement policy, in order.
    pub(super) fn place_pending(&mut self, ctx: &mut Context<'_, Event>) {
        if self.pending.is_empty() {
            return;
        }
        let mut waiting = VecDeque::with_capacity(self.pending.len());
        while let Some(owner) = self.pending.pop_front() {
            let (gpus, pools) = match owner {
                Owner::Replica(r) => {
                    let rep = &self.replicas[r.index()];
                    if rep.state != ReplicaState::Pending {
                        continue;
                    }
                    let svc = &self.services[rep.service.index()];
                    (svc.gpus_per_replica, svc.pools.clone())
                }
                Owner::Job(j) => {
                    let job = &self.jobs[j.index()];
                    if job.state != JobState::Queued {
                        continue;
                    }
                    (job.gpus, job.pools.clone())
                }
            };
            let speeds: Vec<f64> = (0..self.pools.len())
                .map(|p| self.speed_of(owner, PoolId(p as u32)))
                .collect();
            let speed = |p: PoolId| speeds[p.index()];
            let view = FleetView {
                pools: &self.pools,
                nodes: &self.nodes,
                speed: &speed,
            };
            let decision = self.placement.place(
                &PlacementRequest {
                    owner,
                    gpus,
                    pools: &pools,
                },
                &view,
            );
            match decision {
                Decision::Bind { nodes, per_node } => {
                    if nodes.iter().all(|n| {
                        self.nodes
                            .get(n.index())
                            .is_some_and(|node| node.fits(owner, per_node))
                    }) {
                        self.bind(owner, &nodes, per_node, ctx);
                    } else {
                        // A policy that names nodes that cannot take the work is ignored.
                        waiting.push_back(owner);
                    }
                }
                Decision::Provision {
                    pool,
                    reuse,
                    launch,
                    per_node,
                } => {
                    if launch > 0 {
                        // Launches that went elsewhere because a pool was out of stock.
                        for &q in &pools {
                            if q != pool && self.pools[q.index()].stocked_out {
                                self.pools[q.index()].stats.refused_launches += 1;
                            }
                        }
                    }
                    let usable = |n: &NodeId| {
                        self.nodes.get(n.index()).is_some_and(|node| {
                            node.pool == pool
                                && node.state == NodeState::Provisioning
                                && node.unpromised() >= per_node
                        })
                    };
                    if reuse.iter().all(usable) && launch <= self.pools[pool.index()].headroom() {
                        for n in reuse {
                            self.nodes[n.index()].reserve(owner, per_node);
                        }
                        for _ in 0..launch {
                            let n = self.launch_node(pool, ctx);
                            self.nodes[n.index()].reserve(owner, per_node);
                        }
                    }
                    waiting.push_back(owner);
                }
                Decision::Wait(_) => waiting.push_back(owner),
            }
        }
        // Units added while placing (replacements) go after those that waited.
        waiting.append(&mut self.pending);
        self.pending = waiting;
    }

    fn bind(
        &mut self,
        owner: Owner,
        nodes: &[NodeId],
        per_node: u32,
        ctx: &mut Context<'_, Event>,
    ) {
        // Nodes provisioned for this owner but not used are freed for others.
        let pools = match owner {
            Owner::Replica(r) => self.services[self.replicas[r.index()].service.index()]
                .pools
                .clone(),
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
                    self.arm_idle_check(n, ctx);
                }
            }
        }
    }
}
