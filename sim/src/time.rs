//! Simulated time: integer nanoseconds since the start of a run.
//!
//! Time never comes from the wall clock. [`SimTime`] is an instant on the
//! simulated timeline and [`SimDuration`] a span between two instants; both
//! are `u64` nanoseconds, which covers 584 years of simulated time without
//! rounding.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds in one microsecond.
pub const NANOS_PER_MICRO: u64 = 1_000;
/// Nanoseconds in one millisecond.
pub const NANOS_PER_MILLI: u64 = 1_000_000;
/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;
/// Nanoseconds in one hour.
pub const NANOS_PER_HOUR: u64 = 3_600 * NANOS_PER_SEC;

/// An instant on the simulated timeline, in nanoseconds since the run began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The latest representable instant; used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Nanoseconds since the start of the run.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start of the run, as a float (for reports only).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The span from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at [`SimTime::MAX`].
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A span of whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * NANOS_PER_SEC)
    }

    /// A span of whole milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * NANOS_PER_MILLI)
    }

    /// A span of whole hours.
    pub const fn from_hours(h: u64) -> Self {
        SimDuration(h * NANOS_PER_HOUR)
    }

    /// A span from fractional seconds, rounded to the nearest nanosecond.
    /// Negative or NaN inputs give zero; huge inputs saturate.
    #[inline]
    pub fn from_secs_f64(s: f64) -> Self {
        // `as` saturates: negatives and NaN become 0, overflow becomes MAX.
        SimDuration((s * NANOS_PER_SEC as f64 + 0.5) as u64)
    }

    /// Nanoseconds in this span.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds in this span, as a float (for reports and rates).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Hours in this span, as a float.
    pub fn as_hours_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_HOUR as f64
    }

    /// Whether this span is empty.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0 + d.0)
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 += d.0;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0 - earlier.0)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, o: SimDuration) -> SimDuration {
        SimDuration(self.0 + o.0)
    }
}

impl fmt::Display for SimTime {
    /// `d+hh:mm:ss.mmm`, the form sim-time log lines and reports use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total_ms = self.0 / NANOS_PER_MILLI;
        let ms = total_ms % 1_000;
        let s = total_ms / 1_000;
        let (d, h, m, s) = (s / 86_400, (s / 3_600) % 24, (s / 60) % 60, s % 60);
        write!(f, "{d}+{h:02}:{m:02}:{s:02}.{ms:03}")
    }
}

impl fmt::Display for SimDuration {
    /// The largest fitting unit: `250ms`, `90s`, `2.5h`, `7d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.as_secs_f64();
        if s < 1.0 {
            write!(f, "{}ms", trim(s * 1e3))
        } else if s < 120.0 {
            write!(f, "{}s", trim(s))
        } else if s < 7_200.0 {
            write!(f, "{}m", trim(s / 60.0))
        } else if s < 172_800.0 {
            write!(f, "{}h", trim(s / 3_600.0))
        } else {
            write!(f, "{}d", trim(s / 86_400.0))
        }
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Unix time in ns of midnight UTC on `YYYY-MM-DD`, if it is a real date
/// (1970 to 2262, where `i64` ns end): Twin's one calendar, `twin-calendar`.
pub fn parse_date_ns(s: &str) -> Option<i64> {
    twin_calendar::date_ns(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_unix_midnights() {
        assert_eq!(parse_date_ns("1970-01-01"), Some(0));
        assert_eq!(parse_date_ns("2024-05-17"), Some(1_715_904_000 * NANOS_PER_SEC as i64));
        assert_eq!(parse_date_ns("2024-02-29").map(|n| n / 86_400_000_000_000), Some(19_782));
        for bad in ["2023-02-29", "2024-13-01", "2024-1", "yesterday", "1969-12-31", ""] {
            assert_eq!(parse_date_ns(bad), None, "{bad}");
        }
    }

    #[test]
    fn display_forms() {
        assert_eq!(SimTime(0).to_string(), "0+00:00:00.000");
        let t = SimTime(NANOS_PER_HOUR * 26 + 61 * NANOS_PER_SEC + 5 * NANOS_PER_MILLI);
        assert_eq!(t.to_string(), "1+02:01:01.005");
        assert_eq!(SimDuration::from_millis(250).to_string(), "250ms");
        assert_eq!(SimDuration::from_secs(90).to_string(), "90s");
        assert_eq!(SimDuration::from_hours(168).to_string(), "7d");
    }

    #[test]
    fn float_conversion_saturates_and_clamps() {
        assert_eq!(SimDuration::from_secs_f64(-1.0), SimDuration::ZERO);
        assert_eq!(SimDuration::from_secs_f64(f64::NAN), SimDuration::ZERO);
        assert_eq!(SimDuration::from_secs_f64(1e300), SimDuration(u64::MAX));
        assert_eq!(SimDuration::from_secs_f64(1.5), SimDuration(1_500_000_000));
    }
}
