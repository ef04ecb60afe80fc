use super::*;
use proptest::prelude::*;

/// The readers as they were before this crate (replay's `timefmt`, prices'
/// ISO reader, the simulator's scenario dates), which knew no month
/// lengths: the new ones must agree with them everywhere except on dates
/// that do not exist.
mod before {
    pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = i64::from(m);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date's (year, month, day), if the old reader took it (a day to 31 in any month).
    pub fn date_parts(s: &str) -> Option<(i64, u32, u32)> {
        let b = s.as_bytes();
        let (y, m, d) = match b.len() {
            10 if (b[4] == b'/' && b[7] == b'/') || (b[4] == b'-' && b[7] == b'-') => {
                (super::digits(&b[0..4])?, super::digits(&b[5..7])?, super::digits(&b[8..10])?)
            }
            8 => (super::digits(&b[0..4])?, super::digits(&b[4..6])?, super::digits(&b[6..8])?),
            _ => return None,
        };
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        Some((i64::from(y), m, d))
    }

    pub fn parse_date(s: &str) -> Option<i64> {
        date_parts(s).map(|(y, m, d)| days_from_civil(y, m, d))
    }

    pub fn parse_timestamp(s: &str) -> Option<i64> {
        let s = s.trim().trim_end_matches('Z');
        let (date, clock) = s.split_once([' ', 'T'])?;
        parse_date(date)?.checked_mul(86_400_000_000_000)?.checked_add(super::parse_clock(clock.trim())?)
    }

    pub fn parse_date_ns(s: &str) -> Option<i64> {
        let mut it = s.trim().splitn(3, '-');
        let (y, m, d): (i64, i64, i64) = (it.next()?.parse().ok()?, it.next()?.parse().ok()?, it.next()?.parse().ok()?);
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
            return None;
        }
        // The simulator's multiplied without a check: past 2262 it overflowed.
        days_from_civil(y, m as u32, d as u32).checked_mul(86_400_000_000_000)
    }
}

/// Whether (y, m, d) is a real date, counted by hand.
fn real(y: i64, m: u32, d: u32) -> bool {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let len = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    (1..=12).contains(&m) && d >= 1 && d <= len[m as usize - 1]
}

#[test]
fn leap_years_and_month_ends() {
    for (y, leap) in [(1900, false), (2000, true), (2023, false), (2024, true), (2100, false), (2400, true), (0, true), (1600, true)] {
        assert_eq!(parse_date(&format!("{y:04}-02-29")).is_some(), leap, "{y}-02-29");
        assert!(parse_date(&format!("{y:04}-02-28")).is_some(), "{y}-02-28");
        assert_eq!(parse_date(&format!("{y:04}-02-30")), None, "{y}-02-30");
        // Feb 29 (or Mar 1) is the day after Feb 28 either way.
        let feb28 = parse_date(&format!("{y:04}/02/28")).unwrap();
        assert_eq!(parse_date(&format!("{y:04}/03/01")), Some(feb28 + 1 + i64::from(leap)));
    }
    for (m, len) in [(1, 31), (3, 31), (4, 30), (5, 31), (6, 30), (7, 31), (8, 31), (9, 30), (10, 31), (11, 30), (12, 31)] {
        assert!(parse_date(&format!("2025{m:02}{len:02}")).is_some(), "2025-{m}-{len}");
        assert_eq!(parse_date(&format!("2025{m:02}{:02}", len + 1)), None, "2025-{m}-{}", len + 1);
    }
    for bad in ["2025-00-10", "2025-13-01", "2025-01-00", "2025-01-32", "2024/02/31", "2025/04/31"] {
        assert_eq!(parse_date(bad), None, "{bad}");
    }
    assert_eq!(parse_date("9999-12-31"), Some(2_932_896));
    assert_eq!(parse_date("0000-01-01"), Some(-719_528));
    assert_eq!(days_from_civil(-9999, 1, 1).map(|d| d < 0), Some(true));
    assert_eq!(days_from_civil(10_000, 1, 1), None);
    assert_eq!(days_from_civil(2024, 256 + 2, 1), None, "no wrapping through the integer conversions");
}

#[test]
fn clocks_fractions_and_leap_seconds() {
    assert_eq!(parse_clock("00:00:00"), Some(0));
    assert_eq!(parse_clock("23:59:59"), Some(NS_PER_DAY - NS_PER_SECOND));
    // The leap second is the next minute's first second (see the crate doc).
    assert_eq!(parse_clock("23:59:60"), Some(NS_PER_DAY));
    assert_eq!(parse_timestamp("2016/12/31 23:59:60"), parse_timestamp("2017/01/01 00:00:00"));
    let mut want = 0;
    for digits in 1..=9 {
        let frac = "123456789"[..digits].to_string();
        want += (digits as i64) * 10i64.pow(9 - digits as u32);
        assert_eq!(parse_clock(&format!("00:00:00.{frac}")), Some(want), "{frac}");
        assert_eq!(parse_clock(&format!("00:00:00,{frac}")), Some(want), "{frac}");
    }
    for bad in [
        "",
        "x",
        "1:00:00",
        "01:00",
        "24:00:00",
        "23:60:00",
        "23:59:61",
        "00:00:00.",
        "00:00:00.1234567890",
        "00:00:00.5x",
        "00:00:00 ",
        " 00:00:00",
        "00-00-00",
        "0a:00:00",
        "+1:00:00",
        "00:00:00:00",
        "٠٠:00:00",
    ] {
        assert_eq!(parse_clock(bad), None, "{bad:?}");
    }
}

#[test]
fn timestamps_in_every_layout_and_at_the_ends_of_i64() {
    let t = parse_timestamp("2026/11/27 01:58:59.960").unwrap();
    assert_eq!(t, 1_795_744_739_960_000_000);
    for same in ["2026-11-27T01:58:59.96Z", " 20261127 01:58:59.960000 ", "2026-11-27  01:58:59.960", "2026-11-27T01:58:59.960ZZ"] {
        assert_eq!(parse_timestamp(same), Some(t), "{same:?}");
    }
    assert_eq!(parse_iso8601("2026-11-27t03:58:59.96+02"), Some(t));
    assert_eq!(parse_iso8601("2026-11-27 01:58:59.96z"), Some(t));
    assert_eq!(parse_timestamp("1969/12/31 23:59:59.999"), Some(-1_000_000));
    assert_eq!(parse_timestamp("2262-04-11 23:47:16.854775807"), Some(i64::MAX));
    assert_eq!(parse_timestamp("2262-04-11 23:47:16.854775808"), None);
    assert_eq!(parse_timestamp("1677-09-21 00:12:43.145224192"), Some(i64::MIN));
    assert_eq!(parse_timestamp("1677-09-21 00:12:43.145224191"), None);
    assert_eq!(format_ns(i64::MAX), "2262-04-11 23:47:16.854");
    assert_eq!(format_ns(i64::MIN), "1677-09-21 00:12:43.145");
    for bad in [
        "",
        "9999/12/31 23:59:59",
        "2026/13/01 00:00:00",
        "2026/02/29 00:00:00",
        "2026/11/27 25:00:00",
        "2026/11/27",
        "2026/11/27T",
        "x",
        "2026/11/27 01:58:5",
        "2026/11/27 01:58:59+01:00",
        "２０２６/11/27 01:58:59",
    ] {
        assert_eq!(parse_timestamp(bad), None, "{bad:?}");
    }
    for bad in ["2025-06-01", "2025-06-01T10:21:07+25:00", "2025-06-01T10:21:07+0", "2025-06-01T10:21:07é+00:00", "2025-02-29T00:00:00Z"] {
        assert_eq!(parse_iso8601(bad), None, "{bad:?}");
    }
}

#[test]
fn scenario_dates_read_as_the_simulator_reads_them() {
    assert_eq!(date_ns("1970-01-01"), Some(0));
    assert_eq!(date_ns("2024-05-17"), Some(1_715_904_000 * NS_PER_SECOND));
    assert_eq!(date_ns(" 2024-5-7 "), Some(date_ns("2024-05-07").unwrap()));
    assert_eq!(date_ns("+2024-+05-07"), date_ns("2024-05-07"));
    assert_eq!(date_ns("2262-04-11"), Some(106_751 * NS_PER_DAY));
    for bad in
        ["2023-02-29", "2024-13-01", "2024-1", "yesterday", "1969-12-31", "", "2100-02-29", "2262-04-12", "2024/05/17", "2024-05-17x"]
    {
        assert_eq!(date_ns(bad), None, "{bad}");
    }
}

proptest! {
    #[test]
    fn formatting_then_parsing_gives_the_millisecond_back(ns in prop_oneof![any::<i64>(), Just(i64::MAX), Just(-1), Just(0)]) {
        // The millisecond of the very first one starts before i64 ns do.
        let ns = ns.max(i64::MIN + 1_000_000);
        let ms = ns.div_euclid(1_000_000) * 1_000_000;
        let text = format_ns(ns);
        prop_assert_eq!(text.len(), 23);
        prop_assert_eq!(parse_timestamp(&text), Some(ms), "{}", text);
        prop_assert_eq!(parse_iso8601(&text.replace(' ', "T")), Some(ms), "{}", text);
        let midnight = i128::from(ms) - i128::from(ms.rem_euclid(NS_PER_DAY));
        prop_assert_eq!(parse_date_ns(&text[..10]), i64::try_from(midnight).ok(), "{}", text);
    }

    #[test]
    fn a_date_reads_as_before_unless_it_does_not_exist(y in 0i64..10_000, m in 0u32..14, d in 0u32..33, layout in 0usize..3) {
        let s = match layout {
            0 => format!("{y:04}-{m:02}-{d:02}"),
            1 => format!("{y:04}/{m:02}/{d:02}"),
            _ => format!("{y:04}{m:02}{d:02}"),
        };
        let want = before::parse_date(&s).filter(|_| real(y, m, d));
        prop_assert_eq!(parse_date(&s), want, "{}", s);
        let sim = format!("{y}-{m}-{d}");
        prop_assert_eq!(date_ns(&sim), before::parse_date_ns(&sim), "{}", sim);
    }

    #[test]
    fn any_text_reads_as_before_unless_its_date_does_not_exist(
        s in "[0-9 /:.,TZtz+-]{0,32}|[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}([.,][0-9]{0,11})?Z{0,2}|\\PC{0,30}",
    ) {
        let exists = |date: &str| before::date_parts(date).is_some_and(|(y, m, d)| real(y, m, d));
        let split = s.trim().trim_end_matches('Z').split_once([' ', 'T']);
        let stamp = split.is_some_and(|(date, _)| exists(date));
        // The one day the old reader lost: its midnight before i64 ns begins.
        let first_day = split.is_some_and(|(date, _)| before::date_parts(date) == Some((1677, 9, 21)));
        if !first_day {
            prop_assert_eq!(parse_timestamp(&s), before::parse_timestamp(&s).filter(|_| stamp), "{:?}", s);
        }
        prop_assert_eq!(parse_date(&s), before::parse_date(&s).filter(|_| exists(&s)), "{:?}", s);
        prop_assert_eq!(date_ns(&s), before::parse_date_ns(&s), "{:?}", s);
        let _ = (parse_iso8601(&s), parse_clock(&s));
    }
}
