//! HorizontalPodAutoscalers (autoscaling/v2) as services' autoscalers.
//!
//! The HPA's `scaleTargetRef` (a Deployment or StatefulSet of the same
//! namespace) gets an autoscaler: `minReplicas` (default 1) to
//! `maxReplicas`, one metric, and the behaviour's windows and step limits.
//!
//! Metrics: a `Resource` or `ContainerResource` metric `cpu` or `memory`
//! with an `Utilization` target becomes `utilisation` at
//! `averageUtilization / 100` (Twin reads the accelerators' busy share, not
//! CPU). A `Pods`, `Object` or `External` metric is read by name ([`METRICS`]),
//! its target the `averageValue` or `value`. Where an HPA lists several
//! metrics, Twin uses the first (a note says so).
//!
//! Behaviour: `stabilizationWindowSeconds` become the scale-up and
//! scale-down windows (HPA's defaults 0 s and 300 s). Policies limit the
//! step per autoscaler look: a `Pods` policy its value, a `Percent` policy
//! `ceil(value / 100 × maxReplicas)`; `selectPolicy` `Max` (the default)
//! takes the larger, `Min` the smaller; `Disabled` keeps the replicas from
//! rising (the autoscaler's max is the start) or falling (the scale-down
//! window is the horizon). Policy periods are approximated per look.

use crate::annotations::{self, Target};
use crate::error::Fault;
use crate::field::FieldPath;
use crate::quantity::Quantity;
use k8s_openapi::api::autoscaling::v2::{HPAScalingRules, HorizontalPodAutoscaler, MetricSpec, MetricTarget};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use twin_sim::scenario::Dur;
use twin_sim::scenario::spec::{AutoscalerSpec, PredictiveSpec, ScaleMetric, ServiceSpec};
use twin_sim::time::SimDuration;

/// Metric names Twin reads (after dropping a `twin_` prefix, with `:` read
/// as `_`, ignoring case), what they become, and a factor on the target.
pub const METRICS: &[(&str, ScaleMetric, f64)] = &[
    ("concurrency", ScaleMetric::Concurrency, 1.0),
    ("queue", ScaleMetric::Queue, 1.0),
    ("ttft", ScaleMetric::Ttft, 1.0),
    ("e2e", ScaleMetric::E2e, 1.0),
    ("utilisation", ScaleMetric::Utilisation, 1.0),
    ("utilization", ScaleMetric::Utilisation, 1.0),
    ("vllm:num_requests_running", ScaleMetric::Concurrency, 1.0),
    ("num_requests_running", ScaleMetric::Concurrency, 1.0),
    ("sglang:num_running_reqs", ScaleMetric::Concurrency, 1.0),
    ("vllm:num_requests_waiting", ScaleMetric::Queue, 1.0),
    ("num_requests_waiting", ScaleMetric::Queue, 1.0),
    ("sglang:num_queue_reqs", ScaleMetric::Queue, 1.0),
    ("vllm:time_to_first_token_seconds", ScaleMetric::Ttft, 1.0),
    ("time_to_first_token_seconds", ScaleMetric::Ttft, 1.0),
    ("vllm:e2e_request_latency_seconds", ScaleMetric::E2e, 1.0),
    ("e2e_request_latency_seconds", ScaleMetric::E2e, 1.0),
    ("DCGM_FI_DEV_GPU_UTIL", ScaleMetric::Utilisation, 0.01),
];

fn normalise(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase().replace(':', "_");
    n.strip_prefix("twin_").map(str::to_string).unwrap_or(n)
}

/// The Twin metric a named metric is, and the factor on its target.
pub(crate) fn named_metric(name: &str) -> Option<(ScaleMetric, f64)> {
    let n = normalise(name);
    METRICS.iter().find(|(m, _, _)| normalise(m) == n).map(|(_, s, f)| (*s, *f))
}

/// The autoscaler an HPA gives `service` (whose replicas may be moved into
/// its range, with a note); `horizon` stands for a disabled scale-down.
pub(crate) fn autoscaler(
    hpa: &HorizontalPodAutoscaler,
    service: &mut ServiceSpec,
    horizon: SimDuration,
    notes: &mut Vec<String>,
) -> Result<AutoscalerSpec, Fault> {
    let spec = &hpa.spec;
    let display = format!("HorizontalPodAutoscaler {}", hpa.metadata.name.as_deref().unwrap_or(""));
    let ann = annotations::read(&hpa.metadata, &FieldPath::of("metadata"), Target::Autoscaler)?;
    let min = match spec.min_replicas {
        None => 1,
        Some(n) if n >= 1 => n as u32,
        Some(n) => {
            return Err(Fault::value(
                FieldPath::of("spec.minReplicas"),
                format!("minReplicas {n}"),
                "1 or more (Twin does not scale to zero)",
            ));
        }
    };
    let max = u32::try_from(spec.max_replicas).ok().filter(|m| *m >= min).ok_or_else(|| {
        Fault::value(FieldPath::of("spec.maxReplicas"), format!("maxReplicas {} is below minReplicas {min}", spec.max_replicas), "")
    })?;
    let metrics = spec.metrics.as_deref().unwrap_or(&[]);
    let (metric, target) = match metrics.first() {
        None => {
            notes.push(format!("{display}: no metrics: Kubernetes' default, CPU at 80%, read as accelerator utilisation 0.8"));
            (ScaleMetric::Utilisation, 0.8)
        }
        Some(m) => {
            if metrics.len() > 1 {
                notes.push(format!("{display}: {} metrics: Twin scales on the first only", metrics.len()));
            }
            read_metric(m, &FieldPath::of("spec.metrics").index(0), &display, notes)?
        }
    };
    let behavior = spec.behavior.as_ref();
    let up = rules(behavior.and_then(|b| b.scale_up.as_ref()), max, 0, &FieldPath::of("spec.behavior.scaleUp"))?;
    let down = rules(behavior.and_then(|b| b.scale_down.as_ref()), max, 300, &FieldPath::of("spec.behavior.scaleDown"))?;
    let mut a: AutoscalerSpec = crate::apply::autoscaler_template();
    a.metric = metric;
    a.target = target;
    a.min = min;
    a.max = max;
    a.scale_up_window = up.window;
    a.scale_down_window = down.window;
    a.max_step_up = up.step;
    a.max_step_down = down.step;
    if let Some(t) = up.tolerance.into_iter().chain(down.tolerance).reduce(f64::min) {
        if up.tolerance.is_some() && down.tolerance.is_some() && up.tolerance != down.tolerance {
            notes.push(format!("{display}: one tolerance for both directions in Twin: the smaller, {t}"));
        }
        a.tolerance = t;
    }
    if service.replicas < min || service.replicas > max {
        let r = service.replicas.clamp(min, max);
        notes
            .push(format!("{display}: {} starts at {r} replicas, not {}: within minReplicas..maxReplicas", service.name, service.replicas));
        service.replicas = r;
    }
    if up.disabled {
        a.max = service.replicas.max(min);
        notes.push(format!("{display}: scale-up Disabled: at most {} replicas", a.max));
    }
    if down.disabled {
        a.scale_down_window = Dur(horizon.max(SimDuration::from_secs(86_400)));
        notes.push(format!("{display}: scale-down Disabled: the scale-down window is the whole run"));
    }
    a.predictive = predictive(&ann)?;
    if !service.has_load() {
        notes.push(format!("{display}: {} serves no requests: the autoscaler holds it at minReplicas", service.name));
    }
    notes.push(format!(
        "{display} → {}: {} at {} per replica, {min}..{} replicas (HPA policy periods approximated per {}s autoscaler look)",
        service.name,
        metric.as_str(),
        a.target,
        a.max,
        a.interval.get().as_secs_f64()
    ));
    Ok(a)
}

fn predictive(ann: &annotations::Annotations<'_>) -> Result<Option<PredictiveSpec>, Fault> {
    let Some(text) = ann.get("predictive") else { return Ok(None) };
    match text.trim() {
        "true" => Ok(Some(PredictiveSpec::default())),
        "false" => Ok(None),
        _ => ann.toml::<PredictiveSpec>("predictive"),
    }
}

/// The metric of `m` at `path` and its target.
fn read_metric(m: &MetricSpec, path: &FieldPath, display: &str, notes: &mut Vec<String>) -> Result<(ScaleMetric, f64), Fault> {
    let resource = |name: &str, target: &MetricTarget, p: FieldPath, notes: &mut Vec<String>| -> Result<(ScaleMetric, f64), Fault> {
        if !matches!(name, "cpu" | "memory") {
            return Err(Fault::value(p.key("name"), format!("resource metric {name:?}"), "cpu or memory"));
        }
        match (target.type_.as_str(), target.average_utilization) {
            ("Utilization", Some(u)) if u > 0 => {
                notes.push(format!("{display}: {name} utilisation {u}% read as accelerator utilisation {}: Twin reads the accelerators' busy share, not {name}", f64::from(u) / 100.0));
                Ok((ScaleMetric::Utilisation, f64::from(u) / 100.0))
            }
            _ => Err(Fault::value(
                p.key("target"),
                format!("a {name} target of type {}", target.type_),
                "Twin reads resource metrics as Utilization with averageUtilization",
            )),
        }
    };
    let named = |name: &str, target: &MetricTarget, p: FieldPath| -> Result<(ScaleMetric, f64), Fault> {
        let Some((metric, factor)) = named_metric(name) else {
            let names: Vec<&str> = METRICS.iter().map(|(n, _, _)| *n).collect();
            return Err(Fault::value(
                p.keys("metric.name"),
                format!("Twin does not know the metric {name:?}"),
                format!("metrics Twin reads: {}", names.join(", ")),
            ));
        };
        let (q, field): (&K8sQuantity, &str) = match (&target.average_value, &target.value) {
            (Some(q), _) => (q, "averageValue"),
            (None, Some(q)) => (q, "value"),
            (None, None) => {
                return Err(Fault::value(
                    p.key("target"),
                    "no averageValue or value",
                    "such as target: {type: AverageValue, averageValue: \"8\"}",
                ));
            }
        };
        let v = Quantity::parse(&q.0).map_err(|e| Fault::value(p.key("target").key(field), e, crate::quantity::HINT))?.to_f64() * factor;
        if !(v > 0.0 && v.is_finite()) {
            return Err(Fault::value(p.key("target").key(field), format!("target {:?} is not above 0", q.0), ""));
        }
        Ok((metric, v))
    };
    let missing = |what: &str| Fault::value(path.key(what), format!("type {} without {what}", m.type_), "");
    match m.type_.as_str() {
        "Resource" => {
            let r = m.resource.as_ref().ok_or_else(|| missing("resource"))?;
            resource(&r.name, &r.target, path.key("resource"), notes)
        }
        "ContainerResource" => {
            let r = m.container_resource.as_ref().ok_or_else(|| missing("containerResource"))?;
            resource(&r.name, &r.target, path.key("containerResource"), notes)
        }
        "Pods" => {
            let p = m.pods.as_ref().ok_or_else(|| missing("pods"))?;
            named(&p.metric.name, &p.target, path.key("pods"))
        }
        "Object" => {
            let o = m.object.as_ref().ok_or_else(|| missing("object"))?;
            named(&o.metric.name, &o.target, path.key("object"))
        }
        "External" => {
            let e = m.external.as_ref().ok_or_else(|| missing("external"))?;
            named(&e.metric.name, &e.target, path.key("external"))
        }
        other => Err(Fault::value(
            path.key("type"),
            format!("unknown metric type {other:?}"),
            "Resource, ContainerResource, Pods, Object or External",
        )),
    }
}

/// One direction of an HPA's behaviour.
struct Direction {
    window: Dur,
    step: Option<u32>,
    disabled: bool,
    tolerance: Option<f64>,
}

/// The window, step limit and tolerance of `rules` at `path`.
fn rules(rules: Option<&HPAScalingRules>, max: u32, default_window: u64, path: &FieldPath) -> Result<Direction, Fault> {
    let Some(r) = rules else { return Ok(Direction { window: Dur::secs(default_window), step: None, disabled: false, tolerance: None }) };
    let window = match r.stabilization_window_seconds {
        None => Dur::secs(default_window),
        Some(s) => Dur::secs(
            u64::try_from(s).map_err(|_| Fault::value(path.key("stabilizationWindowSeconds"), format!("{s} is negative"), "0 to 3600"))?,
        ),
    };
    let mut steps = Vec::new();
    for (i, p) in r.policies.as_deref().unwrap_or(&[]).iter().enumerate() {
        let pp = path.key("policies").index(i);
        let value = u32::try_from(p.value)
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| Fault::value(pp.key("value"), format!("{} is not above 0", p.value), ""))?;
        steps.push(match p.type_.as_str() {
            "Pods" => value,
            "Percent" => u32::try_from((u64::from(value) * u64::from(max)).div_ceil(100)).unwrap_or(u32::MAX).max(1),
            other => return Err(Fault::value(pp.key("type"), format!("unknown policy type {other:?}"), "Pods or Percent")),
        });
    }
    let (step, disabled) = match r.select_policy.as_deref().unwrap_or("Max") {
        "Max" => (steps.iter().copied().max(), false),
        "Min" => (steps.iter().copied().min(), false),
        "Disabled" => (None, true),
        other => return Err(Fault::value(path.key("selectPolicy"), format!("unknown selectPolicy {other:?}"), "Max, Min or Disabled")),
    };
    let tolerance = match &r.tolerance {
        None => None,
        Some(q) => {
            let t = Quantity::parse(&q.0).map_err(|e| Fault::value(path.key("tolerance"), e, crate::quantity::HINT))?.to_f64();
            if t < 0.0 {
                return Err(Fault::value(path.key("tolerance"), format!("{:?} is negative", q.0), ""));
            }
            Some(t)
        }
    };
    Ok(Direction { window, step, disabled, tolerance })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_are_read_loosely() {
        assert_eq!(named_metric("vllm:num_requests_running"), Some((ScaleMetric::Concurrency, 1.0)));
        assert_eq!(named_metric("vllm_num_requests_waiting"), Some((ScaleMetric::Queue, 1.0)));
        assert_eq!(named_metric("twin_concurrency"), Some((ScaleMetric::Concurrency, 1.0)));
        assert_eq!(named_metric("time_to_first_token_seconds"), Some((ScaleMetric::Ttft, 1.0)));
        assert_eq!(named_metric("dcgm_fi_dev_gpu_util"), Some((ScaleMetric::Utilisation, 0.01)));
        assert_eq!(named_metric("requests_per_second"), None);
    }
}
