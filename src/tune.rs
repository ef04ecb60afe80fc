//! `[[promote.tune]]`: the workload changes a promotion recommends.
//!
//! For one served workload of the fleet, the twin runs every setting of a
//! small grid (fixed `replicas`, or an HPA's `minReplicas` × `maxReplicas`)
//! on the suite's seeds, in the event engine, and keeps the cheapest setting
//! whose SLO is met on every seed. When that differs from the manifests',
//! it becomes a JSON 6902 patch of the Deployment or its HPA: a change the
//! twin measured, not a rule of thumb.

use anyhow::{Context, bail};
use rayon::prelude::*;
use std::fmt;
use twin_gitops::kustomize::{Patch, Target};
use twin_manifests::{Manifests, Resource};
use twin_regress::suite::TuneSpec;
use twin_sim::scenario::Scenario;
use twin_sim::{RunOptions, run};

/// One setting of a workload's replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// A Deployment's fixed `replicas`.
    Replicas(u32),
    /// An HPA's bounds.
    Hpa {
        /// `minReplicas`.
        min: u32,
        /// `maxReplicas`.
        max: u32,
    },
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setting::Replicas(r) => write!(f, "replicas {r}"),
            Setting::Hpa { min, max } => write!(f, "minReplicas {min}, maxReplicas {max}"),
        }
    }
}

/// What one setting did over the seeds.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The setting.
    pub setting: Setting,
    /// Mean cost of the whole fleet per 30 days.
    pub cost_per_month: f64,
    /// The lowest SLO attainment of the workload over the seeds.
    pub worst_slo: f64,
    /// Whether every seed met the workload's SLO target.
    pub met: bool,
}

/// A tuned workload: what the manifests say, the best setting, and the patch.
#[derive(Clone, Debug)]
pub struct Tuned {
    /// The workload.
    pub workload: String,
    /// The SLO target.
    pub target: f64,
    /// The manifests' own setting, measured.
    pub current: Measured,
    /// The cheapest setting meeting the SLO on every seed, if any.
    pub best: Option<Measured>,
    /// The patch, when the best differs from the current.
    pub patch: Option<Patch>,
}

impl Tuned {
    /// One line for the terminal and the commit message.
    pub fn line(&self) -> String {
        let m = |x: &Measured| format!("{} ({:.0}/month, worst SLO {:.2}%)", x.setting, x.cost_per_month, 100.0 * x.worst_slo);
        match (&self.best, &self.patch) {
            (Some(b), Some(_)) => format!("{}: {} → {}", self.workload, m(&self.current), m(b)),
            (Some(_), None) => format!("{}: {} is already the cheapest setting that meets the SLO", self.workload, m(&self.current)),
            (None, _) => format!(
                "{}: no setting tried meets the SLO of {:.1}% on every seed; left as {}",
                self.workload,
                100.0 * self.target,
                m(&self.current)
            ),
        }
    }
}

/// Searches one workload's grid on `seeds` and, for a better setting,
/// writes the patch against the object in `manifests`.
pub fn tune(scenario: &Scenario, t: &TuneSpec, seeds: &[u64], manifests: &Manifests) -> anyhow::Result<Tuned> {
    let services = &scenario.spec.services;
    let Some(i) = services.iter().position(|s| s.name == t.workload) else {
        bail!(
            "[[promote.tune]] workload = \"{}\": the fleet has no such workload (it has: {})",
            t.workload,
            services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        );
    };
    let svc = &services[i];
    let Some(slo) = &svc.slo else {
        bail!(
            "[[promote.tune]] workload = \"{}\": it serves no modelled requests, so no SLO to tune against (docs/manifests.md: load annotations)",
            t.workload
        );
    };
    let target = slo.target;
    let (current, grid) = match (&svc.autoscaler, t.replicas.is_empty()) {
        (None, false) if t.min_replicas.is_empty() && t.max_replicas.is_empty() => {
            (Setting::Replicas(svc.replicas), t.replicas.iter().map(|&r| Setting::Replicas(r)).collect::<Vec<_>>())
        }
        (Some(a), true) if !t.min_replicas.is_empty() || !t.max_replicas.is_empty() => {
            let mins = if t.min_replicas.is_empty() { vec![a.min] } else { t.min_replicas.clone() };
            let maxs = if t.max_replicas.is_empty() { vec![a.max] } else { t.max_replicas.clone() };
            let grid = mins
                .iter()
                .flat_map(|&min| maxs.iter().filter(move |&&max| max >= min).map(move |&max| Setting::Hpa { min, max }))
                .collect();
            (Setting::Hpa { min: a.min, max: a.max }, grid)
        }
        (None, _) => bail!("[[promote.tune]] workload = \"{}\" has no HPA: give `replicas = [...]` to try", t.workload),
        (Some(_), _) => bail!(
            "[[promote.tune]] workload = \"{}\" has an HPA: give `min_replicas` and/or `max_replicas` to try, not `replicas`",
            t.workload
        ),
    };
    if let Some(bad) = grid.iter().find(|s| matches!(s, Setting::Replicas(0) | Setting::Hpa { min: 0, .. })) {
        bail!("[[promote.tune]] workload = \"{}\": {bad} is not a setting Kubernetes takes (at least 1)", t.workload);
    }
    if grid.is_empty() {
        bail!("[[promote.tune]] workload = \"{}\": no min_replicas ≤ max_replicas pair to try", t.workload);
    }

    let mut all = vec![current];
    all.extend(grid.iter().copied().filter(|s| *s != current));
    let work: Vec<(usize, u64)> = (0..all.len()).flat_map(|p| seeds.iter().map(move |&s| (p, s))).collect();
    let runs: Vec<(f64, f64, bool)> = work
        .par_iter()
        .map(|&(p, seed)| {
            let mut sc = scenario.clone();
            apply(&mut sc.spec.services[i], all[p]);
            let out = run(&sc, seed, RunOptions::summary_only()).with_context(|| format!("{} with {}", t.workload, all[p]))?;
            let s = out.summary.services.iter().find(|s| s.name == t.workload).context("the workload is in the summary")?;
            let month = 30.0 * 86_400.0 / sc.spec.horizon.get().as_secs_f64();
            Ok((out.summary.cost.total * month, s.slo_attainment, s.slo_met))
        })
        .collect::<anyhow::Result<_>>()?;
    let n = seeds.len();
    let measured: Vec<Measured> = all
        .iter()
        .enumerate()
        .map(|(p, &setting)| {
            let r = &runs[p * n..(p + 1) * n];
            Measured {
                setting,
                cost_per_month: r.iter().map(|x| x.0).sum::<f64>() / n as f64,
                worst_slo: r.iter().map(|x| x.1).fold(f64::INFINITY, f64::min),
                met: r.iter().all(|x| x.2),
            }
        })
        .collect();
    // The cheapest that meets the SLO, to the cent. Among equals: the fewest
    // fields changed, then the most headroom (a higher maxReplicas), then
    // grid order: a tie is no reason to take surge capacity away.
    let changed = |s: Setting| match (s, current) {
        (Setting::Hpa { min, max }, Setting::Hpa { min: a, max: b }) => u32::from(min != a) + u32::from(max != b),
        (x, y) => u32::from(x != y),
    };
    let headroom = |s: Setting| match s {
        Setting::Replicas(r) => r,
        Setting::Hpa { max, .. } => max,
    };
    let best = measured
        .iter()
        .filter(|m| m.met)
        .min_by_key(|m| ((m.cost_per_month * 100.0).round() as i64, changed(m.setting), std::cmp::Reverse(headroom(m.setting))))
        .cloned();
    let patch = match &best {
        Some(b) if b.setting != current => Some(patch(&t.workload, current, b.setting, manifests)?),
        _ => None,
    };
    Ok(Tuned { workload: t.workload.clone(), target, current: measured[0].clone(), best, patch })
}

fn apply(svc: &mut twin_sim::scenario::spec::ServiceSpec, s: Setting) {
    match s {
        Setting::Replicas(r) => svc.replicas = r,
        Setting::Hpa { min, max } => {
            if let Some(a) = svc.autoscaler.as_mut() {
                a.min = min;
                a.max = max;
            }
            svc.replicas = svc.replicas.clamp(min, max);
        }
    }
}

/// The JSON 6902 patch from `from` to `to`, against the Deployment (or
/// StatefulSet) named `workload` or the HPA that scales it.
fn patch(workload: &str, from: Setting, to: Setting, manifests: &Manifests) -> anyhow::Result<Patch> {
    let mut ops = String::new();
    // `add` sets a member whether or not the manifest wrote it (`replace` fails on a missing one).
    let mut op = |path: &str, v: u32| ops.push_str(&format!("- op: add\n  path: {path}\n  value: {v}\n"));
    let target = match (from, to) {
        (_, Setting::Replicas(r)) => {
            let kind = manifests
                .objects()
                .iter()
                .find_map(|o| match &o.resource {
                    Resource::Deployment(d) if d.metadata.name.as_deref() == Some(workload) => Some("Deployment"),
                    Resource::StatefulSet(d) if d.metadata.name.as_deref() == Some(workload) => Some("StatefulSet"),
                    _ => None,
                })
                .with_context(|| {
                    format!(
                        "[[promote.tune]] workload = \"{workload}\": no Deployment or StatefulSet of that name in the fleet's manifests"
                    )
                })?;
            op("/spec/replicas", r);
            Target { group: Some("apps".into()), kind: kind.into(), name: workload.into() }
        }
        (Setting::Hpa { min: a, max: b }, Setting::Hpa { min, max }) => {
            let name = manifests
                .objects()
                .iter()
                .find_map(|o| match &o.resource {
                    Resource::HorizontalPodAutoscaler(h) if h.spec.scale_target_ref.name == workload => h.metadata.name.clone(),
                    _ => None,
                })
                .with_context(|| format!("[[promote.tune]] workload = \"{workload}\": no HPA scaling it in the fleet's manifests"))?;
            if min != a {
                op("/spec/minReplicas", min);
            }
            if max != b {
                op("/spec/maxReplicas", max);
            }
            Target { group: Some("autoscaling".into()), kind: "HorizontalPodAutoscaler".into(), name }
        }
        (Setting::Replicas(_), Setting::Hpa { .. }) => bail!("{workload}: a fixed count cannot become HPA bounds"),
    };
    Ok(Patch { patch: ops, target })
}
