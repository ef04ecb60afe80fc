//! Twin's one reading of dates and times: the layouts that telemetry, price
//! and trace files write, to and from nanoseconds since the Unix epoch
//! (1970-01-01 00:00:00 UTC), on [jiff]'s proleptic Gregorian calendar.
//!
//! | function | reads | gives |
//! | --- | --- | --- |
//! | [`parse_date`] | `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYYMMDD` | days since the epoch |
//! | [`parse_date_ns`] | the same | ns of that midnight |
//! | [`parse_clock`] | `HH:MM:SS[.f]` | ns since midnight |
//! | [`parse_timestamp`] | a date, a space or `T`, a clock, optional `Z` (nvidia-smi's `YYYY/MM/DD HH:MM:SS.mmm`) | ns |
//! | [`parse_iso8601`] | the same with `Z`, `±HH:MM`, `±HHMM` or `±HH` | ns |
//! | [`date_ns`] | the simulator's scenario dates (`YYYY-MM-DD`, 1970 to 9999) | ns of that midnight |
//! | [`format_ns`] | ns | `YYYY-MM-DD HH:MM:SS.mmm` |
//!
//! Every reader checks the calendar: a month has its own length, and
//! February 29 exists only in leap years (every fourth year, but not
//! centuries unless divisible by 400: 2000 and 2024 are leap years, 1900 and
//! 2100 are not). A date that does not exist, such as `2024/02/31`, is no
//! date at all. Times are UTC; none of this needs a time-zone database.
//!
//! **Leap seconds.** A clock's second may be `60` (as `23:59:60`, which a
//! logger's clock can show while the kernel inserts a leap second): it is
//! read as 60 seconds past the minute, the same instant as the next minute's
//! `:00`, as POSIX time counts it. Rejecting it would drop a real sample;
//! the epoch scale has no room to tell the two instants apart.
//!
//! **Range.** Years `0000` to `9999` are read, but results are `i64`
//! nanoseconds, which reach from 1677-09-21 00:12:43.145224192 to
//! 2262-04-11 23:47:16.854775807: anything outside is `None`, never a wrapped
//! or saturated value. Fractions of a second have 1 to 9 digits.
//!
//! ```
//! use twin_calendar::{format_ns, parse_date, parse_timestamp};
//! let t = parse_timestamp("2026/11/27 01:58:59.960").unwrap();
//! assert_eq!(t, 1_795_744_739_960_000_000);
//! assert_eq!(format_ns(t), "2026-11-27 01:58:59.960");
//! assert_eq!(parse_date("2024/02/29"), Some(19_782));
//! assert_eq!(parse_date("2023/02/29"), None);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use jiff::SignedDuration;
use jiff::civil::Date;
use jiff::tz::Offset;

/// Nanoseconds in a second.
pub const NS_PER_SECOND: i64 = 1_000_000_000;

/// Nanoseconds in a day (of 86,400 seconds: the epoch scale has no leap seconds).
pub const NS_PER_DAY: i64 = 86_400 * NS_PER_SECOND;

/// The epoch's date.
const EPOCH: Date = jiff::civil::date(1970, 1, 1);

/// Days since 1970-01-01 of the date `year`-`month`-`day`, if it exists
/// (years -9999 to 9999, each month its own length, February 29 in leap
/// years only). Negative before the epoch.
///
/// ```
/// assert_eq!(twin_calendar::days_from_civil(1970, 1, 1), Some(0));
/// assert_eq!(twin_calendar::days_from_civil(1969, 12, 31), Some(-1));
/// assert_eq!(twin_calendar::days_from_civil(2100, 2, 29), None);
/// ```
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    let date = Date::new(i16::try_from(year).ok()?, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()?;
    // Both dates are midnights: a whole number of days apart.
    Some(date.duration_since(EPOCH).as_secs().div_euclid(86_400))
}

/// Up to nine ASCII digits as a number; `None` for anything else (empty included).
fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |a, b| a * 10 + u32::from(b - b'0')))
}

/// A date as `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD` (exactly: four-digit
/// year, two-digit month and day, nothing around them), to days since
/// 1970-01-01; `None` for anything else, a date that does not exist
/// included.
///
/// ```
/// use twin_calendar::parse_date;
/// assert_eq!(parse_date("1970-01-02"), Some(1));
/// assert_eq!(parse_date("20240229"), parse_date("2024/02/29"));
/// assert_eq!(parse_date("2024/02/31"), None);
/// assert_eq!(parse_date("2024-2-3"), None);
/// ```
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (y, m, d) = match b.len() {
        10 if (b[4] == b'/' && b[7] == b'/') || (b[4] == b'-' && b[7] == b'-') => {
            (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?)
        }
        8 => (digits(&b[0..4])?, digits(&b[4..6])?, digits(&b[6..8])?),
        _ => return None,
    };
    days_from_civil(i64::from(y), m, d)
}

/// A date as [`parse_date`] reads it, to ns since the epoch of its midnight
/// (UTC); `None` too when that is outside `i64` ns (before 1677, after 2262).
///
/// ```
/// assert_eq!(twin_calendar::parse_date_ns("2024-05-17"), Some(1_715_904_000_000_000_000));
/// assert_eq!(twin_calendar::parse_date_ns("2300-01-01"), None);
/// ```
pub fn parse_date_ns(s: &str) -> Option<i64> {
    parse_date(s)?.checked_mul(NS_PER_DAY)
}

/// A time of day `HH:MM:SS` (two digits each, hours to 23, minutes to 59,
/// seconds to 60: see the crate doc on leap seconds), then optionally `.`
/// or `,` and a fraction of 1 to 9 digits, to ns since midnight. Nothing may
/// come before or after.
///
/// ```
/// use twin_calendar::parse_clock;
/// assert_eq!(parse_clock("00:00:01.5"), Some(1_500_000_000));
/// assert_eq!(parse_clock("23:59:60"), Some(86_400_000_000_000));
/// assert_eq!(parse_clock("24:00:00"), None);
/// assert_eq!(parse_clock("12:00:00.1234567891"), None);
/// ```
pub fn parse_clock(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, sec) = (digits(&b[0..2])?, digits(&b[3..5])?, digits(&b[6..8])?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut ns = 0i64;
    if b.len() > 8 {
        if b[8] != b'.' && b[8] != b',' {
            return None;
        }
        let frac = &b[9..];
        let f = digits(frac)?;
        ns = i64::from(f) * 10i64.pow(9 - frac.len() as u32);
    }
    Some((i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(sec)) * NS_PER_SECOND + ns)
}

/// A date and a time of day, read as UTC: a date as [`parse_date`] reads
/// it, a space or `T`, then a clock as [`parse_clock`] reads it (spaces
/// around it allowed), optionally followed by `Z` (or several). Spaces
/// around the whole are allowed. nvidia-smi's `2026/11/27 01:58:59.960` and
/// ISO 8601's `2026-11-27T01:58:59.96Z` both read; for offsets, see
/// [`parse_iso8601`].
///
/// ```
/// use twin_calendar::parse_timestamp;
/// assert_eq!(parse_timestamp("1970/01/01 00:00:01"), Some(1_000_000_000));
/// assert_eq!(parse_timestamp("2026-11-27T01:58:59.96Z"), parse_timestamp("2026/11/27 01:58:59.960"));
/// assert_eq!(parse_timestamp("2026/11/27"), None);
/// ```
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, clock) = s.split_once([' ', 'T'])?;
    at(parse_date(date)?, parse_clock(clock.trim())?, 0)
}

/// `day` (since the epoch) at `clock` ns after its midnight, less
/// `offset_ns`, if within `i64` ns. (Reckoned wider: the midnight of
/// 1677-09-21 is outside, its afternoon inside.)
fn at(day: i64, clock: i64, offset_ns: i64) -> Option<i64> {
    i64::try_from(i128::from(day) * i128::from(NS_PER_DAY) + i128::from(clock) - i128::from(offset_ns)).ok()
}

/// ISO 8601 `YYYY-MM-DDTHH:MM:SS[.f]` (the date in any layout [`parse_date`]
/// reads; `T`, `t` or a space between) with `Z`, `z`, `±HH:MM`, `±HHMM`,
/// `±HH` (hours to 23, minutes to 59) or no offset (read as UTC), to ns
/// since the epoch. Spaces around the whole are allowed, not inside.
///
/// ```
/// use twin_calendar::parse_iso8601;
/// let z = parse_iso8601("2025-06-01T10:21:07Z").unwrap();
/// assert_eq!(parse_iso8601("2025-06-01T12:21:07+02:00"), Some(z));
/// assert_eq!(parse_iso8601("2025-06-01T05:21:07-0500"), Some(z));
/// assert_eq!(parse_iso8601("2025-06-01T10:21:07+25:00"), None);
/// ```
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let (date, clock) = s.trim().split_once(['T', 't', ' '])?;
    let (clock, offset_ns) = if let Some(c) = clock.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(at) = clock.get(8..).and_then(|tail| tail.find(['+', '-'])) {
        let (c, off) = clock.split_at(8 + at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 && digits.len() != 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let h: i64 = digits[..2].parse().ok()?;
        let m: i64 = digits.get(2..).filter(|m| !m.is_empty()).map_or(Some(0), |m| m.parse().ok())?;
        if h > 23 || m > 59 {
            return None;
        }
        (c, sign * (h * 60 + m) * 60 * NS_PER_SECOND)
    } else {
        (clock, 0)
    };
    at(parse_date(date)?, parse_clock(clock)?, offset_ns)
}

/// The simulator's scenario dates: midnight UTC of `YYYY-MM-DD`, in ns since
/// the epoch, for a real date from 1970 to 9999. Spaces around the whole
/// are allowed; the year, month and day are decimal numbers between the two
/// `-` (so `2024-5-7` and `+2024-05-07` read too, as they always have).
/// `None` when the midnight is past the end of `i64` ns (2262-04-11).
///
/// ```
/// use twin_calendar::date_ns;
/// assert_eq!(date_ns("1970-01-01"), Some(0));
/// assert_eq!(date_ns("2024-02-29"), Some(19_782 * 86_400_000_000_000));
/// assert_eq!(date_ns("2023-02-29"), None);
/// assert_eq!(date_ns("1969-12-31"), None);
/// ```
pub fn date_ns(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let (y, m, d): (i64, i64, i64) = (it.next()?.parse().ok()?, it.next()?.parse().ok()?, it.next()?.parse().ok()?);
    if !(1970..=9999).contains(&y) {
        return None;
    }
    days_from_civil(y, u32::try_from(m).ok()?, u32::try_from(d).ok()?)?.checked_mul(NS_PER_DAY)
}

/// Formats ns since the epoch as `YYYY-MM-DD HH:MM:SS.mmm` UTC (the
/// milliseconds truncated, towards the past), for reports.
///
/// ```
/// assert_eq!(twin_calendar::format_ns(-1), "1969-12-31 23:59:59.999");
/// ```
pub fn format_ns(ns: i64) -> String {
    let t = jiff::Timestamp::from_duration(SignedDuration::from_nanos(ns)).expect("every i64 ns is within jiff's years -9999 to 9999");
    let dt = Offset::UTC.to_datetime(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond() / 1_000_000
    )
}

#[cfg(test)]
mod tests;
