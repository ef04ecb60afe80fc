//! AWS Spot Advisor data: the flattened CSV and AWS's own JSON.

use super::{AdvisorEntry, BAND_LABELS, Lines, PriceFormat, parse_day};
use crate::csv::{RowError, csv_rows};
use crate::{ReadOptions, ReadReport, ReplayError};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

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
