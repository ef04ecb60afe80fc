//! A `twin shadow --out` folder read back: `divergences.jsonl` line by line
//! and `shadow-summary.json`, for `twin explain` and the TUI's Shadow
//! screen, which show them the same way.
//!
//! Shadow mode is young and its formats grow, so reading is lenient: a
//! divergence of a kind this reader does not know, and fields it does not
//! know, are kept and shown generically (`key: value`); every field of the
//! summary is optional. What is refused is what cannot be shown at all: a
//! line that is not one JSON object, or that lacks `kind`, `observed_ns` or
//! the field a known kind is named by (a placement's `pod`, an idle GPU's
//! `host`, ...). Such a line is a [`ShadowError::Line`], naming the file,
//! the line, the field and the fix.
//!
//! The log may still be growing (shadow writes and flushes a line as it
//! finds a divergence, and the summary only at the end): [`LogTail`] reads
//! what was appended since it last read, holds an unfinished last line
//! back until its newline comes, and starts again when the file was
//! truncated or replaced (a new session in the same folder).

use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The log of divergences in a shadow folder, one JSON object a line.
pub const LOG_FILE: &str = "divergences.jsonl";
/// The summary shadow writes when it stops.
pub const SUMMARY_FILE: &str = "shadow-summary.json";

/// Whether `dir` is a folder `twin shadow --out` wrote: it holds
/// `shadow-summary.json` or `divergences.jsonl`, and no run's `summary.json`.
pub fn is_shadow_folder(dir: &Path) -> bool {
    dir.is_dir() && !dir.join("summary.json").exists() && (dir.join(SUMMARY_FILE).is_file() || dir.join(LOG_FILE).is_file())
}

/// Why a shadow folder cannot be read; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A line of the log cannot be shown.
    #[error("{}:{line}: {}{problem}; {fix}", path.display(), field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Line {
        /// The log.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The field at fault (none when the line is not a JSON object at all).
        field: Option<String>,
        /// What is wrong with it.
        problem: String,
        /// What to do about it.
        fix: String,
    },
    /// The summary is not a JSON object.
    #[error("{}: {problem}", path.display())]
    Summary {
        /// The summary file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The folder holds neither file.
    #[error(
        "{}: no {SUMMARY_FILE} and no {LOG_FILE}: is this a folder written by `twin shadow --out`?",
        dir.display()
    )]
    NotShadow {
        /// The folder.
        dir: PathBuf,
    },
}

impl ShadowError {
    /// The error without the folder or the fix: `divergences.jsonl:4: not
    /// JSON: ...`, for a screen with little room.
    pub fn short(&self) -> String {
        match self {
            ShadowError::Line { path, line, field, problem, .. } => format!(
                "{}:{line}: {}{problem}",
                path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
                field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default()
            ),
            other => other.to_string(),
        }
    }
}

/// What a field of a known kind must be.
#[derive(Clone, Copy)]
enum Want {
    Text,
    Count,
    Object,
}

/// The fields each known kind is shown by: without them the line means nothing.
const REQUIRED: &[(&str, &[(&str, Want)])] = &[
    (
        "placement",
        &[("pod", Want::Text), ("actual", Want::Object), ("actual.name", Want::Text), ("twin", Want::Object), ("twin.name", Want::Text)],
    ),
    ("unplaceable", &[("pod", Want::Text)]),
    ("idle", &[("host", Want::Text), ("gpu", Want::Count)]),
    ("policy", &[("pod", Want::Text)]),
    ("replicas", &[("workload", Want::Text)]),
];

/// One divergence: a line of `divergences.jsonl`.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// Its line in the log, from 1.
    pub line: usize,
    /// Its kind: `placement`, `unplaceable`, `idle`, `policy`, `replicas`,
    /// `consolidation`, or one this reader does not know.
    pub kind: String,
    /// When shadow found it: wall clock, ns since the epoch.
    pub observed_ns: i64,
    /// Every other field, as written.
    pub fields: Map<String, Value>,
}

/// One node of a placement divergence, as Twin's profile scored it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeView {
    /// The node.
    pub name: String,
    /// The profile's weighted total (none when it refused the node).
    pub score: Option<f64>,
    /// Each scoring plugin's score, in the order written.
    pub plugin_scores: Vec<(String, f64)>,
    /// Why the profile would not place the pod here.
    pub refused: Option<String>,
    /// The instance type, if known.
    pub instance_type: Option<String>,
    /// The node's price per node-hour.
    pub price_per_hour: Option<f64>,
    /// The node's accelerators of the pod's kind.
    pub gpus: Option<u64>,
    /// Those free before the pod.
    pub free_gpus_before: Option<u64>,
    /// The pod's share of the node's price per hour.
    pub cost_per_hour: Option<f64>,
}

impl NodeView {
    /// Reads a placement's `actual` or `twin` object (missing fields left empty).
    fn of(v: &Value) -> NodeView {
        let plugin_scores = match v.get("plugin_scores") {
            // As twin-shadow writes them: `[["cost-aware", 100.0], ...]`.
            Some(Value::Array(pairs)) => pairs
                .iter()
                .filter_map(|p| match p.as_array().map(Vec::as_slice) {
                    Some([name, score]) => Some((show(name), score.as_f64()?)),
                    _ => None,
                })
                .collect(),
            // Or as a map: `{"cost-aware": 100.0}`.
            Some(Value::Object(m)) => m.iter().filter_map(|(k, s)| Some((k.clone(), s.as_f64()?))).collect(),
            _ => Vec::new(),
        };
        NodeView {
            name: text(v, "name").unwrap_or_default().to_string(),
            score: number(v, "score"),
            plugin_scores,
            refused: text(v, "refused").map(str::to_string),
            instance_type: text(v, "instance_type").map(str::to_string),
            price_per_hour: number(v, "price_per_hour"),
            gpus: v.get("gpus").and_then(Value::as_u64),
            free_gpus_before: v.get("free_gpus_before").and_then(Value::as_u64),
            cost_per_hour: number(v, "cost_per_hour"),
        }
    }
}

/// The fields of a placement node this reader shows in the side-by-side table.
const NODE_FIELDS: &[&str] =
    &["name", "score", "plugin_scores", "refused", "instance_type", "price_per_hour", "gpus", "free_gpus_before", "cost_per_hour"];

/// A string field.
fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A number field.
fn number(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64).filter(|x| x.is_finite())
}

/// A JSON value as text: strings unquoted, `null` as `-`, an empty
/// object or list as `none`, the rest as JSON.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Object(m) if m.is_empty() => "none".into(),
        Value::Array(a) if a.is_empty() => "none".into(),
        other => other.to_string(),
    }
}

/// Dollars with two decimals.
pub fn money(x: f64) -> String {
    format!("{x:.2}")
}

/// Dollars with two decimals, or four below a dollar (a ledger a few
/// minutes old counts cents).
pub fn fine_money(x: f64) -> String {
    if x.abs() >= 1.0 || x == 0.0 { format!("{x:.2}") } else { format!("{x:.4}") }
}

/// Hours in words: `2.50 h`, `12.5 min`, `2 s`.
pub fn hours_in_words(h: f64) -> String {
    if h >= 1.0 {
        format!("{h:.2} h")
    } else if h * 60.0 >= 1.0 {
        format!("{:.1} min", h * 60.0)
    } else {
        format!("{:.0} s", h * 3600.0)
    }
}

/// A span of ns in words: `45s`, `10m 0s`, `2h 5m`, `3d 4h`.
pub fn span(ns: i64) -> String {
    let s = ns.max(0) / 1_000_000_000;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Wall-clock ns as `YYYY-MM-DD HH:MM:SS.mmm` UTC.
pub fn at(ns: i64) -> String {
    twin_replay::timefmt::format_ns(ns)
}

impl Divergence {
    /// Reads line `line` (from 1) of the log at `path`.
    pub fn parse(path: &Path, line: usize, text: &str) -> Result<Divergence, ShadowError> {
        let fix_line = format!(
            "each line of {LOG_FILE} is one JSON object as `twin shadow` writes it; repair line {line} or delete it (sed -i '{line}d' {})",
            path.display()
        );
        let bad = |field: Option<&str>, problem: String| ShadowError::Line {
            path: path.to_path_buf(),
            line,
            field: field.map(str::to_string),
            problem,
            fix: fix_line.clone(),
        };
        let value: Value = serde_json::from_str(text).map_err(|e| bad(None, format!("not JSON: {e}")))?;
        let Value::Object(mut fields) = value else {
            return Err(bad(None, format!("a JSON {} where an object was expected", kind_of(&value))));
        };
        let kind = match fields.remove("kind") {
            Some(Value::String(k)) if !k.is_empty() => k,
            Some(other) => return Err(bad(Some("kind"), format!("{} where the divergence's kind (a word) was expected", kind_of(&other)))),
            None => return Err(bad(Some("kind"), "missing: every divergence says its kind".into())),
        };
        let observed_ns = match fields.remove("observed_ns") {
            Some(v) => v
                .as_i64()
                .ok_or_else(|| bad(Some("observed_ns"), format!("{} where whole ns since the epoch were expected", shown_kind(&v))))?,
            None => return Err(bad(Some("observed_ns"), "missing: every divergence says when it was found".into())),
        };
        let object = Value::Object(fields);
        for (field, want) in REQUIRED.iter().filter(|(k, _)| *k == kind).flat_map(|(_, f)| f.iter()) {
            let v = field.split('.').try_fold(&object, |v, k| v.get(k)).filter(|v| !v.is_null());
            let ok = match (want, v) {
                (_, None) => return Err(bad(Some(field), format!("missing: a {kind} divergence is shown by it"))),
                (Want::Text, Some(v)) => v.is_string(),
                (Want::Count, Some(v)) => v.is_u64(),
                (Want::Object, Some(v)) => v.is_object(),
            };
            if !ok {
                let expected = match want {
                    Want::Text => "text",
                    Want::Count => "a whole number",
                    Want::Object => "an object",
                };
                return Err(bad(Some(field), format!("{} where {expected} was expected", shown_kind(v.unwrap_or(&Value::Null)))));
            }
        }
        let Value::Object(fields) = object else { unreachable!("built as an object above") };
        Ok(Divergence { line, kind, observed_ns, fields })
    }

    /// A field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key).filter(|v| !v.is_null())
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    fn number(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64).filter(|x| x.is_finite())
    }

    /// A field as text (`-` when absent).
    fn shown(&self, key: &str) -> String {
        self.get(key).map_or_else(|| "-".into(), show)
    }

    /// A placement's two nodes: (actual, Twin's).
    pub fn placement(&self) -> Option<(NodeView, NodeView)> {
        match (self.kind.as_str(), self.get("actual"), self.get("twin")) {
            ("placement", Some(a), Some(t)) if a.is_object() && t.is_object() => Some((NodeView::of(a), NodeView::of(t))),
            _ => None,
        }
    }

    /// The nodes a consolidation frees.
    fn freed(&self) -> Vec<String> {
        self.get("nodes_freed").and_then(Value::as_array).map(|a| a.iter().map(show).collect()).unwrap_or_default()
    }

    /// A consolidation's moves.
    fn moves(&self) -> &[Value] {
        self.get("moves").and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }

    /// What the divergence is about: a pod, a workload, a GPU, the nodes freed.
    pub fn subject(&self) -> String {
        match self.kind.as_str() {
            "idle" => format!("{} GPU {}", self.shown("host"), self.shown("gpu")),
            "replicas" => self.shown("workload"),
            "consolidation" => {
                let freed = self.freed();
                match freed.len() {
                    0 => format!("{} move(s)", self.moves().len()),
                    1 => freed[0].clone(),
                    n => format!("{n} nodes: {}", freed.join(", ")),
                }
            }
            _ => ["pod", "workload", "node", "host", "subject", "name"]
                .iter()
                .find_map(|k| self.get(k).filter(|v| !v.is_object() && !v.is_array()).map(show))
                .unwrap_or_else(|| "-".into()),
        }
    }

    /// What Twin would have done, and what was done, in a few words each.
    pub fn twin_and_actual(&self) -> (String, String) {
        match self.kind.as_str() {
            "placement" => {
                let name = |k: &str| self.get(k).and_then(|v| text(v, "name")).unwrap_or("-").to_string();
                (name("twin"), name("actual"))
            }
            "unplaceable" => ("no node".into(), self.shown("node")),
            "idle" => {
                let idle = match (self.get("since_ns").and_then(Value::as_i64), self.get("at_ns").and_then(Value::as_i64)) {
                    (Some(s), Some(a)) => format!("idle {}", span(a - s)),
                    _ => "idle".into(),
                };
                ("-".into(), idle)
            }
            "policy" => (format!("deny ({})", self.text("policy").unwrap_or("policy")), self.shown("node")),
            "replicas" => (format!("{} replicas", self.shown("twin")), format!("{} replicas", self.shown("actual"))),
            "consolidation" => (format!("free {}", self.freed().len()), "keep".into()),
            _ => match (self.get("twin"), self.get("actual")) {
                (None, None) => ("-".into(), "-".into()),
                (t, a) => (brief(t), brief(a)),
            },
        }
    }

    /// What Twin's choice would save per hour (dollars), where the kind says.
    pub fn saving_per_hour(&self) -> Option<f64> {
        match self.kind.as_str() {
            "placement" => self.number("cost_per_hour_difference").map(|d| -d),
            _ => self.number("saving_per_hour").or_else(|| self.number("cost_per_hour_difference").map(|d| -d)),
        }
    }

    /// The divergence in one line: what Twin would have done instead.
    pub fn what(&self) -> String {
        let saves = |s: Option<f64>| match s {
            Some(s) if s >= 0.0 => format!(": saves {} $/h", money(s)),
            Some(s) => format!(": costs {} $/h more", money(-s)),
            None => String::new(),
        };
        match self.kind.as_str() {
            "placement" => {
                let (twin, actual) = self.twin_and_actual();
                format!("Twin: {twin}, actual: {actual}{}", saves(self.saving_per_hour()))
            }
            "unplaceable" => format!("Twin would place it on no node (bound to {}): {}", self.shown("node"), self.shown("reason")),
            "idle" => {
                let (_, idle) = self.twin_and_actual();
                let since = self.get("since_ns").and_then(Value::as_i64).map(|s| format!(" since {}", at(s))).unwrap_or_default();
                format!("0 % utilisation, {idle}{since}")
            }
            "policy" => format!(
                "{} would deny it on {}: {}",
                self.text("policy").map_or_else(|| "a policy".to_string(), |p| format!("policy {p}")),
                self.shown("node"),
                self.shown("message")
            ),
            "replicas" => {
                let metric = match (self.get("metric"), self.get("value"), self.get("target")) {
                    (Some(m), v, t) => format!(" ({} {} for target {})", show(m), v.map_or("-".into(), show), t.map_or("-".into(), show)),
                    _ => String::new(),
                };
                format!("Twin: {} replicas, actual: {}{metric}", self.shown("twin"), self.shown("actual"))
            }
            "consolidation" => {
                format!("Twin would free {} node(s) by {} move(s){}", self.freed().len(), self.moves().len(), saves(self.saving_per_hour()))
            }
            _ => {
                let mut parts: Vec<String> =
                    self.fields.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| format!("{k} {}", brief(Some(v)))).collect();
                parts.truncate(4);
                parts.join(", ")
            }
        }
    }

    /// Whether the divergence is about pod `pod` (`namespace/name`; a bare
    /// name matches that name in any namespace): its `pod`, or a pod a
    /// consolidation moves.
    pub fn is_about_pod(&self, pod: &str) -> bool {
        let matches = |p: &str| p == pod || (!pod.contains('/') && p.rsplit_once('/').is_some_and(|(_, name)| name == pod));
        let mut found = false;
        visit(&self.fields, &mut |key, v| found |= key == "pod" && v.as_str().is_some_and(matches));
        found
    }

    /// The nodes the divergence involves: both nodes of a placement, the
    /// node of an unplaceable pod or a policy, the host of an idle GPU, the
    /// nodes a consolidation frees and moves pods from and to.
    pub fn nodes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |s: &str| {
            if !s.is_empty() && !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        };
        for (key, v) in &self.fields {
            match (key.as_str(), v) {
                ("node" | "host" | "from" | "to", Value::String(s)) => add(s),
                ("actual" | "twin", Value::Object(o)) => {
                    if let Some(s) = o.get("name").and_then(Value::as_str) {
                        add(s);
                    }
                }
                (k, Value::Array(a)) if k.starts_with("nodes") => a.iter().filter_map(Value::as_str).for_each(&mut add),
                ("moves", Value::Array(moves)) => {
                    for m in moves {
                        for k in ["from", "to"] {
                            if let Some(s) = m.get(k).and_then(Value::as_str) {
                                add(s);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Whether the divergence involves node `node` (see [`Divergence::nodes`]).
    pub fn involves_node(&self, node: &str) -> bool {
        self.nodes().iter().any(|n| n == node)
    }

    /// The divergence in full, a line each: a placement's two nodes side by
    /// side with every plugin's score, prices, the refusal, the cost
    /// difference and why; the fields of the other kinds in words; and
    /// every field this reader does not know, as written.
    pub fn detail(&self) -> Vec<String> {
        let mut title = format!("{} · {}", self.kind, self.subject());
        if self.kind == "placement" {
            let _ = write!(title, " · {} GPU(s) · profile {}", self.shown("gpus"), self.shown("profile"));
        }
        let mut out = vec![title, format!("  found {} (line {})", at(self.observed_ns), self.line)];
        let known: &[&str] = match self.kind.as_str() {
            "placement" => {
                self.placement_detail(&mut out);
                &["pod", "profile", "gpus", "actual", "twin", "cost_per_hour_difference", "why"]
            }
            "unplaceable" => {
                out.push(format!("  the real scheduler bound it to {}", self.shown("node")));
                out.push(format!("  Twin's profile would place it on no node: {}", self.shown("reason")));
                &["pod", "node", "reason"]
            }
            "idle" => {
                if let Some(u) = self.text("uuid") {
                    out.push(format!("  UUID {u}"));
                }
                let (s, a) = (self.get("since_ns").and_then(Value::as_i64), self.get("at_ns").and_then(Value::as_i64));
                if let (Some(s), Some(a)) = (s, a) {
                    out.push(format!("  0 % utilisation from {} to {} ({})", at(s), at(a), span(a - s)));
                }
                &["host", "gpu", "uuid", "since_ns", "at_ns"]
            }
            "policy" => {
                out.push(format!("  bound to {}", self.shown("node")));
                out.push(format!("  policy {} would have denied it: {}", self.shown("policy"), self.shown("message")));
                &["pod", "node", "policy", "message"]
            }
            "replicas" => {
                let mut counts = format!("  replicas: actual {} · Twin {}", self.shown("actual"), self.shown("twin"));
                if let Some(r) = self.get("ready") {
                    let _ = write!(counts, " · ready {}", show(r));
                }
                if let Some(h) = self.get("hpa_desired") {
                    let _ = write!(counts, " · the real HPA wants {}", show(h));
                }
                out.push(counts);
                if let Some(service) = self.text("service") {
                    out.push(format!("  judged by the autoscaler of service {service}"));
                }
                if self.get("metric").is_some() || self.get("value").is_some() {
                    out.push(format!("  metric {}: value {}, target {}", self.shown("metric"), self.shown("value"), self.shown("target")));
                }
                &["workload", "service", "actual", "twin", "ready", "hpa_desired", "metric", "value", "target", "why"]
            }
            "consolidation" => {
                let freed = self.freed();
                let gpus = self.get("gpus_freed").map(|g| format!(" ({} GPUs)", show(g))).unwrap_or_default();
                let names = if freed.is_empty() { "-".into() } else { freed.join(", ") };
                out.push(format!("  Twin would free {} node(s){gpus}: {names}", freed.len()));
                for m in self.moves() {
                    let gpus = m.get("gpus").map(|g| format!(" ({} GPUs)", show(g))).unwrap_or_default();
                    let field = |k: &str| m.get(k).map_or_else(|| "-".into(), show);
                    out.push(format!("  move {}{gpus}: {} → {}", field("pod"), field("from"), field("to")));
                }
                if let Some(s) = self.saving_per_hour() {
                    out.push(format!("  saving {} $/h", money(s)));
                }
                &["nodes_freed", "gpus_freed", "moves", "saving_per_hour", "why"]
            }
            _ => &[],
        };
        if let Some(why) = self.text("why").filter(|_| known.contains(&"why")) {
            out.push(format!("  why: {why}"));
        }
        let others: Vec<(&String, &Value)> = self.fields.iter().filter(|(k, v)| !known.contains(&k.as_str()) && !v.is_null()).collect();
        if !others.is_empty() {
            if !known.is_empty() {
                out.push("  also:".into());
            }
            for (k, v) in others {
                out.push(format!("  {k}: {}", show(v)));
            }
        }
        out
    }

    /// A placement's nodes side by side.
    fn placement_detail(&self, out: &mut Vec<String>) {
        let Some((a, t)) = self.placement() else { return };
        let profile = self.text("profile").unwrap_or("Twin");
        match self.number("cost_per_hour_difference") {
            Some(d) => {
                let verdict = if d <= 0.0 { format!("Twin saves {} $/h", money(-d)) } else { format!("Twin costs {} $/h more", money(d)) };
                out.push(format!("  {verdict} (cost difference {} $/h, Twin's node minus actual)", money(d)));
            }
            None => out.push("  cost difference unknown: a node's price is not known".into()),
        }
        let opt = |x: Option<f64>, d: usize| x.map_or_else(|| "-".into(), |x| format!("{x:.d$}"));
        let free = |n: &NodeView| match (n.free_gpus_before, n.gpus) {
            (Some(f), Some(g)) => format!("{f} of {g}"),
            (Some(f), None) => f.to_string(),
            _ => "-".into(),
        };
        let mut rows: Vec<(String, String, String)> = vec![
            ("".into(), "actual (real scheduler)".into(), format!("Twin ({profile})")),
            ("node".into(), a.name.clone(), t.name.clone()),
        ];
        if a.instance_type.is_some() || t.instance_type.is_some() {
            let it = |n: &NodeView| n.instance_type.clone().unwrap_or_else(|| "-".into());
            rows.push(("instance type".into(), it(&a), it(&t)));
        }
        rows.push(("score".into(), opt(a.score, 1), opt(t.score, 1)));
        let mut plugins: Vec<&str> = Vec::new();
        for (p, _) in a.plugin_scores.iter().chain(&t.plugin_scores) {
            if !plugins.contains(&p.as_str()) {
                plugins.push(p);
            }
        }
        let of = |n: &NodeView, p: &str| opt(n.plugin_scores.iter().find(|(q, _)| q == p).map(|(_, s)| *s), 0);
        for p in plugins {
            rows.push((format!("  {p}"), of(&a, p), of(&t, p)));
        }
        rows.push(("price $/node-h".into(), opt(a.price_per_hour, 2), opt(t.price_per_hour, 2)));
        rows.push(("GPUs free before".into(), free(&a), free(&t)));
        rows.push(("pod's cost $/h".into(), opt(a.cost_per_hour, 2), opt(t.cost_per_hour, 2)));
        let refused = |n: &NodeView| n.refused.clone().unwrap_or_else(|| "-".into());
        rows.push(("refused".into(), refused(&a), refused(&t)));
        let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0) + 2;
        let w1 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0) + 3;
        for (label, x, y) in rows {
            out.push(format!("  {label:<w0$}{x:<w1$}{y}").trim_end().to_string());
        }
        // Fields of the two nodes this table does not show.
        for (side, k) in [("actual", "actual"), ("Twin", "twin")] {
            if let Some(Value::Object(o)) = self.get(k) {
                for (f, v) in o.iter().filter(|(f, v)| !NODE_FIELDS.contains(&f.as_str()) && !v.is_null()) {
                    out.push(format!("  {side} {f}: {}", show(v)));
                }
            }
        }
    }
}

/// Visits every (key, value) of `fields`, nested objects and arrays too.
fn visit(fields: &Map<String, Value>, f: &mut impl FnMut(&str, &Value)) {
    fn go(key: &str, v: &Value, f: &mut impl FnMut(&str, &Value)) {
        f(key, v);
        match v {
            Value::Object(m) => m.iter().for_each(|(k, x)| go(k, x, f)),
            Value::Array(a) => a.iter().for_each(|x| go(key, x, f)),
            _ => {}
        }
    }
    fields.iter().for_each(|(k, v)| go(k, v, f));
}

/// A value in a few words: an object by its `name`, else as JSON, cut short.
fn brief(v: Option<&Value>) -> String {
    let s = match v {
        None => "-".to_string(),
        Some(Value::Object(o)) => o.get("name").map_or_else(|| Value::Object(o.clone()).to_string(), show),
        Some(v) => show(v),
    };
    if s.chars().count() > 40 { s.chars().take(39).chain(['…']).collect() } else { s }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value's kind with the value, for errors: `string "abc"`.
fn shown_kind(v: &Value) -> String {
    let mut s = v.to_string();
    if s.chars().count() > 40 {
        s = s.chars().take(39).chain(['…']).collect();
    }
    format!("{} {s}", kind_of(v))
}

/// What `shadow-summary.json` says; every field optional. A field of a
/// shape this reader does not expect lands in `other`, shown as written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// The profile that judged.
    pub profile: Option<String>,
    /// Divergences by kind.
    pub divergences: Vec<(String, u64)>,
    /// What Twin's placements would have saved per hour, summed.
    pub counterfactual_saving_per_hour: Option<f64>,
    /// Bindings Twin agreed with.
    pub agreed: Option<u64>,
    /// Bindings not judged.
    pub not_judged: Option<u64>,
    /// Bindings that could not be judged at all.
    pub errors: Option<u64>,
    /// Readings in, by source.
    pub samples_in: Vec<(String, u64)>,
    /// Gaps, by source.
    pub gaps: Vec<(String, u64)>,
    /// Each source's last health, in words.
    pub health: Vec<(String, String)>,
    /// GPUs seen.
    pub gpus: Option<u64>,
    /// Nodes at the end.
    pub nodes: Option<u64>,
    /// Pods at the end.
    pub pods: Option<u64>,
    /// The cost ledger: `hours`, `nodes_dollars`, `allocated_dollars`,
    /// `idle_dollars`, `twin_dollars`, `saving_dollars`, ... as written.
    pub cost: Vec<(String, f64)>,
    /// GPUs idle at the end.
    pub idle_gpus: Option<u64>,
    /// Seconds the session ran.
    pub clock_s: Option<f64>,
    /// The consolidation Twin would make at the end (`nodes_freed`,
    /// `gpus_freed`, `moves`, `saving_per_hour`, `why`), as written.
    pub consolidation: Option<Map<String, Value>>,
    /// Every other field, as written.
    pub other: Vec<(String, Value)>,
}

impl Summary {
    /// Reads a summary from its JSON; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Summary, ShadowError> {
        let bad = |problem: String| ShadowError::Summary { path: path.to_path_buf(), problem };
        let v: Value = serde_json::from_str(text).map_err(|e| {
            bad(format!("not valid JSON ({e}); `twin shadow` writes it whole when it stops: delete it to read the log alone"))
        })?;
        let Value::Object(map) = v else {
            return Err(bad(format!("a JSON {} where the summary's object was expected", kind_of(&v))));
        };
        let mut s = Summary::default();
        fn counts(v: &Value) -> Option<Vec<(String, u64)>> {
            v.as_object()?.iter().map(|(k, n)| Some((k.clone(), n.as_u64()?))).collect()
        }
        fn numbers(v: &Value) -> Option<Vec<(String, f64)>> {
            v.as_object()?.iter().map(|(k, n)| Some((k.clone(), n.as_f64()?))).collect()
        }
        for (k, v) in map {
            let taken = match k.as_str() {
                "profile" => v.as_str().map(|p| s.profile = Some(p.to_string())),
                "divergences" => counts(&v).map(|c| s.divergences = c),
                "counterfactual_saving_per_hour" => v.as_f64().map(|x| s.counterfactual_saving_per_hour = Some(x)),
                "agreed" => v.as_u64().map(|x| s.agreed = Some(x)),
                "not_judged" => v.as_u64().map(|x| s.not_judged = Some(x)),
                "errors" => v.as_u64().map(|x| s.errors = Some(x)),
                "samples_in" => counts(&v).map(|c| s.samples_in = c),
                "gaps" => counts(&v).map(|c| s.gaps = c),
                "health" => v.as_object().map(|m| m.iter().map(|(k, h)| (k.clone(), show(h))).collect()).map(|h: Vec<_>| s.health = h),
                "gpus" => v.as_u64().map(|x| s.gpus = Some(x)),
                "nodes" => v.as_u64().map(|x| s.nodes = Some(x)),
                "pods" => v.as_u64().map(|x| s.pods = Some(x)),
                "cost" => numbers(&v).map(|c| s.cost = c),
                "idle_gpus" => v.as_u64().map(|x| s.idle_gpus = Some(x)),
                "clock_s" => v.as_f64().map(|x| s.clock_s = Some(x)),
                "consolidation" => v.as_object().map(|m| s.consolidation = Some(m.clone())),
                _ => None,
            };
            if taken.is_none() && !v.is_null() {
                s.other.push((k, v));
            }
        }
        Ok(s)
    }

    /// Reads `path`.
    pub fn read(path: &Path) -> Result<Summary, ShadowError> {
        let text = std::fs::read_to_string(path).map_err(|source| ShadowError::Io { path: path.to_path_buf(), source })?;
        Summary::parse(path, &text)
    }

    /// The cost ledger in one line: `over 2.00 h: nodes 196.00 $, ...`;
    /// empty when the summary has none.
    pub fn ledger(&self) -> String {
        const ORDER: [&str; 5] = ["nodes_dollars", "allocated_dollars", "idle_dollars", "twin_dollars", "saving_dollars"];
        let mut cost: Vec<&(String, f64)> = self.cost.iter().collect();
        cost.sort_by_key(|(k, _)| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
        let mut parts = Vec::new();
        let mut hours = None;
        for (k, v) in cost {
            if k == "hours" {
                hours = Some(*v);
            } else if let Some(name) = k.strip_suffix("_dollars") {
                parts.push(format!("{name} {} $", fine_money(*v)));
            } else {
                parts.push(format!("{k} {v}"));
            }
        }
        if parts.is_empty() && hours.is_none() {
            return String::new();
        }
        let over = hours.map(|h| format!("over {}: ", hours_in_words(h))).unwrap_or_default();
        format!("{over}{}", parts.join(", "))
    }

    /// The consolidation in one line: `could free 1 node(s) (gpu-b), 8
    /// GPUs, by 2 move(s): 32.00 $/h`, then why; `None` when there is none.
    pub fn consolidation_line(&self) -> Option<String> {
        let c = self.consolidation.as_ref()?;
        let freed: Vec<String> = c.get("nodes_freed").and_then(Value::as_array).map(|a| a.iter().map(show).collect()).unwrap_or_default();
        let mut line = format!("could free {} node(s)", freed.len());
        if !freed.is_empty() {
            let _ = write!(line, " ({})", freed.join(", "));
        }
        if let Some(g) = c.get("gpus_freed").and_then(Value::as_u64) {
            let _ = write!(line, ", {g} GPUs");
        }
        if let Some(m) = c.get("moves").and_then(Value::as_array) {
            let _ = write!(line, ", by {} move(s)", m.len());
        }
        if let Some(x) = c.get("saving_per_hour").and_then(Value::as_f64) {
            let _ = write!(line, ": {} $/h", money(x));
        }
        for (k, v) in
            c.iter().filter(|(k, v)| !["nodes_freed", "gpus_freed", "moves", "saving_per_hour"].contains(&k.as_str()) && !v.is_null())
        {
            let _ = write!(line, "; {k}: {}", show(v));
        }
        Some(line)
    }
}

/// The new lines of a growing log.
#[derive(Debug, Default)]
pub struct Tail {
    /// The file was truncated or replaced since the last read: what was
    /// read before is gone, and these lines start from line 1.
    pub restarted: bool,
    /// Each new complete line, read or refused, in order (blank lines skipped).
    pub lines: Vec<Result<Divergence, ShadowError>>,
}

/// Reads a growing `divergences.jsonl` a piece at a time: each
/// [`LogTail::read`] returns the complete lines appended since the last.
#[derive(Debug, Default)]
pub struct LogTail {
    offset: u64,
    /// Bytes of an unfinished last line.
    pending: Vec<u8>,
    /// Lines read so far (complete ones).
    lines: usize,
    /// The file's identity when last read (device, inode), where the system has one.
    id: Option<(u64, u64)>,
}

impl LogTail {
    /// A reader at the start of the log.
    pub fn new() -> LogTail {
        LogTail::default()
    }

    /// The new complete lines of `path`. A file that does not exist yet
    /// has no lines.
    pub fn read(&mut self, path: &Path) -> Result<Tail, ShadowError> {
        let io = |source| ShadowError::Io { path: path.to_path_buf(), source };
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tail::default()),
            Err(e) => return Err(io(e)),
        };
        let meta = file.metadata().map_err(io)?;
        let id = identity(&meta);
        let mut tail = Tail::default();
        if meta.len() < self.offset || (self.id.is_some() && id != self.id) {
            *self = LogTail::default();
            tail.restarted = true;
        }
        self.id = id;
        file.seek(SeekFrom::Start(self.offset)).map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        self.offset += bytes.len() as u64;
        self.pending.extend_from_slice(&bytes);
        let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') else { return Ok(tail) };
        let rest = self.pending.split_off(end + 1);
        let complete = std::mem::replace(&mut self.pending, rest);
        // `complete` ends with its last newline: every piece before it is a line.
        for raw in complete[..complete.len() - 1].split(|b| *b == b'\n') {
            self.lines += 1;
            if let Some(r) = line(path, self.lines, raw) {
                tail.lines.push(r);
            }
        }
        Ok(tail)
    }

    /// The unfinished last line, if there is one: its number and its
    /// reading. A log whose writer stopped mid-line ends so; a log being
    /// written may end so for a moment.
    pub fn unfinished(&self, path: &Path) -> Option<(usize, Result<Divergence, ShadowError>)> {
        let n = self.lines + 1;
        line(path, n, &self.pending).map(|r| (n, r))
    }
}

/// One line's bytes read; none for a blank line.
fn line(path: &Path, n: usize, raw: &[u8]) -> Option<Result<Divergence, ShadowError>> {
    let text = match std::str::from_utf8(raw) {
        Ok(t) => t.trim(),
        Err(e) => {
            return Some(Err(ShadowError::Line {
                path: path.to_path_buf(),
                line: n,
                field: None,
                problem: format!("not UTF-8 text ({e})"),
                fix: format!("repair line {n} or delete it"),
            }));
        }
    };
    (!text.is_empty()).then(|| Divergence::parse(path, n, text))
}

#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// A shadow folder, read whole.
#[derive(Debug)]
pub struct ShadowFolder {
    /// The folder.
    pub dir: PathBuf,
    /// The summary; none while shadow is still running (it is written at the end).
    pub summary: Option<Summary>,
    /// Every divergence of the log, in the order found.
    pub divergences: Vec<Divergence>,
    /// Whether `divergences.jsonl` exists.
    pub has_log: bool,
    /// The line number of an unfinished last line left out (a log still being written).
    pub unfinished: Option<usize>,
}

impl ShadowFolder {
    /// Reads `dir`: the summary if written, and the log line by line. The
    /// first line that cannot be shown is the error. An unfinished last
    /// line is left out (and said) while there is no summary yet, since
    /// shadow may be writing it; once the summary is written it is read
    /// as any other line.
    pub fn read(dir: &Path) -> Result<ShadowFolder, ShadowError> {
        let (summary_path, log_path) = (dir.join(SUMMARY_FILE), dir.join(LOG_FILE));
        let has_log = log_path.is_file();
        if !summary_path.is_file() && !has_log {
            return Err(ShadowError::NotShadow { dir: dir.to_path_buf() });
        }
        let summary = summary_path.is_file().then(|| Summary::read(&summary_path)).transpose()?;
        let mut tail = LogTail::new();
        let mut divergences = tail.read(&log_path)?.lines.into_iter().collect::<Result<Vec<_>, _>>()?;
        let mut unfinished = None;
        match tail.unfinished(&log_path) {
            Some((_, r)) if summary.is_some() => divergences.push(r?),
            Some((_, Ok(d))) => divergences.push(d),
            Some((n, Err(_))) => unfinished = Some(n),
            None => {}
        }
        Ok(ShadowFolder { dir: dir.to_path_buf(), summary, divergences, has_log, unfinished })
    }

    /// Divergences by kind, counted from the log, in name order.
    pub fn counts(&self) -> Vec<(String, u64)> {
        counts(&self.divergences)
    }
}

/// Divergences by kind, in name order.
pub fn counts<'a>(divergences: impl IntoIterator<Item = &'a Divergence>) -> Vec<(String, u64)> {
    let mut m = std::collections::BTreeMap::<String, u64>::new();
    for d in divergences {
        *m.entry(d.kind.clone()).or_default() += 1;
    }
    m.into_iter().collect()
}

/// Counts as `3 (1 idle, 2 placement)`.
pub fn counted(counts: &[(String, u64)]) -> String {
    let total: u64 = counts.iter().map(|c| c.1).sum();
    if counts.is_empty() {
        return "0".into();
    }
    let mut s = format!("{total} (");
    for (i, (k, n)) in counts.iter().enumerate() {
        let _ = write!(s, "{}{n} {k}", if i > 0 { ", " } else { "" });
    }
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLACEMENT: &str = r#"{"actual":{"cost_per_hour":24.5,"free_gpus_before":8,"gpus":8,"instance_type":null,"name":"gpu-dear","plugin_scores":[["node-affinity",100.0],["cost-aware",0.0]],"price_per_hour":98.0,"refused":null,"score":200.0},"cost_per_hour_difference":-16.5,"gpus":2,"kind":"placement","observed_ns":1796656647456165987,"pod":"ml/train","profile":"cost-aware","twin":{"cost_per_hour":8.0,"free_gpus_before":8,"gpus":8,"instance_type":null,"name":"gpu-cheap","plugin_scores":[["node-affinity",100.0],["cost-aware",100.0]],"price_per_hour":32.0,"refused":null,"score":300.0,"zone":"b"},"why":"cost-aware prefers gpu-cheap"}"#;

    fn p() -> &'static Path {
        Path::new("out/divergences.jsonl")
    }

    #[test]
    fn a_placement_reads_with_both_nodes_side_by_side() {
        let d = Divergence::parse(p(), 2, PLACEMENT).unwrap();
        assert_eq!((d.kind.as_str(), d.subject(), d.saving_per_hour()), ("placement", "ml/train".to_string(), Some(16.5)));
        assert_eq!(d.twin_and_actual(), ("gpu-cheap".into(), "gpu-dear".into()));
        assert_eq!(d.what(), "Twin: gpu-cheap, actual: gpu-dear: saves 16.50 $/h");
        assert!(d.involves_node("gpu-dear") && d.involves_node("gpu-cheap") && !d.involves_node("gpu"));
        assert!(d.is_about_pod("ml/train") && d.is_about_pod("train") && !d.is_about_pod("other/train"));
        let text = d.detail().join("\n");
        for want in [
            "  cost-aware      0 ",
            "price $/node-h",
            "98.00",
            "32.00",
            "8 of 8",
            "Twin saves 16.50 $/h (cost difference -16.50 $/h",
            "why: cost-aware prefers",
            "Twin zone: b",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
        // A map of plugin scores reads too.
        let m = PLACEMENT.replace(r#"[["node-affinity",100.0],["cost-aware",100.0]]"#, r#"{"node-affinity":100.0,"cost-aware":100.0}"#);
        let (_, t) = Divergence::parse(p(), 2, &m).unwrap().placement().unwrap();
        assert_eq!(t.plugin_scores.len(), 2);
    }

    #[test]
    fn other_kinds_and_unknown_ones_show() {
        let idle = r#"{"at_ns":1796637660000000000,"gpu":0,"host":"vm","kind":"idle","observed_ns":1,"since_ns":1796637600000000000,"uuid":"GPU-0"}"#;
        let d = Divergence::parse(p(), 1, idle).unwrap();
        assert_eq!((d.subject(), d.twin_and_actual().1), ("vm GPU 0".to_string(), "idle 1m 0s".to_string()));
        assert!(d.involves_node("vm"));
        let c = r#"{"kind":"consolidation","observed_ns":5,"nodes_freed":["a","b"],"moves":[{"pod":"ml/x","from":"a","to":"c","gpus":2}],"saving_per_hour":12.0,"why":"two half-empty nodes"}"#;
        let d = Divergence::parse(p(), 1, c).unwrap();
        assert_eq!(d.subject(), "2 nodes: a, b");
        assert!(d.involves_node("c") && d.is_about_pod("ml/x") && d.saving_per_hour() == Some(12.0));
        assert!(d.detail().join("\n").contains("move ml/x (2 GPUs): a → c"));
        let r = r#"{"kind":"replicas","observed_ns":5,"workload":"web/api","service":"api","actual":5,"twin":3,"ready":5,"hpa_desired":null,"metric":"cpu","value":0.4,"target":0.6}"#;
        let d = Divergence::parse(p(), 1, r).unwrap();
        assert_eq!(d.twin_and_actual(), ("3 replicas".into(), "5 replicas".into()));
        let text = d.detail().join("\n");
        assert!(
            text.contains("replicas: actual 5 · Twin 3 · ready 5\n") && text.contains("service api") && !text.contains("also"),
            "{text}"
        );
        let u = r#"{"kind":"spot-risk","observed_ns":5,"node":"n1","risk":0.3,"extra":{"a":1}}"#;
        let d = Divergence::parse(p(), 1, u).unwrap();
        assert_eq!(d.subject(), "n1");
        assert!(d.involves_node("n1"));
        let text = d.detail().join("\n");
        assert!(text.contains("risk: 0.3") && text.contains(r#"extra: {"a":1}"#), "{text}");
    }

    #[test]
    fn bad_lines_name_file_line_and_field() {
        let e = Divergence::parse(p(), 3, "{not json").unwrap_err().to_string();
        assert!(e.starts_with("out/divergences.jsonl:3: not JSON") && e.contains("delete it"), "{e}");
        let e = Divergence::parse(p(), 4, r#"{"kind":"idle","observed_ns":"soon","host":"h","gpu":0}"#).unwrap_err().to_string();
        assert!(e.starts_with("out/divergences.jsonl:4: field `observed_ns`: string \"soon\""), "{e}");
        let e = Divergence::parse(p(), 5, r#"{"kind":"placement","observed_ns":1,"pod":"a/b","actual":{},"twin":{"name":"x"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains(":5: field `actual.name`: missing"), "{e}");
        let e = Divergence::parse(p(), 6, "[1]").unwrap_err().to_string();
        assert!(e.contains(":6: a JSON array"), "{e}");
    }

    #[test]
    fn the_tail_reads_complete_lines_and_restarts_on_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(LOG_FILE);
        let mut t = LogTail::new();
        assert!(t.read(&log).unwrap().lines.is_empty(), "no file yet: no lines");
        let idle = |ns: i64| format!(r#"{{"kind":"idle","observed_ns":{ns},"host":"h","gpu":0}}"#);
        std::fs::write(&log, format!("{}\n\n{}", idle(1), &idle(2)[..10])).unwrap();
        let got = t.read(&log).unwrap();
        assert_eq!(got.lines.len(), 1);
        assert!(matches!(t.unfinished(&log), Some((3, Err(_)))), "the half line waits");
        std::fs::write(&log, format!("{}\n\n{}\n", idle(1), idle(2))).unwrap();
        let got = t.read(&log).unwrap();
        let d = got.lines.into_iter().map(Result::unwrap).collect::<Vec<_>>();
        assert_eq!((d.len(), d[0].line, d[0].observed_ns, got.restarted), (1, 3, 2, false));
        std::fs::write(&log, format!("{}\n", idle(7))).unwrap();
        let got = t.read(&log).unwrap();
        assert!(got.restarted);
        assert_eq!(got.lines[0].as_ref().unwrap().line, 1);
    }

    #[test]
    fn summaries_are_lenient() {
        let s = Summary::parse(
            Path::new("s.json"),
            r#"{"profile":"cost-aware","divergences":{"idle":1},"counterfactual_saving_per_hour":16.5,"gpus":"two","new":[1],
                "cost":{"hours":2.0,"nodes_dollars":260.0,"idle_dollars":10.5}}"#,
        )
        .unwrap();
        assert_eq!((s.profile.as_deref(), s.gpus, s.counterfactual_saving_per_hour), (Some("cost-aware"), None, Some(16.5)));
        assert_eq!(s.other.iter().map(|o| o.0.as_str()).collect::<Vec<_>>(), ["gpus", "new"]);
        assert_eq!(s.ledger(), "over 2.00 h: nodes 260.00 $, idle 10.50 $");
        let s = Summary::parse(
            Path::new("s.json"),
            r#"{"cost":{"hours":0.0005,"nodes_dollars":0.0722,"saving_dollars":0},"idle_gpus":1,"clock_s":2.0,
                "consolidation":{"nodes_freed":["gpu-b"],"gpus_freed":8,"moves":[],"saving_per_hour":32.0,"why":"empty"}}"#,
        )
        .unwrap();
        assert_eq!(s.ledger(), "over 2 s: nodes 0.0722 $, saving 0.00 $");
        assert_eq!(s.consolidation_line().unwrap(), "could free 1 node(s) (gpu-b), 8 GPUs, by 0 move(s): 32.00 $/h; why: empty");
        assert_eq!((s.idle_gpus, s.clock_s, s.other.len()), (Some(1), Some(2.0), 0));
        assert!(Summary::parse(Path::new("s.json"), "[]").unwrap_err().to_string().contains("s.json"));
    }
}
