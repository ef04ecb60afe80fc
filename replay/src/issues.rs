//! What a reader met in its input that was not a clean sample: kept, counted
//! and reported with line numbers, never a panic.

use std::fmt;

/// One problem in an input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// The column or field concerned, if one.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: `{}`: {}", self.line, field, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// How reading went: rows kept, rows skipped and why, and what the time axis looked like.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadReport {
    /// The format read.
    pub format: String,
    /// Data lines seen (headers and comments excluded).
    pub lines: usize,
    /// Rows kept.
    pub rows: usize,
    /// Rows skipped, each with its line (at most [`ReadReport::KEPT`] kept; `skipped` counts all).
    pub problems: Vec<Problem>,
    /// Rows skipped in all.
    pub skipped: usize,
    /// Whether the last line was cut short (a logger killed mid-write); it is skipped.
    pub truncated_last_line: bool,
    /// Samples whose time is earlier than the previous sample of the same GPU.
    pub non_monotonic: usize,
    /// Gaps: consecutive samples of a GPU more than 3× the median interval apart.
    pub gaps: usize,
    /// Source columns that have no canonical meaning and were not kept.
    pub ignored_columns: Vec<String>,
    /// Values read without a unit where the header gave none, or with a unit other than the header's.
    pub unit_mismatches: usize,
}

impl ReadReport {
    /// Most problems kept for the report.
    pub const KEPT: usize = 100;

    /// Records a skipped row.
    pub fn skip(&mut self, line: usize, field: Option<&str>, message: impl Into<String>) {
        self.skipped += 1;
        if self.problems.len() < Self::KEPT {
            self.problems.push(Problem { line, field: field.map(str::to_string), message: message.into() });
        }
    }
}

impl fmt::Display for ReadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} rows kept of {} data lines", self.format, self.rows, self.lines)?;
        if self.skipped > 0 {
            write!(f, ", {} skipped", self.skipped)?;
        }
        if self.truncated_last_line {
            write!(f, ", last line cut short (skipped)")?;
        }
        if self.non_monotonic > 0 {
            write!(f, ", {} samples earlier than the one before (sorted)", self.non_monotonic)?;
        }
        if self.gaps > 0 {
            write!(f, ", {} gaps over 3× the median interval", self.gaps)?;
        }
        if self.unit_mismatches > 0 {
            write!(f, ", {} values with an unexpected unit", self.unit_mismatches)?;
        }
        if !self.ignored_columns.is_empty() {
            write!(f, "; columns not kept: {}", self.ignored_columns.join(", "))?;
        }
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        if self.skipped > self.problems.len() {
            write!(f, "\n  ... and {} more", self.skipped - self.problems.len())?;
        }
        Ok(())
    }
}
