//! A field path to a line and column of its document.
//!
//! Objects are read into `k8s-openapi` types, which keep no positions. When
//! a value turns out wrong later (a quantity, an annotation, a selector no
//! pool satisfies), the document is read again, once, into a tree of
//! positions ([`Node`], through serde-saphyr's `Spanned`), and the path is
//! looked up there. Errors are rare; reading is not slowed for them.

use crate::field::{FieldPath, Segment};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A line and column within a document, both from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

fn pos(l: &serde_saphyr::Location) -> Option<Pos> {
    let (line, column) = (l.line() as usize, l.column() as usize);
    (line > 0).then_some(Pos { line, column: column.max(1) })
}

/// A YAML node with the positions of its keys and values.
enum Node {
    /// A mapping: each key as text, where it is, and its value.
    Map(Vec<(String, Option<Pos>, Spanned<Node>)>),
    /// A sequence.
    Seq(Vec<Spanned<Node>>),
    /// A scalar or null.
    Scalar,
}

/// A mapping key as text, whatever scalar it is.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
                Ok(Key(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML node")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = map.next_key::<Spanned<Key>>()? {
                    let v = map.next_value::<Spanned<Node>>()?;
                    entries.push((k.value.0, pos(&k.referenced), v));
                }
                Ok(Node::Map(entries))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<Spanned<Node>>()? {
                    items.push(v);
                }
                Ok(Node::Seq(items))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Node, D2::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i128<E: de::Error>(self, _: i128) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u128<E: de::Error>(self, _: u128) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

/// Where `path` is in `document`: a scalar's value, or the key of a mapping
/// or sequence; where the path goes further than the document, the deepest
/// part of it that is there. `None` when the document cannot be read.
pub(crate) fn locate(document: &str, path: &FieldPath) -> Option<Pos> {
    let root: Spanned<Node> = serde_saphyr::from_str(document).ok()?;
    let mut best = pos(&root.referenced);
    let mut node = &root.value;
    for seg in &path.0 {
        let next = match (seg, node) {
            (Segment::Key(k), Node::Map(entries)) => entries.iter().find(|(key, _, _)| key == k).map(|(_, kp, v)| (*kp, v)),
            (Segment::Index(i), Node::Seq(items)) => items.get(*i).map(|v| (pos(&v.referenced), v)),
            _ => None,
        };
        let Some((key_pos, value)) = next else { break };
        best = match value.value {
            Node::Scalar => pos(&value.referenced).or(key_pos).or(best),
            _ => key_pos.or(pos(&value.referenced)).or(best),
        };
        node = &value.value;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
  annotations:
    twin.dev/model: llama
spec:
  template:
    spec:
      containers:
      - name: a
        resources:
          requests:
            cpu: 5x
";

    #[test]
    fn scalars_point_at_their_value_and_containers_at_their_key() {
        let cpu = FieldPath::of("spec.template.spec").key("containers").index(0).keys("resources.requests.cpu");
        assert_eq!(locate(DOC, &cpu), Some(Pos { line: 14, column: 18 }));
        assert_eq!(locate(DOC, &FieldPath::of("spec.template")), Some(Pos { line: 8, column: 3 }));
        let model = FieldPath::of("metadata.annotations").key("twin.dev/model");
        assert_eq!(locate(DOC, &model), Some(Pos { line: 6, column: 21 }));
    }

    #[test]
    fn a_path_beyond_the_document_points_at_its_deepest_part() {
        let p = FieldPath::of("spec.template.spec.nodeSelector");
        assert_eq!(locate(DOC, &p), Some(Pos { line: 9, column: 5 }));
        assert_eq!(locate("a: [1", &p), None);
    }
}
