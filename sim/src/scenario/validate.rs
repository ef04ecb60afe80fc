//! Checks of a parsed scenario: values that make sense, names that resolve, a
//! fleet that can hold its workloads.
//!
//! Each check reports a [`Problem`] with the path of the field at fault and a
//! hint; the caller turns paths into lines and columns. Checks never stop at
//! the first problem, so a user fixes a file in one pass.

use super::duration::Dur;
use super::error::ErrorKind;
use super::locate::FieldPath;
use super::spec::ProfileChoice;
use super::spec::*;
use crate::catalogue::Catalogue;
use crate::time::SimDuration;
use std::collections::BTreeMap;

/// One problem found by a check, before it is located in the text.
#[derive(Clone, Debug)]
pub struct Problem {
    /// What kind of mistake.
    pub kind: ErrorKind,
    /// The field at fault.
    pub path: FieldPath,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

struct Checker<'a> {
    catalogue: &'a Catalogue,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, kind: ErrorKind, path: FieldPath, message: impl Into<String>, hint: impl Into<Option<String>>) {
        self.problems.push(Problem { kind, path, message: message.into(), hint: hint.into() });
    }

    fn non_negative(&mut self, path: FieldPath, what: &str, v: f64) {
        if !(v >= 0.0) || !v.is_finite() {
            self.report(ErrorKind::InvalidValue, path, format!("{what} must be a finite number ≥ 0, not {v}"), None);
        }
    }

    fn positive(&mut self, path: FieldPath, what: &str, v: f64) {
        if !(v > 0.0) || !v.is_finite() {
            self.report(ErrorKind::InvalidValue, path, format!("{what} must be a finite number > 0, not {v}"), None);
        }
    }

    fn fraction(&mut self, path: FieldPath, what: &str, v: f64, zero_ok: bool) {
        let ok = if zero_ok { (0.0..=1.0).contains(&v) } else { v > 0.0 && v <= 1.0 };
        if !ok {
            let range = if zero_ok { "between 0 and 1" } else { "above 0 and at most 1" };
            self.report(ErrorKind::InvalidValue, path, format!("{what} must be {range}, not {v}"), None);
        }
    }

    /// Rejects a duration shorter than `min`: such settings would make the
    /// simulation spin on one instant without learning anything.
    fn at_least(&mut self, path: FieldPath, what: &str, d: Dur, min: SimDuration) {
        if d.get() < min {
            self.report(
                ErrorKind::InvalidValue,
                path,
                format!("{what} of {} is shorter than the shortest Twin accepts, {min}", d.get()),
                None,
            );
        }
    }

    /// Rejects a value above a sanity limit.
    fn at_most(&mut self, path: FieldPath, what: &str, v: f64, max: f64) {
        if v > max {
            self.report(ErrorKind::InvalidValue, path, format!("{what} of {v} is above Twin's limit of {max}"), Some(LIMITS_HINT.into()));
        }
    }

    fn count_at_most(&mut self, path: FieldPath, what: &str, v: u32) {
        if v > MAX_COUNT {
            self.report(
                ErrorKind::InvalidValue,
                path,
                format!("{what} of {v} is above Twin's limit of {MAX_COUNT}"),
                Some(LIMITS_HINT.into()),
            );
        }
    }
}

/// Most requests per second a service may receive.
pub const MAX_REQUEST_RATE: f64 = 100_000.0;
/// Most interruptions per node-hour.
pub const MAX_INTERRUPTION_RATE: f64 = 60.0;
/// Most training jobs per hour a stream may submit.
pub const MAX_JOB_RATE: f64 = 10_000.0;
/// Most nodes, replicas, batch slots or accelerators in one setting.
pub const MAX_COUNT: u32 = 1_000_000;
/// Longest horizon: a century.
pub const MAX_HORIZON: SimDuration = SimDuration::from_hours(100 * 8_760);
const LIMITS_HINT: &str = "Twin simulates each request, node and job; see the limits in docs/scenario-format.md";

/// Checks a scenario against the catalogue it will run with (built-in plus
/// the scenario's own entries). An empty result means it can run.
pub fn check(spec: &ScenarioSpec, catalogue: &Catalogue) -> Vec<Problem> {
    let mut c = Checker { catalogue, problems: Vec::new() };
    let root = FieldPath::root();
    if spec.format_version != FORMAT_VERSION {
        c.report(
            ErrorKind::UnsupportedVersion,
            root.key("format_version"),
            format!("format_version {} is not one this Twin reads", spec.format_version),
            Some(format!("set `format_version = {FORMAT_VERSION}` and check the file against docs/scenario-format.md")),
        );
    }
    if let Some(t) = &spec.pod_trace {
        check_pod_trace(&mut c, spec, t);
        return c.problems;
    }
    if spec.horizon.get().is_zero() {
        c.report(
            ErrorKind::InvalidValue,
            root.key("horizon"),
            "the horizon is empty: nothing would be simulated",
            Some("set `horizon` to how long to simulate, such as \"7d\" or \"12h\"".into()),
        );
    }
    if spec.horizon.get() > MAX_HORIZON {
        c.report(
            ErrorKind::InvalidValue,
            root.key("horizon"),
            format!("a horizon of {} is longer than Twin's limit of a century", spec.horizon.get()),
            None,
        );
    }
    c.at_least(root.key("sample_interval"), "the sample interval", spec.sample_interval, SimDuration::from_secs(1));
    check_billing(&mut c, &spec.billing, &root.key("billing"));
    check_catalogue_entries(&mut c, spec);
    let pools = check_pools(&mut c, spec);
    check_workloads(&mut c, spec, &pools);
    check_scheduler(&mut c, spec);
    c.problems
}

fn check_scheduler(c: &mut Checker<'_>, spec: &ScenarioSpec) {
    let p = FieldPath::root().key("scheduler");
    let s = &spec.scheduler;
    if s.external.is_some() && s.profile.is_some() {
        c.report(
            ErrorKind::InvalidValue,
            p.key("external"),
            "both an external scheduler and a profile are given",
            Some("an external scheduler replaces Twin's: keep one of `profile` and `external`".into()),
        );
    }
    if let Some(ext) = &s.external {
        if ext.command.is_empty() || ext.command[0].trim().is_empty() {
            c.report(
                ErrorKind::InvalidValue,
                p.key("external").key("command"),
                "the command is empty",
                Some("give the program and its arguments, such as `[\"python3\", \"my_scheduler.py\"]`".into()),
            );
        }
        c.at_least(p.key("external").key("timeout"), "the timeout", ext.timeout, SimDuration::from_millis(1));
    }
    if let Some(choice) = &s.profile {
        check_profile(c, choice, &p.key("profile"), true);
    }
    if let Some(pol) = &spec.policies
        && pol.files.is_empty()
    {
        c.report(
            ErrorKind::InvalidValue,
            FieldPath::root().key("policies").key("files"),
            "no policy files",
            Some("list Rego files or folders, such as `[\"../policies\"]`".into()),
        );
    }
}

/// Checks a profile choice at `path`; `spot_first` allows the fixed rule's name.
fn check_profile(c: &mut Checker<'_>, choice: &ProfileChoice, path: &FieldPath, spot_first: bool) {
    let known = || {
        let mut names: Vec<&str> = twin_scheduler::BUILTIN_PROFILES.iter().map(|b| b.0).collect();
        if spot_first {
            names.push(crate::fabric::SPOT_FIRST);
        }
        format!("built-in profiles: {}", names.join(", "))
    };
    match choice {
        ProfileChoice::Builtin(name) => {
            let fixed_rule = spot_first && name == crate::fabric::SPOT_FIRST;
            if !fixed_rule && !twin_scheduler::BUILTIN_PROFILES.iter().any(|b| b.0 == name) {
                c.report(ErrorKind::UnknownReference, path.clone(), format!("no scheduler profile `{name}`"), Some(known()));
            }
        }
        ProfileChoice::Custom(spec) => {
            if spec.plugins.is_empty() {
                c.report(
                    ErrorKind::InvalidValue,
                    path.key("plugins"),
                    "a profile needs plugins",
                    Some("list plugins such as `[{ name = \"resource-fit\" }, { name = \"bin-pack\" }]`".into()),
                );
            }
            for (i, plugin) in spec.plugins.iter().enumerate() {
                let pp = path.key("plugins").index(i);
                if !twin_scheduler::plugins::NAMES.contains(&plugin.name.as_str()) {
                    c.report(
                        ErrorKind::UnknownReference,
                        pp.key("name"),
                        format!("no scheduler plugin `{}`", plugin.name),
                        Some(format!("plugins: {}", twin_scheduler::plugins::NAMES.join(", "))),
                    );
                }
                c.non_negative(pp.key("weight"), "a weight", plugin.weight);
                if plugin.max_band.is_some_and(|b| b > 4) {
                    c.report(ErrorKind::InvalidValue, pp.key("max_band"), "Spot Advisor bands run from 0 to 4", None);
                }
                if plugin.max_band.is_some() && plugin.name != "interruption-aware" {
                    c.report(
                        ErrorKind::InvalidValue,
                        pp.key("max_band"),
                        format!("plugin `{}` takes no `max_band`", plugin.name),
                        Some("`max_band` belongs to `interruption-aware`".into()),
                    );
                }
            }
        }
    }
}

/// A pod-trace experiment has files, profiles and fill settings, and no fleet or workloads of its own.
fn check_pod_trace(c: &mut Checker<'_>, spec: &ScenarioSpec, t: &PodTraceSpec) {
    let p = FieldPath::root().key("pod_trace");
    for (key, present) in [
        ("pools", !spec.pools.is_empty()),
        ("services", !spec.services.is_empty()),
        ("training", !spec.training.is_empty()),
        ("training_streams", !spec.training_streams.is_empty()),
        ("job_traces", !spec.job_traces.is_empty()),
        ("policies", spec.policies.is_some()),
        ("scheduler", spec.scheduler.profile.is_some() || spec.scheduler.external.is_some()),
    ] {
        if present {
            c.report(
                ErrorKind::InvalidValue,
                FieldPath::root().key(key),
                format!("a `pod_trace` experiment takes its fleet and work from the trace, so `{key}` has no place here"),
                Some(format!(
                    "remove `{key}`, or remove `[pod_trace]` to simulate the fleet (profiles to compare go in `pod_trace.profiles`)"
                )),
            );
        }
    }
    for (key, v) in [("pods", &t.pods), ("nodes", &t.nodes)] {
        if v.trim().is_empty() {
            c.report(
                ErrorKind::InvalidValue,
                p.key(key),
                format!("no {key} file"),
                Some("give the CSV's path, relative to this file".into()),
            );
        }
    }
    for (i, choice) in t.profiles.iter().enumerate() {
        check_profile(c, choice, &p.key("profiles").index(i), false);
    }
    if !(t.fill_to > 0.0 && t.fill_to <= 10.0) {
        c.report(
            ErrorKind::InvalidValue,
            p.key("fill_to"),
            format!("fill_to is a share of GPU capacity from above 0 to 10, not {}", t.fill_to),
            Some("the FGD paper fills to 1.3".into()),
        );
    }
    if !(t.report_every >= 0.001 && t.report_every <= t.fill_to.max(0.001)) {
        c.report(
            ErrorKind::InvalidValue,
            p.key("report_every"),
            format!("report_every must be from 0.001 to fill_to ({}), not {}", t.fill_to, t.report_every),
            Some("0.05 records a point at every 5% of capacity".into()),
        );
    }
}

fn check_billing(c: &mut Checker<'_>, b: &BillingSpec, path: &FieldPath) {
    if !(b.pue >= 1.0) {
        c.report(
            ErrorKind::InvalidValue,
            path.key("pue"),
            format!("PUE must be at least 1, not {}", b.pue),
            Some("a PUE of 1.1 to 1.6 is typical".into()),
        );
    }
    c.non_negative(path.key("energy_price_per_kwh"), "the energy price", b.energy_price_per_kwh);
    c.at_least(path.key("ledger_period"), "the ledger period", b.ledger_period, SimDuration::from_secs(1));
}

fn check_catalogue_entries(c: &mut Checker<'_>, spec: &ScenarioSpec) {
    for (i, a) in spec.accelerators.iter().enumerate() {
        let p = FieldPath::root().key("accelerators").index(i);
        for (k, v) in [
            ("memory_gb", a.memory_gb),
            ("bf16_tflops", a.bf16_tflops),
            ("memory_bandwidth_tbps", a.memory_bandwidth_tbps),
            ("interconnect_gbps", a.interconnect_gbps),
            ("training_speed", a.training_speed),
        ] {
            c.positive(p.key(k), k, v);
        }
        c.non_negative(p.key("idle_watts"), "idle power", a.idle_watts);
        if !(a.max_watts >= a.idle_watts) {
            c.report(
                ErrorKind::InvalidValue,
                p.key("max_watts"),
                format!("max_watts ({}) is below idle_watts ({})", a.max_watts, a.idle_watts),
                None,
            );
        }
        c.fraction(p.key("mfu_prefill"), "prefill MFU", a.mfu_prefill, false);
        c.fraction(p.key("mfu_decode"), "decode MFU", a.mfu_decode, false);
    }
    for (i, n) in spec.node_types.iter().enumerate() {
        let p = FieldPath::root().key("node_types").index(i);
        if c.catalogue.accelerator(&n.accelerator).is_none() {
            let hint = known(c.catalogue.accelerators.iter().map(|a| a.name.as_str()));
            c.report(ErrorKind::UnknownReference, p.key("accelerator"), format!("unknown accelerator `{}`", n.accelerator), Some(hint));
        }
        if n.accelerators_per_node == 0 {
            c.report(ErrorKind::InvalidValue, p.key("accelerators_per_node"), "a node type needs at least one accelerator", None);
        }
        c.non_negative(p.key("list_price_per_hour"), "the list price", n.list_price_per_hour);
        c.non_negative(p.key("host_watts"), "host power", n.host_watts);
    }
    for (i, m) in spec.models.iter().enumerate() {
        let p = FieldPath::root().key("models").index(i);
        c.positive(p.key("parameters_b"), "the parameter count", m.parameters_b);
        c.positive(p.key("bytes_per_param"), "bytes per parameter", m.bytes_per_param);
        for (k, v) in [("layers", m.layers), ("heads", m.heads), ("kv_heads", m.kv_heads), ("head_dim", m.head_dim), ("hidden", m.hidden)] {
            if v == 0 {
                c.report(ErrorKind::InvalidValue, p.key(k), format!("`{k}` must be at least 1"), None);
            }
        }
    }
}

/// What the workload checks need to know of each pool.
struct PoolFacts {
    /// GPUs per node, if the node type resolved.
    per_node: Option<u32>,
    /// The most nodes the pool can have.
    max_nodes: u32,
    /// Accelerator memory in GB, if resolved.
    memory_gb: Option<f64>,
    /// Accelerator name, if resolved.
    accelerator: Option<String>,
    /// Whether a recording drives it (no workload may run there).
    recorded: bool,
}

fn check_pools(c: &mut Checker<'_>, spec: &ScenarioSpec) -> BTreeMap<String, PoolFacts> {
    let mut facts = BTreeMap::new();
    if spec.pools.is_empty() {
        c.report(
            ErrorKind::MissingField,
            FieldPath::root().key("pools"),
            "the fleet has no pools",
            Some("add at least one `[[pools]]` table".into()),
        );
    }
    for (i, pool) in spec.pools.iter().enumerate() {
        let p = FieldPath::root().key("pools").index(i);
        if facts.contains_key(&pool.name) {
            c.report(
                ErrorKind::Duplicate,
                p.key("name"),
                format!("a second pool is called `{}`", pool.name),
                Some("pool names must be unique".into()),
            );
        }
        let node_type = c.catalogue.node_type(&pool.node_type).map(|n| &c.catalogue.node_types[n]);
        if node_type.is_none() {
            let hint = known(c.catalogue.node_types.iter().map(|n| n.name.as_str()));
            c.report(
                ErrorKind::UnknownReference,
                p.key("node_type"),
                format!("unknown node type `{}`", pool.node_type),
                Some(hint + ", or define it under [[node_types]]"),
            );
        }
        let accel = node_type.and_then(|n| c.catalogue.accelerator(&n.accelerator)).map(|a| &c.catalogue.accelerators[a]);
        check_pool_capacity(c, pool, &p);
        if let Some(t) = &pool.telemetry {
            check_telemetry(c, pool, t, &p);
        }
        facts.insert(
            pool.name.clone(),
            PoolFacts {
                per_node: node_type.map(|n| n.accelerators_per_node),
                max_nodes: pool.max_node_count(),
                memory_gb: accel.map(|a| a.memory_gb),
                accelerator: accel.map(|a| a.name.clone()),
                recorded: pool.telemetry.is_some(),
            },
        );
    }
    facts
}

/// A recorded pool is committed capacity at a fixed price with no simulated
/// failures: the recording, not the model, says what its accelerators did.
fn check_telemetry(c: &mut Checker<'_>, pool: &PoolSpec, t: &crate::scenario::spec::TelemetrySpec, p: &FieldPath) {
    let tp = p.key("telemetry");
    if !pool.capacity.is_committed() {
        c.report(
            ErrorKind::InvalidValue,
            tp.clone(),
            format!("recorded telemetry replays onto a fixed set of accelerators, and a {} pool grows and shrinks", pool.capacity.as_str()),
            Some("use `capacity = \"on-prem\"` or `\"reserved\"` with `nodes = N` for the recorded machines".into()),
        );
    }
    if matches!(pool.price, Some(PriceSpec::MeanReverting(_) | PriceSpec::Table(_) | PriceSpec::History(_))) {
        c.report(
            ErrorKind::InvalidValue,
            p.key("price"),
            "a recorded pool is billed at a fixed price",
            Some("give `price` as a number".into()),
        );
    }
    if pool.failures.is_some() {
        c.report(
            ErrorKind::InvalidValue,
            p.key("failures"),
            "a recorded pool's outages are in its recording, not simulated",
            Some("remove `failures`".into()),
        );
    }
    if t.file.trim().is_empty() {
        c.report(ErrorKind::InvalidValue, tp.key("file"), "no recording named", Some("such as `file = \"lab.parquet\"`".into()));
    }
    c.positive(tp.key("speed"), "the replay speed", t.speed);
    if !(0.0..=100.0).contains(&t.idle_below_pct) {
        c.report(
            ErrorKind::InvalidValue,
            tp.key("idle_below_pct"),
            format!("a utilisation threshold is a percentage, not {}", t.idle_below_pct),
            Some("such as `idle_below_pct = 5`".into()),
        );
    }
    c.at_least(tp.key("idle_after"), "idle_after", t.idle_after, SimDuration::from_secs(1));
}

fn check_pool_capacity(c: &mut Checker<'_>, pool: &PoolSpec, p: &FieldPath) {
    let committed = pool.capacity.is_committed();
    for (k, v) in
        [("nodes", pool.nodes), ("max_nodes", pool.max_nodes), ("min_nodes", Some(pool.min_nodes)), ("initial_nodes", pool.initial_nodes)]
    {
        if let Some(v) = v {
            c.count_at_most(p.key(k), k, v);
        }
    }
    if committed {
        if pool.nodes.is_none() {
            c.report(
                ErrorKind::MissingField,
                p.key("nodes"),
                format!("a {} pool needs a fixed node count", pool.capacity.as_str()),
                Some("add `nodes = N`".into()),
            );
        }
        for (k, set) in
            [("min_nodes", pool.min_nodes != 0), ("max_nodes", pool.max_nodes.is_some()), ("initial_nodes", pool.initial_nodes.is_some())]
        {
            if set {
                c.report(
                    ErrorKind::InvalidValue,
                    p.key(k),
                    format!("a {} pool has a fixed size", pool.capacity.as_str()),
                    Some("use `nodes = N` instead".into()),
                );
            }
        }
    } else {
        if pool.nodes.is_some() {
            c.report(
                ErrorKind::InvalidValue,
                p.key("nodes"),
                "cloud pools grow and shrink",
                Some("use `min_nodes`, `max_nodes` and `initial_nodes`".into()),
            );
        }
        let max = pool.max_node_count();
        if pool.min_nodes > max {
            c.report(
                ErrorKind::InvalidValue,
                p.key("min_nodes"),
                format!("min_nodes ({}) is above max_nodes ({max})", pool.min_nodes),
                None,
            );
        }
        if let Some(init) = pool.initial_nodes
            && (init < pool.min_nodes || init > max)
        {
            c.report(
                ErrorKind::InvalidValue,
                p.key("initial_nodes"),
                format!("initial_nodes ({init}) is outside min_nodes..max_nodes ({}..{max})", pool.min_nodes),
                None,
            );
        }
        if max == 0 {
            c.report(
                ErrorKind::InvalidValue,
                p.key("max_nodes"),
                "the pool can never hold a node",
                Some("set `max_nodes` to at least 1".into()),
            );
        }
    }
    match pool.capacity {
        CapacityType::Spot | CapacityType::Reserved if pool.price.is_none() => {
            c.report(
                ErrorKind::MissingField,
                p.key("price"),
                format!("a {} pool needs a price", pool.capacity.as_str()),
                Some("add `price = 12.5` (per node-hour), or a `mean_reverting` or `table` process".into()),
            );
        }
        CapacityType::OnPrem if pool.capex.is_none() && pool.price.is_none() => {
            c.report(
                ErrorKind::MissingField,
                p.key("capex"),
                "an on-prem pool needs its capital cost",
                Some("add `capex = { per_node = 300000, years = 4 }`, or a `price` per node-hour".into()),
            );
        }
        _ => {}
    }
    if let Some(price) = &pool.price {
        check_price(c, price, &p.key("price"));
    }
    if let Some(capex) = &pool.capex {
        let cp = p.key("capex");
        if pool.capacity != CapacityType::OnPrem {
            c.report(
                ErrorKind::InvalidValue,
                cp.clone(),
                "only on-prem pools have a capital cost",
                Some("remove `capex`, or set `capacity = \"on-prem\"`".into()),
            );
        }
        c.non_negative(cp.key("per_node"), "the capital cost", capex.per_node);
        c.positive(cp.key("years"), "the amortisation period", capex.years);
        c.non_negative(cp.key("opex_per_node_hour"), "the running cost", capex.opex_per_node_hour);
    }
    if let Some(int) = &pool.interruption {
        let ip = p.key("interruption");
        if pool.capacity != CapacityType::Spot {
            c.report(
                ErrorKind::InvalidValue,
                ip.clone(),
                format!("{} capacity is not interrupted", pool.capacity.as_str()),
                Some("interruptions apply to spot pools only; model hardware faults with `failures`".into()),
            );
        }
        let given = [int.rate_per_hour.is_some(), int.band.is_some(), int.advisor.is_some()].iter().filter(|g| **g).count();
        if given > 1 {
            c.report(
                ErrorKind::InvalidValue,
                ip.clone(),
                "more than one of `rate_per_hour`, `band` and `advisor` is given",
                Some("keep one of them".into()),
            );
        } else if given == 0 {
            c.report(
                ErrorKind::MissingField,
                ip.clone(),
                "no interruption rate",
                Some("add `rate_per_hour = 0.01`, `band = \"5-10%\"` or `advisor = { file = \"spot-advisor-data.json\" }`".into()),
            );
        }
        if let Some(r) = int.rate_per_hour {
            if !(r >= 0.0) || !r.is_finite() {
                c.report(
                    ErrorKind::InvalidValue,
                    ip.key("rate_per_hour"),
                    format!("negative or invalid rate {r}"),
                    Some("a rate is interruptions per node-hour and must be ≥ 0 (0.005 is about 3.6 a month)".into()),
                );
            }
            c.at_most(ip.key("rate_per_hour"), "an interruption rate", r, MAX_INTERRUPTION_RATE);
        }
        if let Some(b) = &int.band
            && super::super::market::band_monthly_fraction(b).is_none()
        {
            c.report(
                ErrorKind::InvalidValue,
                ip.key("band"),
                format!("unknown interruption band `{b}`"),
                Some("use one of \"<5%\", \"5-10%\", \"10-15%\", \"15-20%\", \">20%\" (AWS Spot Advisor)".into()),
            );
        }
        if let Some(a) = &int.advisor
            && a.file.trim().is_empty()
        {
            c.report(ErrorKind::InvalidValue, ip.key("advisor").key("file"), "no Spot Advisor file named", None);
        }
    }
    if let Some(s) = &pool.stockouts {
        let sp = p.key("stockouts");
        if pool.capacity != CapacityType::Spot {
            c.report(ErrorKind::InvalidValue, sp.clone(), "only spot pools run out of capacity here", None);
        }
        c.at_least(sp.key("mean_available"), "mean_available", s.mean_available, SimDuration::from_secs(1));
        c.at_least(sp.key("mean_duration"), "mean_duration", s.mean_duration, SimDuration::from_secs(1));
    }
    if let Some(f) = &pool.failures {
        c.at_least(p.key("failures").key("mtbf"), "the MTBF", f.mtbf, SimDuration::from_secs(60));
    }
    if let Some(e) = pool.energy_price_per_kwh {
        c.non_negative(p.key("energy_price_per_kwh"), "the energy price", e);
    }
    if let Some(pue) = pool.pue
        && !(pue >= 1.0)
    {
        c.report(ErrorKind::InvalidValue, p.key("pue"), format!("PUE must be at least 1, not {pue}"), None);
    }
    if let Some(l) = pool.list_price_per_hour {
        c.non_negative(p.key("list_price_per_hour"), "the list price", l);
    }
}

fn check_price(c: &mut Checker<'_>, price: &PriceSpec, p: &FieldPath) {
    match price {
        PriceSpec::History(h) => {
            let hp = p.key("history");
            if h.file.trim().is_empty() {
                c.report(ErrorKind::InvalidValue, hp.key("file"), "no price history named", None);
            }
            if crate::time::parse_date_ns(&h.start).is_none() {
                c.report(
                    ErrorKind::InvalidValue,
                    hp.key("start"),
                    format!("`{}` is not a date", h.start),
                    Some("write it as `YYYY-MM-DD`, such as \"2025-01-06\"".into()),
                );
            }
            c.positive(hp.key("speed"), "the replay speed", h.speed);
        }
        PriceSpec::Fixed(v) => {
            if !(*v >= 0.0) || !v.is_finite() {
                c.report(
                    ErrorKind::InvalidValue,
                    p.clone(),
                    format!("negative or invalid price {v}"),
                    Some("prices are per node-hour and must be ≥ 0".into()),
                );
            }
        }
        PriceSpec::MeanReverting(m) => {
            let mp = p.key("mean_reverting");
            c.positive(mp.key("mean"), "the mean price", m.mean);
            c.non_negative(mp.key("reversion_per_hour"), "the reversion speed", m.reversion_per_hour);
            c.non_negative(mp.key("volatility"), "the volatility", m.volatility);
            c.non_negative(mp.key("jumps_per_day"), "the jump rate", m.jumps_per_day);
            c.non_negative(mp.key("jump_size"), "the jump size", m.jump_size);
            c.at_least(mp.key("tick"), "the price tick", m.tick, SimDuration::from_secs(1));
            if let Some(i) = m.initial {
                c.non_negative(mp.key("initial"), "the initial price", i);
            }
            if let (Some(f), Some(cap)) = (m.floor, m.cap)
                && f > cap
            {
                c.report(ErrorKind::InvalidValue, mp.key("floor"), format!("floor ({f}) is above cap ({cap})"), None);
            }
            if let Some(f) = m.floor {
                c.non_negative(mp.key("floor"), "the floor", f);
            }
        }
        PriceSpec::Table(t) => {
            let tp = p.key("table");
            if t.points.is_empty() {
                c.report(
                    ErrorKind::InvalidValue,
                    tp.key("points"),
                    "the price table is empty",
                    Some("add points such as `{ at = \"0h\", price = 20.0 }`".into()),
                );
            }
            if let Some(first) = t.points.first()
                && !first.at.get().is_zero()
            {
                c.report(ErrorKind::InvalidValue, tp.key("points").index(0).key("at"), "the first price point must be at \"0s\"", None);
            }
            for (i, pt) in t.points.iter().enumerate() {
                let pp = tp.key("points").index(i);
                c.non_negative(pp.key("price"), "the price", pt.price);
                if i > 0 && pt.at <= t.points[i - 1].at {
                    c.report(ErrorKind::InvalidValue, pp.key("at"), "price points must be in increasing time", None);
                }
            }
            if let (Some(r), Some(last)) = (t.repeat_every, t.points.last())
                && r <= last.at
            {
                c.report(
                    ErrorKind::InvalidValue,
                    tp.key("repeat_every"),
                    "the repeat period must be longer than the last point's time",
                    None,
                );
            }
        }
    }
}

fn check_workloads(c: &mut Checker<'_>, spec: &ScenarioSpec, pools: &BTreeMap<String, PoolFacts>) {
    let mut names: BTreeMap<String, FieldPath> = BTreeMap::new();
    let mut unique = |c: &mut Checker<'_>, name: &str, path: FieldPath| {
        if names.insert(name.to_string(), path.clone()).is_some() {
            c.report(
                ErrorKind::Duplicate,
                path,
                format!("a second workload is called `{name}`"),
                Some("services, training jobs and training streams share one namespace of names".into()),
            );
        }
    };
    for (i, s) in spec.services.iter().enumerate() {
        let p = FieldPath::root().key("services").index(i);
        unique(c, &s.name, p.key("name"));
        check_service(c, s, &p, pools);
    }
    for (i, t) in spec.training.iter().enumerate() {
        let p = FieldPath::root().key("training").index(i);
        unique(c, &t.name, p.key("name"));
        check_pool_refs(c, &t.pools, &p, pools);
        check_gang(c, t.gpus, &t.pools, &p.key("gpus"), pools);
        c.positive(p.key("work_gpu_hours"), "the work", t.work_gpu_hours);
        c.at_most(p.key("work_gpu_hours"), "the work", t.work_gpu_hours, 1e9);
        check_execution(c, &p, t.checkpoint_interval, &t.speed);
    }
    for (i, t) in spec.job_traces.iter().enumerate() {
        let p = FieldPath::root().key("job_traces").index(i);
        unique(c, &t.name, p.key("name"));
        check_pool_refs(c, &t.pools, &p, pools);
        if t.file.trim().is_empty() {
            c.report(ErrorKind::InvalidValue, p.key("file"), "no job trace named", None);
        }
        c.positive(p.key("speed"), "the replay speed", t.speed);
        c.positive(p.key("work_per_gpu_hour"), "the work per GPU-hour", t.work_per_gpu_hour);
        c.at_least(p.key("checkpoint_interval"), "the checkpoint interval", t.checkpoint_interval, SimDuration::from_secs(1));
    }
    for (i, t) in spec.training_streams.iter().enumerate() {
        let p = FieldPath::root().key("training_streams").index(i);
        unique(c, &t.name, p.key("name"));
        check_pool_refs(c, &t.pools, &p, pools);
        if !(t.jobs_per_hour >= 0.0) || !t.jobs_per_hour.is_finite() {
            c.report(
                ErrorKind::InvalidValue,
                p.key("jobs_per_hour"),
                format!("negative or invalid rate {}", t.jobs_per_hour),
                Some("a rate is jobs per hour and must be ≥ 0".into()),
            );
        }
        c.at_most(p.key("jobs_per_hour"), "a job rate", t.jobs_per_hour, MAX_JOB_RATE);
        if let Some(m) = t.max_jobs {
            c.count_at_most(p.key("max_jobs"), "max_jobs", m);
        }
        if t.gpus.is_empty() {
            c.report(
                ErrorKind::InvalidValue,
                p.key("gpus"),
                "no gang sizes to draw from",
                Some("list sizes such as `gpus = [8, 16]`".into()),
            );
        }
        for (j, g) in t.gpus.iter().enumerate() {
            check_gang(c, *g, &t.pools, &p.key("gpus").index(j), pools);
        }
        c.positive(p.key("work_gpu_hours").key("median"), "the median work", t.work_gpu_hours.median);
        c.non_negative(p.key("work_gpu_hours").key("sigma"), "sigma", t.work_gpu_hours.sigma);
        if let Some(stop) = t.stop
            && stop < t.start
        {
            c.report(ErrorKind::InvalidValue, p.key("stop"), "the stream stops before it starts", None);
        }
        check_execution(c, &p, t.checkpoint_interval, &t.speed);
    }
}

fn check_pool_refs(c: &mut Checker<'_>, refs: &[String], p: &FieldPath, pools: &BTreeMap<String, PoolFacts>) {
    if refs.is_empty() {
        c.report(
            ErrorKind::InvalidValue,
            p.key("pools"),
            "no pools to run in",
            Some("list pool names, such as `pools = [\"h100-spot\"]`".into()),
        );
    }
    for (j, name) in refs.iter().enumerate() {
        match pools.get(name) {
            None => {
                let hint = known(pools.keys().map(String::as_str));
                c.report(ErrorKind::UnknownReference, p.key("pools").index(j), format!("pool `{name}` does not exist"), Some(hint));
            }
            Some(f) if f.recorded => c.report(
                ErrorKind::InvalidValue,
                p.key("pools").index(j),
                format!("pool `{name}` replays recorded telemetry: what its accelerators did is in the recording"),
                Some("run simulated work in another pool".into()),
            ),
            Some(_) => {}
        }
    }
}

fn check_gang(c: &mut Checker<'_>, gpus: u32, refs: &[String], p: &FieldPath, pools: &BTreeMap<String, PoolFacts>) {
    c.count_at_most(p.clone(), "a gang", gpus);
    if gpus == 0 {
        c.report(ErrorKind::InvalidValue, p.clone(), "a gang needs at least one accelerator", None);
        return;
    }
    let known_pools: Vec<(&String, &PoolFacts)> = refs.iter().filter_map(|r| pools.get_key_value(r)).collect();
    let fits = |f: &PoolFacts| f.per_node.is_some_and(|n| gang_fits(gpus, n, f.max_nodes));
    if !known_pools.is_empty() && !known_pools.iter().any(|(_, f)| fits(f)) {
        let (name, f) =
            known_pools.iter().max_by_key(|(_, f)| f.per_node.unwrap_or(0) as u64 * f.max_nodes as u64).copied().unwrap_or(known_pools[0]);
        let per = f.per_node.unwrap_or(0);
        let hint = if per > 0 && gpus > per && !gpus.is_multiple_of(per) {
            format!("a gang spread over nodes takes whole nodes: use a multiple of {per}, or {per} or fewer")
        } else {
            format!(
                "the largest of its pools, `{name}`, holds {} ({} nodes × {per}); lower `gpus` or raise that pool's size",
                per as u64 * f.max_nodes as u64,
                f.max_nodes
            )
        };
        c.report(ErrorKind::Unsatisfiable, p.clone(), format!("a gang of {gpus} accelerators fits in none of its pools"), Some(hint));
    }
}

/// Whether a gang of `gpus` can be placed in a pool of nodes with `per_node`
/// accelerators and at most `max_nodes` nodes: within one node, or over whole nodes.
pub fn gang_fits(gpus: u32, per_node: u32, max_nodes: u32) -> bool {
    per_node > 0 && (gpus <= per_node && max_nodes > 0 || gpus.is_multiple_of(per_node) && gpus / per_node <= max_nodes)
}

fn check_execution(c: &mut Checker<'_>, p: &FieldPath, interval: Dur, speed: &BTreeMap<String, f64>) {
    c.at_least(p.key("checkpoint_interval"), "the checkpoint interval", interval, SimDuration::from_secs(1));
    for (k, v) in speed {
        if c.catalogue.accelerator(k).is_none() {
            let hint = known(c.catalogue.accelerators.iter().map(|a| a.name.as_str()));
            c.report(ErrorKind::UnknownReference, p.key("speed").key(k), format!("unknown accelerator `{k}`"), Some(hint));
        }
        c.positive(p.key("speed").key(k), "a speed", *v);
        c.at_most(p.key("speed").key(k), "a speed", *v, 1_000.0);
    }
}

fn check_service(c: &mut Checker<'_>, s: &ServiceSpec, p: &FieldPath, pools: &BTreeMap<String, PoolFacts>) {
    check_pool_refs(c, &s.pools, p, pools);
    let model = c.catalogue.model(&s.model).map(|m| c.catalogue.models[m].clone());
    if model.is_none() {
        let hint = known(c.catalogue.models.iter().map(|m| m.name.as_str()));
        c.report(
            ErrorKind::UnknownReference,
            p.key("model"),
            format!("unknown model `{}`", s.model),
            Some(hint + ", or define it under [[models]]"),
        );
    }
    if s.gpus_per_replica == 0 {
        c.report(ErrorKind::InvalidValue, p.key("gpus_per_replica"), "a replica needs at least one accelerator", None);
    }
    let resolved: Vec<(&String, &PoolFacts)> = s.pools.iter().filter_map(|r| pools.get_key_value(r)).collect();
    if s.gpus_per_replica > 0 && !resolved.is_empty() {
        let largest = resolved.iter().filter_map(|(_, f)| f.per_node).max().unwrap_or(0);
        if largest < s.gpus_per_replica {
            c.report(
                ErrorKind::Unsatisfiable,
                p.key("gpus_per_replica"),
                format!("a replica needs {} accelerators on one node, but the largest node in its pools has {largest}", s.gpus_per_replica),
                Some("lower `gpus_per_replica` or add a pool of larger nodes".into()),
            );
        } else if let Some(m) = &model {
            let need_gb = m.weight_bytes() / 1e9;
            let fits = resolved.iter().any(|(_, f)| {
                f.per_node.is_some_and(|n| n >= s.gpus_per_replica)
                    && f.memory_gb.is_some_and(|mem| usable_gb(mem, &s.calibration) * f64::from(s.gpus_per_replica) > need_gb)
            });
            if !fits {
                let accel = resolved.iter().find_map(|(_, f)| f.accelerator.clone()).unwrap_or_default();
                c.report(
                    ErrorKind::Unsatisfiable,
                    p.key("model"),
                    format!(
                        "`{}` needs {need_gb:.0} GB of weights, more than {} × {accel} can hold beside a KV cache",
                        m.name, s.gpus_per_replica
                    ),
                    Some("raise `gpus_per_replica` (tensor parallelism) or use pools of larger accelerators".into()),
                );
            }
        }
    }
    for (k, v) in
        [("replicas", s.replicas), ("max_batch", s.max_batch), ("gpus_per_replica", s.gpus_per_replica), ("max_queue", s.max_queue)]
    {
        c.count_at_most(p.key(k), k, v);
    }
    if s.max_batch == 0 {
        c.report(ErrorKind::InvalidValue, p.key("max_batch"), "max_batch must be at least 1", None);
    }
    if s.max_batch_tokens == 0 {
        c.report(ErrorKind::InvalidValue, p.key("max_batch_tokens"), "max_batch_tokens must be at least 1", None);
    }
    check_calibration(c, &s.calibration, &p.key("calibration"));
    match &s.service_time {
        ServiceTimeSpec::Roofline => {}
        ServiceTimeSpec::Exponential { mean } => {
            c.at_least(p.key("service_time").key("exponential").key("mean"), "the mean service time", *mean, SimDuration(1_000))
        }
        ServiceTimeSpec::Fixed { duration } => {
            c.at_least(p.key("service_time").key("fixed").key("duration"), "the service time", *duration, SimDuration(1_000))
        }
    }
    c.fraction(p.key("slo").key("target"), "the SLO target", s.slo.target, false);
    check_arrivals(c, &s.arrivals, &p.key("arrivals"));
    let traced = matches!(s.arrivals, ArrivalSpec::Trace(_));
    for (key, tokens) in [("prompt_tokens", &s.prompt_tokens), ("output_tokens", &s.output_tokens)] {
        match tokens {
            Some(t) => check_tokens(c, t, &p.key(key)),
            None if !traced => c.report(
                ErrorKind::MissingField,
                p.key(key),
                format!("`{key}` is required"),
                Some(format!(
                    "such as `{key} = {{ lognormal = {{ median = 500, sigma = 0.9 }} }}`; only a replayed trace brings its own tokens"
                )),
            ),
            None => {}
        }
    }
    if let Some(a) = &s.autoscaler {
        let ap = p.key("autoscaler");
        c.positive(ap.key("target"), "the target", a.target);
        if a.min > a.max {
            c.report(ErrorKind::InvalidValue, ap.key("min"), format!("min ({}) is above max ({})", a.min, a.max), None);
        }
        if a.max == 0 {
            c.report(ErrorKind::InvalidValue, ap.key("max"), "max must be at least 1", None);
        }
        if s.replicas < a.min || s.replicas > a.max {
            c.report(
                ErrorKind::InvalidValue,
                p.key("replicas"),
                format!("{} replicas is outside the autoscaler's range {}..{}", s.replicas, a.min, a.max),
                None,
            );
        }
        c.at_least(ap.key("interval"), "the interval", a.interval, SimDuration::from_secs(1));
        c.count_at_most(ap.key("max"), "max", a.max);
        c.non_negative(ap.key("tolerance"), "the tolerance", a.tolerance);
        if a.max_step_up == Some(0) {
            c.report(ErrorKind::InvalidValue, ap.key("max_step_up"), "max_step_up must be at least 1", None);
        }
        if a.max_step_down == Some(0) {
            c.report(ErrorKind::InvalidValue, ap.key("max_step_down"), "max_step_down must be at least 1", None);
        }
        if !(a.percentile > 0.0 && a.percentile <= 1.0) {
            c.report(
                ErrorKind::InvalidValue,
                ap.key("percentile"),
                format!("percentile {} is not in (0, 1]", a.percentile),
                Some("0.95 holds the P95 at the target".into()),
            );
        }
    }
}

/// Accelerator memory (GB) an engine may use after the activation reserve.
pub fn usable_gb(memory_gb: f64, cal: &CalibrationSpec) -> f64 {
    memory_gb * cal.memory_fraction - cal.activation_reserve_gb
}

fn check_calibration(c: &mut Checker<'_>, cal: &CalibrationSpec, p: &FieldPath) {
    if let Some(m) = cal.mfu_prefill {
        c.fraction(p.key("mfu_prefill"), "prefill MFU", m, false);
    }
    if let Some(m) = cal.mfu_decode {
        c.fraction(p.key("mfu_decode"), "decode MFU", m, false);
    }
    c.fraction(p.key("mbu_weights"), "mbu_weights", cal.mbu_weights, false);
    c.fraction(p.key("mbu_kv"), "mbu_kv", cal.mbu_kv, false);
    c.fraction(p.key("memory_fraction"), "memory_fraction", cal.memory_fraction, false);
    c.non_negative(p.key("activation_reserve_gb"), "the activation reserve", cal.activation_reserve_gb);
    if !(cal.combine_p == 0.0 || cal.combine_p >= 1.0) {
        c.report(
            ErrorKind::InvalidValue,
            p.key("combine_p"),
            format!("combine_p must be 0 (max) or at least 1, not {}", cal.combine_p),
            None,
        );
    }
}

fn check_arrivals(c: &mut Checker<'_>, a: &ArrivalSpec, p: &FieldPath) {
    let rate_hint = || Some("a rate is requests per second and must be ≥ 0".to_string());
    let rate = |c: &mut Checker<'_>, path: FieldPath, v: f64| {
        if !(v >= 0.0) || !v.is_finite() {
            c.report(ErrorKind::InvalidValue, path, format!("negative or invalid rate {v}"), rate_hint());
        } else {
            c.at_most(path, "a request rate", v, MAX_REQUEST_RATE);
        }
    };
    match a {
        ArrivalSpec::Poisson { rate: r } => rate(c, p.key("poisson").key("rate"), *r),
        ArrivalSpec::Mmpp { rates, mean_durations } => {
            let mp = p.key("mmpp");
            for (i, r) in rates.iter().enumerate() {
                rate(c, mp.key("rates").index(i), *r);
            }
            for (i, d) in mean_durations.iter().enumerate() {
                c.at_least(mp.key("mean_durations").index(i), "a state's mean duration", *d, SimDuration::from_millis(1));
            }
        }
        ArrivalSpec::Diurnal { mean_rate, amplitude, peak: _ } => {
            rate(c, p.key("diurnal").key("mean_rate"), *mean_rate);
            c.fraction(p.key("diurnal").key("amplitude"), "the amplitude", *amplitude, true);
        }
        ArrivalSpec::Piecewise { points, repeat_every } => {
            let pp = p.key("piecewise");
            if points.is_empty() {
                c.report(
                    ErrorKind::InvalidValue,
                    pp.key("points"),
                    "the rate table is empty",
                    Some("add points such as `{ at = \"0h\", rate = 5.0 }`".into()),
                );
            }
            if points.first().is_some_and(|f| !f.at.get().is_zero()) {
                c.report(ErrorKind::InvalidValue, pp.key("points").index(0).key("at"), "the first rate point must be at \"0s\"", None);
            }
            for (i, pt) in points.iter().enumerate() {
                rate(c, pp.key("points").index(i).key("rate"), pt.rate);
                if i > 0 && pt.at <= points[i - 1].at {
                    c.report(ErrorKind::InvalidValue, pp.key("points").index(i).key("at"), "rate points must be in increasing time", None);
                }
            }
            if let (Some(r), Some(last)) = (repeat_every, points.last())
                && *r <= last.at
            {
                c.report(
                    ErrorKind::InvalidValue,
                    pp.key("repeat_every"),
                    "the repeat period must be longer than the last point's time",
                    None,
                );
            }
        }
        ArrivalSpec::Hawkes { baseline, branching, decay } => {
            let hp = p.key("hawkes");
            rate(c, hp.key("baseline"), *baseline);
            if !(0.0..1.0).contains(branching) {
                c.report(
                    ErrorKind::InvalidValue,
                    hp.key("branching"),
                    format!("branching must be in [0, 1), not {branching}"),
                    Some("at 1 or more each burst triggers more than one burst on average and the rate explodes".into()),
                );
            }
            c.at_least(hp.key("decay"), "the decay", *decay, SimDuration::from_millis(1));
        }
        ArrivalSpec::Trace(t) => {
            let tp = p.key("trace");
            if t.file.trim().is_empty() {
                c.report(
                    ErrorKind::InvalidValue,
                    tp.key("file"),
                    "the trace file is empty",
                    Some("a path relative to the scenario file".into()),
                );
            }
            if !(t.speed > 0.0 && t.speed <= 1e6) {
                c.report(
                    ErrorKind::InvalidValue,
                    tp.key("speed"),
                    format!("speed {} is not in (0, 1e6]", t.speed),
                    Some("1 replays in real time, 2 twice as fast".into()),
                );
            }
        }
    }
}

fn check_tokens(c: &mut Checker<'_>, t: &TokenSpec, p: &FieldPath) {
    match t {
        TokenSpec::Fixed(n) => {
            if *n == 0 {
                c.report(ErrorKind::InvalidValue, p.clone(), "a request has at least one token", None);
            }
        }
        TokenSpec::Uniform { min, max } => {
            if min > max || *min == 0 {
                c.report(ErrorKind::InvalidValue, p.key("uniform"), format!("need 1 ≤ min ≤ max, got min {min} and max {max}"), None);
            }
        }
        TokenSpec::Lognormal { median, sigma, max } => {
            c.positive(p.key("lognormal").key("median"), "the median", *median);
            c.non_negative(p.key("lognormal").key("sigma"), "sigma", *sigma);
            if *max == Some(0) {
                c.report(ErrorKind::InvalidValue, p.key("lognormal").key("max"), "max must be at least 1", None);
            }
        }
        TokenSpec::Geometric { mean } => {
            if !(*mean >= 1.0) || !mean.is_finite() {
                c.report(ErrorKind::InvalidValue, p.key("geometric").key("mean"), format!("the mean must be at least 1, not {mean}"), None);
            }
        }
    }
}

fn known<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    format!("known: {}", v.join(", "))
}
