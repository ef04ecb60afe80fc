//! Everything that can happen to the app: the closed set of messages
//! [`crate::update`] handles.

use crate::compare::Comparison;
use crate::live::{Delta, RunInfo};
use crate::results::ResultsScreen;
use crate::shadow::ShadowScreen;
use crate::telemetry::TelemetryScreen;
use crate::whatif::{SweepOutcome, WhatIfRun};
use ratatui::crossterm::event::{KeyEvent, MouseEvent};
use std::sync::Arc;
use twin_inputs::Loaded;
use twin_sim::metrics::Summary;

/// A message to the app.
#[derive(Debug)]
pub enum Message {
    /// A key was pressed.
    Key(KeyEvent),
    /// The mouse did something.
    Mouse(MouseEvent),
    /// The terminal is now this size (columns, rows).
    Resize(u16, u16),
    /// A signal (SIGTERM, SIGHUP) asks the app to end.
    Terminate,
    /// A second passed: screens that follow files read what was appended.
    Tick,
    /// A scenario was loaded (or failed to: its located problems).
    ScenarioLoaded {
        /// The job.
        id: u64,
        /// The scenario, or the problems, one per line.
        result: Result<Arc<Loaded>, Vec<String>>,
    },
    /// A live run was built and starts.
    RunStarted {
        /// The job.
        id: u64,
        /// Its names and SLOs.
        info: Box<RunInfo>,
    },
    /// A live run took a step.
    RunProgress {
        /// The job.
        id: u64,
        /// What it recorded.
        delta: Box<Delta>,
    },
    /// A live run reached its horizon.
    RunFinished {
        /// The job.
        id: u64,
        /// Its summary.
        summary: Box<Summary>,
    },
    /// A live run could not go on.
    RunFailed {
        /// The job.
        id: u64,
        /// Why.
        error: String,
    },
    /// Both variants of a comparison ran.
    Compared {
        /// The job.
        id: u64,
        /// The comparison, or why not.
        result: Result<Box<Comparison>, String>,
    },
    /// A what-if's re-run finished.
    WhatIfRan {
        /// The job.
        id: u64,
        /// The summaries, or why not.
        result: Result<Box<WhatIfRun>, String>,
    },
    /// A what-if's sweep made progress (share done, 0 to 1).
    SweepProgress {
        /// The job.
        id: u64,
        /// Share done.
        done: f64,
    },
    /// A what-if's sweep finished.
    Swept {
        /// The job.
        id: u64,
        /// The distribution, or why not.
        result: Result<Box<SweepOutcome>, String>,
    },
    /// A run folder was read.
    ResultsOpened {
        /// The job.
        id: u64,
        /// The screen, or why not.
        result: Result<Box<ResultsScreen>, String>,
    },
    /// A telemetry file was read.
    TelemetryOpened {
        /// The job.
        id: u64,
        /// The screen, or why not.
        result: Result<Box<TelemetryScreen>, String>,
    },
    /// A `twin shadow` folder was read.
    ShadowOpened {
        /// The job.
        id: u64,
        /// The screen, or why not.
        result: Result<Box<ShadowScreen>, String>,
    },
}
