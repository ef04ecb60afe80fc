//! Cloud GPU prices over time, and AWS's spot interruption bands.
//!
//! | format | file | becomes |
//! | --- | --- | --- |
//! | `gcp-changes` | GCP change-point CSV (`snapshot_date,…,machine_type,…,region,ondemand_usd_per_hour,spot_usd_per_hour`) | [`PriceHistory`] |
//! | `aws-spot-history` | `aws ec2 describe-spot-price-history` JSON: one page, pages concatenated, or an array of pages | [`PriceHistory`] |
//! | `spot-advisor-csv` | the flattened Spot Advisor CSV (`snapshot_commit_date,…,region,os,instance_type,…,interruption_band,…`) | [`AdvisorEntry`]s |
//! | `spot-advisor-json` | AWS's `spot-advisor-data.json` (`ranges`, `spot_advisor`) | [`AdvisorEntry`]s |
//!
//! A [`PriceHistory`] is a list of change points: a price holds from its
//! point until the next point of the same (instance type, location,
//! capacity). A GCP row gives an on-demand point and, once the type has a spot
//! SKU, a spot point, both at the snapshot date's midnight UTC. AWS gives spot
//! points per availability zone; only Linux/UNIX prices are kept (the
//! canonical schema has no operating system), the others are counted in the
//! report's notes.
//!
//! ```
//! use twin_replay::prices::{self, Capacity, Prices};
//! use twin_replay::ReadOptions;
//! let text = "snapshot_date,source_commit,machine_type,gpu_model,gpu_count,region,ondemand_usd_per_hour,spot_usd_per_hour\n\
//!             2024-05-17,abc,a3-highgpu-8g,h100-80gb,8,us-central1,87.83,61.95\n\
//!             2024-07-08,def,a3-highgpu-8g,h100-80gb,8,us-central1,88.49,48.77\n";
//! let (Prices::History(h), report) = prices::read(text, "gcp.csv", None, &ReadOptions::default()).unwrap() else { panic!() };
//! assert_eq!((report.format.as_str(), h.len()), ("gcp-changes", 4));
//! let spot = h.series("a3-highgpu-8g", "us-central1", Capacity::Spot).unwrap();
//! assert_eq!(spot.iter().map(|p| p.1).collect::<Vec<_>>(), [61.95, 48.77]);
//! let err = h.series("a3-highgpu-8g", "us-centrl1", Capacity::Spot).unwrap_err().to_string();
//! assert!(err.contains("did you mean `us-central1`"), "{err}");
//! ```

use crate::timefmt::{parse_clock, parse_date};
use crate::{ReadOptions, ReadReport, ReplayError};
use polars::prelude::*;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

const DAY_NS: i64 = 86_400_000_000_000;

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

/// Levenshtein distance over chars, case-insensitive.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Up to three of `known` close to `asked`: within a quarter of its length
/// in edits (at least 2), or containing it, or contained in it; closest first.
pub fn close_matches<'a>(asked: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let lower = asked.to_lowercase();
    let limit = (asked.chars().count() / 4).max(2);
    let mut hits: Vec<(usize, &str)> = known
        .into_iter()
        .filter_map(|k| {
            let d = distance(asked, k);
            let kl = k.to_lowercase();
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

/// A price or advisor file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceFormat {
    /// GCP change-point CSV.
    GcpChanges,
    /// `aws ec2 describe-spot-price-history` JSON.
    AwsSpotHistory,
    /// Spot Advisor, flattened CSV.
    SpotAdvisorCsv,
    /// Spot Advisor, AWS's `spot-advisor-data.json`.
    SpotAdvisorJson,
}

impl PriceFormat {
    /// Names as the command line takes them.
    pub const NAMES: &'static str = "gcp-changes, aws-spot-history, spot-advisor-csv, spot-advisor-json";

    /// The format's name.
    pub fn name(self) -> &'static str {
        match self {
            PriceFormat::GcpChanges => "gcp-changes",
            PriceFormat::AwsSpotHistory => "aws-spot-history",
            PriceFormat::SpotAdvisorCsv => "spot-advisor-csv",
            PriceFormat::SpotAdvisorJson => "spot-advisor-json",
        }
    }

    /// From a name in [`PriceFormat::NAMES`].
    pub fn from_name(s: &str) -> Option<PriceFormat> {
        [PriceFormat::GcpChanges, PriceFormat::AwsSpotHistory, PriceFormat::SpotAdvisorCsv, PriceFormat::SpotAdvisorJson]
            .into_iter()
            .find(|f| f.name() == s)
    }
}

/// Guesses the format from the text: a JSON file by its keys, a CSV file by its header.
pub fn detect(text: &str) -> Option<PriceFormat> {
    let first = text.lines().map(|l| l.trim().trim_start_matches('\u{feff}')).find(|l| !l.is_empty())?;
    if first.starts_with('{') || first.starts_with('[') {
        let spot = text.find("\"SpotPriceHistory\"");
        let advisor = text.find("\"spot_advisor\"");
        return match (spot, advisor) {
            (Some(s), Some(a)) if a < s => Some(PriceFormat::SpotAdvisorJson),
            (Some(_), _) => Some(PriceFormat::AwsSpotHistory),
            (None, Some(_)) => Some(PriceFormat::SpotAdvisorJson),
            (None, None) => None,
        };
    }
    let header = first.to_ascii_lowercase();
    if header.contains("machine_type") && header.contains("spot_usd_per_hour") {
        Some(PriceFormat::GcpChanges)
    } else if header.contains("instance_type") && header.contains("interruption_band") {
        Some(PriceFormat::SpotAdvisorCsv)
    } else {
        None
    }
}

/// What a price file held.
#[derive(Clone, Debug, PartialEq)]
pub enum Prices {
    /// Price change points.
    History(PriceHistory),
    /// Spot Advisor entries, sorted by (region, os, instance type, snapshot).
    Advisor(Vec<AdvisorEntry>),
}

/// Reads a price or advisor file in `format`, or the detected one.
pub fn read(text: &str, origin: &str, format: Option<PriceFormat>, opts: &ReadOptions) -> Result<(Prices, ReadReport), ReplayError> {
    let format = match format.or_else(|| detect(text)) {
        Some(f) => f,
        None => {
            return Err(ReplayError::Format {
                origin: origin.into(),
                line: 1,
                field: None,
                message: "cannot tell the price format from the content".into(),
                hint: Some(format!("name the format, one of {}", PriceFormat::NAMES)),
            });
        }
    };
    Ok(match format {
        PriceFormat::GcpChanges => read_gcp_changes(text, origin, opts).map(|(h, r)| (Prices::History(h), r))?,
        PriceFormat::AwsSpotHistory => read_aws_spot_history(text, origin, opts).map(|(h, r)| (Prices::History(h), r))?,
        PriceFormat::SpotAdvisorCsv => read_advisor_csv(text, origin, opts).map(|(a, r)| (Prices::Advisor(a), r))?,
        PriceFormat::SpotAdvisorJson => read_advisor_json(text, origin, None, opts).map(|(a, r)| (Prices::Advisor(a), r))?,
    })
}

/// Reads a price or advisor file by path (bytes that are not UTF-8 are replaced).
pub fn read_file(path: &Path, format: Option<PriceFormat>, opts: &ReadOptions) -> Result<(Prices, ReadReport), ReplayError> {
    let bytes = std::fs::read(path).map_err(|source| ReplayError::Io { path: path.to_path_buf(), source })?;
    read(&String::from_utf8_lossy(&bytes), &path.display().to_string(), format, opts)
}

// ---------------------------------------------------------------- CSV rows

/// A CSV header: column names, trimmed and lower-cased.
pub(crate) struct CsvHeader {
    names: Vec<String>,
}

impl CsvHeader {
    /// The index of column `name` (lower case).
    pub(crate) fn col(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Field `name` of `fields` (the column must exist).
    pub(crate) fn get<'a>(&self, fields: &[&'a str], name: &str) -> Result<&'a str, RowError> {
        let Some(i) = self.col(name) else { return Err((Some(name.into()), "no such column".into())) };
        fields
            .get(i)
            .copied()
            .ok_or_else(|| (Some(name.into()), format!("{} fields, fewer than the header's {}", fields.len(), self.names.len())))
    }

    /// Field `name`, or `None` when the header lacks the column.
    pub(crate) fn opt<'a>(&self, fields: &[&'a str], name: &str) -> Result<Option<&'a str>, RowError> {
        if self.col(name).is_some() { self.get(fields, name).map(Some) } else { Ok(None) }
    }
}

/// A bad row: the field concerned, if one, and what is wrong.
pub(crate) type RowError = (Option<String>, String);

/// Reads the data rows of CSV `text` after its header, which must have the
/// `required` columns (`hint` says what the format is). `row` turns one row's
/// fields (and its line) into a value, `Ok(None)` for a row deliberately not kept. Bad rows
/// are skipped and reported with their line, or, with `strict`, stop the read.
/// (Shared by the price and job readers.)
pub(crate) fn csv_rows<T>(
    text: &str,
    origin: &str,
    opts: &ReadOptions,
    report: &mut ReadReport,
    required: &[&str],
    hint: &str,
    mut row: impl FnMut(&CsvHeader, &[&str], usize) -> Result<Option<T>, RowError>,
) -> Result<Vec<T>, ReplayError> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).peekable();
    let Some((h, header)) = lines.next() else { return Ok(out) };
    let header = CsvHeader { names: split_csv(header.trim_start_matches('\u{feff}')).map(|n| n.to_ascii_lowercase()).collect() };
    let missing: Vec<&str> = required.iter().copied().filter(|r| header.col(r).is_none()).collect();
    if !missing.is_empty() {
        return Err(ReplayError::Format {
            origin: origin.into(),
            line: h + 1,
            field: None,
            message: format!("the header lacks {}", missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")),
            hint: Some(hint.into()),
        });
    }
    let ends_cleanly = text.ends_with('\n');
    let mut fields: Vec<&str> = Vec::new();
    while let Some((i, line)) = lines.next() {
        report.lines += 1;
        let last = lines.peek().is_none();
        fields.clear();
        fields.extend(split_csv(line));
        match row(&header, &fields, i + 1) {
            Ok(Some(v)) => {
                out.push(v);
                report.rows += 1;
            }
            Ok(None) => {}
            Err(_) if last && !ends_cleanly => {
                report.truncated_last_line = true;
                report.skipped += 1;
            }
            Err((field, message)) => {
                if opts.strict {
                    return Err(ReplayError::Format {
                        origin: origin.into(),
                        line: i + 1,
                        field,
                        message,
                        hint: Some("without --strict, bad rows are skipped and counted".into()),
                    });
                }
                report.skip(i + 1, field.as_deref(), message);
            }
        }
    }
    Ok(out)
}

/// The fields of a CSV line (no quoted commas in these files; quotes are trimmed).
fn split_csv(line: &str) -> impl Iterator<Item = &str> {
    line.split(',').map(|f| f.trim().trim_matches('"').trim())
}

/// A price: empty is `None`; otherwise a finite, non-negative number.
fn parse_price(field: &str, s: &str) -> Result<Option<f64>, RowError> {
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => Ok(Some(p)),
        _ => Err((Some(field.into()), format!("`{s}` is not a price per hour"))),
    }
}

fn parse_day(field: &str, s: &str) -> Result<i64, RowError> {
    parse_date(s).and_then(|d| d.checked_mul(DAY_NS)).ok_or_else(|| (Some(field.into()), format!("`{s}` is not a date (YYYY-MM-DD)")))
}

// ---------------------------------------------------------------- GCP

/// Reads the GCP change-point CSV: each row an on-demand point and, when
/// `spot_usd_per_hour` is not empty, a spot point, at the snapshot date's
/// midnight UTC. `report.rows` counts rows, the history's length points.
pub fn read_gcp_changes(text: &str, origin: &str, opts: &ReadOptions) -> Result<(PriceHistory, ReadReport), ReplayError> {
    let mut report = ReadReport { format: PriceFormat::GcpChanges.name().into(), ..ReadReport::default() };
    let required = ["snapshot_date", "machine_type", "region", "ondemand_usd_per_hour", "spot_usd_per_hour"];
    let hint = "the GCP change-point CSV's columns are snapshot_date,source_commit,machine_type,gpu_model,gpu_count,region,ondemand_usd_per_hour,spot_usd_per_hour";
    let rows = csv_rows(text, origin, opts, &mut report, &required, hint, |h, f, _| {
        let time_ns = parse_day("snapshot_date", h.get(f, "snapshot_date")?)?;
        let machine = h.get(f, "machine_type")?;
        let region = h.get(f, "region")?;
        if machine.is_empty() || region.is_empty() {
            return Err((Some(if machine.is_empty() { "machine_type" } else { "region" }.into()), "empty".into()));
        }
        let od = parse_price("ondemand_usd_per_hour", h.get(f, "ondemand_usd_per_hour")?)?;
        let spot = parse_price("spot_usd_per_hour", h.get(f, "spot_usd_per_hour")?)?;
        if od.is_none() && spot.is_none() {
            return Err((None, "neither an on-demand nor a spot price".into()));
        }
        let point = |capacity, price_per_hour| PricePoint {
            time_ns,
            instance_type: machine.into(),
            location: region.into(),
            capacity,
            price_per_hour,
            currency: "USD".into(),
        };
        Ok(Some([od.map(|p| point(Capacity::OnDemand, p)), spot.map(|p| point(Capacity::Spot, p))]))
    })?;
    Ok((PriceHistory::new(rows.into_iter().flatten().flatten().collect()), report))
}

// ---------------------------------------------------------------- AWS spot history

/// Line starts of a text, to turn byte offsets into 1-based lines.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        Lines { text, starts: std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect() }
    }

    /// The line where `part`, a slice of the text, begins (1 if it is not one).
    fn of(&self, part: &str) -> usize {
        let base = self.text.as_ptr() as usize;
        match (part.as_ptr() as usize).checked_sub(base) {
            Some(at) if at <= self.text.len() => self.starts.partition_point(|&s| s <= at),
            _ => 1,
        }
    }
}

/// ISO 8601 `YYYY-MM-DDTHH:MM:SS[.f]` with `Z`, `±HH:MM`, `±HHMM` or no
/// offset (read as UTC), to ns since the epoch.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let (date, clock) = s.trim().split_once(['T', 't', ' '])?;
    let (clock, offset_ns) = if let Some(c) = clock.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(at) = clock.get(8..).and_then(|tail| tail.find(['+', '-'])) {
        let (c, off) = clock.split_at(8 + at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 && digits.len() != 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let h: i64 = digits[..2].parse().ok()?;
        let m: i64 = digits.get(2..).filter(|m| !m.is_empty()).map_or(Some(0), |m| m.parse().ok())?;
        if h > 23 || m > 59 {
            return None;
        }
        (c, sign * (h * 60 + m) * 60_000_000_000)
    } else {
        (clock, 0)
    };
    parse_date(date)?.checked_mul(DAY_NS)?.checked_add(parse_clock(clock)?)?.checked_sub(offset_ns)
}

/// Reads `aws ec2 describe-spot-price-history` output: a page
/// (`{"SpotPriceHistory": [...], "NextToken": ...}`), several pages one after
/// another, or a JSON array of pages (or of entries). Entries may come in any
/// order (AWS gives newest first); times may end in `Z` or an offset and
/// carry fractions. Entries whose `ProductDescription` is not Linux/UNIX are
/// left out and counted in `report.ignored_columns`.
pub fn read_aws_spot_history(text: &str, origin: &str, opts: &ReadOptions) -> Result<(PriceHistory, ReadReport), ReplayError> {
    let mut report = ReadReport { format: PriceFormat::AwsSpotHistory.name().into(), ..ReadReport::default() };
    let lines = Lines::new(text);
    let fail = |line, field: Option<&str>, message: String| ReplayError::Format {
        origin: origin.into(),
        line,
        field: field.map(str::to_string),
        message,
        hint: Some("expected the JSON of `aws ec2 describe-spot-price-history`: {\"SpotPriceHistory\": [...]}".into()),
    };
    // Entries as raw JSON slices of `text`, so that problems get their line.
    let mut entries: Vec<&RawValue> = Vec::new();
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
    let mut pages = 0usize;
    loop {
        let value = match values.next() {
            None => break,
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                if pages == 0 || opts.strict {
                    return Err(fail(e.line().max(1), None, format!("not JSON: {e}")));
                }
                report.truncated_last_line |= e.is_eof();
                report.skip(e.line().max(1), None, format!("not JSON, the rest of the file is skipped: {e}"));
                break;
            }
        };
        pages += 1;
        let items: Vec<&RawValue> = if value.get().starts_with('[') {
            serde_json::from_str(value.get()).map_err(|e| fail(lines.of(value.get()), None, e.to_string()))?
        } else {
            vec![value]
        };
        for item in items {
            let page: Result<BTreeMap<String, &RawValue>, _> = serde_json::from_str(item.get());
            match page {
                Ok(map) if map.contains_key("SpotPriceHistory") => {
                    let list = map["SpotPriceHistory"];
                    let list: Vec<&RawValue> = serde_json::from_str(list.get())
                        .map_err(|e| fail(lines.of(list.get()), Some("SpotPriceHistory"), format!("not a list of prices: {e}")))?;
                    entries.extend(list);
                }
                Ok(map) if map.contains_key("InstanceType") => entries.push(item),
                _ => return Err(fail(lines.of(item.get()), None, "neither a page with `SpotPriceHistory` nor a price entry".into())),
            }
        }
    }
    let mut points = Vec::with_capacity(entries.len());
    let mut other_products = 0usize;
    for raw in entries {
        report.lines += 1;
        let line = lines.of(raw.get());
        match spot_entry(raw) {
            Ok(Some(p)) => points.push(p),
            Ok(None) => other_products += 1,
            Err((field, message)) => {
                if opts.strict {
                    return Err(fail(line, field.as_deref(), message));
                }
                report.skip(line, field.as_deref(), message);
            }
        }
    }
    if other_products > 0 {
        report.ignored_columns.push(format!("{other_products} entries whose ProductDescription is not Linux/UNIX"));
    }
    report.rows = points.len();
    Ok((PriceHistory::new(points), report))
}

/// One spot price entry, `None` when it is not a Linux/UNIX price.
fn spot_entry(raw: &RawValue) -> Result<Option<PricePoint>, RowError> {
    let map: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(raw.get()).map_err(|e| (None, format!("not a price entry: {e}")))?;
    let text = |k: &str| -> Result<String, RowError> {
        match map.get(k) {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
            Some(v) => Err((Some(k.into()), format!("`{v}` is not a {k}"))),
            None => Err((Some(k.into()), "missing".into())),
        }
    };
    if let Some(serde_json::Value::String(product)) = map.get("ProductDescription")
        && !product.starts_with("Linux/UNIX")
    {
        return Ok(None);
    }
    let zone = text("AvailabilityZone")?;
    let instance_type = text("InstanceType")?;
    let price = text("SpotPrice")?;
    let price_per_hour = parse_price("SpotPrice", &price)?.ok_or((Some("SpotPrice".into()), "empty".into()))?;
    let stamp = text("Timestamp")?;
    let time_ns = parse_iso8601(&stamp).ok_or((Some("Timestamp".into()), format!("`{stamp}` is not an ISO 8601 time")))?;
    Ok(Some(PricePoint { time_ns, instance_type, location: zone, capacity: Capacity::Spot, price_per_hour, currency: "USD".into() }))
}

// ---------------------------------------------------------------- Spot Advisor

fn sort_entries(entries: &mut [AdvisorEntry]) {
    entries.sort_by(|a, b| (&a.region, &a.os, &a.instance_type, a.snapshot).cmp(&(&b.region, &b.os, &b.instance_type, b.snapshot)));
}

fn parse_band(s: &str) -> Result<u8, RowError> {
    s.parse::<u8>()
        .ok()
        .filter(|b| usize::from(*b) < BAND_LABELS.len())
        .ok_or_else(|| (Some("interruption_band".into()), format!("`{s}` is not a band 0 to 4")))
}

/// Reads the flattened Spot Advisor CSV. `snapshot_commit_date` (or
/// `snapshot_date`) and `interruption_label` are optional; a missing label is
/// the band's standard one.
pub fn read_advisor_csv(text: &str, origin: &str, opts: &ReadOptions) -> Result<(Vec<AdvisorEntry>, ReadReport), ReplayError> {
    let mut report = ReadReport { format: PriceFormat::SpotAdvisorCsv.name().into(), ..ReadReport::default() };
    let required = ["region", "os", "instance_type", "savings_vs_ondemand_pct", "interruption_band"];
    let hint = "the Spot Advisor CSV's columns are snapshot_commit_date,source_commit,region,os,instance_type,vcpu,ram_gb,savings_vs_ondemand_pct,interruption_band,interruption_label";
    let mut entries = csv_rows(text, origin, opts, &mut report, &required, hint, |h, f, _| {
        let date = match h.opt(f, "snapshot_commit_date")? {
            Some(d) => Some(("snapshot_commit_date", d)),
            None => h.opt(f, "snapshot_date")?.map(|d| ("snapshot_date", d)),
        };
        let snapshot = match date {
            Some((_, "")) | None => None,
            Some((name, d)) => Some(parse_day(name, d)?),
        };
        let savings = h.get(f, "savings_vs_ondemand_pct")?;
        let savings_pct =
            savings.parse::<i32>().map_err(|_| (Some("savings_vs_ondemand_pct".into()), format!("`{savings}` is not a percentage")))?;
        let band = parse_band(h.get(f, "interruption_band")?)?;
        let label = match h.opt(f, "interruption_label")? {
            Some(l) if !l.is_empty() => l.to_string(),
            _ => BAND_LABELS[usize::from(band)].to_string(),
        };
        let (region, os, instance_type) = (h.get(f, "region")?, h.get(f, "os")?, h.get(f, "instance_type")?);
        if region.is_empty() || instance_type.is_empty() {
            return Err((Some(if region.is_empty() { "region" } else { "instance_type" }.into()), "empty".into()));
        }
        Ok(Some(AdvisorEntry {
            snapshot,
            region: region.into(),
            os: os.into(),
            instance_type: instance_type.into(),
            savings_pct,
            band,
            label,
        }))
    })?;
    sort_entries(&mut entries);
    Ok((entries, report))
}

#[derive(serde::Deserialize)]
struct AdvisorDoc<'a> {
    #[serde(default)]
    ranges: Vec<AdvisorRange>,
    #[serde(borrow)]
    spot_advisor: BTreeMap<String, BTreeMap<String, BTreeMap<String, &'a RawValue>>>,
}

#[derive(serde::Deserialize)]
struct AdvisorRange {
    index: u8,
    label: String,
}

#[derive(serde::Deserialize)]
struct AdvisorCell {
    s: i32,
    r: u8,
}

/// Reads AWS's `spot-advisor-data.json`; `snapshot` is when it was taken, if
/// known (the file does not say). Labels come from its `ranges`.
pub fn read_advisor_json(
    text: &str,
    origin: &str,
    snapshot: Option<i64>,
    opts: &ReadOptions,
) -> Result<(Vec<AdvisorEntry>, ReadReport), ReplayError> {
    let mut report = ReadReport { format: PriceFormat::SpotAdvisorJson.name().into(), ..ReadReport::default() };
    let lines = Lines::new(text);
    let doc: AdvisorDoc = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| ReplayError::Format {
        origin: origin.into(),
        line: e.line().max(1),
        field: None,
        message: format!("not Spot Advisor data: {e}"),
        hint: Some(
            "expected AWS's spot-advisor-data.json: {\"ranges\": [...], \"spot_advisor\": {region: {os: {type: {\"s\": .., \"r\": ..}}}}}"
                .into(),
        ),
    })?;
    let mut labels: Vec<String> = BAND_LABELS.iter().map(|l| l.to_string()).collect();
    for r in doc.ranges {
        if let Some(l) = labels.get_mut(usize::from(r.index)) {
            *l = r.label;
        }
    }
    let mut entries = Vec::new();
    for (region, by_os) in doc.spot_advisor {
        for (os, by_type) in by_os {
            for (instance_type, raw) in by_type {
                report.lines += 1;
                let cell = serde_json::from_str::<AdvisorCell>(raw.get())
                    .map_err(|e| (None, format!("`{}` is not {{\"s\": savings %, \"r\": band}}: {e}", raw.get())))
                    .and_then(|c| parse_band(&c.r.to_string()).map(|b| (c.s, b)));
                match cell {
                    Ok((savings_pct, band)) => entries.push(AdvisorEntry {
                        snapshot,
                        region: region.clone(),
                        os: os.clone(),
                        instance_type,
                        savings_pct,
                        band,
                        label: labels[usize::from(band)].clone(),
                    }),
                    Err((field, message)) => {
                        let line = lines.of(raw.get());
                        if opts.strict {
                            return Err(ReplayError::Format { origin: origin.into(), line, field, message, hint: None });
                        }
                        report.skip(line, field.as_deref(), message);
                    }
                }
            }
        }
    }
    report.rows = entries.len();
    sort_entries(&mut entries);
    Ok((entries, report))
}

// ---------------------------------------------------------------- Parquet

/// The history as a polars frame: `time_ns`, `instance_type`, `location`,
/// `capacity` (`spot`, `on-demand`), `price_per_hour`, `currency`.
pub fn to_frame(h: &PriceHistory) -> PolarsResult<DataFrame> {
    let r = &h.rows;
    let cols = vec![
        Column::new("time_ns".into(), r.iter().map(|p| p.time_ns).collect::<Vec<_>>()),
        Column::new("instance_type".into(), r.iter().map(|p| p.instance_type.as_str()).collect::<Vec<_>>()),
        Column::new("location".into(), r.iter().map(|p| p.location.as_str()).collect::<Vec<_>>()),
        Column::new("capacity".into(), r.iter().map(|p| p.capacity.name()).collect::<Vec<_>>()),
        Column::new("price_per_hour".into(), r.iter().map(|p| p.price_per_hour).collect::<Vec<_>>()),
        Column::new("currency".into(), r.iter().map(|p| p.currency.as_str()).collect::<Vec<_>>()),
    ];
    DataFrame::new(r.len(), cols)
}

/// Spot Advisor entries as a polars frame: `snapshot_ns` (null when
/// unknown), `region`, `os`, `instance_type`, `savings_pct`, `band`, `label`.
pub fn advisor_frame(entries: &[AdvisorEntry]) -> PolarsResult<DataFrame> {
    let e = entries;
    let cols = vec![
        Column::new("snapshot_ns".into(), e.iter().map(|x| x.snapshot).collect::<Vec<_>>()),
        Column::new("region".into(), e.iter().map(|x| x.region.as_str()).collect::<Vec<_>>()),
        Column::new("os".into(), e.iter().map(|x| x.os.as_str()).collect::<Vec<_>>()),
        Column::new("instance_type".into(), e.iter().map(|x| x.instance_type.as_str()).collect::<Vec<_>>()),
        Column::new("savings_pct".into(), e.iter().map(|x| x.savings_pct).collect::<Vec<_>>()),
        Column::new("band".into(), e.iter().map(|x| u32::from(x.band)).collect::<Vec<_>>()),
        Column::new("label".into(), e.iter().map(|x| x.label.as_str()).collect::<Vec<_>>()),
    ];
    DataFrame::new(e.len(), cols)
}

/// Reads Spot Advisor entries back from Parquet (as [`write_advisor_parquet`] wrote them).
pub fn read_advisor_parquet(path: &Path) -> Result<Vec<AdvisorEntry>, ReplayError> {
    let table = |message: String| ReplayError::Table { path: path.to_path_buf(), message };
    let df = crate::parquet::read_frame(path, None)?;
    let col = |name: &str| df.column(name).map_err(|_| table(format!("no column `{name}`: not Twin Spot Advisor data")));
    let strs = |name: &str| -> Result<Vec<String>, ReplayError> {
        Ok(col(name)?.str().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or_default().to_string()).collect())
    };
    let snapshot: Vec<Option<i64>> = col("snapshot_ns")?.i64().map_err(|e| table(e.to_string()))?.iter().collect();
    let savings: Vec<i32> = col("savings_pct")?.i32().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or(0)).collect();
    let bands: Vec<u32> = col("band")?.u32().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or(0)).collect();
    let (regions, oses, types, labels) = (strs("region")?, strs("os")?, strs("instance_type")?, strs("label")?);
    Ok((0..snapshot.len())
        .map(|i| AdvisorEntry {
            snapshot: snapshot[i],
            region: regions[i].clone(),
            os: oses[i].clone(),
            instance_type: types[i].clone(),
            savings_pct: savings[i],
            band: bands[i].min(4) as u8,
            label: labels[i].clone(),
        })
        .collect())
}

/// Writes Spot Advisor entries as Parquet, whole or not at all.
pub fn write_advisor_parquet(entries: &[AdvisorEntry], path: &Path) -> Result<(), ReplayError> {
    crate::parquet::write_frame(advisor_frame(entries), path)
}

/// Writes the history as Parquet, whole or not at all.
pub fn write_parquet(h: &PriceHistory, path: &Path) -> Result<(), ReplayError> {
    crate::parquet::write_frame(to_frame(h), path)
}

/// Reads a history back from Parquet (as [`write_parquet`] wrote it).
pub fn read_parquet(path: &Path) -> Result<PriceHistory, ReplayError> {
    let table = |message: String| ReplayError::Table { path: path.to_path_buf(), message };
    let df = crate::parquet::read_frame(path, None)?;
    let col = |name: &str| df.column(name).map_err(|_| table(format!("no column `{name}`: not a Twin price history")));
    let strs = |name: &str| -> Result<Vec<String>, ReplayError> {
        Ok(col(name)?.str().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or_default().to_string()).collect())
    };
    let time = col("time_ns")?.i64().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or(0)).collect::<Vec<_>>();
    let price = col("price_per_hour")?.f64().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or(f64::NAN)).collect::<Vec<_>>();
    let (types, locations, capacities, currencies) = (strs("instance_type")?, strs("location")?, strs("capacity")?, strs("currency")?);
    let mut rows = Vec::with_capacity(time.len());
    for (i, (((time_ns, instance_type), location), currency)) in time.into_iter().zip(types).zip(locations).zip(currencies).enumerate() {
        let capacity = Capacity::from_name(&capacities[i]).ok_or_else(|| table(format!("row {i}: capacity `{}`", capacities[i])))?;
        rows.push(PricePoint { time_ns, instance_type, location, capacity, price_per_hour: price[i], currency });
    }
    Ok(PriceHistory::new(rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shared(name: &str) -> Option<String> {
        crate::shared_data("spot_prices", name)
    }

    /// One `describe-spot-price-history` page, as the AWS CLI prints it
    /// (indented, so entries have lines of their own).
    fn aws_page(entries: &[(&str, &str, &str, &str, &str)], next: &str) -> String {
        let list: Vec<serde_json::Value> = entries
            .iter()
            .map(|(zone, ty, product, price, time)| {
                serde_json::json!({"AvailabilityZone": zone, "InstanceType": ty, "ProductDescription": product, "SpotPrice": price, "Timestamp": time})
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({"SpotPriceHistory": list, "NextToken": next})).unwrap()
    }

    fn aws_pages() -> (String, String) {
        let first = aws_page(
            &[
                ("us-east-1a", "p5.48xlarge", "Linux/UNIX", "31.464000", "2025-06-01T10:21:07+00:00"),
                ("us-east-1a", "p5.48xlarge", "Windows", "40.000000", "2025-06-01T10:21:07+00:00"),
                ("us-east-1b", "p5.48xlarge", "Linux/UNIX", "30.100000", "2025-05-31T23:00:00.500Z"),
            ],
            "token",
        );
        let second = aws_page(
            &[
                ("us-east-1a", "p5.48xlarge", "Linux/UNIX", "29.000000", "2025-05-30T12:00:00Z"),
                ("us-east-1a", "p4d.24xlarge", "Linux/UNIX", "9.500000", "2025-05-30T14:00:00+02:00"),
            ],
            "",
        );
        (first, second)
    }

    #[test]
    fn reads_the_real_gcp_changes_with_the_readme_example() {
        let Some(text) = shared("gcp_gpu_vm_ondemand_spot_price_changes_2022-2026.csv") else { return };
        let (Prices::History(h), r) = read(&text, "gcp", None, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap() else {
            panic!("not a history")
        };
        // 16,896 rows: an on-demand point each, a spot point for all but the 811 without a spot SKU yet.
        assert_eq!((r.format.as_str(), r.rows, r.skipped), ("gcp-changes", 16_896, 0));
        assert_eq!(h.len(), 2 * 16_896 - 811);
        assert_eq!(h.instance_types().len(), 29);
        let spot = h.series("a3-highgpu-8g", "us-central1", Capacity::Spot).unwrap();
        let rounded: Vec<f64> = spot.iter().map(|p| (p.1 * 10.0).round() / 10.0).collect();
        let at = |x: f64| rounded.iter().position(|&v| v == x).unwrap_or_else(|| panic!("{x} not in {rounded:?}"));
        assert!(at(62.5) < at(48.8) && at(48.8) < at(35.6) && at(35.6) < at(20.4));
        assert_eq!(rounded.last(), Some(&50.6));
        assert_eq!(crate::timefmt::format_ns(spot[0].0), "2024-05-17 00:00:00.000");
        assert!(spot.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 != w[1].1));
        let od = h.series("a3-highgpu-8g", "us-central1", Capacity::OnDemand).unwrap();
        assert_eq!(od.len(), 2, "{od:?}"); // 87.83, then 88.49 from 2024-05-21 on
        let mid_2025 = crate::timefmt::parse_timestamp("2025-07-01 00:00:00").unwrap();
        let p = h.price_at("a3-highgpu-8g", "us-central1", Capacity::Spot, mid_2025).unwrap().unwrap();
        assert!((p - 20.399).abs() < 1e-3, "{p}");
        assert_eq!(h.price_at("a3-highgpu-8g", "us-central1", Capacity::Spot, 0).unwrap(), None);
        // What a user with a typo sees.
        let e = h.series("a3-highgpu-8g", "us-centrl1", Capacity::Spot).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "`a3-highgpu-8g` has no prices in `us-centrl1` (did you mean `us-central1`?); it is priced in 40 locations: africa-south1, "
            ),
            "{e}"
        );
        let e = h.series("a3-highgpu8g", "us-central1", Capacity::Spot).unwrap_err().to_string();
        assert!(e.contains("did you mean `a3-highgpu-8g`"), "{e}");
        assert!(e.ends_with("they cover 29 types"), "{e}");
    }

    #[test]
    fn reads_the_real_advisor_csv_and_picks_the_newest_snapshot() {
        let Some(text) = shared("aws_spot_advisor_gpu_linux_2021_2025.csv") else { return };
        let (Prices::Advisor(a), r) = read(&text, "advisor", None, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap() else {
            panic!("not advisor data")
        };
        assert_eq!((r.format.as_str(), a.len(), r.skipped), ("spot-advisor-csv", 1144, 0));
        let p5 = advisor_band(&a, "us-east-1", "p5.48xlarge").unwrap();
        assert_eq!((p5.savings_pct, p5.band, p5.label.as_str()), (52, 4, ">20%"));
        let p4d = advisor_band(&a, "us-east-1", "p4d.24xlarge").unwrap();
        assert_eq!((p4d.savings_pct, p4d.band, p4d.label.as_str()), (67, 2, "10-15%"));
        assert_eq!(p4d.snapshot.map(crate::timefmt::format_ns).as_deref(), Some("2025-06-28 00:00:00.000"));
        // 2021's p4d.24xlarge in us-east-1 was band 0.
        let old: Vec<_> = a.iter().filter(|e| e.instance_type == "p4d.24xlarge" && e.region == "us-east-1").collect();
        assert_eq!(old.iter().map(|e| e.band).collect::<Vec<_>>(), [0, 2]);
        assert!(advisor_band(&a, "us-east-1", "p9.huge").is_none());
        // The one negative saving: spot above on-demand.
        assert_eq!(advisor_band(&a, "ca-central-1", "p5.48xlarge").map(|e| (e.savings_pct, e.band)), Some((-62, 0)));
        assert_eq!(a.iter().filter(|e| e.savings_pct < 0).count(), 1);
    }

    #[test]
    fn reads_the_advisor_json_shape_with_its_ranges() {
        let json = r#"{
  "global_rate": "<10%",
  "instance_types": {"p5.48xlarge": {"emr": false, "cores": 192, "ram_gb": 2048.0}},
  "ranges": [
    {"index": 0, "label": "<5%", "dots": 0, "max": 5},
    {"index": 4, "label": ">20%", "dots": 4, "max": 100}
  ],
  "spot_advisor": {
    "us-east-1": {
      "Linux": {"p5.48xlarge": {"s": 52, "r": 4}, "p4d.24xlarge": {"s": 67, "r": 2}},
      "Windows": {"p4d.24xlarge": {"s": 60, "r": 0}}
    },
    "eu-west-1": {"Linux": {"p5.48xlarge": {"s": 40, "r": 9}}}
  }
}"#;
        assert_eq!(detect(json), Some(PriceFormat::SpotAdvisorJson));
        let (a, r) = read_advisor_json(json, "a.json", Some(0), &ReadOptions::default()).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(r.problems.iter().map(|p| p.line).collect::<Vec<_>>(), [13]);
        let p5 = advisor_band(&a, "us-east-1", "p5.48xlarge").unwrap();
        assert_eq!((p5.savings_pct, p5.band, p5.label.as_str(), p5.snapshot), (52, 4, ">20%", Some(0)));
        assert_eq!(advisor_band(&a, "us-east-1", "p4d.24xlarge").unwrap().os, "Linux");
        let e = read_advisor_json(json, "a.json", None, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap_err();
        assert!(e.to_string().starts_with("a.json:13: "), "{e}");
        assert!(read_advisor_json("{\"ranges\": 3}", "b.json", None, &ReadOptions::default()).is_err());
    }

    #[test]
    fn reads_aws_spot_history_pages_in_any_arrangement() {
        let (first, second) = aws_pages();
        let concatenated = format!("{first}\n{second}\n");
        let array = format!("[{first},\n{second}]");
        for text in [&concatenated, &array] {
            assert_eq!(detect(text), Some(PriceFormat::AwsSpotHistory));
            let (h, r) = read_aws_spot_history(text, "aws.json", &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap();
            assert_eq!((h.len(), r.rows, r.lines), (4, 4, 5));
            assert_eq!(r.ignored_columns, ["1 entries whose ProductDescription is not Linux/UNIX"]);
            let a = h.series("p5.48xlarge", "us-east-1a", Capacity::Spot).unwrap();
            let t = |s| parse_iso8601(s).unwrap();
            assert_eq!(a, [(t("2025-05-30T12:00:00Z"), 29.0), (t("2025-06-01T10:21:07Z"), 31.464)]);
            let b = h.series("p5.48xlarge", "us-east-1b", Capacity::Spot).unwrap();
            assert_eq!(b[0].0 % 1_000_000_000, 500_000_000);
            let p4d = h.series("p4d.24xlarge", "us-east-1a", Capacity::Spot).unwrap();
            assert_eq!(crate::timefmt::format_ns(p4d[0].0), "2025-05-30 12:00:00.000");
            let e = h.series("p5.48xlarge", "us-east-1a", Capacity::OnDemand).unwrap_err().to_string();
            assert_eq!(e, "`p5.48xlarge` in `us-east-1a` has no on-demand prices, only spot");
            let e = h.series("p5.48xlarge", "us-east-1", Capacity::Spot).unwrap_err().to_string();
            assert!(e.contains("(did you mean `us-east-1a` or `us-east-1b`?)"), "{e}");
        }
    }

    #[test]
    fn bad_input_is_reported_with_lines() {
        let gcp = "snapshot_date,source_commit,machine_type,gpu_model,gpu_count,region,ondemand_usd_per_hour,spot_usd_per_hour\n\
                   2024-05-17,abc,a3-highgpu-8g,h100-80gb,8,us-central1,87.83,61.95\n\
                   2024-05-32,abc,a3-highgpu-8g,h100-80gb,8,us-central1,87.83,61.95\n\
                   2024-06-01,abc,a3-highgpu-8g,h100-80gb,8,us-central1,cheap,61.95\n\
                   2024-06-02,abc,a3-highgpu-8g,h100-80gb,8,us-central1,,\n\
                   2024-06-03,abc,a3-highgpu-8g\n\
                   2024-06-04,abc,a3-highgpu-8g,h100-80gb,8,us-central1,87";
        let (h, r) = read_gcp_changes(gcp, "g.csv", &ReadOptions::default()).unwrap();
        assert_eq!((h.len(), r.rows, r.skipped, r.truncated_last_line), (2, 1, 5, true));
        assert_eq!(r.problems.iter().map(|p| p.line).collect::<Vec<_>>(), [3, 4, 5, 6]);
        assert_eq!(r.problems[1].field.as_deref(), Some("ondemand_usd_per_hour"));
        let e = read_gcp_changes(gcp, "g.csv", &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap_err().to_string();
        assert!(e.starts_with("g.csv:3: `snapshot_date`: `2024-05-32` is not a date"), "{e}");
        let e = read_gcp_changes("date,price\n1,2\n", "x.csv", &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.starts_with("x.csv:1: the header lacks `snapshot_date`, `machine_type`"), "{e}");

        let advisor = "region,os,instance_type,savings_vs_ondemand_pct,interruption_band\nus-east-1,Linux,p5.48xlarge,52,4\nus-east-1,Linux,p5.48xlarge,52,5\nus-east-1,Linux,p5.48xlarge,most,1\n";
        let (a, r) = read_advisor_csv(advisor, "a.csv", &ReadOptions::default()).unwrap();
        assert_eq!((a.len(), a[0].label.as_str(), a[0].snapshot), (1, ">20%", None));
        assert_eq!(
            r.problems.iter().map(|p| (p.line, p.field.clone().unwrap())).collect::<Vec<_>>(),
            [(3, "interruption_band".to_string()), (4, "savings_vs_ondemand_pct".to_string())]
        );

        let (first, _) = aws_pages();
        let bad = first.replace("30.100000", "lots");
        let line = bad.lines().position(|l| l.contains("\"us-east-1b\"")).unwrap();
        let (h, r) = read_aws_spot_history(&bad, "aws.json", &ReadOptions::default()).unwrap();
        assert_eq!(h.len(), 1);
        // The problem is at the line where its entry opens.
        assert_eq!(r.problems.len(), 1);
        assert!(r.problems[0].line < line + 1 && r.problems[0].line >= line - 2, "{r}");
        assert_eq!(r.problems[0].field.as_deref(), Some("SpotPrice"));
        let cut = format!("{first}\n{}", &first[..first.len() / 2]);
        let (h, r) = read_aws_spot_history(&cut, "aws.json", &ReadOptions::default()).unwrap();
        assert_eq!((h.len(), r.skipped, r.truncated_last_line), (2, 1, true));
        let e = read_aws_spot_history("{\"Spot\": 1}", "x.json", &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.starts_with("x.json:1: neither a page"), "{e}");
        assert!(read("hello", "x", None, &ReadOptions::default()).is_err());
    }

    #[test]
    fn parses_iso_times_with_offsets() {
        let z = parse_iso8601("2025-06-01T10:21:07Z").unwrap();
        assert_eq!(parse_iso8601("2025-06-01T10:21:07+00:00"), Some(z));
        assert_eq!(parse_iso8601("2025-06-01T12:21:07+02:00"), Some(z));
        assert_eq!(parse_iso8601("2025-06-01T05:21:07-0500"), Some(z));
        assert_eq!(parse_iso8601("2025-06-01T10:21:07.250Z"), Some(z + 250_000_000));
        for bad in ["2025-06-01", "2025-06-01T10:21:07+25:00", "2025-06-01T10:21:07+0", "2025-06-01T10:21:07é+00:00"] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_are_detected_and_named() {
        assert_eq!(
            detect("snapshot_date,source_commit,machine_type,gpu_model,gpu_count,region,ondemand_usd_per_hour,spot_usd_per_hour\n"),
            Some(PriceFormat::GcpChanges)
        );
        assert_eq!(
            detect(
                "\u{feff}snapshot_commit_date,source_commit,region,os,instance_type,vcpu,ram_gb,savings_vs_ondemand_pct,interruption_band,interruption_label"
            ),
            Some(PriceFormat::SpotAdvisorCsv)
        );
        assert_eq!(detect("{\"SpotPriceHistory\": []}"), Some(PriceFormat::AwsSpotHistory));
        assert_eq!(detect("time,price"), None);
        for f in PriceFormat::NAMES.split(", ") {
            assert_eq!(PriceFormat::from_name(f).map(PriceFormat::name), Some(f));
        }
        assert_eq!(Capacity::from_name("Spot"), Some(Capacity::Spot));
        assert_eq!(close_matches("a3-highgpu", ["a3-highgpu-8g", "g2-standard-4"]), ["a3-highgpu-8g"]);
    }

    #[test]
    fn round_trips_through_parquet() {
        let (first, second) = aws_pages();
        let (h, _) = read_aws_spot_history(&format!("{first}{second}"), "aws.json", &ReadOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prices.parquet");
        write_parquet(&h, &path).unwrap();
        assert_eq!(read_parquet(&path).unwrap(), h);
        assert_eq!(to_frame(&h).unwrap().width(), 6);
        std::fs::write(dir.path().join("x.parquet"), b"nope").unwrap();
        assert!(read_parquet(&dir.path().join("x.parquet")).is_err());
    }

    fn sample() -> String {
        let (first, second) = aws_pages();
        format!("{first}\n{second}")
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}", strict in any::<bool>()) {
            let opts = ReadOptions { strict, ..ReadOptions::default() };
            let _ = read(&text, "p", None, &opts);
            for f in [PriceFormat::GcpChanges, PriceFormat::AwsSpotHistory, PriceFormat::SpotAdvisorCsv, PriceFormat::SpotAdvisorJson] {
                let _ = read(&text, "p", Some(f), &opts);
            }
            let _ = read(&format!("snapshot_date,machine_type,region,ondemand_usd_per_hour,spot_usd_per_hour\n{text}"), "p", None, &opts);
            let _ = read(&format!("region,os,instance_type,savings_vs_ondemand_pct,interruption_band\n{text}"), "p", None, &opts);
            let _ = parse_iso8601(&text);
        }

        #[test]
        fn mangled_files_never_panic(edits in prop::collection::vec((any::<usize>(), 0usize..8, ".{0,6}"), 1..6), strict in any::<bool>()) {
            let opts = ReadOptions { strict, ..ReadOptions::default() };
            if let Ok((Prices::History(h), _)) = read(&crate::mangle(&sample(), &edits), "p", None, &opts) {
                for t in h.instance_types() {
                    let _ = h.series(t, "us-east-1a", Capacity::Spot);
                }
                let _ = h.series("p5", "x", Capacity::OnDemand);
            }
            let gcp = "snapshot_date,source_commit,machine_type,gpu_model,gpu_count,region,ondemand_usd_per_hour,spot_usd_per_hour\n2024-05-17,abc,a3-highgpu-8g,h100-80gb,8,us-central1,87.83,61.95\n";
            let _ = read(&crate::mangle(gcp, &edits), "p", None, &opts);
        }
    }
}
