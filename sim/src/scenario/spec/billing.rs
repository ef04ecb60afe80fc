//! How the ledger bills: energy, minimum charges, ledger periods, currency.

use crate::scenario::duration::Dur;
use serde::{Deserialize, Serialize};

/// How the ledger bills.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BillingSpec {
    /// Power usage effectiveness of on-premises data centres. Default 1.3.
    pub pue: f64,
    /// Electricity price for on-premises pools, per kWh. Default 0.12.
    pub energy_price_per_kwh: f64,
    /// The shortest billed lifetime of a cloud node. Default `"60s"` (AWS, GCP).
    pub minimum_charge: Dur,
    /// Length of one charge period in the exported ledger. Default `"1h"`.
    pub ledger_period: Dur,
    /// Currency code shown in reports. Default `"USD"`.
    pub currency: String,
}

impl Default for BillingSpec {
    fn default() -> Self {
        BillingSpec {
            pue: 1.3,
            energy_price_per_kwh: 0.12,
            minimum_charge: Dur::secs(60),
            ledger_period: Dur::secs(3_600),
            currency: "USD".into(),
        }
    }
}
