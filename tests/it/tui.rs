//! `twin tui` in a real terminal: tmux runs the binary in a 120×40 pane;
//! the test sends keys and reads the screen back, as a user would see it.
//! scripts/test.sh installs tmux where it is missing.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux").arg("-S").arg(&self.socket).args(args).output().expect("tmux runs (scripts/test.sh installs it)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "twin"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.cmd(&["send-keys", "-t", "twin", k]);
            // Keys apart, so Esc then a letter is not read as Alt-letter.
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits until the screen shows `what` (a minute at most).
    fn wait_for(&self, what: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "the screen never showed {what:?}:\n{s}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn open_run_compare_help_and_quit_in_a_real_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux { socket: dir.path().join("tmux.sock"), _dir: dir };
    let done = t._dir.path().join("exit-code");
    // The pane's shell writes the exit code and whether the terminal left
    // the alternate screen (tmux's #{alternate_on}) once twin has quit.
    let script = format!(
        "cd '{}' && HOME='{}' '{}' tui; echo $? > '{}'; sleep 60",
        crate::root().display(),
        t._dir.path().display(),
        env!("CARGO_BIN_EXE_twin"),
        done.display()
    );
    let o = t.cmd(&["new-session", "-d", "-s", "twin", "-x", "120", "-y", "40", &script]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The library, with every built-in scenario and its question.
    let s = t.wait_for("spot-inference");
    assert!(s.contains("Library") && s.contains("Telemetry") && s.contains("what does moving inference to spot save"), "{s}");
    let alt: String = String::from_utf8_lossy(&t.cmd(&["display-message", "-p", "-t", "twin", "#{alternate_on}"]).stdout).trim().into();
    assert_eq!(alt, "1", "the UI draws on the alternate screen");

    // Open the selected scenario and run it to the end.
    let first = s.lines().find(|l| l.contains("built-in")).unwrap_or_default().to_string();
    t.keys(&["Enter"]);
    let s = t.wait_for("[finished]");
    assert!(s.contains("GPUs allocated") && s.contains("P99 TTFT") && s.contains("Events"), "{s}");
    assert!(
        first.contains(s.lines().nth(1).unwrap_or("").split_whitespace().next().unwrap_or("?")),
        "the run is of the selected scenario:\n{first}\n{s}"
    );

    // Compare: both variants run on the same seed.
    t.keys(&["Tab", "Tab", "Enter"]);
    let s = t.wait_for("B − A");
    assert!(s.contains("cost (") && s.contains("SLO attainment %"), "{s}");

    // Help, closed by any key.
    t.keys(&["?"]);
    let s = t.wait_for("Keys (any key closes)");
    assert!(s.contains("quit"), "{s}");
    t.keys(&["Escape"]);

    // Quit: the terminal is restored.
    t.keys(&["q"]);
    let start = Instant::now();
    while !done.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "twin did not quit:\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(std::fs::read_to_string(&done).unwrap().trim(), "0");
    let alt: String = String::from_utf8_lossy(&t.cmd(&["display-message", "-p", "-t", "twin", "#{alternate_on}"]).stdout).trim().into();
    assert_eq!(alt, "0", "the terminal left the alternate screen");
    assert!(!t.screen().contains("Library │ Run"), "the UI is gone:\n{}", t.screen());
}

#[test]
fn tui_refuses_a_pipe_instead_of_drawing_into_it() {
    let o = Command::new(env!("CARGO_BIN_EXE_twin")).arg("tui").output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not one"), "{}", String::from_utf8_lossy(&o.stderr));
}
