//! Using `twin-sim` as a library: run a scenario file and print its report.
//!
//! `cargo run --release -p twin-sim --example report -- scenarios/mixed-fleet.toml 7`

use twin_sim::scenario::Scenario;
use twin_sim::{RunOptions, report, run};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: report SCENARIO.toml [SEED]");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(1);
        }
    };
    let scenario = match Scenario::from_toml(&text, &path) {
        Ok(s) => s,
        Err(errors) => {
            eprintln!("{errors}");
            std::process::exit(2);
        }
    };
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(scenario.spec.seed);
    match run(&scenario, seed, RunOptions::summary_only()) {
        Ok(out) => print!("{}", report::render(&out.summary)),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
