//! The checker every part of the scenario is checked with: where problems are collected, and the checks many fields share.

use super::MAX_COUNT;
use super::Problem;
use crate::catalogue::Catalogue;
use crate::scenario::duration::Dur;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::time::SimDuration;

pub(super) struct Checker<'a> {
    pub(super) catalogue: &'a Catalogue,
    pub(super) problems: Vec<Problem>,
}

impl Checker<'_> {
    pub(super) fn report(&mut self, kind: ErrorKind, path: FieldPath, message: impl Into<String>, hint: impl Into<Option<String>>) {
        self.problems.push(Problem { kind, path, message: message.into(), hint: hint.into() });
    }

    pub(super) fn non_negative(&mut self, path: FieldPath, what: &str, v: f64) {
        if !(v >= 0.0) || !v.is_finite() {
            self.report(ErrorKind::InvalidValue, path, format!("{what} must be a finite number ≥ 0, not {v}"), None);
        }
    }

    pub(super) fn positive(&mut self, path: FieldPath, what: &str, v: f64) {
        if !(v > 0.0) || !v.is_finite() {
            self.report(ErrorKind::InvalidValue, path, format!("{what} must be a finite number > 0, not {v}"), None);
        }
    }

    pub(super) fn fraction(&mut self, path: FieldPath, what: &str, v: f64, zero_ok: bool) {
        let ok = if zero_ok { (0.0..=1.0).contains(&v) } else { v > 0.0 && v <= 1.0 };
        if !ok {
            let range = if zero_ok { "between 0 and 1" } else { "above 0 and at most 1" };
            self.report(ErrorKind::InvalidValue, path, format!("{what} must be {range}, not {v}"), None);
        }
    }

    /// Rejects a duration shorter than `min`: such settings would make the
    /// simulation spin on one instant without learning anything.
    pub(super) fn at_least(&mut self, path: FieldPath, what: &str, d: Dur, min: SimDuration) {
        if d.get() < min {
            self.report(
                ErrorKind::InvalidValue,
                path,
                format!("{what} of {} is shorter than the shortest Twin accepts, {min}", d.get()),
                None,
            );
        }
    }

    /// Rejects a value above a sanity limit.
    pub(super) fn at_most(&mut self, path: FieldPath, what: &str, v: f64, max: f64) {
        if v > max {
            self.report(ErrorKind::InvalidValue, path, format!("{what} of {v} is above Twin's limit of {max}"), Some(LIMITS_HINT.into()));
        }
    }

    pub(super) fn count_at_most(&mut self, path: FieldPath, what: &str, v: u32) {
        if v > MAX_COUNT {
            self.report(
                ErrorKind::InvalidValue,
                path,
                format!("{what} of {v} is above Twin's limit of {MAX_COUNT}"),
                Some(LIMITS_HINT.into()),
            );
        }
    }
}

pub(super) const LIMITS_HINT: &str = "Twin simulates each request, node and job; see the limits in docs/scenario-format.md";

pub(super) fn known<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    format!("known: {}", v.join(", "))
}
