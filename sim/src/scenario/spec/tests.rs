//! Defaults: what a scenario leaves out is what the docs say, and a table
//! left out or left empty is its type's `Default`.

use super::*;
use crate::time::SimDuration;

const MINIMAL: &str = r#"
format_version = 1
name = "m"

[[pools]]
name = "p"
node_type = "p5.48xlarge"
capacity = "spot"
price = { mean_reverting = { mean = 1.0 } }
interruption = {}
failures = { mtbf = "10d" }
telemetry = { file = "t.csv" }

[[services]]
name = "s"
model = "llama-3.1-8b"
pools = ["p"]
slo = { ttft = "1s", e2e = "2s" }
arrivals = { trace = { file = "x.csv" } }
autoscaler = { metric = "ttft", target = 1.0, min = 1, max = 2, predictive = {} }

[[training]]
name = "t"
pools = ["p"]
gpus = 8
work_gpu_hours = 1.0

[[training_streams]]
name = "ts"
pools = ["p"]
jobs_per_hour = 1.0
gpus = [8]
work_gpu_hours = { median = 1.0, sigma = 1.0 }

[[job_traces]]
name = "j"
file = "j.csv"
pools = ["p"]
"#;

fn parse(text: &str) -> ScenarioSpec {
    toml::from_str(text).unwrap()
}

/// Debug text, for the tables that have no `PartialEq`.
fn dbg<T: std::fmt::Debug>(v: &T) -> String {
    format!("{v:?}")
}

fn secs(s: u64) -> Dur {
    Dur(SimDuration::from_secs(s))
}

#[test]
fn tables_left_out_or_empty_are_their_default() {
    let spec = parse(MINIMAL);
    assert_eq!(dbg(&spec.billing), dbg(&BillingSpec::default()));
    assert_eq!(dbg(&spec.scheduler), dbg(&SchedulerSpec::default()));
    let s = &spec.services[0];
    assert_eq!(dbg(&s.scheduling), dbg(&SchedulingSpec::default()));
    assert_eq!(dbg(&s.calibration), dbg(&CalibrationSpec::default()));
    assert_eq!(dbg(&s.service_time), dbg(&ServiceTimeSpec::default()));
    assert_eq!(dbg(&s.autoscaler.as_ref().unwrap().predictive), dbg(&Some(PredictiveSpec::default())));
    assert_eq!(dbg(&spec.pools[0].interruption), dbg(&Some(InterruptionSpec::default())));

    let empty = parse(&format!(
        "{MINIMAL}\n[billing]\n[scheduler]\n[[services]]\nname = \"e\"\nmodel = \"m\"\npools = []\nslo = {{ ttft = \"1s\", e2e = \"2s\" }}\narrivals = {{ poisson = {{ rate = 1.0 }} }}\ncalibration = {{}}\nscheduling = {{}}\n"
    ));
    assert_eq!(dbg(&empty.billing), dbg(&BillingSpec::default()));
    assert_eq!(dbg(&empty.scheduler), dbg(&SchedulerSpec::default()));
    assert_eq!(dbg(&empty.services[1].calibration), dbg(&CalibrationSpec::default()));
    assert_eq!(dbg(&empty.services[1].scheduling), dbg(&SchedulingSpec::default()));
}

#[test]
fn the_all_default_tables_hold_the_documented_values() {
    let b = BillingSpec::default();
    assert_eq!(
        (b.pue, b.energy_price_per_kwh, b.minimum_charge, b.ledger_period, b.currency.as_str()),
        (1.3, 0.12, secs(60), secs(3_600), "USD")
    );
    let c = CalibrationSpec::default();
    assert_eq!((c.mfu_prefill, c.mfu_decode, c.mbu_weights, c.mbu_kv), (None, None, 0.72, 0.5));
    assert_eq!((c.layer_overhead.get().0, c.step_overhead.get().0, c.request_overhead.get().0), (32_000, 126_000, 4_400));
    assert_eq!((c.combine_p, c.memory_fraction, c.activation_reserve_gb), (2.0, 0.9, 2.0));
    let p = PredictiveSpec::default();
    assert_eq!((p.lead, p.season, p.alpha, p.beta, p.gamma), (secs(900), secs(86_400), 0.3, 0.01, 0.3));
    let i = InterruptionSpec::default();
    assert_eq!((i.rate_per_hour, i.band.is_none(), i.advisor.is_none(), i.notice), (None, true, true, secs(120)));
}

#[test]
fn fields_left_out_hold_the_documented_values() {
    let spec = parse(MINIMAL);
    assert_eq!((spec.seed, spec.sample_interval, spec.horizon, spec.description.as_str()), (1, secs(60), Dur::default(), ""));

    let pool = &spec.pools[0];
    assert_eq!(pool.failures.as_ref().unwrap().repair, secs(4 * 3_600));
    let Some(PriceSpec::MeanReverting(m)) = &pool.price else { panic!("{:?}", pool.price) };
    assert_eq!((m.reversion_per_hour, m.volatility, m.jumps_per_day, m.jump_size, m.tick), (0.5, 0.05, 0.0, 0.3, secs(300)));
    let t = pool.telemetry.as_ref().unwrap();
    assert_eq!((t.format, t.owner.as_str(), t.team.as_str(), t.speed, t.repeat), (TelemetryFormat::Auto, "", "default", 1.0, false));
    assert_eq!((t.idle_below_pct, t.idle_after), (5.0, secs(1_800)));

    let s = &spec.services[0];
    assert_eq!(
        (s.team.as_str(), s.gpus_per_replica, s.replicas, s.max_batch, s.max_batch_tokens, s.max_queue),
        ("default", 1, 1, 256, 2_048, 100_000)
    );
    assert_eq!(s.slo.as_ref().unwrap().target, 0.99);
    let ArrivalSpec::Trace(tr) = &s.arrivals else { panic!() };
    assert_eq!((tr.format, tr.speed, tr.repeat), (RequestTraceFormat::Auto, 1.0, false));
    let a = s.autoscaler.as_ref().unwrap();
    assert_eq!((a.interval, a.scale_up_window, a.scale_down_window, a.tolerance, a.percentile), (secs(15), secs(0), secs(300), 0.1, 0.95));

    let t = &spec.training[0];
    assert_eq!(
        (t.team.as_str(), t.checkpoint_interval, t.checkpoint_cost, t.checkpoint_on_notice, t.checkpoints),
        ("default", secs(3_600), secs(60), false, true)
    );
    let t = &spec.training_streams[0];
    assert_eq!(
        (t.team.as_str(), t.checkpoint_interval, t.checkpoint_cost, t.checkpoint_on_notice, t.checkpoints),
        ("default", secs(3_600), secs(60), false, true)
    );
    let j = &spec.job_traces[0];
    assert_eq!((j.format, j.team.as_str(), j.speed, j.work_per_gpu_hour), (JobTraceFormat::Auto, "default", 1.0, 1.0));
    assert_eq!((j.checkpoint_interval, j.checkpoint_cost, j.checkpoint_on_notice, j.checkpoints), (secs(3_600), secs(60), false, true));

    let h: PriceHistorySpec = toml::from_str("file = \"h.csv\"\nstart = \"2025-01-01\"").unwrap();
    assert_eq!((h.format, h.capacity, h.speed), (PriceHistoryFormat::Auto, PriceHistoryCapacity::Spot, 1.0));
    let e: ExternalSchedulerSpec = toml::from_str("command = [\"x\"]").unwrap();
    assert_eq!(e.timeout, secs(10));
    let p: PodTraceSpec = toml::from_str("pods = \"p.csv\"\nnodes = \"n.csv\"").unwrap();
    assert_eq!((p.format, p.fill_to, p.report_every, p.profiles.len()), (PodTraceFormat::Openb, 1.3, 0.05, 0));
}

#[test]
fn required_fields_stay_required() {
    fn missing<T: serde::de::DeserializeOwned + std::fmt::Debug>(text: &str) -> String {
        toml::from_str::<T>(text).unwrap_err().to_string()
    }
    assert!(missing::<ScenarioSpec>("format_version = 1").contains("missing field `name`"));
    assert!(missing::<PodTraceSpec>("pods = \"p.csv\"").contains("missing field `nodes`"));
    assert!(missing::<PriceHistorySpec>("file = \"h.csv\"").contains("missing field `start`"));
    assert!(missing::<ServiceSpec>("name = \"s\"").contains("missing field `pools`"));
    assert!(missing::<FailureSpec>("").contains("missing field `mtbf`"));
    assert!(missing::<ExternalSchedulerSpec>("").contains("missing field `command`"));
    assert!(missing::<AdvisorRefSpec>("").contains("missing field `file`"));
}

#[test]
fn every_shipped_scenario_is_accepted() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut seen = 0;
    for dir in ["scenarios", "examples"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                crate::scenario::Scenario::from_toml(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
                seen += 1;
            }
        }
    }
    assert!(seen >= 10, "{seen} scenarios");
}
