//! Policy-as-code: the Rego files evaluated at admission, placement and scaling.

use serde::{Deserialize, Serialize};

/// Rego policies to evaluate in the loop (see docs/policies.md).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoliciesSpec {
    /// Rego files or folders of them, relative to the scenario file; a
    /// built-in scenario names the embedded library's files, such as
    /// `../policies/admission.rego` or `../policies`. Files ending in
    /// `_test.rego` are tests and are not loaded.
    pub files: Vec<String>,
    /// A JSON data document (`data.*` in the policies), relative to the scenario file.
    #[serde(default)]
    pub data: Option<String>,
}
