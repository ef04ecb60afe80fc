//! A run watched as the Run screen watches it, without a terminal: the
//! worker at a speed, every message through `update`, and a frame drawn on
//! a `TestBackend` whenever the terminal loop would draw one (something
//! changed and 33 ms passed). `twin bench --only tui` and the criterion
//! benchmark time it against the same run headless.

use crate::app::App;
use crate::keys::KeyMap;
use crate::live::Phase;
use crate::theme::Theme;
use crate::worker::{RunRequest, Speed, spawn_live};
use crate::{Tab, update};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What watching a run came to.
#[derive(Clone, Debug, PartialEq)]
pub struct Watched {
    /// The run's total cost (to check it equals the headless run's).
    pub cost: f64,
    /// Events handled.
    pub events: u64,
    /// Frames drawn.
    pub frames: u64,
}

/// Watches `req` to its end at `speed` on a `width`×`height` screen.
pub fn watch(req: RunRequest, speed: Speed, width: u16, height: u16) -> Result<Watched, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut app = App::new(Vec::new(), Theme::choose(false, false), KeyMap::default(), tx.clone());
    app.tab = Tab::Run;
    app.scenario = Some(Arc::clone(&req.loaded));
    let id = app.jobs.id();
    app.jobs.live = Some(spawn_live(id, req, speed, tx));
    let mut terminal = Terminal::new(TestBackend::new(width, height)).map_err(|e| e.to_string())?;
    let frame = Duration::from_millis(33);
    let mut last = Instant::now() - frame;
    let mut frames = 0;
    loop {
        let first = rx.recv().map_err(|_| "the run stopped without a word".to_string())?;
        update(&mut app, first);
        while let Ok(m) = rx.try_recv() {
            update(&mut app, m);
        }
        let done = app.live.as_ref().is_some_and(|l| matches!(l.phase, Phase::Finished | Phase::Failed(_)));
        if last.elapsed() >= frame || done {
            terminal.draw(|f| crate::view::view(&app, f)).map_err(|e| e.to_string())?;
            last = Instant::now();
            frames += 1;
        }
        if let Some(l) = app.live.as_ref() {
            match (&l.phase, &l.summary) {
                (Phase::Finished, Some(s)) => return Ok(Watched { cost: s.cost.total, events: s.events, frames }),
                (Phase::Failed(e), _) => return Err(e.clone()),
                _ => {}
            }
        }
    }
}
