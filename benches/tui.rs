//! The terminal UI: drawing one frame of the Run screen at 200×60 (goal
//! ≤ 2 ms), and the default scenario watched live at max speed against the
//! same run headless, measured in the same run (goal ≤ 1.25×).
//!
//! `cargo bench -p twin-benches --bench tui`
#![forbid(unsafe_code)]

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::mpsc::Receiver;
use std::time::Duration;
use twin_tui::live::Phase;
use twin_tui::worker::{RunRequest, Speed};
use twin_tui::{App, Message, Options, update};

fn finished(name: &str) -> (App, Receiver<Message>) {
    let (mut app, rx) = twin_tui::app(Options { args: vec![name.into()], ..Options::default() });
    while !app.live.as_ref().is_some_and(|l| l.phase == Phase::Finished) {
        if let Ok(m) = rx.recv_timeout(Duration::from_secs(120)) {
            update(&mut app, m);
        }
    }
    (app, rx)
}

fn frame(c: &mut Criterion) {
    let (app, _rx) = finished("spot-inference");
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("a test terminal");
    c.bench_function("tui/frame/run-200x60", |b| {
        b.iter(|| {
            terminal.draw(|f| twin_tui::view::view(&app, f)).expect("drawn");
        })
    });
}

/// The whole run as the Run screen gets it: the worker at max speed,
/// every delta through `update`, frames drawn as the terminal loop would.
fn watched(req: &RunRequest) -> f64 {
    twin_tui::watch::watch(req.clone(), Speed::Max, 200, 60).expect("watched").cost
}

fn live_against_headless(c: &mut Criterion) {
    let loaded = std::sync::Arc::new(twin_inputs::load(twin_inputs::library::DEFAULT).expect("the default scenario"));
    let req = RunRequest { loaded: loaded.clone(), seed: loaded.scenario.spec.seed, factory: None };
    let mut group = c.benchmark_group("tui/default-run");
    group.sample_size(10).measurement_time(Duration::from_secs(30));
    group.bench_function("headless", |b| {
        b.iter(|| twin_sim::run(&loaded.scenario, loaded.scenario.spec.seed, twin_sim::RunOptions::summary_only()).expect("runs"))
    });
    group.bench_function("watched-max-speed", |b| b.iter(|| watched(&req)));
    group.finish();
}

/// Peak resident memory of this process, from /proc (Linux), MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// A week-long run (1,000 GPUs, 10 M requests) watched to the end: the
/// process's peak memory, printed (criterion does not measure memory).
fn week(_: &mut Criterion) {
    let text = twin_sim::benchmarks::fleet_week(10.0);
    let origin = "fleet-week".to_string();
    let loaded =
        twin_inputs::load_text(twin_inputs::ScenarioText { origin, text, source: twin_inputs::Source::BuiltIn }).expect("the week loads");
    let loaded = std::sync::Arc::new(loaded);
    let req = RunRequest { loaded: loaded.clone(), seed: 1, factory: None };
    let before = peak_rss_mib();
    let started = std::time::Instant::now();
    watched(&req);
    eprintln!(
        "tui/week: a week on 1,000 GPUs watched at max speed in {:.1} s; peak RSS {:.0} MiB (before the run {:.0} MiB)",
        started.elapsed().as_secs_f64(),
        peak_rss_mib().unwrap_or(f64::NAN),
        before.unwrap_or(f64::NAN)
    );
}

criterion_group!(benches, week, frame, live_against_headless);
criterion_main!(benches);
