//! Kubernetes' own wire-format goldens, and arbitrary input through decode and decide.

mod fuzz;
mod golden;
