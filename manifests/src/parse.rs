//! Manifest streams read into typed Kubernetes objects.
//!
//! Each document is read twice: into a small header (`apiVersion`, `kind`,
//! `metadata.name`), then, for the kinds Twin models, into its
//! `k8s-openapi` type (or [`NodePool`]). Other kinds are listed in the
//! notes and skipped. Errors name the file, the document, the line and
//! column in the file, and the field.

use crate::document::{self, Chunk};
use crate::error::{Kind, Location, ManifestError, Problem};
use crate::field::FieldPath;
use crate::karpenter::NodePool;
use crate::locate;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_saphyr::{DefaultMessageFormatter, MessageFormatter};
use std::ops::Range;

/// A manifest file's text and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestFile {
    /// A path, or `<stdin>`: how errors and notes name the file.
    pub origin: String,
    /// The YAML stream.
    pub text: String,
}

/// An object of a kind Twin models.
#[derive(Clone, Debug)]
pub enum Resource {
    /// `apps/v1` Deployment: an inference service, or capacity held.
    Deployment(Box<Deployment>),
    /// `apps/v1` StatefulSet: as a Deployment.
    StatefulSet(Box<StatefulSet>),
    /// `batch/v1` Job: training work, or capacity held.
    Job(Box<Job>),
    /// `autoscaling/v2` HorizontalPodAutoscaler: a service's autoscaler.
    HorizontalPodAutoscaler(Box<HorizontalPodAutoscaler>),
    /// `scheduling.k8s.io/v1` PriorityClass: workloads' priorities.
    PriorityClass(Box<PriorityClass>),
    /// `karpenter.sh/v1` NodePool: pools of cloud nodes.
    NodePool(Box<NodePool>),
}

impl Resource {
    /// The kind, as manifests write it.
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Deployment(_) => "Deployment",
            Resource::StatefulSet(_) => "StatefulSet",
            Resource::Job(_) => "Job",
            Resource::HorizontalPodAutoscaler(_) => "HorizontalPodAutoscaler",
            Resource::PriorityClass(_) => "PriorityClass",
            Resource::NodePool(_) => "NodePool",
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Resource::Deployment(d) => &d.metadata,
            Resource::StatefulSet(s) => &s.metadata,
            Resource::Job(j) => &j.metadata,
            Resource::HorizontalPodAutoscaler(h) => &h.metadata,
            Resource::PriorityClass(p) => &p.metadata,
            Resource::NodePool(n) => &n.metadata,
        }
    }

    /// `metadata.name`, or empty.
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or("")
    }

    /// `metadata.namespace`, or `default`.
    pub fn namespace(&self) -> &str {
        self.metadata().namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or("default")
    }
}

/// Where an object's document is: which file, which bytes of it.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    file: usize,
    document: usize,
    range: Range<usize>,
    first_line: usize,
}

/// One object read from a manifest.
#[derive(Clone, Debug)]
pub struct Object {
    /// Where its document's content starts.
    pub at: Location,
    /// The object.
    pub resource: Resource,
    pub(crate) source: Source,
}

impl Object {
    /// (file, document): the order of objects and notes.
    pub(crate) fn key(&self) -> (usize, usize) {
        (self.source.file, self.source.document)
    }
}

/// Every object of a set of manifest files, in order of file and document,
/// with a note for each document skipped.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    files: Vec<ManifestFile>,
    objects: Vec<Object>,
    notes: Vec<Note>,
}

/// A note about one document, kept in order of file and document.
#[derive(Clone, Debug)]
pub(crate) struct Note {
    pub(crate) key: (usize, usize),
    pub(crate) text: String,
}

impl Manifests {
    /// The objects of kinds Twin models, in order of file and document.
    pub fn objects(&self) -> &[Object] {
        &self.objects
    }

    /// A line for each document skipped, such as
    /// `app.yaml document 2: v1 Service web: not modelled, skipped`.
    pub fn notes(&self) -> Vec<&str> {
        self.notes.iter().map(|n| n.text.as_str()).collect()
    }

    /// The notes with their (file, document) keys.
    pub(crate) fn keyed_notes(&self) -> &[Note] {
        &self.notes
    }

    /// An error of `kind` at `path` of `object`'s document (located by
    /// reading the document again).
    pub(crate) fn error(&self, kind: Kind, object: &Object, path: &FieldPath, message: String, hint: String) -> ManifestError {
        let s = &object.source;
        let text = &self.files[s.file].text[s.range.clone()];
        let (line, column) = match locate::locate(text, path) {
            Some(p) => (s.first_line + p.line - 1, p.column),
            None => (object.at.line, object.at.column),
        };
        let at = Location { file: object.at.file.clone(), document: s.document, line, column };
        kind.error(Problem { at, field: path.to_string(), message, hint })
    }
}

/// The first fields of every object.
#[derive(Deserialize)]
struct Header {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: Option<HeaderMeta>,
}

#[derive(Deserialize)]
struct HeaderMeta {
    #[serde(default)]
    name: Option<String>,
}

/// A document being read: for errors and notes.
struct Doc<'a> {
    origin: &'a str,
    number: usize,
    text: &'a str,
    first_line: usize,
}

impl Doc<'_> {
    fn location(&self, line: usize, column: usize) -> Location {
        Location { file: self.origin.to_string(), document: self.number, line: self.first_line + line.max(1) - 1, column: column.max(1) }
    }

    /// The error serde-saphyr reported, as a problem of this document.
    fn yaml_error(&self, kind: Kind, e: &serde_saphyr::Error, path: Option<FieldPath>, hint: &str) -> ManifestError {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line() as usize, l.column() as usize));
        let message = plain(&DefaultMessageFormatter.format_message(e.without_snippet()));
        kind.error(Problem {
            at: self.location(line, column),
            field: path.map(|p| p.to_string()).unwrap_or_default(),
            message,
            hint: hint.to_string(),
        })
    }

    /// The document read as `T`; on error, read again to learn the field path.
    fn read<T: DeserializeOwned>(&self, hint: &str) -> Result<T, ManifestError> {
        match serde_saphyr::from_str::<T>(self.text) {
            Ok(v) => Ok(v),
            Err(first) => {
                let mut path = None;
                let again = serde_saphyr::with_deserializer_from_str(self.text, |de| {
                    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
                        path = Some(FieldPath::from_serde(e.path()));
                        e.into_inner()
                    })
                });
                if let Err(syntax) = serde_saphyr::from_str::<serde::de::IgnoredAny>(self.text) {
                    return Err(self.yaml_error(Kind::Syntax, &syntax, None, "the document is not valid YAML"));
                }
                let e = again.err().unwrap_or(first);
                Err(self.yaml_error(Kind::Shape, &e, path, hint))
            }
        }
    }
}

/// serde-saphyr's terse type messages (`invalid i32`) in words.
fn plain(message: &str) -> String {
    match message {
        "invalid i32" | "invalid i64" | "invalid u32" | "invalid u64" => "expected a whole number".into(),
        "invalid f64" | "invalid f32" => "expected a number".into(),
        "invalid bool" => "expected true or false".into(),
        m => m.to_string(),
    }
}

/// Reads every file's stream. The first problem ends the reading.
pub fn parse(files: &[ManifestFile]) -> Result<Manifests, ManifestError> {
    let mut m = Manifests::default();
    for (index, file) in files.iter().enumerate() {
        let text = file.text.strip_prefix('\u{feff}').unwrap_or(&file.text);
        let mut number = 0;
        for Chunk { range, first_line } in document::split(text) {
            let doc_text = &text[range.clone()];
            let mut doc = Doc { origin: &file.origin, number: number + 1, text: doc_text, first_line };
            let header = match quick_header(doc_text) {
                // A kind Twin reads is read in one pass: its type checks apiVersion and kind again.
                Some((api_version, kind)) if READ.contains(&(api_version, kind)) => {
                    Header { api_version: Some(api_version.to_string()), kind: Some(kind.to_string()), metadata: None }
                }
                _ => match read_header(&doc)? {
                    Some(h) => h,
                    None => continue,
                },
            };
            number += 1;
            doc.number = number;
            let line = document::first_content_line(doc_text, first_line);
            let at = Location { file: file.origin.clone(), document: number, line, column: 1 };
            let source = Source { file: index, document: number, range, first_line };
            let mut note = None;
            let read = read_object(&doc, &header, &at, &mut note)?;
            if let Some(text) = note {
                m.notes.push(Note { key: (index, number), text });
            }
            if let Some(resource) = read {
                m.objects.push(Object { at, resource, source });
            }
        }
        m.files.push(ManifestFile { origin: file.origin.clone(), text: text.to_string() });
    }
    Ok(m)
}

/// The (apiVersion, kind) pairs read into types.
const READ: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("karpenter.sh/v1", "NodePool"),
];

/// `apiVersion` and `kind` found without parsing: from the document's
/// top-level lines (at column 0, where only the root mapping's keys can
/// be), when both are plain words. `None` when the document is written any
/// other way; the parser then reads the header.
fn quick_header(text: &str) -> Option<(&str, &str)> {
    let (mut api_version, mut kind) = (None, None);
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty()
            || line.starts_with([' ', '\t', '#', '%'])
            || document::is_marker(line, "---")
            || document::is_marker(line, "...")
        {
            continue;
        }
        let (key, rest) = line.split_once(':')?;
        let slot = match key {
            "apiVersion" => &mut api_version,
            "kind" => &mut kind,
            _ => continue,
        };
        let value = rest.split(" #").next().unwrap_or("").trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b'-' | b'_'));
        if !plain || slot.is_some() {
            return None;
        }
        *slot = Some(value);
    }
    Some((api_version?, kind?))
}

/// The header of a document; `None` for an empty one.
fn read_header(doc: &Doc<'_>) -> Result<Option<Header>, ManifestError> {
    match serde_saphyr::from_str::<Option<Header>>(doc.text) {
        Ok(h) => Ok(h),
        Err(e) => {
            // Not YAML at all, or YAML that is not a mapping?
            if let Err(syntax) = serde_saphyr::from_str::<serde::de::IgnoredAny>(doc.text) {
                return Err(doc.yaml_error(Kind::Syntax, &syntax, None, "the document is not valid YAML"));
            }
            let header = doc.read::<Option<Header>>(OBJECT_HINT).err();
            Err(header.unwrap_or_else(|| doc.yaml_error(Kind::Shape, &e, None, OBJECT_HINT)))
        }
    }
}

const OBJECT_HINT: &str = "each document is one Kubernetes object: a mapping with `apiVersion`, `kind` and `metadata`";

/// The API group of an `apiVersion` (empty for the core group `v1`).
fn group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The kinds Twin reads: (kind, group, the apiVersion read).
const MODELLED: &[(&str, &str, &str)] = &[
    ("Deployment", "apps", "apps/v1"),
    ("StatefulSet", "apps", "apps/v1"),
    ("Job", "batch", "batch/v1"),
    ("HorizontalPodAutoscaler", "autoscaling", "autoscaling/v2"),
    ("PriorityClass", "scheduling.k8s.io", "scheduling.k8s.io/v1"),
    ("NodePool", "karpenter.sh", "karpenter.sh/v1"),
];

/// The object a document holds, or `None` (with a note) for a kind Twin does not model.
fn read_object(doc: &Doc<'_>, header: &Header, at: &Location, note: &mut Option<String>) -> Result<Option<Resource>, ManifestError> {
    let missing = |field: &str| {
        Kind::Shape.error(Problem {
            at: at.clone(),
            field: String::new(),
            message: format!("a Kubernetes object needs `{field}`"),
            hint: "such as `apiVersion: apps/v1` and `kind: Deployment`".into(),
        })
    };
    let api_version = header.api_version.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| missing("apiVersion"))?;
    let kind = header.kind.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| missing("kind"))?;
    let shape_hint = format!("see {api_version} {kind} in the Kubernetes API reference");
    let resource = match (api_version, kind) {
        ("apps/v1", "Deployment") => Resource::Deployment(Box::new(doc.read(&shape_hint)?)),
        ("apps/v1", "StatefulSet") => Resource::StatefulSet(Box::new(doc.read(&shape_hint)?)),
        ("batch/v1", "Job") => Resource::Job(Box::new(doc.read(&shape_hint)?)),
        ("autoscaling/v2", "HorizontalPodAutoscaler") => Resource::HorizontalPodAutoscaler(Box::new(doc.read(&shape_hint)?)),
        ("scheduling.k8s.io/v1", "PriorityClass") => Resource::PriorityClass(Box::new(doc.read(&shape_hint)?)),
        ("karpenter.sh/v1", "NodePool") => Resource::NodePool(Box::new(doc.read("see NodePool in Karpenter's v1 API reference")?)),
        ("v1", "List") => {
            return Err(Kind::Shape.error(Problem {
                at: at.clone(),
                field: "items".into(),
                message: "a v1 List is not read".into(),
                hint: "write each item as its own document of the stream, as `kustomize build` prints them".into(),
            }));
        }
        _ => {
            if let Some((_, _, read)) = MODELLED.iter().find(|(k, g, _)| *k == kind && *g == group(api_version)) {
                return Err(Kind::Shape.error(Problem {
                    at: at.clone(),
                    field: "apiVersion".into(),
                    message: format!("{kind} {api_version} is not read"),
                    hint: format!("Twin reads {kind} as {read}"),
                }));
            }
            let name = header.metadata.as_ref().and_then(|m| m.name.as_deref()).unwrap_or("(unnamed)");
            let why = match group(api_version) {
                "kustomize.config.k8s.io" => ": run `kustomize build` and read its output",
                _ => "",
            };
            *note = Some(format!("{} document {}: {api_version} {kind} {name}: not modelled, skipped{why}", doc.origin, doc.number));
            return Ok(None);
        }
    };
    Ok(Some(resource))
}

/// Reads one file's text (a convenience for tests and small tools).
pub fn parse_str(origin: &str, text: &str) -> Result<Manifests, ManifestError> {
    parse(&[ManifestFile { origin: origin.to_string(), text: text.to_string() }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_header_reads_plain_top_level_lines_only() {
        assert_eq!(quick_header("--- # x\napiVersion: apps/v1\nmetadata:\n  kind: no\nkind: \"Job\" # yes\n"), Some(("apps/v1", "Job")));
        assert_eq!(quick_header("{apiVersion: v1, kind: Service}\n"), None);
        assert_eq!(quick_header("apiVersion: v1\nkind: !!str Service\n"), None);
        assert_eq!(quick_header("apiVersion: v1\nkind: A\nkind: B\n"), None);
        assert_eq!(quick_header("- a\n"), None);
        assert_eq!(quick_header("kind: Job\n"), None);
    }

    #[test]
    fn a_syntax_error_in_a_modelled_kind_is_a_syntax_error() {
        let e = parse_str("a.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: [x\n  labels: {}\n").unwrap_err();
        assert!(matches!(e, ManifestError::Syntax(_)), "{e}");
    }

    #[test]
    fn kinds_twin_does_not_model_are_noted_and_skipped() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high\nvalue: 1000\n";
        let m = parse_str("app.yaml", text).unwrap();
        assert_eq!(m.notes(), ["app.yaml document 1: v1 Service web: not modelled, skipped"]);
        assert_eq!(m.objects().len(), 1);
        let o = &m.objects()[0];
        assert_eq!(o.resource.kind(), "PriorityClass");
        assert_eq!((o.at.document, o.at.line), (2, 6));
    }

    #[test]
    fn empty_documents_are_not_counted() {
        let text = "---\n# nothing\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
        let m = parse_str("a.yaml", text).unwrap();
        assert_eq!(m.notes(), ["a.yaml document 1: v1 ConfigMap c: not modelled, skipped"]);
    }

    #[test]
    fn a_syntax_error_names_file_document_line_and_column() {
        let text = "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: [x\n  labels: {}\n";
        let e = parse_str("app.yaml", text).unwrap_err();
        assert!(matches!(e, ManifestError::Syntax(_)), "{e}");
        let at = e.location().unwrap();
        assert_eq!((at.file.as_str(), at.document), ("app.yaml", 2));
        assert!(at.line >= 7, "{e}");
    }

    #[test]
    fn a_field_of_the_wrong_type_names_its_path_and_line() {
        let text =
            "kind: ConfigMap\napiVersion: v1\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: three\n";
        let e = parse_str("app.yaml", text).unwrap_err();
        let p = e.problem().unwrap();
        assert!(matches!(e, ManifestError::Shape(_)));
        assert_eq!(p.field, "spec.replicas");
        assert_eq!(p.message, "expected a whole number");
        assert_eq!((p.at.document, p.at.line, p.at.column), (2, 9, 13));
    }

    #[test]
    fn documents_without_api_version_or_kind_are_errors() {
        let e = parse_str("a.yaml", "---\n---\nkind: Deployment\nmetadata: {name: x}\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.yaml: document 1, line 3, column 1: a Kubernetes object needs `apiVersion` (such as `apiVersion: apps/v1` and `kind: Deployment`)"
        );
        let e = parse_str("a.yaml", "apiVersion: v1\n").unwrap_err();
        assert!(e.to_string().contains("needs `kind`"), "{e}");
        let e = parse_str("a.yaml", "- a\n- b\n").unwrap_err();
        assert!(matches!(e, ManifestError::Shape(_)), "{e}");
    }

    #[test]
    fn other_versions_of_modelled_kinds_and_lists_are_refused() {
        let e = parse_str("a.yaml", "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\n").unwrap_err();
        assert!(e.to_string().contains("Twin reads HorizontalPodAutoscaler as autoscaling/v2"), "{e}");
        let e = parse_str("a.yaml", "apiVersion: v1\nkind: List\nitems: []\n").unwrap_err();
        assert!(e.to_string().contains("List"), "{e}");
        let m = parse_str("a.yaml", "apiVersion: example.com/v1\nkind: Deployment\n").unwrap();
        assert_eq!(m.notes().len(), 1);
    }
}
