//! Serde defaults shared by the tables that also have required fields (the
//! tables whose every field has a default use `#[serde(default)]` and their
//! `Default` instead). Each value is written once, in the attribute that
//! uses it: `#[serde(default = "secs::<3_600>")]`.

use crate::scenario::duration::Dur;

/// The team that pays when none is named.
pub(super) fn team() -> String {
    "default".into()
}

/// `true`, for settings that are on unless turned off.
pub(super) fn yes() -> bool {
    true
}

/// 1.0: a replay speed or a scale that leaves things as recorded.
pub(super) fn one() -> f64 {
    1.0
}

/// A duration of `S` seconds.
pub(super) fn secs<const S: u64>() -> Dur {
    Dur::secs(S)
}

/// A count of `N`.
pub(super) fn count<const N: u32>() -> u32 {
    N
}
