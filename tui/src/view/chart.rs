//! A line chart of bounded series, shared by the screens.

use crate::series::Series;
use crate::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};

/// One line of a chart.
pub struct Plot<'a> {
    /// Its legend.
    pub name: String,
    /// Its colour.
    pub style: Style,
    /// Its values.
    pub series: &'a Series,
}

/// A chart's extras: horizontal reference lines and marks.
#[derive(Default)]
pub struct Extras {
    /// (value, label, style): an SLO line.
    pub levels: Vec<(f64, String, Style)>,
    /// (seconds, style): notices and reclaims, drawn at the top.
    pub marks: Vec<(f64, Style)>,
    /// The top of the y axis (none: the largest value shown).
    pub y_max: Option<f64>,
}

/// "0s", "45m", "6h", "2d 4h".
pub fn human_time(s: f64) -> String {
    let s = s.max(0.0);
    if s < 60.0 {
        format!("{s:.0}s")
    } else if s < 3600.0 {
        format!("{:.0}m", s / 60.0)
    } else if s < 86_400.0 {
        let h = s / 3600.0;
        if h.fract() < 0.05 { format!("{h:.0}h") } else { format!("{h:.1}h") }
    } else {
        let d = (s / 86_400.0).floor();
        let h = ((s - d * 86_400.0) / 3600.0).round();
        if h == 0.0 { format!("{d:.0}d") } else { format!("{d:.0}d {h:.0}h") }
    }
}

/// "1.2k", "35", "0.42".
pub fn human_value(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Draws `lines` over `[0, x_max]` seconds in `area`, in a bordered block
/// titled `title`. The y axis runs from 0 to the largest value shown (or
/// `extras.y_max` when given).
pub fn draw(frame: &mut Frame, area: Rect, title: &str, lines: &[Plot<'_>], x_max: f64, extras: &Extras, theme: &Theme) {
    let y_max = extras.y_max;
    let block = Block::bordered().border_style(theme.border).title(Span::styled(title.to_string(), theme.title));
    if area.width < 12 || area.height < 4 {
        frame.render_widget(Paragraph::new(title.to_string()).style(theme.dim), area);
        return;
    }
    let x_max = x_max.max(1.0);
    let columns = usize::from(area.width.saturating_sub(8)) * 2;
    let points: Vec<Vec<(f64, f64)>> = lines.iter().map(|l| l.series.points(0.0, x_max, columns)).collect();
    let mut top = y_max.unwrap_or_else(|| {
        let m = lines.iter().map(|l| l.series.max_in(0.0, x_max)).fold(0.0, f64::max);
        extras.levels.iter().map(|l| l.0).fold(m, f64::max)
    });
    if top <= 0.0 {
        top = 1.0;
    }
    let top = top * if y_max.is_some() { 1.0 } else { 1.1 };
    let level_points: Vec<[(f64, f64); 2]> = extras.levels.iter().map(|(v, _, _)| [(0.0, *v), (x_max, *v)]).collect();
    let mark_points: Vec<Vec<(f64, f64)>> =
        extras.marks.iter().map(|(t, _)| vec![(*t, top * 0.98), (*t, top * 0.9), (*t, top * 0.82)]).collect();
    let mut sets: Vec<Dataset<'_>> = lines
        .iter()
        .zip(&points)
        .map(|(l, p)| Dataset::default().name(l.name.clone()).marker(Marker::Braille).graph_type(GraphType::Line).style(l.style).data(p))
        .collect();
    for ((_, label, style), p) in extras.levels.iter().zip(&level_points) {
        sets.push(Dataset::default().name(label.clone()).marker(Marker::Braille).graph_type(GraphType::Line).style(*style).data(p));
    }
    for ((_, style), p) in extras.marks.iter().zip(&mark_points) {
        sets.push(Dataset::default().marker(Marker::Dot).graph_type(GraphType::Scatter).style(*style).data(p));
    }
    let x_labels: Vec<Line<'_>> = [0.0, x_max / 2.0, x_max].iter().map(|x| Line::styled(human_time(*x), theme.dim)).collect();
    let y_labels: Vec<Line<'_>> = [0.0, top / 2.0, top].iter().map(|y| Line::styled(human_value(*y), theme.dim)).collect();
    let chart = Chart::new(sets)
        .block(block)
        .x_axis(Axis::default().bounds([0.0, x_max]).labels(x_labels).style(theme.dim))
        .y_axis(Axis::default().bounds([0.0, top]).labels(y_labels).style(theme.dim))
        .legend_position(if area.height >= 8 && area.width >= 30 { Some(ratatui::widgets::LegendPosition::TopLeft) } else { None })
        .hidden_legend_constraints((ratatui::layout::Constraint::Percentage(60), ratatui::layout::Constraint::Percentage(60)));
    frame.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_values_read_well() {
        assert_eq!(human_time(0.0), "0s");
        assert_eq!(human_time(90.0), "2m");
        assert_eq!(human_time(7200.0), "2h");
        assert_eq!(human_time(86_400.0 * 2.0 + 4.0 * 3600.0), "2d 4h");
        assert_eq!(human_value(1234.0), "1.2k");
        assert_eq!(human_value(0.5), "0.50");
        assert_eq!(human_value(35.0), "35");
    }
}
