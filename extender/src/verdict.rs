//! Decisions: each candidate node's verdict, and why a node was refused.

use crate::nodes::NodeError;
use std::fmt;
use twin_scheduler::Trace;
use twin_sim::policy::Violation;

/// Why a node cannot take the pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Only the node's name came (`nodeCacheCapable`) and neither the node
    /// feed nor a `Nodes` list has carried the node yet.
    NotCached,
    /// The node could not be read.
    Unreadable(NodeError),
    /// The node is cordoned (`spec.unschedulable`).
    Cordoned,
    /// The pod's node selector, required node affinity or tolerations
    /// refuse the node, in Kubernetes' words.
    Affinity(String),
    /// A placement policy (`twin.placement`) denied the node, with each
    /// violated rule and its message.
    Policy(Vec<Violation>),
    /// A filter of the profile refused the node.
    Plugin {
        /// The plugin, such as `resource-fit` (`framework` for a pod that
        /// passes every filter yet does not fit).
        plugin: &'static str,
        /// Its reason.
        reason: &'static str,
    },
}

impl Rejection {
    /// What refused the node, for metrics: a plugin's name, or `cache`,
    /// `node`, `cordon`, `node-affinity`, `policy`.
    pub fn source(&self) -> &'static str {
        match self {
            Rejection::NotCached => "cache",
            Rejection::Unreadable(_) => "node",
            Rejection::Cordoned => "cordon",
            Rejection::Affinity(_) => "node-affinity",
            Rejection::Policy(_) => "policy",
            Rejection::Plugin { plugin, .. } => plugin,
        }
    }

    /// Whether preempting pods on the node could not help, so that the node
    /// goes to `FailedAndUnresolvableNodes` and kube-scheduler does not
    /// evict pods there for nothing. The extender judges nodes by what they
    /// could hold empty, so every refusal but a cache miss is one.
    pub fn is_unresolvable(&self) -> bool {
        !matches!(self, Rejection::NotCached)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotCached => {
                f.write_str("node not in the extender's cache: neither the node feed nor a Nodes list has carried it yet")
            }
            Rejection::Unreadable(e) => write!(f, "node cannot be read: {e}"),
            Rejection::Cordoned => f.write_str("node is cordoned (spec.unschedulable)"),
            Rejection::Affinity(why) => write!(f, "node-affinity: {why}"),
            Rejection::Policy(violations) => {
                f.write_str("policy ")?;
                for (i, v) in violations.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
            Rejection::Plugin { plugin, reason } => write!(f, "{plugin}: {reason}"),
        }
    }
}

/// One node's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The node can take the pod, with its score, 0 to
    /// [`MAX_EXTENDER_PRIORITY`](crate::wire::MAX_EXTENDER_PRIORITY).
    Fits {
        /// The score.
        score: i64,
    },
    /// The node cannot take the pod.
    Refused(Rejection),
}

impl Verdict {
    /// Whether the node can take the pod.
    pub fn fits(&self) -> bool {
        matches!(self, Verdict::Fits { .. })
    }

    /// The score: 0 for a node that cannot take the pod.
    pub fn score(&self) -> i64 {
        match self {
            Verdict::Fits { score } => *score,
            Verdict::Refused(_) => 0,
        }
    }
}

/// The extender's decision for one pod over its candidate nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The pod, `namespace/name`.
    pub pod: String,
    /// Whether the pod asks for no whole accelerator and passed through
    /// untouched (every node fits, every score 0).
    pub passthrough: bool,
    /// Each candidate node's verdict, by name, in the order the nodes came
    /// (a name that came twice is judged once, where it first came).
    pub verdicts: Vec<(String, Verdict)>,
    /// The scheduler's trace. It ran over one node per class of nodes that
    /// look alike to the pod, so its node counts are classes.
    pub trace: Option<Trace>,
}

impl Decision {
    /// The verdict on a node.
    pub fn verdict(&self, node: &str) -> Option<&Verdict> {
        self.verdicts.iter().find(|(n, _)| n == node).map(|(_, v)| v)
    }
}
