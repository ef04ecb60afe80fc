//! Twin's terminal UI: watch a run, compare schedulers, try a what-if,
//! read a trace, follow what `twin shadow` finds.
//!
//! Elm-style, as SimKube's `xray` and gitui are: an [`App`] holds the
//! state, every input is a [`Message`] (a key, a mouse event, a job's
//! report), [`update`] is the one place state changes, and
//! [`view::view`] draws the state and changes nothing. The loop in
//! [`terminal`] is generic over the ratatui backend, so tests drive the
//! real loop on a `TestBackend`.
//!
//! ```text
//!  keys, mouse ──► Message ──► update(&mut App) ──► view(&App, Frame)
//!                     ▲              │
//!                     │              ▼ spawns
//!                  worker threads: live run (twin_sim::Run, stepped),
//!                  comparison, what-if, sweep, file readers
//! ```
//!
//! The simulation streams through `twin_sim::Run`'s stepping API: the
//! worker advances the run, moves out what it recorded
//! (`Run::take_observations`) and sends it as a [`live::Delta`]; the UI
//! folds deltas into bounded [`series::Series`]. `twin-sim` knows nothing
//! of the UI.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod compare;
pub mod keys;
pub mod library;
pub mod live;
mod message;
pub mod results;
pub mod series;
pub mod shadow;
pub mod telemetry;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod view;
pub mod watch;
pub mod whatif;
pub mod worker;

pub use app::{App, Tab};
pub use message::Message;
pub use update::update;

use std::sync::mpsc;

/// How `twin tui` was started.
#[derive(Default)]
pub struct Options {
    /// Scenarios, run folders, shadow folders and traces named on the command line.
    pub args: Vec<String>,
    /// Light theme.
    pub light: bool,
    /// No colours (`NO_COLOR` set, or asked for).
    pub no_color: bool,
    /// Starts external schedulers.
    pub factory: Option<worker::PlacementFactory>,
}

/// Builds the app for `options`: the library, the user's key file (an
/// error in it is shown, and the defaults used), and the first argument
/// opened. Returns the app and the channel its jobs report on.
pub fn app(options: Options) -> (App, mpsc::Receiver<Message>) {
    let (tx, rx) = mpsc::channel();
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let entries = library::entries(&options.args, &cwd);
    let (keys, key_error) = match keys::KeyMap::user_file().filter(|p| p.is_file()) {
        Some(p) => match std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display())) {
            Ok(text) => match keys::KeyMap::from_toml(&text, &p.display().to_string()) {
                Ok(k) => (k, None),
                Err(e) => (keys::KeyMap::default(), Some(e)),
            },
            Err(e) => (keys::KeyMap::default(), Some(e)),
        },
        None => (keys::KeyMap::default(), None),
    };
    let mut app = App::new(entries, theme::Theme::choose(options.light, options.no_color), keys, tx);
    app.factory = options.factory;
    if let Some(e) = key_error {
        app.error = Some(vec!["The key file has a problem; the default keys are in use:".into(), e]);
    }
    if let Some(first) = options.args.first() {
        app.open(library::classify(first));
    }
    (app, rx)
}

/// Runs the TUI in this terminal until the user quits.
pub fn run(options: Options) -> std::io::Result<()> {
    let (mut app, rx) = app(options);
    terminal::run(&mut app, &rx)
}
#[cfg(test)]
mod tests;
