//! The What-if screen: knobs, the re-run against the scenario as written,
//! and the sweep's distribution.

use crate::app::App;
use crate::whatif::{Knob, profiles};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Paragraph, Wrap};

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let Some(m) = &app.whatif.model else {
        frame.render_widget(
            Paragraph::new("Open a scenario in the Library first; its knobs show here.")
                .style(t.dim)
                .block(Block::bordered().border_style(t.border)),
            area,
        );
        return;
    };
    let [top, bottom] = Layout::vertical([Constraint::Length(m.settings.len() as u16 + 2), Constraint::Min(0)]).areas(area);
    let [knobs, rerun] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let names = profiles();
    let lines: Vec<Line<'_>> = m
        .settings
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let value = match (s.knob, s.base) {
                (_, None) => "—".to_string(),
                (Knob::Profile, _) => names.get(m.profile).copied().unwrap_or("").to_string(),
                (_, Some(_)) => super::human_value(s.value),
            };
            let changed = s.base.is_some_and(|b| b != s.value);
            let style = if i == m.selected {
                t.selected
            } else if changed {
                t.warn
            } else {
                t.text
            };
            Line::from(vec![
                Span::styled(format!(" {:<19}", s.knob.label()), style),
                Span::styled(format!("◀ {value:>10} ▶ "), style),
                Span::styled(s.note.clone(), t.dim),
            ])
        })
        .collect();
    let block = Block::bordered().title(Span::styled(format!(" Knobs: {} ", m.origin), t.title)).border_style(t.border);
    frame.render_widget(Paragraph::new(lines).block(block), knobs);
    let mut text = Vec::new();
    match &app.whatif.run {
        None => text.push(Line::styled("Enter re-runs the event engine with these knobs.", t.dim)),
        Some(r) => {
            for c in &r.changes {
                text.push(Line::styled(c.clone(), t.warn));
            }
            if r.changes.is_empty() {
                text.push(Line::styled("(no knob changed: the scenario as written)", t.dim));
            }
            let v = &r.variant;
            let cost = |s: &twin_sim::metrics::Summary| s.cost.total;
            let att = |s: &twin_sim::metrics::Summary| s.services.iter().map(|x| x.slo_attainment).fold(1.0, f64::min);
            match &r.base {
                Some(b) => {
                    let dc = cost(v) - cost(b);
                    text.push(Line::from(vec![
                        Span::styled(format!("cost {:.2} → {:.2} ", cost(b), cost(v)), t.text),
                        Span::styled(format!("({dc:+.2})"), if dc <= 0.0 { t.good } else { t.bad }),
                    ]));
                    let da = att(v) - att(b);
                    text.push(Line::from(vec![
                        Span::styled(format!("worst SLO {:.2}% → {:.2}% ", 100.0 * att(b), 100.0 * att(v)), t.text),
                        Span::styled(format!("({:+.2} pts)", 100.0 * da), if da >= 0.0 { t.good } else { t.bad }),
                    ]));
                }
                None => text.push(Line::styled(format!("cost {:.2} · worst SLO {:.2}%", cost(v), 100.0 * att(v)), t.text)),
            }
        }
    }
    if let Some(p) = &app.whatif.saved {
        text.push(Line::styled(format!("saved {}", p.display()), t.good));
    }
    let block = Block::bordered().title(Span::styled(" Re-run (event engine) ", t.title)).border_style(t.border);
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), rerun);
    match &app.whatif.sweep {
        None => frame.render_widget(
            Paragraph::new(format!(
                "{} sweeps {} replicas of {} on the coarse model: the distribution of cost and the chance of missing the SLO.",
                app.keys.key_name(crate::keys::Action::Sweep),
                crate::whatif::SWEEP_REPLICAS,
                m.service
            ))
            .style(t.dim)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(Span::styled(" Sweep ", t.title)).border_style(t.border)),
            bottom,
        ),
        Some(s) => {
            let [info, hist] = Layout::vertical([Constraint::Length(4), Constraint::Min(0)]).areas(bottom);
            let (p5, p50, p95) = s.cost_p5_p50_p95;
            let lines = vec![
                Line::styled(format!("cost {} P5 {p5:.0} · P50 {p50:.0} · P95 {p95:.0}", s.currency), t.text),
                Line::styled(
                    format!("chance of missing the SLO {:.1}% · mean attainment {:.2}%", 100.0 * s.p_miss_slo, 100.0 * s.attainment_mean),
                    if s.p_miss_slo > 0.05 { t.bad } else { t.good },
                ),
            ];
            let title = format!(" Sweep · {} replicas · {} · {:.1} s ", s.replicas, s.backend, s.seconds);
            frame.render_widget(
                Paragraph::new(lines).block(Block::bordered().title(Span::styled(title, t.title)).border_style(t.border)),
                info,
            );
            let bars: Vec<Bar<'_>> = s
                .histogram
                .iter()
                .map(|(lo, n)| Bar::default().value(*n).text_value(String::new()).label(Line::from(super::human_value(*lo))))
                .collect();
            let w = (hist.width.saturating_sub(2) / s.histogram.len().max(1) as u16).saturating_sub(1).max(1);
            let chart = BarChart::default()
                .data(BarGroup::default().bars(&bars))
                .bar_width(w)
                .bar_gap(1)
                .bar_style(t.series(0))
                .block(Block::bordered().title(Span::styled(" cost distribution ", t.title)).border_style(t.border));
            frame.render_widget(chart, hist);
        }
    }
}
