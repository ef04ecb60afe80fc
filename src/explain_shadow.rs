//! `twin explain` on a folder written by `twin shadow --out`: the summary
//! and a line per divergence, every divergence about a pod (`--pod`), or
//! those that involve a node (`--node`), read through
//! [`twin_export::shadow`], which the TUI's Shadow screen reads with too.

use crate::args::ExplainArgs;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use twin_export::shadow::{self, Divergence, LOG_FILE, SUMMARY_FILE, ShadowFolder, at, counted, money};

/// What to say of a shadow folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The summary and a line per divergence.
    Overview,
    /// Every divergence about a pod (`namespace/name`, or a name in any namespace).
    Pod(String),
    /// Every divergence that involves a node.
    Node(String),
}

/// `twin explain DIR` where DIR is a shadow folder.
pub fn explain(a: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let dir = &a.run_dir;
    let run_only: Vec<&str> = [("--job", a.job.is_some()), ("--request", a.request.is_some()), ("--service", a.service.is_some())]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect();
    if !run_only.is_empty() {
        anyhow::bail!(
            "{} is a folder written by `twin shadow --out`, where {} does not apply (it explains a folder of `twin run --out`); \
             here say --pod NAMESPACE/NAME or --node NAME, or nothing for the summary",
            dir.display(),
            run_only.join(", ")
        );
    }
    let subject = match (&a.pod, &a.node) {
        (Some(p), _) => Subject::Pod(p.clone()),
        (None, Some(n)) => Subject::Node(n.clone()),
        (None, None) => Subject::Overview,
    };
    let folder = ShadowFolder::read(dir)?;
    out!("{}", render(&folder, &subject)?);
    Ok(ExitCode::SUCCESS)
}

/// The folder's name as shown.
fn name(dir: &Path) -> String {
    dir.display().to_string()
}

/// What `twin explain` prints for `subject`.
pub fn render(folder: &ShadowFolder, subject: &Subject) -> anyhow::Result<String> {
    match subject {
        Subject::Overview => Ok(overview(folder)),
        Subject::Pod(pod) => {
            let found: Vec<&Divergence> = folder.divergences.iter().filter(|d| d.is_about_pod(pod)).collect();
            if found.is_empty() {
                let mut pods: Vec<String> = folder.divergences.iter().filter_map(|d| d.get("pod").map(shadow::show)).collect();
                pods.sort();
                pods.dedup();
                anyhow::bail!(
                    "no divergence about pod {pod} in {}{}{}",
                    name(&folder.dir),
                    if pods.is_empty() { String::new() } else { format!("; the pods it names: {}", few(&pods)) },
                    still_running(folder)
                );
            }
            Ok(details(folder, &format!("about pod {pod}"), &found))
        }
        Subject::Node(node) => {
            let found: Vec<&Divergence> = folder.divergences.iter().filter(|d| d.involves_node(node)).collect();
            if found.is_empty() {
                let mut nodes: Vec<String> = folder.divergences.iter().flat_map(Divergence::nodes).collect();
                nodes.sort();
                nodes.dedup();
                anyhow::bail!(
                    "no divergence involves node {node} in {}{}{}",
                    name(&folder.dir),
                    if nodes.is_empty() { String::new() } else { format!("; the nodes it names: {}", few(&nodes)) },
                    still_running(folder)
                );
            }
            Ok(details(folder, &format!("involving node {node}"), &found))
        }
    }
}

/// Up to ten names, and how many more.
fn few(names: &[String]) -> String {
    let mut s = names.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 10 {
        let _ = write!(s, " and {} more", names.len() - 10);
    }
    s
}

/// A note for a folder whose session may still be running.
fn still_running(folder: &ShadowFolder) -> &'static str {
    if folder.summary.is_none() { " (no shadow-summary.json yet: shadow may still be running and find more)" } else { "" }
}

/// Divergences in full, one after another.
fn details(folder: &ShadowFolder, what: &str, found: &[&Divergence]) -> String {
    let mut out = format!("{} divergence(s) {what} in {}", found.len(), name(&folder.dir));
    if folder.summary.is_none() {
        let _ = write!(out, " (from {LOG_FILE} alone: no {SUMMARY_FILE} yet, shadow may still be running)");
    }
    out.push_str(":\n");
    for d in found {
        out.push('\n');
        for line in d.detail() {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// The summary, then a line per divergence.
fn overview(folder: &ShadowFolder) -> String {
    let mut out = String::new();
    let logged = folder.counts();
    let dir = name(&folder.dir);
    match &folder.summary {
        Some(s) => {
            let _ = writeln!(out, "shadow folder {dir}: profile {}", s.profile.as_deref().unwrap_or("(not said)"));
            let _ = writeln!(out, "  divergences: {}", counted(&s.divergences));
            if folder.has_log && s.divergences != logged {
                let _ = writeln!(out, "  ({LOG_FILE} holds {})", counted(&logged));
            }
            if let Some(x) = s.counterfactual_saving_per_hour {
                let _ = writeln!(out, "  counterfactual saving: {} $/h (Twin's placements against the real ones)", money(x));
            }
            let n = |x: Option<u64>| x.map_or_else(|| "-".to_string(), |x| x.to_string());
            if s.agreed.is_some() || s.not_judged.is_some() || s.errors.is_some() {
                let _ = writeln!(out, "  bindings: {} agreed, {} not judged, {} errors", n(s.agreed), n(s.not_judged), n(s.errors));
            }
            let ledger = s.ledger();
            if !ledger.is_empty() {
                let _ = writeln!(out, "  cost {ledger}");
            }
            if let Some(c) = s.consolidation_line() {
                let _ = writeln!(out, "  consolidation: {c}");
            }
            if s.gpus.is_some() || s.nodes.is_some() || s.pods.is_some() {
                let idle = s.idle_gpus.map(|i| format!(" ({i} idle)")).unwrap_or_default();
                let _ = writeln!(out, "  seen: {} GPUs{idle}, {} nodes, {} pods", n(s.gpus), n(s.nodes), n(s.pods));
            }
            if let Some(c) = s.clock_s {
                let _ = writeln!(out, "  ran for {}", shadow::hours_in_words(c / 3600.0));
            }
            let list = |items: Vec<String>| if items.is_empty() { "none".to_string() } else { items.join(" · ") };
            let _ = writeln!(out, "  samples in: {}", list(s.samples_in.iter().map(|(k, v)| format!("{k} {v}")).collect()));
            let _ = writeln!(out, "  gaps: {}", list(s.gaps.iter().map(|(k, v)| format!("{k} {v}")).collect()));
            let _ = writeln!(out, "  health: {}", list(s.health.iter().map(|(k, v)| format!("{k} {v}")).collect()));
            for (k, v) in &s.other {
                match v.as_object().filter(|m| !m.is_empty()) {
                    // A table of its own (`autoscalers`: each service's state), an entry a line.
                    Some(m) => {
                        let _ = writeln!(out, "  {k}:");
                        for (sk, sv) in m {
                            let _ = writeln!(out, "    {sk}: {}", shadow::show(sv));
                        }
                    }
                    None => {
                        let _ = writeln!(out, "  {k}: {}", shadow::show(v));
                    }
                }
            }
        }
        None => {
            let _ = writeln!(
                out,
                "shadow folder {dir}: no {SUMMARY_FILE} yet (shadow is still running, or stopped before writing it); from {LOG_FILE} alone:"
            );
            let _ = writeln!(out, "  divergences: {}", counted(&logged));
            let saving: f64 = folder.divergences.iter().filter(|d| d.kind == "placement").filter_map(Divergence::saving_per_hour).sum();
            if logged.iter().any(|(k, _)| k == "placement") {
                let _ = writeln!(out, "  counterfactual saving so far: {} $/h", money(saving));
            }
        }
    }
    if let Some(n) = folder.unfinished {
        let _ = writeln!(out, "  line {n} of {LOG_FILE} is unfinished (being written) and left out");
    }
    if !folder.has_log {
        let _ = writeln!(out, "\nno {LOG_FILE} in {dir}");
        return out;
    }
    if folder.divergences.is_empty() {
        let _ = writeln!(out, "\nno divergences: Twin would have decided as the cluster did");
        return out;
    }
    let _ = writeln!(out, "\ndivergences ({}), in the order found:", folder.divergences.len());
    let kind_w = folder.divergences.iter().map(|d| d.kind.chars().count()).max().unwrap_or(0);
    let subjects: Vec<String> = folder.divergences.iter().map(Divergence::subject).collect();
    let subject_w = subjects.iter().map(|s| s.chars().count()).max().unwrap_or(0).min(32);
    for (d, subject) in folder.divergences.iter().zip(subjects) {
        let _ = writeln!(out, "  {}  {:<kind_w$}  {subject:<subject_w$}  {}", at(d.observed_ns), d.kind, d.what());
    }
    let _ = writeln!(out, "\n`twin explain {dir} --pod NAMESPACE/NAME` or `--node NAME` tells one in full.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(summary: Option<&str>, log: &str) -> (tempfile::TempDir, ShadowFolder) {
        let dir = tempfile::tempdir().unwrap();
        if let Some(s) = summary {
            std::fs::write(dir.path().join(SUMMARY_FILE), s).unwrap();
        }
        std::fs::write(dir.path().join(LOG_FILE), log).unwrap();
        let f = ShadowFolder::read(dir.path()).unwrap();
        (dir, f)
    }

    const LOG: &str = r#"{"kind":"idle","observed_ns":1796637660000000000,"host":"gpu-a","gpu":3,"since_ns":1796637600000000000,"at_ns":1796637660000000000}
{"kind":"consolidation","observed_ns":1796637670000000000,"nodes_freed":["gpu-b"],"moves":[{"pod":"ml/x","from":"gpu-b","to":"gpu-a","gpus":2}],"saving_per_hour":12.5}
"#;

    #[test]
    fn pods_and_nodes_are_found_through_every_kind() {
        let (_d, f) = folder(None, LOG);
        let text = render(&f, &Subject::Node("gpu-a".into())).unwrap();
        assert!(text.starts_with("2 divergence(s) involving node gpu-a") && text.contains("no shadow-summary.json yet"), "{text}");
        let text = render(&f, &Subject::Pod("x".into())).unwrap();
        assert!(text.contains("move ml/x (2 GPUs): gpu-b → gpu-a"), "{text}");
        let e = render(&f, &Subject::Pod("ml/y".into())).unwrap_err().to_string();
        assert!(e.contains("no divergence about pod ml/y") && e.contains("still be running"), "{e}");
        let e = render(&f, &Subject::Node("gpu-z".into())).unwrap_err().to_string();
        assert!(e.contains("the nodes it names: gpu-a, gpu-b"), "{e}");
        let text = render(&f, &Subject::Overview).unwrap();
        assert!(text.contains("divergences: 2 (1 consolidation, 1 idle)") && text.contains("gpu-a GPU 3"), "{text}");
    }

    #[test]
    fn a_summary_that_disagrees_with_the_log_says_so() {
        let summary = r#"{"profile":"fgd","divergences":{"idle":1},"health":{"nvml":"down: no driver"},"autoscalers":{"chat":"not judged: no Deployment"}}"#;
        let (_d, f) = folder(Some(summary), LOG);
        let text = render(&f, &Subject::Overview).unwrap();
        assert!(text.contains("  autoscalers:\n    chat: not judged: no Deployment\n"), "{text}");
        assert!(text.contains("profile fgd") && text.contains("(divergences.jsonl holds 2 (1 consolidation, 1 idle))"), "{text}");
        assert!(text.contains("health: nvml down: no driver") && text.contains("gaps: none"), "{text}");
    }
}
