//! The terminal loop: events in, messages to `update`, frames out.
//!
//! [`drive`] is generic over the ratatui backend and over where events
//! come from, so tests run the very loop the terminal runs on a
//! `TestBackend`. [`run`] wraps it for a real terminal: the alternate
//! screen, raw mode and mouse capture on the way in, and restored on the
//! way out, on a panic (ratatui's hook) and on SIGTERM or SIGHUP.

use crate::Message;
use crate::app::App;
use crate::update::update;
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use ratatui::crossterm::execute;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Frames at most this often while work streams in.
const FRAME: Duration = Duration::from_millis(33);
/// How often [`Message::Tick`] is sent (screens that follow a file re-read it).
pub const TICK: Duration = Duration::from_secs(1);

/// Where terminal events come from.
pub trait Events {
    /// The next event within `timeout`, if any.
    fn next(&mut self, timeout: Duration) -> std::io::Result<Option<Event>>;
}

/// crossterm's event queue.
pub struct Crossterm;

impl Events for Crossterm {
    fn next(&mut self, timeout: Duration) -> std::io::Result<Option<Event>> {
        if event::poll(timeout)? { event::read().map(Some) } else { Ok(None) }
    }
}

fn message(e: Event) -> Option<Message> {
    match e {
        Event::Key(k) => Some(Message::Key(k)),
        Event::Mouse(m) => Some(Message::Mouse(m)),
        Event::Resize(w, h) => Some(Message::Resize(w, h)),
        _ => None,
    }
}

/// Runs the app until it quits: draws when something changed (at most one
/// frame per 33 ms), hands terminal events, the jobs' messages and a
/// [`Message::Tick`] each [`TICK`] to `update`, and ends when `stop` is set
/// (a signal) or the app quits.
pub fn drive<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &mut impl Events,
    jobs: &Receiver<Message>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    let mut last_tick = Instant::now();
    while !app.quit {
        if stop.load(Ordering::Relaxed) {
            update(app, Message::Terminate);
            break;
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            update(app, Message::Tick);
            // Only the Shadow screen follows a file so far.
            dirty |= app.shadow.is_some();
        }
        // Everything the jobs said since the last turn, at once.
        while let Ok(m) = jobs.try_recv() {
            update(app, m);
            dirty = true;
        }
        if dirty && last_draw.elapsed() >= FRAME {
            terminal.draw(|f| crate::view::view(app, f)).map_err(|e| std::io::Error::other(e.to_string()))?;
            last_draw = Instant::now();
            dirty = false;
        }
        let wait = if dirty { FRAME.saturating_sub(last_draw.elapsed()) } else { Duration::from_millis(50) };
        if let Some(e) = events.next(wait)?
            && let Some(m) = message(e)
        {
            update(app, m);
            dirty = true;
        }
    }
    Ok(())
}

/// Runs the app in the terminal, restoring it however the app ends.
pub fn run(app: &mut App, jobs: &Receiver<Message>) -> std::io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    // ratatui::init enters the alternate screen and raw mode and installs a
    // panic hook that restores the terminal before the panic is printed.
    let mut terminal = ratatui::init();
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    let result = drive(&mut terminal, app, &mut Crossterm, jobs, &stop);
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}
