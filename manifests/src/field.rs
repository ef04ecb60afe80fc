//! Field paths in a Kubernetes object, written as Kubernetes writes them.

use std::fmt;

/// One step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A key of a mapping.
    Key(String),
    /// An element of a sequence.
    Index(usize),
}

/// A path to a field, such as
/// `spec.template.spec.containers[0].resources.requests[nvidia.com/gpu]`:
/// keys made of letters, digits, `_` and `-` follow a dot, other keys (label
/// and annotation keys, resource names) and indices go in brackets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(pub(crate) Vec<Segment>);

impl FieldPath {
    /// The whole document.
    pub(crate) fn root() -> FieldPath {
        FieldPath(Vec::new())
    }

    /// A path of dotted keys, such as `"spec.template.spec"`.
    pub fn of(dotted: &str) -> FieldPath {
        FieldPath(dotted.split('.').filter(|k| !k.is_empty()).map(|k| Segment::Key(k.to_string())).collect())
    }

    /// This path, then the key `k`.
    pub fn key(&self, k: &str) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Segment::Key(k.to_string()));
        p
    }

    /// This path, then the dotted keys of `dotted`.
    pub(crate) fn keys(&self, dotted: &str) -> FieldPath {
        let mut p = self.clone();
        p.0.extend(FieldPath::of(dotted).0);
        p
    }

    /// This path, then element `i`.
    pub fn index(&self, i: usize) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Segment::Index(i));
        p
    }

    /// The path serde_path_to_error recorded.
    pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> FieldPath {
        use serde_path_to_error::Segment as S;
        FieldPath(
            path.iter()
                .filter_map(|s| match s {
                    S::Seq { index } => Some(Segment::Index(*index)),
                    S::Map { key } => Some(Segment::Key(key.clone())),
                    S::Enum { variant } => Some(Segment::Key(variant.clone())),
                    S::Unknown => None,
                })
                .collect(),
        )
    }
}

fn plain(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if plain(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Segment::Key(k) => write!(f, "[{k}]")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_as_kubernetes_writes_them() {
        let p = FieldPath::of("spec.template.spec").key("containers").index(0).keys("resources.requests").key("nvidia.com/gpu");
        assert_eq!(p.to_string(), "spec.template.spec.containers[0].resources.requests[nvidia.com/gpu]");
        assert_eq!(FieldPath::of("metadata.annotations").key("twin.dev/model").to_string(), "metadata.annotations[twin.dev/model]");
        assert_eq!(FieldPath::root().to_string(), "");
    }
}
