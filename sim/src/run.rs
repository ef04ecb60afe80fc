//! Running a scenario: the engine over a fabric, from time zero to the horizon.

use crate::engine::Simulation;
use crate::fabric::{BuildError, Fabric, InvariantViolation, RunOptions};
use crate::placement::Placement;
use crate::scenario::Scenario;
use crate::time::SimTime;

pub use crate::fabric::RunOutput;

/// Why a run could not produce results.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The scenario could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The run stopped early (an external scheduler crashed, hung or answered
    /// nonsense); nothing it produced should be kept.
    #[error("the run stopped: {0}")]
    Aborted(String),
}

/// One run of a scenario with one seed, advanced in steps the caller chooses.
pub struct Run {
    sim: Simulation<Fabric>,
    horizon: SimTime,
}

impl Run {
    /// Builds the fabric and schedules its first events.
    pub fn new(scenario: &Scenario, seed: u64, options: RunOptions) -> Result<Run, BuildError> {
        Self::from_fabric(Fabric::new(scenario, seed, options)?)
    }

    /// As [`Run::new`], with another placement (the scenario's if `None`) and
    /// policy-as-code at the decision points.
    pub fn with_extensions(
        scenario: &Scenario,
        seed: u64,
        options: RunOptions,
        placement: Option<Box<dyn Placement + Send>>,
        policy: Option<Box<dyn crate::policy::PolicyHook + Send>>,
    ) -> Result<Run, BuildError> {
        let placement = match placement {
            Some(p) => p,
            None => crate::fabric::placement_for(&scenario.spec.scheduler)?,
        };
        let mut fabric = Fabric::with_placement(scenario, seed, options, placement)?;
        if let Some(p) = policy {
            fabric.set_policy(p);
        }
        Self::from_fabric(fabric)
    }

    /// As [`Run::new`], with another placement policy.
    pub fn with_placement(
        scenario: &Scenario,
        seed: u64,
        options: RunOptions,
        placement: Box<dyn Placement + Send>,
    ) -> Result<Run, BuildError> {
        Self::from_fabric(Fabric::with_placement(scenario, seed, options, placement)?)
    }

    fn from_fabric(fabric: Fabric) -> Result<Run, BuildError> {
        let horizon = fabric.horizon();
        let mut sim = Simulation::new(fabric);
        sim.with_context(|f, ctx| f.start(ctx));
        Ok(Run { sim, horizon })
    }

    /// Handles every event before `t` (capped at the horizon).
    pub fn advance_to(&mut self, t: SimTime) {
        let t = t.min(self.horizon);
        // Events at the horizon itself are not part of the run.
        if t == self.horizon {
            if self.horizon > SimTime::ZERO {
                self.sim.run_until(SimTime(self.horizon.as_nanos() - 1));
            }
        } else {
            self.sim.run_until(t);
        }
    }

    /// As [`Run::advance_to`], checking the fabric's invariants after every
    /// event; the error says when (`at start`, `at <time>`) and what broke.
    /// Slow: for tests.
    pub fn advance_checked(&mut self, t: SimTime) -> Result<(), InvariantViolation> {
        let t = t.min(SimTime(self.horizon.as_nanos().saturating_sub(1)));
        self.sim.model().check_invariants().map_err(|e| InvariantViolation(format!("at start: {e}")))?;
        loop {
            let next = self.peek_next();
            match next {
                Some(n) if n <= t => {
                    self.sim.step();
                    let now = self.sim.now();
                    self.sim.model().check_invariants().map_err(|e| InvariantViolation(format!("at {now}: {e}")))?;
                }
                _ => break,
            }
        }
        self.sim.run_until(t);
        Ok(())
    }

    fn peek_next(&mut self) -> Option<SimTime> {
        self.sim.next_event_time()
    }

    /// The simulated time reached.
    pub fn now(&self) -> SimTime {
        self.sim.now()
    }

    /// The run's end.
    pub fn horizon(&self) -> SimTime {
        self.horizon
    }

    /// Share of the horizon simulated, 0 to 1.
    pub fn progress(&self) -> f64 {
        if self.horizon == SimTime::ZERO { 1.0 } else { self.sim.now().as_secs_f64() / self.horizon.as_secs_f64() }
    }

    /// Events handled so far.
    pub fn events_handled(&self) -> u64 {
        self.sim.events_handled()
    }

    /// The fabric, to look at between steps.
    pub fn fabric(&self) -> &Fabric {
        self.sim.model()
    }

    /// Moves out what the run recorded since the last call (samples and
    /// decisions, as its options ask): see [`Fabric::take_observations`].
    pub fn take_observations(&mut self) -> crate::fabric::Observations {
        self.sim.model_mut().take_observations()
    }

    /// The error that stopped the run early, if one did.
    pub fn error(&self) -> Option<&str> {
        self.sim.model().fatal()
    }

    /// Runs to the horizon and returns the summary and records, or the error
    /// that stopped the run.
    pub fn finish(mut self) -> Result<RunOutput, RunError> {
        self.advance_to(self.horizon);
        if let Some(e) = self.error() {
            return Err(RunError::Aborted(e.to_string()));
        }
        let events = self.sim.events_handled();
        Ok(self.sim.into_model().finish(events))
    }
}

/// Runs a scenario from start to end.
pub fn run(scenario: &Scenario, seed: u64, options: RunOptions) -> Result<RunOutput, RunError> {
    Run::new(scenario, seed, options)?.finish()
}
