//! Scenario text into a [`ScenarioSpec`]: a TOML or serde error becomes a
//! located [`ScenarioError`] of the right kind, with a hint.
//!
//! toml says where deserialisation stopped (the field's path and the span of
//! its value) and why, but only as text. To know *what* went wrong — an
//! unknown field and the fields there are, an unknown variant, a missing
//! field, a value of the wrong type — the text is deserialised a second time
//! from toml's value tree through [`Tree`], a deserializer whose error type,
//! [`Mistake`], keeps the facts serde hands to its constructors. Both passes
//! walk each table in the order of toml's own map, so they stop at the same
//! field (or the structured pass goes deeper, where toml checks a table
//! itself); the kind, the hint and the message come from the [`Mistake`],
//! the place from toml's span of the value where it has one.

use super::error::{ErrorKind, ScenarioError, ScenarioErrors};
use super::locate::{self, FieldPath, Segment};
use super::spec::ScenarioSpec;
use serde::de::value::{MapAccessDeserializer, MapDeserializer, SeqDeserializer};
use serde::de::{self, Deserializer, Expected, IntoDeserializer, Unexpected, Visitor};
use std::fmt;

/// Deserializes the text, turning a syntax or serde error into a located one.
pub(super) fn parse_spec(text: &str, origin: &str) -> Result<ScenarioSpec, ScenarioErrors> {
    let at = |kind, span: Option<std::ops::Range<usize>>, field: String, message: String, hint: Option<String>| {
        let (line, column) = span.map_or((1, 1), |s| locate::line_col(text, s.start));
        ScenarioErrors(vec![ScenarioError { kind, origin: origin.to_string(), line, column, field, message, hint }])
    };
    let de = match toml::Deserializer::parse(text) {
        Ok(d) => d,
        Err(e) => {
            return Err(at(
                ErrorKind::Syntax,
                e.span(),
                String::new(),
                first_line(e.message()),
                Some("this is not valid TOML; see https://toml.io".into()),
            ));
        }
    };
    let e = match serde_path_to_error::deserialize::<_, ScenarioSpec>(de) {
        Ok(spec) => return Ok(spec),
        Err(e) => e,
    };
    let path = convert_path(e.path());
    let inner = e.inner();
    match mistake(text) {
        // toml checks some tables itself and stops at the table, where the
        // structured pass goes on to the key at fault.
        Some((p, m)) if p.0.starts_with(&path.0) => {
            let span = if p == path { inner.span() } else { None }.or_else(|| locate::span_of(text, &p));
            let (kind, hint) = m.classify(&p);
            Err(at(kind, span, p.to_string(), first_line(&m.message), hint))
        }
        // The passes disagree (they should not): toml's word, unclassified.
        _ => {
            let span = inner.span().or_else(|| locate::span_of(text, &path));
            Err(at(ErrorKind::InvalidValue, span, path.to_string(), first_line(inner.message()), None))
        }
    }
}

/// Where and what the second, structured pass over `text` finds wrong.
fn mistake(text: &str) -> Option<(FieldPath, Mistake)> {
    let tree = toml::Value::Table(text.parse::<toml::Table>().ok()?);
    let e = serde_path_to_error::deserialize::<_, ScenarioSpec>(Tree(&tree)).err()?;
    Some((convert_path(e.path()), e.into_inner()))
}

fn first_line(m: &str) -> String {
    m.lines().next().unwrap_or(m).trim().to_string()
}

fn convert_path(p: &serde_path_to_error::Path) -> FieldPath {
    use serde_path_to_error::Segment as S;
    FieldPath(
        p.iter()
            .filter_map(|s| match s {
                S::Seq { index } => Some(Segment::Index(*index)),
                S::Map { key } => Some(Segment::Key(key.clone())),
                S::Enum { variant } => Some(Segment::Key(variant.clone())),
                S::Unknown => None,
            })
            .collect(),
    )
}

/// The candidate closest to `found` (fewest single-character edits,
/// Levenshtein), if it is [`likely_misspelling`]; ties go to the first.
pub(super) fn closest<'c>(found: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|&c| (strsim::levenshtein(found, c), c))
        .filter(|&(d, c)| likely_misspelling(d, c))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Whether a name `distance` edits from `candidate` is likely a misspelling
/// of it: at most 2 edits, or a third of the candidate's length (in bytes)
/// for longer names.
pub(super) fn likely_misspelling(distance: usize, candidate: &str) -> bool {
    distance <= 2.max(candidate.len() / 3)
}

/// What serde found wrong, as the facts it passed to the error's
/// constructor, with serde's own wording of them.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(super) struct Mistake {
    /// What went wrong.
    pub(super) fact: Fact,
    /// serde's message for it, word for word what toml would say.
    pub(super) message: String,
}

/// The facts of a [`Mistake`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Fact {
    /// A key the table does not have.
    UnknownField {
        /// The key as written.
        found: String,
        /// The keys the table has.
        expected: &'static [&'static str],
    },
    /// A name the enum does not have.
    UnknownVariant {
        /// The name as written.
        found: String,
        /// The names it has.
        expected: &'static [&'static str],
    },
    /// A required key that is absent.
    MissingField(&'static str),
    /// A value of the wrong type.
    InvalidType,
    /// A value of the right type that is not allowed: out of range, of the
    /// wrong length, a key given twice, or a type's own message (durations).
    InvalidValue,
}

impl Mistake {
    /// The kind of error this is, and a hint for the field at `path`.
    pub(super) fn classify(&self, path: &FieldPath) -> (ErrorKind, Option<String>) {
        match &self.fact {
            Fact::UnknownField { found, expected } => {
                let hint = if expected.is_empty() {
                    "remove it or check its spelling".to_string()
                } else {
                    match closest(found, expected) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "remove it, or use one of the fields listed".to_string(),
                    }
                };
                (ErrorKind::UnknownField, Some(hint))
            }
            Fact::UnknownVariant { found, expected } => {
                let allowed = expected.join(", ");
                let hint = match closest(found, expected) {
                    Some(s) => format!("did you mean `{s}`? Allowed: {allowed}"),
                    None => format!("allowed: {allowed}"),
                };
                (ErrorKind::InvalidValue, Some(hint))
            }
            Fact::MissingField(field) => {
                let hint = if path.0.is_empty() {
                    format!("add `{field} = ...` at the top of the file")
                } else {
                    format!("add `{field} = ...` to `{path}`")
                };
                (ErrorKind::MissingField, Some(hint))
            }
            Fact::InvalidType => (ErrorKind::InvalidType, None),
            Fact::InvalidValue => (ErrorKind::InvalidValue, None),
        }
    }

    fn new(fact: Fact, message: Wording) -> Self {
        Mistake { fact, message: message.0 }
    }
}

impl de::Error for Mistake {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Mistake { fact: Fact::InvalidValue, message: msg.to_string() }
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Mistake::new(Fact::InvalidType, Wording::invalid_type(unexp, exp))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Mistake::new(Fact::InvalidValue, Wording::invalid_value(unexp, exp))
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        Mistake::new(Fact::InvalidValue, Wording::invalid_length(len, exp))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Mistake::new(Fact::UnknownVariant { found: variant.into(), expected }, Wording::unknown_variant(variant, expected))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Mistake::new(Fact::UnknownField { found: field.into(), expected }, Wording::unknown_field(field, expected))
    }

    fn missing_field(field: &'static str) -> Self {
        Mistake::new(Fact::MissingField(field), Wording::missing_field(field))
    }

    fn duplicate_field(field: &'static str) -> Self {
        Mistake::new(Fact::InvalidValue, Wording::duplicate_field(field))
    }
}

/// serde's wording of each mistake: an error with only `custom`, so that
/// serde's provided constructors write the messages every format shows.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Wording(String);

impl de::Error for Wording {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Wording(msg.to_string())
    }
}

/// A deserializer over toml's value tree whose error is a [`Mistake`]. It
/// presents values as toml's own deserializer does: integers as `i64`,
/// enums as a name or a table of one key, tables in the map's order.
#[derive(Clone, Copy)]
struct Tree<'a>(&'a toml::Value);

/// The names of an enum's variants, as what a value of the wrong type should have been.
struct OneOf(&'static [&'static str]);

impl Expected for OneOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "one of `{}`", self.0.join("`, `"))
    }
}

impl Tree<'_> {
    fn unexpected(&self) -> Unexpected<'_> {
        match self.0 {
            toml::Value::String(s) => Unexpected::Str(s),
            toml::Value::Integer(i) => Unexpected::Signed(*i),
            toml::Value::Float(x) => Unexpected::Float(*x),
            toml::Value::Boolean(b) => Unexpected::Bool(*b),
            toml::Value::Datetime(_) => Unexpected::Other("a date-time"),
            toml::Value::Array(_) => Unexpected::Seq,
            toml::Value::Table(_) => Unexpected::Map,
        }
    }

    fn entries<'de, 't>(t: &'t toml::Table) -> MapDeserializer<'de, impl Iterator<Item = (&'t str, Tree<'t>)>, Mistake> {
        MapDeserializer::new(t.iter().map(|(k, v)| (k.as_str(), Tree(v))))
    }
}

impl<'de> Deserializer<'de> for Tree<'_> {
    type Error = Mistake;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mistake> {
        match self.0 {
            toml::Value::String(s) => visitor.visit_str(s),
            toml::Value::Integer(i) => visitor.visit_i64(*i),
            toml::Value::Float(x) => visitor.visit_f64(*x),
            toml::Value::Boolean(b) => visitor.visit_bool(*b),
            toml::Value::Datetime(_) => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
            toml::Value::Array(a) => {
                let mut seq = SeqDeserializer::new(a.iter().map(Tree));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            toml::Value::Table(t) => {
                let mut map = Tree::entries(t);
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mistake> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Mistake> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Mistake> {
        match self.0 {
            toml::Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            toml::Value::Table(t) if t.len() == 1 => visitor.visit_enum(MapAccessDeserializer::new(Tree::entries(t))),
            toml::Value::Table(_) => Err(de::Error::invalid_value(Unexpected::Map, &"a table with exactly one key")),
            _ => Err(de::Error::invalid_type(self.unexpected(), &OneOf(variants))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

impl<'de, 'a> IntoDeserializer<'de, Mistake> for Tree<'a> {
    type Deserializer = Tree<'a>;

    fn into_deserializer(self) -> Tree<'a> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact_of(text: &str) -> (String, Fact) {
        let (path, m) = mistake(text).expect("a mistake");
        (path.to_string(), m.fact)
    }

    #[test]
    fn each_kind_of_mistake_keeps_its_facts() {
        let top = "format_version = 1\nname = \"t\"\n";
        assert_eq!(fact_of("format_version = 1\n"), (String::new(), Fact::MissingField("name")));
        let (path, fact) = fact_of(&format!("{top}seeed = 3\n"));
        assert_eq!(path, "seeed");
        assert!(matches!(fact, Fact::UnknownField { found, expected } if found == "seeed" && expected.contains(&"seed")));
        let (path, fact) = fact_of(&format!("{top}[[pools]]\nname = \"p\"\nnode_type = \"n\"\ncapacity = \"spto\"\n"));
        assert_eq!(path, "pools[0].capacity");
        assert!(matches!(fact, Fact::UnknownVariant { found, expected } if found == "spto" && expected.contains(&"spot")));
        assert_eq!(fact_of(&format!("{top}seed = \"x\"\n")), ("seed".into(), Fact::InvalidType));
        assert_eq!(fact_of(&format!("{top}seed = -1\n")), ("seed".into(), Fact::InvalidValue));
        assert_eq!(fact_of(&format!("{top}horizon = \"1 fortnight\"\n")), ("horizon".into(), Fact::InvalidValue));
        assert_eq!(fact_of("format_version = 1\nname = 2025-01-01\n"), ("name".into(), Fact::InvalidType));
    }

    #[test]
    fn the_wording_is_serdes() {
        let (_, m) = mistake("format_version = 1\nname = \"t\"\nseed = \"x\"\n").unwrap();
        assert_eq!(m.message, "invalid type: string \"x\", expected u64");
        let (_, m) = mistake("format_version = 1\nname = \"t\"\n[pod_trace]\npods = \"a\"\nnodes = \"b\"\nformat = 3\n").unwrap();
        assert_eq!(m.message, "invalid type: integer `3`, expected one of `openb`");
    }
}
