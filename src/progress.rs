//! A progress bar for runs that take more than a second, on a terminal only.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Shows progress once a run has taken a second; hidden when stderr is not a terminal.
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: bool,
    enabled: bool,
}

impl Progress {
    /// A hidden bar that may appear later.
    pub fn new(label: &str) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(1_000), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {percent:>3}% simulated · {elapsed} · eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        Progress { bar, started: Instant::now(), shown: false, enabled: std::io::stderr().is_terminal() }
    }

    /// Updates the share done, 0 to 1.
    pub fn set(&mut self, fraction: f64) {
        if self.enabled && !self.shown && self.started.elapsed() > Duration::from_secs(1) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
        self.bar.set_position((fraction.clamp(0.0, 1.0) * 1_000.0) as u64);
    }

    /// Removes the bar.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
