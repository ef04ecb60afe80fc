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
//!
//! One file per source: `gcp.rs`, `aws.rs` (spot price history),
//! `advisor.rs` (Spot Advisor CSV and JSON); the shared types in `types.rs`;
//! detection and the reader of any of them here; Parquet in `parquet.rs`.

mod advisor;
mod aws;
mod gcp;
mod parquet;
#[cfg(test)]
mod tests;
mod types;

pub use advisor::{read_advisor_csv, read_advisor_json};
pub use aws::read_aws_spot_history;
pub use gcp::read_gcp_changes;
pub use parquet::{advisor_frame, read_advisor_parquet, read_parquet, to_frame, write_advisor_parquet, write_parquet};
pub use twin_calendar::parse_iso8601;
pub use types::{AdvisorEntry, BAND_LABELS, Capacity, PriceError, PriceHistory, PricePoint, advisor_band, close_matches};

use crate::csv::RowError;
use crate::{ReadOptions, ReadReport, ReplayError};
use std::path::Path;

/// A price or advisor file format. Serde reads and writes its [`PriceFormat::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
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

format_names!(PriceFormat {
    GcpChanges => "gcp-changes",
    AwsSpotHistory => "aws-spot-history",
    SpotAdvisorCsv => "spot-advisor-csv",
    SpotAdvisorJson => "spot-advisor-json",
});

impl PriceFormat {
    /// From a name in [`PriceFormat::NAMES`].
    pub fn from_name(s: &str) -> Option<PriceFormat> {
        PriceFormat::ALL.into_iter().find(|f| f.name() == s)
    }
}

/// Guesses the format from the text: a JSON file by its keys, a CSV file by its header.
pub fn detect(text: &str) -> Option<PriceFormat> {
    let first = text.lines().map(|l| l.trim().trim_start_matches('\u{feff}')).find(|l| !l.is_empty())?;
    if first.starts_with('{') || first.starts_with('[') {
        let spot = memchr::memmem::find(text.as_bytes(), b"\"SpotPriceHistory\"");
        let advisor = memchr::memmem::find(text.as_bytes(), b"\"spot_advisor\"");
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

/// Reads a price or advisor file by path, once (bytes that are not UTF-8 are replaced).
pub fn read_file(path: &Path, format: Option<PriceFormat>, opts: &ReadOptions) -> Result<(Prices, ReadReport), ReplayError> {
    let bytes = std::fs::read(path).map_err(|source| ReplayError::Io { path: path.to_path_buf(), source })?;
    read_from_bytes(&bytes, &path.display().to_string(), format, opts)
}

/// Reads a price or advisor file's bytes already in memory (a caller that
/// read the file to tell its kind hands them over rather than reading it
/// again; bytes that are not UTF-8 are replaced).
pub fn read_from_bytes(
    bytes: &[u8],
    origin: &str,
    format: Option<PriceFormat>,
    opts: &ReadOptions,
) -> Result<(Prices, ReadReport), ReplayError> {
    read(&crate::text::from_bytes(bytes), origin, format, opts)
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

/// A date's midnight (UTC), ns since the epoch.
fn parse_day(field: &str, s: &str) -> Result<i64, RowError> {
    twin_calendar::parse_date_ns(s).ok_or_else(|| (Some(field.into()), format!("`{s}` is not a date (YYYY-MM-DD)")))
}

/// Line starts of a text, to turn byte offsets into 1-based lines.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        Lines { text, starts: crate::text::line_starts(text) }
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
