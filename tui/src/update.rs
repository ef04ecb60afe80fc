//! `update`: the one place the app's state changes, message by message.

use crate::Message;
use crate::app::{App, Busy, Jobs, Tab};
use crate::compare::Variant;
use crate::keys::Action;
use crate::library::Target;
use crate::live::{Live, Phase};
use crate::whatif::{WhatIf, WhatIfRun};
use crate::worker::{self, Control, RunRequest};
use ratatui::crossterm::event::{KeyEventKind, MouseButton, MouseEventKind};
use std::sync::Arc;
use twin_inputs::Loaded;

/// Handles one message.
pub fn update(app: &mut App, msg: Message) {
    match msg {
        Message::Key(k) => {
            if k.kind == KeyEventKind::Release {
                return;
            }
            if let Some(a) = app.keys.action(&k) {
                act(app, a);
            }
        }
        Message::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => act(app, Action::Down),
            MouseEventKind::ScrollUp => act(app, Action::Up),
            MouseEventKind::Down(MouseButton::Left) if m.row == 0 => {
                if let Some(t) = crate::view::tab_at(m.column) {
                    app.tab = t;
                }
            }
            _ => {}
        },
        Message::Resize(..) => {}
        Message::Terminate => stop(app),
        Message::Tick => {
            if let Some(s) = app.shadow.as_mut() {
                s.refresh();
            }
        }
        Message::ScenarioLoaded { id, result } => {
            if !Jobs::is(&app.jobs.open, id) {
                return;
            }
            app.jobs.open = None;
            app.busy = None;
            match result {
                Ok(loaded) => start_scenario(app, loaded),
                Err(lines) => app.error = Some(lines),
            }
        }
        Message::RunStarted { id, info } => {
            if Jobs::is(&app.jobs.live, id) {
                let mut info = *info;
                info.name = app.scenario.as_ref().map_or_else(String::new, |s| s.scenario.spec.name.clone());
                app.live = Some(Live::new(info));
                app.run_view = Default::default();
                if let Some(l) = app.live.as_mut().filter(|_| app.paused) {
                    l.phase = Phase::Paused;
                }
            }
        }
        Message::RunProgress { id, delta } => {
            if let (true, Some(l)) = (Jobs::is(&app.jobs.live, id), app.live.as_mut()) {
                l.apply(*delta);
            }
        }
        Message::RunFinished { id, summary } => {
            if let (true, Some(l)) = (Jobs::is(&app.jobs.live, id), app.live.as_mut()) {
                l.phase = Phase::Finished;
                l.summary = Some(summary);
                app.jobs.live = None;
                app.status = "run finished: Tab to Compare or What-if, Enter on an event for its story".into();
            }
        }
        Message::RunFailed { id, error } => {
            if Jobs::is(&app.jobs.live, id) {
                app.jobs.live = None;
                if let Some(l) = app.live.as_mut() {
                    l.phase = Phase::Failed(error.clone());
                }
                app.error = Some(vec!["The run stopped:".into(), error]);
            }
        }
        Message::Compared { id, result } => {
            if let Some(c) = outcome(app, Slot::Compare, id, result, "The comparison could not run:") {
                app.compare.result = Some(c);
            }
        }
        Message::WhatIfRan { id, result } => {
            if let Some(r) = outcome(app, Slot::WhatIf, id, result, "The what-if could not run:") {
                app.whatif.run = Some(r);
            }
        }
        Message::SweepProgress { id, done } => {
            if Jobs::is(&app.jobs.whatif, id)
                && let Some(b) = app.busy.as_mut()
            {
                b.done = Some(done);
            }
        }
        Message::Swept { id, result } => {
            if let Some(s) = outcome(app, Slot::WhatIf, id, result, "The sweep could not run:") {
                app.whatif.sweep = Some(s);
            }
        }
        Message::ResultsOpened { id, result } => {
            if let Some(r) = outcome(app, Slot::Open, id, result, "The run folder cannot be shown:") {
                app.results = Some(r);
                app.tab = Tab::Results;
            }
        }
        Message::TelemetryOpened { id, result } => {
            if let Some(t) = outcome(app, Slot::Open, id, result, "The trace cannot be shown:") {
                app.telemetry = Some(t);
                app.tab = Tab::Telemetry;
            }
        }
        Message::ShadowOpened { id, result } => {
            if let Some(s) = outcome(app, Slot::Open, id, result, "The shadow folder cannot be shown:") {
                app.shadow = Some(s);
                app.tab = Tab::Shadow;
            }
        }
    }
}

/// Which background job a message answers.
#[derive(Clone, Copy)]
enum Slot {
    Open,
    Compare,
    WhatIf,
}

/// What job `id` in `slot` came to: the job is over (its slot and the
/// status line's work cleared) and its value returned, or its error shown
/// under `what`. `None` also for a job that is no longer current.
fn outcome<T>(app: &mut App, slot: Slot, id: u64, result: Result<T, String>, what: &str) -> Option<T> {
    let s = match slot {
        Slot::Open => &mut app.jobs.open,
        Slot::Compare => &mut app.jobs.compare,
        Slot::WhatIf => &mut app.jobs.whatif,
    };
    if !Jobs::is(s, id) {
        return None;
    }
    *s = None;
    app.busy = None;
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            app.error = Some(vec![what.to_string(), e]);
            None
        }
    }
}

fn stop(app: &mut App) {
    cancel_all(app);
    app.quit = true;
}

fn cancel_all(app: &mut App) {
    for h in [app.jobs.open.take(), app.jobs.live.take(), app.jobs.compare.take(), app.jobs.whatif.take()].into_iter().flatten() {
        h.cancel();
    }
    app.busy = None;
}

/// Handles one action.
pub fn act(app: &mut App, a: Action) {
    app.status.clear();
    if app.error.is_some() {
        // Any key closes the error; Quit still quits.
        app.error = None;
        if a == Action::Quit {
            stop(app);
        }
        return;
    }
    if app.help {
        match a {
            Action::Quit => stop(app),
            _ => app.help = false,
        }
        return;
    }
    match a {
        Action::Quit => return stop(app),
        Action::Help => return app.help = true,
        Action::Theme => return app.theme = app.theme.toggled(),
        Action::NextTab => return app.tab = Tab::ALL[(app.tab.index() + 1) % Tab::ALL.len()],
        Action::PrevTab => return app.tab = Tab::ALL[(app.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len()],
        Action::Cancel if app.busy.is_some() || app.jobs.live.is_some() => {
            let live = app.jobs.live.is_some() && app.tab == Tab::Run && app.run_view.story.is_none();
            if live {
                if let Some(h) = app.jobs.live.take() {
                    h.cancel();
                }
                if let Some(l) = app.live.as_mut() {
                    l.phase = Phase::Cancelled;
                }
                app.status = "run cancelled".into();
                return;
            }
            if app.busy.is_some() {
                for h in [app.jobs.open.take(), app.jobs.compare.take(), app.jobs.whatif.take()].into_iter().flatten() {
                    h.cancel();
                }
                app.busy = None;
                app.status = "cancelled".into();
                return;
            }
        }
        _ => {}
    }
    match app.tab {
        Tab::Library => library(app, a),
        Tab::Run => run(app, a),
        Tab::Results => match app.results.as_mut() {
            Some(r) => {
                r.on_action(a);
            }
            None if a == Action::Enter => results_of_live_run(app),
            None => {}
        },
        Tab::Compare => compare(app, a),
        Tab::WhatIf => whatif(app, a),
        Tab::Shadow => {
            if let Some(s) = app.shadow.as_mut() {
                s.on_action(a);
            }
        }
        Tab::Telemetry => {
            if let Some(t) = app.telemetry.as_mut() {
                t.on_action(a);
            }
        }
    }
}

fn step(sel: usize, n: usize, down: bool, by: usize) -> usize {
    if n == 0 {
        0
    } else if down {
        (sel + by).min(n - 1)
    } else {
        sel.saturating_sub(by)
    }
}

fn library(app: &mut App, a: Action) {
    let n = app.entries.len();
    match a {
        Action::Up | Action::Down => app.entry = step(app.entry, n, a == Action::Down, 1),
        Action::PageUp | Action::PageDown => app.entry = step(app.entry, n, a == Action::PageDown, 10),
        Action::Enter => {
            if let Some(e) = app.entries.get(app.entry) {
                let t = e.target.clone();
                open(app, t);
            }
        }
        _ => {}
    }
}

/// Opens a scenario, a run folder, a shadow folder or a trace, reading it in the background.
pub fn open(app: &mut App, target: Target) {
    if let Some(h) = app.jobs.open.take() {
        h.cancel();
    }
    let id = app.jobs.id();
    let tx = app.tx.clone();
    let (label, handle) = match target {
        Target::Scenario(name) => (
            format!("loading {name}"),
            worker::spawn_job(id, tx, move |_| {
                let result = twin_inputs::load(&name).map(Arc::new).map_err(|e| {
                    let mut lines = vec![format!("{name} cannot be opened:")];
                    lines.extend(e.to_string().lines().map(str::to_string));
                    lines
                });
                Some(Message::ScenarioLoaded { id, result })
            }),
        ),
        Target::RunDir(dir) => (
            format!("reading {}", dir.display()),
            worker::spawn_job(id, tx, move |_| {
                Some(Message::ResultsOpened { id, result: crate::results::ResultsScreen::open(&dir).map(Box::new) })
            }),
        ),
        Target::ShadowDir(dir) => (
            format!("reading {}", dir.display()),
            worker::spawn_job(id, tx, move |_| {
                Some(Message::ShadowOpened { id, result: crate::shadow::ShadowScreen::open(&dir).map(Box::new) })
            }),
        ),
        Target::Trace(path) => (
            format!("reading {}", path.display()),
            worker::spawn_job(id, tx, move |_| {
                let result = crate::telemetry::TelemetryScreen::open(&path, 0.0).map(|mut t| {
                    // Idle time priced at the catalogue's list price of the GPU model, when it is known.
                    t.price_from_catalogue();
                    Box::new(t)
                });
                Some(Message::TelemetryOpened { id, result })
            }),
        ),
    };
    app.busy = Some(Busy { label, done: None });
    app.jobs.open = Some(handle);
}

/// A scenario was loaded: the Run screen starts it, What-if and Compare
/// take it as their base.
fn start_scenario(app: &mut App, loaded: Arc<Loaded>) {
    if loaded.pod_trace.is_some() {
        app.error = Some(vec![
            format!("{} is a pod-trace experiment (the scheduler's fill test), not a timed run.", loaded.scenario.spec.name),
            "Run it with `twin run`; the TUI watches timed runs.".into(),
        ]);
        return;
    }
    app.notes = loaded.notes.clone();
    app.whatif = Default::default();
    app.whatif.model = Some(WhatIf::new(&loaded));
    app.compare = Default::default();
    app.compare.choices = Variant::choices(&loaded, &app.scenario_names());
    // B starts as the first variant that differs from the scenario as written.
    let own = crate::whatif::builtin_profile(&loaded.scenario.spec).unwrap_or("").to_string();
    app.compare.b = app
        .compare
        .choices
        .iter()
        .position(|v| match v {
            Variant::Profile(p) => *p != own,
            Variant::WithoutPolicies => true,
            _ => false,
        })
        .unwrap_or(0);
    app.scenario = Some(loaded);
    app.tab = Tab::Run;
    start_live(app);
}

fn start_live(app: &mut App) {
    let Some(loaded) = app.scenario.clone() else { return };
    if let Some(h) = app.jobs.live.take() {
        h.cancel();
    }
    let id = app.jobs.id();
    let seed = loaded.scenario.spec.seed;
    let req = RunRequest { loaded, seed, factory: app.factory.clone() };
    let h = worker::spawn_live(id, req, app.speed, app.tx.clone());
    if app.paused {
        h.send(Control::Pause(true));
    }
    app.jobs.live = Some(h);
    app.live = None;
    app.run_view = Default::default();
}

fn run(app: &mut App, a: Action) {
    if let Some((lines, scroll)) = app.run_view.story.as_mut() {
        match a {
            Action::Up => *scroll = scroll.saturating_sub(1),
            Action::Down => *scroll = (*scroll + 1).min(lines.len().saturating_sub(1)),
            Action::PageUp => *scroll = scroll.saturating_sub(10),
            Action::PageDown => *scroll = (*scroll + 10).min(lines.len().saturating_sub(1)),
            Action::Cancel | Action::Enter => app.run_view.story = None,
            _ => {}
        }
        return;
    }
    let n = app.live.as_ref().map_or(0, |l| l.log.len());
    match a {
        Action::Faster | Action::Slower => {
            app.speed = app.speed.stepped(a == Action::Faster);
            if let Some(h) = &app.jobs.live {
                h.send(Control::Speed(app.speed));
            }
        }
        Action::Pause => {
            app.paused = !app.paused;
            if let Some(h) = &app.jobs.live {
                h.send(Control::Pause(app.paused));
            }
            if let Some(l) = app.live.as_mut().filter(|l| matches!(l.phase, Phase::Running | Phase::Paused)) {
                l.phase = if app.paused { Phase::Paused } else { Phase::Running };
            }
        }
        Action::Step => {
            if !app.paused {
                app.paused = true;
                if let Some(h) = &app.jobs.live {
                    h.send(Control::Pause(true));
                }
                if let Some(l) = app.live.as_mut().filter(|l| l.phase == Phase::Running) {
                    l.phase = Phase::Paused;
                }
            }
            if let Some(h) = &app.jobs.live {
                h.send(Control::Step);
            }
        }
        Action::Rerun => start_live(app),
        Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
            // Selection counts from the newest line; moving up goes back in time.
            let by = if matches!(a, Action::PageUp | Action::PageDown) { 10 } else { 1 };
            let older = matches!(a, Action::Up | Action::PageUp);
            app.run_view.selected = match (app.run_view.selected, older) {
                (None, true) if n > 0 => Some(0),
                (None, _) => None,
                (Some(s), true) => Some((s + by).min(n.saturating_sub(1))),
                (Some(s), false) => s.checked_sub(by),
            };
        }
        Action::Enter => {
            if let Some(l) = app.live.as_ref() {
                let i = app.run_view.selected.unwrap_or(0);
                if let Some(line) = l.log.len().checked_sub(1 + i).and_then(|j| l.log.get(j)) {
                    app.run_view.story = Some((l.story(line), 0));
                }
            }
        }
        _ => {}
    }
}

/// The finished live run's tables: the run handed its records over as it
/// streamed, so it runs again with them kept (same scenario, same seed:
/// the same run), in the background.
fn results_of_live_run(app: &mut App) {
    let finished = app.live.as_ref().is_some_and(|l| l.phase == Phase::Finished);
    let Some(loaded) = app.scenario.clone().filter(|_| finished) else {
        app.status = "no finished run: run a scenario to the end first".into();
        return;
    };
    let id = app.jobs.id();
    let req = RunRequest { seed: loaded.scenario.spec.seed, loaded, factory: app.factory.clone() };
    let h = worker::spawn_job(id, app.tx.clone(), move |_| {
        let options = twin_sim::RunOptions { record_requests: false, record_ledger: true, record_series: true, record_decisions: true };
        let result = req
            .build(options)
            .and_then(|run| run.finish().map_err(|e| e.to_string()))
            .map(|out| Box::new(crate::results::ResultsScreen::from_output(req.loaded.scenario.spec.name.clone(), &out)));
        Some(Message::ResultsOpened { id, result })
    });
    if let Some(old) = app.jobs.open.replace(h) {
        old.cancel();
    }
    app.busy = Some(Busy { label: "keeping the run's records (running it again, same seed)".into(), done: None });
}

fn compare(app: &mut App, a: Action) {
    let c = &mut app.compare;
    let n = c.choices.len();
    match a {
        Action::Up | Action::Down => c.side = 1 - c.side.min(1),
        Action::Left | Action::Right if n > 0 => {
            let sel = if c.side == 0 { &mut c.a } else { &mut c.b };
            *sel = if a == Action::Right { (*sel + 1) % n } else { (*sel + n - 1) % n };
        }
        Action::Enter | Action::Rerun => {
            let Some(loaded) = app.scenario.clone() else {
                app.status = "open a scenario in the Library first".into();
                return;
            };
            let (va, vb) = (c.choices.get(c.a).cloned(), c.choices.get(c.b).cloned());
            let (Some(va), Some(vb)) = (va, vb) else { return };
            let factory = app.factory.clone();
            let id = app.jobs.id();
            let label = format!("comparing {} with {}", va.label(), vb.label());
            let h = worker::spawn_job(id, app.tx.clone(), move |cancel| {
                let reqs = va.request(&loaded, factory.clone()).and_then(|ra| vb.request(&loaded, factory).map(|rb| (ra, rb)));
                let result = match reqs {
                    Ok((ra, rb)) => crate::compare::run((&va.label(), ra), (&vb.label(), rb), cancel),
                    Err(e) => Err(e),
                };
                match result {
                    Ok(Some(c)) => Some(Message::Compared { id, result: Ok(Box::new(c)) }),
                    Ok(None) => None,
                    Err(e) => Some(Message::Compared { id, result: Err(e) }),
                }
            });
            if let Some(old) = app.jobs.compare.replace(h) {
                old.cancel();
            }
            app.busy = Some(Busy { label, done: None });
        }
        _ => {}
    }
}

fn whatif(app: &mut App, a: Action) {
    let Some(model) = app.whatif.model.as_mut() else {
        if matches!(a, Action::Enter | Action::Rerun | Action::Sweep | Action::Save) {
            app.status = "open a scenario in the Library first".into();
        }
        return;
    };
    match a {
        Action::Up | Action::Down => model.select(a == Action::Down),
        Action::Left | Action::Right | Action::Faster | Action::Slower => {
            let up = matches!(a, Action::Right | Action::Faster);
            if !model.turn(up) {
                app.status =
                    format!("{} does not apply here: {}", model.settings[model.selected].knob.label(), model.settings[model.selected].note);
            }
        }
        Action::Save => {
            let path = model.save_path(&app.cwd);
            match model.save(&path) {
                Ok(()) => {
                    app.status = format!("saved {}", path.display());
                    app.whatif.saved = Some(path);
                }
                Err(e) => app.error = Some(vec!["The what-if cannot be saved:".into(), e]),
            }
        }
        Action::Enter | Action::Rerun => {
            let model = model.clone();
            let base = app.live.as_ref().and_then(|l| l.summary.clone());
            let base_loaded = app.scenario.clone();
            let factory = app.factory.clone();
            let id = app.jobs.id();
            let h = worker::spawn_job(id, app.tx.clone(), move |cancel| {
                let result = (|| {
                    let variant = Arc::new(model.load_variant()?);
                    let seed = variant.scenario.spec.seed;
                    let base = match (base, base_loaded) {
                        (Some(b), _) => Some(*b),
                        (None, Some(l)) => {
                            let req = RunRequest { loaded: l, seed, factory: factory.clone() };
                            worker::run_to_end(&req, cancel)?.map(|x| x.0)
                        }
                        (None, None) => None,
                    };
                    let req = RunRequest { loaded: variant, seed, factory };
                    Ok(worker::run_to_end(&req, cancel)?.map(|(s, _)| WhatIfRun { base, variant: s, changes: model.changes() }))
                })();
                match result {
                    Ok(Some(r)) => Some(Message::WhatIfRan { id, result: Ok(Box::new(r)) }),
                    Ok(None) => None,
                    Err(e) => Some(Message::WhatIfRan { id, result: Err(e) }),
                }
            });
            if let Some(old) = app.jobs.whatif.replace(h) {
                old.cancel();
            }
            app.busy = Some(Busy { label: "running the what-if".into(), done: None });
        }
        Action::Sweep => {
            let Some(loaded) = app.scenario.clone() else { return };
            let (baseline, params) = match model.sweep_params(&loaded) {
                Ok(x) => x,
                Err(e) => {
                    app.error = Some(vec!["This scenario cannot be swept:".into(), e]);
                    return;
                }
            };
            let id = app.jobs.id();
            let tx = app.tx.clone();
            let h = worker::spawn_job(id, app.tx.clone(), move |_| {
                let mut last = 0.0;
                let result = crate::whatif::sweep(&baseline, params, &mut |d| {
                    if d - last >= 0.02 {
                        last = d;
                        let _ = tx.send(Message::SweepProgress { id, done: d });
                    }
                });
                Some(Message::Swept { id, result: result.map(Box::new) })
            });
            if let Some(old) = app.jobs.whatif.replace(h) {
                old.cancel();
            }
            app.busy = Some(Busy { label: format!("sweeping {} replicas", crate::whatif::SWEEP_REPLICAS), done: Some(0.0) });
        }
        _ => {}
    }
}
