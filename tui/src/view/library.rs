//! The Library screen: scenarios to open, each with its question.

use crate::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let [list_area, detail] = Layout::vertical([Constraint::Min(3), Constraint::Length(5)]).areas(area);
    let name_w = app.entries.iter().map(|e| e.name.chars().count()).max().unwrap_or(8).min(32);
    let items: Vec<ListItem<'_>> = app
        .entries
        .iter()
        .map(|e| {
            ListItem::new(Line::from(vec![
                Span::styled(format!("{:<name_w$} ", e.name), t.text),
                Span::styled(format!("{:<9}", e.from), t.dim),
                Span::styled(e.question.clone(), t.dim),
            ]))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(app.entry));
    let list = List::new(items)
        .block(Block::bordered().title(Span::styled(" Scenarios, run folders and traces ", t.title)).border_style(t.border))
        .highlight_style(t.selected);
    frame.render_stateful_widget(list, list_area, &mut state);
    let text = match app.entries.get(app.entry) {
        Some(e) => vec![Line::styled(e.name.clone(), t.title), Line::styled(e.question.clone(), t.text)],
        None => vec![Line::styled("Nothing to open.", t.dim)],
    };
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(Block::bordered().border_style(t.border)), detail);
}
