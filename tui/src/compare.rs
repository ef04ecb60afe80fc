//! Compare: two variants of a scenario (scheduler profiles, policies on or
//! off, seeds, or another scenario) run on the same seed, their deltas, and
//! the first decision where the two runs went different ways.

use crate::worker::{PlacementFactory, RunRequest, run_to_end};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use twin_inputs::{Loaded, ScenarioText};
use twin_sim::metrics::{DecisionRecord, Summary};

/// One side of a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The scenario as written.
    AsWritten,
    /// With a built-in scheduler profile instead of its own.
    Profile(&'static str),
    /// Without its Rego policies.
    WithoutPolicies,
    /// With only this one of its policy files.
    OnlyPolicy(String),
    /// With another seed.
    Seed(u64),
    /// Another scenario (a file or a built-in name).
    Scenario(String),
}

impl Variant {
    /// How the screen names it.
    pub fn label(&self) -> String {
        match self {
            Variant::AsWritten => "as written".into(),
            Variant::Profile(p) => format!("profile {p}"),
            Variant::WithoutPolicies => "without policies".into(),
            Variant::OnlyPolicy(f) => format!("only {}", f.rsplit('/').next().unwrap_or(f)),
            Variant::Seed(s) => format!("seed {s}"),
            Variant::Scenario(s) => format!("scenario {s}"),
        }
    }

    /// The variants worth offering for `loaded`, then the `others` scenarios.
    pub fn choices(loaded: &Loaded, others: &[String]) -> Vec<Variant> {
        let spec = &loaded.scenario.spec;
        let mut v = vec![Variant::AsWritten];
        if spec.scheduler.external.is_none() {
            v.extend(crate::whatif::profiles().into_iter().map(Variant::Profile));
        }
        if let Some(p) = &spec.policies {
            v.push(Variant::WithoutPolicies);
            if p.files.len() > 1 {
                v.extend(p.files.iter().cloned().map(Variant::OnlyPolicy));
            }
        }
        v.extend([Variant::Seed(spec.seed.wrapping_add(1)), Variant::Seed(spec.seed.wrapping_add(2))]);
        v.extend(others.iter().filter(|o| **o != loaded.scenario.origin && **o != spec.name).cloned().map(Variant::Scenario));
        v
    }

    /// The run this variant of `loaded` makes.
    pub fn request(&self, loaded: &Arc<Loaded>, factory: Option<PlacementFactory>) -> Result<RunRequest, String> {
        let seed = loaded.scenario.spec.seed;
        let edited = |edit: &dyn Fn(&mut toml_edit::DocumentMut)| -> Result<Arc<Loaded>, String> {
            let mut doc: toml_edit::DocumentMut = loaded.text.parse().map_err(|e| format!("{}: {e}", loaded.scenario.origin))?;
            edit(&mut doc);
            let origin = format!("{} ({})", loaded.scenario.origin, self.label());
            twin_inputs::load_text(ScenarioText { origin, text: doc.to_string(), source: loaded.source.clone() })
                .map(Arc::new)
                .map_err(|e| e.to_string())
        };
        let (l, seed) = match self {
            Variant::AsWritten => (loaded.clone(), seed),
            Variant::Seed(s) => (loaded.clone(), *s),
            Variant::Profile(p) => (edited(&|doc| crate::whatif::set_profile(doc, p))?, seed),
            Variant::WithoutPolicies => (
                edited(&|doc| {
                    doc.remove("policies");
                })?,
                seed,
            ),
            Variant::OnlyPolicy(file) => (
                edited(&|doc| {
                    let mut files = toml_edit::Array::new();
                    files.push(file.as_str());
                    doc["policies"]["files"] = toml_edit::value(files);
                })?,
                seed,
            ),
            Variant::Scenario(name) => (Arc::new(twin_inputs::load(name).map_err(|e| e.to_string())?), seed),
        };
        Ok(RunRequest { loaded: l, seed, factory })
    }
}

/// One compared measure.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// What is measured.
    pub measure: String,
    /// A's value.
    pub a: f64,
    /// B's value.
    pub b: f64,
    /// Whether more is better (none: neither).
    pub more_is_better: Option<bool>,
    /// How to print a value: decimals.
    pub decimals: usize,
}

impl Row {
    /// B − A.
    pub fn delta(&self) -> f64 {
        self.b - self.a
    }

    /// Whether B is better than A (none: same, or neither is better).
    pub fn b_better(&self) -> Option<bool> {
        let d = self.delta();
        if d.abs() < 1e-12 {
            return None;
        }
        self.more_is_better.map(|m| (d > 0.0) == m)
    }
}

/// The first decision where two runs differ.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// Its position in both traces.
    pub index: usize,
    /// A's decision there, as text (none: A's trace ended).
    pub a: Option<String>,
    /// B's decision there.
    pub b: Option<String>,
}

/// Two runs side by side.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// A's label.
    pub a_label: String,
    /// B's label.
    pub b_label: String,
    /// A's summary.
    pub a: Summary,
    /// B's summary.
    pub b: Summary,
    /// The measures.
    pub rows: Vec<Row>,
    /// Where the decisions first differ (none: identical traces).
    pub divergence: Option<Divergence>,
    /// Decisions in each trace.
    pub decisions: (usize, usize),
}

fn line(d: &DecisionRecord) -> String {
    let mut s = format!("{}  {} {} {}", d.time, d.kind, d.outcome, d.subject);
    if let Some(n) = &d.node {
        s.push_str(" → ");
        s.push_str(n);
    }
    s
}

fn same(x: &DecisionRecord, y: &DecisionRecord) -> bool {
    x.time == y.time && x.kind == y.kind && x.subject == y.subject && x.outcome == y.outcome && x.node == y.node
}

/// The first place two decision traces differ.
pub fn divergence(a: &[DecisionRecord], b: &[DecisionRecord]) -> Option<Divergence> {
    let i = a.iter().zip(b).position(|(x, y)| !same(x, y)).unwrap_or(a.len().min(b.len()));
    if i == a.len() && i == b.len() {
        return None;
    }
    Some(Divergence { index: i, a: a.get(i).map(line), b: b.get(i).map(line) })
}

fn utilisation(s: &Summary) -> f64 {
    let gpu_h: f64 = s.pools.iter().map(|p| p.gpu_hours).sum();
    if gpu_h > 0.0 { s.pools.iter().map(|p| p.busy_gpu_hours).sum::<f64>() / gpu_h } else { 0.0 }
}

fn allocation(s: &Summary) -> f64 {
    let gpu_h: f64 = s.pools.iter().map(|p| p.gpu_hours).sum();
    if gpu_h > 0.0 { s.pools.iter().map(|p| p.allocated_gpu_hours).sum::<f64>() / gpu_h } else { 0.0 }
}

fn attainment(s: &Summary) -> f64 {
    let (met, ended) = s.services.iter().fold((0.0, 0.0), |(m, e), x| {
        let ended = (x.finished + x.dropped.values().sum::<u64>()) as f64;
        (m + x.slo_attainment * ended, e + ended)
    });
    if ended > 0.0 { met / ended } else { 1.0 }
}

/// The measures compared, A against B.
pub fn rows(a: &Summary, b: &Summary) -> Vec<Row> {
    let row = |m: &str, f: &dyn Fn(&Summary) -> f64, better: Option<bool>, decimals| Row {
        measure: m.to_string(),
        a: f(a),
        b: f(b),
        more_is_better: better,
        decimals,
    };
    let mut out = vec![
        row(&format!("cost ({})", a.currency), &|s| s.cost.total, Some(false), 2),
        row("idle cost", &|s| s.cost.idle, Some(false), 2),
        row("SLO attainment %", &|s| 100.0 * attainment(s), Some(true), 2),
        row("requests dropped", &|s| s.services.iter().map(|x| x.dropped.values().sum::<u64>()).sum::<u64>() as f64, Some(false), 0),
        row("preemptions", &|s| (s.scheduling.preemptions + s.jobs.preemptions) as f64, Some(false), 0),
        row("GPU allocation %", &|s| 100.0 * allocation(s), None, 1),
        row("GPU utilisation %", &|s| 100.0 * utilisation(s), Some(true), 1),
        row("spot reclaims", &|s| s.interruptions.reclaims as f64, Some(false), 0),
        row("jobs finished", &|s| s.jobs.finished as f64, Some(true), 0),
        row("energy kWh", &|s| s.energy_kwh, Some(false), 1),
    ];
    for sa in &a.services {
        if let Some(sb) = b.services.iter().find(|x| x.name == sa.name) {
            out.push(Row {
                measure: format!("{} P99 TTFT ms", sa.name),
                a: sa.ttft_ms.p99,
                b: sb.ttft_ms.p99,
                more_is_better: Some(false),
                decimals: 0,
            });
        }
    }
    out
}

/// Runs both variants to the end, side by side on two threads, and
/// compares them; `Ok(None)` when cancelled.
pub fn run(a: (&str, RunRequest), b: (&str, RunRequest), cancel: &AtomicBool) -> Result<Option<Comparison>, String> {
    let (ra, rb) = std::thread::scope(|s| {
        let other = s.spawn(|| run_to_end(&b.1, cancel));
        (run_to_end(&a.1, cancel), other.join().unwrap_or_else(|_| Err("the run panicked".into())))
    });
    let Some((sa, da)) = ra.map_err(|e| format!("{}: {e}", a.0))? else { return Ok(None) };
    let Some((sb, db)) = rb.map_err(|e| format!("{}: {e}", b.0))? else { return Ok(None) };
    Ok(Some(Comparison {
        a_label: a.0.to_string(),
        b_label: b.0.to_string(),
        rows: rows(&sa, &sb),
        divergence: divergence(&da, &db),
        decisions: (da.len(), db.len()),
        a: sa,
        b: sb,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_variant_twice_never_diverges_and_a_profile_does() {
        let loaded = Arc::new(twin_inputs::load("mixed-fleet").unwrap());
        let cancel = AtomicBool::new(false);
        let a = Variant::AsWritten.request(&loaded, None).unwrap();
        let same = run(("a", a.clone()), ("a again", a.clone()), &cancel).unwrap().unwrap();
        assert_eq!(same.divergence, None);
        assert!(same.rows.iter().all(|r| r.delta() == 0.0));
        let b = Variant::Profile("spread").request(&loaded, None).unwrap();
        let c = run(("as written", a), ("spread", b), &cancel).unwrap().unwrap();
        let d = c.divergence.expect("bin-pack and spread place differently");
        assert!(d.a.is_some() || d.b.is_some());
        assert_eq!(c.b.placement, "framework:spread");
    }

    #[test]
    fn choices_offer_profiles_seeds_and_other_scenarios() {
        let loaded = twin_inputs::load("policy-guardrails").unwrap();
        let c = Variant::choices(&loaded, &["spot-inference".into(), "policy-guardrails".into()]);
        assert!(c.contains(&Variant::WithoutPolicies));
        assert!(c.contains(&Variant::OnlyPolicy("../policies/admission.rego".into())));
        assert_eq!(Variant::OnlyPolicy("../policies/admission.rego".into()).label(), "only admission.rego");
        let l = Arc::new(loaded);
        let r = Variant::OnlyPolicy("../policies/scaling.rego".into()).request(&l, None).unwrap();
        assert_eq!(r.loaded.scenario.spec.policies.as_ref().unwrap().files, vec!["../policies/scaling.rego".to_string()]);
        assert!(c.contains(&Variant::Profile("fgd")));
        assert!(c.contains(&Variant::Scenario("spot-inference".into())));
        assert!(!c.contains(&Variant::Scenario("policy-guardrails".into())));
    }
}
