//! The gate's verdict as JUnit XML, for a CI system's test view (GitLab,
//! Jenkins, GitHub test reporters).
//!
//! The report is named after the suite; each scenario is a `<testsuite>`
//! and each of its KPIs a `<testcase>` (classname: the scenario). A
//! regression or a KPI past its limit is a `<failure>` whose message gives
//! benchstat's cell and the interval; `~` and improvements pass (an
//! improvement says so in its `<system-out>`). The notes go to the
//! `<system-out>` of the scenario they name, or of a last, empty suite
//! named `notes` (scenarios only one side ran). No timestamps and no
//! durations: the same comparison gives the same bytes.

use super::{Tally, cell, explain, notes_of, row_scale, value_at};
use crate::compare::{Comparison, Row};
use crate::verdict::Verdict;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

/// The comparison as a JUnit XML document, ending with a newline.
pub fn render(c: &Comparison) -> String {
    report(c).to_string().expect("a report serialises to memory")
}

fn report(c: &Comparison) -> Report {
    let mut report = Report::new(c.suite.as_str());
    for scenario in c.scenarios() {
        let currency = c.currency_of(scenario);
        let mut suite = TestSuite::new(scenario);
        suite.add_properties([
            Property::new("alpha", c.alpha.to_string()),
            Property::new("seeds", c.seeds.to_string()),
            Property::new("currency", currency),
            Property::new("result", if Tally::of(c.rows_of(scenario)).failures().is_empty() { "pass" } else { "fail" }),
        ]);
        suite.add_test_cases(c.rows_of(scenario).map(|r| case(r, currency)));
        let notes: Vec<&str> = notes_of(c, scenario).map(String::as_str).collect();
        if !notes.is_empty() {
            suite.set_system_out(lines(&notes));
        }
        report.add_test_suite(suite);
    }
    let named = c.scenarios();
    let rest: Vec<&str> =
        c.notes.iter().map(String::as_str).filter(|n| !named.iter().any(|s| notes_of(c, s).any(|m| m.as_str() == *n))).collect();
    if !rest.is_empty() {
        let mut suite = TestSuite::new("notes");
        suite.set_system_out(lines(&rest));
        report.add_test_suite(suite);
    }
    report
}

/// Notes one a line. (No trailing newline: a reader trims it.)
fn lines(notes: &[&str]) -> String {
    notes.join("\n")
}

fn case(r: &Row, currency: &str) -> TestCase {
    let j = &r.judgement;
    let (status, out) = match j.verdict {
        Verdict::Same => (TestCaseStatus::success(), None),
        Verdict::Improvement => (TestCaseStatus::success(), Some(format!("improvement: {}: {}", cell(j), explain(r, currency)))),
        Verdict::Regression | Verdict::PastLimit => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!("{}: {}", cell(j), explain(r, currency)));
            s.set_type(if j.verdict == Verdict::Regression { "regression" } else { "past-limit" });
            let at = row_scale(r);
            s.set_description(format!(
                "baseline median {}, candidate median {} over {} paired seeds",
                value_at(&r.kpi.name, j.base_median, currency, at),
                value_at(&r.kpi.name, j.candidate_median, currency, at),
                j.n
            ));
            (s, None)
        }
    };
    let mut case = TestCase::new(r.kpi.name.as_str(), status);
    case.set_classname(r.scenario.as_str());
    if let Some(out) = out {
        case.set_system_out(out);
    }
    case
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn every_kpi_is_a_test_case_and_the_failures_say_why() {
        let c = fixture::mixed();
        let xml = render(&c);
        assert_eq!(xml.matches("<testsuite ").count(), 3, "two scenarios and the notes");
        assert_eq!(xml.matches("<testcase ").count(), 8);
        assert_eq!(xml.matches("<failure ").count(), 2);
        assert!(!xml.contains("timestamp") && !xml.contains("time="), "{xml}");
        let r = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(r, report(&c), "the XML reads back as the report");
        assert_eq!(r.name.as_deref(), Some("library"));
        assert_eq!((r.tests, r.failures, r.errors, r.skipped), (8, 2, 0, 0));
        let spot = &r.test_suites[0];
        assert_eq!((spot.name.as_str(), spot.tests, spot.failures), ("spot|fgd", 4, 2));
        let names: Vec<&str> = spot.test_cases.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["cost_per_month", "slo_attainment", "ttft_p99_ms", "drops"]);
        assert!(spot.test_cases.iter().all(|t| t.classname.as_deref() == Some("spot|fgd")));
        let TestCaseStatus::NonSuccess { kind: NonSuccessKind::Failure, message: Some(m), ty: Some(ty), .. } = &spot.test_cases[0].status
        else {
            panic!("{:?}", spot.test_cases[0].status)
        };
        assert_eq!(ty.as_str(), "regression");
        assert!(
            m.starts_with("+5.")
                && m.contains("(p=0.000 n=20): median shift +5,0")
                && m.ends_with(" beyond the 1% threshold; p=0.000 adjusted"),
            "{m:?}"
        );
        let TestCaseStatus::NonSuccess { message: Some(m), ty: Some(ty), .. } = &spot.test_cases[1].status else { panic!() };
        assert_eq!(ty.as_str(), "past-limit");
        assert!(m.contains("is below the floor 95.00%"), "{m:?}");
        assert!(matches!(spot.test_cases[2].status, TestCaseStatus::Success { .. }));
        assert!(spot.test_cases[2].system_out.as_deref().is_some_and(|o| o.starts_with("improvement: -25.")));
        assert!(matches!(spot.test_cases[3].status, TestCaseStatus::Success { .. }) && spot.test_cases[3].system_out.is_none());
        let batch = &r.test_suites[1];
        assert_eq!((batch.name.as_str(), batch.tests, batch.failures), ("batch", 4, 0));
        assert!(batch.properties.iter().any(|p| p.name.as_str() == "currency" && p.value.as_str() == "EUR"));
        let notes = &r.test_suites[2];
        assert_eq!((notes.name.as_str(), notes.tests), ("notes", 0));
        assert_eq!(notes.system_out.as_deref(), Some("new: new in the candidate, no baseline to compare with"));
        assert_eq!(render(&c), render(&fixture::mixed()), "deterministic");
    }

    #[test]
    fn a_passing_comparison_is_a_passing_report() {
        let xml = render(&fixture::unchanged());
        let r = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!((r.tests, r.failures, r.test_suites.len()), (1, 0, 1));
        assert!(xml.contains(r#"<testcase name="cost_per_month" classname="a"/>"#), "{xml}");
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tiny\" tests=\"1\""), "{xml}");
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&fixture::mixed()));
    }
}
