//! The reference reading of a line: split at every `,`, each field read
//! by its column's target, with every check and message. The fast path
//! ([`super::fast`]) must give exactly what this gives, and sends any line
//! it does not take whole here; the tests compare the two bit for bit.

use crate::telemetry::Field;
use crate::{ReadReport, Sample};
use twin_calendar::parse_timestamp;

/// What a source column becomes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Target {
    Time,
    Gpu,
    Name,
    Value(Field),
    Throttle,
    Ignored,
    /// Only on the fast path's plan: send the row to the slow path.
    Slow,
}

/// A column: its target, its header unit and how to scale values in that unit.
#[derive(Clone, Debug)]
pub(super) struct Column {
    pub(super) name: String,
    pub(super) target: Target,
    pub(super) unit: Option<String>,
}

pub(super) fn target_of(name: &str) -> Target {
    match name {
        "timestamp" => Target::Time,
        "index" => Target::Gpu,
        "name" | "gpu_name" => Target::Name,
        "utilization.gpu" => Target::Value(Field::UtilGpu),
        "utilization.memory" => Target::Value(Field::UtilMem),
        "memory.used" => Target::Value(Field::MemUsed),
        "memory.total" => Target::Value(Field::MemTotal),
        "power.draw" | "power.draw.instant" | "power.draw.average" => Target::Value(Field::Power),
        "power.limit" | "enforced.power.limit" => Target::Value(Field::PowerLimit),
        "temperature.gpu" => Target::Value(Field::Temp),
        "temperature.memory" => Target::Value(Field::MemTemp),
        "clocks.sm" | "clocks.current.sm" => Target::Value(Field::SmClock),
        "clocks.mem" | "clocks.current.memory" => Target::Value(Field::MemClock),
        "clocks_event_reasons.active" | "clocks_throttle_reasons.active" | "clocks_event_reasons" => Target::Throttle,
        _ => Target::Ignored,
    }
}

/// The canonical unit of a field and the factor from `unit` to it, if known.
pub(super) fn scale(field: Field, unit: &str) -> Option<f64> {
    let f = match (field, unit) {
        (Field::UtilGpu | Field::UtilMem | Field::SmActive, "%") => 1.0,
        (Field::MemUsed | Field::MemTotal, "MiB") => 1.0,
        (Field::MemUsed | Field::MemTotal, "GiB") => 1024.0,
        (Field::MemUsed | Field::MemTotal, "KiB") => 1.0 / 1024.0,
        (Field::MemUsed | Field::MemTotal, "MB") => 1.0,
        (Field::Power | Field::PowerLimit, "W") => 1.0,
        (Field::Power | Field::PowerLimit, "mW") => 1e-3,
        (Field::Energy, "J") => 1.0,
        (Field::Energy, "mJ") => 1e-3,
        (Field::Temp | Field::MemTemp, "C") => 1.0,
        (Field::SmClock | Field::MemClock, "MHz") => 1.0,
        (Field::SmClock | Field::MemClock, "GHz") => 1e3,
        _ => return None,
    };
    Some(f)
}

pub(super) fn parse_header(line: &str) -> Vec<Column> {
    line.split(',')
        .map(|raw| {
            let raw = raw.trim();
            let (name, unit) = match raw.find('[') {
                Some(i) if raw.ends_with(']') => (raw[..i].trim(), Some(raw[i + 1..raw.len() - 1].trim().to_string())),
                _ => (raw, None),
            };
            Column { name: name.to_string(), target: target_of(name), unit }
        })
        .collect()
}

/// A value and its unit, or `None` for `[N/A]` and its kind.
pub(super) fn split_value(v: &str) -> Option<(&str, Option<&str>)> {
    let v = v.trim();
    if v.is_empty() || v.starts_with('[') || v == "N/A" {
        return None;
    }
    Some(match v.split_once(' ') {
        Some((num, unit)) => (num, Some(unit.trim())),
        None => (v, None),
    })
}

pub(super) fn abbreviate(s: &str) -> String {
    if s.chars().count() > 80 { format!("{}…", s.chars().take(80).collect::<String>()) } else { s.to_string() }
}

/// Why a row is bad: (field, message).
pub(super) type RowError = (Option<String>, String);

pub(super) fn parse_row(
    fields: &[&str],
    cols: &[Column],
    report: &mut ReadReport,
    last_name: &mut std::collections::BTreeMap<u32, String>,
) -> Result<Sample, RowError> {
    let mut s = Sample::default();
    let mut time = None;
    let mut gpu = None;
    let mut name = None;
    for (col, raw) in cols.iter().zip(fields) {
        let bad = |msg: String| (Some(col.name.clone()), msg);
        match col.target {
            Target::Ignored | Target::Slow => {}
            Target::Time => time = Some(parse_timestamp(raw).ok_or_else(|| bad(format!("`{}` is not a time", raw.trim())))?),
            Target::Gpu => gpu = Some(raw.trim().parse::<u32>().map_err(|_| bad(format!("`{}` is not a GPU index", raw.trim())))?),
            Target::Name => name = Some(raw.trim()).filter(|n| !n.is_empty()),
            Target::Throttle => {
                if let Some((v, _)) = split_value(raw) {
                    let hex = v.trim_start_matches("0x").trim_start_matches("0X");
                    s.throttle_reasons = Some(u64::from_str_radix(hex, 16).map_err(|_| bad(format!("`{v}` is not a hex bitmask")))?);
                }
            }
            Target::Value(field) => {
                let Some((num, unit)) = split_value(raw) else { continue };
                let x: f64 = num.parse().map_err(|_| bad(format!("`{}` is not a number", raw.trim())))?;
                if !x.is_finite() {
                    return Err(bad(format!("`{}` is not a finite number", raw.trim())));
                }
                let unit = match (unit, col.unit.as_deref()) {
                    (Some(u), Some(h)) if u != h => {
                        report.unit_mismatches += 1;
                        u
                    }
                    (Some(u), _) => u,
                    (None, Some(h)) => h,
                    (None, None) => "",
                };
                let factor = if unit.is_empty() { Some(1.0) } else { scale(field, unit) };
                let factor = factor.ok_or_else(|| bad(format!("unit `{unit}` is not one Twin knows for {}", field.column())))?;
                s.set(field, x * factor);
            }
        }
    }
    s.time_ns = time.ok_or((None, "no timestamp".to_string()))?;
    s.gpu = gpu.unwrap_or(0);
    if let Some(n) = name
        && last_name.get(&s.gpu).map(String::as_str) != Some(n)
    {
        last_name.insert(s.gpu, n.to_string());
        s.gpu_name = Some(n.to_string());
    }
    Ok(s)
}
