//! `twin`: a digital twin of AI compute fabrics.
//!
//! A thin command line over the library crates: `twin-sim` runs scenarios,
//! `twin-export` writes their results. This file parses flags and maps
//! outcomes to exit codes; each command lives in its own module.

mod args;
mod bench;
mod library;
mod progress;
mod run;
mod scenarios;
mod validate;

use clap::Parser;
use std::process::ExitCode;

/// Exit code for bad input (a scenario that does not parse or check).
pub const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Run(a) => run::run(a),
        args::Command::Validate(a) => validate::validate(a),
        args::Command::Scenarios(a) => scenarios::list(a),
        args::Command::Bench(a) => bench::bench(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
