//! Observation: time-series samples, ledger periods, and the summary at the end.

use super::{Event, Fabric};
use crate::engine::Context;
use crate::fleet::NodeState;
use crate::ids::{PoolId, WorkloadId};
use crate::metrics::{
    CostSummary, DecisionRecord, InterruptionSummary, JobRecord, JobsSummary, LatencyHistogram, LatencySummary, Outcome, PolicyDenial,
    PoolSample, PoolSummary, Records, SchedulingSummary, ServiceSample, ServiceSummary, Summary,
};
use crate::time::SimTime;
use crate::workload::{DropReason, JobState, ReplicaState};

/// What a finished run hands back: the summary and the records.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// What the report shows.
    pub summary: Summary,
    /// What exporters write.
    pub records: Records,
    /// The ledger's exact totals, by owner and pool.
    pub ledger: crate::ledger::Ledger,
}

/// What a run recorded since a front end last looked: time-series samples
/// and decisions (each only when the run's options record it).
#[derive(Clone, Debug, Default)]
pub struct Observations {
    /// Pool samples, in time order.
    pub pool_series: Vec<PoolSample>,
    /// Service samples, in time order.
    pub service_series: Vec<ServiceSample>,
    /// Decisions, in time order.
    pub decisions: Vec<DecisionRecord>,
}

impl Fabric {
    /// Moves out the samples and decisions recorded so far. A front end that
    /// watches a long run calls it between steps, so the run's memory stays
    /// bounded; [`Fabric::finish`] then returns only what came after.
    pub fn take_observations(&mut self) -> Observations {
        Observations {
            pool_series: std::mem::take(&mut self.records.pool_series),
            service_series: std::mem::take(&mut self.records.service_series),
            decisions: std::mem::take(&mut self.records.decisions),
        }
    }

    /// Moves out every record that is final so far, so that a front end
    /// writing a long run to disk keeps its memory bounded: the requests that
    /// ended, the time-series samples, the decisions and the ledger lines of
    /// closed charge periods (each only when the run's options record it).
    /// What is not final stays: job records (their state at the horizon) and
    /// the lines of the open charge period come from [`Fabric::finish`], as
    /// do the requests still in flight at the horizon.
    ///
    /// The rows are in the order a run that hands out nothing records them,
    /// so the parts handed out, then what [`Fabric::finish`] returns, are
    /// that run's records table by table. The name lists stay empty:
    /// [`crate::Run::take_records`] hands names out as they are added.
    pub fn take_records(&mut self) -> Records {
        Records {
            requests: std::mem::take(&mut self.records.requests),
            pool_series: std::mem::take(&mut self.records.pool_series),
            service_series: std::mem::take(&mut self.records.service_series),
            decisions: std::mem::take(&mut self.records.decisions),
            ledger: self.ledger.take_rows(),
            ..Records::default()
        }
    }

    /// The names records refer to by index (services, pools, workloads),
    /// from the given position of each list on: those a reader of earlier
    /// parts does not hold yet. Workloads are added during a run (a training
    /// stream's jobs); services and pools are known from the start.
    pub(crate) fn names_from(&self, services: usize, pools: usize, workloads: usize) -> Records {
        Records {
            services: self.records.services.get(services..).unwrap_or_default().to_vec(),
            pools: self.records.pools.get(pools..).unwrap_or_default().to_vec(),
            workloads: self
                .workloads
                .get(workloads..)
                .unwrap_or_default()
                .iter()
                .map(|w| (w.name.clone(), w.team.clone(), w.namespace.clone()))
                .collect(),
            ..Records::default()
        }
    }

    pub(super) fn on_sample(&mut self, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        self.sample(now);
        if now + self.sample_interval < self.horizon {
            ctx.schedule_in(self.sample_interval, Event::Sample);
        }
    }

    /// Appends one row per pool and per service to the time series.
    pub(super) fn sample(&mut self, now: SimTime) {
        for (i, pool) in self.pools.iter().enumerate() {
            let (mut ready, mut prov, mut failed, mut gpus, mut alloc) = (0, 0, 0, 0, 0);
            for &n in &pool.nodes {
                let node = &self.nodes[n.index()];
                match node.state {
                    NodeState::Ready | NodeState::Draining => ready += 1,
                    NodeState::Provisioning => prov += 1,
                    NodeState::Failed => failed += 1,
                    NodeState::Terminated => {}
                }
                gpus += node.gpus;
                alloc += node.allocated();
            }
            if let Some(busy) = self.recorded_busy(i, now) {
                alloc = busy.min(gpus);
            }
            self.records.pool_series.push(PoolSample {
                time: now,
                pool: i as u32,
                nodes_ready: ready,
                nodes_provisioning: prov,
                nodes_failed: failed,
                gpus,
                gpus_allocated: alloc,
                price_per_node_hour: pool.price.current(),
                stocked_out: pool.stocked_out,
            });
        }
        for (i, svc) in self.services.iter_mut().enumerate() {
            let (mut ready, mut starting, mut pending, mut in_flight) = (0, 0, 0, svc.queue.len() as u32);
            for &r in &svc.replicas {
                let rep = &self.replicas[r.index()];
                in_flight += rep.load();
                match rep.state {
                    ReplicaState::Ready => ready += 1,
                    ReplicaState::Starting => starting += 1,
                    ReplicaState::Pending => pending += 1,
                    _ => {}
                }
            }
            let iv = std::mem::take(&mut svc.interval);
            self.records.service_series.push(ServiceSample {
                time: now,
                service: i as u32,
                desired: svc.desired,
                ready,
                starting,
                pending,
                queued: svc.queue.len() as u32,
                in_flight,
                arrived: iv.arrived,
                finished: iv.finished,
                slo_met: iv.slo_met,
                dropped: iv.dropped,
            });
        }
    }

    pub(super) fn on_ledger_close(&mut self, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        self.settle_all(now);
        self.ledger.close_period(now);
        let next = now + self.ledger.period();
        if next < self.horizon {
            ctx.schedule_at(next, Event::LedgerClose);
        }
    }

    fn settle_all(&mut self, now: SimTime) {
        for s in 0..self.services.len() {
            for i in 0..self.services[s].replicas.len() {
                let r = self.services[s].replicas[i];
                self.flush_energy(r);
            }
        }
        for p in 0..self.pools.len() {
            if self.pools[p].recorded.is_some() {
                self.settle_recorded_pool(p, now);
            }
        }
        for pool in self.pools.iter_mut().filter(|p| p.recorded.is_none()) {
            for i in 0..pool.nodes.len() {
                let n = pool.nodes[i];
                self.ledger.settle_node(&mut self.nodes[n.index()], pool, now);
            }
        }
    }

    /// Ends the run at the horizon: books everything up to it, records what
    /// is still in flight, and builds the summary.
    pub fn finish(mut self, events: u64) -> RunOutput {
        let end = self.horizon;
        self.settle_all(end);
        for j in 0..self.jobs.len() {
            // Books the last segment's energy and progress; the job stays as it is.
            self.account_job(crate::ids::JobId(j as u32), end);
        }
        self.ledger.close_period(end);
        let mut in_flight = vec![0u64; self.services.len()];
        let mut ids = Vec::new();
        for svc in &self.services {
            ids.extend(svc.queue.iter().copied());
            for &r in &svc.replicas {
                let rep = &self.replicas[r.index()];
                ids.extend(rep.inbox.iter().copied());
                ids.extend(rep.joining.iter().copied());
                ids.extend(rep.running.iter().map(|x| (x.0).1));
            }
        }
        ids.sort_by_key(|&id| self.requests[id].seq);
        for id in ids {
            in_flight[self.requests[id].service.index()] += 1;
            self.record_request(id, Outcome::InFlight, None);
        }
        let summary = self.summarise(events, &in_flight);
        let mut records = std::mem::take(&mut self.records);
        records.workloads = self.workloads.iter().map(|w| (w.name.clone(), w.team.clone(), w.namespace.clone())).collect();
        records.jobs = self.job_records(end);
        records.ledger = self.ledger.take_rows();
        RunOutput { summary, records, ledger: self.ledger }
    }

    fn job_records(&self, end: SimTime) -> Vec<JobRecord> {
        self.jobs
            .iter()
            .map(|job| {
                let cost = self.ledger.owner_total(Some(job.workload)).total().to_currency();
                let queued_ns =
                    job.queued_ns + if job.state == JobState::Queued { end.saturating_since(job.queued_since).as_nanos() } else { 0 };
                let pool = job.last_pool.map(|p| self.pools[p.index()].name.clone());
                JobRecord {
                    name: job.name.clone(),
                    team: self.workloads[job.workload.index()].team.clone(),
                    gpus: job.gpus,
                    submit_s: job.submit.as_secs_f64(),
                    start_s: job.first_start.map(SimTime::as_secs_f64),
                    finish_s: job.finished.map(SimTime::as_secs_f64),
                    state: job.state.as_str(),
                    preemptions: job.preemptions,
                    work_gpu_hours: job.work / 3_600.0,
                    done_gpu_hours: job.progress / 3_600.0,
                    lost_gpu_hours: job.lost_work / 3_600.0,
                    queued_hours: queued_ns as f64 / 3.6e12,
                    cost,
                    pool,
                }
            })
            .collect()
    }

    fn summarise(&self, events: u64, in_flight: &[u64]) -> Summary {
        let total = self.ledger.total();
        let idle = self.ledger.owner_total(None);
        let mut cost = CostSummary {
            total: total.total().to_currency(),
            compute: total.compute.to_currency(),
            energy: total.energy_cost.to_currency(),
            idle: idle.total().to_currency(),
            at_list_price: total.list.to_currency(),
            savings_vs_on_demand: (total.list.to_currency() - total.total().to_currency()),
            ..CostSummary::default()
        };
        for pool in &self.pools {
            let t = self.ledger.pool_total(pool.id);
            *cost.by_capacity_type.entry(pool.capacity.as_str().to_string()).or_default() += t.total().to_currency();
            cost.by_pool.insert(pool.name.clone(), t.total().to_currency());
            if pool.capacity == crate::scenario::spec::CapacityType::Spot {
                cost.spot_savings += t.list.to_currency() - t.total().to_currency();
            }
        }
        for (w, wl) in self.workloads.iter().enumerate() {
            let c = self.ledger.owner_total(Some(WorkloadId(w as u32))).total().to_currency();
            *cost.by_team.entry(wl.team.clone()).or_default() += c;
            *cost.by_workload.entry(wl.name.clone()).or_default() += c;
        }
        cost.by_team.insert("(idle)".into(), cost.idle);
        cost.by_workload.insert("(idle)".into(), cost.idle);

        let services = self
            .services
            .iter()
            .map(|svc| {
                let st = &svc.stats;
                let c = self.ledger.owner_total(Some(svc.workload)).total().to_currency();
                let dropped_total: u64 = st.dropped.iter().sum();
                let ended = st.finished + dropped_total;
                let attainment = if ended == 0 { 1.0 } else { st.slo_met as f64 / ended as f64 };
                let tokens = (st.prompt_tokens + st.output_tokens) as f64;
                ServiceSummary {
                    name: svc.name.clone(),
                    team: self.workloads[svc.workload.index()].team.clone(),
                    arrived: st.arrived,
                    finished: st.finished,
                    dropped: DropReason::ALL.iter().zip(st.dropped).map(|(r, n)| (r.as_str().to_string(), n)).collect(),
                    in_flight: in_flight[svc.id.index()],
                    retries: st.retries,
                    slo_attainment: attainment,
                    slo_target: svc.slo_target,
                    slo_met: attainment >= svc.slo_target,
                    ttft_ms: latency(&st.ttft),
                    e2e_ms: latency(&st.e2e),
                    queue_wait_ms: latency(&st.queue_wait),
                    prompt_tokens: st.prompt_tokens,
                    output_tokens: st.output_tokens,
                    wasted_tokens: st.wasted_tokens,
                    cost: c,
                    cost_per_1m_tokens: if tokens > 0.0 { c / tokens * 1e6 } else { 0.0 },
                    cost_per_1m_output_tokens: if st.output_tokens > 0 { c / st.output_tokens as f64 * 1e6 } else { 0.0 },
                    peak_replicas: st.peak_replicas,
                    load: svc.has_load,
                    replicas_started: st.replicas_started,
                    replicas_lost: st.replicas_lost,
                    scale_ups: st.scale_events.0,
                    scale_downs: st.scale_events.1,
                }
            })
            .collect();

        let pools = self
            .pools
            .iter()
            .map(|pool| {
                let t = self.ledger.pool_total(pool.id);
                let gpu_hours = pool.stats.gpu_ns as f64 / 3.6e12;
                let node_hours = gpu_hours / f64::from(pool.gpus_per_node.max(1));
                PoolSummary {
                    name: pool.name.clone(),
                    capacity: pool.capacity.as_str().into(),
                    node_type: pool.node_type.name.clone(),
                    accelerator: pool.accelerator.name.clone(),
                    region: pool.region.clone(),
                    nodes_launched: pool.stats.nodes_launched,
                    peak_nodes: pool.stats.peak_nodes,
                    gpu_hours,
                    allocated_gpu_hours: pool.stats.allocated_gpu_ns as f64 / 3.6e12,
                    busy_gpu_hours: pool.stats.busy_gpu_secs / 3_600.0,
                    allocation: ratio(pool.stats.allocated_gpu_ns as f64, pool.stats.gpu_ns as f64),
                    utilisation: ratio(pool.stats.busy_gpu_secs * 1e9, pool.stats.gpu_ns as f64),
                    cost: t.total().to_currency(),
                    idle_cost: self.ledger.account(None, PoolId(pool.id.0)).total().to_currency(),
                    list_cost: t.list.to_currency(),
                    mean_price_per_node_hour: ratio(t.compute.to_currency(), node_hours),
                    energy_kwh: t.energy_kwh(),
                    notices: pool.stats.notices,
                    reclaims: pool.stats.reclaims,
                    failures: pool.stats.failures,
                    stockouts: pool.stats.stockouts,
                    refused_launches: pool.stats.refused_launches,
                    interruptions_per_node_hour: pool.interruptions.map_or(0.0, |i| i.rate_per_hour),
                }
            })
            .collect();

        let end = self.horizon;
        let mut jobs = JobsSummary::default();
        let (mut completion_h, mut queued_h, mut finished_cost) = (0.0, 0.0, 0.0);
        for job in &self.jobs {
            let c = self.ledger.owner_total(Some(job.workload)).total().to_currency();
            jobs.cost += c;
            match job.state {
                JobState::Future => jobs.not_submitted += 1,
                JobState::Rejected => jobs.rejected += 1,
                JobState::Queued => jobs.queued += 1,
                JobState::Running | JobState::Checkpointing => jobs.running += 1,
                JobState::Finished => {
                    jobs.finished += 1;
                    finished_cost += c;
                    completion_h += job.finished.unwrap_or(end).saturating_since(job.submit).as_hours_f64();
                }
            }
            if job.state != JobState::Future {
                jobs.submitted += 1;
                let q = job.queued_ns + if job.state == JobState::Queued { end.saturating_since(job.queued_since).as_nanos() } else { 0 };
                queued_h += q as f64 / 3.6e12;
            }
            jobs.preemptions += u64::from(job.preemptions);
            jobs.done_gpu_hours += job.progress / 3_600.0;
            jobs.lost_gpu_hours += job.lost_work / 3_600.0;
        }
        jobs.mean_completion_hours = ratio(completion_h, jobs.finished as f64);
        jobs.mean_queued_hours = ratio(queued_h, jobs.submitted as f64);
        jobs.cost_per_finished_job = ratio(finished_cost, jobs.finished as f64);

        let interruptions = InterruptionSummary {
            notices: self.pools.iter().map(|p| p.stats.notices).sum(),
            reclaims: self.pools.iter().map(|p| p.stats.reclaims).sum(),
            failures: self.pools.iter().map(|p| p.stats.failures).sum(),
            replicas_lost: self.services.iter().map(|s| s.stats.replicas_lost).sum(),
            requests_retried: self.services.iter().map(|s| s.stats.retries).sum(),
            jobs_preempted: jobs.preemptions,
            lost_gpu_hours: jobs.lost_gpu_hours,
        };

        Summary {
            scenario: self.scenario_name.clone(),
            origin: self.origin.clone(),
            scenario_sha256: self.sha256.clone(),
            seed: self.seed,
            horizon_s: self.horizon.as_secs_f64(),
            events,
            placement: self.placement.name(),
            currency: self.currency.clone(),
            cost,
            energy_kwh: total.energy_kwh(),
            services,
            pools,
            jobs,
            interruptions,
            recorded: self.recorded_summaries(),
            scheduling: SchedulingSummary {
                policy: self.policy.as_ref().map(|p| p.name()),
                preemptions: self.stats_preemptions,
                denials: self
                    .denials
                    .iter()
                    .map(|((point, rule), d)| PolicyDenial {
                        point: point.to_string(),
                        rule: rule.clone(),
                        message: d.message.clone(),
                        first_subject: d.first_subject.clone(),
                        count: d.count,
                    })
                    .collect(),
            },
        }
    }
}

fn latency(h: &LatencyHistogram) -> LatencySummary {
    LatencySummary {
        mean: h.mean_secs() * 1e3,
        p50: h.quantile_secs(0.50) * 1e3,
        p95: h.quantile_secs(0.95) * 1e3,
        p99: h.quantile_secs(0.99) * 1e3,
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}
