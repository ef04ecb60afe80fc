//! The model against theory: queueing, hazards and billing with known answers.

use twin_sim::RunOptions;
use twin_sim::ids::{PoolId, WorkloadId};
use twin_sim::ledger::{Account, Money};
use twin_sim::time::SimDuration;

/// Erlang's C formula: the probability that an arrival waits in an M/M/c queue
/// with offered load `a` = λ/μ.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        if k > 0 {
            term *= a / f64::from(k);
        }
        sum += term;
    }
    let top = term * a / f64::from(c) * f64::from(c) / (f64::from(c) - a);
    top / (sum + top)
}

/// Four single-slot replicas, Poisson arrivals at 3/s, exponential service of
/// mean 1 s: an M/M/4 queue at 75% load. Mean wait W_q = C(4, 3) / (cμ − λ)
/// = 0.5094 s. The tolerance is four standard errors of the mean, estimated
/// by batch means over 40 batches (waits are correlated), and at most 5%.
#[test]
fn an_mm4_service_matches_erlang_c() {
    let text = r#"
format_version = 1
name = "mmc"
description = "M/M/4"
horizon = "3d"
[[pools]]
name = "l4"
node_type = "g6.xlarge"
capacity = "on-demand"
min_nodes = 4
max_nodes = 4
[[services]]
name = "mm4"
model = "llama-3.2-1b"
pools = ["l4"]
replicas = 4
max_batch = 1
service_time = { exponential = { mean = "1s" } }
slo = { ttft = "10s", e2e = "10s" }
arrivals = { poisson = { rate = 3.0 } }
prompt_tokens = 10
output_tokens = 10
"#;
    let s = crate::scenario(text);
    let out =
        twin_sim::run(&s, 2024, RunOptions { record_requests: true, record_ledger: false, record_series: false, record_decisions: false })
            .unwrap();
    let q = &out.records.requests;
    let mut waits: Vec<(u64, f64)> =
        (0..q.len()).filter_map(|i| q.admitted_ns[i].map(|a| (q.id[i], (a - q.arrival_ns[i]) as f64 / 1e9))).collect();
    waits.sort_by_key(|w| w.0);
    let waits: Vec<f64> = waits.into_iter().skip(1_000).map(|w| w.1).collect();
    let n = waits.len();
    assert!(n > 700_000, "{n} requests");
    let mean = waits.iter().sum::<f64>() / n as f64;
    let batches = 40;
    let size = n / batches;
    let means: Vec<f64> = (0..batches).map(|b| waits[b * size..(b + 1) * size].iter().sum::<f64>() / size as f64).collect();
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (batches - 1) as f64;
    let se = (var / batches as f64).sqrt();
    let c = erlang_c(4, 3.0);
    let expected = c / (4.0 - 3.0);
    assert!((expected - 0.5094).abs() < 1e-3);
    assert!((mean - expected).abs() < 4.0 * se, "mean wait {mean:.4} s vs Erlang C {expected:.4} s (se {se:.4})");
    assert!((mean / expected - 1.0).abs() < 0.05, "mean wait {mean:.4} s vs {expected:.4} s");
    let waited = waits.iter().filter(|&&w| w > 0.0).count() as f64 / n as f64;
    assert!((waited - c).abs() < 0.01, "P(wait) {waited:.4} vs {c:.4}");
    // The summary's mean agrees with the records.
    let svc = &out.summary.services[0];
    assert!((svc.queue_wait_ms.mean / 1e3 - expected).abs() / expected < 0.05);
}

/// Twenty spot nodes kept at twenty by replacement, with a hazard of 0.01 per
/// node-hour over 5,000 hours: about 1,000 notices. The measured rate per
/// node-hour must be within four Poisson standard errors of the configured one.
#[test]
fn a_long_run_recovers_the_interruption_rate() {
    let text = r#"
format_version = 1
name = "hazard"
description = "interruptions"
horizon = "5000h"
[[pools]]
name = "spot"
node_type = "g6.xlarge"
capacity = "spot"
price = 0.3
min_nodes = 20
max_nodes = 20
interruption = { rate_per_hour = 0.01, notice = "2m" }
"#;
    let s = crate::scenario(text);
    let out = twin_sim::run(&s, 77, RunOptions::summary_only()).unwrap();
    let pool = &out.summary.pools[0];
    let node_hours = pool.gpu_hours; // one accelerator per node
    let rate = pool.notices as f64 / node_hours;
    let expected_n = 0.01 * node_hours;
    let tolerance = 4.0 / expected_n.sqrt();
    assert!(pool.notices > 800, "{} notices", pool.notices);
    assert!((rate / 0.01 - 1.0).abs() < tolerance, "rate {rate:.5}/h vs 0.01/h (±{:.1}%)", 100.0 * tolerance);
    assert_eq!(pool.reclaims, pool.notices, "every notice ends in a reclaim");
    assert!(pool.nodes_launched >= 20 + pool.reclaims - 1, "reclaimed nodes are replaced");
}

#[test]
fn a_fixed_price_bills_exactly() {
    let text = r#"
format_version = 1
name = "fixed"
description = "fixed price"
horizon = "7h"
[[pools]]
name = "od"
node_type = "g6.xlarge"
capacity = "on-demand"
price = 1.25
min_nodes = 3
max_nodes = 3
"#;
    let out = twin_sim::run(&crate::scenario(text), 1, RunOptions::default()).unwrap();
    let total = out.ledger.total();
    assert_eq!(total.compute, Money::of(1_250_000_000, 3, SimDuration::from_hours(7)));
    assert_eq!(out.summary.cost.total, 26.25);
    assert_eq!(out.summary.cost.idle, 26.25, "nothing ran: all of it is idle");
    assert_eq!(total.gpu_ns, 3 * 7 * 3_600 * 1_000_000_000u128);
}

/// A one-GPU job of 20 seconds on a node launched for it: the node is billed
/// its 60-second minimum, 20 s of it to the job and the rest as idle.
#[test]
fn a_short_lived_node_pays_the_minimum_charge() {
    let text = r#"
format_version = 1
name = "minimum"
description = "minimum charge"
horizon = "1h"
[[pools]]
name = "od"
node_type = "g6.xlarge"
capacity = "on-demand"
price = 3.6
provisioning_delay = "0s"
scale_down_delay = "1s"
[[training]]
name = "tiny"
pools = ["od"]
gpus = 1
work_gpu_hours = 0.005
speed = { L4 = 1.0 }
"#;
    let out = twin_sim::run(&crate::scenario(text), 1, RunOptions::default()).unwrap();
    let price_units = 3_600_000_000; // 3.6 per hour
    assert_eq!(out.ledger.total().compute, Money::of(price_units, 1, SimDuration::from_secs(60)));
    let job = out.ledger.owner_total(Some(WorkloadId(0)));
    assert_eq!(job.compute, Money::of(price_units, 1, SimDuration::from_secs(18)));
    assert_eq!(out.summary.jobs.finished, 1);
}

/// The ledger's parts add up to its total to the last unit: by owner, by
/// pool, and over the exported lines.
#[test]
fn ledger_parts_sum_exactly_to_the_total() {
    let s = crate::scenario(&std::fs::read_to_string(crate::root().join("scenarios/mixed-fleet.toml")).unwrap());
    let out =
        twin_sim::run(&s, 4, RunOptions { record_requests: false, record_ledger: true, record_series: false, record_decisions: false })
            .unwrap();
    let l = &out.ledger;
    let total = l.total();
    let sum = |accts: Vec<Account>| {
        let mut t = Account::default();
        for a in accts {
            t += a;
        }
        t
    };
    let workloads = out.records.workloads.len();
    let by_owner = sum((0..workloads).map(|w| l.owner_total(Some(WorkloadId(w as u32)))).chain([l.owner_total(None)]).collect());
    let by_pool = sum((0..out.summary.pools.len()).map(|p| l.pool_total(PoolId(p as u32))).collect());
    let by_row = sum(out.records.ledger.iter().map(|r| r.account).collect());
    assert_eq!(by_owner, total);
    assert_eq!(by_pool, total);
    assert_eq!(by_row, total);
    assert!(total.compute.0 > 0 && total.energy_cost.0 > 0);
}
