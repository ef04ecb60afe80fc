//! Running a scenario: the engine over a fabric, from time zero to the horizon.

use crate::engine::Simulation;
use crate::fabric::{BuildError, Fabric, InvariantViolation, RunOptions};
use crate::metrics::Records;
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
    /// Names handed out by [`Run::take_records`]: services, pools, workloads.
    names_held: (usize, usize, usize),
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
        Ok(Run { sim, horizon, names_held: (0, 0, 0) })
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

    /// Moves out every record that is final so far (requests that ended,
    /// samples, decisions, ledger lines of closed charge periods): see
    /// [`Fabric::take_records`]. A front end that writes a long run calls it
    /// between steps, so that memory is bounded by what one step records,
    /// not by the horizon.
    ///
    /// Its name lists hold only the names added since the last call (the
    /// first call: every name so far); rows refer to names by their index
    /// from the start of the run, so a reader appends each call's names to
    /// those it holds ([`crate::metrics::Records::append`]). Every part
    /// appended in turn, then the rows [`Run::finish`] returns, are exactly
    /// the records of a run that hands out nothing, table by table and in
    /// order; [`Run::finish`] still returns every name.
    pub fn take_records(&mut self) -> Records {
        let (s, p, w) = self.names_held;
        let fabric = self.sim.model_mut();
        let mut part = fabric.names_from(s, p, w);
        self.names_held = (s + part.services.len(), p + part.pools.len(), w + part.workloads.len());
        let rows = fabric.take_records();
        part.append(rows);
        part
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Records;
    use proptest::prelude::*;

    /// The mixed fleet (spot, failures, autoscaling, a training stream whose
    /// jobs are workloads added mid-run), cut to two hours with half-hour
    /// charge periods.
    fn scenario() -> Scenario {
        let text = include_str!("../../scenarios/mixed-fleet.toml");
        let mut cut = text.to_string();
        for (from, to) in [
            ("horizon = \"3d\"", "horizon = \"2h\""),
            ("ledger_period = \"6h\"", "ledger_period = \"30m\""),
            ("jobs_per_hour = 0.4", "jobs_per_hour = 6"),
        ] {
            assert!(cut.contains(from), "mixed-fleet.toml no longer says {from}");
            cut = cut.replace(from, to);
        }
        Scenario::from_toml(&cut, "mixed-fleet.toml").unwrap()
    }

    /// The scenario's run with seed 7, handing out nothing.
    fn whole() -> &'static RunOutput {
        static WHOLE: std::sync::OnceLock<RunOutput> = std::sync::OnceLock::new();
        WHOLE.get_or_init(|| run(&scenario(), 7, RunOptions::default()).unwrap())
    }

    /// A run handed out at each of `cuts` (ns, ascending): every part
    /// appended, then what `finish` returned beyond the names already held;
    /// with the number of parts that held rows, and the output.
    fn drained(sc: &Scenario, cuts: &[u64]) -> (Records, usize, RunOutput) {
        let mut run = Run::new(sc, 7, RunOptions::default()).unwrap();
        let mut got = Records::default();
        let mut parts = 0;
        for &t in cuts {
            run.advance_to(SimTime(t));
            let part = run.take_records();
            parts += usize::from(part.rows() > 0);
            got.append(part);
        }
        let out = run.finish().unwrap();
        let mut rest = out.records.clone();
        assert_eq!(rest.services[..got.services.len()], got.services[..]);
        assert_eq!(rest.pools[..got.pools.len()], got.pools[..]);
        assert_eq!(rest.workloads[..got.workloads.len()], got.workloads[..]);
        rest.services.drain(..got.services.len());
        rest.pools.drain(..got.pools.len());
        rest.workloads.drain(..got.workloads.len());
        got.append(rest);
        (got, parts, out)
    }

    #[test]
    fn parts_handed_out_then_the_end_are_the_whole_run_at_any_cadence() {
        let sc = scenario();
        let whole = whole();
        let r = &whole.records;
        assert!(r.requests.len() > 1_000 && !r.decisions.is_empty() && !r.pool_series.is_empty() && !r.jobs.is_empty());
        let horizon = whole.summary.horizon_s as u64 * 1_000_000_000;
        let period = 30 * 60 * 1_000_000_000;
        for steps in [1u64, 3, 7, 50, 500] {
            let cuts: Vec<u64> = (1..=steps).map(|i| horizon * i / steps).collect();
            let (got, parts, out) = drained(&sc, &cuts);
            assert_eq!(got, whole.records, "{steps} steps");
            assert_eq!(out.summary, whole.summary, "{steps} steps");
            assert!(parts >= steps.min(4) as usize, "{steps} steps: only {parts} parts held rows");
        }
        // Ledger lines of closed periods and workloads added mid-run come out
        // before the end.
        let mut run = Run::new(&sc, 7, RunOptions::default()).unwrap();
        run.advance_to(SimTime(horizon - period / 2));
        let part = run.take_records();
        assert!(!part.ledger.is_empty() && part.ledger.iter().all(|l| l.period_end.as_nanos() < horizon));
        let later = {
            run.advance_to(SimTime(horizon));
            run.take_records()
        };
        assert!(later.services.is_empty() && later.pools.is_empty());
        assert!(part.workloads.len() + later.workloads.len() <= whole.records.workloads.len());
        assert!(part.workloads.len() > sc.spec.services.len(), "no stream job started before the cut");
    }

    #[test]
    fn a_run_that_records_nothing_hands_out_nothing() {
        let sc = scenario();
        let mut run = Run::new(&sc, 7, RunOptions::summary_only()).unwrap();
        run.advance_to(SimTime(3_600_000_000_000));
        let part = run.take_records();
        assert_eq!(part.rows(), 0);
        assert_eq!(part.services.len(), sc.spec.services.len());
        assert!(run.take_records().services.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

        #[test]
        fn any_drain_times_give_the_whole_run(mut cuts in proptest::collection::vec(0u64..8_000_000_000_000, 0..12)) {
            let sc = scenario();
            cuts.sort_unstable();
            let (got, _, out) = drained(&sc, &cuts);
            prop_assert_eq!(&got, &whole().records);
            prop_assert_eq!(&out.summary, &whole().summary);
        }
    }
}
