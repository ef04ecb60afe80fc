//! Rego policies at Twin's decision points, evaluated with `regorus`.
//!
//! Policies are Rego v1 files in packages `twin.admission`, `twin.placement`
//! and `twin.scaling`. Each package defines a set `violation` of objects
//! `{"msg": ..., "details": {"rule": ...}}`, the shape OPA Gatekeeper's
//! constraint templates use, so the same files can be deployed there. An
//! empty set allows; every element denies and names its rule. The input
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
#![warn(missing_docs)]

mod tests_runner;

pub use tests_runner::{TestOutcome, run_tests};

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

/// Compiled Rego policies with a decision cache.
pub struct RegoPolicies {
    engine: regorus::Engine,
    packages: Vec<String>,
    files: usize,
    cache: FxHashMap<(Point, String), Vec<Violation>>,
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
        if let Some(d) = data_json {
            engine.add_data_json(d).map_err(|e| PolicyError::Data(e.to_string()))?;
        }
        let packages = engine.get_packages().map_err(|e| PolicyError::Data(e.to_string()))?;
        let packages = packages.into_iter().map(|p| p.trim_start_matches("data.").to_string()).collect();
        Ok(RegoPolicies { engine, packages, files: sources.len(), cache: FxHashMap::default(), stats: PolicyStats::default() })
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
        if let Some(v) = self.cache.get(&(point, json.clone())) {
            self.stats.cache_hits += 1;
            return Ok(v.clone());
        }
        let violations = self.evaluate_json(point, &json)?;
        self.cache.insert((point, json), violations.clone());
        Ok(violations)
    }

    /// Evaluates without the cache, from input JSON (what a cache miss costs).
    pub fn evaluate_json(&mut self, point: Point, input_json: &str) -> Result<Vec<Violation>, PolicyError> {
        if !self.covers(point) {
            return Ok(Vec::new());
        }
        let eval = |e: &mut regorus::Engine| -> Result<String, String> {
            e.set_input_json(input_json).map_err(|e| e.to_string())?;
            let v = e.eval_rule(format!("data.{}.violation", point.package())).map_err(|e| e.to_string())?;
            v.to_json_str().map_err(|e| e.to_string())
        };
        let out = eval(&mut self.engine).map_err(|message| PolicyError::Eval { package: point.package(), message })?;
        Ok(parse_violations(&out))
    }
}

/// Reads a `violation` set: objects with `msg` and `details.rule`.
fn parse_violations(json: &str) -> Vec<Violation> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else { return Vec::new() };
    let mut out: Vec<Violation> = match v {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|item| Violation {
                rule: item.pointer("/details/rule").and_then(|r| r.as_str()).unwrap_or("unnamed-rule").to_string(),
                message: item.get("msg").and_then(|m| m.as_str()).map_or_else(|| item.to_string(), str::to_string),
            })
            .collect(),
        _ => Vec::new(),
    };
    out.sort();
    out
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
        self.evaluate(Point::Admission, input).map_err(|e| e.to_string())
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

    #[test]
    fn a_broken_policy_names_its_file() {
        let err = RegoPolicies::new(&[("broken.rego".into(), "package x\nviolation contains if {".into())], None).err().unwrap();
        assert!(err.to_string().starts_with("broken.rego"), "{err}");
    }
}
