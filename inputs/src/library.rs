//! The scenario and policy library, embedded: every file of `scenarios/` and `policies/`.

/// Name and text of each built-in scenario, in the order `twin scenarios` lists them.
pub const SCENARIOS: &[(&str, &str)] = &[
    ("spot-inference", include_str!("../../scenarios/spot-inference.toml")),
    ("mixed-fleet", include_str!("../../scenarios/mixed-fleet.toml")),
    ("reserved-year", include_str!("../../scenarios/reserved-year.toml")),
    ("autoscaler-rescue", include_str!("../../scenarios/autoscaler-rescue.toml")),
    ("on-prem-training", include_str!("../../scenarios/on-prem-training.toml")),
    ("predictive-vs-reactive", include_str!("../../scenarios/predictive-vs-reactive.toml")),
    ("policy-guardrails", include_str!("../../scenarios/policy-guardrails.toml")),
    ("openb-fragmentation", include_str!("../../scenarios/openb-fragmentation.toml")),
    ("azure-code-replay", include_str!("../../scenarios/azure-code-replay.toml")),
    ("recorded-lab", include_str!("../../scenarios/recorded-lab.toml")),
    ("helios-replay", include_str!("../../scenarios/helios-replay.toml")),
];

/// The scenario `twin run` runs when given none.
pub const DEFAULT: &str = "spot-inference";

/// The text of a built-in scenario.
pub fn get(name: &str) -> Option<&'static str> {
    SCENARIOS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The names of the built-in scenarios, comma-separated.
pub fn names() -> String {
    SCENARIOS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// The policy library (`policies/`), embedded so built-in scenarios that
/// use policies run anywhere: path and text.
pub const POLICIES: &[(&str, &str)] = &[
    ("policies/admission.rego", include_str!("../../policies/admission.rego")),
    ("policies/placement.rego", include_str!("../../policies/placement.rego")),
    ("policies/scaling.rego", include_str!("../../policies/scaling.rego")),
    ("policies/data.json", include_str!("../../policies/data.json")),
    ("policies/admission_test.rego", include_str!("../../policies/admission_test.rego")),
    ("policies/placement_test.rego", include_str!("../../policies/placement_test.rego")),
    ("policies/scaling_test.rego", include_str!("../../policies/scaling_test.rego")),
];
