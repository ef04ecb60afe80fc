//! Timestamps as telemetry tools write them, to ns since the Unix epoch
//! (UTC): the readers of [`twin_calendar`], Twin's one date and time
//! module, under the names this crate has always given them. See there for
//! what each reads (real dates only: `2024/02/31` is no date).

pub use twin_calendar::{days_from_civil, format_ns, parse_clock, parse_date, parse_timestamp};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nvidia_smi_and_iso_times_as_utc_real_dates_only() {
        // 2026-11-27 01:58:59.960 UTC, the first row of the H200 recording.
        let t = parse_timestamp("2026/11/27 01:58:59.960").unwrap();
        assert_eq!(t, 1_795_744_739_960_000_000);
        assert_eq!(parse_timestamp("2026-11-27T01:58:59.96Z"), Some(t));
        assert_eq!(format_ns(t), "2026-11-27 01:58:59.960");
        assert_eq!(parse_date("20261127"), parse_date("2026/11/27"));
        assert_eq!(parse_clock("01:58:59.960").map(|c| parse_date("2026/11/27").unwrap() * 86_400_000_000_000 + c), Some(t));
        assert_eq!(days_from_civil(2026, 11, 27), parse_date("2026-11-27"));
        for bad in ["", "9999/12/31 23:59:59", "2026/13/01 00:00:00", "2026/11/27 25:00:00", "2026/11/27", "x", "2024/02/31 00:00:00"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
