//! Rego policies at Twin's decision points, evaluated with `regorus`.
//!
//! Policies are Rego v1 files in packages `twin.admission`, `twin.placement`
//! and `twin.scaling`. Each package defines a set `violation` of objects
//! `{"msg": ..., "details": {"rule": ...}}` (the shape OPA Gatekeeper's
//! constraint templates use for their violations; the files are plain Rego
//! v1 with OPA's built-ins, so `opa eval` and `opa test` read them too). An
//! empty set allows; every element denies and names its rule; a `violation`
//! that is not a set is an error, never an allow. The input
//! documents are the serialised inputs of [`twin_sim::policy`].
//!
//! Policies are compiled once. Decisions whose input repeats (the same
//! workload asking for the same pool, say) are answered from a cache keyed by
//! the whole input document, so the Rego interpreter runs once per class of
//! input.
//!
//! ```
//! use twin_policy::RegoPolicies;
//! let rego = r#"
//! package twin.placement
//! violation contains {"msg": "critical work stays off spot", "details": {"rule": "critical-not-on-spot"}} if {
//!     input.workload.labels.critical == "true"
//!     input.pool.capacity == "spot"
//! }
//! "#;
//! let mut p = RegoPolicies::new(&[("placement.rego".into(), rego.into())], None).unwrap();
//! let input = serde_json::json!({"workload": {"labels": {"critical": "true"}}, "pool": {"capacity": "spot"}});
//! let v = p.evaluate(twin_policy::Point::Placement, &input).unwrap();
//! assert_eq!(v[0].rule, "critical-not-on-spot");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod gatekeeper;
mod tests_runner;

pub use tests_runner::{TestOutcome, run_tests};

/// The package a Rego file declares (`package twin.admission` → `twin.admission`).
pub fn package_of(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find_map(|l| l.strip_prefix("package ")).map(str::trim)
}

use rustc_hash::FxHashMap;
use serde::Serialize;
use twin_sim::policy::{AdmissionInput, PlacementInput, PolicyHook, ScalingInput, Violation};

/// A decision point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Point {
    /// A workload starts or is submitted.
    Admission,
    /// A workload is about to be placed in a pool.
    Placement,
    /// An autoscaler wants more replicas.
    Scaling,
}

impl Point {
    /// The Rego package of the point.
    pub fn package(self) -> &'static str {
        match self {
            Point::Admission => "twin.admission",
            Point::Placement => "twin.placement",
            Point::Scaling => "twin.scaling",
        }
    }
}

/// Why policies could not be loaded or evaluated.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A policy file does not parse or compile.
    #[error("{file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// What regorus said.
        message: String,
    },
    /// The data document is not valid JSON or does not merge.
    #[error("policy data: {0}")]
    Data(String),
    /// A decision point's package does not define a usable `violation` set.
    #[error("package {package} must define `violation contains {{\"msg\": ..., \"details\": {{\"rule\": ...}}}} if {{ ... }}`: {message}")]
    Missing {
        /// The package.
        package: &'static str,
        /// What evaluating it said.
        message: String,
    },
    /// Evaluating a decision failed (a runtime error in a rule).
    #[error("evaluating {package}: {message}")]
    Eval {
        /// The package.
        package: &'static str,
        /// What regorus said.
        message: String,
    },
}

/// Counters of evaluations, for reports and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyStats {
    /// Decisions asked at points some package covers.
    pub decisions: u64,
    /// Of those, answered from the cache.
    pub cache_hits: u64,
}

/// Answers a decision point's cache keeps; it is emptied when it holds this
/// many, so that a long-running process (`twin extender`) stays bounded.
/// A run's decisions do not depend on it: the cache only saves evaluations.
pub const CACHE_LIMIT: usize = 16_384;

/// Compiled Rego policies with a decision cache.
pub struct RegoPolicies {
    engine: regorus::Engine,
    /// The data document as loaded, without `inventory`.
    base_data: regorus::Value,
    /// `input.parameters` of admission: the data document's `config`.
    parameters: serde_json::Value,
    /// The `data.inventory` JSON the engine holds now.
    inventory_json: String,
    packages: Vec<String>,
    files: usize,
    /// Decisions by point (in `Point` order), then by the exact input JSON.
    cache: [FxHashMap<String, Vec<Violation>>; 3],
    /// Evaluation counters.
    pub stats: PolicyStats,
}

impl RegoPolicies {
    /// Compiles policy sources, `(file name, text)`, with an optional JSON data document.
    pub fn new(sources: &[(String, String)], data_json: Option<&str>) -> Result<RegoPolicies, PolicyError> {
        let mut engine = regorus::Engine::new();
        for (file, text) in sources {
            engine.add_policy(file.clone(), text.clone()).map_err(|e| PolicyError::Parse { file: file.clone(), message: e.to_string() })?;
        }
        let mut parameters = serde_json::Value::Object(Default::default());
        if let Some(d) = data_json {
            engine.add_data_json(d).map_err(|e| PolicyError::Data(e.to_string()))?;
            let doc: serde_json::Value = serde_json::from_str(d).map_err(|e| PolicyError::Data(e.to_string()))?;
            if doc.get("inventory").is_some() {
                return Err(PolicyError::Data(
                    "the data document may not define `inventory`: Twin fills data.inventory with the workloads running, as Gatekeeper does"
                        .into(),
                ));
            }
            if let Some(c) = doc.get("config") {
                parameters = c.clone();
            }
        }
        let base_data = engine.get_data();
        let packages = engine.get_packages().map_err(|e| PolicyError::Data(e.to_string()))?;
        let packages = packages.into_iter().map(|p| p.trim_start_matches("data.").to_string()).collect();
        let mut p = RegoPolicies {
            engine,
            base_data,
            parameters,
            inventory_json: String::new(),
            packages,
            files: sources.len(),
            cache: Default::default(),
            stats: PolicyStats::default(),
        };
        // Each covered point must define its `violation` set: found now, not
        // at the first decision halfway through a run.
        for point in [Point::Admission, Point::Placement, Point::Scaling] {
            if p.covers(point) {
                p.evaluate_json(point, "{}").map_err(|e| PolicyError::Missing {
                    package: point.package(),
                    message: match e {
                        PolicyError::Eval { message, .. } => message,
                        other => other.to_string(),
                    },
                })?;
            }
        }
        Ok(p)
    }

    /// Whether any loaded file defines the point's package.
    pub fn covers(&self, point: Point) -> bool {
        self.packages.iter().any(|p| p == point.package())
    }

    /// The violations of a decision with this input (empty: allowed).
    pub fn evaluate(&mut self, point: Point, input: &impl Serialize) -> Result<Vec<Violation>, PolicyError> {
        if !self.covers(point) {
            return Ok(Vec::new());
        }
        self.stats.decisions += 1;
        let json = serde_json::to_string(input).map_err(|e| PolicyError::Eval { package: point.package(), message: e.to_string() })?;
        if let Some(v) = self.cache[point as usize].get(&json) {
            self.stats.cache_hits += 1;
            return Ok(v.clone());
        }
        let violations = self.evaluate_json(point, &json)?;
        self.remember(point, json, &violations);
        Ok(violations)
    }

    /// Keeps an answer, emptying the point's cache first when it is full.
    fn remember(&mut self, point: Point, key: String, violations: &[Violation]) {
        let cache = &mut self.cache[point as usize];
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, violations.to_vec());
    }

    /// Evaluates without the cache, from input JSON (what a cache miss costs).
    pub fn evaluate_json(&mut self, point: Point, input_json: &str) -> Result<Vec<Violation>, PolicyError> {
        if !self.covers(point) {
            return Ok(Vec::new());
        }
        let eval = |e: &mut regorus::Engine| -> Result<Option<String>, String> {
            e.set_input_json(input_json).map_err(|e| e.to_string())?;
            let v = e.eval_rule(format!("data.{}.violation", point.package())).map_err(|e| e.to_string())?;
            if v == regorus::Value::Undefined {
                return Ok(None);
            }
            v.to_json_str().map(Some).map_err(|e| e.to_string())
        };
        let out = eval(&mut self.engine).map_err(|message| PolicyError::Eval { package: point.package(), message })?;
        match out {
            // No `violation` value at all: nothing is violated.
            None => Ok(Vec::new()),
            Some(json) => parse_violations(&json).map_err(|message| PolicyError::Eval { package: point.package(), message }),
        }
    }
}

/// `input` of an admission policy as Gatekeeper builds it: the review and
/// the Constraint's parameters.
#[derive(Serialize)]
struct GatekeeperInput<'a> {
    review: &'a twin_sim::policy::Review,
    parameters: &'a serde_json::Value,
}

impl RegoPolicies {
    /// An admission decision as Gatekeeper would take it: `input.review`,
    /// `input.parameters` (the data document's `config`) and
    /// `data.inventory` (the workloads holding accelerators).
    pub fn admit(&mut self, input: &AdmissionInput) -> Result<Vec<Violation>, PolicyError> {
        if !self.covers(Point::Admission) {
            return Ok(Vec::new());
        }
        let eval = |e: String| PolicyError::Eval { package: Point::Admission.package(), message: e };
        let inventory = serde_json::to_string(&input.inventory).map_err(|e| eval(e.to_string()))?;
        let json = serde_json::to_string(&GatekeeperInput { review: &input.review, parameters: &self.parameters })
            .map_err(|e| eval(e.to_string()))?;
        self.stats.decisions += 1;
        let key = format!("{json}\n{inventory}");
        if let Some(v) = self.cache[Point::Admission as usize].get(&key) {
            self.stats.cache_hits += 1;
            return Ok(v.clone());
        }
        if inventory != self.inventory_json {
            let value = regorus::Value::from_json_str(&format!("{{\"inventory\":{inventory}}}")).map_err(|e| eval(e.to_string()))?;
            self.engine.clear_data();
            self.engine.add_data(self.base_data.clone()).map_err(|e| eval(e.to_string()))?;
            self.engine.add_data(value).map_err(|e| eval(e.to_string()))?;
            self.inventory_json = inventory;
        }
        let violations = self.evaluate_json(Point::Admission, &json)?;
        // The inventory changes with nearly every decision: keys with one
        // would fill memory and hardly ever hit. Only inventory-free
        // decisions (runs where nothing holds accelerators yet) are kept.
        if input.inventory.is_empty() {
            self.remember(Point::Admission, key, &violations);
        }
        Ok(violations)
    }
}

/// Reads a `violation` set: objects with `msg` and `details.rule`.
///
/// Fails closed: a `violation` that is not a set (say `violation := {...}`,
/// a single object) is an error, never a silent allow.
fn parse_violations(json: &str) -> Result<Vec<Violation>, String> {
    let v = serde_json::from_str::<serde_json::Value>(json).map_err(|e| format!("`violation` is not JSON: {e}"))?;
    let serde_json::Value::Array(items) = v else {
        return Err(format!(
            "`violation` must be a set of objects such as {{\"msg\": ..., \"details\": {{\"rule\": ...}}}} (write `violation contains {{...}} if {{...}}`), but it is {}",
            abbreviate(&v.to_string())
        ));
    };
    let mut out: Vec<Violation> = items
        .iter()
        .map(|item| Violation {
            rule: item.pointer("/details/rule").and_then(|r| r.as_str()).unwrap_or("unnamed-rule").to_string(),
            message: item.get("msg").and_then(|m| m.as_str()).map_or_else(|| item.to_string(), str::to_string),
        })
        .collect();
    out.sort();
    Ok(out)
}

fn abbreviate(s: &str) -> String {
    if s.chars().count() > 120 { format!("{}…", s.chars().take(120).collect::<String>()) } else { s.to_string() }
}

impl PolicyHook for RegoPolicies {
    fn name(&self) -> String {
        let s = self.stats;
        format!(
            "rego ({} file{}, packages: {}; {} decisions, {} evaluated, {} from the cache)",
            self.files,
            if self.files == 1 { "" } else { "s" },
            self.packages.join(", "),
            s.decisions,
            s.decisions - s.cache_hits,
            s.cache_hits
        )
    }

    fn admission(&mut self, input: &AdmissionInput) -> Result<Vec<Violation>, String> {
        self.admit(input).map_err(|e| e.to_string())
    }

    fn placement(&mut self, input: &PlacementInput) -> Result<Vec<Violation>, String> {
        self.evaluate(Point::Placement, input).map_err(|e| e.to_string())
    }

    fn scaling(&mut self, input: &ScalingInput) -> Result<Vec<Violation>, String> {
        self.evaluate(Point::Scaling, input).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMISSION: &str = r#"
package twin.admission

violation contains {"msg": msg, "details": {"rule": "allowed-registry"}} if {
    image := input.review.object.image
    not startswith(image, "registry.internal/")
    msg := sprintf("image %s is not from registry.internal/", [image])
}
"#;

    #[test]
    fn denies_with_the_rule_and_caches_repeated_inputs() {
        let mut p = RegoPolicies::new(&[("a.rego".into(), ADMISSION.into())], None).unwrap();
        let bad = serde_json::json!({"review": {"object": {"image": "docker.io/vllm"}}});
        let good = serde_json::json!({"review": {"object": {"image": "registry.internal/vllm"}}});
        let v = p.evaluate(Point::Admission, &bad).unwrap();
        assert_eq!(
            v,
            vec![Violation { rule: "allowed-registry".into(), message: "image docker.io/vllm is not from registry.internal/".into() }]
        );
        assert!(p.evaluate(Point::Admission, &good).unwrap().is_empty());
        assert_eq!(p.evaluate(Point::Admission, &bad).unwrap().len(), 1);
        assert_eq!(p.stats, PolicyStats { decisions: 3, cache_hits: 1 });
        assert!(p.name().ends_with("3 decisions, 2 evaluated, 1 from the cache)"), "{}", p.name());
        // A point without a package allows everything.
        assert!(!p.covers(Point::Scaling));
        assert!(p.evaluate(Point::Scaling, &bad).unwrap().is_empty());
    }

    /// The shipped admission policy, as Gatekeeper would run it: the object
    /// under review, the parameters from data.json's `config`, and
    /// `data.inventory` changing between decisions.
    #[test]
    fn admission_sees_gatekeepers_input_and_the_inventory() {
        use twin_sim::policy::{Inventory, KubeObject, Review, WorkloadDoc};
        let sources = [("admission.rego".to_string(), include_str!("../../policies/admission.rego").to_string())];
        let mut p = RegoPolicies::new(&sources, Some(include_str!("../../policies/data.json"))).unwrap();
        let doc = |name: &str, gpus: u32, image: &str| WorkloadDoc {
            kind: "TrainingJob",
            name: name.into(),
            namespace: "research".into(),
            team: "research".into(),
            image: image.into(),
            labels: Default::default(),
            model: None,
            gpus,
            replicas: 1,
            priority: 0,
            pools: vec!["h100-od".into()],
            regions: vec!["us-east-1".into()],
        };
        let ask = |p: &mut RegoPolicies, inventory: &Inventory, d: &WorkloadDoc| {
            let input = AdmissionInput { review: Review::create(KubeObject::of(d, 1, d.gpus)), inventory: inventory.clone() };
            p.admit(&input).unwrap()
        };
        let b = doc("pretrain-b", 32, "registry.internal/megatron");
        let mut inventory = Inventory::default();
        assert!(ask(&mut p, &inventory, &b).is_empty(), "alone, 32 GPUs are within research's 48");
        inventory.insert(KubeObject::of(&doc("pretrain-a", 32, "registry.internal/megatron"), 1, 32));
        let v = ask(&mut p, &inventory, &b);
        assert_eq!(
            v,
            vec![Violation { rule: "team-gpu-quota".into(), message: "team research would hold 64 GPUs, over its quota of 48".into() }]
        );
        // The inventory is replaced, not merged: empty again, allowed again.
        assert!(ask(&mut p, &Inventory::default(), &b).is_empty());
        let v = ask(&mut p, &Inventory::default(), &doc("x", 1, "docker.io/x"));
        assert_eq!(v[0].rule, "allowed-registry");
        assert!(v[0].message.contains("(registry.internal/, nvcr.io/nvidia/)"), "parameters come from data.json's config: {v:?}");
        assert_eq!(p.stats.decisions, 4);
    }

    #[test]
    fn a_data_document_may_not_define_the_inventory() {
        let e = RegoPolicies::new(&[("a.rego".into(), ADMISSION.into())], Some(r#"{"inventory": {}}"#)).err().unwrap();
        assert!(e.to_string().contains("Twin fills data.inventory"), "{e}");
    }

    #[test]
    fn a_violation_that_is_not_a_set_is_an_error_not_an_allow() {
        let single = "package twin.admission\n\nviolation := {\"msg\": \"no\"} if { input.x }\n";
        let mut p = RegoPolicies::new(&[("single.rego".into(), single.into())], None).unwrap();
        let err = p.evaluate(Point::Admission, &serde_json::json!({"x": true})).unwrap_err();
        assert!(err.to_string().contains("must be a set"), "{err}");
        // A set rule that never fires allows.
        let mut p = RegoPolicies::new(&[("a.rego".into(), ADMISSION.into())], None).unwrap();
        assert!(p.evaluate(Point::Admission, &serde_json::json!({"nothing": 1})).unwrap().is_empty());
    }

    #[test]
    fn a_package_without_its_violation_rule_is_refused_at_load() {
        let text = "package twin.scaling\n\ndeny contains \"no\" if { input.x }\n";
        let err = RegoPolicies::new(&[("s.rego".into(), text.into())], None).err().unwrap();
        assert!(err.to_string().starts_with("package twin.scaling must define `violation contains"), "{err}");
    }

    #[test]
    fn a_broken_policy_names_its_file() {
        let err = RegoPolicies::new(&[("broken.rego".into(), "package x\nviolation contains if {".into())], None).err().unwrap();
        assert!(err.to_string().starts_with("broken.rego"), "{err}");
    }
}
