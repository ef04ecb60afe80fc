//! Building a fabric from a checked scenario, and its first events.

use super::{Event, Fabric, JobStream, RunOptions, Workload, WorkloadKind};
use crate::engine::Context;
use crate::fleet::units_per_gpu_hour;
use crate::fleet::{Owner, Pool, PoolStats, RecordedPool, UsageOptions, UsageReplay};
use crate::ids::{JobId, PoolId, ServiceId, WorkloadId};
use crate::ledger::Ledger;
use crate::market::{Interruptions, PriceProcess, sample_exponential_hours};
use crate::metrics::{PoolInfo, Records};
use crate::placement::{FrameworkPlacement, Placement, SpotFirstBinPack, WorkloadTraits};
use crate::rng::RngStreams;
use crate::scenario::Scenario;
use crate::scenario::spec::{ArrivalSpec, InterruptionSpec, PriceSpec};
use crate::scenario::spec::{CapacityType, JobTraceSpec, ProfileChoice, SchedulerSpec, ServiceTimeSpec, TrainingSpec};
use crate::time::{SimDuration, SimTime};
use crate::workload::{ArrivalProcess, Autoscaler, Job, JobState, Requests, Router, Service, StepModel, TimeModel, TokenDist};
use std::collections::{BTreeMap, VecDeque};
use twin_scheduler::Profile;

/// A checked scenario that still cannot be built: a name that does not
/// resolve. [`Scenario::from_toml`] rejects these first, so this is only seen
/// with scenarios assembled in code past the checks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A scheduler profile that does not exist or does not build.
    #[error("scheduler profile: {0}")]
    Profile(#[from] twin_scheduler::ProfileError),
    /// An external scheduler: a process the model does not start (it does no I/O).
    #[error(
        "this scenario places work with an external scheduler (`{0}`), a process the model does not start: start it and pass a `Placement` that speaks to it to `Run::with_placement`"
    )]
    NeedsExternal(String),
    /// A pod-trace experiment, which is not a simulation of the fleet.
    #[error(
        "this scenario is a pod-trace experiment, not a simulation: read its trace and fill its nodes with `twin_scheduler::experiment::fill`"
    )]
    PodTrace,
    /// A service replays a request trace that was not attached to the scenario.
    #[error(
        "service `{service}` replays the request trace `{file}`, which was not attached: read it and attach it with `Scenario::attach_trace`"
    )]
    TraceNotLoaded {
        /// The service.
        service: String,
        /// The trace file as the scenario names it.
        file: String,
    },
    /// A pool replays a telemetry recording that was not attached to the scenario.
    #[error(
        "pool `{pool}` replays the telemetry recording `{file}`, which was not attached: read it and attach it with `Scenario::attach_recording`"
    )]
    RecordingNotLoaded {
        /// The pool.
        pool: String,
        /// The recording as the scenario names it.
        file: String,
    },
    /// A pool's price history was not attached to the scenario.
    #[error(
        "pool `{pool}` replays the price history `{file}`, which was not attached: read it and attach the table it replays as with `Scenario::attach_price_history`"
    )]
    PriceHistoryNotLoaded {
        /// The pool.
        pool: String,
        /// The file as the scenario names it.
        file: String,
    },
    /// A pool's Spot Advisor band was not looked up.
    #[error(
        "pool `{pool}` takes its interruption band from Spot Advisor data, which was not attached: look the band up and attach it with `Scenario::attach_advisor_band`"
    )]
    AdvisorNotLoaded {
        /// The pool.
        pool: String,
    },
    /// A job trace was not attached to the scenario.
    #[error("job trace `{name}` replays `{file}`, which was not attached: read its jobs and attach them with `Scenario::attach_job_trace`")]
    JobTraceNotLoaded {
        /// The trace's name in the scenario.
        name: String,
        /// The file as the scenario names it.
        file: String,
    },
    /// A recording with more GPUs than its pool has accelerators.
    #[error(
        "pool `{pool}` has {capacity} accelerators ({nodes} nodes of {per_node}), but its recording `{file}` has {gpus} GPUs: set `nodes = {needed}`"
    )]
    RecordingTooLarge {
        /// The pool.
        pool: String,
        /// The recording.
        file: String,
        /// GPUs in the recording.
        gpus: usize,
        /// Accelerators in the pool.
        capacity: u32,
        /// Nodes in the pool.
        nodes: u32,
        /// Accelerators per node.
        per_node: u32,
        /// Nodes that would hold the recording.
        needed: u32,
    },
    /// A reference to something the catalogue or the fleet does not have.
    #[error("{what} `{name}` does not exist")]
    Unresolved {
        /// What kind of thing (`pool`, `node type`, ...).
        what: &'static str,
        /// Its name.
        name: String,
    },
}

fn unresolved(what: &'static str, name: &str) -> BuildError {
    BuildError::Unresolved { what, name: name.to_string() }
}

impl Fabric {
    /// Builds the fabric of `scenario` for the run seeded with `seed`, with
    /// the scheduler the scenario names.
    pub fn new(scenario: &Scenario, seed: u64, options: RunOptions) -> Result<Fabric, BuildError> {
        let placement = placement_for(&scenario.spec.scheduler)?;
        Self::with_placement(scenario, seed, options, placement)
    }

    /// Puts policy-as-code at the decision points; call before the run starts.
    pub fn set_policy(&mut self, hook: Box<dyn crate::policy::PolicyHook + Send>) {
        self.policy = Some(hook);
    }

    /// As [`Fabric::new`], with another placement policy.
    pub fn with_placement(
        scenario: &Scenario,
        seed: u64,
        options: RunOptions,
        placement: Box<dyn Placement + Send>,
    ) -> Result<Fabric, BuildError> {
        let spec = &scenario.spec;
        if spec.pod_trace.is_some() {
            return Err(BuildError::PodTrace);
        }
        let cat = &scenario.catalogue;
        let rngs = RngStreams::new(seed);
        let mut pools = Vec::with_capacity(spec.pools.len());
        for (i, p) in spec.pools.iter().enumerate() {
            let nt = cat.node_type(&p.node_type).map(|n| cat.node_types[n].clone()).ok_or_else(|| unresolved("node type", &p.node_type))?;
            let accel = cat
                .accelerator(&nt.accelerator)
                .map(|a| cat.accelerators[a].clone())
                .ok_or_else(|| unresolved("accelerator", &nt.accelerator))?;
            let price = match (&p.price, &p.capex) {
                (Some(PriceSpec::History(h)), _) => {
                    let table = scenario
                        .price_histories
                        .get(&p.name)
                        .ok_or_else(|| BuildError::PriceHistoryNotLoaded { pool: p.name.clone(), file: h.file.clone() })?;
                    PriceProcess::new(&PriceSpec::Table(table.clone()), rngs.stream(&format!("pool/{}/price", p.name)))
                }
                (Some(ps), _) => PriceProcess::new(ps, rngs.stream(&format!("pool/{}/price", p.name))),
                (None, Some(c)) => PriceProcess::fixed(c.price_per_node_hour()),
                (None, None) => PriceProcess::fixed(nt.list_price_per_hour),
            };
            let gpus = nt.accelerators_per_node;
            let list = p.list_price_per_hour.unwrap_or(nt.list_price_per_hour);
            let mut pool = Pool {
                id: PoolId(i as u32),
                name: p.name.clone(),
                region: p.region.clone(),
                zone: p.zone.clone(),
                capacity: p.capacity,
                gpus_per_node: gpus,
                price,
                price_units: 0,
                list_units: units_per_gpu_hour(list, gpus),
                min_nodes: p.min_node_count(),
                initial_nodes: p.initial_node_count(),
                max_nodes: p.max_node_count(),
                provisioning: if p.capacity.is_committed() { SimDuration::ZERO } else { p.provisioning() },
                scale_down: p.scale_down(),
                interruptions: match &p.interruption {
                    Some(i) if i.advisor.is_some() => {
                        let band =
                            scenario.advisor_bands.get(&p.name).ok_or_else(|| BuildError::AdvisorNotLoaded { pool: p.name.clone() })?;
                        Some(Interruptions::from_spec(&InterruptionSpec { band: Some(band.clone()), advisor: None, ..i.clone() }))
                    }
                    Some(i) => Some(Interruptions::from_spec(i)),
                    None => None,
                },
                stockouts: p.stockouts.as_ref().map(|s| (s.mean_available.get(), s.mean_duration.get())),
                stocked_out: false,
                failures: p.failures.as_ref().map(|f| (f.mtbf.get(), f.repair.get())),
                energy_price_per_kwh: p.energy_price_per_kwh.unwrap_or(spec.billing.energy_price_per_kwh),
                pue: p.pue.unwrap_or(spec.billing.pue),
                bills_energy: p.capacity == CapacityType::OnPrem,
                labels: p.labels.clone(),
                taints: p.taints.clone(),
                nodes: Vec::new(),
                rng_interrupt: rngs.stream(&format!("pool/{}/interruptions", p.name)),
                rng_failure: rngs.stream(&format!("pool/{}/failures", p.name)),
                rng_stockout: rngs.stream(&format!("pool/{}/stockouts", p.name)),
                stats: PoolStats::default(),
                recorded: None,
                node_type: nt,
                accelerator: accel,
            };
            pool.refresh_price();
            pools.push(pool);
        }
        let pool_id =
            |name: &str| pools.iter().position(|p| p.name == name).map(|i| PoolId(i as u32)).ok_or_else(|| unresolved("pool", name));

        let mut workloads = Vec::new();
        let mut services = Vec::with_capacity(spec.services.len());
        for (i, s) in spec.services.iter().enumerate() {
            let ids: Vec<PoolId> = s.pools.iter().map(|n| pool_id(n)).collect::<Result<_, _>>()?;
            let model = match &s.model {
                Some(name) => Some(cat.model(name).map(|m| cat.models[m].clone()).ok_or_else(|| unresolved("model", name))?),
                None => None,
            };
            let mut step_models = vec![None; pools.len()];
            if let (Some(model), ServiceTimeSpec::Roofline) = (&model, &s.service_time) {
                for &p in &ids {
                    step_models[p.index()] = Some(StepModel::new(model, &pools[p.index()].accelerator, s.gpus_per_replica, &s.calibration));
                }
            }
            let workload = WorkloadId(workloads.len() as u32);
            let namespace = s.namespace.clone().unwrap_or_else(|| s.team.clone());
            let traits = WorkloadTraits {
                name: s.name.clone(),
                namespace: namespace.clone(),
                priority: s.scheduling.priority,
                // Requests of a lost replica are retried: nothing is lost but time.
                checkpointed: true,
                node_selector: s.scheduling.node_selector.clone(),
                tolerations: s.scheduling.tolerations.clone(),
                cpu_milli_per_gpu: s.scheduling.cpu_milli_per_gpu,
                memory_mib_per_gpu: s.scheduling.memory_mib_per_gpu,
            };
            workloads.push(Workload {
                name: s.name.clone(),
                team: s.team.clone(),
                namespace,
                traits,
                kind: WorkloadKind::Service(ServiceId(i as u32)),
                image: s.image.clone(),
                labels: s.labels.clone(),
            });
            let cold = s.cold_start_for(model.as_ref());
            let slo = s.slo_or_none();
            services.push(Service {
                id: ServiceId(i as u32),
                workload,
                name: s.name.clone(),
                model: model.as_ref().map_or_else(String::new, |m| m.name.clone()),
                has_load: s.has_load(),
                admitted: true,
                pools: ids,
                step_models,
                gpus_per_replica: s.gpus_per_replica,
                max_batch: s.max_batch,
                max_batch_tokens: s.max_batch_tokens,
                max_queue: s.max_queue,
                queue_timeout: s.queue_timeout.map(|d| d.get()),
                cold_start: cold,
                time_model: match &s.service_time {
                    // Without a model there is no roofline; nor any request to time.
                    ServiceTimeSpec::Roofline if model.is_none() => TimeModel::Fixed(SimDuration::ZERO),
                    ServiceTimeSpec::Roofline => TimeModel::Roofline,
                    ServiceTimeSpec::Exponential { mean } => TimeModel::Exponential(mean.get().as_secs_f64()),
                    ServiceTimeSpec::Fixed { duration } => TimeModel::Fixed(duration.get()),
                },
                slo_ttft: slo.ttft.get(),
                slo_e2e: slo.e2e.get(),
                slo_target: slo.target,
                arrivals: match &s.arrivals {
                    ArrivalSpec::Trace(t) => {
                        let trace = scenario
                            .traces
                            .get(&t.file)
                            .ok_or_else(|| BuildError::TraceNotLoaded { service: s.name.clone(), file: t.file.clone() })?;
                        ArrivalProcess::from_trace(trace.clone(), t.speed, t.repeat)
                    }
                    other => ArrivalProcess::new(other),
                },
                prompt: s.prompt_tokens.as_ref().map(TokenDist::new),
                output: s.output_tokens.as_ref().map(TokenDist::new),
                rng_arrivals: rngs.stream(&format!("service/{}/arrivals", s.name)),
                rng_tokens: rngs.stream(&format!("service/{}/tokens", s.name)),
                rng_service: rngs.stream(&format!("service/{}/service-times", s.name)),
                queue: VecDeque::new(),
                replicas: Vec::new(),
                routable: Router::default(),
                desired: s.replicas,
                autoscaler: s.autoscaler.as_ref().map(Autoscaler::new),
                busy_ns: 0,
                stats: Default::default(),
                interval: Default::default(),
            });
        }

        let mut fabric = Fabric {
            scenario_name: spec.name.clone(),
            origin: scenario.origin.clone(),
            sha256: scenario.sha256.clone(),
            seed,
            currency: spec.billing.currency.clone(),
            horizon: SimTime(spec.horizon.get().as_nanos()),
            sample_interval: spec.sample_interval.get(),
            minimum_charge: spec.billing.minimum_charge.get(),
            options,
            ledger: Ledger::new(pools.len(), spec.billing.ledger_period.get(), options.record_ledger),
            records: Records {
                pools: pools
                    .iter()
                    .map(|p| PoolInfo {
                        name: p.name.clone(),
                        capacity: p.capacity.as_str().into(),
                        pricing_category: p.capacity.focus_pricing_category().into(),
                        node_type: p.node_type.name.clone(),
                        accelerator: p.accelerator.name.clone(),
                        region: p.region.clone(),
                        zone: p.zone.clone(),
                    })
                    .collect(),
                services: services.iter().map(|s| s.name.clone()).collect(),
                ..Records::default()
            },
            pools,
            nodes: Vec::new(),
            services,
            replicas: Vec::new(),
            requests: Requests::default(),
            jobs: Vec::new(),
            streams: Vec::new(),
            workloads,
            pending: VecDeque::new(),
            placement,
            next_request_seq: 0,
            starting: false,
            fatal: None,
            last_wait: Default::default(),
            stats_preemptions: 0,
            policy: None,
            denials: Default::default(),
            placement_verdicts: Default::default(),
        };
        fabric.attach_recordings(scenario)?;
        for t in &spec.training {
            let pools = t.pools.iter().map(|n| fabric.pool_id(n)).collect::<Result<Vec<_>, _>>()?;
            fabric.add_job(t, pools);
        }
        for jt in &spec.job_traces {
            let pools = jt.pools.iter().map(|n| fabric.pool_id(n)).collect::<Result<Vec<_>, _>>()?;
            let jobs = scenario
                .job_traces
                .get(&jt.name)
                .ok_or_else(|| BuildError::JobTraceNotLoaded { name: jt.name.clone(), file: jt.file.clone() })?
                .clone();
            fabric.add_trace_jobs(jt, &jobs, pools);
        }
        for s in &spec.training_streams {
            let pools = s.pools.iter().map(|n| fabric.pool_id(n)).collect::<Result<Vec<_>, _>>()?;
            fabric.streams.push(JobStream {
                spec: s.clone(),
                pools,
                start: SimTime(s.start.get().as_nanos()),
                stop: s.stop.map_or(fabric.horizon, |d| SimTime(d.get().as_nanos())).min(fabric.horizon),
                max_jobs: s.max_jobs.unwrap_or(u32::MAX),
                made: 0,
                rng: rngs.stream(&format!("training-stream/{}", s.name)),
            });
        }
        Ok(fabric)
    }

    /// Lays each pool's recording over the run and makes its owner a workload.
    fn attach_recordings(&mut self, scenario: &Scenario) -> Result<(), BuildError> {
        for (i, p) in scenario.spec.pools.iter().enumerate() {
            let Some(t) = &p.telemetry else { continue };
            let usage = scenario
                .recordings
                .get(&t.file)
                .ok_or_else(|| BuildError::RecordingNotLoaded { pool: p.name.clone(), file: t.file.clone() })?;
            let pool = &self.pools[i];
            let capacity = pool.initial_nodes * pool.gpus_per_node;
            if usage.gpu_count() > capacity as usize {
                let per_node = pool.gpus_per_node.max(1);
                return Err(BuildError::RecordingTooLarge {
                    pool: p.name.clone(),
                    file: t.file.clone(),
                    gpus: usage.gpu_count(),
                    capacity,
                    nodes: pool.initial_nodes,
                    per_node,
                    needed: (usage.gpu_count() as u32).div_ceil(per_node),
                });
            }
            let opts = UsageOptions {
                speed: t.speed,
                repeat: t.repeat,
                idle_below_pct: t.idle_below_pct as f32,
                idle_after_ns: t.idle_after.get().as_nanos(),
                max_gap_ns: 0,
                idle_watts: pool.accelerator.idle_watts,
            };
            let replay = UsageReplay::compute(usage, &opts, self.horizon, self.ledger.period().as_nanos(), self.sample_interval.as_nanos());
            let owner = WorkloadId(self.workloads.len() as u32);
            let name = if t.owner.is_empty() { format!("recorded/{}", p.name) } else { t.owner.clone() };
            self.workloads.push(Workload {
                name: name.clone(),
                team: t.team.clone(),
                namespace: t.team.clone(),
                traits: WorkloadTraits {
                    name,
                    namespace: t.team.clone(),
                    priority: 0,
                    checkpointed: true,
                    node_selector: BTreeMap::new(),
                    tolerations: Vec::new(),
                    cpu_milli_per_gpu: 0,
                    memory_mib_per_gpu: 0,
                },
                kind: WorkloadKind::Recorded(PoolId(i as u32)),
                image: String::new(),
                labels: BTreeMap::new(),
            });
            self.pools[i].recorded = Some(Box::new(RecordedPool { replay, owner, spec: t.clone() }));
        }
        Ok(())
    }

    /// Adds the jobs of a trace submitted within the horizon, in submission order.
    fn add_trace_jobs(&mut self, jt: &JobTraceSpec, jobs: &[crate::workload::TraceJob], pools: Vec<PoolId>) {
        let skip = jt.skip.get().as_nanos();
        let mut order: Vec<&crate::workload::TraceJob> = jobs.iter().filter(|j| j.submit_ns >= skip && j.duration_ns > 0).collect();
        order.sort_by_key(|j| j.submit_ns);
        let limit = jt.max_jobs.map_or(usize::MAX, |m| m as usize);
        for j in order.into_iter().take(limit) {
            let submit = ((j.submit_ns - skip) as f64 / jt.speed).round() as u64;
            if submit >= self.horizon.as_nanos() {
                break;
            }
            let t = TrainingSpec {
                name: format!("{}/{}", jt.name, j.name),
                team: jt.team.clone(),
                namespace: jt.namespace.clone(),
                scheduling: jt.scheduling.clone(),
                image: jt.image.clone(),
                labels: jt.labels.clone(),
                pools: Vec::new(),
                gpus: j.gpus.max(1),
                work_gpu_hours: f64::from(j.gpus.max(1)) * j.duration_ns as f64 / 3.6e12 * jt.work_per_gpu_hour,
                submit_at: crate::scenario::Dur(SimDuration(submit)),
                checkpoint_interval: jt.checkpoint_interval,
                checkpoint_cost: jt.checkpoint_cost,
                checkpoint_on_notice: jt.checkpoint_on_notice,
                checkpoints: jt.checkpoints,
                speed: BTreeMap::new(),
            };
            self.add_job(&t, pools.clone());
        }
    }

    fn pool_id(&self, name: &str) -> Result<PoolId, BuildError> {
        self.pools.iter().position(|p| p.name == name).map(|i| PoolId(i as u32)).ok_or_else(|| unresolved("pool", name))
    }

    fn add_job(&mut self, t: &TrainingSpec, pools: Vec<PoolId>) -> JobId {
        let workload = WorkloadId(self.workloads.len() as u32);
        let namespace = t.namespace.clone().unwrap_or_else(|| t.team.clone());
        let traits = WorkloadTraits {
            name: t.name.clone(),
            namespace: namespace.clone(),
            priority: t.scheduling.priority,
            checkpointed: t.checkpoints,
            node_selector: t.scheduling.node_selector.clone(),
            tolerations: t.scheduling.tolerations.clone(),
            cpu_milli_per_gpu: t.scheduling.cpu_milli_per_gpu,
            memory_mib_per_gpu: t.scheduling.memory_mib_per_gpu,
        };
        self.workloads.push(Workload {
            name: t.name.clone(),
            team: t.team.clone(),
            namespace,
            traits,
            kind: WorkloadKind::Job(JobId(self.jobs.len() as u32)),
            image: t.image.clone(),
            labels: t.labels.clone(),
        });
        let id = JobId(self.jobs.len() as u32);
        let submit = SimTime(t.submit_at.get().as_nanos());
        self.jobs.push(Job {
            id,
            workload,
            name: t.name.clone(),
            pools,
            gpus: t.gpus,
            work: t.work_gpu_hours * 3_600.0,
            checkpoint_interval: t.checkpoint_interval.get(),
            checkpoint_cost: t.checkpoint_cost.get(),
            checkpoint_on_notice: t.checkpoint_on_notice,
            checkpoints: t.checkpoints,
            speed: t.speed.clone(),
            submit,
            state: JobState::Future,
            saved: 0.0,
            progress: 0.0,
            segment_start: submit,
            rate: 0.0,
            placement: Vec::new(),
            last_pool: None,
            release_after_checkpoint: false,
            timer: None,
            first_start: None,
            finished: None,
            preemptions: 0,
            lost_work: 0.0,
            queued_ns: 0,
            queued_since: submit,
            activity: 0.9,
        });
        id
    }

    /// Adds a generated job (from a stream) and returns it.
    pub(super) fn add_stream_job(&mut self, stream: usize, gpus: u32, work_gpu_hours: f64, now: SimTime) -> JobId {
        let s = &self.streams[stream];
        let spec = TrainingSpec {
            name: format!("{}-{}", s.spec.name, s.made),
            team: s.spec.team.clone(),
            namespace: Some(s.spec.namespace.clone().unwrap_or_else(|| s.spec.team.clone())),
            scheduling: s.spec.scheduling.clone(),
            image: s.spec.image.clone(),
            labels: s.spec.labels.clone(),
            pools: Vec::new(),
            gpus,
            work_gpu_hours,
            submit_at: crate::scenario::Dur(SimDuration(now.as_nanos())),
            checkpoint_interval: s.spec.checkpoint_interval,
            checkpoint_cost: s.spec.checkpoint_cost,
            checkpoint_on_notice: s.spec.checkpoint_on_notice,
            checkpoints: s.spec.checkpoints,
            speed: s.spec.speed.clone(),
        };
        let pools = s.pools.clone();
        self.add_job(&spec, pools)
    }

    /// Schedules the first events and brings up the initial fleet and replicas.
    pub fn start(&mut self, ctx: &mut Context<'_, Event>) {
        self.starting = true;
        for p in 0..self.pools.len() {
            let id = PoolId(p as u32);
            for _ in 0..self.pools[p].initial_nodes {
                self.launch_node(id, ctx);
            }
            if let Some(t) = self.pools[p].price.next_change(SimTime::ZERO) {
                ctx.schedule_at(t, Event::PriceChange(id));
            }
            if let Some((avail, _)) = self.pools[p].stockouts {
                let rng = &mut self.pools[p].rng_stockout;
                if let Some(d) = sample_exponential_hours(1.0 / avail.as_hours_f64(), rng) {
                    ctx.schedule_in(d, Event::StockoutStart(id));
                }
            }
        }
        for s in 0..self.services.len() {
            let id = ServiceId(s as u32);
            let svc = &mut self.services[s];
            if let Some(t) = svc.arrivals.next_after(SimTime::ZERO, &mut svc.rng_arrivals)
                && t < self.horizon
            {
                ctx.schedule_at(t, Event::Arrival(id));
            }
            let interval = svc.autoscaler.as_ref().map(|a| a.interval);
            let w = self.services[s].workload;
            if self.admit_workload(w, ctx) {
                if let Some(interval) = interval {
                    ctx.schedule_in(interval, Event::Autoscale(id));
                }
                self.reconcile(id, ctx);
            } else {
                // Rejected: no replica ever runs; its requests are dropped.
                let svc = &mut self.services[s];
                svc.admitted = false;
                svc.desired = 0;
            }
        }
        for j in 0..self.jobs.len() {
            let job = &self.jobs[j];
            if job.submit < self.horizon {
                ctx.schedule_at(job.submit, Event::JobSubmit(JobId(j as u32)));
            }
        }
        for k in 0..self.streams.len() {
            let start = self.streams[k].start;
            self.schedule_stream(k, start, ctx);
        }
        ctx.schedule_in(self.ledger.period(), Event::LedgerClose);
        // Nodes launched for the initial replicas are ready at once; another
        // pass binds the replicas to them. A pass that only launched nodes
        // (every replica needs a node of its own) is progress too. It ends:
        // each pass places work or launches nodes, and pools have a ceiling.
        loop {
            let (before, nodes) = (self.pending.len(), self.nodes.len());
            self.place_pending(ctx);
            let progress = self.pending.len() < before || self.nodes.len() > nodes;
            if self.pending.is_empty() || !progress {
                break;
            }
        }
        self.starting = false;
        if self.options.record_series && !self.sample_interval.is_zero() {
            self.sample(SimTime::ZERO);
            ctx.schedule_in(self.sample_interval, Event::Sample);
        }
    }

    /// Whether replicas placed now start warm (the fleet was serving before the run).
    pub(super) fn is_starting(&self) -> bool {
        self.starting
    }

    /// The speed of `owner`'s work per accelerator in `pool`, relative to H100.
    pub(super) fn speed_of(&self, owner: Owner, pool: PoolId) -> f64 {
        let accel = &self.pools[pool.index()].accelerator;
        match owner {
            // Decode is bound by memory bandwidth.
            Owner::Replica(_) => accel.memory_bandwidth_tbps / 3.35,
            Owner::Job(j) => job_speed(&self.jobs[j.index()].speed, accel),
        }
    }

    /// Time to an event with an exponential wait of `mean`, or `None`.
    pub(super) fn exp_wait(mean: SimDuration, rng: &mut crate::rng::SimRng) -> Option<SimDuration> {
        sample_exponential_hours(1.0 / mean.as_hours_f64().max(1e-12), rng)
    }
}

/// The placement a scenario's `[scheduler]` table asks for: Twin's scheduler
/// with a profile (the `default` profile when the table is absent), or the
/// fixed `spot-first-bin-pack` rule. An external scheduler is started by the
/// binary, not here.
pub fn placement_for(spec: &SchedulerSpec) -> Result<Box<dyn Placement + Send>, BuildError> {
    if let Some(ext) = &spec.external {
        return Err(BuildError::NeedsExternal(ext.command.join(" ")));
    }
    let profile = match &spec.profile {
        None => Profile::builtin("default")?,
        Some(ProfileChoice::Builtin(name)) if name == SPOT_FIRST => return Ok(Box::new(SpotFirstBinPack)),
        Some(ProfileChoice::Builtin(name)) => Profile::builtin(name)?,
        Some(ProfileChoice::Custom(p)) => Profile::from_spec(p)?,
    };
    Ok(Box::new(FrameworkPlacement::new(profile)))
}

/// The name of the fixed placement rule, usable as a profile name.
pub const SPOT_FIRST: &str = "spot-first-bin-pack";

/// A job's speed on an accelerator: its own override, else the catalogue's.
pub(super) fn job_speed(overrides: &BTreeMap<String, f64>, accel: &crate::catalogue::Accelerator) -> f64 {
    overrides
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&accel.name) || accel.aliases.iter().any(|a| a.eq_ignore_ascii_case(k)))
        .map_or(accel.training_speed, |(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_attached_is_named_in_library_terms() {
        let f = || ("t.csv".to_string(), "x".to_string());
        let errors = [
            BuildError::NeedsExternal("python3 s.py".into()),
            BuildError::PodTrace,
            BuildError::TraceNotLoaded { service: f().1, file: f().0 },
            BuildError::RecordingNotLoaded { pool: f().1, file: f().0 },
            BuildError::PriceHistoryNotLoaded { pool: f().1, file: f().0 },
            BuildError::AdvisorNotLoaded { pool: f().1 },
            BuildError::JobTraceNotLoaded { name: f().1, file: f().0 },
        ];
        for e in errors {
            let m = e.to_string();
            assert!(!m.contains("`twin ") && !m.contains("twin run"), "{m}");
            assert!(m.contains("Scenario::attach_") || m.contains("Run::with_placement") || m.contains("experiment::fill"), "{m}");
        }
    }
}
