//! The gate's verdict as a pull-request comment (GitHub-flavoured Markdown),
//! in the style of Infracost's: the verdict in the heading, cost per month
//! before and after per scenario, then each scenario's teams and KPIs.
//! Scenarios where nothing changed are folded into `<details>`.
//!
//! ```text
//! ### Twin regression gate: ❌ failed: 1 regression
//!
//! Suite **library**, candidate against baseline: 1 regression, 0 improvements, 3 unchanged across 1 scenario.
//!
//! | Scenario | Cost per month | Verdict |
//! | --- | --- | --- |
//! | spot | 99,972.84 USD → 104,971.98 USD (+4,999.14 USD, +5.00%) | ❌ 1 regression |
//!
//! #### ❌ spot
//!
//! | Team | Before /mo | After /mo | Δ |
//! | --- | ---: | ---: | ---: |
//! | ml | 59,983.70 USD | 62,983.19 USD | +2,999.49 USD, +5.00% |
//!
//! | KPI | Before | After | Change | Verdict |
//! | --- | ---: | ---: | --- | --- |
//! | `cost_per_month` | 99,972.84 USD | 104,971.98 USD | +5.00% (p=0.000 n=20) | ❌ regression |
//! ...
//! ```
//!
//! Names (scenarios, teams, notes) are escaped, `|` included, so that no
//! name can break a table or inject markup.

use super::{Tally, cell, delta_at, limit, percent, plural, row_scale, value, value_at};
use crate::compare::{Comparison, Row, TeamRow};
use crate::verdict::Verdict;
use std::fmt::Write;

/// The comparison as a pull-request comment, ending with a newline.
pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    let all = Tally::of(&c.rows);
    let scenarios = c.scenarios();
    let failures = all.failures();
    let verdict = if c.passed() { "✅ passed".to_string() } else { format!("❌ failed: {failures}") };
    let _ = writeln!(out, "### Twin regression gate: {verdict}\n");
    let _ = writeln!(
        out,
        "Suite **{}**, candidate against baseline: {} across {}.\n",
        md(&c.suite),
        all.counts(),
        plural(scenarios.len(), "scenario", "scenarios")
    );
    out.push_str("| Scenario | Cost per month | Verdict |\n| --- | --- | --- |\n");
    for &s in &scenarios {
        let _ = writeln!(out, "| {} | {} | {} |", md(s), cost(c, s), summary(&Tally::of(c.rows_of(s))));
    }
    for &s in &scenarios {
        out.push('\n');
        let t = Tally::of(c.rows_of(s));
        let changed = t.same < c.rows_of(s).count();
        if changed {
            let mark = if t.failures().is_empty() { "✅" } else { "❌" };
            let _ = writeln!(out, "#### {mark} {}\n", md(s));
            out.push_str(&details(c, s));
        } else {
            let _ = writeln!(out, "<details><summary>➖ {}: no change in {}</summary>\n", html(s), plural(t.same, "KPI", "KPIs"));
            out.push_str(&details(c, s));
            out.push_str("\n</details>\n");
        }
    }
    if !c.notes.is_empty() {
        out.push_str("\n**Notes**\n\n");
        for n in &c.notes {
            let _ = writeln!(out, "- {}", md(n));
        }
    }
    let _ = writeln!(
        out,
        "\n<sub>Method: paired runs over {} seeds, Wilcoxon signed-rank, Holm-Bonferroni at alpha {}; a change counts only when its whole confidence interval lies beyond its threshold.</sub>",
        c.seeds, c.alpha
    );
    out
}

/// `before → after (Δ, Δ%)` of the scenario's `cost_per_month` medians.
fn cost(c: &Comparison, scenario: &str) -> String {
    let currency = c.currency_of(scenario);
    let Some(r) = c.rows_of(scenario).find(|r| r.kpi.name == "cost_per_month") else {
        return "not judged".into();
    };
    let (b, a) = (r.judgement.base_median, r.judgement.candidate_median);
    format!("{} → {} ({})", value("cost_per_month", b, currency), value("cost_per_month", a, currency), change(a - b, b, currency))
}

/// A cost's change: `+51.20 USD, +5.12%`, or `+51.20 USD, new` from nothing.
fn change(d: f64, before: f64, currency: &str) -> String {
    let pct = percent(d / before);
    let pct = if !pct.is_empty() {
        pct
    } else if d != 0.0 {
        "new".into()
    } else {
        "0.00%".into()
    };
    format!("{}, {pct}", delta_at("cost_per_month", d, currency, d))
}

/// A scenario's verdicts in a few words: `❌ 1 regression, ✅ 2 improvements`.
fn summary(t: &Tally) -> String {
    let mut parts = Vec::new();
    if t.regressions > 0 {
        parts.push(format!("❌ {}", plural(t.regressions, "regression", "regressions")));
    }
    if t.past_limit > 0 {
        parts.push(format!("⛔ {} past {}", t.past_limit, if t.past_limit == 1 { "its limit" } else { "their limits" }));
    }
    if t.improvements > 0 {
        parts.push(format!("✅ {}", plural(t.improvements, "improvement", "improvements")));
    }
    if parts.is_empty() { "➖ no change".into() } else { parts.join(", ") }
}

/// A scenario's team table (when it has teams) and KPI table.
fn details(c: &Comparison, scenario: &str) -> String {
    let currency = c.currency_of(scenario);
    let mut out = String::new();
    let teams: Vec<&TeamRow> = c.teams.iter().filter(|t| t.scenario == scenario).collect();
    if !teams.is_empty() {
        out.push_str(
            "| Team | Before /mo | After /mo | Δ | SLO | P99 TTFT | Verdict |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |\n",
        );
        for t in teams {
            let (b, a) = (value("cost_per_month", t.before, currency), value("cost_per_month", t.after, currency));
            let pair = |name: &str, v: Option<(f64, f64)>| {
                v.map_or_else(|| "—".to_string(), |(b, a)| format!("{} → {}", value(name, b, currency), value(name, a, currency)))
            };
            let verdict = match t.verdict {
                Verdict::Regression => "❌ worse",
                Verdict::Improvement => "✅ better",
                _ => "➖ ~",
            };
            let _ = writeln!(
                out,
                "| {} | {b} | {a} | {} | {} | {} | {verdict} |",
                md(&t.team),
                change(t.after - t.before, t.before, currency),
                pair("slo_attainment", t.slo),
                pair("ttft_p99_ms", t.ttft_p99_ms),
            );
        }
        out.push('\n');
    }
    out.push_str("| KPI | Before | After | Change | Verdict |\n| --- | ---: | ---: | --- | --- |\n");
    for r in c.rows_of(scenario) {
        let j = &r.judgement;
        let at = row_scale(r);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            code(&r.kpi.name),
            value_at(&r.kpi.name, j.base_median, currency, at),
            value_at(&r.kpi.name, j.candidate_median, currency, at),
            cell(j),
            verdict(r, currency)
        );
    }
    out
}

fn verdict(r: &Row, currency: &str) -> String {
    match r.judgement.verdict {
        Verdict::Regression => "❌ regression".into(),
        Verdict::Improvement => "✅ improvement".into(),
        Verdict::Same => "➖ ~".into(),
        Verdict::PastLimit => format!("⛔ past limit ({})", limit(r, currency)),
    }
}

/// Text safe in Markdown and in a table cell: punctuation that could start
/// markup (`|` included) is backslash-escaped.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(ch),
        }
    }
    out
}

/// Text safe inside an HTML element (`<summary>`), where Markdown escapes do not apply.
fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace(['\n', '\r'], " ")
}

/// A name as code, safe in a table cell.
fn code(s: &str) -> String {
    if s.contains('`') || s.contains('\n') { md(s) } else { format!("`{}`", s.replace('|', "\\|")) }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn a_failing_comparison_says_why_at_the_top() {
        let c = fixture::mixed();
        let m = render(&c);
        assert!(m.starts_with("### Twin regression gate: ❌ failed: 1 regression, 1 past its limit\n\n"), "{m}");
        assert!(m.contains("\nSuite **library**, candidate against baseline: 1 regression, 1 past its limit, 1 improvement, 5 unchanged across 2 scenarios.\n"));
        // The scenario table: a row each, names escaped.
        let spot = m.lines().find(|l| l.starts_with("| spot\\|fgd | ")).unwrap();
        assert!(
            spot.contains(" USD → ")
                && spot.contains(" (+4,99")
                && spot.ends_with(" | ❌ 1 regression, ⛔ 1 past its limit, ✅ 1 improvement |"),
            "{spot}"
        );
        let batch = m.lines().find(|l| l.starts_with("| batch | ")).unwrap();
        assert!(batch.contains(" EUR → ") && batch.ends_with(" | ➖ no change |"), "{batch}");
        // The changed scenario is open, the unchanged one folded.
        assert!(m.contains("\n#### ❌ spot\\|fgd\n\n| Team | Before /mo | After /mo | Δ | SLO | P99 TTFT | Verdict |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |\n| ml | "), "{m}");
        assert!(m.contains("| +2,999.49 USD, +5.00% | — | — | ❌ worse |"), "the team's cost rose 5%: {m}");
        assert!(m.contains("\n| search\\|ads | "), "{m}");
        assert!(m.contains("\n<details><summary>➖ batch: no change in 4 KPIs</summary>\n\n| Team |"), "{m}");
        assert_eq!(m.matches("<details>").count(), 1);
        assert_eq!(m.matches("</details>").count(), 1);
        // batch has one team, spot two.
        assert_eq!(m.lines().filter(|l| l.starts_with("| ml | ")).count(), 2);
        let kpi = |name: &str| m.lines().find(|l| l.starts_with(&format!("| `{name}` | "))).unwrap().to_string();
        assert!(kpi("cost_per_month").ends_with(" | ❌ regression |"));
        assert!(kpi("slo_attainment").ends_with(" | ⛔ past limit (95.00%) |"));
        assert!(kpi("ttft_p99_ms").contains("| 12.00 s | 9.00 s | -25.") && kpi("ttft_p99_ms").ends_with(" | ✅ improvement |"));
        assert!(kpi("drops").ends_with(" | ➖ ~ |"));
        // Every table row has as many cells as its header.
        for l in m.lines().filter(|l| l.starts_with('|')) {
            let cells = l.replace("\\|", "").matches('|').count() - 1;
            assert!(cells == 3 || cells == 5 || cells == 7, "{l}");
        }
        assert!(m.contains("\n**Notes**\n\n- new: new in the candidate, no baseline to compare with\n"));
        assert!(m.ends_with(
            "\n<sub>Method: paired runs over 20 seeds, Wilcoxon signed-rank, Holm-Bonferroni at alpha 0.05; a change counts only when its whole confidence interval lies beyond its threshold.</sub>\n"
        ));
        assert_eq!(render(&c), render(&fixture::mixed()), "deterministic");
    }

    #[test]
    fn a_passing_comparison_is_folded() {
        let m = render(&fixture::unchanged());
        let head = m.lines().take(5).collect::<Vec<_>>().join("\n");
        assert_eq!(
            head,
            "### Twin regression gate: ✅ passed

Suite **tiny**, candidate against baseline: 0 regressions, 0 improvements, 1 unchanged across 1 scenario.

| Scenario | Cost per month | Verdict |"
        );
        assert!(m.contains("\n<details><summary>➖ a: no change in 1 KPI</summary>\n\n"), "{m}");
        assert!(m.contains(" USD (0.00 USD, 0.00%) | ➖ no change |"), "{m}");
        assert!(!m.contains("#### "));
        assert!(!m.contains("**Notes**"));
    }

    #[test]
    fn names_cannot_break_the_markup() {
        assert_eq!(md("a|b"), "a\\|b");
        assert_eq!(md("x_y*z `<b>`"), "x\\_y\\*z \\`\\<b\\>\\`");
        assert_eq!(html("a<b>&\"c\""), "a&lt;b&gt;&amp;&quot;c&quot;");
        assert_eq!(code("cost|x"), "`cost\\|x`");
        assert_eq!(change(10.0, 0.0, "USD"), "+10.00 USD, new");
        assert_eq!(change(0.0, 0.0, "USD"), "0.00 USD, 0.00%");
        assert_eq!(change(-5.0, 100.0, "EUR"), "-5.00 EUR, -5.00%");
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&fixture::mixed()));
    }
}
