//! A scheduler in another language, spoken to over stdin and stdout with one
//! JSON object per line (docs/external-scheduler.md).
//!
//! Twin starts the process, says hello, then sends one `decide` message per
//! placement and waits for one answer. A process that exits, stays silent
//! past the timeout, or answers with anything but a valid decision ends the
//! run with an error that names the message at fault.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use twin_inputs::Source;
use twin_protocol::{Answer, Decide, Message};
use twin_sim::placement::{FleetView, Placement, PlacementError, PlacementRequest, Verdict};
use twin_sim::scenario::Scenario;
use twin_sim::scenario::spec::ExternalSchedulerSpec;

/// The least time the hello is given: the process starts within it.
const STARTUP: Duration = Duration::from_secs(30);

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
    broken: Option<PlacementError>,
}

/// Most bytes of the process's stderr kept (the end is what matters).
const STDERR_KEPT: usize = 64 * 1024;

impl ExternalScheduler {
    /// Starts the process in the scenario's folder and greets it.
    pub fn start(spec: &ExternalSchedulerSpec, source: &Source, scenario: &Scenario) -> anyhow::Result<ExternalScheduler> {
        let Some((program, args)) = spec.command.split_first() else {
            anyhow::bail!("[scheduler] external.command is empty");
        };
        let command = spec.command.join(" ");
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(dir) = source.dir() {
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
        // The hello waits for the process to start as well (an interpreter,
        // its imports, a model loaded): at least STARTUP, however short the
        // decisions' timeout.
        let decisions = ext.timeout;
        ext.timeout = decisions.max(STARTUP);
        let hello = ext.ask(&Message::hello(&scenario.spec.name).to_line(), "hello").map_err(|e| anyhow::anyhow!("{e}"));
        ext.timeout = decisions;
        match hello? {
            Answer::Ready { name } => ext.name = if name.is_empty() { ext.command.clone() } else { name },
            _ => anyhow::bail!("external scheduler `{}` answered hello with something other than {{\"type\": \"ready\"}}", ext.command),
        }
        Ok(ext)
    }

    /// Sends one message and waits for one answer; `label` names the message in errors.
    fn ask(&mut self, message: &str, label: &str) -> Result<Answer, PlacementError> {
        if let Some(first) = &self.broken {
            return Err(first.clone());
        }
        let answer = self.exchange(message, label);
        if let Err(e) = &answer {
            self.broken = Some(e.clone());
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
            Ok(Ok(line)) => Answer::from_line(&line).map_err(|e| {
                PlacementError::External(format!(
                    "external scheduler `{}` answered message {n} ({short}) with malformed JSON: {} ({e}){}",
                    self.command,
                    abbreviate(&line),
                    self.stderr_tail()
                ))
            }),
            Ok(Err(e)) => Err(PlacementError::External(format!(
                "reading from external scheduler `{}` after message {n} ({short}): {e}",
                self.command
            ))),
            Err(RecvTimeoutError::Disconnected) => Err(self.died(n, &short)),
            Err(RecvTimeoutError::Timeout) => Err(PlacementError::External(format!(
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
        PlacementError::External(format!("external scheduler `{}` {status} at message {n} ({short}){}", self.command, self.stderr_tail()))
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
        let message = Message::Decide(Decide::new(req, fleet));
        let label = format!(
            "decide for {}/{} ({} GPU{}) at {}",
            req.traits.name,
            req.owner,
            req.gpus,
            if req.gpus == 1 { "" } else { "s" },
            req.now
        );
        let answer = self.ask(&message.to_line(), &label)?;
        answer.into_verdict(req, fleet).map_err(|e| {
            PlacementError::InvalidDecision(format!(
                "external scheduler `{}` answered message {} ({}) with {e}",
                self.command, self.sent, self.last
            ))
        })
    }
}
