//! Checks of token count distributions.

use super::checker::Checker;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::TokenSpec;

/// Checks a token count distribution, at `p`.
pub(super) fn check_tokens(c: &mut Checker<'_>, t: &TokenSpec, p: &FieldPath) {
    match t {
        TokenSpec::Fixed(n) => {
            if *n == 0 {
                c.report(ErrorKind::InvalidValue, p.clone(), "a request has at least one token", None);
            }
        }
        TokenSpec::Uniform { min, max } => {
            if min > max || *min == 0 {
                c.report(ErrorKind::InvalidValue, p.key("uniform"), format!("need 1 ≤ min ≤ max, got min {min} and max {max}"), None);
            }
        }
        TokenSpec::Lognormal { median, sigma, max } => {
            c.positive(p.key("lognormal").key("median"), "the median", *median);
            c.non_negative(p.key("lognormal").key("sigma"), "sigma", *sigma);
            if let Some(max) = max {
                c.at_least_one(p.key("lognormal").key("max"), "max", *max);
            }
        }
        TokenSpec::Geometric { mean } => {
            if !(*mean >= 1.0) || !mean.is_finite() {
                c.report(ErrorKind::InvalidValue, p.key("geometric").key("mean"), format!("the mean must be at least 1, not {mean}"), None);
            }
        }
    }
}
