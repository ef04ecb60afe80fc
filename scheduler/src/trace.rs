//! Decision traces: why a pod went where it went, or nowhere.

use serde::Serialize;
use std::fmt;

/// A node among the best candidates, with each plugin's normalised score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScoredNode {
    /// The node's name.
    pub node: String,
    /// Weighted total (higher is better).
    pub total: f64,
    /// Each scoring plugin's normalised score, 0 to 100.
    pub scores: Vec<(String, f64)>,
}

/// The story of one scheduling decision.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Trace {
    /// The pod's name.
    pub pod: String,
    /// The profile that decided.
    pub profile: String,
    /// Schedulable nodes looked at.
    pub nodes: usize,
    /// Classes of alike nodes they formed (plugins ran once per class).
    pub classes: usize,
    /// Nodes each filter rejected, with its reason: (plugin, reason, nodes).
    pub rejected: Vec<(String, String, usize)>,
    /// Nodes that passed every filter.
    pub feasible: usize,
    /// The best candidates, best first.
    pub top: Vec<ScoredNode>,
    /// Pods evicted to make room (preemption), by name.
    pub victims: Vec<String>,
    /// Anything else worth knowing (gang waits, preemption refused, ...).
    pub note: String,
}

impl Trace {
    /// Adds `n` nodes rejected by `plugin` for `reason`.
    pub(crate) fn reject(&mut self, plugin: &str, reason: &str, n: usize) {
        match self.rejected.iter_mut().find(|r| r.0 == plugin && r.1 == reason) {
            Some(r) => r.2 += n,
            None => self.rejected.push((plugin.to_string(), reason.to_string(), n)),
        }
    }

    /// One line: the outcome's reasons, for reports and logs.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(best) = self.top.first() {
            let scores: Vec<String> = best.scores.iter().map(|(p, s)| format!("{p} {s:.0}")).collect();
            parts.push(format!("best {} (score {:.1}: {})", best.node, best.total, scores.join(", ")));
        }
        if !self.rejected.is_empty() {
            let r: Vec<String> = self.rejected.iter().map(|(p, why, n)| format!("{p}: {why} on {n}")).collect();
            parts.push(format!("filtered out [{}]", r.join("; ")));
        }
        parts.push(format!("{} of {} nodes feasible", self.feasible, self.nodes));
        if !self.victims.is_empty() {
            parts.push(format!("preempts {}", self.victims.join(", ")));
        }
        if !self.note.is_empty() {
            parts.push(self.note.clone());
        }
        parts.join(" · ")
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pod {} (profile {}): {} nodes in {} classes, {} feasible",
            self.pod, self.profile, self.nodes, self.classes, self.feasible
        )?;
        for (p, why, n) in &self.rejected {
            writeln!(f, "  filter {p}: {why} — {n} nodes")?;
        }
        for (i, s) in self.top.iter().enumerate() {
            let scores: Vec<String> = s.scores.iter().map(|(p, v)| format!("{p}={v:.1}")).collect();
            writeln!(f, "  #{} {} total {:.2} [{}]", i + 1, s.node, s.total, scores.join(" "))?;
        }
        if !self.victims.is_empty() {
            writeln!(f, "  preempts: {}", self.victims.join(", "))?;
        }
        if !self.note.is_empty() {
            writeln!(f, "  {}", self.note)?;
        }
        Ok(())
    }
}
