//! Keys: what each key does, remappable.
//!
//! A key press becomes an [`Action`] through the [`KeyMap`]; screens act on
//! actions, never on raw keys, so a user on a non-QWERTY layout remaps keys
//! in one file and every screen follows. The file is TOML in the user's
//! config folder (`~/.config/twin/tui.toml` on Linux):
//!
//! ```toml
//! [keys]
//! quit = ["q", "ctrl-c"]
//! down = ["j", "down"]
//! ```
//!
//! A listed action replaces that action's default keys; the others keep
//! theirs.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Leave the UI.
    Quit,
    /// Show or hide the key help.
    Help,
    /// Next screen.
    NextTab,
    /// Previous screen.
    PrevTab,
    /// Move the selection up.
    Up,
    /// Move the selection down.
    Down,
    /// Left: previous field, pan left, smaller value.
    Left,
    /// Right: next field, pan right, larger value.
    Right,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// Open, run, explain the selected line.
    Enter,
    /// Cancel the work in progress, close a pop-up.
    Cancel,
    /// Pause or resume the run.
    Pause,
    /// One step while paused.
    Step,
    /// Run faster.
    Faster,
    /// Run slower.
    Slower,
    /// Run again (the what-if, the comparison).
    Rerun,
    /// Run the what-if's sweep.
    Sweep,
    /// Save (a what-if as a scenario file).
    Save,
    /// Sort a table by the next column.
    Sort,
    /// Show the next kind of a list (the Shadow screen's divergences).
    Filter,
    /// Zoom in.
    ZoomIn,
    /// Zoom out.
    ZoomOut,
    /// Switch between the dark and the light theme.
    Theme,
}

impl Action {
    /// Every action, in the order the help lists them.
    pub const ALL: [Action; 24] = [
        Action::Help,
        Action::Quit,
        Action::NextTab,
        Action::PrevTab,
        Action::Up,
        Action::Down,
        Action::Left,
        Action::Right,
        Action::PageUp,
        Action::PageDown,
        Action::Enter,
        Action::Cancel,
        Action::Pause,
        Action::Step,
        Action::Faster,
        Action::Slower,
        Action::Rerun,
        Action::Sweep,
        Action::Save,
        Action::Sort,
        Action::Filter,
        Action::ZoomIn,
        Action::ZoomOut,
        Action::Theme,
    ];

    /// Its name in the key file.
    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::NextTab => "next_tab",
            Action::PrevTab => "prev_tab",
            Action::Up => "up",
            Action::Down => "down",
            Action::Left => "left",
            Action::Right => "right",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Enter => "enter",
            Action::Cancel => "cancel",
            Action::Pause => "pause",
            Action::Step => "step",
            Action::Faster => "faster",
            Action::Slower => "slower",
            Action::Rerun => "rerun",
            Action::Sweep => "sweep",
            Action::Save => "save",
            Action::Sort => "sort",
            Action::Filter => "filter",
            Action::ZoomIn => "zoom_in",
            Action::ZoomOut => "zoom_out",
            Action::Theme => "theme",
        }
    }

    /// What it does, for the help.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "this help",
            Action::NextTab => "next screen",
            Action::PrevTab => "previous screen",
            Action::Up => "up",
            Action::Down => "down",
            Action::Left => "left · previous knob · pan",
            Action::Right => "right · next knob · pan",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Enter => "open · explain the event",
            Action::Cancel => "cancel the work · close",
            Action::Pause => "pause / resume",
            Action::Step => "one step (paused)",
            Action::Faster => "faster · knob up",
            Action::Slower => "slower · knob down",
            Action::Rerun => "run again",
            Action::Sweep => "sweep the what-if",
            Action::Save => "save the what-if",
            Action::Sort => "sort by the next column",
            Action::Filter => "filter by the next kind",
            Action::ZoomIn => "zoom in",
            Action::ZoomOut => "zoom out",
            Action::Theme => "dark / light theme",
        }
    }

    fn from_name(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// A key with its modifiers, as written in the key file: `q`, `ctrl-c`,
/// `enter`, `f1`, `shift-tab`, `space`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    code: KeyCode,
    ctrl: bool,
    alt: bool,
}

impl Key {
    /// A plain key.
    pub const fn plain(code: KeyCode) -> Key {
        Key { code, ctrl: false, alt: false }
    }

    /// With Ctrl held.
    pub const fn ctrl(c: char) -> Key {
        Key { code: KeyCode::Char(c), ctrl: true, alt: false }
    }

    /// The key of a terminal event (Shift folds into the character).
    pub fn of(e: &KeyEvent) -> Key {
        let code = match e.code {
            KeyCode::Char(c) => KeyCode::Char(if e.modifiers.contains(KeyModifiers::CONTROL) { c.to_ascii_lowercase() } else { c }),
            other => other,
        };
        Key { code, ctrl: e.modifiers.contains(KeyModifiers::CONTROL), alt: e.modifiers.contains(KeyModifiers::ALT) }
    }

    /// Reads `ctrl-c`, `enter`, `F5`, `?`.
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl-").or_else(|| lower.strip_prefix("ctrl+")) {
                ctrl = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("alt-").or_else(|| lower.strip_prefix("alt+")) {
                alt = true;
                rest = &rest[rest.len() - r.len()..];
            } else {
                break;
            }
        }
        let named = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => Some(KeyCode::Enter),
            "esc" | "escape" => Some(KeyCode::Esc),
            "tab" => Some(KeyCode::Tab),
            "shift-tab" | "backtab" => Some(KeyCode::BackTab),
            "space" => Some(KeyCode::Char(' ')),
            "up" => Some(KeyCode::Up),
            "down" => Some(KeyCode::Down),
            "left" => Some(KeyCode::Left),
            "right" => Some(KeyCode::Right),
            "pageup" | "pgup" => Some(KeyCode::PageUp),
            "pagedown" | "pgdn" => Some(KeyCode::PageDown),
            "home" => Some(KeyCode::Home),
            "end" => Some(KeyCode::End),
            "backspace" => Some(KeyCode::Backspace),
            f if f.len() >= 2 && f.starts_with('f') && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) => {
                Some(KeyCode::F(f[1..].parse().unwrap_or(1)))
            }
            _ => None,
        };
        let code = match named {
            Some(c) => c,
            None => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
                    _ => {
                        return Err(format!(
                            "`{s}` is not a key: write one character (`q`, `?`), a name (enter, esc, tab, shift-tab, space, up, down, left, right, pageup, pagedown, home, end, backspace, f1 to f12), optionally after `ctrl-` or `alt-`"
                        ));
                    }
                }
            }
        };
        Ok(Key { code, ctrl, alt })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        if self.alt {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Keys to actions.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyMap {
    bindings: HashMap<Key, Action>,
}

impl Default for KeyMap {
    fn default() -> Self {
        use KeyCode::*;
        let c = |ch| Key::plain(Char(ch));
        let p = Key::plain;
        let defaults: &[(Action, &[Key])] = &[
            (Action::Quit, &[c('q'), Key::ctrl('c')]),
            (Action::Help, &[c('?'), p(F(1))]),
            (Action::NextTab, &[p(Tab)]),
            (Action::PrevTab, &[p(BackTab)]),
            (Action::Up, &[p(Up), c('k')]),
            (Action::Down, &[p(Down), c('j')]),
            (Action::Left, &[p(Left), c('h')]),
            (Action::Right, &[p(Right), c('l')]),
            (Action::PageUp, &[p(PageUp)]),
            (Action::PageDown, &[p(PageDown)]),
            (Action::Enter, &[p(Enter)]),
            (Action::Cancel, &[p(Esc)]),
            (Action::Pause, &[c(' ')]),
            (Action::Step, &[c('.')]),
            (Action::Faster, &[c('+'), c('=')]),
            (Action::Slower, &[c('-')]),
            (Action::Rerun, &[c('r')]),
            (Action::Sweep, &[c('w')]),
            (Action::Save, &[c('s')]),
            (Action::Sort, &[c('o')]),
            (Action::Filter, &[c('f')]),
            (Action::ZoomIn, &[c('z')]),
            (Action::ZoomOut, &[c('x')]),
            (Action::Theme, &[c('t')]),
        ];
        let mut bindings = HashMap::new();
        for (a, keys) in defaults {
            for k in *keys {
                bindings.insert(*k, *a);
            }
        }
        KeyMap { bindings }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(default)]
    keys: BTreeMap<String, Vec<String>>,
}

impl KeyMap {
    /// The action of a key press, if it has one.
    pub fn action(&self, e: &KeyEvent) -> Option<Action> {
        self.bindings.get(&Key::of(e)).copied()
    }

    /// The keys bound to `action`, for the help and the status line.
    pub fn keys_for(&self, action: Action) -> Vec<Key> {
        let mut keys: Vec<Key> = self.bindings.iter().filter(|(_, a)| **a == action).map(|(k, _)| *k).collect();
        // A stable order (the map's is not): plain keys first, then by name.
        keys.sort_by_key(|k| (k.ctrl || k.alt, !matches!(k.code, KeyCode::Char(_)), k.to_string()));
        keys
    }

    /// The first key bound to `action`, as text ("?" when none is).
    pub fn key_name(&self, action: Action) -> String {
        self.keys_for(action).first().map_or_else(|| "unbound".to_string(), Key::to_string)
    }

    /// The defaults with the key file's `[keys]` table laid over them.
    /// `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<KeyMap, String> {
        let file: KeyFile = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        let mut map = KeyMap::default();
        for (name, keys) in &file.keys {
            let Some(action) = Action::from_name(name) else {
                let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
                return Err(format!("{origin}: [keys] {name}: no such action; the actions are {}", names.join(", ")));
            };
            let parsed =
                keys.iter().map(|k| Key::parse(k)).collect::<Result<Vec<_>, _>>().map_err(|e| format!("{origin}: [keys] {name}: {e}"))?;
            map.bindings.retain(|_, a| *a != action);
            for k in parsed {
                if let Some(other) = map.bindings.insert(k, action).filter(|o| *o != action)
                    && file.keys.contains_key(other.name())
                {
                    return Err(format!("{origin}: [keys] `{k}` is bound to both {} and {name}", other.name()));
                }
            }
        }
        Ok(map)
    }

    /// The user's key file (`twin/tui.toml` in the config folder), if there
    /// is one: its path and what it says.
    pub fn user_file() -> Option<std::path::PathBuf> {
        dirs::config_dir().map(|d| d.join("twin").join("tui.toml"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn defaults_and_a_remap() {
        let d = KeyMap::default();
        assert_eq!(d.action(&press(KeyCode::Char('q'), KeyModifiers::NONE)), Some(Action::Quit));
        assert_eq!(d.action(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(d.action(&press(KeyCode::Char('?'), KeyModifiers::SHIFT)), Some(Action::Help));
        let m = KeyMap::from_toml("[keys]\ndown = [\"n\", \"down\"]\nquit = [\"ctrl-x\"]\n", "tui.toml").unwrap();
        assert_eq!(m.action(&press(KeyCode::Char('n'), KeyModifiers::NONE)), Some(Action::Down));
        assert_eq!(m.action(&press(KeyCode::Char('j'), KeyModifiers::NONE)), None, "a remapped action loses its defaults");
        assert_eq!(m.action(&press(KeyCode::Char('q'), KeyModifiers::NONE)), None);
        assert_eq!(m.action(&press(KeyCode::Char('x'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(m.key_name(Action::Quit), "Ctrl-x");
    }

    #[test]
    fn bad_key_files_say_what_and_where() {
        let e = KeyMap::from_toml("[keys]\njump = [\"g\"]\n", "/home/u/.config/twin/tui.toml").unwrap_err();
        assert!(e.contains("tui.toml") && e.contains("jump") && e.contains("next_tab"), "{e}");
        let e = KeyMap::from_toml("[keys]\nquit = [\"ctrl-nope\"]\n", "k.toml").unwrap_err();
        assert!(e.contains("`ctrl-nope` is not a key"), "{e}");
        let e = KeyMap::from_toml("[keys]\nquit = [\"a\"]\nhelp = [\"a\"]\n", "k.toml").unwrap_err();
        assert!(e.contains("bound to both"), "{e}");
        let e = KeyMap::from_toml("[bindings]\n", "k.toml").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn every_key_name_reads_back() {
        for s in ["q", "?", "ctrl-c", "Enter", "esc", "F5", "shift-tab", "space", "alt-x", "pagedown"] {
            let k = Key::parse(s).unwrap();
            assert_eq!(Key::parse(&k.to_string().replace('↑', "up")).map(|_| ()), Ok(()), "{s} → {k}");
        }
    }
}
