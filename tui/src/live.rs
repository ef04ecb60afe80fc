//! A live run as the UI holds it: what the worker streams ([`Delta`]s)
//! folded into bounded series, an event log and the decisions its stories
//! are told from.

use crate::series::Series;
use std::collections::VecDeque;
use std::fmt::Write as _;
use twin_sim::Fabric;
use twin_sim::metrics::{DecisionRecord, PoolSample, ServiceSample, Summary};
use twin_sim::time::SimTime;

/// What does not change during a run: names, SLOs, the horizon.
#[derive(Clone, Debug, PartialEq)]
pub struct RunInfo {
    /// The scenario's name.
    pub name: String,
    /// The horizon, seconds.
    pub horizon_s: f64,
    /// Time between samples, ns.
    pub sample_interval_ns: u64,
    /// The scheduler.
    pub placement: String,
    /// Pools: name, capacity type, accelerator.
    pub pools: Vec<(String, String, String)>,
    /// Services: name, TTFT SLO in seconds, attainment target.
    pub services: Vec<(String, f64, f64)>,
}

impl RunInfo {
    /// Read from a fabric that was just built.
    pub fn of(f: &Fabric) -> RunInfo {
        RunInfo {
            name: String::new(),
            horizon_s: f.horizon().as_secs_f64(),
            sample_interval_ns: f.sample_interval().as_nanos(),
            placement: f.placement_name(),
            pools: f.pools().iter().map(|p| (p.name.clone(), p.capacity.as_str().to_string(), p.accelerator.name.clone())).collect(),
            services: f.services().iter().map(|s| (s.name.clone(), s.slo_ttft.as_secs_f64(), s.slo_target)).collect(),
        }
    }
}

/// A pool at the end of a step.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolPoint {
    /// Price per node-hour now.
    pub price: f64,
    /// Out of stock now.
    pub stocked_out: bool,
    /// Busy share of its accelerators since the last point (none when no
    /// accelerator time passed).
    pub busy_share: Option<f64>,
}

/// A service at the end of a step.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicePoint {
    /// P99 time to first token over the last sample interval, seconds
    /// (none until an interval with completions ends).
    pub p99_ttft_s: Option<f64>,
    /// SLO attainment so far.
    pub attainment: f64,
}

/// One step of a live run.
#[derive(Clone, Debug)]
pub struct Delta {
    /// Simulated time reached, seconds.
    pub now_s: f64,
    /// Events handled so far.
    pub events: u64,
    /// Cost booked so far by capacity type (ledger periods closed).
    pub cost_by_capacity: Vec<(String, f64)>,
    /// Pools now, by index.
    pub pools: Vec<PoolPoint>,
    /// Services now, by index.
    pub services: Vec<ServicePoint>,
    /// Pool samples since the last step.
    pub pool_series: Vec<PoolSample>,
    /// Service samples since the last step.
    pub service_series: Vec<ServiceSample>,
    /// Decisions since the last step.
    pub decisions: Vec<DecisionRecord>,
    /// Lines for the event log since the last step.
    pub log: Vec<LogLine>,
}

/// One line of the event log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// When, ns.
    pub time_ns: u64,
    /// `node`, `scale`, `preemption`, `policy`, `pool`, `placement`, `drop`.
    pub kind: &'static str,
    /// What was decided.
    pub outcome: String,
    /// Whom it concerns (what its story is about).
    pub subject: String,
    /// The node concerned.
    pub node: Option<String>,
}

impl LogLine {
    /// Interruptions, scale steps, preemptions, policy verdicts, stock-outs
    /// and placements that did not simply bind.
    pub fn worth_showing(d: &DecisionRecord) -> bool {
        d.kind != "placement" || d.outcome != "bound"
    }

    /// The line of a decision.
    pub fn of(d: &DecisionRecord) -> LogLine {
        LogLine { time_ns: d.time.as_nanos(), kind: d.kind, outcome: d.outcome.clone(), subject: d.subject.clone(), node: d.node.clone() }
    }

    /// A line for the drops a service sample counted.
    pub fn drops(s: &ServiceSample, info: &RunInfo) -> LogLine {
        let name = info.services.get(s.service as usize).map_or_else(|| format!("service {}", s.service), |x| x.0.clone());
        LogLine { time_ns: s.time.as_nanos(), kind: "drop", outcome: format!("{} dropped", s.dropped), subject: name, node: None }
    }

    /// The line as the log shows it.
    pub fn text(&self) -> String {
        let mut s = format!("{}  {:<10} {:<14} {}", SimTime(self.time_ns), self.kind, self.outcome, self.subject);
        if let Some(n) = &self.node {
            let _ = write!(s, " → {n}");
        }
        s
    }

    /// Whether a decision belongs to this line's story: the same subject,
    /// the subject's replicas or pool entries, or the node it names.
    pub fn concerns(&self, d: &DecisionRecord) -> bool {
        let k = self.subject.as_str();
        d.subject == k
            || d.node.as_deref() == Some(k)
            || d.subject.strip_prefix(k).is_some_and(|rest| rest.starts_with('/') || rest.starts_with(" in pool "))
            || (self.kind == "node" && self.node.is_some() && d.node == self.node)
    }
}

/// Where a live run is.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Going.
    Running,
    /// Paused by the user.
    Paused,
    /// Reached the horizon.
    Finished,
    /// Stopped by an error.
    Failed(String),
    /// Cancelled by the user.
    Cancelled,
}

/// The window the cost burn is measured over, seconds.
pub const BURN_WINDOW_S: f64 = 6.0 * 3_600.0;
/// The most log lines and decisions kept (the oldest go first).
pub const LOG_CAPACITY: usize = 20_000;
/// The most decisions kept for stories.
pub const DECISION_CAPACITY: usize = 50_000;
/// The most interruption marks kept per chart.
const MARK_CAPACITY: usize = 2_000;

/// A live run's state.
#[derive(Clone, Debug)]
pub struct Live {
    /// Names and SLOs.
    pub info: RunInfo,
    /// Where it is.
    pub phase: Phase,
    /// Simulated seconds reached.
    pub now_s: f64,
    /// Events handled.
    pub events: u64,
    /// Cumulative cost by capacity type.
    pub cost: Vec<(String, Series)>,
    /// Accelerators allocated, per pool.
    pub allocated: Vec<Series>,
    /// Accelerators on live nodes, per pool.
    pub gpus: Vec<Series>,
    /// Busy share, per pool.
    pub busy: Vec<Series>,
    /// Price per node-hour, per pool.
    pub price: Vec<Series>,
    /// Notices and reclaims: (seconds, pool, reclaim?).
    pub marks: VecDeque<(f64, usize, bool)>,
    /// Queue depth, per service.
    pub queue: Vec<Series>,
    /// Replicas ready, per service.
    pub replicas: Vec<Series>,
    /// P99 TTFT per sample interval, seconds, per service.
    pub p99: Vec<Series>,
    /// SLO attainment so far, per service.
    pub attainment: Vec<f64>,
    /// The event log, oldest first.
    pub log: VecDeque<LogLine>,
    /// Log lines dropped from the front.
    pub log_dropped: u64,
    /// Decisions kept for stories, oldest first.
    pub decisions: VecDeque<DecisionRecord>,
    /// The summary, once finished.
    pub summary: Option<Box<Summary>>,
}

impl Live {
    /// A run that has just started.
    pub fn new(info: RunInfo) -> Live {
        let (p, s) = (info.pools.len(), info.services.len());
        Live {
            phase: Phase::Running,
            now_s: 0.0,
            events: 0,
            cost: Vec::new(),
            allocated: vec![Series::default(); p],
            gpus: vec![Series::default(); p],
            busy: vec![Series::default(); p],
            price: vec![Series::default(); p],
            marks: VecDeque::new(),
            queue: vec![Series::default(); s],
            replicas: vec![Series::default(); s],
            p99: vec![Series::default(); s],
            attainment: vec![1.0; s],
            log: VecDeque::new(),
            log_dropped: 0,
            decisions: VecDeque::new(),
            summary: None,
            info,
        }
    }

    /// Folds a step in.
    pub fn apply(&mut self, d: Delta) {
        let t = d.now_s;
        self.now_s = t;
        self.events = d.events;
        for (cap, c) in d.cost_by_capacity {
            match self.cost.iter_mut().find(|(k, _)| *k == cap) {
                Some((_, s)) => s.push(t, c),
                None => {
                    let mut s = Series::default();
                    s.push(t, c);
                    self.cost.push((cap, s));
                }
            }
        }
        for (i, p) in d.pools.iter().enumerate() {
            if let Some(s) = self.price.get_mut(i) {
                s.push(t, p.price);
            }
            if let (Some(b), Some(s)) = (p.busy_share, self.busy.get_mut(i)) {
                s.push(t, b);
            }
        }
        for (i, s) in d.services.iter().enumerate() {
            if let (Some(v), Some(series)) = (s.p99_ttft_s, self.p99.get_mut(i)) {
                series.push(t, v);
            }
            if let Some(a) = self.attainment.get_mut(i) {
                *a = s.attainment;
            }
        }
        for s in &d.pool_series {
            let (ts, i) = (s.time.as_secs_f64(), s.pool as usize);
            if let (Some(a), Some(g)) = (self.allocated.get_mut(i), self.gpus.get_mut(i)) {
                a.push(ts, f64::from(s.gpus_allocated));
                g.push(ts, f64::from(s.gpus));
            }
        }
        for s in &d.service_series {
            let (ts, i) = (s.time.as_secs_f64(), s.service as usize);
            if let (Some(q), Some(r)) = (self.queue.get_mut(i), self.replicas.get_mut(i)) {
                q.push(ts, f64::from(s.queued));
                r.push(ts, f64::from(s.ready));
            }
        }
        for dec in &d.decisions {
            if dec.kind == "node"
                && (dec.outcome.contains("notice") || dec.outcome.contains("reclaim"))
                && let Some(i) = dec.pool.as_ref().and_then(|p| self.info.pools.iter().position(|x| &x.0 == p))
            {
                self.marks.push_back((dec.time.as_secs_f64(), i, dec.outcome.contains("reclaim")));
                if self.marks.len() > MARK_CAPACITY {
                    self.marks.pop_front();
                }
            }
        }
        self.decisions.extend(d.decisions);
        while self.decisions.len() > DECISION_CAPACITY {
            self.decisions.pop_front();
        }
        self.log.extend(d.log);
        while self.log.len() > LOG_CAPACITY {
            self.log.pop_front();
            self.log_dropped += 1;
        }
    }

    /// The story of a log line: every kept decision that concerns its
    /// subject, as `twin explain` prints them.
    pub fn story(&self, line: &LogLine) -> Vec<String> {
        let mut out = vec![format!("{} {}", line.kind, line.subject)];
        for d in self.decisions.iter().filter(|d| line.concerns(d)) {
            let mut l = format!("  {}  {:<10} {:<14} {}", d.time, d.kind, d.outcome, d.subject);
            if let Some(n) = &d.node {
                let _ = write!(l, " → {n}");
            }
            out.push(l);
            if !d.detail.is_empty() {
                out.push(format!("      {}", d.detail));
            }
        }
        if out.len() == 1 {
            out.push(if line.kind == "drop" {
                "  requests were dropped in this interval; the service's queue and replicas at that time say why".into()
            } else {
                "  (no decision about it is kept: older ones were dropped)".into()
            });
        }
        out
    }

    /// Share of the horizon done, 0 to 1.
    pub fn progress(&self) -> f64 {
        if self.info.horizon_s > 0.0 { (self.now_s / self.info.horizon_s).clamp(0.0, 1.0) } else { 1.0 }
    }

    /// Cost booked so far, all capacity types.
    pub fn cost_total(&self) -> f64 {
        self.cost.iter().filter_map(|(_, s)| s.last()).sum()
    }

    /// The cost burn: cost booked per simulated hour over the last
    /// [`BURN_WINDOW_S`] (or since the start), none before an hour is booked.
    pub fn burn_per_hour(&self) -> Option<f64> {
        let mut spent = 0.0;
        let mut span: f64 = 0.0;
        for (_, s) in &self.cost {
            let (Some(last), Some(end)) = (s.bins().last(), s.last()) else { continue };
            let from = last.t - BURN_WINDOW_S;
            let start = s.bins().iter().rev().find(|b| b.t <= from).or(s.bins().first()).copied();
            if let Some(b) = start {
                spent += end - b.last;
                span = span.max(last.t - b.t);
            }
        }
        (span >= 3_600.0).then(|| spent / (span / 3_600.0))
    }
}
