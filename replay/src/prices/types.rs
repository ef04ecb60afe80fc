//! What the price readers give: change points and their series, capacities,
//! Spot Advisor entries, and the "did you mean" of a missing series.

use std::fmt;

/// How an instance is bought.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capacity {
    /// Pay as you go, never reclaimed.
    OnDemand,
    /// Spare capacity at a discount, reclaimable by the provider.
    Spot,
}

impl Capacity {
    /// The name in files and messages: `on-demand` or `spot`.
    pub fn name(self) -> &'static str {
        match self {
            Capacity::OnDemand => "on-demand",
            Capacity::Spot => "spot",
        }
    }

    /// From a name (`on-demand`, `ondemand`, `spot`, `preemptible`; any case).
    pub fn from_name(s: &str) -> Option<Capacity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "on-demand" | "ondemand" | "on_demand" => Some(Capacity::OnDemand),
            "spot" | "preemptible" => Some(Capacity::Spot),
            _ => None,
        }
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One price change: from `time_ns` on, until the next point of the same series.
#[derive(Clone, Debug, PartialEq)]
pub struct PricePoint {
    /// When the price took effect, ns since the Unix epoch (UTC).
    pub time_ns: i64,
    /// The provider's machine or instance type (`a3-highgpu-8g`, `p5.48xlarge`).
    pub instance_type: String,
    /// Region (`us-central1`) or availability zone (`us-east-1a`).
    pub location: String,
    /// Spot or on-demand.
    pub capacity: Capacity,
    /// Price per instance-hour.
    pub price_per_hour: f64,
    /// ISO 4217 currency of the price; `USD` for every reader here.
    pub currency: String,
}

/// Price change points, sorted by (instance type, location, capacity, time),
/// stably: points at equal keys keep file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceHistory {
    /// The points, sorted.
    pub rows: Vec<PricePoint>,
}

/// Why [`PriceHistory::series`] found no prices: what a user sees when a
/// scenario names a machine type or location the price file lacks.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PriceError {
    /// No point has this instance type.
    #[error("the prices have no instance type `{instance_type}`{}; they cover {known} types", suggestions(did_you_mean))]
    UnknownInstanceType {
        /// The type asked for.
        instance_type: String,
        /// Close names that are present, closest first.
        did_you_mean: Vec<String>,
        /// How many types are present.
        known: usize,
    },
    /// The instance type has prices, but not in this location.
    #[error("`{instance_type}` has no prices in `{location}`{}; it is priced in {} locations: {}", suggestions(did_you_mean), available.len(), listing(available))]
    UnknownLocation {
        /// The type asked for.
        instance_type: String,
        /// The location asked for.
        location: String,
        /// Close locations where the type is priced, closest first.
        did_you_mean: Vec<String>,
        /// Every location where the type is priced.
        available: Vec<String>,
    },
    /// The type is priced in the location, but not with this capacity.
    #[error("`{instance_type}` in `{location}` has no {capacity} prices, only {}", other(*capacity))]
    NoCapacity {
        /// The type asked for.
        instance_type: String,
        /// The location asked for.
        location: String,
        /// The capacity asked for.
        capacity: Capacity,
    },
}

fn suggestions(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => format!(" (did you mean {last}?)"),
        Some((last, rest)) => format!(" (did you mean {} or {last}?)", rest.join(", ")),
        None => String::new(),
    }
}

fn listing(names: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut s = names.iter().take(SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

fn other(c: Capacity) -> &'static str {
    match c {
        Capacity::Spot => Capacity::OnDemand.name(),
        Capacity::OnDemand => Capacity::Spot.name(),
    }
}

/// Up to three of `known` close to `asked`, closest first (by edit
/// distance, then name): a name within `max(2, len / 3)` edits of `asked`,
/// `len` being the known name's length in chars (the rule the simulator's
/// "did you mean" follows), or one that contains `asked` or is contained in
/// it (for names of 3 chars or more). Distances are Levenshtein's over
/// chars, case aside.
pub fn close_matches<'a>(asked: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let lower = asked.to_lowercase();
    let mut hits: Vec<(usize, &str)> = known
        .into_iter()
        .filter_map(|k| {
            let kl = k.to_lowercase();
            let d = strsim::levenshtein(&lower, &kl);
            let limit = (kl.chars().count() / 3).max(2);
            let contains = lower.chars().count() >= 3 && (kl.contains(&lower) || lower.contains(&kl));
            (d <= limit || contains).then_some((d, k))
        })
        .collect();
    hits.sort();
    hits.dedup();
    hits.into_iter().take(3).map(|(_, k)| k.to_string()).collect()
}

impl PriceHistory {
    /// A history of `rows`, sorted stably by (instance type, location, capacity, time).
    pub fn new(mut rows: Vec<PricePoint>) -> PriceHistory {
        rows.sort_by(|a, b| key(a).cmp(&key(b)));
        PriceHistory { rows }
    }

    /// Points.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The instance types present, sorted, once each.
    pub fn instance_types(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.rows.iter().map(|r| r.instance_type.as_str()).collect();
        v.dedup();
        v
    }

    /// The locations where `instance_type` is priced, sorted, once each.
    pub fn locations(&self, instance_type: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self.of_type(instance_type).iter().map(|r| r.location.as_str()).collect();
        v.dedup();
        v
    }

    fn of_type(&self, instance_type: &str) -> &[PricePoint] {
        let lo = self.rows.partition_point(|r| r.instance_type.as_str() < instance_type);
        let hi = self.rows.partition_point(|r| r.instance_type.as_str() <= instance_type);
        &self.rows[lo..hi.max(lo)]
    }

    /// The change points of one series as (time ns, price per hour), in time
    /// order: points at the same time collapse to the last in file order, and
    /// a point whose price equals the one before (within a relative 1e-9, as
    /// rounding noise between snapshots is) is dropped. An error names close
    /// instance types or locations when the series is absent.
    pub fn series(&self, instance_type: &str, location: &str, capacity: Capacity) -> Result<Vec<(i64, f64)>, PriceError> {
        let of_type = self.of_type(instance_type);
        if of_type.is_empty() {
            let types = self.instance_types();
            return Err(PriceError::UnknownInstanceType {
                instance_type: instance_type.into(),
                did_you_mean: close_matches(instance_type, types.iter().copied()),
                known: types.len(),
            });
        }
        let lo = of_type.partition_point(|r| (r.location.as_str(), r.capacity) < (location, capacity));
        let hi = of_type.partition_point(|r| (r.location.as_str(), r.capacity) <= (location, capacity));
        let points = &of_type[lo..hi.max(lo)];
        if points.is_empty() {
            let available: Vec<String> = self.locations(instance_type).into_iter().map(str::to_string).collect();
            if available.iter().any(|l| l == location) {
                return Err(PriceError::NoCapacity { instance_type: instance_type.into(), location: location.into(), capacity });
            }
            return Err(PriceError::UnknownLocation {
                instance_type: instance_type.into(),
                location: location.into(),
                did_you_mean: close_matches(location, available.iter().map(String::as_str)),
                available,
            });
        }
        let mut out: Vec<(i64, f64)> = Vec::new();
        for p in points {
            if let Some(last) = out.last_mut()
                && last.0 == p.time_ns
            {
                last.1 = p.price_per_hour;
                if out.len() >= 2 && same_price(out[out.len() - 2].1, out[out.len() - 1].1) {
                    out.pop();
                }
                continue;
            }
            if out.last().is_some_and(|l| same_price(l.1, p.price_per_hour)) {
                continue;
            }
            out.push((p.time_ns, p.price_per_hour));
        }
        Ok(out)
    }

    /// The price in force at `time_ns`: `None` before the series' first point.
    pub fn price_at(&self, instance_type: &str, location: &str, capacity: Capacity, time_ns: i64) -> Result<Option<f64>, PriceError> {
        let s = self.series(instance_type, location, capacity)?;
        let i = s.partition_point(|p| p.0 <= time_ns);
        Ok(i.checked_sub(1).map(|i| s[i].1))
    }
}

fn key(p: &PricePoint) -> (&str, &str, Capacity, i64) {
    (&p.instance_type, &p.location, p.capacity, p.time_ns)
}

fn same_price(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// A Spot Advisor row: how often an instance type is reclaimed in a region,
/// and how much cheaper than on-demand it is.
#[derive(Clone, Debug, PartialEq)]
pub struct AdvisorEntry {
    /// When the advisor data was taken (midnight UTC, ns since the epoch), when known.
    pub snapshot: Option<i64>,
    /// Region (`us-east-1`).
    pub region: String,
    /// Operating system (`Linux`, `Windows`).
    pub os: String,
    /// Instance type (`p5.48xlarge`).
    pub instance_type: String,
    /// Savings over on-demand, percent (the advisor's `s`; negative when spot costs more).
    pub savings_pct: i32,
    /// Interruption frequency band 0..=4 (the advisor's `r`).
    pub band: u8,
    /// The band's label (`<5%`, `5-10%`, `10-15%`, `15-20%`, `>20%`).
    pub label: String,
}

/// The advisor's band labels, by band.
pub const BAND_LABELS: [&str; 5] = ["<5%", "5-10%", "10-15%", "15-20%", ">20%"];

/// The entry for `instance_type` in `region` from the newest snapshot (an
/// undated entry counts as older than any dated one; Linux wins a tie, then
/// the later entry).
pub fn advisor_band<'a>(entries: &'a [AdvisorEntry], region: &str, instance_type: &str) -> Option<&'a AdvisorEntry> {
    entries
        .iter()
        .filter(|e| e.region == region && e.instance_type == instance_type)
        .max_by_key(|e| (e.snapshot, e.os.eq_ignore_ascii_case("linux")))
}
