//! The human-readable report of a run: what `twin run` prints.

use crate::metrics::Summary;
use std::fmt::Write;

/// Renders a summary as aligned plain text.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let cur = &s.currency;
    let _ = writeln!(
        out,
        "Twin · {} · seed {} · {} simulated · {} events · placement {}",
        s.scenario,
        s.seed,
        human_duration(s.horizon_s),
        thousands(s.events as f64, 0),
        s.placement
    );
    let _ = writeln!(out, "scenario {} (sha256 {})", s.origin, &s.scenario_sha256[..s.scenario_sha256.len().min(12)]);

    let c = &s.cost;
    let _ = writeln!(out, "\nCOST ({cur})");
    let mut t = Table::new(&["", "amount", "share"]);
    let share = |x: f64| {
        if c.total > 0.0 { format!("{:.1}%", 100.0 * x / c.total) } else { "-".into() }
    };
    t.row(vec!["total".into(), money(c.total), share(c.total)]);
    t.row(vec!["  capacity".into(), money(c.compute), share(c.compute)]);
    t.row(vec!["  energy (on-prem)".into(), money(c.energy), share(c.energy)]);
    t.row(vec!["  of which idle".into(), money(c.idle), share(c.idle)]);
    t.row(vec!["at on-demand list prices".into(), money(c.at_list_price), String::new()]);
    let pct = if c.at_list_price > 0.0 { format!("{:.1}%", 100.0 * c.savings_vs_on_demand / c.at_list_price) } else { "-".into() };
    t.row(vec!["savings vs all on-demand".into(), money(c.savings_vs_on_demand), pct]);
    t.row(vec!["  from spot".into(), money(c.spot_savings), String::new()]);
    out.push_str(&t.render());
    let by =
        |m: &std::collections::BTreeMap<String, f64>| m.iter().map(|(k, v)| format!("{k} {}", money(*v))).collect::<Vec<_>>().join(" · ");
    let _ = writeln!(out, "by capacity: {}", by(&c.by_capacity_type));
    let _ = writeln!(out, "by team:     {}", by(&c.by_team));
    let _ = writeln!(out, "energy:      {} (IT)", energy(s.energy_kwh));

    if !s.services.is_empty() {
        let _ = writeln!(out, "\nSERVICES");
        let mut t = Table::new(&[
            "service",
            "arrived",
            "finished",
            "dropped",
            "in flight",
            "SLO met",
            "target",
            "TTFT p50/p95/p99 ms",
            "E2E p50/p95/p99 s",
            "cost",
            "per 1M tok",
            "peak repl",
        ]);
        for v in &s.services {
            if !v.load {
                let none = || "—".to_string();
                t.row(vec![
                    v.name.clone(),
                    none(),
                    none(),
                    none(),
                    none(),
                    none(),
                    none(),
                    none(),
                    none(),
                    money(v.cost),
                    none(),
                    v.peak_replicas.to_string(),
                ]);
                continue;
            }
            let dropped: u64 = v.dropped.values().sum();
            t.row(vec![
                v.name.clone(),
                thousands(v.arrived as f64, 0),
                thousands(v.finished as f64, 0),
                thousands(dropped as f64, 0),
                thousands(v.in_flight as f64, 0),
                format!("{:.2}%{}", 100.0 * v.slo_attainment, if v.slo_met { "" } else { " ✗" }),
                format!("{:.1}%", 100.0 * v.slo_target),
                format!("{:.0} / {:.0} / {:.0}", v.ttft_ms.p50, v.ttft_ms.p95, v.ttft_ms.p99),
                format!("{:.2} / {:.2} / {:.2}", v.e2e_ms.p50 / 1e3, v.e2e_ms.p95 / 1e3, v.e2e_ms.p99 / 1e3),
                money(v.cost),
                format!("{:.3}", v.cost_per_1m_tokens),
                v.peak_replicas.to_string(),
            ]);
        }
        out.push_str(&t.render());
        for v in s.services.iter().filter(|v| !v.load) {
            let _ = writeln!(out, "  {}: capacity held, no load modelled (no requests): cost, placement and fragmentation only", v.name);
        }
        for v in &s.services {
            let reasons: Vec<String> = v.dropped.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{k} {n}")).collect();
            if !reasons.is_empty() || v.retries > 0 || v.scale_ups + v.scale_downs > 0 {
                let _ = writeln!(
                    out,
                    "  {}: drops [{}] · retries {} · replicas lost {} · scale ups {} downs {}",
                    v.name,
                    reasons.join(", "),
                    v.retries,
                    v.replicas_lost,
                    v.scale_ups,
                    v.scale_downs
                );
            }
        }
    }

    let _ = writeln!(out, "\nPOOLS");
    let mut t = Table::new(&[
        "pool",
        "capacity",
        "accel",
        "peak nodes",
        "GPU-h",
        "allocated",
        "busy",
        "cost",
        "idle cost",
        "mean $/node-h",
        "notices",
        "reclaims",
        "failures",
    ]);
    for p in &s.pools {
        t.row(vec![
            p.name.clone(),
            p.capacity.clone(),
            p.accelerator.clone(),
            p.peak_nodes.to_string(),
            thousands(p.gpu_hours, 1),
            format!("{:.1}%", 100.0 * p.allocation),
            format!("{:.1}%", 100.0 * p.utilisation),
            money(p.cost),
            money(p.idle_cost),
            format!("{:.3}", p.mean_price_per_node_hour),
            p.notices.to_string(),
            p.reclaims.to_string(),
            p.failures.to_string(),
        ]);
    }
    out.push_str(&t.render());

    let j = &s.jobs;
    if j.submitted + j.not_submitted > 0 {
        let _ = writeln!(out, "\nTRAINING");
        let _ = writeln!(
            out,
            "jobs: {} submitted · {} finished · {} running · {} queued · {} rejected by policy · {} not yet submitted",
            j.submitted, j.finished, j.running, j.queued, j.rejected, j.not_submitted
        );
        let _ = writeln!(
            out,
            "work done {} H100-equivalent hours · lost {} in {} preemptions · mean completion {:.1} h · mean queued {:.1} h",
            thousands(j.done_gpu_hours, 1),
            thousands(j.lost_gpu_hours, 1),
            j.preemptions,
            j.mean_completion_hours,
            j.mean_queued_hours
        );
        let _ = writeln!(out, "cost {} · per finished job {}", money(j.cost), money(j.cost_per_finished_job));
    }

    if !s.recorded.is_empty() {
        let _ = writeln!(out, "\nRECORDED USAGE");
        let mut t = Table::new(&[
            "pool",
            "GPUs",
            "samples",
            "observed GPU-h",
            "busy",
            "energy kWh",
            "busy cost",
            "idle cost",
            "idle spells",
            "waste GPU-h",
            "waste cost",
        ]);
        for r in &s.recorded {
            t.row(vec![
                r.pool.clone(),
                format!("{}/{}", r.gpus_recorded, r.gpus_in_pool),
                thousands(r.samples as f64, 0),
                thousands(r.observed_gpu_hours, 1),
                format!("{:.1}%", 100.0 * r.busy_share),
                format!("{:.2}", r.energy_kwh),
                money(r.busy_cost),
                money(r.idle_cost),
                r.idle_spells.to_string(),
                thousands(r.waste_gpu_hours, 1),
                money(r.waste_cost),
            ]);
        }
        out.push_str(&t.render());
        for r in &s.recorded {
            let _ = writeln!(
                out,
                "{}: busy time billed to `{}`; idle for {} or more counts as waste. {}",
                r.pool,
                r.owner,
                human_duration(r.idle_after_s),
                r.recommendation
            );
        }
    }

    let sch = &s.scheduling;
    if sch.preemptions > 0 || !sch.denials.is_empty() || sch.policy.is_some() {
        let _ = writeln!(out, "\nSCHEDULING");
        let _ = writeln!(
            out,
            "{} workloads preempted by higher-priority work · policies: {}",
            sch.preemptions,
            sch.policy.as_deref().unwrap_or("none")
        );
        for d in &sch.denials {
            let _ = writeln!(out, "  {} denied {}× by `{}`: {} (first: {})", d.point, d.count, d.rule, d.message, d.first_subject);
        }
    }

    let i = &s.interruptions;
    let _ = writeln!(out, "\nINTERRUPTIONS");
    let _ = writeln!(
        out,
        "{} notices · {} reclaims · {} failures · {} replicas lost · {} requests retried · {} gangs preempted{}",
        i.notices,
        i.reclaims,
        i.failures,
        i.replicas_lost,
        i.requests_retried,
        i.jobs_preempted,
        if i.jobs_preempted > 0 || i.lost_gpu_hours > 0.0 {
            format!(" (training work lost: {} H100-equivalent hours)", thousands(i.lost_gpu_hours, 1))
        } else {
            String::new()
        }
    );
    out
}

/// Energy with a unit that shows it: kWh from 1 kWh up, Wh below (a
/// workstation's few minutes are tens of Wh, not "0.0 kWh").
fn energy(kwh: f64) -> String {
    let wh = kwh * 1000.0;
    if kwh >= 1.0 {
        format!("{} kWh", thousands(kwh, 1))
    } else if wh >= 10.0 || wh == 0.0 {
        format!("{wh:.0} Wh")
    } else {
        format!("{wh:.2} Wh")
    }
}

/// A plain text table: first column left-aligned, the rest right-aligned.
struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(head: &[&str]) -> Table {
        Table { head: head.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let n = self.head.len();
        let mut width = vec![0usize; n];
        for r in std::iter::once(&self.head).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(n) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&self.head).chain(&self.rows) {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate().take(n) {
                let pad = width[i] - c.chars().count();
                if i == 0 {
                    line.push_str(c);
                    line.push_str(&" ".repeat(pad));
                } else {
                    line.push_str("  ");
                    line.push_str(&" ".repeat(pad));
                    line.push_str(c);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A number with thousands separators and `decimals` decimals.
pub fn thousands(x: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(a, b)| (a, b));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if x < 0.0 && s.chars().any(|c| c != '0' && c != '.') { "-" } else { "" };
    if frac.is_empty() { format!("{sign}{grouped}") } else { format!("{sign}{grouped}.{frac}") }
}

fn money(x: f64) -> String {
    thousands(x, 2)
}

fn human_duration(secs: f64) -> String {
    crate::time::SimDuration::from_secs_f64(secs).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_and_signs() {
        assert_eq!(thousands(1_234_567.891, 2), "1,234,567.89");
        assert_eq!(thousands(-1_000.0, 0), "-1,000");
        assert_eq!(thousands(999.0, 1), "999.0");
        assert_eq!(thousands(-0.001, 2), "0.00");
    }

    #[test]
    fn small_energies_are_shown_in_watt_hours() {
        assert_eq!(energy(0.026), "26 Wh");
        assert_eq!(energy(0.0041), "4.10 Wh");
        assert_eq!(energy(0.0), "0 Wh");
        assert_eq!(energy(1_234.56), "1,234.6 kWh");
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&["a", "bb"]);
        t.row(vec!["long name".into(), "1".into()]);
        assert_eq!(t.render(), "a          bb\nlong name   1\n");
    }
}
