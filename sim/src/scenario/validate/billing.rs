//! Checks of the billing settings.

use super::checker::Checker;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::BillingSpec;
use crate::time::SimDuration;

/// Checks `[billing]`, at `path`.
pub(super) fn check_billing(c: &mut Checker<'_>, b: &BillingSpec, path: &FieldPath) {
    c.pue(path.key("pue"), b.pue);
    c.non_negative(path.key("energy_price_per_kwh"), "the energy price", b.energy_price_per_kwh);
    c.at_least(path.key("ledger_period"), "the ledger period", b.ledger_period, SimDuration::from_secs(1));
}
