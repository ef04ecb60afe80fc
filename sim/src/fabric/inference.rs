//! Inference: arrivals, routing, engine phases, replicas and autoscaling.
//!
//! A request arrives at its service and goes to the least-loaded ready
//! replica with room in its batch and KV cache, or waits in the service's
//! queue. Replicas pull from that queue whenever a phase ends. A replica that
//! loses its node gives its requests back to the queue, front first, and the
//! service asks for a replacement.

use super::{Event, Fabric};
use crate::engine::Context;
use crate::fleet::Owner;
use crate::ids::{ReplicaId, RequestId, ServiceId};
use crate::metrics::Outcome;
use crate::scenario::spec::ScaleMetric;
use crate::time::{SimDuration, SimTime};
use crate::workload::{DropReason, Phase, Replica, ReplicaState, Request, TimeModel};
use rand::Rng;
use std::cmp::Reverse;

/// Accelerator activity of a replica under a sampled service time.
const SAMPLED_ACTIVITY: f64 = 0.6;

impl Fabric {
    pub(super) fn on_arrival(&mut self, s: ServiceId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let svc = &mut self.services[s.index()];
        // A replayed trace carries this arrival's tokens; the service's own distributions override them.
        let recorded = svc.arrivals.take_tokens();
        let prompt = match &svc.prompt {
            Some(d) => d.sample(&mut svc.rng_tokens),
            None => recorded.map_or(1, |r| r.0.max(1)),
        };
        let output = match &svc.output {
            Some(d) => d.sample(&mut svc.rng_tokens),
            None => recorded.map_or(1, |r| r.1.max(1)),
        };
        if let Some(t) = svc.arrivals.next_after(now, &mut svc.rng_arrivals)
            && t < self.horizon
        {
            ctx.schedule_at(t, Event::Arrival(s));
        }
        svc.stats.arrived += 1;
        svc.interval.arrived += 1;
        let admitted = svc.admitted;
        let seq = self.next_request_seq;
        self.next_request_seq += 1;
        let id = self.requests.insert(Request {
            seq,
            service: s,
            arrival: now,
            prompt,
            output,
            admitted: None,
            first_token: None,
            replica: None,
            finish_key: 0,
            retries: 0,
        });
        if admitted {
            self.route(s, id, ctx);
        } else {
            self.drop_request(id, DropReason::Rejected, now);
        }
    }

    /// KV tokens a request needs for its whole life.
    fn kv_need(&self, id: RequestId) -> u64 {
        let r = &self.requests[id];
        u64::from(r.prompt) + u64::from(r.output)
    }

    fn route(&mut self, s: ServiceId, id: RequestId, ctx: &mut Context<'_, Event>) {
        let need = self.kv_need(id);
        let svc = &self.services[s.index()];
        if matches!(svc.time_model, TimeModel::Roofline) {
            let largest = svc.step_models.iter().flatten().map(|m| m.kv_capacity_tokens()).max().unwrap_or(0);
            if need > largest {
                self.drop_request(id, DropReason::TooLong, ctx.now());
                return;
            }
        }
        if let Some((load, r)) = svc.routable.least_loaded() {
            let rep = &self.replicas[r.index()];
            if load < svc.max_batch && rep.kv_committed + need <= rep.kv_capacity {
                self.requests[id].replica = Some(r);
                let rep = &mut self.replicas[r.index()];
                rep.inbox.push_back(id);
                rep.kv_committed += need;
                self.update_route(r);
                self.poke(r, ctx);
                return;
            }
        }
        let svc = &mut self.services[s.index()];
        if svc.queue.len() >= svc.max_queue as usize {
            self.drop_request(id, DropReason::QueueFull, ctx.now());
        } else {
            svc.queue.push_back(id);
        }
    }

    /// Re-keys a ready replica in its service's routing set after its load changed.
    fn update_route(&mut self, r: ReplicaId) {
        let rep = &self.replicas[r.index()];
        if rep.state == ReplicaState::Ready {
            self.services[rep.service.index()].routable.update(r, &mut self.replicas);
        }
    }

    /// Tells a replica it has new work: an idle engine starts now, a decoding
    /// one takes it at its next step boundary.
    fn poke(&mut self, r: ReplicaId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        match self.replicas[r.index()].phase {
            Phase::Idle | Phase::Sampled => self.start_next(r, ctx),
            Phase::Prefill { .. } => {}
            Phase::Decode { start, step, .. } => {
                let elapsed = now.saturating_since(start).as_nanos();
                let k = elapsed.div_ceil(step.as_nanos()).max(1);
                let boundary = start + SimDuration(k * step.as_nanos());
                if self.replicas[r.index()].wake.is_none_or(|t| boundary < t) {
                    self.set_wake(r, Some(boundary), ctx);
                }
            }
        }
    }

    /// Sets (or clears) the replica's one pending wake-up. A superseded one
    /// stays queued but is ignored when it fires.
    fn set_wake(&mut self, r: ReplicaId, at: Option<SimTime>, ctx: &mut Context<'_, Event>) {
        let rep = &mut self.replicas[r.index()];
        if rep.wake == at {
            return;
        }
        rep.wake_epoch = rep.wake_epoch.wrapping_add(1);
        rep.wake = at;
        if let Some(t) = at {
            ctx.schedule_at(t, Event::ReplicaWake(r, rep.wake_epoch));
        }
    }

    pub(super) fn on_replica_wake(&mut self, r: ReplicaId, epoch: u32, ctx: &mut Context<'_, Event>) {
        let rep = &mut self.replicas[r.index()];
        if rep.wake_epoch != epoch || rep.wake.is_none() {
            return;
        }
        rep.wake = None;
        self.advance(r, ctx.now());
        self.start_next(r, ctx);
    }

    /// Completes what the current phase has done by `now` and leaves the engine idle.
    fn advance(&mut self, r: ReplicaId, now: SimTime) {
        match self.replicas[r.index()].phase {
            Phase::Idle => {}
            Phase::Prefill { start, chunks, start_step, activity, .. } => {
                let dur = now.saturating_since(start);
                self.account_work(r, dur, activity);
                let counter = start_step + u64::from(chunks);
                self.replicas[r.index()].step_counter = counter;
                let chunks = u64::from(chunks);
                self.complete_running(r, counter, |f| start + SimDuration(dur.as_nanos() * (f - start_step) / chunks));
                let mut joining = std::mem::take(&mut self.replicas[r.index()].joining);
                for id in joining.drain(..) {
                    let req = &mut self.requests[id];
                    req.first_token = Some(now);
                    if req.output <= 1 {
                        self.complete(id, now);
                    } else {
                        let key = counter + u64::from(req.output) - 1;
                        let rep = &mut self.replicas[r.index()];
                        rep.ctx_base += i64::from(req.prompt) + 1 - counter as i64;
                        rep.running.push(Reverse((key, id)));
                    }
                }
                // Keep the buffer's capacity for the next prefill.
                let rep = &mut self.replicas[r.index()];
                rep.joining = joining;
                rep.phase = Phase::Idle;
            }
            Phase::Decode { start, start_step, step, activity } => {
                let k = now.saturating_since(start).as_nanos() / step.as_nanos();
                self.account_work(r, SimDuration(k * step.as_nanos()), activity);
                let counter = start_step + k;
                self.replicas[r.index()].step_counter = counter;
                self.complete_running(r, counter, |f| start + SimDuration((f - start_step) * step.as_nanos()));
                self.replicas[r.index()].phase = Phase::Idle;
            }
            Phase::Sampled => self.complete_running(r, now.as_nanos(), SimTime),
        }
    }

    /// Completes the running requests whose finish key is at most `upto`.
    fn complete_running(&mut self, r: ReplicaId, upto: u64, time_of: impl Fn(u64) -> SimTime) {
        let sampled = self.replicas[r.index()].phase == Phase::Sampled;
        loop {
            let rep = &mut self.replicas[r.index()];
            let Some(&Reverse((key, id))) = rep.running.peek() else {
                break;
            };
            if key > upto {
                break;
            }
            rep.running.pop();
            if !sampled {
                let req = &self.requests[id];
                let join = key + 1 - u64::from(req.output);
                rep.ctx_base -= i64::from(req.prompt) + 1 - join as i64;
            }
            self.complete(id, time_of(key));
        }
    }

    /// A request answered in full at `t`.
    fn complete(&mut self, id: RequestId, t: SimTime) {
        let need = self.kv_need(id);
        let req = &self.requests[id];
        let svc = &mut self.services[req.service.index()];
        let ttft = req.first_token.unwrap_or(t).saturating_since(req.arrival);
        let e2e = t.saturating_since(req.arrival);
        svc.stats.finished += 1;
        svc.interval.finished += 1;
        svc.stats.ttft.record(ttft);
        svc.stats.e2e.record(e2e);
        if let Some(a) = svc.autoscaler.as_mut() {
            a.record(ttft, e2e);
        }
        svc.stats.prompt_tokens += u64::from(req.prompt);
        svc.stats.output_tokens += u64::from(req.output);
        if ttft <= svc.slo_ttft && e2e <= svc.slo_e2e {
            svc.stats.slo_met += 1;
            svc.interval.slo_met += 1;
        }
        if let Some(r) = req.replica {
            let rep = &mut self.replicas[r.index()];
            rep.kv_committed = rep.kv_committed.saturating_sub(need);
        }
        self.record_request(id, Outcome::Finished, Some(t));
        self.requests.remove(id);
    }

    /// A request dropped at `now`.
    pub(super) fn drop_request(&mut self, id: RequestId, reason: DropReason, now: SimTime) {
        let svc = &mut self.services[self.requests[id].service.index()];
        let slot = DropReason::ALL.iter().position(|&d| d == reason).unwrap_or(0);
        svc.stats.dropped[slot] += 1;
        svc.interval.dropped += 1;
        self.record_request(id, Outcome::Dropped(reason), Some(now));
        self.requests.remove(id);
    }

    /// Keeps the request's record, if records are kept.
    pub(super) fn record_request(&mut self, id: RequestId, outcome: Outcome, end: Option<SimTime>) {
        if !self.options.record_requests {
            return;
        }
        let req = &self.requests[id];
        let pool = req.replica.and_then(|r| self.replicas[r.index()].pool).map(|p| p.0);
        let rec = &mut self.records.requests;
        rec.id.push(req.seq);
        rec.service.push(req.service.0);
        rec.arrival_ns.push(req.arrival.as_nanos());
        rec.admitted_ns.push(req.admitted.map(SimTime::as_nanos));
        rec.first_token_ns.push(match outcome {
            Outcome::Finished => Some(req.first_token.or(end).map_or(0, SimTime::as_nanos)),
            _ => req.first_token.map(SimTime::as_nanos),
        });
        rec.end_ns.push(end.map(SimTime::as_nanos));
        rec.prompt_tokens.push(req.prompt);
        rec.output_tokens.push(req.output);
        rec.retries.push(req.retries);
        rec.pool.push(pool);
        rec.replica.push(req.replica.map(|r| r.0));
        rec.outcome.push(outcome);
    }

    /// Marks a request as taken by a replica (its queue wait ends the first time).
    fn admit(&mut self, id: RequestId, now: SimTime) {
        let req = &mut self.requests[id];
        if req.admitted.is_none() {
            req.admitted = Some(now);
            let wait = now.saturating_since(req.arrival);
            self.services[req.service.index()].stats.queue_wait.record(wait);
        }
    }

    /// Plans the replica's next phase: admits work, then prefills, decodes or idles.
    fn start_next(&mut self, r: ReplicaId, ctx: &mut Context<'_, Event>) {
        let rep = &self.replicas[r.index()];
        if !matches!(rep.state, ReplicaState::Ready | ReplicaState::Draining) {
            return;
        }
        match self.services[rep.service.index()].time_model {
            TimeModel::Roofline => self.start_engine_phase(r, ctx),
            TimeModel::Exponential(_) | TimeModel::Fixed(_) => self.start_sampled(r, ctx),
        }
    }

    /// Pops the oldest queued request that has not timed out; drops those that have.
    fn next_from_queue(&mut self, s: ServiceId, now: SimTime) -> Option<RequestId> {
        loop {
            let svc = &mut self.services[s.index()];
            let id = *svc.queue.front()?;
            let waited = now.saturating_since(self.requests[id].arrival);
            if svc.queue_timeout.is_some_and(|t| waited > t) {
                svc.queue.pop_front();
                self.drop_request(id, DropReason::QueueTimeout, now);
                continue;
            }
            return Some(id);
        }
    }

    fn start_engine_phase(&mut self, r: ReplicaId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        if self.replicas[r.index()].phase != Phase::Idle {
            return;
        }
        let s = self.replicas[r.index()].service;
        let (max_batch, budget) = {
            let svc = &self.services[s.index()];
            (svc.max_batch as usize, u64::from(svc.max_batch_tokens))
        };
        let draining = self.replicas[r.index()].state == ReplicaState::Draining;
        let mut tokens = 0u64;
        let mut sq_half = 0f64;
        // Requests routed here first, then the service queue.
        loop {
            let rep = &self.replicas[r.index()];
            if rep.running.len() + rep.joining.len() >= max_batch {
                break;
            }
            let from_inbox = !rep.inbox.is_empty();
            let id = match rep.inbox.front() {
                Some(&id) => id,
                None if draining => break,
                None => match self.next_from_queue(s, now) {
                    Some(id) => id,
                    None => break,
                },
            };
            let prompt = u64::from(self.requests[id].prompt);
            if tokens > 0 && tokens + prompt > budget {
                break;
            }
            let need = self.kv_need(id);
            let rep = &mut self.replicas[r.index()];
            if from_inbox {
                rep.inbox.pop_front();
            } else {
                if rep.kv_committed + need > rep.kv_capacity {
                    break;
                }
                self.services[s.index()].queue.pop_front();
                rep.kv_committed += need;
                self.requests[id].replica = Some(r);
            }
            rep.joining.push(id);
            tokens += prompt;
            sq_half += (prompt * prompt) as f64 / 2.0;
            self.admit(id, now);
        }
        let rep = &self.replicas[r.index()];
        let pool = rep.pool.expect("a serving replica has a pool");
        let model = self.services[s.index()].step_model(pool).expect("roofline services have a step model per pool");
        let b = rep.running.len() as u32;
        let next = if !rep.joining.is_empty() {
            let chunks = tokens.div_ceil(budget).max(1);
            let st = model.step(tokens as f64 / chunks as f64, sq_half / chunks as f64, b, rep.ctx_sum());
            let end = now + SimDuration(st.duration.as_nanos() * chunks);
            let phase = Phase::Prefill { start: now, end, chunks: chunks as u32, start_step: rep.step_counter, activity: st.activity };
            Some((phase, end))
        } else if let Some(&Reverse((key, _))) = rep.running.peek() {
            let k_max = key.saturating_sub(rep.step_counter).max(1);
            let ctx_mid = rep.ctx_sum() + f64::from(b) * k_max as f64 / 2.0;
            let st = model.decode(b, ctx_mid);
            let phase = Phase::Decode { start: now, start_step: rep.step_counter, step: st.duration, activity: st.activity };
            Some((phase, now + SimDuration(st.duration.as_nanos() * k_max)))
        } else {
            None
        };
        match next {
            Some((phase, wake)) => {
                self.replicas[r.index()].phase = phase;
                self.set_wake(r, Some(wake), ctx);
                self.update_route(r);
            }
            None => {
                self.update_route(r);
                if draining && self.replicas[r.index()].is_empty() {
                    self.stop_replica(r, ctx);
                }
            }
        }
    }

    fn start_sampled(&mut self, r: ReplicaId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let s = self.replicas[r.index()].service;
        let max_batch = self.services[s.index()].max_batch as usize;
        let draining = self.replicas[r.index()].state == ReplicaState::Draining;
        loop {
            let rep = &self.replicas[r.index()];
            if rep.running.len() >= max_batch {
                break;
            }
            let id = match rep.inbox.front() {
                Some(&id) => {
                    self.replicas[r.index()].inbox.pop_front();
                    id
                }
                None if draining => break,
                None => match self.next_from_queue(s, now) {
                    Some(id) => {
                        self.services[s.index()].queue.pop_front();
                        self.requests[id].replica = Some(r);
                        id
                    }
                    None => break,
                },
            };
            self.admit(id, now);
            let svc = &mut self.services[s.index()];
            let d = match svc.time_model {
                TimeModel::Exponential(mean) => {
                    let u: f64 = svc.rng_service.random();
                    SimDuration::from_secs_f64(-(1.0 - u).ln() * mean)
                }
                TimeModel::Fixed(d) => d,
                TimeModel::Roofline => SimDuration::ZERO,
            };
            let finish = (now + d).as_nanos();
            self.requests[id].finish_key = finish;
            self.replicas[r.index()].running.push(Reverse((finish, id)));
            self.account_work(r, SimDuration(d.as_nanos() / max_batch as u64), SAMPLED_ACTIVITY);
        }
        let next = self.replicas[r.index()].running.peek().map(|Reverse((k, _))| SimTime(*k));
        self.set_wake(r, next, ctx);
        self.update_route(r);
        if draining && self.replicas[r.index()].is_empty() {
            self.stop_replica(r, ctx);
        }
    }

    /// Books the time, busy accelerator time and extra energy of work on a replica.
    fn account_work(&mut self, r: ReplicaId, dur: SimDuration, activity: f64) {
        if dur.is_zero() {
            return;
        }
        let rep = &mut self.replicas[r.index()];
        let Some(pool) = rep.pool else { return };
        rep.busy_ns += dur.as_nanos();
        let svc = &mut self.services[rep.service.index()];
        svc.busy_ns += dur.as_nanos();
        let gpus = f64::from(svc.gpus_per_replica);
        let pool = &mut self.pools[pool.index()];
        pool.stats.busy_gpu_secs += dur.as_secs_f64() * gpus;
        let extra_mw = (pool.accelerator.max_watts - pool.accelerator.idle_watts) * activity * 1e3;
        // Booked in bulk by `flush_energy`: per phase it would cost a ledger lookup.
        rep.energy_pending += extra_mw * gpus * dur.as_nanos() as f64;
    }

    /// Books the energy of work a replica has done since the last flush.
    pub(super) fn flush_energy(&mut self, r: ReplicaId) {
        let rep = &mut self.replicas[r.index()];
        let (Some(node), Some(pool)) = (rep.node, rep.pool) else {
            return;
        };
        let e = std::mem::take(&mut rep.energy_pending);
        if e > 0.0 {
            let workload = self.services[rep.service.index()].workload;
            self.ledger.book_work_energy(node, &self.pools[pool.index()], workload, e.round() as u128);
        }
    }

    /// A replica placed on `node` loads its model, or starts serving at once
    /// when placed as the run begins (the fleet was already serving).
    pub(super) fn start_replica(&mut self, r: ReplicaId, node: crate::ids::NodeId, ctx: &mut Context<'_, Event>) {
        let pool = self.nodes[node.index()].pool;
        let svc = &self.services[self.replicas[r.index()].service.index()];
        let (kv, sampled) = match svc.step_model(pool) {
            Some(m) => (m.kv_capacity_tokens(), false),
            None => (u64::MAX, true),
        };
        let cold = svc.cold_start;
        let warm = self.is_starting();
        let rep = &mut self.replicas[r.index()];
        rep.node = Some(node);
        rep.pool = Some(pool);
        rep.kv_capacity = kv;
        rep.phase = if sampled { Phase::Sampled } else { Phase::Idle };
        if warm {
            self.become_ready(r, ctx);
        } else {
            rep.state = ReplicaState::Starting;
            rep.ready_timer = Some(ctx.schedule_in(cold, Event::ReplicaReady(r)));
        }
    }

    pub(super) fn on_replica_ready(&mut self, r: ReplicaId, ctx: &mut Context<'_, Event>) {
        self.replicas[r.index()].ready_timer = None;
        if self.replicas[r.index()].state == ReplicaState::Starting {
            self.become_ready(r, ctx);
        }
    }

    fn become_ready(&mut self, r: ReplicaId, ctx: &mut Context<'_, Event>) {
        let rep = &mut self.replicas[r.index()];
        rep.state = ReplicaState::Ready;
        let svc = &mut self.services[rep.service.index()];
        svc.routable.insert(r, &mut self.replicas);
        svc.stats.peak_replicas = svc.stats.peak_replicas.max(svc.routable.len() as u32);
        self.start_next(r, ctx);
    }

    /// Stops sending work to a replica; it goes once its batch is done.
    pub(super) fn drain_replica(&mut self, r: ReplicaId, ctx: &mut Context<'_, Event>) {
        let s = self.replicas[r.index()].service;
        match self.replicas[r.index()].state {
            ReplicaState::Pending => {
                self.replicas[r.index()].state = ReplicaState::Stopped;
                self.services[s.index()].replicas.retain(|&x| x != r);
            }
            ReplicaState::Starting => self.stop_replica(r, ctx),
            ReplicaState::Ready => {
                self.services[s.index()].routable.remove(r, &mut self.replicas);
                let rep = &mut self.replicas[r.index()];
                rep.state = ReplicaState::Draining;
                let inbox: Vec<RequestId> = rep.inbox.drain(..).collect();
                for &id in inbox.iter().rev() {
                    let need = self.kv_need(id);
                    let rep = &mut self.replicas[r.index()];
                    rep.kv_committed = rep.kv_committed.saturating_sub(need);
                    self.requests[id].replica = None;
                    self.services[s.index()].queue.push_front(id);
                }
                let rep = &self.replicas[r.index()];
                if rep.is_empty() && matches!(rep.phase, Phase::Idle | Phase::Sampled) {
                    self.stop_replica(r, ctx);
                }
                self.kick(s, ctx);
            }
            ReplicaState::Draining | ReplicaState::Stopped => {}
        }
    }

    /// A replica whose node is gone: its requests go back to the queue.
    pub(super) fn kill_replica(&mut self, r: ReplicaId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let s = self.replicas[r.index()].service;
        match self.replicas[r.index()].state {
            ReplicaState::Stopped => return,
            ReplicaState::Pending => {
                self.drain_replica(r, ctx);
                return;
            }
            _ => {}
        }
        // Account the part of the phase that ran, and count tokens thrown away.
        let counter_now = match self.replicas[r.index()].phase {
            Phase::Prefill { start, start_step, activity, .. } => {
                self.account_work(r, now.saturating_since(start), activity);
                start_step
            }
            Phase::Decode { start, start_step, step, activity } => {
                let dur = now.saturating_since(start);
                self.account_work(r, dur, activity);
                start_step + dur.as_nanos() / step.as_nanos()
            }
            Phase::Idle | Phase::Sampled => self.replicas[r.index()].step_counter,
        };
        let rep = &mut self.replicas[r.index()];
        let sampled = rep.phase == Phase::Sampled;
        let mut lost: Vec<RequestId> = rep.running.drain().map(|Reverse((_, id))| id).collect();
        lost.append(&mut rep.joining);
        lost.extend(rep.inbox.drain(..));
        rep.kv_committed = 0;
        rep.ctx_base = 0;
        rep.phase = if sampled { Phase::Sampled } else { Phase::Idle };
        lost.sort_by_key(|&id| self.requests[id].seq);
        let svc = &mut self.services[s.index()];
        for &id in lost.iter().rev() {
            let req = &mut self.requests[id];
            if !sampled && req.first_token.is_some() {
                let join = req.finish_key.saturating_add(1).saturating_sub(u64::from(req.output));
                svc.stats.wasted_tokens += (counter_now + 1).saturating_sub(join).min(u64::from(req.output));
            }
            req.replica = None;
            req.first_token = None;
            req.retries = req.retries.saturating_add(1);
            svc.stats.retries += 1;
            svc.queue.push_front(id);
        }
        svc.stats.replicas_lost += 1;
        self.stop_replica(r, ctx);
        self.kick(s, ctx);
    }

    /// Ends a replica: it leaves routing and gives back its accelerators.
    fn stop_replica(&mut self, r: ReplicaId, ctx: &mut Context<'_, Event>) {
        if self.replicas[r.index()].state == ReplicaState::Stopped {
            return;
        }
        self.flush_energy(r);
        let rep = &self.replicas[r.index()];
        let s = rep.service;
        if rep.state == ReplicaState::Ready {
            self.services[s.index()].routable.remove(r, &mut self.replicas);
        }
        let rep = &mut self.replicas[r.index()];
        rep.state = ReplicaState::Stopped;
        rep.wake = None;
        rep.wake_epoch = rep.wake_epoch.wrapping_add(1);
        if let Some(k) = rep.ready_timer.take() {
            ctx.cancel(k);
        }
        let node = rep.node;
        self.services[s.index()].replicas.retain(|&x| x != r);
        if let Some(n) = node {
            self.release(n, Owner::Replica(r), ctx);
        }
    }

    /// Lets ready replicas with room take queued requests.
    fn kick(&mut self, s: ServiceId, ctx: &mut Context<'_, Event>) {
        let svc = &self.services[s.index()];
        if svc.queue.is_empty() {
            return;
        }
        let max_batch = svc.max_batch;
        let ids: Vec<(u32, ReplicaId)> = svc.routable.iter().collect();
        for (load, r) in ids {
            if self.services[s.index()].queue.is_empty() {
                break;
            }
            if load < max_batch {
                self.poke(r, ctx);
            }
        }
    }

    /// Brings the number of live replicas to the service's desired count:
    /// new ones wait for placement; extra ones drain, the pending, the
    /// starting and the most expensive going first.
    pub(super) fn reconcile(&mut self, s: ServiceId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let svc = &self.services[s.index()];
        let live: Vec<ReplicaId> = svc.replicas.iter().copied().filter(|r| self.replicas[r.index()].is_live()).collect();
        let desired = svc.desired as usize;
        if live.len() < desired {
            for _ in live.len()..desired {
                let id = ReplicaId(self.replicas.len() as u32);
                self.replicas.push(Replica::new(s, now));
                let svc = &mut self.services[s.index()];
                svc.replicas.push(id);
                svc.stats.replicas_started += 1;
                self.pending.push_back(Owner::Replica(id));
            }
            if !self.is_starting() {
                self.place_pending(ctx);
            }
        } else if live.len() > desired {
            let mut victims: Vec<(u8, u8, u32, std::cmp::Reverse<ReplicaId>)> = live
                .iter()
                .map(|&r| {
                    let rep = &self.replicas[r.index()];
                    let stage = match rep.state {
                        ReplicaState::Pending => 0,
                        ReplicaState::Starting => 1,
                        _ => 2,
                    };
                    let cost_rank = rep.pool.map_or(0, |p| match self.pools[p.index()].capacity {
                        crate::scenario::spec::CapacityType::OnDemand => 0,
                        crate::scenario::spec::CapacityType::Spot => 1,
                        _ => 2,
                    });
                    (stage, cost_rank, rep.load(), std::cmp::Reverse(r))
                })
                .collect();
            victims.sort();
            for v in victims.into_iter().take(live.len() - desired) {
                self.drain_replica(v.3.0, ctx);
            }
        }
    }

    pub(super) fn on_autoscale(&mut self, s: ServiceId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let svc = &self.services[s.index()];
        let Some(a) = &svc.autoscaler else { return };
        if !svc.admitted {
            // A service its admission policy rejected never scales.
            return;
        }
        let interval = a.interval;
        let ready = svc.routable.len();
        let metric = a.metric;
        let oldest_wait = if metric.is_latency() {
            svc.queue.iter().map(|r| now.saturating_since(self.requests[*r].arrival)).max().unwrap_or(SimDuration::ZERO)
        } else {
            SimDuration::ZERO
        };
        let total = match metric {
            ScaleMetric::Concurrency => {
                svc.queue.len() as f64 + svc.replicas.iter().map(|r| f64::from(self.replicas[r.index()].load())).sum::<f64>()
            }
            ScaleMetric::Queue => svc.queue.len() as f64,
            ScaleMetric::Utilisation => (svc.busy_ns - a.last_busy_ns) as f64 / interval.as_nanos() as f64,
            // Set below, where the samples are taken.
            ScaleMetric::Ttft | ScaleMetric::E2e => 0.0,
        };
        let arrival_rate = (svc.stats.arrived - a.last_arrived) as f64 / interval.as_secs_f64();
        let (busy, arrived, current, target) = (svc.busy_ns, svc.stats.arrived, svc.desired, a.target);
        let svc = &mut self.services[s.index()];
        let a = svc.autoscaler.as_mut().expect("checked above");
        a.last_busy_ns = busy;
        a.last_arrived = arrived;
        // A latency is service-wide and not proportional to replicas; see `decide_latency`.
        let latency = metric.is_latency().then(|| a.take_latency(oldest_wait));
        // Predictive: provision for the load expected when new replicas would be ready.
        let growth = a.growth_ahead(arrival_rate);
        let planned = total * growth.max(1.0);
        let desired = match latency {
            Some(l) => a.decide_latency(now, l, growth, ready as u32, current),
            None => a.decide(now, planned, ready as u32, current),
        };
        if now + interval < self.horizon {
            ctx.schedule_in(interval, Event::Autoscale(s));
        }
        if desired == current {
            return;
        }
        let name = svc.name.clone();
        let ahead = if growth > 1.0 { format!(", ×{growth:.2} forecast ahead → {planned:.1}") } else { String::new() };
        let detail = match latency {
            Some(l) => format!(
                "{} p{} {l:.3} s with {ready} ready (target {target} s){ahead} · {current} → {desired}",
                metric.as_str(),
                svc.autoscaler.as_ref().map_or(95.0, |a| a.percentile * 100.0)
            ),
            None => format!(
                "{} {total:.1} over {ready} ready ({:.2} per replica, target {target}){ahead} · {current} → {desired}",
                metric.as_str(),
                if ready > 0 { total / ready as f64 } else { total }
            ),
        };
        let up = desired > current;
        if up && self.scaling_denied(s, current, desired, now) {
            return;
        }
        self.trace(now, "scale", name, if up { "scale-up" } else { "scale-down" }, None, detail);
        let svc = &mut self.services[s.index()];
        if up {
            svc.stats.scale_events.0 += 1;
        } else {
            svc.stats.scale_events.1 += 1;
        }
        svc.desired = desired;
        self.reconcile(s, ctx);
    }
}
