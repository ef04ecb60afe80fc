//! The Telemetry screen: a GPU telemetry trace (nvidia-smi, dmon, DCGM or
//! canonical Parquet) as charts of utilisation and power over time, with
//! zoom and pan, beside each GPU's energy, busy and idle spells, and what
//! the idle time cost.
//!
//! Everything is computed once, when the trace is opened: per-GPU
//! [`Series`] (bounded, so a week at 100 ms draws as fast as a minute), the
//! fleet's mean utilisation and total power, [`energy::by_gpu`] and
//! [`phases::detect`]. Drawing only reads them.

use crate::keys::Action;
use crate::series::Series;
use crate::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph, Row, Table, TableState};
use std::path::Path;
use twin_inputs::trace_file::{self, Table as TraceTable, TraceFile};
use twin_replay::phases::{self, PhaseOptions};
use twin_replay::timefmt::format_ns;
use twin_replay::{Field, ReadOptions, Telemetry, energy};

/// GPUs a PageUp or PageDown jumps: a host's worth.
const PAGE: usize = 8;
/// Most bins of the fleet's (all GPUs) lines.
const FLEET_BINS: usize = 4096;
/// Wider than this, the table goes beside the charts rather than below.
const WIDE: u16 = 150;

/// One GPU's figures over the whole trace, or the fleet's (the "all" row).
#[derive(Clone, Debug, Default, PartialEq)]
struct Stats {
    /// "all", or the index and the model ("0 H200").
    label: String,
    /// Energy from power samples, kWh.
    kwh: f64,
    busy_spells: usize,
    idle_spells: usize,
    longest_idle_s: f64,
    idle_s: f64,
    /// Energy drawn while idle, kWh (from each idle spell's mean power).
    idle_kwh: f64,
}

/// What the charts and the table show for one entry of the list.
#[derive(Clone, Debug)]
struct Track {
    stats: Stats,
    util: Series,
    power: Series,
    /// Busy and idle spells (none for the fleet).
    spells: Vec<phases::Phase>,
}

/// The Telemetry screen's state.
#[derive(Clone, Debug)]
pub struct TelemetryScreen {
    name: String,
    format: String,
    start_ns: i64,
    span_s: f64,
    samples: usize,
    models: Vec<String>,
    gaps: Option<usize>,
    out_of_order: Option<usize>,
    skipped: usize,
    /// "utilisation %", "SM active %", or `None` when the trace has neither.
    util_label: Option<&'static str>,
    has_power: bool,
    /// The fleet first, then one per GPU, ascending.
    tracks: Vec<Track>,
    selected: usize,
    /// The visible window, seconds from the first sample.
    from: f64,
    to: f64,
    min_window: f64,
    price: f64,
    /// Where the price comes from ("p5.48xlarge list price").
    price_source: Option<String>,
}

/// The catalogue's list price of one accelerator-hour of the model a GPU
/// name names ("NVIDIA H100 80GB HBM3" → H100): the cheapest node type of
/// that accelerator, per accelerator. With the node type's name.
pub fn catalogue_price(gpu_name: &str) -> Option<(f64, String)> {
    let cat = twin_sim::catalogue::Catalogue::builtin();
    let words: Vec<String> = gpu_name.split(|c: char| !c.is_ascii_alphanumeric() && c != '-').map(str::to_ascii_lowercase).collect();
    let acc = cat
        .accelerators
        .iter()
        .find(|a| std::iter::once(&a.name).chain(a.aliases.iter()).any(|n| words.iter().any(|w| *w == n.to_ascii_lowercase())))?;
    cat.node_types
        .iter()
        .filter(|n| n.accelerator == acc.name && n.accelerators_per_node > 0 && n.list_price_per_hour > 0.0)
        .map(|n| (n.list_price_per_hour / f64::from(n.accelerators_per_node), n.name.clone()))
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

/// The median of the steps between consecutive times, seconds (0 with fewer than two).
fn median_step(times: &[f64]) -> f64 {
    let mut steps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0.0).collect();
    steps.sort_by(f64::total_cmp);
    steps.get(steps.len() / 2).copied().unwrap_or(0.0)
}

/// Per-bin means of one GPU's readings, each carried forward over up to
/// `hold` empty bins (a slower sampler, jitter), then added to the fleet's sums.
fn add_to_fleet(binned: &[(f64, u32)], hold: usize, sum: &mut [f64], count: &mut [u32]) {
    let mut last: Option<(f64, usize)> = None;
    for (b, &(s, n)) in binned.iter().enumerate() {
        if n > 0 {
            last = Some((s / f64::from(n), b));
        }
        if let Some((v, _)) = last.filter(|(_, at)| b - at <= hold) {
            sum[b] += v;
            count[b] += 1;
        }
    }
}

fn short_model(name: &str) -> &str {
    name.strip_prefix("NVIDIA ").unwrap_or(name)
}

impl TelemetryScreen {
    /// Reads a telemetry file of any format Twin reads (nvidia-smi CSV,
    /// dmon, DCGM text, canonical Parquet), told from its content.
    /// `price_per_gpu_hour` prices the idle GPU-hours; 0 (unknown) shows
    /// them in GPU-hours only. Errors name the file.
    pub fn open(path: &Path, price_per_gpu_hour: f64) -> Result<TelemetryScreen, String> {
        let shown = path.display().to_string();
        let named = |msg: String| if msg.contains(&shown) { msg } else { format!("{shown}: {msg}") };
        let name = path.file_name().map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
        match trace_file::open(path, "auto", &ReadOptions::default()) {
            Err(e) => Err(named(e.to_string())),
            Ok(TraceFile::Table(table, _)) => {
                let kind = match table {
                    TraceTable::Prices(_) => "price history",
                    TraceTable::Advisor(_) => "Spot Advisor table",
                    TraceTable::Jobs(_) => "job trace",
                    TraceTable::Nodes(_) => "node list",
                };
                Err(format!(
                    "{shown}: a {kind}, not GPU telemetry (the Telemetry screen reads nvidia-smi, dmon, DCGM or telemetry Parquet)"
                ))
            }
            Ok(TraceFile::Telemetry(t, report)) => {
                if t.is_empty() {
                    return Err(format!("{shown}: no telemetry samples in it"));
                }
                let mut s = TelemetryScreen::from_telemetry(name, *t, price_per_gpu_hour);
                match report {
                    Some(r) => {
                        s.format = r.format.clone();
                        s.gaps = Some(r.gaps);
                        s.out_of_order = Some(r.non_monotonic);
                        s.skipped = r.skipped;
                    }
                    None => s.format = "parquet".into(),
                }
                Ok(s)
            }
        }
    }

    /// Builds the screen from telemetry already read; `name` heads it.
    pub fn from_telemetry(name: String, t: Telemetry, price_per_gpu_hour: f64) -> TelemetryScreen {
        let price = if price_per_gpu_hour.is_finite() && price_per_gpu_hour > 0.0 { price_per_gpu_hour } else { 0.0 };
        let start_ns = t.time_ns.iter().min().copied().unwrap_or(0);
        let end_ns = t.time_ns.iter().max().copied().unwrap_or(start_ns);
        let rel = |ns: i64| (i128::from(ns) - i128::from(start_ns)) as f64 / 1e9;
        let span_s = rel(end_ns);
        let util_field = [Field::UtilGpu, Field::SmActive].into_iter().find(|f| t.has(*f));
        let has_power = t.has(Field::Power);
        let energies = energy::by_gpu(&t);
        let gpus = t.gpus();
        // One GPU's rows and times at a time: a fleet's trace may be most of memory already.
        let rows_and_times = |g: u32| {
            let rows = t.rows_of(g);
            let times: Vec<f64> = rows.iter().map(|&i| rel(t.time_ns[i])).collect();
            (rows, times)
        };
        let step = gpus.first().map_or(0.0, |&g| median_step(&rows_and_times(g).1));
        // The fleet's lines: each GPU's readings in bins, summed across GPUs.
        let bins =
            if span_s > 0.0 { ((span_s / step.max(span_s / FLEET_BINS as f64)).ceil() as usize + 1).clamp(2, FLEET_BINS + 1) } else { 1 };
        let width = if bins > 1 { span_s / (bins - 1) as f64 } else { 1.0 };
        let bin_of = |x: f64| ((x / width).floor().max(0.0) as usize).min(bins - 1);
        let (mut util_sum, mut util_n) = (vec![0.0; bins], vec![0u32; bins]);
        let (mut power_sum, mut power_n) = (vec![0.0; bins], vec![0u32; bins]);
        let mut fleet = Stats { label: "all".into(), ..Stats::default() };
        let mut tracks = Vec::with_capacity(gpus.len() + 1);
        for &g in &gpus {
            let (rows, times) = rows_and_times(g);
            let hold = ((3.0 * median_step(&times) / width).ceil().max(3.0) as usize).min(bins);
            let (mut util, mut power) = (Series::default(), Series::default());
            let (mut ub, mut pb) = (vec![(0.0, 0u32); bins], vec![(0.0, 0u32); bins]);
            for (&i, &x) in rows.iter().zip(&times) {
                let b = bin_of(x);
                if let Some(v) = util_field.and_then(|f| t.value(f, i)) {
                    util.push(x, v);
                    ub[b].0 += v;
                    ub[b].1 += 1;
                }
                if let Some(v) = t.value(Field::Power, i) {
                    power.push(x, v);
                    pb[b].0 += v;
                    pb[b].1 += 1;
                }
            }
            add_to_fleet(&ub, hold, &mut util_sum, &mut util_n);
            add_to_fleet(&pb, hold, &mut power_sum, &mut power_n);
            let spells = phases::detect(&t, g, &PhaseOptions::default());
            let idle: Vec<&phases::Phase> = spells.iter().filter(|p| !p.busy).collect();
            let stats = Stats {
                label: match t.names.get(&g) {
                    Some(n) => format!("{g} {}", short_model(n)),
                    None => g.to_string(),
                },
                kwh: energies.iter().find(|e| e.gpu == g).map_or(0.0, energy::GpuEnergy::kwh),
                busy_spells: spells.len() - idle.len(),
                idle_spells: idle.len(),
                longest_idle_s: idle.iter().map(|p| p.seconds()).fold(0.0, f64::max),
                idle_s: idle.iter().map(|p| p.seconds()).fold(0.0, |a, b| a + b),
                idle_kwh: idle.iter().map(|p| p.mean_power_w.unwrap_or(0.0) * p.seconds()).fold(0.0, |a, b| a + b) / 3.6e6,
            };
            fleet.kwh += stats.kwh;
            fleet.busy_spells += stats.busy_spells;
            fleet.idle_spells += stats.idle_spells;
            fleet.longest_idle_s = fleet.longest_idle_s.max(stats.longest_idle_s);
            fleet.idle_s += stats.idle_s;
            fleet.idle_kwh += stats.idle_kwh;
            tracks.push(Track { stats, util, power, spells });
        }
        let (mut util, mut power) = (Series::default(), Series::default());
        for b in 0..bins {
            let x = b as f64 * width;
            if util_n[b] > 0 {
                util.push(x, util_sum[b] / f64::from(util_n[b]));
            }
            if power_n[b] > 0 {
                power.push(x, power_sum[b]);
            }
        }
        tracks.insert(0, Track { stats: fleet, util, power, spells: Vec::new() });
        // No closer than a few samples, or a few bins where a long trace was binned.
        let spacing = |s: &Series| match s.bins() {
            [first, .., last] => (last.t - first.t) / (s.bins().len() - 1) as f64,
            _ => 0.0,
        };
        let finest = tracks.iter().flat_map(|t| [spacing(&t.util), spacing(&t.power)]).fold(step, f64::max);
        let mut models: Vec<String> = t.names.values().map(|n| short_model(n).to_string()).collect();
        models.sort();
        models.dedup();
        TelemetryScreen {
            name,
            format: "telemetry".into(),
            start_ns,
            span_s,
            samples: t.len(),
            models,
            gaps: None,
            out_of_order: None,
            skipped: 0,
            util_label: util_field.map(|f| if f == Field::UtilGpu { "utilisation %" } else { "SM active %" }),
            has_power,
            tracks,
            selected: 0,
            from: 0.0,
            to: span_s,
            min_window: (4.0 * finest).max(1e-3).min(span_s),
            price,
            price_source: None,
        }
    }

    /// Prices idle GPU-hours at the catalogue's list price of the trace's
    /// GPU model when no price was given; false when the model is unknown.
    pub fn price_from_catalogue(&mut self) -> bool {
        if self.price > 0.0 {
            return true;
        }
        match self.models.first().and_then(|m| catalogue_price(m)) {
            Some((p, node)) => {
                self.price = p;
                self.price_source = Some(format!("{node} list"));
                true
            }
            None => false,
        }
    }

    /// Handles one action; true when it changed something (so the app redraws).
    pub fn on_action(&mut self, action: Action) -> bool {
        match action {
            Action::Up => self.select(self.selected.saturating_sub(1)),
            Action::Down => self.select(self.selected.saturating_add(1)),
            Action::PageUp => self.select(self.selected.saturating_sub(PAGE)),
            Action::PageDown => self.select(self.selected.saturating_add(PAGE)),
            Action::Left => self.pan(-0.25),
            Action::Right => self.pan(0.25),
            Action::ZoomIn => self.zoom(0.5),
            Action::ZoomOut => self.zoom(2.0),
            Action::Enter => self.set_window(0.0, self.span_s),
            _ => false,
        }
    }

    fn select(&mut self, i: usize) -> bool {
        let i = i.min(self.tracks.len().saturating_sub(1));
        let changed = i != self.selected;
        self.selected = i;
        changed
    }

    /// Sets the window to [from, to], kept inside the trace; true when it moved.
    fn set_window(&mut self, from: f64, to: f64) -> bool {
        let width = (to - from).clamp(self.min_window, self.span_s);
        let from = from.clamp(0.0, self.span_s - width);
        let changed = (from - self.from).abs() > 1e-12 || (from + width - self.to).abs() > 1e-12;
        (self.from, self.to) = (from, from + width);
        changed
    }

    fn zoom(&mut self, factor: f64) -> bool {
        let (centre, half) = ((self.from + self.to) / 2.0, (self.to - self.from) * factor / 2.0);
        let half = half.clamp(self.min_window / 2.0, self.span_s / 2.0);
        self.set_window(centre - half, centre + half)
    }

    fn pan(&mut self, share: f64) -> bool {
        let d = (self.to - self.from) * share;
        self.set_window(self.from + d, self.to + d)
    }

    /// Keys hint for the status bar.
    pub fn hint(&self) -> &'static str {
        "↑↓ GPU · PgUp/PgDn ±8 · ←→ pan · z/x zoom · Enter whole trace"
    }

    /// Draws the whole screen into `area`; a tiny area gets what fits.
    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let area = area.intersection(frame.area());
        if area.is_empty() {
            return;
        }
        let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
        frame.render_widget(Paragraph::new(self.header(theme)), head);
        if body.height < 3 {
            return;
        }
        let table_rows = u16::try_from(self.tracks.len() + 2).unwrap_or(u16::MAX);
        let track = &self.tracks[self.selected.min(self.tracks.len() - 1)];
        let (charts, table) = if body.width >= WIDE {
            let [c, side] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(72)]).areas(body);
            let [t, spells] = Layout::vertical([Constraint::Length(table_rows.min(body.height / 2)), Constraint::Fill(1)]).areas(side);
            self.spells(frame, spells, theme, track);
            (c, t)
        } else {
            let h = if body.height < 10 { 0 } else { table_rows.min((body.height * 2 / 5).max(4)) };
            let [c, t] = Layout::vertical([Constraint::Fill(1), Constraint::Length(h)]).areas(body);
            (c, t)
        };
        let [u, p] = Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(charts);
        let who = if self.selected == 0 { "all GPUs".to_string() } else { format!("GPU {}", track.stats.label) };
        let (what_u, what_p) = if self.selected == 0 { ("mean ", "total ") } else { ("", "") };
        match self.util_label {
            Some(l) => {
                let top = track.util.max_in(self.from, self.to).max(100.0);
                let title = format!("{what_u}{l} · {who}");
                self.chart(frame, u, theme, title, &track.util, nice_ceil(top), theme.series(0));
            }
            None => Self::empty(frame, u, theme, "utilisation", "no utilisation readings in this trace"),
        }
        if self.has_power {
            let title = format!("{what_p}power W · {who}");
            let top = nice_ceil(track.power.max_in(self.from, self.to) * 1.05);
            self.chart(frame, p, theme, title, &track.power, top, theme.series(1));
        } else {
            Self::empty(frame, p, theme, "power", "no power readings in this trace");
        }
        self.table(frame, table, theme);
    }

    fn header(&self, theme: &Theme) -> Line<'static> {
        let n = self.tracks.len() - 1;
        let mut spans = vec![
            Span::styled(self.name.clone(), theme.title),
            Span::styled(format!(" · {} · ", self.format), theme.dim),
            Span::styled(format!("{n} GPU{}", if n == 1 { "" } else { "s" }), theme.text),
        ];
        if !self.models.is_empty() {
            spans.push(Span::styled(format!(" ({})", self.models.join(", ")), theme.dim));
        }
        spans.push(Span::styled(format!(" · {} · {} samples", dur(self.span_s), self.samples), theme.text));
        for (count, what) in [(self.gaps, "gaps"), (self.out_of_order, "out of order"), (Some(self.skipped), "skipped")] {
            match count {
                Some(0) if what == "skipped" => {}
                Some(c) => spans.push(Span::styled(format!(" · {c} {what}"), if c > 0 { theme.warn } else { theme.dim })),
                None => {}
            }
        }
        if self.samples > 0 {
            spans.push(Span::styled(format!(" · from {} UTC", format_ns(self.start_ns)), theme.dim));
        }
        Line::from(spans)
    }

    fn window_title(&self) -> String {
        let zoom = if self.to > self.from { self.span_s / (self.to - self.from) } else { 1.0 };
        format!(" · {}–{} (×{zoom:.0})", dur(self.from), dur(self.to))
    }

    #[allow(clippy::too_many_arguments)]
    fn chart(&self, frame: &mut Frame, area: Rect, theme: &Theme, title: String, s: &Series, top: f64, style: Style) {
        let points = s.points(self.from, self.to, usize::from(area.width.max(1)));
        let block = Block::new()
            .borders(Borders::TOP)
            .border_style(theme.border)
            .title(Line::from(vec![Span::styled(title, theme.title), Span::styled(self.window_title(), theme.dim)]));
        let (from, to) = (self.from, if self.to > self.from { self.to } else { self.from + 1.0 });
        let x_labels = [dur(from), dur((from + to) / 2.0), dur(to)].map(|l| Span::styled(l, theme.dim));
        let y_labels = [0.0, top / 2.0, top].map(|v| Span::styled(format!("{v:.0}"), theme.dim));
        let data = Dataset::default().marker(Marker::Braille).graph_type(GraphType::Line).style(style).data(&points);
        let chart = Chart::new(vec![data])
            .block(block)
            .x_axis(Axis::default().style(theme.border).bounds([from, to]).labels(x_labels))
            .y_axis(Axis::default().style(theme.border).bounds([0.0, top]).labels(y_labels));
        frame.render_widget(chart, area);
    }

    fn empty(frame: &mut Frame, area: Rect, theme: &Theme, title: &str, why: &str) {
        let block = Block::new().borders(Borders::TOP).border_style(theme.border).title(Span::styled(title.to_string(), theme.title));
        frame.render_widget(Paragraph::new(Span::styled(why.to_string(), theme.dim)).block(block), area);
    }

    /// The selected GPU's busy and idle spells that overlap the window.
    fn spells(&self, frame: &mut Frame, area: Rect, theme: &Theme, track: &Track) {
        let block = |t: String| Block::new().borders(Borders::TOP).border_style(theme.border).title(Span::styled(t, theme.title));
        if self.selected == 0 {
            let why = Span::styled("↑↓ select a GPU to list its busy and idle spells", theme.dim);
            frame.render_widget(Paragraph::new(why).block(block("spells".into())), area);
            return;
        }
        let at = |p: &phases::Phase| (i128::from(p.start_ns) - i128::from(self.start_ns)) as f64 / 1e9;
        let rows = track.spells.iter().filter(|p| at(p) < self.to && at(p) + p.seconds() > self.from).map(|p| {
            let or_dash = |v: Option<f64>, unit: &str| v.map_or_else(|| "-".to_string(), |v| format!("{v:.0}{unit}"));
            let what = if p.busy { "busy" } else { "idle" };
            Row::new(vec![what.into(), dur(at(p)), dur(p.seconds()), or_dash(p.mean_util_pct, " %"), or_dash(p.mean_power_w, " W")])
                .style(if p.busy { theme.text } else { theme.warn })
        });
        let table = Table::new(rows, [6, 9, 9, 7, 8].map(Constraint::Length))
            .header(Row::new(["", "from", "length", "util", "power"]).style(theme.dim))
            .block(block(format!("spells of GPU {} in the window", track.stats.label)));
        frame.render_widget(table, area);
    }

    fn table(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        if area.is_empty() {
            return;
        }
        let priced = self.price > 0.0;
        let title = if priced {
            match &self.price_source {
                Some(src) => format!("energy · spells · idle at ${:.2}/GPU-h ({src})", self.price),
                None => format!("energy · busy and idle spells · idle at ${:.2}/GPU-h", self.price),
            }
        } else {
            "energy · busy and idle spells · no GPU-hour price: idle in GPU-hours".to_string()
        };
        let header = ["GPU", "kWh", "busy", "idle", "longest", "idle GPU-h", "idle kWh", "idle cost"];
        let rows = self.tracks.iter().map(|t| {
            let s = &t.stats;
            let gpu_h = s.idle_s / 3600.0;
            Row::new(vec![
                s.label.clone(),
                kwh(s.kwh),
                s.busy_spells.to_string(),
                s.idle_spells.to_string(),
                dur(s.longest_idle_s),
                format!("{gpu_h:.3}"),
                kwh(s.idle_kwh),
                if priced { format!("${:.2}", gpu_h * self.price) } else { "-".into() },
            ])
            .style(theme.text)
        });
        let widths = [10, 8, 5, 5, 8, 10, 8, 9].map(Constraint::Length);
        let table = Table::new(rows, widths)
            .header(Row::new(header).style(theme.dim))
            .row_highlight_style(theme.selected)
            .block(Block::new().borders(Borders::TOP).border_style(theme.border).title(Span::styled(title, theme.title)));
        let mut state = TableState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(table, area, &mut state);
    }
}

/// The smallest round number (1, 1.2, 1.5, 2, ..., 8 × 10ⁿ) at or above `x` (1 for nothing to show).
fn nice_ceil(x: f64) -> f64 {
    if !x.is_finite() || x <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0].into_iter().map(|m| m * p).find(|v| *v >= x).unwrap_or(10.0 * p)
}

/// Energy to a precision that shows a short trace's few watt-hours.
fn kwh(x: f64) -> String {
    if x < 0.01 {
        format!("{x:.4}")
    } else if x < 10.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.1}")
    }
}

/// A duration as a short label: "0s", "250ms", "4.5s", "2m09s", "3h05m", "2d04h".
fn dur(s: f64) -> String {
    if !s.is_finite() {
        return "?".into();
    }
    let sign = if s < 0.0 { "-" } else { "" };
    let s = s.abs();
    if s == 0.0 {
        return "0s".into();
    }
    if s < 1.0 {
        return format!("{sign}{:.0}ms", s * 1000.0);
    }
    if s < 10.0 && s.fract() > 0.05 {
        return format!("{sign}{s:.1}s");
    }
    let n = s.round() as u64;
    match n {
        0..60 => format!("{sign}{n}s"),
        60..3600 => format!("{sign}{}m{:02}s", n / 60, n % 60),
        3600..86_400 => format!("{sign}{}h{:02}m", n / 3600, n % 3600 / 60),
        _ => format!("{sign}{}d{:02}h", n / 86_400, n % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theme::ThemeKind;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use twin_replay::Sample;

    /// Two H200s sampled every second for 120 s: GPU 0 busy then idle, GPU 1 idle then busy.
    fn two_gpus() -> Telemetry {
        let mut t = Telemetry::default();
        for k in 0..120i64 {
            for g in 0..2u32 {
                let busy = if g == 0 { k < 60 } else { k >= 30 };
                let mut s = Sample::new(1_795_744_739_000_000_000 + k * 1_000_000_000, g);
                s.gpu_name = Some("NVIDIA H200".into());
                s.set(Field::UtilGpu, if busy { 95.0 } else { 0.0 });
                s.set(Field::Power, if busy { 600.0 } else { 80.0 });
                t.push(s);
            }
        }
        t
    }

    fn draw(s: &TelemetryScreen, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| s.render(f, f.area(), &Theme::new(ThemeKind::Dark))).unwrap();
        let buf = term.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn shows_gpus_energy_and_idle_at_80x24_and_160x48() {
        let t = two_gpus();
        let e = energy::by_gpu(&t);
        let s = TelemetryScreen::from_telemetry("two.csv".into(), t, 2.5);
        assert_eq!(s.tracks.len(), 3);
        assert_eq!((s.tracks[1].stats.busy_spells, s.tracks[1].stats.idle_spells), (1, 1));
        assert!((s.tracks[1].stats.longest_idle_s - 60.0).abs() < 1.5, "{:?}", s.tracks[1].stats);
        for (w, h) in [(80, 24), (160, 48)] {
            let text = draw(&s, w, h);
            for want in ["two.csv", "2 GPUs", "H200", "all", "0 H200", "1 H200", "idle", "$2.50/GPU-h", &kwh(e[0].kwh()), "power W"] {
                assert!(text.contains(want), "{w}×{h} lacks {want:?}:\n{text}");
            }
            assert!(text.contains('⣀') || text.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)), "no braille line:\n{text}");
        }
        let mut one = s.clone();
        assert!(one.on_action(Action::Down));
        let wide = draw(&one, 160, 48);
        assert!(wide.contains("spells of GPU 0 H200") && wide.contains("busy   0s") && wide.contains("idle   1m00s"), "{wide}");
        // The fleet line: total power of two GPUs, one busy and one idle mid-trace.
        assert!((s.tracks[0].power.max_in(0.0, 1e9) - 1200.0).abs() < 1e-9);
        let mut unpriced = TelemetryScreen::from_telemetry("two.csv".into(), two_gpus(), 0.0);
        assert!(draw(&unpriced, 100, 30).contains("no GPU-hour price"));
        assert!(unpriced.price_from_catalogue(), "{:?}", unpriced.models);
        assert!(draw(&unpriced, 160, 30).contains("p5en.48xlarge list"), "{}", draw(&unpriced, 160, 30));
        assert_eq!(catalogue_price("NVIDIA H100 80GB HBM3").map(|p| p.1), Some("p5.48xlarge".into()));
        assert!((catalogue_price("NVIDIA H100 80GB HBM3").unwrap().0 - 6.88).abs() < 1e-9);
        assert_eq!(catalogue_price("Some GPU"), None);
        let unpriced = TelemetryScreen::from_telemetry("two.csv".into(), two_gpus(), 0.0);
        assert!(draw(&unpriced, 100, 30).contains("no GPU-hour price"));
    }

    #[test]
    fn any_size_draws_without_panicking() {
        let screens = [
            TelemetryScreen::from_telemetry("two".into(), two_gpus(), 1.0),
            TelemetryScreen::from_telemetry("empty".into(), Telemetry::default(), 0.0),
        ];
        for s in &screens {
            for (w, h) in [(0, 0), (10, 3), (1, 1), (0, 5), (5, 0), (3, 40), (200, 2), (40, 11), (80, 24), (151, 9)] {
                draw(s, w, h);
            }
        }
        assert!(draw(&screens[1], 80, 24).contains("0 GPUs"));
    }

    #[test]
    fn zoom_pan_and_selection_stay_inside() {
        let mut s = TelemetryScreen::from_telemetry("two".into(), two_gpus(), 0.0);
        assert_eq!((s.from, s.to), (0.0, 119.0));
        assert!(s.on_action(Action::ZoomIn));
        assert!((s.to - s.from - 59.5).abs() < 1e-9 && (s.from + s.to - 119.0).abs() < 1e-9);
        for _ in 0..20 {
            s.on_action(Action::Left);
        }
        assert_eq!(s.from, 0.0);
        assert!(!s.on_action(Action::Left));
        for _ in 0..20 {
            s.on_action(Action::Right);
        }
        assert!((s.to - 119.0).abs() < 1e-9 && s.from > 0.0);
        for _ in 0..30 {
            s.on_action(Action::ZoomIn);
        }
        assert!(s.to - s.from >= s.min_window - 1e-9 && s.min_window > 0.0);
        for _ in 0..30 {
            s.on_action(Action::ZoomOut);
        }
        assert!(s.from.abs() < 1e-9 && (s.to - 119.0).abs() < 1e-9);
        assert!(!s.on_action(Action::ZoomOut));
        assert!(!s.on_action(Action::Up));
        assert!(s.on_action(Action::Down) && s.on_action(Action::Down));
        assert!(!s.on_action(Action::Down));
        assert_eq!(s.selected, 2);
        assert!(s.on_action(Action::PageUp) && s.selected == 0);
        assert!(s.on_action(Action::PageDown) && s.selected == 2);
        assert!(!s.on_action(Action::Sort));
        let mut e = TelemetryScreen::from_telemetry("e".into(), Telemetry::default(), 0.0);
        for a in [Action::ZoomIn, Action::ZoomOut, Action::Left, Action::Right, Action::Down, Action::PageDown, Action::Enter] {
            assert!(!e.on_action(a), "{a:?}");
        }
    }

    #[test]
    fn open_names_the_file_and_reads_nvidia_smi() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.csv");
        let e = TelemetryScreen::open(&missing, 0.0).unwrap_err();
        assert!(e.contains("nope.csv"), "{e}");
        let smi = dir.path().join("smi.csv");
        let mut text = "timestamp, index, name, utilization.gpu [%], power.draw [W]\n".to_string();
        for k in 0..5 {
            for g in 0..2 {
                text.push_str(&format!("2026/11/27 01:59:0{k}.000, {g}, NVIDIA H200, {} %, {} W\n", 10 * k, 100 + 50 * k));
            }
        }
        std::fs::write(&smi, text).unwrap();
        let s = TelemetryScreen::open(&smi, 0.0).unwrap();
        assert_eq!((s.tracks.len() - 1, s.format.as_str(), s.samples), (2, "nvidia-smi", 10));
        assert!(draw(&s, 80, 24).contains("smi.csv · nvidia-smi · 2 GPUs"));
        let pods = dir.path().join("pods.csv");
        std::fs::write(&pods, "name,num_gpu,gpu_milli,creation_time,deletion_time,scheduled_time\np1,1,1000,0,60,0\n").unwrap();
        let e = TelemetryScreen::open(&pods, 0.0).unwrap_err();
        assert!(e.contains("pods.csv") && e.contains("not GPU telemetry"), "{e}");
    }

    #[test]
    fn opens_the_h200_recording() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/gpu_telemetry/h200_nvidia_smi_100ms.csv");
        if !path.exists() {
            if std::env::var("TWIN_SKIP_DATA_TESTS").is_ok_and(|v| v == "1") {
                eprintln!("skipped (TWIN_SKIP_DATA_TESTS=1): {} is not here", path.display());
                return;
            }
            panic!(
                "{} is not here: these tests read real traces from ../shared/data beside the checkout; put it there, or set TWIN_SKIP_DATA_TESTS=1 to skip them",
                path.display()
            );
        }
        let s = TelemetryScreen::open(&path, 3.0).unwrap();
        assert_eq!(s.tracks.len(), 2);
        let gpu = &s.tracks[1].stats;
        // Idle 10 s, four 5 s bursts, a ramp, 25 s sustained, 15 s idle.
        assert!(gpu.busy_spells >= 5 && gpu.idle_spells >= 5, "{gpu:?}");
        assert!(gpu.longest_idle_s > 9.0 && gpu.kwh > 0.0, "{gpu:?}");
        assert!(draw(&s, 80, 24).contains("0 H200"));
    }
}
