//! `twin`: a digital twin of AI compute fabrics.
//!
//! A thin command line over the library crates: `twin-inputs` loads a
//! scenario and what it names, `twin-sim` runs it,
//! `twin-export` writes their results. This file parses flags and maps
//! outcomes to exit codes; each command lives in its own module.
#![forbid(unsafe_code)]

/// Writes to stdout; a closed pipe (`twin ... | head`) ends the program quietly.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// `print!` through [`emit`].
macro_rules! out {
    ($($t:tt)*) => { $crate::emit(&format!($($t)*)) };
}

/// `println!` through [`emit`].
macro_rules! outln {
    ($($t:tt)*) => { $crate::emit(&format!("{}\n", format!($($t)*))) };
}

mod args;
mod bench;
mod bench_extender;
mod explain_shadow;
mod extender;
mod external;
mod git_tree;
mod k8s_job;
mod load;
mod pod_trace;
mod policies;
mod progress;
mod promote;
mod record;
mod regress;
mod run;
mod scenarios;
mod shadow;
mod suite_run;
mod sweep;
mod tables;
mod trace;
mod tui;
mod tune;
mod validate;

use clap::Parser;
use std::process::ExitCode;

/// Exit code for bad input (a scenario that does not parse or check).
pub const EXIT_BAD_INPUT: u8 = 2;

/// `twin explain`: prints the story of one subject of a run, or what a
/// `twin shadow` folder found (`explain_shadow`).
fn explain(a: args::ExplainArgs) -> anyhow::Result<ExitCode> {
    use twin_export::explain::Subject;
    if twin_export::shadow::is_shadow_folder(&a.run_dir) {
        return explain_shadow::explain(&a);
    }
    if a.pod.is_some() {
        anyhow::bail!(
            "--pod explains a folder written by `twin shadow --out`, and {} is not one (it has no shadow-summary.json or divergences.jsonl); \
             in a run folder say --job, --request, --node or --service",
            a.run_dir.display()
        );
    }
    let subject = match (a.job, a.request, a.node, a.service) {
        (Some(j), ..) => Subject::Job(j),
        (_, Some(r), ..) => Subject::Request(r),
        (_, _, Some(n), _) => Subject::Node(n),
        (_, _, _, Some(s)) => Subject::Service(s),
        _ => anyhow::bail!("say what to explain: --job, --request, --node or --service"),
    };
    out!("{}", twin_export::explain::explain(&a.run_dir, &subject)?);
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Run(a) => run::run(a),
        args::Command::Validate(a) => validate::validate(a),
        args::Command::Scenarios(a) => scenarios::list(a),
        args::Command::Bench(a) => bench::bench(a),
        args::Command::Policy(args::PolicyCommand::Test(a)) => policies::test(a),
        args::Command::Explain(a) => explain(a),
        args::Command::Trace(args::TraceCommand::Import(a)) => trace::import(a),
        args::Command::Trace(args::TraceCommand::Info(a)) => trace::info(a),
        args::Command::Trace(args::TraceCommand::Fit(a)) => trace::fit(a),
        args::Command::Trace(args::TraceCommand::Synth(a)) => trace::synth(a),
        args::Command::Record(a) => record::record(a),
        args::Command::Sweep(a) => sweep::sweep(a),
        args::Command::Tui(a) => tui::tui(a),
        args::Command::Regress(a) => regress::regress(a),
        args::Command::Extender(a) => extender::extender(a),
        args::Command::Shadow(a) => shadow::shadow(a),
        args::Command::Promote(a) => promote::promote(a),
        args::Command::Rollback(a) => promote::rollback(a),
        args::Command::Merge(a) => regress::merge(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
