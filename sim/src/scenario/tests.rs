//! Scenario parsing and checking: each kind of mistake gets its own located error.

use super::*;

const GOOD: &str = r#"
format_version = 1
name = "t"
horizon = "1h"

[[pools]]
name = "spot"
node_type = "p5.48xlarge"
capacity = "spot"
price = 20.0
max_nodes = 2
interruption = { rate_per_hour = 0.01 }

[[services]]
name = "chat"
model = "llama-3.1-8b"
pools = ["spot"]
slo = { ttft = "1s", e2e = "30s" }
arrivals = { poisson = { rate = 2.0 } }
prompt_tokens = 512
output_tokens = { lognormal = { median = 200, sigma = 0.5 } }

[[training]]
name = "pretrain"
pools = ["spot"]
gpus = 16
work_gpu_hours = 100
"#;

fn one_error(text: &str) -> ScenarioError {
    let errs = Scenario::from_toml(text, "s.toml").expect_err("the scenario should be rejected").0;
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    errs.into_iter().next().unwrap()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

#[test]
fn the_good_scenario_passes() {
    let s = Scenario::from_toml(GOOD, "s.toml").unwrap();
    assert_eq!(s.spec.services[0].max_batch, 256);
    assert_eq!(s.sha256.len(), 64);
}

#[test]
fn unknown_field_is_located_with_a_suggestion() {
    let text = GOOD.replace("max_nodes = 2", "max_nodse = 2");
    let e = one_error(&text);
    assert_eq!(e.kind, ErrorKind::UnknownField);
    assert_eq!(e.line, line_of(&text, "max_nodse"));
    assert_eq!(e.column, 1);
    assert!(e.field.starts_with("pools[0]"), "{}", e.field);
    assert!(e.hint.as_deref().unwrap().contains("did you mean `max_nodes`"), "{e}");
    assert!(e.to_string().starts_with(&format!("s.toml:{}:1:", e.line)));
}

#[test]
fn negative_rate_names_the_field() {
    let text = GOOD.replace("rate = 2.0", "rate = -2.0");
    let e = one_error(&text);
    assert_eq!(e.kind, ErrorKind::InvalidValue);
    assert_eq!(e.field, "services[0].arrivals.poisson.rate");
    assert_eq!(e.line, line_of(&text, "rate = -2.0"));
    assert!(e.message.contains("negative"));
    assert!(e.hint.is_some());
}

#[test]
fn negative_interruption_rate() {
    let text = GOOD.replace("rate_per_hour = 0.01", "rate_per_hour = -0.5");
    let e = one_error(&text);
    assert_eq!(e.field, "pools[0].interruption.rate_per_hour");
    assert_eq!(e.line, line_of(&text, "rate_per_hour"));
}

#[test]
fn missing_pool_is_an_unknown_reference() {
    let text = GOOD.replace("pools = [\"spot\"]\nslo", "pools = [\"spto\"]\nslo");
    let e = one_error(&text);
    assert_eq!(e.kind, ErrorKind::UnknownReference);
    assert_eq!(e.field, "services[0].pools[0]");
    assert_eq!(e.line, line_of(&text, "spto"));
    assert!(e.hint.as_deref().unwrap().contains("spot"));
}

#[test]
fn unknown_accelerator_in_a_node_type() {
    let text =
        format!("{GOOD}\n[[node_types]]\nname = \"box\"\naccelerator = \"B300\"\naccelerators_per_node = 8\nlist_price_per_hour = 1.0\n");
    let e = one_error(&text);
    assert_eq!(e.kind, ErrorKind::UnknownReference);
    assert_eq!(e.field, "node_types[0].accelerator");
    assert_eq!(e.line, line_of(&text, "B300"));
    assert!(e.hint.as_deref().unwrap().contains("H100"));
}

#[test]
fn a_gang_larger_than_any_pool() {
    let text = GOOD.replace("gpus = 16", "gpus = 64");
    let e = one_error(&text);
    assert_eq!(e.kind, ErrorKind::Unsatisfiable);
    assert_eq!(e.field, "training[0].gpus");
    assert_eq!(e.line, line_of(&text, "gpus = 64"));
    assert!(e.hint.as_deref().unwrap().contains("holds 16"), "{e}");
}

#[test]
fn an_empty_horizon() {
    let text = GOOD.replace("horizon = \"1h\"", "horizon = \"0s\"");
    let e = one_error(&text);
    assert_eq!(e.field, "horizon");
    assert_eq!(e.line, line_of(&text, "horizon"));
    assert!(e.message.contains("empty"));
}

#[test]
fn bad_duration_text_is_located() {
    let text = GOOD.replace("horizon = \"1h\"", "horizon = \"1 fortnight\"");
    let e = one_error(&text);
    assert_eq!(e.field, "horizon");
    assert_eq!(e.line, line_of(&text, "fortnight"));
    assert!(e.message.contains("unknown unit"));
}

#[test]
fn syntax_errors_and_missing_fields_and_types() {
    let e = one_error("format_version = 1\nname = \n");
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert_eq!(e.line, 2);

    let e = one_error(&GOOD.replace("name = \"t\"\n", ""));
    assert_eq!(e.kind, ErrorKind::MissingField);
    assert!(e.hint.as_deref().unwrap().contains("name"));

    let text = GOOD.replace("max_nodes = 2", "max_nodes = \"two\"");
    let e = one_error(&text);
    assert_eq!(e.kind, ErrorKind::InvalidType);
    assert_eq!(e.line, line_of(&text, "\"two\""));

    let text = GOOD.replace("capacity = \"spot\"", "capacity = \"spto\"");
    let e = one_error(&text);
    assert!(e.hint.as_deref().unwrap().contains("did you mean `spot`"), "{e}");
}

#[test]
fn wrong_version_is_its_own_kind() {
    let e = one_error(&GOOD.replace("format_version = 1", "format_version = 2"));
    assert_eq!(e.kind, ErrorKind::UnsupportedVersion);
    assert_eq!(e.line, 2);
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let text = GOOD.replace("rate = 2.0", "rate = -2.0").replace("gpus = 16", "gpus = 64");
    let errs = Scenario::from_toml(&text, "s.toml").unwrap_err().0;
    assert_eq!(errs.len(), 2);
}

#[test]
fn suggestions_are_close_names_only() {
    use parse::{closest, likely_misspelling};
    let names = ["max_nodes", "min_nodes", "nodes", "spot"];
    assert_eq!(closest("max_nodse", &names), Some("max_nodes"));
    assert_eq!(closest("nodse", &names), Some("nodes"));
    assert_eq!(closest("spto", &names), Some("spot"));
    assert_eq!(closest("zzzzzzzzzzzz", &names), None);
    // Two edits are always close; beyond that, a third of the candidate's length.
    assert!(likely_misspelling(2, "ab") && !likely_misspelling(3, "abcdefgh") && likely_misspelling(3, "abcdefghi"));
}

#[test]
fn serde_mistakes_are_classified_from_their_facts() {
    let check = |from: &str, to: &str, kind: ErrorKind, field: &str, hint: Option<&str>| {
        let text = GOOD.replacen(from, to, 1);
        let e = one_error(&text);
        assert_eq!((e.kind, e.field.as_str()), (kind, field), "{e}");
        match hint {
            Some(h) => assert!(e.hint.as_deref().is_some_and(|x| x.contains(h)), "{e}"),
            None => assert_eq!(e.hint, None, "{e}"),
        }
        assert!(e.line > 1, "{e}");
    };
    let g = ErrorKind::UnknownField;
    check("max_nodes = 2", "zzzzzzzz = 2", g, "pools[0].zzzzzzzz", Some("remove it, or use one of the fields listed"));
    check(
        "prompt_tokens = 512",
        "prompt_tokens = { fixd = 5 }",
        ErrorKind::InvalidValue,
        "services[0].prompt_tokens.fixd",
        Some("did you mean `fixed`?"),
    );
    check(
        "arrivals = { poisson = { rate = 2.0 } }",
        "arrivals = { trace = { file = \"t.csv\", format = \"azur\" } }",
        ErrorKind::InvalidValue,
        "services[0].arrivals.trace.format",
        Some("did you mean `azure`? Allowed: auto, azure, mooncake"),
    );
    check(
        "arrivals = { poisson = { rate = 2.0 } }",
        "arrivals = { trace = { file = \"t.csv\", format = 3 } }",
        ErrorKind::InvalidType,
        "services[0].arrivals.trace.format",
        None,
    );
    check(
        "slo = { ttft = \"1s\", e2e = \"30s\" }",
        "slo = { ttft = \"1s\" }",
        ErrorKind::MissingField,
        "services[0].slo",
        Some("add `e2e = ...` to `services[0].slo`"),
    );
    check("max_nodes = 2", "max_nodes = -2", ErrorKind::InvalidValue, "pools[0].max_nodes", None);
    check(
        "arrivals = { poisson = { rate = 2.0 } }",
        "arrivals = { poisson = { rate = 2.0 }, hawkes = {} }",
        ErrorKind::InvalidValue,
        "services[0].arrivals",
        None,
    );
    // toml checks a struct variant's keys itself; the error still names the key and its kind.
    check(
        "prompt_tokens = 512",
        "prompt_tokens = 512\nservice_time = { fixed = { duration = \"1s\", extra = 1 } }",
        g,
        "services[0].service_time.fixed.extra",
        Some("remove it"),
    );
}

#[test]
fn a_workload_without_load_needs_no_model_slo_or_tokens_but_a_served_one_does() {
    let held = GOOD.replace(
        "model = \"llama-3.1-8b\"\npools = [\"spot\"]\nslo = { ttft = \"1s\", e2e = \"30s\" }\narrivals = { poisson = { rate = 2.0 } }\nprompt_tokens = 512\noutput_tokens = { lognormal = { median = 200, sigma = 0.5 } }",
        "pools = [\"spot\"]\narrivals = \"none\"",
    );
    assert_ne!(held, GOOD);
    let s = Scenario::from_toml(&held, "s.toml").unwrap();
    assert!(!s.spec.services[0].has_load());
    let e = one_error(&GOOD.replace("model = \"llama-3.1-8b\"\n", ""));
    assert_eq!(e.field, "services[0].model");
    assert!(e.hint.as_deref().unwrap_or("").contains("arrivals = \"none\""), "{e}");
    let e = one_error(&GOOD.replace("slo = { ttft = \"1s\", e2e = \"30s\" }\n", ""));
    assert_eq!(e.field, "services[0].slo");
}
