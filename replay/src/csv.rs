//! CSV rows as the table readers (prices, jobs, node lists) read them: a
//! header naming the columns, then rows, bad ones skipped and reported.

use crate::{ReadOptions, ReadReport, ReplayError};

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
/// (Shared by the price, job and node-list readers.)
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
