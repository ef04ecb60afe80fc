//! nvidia-smi timestamps on the fast path: `YYYY/MM/DD HH:MM:SS.mmm`,
//! the date and hour remembered from the row before (they change once an
//! hour), the minutes, seconds and fraction read by hand; the date itself
//! by [`twin_calendar::parse_date`]. Whatever this does not take goes to
//! the reference reading, [`twin_calendar::parse_timestamp`]; the tests
//! check that what it takes it reads the same.
//!
//! Kept because it is measured to matter: 11 ns a timestamp against the
//! calendar's 61 ns in the same run on the 2-core development VM (criterion
//! `replay/timestamps`, `cargo bench -p twin-benches --bench replay`), and reading the benchmark's 200,000 rows through the
//! calendar instead takes 7.9% more instructions (callgrind, 261 M against
//! 242 M a read): a new timestamp comes every 8 rows there.

use super::scan::two_digits;

const NS_PER_DAY: i64 = 86_400_000_000_000;
const NS_PER_HOUR: i64 = 3_600_000_000_000;

/// nvidia-smi timestamps on the fast path, remembering the last date and
/// hour, which change rarely.
pub(crate) struct Clock {
    /// `YYYY/MM/DD HH` and its ns, when `valid`.
    hour: [u8; 13],
    valid: bool,
    hour_ns: i64,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock { hour: [0; 13], valid: false, hour_ns: 0 }
    }

    /// `YYYY/MM/DD HH:MM:SS[.f]` exactly as [`twin_calendar::parse_timestamp`] reads it, or
    /// `None` for the slow path to read or reject.
    #[inline]
    pub(crate) fn read(&mut self, f: &[u8]) -> Option<i64> {
        if f.len() < 19 || f[10] != b' ' {
            return None;
        }
        let base = if self.valid && f[..13] == self.hour {
            self.hour_ns
        } else {
            self.valid = false;
            let day = std::str::from_utf8(&f[..10]).ok().and_then(twin_calendar::parse_date)?;
            let h = two_digits(f[11], f[12]).filter(|h| *h <= 23)?;
            let ns = day.checked_mul(NS_PER_DAY)?.checked_add(h * NS_PER_HOUR)?;
            self.hour.copy_from_slice(&f[..13]);
            self.valid = true;
            self.hour_ns = ns;
            ns
        };
        // `:MM:SS`, then an optional fraction of 1 to 9 digits.
        let r = &f[13..];
        if r[0] != b':' || r[3] != b':' {
            return None;
        }
        let m = two_digits(r[1], r[2]).filter(|m| *m <= 59)?;
        let s = two_digits(r[4], r[5]).filter(|s| *s <= 60)?;
        let mut ns = (m * 60 + s) * 1_000_000_000;
        if r.len() > 6 {
            let frac = &r[7..];
            if (r[6] != b'.' && r[6] != b',') || frac.is_empty() || frac.len() > 9 {
                return None;
            }
            let mut v = 0i64;
            for &c in frac {
                let d = c.wrapping_sub(b'0');
                if d >= 10 {
                    return None;
                }
                v = v * 10 + i64::from(d);
            }
            ns += v * POW10_I64[9 - frac.len()];
        }
        base.checked_add(ns)
    }
}

const POW10_I64: [i64; 10] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads `stamps` in turn with one clock (so the hour is remembered
    /// between them) and checks each reading against the calendar's.
    fn reads_as_the_calendar(stamps: &[String]) -> usize {
        let mut clock = Clock::new();
        let mut taken = 0;
        for s in stamps {
            if let Some(ns) = clock.read(s.as_bytes()) {
                assert_eq!(Some(ns), twin_calendar::parse_timestamp(s), "{s:?}");
                taken += 1;
            }
        }
        taken
    }

    proptest! {
        #[test]
        fn what_the_clock_takes_it_reads_as_the_calendar(
            stamps in prop::collection::vec(
                "(20(2[0-9]|00)|1900|2100|1677|2262|9999)/(0[0-9]|1[0-3])/([0-3][0-9]) ([01][0-9]|2[0-5]):[0-6][0-9]:[0-6][0-9]([.,][0-9]{0,10})?\\PC{0,2}",
                1..40,
            ),
            repeat in 0usize..4,
        ) {
            // Rows of a tick share their time, ticks their hour.
            let stamps: Vec<String> = stamps.iter().flat_map(|s| std::iter::repeat_n(s.clone(), repeat + 1)).collect();
            reads_as_the_calendar(&stamps);
        }
    }

    #[test]
    fn nvidia_smi_times_are_taken_and_impossible_dates_left_to_the_calendar() {
        let ok: Vec<String> = [
            "2026/11/27 01:58:59.960",
            "2026/11/27 01:59:00.067",
            "2024/02/29 23:59:60",
            "2026/11/27 02:00:00,5",
            "2000/02/29 00:00:00.123456789",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(reads_as_the_calendar(&ok), ok.len());
        let mut clock = Clock::new();
        for bad in
            ["2024/02/30 00:00:00.000", "2100/02/29 00:00:00.000", "2026/04/31 12:00:00", "2026/11/27 24:00:00", "2026/11/27 01:58:59Z"]
        {
            assert_eq!(clock.read(bad.as_bytes()), None, "{bad}");
        }
    }
}
