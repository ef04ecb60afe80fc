//! Clocks: how simulated time relates to the wall clock.
//!
//! The engine asks its clock to reach each event's time before handling it.
//! [`AsFastAsPossible`] returns at once, which is what batch runs, sweeps and
//! tests use. A clock paced to the wall clock (for shadow mode) reads real
//! time, so it lives outside this crate and implements [`Clock`] there.

use crate::time::SimTime;

/// Decides when the engine may handle an event due at a simulated time.
pub trait Clock {
    /// Blocks (or not) until simulated time `t` may be entered.
    fn advance_to(&mut self, t: SimTime);
}

/// A clock that never waits: the run goes as fast as the CPU allows.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsFastAsPossible;

impl Clock for AsFastAsPossible {
    #[inline]
    fn advance_to(&mut self, _t: SimTime) {}
}
