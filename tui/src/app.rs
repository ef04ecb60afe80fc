//! The app's state: which screen is up, what each screen holds, and the
//! work going on in the background.

use crate::Message;
use crate::compare::{Comparison, Variant};
use crate::keys::KeyMap;
use crate::library::{Entry, Target};
use crate::live::Live;
use crate::results::ResultsScreen;
use crate::shadow::ShadowScreen;
use crate::telemetry::TelemetryScreen;
use crate::theme::Theme;
use crate::whatif::{SweepOutcome, WhatIf, WhatIfRun};
use crate::worker::{Handle, PlacementFactory, Speed};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use twin_inputs::Loaded;

/// The screens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    /// Scenarios to open.
    Library,
    /// A live run.
    Run,
    /// A finished run's charts and tables.
    Results,
    /// Two variants side by side.
    Compare,
    /// Knobs, a re-run, a sweep.
    WhatIf,
    /// What `twin shadow` found: divergences from the real fleet.
    Shadow,
    /// A telemetry trace.
    Telemetry,
}

impl Tab {
    /// Every screen, in tab order.
    pub const ALL: [Tab; 7] = [Tab::Library, Tab::Run, Tab::Results, Tab::Compare, Tab::WhatIf, Tab::Shadow, Tab::Telemetry];

    /// Its title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Library => "Library",
            Tab::Run => "Run",
            Tab::Results => "Results",
            Tab::Compare => "Compare",
            Tab::WhatIf => "What-if",
            Tab::Shadow => "Shadow",
            Tab::Telemetry => "Telemetry",
        }
    }

    /// Its position.
    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// Work in the background, as the status line shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Busy {
    /// What is being done.
    pub label: String,
    /// Share done, when known.
    pub done: Option<f64>,
}

/// The Run screen's state beside the live run itself.
#[derive(Clone, Debug, Default)]
pub struct RunView {
    /// The selected log line (from the newest, 0 = newest), or none to follow.
    pub selected: Option<usize>,
    /// The story open over the log, with its scroll.
    pub story: Option<(Vec<String>, usize)>,
}

/// The Compare screen's state.
#[derive(Clone, Debug, Default)]
pub struct CompareView {
    /// What each side may be.
    pub choices: Vec<Variant>,
    /// A's choice.
    pub a: usize,
    /// B's choice.
    pub b: usize,
    /// The side being chosen: 0 for A, 1 for B.
    pub side: usize,
    /// The last comparison.
    pub result: Option<Box<Comparison>>,
}

/// The What-if screen's state.
#[derive(Clone, Debug, Default)]
pub struct WhatIfView {
    /// The knobs (none until a scenario is open).
    pub model: Option<WhatIf>,
    /// The last re-run.
    pub run: Option<Box<WhatIfRun>>,
    /// The last sweep.
    pub sweep: Option<Box<SweepOutcome>>,
    /// Where the variant was saved.
    pub saved: Option<PathBuf>,
}

/// The jobs in the background, one of each kind at most.
#[derive(Debug, Default)]
pub struct Jobs {
    /// The id the next job gets.
    pub next_id: u64,
    /// Loading a scenario, a run folder, a shadow folder or a trace.
    pub open: Option<Handle>,
    /// The live run.
    pub live: Option<Handle>,
    /// A comparison.
    pub compare: Option<Handle>,
    /// A what-if re-run or sweep.
    pub whatif: Option<Handle>,
}

impl Jobs {
    /// A fresh id.
    pub fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Whether `id` is the current job of `slot`.
    pub fn is(slot: &Option<Handle>, id: u64) -> bool {
        slot.as_ref().is_some_and(|h| h.id == id)
    }
}

/// Everything the UI holds.
pub struct App {
    /// The screen up.
    pub tab: Tab,
    /// Colours.
    pub theme: Theme,
    /// Keys.
    pub keys: KeyMap,
    /// The help overlay is up.
    pub help: bool,
    /// The app should end.
    pub quit: bool,
    /// The Library's entries.
    pub entries: Vec<Entry>,
    /// The selected entry.
    pub entry: usize,
    /// The scenario open.
    pub scenario: Option<Arc<Loaded>>,
    /// Notes the loader made about it.
    pub notes: Vec<String>,
    /// The live run.
    pub live: Option<Live>,
    /// How fast the live run goes.
    pub speed: Speed,
    /// The live run is paused.
    pub paused: bool,
    /// The Run screen's selection and story.
    pub run_view: RunView,
    /// The Results screen.
    pub results: Option<Box<ResultsScreen>>,
    /// The Compare screen.
    pub compare: CompareView,
    /// The What-if screen.
    pub whatif: WhatIfView,
    /// The Telemetry screen.
    pub telemetry: Option<Box<TelemetryScreen>>,
    /// The Shadow screen.
    pub shadow: Option<Box<ShadowScreen>>,
    /// An error to show over the screen (its lines), until a key is pressed.
    pub error: Option<Vec<String>>,
    /// A passing message for the status line.
    pub status: String,
    /// The work in the background, for the status line.
    pub busy: Option<Busy>,
    /// The background jobs.
    pub jobs: Jobs,
    /// Where jobs send their messages.
    pub tx: Sender<Message>,
    /// Starts external schedulers (the `twin` binary's).
    pub factory: Option<PlacementFactory>,
    /// The folder what-ifs are saved in when the scenario is built in.
    pub cwd: PathBuf,
}

impl App {
    /// An app on `entries`, sending jobs' messages to `tx`.
    pub fn new(entries: Vec<Entry>, theme: Theme, keys: KeyMap, tx: Sender<Message>) -> App {
        App {
            tab: Tab::Library,
            theme,
            keys,
            help: false,
            quit: false,
            entries,
            entry: 0,
            scenario: None,
            notes: Vec::new(),
            live: None,
            speed: Speed::Max,
            paused: false,
            run_view: RunView::default(),
            results: None,
            compare: CompareView::default(),
            whatif: WhatIfView::default(),
            telemetry: None,
            shadow: None,
            error: None,
            status: String::new(),
            busy: None,
            jobs: Jobs::default(),
            tx,
            factory: None,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }

    /// Opens what an entry names (in the background).
    pub fn open(&mut self, target: Target) {
        crate::update::open(self, target);
    }

    /// The names Compare offers as other scenarios: the library's.
    pub fn scenario_names(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|e| match &e.target {
                Target::Scenario(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }
}
