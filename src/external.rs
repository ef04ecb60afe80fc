//! A scheduler in another language, spoken to over stdin and stdout with one
//! JSON object per line (docs/external-scheduler.md).
//!
//! Twin starts the process, says hello, then sends one `decide` message per
//! placement and waits for one answer. A process that exits, stays silent
//! past the timeout, or answers with anything but a valid decision ends the
//! run with an error that names the message at fault.

use crate::policies::Base;
use serde::Deserialize;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use twin_sim::fleet::NodeState;
use twin_sim::ids::{NodeId, PoolId};
use twin_sim::placement::{Decision, FleetView, Placement, PlacementError, PlacementRequest, Verdict, WaitReason};
use twin_sim::scenario::Scenario;
use twin_sim::scenario::spec::ExternalSchedulerSpec;

/// The protocol version this Twin speaks.
pub const PROTOCOL: u32 = 1;

/// An external scheduler process.
pub struct ExternalScheduler {
    command: String,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<std::io::Result<String>>,
    stderr: Arc<Mutex<String>>,
    timeout: Duration,
    sent: u64,
    /// What the last message was, for errors about its answer.
    last: String,
    name: String,
    /// The first error: once a session has failed, nothing more is asked.
    broken: Option<String>,
}

/// Most bytes of the process's stderr kept (the end is what matters).
const STDERR_KEPT: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Answer {
    Ready {
        #[serde(default)]
        name: String,
    },
    Bind {
        nodes: Vec<u32>,
        per_node: u32,
        #[serde(default)]
        why: String,
    },
    Provision {
        pool: String,
        #[serde(default)]
        reuse: Vec<u32>,
        launch: u32,
        per_node: u32,
        #[serde(default)]
        why: String,
    },
    Wait {
        #[serde(default)]
        reason: String,
    },
}

impl ExternalScheduler {
    /// Starts the process in the scenario's folder and greets it.
    pub fn start(spec: &ExternalSchedulerSpec, base: &Base, scenario: &Scenario) -> anyhow::Result<ExternalScheduler> {
        let Some((program, args)) = spec.command.split_first() else {
            anyhow::bail!("[scheduler] external.command is empty");
        };
        let command = spec.command.join(" ");
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Base::Dir(dir) = base {
            cmd.current_dir(dir);
        }
        let mut child = cmd.spawn().map_err(|e| anyhow::anyhow!("cannot start external scheduler `{command}`: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if s.len() > 2 * STDERR_KEPT {
                        let mut cut = s.len() - STDERR_KEPT;
                        while !s.is_char_boundary(cut) {
                            cut += 1;
                        }
                        s.drain(..cut);
                    }
                }
            }
        });
        let mut ext = ExternalScheduler {
            command,
            child,
            stdin,
            lines,
            stderr,
            timeout: Duration::from_nanos(spec.timeout.get().as_nanos()),
            sent: 0,
            last: String::new(),
            name: String::new(),
            broken: None,
        };
        let hello = json!({"type": "hello", "protocol": PROTOCOL, "scenario": scenario.spec.name});
        match ext.ask(&hello.to_string(), "hello").map_err(|e| anyhow::anyhow!("{e}"))? {
            Answer::Ready { name } => ext.name = if name.is_empty() { ext.command.clone() } else { name },
            _ => anyhow::bail!("external scheduler `{}` answered hello with something other than {{\"type\": \"ready\"}}", ext.command),
        }
        Ok(ext)
    }

    /// Sends one message and waits for one answer; `label` names the message in errors.
    fn ask(&mut self, message: &str, label: &str) -> Result<Answer, PlacementError> {
        if let Some(first) = &self.broken {
            return Err(PlacementError(first.clone()));
        }
        let answer = self.exchange(message, label);
        if let Err(e) = &answer {
            self.broken = Some(e.0.clone());
        }
        answer
    }

    fn exchange(&mut self, message: &str, label: &str) -> Result<Answer, PlacementError> {
        self.sent += 1;
        let n = self.sent;
        let short = label.to_string();
        self.last = label.to_string();
        if writeln!(self.stdin, "{message}").and_then(|_| self.stdin.flush()).is_err() {
            return Err(self.died(n, &short));
        }
        match self.lines.recv_timeout(self.timeout) {
            Ok(Ok(line)) => serde_json::from_str::<Answer>(&line).map_err(|e| {
                PlacementError(format!(
                    "external scheduler `{}` answered message {n} ({short}) with malformed JSON: {} ({e}){}",
                    self.command,
                    abbreviate(&line),
                    self.stderr_tail()
                ))
            }),
            Ok(Err(e)) => {
                Err(PlacementError(format!("reading from external scheduler `{}` after message {n} ({short}): {e}", self.command)))
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.died(n, &short)),
            Err(RecvTimeoutError::Timeout) => Err(PlacementError(format!(
                "external scheduler `{}` did not answer message {n} ({short}) within {:?}{}",
                self.command,
                self.timeout,
                self.stderr_tail()
            ))),
        }
    }

    fn died(&mut self, n: u64, short: &str) -> PlacementError {
        std::thread::sleep(Duration::from_millis(50));
        let status = self.child.try_wait().ok().flatten().map_or_else(|| "closed its output".to_string(), |s| format!("exited ({s})"));
        PlacementError(format!("external scheduler `{}` {status} at message {n} ({short}){}", self.command, self.stderr_tail()))
    }

    /// The last lines the process wrote to stderr, if any, to end an error with.
    fn stderr_tail(&self) -> String {
        let err = self
            .stderr
            .lock()
            .map(|s| s.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default();
        if err.is_empty() { String::new() } else { format!("; its stderr ends:\n{err}") }
    }
}

impl Drop for ExternalScheduler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn abbreviate(s: &str) -> String {
    if s.chars().count() > 160 { format!("{}…", s.chars().take(160).collect::<String>()) } else { s.to_string() }
}

impl Placement for ExternalScheduler {
    fn name(&self) -> String {
        format!("external: {}", self.name)
    }

    fn place(&mut self, req: &PlacementRequest<'_>, fleet: &FleetView<'_>) -> Result<Verdict, PlacementError> {
        let pools: Vec<serde_json::Value> = req
            .pools
            .iter()
            .map(|&p| {
                let pool = &fleet.pools[p.index()];
                json!({
                    "name": pool.name, "capacity": pool.capacity.as_str(), "accelerator": pool.accelerator.name,
                    "gpus_per_node": pool.gpus_per_node, "price_per_gpu_hour": pool.price_units as f64 / 1e9,
                    "headroom": pool.headroom(), "speed": (req.speed)(p),
                })
            })
            .collect();
        let nodes: Vec<serde_json::Value> = req
            .pools
            .iter()
            .flat_map(|&p| fleet.pools[p.index()].nodes.iter().map(move |&n| (p, n)))
            .map(|(p, n)| {
                let node = &fleet.nodes[n.index()];
                let state = match node.state {
                    NodeState::Provisioning => "provisioning",
                    NodeState::Ready => "ready",
                    NodeState::Draining => "draining",
                    NodeState::Failed => "failed",
                    NodeState::Terminated => "terminated",
                };
                json!({
                    "id": n.0, "pool": fleet.pools[p.index()].name, "state": state, "gpus": node.gpus, "free": node.free,
                    "promised_to_you": node.reserved_for(req.owner), "promised_to_others": node.reserved_for_others(req.owner),
                })
            })
            .collect();
        let message = json!({
            "type": "decide", "time_s": req.now.as_secs_f64(),
            "request": {"id": req.owner.to_string(), "workload": req.traits.name, "gpus": req.gpus, "priority": req.traits.priority, "checkpointed": req.traits.checkpointed},
            "pools": pools, "nodes": nodes,
        });
        let label = format!(
            "decide for {}/{} ({} GPU{}) at {}",
            req.traits.name,
            req.owner,
            req.gpus,
            if req.gpus == 1 { "" } else { "s" },
            req.now
        );
        let answer = self.ask(&message.to_string(), &label)?;
        let n = format!("{} ({})", self.sent, self.last);
        let pool_named = |name: &str| req.pools.iter().copied().find(|p| fleet.pools[p.index()].name == name);
        let node_in = |id: u32| -> Result<NodeId, PlacementError> {
            let ok = fleet.nodes.get(id as usize).is_some_and(|node| req.pools.contains(&node.pool) && node.is_live());
            if ok {
                Ok(NodeId(id))
            } else {
                Err(PlacementError(format!(
                    "external scheduler `{}` answered message {n} with node {id}, which is not a live node of the request's pools",
                    self.command
                )))
            }
        };
        Ok(match answer {
            Answer::Bind { nodes, per_node, why } => Verdict {
                decision: Decision::Bind { nodes: nodes.into_iter().map(node_in).collect::<Result<_, _>>()?, per_node },
                why: format!("external: {why}"),
            },
            Answer::Provision { pool, reuse, launch, per_node, why } => {
                let p: PoolId = pool_named(&pool).ok_or_else(|| {
                    PlacementError(format!(
                        "external scheduler `{}` answered message {n} with pool `{pool}`, which the request may not use",
                        self.command
                    ))
                })?;
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
            Answer::Ready { .. } => {
                return Err(PlacementError(format!(
                    "external scheduler `{}` answered message {n} with `ready` instead of a decision",
                    self.command
                )));
            }
        })
    }
}
