//! Running Rego unit tests the way `opa test` does: every rule whose name
//! starts with `test_` in a `*_test.rego` file must evaluate to true.

use crate::PolicyError;

/// The result of one Rego test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestOutcome {
    /// The test file.
    pub file: String,
    /// Its package.
    pub package: String,
    /// The test rule.
    pub name: String,
    /// Whether it evaluated to true.
    pub passed: bool,
    /// What it evaluated to, or the error, when it failed.
    pub detail: String,
}

/// The `test_` rules a Rego file defines, in order, once each.
fn tests_in(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("test_") {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let full = format!("test_{name}");
            if !names.contains(&full) {
                names.push(full);
            }
        }
    }
    names
}

/// Loads every source (policies and tests, `(file name, text)`) with an
/// optional data document and runs the tests of the `*_test.rego` files.
pub fn run_tests(sources: &[(String, String)], data_json: Option<&str>) -> Result<Vec<TestOutcome>, PolicyError> {
    let mut engine = regorus::Engine::new();
    for (file, text) in sources {
        engine.add_policy(file.clone(), text.clone()).map_err(|e| PolicyError::Parse { file: file.clone(), message: e.to_string() })?;
    }
    if let Some(d) = data_json {
        engine.add_data_json(d).map_err(|e| PolicyError::Data(e.to_string()))?;
    }
    let mut out = Vec::new();
    for (file, text) in sources.iter().filter(|(f, _)| f.ends_with("_test.rego")) {
        let Some(package) = crate::package_of(text).map(str::to_string) else { continue };
        for name in tests_in(text) {
            let result = engine
                .eval_rule(format!("data.{package}.{name}"))
                .map_err(|e| e.to_string())
                .and_then(|v| v.to_json_str().map_err(|e| e.to_string()));
            let (passed, detail) = match result {
                Ok(v) if v.trim() == "true" => (true, String::new()),
                Ok(v) => (false, format!("evaluated to {}", if v.trim().is_empty() { "undefined" } else { v.trim() })),
                Err(e) => (false, e),
            };
            out.push(TestOutcome { file: file.clone(), package: package.clone(), name, passed, detail });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_test_rules_and_reports_failures() {
        let policy = (
            "p.rego".to_string(),
            "package twin.placement\n\nviolation contains {\"msg\": \"no\", \"details\": {\"rule\": \"r\"}} if input.bad\n".to_string(),
        );
        let tests = (
            "p_test.rego".to_string(),
            "package twin.placement_test\n\ntest_denies if {\n\tcount(data.twin.placement.violation) == 1 with input as {\"bad\": true}\n}\n\ntest_wrong if {\n\tcount(data.twin.placement.violation) == 1 with input as {\"bad\": false}\n}\n".to_string(),
        );
        let out = run_tests(&[policy, tests], None).unwrap();
        assert_eq!(out.len(), 2);
        assert!(out[0].passed, "{out:?}");
        assert_eq!(out[1].name, "test_wrong");
        assert!(!out[1].passed);
    }
}
