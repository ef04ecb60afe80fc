//! A run's KPIs, read from what the simulator reports.

use std::collections::BTreeMap;
use twin_scheduler::experiment::FillReport;
use twin_sim::metrics::Summary;

/// Seconds in the 30 days a monthly cost is scaled to.
const MONTH_S: f64 = 30.0 * 86_400.0;

/// The KPIs of a timed run (see [`crate::suite::KPI_CATALOGUE`]), and its
/// cost per month by team. Latency and SLO KPIs are absent when no
/// workload served requests; `fragmentation` is measured only by pod-trace
/// experiments.
pub fn of_summary(s: &Summary) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    let mut k = BTreeMap::new();
    let month = if s.horizon_s > 0.0 { MONTH_S / s.horizon_s } else { 0.0 };
    k.insert("cost_per_month".to_string(), s.cost.total * month);
    let served: Vec<_> = s.services.iter().filter(|v| v.load).collect();
    if !served.is_empty() {
        let ended = |v: &twin_sim::metrics::ServiceSummary| v.finished + v.dropped.values().sum::<u64>();
        let total: u64 = served.iter().map(|v| ended(v)).sum();
        if total > 0 {
            let met: f64 = served.iter().map(|v| v.slo_attainment * ended(v) as f64).sum();
            k.insert("slo_attainment".to_string(), met / total as f64);
        }
        if served.iter().any(|v| v.finished > 0) {
            let worst = |f: fn(&twin_sim::metrics::ServiceSummary) -> f64| {
                served.iter().filter(|v| v.finished > 0).map(|v| f(v)).fold(0.0, f64::max)
            };
            k.insert("ttft_p99_ms".to_string(), worst(|v| v.ttft_ms.p99));
            k.insert("e2e_p99_ms".to_string(), worst(|v| v.e2e_ms.p99));
        }
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
    let teams = s.cost.by_team.iter().map(|(t, c)| (t.clone(), c * month)).collect();
    (k, teams)
}

/// The KPIs of a pod-trace experiment (one profile's fill): GPU allocation
/// at the end of the fill; fragmentation (the expected fragmented GPU
/// capacity, as a share of all of it) when arrived demand reached capacity.
pub fn of_fill(r: &FillReport) -> BTreeMap<String, f64> {
    let mut k = BTreeMap::new();
    if let Some(end) = r.points.last() {
        k.insert("gpu_allocation".to_string(), end.allocated);
    }
    if let Some(p) = r.at(1.0) {
        k.insert("fragmentation".to_string(), p.fragmented);
    }
    k
}
