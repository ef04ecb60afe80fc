//! `nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]`: any column
//! set, in any order, with or without units.
//!
//! The header names the columns, each with its unit in brackets
//! (`power.draw [W]`); values carry the unit too (`77.25 W`) unless
//! `nounits` was given. `[N/A]`, `[Not Supported]` and any other bracketed
//! word are no value. Fields are separated by `, `. `clocks_event_reasons.active`
//! (formerly `clocks_throttle_reasons.active`) is a hex bitmask. Times are
//! the machine's clock, `YYYY/MM/DD HH:MM:SS.mmm`, read as UTC.

use crate::telemetry::Field;
use crate::timefmt::parse_timestamp;
use crate::{ReadOptions, ReadReport, ReplayError, Sample, Telemetry};

/// What a source column becomes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
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
struct Column {
    name: String,
    target: Target,
    unit: Option<String>,
}

fn target_of(name: &str) -> Target {
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
fn scale(field: Field, unit: &str) -> Option<f64> {
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

fn parse_header(line: &str) -> Vec<Column> {
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
fn split_value(v: &str) -> Option<(&str, Option<&str>)> {
    let v = v.trim();
    if v.is_empty() || v.starts_with('[') || v == "N/A" {
        return None;
    }
    Some(match v.split_once(' ') {
        Some((num, unit)) => (num, Some(unit.trim())),
        None => (v, None),
    })
}

fn abbreviate(s: &str) -> String {
    if s.chars().count() > 80 { format!("{}…", s.chars().take(80).collect::<String>()) } else { s.to_string() }
}

/// Why a row is bad: (field, message).
type RowError = (Option<String>, String);

fn parse_row(
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
            Target::Name => name = Some(raw.trim()),
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

/// How a column is read on the fast path: its target and the factor from
/// the header's unit to the canonical one.
struct Plan {
    target: Target,
    header_factor: f64,
}

/// What one chunk of lines gave.
#[derive(Default)]
struct ChunkOut {
    t: Telemetry,
    /// (line, field, message), line 1-based in the file.
    problems: Vec<(usize, Option<String>, String)>,
    lines: usize,
    truncated: bool,
    unit_mismatches: usize,
}

/// A decimal without exponent, as nvidia-smi writes it, exactly rounded
/// (digits and a power of ten both exact in f64, one rounding in the
/// division); `None` for anything else, which the slow path then reads.
fn fast_number(b: &[u8]) -> Option<f64> {
    let (neg, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let (mut int, mut scale, mut seen_dot, mut digits) = (0u64, 0i32, false, 0u32);
    for &c in b {
        match c {
            b'0'..=b'9' => {
                digits += 1;
                if digits > 15 {
                    return None;
                }
                int = int * 10 + u64::from(c - b'0');
                if seen_dot {
                    scale += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if digits == 0 {
        return None;
    }
    const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let v = int as f64 / POW10[scale as usize];
    Some(if neg { -v } else { v })
}

fn fast_u32(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, c| a * 10 + u32::from(c - b'0')))
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| *c != b' ').unwrap_or(b.len());
    let end = b.iter().rposition(|c| *c != b' ' && *c != b'\r').map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// The fast path for one well-formed line: pushes the row and returns true,
/// or returns false (pushing nothing) for the slow path to read or reject.
/// `day` caches the last date seen: (its bytes, days since the epoch).
fn fast_row(line: &[u8], cols: &[Column], plans: &[Plan], out: &mut ChunkOut, day: &mut ([u8; 10], i64)) -> bool {
    let mut vals = [None; 12];
    let (mut time, mut gpu, mut throttle, mut name): (Option<i64>, u32, Option<u64>, &[u8]) = (None, 0, None, b"");
    let mut mismatches = 0;
    let mut fields = line.split(|c| *c == b',');
    for (col, plan) in cols.iter().zip(plans) {
        let Some(raw) = fields.next() else { return false };
        let f = trim(raw);
        match plan.target {
            Target::Ignored => {}
            Target::Slow => return false,
            Target::Time => {
                // `YYYY/MM/DD HH:MM:SS.mmm`; other shapes take the slow path.
                if f.len() < 19 || f[10] != b' ' {
                    return false;
                }
                if f[..10] != day.0 {
                    let Some(d) = std::str::from_utf8(&f[..10]).ok().and_then(crate::timefmt::parse_date) else { return false };
                    day.0.copy_from_slice(&f[..10]);
                    day.1 = d;
                }
                let Some(clock) = std::str::from_utf8(&f[11..]).ok().and_then(crate::timefmt::parse_clock) else { return false };
                let Some(t) = day.1.checked_mul(86_400_000_000_000).and_then(|d| d.checked_add(clock)) else { return false };
                time = Some(t);
            }
            Target::Gpu => match fast_u32(f) {
                Some(g) => gpu = g,
                None => return false,
            },
            Target::Name => name = f,
            Target::Throttle => {
                if f.first() == Some(&b'[') || f.is_empty() {
                    continue;
                }
                let hex = f.strip_prefix(b"0x").or_else(|| f.strip_prefix(b"0X")).unwrap_or(f);
                match std::str::from_utf8(hex).ok().and_then(|h| u64::from_str_radix(h, 16).ok()) {
                    Some(v) => throttle = Some(v),
                    None => return false,
                }
            }
            Target::Value(field) => {
                if f.is_empty() || f[0] == b'[' || f == b"N/A" {
                    continue;
                }
                let (num, unit) = match f.iter().position(|c| *c == b' ') {
                    Some(i) => (&f[..i], trim(&f[i + 1..])),
                    None => (f, &b""[..]),
                };
                let Some(x) = fast_number(num) else { return false };
                let factor = if unit.is_empty() || col.unit.as_deref().is_some_and(|h| h.as_bytes() == unit) {
                    plan.header_factor
                } else {
                    mismatches += usize::from(col.unit.is_some());
                    match std::str::from_utf8(unit).ok().and_then(|u| scale(field, u)) {
                        Some(f) => f,
                        None => return false,
                    }
                };
                vals[field as usize] = Some(x * factor);
            }
        }
    }
    if fields.next().is_some() {
        return false;
    }
    let Some(time) = time else { return false };
    out.unit_mismatches += mismatches;
    if !name.is_empty() && out.t.names.get(&gpu).map(String::as_bytes) != Some(name) {
        out.t.names.insert(gpu, String::from_utf8_lossy(name).into_owned());
    }
    out.t.push_row(time, gpu, &vals, throttle);
    true
}

/// Reads the lines of one chunk; `first_line` is the 1-based number of its first line.
fn parse_chunk(chunk: &str, first_line: usize, cols: &[Column], plans: &[Plan], last_chunk_cut: bool) -> ChunkOut {
    let mut out = ChunkOut::default();
    let mut day = ([0u8; 10], 0i64);
    let mut report = ReadReport::default();
    let last = chunk.bytes().filter(|b| *b == b'\n').count();
    out.t.reserve(last + 1);
    for (k, line) in chunk.split('\n').enumerate() {
        let n = first_line + k;
        if line.trim().is_empty() {
            continue;
        }
        out.lines += 1;
        if fast_row(line.as_bytes(), cols, plans, &mut out, &mut day) {
            continue;
        }
        // The slow path: the reference reading, and the error if there is one.
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != cols.len() {
            if k == last && last_chunk_cut && fields.len() < cols.len() {
                out.truncated = true;
                continue;
            }
            out.problems.push((n, None, format!("{} fields where the header has {}", fields.len(), cols.len())));
            continue;
        }
        match parse_row(&fields, cols, &mut report, &mut out.t.names) {
            Ok(s) => out.t.push(s),
            Err((field, message)) => out.problems.push((n, field, message)),
        }
    }
    out.unit_mismatches += report.unit_mismatches;
    out
}

/// Reads nvidia-smi CSV text. The first line must be the header (as
/// `--format=csv` writes it); a file written with `noheader` cannot say
/// which column is which and is refused with a hint. Large inputs are read
/// in chunks on all cores; the result does not depend on how many.
pub fn read(text: &str, origin: &str, opts: &ReadOptions) -> Result<(Telemetry, ReadReport), ReplayError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(16);
    read_in(text, origin, opts, if text.len() < (1 << 20) { 1 } else { threads })
}

/// [`read`] in `parts` chunks.
fn read_in(text: &str, origin: &str, opts: &ReadOptions, parts: usize) -> Result<(Telemetry, ReadReport), ReplayError> {
    let parts = parts.max(1);
    let mut report = ReadReport { format: "nvidia-smi".into(), ..ReadReport::default() };
    // The header: the first non-blank line.
    let mut offset = 0;
    let mut hline = 0;
    let header = loop {
        let Some(rest) = text.get(offset..) else { return Ok((Telemetry::default(), report)) };
        if rest.is_empty() {
            return Ok((Telemetry::default(), report));
        }
        let end = rest.find('\n').map_or(rest.len(), |e| e + 1);
        let line = &rest[..end];
        offset += end;
        hline += 1;
        if !line.trim().is_empty() {
            break line.trim_end_matches(['\n', '\r']);
        }
    };
    let cols = parse_header(header.trim_start_matches('\u{feff}'));
    if !cols.iter().any(|c| c.target == Target::Time) {
        return Err(ReplayError::Format {
            origin: origin.to_string(),
            line: hline,
            field: None,
            message: format!("the header has no `timestamp` column (it reads `{}`)", abbreviate(header)),
            hint: Some("record with `nvidia-smi --query-gpu=timestamp,index,... --format=csv` (with the header, and `timestamp` among the columns)".into()),
        });
    }
    report.ignored_columns = cols.iter().filter(|c| c.target == Target::Ignored).map(|c| c.name.clone()).collect();
    let plans: Vec<Plan> = cols
        .iter()
        .map(|c| {
            let field = match c.target {
                Target::Value(f) => Some(f),
                _ => None,
            };
            let header_factor = match (field, c.unit.as_deref()) {
                (Some(f), Some(u)) => scale(f, u).unwrap_or(f64::NAN),
                _ => 1.0,
            };
            // A header unit Twin does not know: the slow path names it for each value.
            Plan { target: if header_factor.is_nan() { Target::Slow } else { c.target }, header_factor }
        })
        .collect();
    let body = &text[offset..];
    let ends_cleanly = text.ends_with('\n');
    // Chunks of whole lines, with the file line number each starts at.
    let mut chunks: Vec<(&str, usize)> = Vec::with_capacity(parts);
    let (mut start, mut line_no) = (0, hline + 1);
    for p in 1..=parts {
        let mut end = if p == parts { body.len() } else { (body.len() * p / parts).max(start) };
        while end < body.len() && !body.is_char_boundary(end) {
            end += 1;
        }
        if p < parts {
            end = body[end..].find('\n').map_or(body.len(), |i| end + i + 1);
        }
        let chunk = &body[start..end];
        chunks.push((chunk.strip_suffix('\n').unwrap_or(chunk), line_no));
        line_no += chunk.bytes().filter(|b| *b == b'\n').count();
        start = end;
        if start >= body.len() {
            break;
        }
    }
    let count = chunks.len();
    let outs: Vec<ChunkOut> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .enumerate()
            .map(|(i, &(chunk, first))| {
                let (cols, plans) = (&cols, &plans);
                let cut = i + 1 == count && !ends_cleanly;
                scope.spawn(move || parse_chunk(chunk, first, cols, plans, cut))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    let mut t = Telemetry::default();
    let single = outs.len() == 1;
    for out in outs {
        report.lines += out.lines;
        report.unit_mismatches += out.unit_mismatches;
        if out.truncated {
            report.truncated_last_line = true;
            report.skipped += 1;
        }
        for (line, field, message) in out.problems {
            if opts.strict {
                return Err(ReplayError::Format {
                    origin: origin.to_string(),
                    line,
                    field,
                    message,
                    hint: Some("without --strict, bad rows are skipped and counted".into()),
                });
            }
            report.skip(line, field.as_deref(), message);
        }
        if single {
            t = out.t;
        } else {
            t.append(out.t);
        }
    }
    Ok((t, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "timestamp, index, name, pstate, utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB], power.draw [W], power.limit [W], temperature.gpu, temperature.memory, clocks.current.sm [MHz], clocks.current.memory [MHz], clocks_event_reasons.active";

    fn read_all(text: &str) -> (Telemetry, ReadReport) {
        crate::read(text, "t.csv", crate::Format::Auto, &ReadOptions::default()).unwrap()
    }

    #[test]
    fn reads_every_column_with_units_and_no_values() {
        let text = format!(
            "{HEAD}\n2026/11/27 01:58:59.960, 0, NVIDIA H200, P0, 0 %, 0 %, 0 MiB, 143771 MiB, 77.25 W, 700.00 W, 36, 40, 345 MHz, 3201 MHz, 0x0000000000000001\n\
             2026/11/27 01:59:00.067, 1, NVIDIA H200, P0, 97 %, [N/A], 1024 MiB, 143771 MiB, [Not Supported], 700.00 W, 61, 70, 1980 MHz, 3201 MHz, 0x0000000000000004\n"
        );
        let (t, r) = read_all(&text);
        assert_eq!((r.rows, r.skipped, r.format.as_str()), (2, 0, "nvidia-smi"));
        assert_eq!(r.ignored_columns, ["pstate"]);
        assert_eq!(t.gpu, [0, 1]);
        assert_eq!(t.names[&1], "NVIDIA H200");
        assert_eq!(t.column(Field::Power), [Some(77.25), None]);
        assert_eq!(t.column(Field::UtilMem), [Some(0.0), None]);
        assert_eq!(t.column(Field::SmClock), [Some(345.0), Some(1980.0)]);
        assert_eq!(t.column(Field::MemTemp), [Some(40.0), Some(70.0)]);
        assert_eq!(t.throttle_reasons, [Some(1), Some(4)]);
        assert_eq!(t.time_ns[1] - t.time_ns[0], 107_000_000);
    }

    #[test]
    fn nounits_any_order_and_other_units_convert() {
        let text = "power.draw [W], timestamp, memory.used [GiB], clocks.sm [MHz]\n1.5 W, 2026/11/27 00:00:00.000, 2, 1.2 GHz\n80, 2026/11/27 00:00:01.000, 3 GiB, 900\n";
        let (t, r) = read_all(text);
        assert_eq!(r.rows, 2);
        assert_eq!(t.column(Field::Power), [Some(1.5), Some(80.0)]);
        assert_eq!(t.column(Field::MemUsed), [Some(2048.0), Some(3072.0)]);
        assert_eq!(t.column(Field::SmClock), [Some(1200.0), Some(900.0)]);
        assert_eq!(r.unit_mismatches, 1, "GHz where the header says MHz");
    }

    #[test]
    fn bad_rows_are_skipped_with_their_line_or_stop_a_strict_read() {
        let text = "timestamp, index, power.draw [W]\n2026/11/27 00:00:00.000, 0, 70 W\nyesterday, 0, 70 W\n2026/11/27 00:00:01.000, 0, seventy W\n2026/11/27 00:00:02.000, 0\n2026/11/27 00:00:03.000, 0, 75 W\n2026/11/27 00:00:04.0";
        let (t, r) = read_all(text);
        assert_eq!(t.len(), 2);
        assert_eq!(r.skipped, 4);
        assert!(r.truncated_last_line);
        let lines: Vec<usize> = r.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [3, 4, 5]);
        assert_eq!(r.problems[0].field.as_deref(), Some("timestamp"));
        let strict = ReadOptions { strict: true, ..ReadOptions::default() };
        let err = crate::read(text, "t.csv", crate::Format::NvidiaSmi, &strict).unwrap_err().to_string();
        assert!(err.starts_with("t.csv:3: `timestamp`: `yesterday` is not a time"), "{err}");
    }

    #[test]
    fn out_of_order_samples_and_gaps_are_counted_and_sorted() {
        let text = "timestamp, index, power.draw [W]\n\
            2026/11/27 00:00:00.000, 0, 1 W\n2026/11/27 00:00:00.100, 0, 2 W\n2026/11/27 00:00:00.050, 0, 3 W\n\
            2026/11/27 00:00:00.200, 0, 4 W\n2026/11/27 00:00:05.000, 0, 5 W\n";
        let (t, r) = read_all(text);
        assert_eq!(r.non_monotonic, 1);
        assert_eq!(r.gaps, 1);
        assert!(t.time_ns.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(t.column(Field::Power)[1], Some(3.0));
    }

    #[test]
    fn a_headerless_file_is_refused_with_a_hint() {
        let err = read("2026/11/27 00:00:00.000, 0, 70 W\n", "x.csv", &ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("x.csv:1:") && err.contains("no `timestamp` column") && err.contains("hint:"), "{err}");
    }

    #[test]
    fn chunks_on_many_cores_read_exactly_as_one() {
        let mut text = String::from("timestamp, index, name, utilization.gpu [%], power.draw [W], clocks_event_reasons.active\n");
        for i in 0..5_000u32 {
            let ms = i * 100;
            let row = match i % 997 {
                13 => "garbage line\n".to_string(),
                14 => "\n".to_string(),
                15 => format!(
                    "2026/11/27 00:{:02}:{:02}.{:03}, {}, NVIDIA H100, 1e2 %, 7.5e2 W, 0x1\n",
                    ms / 60_000 % 60,
                    ms / 1000 % 60,
                    ms % 1000,
                    i % 4
                ),
                _ => format!(
                    "2026/11/27 00:{:02}:{:02}.{:03}, {}, NVIDIA H100, {} %, {}.{:02} W, 0x{:x}\n",
                    ms / 60_000 % 60,
                    ms / 1000 % 60,
                    ms % 1000,
                    i % 4,
                    i % 101,
                    70 + i % 600,
                    i % 100,
                    i % 8
                ),
            };
            text.push_str(&row);
        }
        text.push_str("2026/11/27 01:00:00.000, 0, NVIDIA");
        let opts = ReadOptions::default();
        let one = read_in(&text, "c.csv", &opts, 1).unwrap();
        for parts in [2, 3, 7] {
            assert_eq!(read_in(&text, "c.csv", &opts, parts).unwrap(), one, "{parts} parts");
        }
        let (t, r) = one;
        assert_eq!(r.skipped, 7, "6 garbage lines and the cut last one: {r}");
        assert!(r.truncated_last_line);
        assert_eq!(r.problems[0].line, 15);
        assert_eq!(t.column(Field::Power)[15 - 2], Some(750.0), "exponents take the slow path and still read");
        // The fast path gives what the slow path gives.
        let line = "2026/11/27 00:00:01.300, 2, NVIDIA H100, 57 %, 123.45 W, 0x4";
        let cols = parse_header("timestamp, index, name, utilization.gpu [%], power.draw [W], clocks_event_reasons.active");
        let slow = parse_row(&line.split(',').collect::<Vec<_>>(), &cols, &mut ReadReport::default(), &mut Default::default()).unwrap();
        let (fast, _) = read_in(
            &format!("timestamp, index, name, utilization.gpu [%], power.draw [W], clocks_event_reasons.active\n{line}\n"),
            "f.csv",
            &opts,
            1,
        )
        .unwrap();
        assert_eq!(fast, Telemetry::from_samples(vec![slow]));
    }

    proptest::proptest! {
        #[test]
        fn no_input_makes_it_panic(text in "\\PC{0,300}", cut in 0usize..400) {
            let _ = read(&text, "p.csv", &ReadOptions::default());
            let valid = format!("{HEAD}\n2026/11/27 01:58:59.960, 0, NVIDIA H200, P0, 0 %, 0 %, 0 MiB, 143771 MiB, 77.25 W, 700.00 W, 36, 40, 345 MHz, 3201 MHz, 0x1\n");
            let cut = cut.min(valid.len());
            if valid.is_char_boundary(cut) {
                let mangled = format!("{}{}{}", &valid[..cut], text, &valid[cut..]);
                let _ = read(&mangled, "p.csv", &ReadOptions::default());
                let _ = read(&mangled, "p.csv", &ReadOptions { strict: true, ..ReadOptions::default() });
            }
        }
    }
}
