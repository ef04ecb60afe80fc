//! Timestamps as telemetry tools write them, to ns since the Unix epoch (UTC).

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |a, b| a * 10 + u32::from(b - b'0')))
}

/// `HH:MM:SS` with an optional fraction, to ns since midnight.
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
    Some((i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(sec)) * 1_000_000_000 + ns)
}

/// A date as `YYYY/MM/DD`, `YYYY-MM-DD` or `YYYYMMDD`, to days since the epoch.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (y, m, d) = match b.len() {
        10 if (b[4] == b'/' && b[7] == b'/') || (b[4] == b'-' && b[7] == b'-') => {
            (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?)
        }
        8 => (digits(&b[0..4])?, digits(&b[4..6])?, digits(&b[6..8])?),
        _ => return None,
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(i64::from(y), m, d))
}

/// nvidia-smi's `YYYY/MM/DD HH:MM:SS.mmm`, or ISO 8601 `YYYY-MM-DDTHH:MM:SS[.f][Z]`,
/// read as UTC, to ns since the epoch.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, clock) = s.split_once([' ', 'T'])?;
    parse_date(date)?.checked_mul(86_400_000_000_000)?.checked_add(parse_clock(clock.trim())?)
}

/// Formats ns since the epoch as `YYYY-MM-DD HH:MM:SS.mmm` UTC, for reports.
pub fn format_ns(ns: i64) -> String {
    let days = ns.div_euclid(86_400_000_000_000);
    let rem = ns.rem_euclid(86_400_000_000_000);
    // Civil from days (inverse of days_from_civil).
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let ms = rem / 1_000_000;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nvidia_smi_and_iso_times_as_utc() {
        // 2026-11-27 01:58:59.960 UTC, the first row of the H200 recording.
        let t = parse_timestamp("2026/11/27 01:58:59.960").unwrap();
        assert_eq!(t, 1_795_744_739_960_000_000);
        assert_eq!(parse_timestamp("2026-11-27T01:58:59.96Z"), Some(t));
        assert_eq!(format_ns(t), "2026-11-27 01:58:59.960");
        assert_eq!(parse_date("20261127"), parse_date("2026/11/27"));
        assert_eq!(parse_timestamp("1970/01/01 00:00:00"), Some(0));
        for bad in ["", "9999/12/31 23:59:59", "2026/13/01 00:00:00", "2026/11/27 25:00:00", "2026/11/27", "x", "2026/11/27 01:58:5"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
