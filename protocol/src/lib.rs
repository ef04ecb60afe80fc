//! The external-scheduler protocol (`docs/external-scheduler.md`) as typed
//! messages: what Twin sends ([`Message`]: `hello`, `decide`) and what the
//! process answers ([`Answer`]: `ready`, `bind`, `provision`, `wait`), one
//! JSON object per line.
//!
//! This crate has no process handling: the `twin` binary starts the
//! program, writes [`Message::to_line`] and reads [`Answer::from_line`];
//! here a [`PlacementRequest`] becomes a `decide` message
//! ([`Decide::new`]) and an answer becomes the simulator's [`Verdict`]
//! ([`Answer::into_verdict`]), refused when it names a node or pool the
//! request may not use.
//!
//! ```
//! use twin_protocol::{Answer, Message};
//! let hello = Message::hello("demo");
//! assert_eq!(hello.to_line(), r#"{"type":"hello","protocol":1,"scenario":"demo"}"#);
//! let answer = Answer::from_line(r#"{"type": "wait", "reason": "full"}"#).unwrap();
//! assert_eq!(answer, Answer::Wait { reason: "full".into() });
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};
use twin_sim::fleet::NodeState;
use twin_sim::ids::{NodeId, PoolId};
use twin_sim::placement::{Decision, FleetView, PlacementRequest, Verdict, WaitReason};

/// The protocol version this crate speaks, sent in `hello`.
pub const PROTOCOL: u32 = 1;

/// A message from Twin to the process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Message {
    /// The first message: the protocol version and the scenario.
    Hello(Hello),
    /// A unit of work to place.
    Decide(Decide),
}

/// `hello`: the session's first message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// The protocol version ([`PROTOCOL`]).
    pub protocol: u32,
    /// The scenario's `name`.
    pub scenario: String,
}

/// `decide`: a pending unit of work, the pools it may use and their live nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    /// Simulated seconds since the start of the run.
    pub time_s: f64,
    /// The unit of work.
    pub request: Request,
    /// The pools it may use, in the workload's order.
    pub pools: Vec<PoolInfo>,
    /// Every live node of those pools.
    pub nodes: Vec<NodeInfo>,
}

/// The unit of work a `decide` asks about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// `replica-N` or `job-N`, unique over the run.
    pub id: String,
    /// The service's or training job's name.
    pub workload: String,
    /// Accelerators wanted in all.
    pub gpus: u32,
    /// Higher is placed first.
    pub priority: i32,
    /// Whether it keeps its progress across an interruption.
    pub checkpointed: bool,
}

/// A pool the request may use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolInfo {
    /// Its name, used in `provision`.
    pub name: String,
    /// `on-prem`, `reserved`, `spot` or `on-demand`.
    pub capacity: String,
    /// The accelerator's name.
    pub accelerator: String,
    /// Accelerators per node.
    pub gpus_per_node: u32,
    /// The current price per accelerator-hour.
    pub price_per_gpu_hour: f64,
    /// How many more nodes may be launched.
    pub headroom: u32,
    /// This request's speed per accelerator here, relative to an H100.
    pub speed: f64,
}

/// A node's lifecycle state as the protocol names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Launched, not ready yet.
    Provisioning,
    /// Ready for work.
    Ready,
    /// Given notice: takes no new work.
    Draining,
    /// Failed, waiting for repair.
    Failed,
    /// Gone (never listed).
    Terminated,
}

impl From<NodeState> for NodeStatus {
    fn from(s: NodeState) -> NodeStatus {
        match s {
            NodeState::Provisioning => NodeStatus::Provisioning,
            NodeState::Ready => NodeStatus::Ready,
            NodeState::Draining => NodeStatus::Draining,
            NodeState::Failed => NodeStatus::Failed,
            NodeState::Terminated => NodeStatus::Terminated,
        }
    }
}

/// A live node of the request's pools.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeInfo {
    /// Unique over the run, never reused.
    pub id: u32,
    /// Its pool.
    pub pool: String,
    /// Its state.
    pub state: NodeStatus,
    /// Accelerators on it.
    pub gpus: u32,
    /// Accelerators not allocated (promised ones count as free).
    pub free: u32,
    /// Accelerators promised to this request.
    pub promised_to_you: u32,
    /// Accelerators promised to other requests.
    pub promised_to_others: u32,
}

/// An answer from the process. Unknown fields are errors; numbers must be integers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Answer {
    /// The answer to `hello`.
    Ready {
        /// Shown in reports as `external: NAME`; the command line when empty.
        #[serde(default)]
        name: String,
    },
    /// Place the unit now.
    Bind {
        /// One node per gang member.
        nodes: Vec<u32>,
        /// Accelerators on each node.
        per_node: u32,
        /// Recorded in the decision trace.
        #[serde(default)]
        why: String,
    },
    /// Grow a pool and promise room.
    Provision {
        /// One of the request's pools.
        pool: String,
        /// Nodes already provisioning on which to promise room too.
        #[serde(default)]
        reuse: Vec<u32>,
        /// New nodes to launch.
        launch: u32,
        /// Accelerators promised on each node.
        per_node: u32,
        /// Recorded in the decision trace.
        #[serde(default)]
        why: String,
    },
    /// Not now.
    Wait {
        /// Recorded in the decision trace.
        #[serde(default)]
        reason: String,
    },
}

/// An answer that is valid JSON but names what the request may not use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// A node that is unknown, terminated or outside the request's pools.
    #[error("node {0}, which is not a live node of the request's pools")]
    NotLiveNode(u32),
    /// A pool the request may not use.
    #[error("pool `{0}`, which the request may not use")]
    PoolNotAllowed(String),
    /// `ready` where a decision was due.
    #[error("`ready` instead of a decision")]
    NotADecision,
}

impl Message {
    /// The `hello` of a session on `scenario`.
    pub fn hello(scenario: &str) -> Message {
        Message::Hello(Hello { protocol: PROTOCOL, scenario: scenario.to_string() })
    }

    /// The message as one line of compact JSON, without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("messages are plain data")
    }
}

impl Decide {
    /// The `decide` message for `req` against `fleet`.
    pub fn new(req: &PlacementRequest<'_>, fleet: &FleetView<'_>) -> Decide {
        let pools = req
            .pools
            .iter()
            .map(|&p| {
                let pool = &fleet.pools[p.index()];
                PoolInfo {
                    name: pool.name.clone(),
                    capacity: pool.capacity.as_str().to_string(),
                    accelerator: pool.accelerator.name.clone(),
                    gpus_per_node: pool.gpus_per_node,
                    price_per_gpu_hour: pool.price_units as f64 / 1e9,
                    headroom: pool.headroom(),
                    speed: (req.speed)(p),
                }
            })
            .collect();
        let nodes = req
            .pools
            .iter()
            .flat_map(|&p| fleet.pools[p.index()].nodes.iter().map(move |&n| (p, n)))
            .map(|(p, n)| {
                let node = &fleet.nodes[n.index()];
                NodeInfo {
                    id: n.0,
                    pool: fleet.pools[p.index()].name.clone(),
                    state: node.state.into(),
                    gpus: node.gpus,
                    free: node.free,
                    promised_to_you: node.reserved_for(req.owner),
                    promised_to_others: node.reserved_for_others(req.owner),
                }
            })
            .collect();
        Decide {
            time_s: req.now.as_secs_f64(),
            request: Request {
                id: req.owner.to_string(),
                workload: req.traits.name.clone(),
                gpus: req.gpus,
                priority: req.traits.priority,
                checkpointed: req.traits.checkpointed,
            },
            pools,
            nodes,
        }
    }
}

impl Answer {
    /// Reads one line the process wrote.
    pub fn from_line(line: &str) -> Result<Answer, serde_json::Error> {
        serde_json::from_str(line)
    }

    /// The decision this answer stands for, for `req` against `fleet`: an
    /// error when it names a node or pool the request may not use. Whether
    /// the decision can be carried out (shape, room) is the fabric's check.
    pub fn into_verdict(self, req: &PlacementRequest<'_>, fleet: &FleetView<'_>) -> Result<Verdict, AnswerError> {
        let node_in = |id: u32| -> Result<NodeId, AnswerError> {
            let ok = fleet.nodes.get(id as usize).is_some_and(|node| req.pools.contains(&node.pool) && node.is_live());
            if ok { Ok(NodeId(id)) } else { Err(AnswerError::NotLiveNode(id)) }
        };
        Ok(match self {
            Answer::Bind { nodes, per_node, why } => Verdict {
                decision: Decision::Bind { nodes: nodes.into_iter().map(node_in).collect::<Result<_, _>>()?, per_node },
                why: format!("external: {why}"),
            },
            Answer::Provision { pool, reuse, launch, per_node, why } => {
                let p: PoolId =
                    req.pools.iter().copied().find(|p| fleet.pools[p.index()].name == pool).ok_or(AnswerError::PoolNotAllowed(pool))?;
                Verdict {
                    decision: Decision::Provision {
                        pool: p,
                        reuse: reuse.into_iter().map(node_in).collect::<Result<_, _>>()?,
                        launch,
                        per_node,
                    },
                    why: format!("external: {why}"),
                }
            }
            Answer::Wait { reason } => Verdict { decision: Decision::Wait(WaitReason::NoCapacity), why: format!("external: {reason}") },
            Answer::Ready { .. } => return Err(AnswerError::NotADecision),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The JSON examples of `docs/external-scheduler.md`, each with whether
    /// it is one of Twin's messages (else an answer).
    fn doc_examples() -> Vec<Value> {
        let doc = include_str!("../../docs/external-scheduler.md");
        let mut out = Vec::new();
        let mut block: Option<String> = None;
        for line in doc.lines() {
            match (&mut block, line.trim_start()) {
                (None, "```json") => block = Some(String::new()),
                (Some(b), "```") => {
                    out.push(serde_json::from_str(b).unwrap_or_else(|e| panic!("a JSON example does not parse: {e}\n{b}")));
                    block = None;
                }
                (Some(b), _) => {
                    b.push_str(line);
                    b.push('\n');
                }
                (None, _) => {}
            }
        }
        out
    }

    #[test]
    fn every_example_in_the_protocol_document_round_trips() {
        let examples = doc_examples();
        assert!(examples.len() >= 6, "found {} examples", examples.len());
        let (mut messages, mut answers) = (0, 0);
        for example in examples {
            let line = example.to_string();
            let back = match example["type"].as_str() {
                Some("hello" | "decide") => {
                    messages += 1;
                    let m: Message = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
                    serde_json::from_str::<Value>(&m.to_line()).unwrap()
                }
                _ => {
                    answers += 1;
                    let a = Answer::from_line(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
                    serde_json::to_value(&a).unwrap()
                }
            };
            assert_eq!(back, example, "{line}");
        }
        assert!(messages >= 2 && answers >= 4, "{messages} messages, {answers} answers");
    }

    #[test]
    fn answers_are_strict_as_the_document_says() {
        for (bad, why) in [
            (r#"{"type": "preempt", "victims": []}"#, "unknown variant `preempt`, expected one of `ready`, `bind`, `provision`, `wait`"),
            (
                r#"{"type": "bind", "nodes": [0], "per_node": 1, "score": 3}"#,
                "unknown field `score`, expected one of `nodes`, `per_node`, `why`",
            ),
            (r#"{"type": "bind", "nodes": [0]}"#, "missing field `per_node`"),
            (r#"{"nodes": [0], "per_node": 1}"#, "missing field `type`"),
            (r#"{"type": "bind", "nodes": [0], "per_node": 1.0}"#, "invalid type: floating point `1.0`, expected u32"),
        ] {
            let e = Answer::from_line(bad).unwrap_err().to_string();
            assert!(e.starts_with(why), "{bad}: {e}");
        }
        assert_eq!(Answer::from_line(r#"{"type": "ready"}"#).unwrap(), Answer::Ready { name: String::new() });
    }
}
