//! The app driven by messages, as a user drives it, and every screen drawn
//! on `TestBackend`: insta snapshots (the Debug form, which keeps styles)
//! at 80×24 and 160×48, dark and light.

use crate::app::{App, Tab};
use crate::keys::{Action, KeyMap};
use crate::library::{self, Target};
use crate::live::Phase;
use crate::theme::{Theme, ThemeKind};
use crate::update::{act, update};
use crate::{Message, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

fn app() -> (App, Receiver<Message>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let dir = tempfile::tempdir().unwrap();
    let mut app = App::new(library::entries(&[], dir.path()), Theme::new(ThemeKind::Dark), KeyMap::default(), tx);
    app.cwd = std::env::temp_dir();
    (app, rx)
}

/// Hands the jobs' messages to `update` until `done` holds (or a minute passes).
fn settle(app: &mut App, rx: &Receiver<Message>, done: impl Fn(&App) -> bool) {
    let start = Instant::now();
    while !done(app) {
        assert!(start.elapsed() < Duration::from_secs(300), "the app did not settle");
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(50)) {
            update(app, m);
        }
    }
}

fn key(app: &mut App, code: KeyCode) {
    update(app, Message::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::view(app, f)).unwrap();
    t.backend().buffer().clone()
}

fn text(b: &Buffer) -> String {
    let mut s = String::new();
    for y in 0..b.area.height {
        for x in 0..b.area.width {
            s.push_str(b[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

/// Snapshots the screen at both sizes, dark and light.
fn snapshots(app: &mut App, name: &str) {
    for kind in [ThemeKind::Dark, ThemeKind::Light] {
        app.theme = Theme::new(kind);
        for (w, h) in [(80, 24), (160, 48)] {
            let b = draw(app, w, h);
            insta::assert_debug_snapshot!(format!("{name}_{w}x{h}_{kind:?}").to_lowercase(), b);
        }
    }
    app.theme = Theme::new(ThemeKind::Dark);
}

fn open_and_finish(app: &mut App, rx: &Receiver<Message>, scenario: &str) {
    app.open(Target::Scenario(scenario.into()));
    settle(app, rx, |a| a.live.as_ref().is_some_and(|l| l.phase == Phase::Finished));
}

#[test]
fn library_lists_every_built_in_and_opens_the_selected_one() {
    let (mut app, rx) = app();
    assert_eq!(app.tab, Tab::Library);
    snapshots(&mut app, "library");
    let i = app.entries.iter().position(|e| e.name == "spot-inference").unwrap();
    for _ in 0..i {
        key(&mut app, KeyCode::Down);
    }
    key(&mut app, KeyCode::Enter);
    assert!(app.busy.is_some(), "loading shows as work in progress");
    settle(&mut app, &rx, |a| a.live.as_ref().is_some_and(|l| l.phase == Phase::Finished));
    assert_eq!(app.tab, Tab::Run);
    assert_eq!(app.live.as_ref().unwrap().info.name, "spot-inference");
}

#[test]
fn a_live_run_at_max_speed_matches_the_headless_run() {
    let (mut app, rx) = app();
    open_and_finish(&mut app, &rx, "spot-inference");
    let live = app.live.as_ref().unwrap();
    let loaded = twin_inputs::load("spot-inference").unwrap();
    let headless = twin_sim::run(&loaded.scenario, loaded.scenario.spec.seed, crate::worker::live_options()).unwrap();
    let s = live.summary.as_ref().unwrap();
    assert_eq!(s.cost.total, headless.summary.cost.total, "watching a run does not change it");
    assert_eq!(s.events, headless.summary.events);
    assert!(!live.log.is_empty() && live.marks.iter().any(|m| m.2), "the spot reclaim is marked");
    assert!(live.allocated.iter().all(|s| !s.is_empty()));
    assert!(live.p99.iter().any(|s| !s.is_empty()));
    // The burn over the last six hours: between the cheapest and the dearest hour the fleet can cost.
    let burn = live.burn_per_hour().expect("hours were booked");
    assert!(burn > 0.0 && burn < 16.0 * 55.04, "{burn}");
    snapshots(&mut app, "run");
    // The story of the newest line.
    act(&mut app, Action::Enter);
    let (story, _) = app.run_view.story.clone().expect("Enter opens the story");
    assert!(story.len() >= 2, "{story:?}");
    let b = text(&draw(&app, 120, 40));
    assert!(b.contains("Story"), "{b}");
    act(&mut app, Action::Cancel);
    assert!(app.run_view.story.is_none());
    // The finished run's tables, on Results.
    app.tab = Tab::Results;
    assert!(text(&draw(&app, 120, 40)).contains("Enter shows the finished run"));
    act(&mut app, Action::Enter);
    settle(&mut app, &rx, |a| a.results.is_some() || a.error.is_some());
    let b = text(&draw(&app, 160, 48));
    assert!(b.contains("chat-spot") && b.contains("4,573.74"), "{b}");
}

#[test]
fn pause_step_speed_and_cancel_steer_the_run() {
    let (mut app, rx) = app();
    app.speed = crate::worker::Speed::Times(1.0);
    app.open(Target::Scenario("spot-inference".into()));
    settle(&mut app, &rx, |a| a.live.is_some());
    act(&mut app, Action::Pause);
    assert!(app.paused);
    assert_eq!(app.live.as_ref().unwrap().phase, Phase::Paused);
    // Let what was in flight arrive, then one step moves the clock by one sample interval.
    std::thread::sleep(Duration::from_millis(200));
    while let Ok(m) = rx.try_recv() {
        update(&mut app, m);
    }
    let before = app.live.as_ref().unwrap().now_s;
    act(&mut app, Action::Step);
    settle(&mut app, &rx, |a| a.live.as_ref().unwrap().now_s > before);
    let after = app.live.as_ref().unwrap().now_s;
    assert!((after - before - 345.6).abs() < 1e-6 || (after - before - 300.0).abs() < 1e-6, "{before} → {after}");
    act(&mut app, Action::Faster);
    assert_eq!(app.speed, crate::worker::Speed::Times(10.0));
    act(&mut app, Action::Cancel);
    assert_eq!(app.live.as_ref().unwrap().phase, Phase::Cancelled);
    assert!(app.jobs.live.is_none());
}

#[test]
fn compare_runs_both_variants_and_shows_where_they_diverge() {
    let (mut app, rx) = app();
    open_and_finish(&mut app, &rx, "spot-inference");
    act(&mut app, Action::NextTab);
    act(&mut app, Action::NextTab);
    assert_eq!(app.tab, Tab::Compare);
    assert_eq!(app.compare.choices[app.compare.b].label(), "profile bin-pack");
    act(&mut app, Action::Enter);
    settle(&mut app, &rx, |a| a.compare.result.is_some());
    let c = app.compare.result.as_ref().unwrap();
    assert_eq!(c.a.cost.total, app.live.as_ref().unwrap().summary.as_ref().unwrap().cost.total);
    snapshots(&mut app, "compare");
}

#[test]
fn what_if_knobs_rerun_sweep_and_save() {
    let (mut app, rx) = app();
    open_and_finish(&mut app, &rx, "spot-inference");
    app.tab = Tab::WhatIf;
    act(&mut app, Action::Right); // max replicas 16 → 17
    act(&mut app, Action::Down);
    act(&mut app, Action::Down); // arrival multiplier
    act(&mut app, Action::Right);
    act(&mut app, Action::Right);
    act(&mut app, Action::Enter);
    settle(&mut app, &rx, |a| a.whatif.run.is_some());
    let r = app.whatif.run.as_ref().unwrap();
    assert_eq!(r.changes, vec!["max replicas: 16 → 17".to_string(), "arrival multiplier: 1 → 1.20".to_string()]);
    assert!(r.base.is_some());
    act(&mut app, Action::Sweep);
    settle(&mut app, &rx, |a| a.whatif.sweep.is_some());
    let s = app.whatif.sweep.as_mut().unwrap();
    assert_eq!(s.histogram.iter().map(|b| b.1).sum::<u64>(), u64::from(crate::whatif::SWEEP_REPLICAS));
    assert!(s.cost_p5_p50_p95.0 <= s.cost_p5_p50_p95.1 && s.cost_p5_p50_p95.1 <= s.cost_p5_p50_p95.2);
    // What the machine decides (backend, wall time) is masked for the snapshot.
    s.backend = "cpu".into();
    s.seconds = 0.0;
    let dir = tempfile::tempdir().unwrap();
    app.cwd = dir.path().to_path_buf();
    act(&mut app, Action::Save);
    let saved = app.whatif.saved.clone().expect("saved");
    assert!(twin_inputs::load(saved.to_str().unwrap()).is_ok());
    app.whatif.saved = Some("spot-inference-whatif.toml".into());
    app.status = "saved spot-inference-whatif.toml".into();
    snapshots(&mut app, "whatif");
}

#[test]
fn results_and_telemetry_screens_open_from_files() {
    let (mut app, rx) = app();
    let loaded = twin_inputs::load("spot-inference").unwrap();
    let opts = twin_sim::RunOptions { record_requests: false, record_ledger: true, record_series: true, record_decisions: true };
    let out = twin_sim::run(&loaded.scenario, 1, opts).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let dir = dir.as_path();
    twin_export::write_run(dir, &out, &loaded.text, twin_export::Formats { parquet: true, csv: false }).unwrap();
    app.open(library::classify(dir.to_str().unwrap()));
    settle(&mut app, &rx, |a| a.results.is_some() || a.error.is_some());
    assert_eq!(app.tab, Tab::Results, "{:?}", app.error);
    snapshots(&mut app, "results");

    let csv = dir.join("gpu.csv");
    let mut rows = String::from("timestamp, index, name, utilization.gpu [%], power.draw [W]\n");
    for i in 0..120 {
        for g in 0..2 {
            let util = if (i / 30 + g) % 2 == 0 { 95 } else { 0 };
            let power = if util > 0 { 650.0 } else { 90.0 };
            rows.push_str(&format!("2024/05/01 10:{:02}:{:02}.000, {g}, NVIDIA H100 80GB HBM3, {util} %, {power:.2} W\n", i / 60, i % 60));
        }
    }
    std::fs::write(&csv, rows).unwrap();
    app.open(Target::Trace(csv));
    settle(&mut app, &rx, |a| a.telemetry.is_some() || a.error.is_some());
    assert_eq!(app.tab, Tab::Telemetry, "{:?}", app.error);
    snapshots(&mut app, "telemetry");
}

#[test]
fn problems_show_in_the_ui_located() {
    let (mut app, rx) = app();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "format_version = 1\nname = \"x\"\nhorizon = \"2d\"\n[[pools]]\nname = \"p\"\nnode_type = \"p5.48xlarge\"\ncapacity = \"spot\"\nmax_nodez = 3\n").unwrap();
    app.open(Target::Scenario(bad.to_string_lossy().into_owned()));
    settle(&mut app, &rx, |a| a.error.is_some());
    let e = app.error.clone().unwrap().join("\n");
    assert!(e.contains("bad.toml") && e.contains("max_nodez") && e.contains(":8"), "{e}");
    let b = text(&draw(&app, 80, 24));
    assert!(b.contains("Problem") && b.contains("max_nodez"), "{b}");
    key(&mut app, KeyCode::Char('x'));
    assert!(app.error.is_none(), "any key closes the error");
    let missing = dir.path().join("nowhere.csv");
    app.open(Target::Trace(missing));
    settle(&mut app, &rx, |a| a.error.is_some());
    assert!(app.error.as_ref().unwrap().join(" ").contains("nowhere.csv"));
}

#[test]
fn help_tabs_theme_mouse_and_quit() {
    let (mut app, _rx) = app();
    key(&mut app, KeyCode::Char('?'));
    assert!(app.help);
    snapshots(&mut app, "help");
    key(&mut app, KeyCode::Char('j'));
    assert!(!app.help, "any key closes the help");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.tab, Tab::Run);
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.tab, Tab::Telemetry);
    // The column of "Compare" in the tab bar.
    let x = (0..80).find(|x| view::tab_at(*x) == Some(Tab::Compare)).unwrap();
    update(
        &mut app,
        Message::Mouse(MouseEvent { kind: MouseEventKind::Down(MouseButton::Left), column: x, row: 0, modifiers: KeyModifiers::NONE }),
    );
    assert_eq!(app.tab, Tab::Compare);
    let b = text(&draw(&app, 80, 24));
    let col = b.lines().next().unwrap().find("Compare").unwrap();
    assert_eq!(view::tab_at(col as u16), Some(Tab::Compare), "clicks land where the title is drawn");
    key(&mut app, KeyCode::Char('t'));
    assert_eq!(app.theme.kind, ThemeKind::Light);
    update(&mut app, Message::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)));
    assert!(app.quit);
}

#[test]
fn tiny_terminals_say_so_and_nothing_panics_at_any_size() {
    let (mut app, rx) = app();
    let b = text(&draw(&app, 40, 10));
    assert!(b.contains("too small"), "{b}");
    open_and_finish(&mut app, &rx, "mixed-fleet");
    app.whatif.model = app.scenario.as_ref().map(|l| crate::whatif::WhatIf::new(l));
    for tab in Tab::ALL {
        app.tab = tab;
        for (w, h) in [(0, 0), (1, 1), (59, 15), (60, 16), (61, 17), (80, 24), (300, 100)] {
            draw(&app, w, h);
        }
    }
    app.help = true;
    draw(&app, 60, 16);
    app.error = Some(vec!["x".repeat(500)]);
    draw(&app, 60, 16);
}

#[test]
fn terminate_cancels_every_job_and_quits() {
    let (mut app, rx) = app();
    app.speed = crate::worker::Speed::Times(1.0);
    app.open(Target::Scenario("spot-inference".into()));
    settle(&mut app, &rx, |a| a.live.is_some());
    update(&mut app, Message::Terminate);
    assert!(app.quit && app.jobs.live.is_none());
}

#[test]
fn the_loop_runs_on_a_test_backend_until_quit() {
    struct Script(Vec<KeyCode>);
    impl crate::terminal::Events for Script {
        fn next(&mut self, _: Duration) -> std::io::Result<Option<ratatui::crossterm::event::Event>> {
            Ok(if self.0.is_empty() {
                None
            } else {
                Some(ratatui::crossterm::event::Event::Key(KeyEvent::new(self.0.remove(0), KeyModifiers::NONE)))
            })
        }
    }
    let (mut app, rx) = app();
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    crate::terminal::drive(
        &mut t,
        &mut app,
        &mut Script(vec![KeyCode::Tab, KeyCode::Char('?'), KeyCode::Esc, KeyCode::Char('q')]),
        &rx,
        &stop,
    )
    .unwrap();
    assert!(app.quit);
    assert_eq!(app.tab, Tab::Run);
}

/// A folder as `twin shadow --out` writes it: an idle GPU, a placement
/// (the line the real binary logs for tests/it/shadow.rs' watch) and a
/// replica count Twin's autoscaler would have set otherwise.
const SHADOW_LOG: &str = r#"{"at_ns":1796637660000000000,"gpu":0,"host":"gpu-dear","kind":"idle","observed_ns":1796637660100000000,"since_ns":1796637000000000000,"uuid":"GPU-0"}
{"actual":{"cost_per_hour":24.5,"free_gpus_before":8,"gpus":8,"instance_type":"p5.48xlarge","name":"gpu-dear","plugin_scores":[["node-affinity",100.0],["interruption-aware",100.0],["cost-aware",0.0]],"price_per_hour":98.0,"refused":null,"score":200.0},"cost_per_hour_difference":-16.5,"gpus":2,"kind":"placement","observed_ns":1796637672000000000,"pod":"ml/train","profile":"cost-aware","twin":{"cost_per_hour":8.0,"free_gpus_before":8,"gpus":8,"instance_type":"p4d.24xlarge","name":"gpu-cheap","plugin_scores":[["node-affinity",100.0],["interruption-aware",100.0],["cost-aware",100.0]],"price_per_hour":32.0,"refused":null,"score":300.0},"why":"cost-aware prefers gpu-cheap (score 300.0) to gpu-dear (score 200.0)"}
{"kind":"replicas","observed_ns":1796637690000000000,"workload":"web/chat","actual":5,"twin":3,"metric":"gpu-utilisation","value":0.35,"target":0.6,"why":"3 replicas keep utilisation under the target"}
"#;

const SHADOW_SUMMARY: &str = r#"{"profile":"cost-aware","divergences":{"idle":1,"placement":1,"replicas":1},"counterfactual_saving_per_hour":16.5,
"agreed":4,"not_judged":0,"errors":0,"samples_in":{"nvidia-smi:smi.csv":120},"gaps":{},"health":{"kubectl:watch.json":"up","nvidia-smi:smi.csv":"up"},
"gpus":16,"nodes":2,"pods":5,"cost":{"hours":1.0,"nodes_dollars":130.0,"allocated_dollars":24.5,"idle_dollars":105.5,"twin_dollars":8.0,"saving_dollars":16.5}}"#;

#[test]
fn shadow_shows_divergences_selects_filters_and_follows_the_log() {
    let (mut app, rx) = app();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shadow-out");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("divergences.jsonl"), SHADOW_LOG).unwrap();
    std::fs::write(dir.join("shadow-summary.json"), SHADOW_SUMMARY).unwrap();
    let target = library::classify(dir.to_str().unwrap());
    assert_eq!(target, Target::ShadowDir(dir.clone()));
    app.open(target);
    settle(&mut app, &rx, |a| a.shadow.is_some() || a.error.is_some());
    assert_eq!(app.tab, Tab::Shadow, "{:?}", app.error);
    let screen = text(&draw(&app, 160, 48));
    for want in [
        "shadow-out · profile cost-aware · divergences 3 (1 idle, 1 placement, 1 replicas) · saving 16.50 $/h",
        "cost over 1.00 h: nodes 130.00 $, allocated 24.50 $, idle 105.50 $, twin 8.00 $, saving 16.50 $",
        "3 divergences · every kind (f)",
        "12-07 10:01:12",
        "ml/train",
        "web/chat",
        "gpu-dear GPU 0",
        "3 replicas",
        "idle 11m 0s",
    ] {
        assert!(screen.contains(want), "{want:?} on\n{screen}");
    }
    // The first divergence is selected: the idle GPU, in full below.
    assert!(screen.contains("0 % utilisation from 2026-12-07 09:50:00.000 to 2026-12-07 10:01:00.000 (11m 0s)"), "{screen}");
    key(&mut app, KeyCode::Down);
    let screen = text(&draw(&app, 160, 48));
    let placement = screen.lines().skip_while(|l| !l.contains("divergences.jsonl line 2")).collect::<Vec<_>>().join("\n");
    for want in [
        "placement · ml/train",
        "actual (real scheduler)   Twin (cost-aware)",
        "node                  gpu-dear                  gpu-cheap",
        "instance type         p5.48xlarge               p4d.24xlarge",
        "  cost-aware          0                         100",
        "price $/node-h        98.00                     32.00",
        "Twin saves 16.50 $/h (cost difference -16.50 $/h, Twin's node minus actual)",
    ] {
        assert!(placement.contains(want), "{want:?} in the detail:\n{screen}");
    }
    assert!(screen.contains("gpu-cheap") && screen.contains("16.50"), "the row: Twin's node and the saving\n{screen}");
    snapshots(&mut app, "shadow");

    // The filter cycles through the kinds seen, then back to every kind;
    // the selection stays on its divergence where the filter shows it.
    let shown = |app: &App| app.shadow.as_ref().unwrap().shown().iter().map(|d| d.kind.clone()).collect::<Vec<_>>();
    key(&mut app, KeyCode::Char('f'));
    assert_eq!((app.shadow.as_ref().unwrap().filter(), shown(&app)), (Some("idle"), vec!["idle".to_string()]));
    assert!(text(&draw(&app, 80, 24)).contains("1 divergences · idle (f)"));
    key(&mut app, KeyCode::Char('f'));
    assert_eq!(shown(&app), ["placement"]);
    assert_eq!(app.shadow.as_ref().unwrap().selected().unwrap().kind, "placement");
    key(&mut app, KeyCode::Char('f'));
    assert_eq!(shown(&app), ["replicas"]);
    let screen = text(&draw(&app, 80, 24));
    assert!(
        screen.contains("replicas: actual 5 · Twin 3") && screen.contains("metric gpu-utilisation: value 0.35, target 0.6"),
        "{screen}"
    );
    key(&mut app, KeyCode::Char('f'));
    assert_eq!((app.shadow.as_ref().unwrap().filter(), shown(&app).len()), (None, 3));
    assert_eq!(app.shadow.as_ref().unwrap().selected().unwrap().kind, "replicas", "kept through the filters");

    // Shadow still running: a new line shows at the next tick; the selection stays.
    key(&mut app, KeyCode::Up);
    let line = r#"{"kind":"policy","observed_ns":1796637700000000000,"pod":"ml/eval","node":"gpu-cheap","policy":"gpu-quota","message":"team ml is over its quota"}"#;
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("divergences.jsonl"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()))
        .unwrap();
    update(&mut app, Message::Tick);
    assert_eq!(shown(&app).len(), 4);
    assert_eq!(app.shadow.as_ref().unwrap().selected().unwrap().kind, "placement");
    let screen = text(&draw(&app, 160, 48));
    assert!(screen.contains("ml/eval") && screen.contains("deny (gpu-quota)"), "{screen}");
}
