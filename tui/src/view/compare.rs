//! The Compare screen: two variants, their deltas and where they diverged.

use crate::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Wrap};

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let c = &app.compare;
    if app.scenario.is_none() {
        frame.render_widget(
            Paragraph::new(
                "Open a scenario in the Library first; then pick two variants here and press Enter to run both on the same seed.",
            )
            .style(t.dim)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().border_style(t.border)),
            area,
        );
        return;
    }
    let [pick, table, div] = Layout::vertical([Constraint::Length(4), Constraint::Min(3), Constraint::Length(5)]).areas(area);
    let label = |i: usize| c.choices.get(i).map_or_else(|| "-".to_string(), |v| v.label());
    let side = |s: usize, name: &str, i: usize| {
        let style = if c.side == s { t.selected } else { t.text };
        Line::from(vec![Span::styled(format!(" {name}: "), t.title), Span::styled(format!("◀ {} ▶", label(i)), style)])
    };
    let seed = app.scenario.as_ref().map_or(0, |s| s.scenario.spec.seed);
    let lines = vec![side(0, "A", c.a), side(1, "B", c.b)];
    let block = Block::bordered().title(Span::styled(format!(" Variants (seed {seed} unless chosen) "), t.title)).border_style(t.border);
    frame.render_widget(Paragraph::new(lines).block(block), pick);
    let Some(r) = &c.result else {
        frame.render_widget(
            Paragraph::new("Enter runs both variants to the end and compares them.")
                .style(t.dim)
                .block(Block::bordered().border_style(t.border)),
            table,
        );
        return;
    };
    let header = Row::new(vec![
        Cell::from("measure"),
        Cell::from(format!("A: {}", r.a_label)),
        Cell::from(format!("B: {}", r.b_label)),
        Cell::from("B − A"),
    ])
    .style(t.title);
    let rows: Vec<Row<'_>> = r
        .rows
        .iter()
        .map(|row| {
            let d = row.decimals;
            let delta_style = match row.b_better() {
                Some(true) => t.good,
                Some(false) => t.bad,
                None => t.dim,
            };
            Row::new(vec![
                Cell::from(row.measure.clone()),
                Cell::from(format!("{:.d$}", row.a)),
                Cell::from(format!("{:.d$}", row.b)),
                Cell::from(Span::styled(format!("{:+.d$}", row.delta()), delta_style)),
            ])
        })
        .collect();
    let widths = [Constraint::Percentage(34), Constraint::Percentage(22), Constraint::Percentage(22), Constraint::Percentage(22)];
    frame.render_widget(Table::new(rows, widths).header(header).block(Block::bordered().border_style(t.border)), table);
    let text = match &r.divergence {
        None => vec![Line::styled(format!("The two runs made the same {} decisions.", r.decisions.0), t.good)],
        Some(d) => vec![
            Line::styled(format!("First divergence at decision {} (of {} and {}):", d.index + 1, r.decisions.0, r.decisions.1), t.warn),
            Line::from(vec![
                Span::styled("A ", t.title),
                Span::styled(d.a.clone().unwrap_or_else(|| "(no more decisions)".into()), t.text),
            ]),
            Line::from(vec![
                Span::styled("B ", t.title),
                Span::styled(d.b.clone().unwrap_or_else(|| "(no more decisions)".into()), t.text),
            ]),
        ],
    };
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(Span::styled(" Decisions ", t.title)).border_style(t.border)),
        div,
    );
}
