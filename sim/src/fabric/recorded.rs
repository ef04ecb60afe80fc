//! Recorded pools in the run: booking their replayed usage, sampling it, and
//! judging it (idle waste, and how many nodes the work would fit on).

use super::Fabric;
use crate::fleet::UsageReplay;
use crate::ledger::{Money, RecordedUse, energy_cost as energy_money};
use crate::metrics::RecordedSummary;
use crate::time::SimTime;

/// Days in the month that monthly savings are quoted for.
const MONTH_NS: f64 = 30.0 * 86_400.0 * 1e9;

impl Fabric {
    /// Books every node of recorded pool `p` up to `now` from its replay.
    pub(super) fn settle_recorded_pool(&mut self, p: usize, now: SimTime) {
        let Some(rec) = self.pools[p].recorded.take() else { return };
        let per_node = self.pools[p].gpus_per_node as usize;
        let idle_mw = self.pools[p].accelerator.idle_watts * 1e3;
        for j in 0..self.pools[p].nodes.len() {
            let n = self.pools[p].nodes[j];
            let from = self.nodes[n.index()].settled_to;
            if now <= from {
                continue;
            }
            let (mut busy, mut e_busy, mut e_idle) = (0u128, 0u128, 0u128);
            for (period, share) in overlaps(&rec.replay, from, now) {
                for s in 0..per_node {
                    let g = j * per_node + s;
                    if g < rec.replay.gpus {
                        let x = rec.replay.at(g, period);
                        busy += scale(u128::from(x.busy_ns), share);
                        e_busy += scale(x.energy_busy_mwns, share);
                        e_idle += scale(x.energy_idle_mwns, share);
                    }
                }
            }
            // Accelerators the recording does not cover draw idle power.
            let unrecorded = per_node.saturating_sub(rec.replay.gpus.saturating_sub(j * per_node)) as f64;
            e_idle += (unrecorded * idle_mw * now.saturating_since(from).as_nanos() as f64) as u128;
            let (nodes, pools) = (&mut self.nodes, &mut self.pools);
            let used = RecordedUse { owner: rec.owner, busy_gpu_ns: busy, busy_energy_mwns: e_busy, idle_energy_mwns: e_idle };
            self.ledger.settle_recorded_node(&mut nodes[n.index()], &mut pools[p], now, used);
        }
        self.pools[p].recorded = Some(rec);
    }

    /// Accelerators of recorded pool `p` busy in the sample interval ending at `now`.
    pub(super) fn recorded_busy(&self, p: usize, now: SimTime) -> Option<u32> {
        let rec = self.pools[p].recorded.as_ref()?;
        let t = if now.as_nanos() == 0 { now } else { SimTime(now.as_nanos() - 1) };
        Some(rec.replay.busy_at(t))
    }

    /// What the report says of each recorded pool.
    pub(super) fn recorded_summaries(&self) -> Vec<RecordedSummary> {
        let horizon_ns = self.horizon.as_nanos();
        self.pools
            .iter()
            .filter_map(|pool| {
                let rec = pool.recorded.as_ref()?;
                let r = &rec.replay;
                let t = r.totals();
                let per_node = pool.gpus_per_node.max(1);
                let nodes = pool.nodes.len() as u32;
                let owned = self.ledger.account(Some(rec.owner), pool.id);
                let idle = self.ledger.account(None, pool.id);
                let waste_ns: u128 = r.idle_spells.iter().map(|s| u128::from(s.end.saturating_since(s.start).as_nanos())).sum();
                let waste_energy: u128 = r.idle_spells.iter().map(|s| s.energy_mwns).sum();
                let waste = Money(i128::from(pool.price_units) * waste_ns as i128);
                let waste_energy_cost = energy_money(pool, waste_energy);
                let (peak, p99) = r.peak_busy();
                let needed = peak.div_ceil(per_node).max(1);
                let releasable = nodes.saturating_sub(needed);
                let node_money = Money(i128::from(pool.price_units) * i128::from(per_node) * horizon_ns as i128);
                let node_idle_mw = pool.node_type.host_watts * 1e3 + f64::from(per_node) * pool.accelerator.idle_watts * 1e3;
                let node_energy = energy_money(pool, (node_idle_mw * horizon_ns as f64) as u128);
                let savings = (node_money.to_currency() + node_energy.to_currency()) * f64::from(releasable);
                let per_month = if horizon_ns > 0 { savings * MONTH_NS / horizon_ns as f64 } else { 0.0 };
                let gpus = nodes * per_node;
                let recommendation = if releasable > 0 {
                    format!(
                        "consolidate: at most {peak} of {gpus} accelerators were busy in any {} (P99 {p99}); the work fits on {} of {nodes} nodes, and releasing {releasable} saves {:.2} {} over the run ({:.2} a month)",
                        crate::time::SimDuration(r.bin_ns),
                        needed,
                        savings,
                        self.currency,
                        per_month
                    )
                } else {
                    format!("keep: up to {peak} of {gpus} accelerators were busy at once; every node was needed")
                };
                Some(RecordedSummary {
                    pool: pool.name.clone(),
                    owner: self.workloads[rec.owner.index()].name.clone(),
                    file: rec.spec.file.clone(),
                    gpus_recorded: r.gpus as u32,
                    gpus_in_pool: gpus,
                    samples: r.samples,
                    observed_gpu_hours: t.observed_ns as f64 / 3.6e12,
                    busy_gpu_hours: t.busy_ns as f64 / 3.6e12,
                    busy_share: ratio(t.busy_ns as f64, t.observed_ns as f64),
                    energy_kwh: r.recorded_energy_joules() / 3.6e6,
                    unobserved_gpu_hours: r.unobserved_ns as f64 / 3.6e12,
                    busy_cost: owned.total().to_currency(),
                    idle_cost: idle.total().to_currency(),
                    idle_spells: r.idle_spells.len() as u64,
                    idle_after_s: rec.spec.idle_after.get().as_secs_f64(),
                    waste_gpu_hours: waste_ns as f64 / 3.6e12,
                    waste_cost: waste.to_currency() + waste_energy_cost.to_currency(),
                    peak_busy_gpus: peak,
                    p99_busy_gpus: p99,
                    nodes,
                    nodes_needed: needed,
                    releasable_nodes: releasable,
                    savings,
                    savings_per_month: per_month,
                    recommendation,
                })
            })
            .collect()
    }
}

/// The charge periods `[from, to)` overlaps, with the share of each it covers.
fn overlaps(r: &UsageReplay, from: SimTime, to: SimTime) -> Vec<(usize, f64)> {
    let (a, b) = (from.as_nanos(), to.as_nanos());
    let mut out = Vec::new();
    let mut p = a / r.period_ns;
    while p * r.period_ns < b && (p as usize) < r.periods {
        // The last period ends at the horizon, perhaps before its full length.
        let (s, e) = (p * r.period_ns, ((p + 1) * r.period_ns).min(r.horizon_ns));
        let covered = b.min(e).saturating_sub(a.max(s));
        let share = if covered >= e - s { 1.0 } else { covered as f64 / (e - s).max(1) as f64 };
        out.push((p as usize, share));
        p += 1;
    }
    out
}

fn scale(v: u128, share: f64) -> u128 {
    if share >= 1.0 { v } else { (v as f64 * share) as u128 }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}
