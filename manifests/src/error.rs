//! Errors: where in which file, which field, what is wrong and what to write instead.

use std::fmt;

/// A place in a manifest file: the file as named, the document of its
/// stream (1-based, empty documents not counted), and the line and column in
/// the file (1-based; not in the document).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file as it was named (a path, or `<stdin>`).
    pub file: String,
    /// The document in the file's `---`-separated stream, from 1.
    pub document: usize,
    /// The line in the file, from 1.
    pub line: usize,
    /// The column, from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: document {}, line {}, column {}", self.file, self.document, self.line, self.column)
    }
}

/// What is wrong, where: the common part of every [`ManifestError`] about
/// a manifest's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub at: Location,
    /// The field path in the document, Kubernetes style
    /// (`spec.template.spec.containers[0].resources.requests.cpu`); empty
    /// when the problem is the whole document.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it; may be empty, may span lines.
    pub hint: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.at)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)?;
        if self.hint.contains('\n') {
            for line in self.hint.lines() {
                write!(f, "\n  {line}")?;
            }
        } else if !self.hint.is_empty() {
            write!(f, " ({})", self.hint)?;
        }
        Ok(())
    }
}

/// Why manifests could not be read or turned into Twin's workloads.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file or folder could not be read.
    #[error("{path}: {message}")]
    Read {
        /// The path as given.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The text is not YAML.
    #[error("{0}")]
    Syntax(Box<Problem>),
    /// YAML that is not a Kubernetes object, or not the object its
    /// `apiVersion` and `kind` say (a field of the wrong type, a missing `kind`).
    #[error("{0}")]
    Shape(Box<Problem>),
    /// A value Twin cannot read or use: a bad quantity, duration or
    /// annotation, an unknown model or node type.
    #[error("{0}")]
    Value(Box<Problem>),
    /// A reference to something missing (an HPA's target, a priority class,
    /// a pool), or a name used twice.
    #[error("{0}")]
    Reference(Box<Problem>),
    /// No pool of the fleet can run a workload.
    #[error("{0}")]
    Placement(Box<Problem>),
}

impl ManifestError {
    /// The problem, for every error but [`ManifestError::Read`].
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ManifestError::Read { .. } => None,
            ManifestError::Syntax(p)
            | ManifestError::Shape(p)
            | ManifestError::Value(p)
            | ManifestError::Reference(p)
            | ManifestError::Placement(p) => Some(p),
        }
    }

    /// Where the problem is, for every error but [`ManifestError::Read`].
    pub fn location(&self) -> Option<&Location> {
        self.problem().map(|p| &p.at)
    }
}

/// The kind of a [`ManifestError`] about content, before it has a location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Syntax,
    Shape,
    Value,
    Reference,
    Placement,
}

impl Kind {
    /// The error of this kind for `problem`.
    pub(crate) fn error(self, problem: Problem) -> ManifestError {
        let p = Box::new(problem);
        match self {
            Kind::Syntax => ManifestError::Syntax(p),
            Kind::Shape => ManifestError::Shape(p),
            Kind::Value => ManifestError::Value(p),
            Kind::Reference => ManifestError::Reference(p),
            Kind::Placement => ManifestError::Placement(p),
        }
    }
}

/// A problem found in one object, before it is located in its document.
#[derive(Clone, Debug)]
pub struct Fault {
    pub(crate) kind: Kind,
    /// The field, from the object's root.
    pub path: crate::field::FieldPath,
    /// What is wrong.
    pub message: String,
    /// What to do about it; may be empty.
    pub hint: String,
}

impl Fault {
    /// A fault of `kind` at `path`.
    pub(crate) fn new(kind: Kind, path: crate::field::FieldPath, message: impl Into<String>, hint: impl Into<String>) -> Fault {
        Fault { kind, path, message: message.into(), hint: hint.into() }
    }

    /// A value Twin cannot read or use.
    pub(crate) fn value(path: crate::field::FieldPath, message: impl Into<String>, hint: impl Into<String>) -> Fault {
        Fault::new(Kind::Value, path, message, hint)
    }

    /// A reference to something missing, or a name used twice.
    pub(crate) fn reference(path: crate::field::FieldPath, message: impl Into<String>, hint: impl Into<String>) -> Fault {
        Fault::new(Kind::Reference, path, message, hint)
    }

    /// The error, located in `object`'s document.
    pub(crate) fn at(self, manifests: &crate::parse::Manifests, object: &crate::parse::Object) -> ManifestError {
        manifests.error(self.kind, object, &self.path, self.message, self.hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Location {
        Location { file: "app.yaml".into(), document: 2, line: 14, column: 9 }
    }

    #[test]
    fn a_problem_reads_as_location_field_message_hint() {
        let p = Problem {
            at: at(),
            field: "spec.template.spec.containers[0].resources.requests.cpu".into(),
            message: "\"5x\" is not a Kubernetes quantity".into(),
            hint: "write 500m, 2, 6Gi".into(),
        };
        assert_eq!(
            Kind::Value.error(p).to_string(),
            "app.yaml: document 2, line 14, column 9: spec.template.spec.containers[0].resources.requests.cpu: \"5x\" is not a Kubernetes quantity (write 500m, 2, 6Gi)"
        );
    }

    #[test]
    fn a_long_hint_goes_on_indented_lines() {
        let p = Problem { at: at(), field: String::new(), message: "no pool".into(), hint: "the pools:\na: x".into() };
        assert_eq!(p.to_string(), "app.yaml: document 2, line 14, column 9: no pool\n  the pools:\n  a: x");
    }
}
