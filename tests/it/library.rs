//! Every file under `scenarios/` checks, is embedded in the binary, and runs.

use twin_sim::RunOptions;
use twin_sim::scenario::Scenario;

#[test]
fn every_scenario_file_checks_and_runs_with_consistent_totals() {
    let dir = crate::root().join("scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    assert!(paths.len() >= 4, "the library needs at least four scenarios");
    std::thread::scope(|scope| {
        for path in &paths {
            scope.spawn(move || {
                let text = std::fs::read_to_string(path).unwrap();
                let origin = path.display().to_string();
                let bare = Scenario::from_toml(&text, &origin).unwrap_or_else(|e| panic!("{e}"));
                assert!(!bare.spec.description.is_empty(), "{origin} has no description");
                let unattached = twin_sim::run(&bare, bare.spec.seed, RunOptions::summary_only());
                if bare.spec.pod_trace.is_some() {
                    // A scheduler experiment, not a simulation: scheduling::openb_* runs it.
                    assert!(matches!(unattached, Err(twin_sim::RunError::Build(twin_sim::fabric::BuildError::PodTrace))));
                    return;
                }
                // Files a scenario names are read at the edge; without them the model says which is missing.
                use twin_sim::fabric::BuildError as B;
                let names_files = !bare.trace_files().is_empty()
                    || !bare.telemetry_files().is_empty()
                    || !bare.price_history_files().is_empty()
                    || !bare.job_trace_files().is_empty()
                    || !bare.advisor_files().is_empty();
                if names_files {
                    assert!(
                        matches!(
                            unattached,
                            Err(twin_sim::RunError::Build(
                                B::TraceNotLoaded { .. }
                                    | B::RecordingNotLoaded { .. }
                                    | B::PriceHistoryNotLoaded { .. }
                                    | B::JobTraceNotLoaded { .. }
                                    | B::AdvisorNotLoaded { .. }
                            ))
                        ),
                        "{origin}"
                    );
                }
                let Some(loaded) = crate::load_or_skip(path) else { return };
                let s = loaded.scenario;
                if !s.price_history_files().is_empty() || !s.job_trace_files().is_empty() {
                    // Weeks of history: histories::helios_* runs it through `twin run`.
                    return;
                }
                let out = twin_sim::run(&s, s.spec.seed, RunOptions::summary_only()).unwrap();
                let sum = &out.summary;
                assert!(sum.events > 0, "{origin}");
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(1.0);
                assert!(close(sum.cost.total, sum.cost.by_pool.values().sum()), "{origin}: pools do not add up");
                assert!(close(sum.cost.total, sum.cost.by_capacity_type.values().sum()), "{origin}");
                assert!(close(sum.cost.total, sum.cost.by_team.values().sum()), "{origin}: teams do not add up");
                assert!(close(sum.cost.total, sum.cost.by_workload.values().sum()), "{origin}");
                assert!(close(sum.cost.total, sum.cost.compute + sum.cost.energy), "{origin}");
                for svc in &sum.services {
                    let dropped: u64 = svc.dropped.values().sum();
                    assert_eq!(svc.arrived, svc.finished + dropped + svc.in_flight, "{origin}: {} loses requests", svc.name);
                }
                let j = &sum.jobs;
                assert_eq!(j.submitted, j.finished + j.running + j.queued + j.rejected, "{origin}: jobs unaccounted");
            });
        }
    });
}

#[test]
fn every_scenario_file_is_in_the_binary() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_twin")).arg("scenarios").output().unwrap();
    let listed = String::from_utf8(out.stdout).unwrap();
    for e in std::fs::read_dir(crate::root().join("scenarios")).unwrap() {
        let name = e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned();
        assert!(listed.lines().any(|l| l.split_whitespace().next() == Some(name.as_str())), "{name} is not embedded");
    }
}
