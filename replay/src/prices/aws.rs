//! `aws ec2 describe-spot-price-history` JSON.

use super::{Capacity, Lines, PriceFormat, PriceHistory, PricePoint, parse_price};
use crate::csv::RowError;
use crate::{ReadOptions, ReadReport, ReplayError};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use twin_calendar::parse_iso8601;

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
