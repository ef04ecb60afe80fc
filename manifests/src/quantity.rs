//! Kubernetes quantities (`500m`, `2`, `6Gi`, `1.5`, `8G`, `1e3`) read exactly.
//!
//! The grammar is the one `k8s.io/apimachinery/pkg/api/resource` documents:
//! a signed decimal number (`1`, `1.5`, `.5`, `5.`), then a binary suffix
//! (`Ki` `Mi` `Gi` `Ti` `Pi` `Ei`), a decimal suffix (`m` `k` `M` `G` `T`
//! `P` `E`, or none) or a decimal exponent (`e3`, `E-2`). The value is kept
//! as an integer mantissa with powers of ten and two, never as a float, and
//! converted with rounding up, as Kubernetes rounds (`MilliValue`, `Value`).

/// A parsed quantity: `mantissa × 10^exp10 × 2^exp2`, with a sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    negative: bool,
    mantissa: u128,
    exp10: i64,
    exp2: u32,
}

/// The hint every bad quantity gets.
pub(crate) const HINT: &str = "write 500m, 2, 6Gi";

/// Most significant digits kept exactly (u128 holds 38).
const MAX_DIGITS: usize = 36;

impl Quantity {
    /// Parses Kubernetes quantity text; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Quantity, String> {
        let bad = || format!("{text:?} is not a Kubernetes quantity");
        let s = text.trim();
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let num_len = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
        let (number, suffix) = s.split_at(num_len);
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(bad());
        }
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > MAX_DIGITS {
            return Err(format!("{text:?} has more digits than Twin reads ({MAX_DIGITS})"));
        }
        let mantissa: u128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| bad())? };
        let (exp10, exp2) = match suffix {
            "" => (0, 0),
            "m" => (-3, 0),
            "k" => (3, 0),
            "M" => (6, 0),
            "G" => (9, 0),
            "T" => (12, 0),
            "P" => (15, 0),
            "E" => (18, 0),
            "Ki" => (0, 10),
            "Mi" => (0, 20),
            "Gi" => (0, 30),
            "Ti" => (0, 40),
            "Pi" => (0, 50),
            "Ei" => (0, 60),
            _ => {
                let exp = suffix.strip_prefix(['e', 'E']).ok_or_else(bad)?;
                let unsigned = exp.strip_prefix(['+', '-']).unwrap_or(exp);
                if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) || unsigned.len() > 6 {
                    return Err(bad());
                }
                (exp.parse::<i64>().map_err(|_| bad())?, 0)
            }
        };
        Ok(Quantity { negative: negative && mantissa != 0, mantissa, exp10: exp10 - frac.len() as i64, exp2 })
    }

    /// Whether the quantity is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// `ceil(|self| × num / den)`, or `None` when it does not fit 128 bits.
    fn ceil_scaled(&self, num: u128, den: u128) -> Option<u128> {
        if self.mantissa == 0 || num == 0 {
            return Some(0);
        }
        let up = u32::try_from(self.exp10.max(0)).ok()?;
        let n = self.mantissa.checked_mul(pow10(up)?)?.checked_mul(1u128.checked_shl(self.exp2)?)?.checked_mul(num)?;
        let down = u32::try_from((-self.exp10).max(0)).unwrap_or(u32::MAX);
        let d = pow10(down).and_then(|p| p.checked_mul(den));
        Some(match d {
            Some(d) => n.div_ceil(d),
            // The divisor is beyond 128 bits and the dividend is not: above 0, below 1.
            None => 1,
        })
    }

    /// Whether the quantity is a whole number.
    fn is_whole(&self) -> bool {
        if self.mantissa == 0 || self.exp10 >= 0 {
            return true;
        }
        let Some(p) = u32::try_from(-self.exp10).ok().and_then(pow10) else { return false };
        self.mantissa.checked_mul(1u128 << self.exp2.min(64)).is_some_and(|m| m % p == 0)
    }

    /// Thousandths, rounded up (CPU in millicores).
    pub fn milli(&self) -> Option<u64> {
        self.ceil_scaled(1_000, 1).and_then(|v| u64::try_from(v).ok())
    }

    /// Mebibytes, rounded up (memory).
    pub fn mib(&self) -> Option<u64> {
        self.ceil_scaled(1, 1 << 20).and_then(|v| u64::try_from(v).ok())
    }

    /// The value as a whole count (GPUs, pods); `None` when it has a
    /// fraction or is too large.
    pub fn count(&self) -> Option<u64> {
        if self.negative || !self.is_whole() {
            return None;
        }
        self.ceil_scaled(1, 1).and_then(|v| u64::try_from(v).ok())
    }

    /// The value as a float (metric targets), signed.
    pub(crate) fn to_f64(self) -> f64 {
        let v = self.mantissa as f64 * 10f64.powi(self.exp10.clamp(-400, 400) as i32) * 2f64.powi(self.exp2 as i32);
        if self.negative { -v } else { v }
    }
}

fn pow10(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn cpu_in_millicores_rounds_up() {
        assert_eq!(q("500m").milli(), Some(500));
        assert_eq!(q("2").milli(), Some(2_000));
        assert_eq!(q("1.5").milli(), Some(1_500));
        assert_eq!(q(".5").milli(), Some(500));
        assert_eq!(q("5.").milli(), Some(5_000));
        assert_eq!(q("0.1m").milli(), Some(1));
        assert_eq!(q("1e3").milli(), Some(1_000_000));
        assert_eq!(q("1E-3").milli(), Some(1));
        assert_eq!(q("+4").milli(), Some(4_000));
        assert_eq!(q("0").milli(), Some(0));
    }

    #[test]
    fn memory_in_mib_rounds_up() {
        assert_eq!(q("6Gi").mib(), Some(6_144));
        assert_eq!(q("100Mi").mib(), Some(100));
        assert_eq!(q("8G").mib(), Some(7_630)); // 8e9 / 2^20 = 7629.39...
        assert_eq!(q("1Ki").mib(), Some(1));
        assert_eq!(q("1.5Gi").mib(), Some(1_536));
        assert_eq!(q("1e-30").mib(), Some(1));
    }

    #[test]
    fn counts_are_whole() {
        assert_eq!(q("1").count(), Some(1));
        assert_eq!(q("8").count(), Some(8));
        assert_eq!(q("1k").count(), Some(1_000));
        assert_eq!(q("2000m").count(), Some(2));
        assert_eq!(q("1.5").count(), None);
        assert_eq!(q("-1").count(), None);
    }

    #[test]
    fn floats_for_metric_targets() {
        assert_eq!(q("500m").to_f64(), 0.5);
        assert_eq!(q("8").to_f64(), 8.0);
        assert_eq!(q("-2").to_f64(), -2.0);
        assert!(q("-2").is_negative());
    }

    #[test]
    fn bad_text_is_refused_with_what_was_written() {
        for s in ["5x", "", "m", "1..2", "1.2.3", "1e", "1e+", "Gi", "1 Gi", "1GiB", "--1", "1e9999999", "0x10"] {
            let e = Quantity::parse(s).unwrap_err();
            assert!(e.contains(&format!("{s:?}")), "{s}: {e}");
        }
    }

    #[test]
    fn huge_values_do_not_overflow() {
        assert_eq!(q("1e100").milli(), None);
        assert_eq!(q("999999Ei").mib(), Some(999_999u64 << 40));
        assert_eq!(q("99999999999999999999999999999999Ei").mib(), None);
        assert_eq!(q("1e-100").count(), None);
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in "[-+0-9.eEkmMGTPi ]{0,14}") {
            if let Ok(q) = Quantity::parse(&text) {
                let _ = (q.milli(), q.mib(), q.count(), q.to_f64(), q.is_negative());
            }
        }
    }
}
