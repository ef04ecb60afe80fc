//! Shadow: what `twin shadow --out DIR` found, read from its folder while
//! the session may still be running.
//!
//! A heading with the divergences counted by kind and the counterfactual
//! saving (from `shadow-summary.json` once written, else from the log), a
//! table of divergences (time, kind, subject, Twin's choice against the
//! actual one, $/h saved), and the selected divergence in full below it: a
//! placement's two nodes side by side with every plugin's score. ↑/↓ and
//! PgUp/PgDn select, the filter key (`f`) cycles through the kinds seen.
//!
//! The folder is read through [`twin_export::shadow`], as `twin explain`
//! reads it, so both say the same. Each [`Message::Tick`](crate::Message)
//! calls [`ShadowScreen::refresh`]: the lines appended to
//! `divergences.jsonl` since the last read are added (an unfinished line
//! waits for its newline), the selection stays on the divergence it was
//! on, and the summary is read again when it appears or changes. A line
//! that cannot be read is skipped and counted, its error shown in the
//! heading. At most [`MAX_ROWS`] divergences are kept, the oldest dropped.

use crate::keys::Action;
use crate::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};
use std::cell::Cell as StdCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use twin_export::shadow::{self, Divergence, LOG_FILE, LogTail, SUMMARY_FILE, Summary};

/// The most divergences the screen keeps; older ones are dropped (the
/// counts still count them).
pub const MAX_ROWS: usize = 50_000;

/// The Shadow screen's state. It is `Send`: it is built on a worker thread.
#[derive(Debug)]
pub struct ShadowScreen {
    dir: PathBuf,
    name: String,
    summary: Option<Summary>,
    /// The summary file's modification time when last read.
    summary_stamp: Option<SystemTime>,
    tail: LogTail,
    rows: Vec<Divergence>,
    /// Rows dropped from the front to keep at most [`MAX_ROWS`].
    dropped: usize,
    /// Every divergence read, by kind (dropped ones too).
    seen: BTreeMap<String, u64>,
    /// The sum of the placements' savings read.
    saving: f64,
    /// The kind shown, or every kind.
    filter: Option<String>,
    /// The selected row among those shown.
    selected: usize,
    /// Lines that could not be read: how many, and the last error.
    skipped: (usize, String),
    /// First row shown, kept between frames so the table scrolls smoothly.
    offset: StdCell<usize>,
    /// Rows the last frame showed: a page.
    page: StdCell<usize>,
}

impl ShadowScreen {
    /// Reads a folder written by `twin shadow --out DIR`: the summary if
    /// it is written yet, and every complete line of the log.
    pub fn open(dir: &Path) -> Result<ShadowScreen, String> {
        let shown = dir.display();
        if !dir.is_dir() {
            return Err(format!("{shown}: no such folder"));
        }
        if !shadow::is_shadow_folder(dir) {
            return Err(format!("{shown}: no {SUMMARY_FILE} and no {LOG_FILE}: is this a folder written by `twin shadow --out`?"));
        }
        let name = dir.file_name().map_or_else(|| shown.to_string(), |n| n.to_string_lossy().into_owned());
        let mut s = ShadowScreen {
            dir: dir.to_path_buf(),
            name,
            summary: None,
            summary_stamp: None,
            tail: LogTail::new(),
            rows: Vec::new(),
            dropped: 0,
            seen: BTreeMap::new(),
            saving: 0.0,
            filter: None,
            selected: 0,
            skipped: (0, String::new()),
            offset: 0.into(),
            page: 10.into(),
        };
        s.read_summary()?;
        s.refresh_log()?;
        Ok(s)
    }

    /// Reads the summary again if it appeared or changed since the last
    /// read; true when it did.
    fn read_summary(&mut self) -> Result<bool, String> {
        let path = self.dir.join(SUMMARY_FILE);
        let Ok(meta) = std::fs::metadata(&path) else { return Ok(false) };
        let stamp = meta.modified().ok();
        if self.summary.is_some() && stamp == self.summary_stamp {
            return Ok(false);
        }
        self.summary = Some(Summary::read(&path).map_err(|e| e.to_string())?);
        self.summary_stamp = stamp;
        Ok(true)
    }

    /// Adds the log's new lines; true when something changed.
    fn refresh_log(&mut self) -> Result<bool, String> {
        let tail = self.tail.read(&self.dir.join(LOG_FILE)).map_err(|e| e.to_string())?;
        if tail.restarted {
            // A new session in the same folder: start again.
            (self.rows, self.dropped, self.seen, self.saving) = (Vec::new(), 0, BTreeMap::new(), 0.0);
            (self.selected, self.skipped) = (0, (0, String::new()));
            self.offset.set(0);
        }
        let changed = tail.restarted || !tail.lines.is_empty();
        for line in tail.lines {
            match line {
                Ok(d) => {
                    *self.seen.entry(d.kind.clone()).or_default() += 1;
                    if d.kind == "placement" {
                        self.saving += d.saving_per_hour().unwrap_or(0.0);
                    }
                    self.rows.push(d);
                }
                Err(e) => self.skipped = (self.skipped.0 + 1, e.short()),
            }
        }
        if self.rows.len() > MAX_ROWS {
            let excess = self.rows.len() - MAX_ROWS;
            let shown = self.rows[..excess].iter().filter(|d| self.passes(d)).count();
            self.rows.drain(..excess);
            self.dropped += excess;
            self.selected = self.selected.saturating_sub(shown);
        }
        Ok(changed)
    }

    /// Reads what the session wrote since the last call: new log lines,
    /// and the summary if it appeared or changed. True when something
    /// changed. A file that cannot be read now is tried again next time.
    pub fn refresh(&mut self) -> bool {
        let log = self.refresh_log().unwrap_or_else(|e| {
            self.skipped.1 = e;
            false
        });
        let summary = self.read_summary().unwrap_or(false);
        log || summary
    }

    fn passes(&self, d: &Divergence) -> bool {
        self.filter.as_ref().is_none_or(|k| *k == d.kind)
    }

    /// The divergences the filter shows, in the order found.
    pub fn shown(&self) -> Vec<&Divergence> {
        self.rows.iter().filter(|d| self.passes(d)).collect()
    }

    /// The selected divergence, if any is shown.
    pub fn selected(&self) -> Option<&Divergence> {
        self.shown().get(self.selected).copied().or_else(|| self.shown().last().copied())
    }

    /// The kind the filter shows (none: every kind).
    pub fn filter(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    /// The kinds to filter by: those read and those the summary counts.
    pub fn kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self.seen.keys().cloned().collect();
        if let Some(s) = &self.summary {
            k.extend(s.divergences.iter().filter(|(_, n)| *n > 0).map(|(kind, _)| kind.clone()));
        }
        k.sort();
        k.dedup();
        k
    }

    /// Acts on a key's action; true when it changed something. ↑/↓ and
    /// PgUp/PgDn move the selection; Filter shows the next kind (after the
    /// last, every kind), keeping the selection on its divergence when the
    /// new filter shows it.
    pub fn on_action(&mut self, action: Action) -> bool {
        let n = self.shown().len();
        let page = self.page.get().max(1);
        let to = match action {
            Action::Up => self.selected.saturating_sub(1),
            Action::Down => self.selected + 1,
            Action::PageUp => self.selected.saturating_sub(page),
            Action::PageDown => self.selected + page,
            Action::Filter => {
                let kinds = self.kinds();
                let line = self.selected().map(|d| d.line);
                self.filter = match self.filter.as_ref().and_then(|f| kinds.iter().position(|k| k == f)) {
                    None => kinds.first().cloned(),
                    Some(i) => kinds.get(i + 1).cloned(),
                };
                let shown = self.shown();
                self.selected = shown.iter().position(|d| Some(d.line) == line).unwrap_or(0);
                self.offset.set(0);
                return true;
            }
            _ => return false,
        }
        .min(n.saturating_sub(1));
        std::mem::replace(&mut self.selected, to) != to
    }

    /// The keys hint for the status bar (default keys).
    pub fn hint(&self) -> &'static str {
        "↑↓ PgUp PgDn divergence · f kind filter · log re-read each second"
    }

    /// The heading's spans: counts by kind and the saving.
    fn heading(&self, theme: &Theme) -> Vec<Span<'static>> {
        let mut spans = vec![Span::styled(self.name.clone(), theme.title)];
        let counts: Vec<(String, u64)> = match &self.summary {
            Some(s) => s.divergences.clone(),
            None => self.seen.iter().map(|(k, n)| (k.clone(), *n)).collect(),
        };
        if let Some(p) = self.summary.as_ref().and_then(|s| s.profile.as_ref()) {
            spans.push(Span::styled(format!(" · profile {p}"), theme.text));
        }
        spans.push(Span::styled(format!(" · divergences {}", shadow::counted(&counts)), theme.text));
        let saving = self.summary.as_ref().and_then(|s| s.counterfactual_saving_per_hour).unwrap_or(self.saving);
        let tone = if saving > 0.0 {
            theme.good
        } else if saving < 0.0 {
            theme.bad
        } else {
            theme.text
        };
        spans.push(Span::styled(format!(" · saving {} $/h", shadow::money(saving)), tone));
        let consolidation = self.summary.as_ref().and_then(|s| s.consolidation.as_ref()).and_then(|c| c.get("saving_per_hour")?.as_f64());
        if let Some(c) = consolidation.filter(|c| *c != 0.0) {
            spans.push(Span::styled(format!(" · consolidation {} $/h", shadow::money(c)), theme.good));
        }
        spans
    }

    /// The second heading line: the ledger and health once summarised,
    /// else that the session may still be running; lines skipped.
    fn status(&self, theme: &Theme) -> Vec<Span<'static>> {
        let mut spans = Vec::new();
        if self.skipped.0 > 0 {
            spans.push(Span::styled(format!("{} line(s) skipped: {} · ", self.skipped.0, self.skipped.1), theme.bad));
        } else if !self.skipped.1.is_empty() {
            spans.push(Span::styled(format!("{} · ", self.skipped.1), theme.bad));
        }
        match &self.summary {
            Some(s) => {
                let ledger = s.ledger();
                if !ledger.is_empty() {
                    spans.push(Span::styled(format!("cost {ledger} · "), theme.text));
                }
                let down: Vec<String> = s.health.iter().filter(|(_, h)| h != "up").map(|(k, h)| format!("{k} {h}")).collect();
                let gaps: u64 = s.gaps.iter().map(|g| g.1).sum();
                let samples: u64 = s.samples_in.iter().map(|g| g.1).sum();
                spans.push(Span::styled(format!("{samples} readings, {gaps} gaps"), theme.dim));
                if down.is_empty() {
                    spans.push(Span::styled(" · sources up", theme.dim));
                } else {
                    spans.push(Span::styled(format!(" · {}", down.join(", ")), theme.warn));
                }
            }
            None => spans.push(Span::styled(format!("no {SUMMARY_FILE} yet: shadow may be running; the log is followed"), theme.warn)),
        }
        spans
    }

    /// Draws the screen into `area`; any size, down to nothing.
    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let area = area.intersection(frame.area());
        if area.is_empty() {
            return;
        }
        let heading = if area.height >= 8 { 2 } else { u16::from(area.height >= 4) };
        let [head, body] = Layout::vertical([Constraint::Length(heading), Constraint::Min(0)]).areas(area);
        let lines = [Line::from(self.heading(theme)), Line::from(self.status(theme))];
        frame.render_widget(Paragraph::new(lines[..usize::from(heading)].to_vec()), head);
        // The table as tall as its rows (borders and header: 3 more), up to
        // 40 % of the body; the selected divergence in full below.
        let shown = self.shown();
        let most = (body.height * 2 / 5).max(5);
        let table_h = (shown.len().min(usize::from(u16::MAX)) as u16).saturating_add(3).clamp(5, most).min(body.height);
        let [list, detail] = Layout::vertical([Constraint::Length(table_h), Constraint::Min(0)]).areas(body);
        self.render_table(frame, list, theme, &shown);
        if detail.height > 0 {
            self.render_detail(frame, detail, theme, shown.get(self.selected.min(shown.len().saturating_sub(1))).copied());
        }
    }

    fn render_table(&self, frame: &mut Frame, area: Rect, theme: &Theme, shown: &[&Divergence]) {
        let filter = self.filter.as_deref().unwrap_or("every kind");
        let dropped = if self.dropped > 0 { format!(" · oldest {} dropped", self.dropped) } else { String::new() };
        let title = format!(" {} divergences · {filter} (f){dropped} ", shown.len());
        let inner = if area.height >= 3 && area.width >= 20 {
            let block = Block::bordered().border_style(theme.border).title(Line::styled(title, theme.title));
            frame.render_widget(&block, area);
            block.inner(area)
        } else {
            area
        };
        if shown.is_empty() {
            let text = if self.rows.is_empty() {
                "no divergences yet: Twin would have decided as the cluster did"
            } else {
                "none of this kind: f shows the next"
            };
            return frame.render_widget(Paragraph::new(Line::styled(text, theme.dim)), inner);
        }
        let rows_h = usize::from(inner.height.saturating_sub(1)).max(1);
        let selected = self.selected.min(shown.len() - 1);
        let offset = self.offset.get().min(selected).min(shown.len().saturating_sub(rows_h)).max((selected + 1).saturating_sub(rows_h));
        self.offset.set(offset);
        self.page.set(rows_h);
        let kind_w = shown.iter().map(|d| d.kind.chars().count()).max().unwrap_or(4).max(4) as u16;
        let pairs: Vec<(String, String)> = shown.iter().skip(offset).take(rows_h).map(|d| d.twin_and_actual()).collect();
        let width = |f: fn(&(String, String)) -> &String, min: usize| {
            pairs.iter().map(|p| f(p).chars().count()).max().unwrap_or(0).clamp(min, 24) as u16
        };
        let (twin_w, actual_w) = (width(|p| &p.0, 4), width(|p| &p.1, 6));
        let header = Row::new(["time", "kind", "subject", "Twin", "actual", "$/h saved"].into_iter().enumerate().map(|(i, h)| {
            let l = Line::styled(h, theme.title);
            Cell::new(if i == 5 { l.alignment(Alignment::Right) } else { l })
        }));
        let rows = shown.iter().skip(offset).take(rows_h).zip(pairs).map(|(d, (twin, actual))| {
            let time = shadow::at(d.observed_ns);
            let saving = d.saving_per_hour();
            let tone = match saving {
                Some(s) if s > 0.0 => theme.good,
                Some(s) if s < 0.0 => theme.bad,
                _ => theme.text,
            };
            Row::new([
                Cell::new(Line::styled(time.get(5..19).unwrap_or(&time).to_string(), theme.dim)),
                Cell::new(Line::styled(d.kind.clone(), theme.warn)),
                Cell::new(d.subject()),
                Cell::new(Line::styled(twin, theme.good)),
                Cell::new(actual),
                Cell::new(Line::styled(saving.map_or_else(|| "-".into(), shadow::money), tone).alignment(Alignment::Right)),
            ])
        });
        let widths = [
            Constraint::Length(14),
            Constraint::Length(kind_w),
            Constraint::Fill(1),
            Constraint::Length(twin_w),
            Constraint::Length(actual_w),
            Constraint::Length(9),
        ];
        let table = Table::new(rows, widths).header(header).row_highlight_style(theme.selected);
        frame.render_stateful_widget(table, inner, &mut TableState::default().with_selected(Some(selected - offset)));
    }

    fn render_detail(&self, frame: &mut Frame, area: Rect, theme: &Theme, d: Option<&Divergence>) {
        let title = d.map_or_else(|| " detail ".to_string(), |d| format!(" {LOG_FILE} line {} ", d.line));
        let block = Block::bordered().border_style(theme.border).title(Line::styled(title, theme.title));
        let lines: Vec<Line<'_>> = match d {
            Some(d) => d
                .detail()
                .into_iter()
                .enumerate()
                .map(|(i, l)| match i {
                    0 => Line::styled(l, theme.title),
                    1 => Line::styled(l, theme.dim),
                    _ => Line::styled(l, theme.text),
                })
                .collect(),
            None => vec![Line::styled("the selected divergence shows here in full", theme.dim)],
        };
        frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::{Terminal, backend::TestBackend};

    fn draw(s: &ShadowScreen, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| s.render(f, f.area(), &Theme::choose(false, false))).unwrap();
        let buf = term.backend().buffer();
        (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n").collect()
    }

    fn idle(ns: i64, gpu: u32) -> String {
        format!(r#"{{"kind":"idle","observed_ns":{ns},"host":"gpu-a","gpu":{gpu},"since_ns":{},"at_ns":{ns}}}"#, ns - 600_000_000_000)
    }

    #[test]
    fn a_growing_log_is_followed_keeping_the_selection_and_a_truncated_one_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(LOG_FILE);
        std::fs::write(&log, format!("{}\n{}\n", idle(1_796_637_660_000_000_000, 0), idle(1_796_637_661_000_000_000, 1))).unwrap();
        let mut s = ShadowScreen::open(dir.path()).unwrap();
        assert!(s.on_action(Action::Down));
        assert_eq!(s.selected().unwrap().line, 2);
        assert!(!s.refresh(), "nothing new");
        let mut more = format!("{}\nnot json\n", idle(1_796_637_662_000_000_000, 2));
        more.push_str(&idle(1_796_637_663_000_000_000, 3)[..20]);
        std::fs::OpenOptions::new().append(true).open(&log).and_then(|mut f| std::io::Write::write_all(&mut f, more.as_bytes())).unwrap();
        assert!(s.refresh());
        assert_eq!((s.shown().len(), s.selected().unwrap().line, s.skipped.0), (3, 2, 1));
        let screen = draw(&s, 160, 30);
        assert!(screen.contains("1 line(s) skipped: divergences.jsonl:4: not JSON"), "{screen}");
        assert!(screen.contains("no shadow-summary.json yet"), "{screen}");
        std::fs::write(&log, format!("{}\n", idle(1_796_637_700_000_000_000, 7))).unwrap();
        assert!(s.refresh());
        assert_eq!((s.shown().len(), s.selected().unwrap().subject(), s.skipped.0), (1, "gpu-a GPU 7".to_string(), 0));
        std::fs::write(dir.path().join(SUMMARY_FILE), r#"{"profile":"fgd","divergences":{"idle":1},"counterfactual_saving_per_hour":0}"#)
            .unwrap();
        assert!(s.refresh());
        assert!(draw(&s, 100, 30).contains("profile fgd"));
    }

    #[test]
    fn folders_that_are_not_shadow_folders_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let e = ShadowScreen::open(dir.path()).unwrap_err();
        assert!(e.contains("twin shadow --out"), "{e}");
        assert!(ShadowScreen::open(&dir.path().join("nope")).unwrap_err().contains("no such folder"));
        std::fs::write(dir.path().join(SUMMARY_FILE), "{").unwrap();
        assert!(ShadowScreen::open(dir.path()).unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn any_size_draws_without_panicking() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOG_FILE), format!("{}\n", idle(1_796_637_660_000_000_000, 0))).unwrap();
        let mut s = ShadowScreen::open(dir.path()).unwrap();
        for a in Action::ALL {
            s.on_action(a);
            for (w, h) in [(0, 0), (1, 1), (10, 3), (60, 16), (80, 24), (300, 100)] {
                draw(&s, w, h);
            }
        }
        fn send<T: Send>() {}
        send::<ShadowScreen>();
    }
}
