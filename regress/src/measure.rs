//! A run's KPIs, read from what the simulator reports.

use crate::results::RunResult;
use std::collections::BTreeMap;
use twin_scheduler::experiment::FillReport;
use twin_sim::metrics::{ServiceSummary, Summary};

/// Seconds in the 30 days a monthly cost is scaled to.
const MONTH_S: f64 = 30.0 * 86_400.0;

/// The KPIs of a timed run with `seed` (see [`crate::suite::KPI_CATALOGUE`]),
/// and cost per month, SLO attainment and P99 TTFT by team. Latency and SLO
/// KPIs are absent when no workload served requests; `fragmentation` is
/// measured only by pod-trace experiments.
pub fn of_summary(s: &Summary, seed: u64) -> RunResult {
    let mut k = BTreeMap::new();
    let month = if s.horizon_s > 0.0 { MONTH_S / s.horizon_s } else { 0.0 };
    k.insert("cost_per_month".to_string(), s.cost.total * month);
    let served: Vec<&ServiceSummary> = s.services.iter().filter(|v| v.load).collect();
    if let Some(a) = attainment(&served) {
        k.insert("slo_attainment".to_string(), a);
    }
    if let Some(p) = worst(&served, |v| v.ttft_ms.p99) {
        k.insert("ttft_p99_ms".to_string(), p);
    }
    if let Some(p) = worst(&served, |v| v.e2e_ms.p99) {
        k.insert("e2e_p99_ms".to_string(), p);
    }
    if !served.is_empty() {
        k.insert("drops".to_string(), served.iter().map(|v| v.dropped.values().sum::<u64>() as f64).sum());
    }
    k.insert("preemptions".to_string(), (s.jobs.preemptions + s.interruptions.replicas_lost) as f64);
    let gpu_hours: f64 = s.pools.iter().map(|p| p.gpu_hours).sum();
    if gpu_hours > 0.0 {
        k.insert("gpu_allocation".to_string(), s.pools.iter().map(|p| p.allocated_gpu_hours).sum::<f64>() / gpu_hours);
    }
    if s.cost.total > 0.0 {
        k.insert("idle_share".to_string(), s.cost.idle / s.cost.total);
    }
    let mut run = RunResult { seed, kpis: k, ..Default::default() };
    run.team_cost_per_month = s.cost.by_team.iter().map(|(t, c)| (t.clone(), c * month)).collect();
    let teams: std::collections::BTreeSet<&String> = served.iter().map(|v| &v.team).collect();
    for team in teams {
        let mine: Vec<&ServiceSummary> = served.iter().copied().filter(|v| &v.team == team).collect();
        if let Some(a) = attainment(&mine) {
            run.team_slo_attainment.insert(team.clone(), a);
        }
        if let Some(p) = worst(&mine, |v| v.ttft_ms.p99) {
            run.team_ttft_p99_ms.insert(team.clone(), p);
        }
    }
    run
}

/// Requests that ended (finished or dropped).
fn ended(v: &ServiceSummary) -> u64 {
    v.finished + v.dropped.values().sum::<u64>()
}

/// SLO attainment over `served`, weighted by requests that ended; none when none did.
fn attainment(served: &[&ServiceSummary]) -> Option<f64> {
    let total: u64 = served.iter().map(|v| ended(v)).sum();
    (total > 0).then(|| served.iter().map(|v| v.slo_attainment * ended(v) as f64).sum::<f64>() / total as f64)
}

/// The worst of a latency over the workloads that finished a request.
fn worst(served: &[&ServiceSummary], f: fn(&ServiceSummary) -> f64) -> Option<f64> {
    served.iter().filter(|v| v.finished > 0).map(|v| f(v)).reduce(f64::max)
}

/// The KPIs of a pod-trace experiment (one profile's fill): GPU allocation
/// at the end of the fill; fragmentation (the expected fragmented GPU
/// capacity, as a share of all of it) when arrived demand reached capacity.
pub fn of_fill(r: &FillReport, seed: u64) -> RunResult {
    let mut k = BTreeMap::new();
    if let Some(end) = r.points.last() {
        k.insert("gpu_allocation".to_string(), end.allocated);
    }
    if let Some(p) = r.at(1.0) {
        k.insert("fragmentation".to_string(), p.fragmented);
    }
    RunResult { seed, kpis: k, ..Default::default() }
}
