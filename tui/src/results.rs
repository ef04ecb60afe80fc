//! Results: a finished run, read back from the folder `twin run --out`
//! wrote, or taken from a run just finished in memory.
//!
//! Five views, ←/→ between them: **Charts** (cumulative cost by capacity
//! type, GPU allocation per pool, queue depth and ready replicas per service,
//! spot price per pool, and the totals; ↑/↓ pick a panel, which a compact
//! terminal shows alone), then four tables, **Services**, **Pools**, **Jobs**
//! and the **Ledger** by team and capacity type, where ↑/↓ and PgUp/PgDn move
//! the selected row and the sort key sorts by the next column (numbers
//! largest first, text A to Z). A narrow table shows the columns that fit,
//! the sort column always among them.
//!
//! Both ways in fill the same rows: the summary is read as JSON either way
//! (a run in memory is serialised to a `serde_json::Value`), and the
//! records go through one `Builder`, row by row.

use crate::keys::Action;
use crate::series::Series;
use crate::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table as TableWidget, TableState, Tabs};
use serde_json::Value;
use std::cmp::Ordering;
use std::path::Path;

const VIEWS: [&str; 5] = ["Charts", "Services", "Pools", "Jobs", "Ledger"];
const PANELS: [&str; 6] = ["cost by capacity type", "GPU allocation %", "queue depth", "ready replicas", "price /node-h", "totals"];
const SERVICE_COLUMNS: &[&str] =
    &["service", "team", "SLO", "target", "P99 TTFT ms", "cost", "per 1M tok", "arrived", "finished", "dropped"];
const POOL_COLUMNS: &[&str] =
    &["pool", "capacity", "accelerator", "cost", "idle cost", "alloc", "util", "GPU-h", "peak nodes", "notices", "reclaims"];
const JOB_COLUMNS: &[&str] = &["job", "team", "state", "pool", "GPUs", "cost", "queued h", "preempted"];
const LEDGER_COLUMNS: &[&str] = &["team", "capacity", "cost", "share", "GPU-h"];

/// How a value reads: plainly, as good news, bad news, or worth a look.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Tone {
    Plain,
    Good,
    Bad,
    Warn,
}

fn style(tone: Tone, theme: &Theme) -> Style {
    match tone {
        Tone::Plain => theme.text,
        Tone::Good => theme.good,
        Tone::Bad => theme.bad,
        Tone::Warn => theme.warn,
    }
}

/// How a number is shown.
#[derive(Clone, Copy)]
enum Fmt {
    Money,
    Count,
    Pct,
    Dec(usize),
}

/// One cell: what is shown, and the number it sorts by (none for text).
#[derive(Clone, Debug, PartialEq)]
struct Field {
    num: Option<f64>,
    text: String,
    tone: Tone,
}

/// A row: its text columns, then its number columns.
fn row(texts: &[&str], nums: &[(f64, Fmt)]) -> Vec<Field> {
    let text = texts.iter().map(|t| Field { num: None, text: t.to_string(), tone: Tone::Plain });
    let shown = |v: f64, f: Fmt| match f {
        Fmt::Money => money(v),
        Fmt::Count => count(v),
        Fmt::Pct => format!("{:.1}%", v * 100.0),
        Fmt::Dec(d) => format!("{v:.d$}"),
    };
    text.chain(nums.iter().map(|&(v, f)| Field { num: Some(v), text: shown(v, f), tone: Tone::Plain })).collect()
}

/// Gives column `c` of `r` the tone `t` when its number is above zero.
fn flag(r: &mut [Field], c: usize, t: Tone) {
    if let Some(f) = r.get_mut(c).filter(|f| f.num.is_some_and(|v| v > 0.0)) {
        f.tone = t;
    }
}

/// Numbers largest first, text A to Z; ties by the first column.
fn order(a: &[Field], b: &[Field], col: usize) -> Ordering {
    let (x, y) = (a.get(col), b.get(col));
    let first = match (x.and_then(|f| f.num), y.and_then(|f| f.num)) {
        (Some(p), Some(q)) => q.total_cmp(&p),
        _ => x.map(|f| &f.text).cmp(&y.map(|f| &f.text)),
    };
    first.then_with(|| a.first().map(|f| &f.text).cmp(&b.first().map(|f| &f.text)))
}

/// A sortable table with a selected row.
#[derive(Debug)]
struct Table {
    noun: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Field>>,
    widths: Vec<u16>,
    numeric: Vec<bool>,
    sort: usize,
    selected: usize,
    /// First row shown, kept between frames so the view scrolls smoothly.
    offset: std::cell::Cell<usize>,
    /// Rows the last frame showed: a page.
    page: std::cell::Cell<usize>,
}

impl Table {
    fn new(noun: &'static str, columns: &'static [&'static str], rows: Vec<Vec<Field>>, sort: usize) -> Table {
        let numeric: Vec<bool> = (0..columns.len()).map(|c| rows.iter().any(|r| r.get(c).is_some_and(|f| f.num.is_some()))).collect();
        let widest = |c: usize| rows.iter().filter_map(|r| r.get(c)).map(|f| f.text.chars().count()).max().unwrap_or(0);
        let width = |c: usize| widest(c).min(if numeric[c] { 14 } else { 24 }).max(columns[c].chars().count() + 1) as u16;
        let widths = (0..columns.len()).map(width).collect();
        let (offset, page) = (0.into(), 10.into());
        let mut t = Table { noun, columns, rows, widths, numeric, sort, selected: 0, offset, page };
        t.rows.sort_by(|a, b| order(a, b, sort));
        t
    }

    fn arrow(&self) -> &'static str {
        if self.numeric.get(self.sort).copied().unwrap_or(false) { "▼" } else { "▲" }
    }
}

/// One chart: a line per pool, service or capacity type.
#[derive(Debug, Default)]
struct Plot {
    lines: Vec<(String, Series)>,
}

impl Plot {
    fn line(&mut self, name: &str) -> &mut Series {
        let i = self.lines.iter().position(|(n, _)| n == name).unwrap_or_else(|| {
            self.lines.push((name.to_string(), Series::default()));
            self.lines.len() - 1
        });
        &mut self.lines[i].1
    }
}

/// The Results screen's state. It is `Send`: it is built on a worker thread.
#[derive(Debug)]
pub struct ResultsScreen {
    view: usize,
    panel: usize,
    heading: Vec<(String, Tone)>,
    horizon_s: f64,
    cost_note: &'static str,
    /// Cost, allocation, queue, replicas, price.
    plots: Vec<Plot>,
    totals: Vec<(String, Vec<(String, f64)>)>,
    /// Services, pools, jobs, ledger.
    tables: Vec<Table>,
}

/// Gathers rows from either source, then makes the screen.
#[derive(Default)]
struct Builder {
    /// Allocation, queue, replicas, price.
    plots: [Plot; 4],
    last_t: f64,
    /// Capacity types seen, by index.
    caps: Vec<String>,
    /// Period end, capacity type, cost.
    ledger: Vec<(f64, usize, f64)>,
    /// Team, capacity type, cost, GPU-hours.
    owners: Vec<(String, usize, f64, f64)>,
    jobs: Vec<Vec<Field>>,
}

impl Builder {
    fn pool_sample(&mut self, t: f64, pool: &str, gpus: f64, allocated: f64, price: f64) {
        self.last_t = self.last_t.max(t);
        self.plots[0].line(pool).push(t, if gpus > 0.0 { 100.0 * allocated / gpus } else { 0.0 });
        self.plots[3].line(pool).push(t, price);
    }

    fn service_sample(&mut self, t: f64, service: &str, queued: f64, ready: f64) {
        self.last_t = self.last_t.max(t);
        self.plots[1].line(service).push(t, queued);
        self.plots[2].line(service).push(t, ready);
    }

    /// Texts: name, team, state, pool; numbers: GPUs, cost, queued hours, preemptions.
    fn job(&mut self, [name, team, state, pool]: [&str; 4], [gpus, cost, queued_h, preemptions]: [f64; 4]) {
        let pool = if pool.is_empty() { "-" } else { pool };
        let nums = [(gpus, Fmt::Count), (cost, Fmt::Money), (queued_h, Fmt::Dec(2)), (preemptions, Fmt::Count)];
        let mut r = row(&[name, team, state, pool], &nums);
        r[2].tone = match state {
            "finished" => Tone::Good,
            "queued" => Tone::Warn,
            s if s.starts_with("rejected") => Tone::Bad,
            _ => Tone::Plain,
        };
        flag(&mut r, 7, Tone::Warn);
        self.jobs.push(r);
    }

    fn ledger_row(&mut self, end_s: f64, team: &str, capacity: &str, cost: f64, gpu_hours: f64) {
        let team = if team.is_empty() { "(idle)" } else { team };
        self.last_t = self.last_t.max(end_s);
        let cap = self.caps.iter().position(|c| c == capacity).unwrap_or_else(|| {
            self.caps.push(capacity.to_string());
            self.caps.len() - 1
        });
        self.ledger.push((end_s, cap, cost));
        match self.owners.iter_mut().find(|o| o.0 == team && o.1 == cap) {
            Some(o) => (o.2, o.3) = (o.2 + cost, o.3 + gpu_hours),
            None => self.owners.push((team.to_string(), cap, cost, gpu_hours)),
        }
    }

    /// Cumulative cost by capacity type at each charge period's end (or, with
    /// no ledger, straight lines to the summary's totals).
    fn cost_plot(&mut self, summary: &Value, horizon_s: f64) -> (Plot, &'static str) {
        let mut plot = Plot::default();
        if self.ledger.is_empty() {
            for (cap, total) in pairs(&summary["cost"]["by_capacity_type"]) {
                plot.line(&cap).push(0.0, 0.0);
                plot.line(&cap).push(horizon_s, total);
            }
            return (plot, " (no ledger: totals only)");
        }
        self.ledger.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut caps: Vec<usize> = (0..self.caps.len()).collect();
        caps.sort_by_key(|&c| &self.caps[c]);
        caps.iter().for_each(|&c| plot.line(&self.caps[c]).push(0.0, 0.0));
        let mut sums = vec![0.0; self.caps.len()];
        let mut rows = self.ledger.iter().peekable();
        while let Some(&(t, cap, cost)) = rows.next() {
            sums[cap] += cost;
            if rows.peek().is_none_or(|n| n.0 != t) {
                caps.iter().for_each(|&c| plot.line(&self.caps[c]).push(t, sums[c]));
            }
        }
        (plot, "")
    }

    fn finish(mut self, name: String, summary: &Value) -> ResultsScreen {
        let h = num(summary, "horizon_s").max(self.last_t);
        let horizon_s = if h > 0.0 { h } else { 1.0 };
        let (cost, cost_note) = self.cost_plot(summary, horizon_s);
        let spot: Vec<&str> = arr(summary, "pools").iter().filter(|p| p["capacity"] == "spot").filter_map(|p| p["name"].as_str()).collect();
        if !spot.is_empty() {
            self.plots[3].lines.retain(|(n, _)| spot.contains(&n.as_str()));
        }
        let total: f64 = self.owners.iter().map(|o| o.2).sum();
        let ledger = self.owners.iter().map(|(team, cap, c, g)| {
            let share = if total > 0.0 { c / total } else { 0.0 };
            let mut r = row(&[team, &self.caps[*cap]], &[(*c, Fmt::Money), (share, Fmt::Pct), (*g, Fmt::Dec(1))]);
            r[0].tone = if team == "(idle)" { Tone::Warn } else { Tone::Plain };
            r
        });
        let tables = vec![
            Table::new("services", SERVICE_COLUMNS, arr(summary, "services").iter().map(service_row).collect(), 5),
            Table::new("pools", POOL_COLUMNS, arr(summary, "pools").iter().map(pool_row).collect(), 3),
            Table::new("jobs", JOB_COLUMNS, std::mem::take(&mut self.jobs), 5),
            Table::new("ledger lines", LEDGER_COLUMNS, ledger.collect(), 2),
        ];
        let (c, j, svc) = (&summary["cost"], &summary["jobs"], arr(summary, "services"));
        let (currency, total_cost, idle) = (str_of(summary, "currency"), num(c, "total"), num(c, "idle"));
        let met = svc.iter().filter(|s| s["slo_met"].as_bool() == Some(true)).count();
        let idle_share = if total_cost > 0.0 { idle / total_cost * 100.0 } else { 0.0 };
        let slo = if met == svc.len() { Tone::Good } else { Tone::Bad };
        let heading = vec![
            (name, Tone::Plain),
            (format!(" · {} · {} · ", str_of(summary, "scenario"), duration(horizon_s)), Tone::Plain),
            (format!("{} {currency}", money(total_cost)), Tone::Plain),
            (if svc.is_empty() { String::new() } else { format!(" · SLO met {met}/{}", svc.len()) }, slo),
            (format!(" · idle {idle_share:.1}%"), if idle > 0.0 { Tone::Warn } else { Tone::Plain }),
            (format!(" · seed {}", summary["seed"]), Tone::Plain),
        ];
        let jobs =
            format!("jobs: {} submitted, {} finished, {} preemptions", num(j, "submitted"), num(j, "finished"), num(j, "preemptions"));
        let totals = vec![
            (format!("by capacity type ({currency})"), pairs(&c["by_capacity_type"])),
            (format!("by team ({currency})"), pairs(&c["by_team"])),
            (jobs, vec![]),
        ];
        let [alloc, queue, replicas, price] = self.plots;
        let plots = vec![cost, alloc, queue, replicas, price];
        ResultsScreen { view: 0, panel: 0, heading, horizon_s, cost_note, plots, totals, tables }
    }
}

fn service_row(s: &Value) -> Vec<Field> {
    let dropped: f64 = s["dropped"].as_object().map_or(0.0, |m| m.values().filter_map(Value::as_f64).sum());
    let f = |k: &str| num(s, k);
    let money = [(f("cost"), Fmt::Money), (f("cost_per_1m_tokens"), Fmt::Money)];
    let slo = [(f("slo_attainment"), Fmt::Pct), (f("slo_target"), Fmt::Pct), (num(&s["ttft_ms"], "p99"), Fmt::Dec(0))];
    let counts = [(f("arrived"), Fmt::Count), (f("finished"), Fmt::Count), (dropped, Fmt::Count)];
    let mut r = row(&[str_of(s, "name"), str_of(s, "team")], &[&slo[..], &money, &counts].concat());
    r[2].tone = if s["slo_met"].as_bool() == Some(true) { Tone::Good } else { Tone::Bad };
    flag(&mut r, 9, Tone::Warn);
    r
}

fn pool_row(p: &Value) -> Vec<Field> {
    let f = |k: &str| num(p, k);
    let nums = [
        (f("cost"), Fmt::Money),
        (f("idle_cost"), Fmt::Money),
        (f("allocation"), Fmt::Pct),
        (f("utilisation"), Fmt::Pct),
        (f("gpu_hours"), Fmt::Dec(1)),
        (f("peak_nodes"), Fmt::Count),
        (f("notices"), Fmt::Count),
        (f("reclaims"), Fmt::Count),
    ];
    let mut r = row(&[str_of(p, "name"), str_of(p, "capacity"), str_of(p, "accelerator")], &nums);
    flag(&mut r, 9, Tone::Warn);
    flag(&mut r, 10, Tone::Bad);
    r
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).filter(|x| x.is_finite()).unwrap_or(0.0)
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn pairs(v: &Value) -> Vec<(String, f64)> {
    v.as_object().map_or_else(Vec::new, |m| m.iter().map(|(k, x)| (k.clone(), x.as_f64().unwrap_or(0.0))).collect())
}

/// Digits in groups of three: 1,234,567.
fn grouped(whole: u64) -> String {
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn money(x: f64) -> String {
    let cents = (x.abs() * 100.0).round();
    if !cents.is_finite() || cents >= 1e17 {
        return if x.is_finite() { format!("{x:.3e}") } else { "-".into() };
    }
    let cents = cents as u64;
    format!("{}{}.{:02}", if x < 0.0 && cents > 0 { "-" } else { "" }, grouped(cents / 100), cents % 100)
}

fn count(x: f64) -> String {
    if x.is_finite() && x.abs() < 1e18 {
        format!("{}{}", if x <= -0.5 { "-" } else { "" }, grouped(x.abs().round() as u64))
    } else {
        "-".into()
    }
}

/// A short axis label: 950, 1.2k, 3.4M.
fn short(x: f64) -> String {
    match x.abs() {
        a if a >= 1e6 => format!("{:.1}M", x / 1e6),
        a if a >= 1e4 => format!("{:.0}k", x / 1e3),
        a if a >= 1e3 => format!("{:.1}k", x / 1e3),
        a if a >= 10.0 => format!("{x:.0}"),
        _ => format!("{x:.1}"),
    }
}

/// The unit the time axis is drawn in: seconds per unit and its name.
fn time_unit(horizon_s: f64) -> (f64, &'static str) {
    [(86_400.0, "d"), (3600.0, "h")].into_iter().find(|(s, _)| horizon_s >= 3.0 * s).unwrap_or((60.0, "min"))
}

fn duration(secs: f64) -> String {
    let (scale, unit) = time_unit(secs);
    format!("{} {unit}", short(secs / scale))
}

/// The columns that fit `width`, left to right, the sort column always among them.
fn visible(widths: &[u16], sort: usize, width: u16) -> Vec<usize> {
    let fit = |skip: usize, room: u32| {
        let (mut used, mut cols) = (0u32, Vec::new());
        for (i, w) in widths.iter().enumerate().filter(|(i, _)| *i != skip) {
            used += u32::from(*w) + u32::from(!cols.is_empty());
            if used > room {
                break;
            }
            cols.push(i);
        }
        cols
    };
    let cols = fit(usize::MAX, u32::from(width));
    if cols.is_empty() || cols.contains(&sort) || sort >= widths.len() {
        return if cols.is_empty() { vec![0] } else { cols };
    }
    let mut cols = fit(sort, u32::from(width).saturating_sub(u32::from(widths[sort]) + 1));
    cols.push(sort);
    cols.sort_unstable();
    cols
}

type Columns = (Vec<Vec<String>>, Vec<Vec<f64>>, usize);

/// The `texts` and `numbers` columns of a run folder's table and its row
/// count; nothing when the table is absent. (Polars' types are not named:
/// this crate reaches polars only through twin-export.)
fn columns(dir: &Path, table: &str, texts: &[&str], numbers: &[&str]) -> Result<Columns, String> {
    if !["parquet", "csv"].iter().any(|ext| dir.join(format!("{table}.{ext}")).is_file()) {
        return Ok((vec![vec![]; texts.len()], vec![vec![]; numbers.len()], 0));
    }
    let df = twin_export::explain::read_table(dir, table).map_err(|e| e.to_string())?;
    let e = |x: &dyn std::fmt::Display| format!("{}: {x}", dir.join(table).display());
    let text = |c: &str| -> Result<Vec<String>, String> {
        let col = df.column(c).map_err(|x| e(&x))?;
        Ok(match col.str() {
            Ok(a) => a.iter().map(|v| v.unwrap_or("").to_string()).collect(),
            // A name CSV reading took for a number: shown as written.
            Err(_) => (0..col.len()).map(|i| col.get(i).map(|v| v.to_string()).unwrap_or_default()).collect(),
        })
    };
    let number = |c: &str| -> Result<Vec<f64>, String> {
        let col = df.column(c).map_err(|x| e(&x))?;
        Ok(if let Ok(a) = col.f64() {
            a.iter().map(|v| v.unwrap_or(0.0)).collect()
        } else if let Ok(a) = col.i64() {
            a.iter().map(|v| v.unwrap_or(0) as f64).collect()
        } else if let Ok(a) = col.u32() {
            a.iter().map(|v| f64::from(v.unwrap_or(0))).collect()
        } else if let Ok(a) = col.u64() {
            a.iter().map(|v| v.unwrap_or(0) as f64).collect()
        } else if let Ok(a) = col.i32() {
            a.iter().map(|v| f64::from(v.unwrap_or(0))).collect()
        } else {
            // An empty table read from CSV has text columns.
            col.str().map_err(|x| e(&x))?.iter().map(|v| v.and_then(|s| s.trim().parse().ok()).unwrap_or(0.0)).collect()
        })
    };
    let texts = texts.iter().map(|c| text(c)).collect::<Result<Vec<_>, _>>()?;
    let numbers = numbers.iter().map(|c| number(c)).collect::<Result<Vec<_>, _>>()?;
    let rows = texts.iter().map(Vec::len).chain(numbers.iter().map(Vec::len)).min().unwrap_or(0);
    Ok((texts, numbers, rows))
}

impl ResultsScreen {
    /// Reads a folder written by `twin run --out DIR` (summary.json plus
    /// Parquet or CSV tables). Errors name the folder or file and say what
    /// is wrong. A table that is missing altogether reads as empty.
    pub fn open(dir: &Path) -> Result<ResultsScreen, String> {
        let (shown, path) = (dir.display(), dir.join("summary.json"));
        if !dir.is_dir() {
            return Err(format!("{shown}: no such folder"));
        }
        if !path.is_file() {
            return Err(format!("{shown}: no summary.json: is this a folder written by `twin run --out`?"));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let summary: Value = serde_json::from_str(&text).map_err(|e| format!("{}: not valid JSON: {e}", path.display()))?;
        if !summary["pools"].is_array() {
            return Err(format!("{}: not a run's summary (no pools): is this a folder written by `twin run --out`?", path.display()));
        }
        let mut b = Builder::default();
        let (t, x, n) = columns(dir, "pool_series", &["pool"], &["time_s", "gpus", "gpus_allocated", "price_per_node_hour"])?;
        (0..n).for_each(|i| b.pool_sample(x[0][i], &t[0][i], x[1][i], x[2][i], x[3][i]));
        let (t, x, n) = columns(dir, "service_series", &["service"], &["time_s", "queued", "ready"])?;
        (0..n).for_each(|i| b.service_sample(x[0][i], &t[0][i], x[1][i], x[2][i]));
        let (t, x, n) = columns(dir, "jobs", &["name", "team", "state", "pool"], &["gpus", "cost", "queued_hours", "preemptions"])?;
        (0..n).for_each(|i| b.job([&t[0][i], &t[1][i], &t[2][i], &t[3][i]], [x[0][i], x[1][i], x[2][i], x[3][i]]));
        let nums = ["ChargePeriodEndSeconds", "EffectiveCost", "ConsumedQuantity"];
        let (t, x, n) = columns(dir, "ledger", &["x_Team", "x_CapacityType"], &nums)?;
        (0..n).for_each(|i| b.ledger_row(x[0][i], &t[0][i], &t[1][i], x[1][i], x[2][i]));
        let name = dir.file_name().map_or_else(|| shown.to_string(), |n| n.to_string_lossy().into_owned());
        Ok(b.finish(name, &summary))
    }

    /// Builds from a run's output already in memory (the app shows a
    /// just-finished live run this way). Charts come from
    /// `output.records`' series, so they are empty where the run's options
    /// left series out or a watcher took them with `take_observations`.
    pub fn from_output(name: String, output: &twin_sim::RunOutput) -> ResultsScreen {
        let summary = serde_json::to_value(&output.summary).unwrap_or(Value::Null);
        let r = &output.records;
        let pool = |i: usize| r.pools.get(i);
        let mut b = Builder::default();
        for s in &r.pool_series {
            let name = pool(s.pool as usize).map_or("", |p| p.name.as_str());
            b.pool_sample(s.time.as_secs_f64(), name, f64::from(s.gpus), f64::from(s.gpus_allocated), s.price_per_node_hour);
        }
        for s in &r.service_series {
            let name = r.services.get(s.service as usize).map_or("", String::as_str);
            b.service_sample(s.time.as_secs_f64(), name, f64::from(s.queued), f64::from(s.ready));
        }
        for j in &r.jobs {
            let texts = [j.name.as_str(), j.team.as_str(), j.state, j.pool.as_deref().unwrap_or("")];
            b.job(texts, [f64::from(j.gpus), j.cost, j.queued_hours, f64::from(j.preemptions)]);
        }
        for l in &r.ledger {
            let team = l.workload.and_then(|w| r.workloads.get(w.index())).map_or("", |w| w.1.as_str());
            let cap = pool(l.pool.index()).map_or("", |p| p.capacity.as_str());
            b.ledger_row(l.period_end.as_secs_f64(), team, cap, l.account.total().to_currency(), l.account.gpu_hours());
        }
        b.finish(name, &summary)
    }

    /// Acts on a key's action; true when it changed something. ←/→ switch
    /// views; ↑/↓ pick a chart panel or a row; PgUp/PgDn move a page; Sort
    /// sorts the table by its next column.
    pub fn on_action(&mut self, action: Action) -> bool {
        let n = PANELS.len();
        let table = self.view.checked_sub(1).and_then(|i| self.tables.get_mut(i));
        match (action, table) {
            (Action::Left, _) => self.view = (self.view + VIEWS.len() - 1) % VIEWS.len(),
            (Action::Right, _) => self.view = (self.view + 1) % VIEWS.len(),
            (Action::Up | Action::PageUp, None) => self.panel = (self.panel + n - 1) % n,
            (Action::Down | Action::PageDown, None) => self.panel = (self.panel + 1) % n,
            (Action::Sort, Some(t)) => {
                t.sort = (t.sort + 1) % t.columns.len();
                let sort = t.sort;
                t.rows.sort_by(|a, b| order(a, b, sort));
                (t.selected, t.offset) = (0, 0.into());
            }
            (Action::Up | Action::Down | Action::PageUp | Action::PageDown, Some(t)) => {
                let page = t.page.get().max(1) as isize;
                let delta =
                    [(Action::Up, -1), (Action::Down, 1), (Action::PageUp, -page)].iter().find(|a| a.0 == action).map_or(page, |a| a.1);
                let to = t.selected.saturating_add_signed(delta).min(t.rows.len().saturating_sub(1));
                return std::mem::replace(&mut t.selected, to) != to;
            }
            _ => return false,
        }
        true
    }

    /// The keys hint for the status bar (default keys).
    pub fn hint(&self) -> &'static str {
        if self.view == 0 { "←→ view · ↑↓ chart" } else { "←→ view · ↑↓ PgUp PgDn row · o sort by next column" }
    }

    /// Draws the screen into `area`; any size, down to nothing.
    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let area = area.intersection(frame.area());
        if area.is_empty() {
            return;
        }
        let heading = u16::from(area.height >= 6);
        let [tabs, head, body] = Layout::vertical([Constraint::Length(1), Constraint::Length(heading), Constraint::Min(0)]).areas(area);
        let titles = VIEWS.iter().enumerate().map(|(i, v)| match i.checked_sub(1).and_then(|t| self.tables.get(t)) {
            Some(t) => format!("{v} {}", t.rows.len()),
            None => v.to_string(),
        });
        frame.render_widget(Tabs::new(titles).select(self.view).style(theme.dim).highlight_style(theme.title).divider("│"), tabs);
        let spans = self.heading.iter().enumerate().map(|(i, (s, t))| Span::styled(s, if i == 0 { theme.title } else { style(*t, theme) }));
        frame.render_widget(Paragraph::new(Line::from_iter(spans)), head);
        match self.view.checked_sub(1).and_then(|i| self.tables.get(i)) {
            Some(t) => render_table(frame, body, theme, t),
            None if body.width < 100 || body.height < 30 => self.render_panel(frame, body, theme, self.panel),
            None => {
                for (r, row) in Layout::vertical([Constraint::Ratio(1, 3); 3]).split(body).iter().enumerate() {
                    for (c, cell) in Layout::horizontal([Constraint::Ratio(1, 2); 2]).split(*row).iter().enumerate() {
                        self.render_panel(frame, *cell, theme, r * 2 + c);
                    }
                }
            }
        }
    }

    fn render_panel(&self, frame: &mut Frame, area: Rect, theme: &Theme, i: usize) {
        let note = if i == 0 { self.cost_note } else { "" };
        let title = Line::styled(format!(" {}{note} {}/{} ", PANELS.get(i).unwrap_or(&""), i + 1, PANELS.len()), theme.title);
        let block = Block::bordered().border_style(if i == self.panel { theme.title } else { theme.border }).title(title);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let Some(plot) = self.plots.get(i) else {
            return self.render_totals(frame, inner, theme);
        };
        if plot.lines.iter().all(|(_, s)| s.is_empty()) {
            return frame.render_widget(Paragraph::new(Line::styled("no samples recorded in this run", theme.dim)), inner);
        }
        let [chart_area, legend] = Layout::vertical([Constraint::Min(0), Constraint::Length(u16::from(inner.height >= 6))]).areas(inner);
        let ((scale, unit), columns) = (time_unit(self.horizon_s), usize::from(chart_area.width).max(1) * 2);
        let points = |s: &Series| s.points(0.0, self.horizon_s, columns).into_iter().map(|(t, v)| (t / scale, v)).collect::<Vec<_>>();
        let data: Vec<Vec<(f64, f64)>> = plot.lines.iter().map(|(_, s)| points(s)).collect();
        let top = plot.lines.iter().map(|(_, s)| s.max_in(0.0, self.horizon_s)).fold(0.0, f64::max);
        let top = if i == 1 {
            100.0
        } else if top > 0.0 {
            top * 1.05
        } else {
            1.0
        };
        let (end, label) = (self.horizon_s / scale, |s: String| Line::styled(s, theme.dim));
        let axis = |bounds, high: String| Axis::default().style(theme.border).bounds(bounds).labels([label("0".into()), label(high)]);
        let chart = Chart::new(
            data.iter()
                .enumerate()
                .map(|(k, d)| Dataset::default().marker(Marker::Braille).graph_type(GraphType::Line).style(theme.series(k)).data(d))
                .collect(),
        )
        .legend_position(None)
        .x_axis(axis([0.0, end], format!("{} {unit}", short(end))))
        .y_axis(axis([0.0, top], short(top)));
        frame.render_widget(chart, chart_area);
        let spans = plot.lines.iter().enumerate().flat_map(|(k, (name, s))| {
            [
                Span::styled("━ ", theme.series(k)),
                Span::styled(format!("{name} {}  ", s.last().map_or_else(String::new, short)), theme.text),
            ]
        });
        frame.render_widget(Paragraph::new(Line::from_iter(spans)), legend);
    }

    fn render_totals(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let mut lines = Vec::new();
        for (k, (title, items)) in self.totals.iter().enumerate() {
            lines.push(Line::styled(title.as_str(), theme.dim));
            for (name, v) in items {
                // The capacity types wear their colour in the cost chart.
                let colour = self.plots[0].lines.iter().position(|(n, _)| n == name).filter(|_| k == 0);
                let mark = Span::styled("━ ", colour.map_or(theme.dim, |c| theme.series(c)));
                lines.push(Line::from(vec![mark, Span::styled(format!("{name:<16} {:>14}", money(*v)), theme.text)]));
            }
        }
        frame.render_widget(Paragraph::new(lines), area);
    }
}

fn render_table(frame: &mut Frame, area: Rect, theme: &Theme, t: &Table) {
    let inner = if area.height >= 5 && area.width >= 20 {
        let title = format!(" {} {} · by {} {} ", t.rows.len(), t.noun, t.columns.get(t.sort).unwrap_or(&""), t.arrow());
        let block = Block::bordered().border_style(theme.border).title(Line::styled(title, theme.title));
        frame.render_widget(&block, area);
        block.inner(area)
    } else {
        area
    };
    if t.rows.is_empty() {
        return frame.render_widget(Paragraph::new(Line::styled(format!("no {} in this run", t.noun), theme.dim)), inner);
    }
    let shown = usize::from(inner.height.saturating_sub(1)).max(1);
    let selected = t.selected.min(t.rows.len() - 1);
    let offset = t.offset.get().min(selected).min(t.rows.len().saturating_sub(shown)).max((selected + 1).saturating_sub(shown));
    t.offset.set(offset);
    t.page.set(shown);
    let cols = visible(&t.widths, t.sort, inner.width);
    let align = |c: usize| if t.numeric.get(c).copied().unwrap_or(false) { Alignment::Right } else { Alignment::Left };
    let header = Row::new(cols.iter().map(|&c| {
        let name = format!("{}{}", t.columns.get(c).unwrap_or(&""), if c == t.sort { t.arrow() } else { "" });
        Cell::new(Line::styled(name, theme.title).alignment(align(c)))
    }));
    let rows = t.rows.iter().skip(offset).take(shown).map(|r| {
        Row::new(cols.iter().map(|&c| {
            r.get(c).map_or_else(Cell::default, |f| Cell::new(Line::styled(f.text.as_str(), style(f.tone, theme)).alignment(align(c))))
        }))
    });
    let widths = cols.iter().map(|&c| Constraint::Length(t.widths.get(c).copied().unwrap_or(1).min(inner.width)));
    let table = TableWidget::new(rows, widths).header(header).row_highlight_style(theme.selected);
    frame.render_stateful_widget(table, inner, &mut TableState::default().with_selected(Some(selected - offset)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ratatui::{Terminal, backend::TestBackend};

    /// Mixed-fleet (services, jobs, four capacity types) over one day, run once.
    fn output() -> &'static twin_sim::RunOutput {
        static OUT: std::sync::OnceLock<twin_sim::RunOutput> = std::sync::OnceLock::new();
        OUT.get_or_init(|| {
            let mut loaded = twin_inputs::load("mixed-fleet").unwrap();
            loaded.scenario.spec.horizon = twin_sim::scenario::Dur::secs(86_400);
            let options = twin_sim::RunOptions { record_requests: false, record_ledger: true, record_series: true, record_decisions: true };
            twin_sim::run(&loaded.scenario, 1, options).unwrap()
        })
    }

    fn draw(s: &ResultsScreen, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| s.render(f, f.area(), &Theme::choose(false, false))).unwrap();
        let buf = term.backend().buffer();
        (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n").collect()
    }

    fn view(s: &mut ResultsScreen, v: usize) {
        while s.view != v {
            s.on_action(Action::Right);
        }
    }

    #[test]
    fn from_output_draws_charts_and_tables_at_80x24_and_160x48() {
        let (mut s, sum) = (ResultsScreen::from_output("today".into(), output()), &output().summary);
        assert!(!output().records.jobs.is_empty() && !output().records.ledger.is_empty());
        let screen = draw(&s, 160, 48);
        assert!(sum.pools.iter().all(|p| screen.contains(&p.name)), "the pools in the allocation legend:\n{screen}");
        assert!(screen.contains("assistant") && screen.contains("router") && screen.contains("today"), "{screen}");
        assert!(screen.contains(&money(sum.cost.total)), "{screen}");
        let small = draw(&s, 80, 24);
        assert!(small.contains("cost by capacity type") && small.contains("spot"), "{small}");
        view(&mut s, 1);
        for (w, h) in [(80, 24), (160, 48)] {
            let screen = draw(&s, w, h);
            for svc in &sum.services {
                assert!(
                    screen.contains(&svc.name) && screen.contains(&money(svc.cost)),
                    "{} costs {}:\n{screen}",
                    svc.name,
                    money(svc.cost)
                );
            }
        }
        view(&mut s, 2);
        let screen = draw(&s, 80, 24);
        assert!(sum.pools.iter().all(|p| screen.contains(&p.name) && screen.contains(&money(p.cost))), "{screen}");
        view(&mut s, 3);
        let screen = draw(&s, 80, 24);
        assert!(screen.contains("pretrain-7b") && screen.contains("research"), "{screen}");
        view(&mut s, 4);
        let screen = draw(&s, 160, 48);
        assert!(screen.contains("(idle)") && screen.contains("product") && screen.contains("on-prem"), "{screen}");
        let end: f64 = s.plots[0].lines.iter().filter_map(|(_, l)| l.last()).sum();
        assert!((end - sum.cost.total).abs() <= 1e-6 * sum.cost.total, "the cumulated ledger ends at the total: {end}");
    }

    #[test]
    fn open_reads_back_what_from_output_shows() {
        let text = twin_inputs::load("mixed-fleet").unwrap().text;
        let mem = ResultsScreen::from_output("x".into(), output());
        for (parquet, csv) in [(true, false), (false, true)] {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("run-1");
            twin_export::write_run(&out, output(), &text, twin_export::Formats { parquet, csv }).unwrap();
            let disk = ResultsScreen::open(&out).unwrap();
            for (a, b) in mem.tables.iter().zip(&disk.tables) {
                assert_eq!(a.rows.len(), b.rows.len(), "{}", a.noun);
                for (fa, fb) in a.rows.iter().flatten().zip(b.rows.iter().flatten()) {
                    match (fa.num, fb.num) {
                        (Some(x), Some(y)) => assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{} {x} vs {y}", a.noun),
                        _ => assert_eq!(fa.text, fb.text, "{}", a.noun),
                    }
                }
            }
            let lines = |p: &Plot| p.lines.iter().map(|(n, s)| (n.clone(), s.bins().len())).collect::<Vec<_>>();
            assert!(mem.plots.iter().zip(&disk.plots).all(|(a, b)| lines(a) == lines(b)), "parquet {parquet}");
            assert_eq!(mem.horizon_s, disk.horizon_s);
            assert!(draw(&disk, 80, 24).contains("run-1"));
        }
    }

    #[test]
    fn a_folder_that_is_not_a_run_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let e = ResultsScreen::open(dir.path()).unwrap_err();
        assert!(e.contains(&dir.path().display().to_string()) && e.contains("no summary.json"), "{e}");
        let e = ResultsScreen::open(&dir.path().join("nope")).unwrap_err();
        assert!(e.contains("nope") && e.contains("no such folder"), "{e}");
        std::fs::write(dir.path().join("summary.json"), "{ not json").unwrap();
        let e = ResultsScreen::open(dir.path()).unwrap_err();
        assert!(e.contains("summary.json") && e.contains("not valid JSON"), "{e}");
        std::fs::write(dir.path().join("summary.json"), r#"{"pools": [], "services": []}"#).unwrap();
        std::fs::write(dir.path().join("jobs.csv"), "name,team\nx,y\n").unwrap();
        let e = ResultsScreen::open(dir.path()).unwrap_err();
        assert!(e.contains("jobs") && e.contains("state"), "a missing column is named: {e}");
        std::fs::write(dir.path().join("jobs.csv"), "name,team,state,pool,gpus,cost,queued_hours,preemptions\n7,t,queued,,8,1.5,2,0\n")
            .unwrap();
        assert_eq!(ResultsScreen::open(dir.path()).unwrap().tables[2].rows[0][0].text, "7", "a name that reads as a number");
        std::fs::remove_file(dir.path().join("jobs.csv")).unwrap();
        assert!(draw(&ResultsScreen::open(dir.path()).unwrap(), 80, 24).contains("no samples recorded"));
    }

    #[test]
    fn sort_orders_by_the_next_column_and_keys_move_the_selection() {
        let mut s = ResultsScreen::from_output("x".into(), output());
        assert!(!s.on_action(Action::Sort), "nothing to sort on the charts");
        assert!(s.on_action(Action::Down) && s.panel == 1);
        for v in 1..VIEWS.len() {
            view(&mut s, v);
            let before = s.tables[v - 1].sort;
            for k in 1..=s.tables[v - 1].columns.len() {
                assert!(s.on_action(Action::Sort));
                let t = &s.tables[v - 1];
                assert_eq!(t.sort, (before + k) % t.columns.len());
                assert!(t.rows.windows(2).all(|w| order(&w[0], &w[1], t.sort) != Ordering::Greater), "{} by {}", t.noun, t.columns[t.sort]);
                draw(&s, 80, 24);
            }
        }
        view(&mut s, 1);
        s.tables[0].sort = 8;
        s.on_action(Action::Sort);
        let dropped: Vec<f64> = s.tables[0].rows.iter().filter_map(|r| r[9].num).collect();
        assert!(dropped.windows(2).all(|w| w[0] >= w[1]), "numbers largest first: {dropped:?}");
        assert!(!s.on_action(Action::Up), "already at the top");
        view(&mut s, 3);
        draw(&s, 80, 12);
        let rows = s.tables[2].rows.len();
        assert!(s.on_action(Action::PageDown));
        assert_eq!(s.tables[2].selected, s.tables[2].page.get().min(rows - 1));
        while s.on_action(Action::Down) {}
        assert_eq!(s.tables[2].selected, rows - 1);
        let screen = draw(&s, 80, 12);
        assert!(screen.contains(&s.tables[2].rows[rows - 1][0].text), "the last row scrolled into view:\n{screen}");
        assert!(s.on_action(Action::Left) && s.view == 2 && !s.hint().is_empty());
        let empty = twin_sim::RunOutput { records: Default::default(), ..output().clone() };
        assert!(draw(&ResultsScreen::from_output("empty".into(), &empty), 80, 24).contains("totals only"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_keys_at_any_size_draw_without_panicking(keys in proptest::collection::vec(0..Action::ALL.len(), 0..40), w in 0u16..200, h in 0u16..60) {
            let mut s = ResultsScreen::from_output("x".into(), output());
            for (i, k) in keys.into_iter().enumerate() {
                s.on_action(Action::ALL[k]);
                if i % 4 == 0 {
                    for (w, h) in [(w, h), (10, 3), (0, 0), (1, 1), (3, 10)] {
                        draw(&s, w, h);
                    }
                }
            }
            draw(&s, w, h);
        }
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(
            (money(1234567.891), money(-0.004), money(f64::NAN), count(1e3)),
            ("1,234,567.89".into(), "0.00".into(), "-".into(), "1,000".into())
        );
        assert_eq!((visible(&[5, 5, 5, 5], 3, 12), visible(&[50], 0, 10)), (vec![0, 3], vec![0]));
        fn send<T: Send>() {}
        send::<ResultsScreen>();
    }
}
