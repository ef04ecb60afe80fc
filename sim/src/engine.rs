//! The discrete-event engine, independent of what is simulated.
//!
//! A [`Simulation`] owns a [`Model`], an [`EventQueue`] and a [`Clock`]. Each
//! [`Simulation::step`] pops the earliest event, lets the clock reach its time
//! and hands it to [`Model::handle`], which may schedule or cancel events
//! through its [`Context`]. Ordering is by (time, insertion sequence), so the
//! run is a pure function of the model's initial state.

mod clock;
mod queue;
mod simulation;

pub use clock::{AsFastAsPossible, Clock};
pub use queue::{EventKey, EventQueue};
pub use simulation::{Context, Model, Simulation, Stop};
