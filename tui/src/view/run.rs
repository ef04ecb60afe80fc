//! The Run screen: a live run's clock, charts and event log.

use super::chart::{self, Extras, Plot};
use crate::app::App;
use crate::live::{Live, Phase};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Gauge, List, ListItem, ListState, Paragraph, Wrap};
use twin_sim::time::SimTime;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let Some(live) = &app.live else {
        let text = if app.jobs.live.is_some() {
            "Building the fleet…".to_string()
        } else {
            "No run yet: open a scenario in the Library (Enter).".to_string()
        };
        frame.render_widget(Paragraph::new(text).style(t.dim).block(Block::bordered().border_style(t.border)), area);
        return;
    };
    let [head, gauge, body] = Layout::vertical([Constraint::Length(1), Constraint::Length(1), Constraint::Min(0)]).areas(area);
    header(app, live, frame, head);
    let label = format!("{} / {}", SimTime((live.now_s * 1e9) as u64), SimTime((live.info.horizon_s * 1e9) as u64));
    frame.render_widget(Gauge::default().ratio(live.progress()).label(label).gauge_style(t.series(0)), gauge);
    let wide = body.width >= 140 && body.height >= 36;
    let log_h = if wide { body.height / 3 } else { (body.height / 3).max(5) };
    let [charts, bottom] = Layout::vertical([Constraint::Min(6), Constraint::Length(log_h)]).areas(body);
    let cols = if wide { 3 } else { 2 };
    let rows = Layout::vertical([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).split(charts);
    let mut cells = Vec::new();
    for r in rows.iter() {
        cells.extend(Layout::horizontal(vec![Constraint::Ratio(1, cols); cols as usize]).split(*r).iter().copied());
    }
    let x = live.info.horizon_s;
    let per_service = |series| per_service(live, series, t);
    let per_pool = |keep: &dyn Fn(usize) -> bool| -> Vec<Plot<'_>> {
        live.price
            .iter()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(i, s)| Plot { name: live.info.pools[i].0.clone(), style: t.series(i), series: s })
            .collect()
    };
    // Cost by capacity type.
    let cost: Vec<Plot<'_>> =
        live.cost.iter().enumerate().map(|(i, (k, s))| Plot { name: k.clone(), style: t.series(i), series: s }).collect();
    let total = live.summary.as_ref().map_or_else(|| live.cost_total(), |s| s.cost.total);
    chart::draw(frame, cells[0], &format!(" Cost {total:.0} "), &cost, x, &Extras::default(), t);
    // Allocation per pool.
    let alloc: Vec<Plot<'_>> = live
        .allocated
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let busy = live.busy[i].last().map(|b| format!(" busy {:.0}%", 100.0 * b)).unwrap_or_default();
            Plot { name: format!("{}{busy}", live.info.pools[i].0), style: t.series(i), series: s }
        })
        .collect();
    chart::draw(frame, cells[1], " GPUs allocated ", &alloc, x, &Extras::default(), t);
    // P99 TTFT against the SLO line.
    let p99 = per_service(&live.p99);
    let mut slo = Extras::default();
    if let Some(min) = live.info.services.iter().map(|s| s.1).fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v)))) {
        slo.levels.push((min, format!("SLO {}", chart::human_value(min)), t.bad));
    }
    let ttft_cell = if wide { 3 } else { 2 };
    chart::draw(frame, cells[ttft_cell], " P99 TTFT s ", &p99, x, &slo, t);
    // Spot price with notices and reclaims.
    let price = per_pool(&|i| live.info.pools[i].1 == "spot");
    let marks = Extras {
        levels: vec![],
        y_max: None,
        marks: live.marks.iter().map(|(s, _, reclaim)| (*s, if *reclaim { t.bad } else { t.warn })).collect(),
    };
    let price_cell = if wide { 2 } else { 3 };
    let title = format!(" Spot price · {} notices/reclaims ", live.marks.len());
    if price.is_empty() {
        chart::draw(frame, cells[price_cell], " Price per node-hour ", &per_pool(&|_| true), x, &marks, t);
    } else {
        chart::draw(frame, cells[price_cell], &title, &price, x, &marks, t);
    }
    if wide {
        chart::draw(frame, cells[4], " Queue depth ", &per_service(&live.queue), x, &Extras::default(), t);
        chart::draw(frame, cells[5], " Replicas ready ", &per_service(&live.replicas), x, &Extras::default(), t);
    }
    let [svc, log] =
        Layout::horizontal([Constraint::Length(if wide { 56 } else { 38 }.min(bottom.width / 2)), Constraint::Min(0)]).areas(bottom);
    services(app, live, frame, svc);
    events(app, live, frame, log);
    if let Some((lines, scroll)) = &app.run_view.story {
        let r = super::centred(area, area.width.saturating_sub(6).max(10), area.height.saturating_sub(4).max(4));
        frame.render_widget(Clear, r);
        let text: Vec<Line<'_>> = lines.iter().skip(*scroll).map(|l| Line::styled(l.clone(), t.text)).collect();
        let block = Block::bordered().title(Span::styled(" Story (Esc closes, ↑↓ scroll) ", t.title)).border_style(t.border);
        frame.render_widget(Paragraph::new(text).block(block).wrap(Wrap { trim: false }), r);
    }
}

fn header(app: &App, live: &Live, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let (state, style) = match &live.phase {
        Phase::Running => (format!("running {}", app.speed.label()), t.good),
        Phase::Paused => (format!("paused ({})", app.speed.label()), t.warn),
        Phase::Finished => ("finished".to_string(), t.good),
        Phase::Failed(_) => ("failed".to_string(), t.bad),
        Phase::Cancelled => ("cancelled".to_string(), t.warn),
    };
    let line = Line::from(vec![
        Span::styled(format!(" {} ", live.info.name), t.title),
        Span::styled(format!("[{state}] "), style),
        Span::styled(format!("{} events · {} · ", live.events, live.info.placement), t.dim),
        Span::styled(
            match &live.summary {
                Some(s) => format!(
                    "cost {:.2} {}{}",
                    s.cost.total,
                    s.currency,
                    live.burn_per_hour().map(|b| format!(" · burn {b:.2}/h at the end")).unwrap_or_default()
                ),
                None => format!(
                    "cost booked {:.2}{}",
                    live.cost_total(),
                    live.burn_per_hour().map(|b| format!(" · burn {b:.2}/h")).unwrap_or_default()
                ),
            },
            t.text,
        ),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

fn services(app: &App, live: &Live, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut lines = Vec::new();
    for (i, (name, _, target)) in live.info.services.iter().enumerate() {
        let att = live.attainment[i];
        let style = if att >= *target { t.good } else { t.bad };
        lines.push(Line::from(vec![
            Span::styled(format!("{name:<14.14}"), t.series(i)),
            Span::styled(format!(" SLO {:>5.1}%", 100.0 * att), style),
            Span::styled(
                format!(
                    " q {} r {}",
                    live.queue[i].last().map_or("-".into(), chart::human_value),
                    live.replicas[i].last().map_or("-".into(), chart::human_value)
                ),
                t.dim,
            ),
        ]));
    }
    if let Some(s) = &live.summary {
        lines.push(Line::styled(format!("total {:.2} {} · {:.1} kWh", s.cost.total, s.currency, s.energy_kwh), t.text));
    }
    if lines.is_empty() {
        lines.push(Line::styled("no services", t.dim));
    }
    let block = Block::bordered().title(Span::styled(" Services ", t.title)).border_style(t.border);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn events(app: &App, live: &Live, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let visible = usize::from(area.height.saturating_sub(2)).max(1);
    // Newest at the bottom; the selection counts back from the newest.
    let n = live.log.len();
    let sel = app.run_view.selected.unwrap_or(0).min(n.saturating_sub(1));
    let end = n.saturating_sub(sel.saturating_sub(visible.saturating_sub(1)));
    let start = end.saturating_sub(visible);
    let items: Vec<ListItem<'_>> = live
        .log
        .range(start..end)
        .map(|l| {
            let style = match l.kind {
                "node" | "drop" => t.bad,
                "preemption" | "policy" | "pool" => t.warn,
                _ => t.text,
            };
            ListItem::new(Line::styled(l.text(), style))
        })
        .collect();
    let mut state = ListState::default();
    if app.run_view.selected.is_some() && n > 0 {
        state.select(Some((n - 1 - sel) - start));
    }
    let title =
        format!(" Events {}{} ", n, if live.log_dropped > 0 { format!(" (+{} older dropped)", live.log_dropped) } else { String::new() });
    let list =
        List::new(items).block(Block::bordered().title(Span::styled(title, t.title)).border_style(t.border)).highlight_style(t.selected);
    frame.render_stateful_widget(list, area, &mut state);
}

/// One line per service, named after it.
fn per_service<'a>(live: &Live, series: &'a [crate::series::Series], t: &crate::theme::Theme) -> Vec<Plot<'a>> {
    series.iter().enumerate().map(|(i, s)| Plot { name: live.info.services[i].0.clone(), style: t.series(i), series: s }).collect()
}
