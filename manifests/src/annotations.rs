//! Twin's annotations (`twin.dev/...`): what Kubernetes objects do not say
//! but a simulation needs, such as the load a service sees or the work a
//! Job does.
//!
//! They are read from the object's own `metadata.annotations` (not the pod
//! template's). Values are text, as Kubernetes annotations are: numbers,
//! durations (`500ms`, `2h`), or inline TOML in the syntax of the scenario
//! file (`{ poisson = { rate = 20.0 } }`). A `twin.dev/` annotation Twin does
//! not know, or one on a kind it does not apply to, is an error.

use crate::error::Fault;
use crate::field::FieldPath;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use twin_sim::scenario::Dur;
use twin_sim::scenario::duration::parse_duration;

/// The prefix of Twin's annotations.
pub(crate) const PREFIX: &str = "twin.dev/";

/// The kinds of object annotations apply to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Deployments and StatefulSets.
    Service,
    /// Jobs.
    Job,
    /// HorizontalPodAutoscalers.
    Autoscaler,
    /// Karpenter NodePools.
    NodePool,
}

impl Target {
    fn kinds(self) -> &'static str {
        match self {
            Target::Service => "Deployments and StatefulSets",
            Target::Job => "Jobs",
            Target::Autoscaler => "HorizontalPodAutoscalers",
            Target::NodePool => "NodePools",
        }
    }
}

/// Every annotation: its name after `twin.dev/`, what it applies to, an example value.
pub(crate) const KNOWN: &[(&str, Target, &str)] = &[
    ("model", Target::Service, "llama-3.1-8b"),
    ("arrivals", Target::Service, "{ poisson = { rate = 20.0 } }"),
    ("prompt-tokens", Target::Service, "{ lognormal = { median = 500, sigma = 0.9 } }"),
    ("output-tokens", Target::Service, "{ geometric = { mean = 250 } }"),
    ("service-time", Target::Service, "roofline"),
    ("slo-ttft", Target::Service, "500ms"),
    ("slo-e2e", Target::Service, "20s"),
    ("slo-target", Target::Service, "0.99"),
    ("max-batch", Target::Service, "256"),
    ("work-gpu-hours", Target::Job, "64"),
    ("gang", Target::Job, "true"),
    ("submit-at", Target::Job, "2h"),
    ("predictive", Target::Autoscaler, "true"),
    ("spot-price", Target::NodePool, "12.5"),
    ("like", Target::NodePool, "h100-spot"),
];

/// The `twin.dev/` annotations of one object.
pub(crate) struct Annotations<'a> {
    base: FieldPath,
    values: BTreeMap<&'a str, &'a str>,
}

/// The annotations of `meta` (at `metadata`) for an object of `target`.
pub(crate) fn read<'a>(meta: &'a ObjectMeta, base: &FieldPath, target: Target) -> Result<Annotations<'a>, Fault> {
    let base = base.key("annotations");
    let mut values = BTreeMap::new();
    for (key, value) in meta.annotations.iter().flatten() {
        let Some(short) = key.strip_prefix(PREFIX) else { continue };
        match KNOWN.iter().find(|(n, _, _)| *n == short) {
            Some((_, t, _)) if *t == target => {
                values.insert(short, value.as_str());
            }
            Some((_, t, _)) => {
                return Err(Fault::value(
                    base.key(key),
                    format!("{key} applies to {}, not {}", t.kinds(), target.kinds()),
                    format!("the {} annotations: {}", target.kinds(), names(target)),
                ));
            }
            None => {
                return Err(Fault::value(base.key(key), format!("unknown annotation {key}"), format!("Twin reads {}", names(target))));
            }
        }
    }
    Ok(Annotations { base, values })
}

/// The annotations of `target`, for hints.
pub(crate) fn names(target: Target) -> String {
    KNOWN.iter().filter(|(_, t, _)| *t == target).map(|(n, _, _)| format!("{PREFIX}{n}")).collect::<Vec<_>>().join(", ")
}

/// Refuses Twin's annotations on a pod template (`spec.template.metadata`):
/// they belong on the workload.
pub(crate) fn refuse_on_template(meta: Option<&ObjectMeta>, base: &FieldPath) -> Result<(), Fault> {
    let key = meta.and_then(|m| m.annotations.as_ref()).and_then(|a| a.keys().find(|k| k.starts_with(PREFIX)));
    match key {
        Some(k) => Err(Fault::value(
            base.keys("annotations").key(k),
            format!("{k} is on the pod template"),
            "Twin reads its annotations from the workload's own metadata.annotations",
        )),
        None => Ok(()),
    }
}

fn example(short: &str) -> &'static str {
    KNOWN.iter().find(|(n, _, _)| *n == short).map_or("", |(_, _, e)| e)
}

impl<'a> Annotations<'a> {
    /// Whether any is set.
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether `short` is set.
    pub(crate) fn has(&self, short: &str) -> bool {
        self.values.contains_key(short)
    }

    /// The text of `twin.dev/<short>`.
    pub(crate) fn get(&self, short: &str) -> Option<&'a str> {
        self.values.get(short).copied()
    }

    /// The field of `twin.dev/<short>`.
    pub(crate) fn path(&self, short: &str) -> FieldPath {
        self.base.key(&format!("{PREFIX}{short}"))
    }

    /// A fault in `twin.dev/<short>`.
    pub(crate) fn fault(&self, short: &str, message: impl Into<String>) -> Fault {
        Fault::value(self.path(short), message, format!("such as {PREFIX}{short}: {:?}", example(short)))
    }

    /// `twin.dev/<short>` as inline TOML of `T` (a bare word is read as a string).
    pub(crate) fn toml<T: DeserializeOwned>(&self, short: &str) -> Result<Option<T>, Fault> {
        let Some(text) = self.get(short) else { return Ok(None) };
        inline_toml(text).map(Some).map_err(|e| self.fault(short, format!("{text:?}: {e}")))
    }

    /// `twin.dev/<short>` as a duration.
    pub(crate) fn duration(&self, short: &str) -> Result<Option<Dur>, Fault> {
        let Some(text) = self.get(short) else { return Ok(None) };
        parse_duration(text).map(|d| Some(Dur(d))).map_err(|e| self.fault(short, e))
    }

    /// `twin.dev/<short>` as a finite number.
    pub(crate) fn number(&self, short: &str) -> Result<Option<f64>, Fault> {
        let Some(text) = self.get(short) else { return Ok(None) };
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(self.fault(short, format!("{text:?} is not a number"))),
        }
    }

    /// `twin.dev/<short>` as a whole number from 1.
    pub(crate) fn count(&self, short: &str) -> Result<Option<u32>, Fault> {
        let Some(text) = self.get(short) else { return Ok(None) };
        match text.trim().parse::<u32>() {
            Ok(v) if v > 0 => Ok(Some(v)),
            _ => Err(self.fault(short, format!("{text:?} is not a whole number from 1"))),
        }
    }

    /// `twin.dev/<short>` as `true` or `false`.
    pub(crate) fn flag(&self, short: &str) -> Result<Option<bool>, Fault> {
        let Some(text) = self.get(short) else { return Ok(None) };
        match text.trim() {
            "true" | "True" | "TRUE" | "yes" => Ok(Some(true)),
            "false" | "False" | "FALSE" | "no" => Ok(Some(false)),
            _ => Err(self.fault(short, format!("{text:?} is not true or false"))),
        }
    }
}

/// `text` as one inline TOML value of `T`; a bare word (`roofline`, `none`) is read as a string.
pub(crate) fn inline_toml<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrap<T> {
        v: T,
    }
    let t = text.trim();
    let bare =
        !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') && !t.bytes().all(|b| b.is_ascii_digit());
    let doc = if bare && !matches!(t, "true" | "false" | "inf" | "nan") { format!("v = \"{t}\"") } else { format!("v = {t}") };
    toml::from_str::<Wrap<T>>(&doc).map(|w| w.v).map_err(|e| e.message().trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_sim::scenario::spec::{ArrivalSpec, ServiceTimeSpec, TokenSpec};

    fn meta(pairs: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta { annotations: Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()), ..Default::default() }
    }

    #[test]
    fn inline_toml_in_the_scenarios_syntax() {
        let a: ArrivalSpec = inline_toml("{ poisson = { rate = 20.0 } }").unwrap();
        assert!(matches!(a, ArrivalSpec::Poisson { rate } if rate == 20.0));
        assert!(matches!(inline_toml::<ArrivalSpec>("none").unwrap(), ArrivalSpec::None));
        assert!(matches!(inline_toml::<ServiceTimeSpec>("roofline").unwrap(), ServiceTimeSpec::Roofline));
        assert!(matches!(inline_toml::<TokenSpec>("512").unwrap(), TokenSpec::Fixed(512)));
        let e = inline_toml::<ArrivalSpec>("{ poison = { rate = 1 } }").unwrap_err();
        assert!(e.contains("poison"), "{e}");
    }

    #[test]
    fn unknown_and_misplaced_annotations_are_errors() {
        let m = meta(&[("twin.dev/modle", "x")]);
        let f = read(&m, &FieldPath::of("metadata"), Target::Service).err().unwrap();
        assert_eq!(f.path.to_string(), "metadata.annotations[twin.dev/modle]");
        assert!(f.hint.starts_with("Twin reads twin.dev/model, twin.dev/arrivals"), "{}", f.hint);
        let m = meta(&[("twin.dev/gang", "true")]);
        let f = read(&m, &FieldPath::of("metadata"), Target::Service).err().unwrap();
        assert_eq!(f.message, "twin.dev/gang applies to Jobs, not Deployments and StatefulSets");
    }

    #[test]
    fn values_are_read_with_their_annotation_named() {
        let m = meta(&[("twin.dev/slo-ttft", "500ms"), ("twin.dev/max-batch", "0"), ("other.io/x", "y")]);
        let a = read(&m, &FieldPath::of("metadata"), Target::Service).unwrap();
        assert_eq!(a.duration("slo-ttft").unwrap(), Some(Dur(twin_sim::time::SimDuration::from_millis(500))));
        let f = a.count("max-batch").unwrap_err();
        assert_eq!(f.path.to_string(), "metadata.annotations[twin.dev/max-batch]");
        assert_eq!(f.hint, "such as twin.dev/max-batch: \"256\"");
    }
}
