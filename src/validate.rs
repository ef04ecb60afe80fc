//! `twin validate`: check scenario files, with the policies and Kubernetes
//! manifests they name, without running them.

use crate::args::ValidateArgs;
use std::process::ExitCode;
use twin_sim::scenario::Scenario;

pub fn validate(a: ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut bad = 0usize;
    for path in &a.files {
        let origin = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{origin}: cannot read: {e}");
                bad += 1;
                continue;
            }
        };
        let mut parsed = Scenario::from_toml(&text, &origin);
        // The manifests it names join it, as `twin run` reads them.
        if let Ok(s) = &mut parsed
            && s.spec.pod_trace.is_none()
            && let Err(e) = twin_inputs::manifests::attach(s, &twin_inputs::Source::of_file(path), &[], &mut Vec::new())
        {
            bad += 1;
            outln!("FAIL  {origin}: its manifests");
            eprintln!("{e}");
            continue;
        }
        if let Some(problem) = parsed.as_ref().ok().and_then(|s| policy_problem(path, s)) {
            bad += 1;
            outln!("FAIL  {origin}: 1 problem");
            eprintln!("{origin}: [policies]: {problem}");
            continue;
        }
        match parsed {
            Ok(s) => outln!(
                "ok    {origin}: `{}`, {} pools, {} services, {} training jobs, {} training streams, horizon {}",
                s.spec.name,
                s.spec.pools.len(),
                s.spec.services.len(),
                s.spec.training.len(),
                s.spec.training_streams.len(),
                s.spec.horizon.get()
            ),
            Err(errors) => {
                bad += 1;
                let n = errors.errors().len();
                outln!("FAIL  {origin}: {n} problem{}", if n == 1 { "" } else { "s" });
                eprintln!("{errors}");
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} of {} files failed", a.files.len());
        Ok(ExitCode::from(crate::EXIT_BAD_INPUT))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// Compiles the scenario's Rego policies, as `twin run` will; what is wrong, if anything.
fn policy_problem(path: &std::path::Path, s: &Scenario) -> Option<String> {
    let spec = s.spec.policies.as_ref()?;
    let source = twin_inputs::Source::of_file(path);
    twin_inputs::PolicySources::read(&source, spec).and_then(|p| p.compile()).err().map(|e| format!("{e:#}"))
}
