//! Twin's model.
#![warn(missing_docs)]

pub mod catalogue;
pub mod engine;
pub mod market;
pub mod rng;
pub mod scenario;
pub mod time;
