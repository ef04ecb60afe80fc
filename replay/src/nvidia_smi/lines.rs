//! nvidia-smi CSV a line at a time, for a file that is still being written
//! (`nvidia-smi ... --format=csv -lms 1000 > FILE` followed live): the
//! header once, then each data line as it arrives, through the same
//! reference reading ([`super::reference`]) as [`super::read`].

use super::reference::{Column, Target, parse_header, parse_row};
use crate::{ReadReport, ReplayError, Sample};
use std::collections::BTreeMap;

/// Reads the lines of one nvidia-smi CSV, one at a time, by the columns
/// its header names.
///
/// ```
/// use twin_replay::{Field, nvidia_smi::LineReader};
/// let mut r = LineReader::new("timestamp, index, uuid, power.draw [W]", "gpu.csv", 1).unwrap();
/// let s = r.read("2026/11/27 00:00:00.000, 0, GPU-1, 70.5 W").unwrap().unwrap();
/// assert_eq!((s.gpu, s.get(Field::Power)), (0, Some(70.5)));
/// assert_eq!(r.text("2026/11/27 00:00:00.000, 0, GPU-1, 70.5 W", "uuid"), Some("GPU-1"));
/// ```
#[derive(Clone, Debug)]
pub struct LineReader {
    origin: String,
    cols: Vec<Column>,
    names: BTreeMap<u32, String>,
    line: usize,
    unit_mismatches: usize,
}

impl LineReader {
    /// Whether `line` is a header line (it names a `timestamp` column) rather
    /// than data: a header can come again when the file starts over.
    pub fn is_header(line: &str) -> bool {
        parse_header(clean(line)).iter().any(|c| c.target == Target::Time)
    }

    /// A reader for the columns `header` names; `header` is line `line` of
    /// `origin` (for messages). A header with no `timestamp` column is
    /// refused with a hint, as [`super::read`] refuses it.
    pub fn new(header: &str, origin: &str, line: usize) -> Result<LineReader, ReplayError> {
        let header = clean(header);
        let cols = super::header_columns(header, origin, line)?;
        Ok(LineReader { origin: origin.to_string(), cols, names: BTreeMap::new(), line, unit_mismatches: 0 })
    }

    /// Reads the next line: `Ok(None)` for a blank line, the sample for a
    /// data line, and for a bad one an error naming the file, the line and
    /// the field. Values are scaled to the canonical units; a GPU's name is
    /// set only where it changes, as [`super::read`] sets it.
    pub fn read(&mut self, line: &str) -> Result<Option<Sample>, ReplayError> {
        self.line += 1;
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            return Ok(None);
        }
        let fields: Vec<&str> = line.split(',').collect();
        let bad = |field: Option<String>, message: String| ReplayError::Format {
            origin: self.origin.clone(),
            line: self.line,
            field,
            message,
            hint: None,
        };
        if fields.len() != self.cols.len() {
            return Err(bad(None, format!("{} fields where the header has {}", fields.len(), self.cols.len())));
        }
        let mut report = ReadReport::default();
        let row = parse_row(&fields, &self.cols, &mut report, &mut self.names);
        self.unit_mismatches += report.unit_mismatches;
        row.map(Some).map_err(|(field, message)| bad(field, message))
    }

    /// The text of the column named `name` (without its unit) in `line`,
    /// trimmed: `None` when there is no such column, the line is short, or
    /// the value is blank or bracketed (`[N/A]`).
    pub fn text<'a>(&self, line: &'a str, name: &str) -> Option<&'a str> {
        let i = self.column(name)?;
        let v = line.trim_end_matches(['\n', '\r']).split(',').nth(i)?.trim();
        (!v.is_empty() && !v.starts_with('[') && v != "N/A").then_some(v)
    }

    /// The position of the column named `name` (without its unit).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.cols.iter().position(|c| c.name == name)
    }

    /// The header's columns that have no canonical meaning (read, not kept).
    pub fn ignored_columns(&self) -> Vec<String> {
        self.cols.iter().filter(|c| c.target == Target::Ignored).map(|c| c.name.clone()).collect()
    }

    /// The line number of the last line read (the header's, before any).
    pub fn line(&self) -> usize {
        self.line
    }

    /// Values read so far with a unit other than the header's.
    pub fn unit_mismatches(&self) -> usize {
        self.unit_mismatches
    }
}

/// A line without its ending and without a byte-order mark.
fn clean(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r']).trim_start_matches('\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Field, ReadOptions};

    const TEXT: &str = "timestamp, index, name, uuid, utilization.gpu [%], memory.used [MiB], power.draw [W]\n\
        2026/11/27 00:00:00.000, 0, NVIDIA H100, GPU-a, 10 %, 1 GiB, 70.5 W\n\
        \n\
        2026/11/27 00:00:00.000, 1, NVIDIA H100, GPU-b, [N/A], 2048 MiB, 71 W\n\
        garbage\n\
        2026/11/27 00:00:01.000, 0, NVIDIA H100, GPU-a, 20 %, 1024 MiB, seventy W\n\
        2026/11/27 00:00:01.000, 1, NVIDIA H100, [N/A], 30 %, 1024 MiB, 72 W\n";

    #[test]
    fn lines_read_one_at_a_time_match_the_whole_file_read_at_once() {
        let (whole, report) = super::super::read(TEXT, "t.csv", &ReadOptions::default()).unwrap();
        let mut lines = TEXT.lines();
        let header = lines.next().unwrap();
        assert!(LineReader::is_header(header) && !LineReader::is_header("2026/11/27 00:00:00.000, 0"));
        let mut r = LineReader::new(header, "t.csv", 1).unwrap();
        let mut samples = Vec::new();
        let mut bad = Vec::new();
        for line in lines {
            match r.read(line) {
                Ok(Some(s)) => samples.push(s),
                Ok(None) => {}
                Err(e) => bad.push(e.to_string()),
            }
        }
        let t = crate::Telemetry::from_samples(samples);
        assert_eq!(t.time_ns, whole.time_ns);
        assert_eq!(t.gpu, whole.gpu);
        assert_eq!(t.names, whole.names);
        for f in Field::ALL {
            assert_eq!(t.values_of(f), whole.values_of(f), "{f:?}");
        }
        assert_eq!(bad.len(), report.skipped);
        assert_eq!(bad, ["t.csv:5: 1 fields where the header has 7", "t.csv:6: `power.draw`: `seventy W` is not a number"]);
        assert_eq!(r.ignored_columns(), ["uuid"]);
        assert_eq!(r.unit_mismatches(), 1, "GiB where the header says MiB");
        assert_eq!(r.line(), 7);
    }

    #[test]
    fn text_reads_a_column_by_name_and_a_header_without_time_is_refused() {
        let r = LineReader::new("\u{feff}timestamp, uuid [x]\r\n", "t.csv", 1).unwrap();
        assert_eq!(r.text("t, GPU-a\r\n", "uuid"), Some("GPU-a"));
        assert_eq!(r.text("t, [N/A]", "uuid"), None);
        assert_eq!(r.text("t", "uuid"), None);
        assert_eq!(r.text("t, GPU-a", "serial"), None);
        let err = LineReader::new("index, power.draw [W]", "t.csv", 3).unwrap_err().to_string();
        assert!(err.starts_with("t.csv:3: the header has no `timestamp` column") && err.contains("hint"), "{err}");
    }
}
