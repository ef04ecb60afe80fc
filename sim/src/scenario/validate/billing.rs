//! Checks of the billing settings.

use super::checker::Checker;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::BillingSpec;
use crate::time::SimDuration;

pub(super) fn check_billing(c: &mut Checker<'_>, b: &BillingSpec, path: &FieldPath) {
    if !(b.pue >= 1.0) {
        c.report(
            ErrorKind::InvalidValue,
            path.key("pue"),
            format!("PUE must be at least 1, not {}", b.pue),
            Some("a PUE of 1.1 to 1.6 is typical".into()),
        );
    }
    c.non_negative(path.key("energy_price_per_kwh"), "the energy price", b.energy_price_per_kwh);
    c.at_least(path.key("ledger_period"), "the ledger period", b.ledger_period, SimDuration::from_secs(1));
}
