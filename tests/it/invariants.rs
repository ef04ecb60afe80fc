//! Properties over random fleets and workloads: no node ever over-allocated,
//! the ledger's parts sum to its totals, every request and every job
//! accounted for; and no scenario text, however mangled, makes Twin panic.

use proptest::prelude::*;
use std::fmt::Write;
use twin_sim::ids::{PoolId, WorkloadId};
use twin_sim::ledger::Account;
use twin_sim::scenario::Scenario;
use twin_sim::time::{SimDuration, SimTime};
use twin_sim::{Run, RunOptions};

#[derive(Debug, Clone)]
struct PoolP {
    node_type: &'static str,
    capacity: &'static str,
    nodes: u32,
    min: u32,
    initial: u32,
    interruption_per_hour: f64,
    mtbf_minutes: Option<u32>,
    stockouts: bool,
    price: u8,
}

#[derive(Debug, Clone)]
struct ServiceP {
    model: &'static str,
    pools: Vec<usize>,
    gpus: u32,
    replicas: u32,
    max_batch: u32,
    rate: f64,
    arrivals: u8,
    sampled: bool,
    queue_timeout_s: Option<u32>,
    max_queue: u32,
    autoscaler: Option<(u8, u32)>,
}

#[derive(Debug, Clone)]
struct JobP {
    gpus: u32,
    pools: Vec<usize>,
    work: f64,
    submit_min: u32,
    checkpoint_min: u32,
    on_notice: bool,
}

fn pool() -> impl Strategy<Value = PoolP> {
    (
        prop::sample::select(vec!["g6.xlarge", "g6.12xlarge", "p5.48xlarge", "p4de.24xlarge", "dgx-h100"]),
        prop::sample::select(vec!["on-demand", "spot", "reserved", "on-prem"]),
        1u32..4,
        0u32..2,
        0u32..3,
        0.0f64..3.0,
        prop::option::of(20u32..600),
        any::<bool>(),
        0u8..3,
    )
        .prop_map(|(node_type, capacity, nodes, min, initial, rate, mtbf, stockouts, price)| PoolP {
            node_type,
            capacity,
            nodes,
            min: min.min(nodes),
            initial: initial.clamp(min.min(nodes), nodes),
            interruption_per_hour: rate,
            mtbf_minutes: mtbf,
            stockouts,
            price,
        })
}

fn service(pools: usize) -> impl Strategy<Value = ServiceP> {
    (
        prop::sample::select(vec!["llama-3.2-1b", "llama-3.1-8b"]),
        prop::collection::vec(0..pools, 1..=pools),
        1u32..3,
        0u32..4,
        1u32..48,
        0.1f64..25.0,
        0u8..5,
        any::<bool>(),
        prop::option::of(1u32..60),
        1u32..2_000,
        prop::option::of((0u8..3, 1u32..8)),
    )
        .prop_map(|(model, pools, gpus, replicas, max_batch, rate, arrivals, sampled, queue_timeout_s, max_queue, autoscaler)| {
            ServiceP { model, pools, gpus, replicas, max_batch, rate, arrivals, sampled, queue_timeout_s, max_queue, autoscaler }
        })
}

fn job(pools: usize) -> impl Strategy<Value = JobP> {
    (
        prop::sample::select(vec![1u32, 2, 4, 8, 16]),
        prop::collection::vec(0..pools, 1..=pools),
        0.05f64..20.0,
        0u32..50,
        1u32..40,
        any::<bool>(),
    )
        .prop_map(|(gpus, pools, work, submit_min, checkpoint_min, on_notice)| JobP {
            gpus,
            pools,
            work,
            submit_min,
            checkpoint_min,
            on_notice,
        })
}

fn fleet() -> impl Strategy<Value = (Vec<PoolP>, Vec<ServiceP>, Vec<JobP>, u32)> {
    prop::collection::vec(pool(), 1..4).prop_flat_map(|pools| {
        let n = pools.len();
        (Just(pools), prop::collection::vec(service(n), 0..3), prop::collection::vec(job(n), 0..4), 5u32..50)
    })
}

fn render(pools: &[PoolP], services: &[ServiceP], jobs: &[JobP], horizon_min: u32) -> String {
    let mut t = format!(
        "format_version = 1\nname = \"random\"\nhorizon = \"{horizon_min}m\"\nsample_interval = \"1m\"\n[billing]\nledger_period = \"7m\"\n"
    );
    for (i, p) in pools.iter().enumerate() {
        let _ = write!(t, "\n[[pools]]\nname = \"p{i}\"\nnode_type = \"{}\"\ncapacity = \"{}\"\n", p.node_type, p.capacity);
        match p.capacity {
            "reserved" | "on-prem" => {
                let _ = writeln!(t, "nodes = {}", p.nodes);
            }
            _ => {
                let _ = writeln!(
                    t,
                    "min_nodes = {}\nmax_nodes = {}\ninitial_nodes = {}\nprovisioning_delay = \"90s\"\nscale_down_delay = \"2m\"",
                    p.min, p.nodes, p.initial
                );
            }
        }
        match (p.capacity, p.price) {
            ("on-prem", _) => t.push_str("capex = { per_node = 250000, years = 4 }\n"),
            (_, 0) => t.push_str("price = 10.0\n"),
            (_, 1) => t.push_str("price = { mean_reverting = { mean = 10.0, volatility = 0.3, jumps_per_day = 20.0, tick = \"3m\" } }\n"),
            _ => t.push_str(
                "price = { table = { points = [{ at = \"0s\", price = 8.0 }, { at = \"10m\", price = 12.0 }], repeat_every = \"20m\" } }\n",
            ),
        }
        if p.capacity == "spot" {
            let _ = writeln!(t, "interruption = {{ rate_per_hour = {:.4}, notice = \"2m\" }}", p.interruption_per_hour);
            if p.stockouts {
                t.push_str("stockouts = { mean_available = \"20m\", mean_duration = \"5m\" }\n");
            }
        }
        if let Some(m) = p.mtbf_minutes {
            let _ = writeln!(t, "failures = {{ mtbf = \"{m}m\", repair = \"10m\" }}");
        }
    }
    let names = |ix: &[usize]| ix.iter().map(|i| format!("\"p{i}\"")).collect::<Vec<_>>().join(", ");
    for (i, s) in services.iter().enumerate() {
        let arrivals = match s.arrivals {
            0 => format!("{{ poisson = {{ rate = {:.3} }} }}", s.rate),
            1 => format!("{{ mmpp = {{ rates = [{:.3}, {:.3}], mean_durations = [\"3m\", \"1m\"] }} }}", s.rate / 2.0, s.rate * 2.0),
            2 => format!("{{ hawkes = {{ baseline = {:.3}, branching = 0.5, decay = \"2s\" }} }}", s.rate / 2.0),
            3 => format!("{{ diurnal = {{ mean_rate = {:.3}, amplitude = 0.9, peak = \"0h\" }} }}", s.rate),
            _ => format!(
                "{{ piecewise = {{ points = [{{ at = \"0s\", rate = {:.3} }}, {{ at = \"5m\", rate = 0.0 }}], repeat_every = \"9m\" }} }}",
                s.rate
            ),
        };
        let replicas = match s.autoscaler {
            Some((_, max)) => s.replicas.clamp(1, max),
            None => s.replicas,
        };
        let _ = write!(
            t,
            "\n[[services]]\nname = \"s{i}\"\nteam = \"t{}\"\nmodel = \"{}\"\npools = [{}]\ngpus_per_replica = {}\nreplicas = {replicas}\nmax_batch = {}\nmax_queue = {}\nscheduling = {{ priority = {} }}\nslo = {{ ttft = \"1s\", e2e = \"20s\" }}\narrivals = {arrivals}\nprompt_tokens = {{ lognormal = {{ median = 400, sigma = 1.0, max = 500000 }} }}\noutput_tokens = {{ geometric = {{ mean = 120 }} }}\n",
            i % 2,
            s.model,
            names(&s.pools),
            s.gpus,
            s.max_batch,
            s.max_queue,
            (i as i64 % 3) - 1
        );
        if s.sampled {
            t.push_str("service_time = { exponential = { mean = \"2s\" } }\n");
        }
        if let Some(q) = s.queue_timeout_s {
            let _ = writeln!(t, "queue_timeout = \"{q}s\"");
        }
        if let Some((metric, max)) = s.autoscaler {
            let (m, target) = [("concurrency", 8.0), ("queue", 2.0), ("utilisation", 0.5)][metric as usize];
            let _ = writeln!(
                t,
                "autoscaler = {{ metric = \"{m}\", target = {target}, min = 1, max = {max}, interval = \"15s\", scale_down_window = \"1m\" }}"
            );
        }
    }
    for (i, j) in jobs.iter().enumerate() {
        let _ = write!(
            t,
            "\n[[training]]\nname = \"j{i}\"\nteam = \"t{}\"\npools = [{}]\ngpus = {}\nwork_gpu_hours = {:.3}\nsubmit_at = \"{}m\"\ncheckpoint_interval = \"{}m\"\ncheckpoint_cost = \"30s\"\ncheckpoint_on_notice = {}\ncheckpoints = {}\nscheduling = {{ priority = {} }}\n",
            i % 3,
            names(&j.pools),
            j.gpus,
            j.work,
            j.submit_min,
            j.checkpoint_min,
            j.on_notice,
            j.checkpoint_min % 5 != 0,
            (i as i64 + j.submit_min as i64) % 3 - 1
        );
    }
    t
}

/// Cases per property: 40, or `PROPTEST_CASES` for a longer hunt.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(40)
}

fn add_all(accts: impl Iterator<Item = Account>) -> Account {
    let mut t = Account::default();
    for a in accts {
        t += a;
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_fleets_keep_every_invariant(
        (pools, services, jobs, horizon) in fleet().prop_filter(
            // Some random combinations are rightly refused (a gang too large for its pools).
            "the scenario must check",
            |(p, s, j, h)| Scenario::from_toml(&render(p, s, j, *h), "random.toml").is_ok(),
        ),
        seed in 0u64..1_000,
    ) {
        let text = render(&pools, &services, &jobs, horizon);
        let s = Scenario::from_toml(&text, "random.toml").unwrap();
        let mut run = Run::new(&s, seed, RunOptions::default()).unwrap();
        // Every event checked: accelerators never over-allocated, allocations
        // owned, requests counted once, gangs all-or-nothing.
        run.advance_checked(run.horizon()).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let out = run.finish().unwrap();
        for svc in &out.summary.services {
            let dropped: u64 = svc.dropped.values().sum();
            prop_assert_eq!(svc.arrived, svc.finished + dropped + svc.in_flight, "{}", text);
        }
        prop_assert_eq!(out.records.requests.len() as u64, out.summary.services.iter().map(|s| s.arrived).sum::<u64>());
        let j = &out.summary.jobs;
        prop_assert_eq!(j.submitted, j.finished + j.running + j.queued + j.rejected);
        prop_assert_eq!(j.submitted + j.not_submitted, jobs.len() as u64);
        prop_assert_eq!(out.records.jobs.len(), jobs.len());
        let l = &out.ledger;
        let total = l.total();
        let owners = add_all((0..out.records.workloads.len()).map(|w| l.owner_total(Some(WorkloadId(w as u32)))).chain([l.owner_total(None)]));
        let by_pool = add_all((0..pools.len()).map(|p| l.pool_total(PoolId(p as u32))));
        let rows = add_all(out.records.ledger.iter().map(|r| r.account));
        prop_assert_eq!(owners, total);
        prop_assert_eq!(by_pool, total);
        prop_assert_eq!(rows, total);
        // Accelerator time billed never exceeds what the pools could hold, and
        // nothing is billed beyond the horizon but minimum charges.
        let horizon_ns = SimDuration::from_secs(u64::from(horizon) * 60).as_nanos() as u128;
        for (p, pool) in pools.iter().enumerate() {
            let per_node = out.summary.pools[p].gpu_hours;
            let gpus = twin_sim::catalogue::Catalogue::builtin().node_types.iter().find(|n| n.name == pool.node_type).unwrap().accelerators_per_node;
            let cap = (pool.nodes as f64 + out.summary.pools[p].nodes_launched as f64) * gpus as f64 * (horizon_ns as f64 / 3.6e12 + 1.0 / 60.0);
            prop_assert!(per_node <= cap + 1e-9, "pool {} billed {} GPU-h, cap {}", p, per_node, cap);
        }
    }

    #[test]
    fn no_scenario_text_makes_twin_panic(
        which in 0usize..64,
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..5, prop::sample::select(vec![
            "-1", "0", "1e308", "-1e308", "\"\"", "\"-5s\"", "nan", "inf", "-inf", "[]", "{}", "\"x\"",
            "99999999999999999999", "-0.0", "true", "\"999999999999w\"", "[1, 2]", "{ fixed = -3 }", "\"1h\"", "0.5",
        ])), 1..6),
    ) {
        let dir = crate::root().join("scenarios");
        let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        let text = std::fs::read_to_string(&paths[which % paths.len()]).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for (at, op, value) in edits {
            let i = at.index(lines.len());
            match op {
                0 | 1 => {
                    if let Some(eq) = lines[i].find('=') {
                        lines[i] = format!("{}= {value}", &lines[i][..eq]);
                    }
                }
                2 => { lines.remove(i); }
                3 => { let l = lines[i].clone(); lines.insert(i, l); }
                _ => lines.insert(i, format!("bogus_{i} = {value}")),
            }
            if lines.is_empty() { break; }
        }
        let text = lines.join("\n");
        match Scenario::from_toml(&text, "mangled.toml") {
            Err(errors) => {
                for e in errors.errors() {
                    prop_assert!(e.line >= 1 && e.column >= 1, "{}", e);
                    prop_assert!(!e.message.is_empty());
                }
            }
            // A pod-trace experiment is not a timed run: it is replayed by
            // `twin run` through the scheduler, and `Run::new` refuses it by name.
            // A scenario replaying a request trace needs it read at the edge first.
            Ok(s) if !s.trace_files().is_empty() => {
                let refused = matches!(Run::new(&s, 1, RunOptions::summary_only()), Err(twin_sim::fabric::BuildError::TraceNotLoaded { .. }));
                prop_assert!(refused);
            }
            Ok(s) if s.spec.pod_trace.is_some() => {
                prop_assert!(matches!(Run::new(&s, 1, RunOptions::summary_only()), Err(twin_sim::fabric::BuildError::PodTrace)));
            }
            // Recordings, price histories, Spot Advisor bands and job traces are read at the edge too.
            Ok(s) if !s.telemetry_files().is_empty() || !s.price_history_files().is_empty() || !s.advisor_files().is_empty() || !s.job_trace_files().is_empty() => {
                let refused = matches!(
                    Run::new(&s, 1, RunOptions::summary_only()),
                    Err(twin_sim::fabric::BuildError::RecordingNotLoaded { .. }
                        | twin_sim::fabric::BuildError::PriceHistoryNotLoaded { .. }
                        | twin_sim::fabric::BuildError::AdvisorNotLoaded { .. }
                        | twin_sim::fabric::BuildError::JobTraceNotLoaded { .. })
                );
                prop_assert!(refused);
            }
            Ok(s) => {
                // The first two minutes: enough to build, place and serve.
                let mut run = Run::new(&s, 1, RunOptions::summary_only()).unwrap();
                run.advance_to(SimTime(SimDuration::from_secs(120).as_nanos()));
                prop_assert!(run.fabric().check_invariants().is_ok());
            }
        }
    }
}
