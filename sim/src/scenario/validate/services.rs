//! Checks of inference services: model and replica fit, engine limits, calibration and autoscaling.

use super::arrivals::check_arrivals;
use super::autoscaling::check_autoscaler;
use super::checker::Checker;
use super::fleet::PoolFacts;
use super::tokens::check_tokens;
use crate::catalogue::ModelArch;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::{ArrivalSpec, CalibrationSpec, ServiceSpec, ServiceTimeSpec};
use crate::time::SimDuration;
use std::collections::BTreeMap;

/// Checks a service at `p` (its name and pool references are checked with every workload's).
pub(super) fn check_service(c: &mut Checker<'_>, s: &ServiceSpec, p: &FieldPath, pools: &BTreeMap<String, PoolFacts>) {
    let catalogue = c.catalogue;
    let model = match &s.model {
        Some(name) => {
            let model = catalogue.model(name).map(|m| &catalogue.models[m]);
            if model.is_none() {
                let names = catalogue.models.iter().map(|m| m.name.as_str());
                c.unknown(p.key("model"), "model", name, names, ", or define it under [[models]]");
            }
            model
        }
        None if s.has_load() && matches!(s.service_time, ServiceTimeSpec::Roofline) => {
            c.report(
                ErrorKind::MissingField,
                p.key("model"),
                "`model` is required for a service timed by the roofline model",
                Some(
                    "such as `model = \"Llama-3.1-8B\"`; or a `service_time` (`{ fixed = { duration = \"60ms\" } }`), or `arrivals = \"none\"` for a workload that only holds capacity"
                        .into(),
                ),
            );
            None
        }
        None => None,
    };
    if s.gpus_per_replica == 0 {
        c.report(ErrorKind::InvalidValue, p.key("gpus_per_replica"), "a replica needs at least one accelerator", None);
    }
    check_fit(c, s, model, p, pools);
    for (k, v) in
        [("replicas", s.replicas), ("max_batch", s.max_batch), ("gpus_per_replica", s.gpus_per_replica), ("max_queue", s.max_queue)]
    {
        c.count_at_most(p.key(k), k, v);
    }
    c.at_least_one(p.key("max_batch"), "max_batch", s.max_batch);
    c.at_least_one(p.key("max_batch_tokens"), "max_batch_tokens", s.max_batch_tokens);
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
    match &s.slo {
        Some(slo) => c.fraction(p.key("slo").key("target"), "the SLO target", slo.target, false),
        None if s.has_load() => c.report(
            ErrorKind::MissingField,
            p.key("slo"),
            "`slo` is required for a service that serves requests",
            Some("such as `slo = { ttft = \"500ms\", e2e = \"20s\" }`".into()),
        ),
        None => {}
    }
    check_arrivals(c, &s.arrivals, &p.key("arrivals"));
    // A workload with no load needs no token lengths, nor one whose service
    // time is sampled (tokens then only count).
    let traced = matches!(s.arrivals, ArrivalSpec::Trace(_) | ArrivalSpec::None) || !matches!(s.service_time, ServiceTimeSpec::Roofline);
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
        check_autoscaler(c, a, s.replicas, p);
    }
}

/// A replica fits on one node of one of its pools, with the model's weights
/// and room for a KV cache.
fn check_fit(c: &mut Checker<'_>, s: &ServiceSpec, model: Option<&ModelArch>, p: &FieldPath, pools: &BTreeMap<String, PoolFacts>) {
    let resolved: Vec<(&String, &PoolFacts)> = s.pools.iter().filter_map(|r| pools.get_key_value(r)).collect();
    let (cpu, mem) = (
        u64::from(s.scheduling.cpu_milli_per_gpu) * u64::from(s.gpus_per_replica),
        u64::from(s.scheduling.memory_mib_per_gpu) * u64::from(s.gpus_per_replica),
    );
    let sized: Vec<(u32, u32)> = resolved.iter().filter_map(|(_, f)| f.node_cpu_mem).collect();
    if (cpu > 0 || mem > 0)
        && !sized.is_empty()
        && !sized.iter().any(|&(v, m)| (v == 0 || cpu <= u64::from(v) * 1_000) && (m == 0 || mem <= u64::from(m)))
    {
        c.report(
            ErrorKind::Unsatisfiable,
            p.key("scheduling"),
            format!(
                "a replica asks for {} millicores and {mem} MiB, more than a node of any of its pools has ({})",
                cpu,
                sized.iter().map(|(v, m)| format!("{v} vCPUs, {m} MiB")).collect::<Vec<_>>().join("; ")
            ),
            Some("lower `cpu_milli_per_gpu` or `memory_mib_per_gpu`, or add a pool of larger nodes".into()),
        );
    }
    if s.gpus_per_replica > 0 && !resolved.is_empty() {
        let largest = resolved.iter().filter_map(|(_, f)| f.per_node).max().unwrap_or(0);
        if largest < s.gpus_per_replica {
            c.report(
                ErrorKind::Unsatisfiable,
                p.key("gpus_per_replica"),
                format!("a replica needs {} accelerators on one node, but the largest node in its pools has {largest}", s.gpus_per_replica),
                Some("lower `gpus_per_replica` or add a pool of larger nodes".into()),
            );
        } else if let Some(m) = model {
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
}

/// Accelerator memory (GB) an engine may use after the activation reserve.
pub fn usable_gb(memory_gb: f64, cal: &CalibrationSpec) -> f64 {
    memory_gb * cal.memory_fraction - cal.activation_reserve_gb
}

/// Efficiencies are shares, and the norm's exponent 0 or at least 1.
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
