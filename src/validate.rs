//! `twin validate`: check scenario files without running them.

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
        match Scenario::from_toml(&text, &origin) {
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
