//! `view`: the app's state drawn into a frame. Nothing here changes state.

mod chart;
mod compare;
mod library;
mod run;
mod whatif;

pub use chart::{Extras, Plot, human_time, human_value};

use crate::app::{App, Tab};
use crate::keys::Action;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Tabs, Wrap};

/// The smallest terminal the screens are drawn in.
pub const MIN_SIZE: (u16, u16) = (60, 16);

/// Where the tab titles start, and the divider between them.
const TAB_PAD: u16 = 1;
const DIVIDER: &str = "│";

/// The tab under column `x` of the first row.
pub fn tab_at(x: u16) -> Option<Tab> {
    let mut at = 0u16;
    for t in Tab::ALL {
        let w = t.title().chars().count() as u16 + 2 * TAB_PAD;
        if x >= at && x < at + w {
            return Some(t);
        }
        at += w + DIVIDER.chars().count() as u16;
    }
    None
}

/// Draws the app.
pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let theme = &app.theme;
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = format!("Terminal too small: {}×{}; Twin needs at least {}×{}.", area.width, area.height, MIN_SIZE.0, MIN_SIZE.1);
        let p = Paragraph::new(vec![
            Line::styled(msg, theme.warn),
            Line::styled(format!("{} quits", app.keys.key_name(Action::Quit)), theme.dim),
        ])
        .wrap(Wrap { trim: true });
        frame.render_widget(p, area);
        return;
    }
    let [top, body, bottom] = Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let titles: Vec<Line<'_>> = Tab::ALL.iter().map(|t| Line::from(t.title())).collect();
    let tabs =
        Tabs::new(titles).select(app.tab.index()).style(theme.dim).highlight_style(theme.selected).divider(DIVIDER).padding(" ", " ");
    frame.render_widget(tabs, top);
    match app.tab {
        Tab::Library => library::draw(app, frame, body),
        Tab::Run => run::draw(app, frame, body),
        Tab::Results => match &app.results {
            Some(r) => r.render(frame, body, theme),
            None if app.live.as_ref().is_some_and(|l| l.phase == crate::live::Phase::Finished) => empty(
                app,
                frame,
                body,
                "Enter shows the finished run's charts and tables (it runs again with its records kept: same scenario, same seed, the same run). A folder written by `twin run --out` opens from the Library.",
            ),
            None => empty(
                app,
                frame,
                body,
                "No run folder open: pick one in the Library, start `twin tui RUN_DIR` (a folder written by `twin run --out`), or run a scenario to the end and come back.",
            ),
        },
        Tab::Compare => compare::draw(app, frame, body),
        Tab::WhatIf => whatif::draw(app, frame, body),
        Tab::Shadow => match &app.shadow {
            Some(s) => s.render(frame, body, theme),
            None => empty(
                app,
                frame,
                body,
                "No shadow folder open: start `twin tui DIR` on a folder written by `twin shadow --out DIR` (it may still be running: the log is followed).",
            ),
        },
        Tab::Telemetry => match &app.telemetry {
            Some(t) => t.render(frame, body, theme),
            None => {
                empty(app, frame, body, "No trace open: start `twin tui TRACE` with an nvidia-smi, dmon, DCGM or Parquet telemetry file.")
            }
        },
    }
    status(app, frame, bottom);
    if app.help {
        help(app, frame, area);
    }
    if let Some(lines) = &app.error {
        error(app, lines, frame, area);
    }
}

fn empty(app: &App, frame: &mut Frame, area: Rect, text: &str) {
    let p = Paragraph::new(text.to_string())
        .style(app.theme.dim)
        .wrap(Wrap { trim: true })
        .block(Block::bordered().border_style(app.theme.border));
    frame.render_widget(p, area);
}

fn status(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut spans = vec![Span::styled(format!(" {} help ", app.keys.key_name(Action::Help)), t.title)];
    if let Some(b) = &app.busy {
        let pct = b.done.map(|d| format!(" {:.0}%", 100.0 * d)).unwrap_or_default();
        spans.push(Span::styled(format!("⏳ {}{pct} ({} cancels) ", b.label, app.keys.key_name(Action::Cancel)), t.warn));
    }
    if !app.status.is_empty() {
        spans.push(Span::styled(app.status.clone(), t.text));
    } else {
        let hint = match app.tab {
            Tab::Library => "↑↓ choose · Enter open".to_string(),
            Tab::Run => format!(
                "{} pause · {} step · {}/{} speed · ↑↓ events · Enter story · {} rerun",
                app.keys.key_name(Action::Pause),
                app.keys.key_name(Action::Step),
                app.keys.key_name(Action::Faster),
                app.keys.key_name(Action::Slower),
                app.keys.key_name(Action::Rerun)
            ),
            Tab::Results => app.results.as_ref().map_or("", |r| r.hint()).to_string(),
            Tab::Compare => "↑↓ side · ←→ variant · Enter run both".to_string(),
            Tab::WhatIf => format!(
                "↑↓ knob · ←→ value · Enter re-run · {} sweep · {} save",
                app.keys.key_name(Action::Sweep),
                app.keys.key_name(Action::Save)
            ),
            Tab::Shadow => app.shadow.as_ref().map_or("", |s| s.hint()).to_string(),
            Tab::Telemetry => app.telemetry.as_ref().map_or("", |r| r.hint()).to_string(),
        };
        spans.push(Span::styled(hint, t.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A box of `w`×`h` in the middle of `area` (clamped to it).
pub fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let (w, h) = (w.min(area.width), h.min(area.height));
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

fn help(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let entry = |a: Action| {
        let keys: Vec<String> = app.keys.keys_for(a).iter().map(ToString::to_string).collect();
        Line::from(vec![Span::styled(format!("{:<11}", keys.join(" ")), t.title), Span::styled(a.describe(), t.text)])
    };
    let lines: Vec<Line<'_>> = Action::ALL.into_iter().map(entry).collect();
    let foot = Line::styled("Remap keys in ~/.config/twin/tui.toml", t.dim);
    // One column when it fits the height, else two side by side.
    let cols: usize = if lines.len() as u16 + 3 <= area.height { 1 } else { 2 };
    let per = lines.len().div_ceil(cols);
    let w: u16 = if cols == 1 { 56 } else { 112 };
    let r = centred(area, w, (per as u16 + 3).min(area.height));
    frame.render_widget(Clear, r);
    let block = Block::bordered().title(Span::styled(" Keys (any key closes) ", t.title)).border_style(t.border);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [body, footer] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    let columns = Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols]).split(body);
    for (c, chunk) in lines.chunks(per).enumerate() {
        if let Some(a) = columns.get(c) {
            frame.render_widget(Paragraph::new(chunk.to_vec()), *a);
        }
    }
    frame.render_widget(Paragraph::new(foot), footer);
}

fn error(app: &App, lines: &[String], frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let w = (area.width.saturating_sub(4)).min(100);
    let wrapped: u16 = lines.iter().map(|l| (l.chars().count() as u16 / w.saturating_sub(4).max(1)) + 1).sum();
    let r = centred(area, w, (wrapped + 3).min(area.height));
    frame.render_widget(Clear, r);
    let mut text: Vec<Line<'_>> = lines.iter().map(|l| Line::styled(l.clone(), t.text)).collect();
    text.push(Line::styled("(any key closes)", t.dim));
    let block = Block::bordered().title(Span::styled(" Problem ", t.bad)).border_style(t.bad);
    frame.render_widget(Paragraph::new(text).block(block).wrap(Wrap { trim: false }), r);
}
