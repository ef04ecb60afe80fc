//! The gate's verdict as a benchstat-like table, for a terminal.
//!
//! ```text
//! scenario: spot-inference@fgd
//! KPI            │ baseline (median) │ candidate (median) │ vs base
//! ───────────────┼───────────────────┼────────────────────┼──────────────────────────────────────────────────
//! cost_per_month │     99,972.84 USD │     104,971.98 USD │ +5.00% (p=0.000 n=20) ✗ regression
//! slo_attainment │            99.50% │             93.93% │ -5.59% (p=0.000 n=20) ✗ past limit (limit 95.00%)
//! ttft_p99_ms    │           12.00 s │             9.00 s │ -25.01% (p=0.000 n=20) ✓ improvement
//! drops          │               122 │                122 │ ~ (p=1.000 n=20)
//!
//! 1 regression, 1 past its limit, 1 improvement, 1 unchanged across 1 scenario; alpha 0.05 family-wise (Holm-Bonferroni over 4 comparisons), n=20 pairs
//! FAIL
//! ```

use super::{Tally, cell, limit, plural, row_scale, value_at};
use crate::compare::{Comparison, Row};
use crate::verdict::Verdict;
use std::fmt::Write;

const HEAD: [&str; 4] = ["KPI", "baseline (median)", "candidate (median)", "vs base"];

/// The comparison as plain text: a table per scenario (KPI, the medians of
/// both sides and benchstat's "vs base" cell with the verdict), then the
/// notes, a line of counts and `PASS` or `FAIL`. Ends with a newline.
pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    for scenario in c.scenarios() {
        let currency = c.currency_of(scenario);
        let rows: Vec<[String; 4]> = c.rows_of(scenario).map(|r| row(r, currency)).collect();
        let _ = writeln!(out, "scenario: {scenario}");
        out.push_str(&grid(&rows));
        out.push('\n');
    }
    if !c.notes.is_empty() {
        out.push_str("notes:\n");
        for n in &c.notes {
            let _ = writeln!(out, "  {n}");
        }
        out.push('\n');
    }
    let t = Tally::of(&c.rows);
    let _ = writeln!(
        out,
        "{} across {}; alpha {} family-wise (Holm-Bonferroni over {}), n={} pairs",
        t.counts(),
        plural(c.scenarios().len(), "scenario", "scenarios"),
        c.alpha,
        plural(c.rows.len(), "comparison", "comparisons"),
        c.seeds
    );
    out.push_str(if c.passed() { "PASS\n" } else { "FAIL\n" });
    out
}

fn row(r: &Row, currency: &str) -> [String; 4] {
    let j = &r.judgement;
    let at = row_scale(r);
    let mark = match j.verdict {
        Verdict::Same => String::new(),
        Verdict::Regression => " ✗ regression".into(),
        Verdict::Improvement => " ✓ improvement".into(),
        Verdict::PastLimit => format!(" ✗ past limit (limit {})", limit(r, currency)),
    };
    [
        r.kpi.name.clone(),
        value_at(&r.kpi.name, j.base_median, currency, at),
        value_at(&r.kpi.name, j.candidate_median, currency, at),
        format!("{}{mark}", cell(j)),
    ]
}

/// Header, rule and rows, columns separated by `│`: the KPI left-aligned,
/// the values right-aligned, the last column left as it is (no trailing
/// blanks).
fn grid(rows: &[[String; 4]]) -> String {
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).chain([HEAD[i].chars().count()]).max().unwrap_or(0);
    let w: [usize; 4] = [width(0), width(1), width(2), width(3)];
    let line = |cells: [&str; 4]| {
        format!("{:<w0$} │ {:>w1$} │ {:>w2$} │ {}\n", cells[0], cells[1], cells[2], cells[3], w0 = w[0], w1 = w[1], w2 = w[2])
    };
    let mut out = line(HEAD);
    let rule: Vec<String> = (0..4).map(|i| "─".repeat(w[i] + if i == 0 || i == 3 { 1 } else { 2 })).collect();
    out.push_str(&rule.join("┼"));
    out.push('\n');
    for r in rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn a_small_comparison_reads_exactly() {
        let c = fixture::unchanged();
        let expected = "scenario: a
KPI            │ baseline (median) │ candidate (median) │ vs base
───────────────┼───────────────────┼────────────────────┼─────────────────
cost_per_month │        999.95 USD │         999.95 USD │ ~ (p=1.000 n=20)

0 regressions, 0 improvements, 1 unchanged across 1 scenario; alpha 0.05 family-wise (Holm-Bonferroni over 1 comparison), n=20 pairs
PASS
";
        assert_eq!(render(&c), expected);
    }

    #[test]
    fn every_verdict_is_marked_and_the_gate_fails() {
        let c = fixture::mixed();
        let t = render(&c);
        let line = |kpi: &str, scenario: &str| {
            let block = t.split("scenario: ").find(|b| b.starts_with(&format!("{scenario}\n"))).unwrap();
            block.lines().find(|l| l.starts_with(&format!("{kpi} "))).unwrap().to_string()
        };
        let cost = line("cost_per_month", "spot|fgd");
        assert!(cost.contains(" USD │ ") && cost.contains("│ +5.") && cost.ends_with("(p=0.000 n=20) ✗ regression"), "{cost}");
        let slo = line("slo_attainment", "spot|fgd");
        assert!(slo.contains("99.5") && slo.contains("93.9") && slo.ends_with(" ✗ past limit (limit 95.00%)"), "{slo}");
        let ttft = line("ttft_p99_ms", "spot|fgd");
        assert!(
            ttft.contains(" 12.00 s │") && ttft.contains(" 9.00 s │") && ttft.contains("│ -25.") && ttft.ends_with(" ✓ improvement"),
            "{ttft}"
        );
        assert!(line("drops", "spot|fgd").contains("│ ~ (p="));
        assert!(line("ttft_p99_ms", "batch").contains(" ms │ "));
        assert!(line("cost_per_month", "batch").contains(" EUR │ "));
        // Every line of a block has its separators in the same columns.
        for block in t.split("\n\n").filter(|b| b.starts_with("scenario: ")) {
            let cols: Vec<Vec<usize>> = block
                .lines()
                .skip(1)
                .map(|l| l.chars().enumerate().filter(|(_, ch)| *ch == '│' || *ch == '┼').map(|(i, _)| i).collect())
                .collect();
            assert!(cols.windows(2).all(|w| w[0] == w[1]), "{block}");
        }
        assert!(t.contains("notes:\n  new: new in the candidate, no baseline to compare with\n"), "{t}");
        assert!(
            t.ends_with(
                "1 regression, 1 past its limit, 1 improvement, 5 unchanged across 2 scenarios; alpha 0.05 family-wise (Holm-Bonferroni over 8 comparisons), n=20 pairs\nFAIL\n"
            ),
            "{t}"
        );
        assert!(!t.lines().any(|l| l.ends_with(' ')), "no trailing blanks");
        assert_eq!(render(&c), render(&fixture::mixed()), "deterministic");
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&fixture::mixed()));
    }
}
