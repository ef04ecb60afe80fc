//! Markets: price processes and histories, spot interruptions and stock-outs.

use super::defaults::{one, secs};
use crate::scenario::duration::Dur;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A price process, per node-hour.
#[derive(Clone, Debug, Serialize)]
pub enum PriceSpec {
    /// One price for the whole run. Written as a bare number or `{ fixed = 12.5 }`.
    Fixed(f64),
    /// An Ornstein-Uhlenbeck process around a mean, with jumps.
    MeanReverting(MeanRevertingSpec),
    /// Piecewise-constant prices from a table, optionally repeating.
    Table(PriceTableSpec),
    /// A real price history (GCP price changes, AWS spot price history),
    /// read at the edge and replayed as a table.
    History(PriceHistorySpec),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum PriceSpecTagged {
    Fixed(f64),
    MeanReverting(MeanRevertingSpec),
    Table(PriceTableSpec),
    History(PriceHistorySpec),
}

named_enum! {
    /// Formats of price histories (`price.history.format`).
    pub enum PriceHistoryFormat {
        /// From the file's extension and content.
        #[default]
        Auto = "auto",
        /// GCP's price-change CSV.
        GcpChanges = "gcp-changes",
        /// `aws ec2 describe-spot-price-history` JSON.
        AwsSpotHistory = "aws-spot-history",
        /// Twin's price Parquet (from `twin trace import`).
        Parquet = "parquet",
    }
}

named_enum! {
    /// Which prices a price history replays (`price.history.capacity`).
    pub enum PriceHistoryCapacity {
        /// Spot (preemptible) prices.
        #[default]
        Spot = "spot",
        /// On-demand prices.
        OnDemand = "on-demand",
    }
}

/// A recorded price history replayed from a calendar date.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriceHistorySpec {
    /// The file, relative to the scenario file: GCP's price-change CSV or
    /// `aws ec2 describe-spot-price-history` JSON (or Parquet from `twin trace import`).
    pub file: String,
    /// Its format. Default `"auto"` (from the extension and content).
    #[serde(default)]
    pub format: PriceHistoryFormat,
    /// The machine type as the file names it (`a3-highgpu-8g`, `p5.48xlarge`). Default: the pool's node type.
    #[serde(default)]
    pub instance_type: Option<String>,
    /// Region or zone as the file names it. Default: the pool's zone if set, else its region.
    #[serde(default)]
    pub location: Option<String>,
    /// Which of the file's prices to replay: `"spot"` or `"on-demand"`. Default `"spot"`.
    #[serde(default)]
    pub capacity: PriceHistoryCapacity,
    /// The calendar date (UTC, `YYYY-MM-DD`) the run's time zero stands for:
    /// the price holding then is the first price.
    pub start: String,
    /// Replay this many times faster (7 plays a week of history in a day). Default 1.
    #[serde(default = "one")]
    pub speed: f64,
}

impl<'de> Deserialize<'de> for PriceSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PriceSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a price per node-hour, or a table with one of `fixed`, `mean_reverting`, `table`, `history`")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PriceSpec, E> {
                Ok(PriceSpec::Fixed(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PriceSpec, E> {
                Ok(PriceSpec::Fixed(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PriceSpec, E> {
                Ok(PriceSpec::Fixed(v as f64))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<PriceSpec, A::Error> {
                let tagged = PriceSpecTagged::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(match tagged {
                    PriceSpecTagged::Fixed(p) => PriceSpec::Fixed(p),
                    PriceSpecTagged::MeanReverting(m) => PriceSpec::MeanReverting(m),
                    PriceSpecTagged::Table(t) => PriceSpec::Table(t),
                    PriceSpecTagged::History(h) => PriceSpec::History(h),
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A mean-reverting price with jumps: `dP = θ(μ − P)dt + σμ dW`, plus jumps
/// arriving as a Poisson process whose relative size is exponential.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MeanRevertingSpec {
    /// The long-run mean μ, per node-hour.
    pub mean: f64,
    /// The price at the start. Default: the mean.
    #[serde(default)]
    pub initial: Option<f64>,
    /// Reversion speed θ, per hour. Default 0.5.
    #[serde(default = "reversion_per_hour")]
    pub reversion_per_hour: f64,
    /// Volatility σ, as a fraction of the mean per square root of an hour. Default 0.05.
    #[serde(default = "volatility")]
    pub volatility: f64,
    /// Mean number of jumps per day. Default 0.
    #[serde(default)]
    pub jumps_per_day: f64,
    /// Mean relative jump size (0.3 = +30% of the mean). Default 0.3.
    #[serde(default = "jump_size")]
    pub jump_size: f64,
    /// Lowest price. Default: 10% of the mean.
    #[serde(default)]
    pub floor: Option<f64>,
    /// Highest price. Default: none.
    #[serde(default)]
    pub cap: Option<f64>,
    /// How often the price changes. Default `"5m"`.
    #[serde(default = "secs::<300>")]
    pub tick: Dur,
}

fn reversion_per_hour() -> f64 {
    0.5
}

fn volatility() -> f64 {
    0.05
}

fn jump_size() -> f64 {
    0.3
}

impl MeanRevertingSpec {
    /// The lowest price: `floor`, or 10% of the mean.
    pub fn floor_price(&self) -> f64 {
        self.floor.unwrap_or(0.1 * self.mean)
    }
}

/// Piecewise-constant prices: each point's price holds until the next point.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTableSpec {
    /// Change points in increasing time; the first must be at `"0s"`.
    pub points: Vec<PricePoint>,
    /// Repeat the table with this period (such as `"24h"`). Default: hold the last price.
    #[serde(default)]
    pub repeat_every: Option<Dur>,
}

/// One change point of a price table.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PricePoint {
    /// When the price starts to hold.
    pub at: Dur,
    /// The price per node-hour from then on.
    pub price: f64,
}

/// Spot interruptions: a constant hazard per node, with a notice period.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InterruptionSpec {
    /// Interruptions per node-hour. Give this or `band`.
    pub rate_per_hour: Option<f64>,
    /// An AWS Spot Advisor band (`"<5%"`, `"5-10%"`, `"10-15%"`, `"15-20%"`,
    /// `">20%"`: the share of instances interrupted in a month); the band's
    /// middle becomes the hazard. Give this, `rate_per_hour` or `advisor`.
    pub band: Option<String>,
    /// The band from AWS Spot Advisor data (its `spot-advisor-data.json`, or
    /// the flattened CSV), newest snapshot, for this pool's instance type and region.
    pub advisor: Option<AdvisorRefSpec>,
    /// Warning before the node is taken. Default `"2m"` (AWS).
    pub notice: Dur,
}

/// Where to look a pool's Spot Advisor band up.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisorRefSpec {
    /// The advisor file, relative to the scenario file.
    pub file: String,
    /// The instance type. Default: the pool's node type.
    #[serde(default)]
    pub instance_type: Option<String>,
    /// The region. Default: the pool's region.
    #[serde(default)]
    pub region: Option<String>,
}

impl Default for InterruptionSpec {
    fn default() -> Self {
        InterruptionSpec { rate_per_hour: None, band: None, advisor: None, notice: Dur::secs(120) }
    }
}

/// Spells when a spot pool has no capacity to give.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StockoutSpec {
    /// Mean time between stock-outs (exponential).
    pub mean_available: Dur,
    /// Mean length of a stock-out (exponential).
    pub mean_duration: Dur,
}
