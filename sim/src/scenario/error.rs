//! Errors in scenario files: where, which field, what is wrong, how to fix it.

use std::fmt;

/// What kind of mistake a scenario error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The text is not valid TOML.
    Syntax,
    /// A key the format does not have (often a misspelling).
    UnknownField,
    /// A required key is absent.
    MissingField,
    /// A value of the wrong type (a string where a number belongs, ...).
    InvalidType,
    /// A value of the right type outside what makes sense (a negative rate, an empty horizon).
    InvalidValue,
    /// A name that refers to nothing: a pool, node type, accelerator or model.
    UnknownReference,
    /// Two things with the same name.
    Duplicate,
    /// Valid on its own but impossible in this fleet (a gang larger than any pool).
    Unsatisfiable,
    /// A `format_version` this build does not read.
    UnsupportedVersion,
}

impl ErrorKind {
    /// A short name for the kind, as tests and tools match on it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax",
            ErrorKind::UnknownField => "unknown-field",
            ErrorKind::MissingField => "missing-field",
            ErrorKind::InvalidType => "invalid-type",
            ErrorKind::InvalidValue => "invalid-value",
            ErrorKind::UnknownReference => "unknown-reference",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::Unsatisfiable => "unsatisfiable",
            ErrorKind::UnsupportedVersion => "unsupported-version",
        }
    }
}

/// One mistake in a scenario file, located to its line and column.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ScenarioError {
    /// What kind of mistake.
    pub kind: ErrorKind,
    /// The file (or other origin) the text came from.
    pub origin: String,
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// 1-based column (in characters) of the offending key or value.
    pub column: usize,
    /// The field's path, such as `pools[2].interruption.rate_per_hour`.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.origin, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "`{}`: ", self.field)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Every mistake found in one scenario file, in the order of the file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl ScenarioErrors {
    /// The mistakes.
    pub fn errors(&self) -> &[ScenarioError] {
        &self.0
    }
}

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
