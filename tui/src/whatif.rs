//! What-if: a few knobs over the open scenario, turned into a variant of
//! its text (comments kept, through `toml_edit`), re-run on the event
//! engine or swept on the coarse model, and saved as a scenario file that
//! checks.

use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Value};
use twin_inputs::{Loaded, ScenarioText, Source};
use twin_sim::scenario::duration::parse_duration;
use twin_sweep::engine::Engine;
use twin_sweep::grid;
use twin_sweep::{Baseline, PointParams};

/// A knob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knob {
    /// Share of replicas asked for on spot (the sweep's model only).
    SpotShare,
    /// The autoscaler's ceiling.
    MaxReplicas,
    /// The autoscaler's target.
    AutoscalerTarget,
    /// A multiplier on the service's arrival rate.
    ArrivalMultiplier,
    /// Nodes of the first reserved or on-prem pool.
    CommittedNodes,
    /// The scheduler profile.
    Profile,
}

impl Knob {
    /// The knobs in the order the screen lists them.
    pub const ALL: [Knob; 6] =
        [Knob::SpotShare, Knob::MaxReplicas, Knob::AutoscalerTarget, Knob::ArrivalMultiplier, Knob::CommittedNodes, Knob::Profile];

    /// Its label.
    pub fn label(self) -> &'static str {
        match self {
            Knob::SpotShare => "spot share",
            Knob::MaxReplicas => "max replicas",
            Knob::AutoscalerTarget => "autoscaler target",
            Knob::ArrivalMultiplier => "arrival multiplier",
            Knob::CommittedNodes => "committed nodes",
            Knob::Profile => "scheduler profile",
        }
    }

    fn step(self, v: f64, up: bool) -> f64 {
        let s = if up { 1.0 } else { -1.0 };
        match self {
            Knob::SpotShare => ((v + 0.1 * s) * 10.0).round().clamp(0.0, 10.0) / 10.0,
            Knob::ArrivalMultiplier => ((v + 0.1 * s) * 10.0).round().clamp(1.0, 100.0) / 10.0,
            Knob::MaxReplicas | Knob::CommittedNodes => (v + s).clamp(0.0, 10_000.0),
            Knob::AutoscalerTarget => (v + s).clamp(1.0, 100_000.0),
            Knob::Profile => v,
        }
    }
}

/// A knob's setting: as the scenario has it, and as the user set it.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// Which knob.
    pub knob: Knob,
    /// The scenario's value (none: the knob does not apply to it).
    pub base: Option<f64>,
    /// The value now.
    pub value: f64,
    /// Why the knob does not apply, or what it applies to.
    pub note: String,
}

/// The What-if screen's model.
#[derive(Clone, Debug)]
pub struct WhatIf {
    /// The scenario the knobs start from.
    pub origin: String,
    /// Its name.
    pub name: String,
    text: String,
    source: Source,
    /// The service the service knobs act on.
    pub service: String,
    service_index: usize,
    committed_pool: Option<usize>,
    /// The knobs.
    pub settings: Vec<Setting>,
    /// The profile chosen, an index into the built-in profiles.
    pub profile: usize,
    base_profile: usize,
    /// The selected knob.
    pub selected: usize,
}

/// A what-if re-run on the event engine: the scenario as written (when it
/// had not run yet) and the variant, on the same seed.
#[derive(Clone, Debug)]
pub struct WhatIfRun {
    /// The scenario as written.
    pub base: Option<twin_sim::metrics::Summary>,
    /// The variant.
    pub variant: twin_sim::metrics::Summary,
    /// What the variant changed.
    pub changes: Vec<String>,
}

/// A sweep's distribution, for the screen.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepOutcome {
    /// Where it ran ("cpu (2 threads)", "gpu (NVIDIA H100)").
    pub backend: String,
    /// Replicas run.
    pub replicas: u32,
    /// Cost: 5th, 50th and 95th percentiles.
    pub cost_p5_p50_p95: (f64, f64, f64),
    /// Histogram of cost: (lower edge, count).
    pub histogram: Vec<(f64, u64)>,
    /// Chance of missing the SLO target.
    pub p_miss_slo: f64,
    /// Mean SLO attainment.
    pub attainment_mean: f64,
    /// The currency.
    pub currency: String,
    /// What the coarse model leaves out.
    pub left_out: Vec<String>,
    /// Wall seconds it took.
    pub seconds: f64,
}

/// Profiles the knob cycles through.
pub fn profiles() -> Vec<&'static str> {
    twin_scheduler::BUILTIN_PROFILES.iter().map(|p| p.0).collect()
}

impl WhatIf {
    /// The knobs of a loaded scenario, at its values.
    pub fn new(loaded: &Loaded) -> WhatIf {
        let spec = &loaded.scenario.spec;
        let service_index = spec.services.iter().position(|s| s.autoscaler.is_some()).unwrap_or(0);
        let svc = spec.services.get(service_index);
        let auto = svc.and_then(|s| s.autoscaler.as_ref());
        let committed_pool = spec.pools.iter().position(|p| p.capacity.is_committed());
        let names = profiles();
        let base_profile = builtin_profile(spec).and_then(|n| names.iter().position(|x| *x == n)).unwrap_or(0);
        let svc_name = svc.map_or_else(String::new, |s| s.name.clone());
        let spot_share =
            Baseline::from_scenario(&loaded.scenario, svc.map(|s| s.name.as_str()), twin_sim::time::SimDuration::from_secs(10))
                .ok()
                .map(|b| f64::from(b.params.spot_share));
        let setting = |knob, base: Option<f64>, note: String| Setting { knob, base, value: base.unwrap_or(0.0), note };
        let none = |why: &str| why.to_string();
        let settings = vec![
            setting(
                Knob::SpotShare,
                spot_share,
                if spot_share.is_some() { "sweep only".into() } else { none("the sweep cannot model this scenario") },
            ),
            setting(
                Knob::MaxReplicas,
                auto.map(|a| f64::from(a.max)),
                if auto.is_some() { svc_name.clone() } else { none("no autoscaler") },
            ),
            setting(Knob::AutoscalerTarget, auto.map(|a| a.target), if auto.is_some() { svc_name.clone() } else { none("no autoscaler") }),
            setting(Knob::ArrivalMultiplier, svc.map(|_| 1.0), if svc.is_some() { svc_name.clone() } else { none("no service") }),
            setting(
                Knob::CommittedNodes,
                committed_pool.map(|i| f64::from(spec.pools[i].nodes.unwrap_or(0))),
                committed_pool.map_or_else(|| none("no reserved or on-prem pool"), |i| spec.pools[i].name.clone()),
            ),
            setting(
                Knob::Profile,
                Some(base_profile as f64),
                if spec.scheduler.external.is_some() { none("external scheduler") } else { String::new() },
            ),
        ];
        WhatIf {
            origin: loaded.scenario.origin.clone(),
            name: spec.name.clone(),
            text: loaded.text.clone(),
            source: loaded.source.clone(),
            service: svc_name,
            service_index,
            committed_pool,
            settings,
            profile: base_profile,
            base_profile,
            selected: 1,
        }
    }

    /// Moves the selection.
    pub fn select(&mut self, down: bool) {
        let n = self.settings.len();
        self.selected = if down { (self.selected + 1) % n } else { (self.selected + n - 1) % n };
    }

    /// Turns the selected knob up or down; false when it does not apply.
    pub fn turn(&mut self, up: bool) -> bool {
        let s = &mut self.settings[self.selected];
        if s.base.is_none() {
            return false;
        }
        if s.knob == Knob::Profile {
            if !s.note.is_empty() {
                return false;
            }
            let n = profiles().len();
            self.profile = if up { (self.profile + 1) % n } else { (self.profile + n - 1) % n };
            s.value = self.profile as f64;
            return true;
        }
        s.value = s.knob.step(s.value, up);
        true
    }

    fn changed(&self) -> impl Iterator<Item = &Setting> {
        self.settings.iter().filter(|s| s.base.is_some_and(|b| b != s.value))
    }

    /// What differs from the scenario, one line per knob.
    pub fn changes(&self) -> Vec<String> {
        let names = profiles();
        self.changed()
            .map(|s| match s.knob {
                Knob::Profile => format!("{}: {} → {}", s.knob.label(), names[self.base_profile], names[self.profile]),
                _ => format!("{}: {} → {}", s.knob.label(), fmt(s.base.unwrap_or(0.0)), fmt(s.value)),
            })
            .collect()
    }

    /// The scenario's text with the knobs applied (the spot share is the
    /// sweep's alone and leaves the text as it is), headed by a comment
    /// saying what changed.
    pub fn variant_text(&self) -> Result<String, String> {
        let mut doc: DocumentMut = self.text.parse().map_err(|e| format!("{}: {e}", self.origin))?;
        for s in self.changed() {
            match s.knob {
                Knob::SpotShare => {}
                Knob::MaxReplicas => set_in_service(&mut doc, self.service_index, "autoscaler", "max", Value::from(s.value as i64))?,
                Knob::AutoscalerTarget => set_in_service(&mut doc, self.service_index, "autoscaler", "target", Value::from(s.value))?,
                Knob::ArrivalMultiplier => scale_arrivals(&mut doc, self.service_index, s.value)?,
                Knob::CommittedNodes => {
                    let i = self.committed_pool.ok_or("no committed pool")?;
                    let pool = array_entry(&mut doc, "pools", i)?;
                    pool["nodes"] = toml_edit::value(s.value as i64);
                }
                Knob::Profile => set_profile(&mut doc, profiles()[self.profile]),
            }
        }
        let mut head = format!("# What-if variant of {}, written by `twin tui`.\n", self.origin);
        for c in self.changes() {
            head.push_str(&format!("#   {c}\n"));
        }
        head.push_str("#\n");
        Ok(head + &doc.to_string())
    }

    /// The variant, checked and with its files read, as the loader gives it.
    pub fn load_variant(&self) -> Result<Loaded, String> {
        self.load_text(self.variant_text()?)
    }

    fn load_text(&self, text: String) -> Result<Loaded, String> {
        let origin = format!("{} (what-if)", self.origin);
        twin_inputs::load_text(ScenarioText { origin, text, source: self.source.clone() }).map_err(|e| e.to_string())
    }

    /// Where [`WhatIf::save`] writes: beside the scenario file, or in `cwd`
    /// for a built-in one, `NAME-whatif.toml` (then `-2`, `-3`, ... when taken).
    pub fn save_path(&self, cwd: &Path) -> PathBuf {
        let (dir, stem) = match self.source.dir() {
            Some(d) if Path::new(&self.origin).is_file() => (
                d.to_path_buf(),
                Path::new(&self.origin).file_stem().map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned()),
            ),
            _ => (cwd.to_path_buf(), self.name.clone()),
        };
        let mut path = dir.join(format!("{stem}-whatif.toml"));
        let mut n = 2;
        while path.exists() {
            path = dir.join(format!("{stem}-whatif-{n}.toml"));
            n += 1;
        }
        path
    }

    /// Checks the variant and writes it to `path` through a temporary file
    /// and a rename (no half-written scenario is ever left).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = self.variant_text()?;
        self.load_text(text.clone())?;
        twin_replay::atomic::write_text(path, &text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The sweep's parameters with the knobs applied.
    pub fn sweep_params(&self, loaded: &Loaded) -> Result<(Baseline, PointParams), String> {
        let step = parse_duration("10s").map_err(|e| e.to_string())?;
        let b = Baseline::from_scenario(&loaded.scenario, Some(&self.service), step).map_err(|e| e.to_string())?;
        let mut p = b.params;
        p.seed = (loaded.scenario.spec.seed ^ (loaded.scenario.spec.seed >> 32)) as u32;
        for s in &self.settings {
            match (s.knob, s.base) {
                (_, None) | (Knob::Profile, _) => {}
                (Knob::SpotShare, Some(_)) => grid::apply(&mut p, "spot_share", s.value),
                (Knob::MaxReplicas, Some(_)) => grid::apply(&mut p, "max_replicas", s.value),
                (Knob::AutoscalerTarget, Some(_)) => grid::apply(&mut p, "target_concurrency", s.value),
                (Knob::ArrivalMultiplier, Some(_)) => grid::apply(&mut p, "load", s.value),
                (Knob::CommittedNodes, Some(_)) => grid::apply(&mut p, "committed_nodes", s.value),
            }
        }
        Ok((b, p))
    }
}

/// Replicas a what-if sweep runs.
pub const SWEEP_REPLICAS: u32 = 2_000;

/// Runs the what-if's sweep: on a GPU when one is there, else on the CPU.
pub fn sweep(baseline: &Baseline, p: PointParams, progress: &mut dyn FnMut(f64)) -> Result<SweepOutcome, String> {
    let started = std::time::Instant::now();
    let engine = match twin_sweep::gpu::GpuBackend::new(false) {
        Ok(g) => Engine::Gpu(Box::new(g)),
        Err(_) => Engine::Cpu(0),
    };
    let n = SWEEP_REPLICAS;
    let swept =
        engine.sweep(&[p], n, baseline.slo_target as f32, true, &mut |d| progress(d as f64 / f64::from(n))).map_err(|e| e.to_string())?;
    let s = twin_sweep::summary::summarise(vec![], &swept.tallies[0], f64::from(baseline.params.od_price));
    let costs: Vec<f64> = swept.outcomes.unwrap_or_default().iter().map(|o| f64::from(o.cost)).collect();
    Ok(SweepOutcome {
        backend: engine.name(),
        replicas: n,
        cost_p5_p50_p95: (s.cost_p5, s.cost_p50, s.cost_p95),
        histogram: histogram(&costs, 24),
        p_miss_slo: s.p_miss_slo,
        attainment_mean: s.attainment_mean,
        currency: baseline.currency.clone(),
        left_out: baseline.left_out.clone(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn histogram(values: &[f64], bins: usize) -> Vec<(f64, u64)> {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.is_empty() || !lo.is_finite() || !hi.is_finite() {
        return Vec::new();
    }
    let width = ((hi - lo) / bins as f64).max(1e-9);
    let mut out: Vec<(f64, u64)> = (0..bins).map(|i| (lo + i as f64 * width, 0)).collect();
    for v in values {
        let i = (((v - lo) / width) as usize).min(bins - 1);
        out[i].1 += 1;
    }
    out
}

/// The built-in profile a scenario's scheduler uses (`default` when it
/// names none); none for a profile spelled out in the scenario.
pub fn builtin_profile(spec: &twin_sim::scenario::spec::ScenarioSpec) -> Option<&str> {
    match &spec.scheduler.profile {
        None => Some("default"),
        Some(twin_sim::scenario::spec::ProfileChoice::Builtin(n)) => Some(n),
        Some(twin_sim::scenario::spec::ProfileChoice::Custom(_)) => None,
    }
}

/// Sets `[scheduler] profile` in a scenario's text, adding the table when
/// the scenario has none.
pub fn set_profile(doc: &mut DocumentMut, profile: &str) {
    if !doc.contains_table("scheduler") {
        doc["scheduler"] = toml_edit::table();
    }
    doc["scheduler"]["profile"] = toml_edit::value(profile);
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.2}") }
}

fn array_entry<'d>(doc: &'d mut DocumentMut, array: &str, i: usize) -> Result<&'d mut toml_edit::Table, String> {
    doc.get_mut(array)
        .and_then(Item::as_array_of_tables_mut)
        .and_then(|a| a.get_mut(i))
        .ok_or_else(|| format!("the scenario has no [[{array}]] number {}", i + 1))
}

/// Sets `services[i].<table>.<key>`, whether `<table>` is written inline or as a table.
fn set_in_service(doc: &mut DocumentMut, i: usize, table: &str, key: &str, v: Value) -> Result<(), String> {
    let svc = array_entry(doc, "services", i)?;
    match svc.get_mut(table) {
        Some(Item::Value(Value::InlineTable(t))) => {
            t.insert(key, v);
            Ok(())
        }
        Some(Item::Table(t)) => {
            t[key] = Item::Value(v);
            Ok(())
        }
        _ => Err(format!("services[{i}].{table} is not a table")),
    }
}

/// Multiplies every rate in `services[i].arrivals` (`rate`, `rates`,
/// `base`, `peak`, ...), or a trace's `speed`.
fn scale_arrivals(doc: &mut DocumentMut, i: usize, m: f64) -> Result<(), String> {
    let svc = array_entry(doc, "services", i)?;
    let item = svc.get_mut("arrivals").ok_or_else(|| format!("services[{i}] has no arrivals"))?;
    let mut touched = 0;
    scale_item(item, m, false, &mut touched);
    if touched == 0 { Err(format!("services[{i}].arrivals has no rate to scale")) } else { Ok(()) }
}

fn is_rate(key: &str) -> bool {
    matches!(key, "rate" | "rates" | "speed" | "base" | "peak" | "mean" | "amplitude") || key.ends_with("_rate") || key.starts_with("rate_")
}

fn scale_item(item: &mut Item, m: f64, rate: bool, touched: &mut usize) {
    match item {
        Item::Value(v) => scale_value(v, m, rate, touched),
        Item::Table(t) => {
            for (k, v) in t.iter_mut() {
                let r = is_rate(k.get());
                scale_item(v, m, r, touched);
            }
        }
        _ => {}
    }
}

fn scale_value(v: &mut Value, m: f64, rate: bool, touched: &mut usize) {
    match v {
        Value::InlineTable(t) => {
            for (k, v) in t.iter_mut() {
                let r = is_rate(k.get());
                scale_value(v, m, r, touched);
            }
        }
        Value::Array(a) if rate => {
            for x in a.iter_mut() {
                scale_value(x, m, true, touched);
            }
        }
        Value::Float(f) if rate => {
            *v = Value::from(*f.value() * m);
            *touched += 1;
        }
        Value::Integer(n) if rate => {
            *v = Value::from(*n.value() as f64 * m);
            *touched += 1;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_keeps_comments_checks_and_says_what_changed() {
        let loaded = twin_inputs::load("spot-inference").unwrap();
        let mut w = WhatIf::new(&loaded);
        assert_eq!(w.service, "chat-spot");
        assert_eq!(w.settings[1].base, Some(16.0));
        w.selected = 1;
        assert!(w.turn(true));
        w.selected = 3;
        assert!(w.turn(true) && w.turn(true));
        w.selected = 5;
        assert!(w.turn(true));
        let text = w.variant_text().unwrap();
        assert!(text.starts_with("# What-if variant of <built-in>/spot-inference.toml"), "{text}");
        assert!(text.contains("#   max replicas: 16 → 17"), "{text}");
        assert!(text.contains("#   arrival multiplier: 1 → 1.20"), "{text}");
        assert!(text.contains("# Question: what does moving inference to spot save"), "comments kept");
        let v = w.load_variant().unwrap();
        let svc = &v.scenario.spec.services[0];
        assert_eq!(svc.autoscaler.as_ref().unwrap().max, 17);
        assert_eq!(v.scenario.spec.services[1].autoscaler.as_ref().unwrap().max, 16, "other services untouched");
        let dir = tempfile::tempdir().unwrap();
        let path = w.save_path(dir.path());
        assert_eq!(path, dir.path().join("spot-inference-whatif.toml"));
        w.save(&path).unwrap();
        assert!(twin_inputs::load(path.to_str().unwrap()).is_ok());
        assert_eq!(w.save_path(dir.path()), dir.path().join("spot-inference-whatif-2.toml"));
    }

    #[test]
    fn knobs_that_do_not_apply_do_not_turn() {
        let loaded = twin_inputs::load("spot-inference").unwrap();
        let mut w = WhatIf::new(&loaded);
        w.selected = 4;
        assert_eq!(w.settings[4].base, None);
        assert!(!w.turn(true));
        assert!(w.changes().is_empty());
    }

    #[test]
    fn histogram_counts_everything() {
        let h = histogram(&[1.0, 2.0, 3.0, 3.0, 10.0], 3);
        assert_eq!(h.iter().map(|b| b.1).sum::<u64>(), 5);
        assert!(histogram(&[], 4).is_empty());
    }
}
