//! Request traces: when LLM requests arrived and how many tokens they had.
//!
//! | format | file | fields |
//! | --- | --- | --- |
//! | `azure` | Azure LLM inference 2023 CSV | `TIMESTAMP` (`YYYY-MM-DD HH:MM:SS.fffffff`, UTC), `ContextTokens`, `GeneratedTokens` |
//! | `mooncake` | Mooncake (Kimi) JSON lines | `timestamp` (ms from the trace start), `input_length`, `output_length`; other fields ignored |
//!
//! Both become a [`RequestLog`]: offsets from the first request (sorted;
//! out-of-order rows counted), prompt and output tokens.

use crate::{ReadOptions, ReadReport, ReplayError};
use twin_calendar::parse_timestamp;

/// A request trace in memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestLog {
    /// ns after the first request, non-decreasing.
    pub offsets_ns: Vec<u64>,
    /// Prompt tokens.
    pub prompt: Vec<u32>,
    /// Output tokens.
    pub output: Vec<u32>,
    /// The first request's time, ns since the epoch, when the trace has wall-clock times.
    pub start_ns: Option<i64>,
}

impl RequestLog {
    /// Requests.
    pub fn len(&self) -> usize {
        self.offsets_ns.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.offsets_ns.is_empty()
    }

    /// Mean requests per second over the span.
    pub fn mean_rate(&self) -> f64 {
        let span = self.offsets_ns.last().copied().unwrap_or(0) as f64 / 1e9;
        if span > 0.0 { (self.len().saturating_sub(1)) as f64 / span } else { 0.0 }
    }
}

/// A request-trace format. Serde reads and writes its [`RequestFormat::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestFormat {
    /// Decide from the content ([`RequestFormat::detect`]).
    Auto,
    /// Azure LLM inference 2023 CSV.
    Azure,
    /// Mooncake JSON lines.
    Mooncake,
}

format_names!(RequestFormat { Auto => "auto", Azure => "azure", Mooncake => "mooncake" });

impl RequestFormat {
    /// From a name in [`RequestFormat::NAMES`].
    pub fn from_name(s: &str) -> Option<RequestFormat> {
        RequestFormat::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Guesses the format from the first non-blank line: JSON is Mooncake,
    /// a header starting with `TIMESTAMP` Azure.
    pub fn detect(text: &str) -> Option<RequestFormat> {
        let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
        if first.starts_with('{') {
            Some(RequestFormat::Mooncake)
        } else if first.to_ascii_uppercase().starts_with("TIMESTAMP") {
            Some(RequestFormat::Azure)
        } else {
            None
        }
    }

    /// From a name (`azure`, `mooncake`), or `auto` detected from the text:
    /// never [`RequestFormat::Auto`].
    pub fn resolve(name: &str, text: &str) -> Option<RequestFormat> {
        match RequestFormat::from_name(name)? {
            RequestFormat::Auto => RequestFormat::detect(text),
            f => Some(f),
        }
    }
}

#[derive(serde::Deserialize)]
struct MooncakeRow {
    timestamp: f64,
    input_length: u32,
    output_length: u32,
}

/// Reads a request trace in `format` ([`RequestFormat::Auto`]: detected).
pub fn read(text: &str, origin: &str, format: RequestFormat, opts: &ReadOptions) -> Result<(RequestLog, ReadReport), ReplayError> {
    let fail = |line: usize, field: Option<&str>, message: String, hint: Option<String>| ReplayError::Format {
        origin: origin.to_string(),
        line,
        field: field.map(str::to_string),
        message,
        hint,
    };
    let kind = match format {
        RequestFormat::Auto => RequestFormat::detect(text),
        f => Some(f),
    };
    let Some(kind) = kind else {
        return Err(fail(
            1,
            None,
            format!("cannot read `{}` as a request trace", format.name()),
            Some("formats: azure (CSV with TIMESTAMP,ContextTokens,GeneratedTokens), mooncake (JSON lines)".into()),
        ));
    };
    let azure = kind == RequestFormat::Azure;
    let mut report = ReadReport { format: kind.name().into(), ..ReadReport::default() };
    // (time ns, prompt, output); Azure times are absolute, Mooncake's relative.
    let mut rows: Vec<(i64, u32, u32)> = Vec::new();
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).peekable();
    let mut cols = (0usize, 1usize, 2usize);
    if azure {
        let Some((_, header)) = lines.next() else { return Ok((RequestLog::default(), report)) };
        let names: Vec<String> = header.split(',').map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase()).collect();
        let find = |n: &str| names.iter().position(|h| h == n);
        match (find("timestamp"), find("contexttokens"), find("generatedtokens")) {
            (Some(t), Some(p), Some(o)) => cols = (t, p, o),
            _ => {
                return Err(fail(
                    1,
                    None,
                    format!("the header `{}` lacks TIMESTAMP, ContextTokens or GeneratedTokens", header.trim()),
                    Some("the Azure LLM inference 2023 trace's columns are TIMESTAMP,ContextTokens,GeneratedTokens".into()),
                ));
            }
        }
    }
    let ends_cleanly = text.ends_with('\n');
    while let Some((i, line)) = lines.next() {
        let n = i + 1;
        report.lines += 1;
        let last = lines.peek().is_none();
        let parsed: Result<(i64, u32, u32), (Option<&str>, String)> = if azure {
            let f: Vec<&str> = line.split(',').collect();
            let get = |k: usize| f.get(k).map(|s| s.trim()).ok_or((None, format!("{} fields, fewer than the header's", f.len())));
            (|| {
                let t = get(cols.0)?;
                let time = parse_timestamp(t).ok_or((Some("TIMESTAMP"), format!("`{t}` is not a time")))?;
                let p =
                    get(cols.1)?.parse().map_err(|_| (Some("ContextTokens"), format!("`{}` is not a token count", f[cols.1].trim())))?;
                let o =
                    get(cols.2)?.parse().map_err(|_| (Some("GeneratedTokens"), format!("`{}` is not a token count", f[cols.2].trim())))?;
                Ok((time, p, o))
            })()
        } else {
            match serde_json::from_str::<MooncakeRow>(line) {
                Ok(r) if r.timestamp.is_finite() && r.timestamp >= 0.0 && r.timestamp < 9e15 => {
                    Ok(((r.timestamp * 1e6).round() as i64, r.input_length, r.output_length))
                }
                Ok(r) => Err((Some("timestamp"), format!("{} is not a time in ms from the trace start", r.timestamp))),
                Err(e) => Err((None, format!("not a request: {e}"))),
            }
        };
        match parsed {
            Ok(row) => rows.push(row),
            Err(_) if last && !ends_cleanly => {
                report.truncated_last_line = true;
                report.skipped += 1;
            }
            Err((field, message)) => {
                if opts.strict {
                    return Err(fail(n, field, message, Some("without --strict, bad rows are skipped and counted".into())));
                }
                report.skip(n, field, message);
            }
        }
    }
    report.non_monotonic = rows.windows(2).filter(|w| w[1].0 < w[0].0).count();
    rows.sort_by_key(|r| r.0);
    report.rows = rows.len();
    let first = rows.first().map_or(0, |r| r.0);
    let log = RequestLog {
        offsets_ns: rows.iter().map(|r| (r.0 - first) as u64).collect(),
        prompt: rows.iter().map(|r| r.1).collect(),
        output: rows.iter().map(|r| r.2).collect(),
        start_ns: (azure && !rows.is_empty()).then_some(first),
    };
    Ok((log, report))
}

/// Reads a request-trace file, by path, once (bytes that are not UTF-8 are replaced).
pub fn read_file(path: &std::path::Path, format: RequestFormat, opts: &ReadOptions) -> Result<(RequestLog, ReadReport), ReplayError> {
    let bytes = std::fs::read(path).map_err(|source| ReplayError::Io { path: path.to_path_buf(), source })?;
    read_from_bytes(&bytes, &path.display().to_string(), format, opts)
}

/// Reads a request trace's bytes already in memory (a caller that read the
/// file to tell its kind hands them over rather than reading it again;
/// bytes that are not UTF-8 are replaced).
pub fn read_from_bytes(
    bytes: &[u8],
    origin: &str,
    format: RequestFormat,
    opts: &ReadOptions,
) -> Result<(RequestLog, ReadReport), ReplayError> {
    read(&crate::text::from_bytes(bytes), origin, format, opts)
}

/// Arrivals per bin of `bin_ns`, over the whole bins from the first arrival
/// (sorted offsets; a last partial bin is left out).
pub fn bin_counts(offsets_ns: &[u64], bin_ns: u64) -> Vec<u64> {
    let (Some(&first), Some(&last)) = (offsets_ns.first(), offsets_ns.last()) else { return Vec::new() };
    let bin = bin_ns.max(1);
    let mut counts = vec![0u64; ((last - first) / bin) as usize];
    for &t in offsets_ns {
        if let Some(c) = counts.get_mut(((t - first) / bin) as usize) {
            *c += 1;
        }
    }
    counts
}

/// Index of dispersion (variance over mean) of arrival counts in bins of
/// `bin_ns`, over the whole bins from the first arrival: 1 for Poisson,
/// larger for bursty traffic.
pub fn index_of_dispersion(offsets_ns: &[u64], bin_ns: u64) -> f64 {
    let counts = bin_counts(offsets_ns, bin_ns);
    if counts.is_empty() {
        return f64::NAN;
    }
    let n = counts.len() as f64;
    let mean = counts.iter().sum::<u64>() as f64 / n;
    let var = counts.iter().map(|&c| (c as f64 - mean).powi(2)).sum::<f64>() / n;
    if mean > 0.0 { var / mean } else { f64::NAN }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_azure_and_mooncake_with_their_tokens() {
        let azure = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04.0319600,3180,8\n2023-11-16 18:17:03.5,1,1\n";
        let (log, r) = read(azure, "a.csv", RequestFormat::Auto, &ReadOptions::default()).unwrap();
        assert_eq!((r.format.as_str(), r.rows, r.non_monotonic), ("azure", 3, 1));
        assert_eq!(log.offsets_ns, [0, 479_960_000, 531_960_000]);
        assert_eq!(log.prompt, [1, 4808, 3180]);
        let moon = "{\"timestamp\": 0, \"input_length\": 6758, \"output_length\": 500, \"hash_ids\": [0, 1]}\n{\"timestamp\": 1500, \"input_length\": 10, \"output_length\": 3}\n";
        let (log, r) = read(moon, "m.jsonl", RequestFormat::Auto, &ReadOptions::default()).unwrap();
        assert_eq!(
            (r.format.as_str(), log.offsets_ns.as_slice(), log.output.as_slice()),
            ("mooncake", &[0, 1_500_000_000][..], &[500, 3][..])
        );
        assert_eq!(log.start_ns, None);
    }

    #[test]
    fn bad_rows_are_counted_with_lines_and_strict_stops() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\nnoon,1,1\n2023-11-16 18:17:05,many,1\n2023-11-16 18:17:06,1";
        let (log, r) = read(text, "a.csv", RequestFormat::Azure, &ReadOptions::default()).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(r.skipped, 3);
        assert!(r.truncated_last_line);
        assert_eq!(r.problems.iter().map(|p| p.line).collect::<Vec<_>>(), [3, 4]);
        let err =
            read(text, "a.csv", RequestFormat::Azure, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap_err().to_string();
        assert!(err.starts_with("a.csv:3: `TIMESTAMP`: `noon` is not a time"), "{err}");
        assert!(read("hello\n", "x", RequestFormat::Auto, &ReadOptions::default()).is_err());
    }

    #[test]
    fn dispersion_is_one_for_even_spacing_and_large_for_bursts() {
        let even: Vec<u64> = (0..1000).map(|i| i * 100_000_000).collect();
        assert!(index_of_dispersion(&even, 1_000_000_000) < 1e-9);
        let mut bursty = Vec::new();
        for b in 0..50u64 {
            bursty.extend(std::iter::repeat_n(b * 20_000_000_000, 40));
        }
        assert!(index_of_dispersion(&bursty, 1_000_000_000) > 30.0);
    }

    proptest::proptest! {
        #[test]
        fn no_input_makes_it_panic(text in "\\PC{0,200}", strict in proptest::bool::ANY) {
            let opts = ReadOptions { strict, ..ReadOptions::default() };
            for f in RequestFormat::ALL {
                let _ = read(&text, "p", f, &opts);
                let _ = read(&format!("TIMESTAMP,ContextTokens,GeneratedTokens\n{text}"), "p", f, &opts);
            }
        }
    }
}
