//! The checker every part of a scenario is checked with: where problems are
//! collected, and the checks many fields share.

use super::{MAX_COUNT, Problem};
use crate::catalogue::Catalogue;
use crate::scenario::duration::Dur;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::time::SimDuration;

/// Collects the problems of one scenario, checked against its catalogue.
pub(super) struct Checker<'a> {
    /// The built-in catalogue merged with the scenario's own entries.
    pub(super) catalogue: &'a Catalogue,
    /// What was found so far, in the order of the checks.
    pub(super) problems: Vec<Problem>,
}

/// The hint of a value above one of Twin's limits.
const LIMITS_HINT: &str = "Twin simulates each request, node and job; see the limits in docs/scenario-format.md";

impl Checker<'_> {
    /// Records a problem.
    pub(super) fn report(&mut self, kind: ErrorKind, path: FieldPath, message: impl Into<String>, hint: impl Into<Option<String>>) {
        self.problems.push(Problem { kind, path, message: message.into(), hint: hint.into() });
    }

    /// Rejects a negative, NaN or infinite number.
    pub(super) fn non_negative(&mut self, path: FieldPath, what: &str, v: f64) {
        if !(v >= 0.0) || !v.is_finite() {
            self.report(ErrorKind::InvalidValue, path, format!("{what} must be a finite number ≥ 0, not {v}"), None);
        }
    }

    /// Rejects a number that is not finite and above zero.
    pub(super) fn positive(&mut self, path: FieldPath, what: &str, v: f64) {
        if !(v > 0.0) || !v.is_finite() {
            self.report(ErrorKind::InvalidValue, path, format!("{what} must be a finite number > 0, not {v}"), None);
        }
    }

    /// Rejects a share outside `(0, 1]`, or `[0, 1]` when `zero_ok`.
    pub(super) fn fraction(&mut self, path: FieldPath, what: &str, v: f64, zero_ok: bool) {
        let ok = if zero_ok { (0.0..=1.0).contains(&v) } else { v > 0.0 && v <= 1.0 };
        if !ok {
            let range = if zero_ok { "between 0 and 1" } else { "above 0 and at most 1" };
            self.report(ErrorKind::InvalidValue, path, format!("{what} must be {range}, not {v}"), None);
        }
    }

    /// Rejects a count of zero: `what` must be at least 1.
    pub(super) fn at_least_one(&mut self, path: FieldPath, what: &str, v: u32) {
        if v == 0 {
            self.report(ErrorKind::InvalidValue, path, format!("{what} must be at least 1"), None);
        }
    }

    /// Rejects a negative, NaN or infinite `noun` (`"rate"`, `"price"`),
    /// with `hint` saying what it is counted in. True when it is valid.
    pub(super) fn amount(&mut self, path: FieldPath, noun: &str, v: f64, hint: &str) -> bool {
        let valid = v >= 0.0 && v.is_finite();
        if !valid {
            self.report(ErrorKind::InvalidValue, path, format!("negative or invalid {noun} {v}"), Some(hint.into()));
        }
        valid
    }

    /// Rejects an invalid rate (see [`Checker::amount`]) or one above `max`.
    pub(super) fn rate(&mut self, path: FieldPath, what: &str, v: f64, max: f64, hint: &str) {
        if self.amount(path.clone(), "rate", v, hint) {
            self.at_most(path, what, v, max);
        }
    }

    /// Rejects a power usage effectiveness below 1 (or NaN).
    pub(super) fn pue(&mut self, path: FieldPath, v: f64) {
        if !(v >= 1.0) {
            self.report(
                ErrorKind::InvalidValue,
                path,
                format!("PUE must be at least 1, not {v}"),
                Some("a PUE of 1.1 to 1.6 is typical".into()),
            );
        }
    }

    /// Rejects an empty file name: the scenario names no `what`.
    pub(super) fn file(&mut self, path: FieldPath, what: &str, file: &str) {
        if file.trim().is_empty() {
            self.report(
                ErrorKind::InvalidValue,
                path,
                format!("no {what} named"),
                Some("give the file's path, relative to the scenario file".into()),
            );
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

    /// Rejects a count above [`MAX_COUNT`].
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

    /// Reports `name`, a `what` (`"model"`, `"node type"`) that is not among
    /// `names`; `or` ends the hint (such as `", or define it under [[models]]"`).
    pub(super) fn unknown<'n>(&mut self, path: FieldPath, what: &str, name: &str, names: impl Iterator<Item = &'n str>, or: &str) {
        self.report(ErrorKind::UnknownReference, path, format!("unknown {what} `{name}`"), Some(known(names) + or));
    }

    /// Reports an accelerator the catalogue does not have; true when it has it.
    pub(super) fn accelerator(&mut self, path: FieldPath, name: &str) -> bool {
        let catalogue = self.catalogue;
        let found = catalogue.accelerator(name).is_some();
        if !found {
            self.unknown(path, "accelerator", name, catalogue.accelerators.iter().map(|a| a.name.as_str()), "");
        }
        found
    }

    /// Checks a table of change points at `path` (`points`, each `(at,
    /// value)` holding until the next, and `repeat_every`): not empty, the
    /// first at zero, in increasing time, repeating after the last. `value`
    /// checks each point's value, given the point's path. `what` names the
    /// value (`"rate"`, `"price"`) and `example` is a point as written.
    pub(super) fn steps(
        &mut self,
        path: &FieldPath,
        (what, example): (&str, &str),
        points: &[(Dur, f64)],
        repeat_every: Option<Dur>,
        value: impl Fn(&mut Self, FieldPath, f64),
    ) {
        let pp = path.key("points");
        if points.is_empty() {
            self.report(
                ErrorKind::InvalidValue,
                pp.clone(),
                format!("the {what} table is empty"),
                Some(format!("add points such as `{example}`")),
            );
        }
        if points.first().is_some_and(|(at, _)| !at.get().is_zero()) {
            self.report(ErrorKind::InvalidValue, pp.index(0).key("at"), format!("the first {what} point must be at \"0s\""), None);
        }
        for (i, &(at, v)) in points.iter().enumerate() {
            value(self, pp.index(i), v);
            if i > 0 && at <= points[i - 1].0 {
                self.report(ErrorKind::InvalidValue, pp.index(i).key("at"), format!("{what} points must be in increasing time"), None);
            }
        }
        if let (Some(r), Some((last, _))) = (repeat_every, points.last())
            && r <= *last
        {
            self.report(
                ErrorKind::InvalidValue,
                path.key("repeat_every"),
                "the repeat period must be longer than the last point's time",
                None,
            );
        }
    }
}

/// `known: a, b, c`: the names a reference may use.
pub(super) fn known<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    format!("known: {}", v.join(", "))
}
