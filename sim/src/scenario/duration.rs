//! Durations as scenario files write them: `"90s"`, `"5m"`, `"1h30m"`, `"7d"`.

use crate::time::{NANOS_PER_SEC, SimDuration};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A duration field of a scenario. Written as a string of number-unit pairs
/// (`ns`, `us`, `ms`, `s`, `m`, `h`, `d`, `w`; fractions allowed, as in
/// `"1.5h"` or `"2h 30m"`) or as a bare number of seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub SimDuration);

impl Dur {
    /// A duration of whole seconds.
    pub const fn secs(s: u64) -> Dur {
        Dur(SimDuration::from_secs(s))
    }

    /// The simulated duration.
    pub fn get(self) -> SimDuration {
        self.0
    }
}

/// Parses `"1h30m"`-style text; the error says what was wrong.
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("`{text}`: expected a number at `{rest}`"));
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| format!("`{text}`: `{}` is not a number", &rest[..num_len]))?;
        rest = rest[num_len..].trim_start();
        let unit_len = rest.find(|c: char| !c.is_alphabetic() && c != 'µ').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3_600.0,
            "d" | "day" | "days" => 86_400.0,
            "w" | "week" | "weeks" => 604_800.0,
            "" => {
                return Err(format!("`{text}`: `{value}` has no unit (use ms, s, m, h, d or w)"));
            }
            other => {
                return Err(format!("`{text}`: unknown unit `{other}` (use ns, us, ms, s, m, h, d or w)"));
            }
        };
        total += value * scale;
        rest = rest[unit_len..].trim_start();
    }
    let ns = total * NANOS_PER_SEC as f64;
    if !ns.is_finite() || ns >= u64::MAX as f64 {
        return Err(format!("`{text}` is too long (the limit is about 584 years)"));
    }
    Ok(SimDuration(ns.round() as u64))
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"90s\", \"5m\", \"2h\" or \"7d\", or a number of seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                parse_duration(v).map(Dur).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                if v < 0 {
                    return Err(E::custom(format!("a duration cannot be negative ({v})")));
                }
                Ok(Dur(SimDuration::from_secs(v as u64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                self.visit_i64(v.min(i64::MAX as u64) as i64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                if !(v >= 0.0) || !v.is_finite() {
                    return Err(E::custom(format!("a duration must be a finite number of seconds ≥ 0, not {v}")));
                }
                Ok(Dur(SimDuration::from_secs_f64(v)))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}s", self.0.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_sums_and_fractions() {
        assert_eq!(parse_duration("90s").unwrap(), SimDuration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), SimDuration::from_secs(5_400));
        assert_eq!(parse_duration("2h 30m").unwrap(), SimDuration::from_secs(9_000));
        assert_eq!(parse_duration("1.5h").unwrap(), SimDuration::from_secs(5_400));
        assert_eq!(parse_duration("250ms").unwrap(), SimDuration::from_millis(250));
        assert_eq!(parse_duration("7d").unwrap(), SimDuration::from_hours(168));
        assert_eq!(parse_duration("4.4us").unwrap(), SimDuration(4_400));
    }

    #[test]
    fn rejects_with_a_reason() {
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
        assert!(parse_duration("5 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("h").unwrap_err().contains("expected a number"));
        assert!(parse_duration("1.2.3s").unwrap_err().contains("not a number"));
        assert!(parse_duration("99999999999w").unwrap_err().contains("too long"));
    }
}
