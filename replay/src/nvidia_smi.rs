//! `nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]`: any column
//! set, in any order, with or without units.
//!
//! The header names the columns, each with its unit in brackets
//! (`power.draw [W]`); values carry the unit too (`77.25 W`) unless
//! `nounits` was given. `[N/A]`, `[Not Supported]` and any other bracketed
//! word are no value. Fields are separated by `, `. `clocks_event_reasons.active`
//! (formerly `clocks_throttle_reasons.active`) is a hex bitmask. Times are
//! the machine's clock, `YYYY/MM/DD HH:MM:SS.mmm`, read as UTC.
//!
//! Where the code is:
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | the header, the plan of each column, chunks on all cores, the report |
//! | `reference.rs` | the reference reading of a line, with every check and message |
//! | `fast.rs` | the fast path: a line in one pass, fields compared with the line before's |
//! | `line_diff.rs` | which bytes of a line changed since the line before, 16 at a time |
//! | `scan.rs` | byte scanners: decimals, GPU indices, bitmasks, field ends |
//! | `clock.rs` | timestamps on the fast path, the date and hour remembered |
//! | `columns.rs` | the columns, filled in place by the chunks: the crate's one `unsafe` block |
//! | `lines.rs` | [`LineReader`]: a line at a time, for a file still being written |

pub(crate) mod clock;
#[allow(unsafe_code)]
mod columns;
mod fast;
mod line_diff;
mod lines;
mod reference;
mod scan;
#[cfg(test)]
mod tests;

use crate::telemetry::Field;
use crate::{ReadOptions, ReadReport, ReplayError, Telemetry};
use columns::{Columns, Layout, Rows, Written};
use fast::{ChunkOut, GPU, NOWHERE, Plan, THROTTLE, TIME, parse_chunk};
pub use lines::LineReader;
use reference::{Column, Target, abbreviate, parse_header, scale};

/// The columns of a header line (line `line` of `origin`), refused with a
/// hint when none is `timestamp` (a file written with `noheader`, say).
fn header_columns(header: &str, origin: &str, line: usize) -> Result<Vec<Column>, ReplayError> {
    let cols = parse_header(header);
    if !cols.iter().any(|c| c.target == Target::Time) {
        return Err(ReplayError::Format {
            origin: origin.to_string(),
            line,
            field: None,
            message: format!("the header has no `timestamp` column (it reads `{}`)", abbreviate(header)),
            hint: Some("record with `nvidia-smi --query-gpu=timestamp,index,... --format=csv` (with the header, and `timestamp` among the columns)".into()),
        });
    }
    Ok(cols)
}

/// Lines in a chunk (newlines and one): no chunk has more rows.
fn lines_in(chunk: &str) -> usize {
    memchr::memchr_iter(b'\n', chunk.as_bytes()).count() + 1
}

/// Reads the chunks in parallel straight into the telemetry's columns: each
/// chunk gets a share as long as its lines, written from the front, and the
/// shares are closed up afterwards (only bad or blank lines leave gaps).
fn read_chunks(chunks: &[&str], cols: &[Column], plans: &[Plan], layout: Layout, last_cut: bool) -> (Telemetry, Vec<ChunkOut>) {
    let bounds = crate::cores::on_all(chunks.to_vec(), lines_in);
    let mut columns = Columns::with_room(bounds, layout);
    let count = chunks.len();
    let jobs: Vec<(usize, &str, Rows<'_>)> =
        chunks.iter().zip(columns.shares()).enumerate().map(|(i, (&chunk, rows))| (i, chunk, rows)).collect();
    let (outs, written): (Vec<ChunkOut>, Vec<Written>) = crate::cores::on_all(jobs, |(i, chunk, mut rows)| {
        let out = parse_chunk(chunk, cols, plans, &mut rows, i + 1 == count && last_cut);
        (out, rows.done())
    })
    .into_iter()
    .unzip();
    (columns.close(&written), outs)
}

/// Reads nvidia-smi CSV text. The first line must be the header (as
/// `--format=csv` writes it); a file written with `noheader` cannot say
/// which column is which and is refused with a hint. Large inputs are read
/// in chunks on all cores; the result does not depend on how many.
pub fn read(text: &str, origin: &str, opts: &ReadOptions) -> Result<(Telemetry, ReadReport), ReplayError> {
    // A few chunks per core, so that the cores stay busy to the end.
    let threads = crate::cores::cores().min(16);
    read_in(text, origin, opts, if text.len() < (1 << 20) { 1 } else { (4 * threads).min(text.len() >> 18) })
}

/// [`read`] in `parts` chunks.
fn read_in(text: &str, origin: &str, opts: &ReadOptions, parts: usize) -> Result<(Telemetry, ReadReport), ReplayError> {
    let parts = parts.max(1);
    let mut report = ReadReport { format: crate::Format::NvidiaSmi.name().into(), ..ReadReport::default() };
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
    let cols = header_columns(header.trim_start_matches('\u{feff}'), origin, hline)?;
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
            let target = if header_factor.is_nan() { Target::Slow } else { c.target };
            let dest = match target {
                Target::Value(f) => f as usize,
                Target::Time => TIME,
                Target::Gpu => GPU,
                Target::Throttle => THROTTLE,
                _ => NOWHERE,
            };
            Plan { target, header_factor, unit: c.unit.as_ref().map(|u| u.as_bytes().into()), dest }
        })
        .collect();
    let layout = Layout {
        fields: Field::ALL.into_iter().filter(|f| cols.iter().any(|c| c.target == Target::Value(*f))).collect(),
        throttle: cols.iter().any(|c| c.target == Target::Throttle),
    };
    let body = &text[offset..];
    let ends_cleanly = text.ends_with('\n');
    // Chunks of whole lines.
    let mut chunks: Vec<&str> = Vec::with_capacity(parts);
    let mut start = 0;
    for p in 1..=parts {
        let mut end = if p == parts { body.len() } else { (body.len() * p / parts).max(start) };
        while end < body.len() && !body.is_char_boundary(end) {
            end += 1;
        }
        if p < parts {
            end = memchr::memchr(b'\n', &body.as_bytes()[end..]).map_or(body.len(), |i| end + i + 1);
        }
        let chunk = &body[start..end];
        chunks.push(chunk.strip_suffix('\n').unwrap_or(chunk));
        start = end;
        if start >= body.len() {
            break;
        }
    }
    let (mut t, mut outs) = read_chunks(&chunks, &cols, &plans, layout, !ends_cleanly);
    let mut line_no = hline + 1;
    for out in &mut outs {
        report.lines += out.lines;
        report.unit_mismatches += out.unit_mismatches;
        if out.truncated {
            report.truncated_last_line = true;
            report.skipped += 1;
        }
        for (line, field, message) in std::mem::take(&mut out.problems) {
            let line = line_no + line;
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
        // A chunk ends at a newline (stripped) unless it is the last.
        line_no += out.newlines + 1;
        t.names.append(&mut out.names);
    }
    Ok((t, report))
}
