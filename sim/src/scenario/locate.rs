//! From a field's path to its place in the text: line and column.
//!
//! The scenario is parsed a second time into toml's spanned tree, and the path
//! a check reports (`pools[2].price`) is walked down it. A path that ends at a
//! key the file does not have (a missing field, a default) points at the
//! deepest part of the path that exists.

use std::fmt;
use toml::de::{DeTable, DeValue};

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A key in a table.
    Key(String),
    /// An element of an array.
    Index(usize),
}

/// A path from the document root to a field, such as `services[0].slo.ttft`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    /// The root of the document.
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// This path with a key appended.
    pub fn key(&self, k: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Key(k.to_string()));
        p
    }

    /// This path with an array index appended.
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Index(i));
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Finds where a path lives in `text`: the byte range of the deepest existing
/// key (preferred, so the caret lands on the field's name) or value.
pub fn span_of(text: &str, path: &FieldPath) -> Option<std::ops::Range<usize>> {
    let root = DeTable::parse(text).ok()?;
    let mut best = None;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    let mut value: Option<&DeValue<'_>> = None;
    for seg in &path.0 {
        match seg {
            Segment::Key(k) => {
                let t = match (table, value) {
                    (Some(t), _) => t,
                    (None, Some(DeValue::Table(t))) => t,
                    _ => break,
                };
                let Some((key, v)) = t.iter().find(|(key, _)| key.get_ref().as_ref() == k.as_str()) else {
                    break;
                };
                best = Some(key.span());
                value = Some(v.get_ref());
                table = None;
            }
            Segment::Index(i) => {
                let Some(DeValue::Array(a)) = value else {
                    break;
                };
                let Some(item) = a.get(*i) else { break };
                let span = item.span();
                // An array-of-tables element may have an empty span; keep the array's key then.
                if !span.is_empty() {
                    best = Some(span);
                }
                value = Some(item.get_ref());
                table = None;
            }
        }
    }
    best
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name = \"x\"\n\n[[pools]]\nname = \"a\"\n\n[[pools]]\nname = \"b\"\nprice = { fixed = 3.0 }\n";

    #[test]
    fn finds_nested_keys_in_arrays_of_tables() {
        let p = FieldPath::root().key("pools").index(1).key("price").key("fixed");
        let span = span_of(DOC, &p).unwrap();
        assert_eq!(&DOC[span.clone()], "fixed");
        assert_eq!(line_col(DOC, span.start), (8, 11));
        assert_eq!(p.to_string(), "pools[1].price.fixed");
    }

    #[test]
    fn a_missing_key_points_at_its_deepest_existing_parent() {
        let p = FieldPath::root().key("pools").index(0).key("capacity");
        let span = span_of(DOC, &p).unwrap();
        let (line, _) = line_col(DOC, span.start);
        assert!(line == 3 || line == 4, "line {line}");
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("é = 1\nab", 7), (2, 1));
        assert_eq!(line_col("é = 1", 2), (1, 2));
    }
}
