//! The run's records as polars data frames, one function per table, each
//! over a run of rows: the streaming writer builds one row group at a time,
//! so a frame never holds more than a row group's rows.
//!
//! `names` is a [`Records`] whose `services`, `pools` and `workloads` hold
//! the names the rows refer to by index (its rows are not read). A row's
//! values depend on that row and the names alone, never on its neighbours,
//! so the same rows give the same values however they were cut.

use polars::prelude::*;
use std::ops::Range;
use twin_sim::ledger::LedgerRow;
use twin_sim::metrics::{DecisionRecord, JobRecord, PoolInfo, PoolSample, Records, RequestRecords, ServiceSample};

const NS_PER_MS: f64 = 1e6;
const NS_PER_S: f64 = 1e9;

fn ms_between(a: Option<u64>, b: Option<u64>) -> Option<f64> {
    Some((b? as f64 - a? as f64) / NS_PER_MS)
}

/// One row per request: rows `rows` of `q`.
pub fn requests(names: &Records, q: &RequestRecords, rows: Range<usize>) -> PolarsResult<DataFrame> {
    let n = rows.len();
    let r = rows;
    let arrival: Vec<Option<u64>> = q.arrival_ns[r.clone()].iter().map(|&a| Some(a)).collect();
    // Borrowed names: millions of rows must not mean millions of strings.
    let name = |i: &u32| names.services.get(*i as usize).map_or("", String::as_str);
    let pool = |p: &Option<u32>| p.and_then(|p| names.pools.get(p as usize)).map(|p| p.name.as_str());
    let outcome = &q.outcome[r.clone()];
    DataFrame::new(
        n,
        vec![
            Column::new("id".into(), &q.id[r.clone()]),
            Column::new("service".into(), q.service[r.clone()].iter().map(name).collect::<Vec<_>>()),
            Column::new("arrival_ns".into(), &q.arrival_ns[r.clone()]),
            Column::new("admitted_ns".into(), &q.admitted_ns[r.clone()]),
            Column::new("first_token_ns".into(), &q.first_token_ns[r.clone()]),
            Column::new("end_ns".into(), &q.end_ns[r.clone()]),
            Column::new(
                "queue_wait_ms".into(),
                arrival.iter().zip(&q.admitted_ns[r.clone()]).map(|(a, b)| ms_between(*a, *b)).collect::<Vec<_>>(),
            ),
            Column::new(
                "ttft_ms".into(),
                arrival.iter().zip(&q.first_token_ns[r.clone()]).map(|(a, b)| ms_between(*a, *b)).collect::<Vec<_>>(),
            ),
            Column::new(
                "e2e_ms".into(),
                arrival
                    .iter()
                    .zip(&q.end_ns[r.clone()])
                    .zip(outcome)
                    .map(|((a, b), o)| if o.as_str() == "finished" { ms_between(*a, *b) } else { None })
                    .collect::<Vec<_>>(),
            ),
            Column::new("prompt_tokens".into(), &q.prompt_tokens[r.clone()]),
            Column::new("output_tokens".into(), &q.output_tokens[r.clone()]),
            Column::new("retries".into(), q.retries[r.clone()].iter().map(|&x| u32::from(x)).collect::<Vec<_>>()),
            Column::new("pool".into(), q.pool[r.clone()].iter().map(pool).collect::<Vec<_>>()),
            Column::new("replica".into(), q.replica[r].iter().map(|r| r.map(|r| format!("replica-{r}"))).collect::<Vec<_>>()),
            Column::new("outcome".into(), outcome.iter().map(|o| o.as_str()).collect::<Vec<_>>()),
            Column::new("drop_reason".into(), outcome.iter().map(|o| o.reason()).collect::<Vec<_>>()),
        ],
    )
}

/// One row per training job.
pub fn jobs(j: &[JobRecord]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        j.len(),
        vec![
            Column::new("name".into(), j.iter().map(|x| x.name.as_str()).collect::<Vec<_>>()),
            Column::new("team".into(), j.iter().map(|x| x.team.as_str()).collect::<Vec<_>>()),
            Column::new("gpus".into(), j.iter().map(|x| x.gpus).collect::<Vec<_>>()),
            Column::new("submit_s".into(), j.iter().map(|x| x.submit_s).collect::<Vec<_>>()),
            Column::new("start_s".into(), j.iter().map(|x| x.start_s).collect::<Vec<_>>()),
            Column::new("finish_s".into(), j.iter().map(|x| x.finish_s).collect::<Vec<_>>()),
            Column::new("state".into(), j.iter().map(|x| x.state).collect::<Vec<_>>()),
            Column::new("preemptions".into(), j.iter().map(|x| x.preemptions).collect::<Vec<_>>()),
            Column::new("work_gpu_hours".into(), j.iter().map(|x| x.work_gpu_hours).collect::<Vec<_>>()),
            Column::new("done_gpu_hours".into(), j.iter().map(|x| x.done_gpu_hours).collect::<Vec<_>>()),
            Column::new("lost_gpu_hours".into(), j.iter().map(|x| x.lost_gpu_hours).collect::<Vec<_>>()),
            Column::new("queued_hours".into(), j.iter().map(|x| x.queued_hours).collect::<Vec<_>>()),
            Column::new("cost".into(), j.iter().map(|x| x.cost).collect::<Vec<_>>()),
            Column::new("pool".into(), j.iter().map(|x| x.pool.as_deref()).collect::<Vec<_>>()),
        ],
    )
}

/// One row per pool per sample.
pub fn pool_series(names: &Records, p: &[PoolSample]) -> PolarsResult<DataFrame> {
    let name = |i: u32| names.pools.get(i as usize).map_or("", |p| p.name.as_str());
    DataFrame::new(
        p.len(),
        vec![
            Column::new("time_s".into(), p.iter().map(|x| x.time.as_nanos() as f64 / NS_PER_S).collect::<Vec<_>>()),
            Column::new("pool".into(), p.iter().map(|x| name(x.pool)).collect::<Vec<_>>()),
            Column::new("nodes_ready".into(), p.iter().map(|x| x.nodes_ready).collect::<Vec<_>>()),
            Column::new("nodes_provisioning".into(), p.iter().map(|x| x.nodes_provisioning).collect::<Vec<_>>()),
            Column::new("nodes_failed".into(), p.iter().map(|x| x.nodes_failed).collect::<Vec<_>>()),
            Column::new("gpus".into(), p.iter().map(|x| x.gpus).collect::<Vec<_>>()),
            Column::new("gpus_allocated".into(), p.iter().map(|x| x.gpus_allocated).collect::<Vec<_>>()),
            Column::new("price_per_node_hour".into(), p.iter().map(|x| x.price_per_node_hour).collect::<Vec<_>>()),
            Column::new("stocked_out".into(), p.iter().map(|x| x.stocked_out).collect::<Vec<_>>()),
        ],
    )
}

/// One row per service per sample.
pub fn service_series(names: &Records, s: &[ServiceSample]) -> PolarsResult<DataFrame> {
    let name = |i: u32| names.services.get(i as usize).map_or("", String::as_str);
    DataFrame::new(
        s.len(),
        vec![
            Column::new("time_s".into(), s.iter().map(|x| x.time.as_nanos() as f64 / NS_PER_S).collect::<Vec<_>>()),
            Column::new("service".into(), s.iter().map(|x| name(x.service)).collect::<Vec<_>>()),
            Column::new("desired".into(), s.iter().map(|x| x.desired).collect::<Vec<_>>()),
            Column::new("ready".into(), s.iter().map(|x| x.ready).collect::<Vec<_>>()),
            Column::new("starting".into(), s.iter().map(|x| x.starting).collect::<Vec<_>>()),
            Column::new("pending".into(), s.iter().map(|x| x.pending).collect::<Vec<_>>()),
            Column::new("queued".into(), s.iter().map(|x| x.queued).collect::<Vec<_>>()),
            Column::new("in_flight".into(), s.iter().map(|x| x.in_flight).collect::<Vec<_>>()),
            Column::new("arrived".into(), s.iter().map(|x| x.arrived).collect::<Vec<_>>()),
            Column::new("finished".into(), s.iter().map(|x| x.finished).collect::<Vec<_>>()),
            Column::new("slo_met".into(), s.iter().map(|x| x.slo_met).collect::<Vec<_>>()),
            Column::new("dropped".into(), s.iter().map(|x| x.dropped).collect::<Vec<_>>()),
        ],
    )
}

/// One row per decision: placements, preemptions, scale steps, policy
/// verdicts and node events, with why.
pub fn decisions(d: &[DecisionRecord]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        d.len(),
        vec![
            Column::new("time_s".into(), d.iter().map(|x| x.time.as_nanos() as f64 / NS_PER_S).collect::<Vec<_>>()),
            Column::new("kind".into(), d.iter().map(|x| x.kind).collect::<Vec<_>>()),
            Column::new("subject".into(), d.iter().map(|x| x.subject.as_str()).collect::<Vec<_>>()),
            Column::new("outcome".into(), d.iter().map(|x| x.outcome.as_str()).collect::<Vec<_>>()),
            Column::new("node".into(), d.iter().map(|x| x.node.as_deref()).collect::<Vec<_>>()),
            Column::new("pool".into(), d.iter().map(|x| x.pool.as_deref()).collect::<Vec<_>>()),
            Column::new("detail".into(), d.iter().map(|x| x.detail.as_str()).collect::<Vec<_>>()),
        ],
    )
}

/// One row per owner per node per charge period, in FOCUS-aligned columns
/// (times are seconds from the start of the run).
pub fn ledger(names: &Records, l: &[LedgerRow], currency: &str) -> PolarsResult<DataFrame> {
    let none = PoolInfo::default();
    let pool = |x: &LedgerRow| names.pools.get(x.pool.index()).unwrap_or(&none);
    let owner = |w: Option<twin_sim::ids::WorkloadId>, k: usize| -> &str {
        match w.and_then(|w| names.workloads.get(w.index())) {
            Some(t) => [&t.0, &t.1, &t.2][k].as_str(),
            None => "",
        }
    };
    let pools = |f: fn(&PoolInfo) -> &str| l.iter().map(|x| f(pool(x))).collect::<Vec<_>>();
    DataFrame::new(
        l.len(),
        vec![
            Column::new(
                "ChargePeriodStartSeconds".into(),
                l.iter().map(|x| x.period_start.as_nanos() as f64 / NS_PER_S).collect::<Vec<_>>(),
            ),
            Column::new("ChargePeriodEndSeconds".into(), l.iter().map(|x| x.period_end.as_nanos() as f64 / NS_PER_S).collect::<Vec<_>>()),
            Column::new("BillingCurrency".into(), vec![currency; l.len()]),
            Column::new("ChargeCategory".into(), vec!["Usage"; l.len()]),
            Column::new("ResourceId".into(), l.iter().map(|x| format!("{}/node-{}", pool(x).name, x.node.0)).collect::<Vec<_>>()),
            Column::new("ResourceType".into(), pools(|p| &p.node_type)),
            Column::new("RegionId".into(), pools(|p| &p.region)),
            Column::new("AvailabilityZone".into(), pools(|p| &p.zone)),
            Column::new("PricingCategory".into(), pools(|p| &p.pricing_category)),
            Column::new("ConsumedQuantity".into(), l.iter().map(|x| x.account.gpu_hours()).collect::<Vec<_>>()),
            Column::new("ConsumedUnit".into(), vec!["GPU-Hour"; l.len()]),
            Column::new("BilledCost".into(), l.iter().map(|x| x.account.total().to_currency()).collect::<Vec<_>>()),
            Column::new("EffectiveCost".into(), l.iter().map(|x| x.account.total().to_currency()).collect::<Vec<_>>()),
            Column::new("ListCost".into(), l.iter().map(|x| x.account.list.to_currency()).collect::<Vec<_>>()),
            Column::new("x_Pool".into(), pools(|p| &p.name)),
            Column::new("x_CapacityType".into(), pools(|p| &p.capacity)),
            Column::new("x_Accelerator".into(), pools(|p| &p.accelerator)),
            Column::new("x_Workload".into(), l.iter().map(|x| owner(x.workload, 0)).collect::<Vec<_>>()),
            Column::new("x_Team".into(), l.iter().map(|x| owner(x.workload, 1)).collect::<Vec<_>>()),
            Column::new("x_Namespace".into(), l.iter().map(|x| owner(x.workload, 2)).collect::<Vec<_>>()),
            Column::new("x_Idle".into(), l.iter().map(|x| x.workload.is_none()).collect::<Vec<_>>()),
            Column::new("x_CapacityCost".into(), l.iter().map(|x| x.account.compute.to_currency()).collect::<Vec<_>>()),
            Column::new("x_EnergyCost".into(), l.iter().map(|x| x.account.energy_cost.to_currency()).collect::<Vec<_>>()),
            Column::new("x_EnergyKWh".into(), l.iter().map(|x| x.account.energy_kwh()).collect::<Vec<_>>()),
        ],
    )
}
