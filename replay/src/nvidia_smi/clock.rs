//! nvidia-smi timestamps on the fast path.

use super::scan::two_digits;

const NS_PER_DAY: i64 = 86_400_000_000_000;
const NS_PER_HOUR: i64 = 3_600_000_000_000;

/// nvidia-smi timestamps on the fast path, remembering the last date and
/// hour, which change rarely.
pub(super) struct Clock {
    /// `YYYY/MM/DD HH` and its ns, when `valid`.
    hour: [u8; 13],
    valid: bool,
    hour_ns: i64,
}

impl Clock {
    pub(super) fn new() -> Clock {
        Clock { hour: [0; 13], valid: false, hour_ns: 0 }
    }

    /// `YYYY/MM/DD HH:MM:SS[.f]` exactly as [`crate::timefmt::parse_timestamp`] reads it, or
    /// `None` for the slow path to read or reject.
    #[inline]
    pub(super) fn read(&mut self, f: &[u8]) -> Option<i64> {
        if f.len() < 19 || f[10] != b' ' {
            return None;
        }
        let base = if self.valid && f[..13] == self.hour {
            self.hour_ns
        } else {
            self.valid = false;
            let day = std::str::from_utf8(&f[..10]).ok().and_then(crate::timefmt::parse_date)?;
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
