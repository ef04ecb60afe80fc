//! How the ledger bills: energy, minimum charges, ledger periods, currency.

use crate::scenario::duration::Dur;
use serde::{Deserialize, Serialize};

/// How the ledger bills.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSpec {
    /// Power usage effectiveness of on-premises data centres. Default 1.3.
    #[serde(default = "default_pue")]
    pub pue: f64,
    /// Electricity price for on-premises pools, per kWh. Default 0.12.
    #[serde(default = "default_energy_price")]
    pub energy_price_per_kwh: f64,
    /// The shortest billed lifetime of a cloud node. Default `"60s"` (AWS, GCP).
    #[serde(default = "default_minimum_charge")]
    pub minimum_charge: Dur,
    /// Length of one charge period in the exported ledger. Default `"1h"`.
    #[serde(default = "default_ledger_period")]
    pub ledger_period: Dur,
    /// Currency code shown in reports. Default `"USD"`.
    #[serde(default = "default_currency")]
    pub currency: String,
}

impl Default for BillingSpec {
    fn default() -> Self {
        BillingSpec {
            pue: default_pue(),
            energy_price_per_kwh: default_energy_price(),
            minimum_charge: default_minimum_charge(),
            ledger_period: default_ledger_period(),
            currency: default_currency(),
        }
    }
}

fn default_pue() -> f64 {
    1.3
}

fn default_energy_price() -> f64 {
    0.12
}

fn default_minimum_charge() -> Dur {
    Dur::secs(60)
}

fn default_ledger_period() -> Dur {
    Dur::secs(3_600)
}

fn default_currency() -> String {
    "USD".into()
}
