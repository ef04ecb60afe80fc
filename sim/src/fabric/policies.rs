//! Policy decision points: admission, placement and scaling, asked of the
//! fabric's [`PolicyHook`] with documented input documents.

use super::{Event, Fabric};
use crate::engine::Context;
use crate::fleet::Owner;
use crate::ids::{JobId, PoolId, ServiceId, WorkloadId};
use crate::policy::{
    AdmissionInput, Inventory, KubeObject, PlacementInput, PoolDoc, Review, ScalingInput, TeamSpend, Violation, WorkloadDoc,
};
use std::collections::BTreeSet;

/// Hours in the month policies forecast spend over.
const HOURS_PER_MONTH: f64 = 730.0;

/// How often a rule denied at a decision point, and an example.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Denials {
    pub count: u64,
    pub first_subject: String,
    pub message: String,
}

impl Fabric {
    fn workload_doc(&self, w: WorkloadId) -> WorkloadDoc {
        let wl = &self.workloads[w.index()];
        let (kind, model, gpus, replicas, pools) = match wl.kind {
            super::WorkloadKind::Service(s) => {
                let svc = &self.services[s.index()];
                let model = if svc.model.is_empty() { None } else { Some(svc.model.clone()) };
                ("InferenceService", model, svc.gpus_per_replica, svc.desired, svc.pools.clone())
            }
            super::WorkloadKind::Job(j) => {
                let job = &self.jobs[j.index()];
                ("TrainingJob", None, job.gpus, 1, job.pools.clone())
            }
            super::WorkloadKind::Recorded(p) => ("RecordedUsage", None, 0, 0, vec![p]),
        };
        let regions: BTreeSet<String> = pools.iter().map(|p| self.pools[p.index()].region.clone()).filter(|r| !r.is_empty()).collect();
        WorkloadDoc {
            kind,
            name: wl.name.clone(),
            namespace: wl.namespace.clone(),
            team: wl.team.clone(),
            image: wl.image.clone(),
            labels: wl.labels.clone(),
            model,
            gpus,
            replicas,
            priority: wl.traits.priority,
            pools: pools.iter().map(|p| self.pools[p.index()].name.clone()).collect(),
            regions: regions.into_iter().collect(),
        }
    }

    /// Gatekeeper's `data.inventory` as Twin keeps it: every workload that
    /// holds accelerators now, with the replicas placed (services) or the
    /// accelerators its gang holds (jobs).
    fn inventory(&self) -> Inventory {
        let mut held = vec![0u32; self.workloads.len()];
        for pool in &self.pools {
            for &n in &pool.nodes {
                for a in &self.nodes[n.index()].allocs {
                    held[a.workload.index()] += a.gpus;
                }
            }
        }
        let mut inv = Inventory::default();
        for (i, &gpus) in held.iter().enumerate() {
            if gpus == 0 {
                continue;
            }
            let doc = self.workload_doc(WorkloadId(i as u32));
            let object = match self.workloads[i].kind {
                super::WorkloadKind::Service(_) if doc.gpus > 0 => KubeObject::of(&doc, gpus.div_ceil(doc.gpus), doc.gpus),
                _ => KubeObject::of(&doc, 1, gpus),
            };
            inv.insert(object);
        }
        inv
    }

    /// Accelerators the team's workloads hold now, and what they cost per hour.
    fn team_holdings(&self, team: &str) -> (u32, f64) {
        let mut gpus = 0;
        let mut per_hour = 0.0;
        for pool in &self.pools {
            for &n in &pool.nodes {
                for a in &self.nodes[n.index()].allocs {
                    if self.workloads[a.workload.index()].team == team {
                        gpus += a.gpus;
                        per_hour += f64::from(a.gpus) * pool.price_units as f64 / 1e9;
                    }
                }
            }
        }
        (gpus, per_hour)
    }

    /// Records a denial for the summary and the trace.
    /// Counts a denial by rule and traces it as `{point}-deny`, after `step` (what was refused) if given.
    fn deny(&mut self, point: &'static str, subject: &str, violations: &[Violation], now: crate::time::SimTime, step: Option<String>) {
        for v in violations {
            let d = self.denials.entry((point, v.rule.clone())).or_default();
            if d.count == 0 {
                d.first_subject = subject.to_string();
                d.message = v.message.clone();
            }
            d.count += 1;
        }
        let detail = violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        let detail = match step {
            Some(step) => format!("{step} denied by {detail}"),
            None => detail,
        };
        self.trace(now, "policy", subject.to_string(), &format!("{point}-deny"), None, detail);
    }

    /// Asks the admission policy about a workload; whether it is admitted.
    pub(super) fn admit_workload(&mut self, w: WorkloadId, ctx: &Context<'_, Event>) -> bool {
        if self.policy.is_none() {
            return true;
        }
        let doc = self.workload_doc(w);
        let input =
            AdmissionInput { review: Review::create(KubeObject::of(&doc, doc.replicas.max(1), doc.gpus)), inventory: self.inventory() };
        let verdict = self.policy.as_mut().map(|p| p.admission(&input));
        match verdict {
            Some(Ok(v)) if !v.is_empty() => {
                let name = input.review.name.clone();
                self.deny("admission", &name, &v, ctx.now(), None);
                false
            }
            Some(Err(e)) => {
                self.fatal = Some(format!("admission policy for {}: {e}", input.review.name));
                false
            }
            _ => true,
        }
    }

    /// The pools a workload may be placed in after the placement policy,
    /// asked once per (workload, pool).
    pub(super) fn policy_pools(&mut self, owner: Owner, pools: &[PoolId], ctx: &Context<'_, Event>) -> Vec<PoolId> {
        if self.policy.is_none() {
            return pools.to_vec();
        }
        let w = self.workload_of(owner);
        let mut allowed = Vec::with_capacity(pools.len());
        for &p in pools {
            // Asked again only when the pool's price has moved since.
            let price = self.pools[p.index()].price_units;
            let before = self.placement_verdicts.get(&(w, p)).copied();
            let ok = match before {
                Some((at, ok)) if at == price => ok,
                _ => {
                    let pool = &self.pools[p.index()];
                    let input = PlacementInput {
                        workload: self.workload_doc(w),
                        pool: PoolDoc {
                            name: pool.name.clone(),
                            capacity: pool.capacity.as_str(),
                            region: pool.region.clone(),
                            zone: pool.zone.clone(),
                            accelerator: pool.accelerator.name.clone(),
                            price_per_gpu_hour: pool.price_units as f64 / 1e9,
                            interruption_per_hour: pool.interruptions.map_or(0.0, |i| i.rate_per_hour),
                        },
                    };
                    let ok = match self.policy.as_mut().map(|h| h.placement(&input)) {
                        Some(Ok(v)) if !v.is_empty() => {
                            // Traced and counted when the verdict turns to deny, not on every re-ask.
                            if before.is_none_or(|(_, ok)| ok) {
                                let subject = format!("{} in pool {}", input.workload.name, input.pool.name);
                                self.deny("placement", &subject, &v, ctx.now(), None);
                            }
                            false
                        }
                        Some(Err(e)) => {
                            self.fatal = Some(format!("placement policy for {}: {e}", input.workload.name));
                            false
                        }
                        _ => true,
                    };
                    self.placement_verdicts.insert((w, p), (price, ok));
                    ok
                }
            };
            if ok {
                allowed.push(p);
            }
        }
        allowed
    }

    /// Asks the scaling policy about a scale-up; the violations, if denied.
    /// Asks the scaling policy about a scale-up; whether it is denied
    /// (traced and counted here).
    pub(super) fn scaling_denied(&mut self, s: ServiceId, current: u32, desired: u32, now: crate::time::SimTime) -> bool {
        if self.policy.is_none() {
            return false;
        }
        let svc = &self.services[s.index()];
        let w = svc.workload;
        let team = self.workloads[w.index()].team.clone();
        let (_, run_rate) = self.team_holdings(&team);
        // The cheapest pool the placement policy has not ruled out for it.
        let cheapest = svc
            .pools
            .iter()
            .filter(|p| self.placement_verdicts.get(&(w, **p)).is_none_or(|(_, ok)| *ok))
            .map(|p| self.pools[p.index()].price_units as f64 / 1e9)
            .fold(f64::INFINITY, f64::min);
        let added = f64::from(desired - current)
            * f64::from(svc.gpus_per_replica)
            * if cheapest.is_finite() { cheapest } else { 0.0 }
            * HOURS_PER_MONTH;
        let spend_to_date: f64 = self
            .workloads
            .iter()
            .enumerate()
            .filter(|(_, wl)| wl.team == team)
            .map(|(i, _)| self.ledger.owner_total(Some(WorkloadId(i as u32))).total().to_currency())
            .sum();
        let input = ScalingInput {
            service: self.workload_doc(w),
            current_replicas: current,
            desired_replicas: desired,
            team: TeamSpend {
                name: team,
                spend_to_date,
                run_rate_per_hour: run_rate,
                forecast_monthly_spend: run_rate * HOURS_PER_MONTH,
                added_monthly_spend: added,
            },
        };
        match self.policy.as_mut().map(|h| h.scaling(&input)) {
            Some(Ok(v)) if !v.is_empty() => {
                let name = input.service.name.clone();
                self.deny("scaling", &name, &v, now, Some(format!("scale {current} → {desired}")));
                true
            }
            Some(Err(e)) => {
                self.fatal = Some(format!("scaling policy for {}: {e}", input.service.name));
                true
            }
            _ => false,
        }
    }

    /// Rejects a submitted job that admission denied.
    pub(super) fn admit_job(&mut self, j: JobId, ctx: &Context<'_, Event>) -> bool {
        let w = self.jobs[j.index()].workload;
        self.admit_workload(w, ctx)
    }
}
