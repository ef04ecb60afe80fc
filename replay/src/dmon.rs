//! `nvidia-smi dmon` text: whitespace-separated columns under `#` header lines.
//!
//! ```text
//! #Date        Time         gpu    pwr  gtemp  mtemp     sm    mem ...   fb ...
//! #YYYYMMDD    HH:MM:SS     Idx      W      C      C      %      % ...   MB ...
//!  20261127    01:58:59       0     77     36     40      0      0 ...    0 ...
//! ```
//!
//! A `#` line naming a `gpu` column is a header; the `#` line right after it
//! gives the units. dmon reprints both every so often, and its columns follow
//! `-s` and `-o`, so each header sets the layout of the rows below it. Commas
//! between fields (`--format csv`) are read as spaces. `-` (or `N/A`) is no value.
//!
//! | dmon | canonical |
//! | --- | --- |
//! | `gpu` | GPU index |
//! | `pwr` (W) | [`Field::Power`] |
//! | `gtemp`, `mtemp` (C) | [`Field::Temp`], [`Field::MemTemp`] |
//! | `sm`, `mem` (%) | [`Field::UtilGpu`], [`Field::UtilMem`] |
//! | `pclk`, `mclk` (MHz) | [`Field::SmClock`], [`Field::MemClock`] |
//! | `fb` (MB, which dmon means as MiB) | [`Field::MemUsed`] |
//!
//! Other columns are listed in [`ReadReport::ignored_columns`]. A mapped value
//! under a unit other than the one above is read as is and counted in
//! [`ReadReport::unit_mismatches`].
//!
//! Time: `Date` (`YYYYMMDD`) and `Time` (`HH:MM:SS`), read as UTC. Without a
//! `Date` column (`-o T`) the date is unknown and times are counted from
//! midnight of 1970-01-01, a day added whenever the clock goes back by more
//! than 12 hours (midnight passed). Without a `Time` column, rows are grouped
//! into intervals, a new one whenever a GPU index repeats, and interval k lies
//! k × [`ReadOptions::scrape_interval_ns`] after the date's midnight (dmon's
//! `-d` defaults to 1 s, as does the option).
//!
//! A last line with fewer fields than its header and no final newline (a
//! logger killed mid-write) sets [`ReadReport::truncated_last_line`] and is
//! dropped, counted in [`ReadReport::skipped`] but not as an error, even with
//! [`ReadOptions::strict`].

use crate::{Field, ReadOptions, ReadReport, ReplayError, Sample};
use twin_calendar::{parse_clock, parse_date};

const DAY_NS: i64 = 86_400_000_000_000;

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Col {
    Date,
    Time,
    Gpu,
    /// A measurement and the unit dmon writes for it.
    Value(Field, &'static str),
    Ignored,
}

fn column(name: &str) -> Col {
    match name.to_ascii_lowercase().as_str() {
        "date" => Col::Date,
        "time" => Col::Time,
        "gpu" => Col::Gpu,
        "pwr" => Col::Value(Field::Power, "W"),
        "gtemp" => Col::Value(Field::Temp, "C"),
        "mtemp" => Col::Value(Field::MemTemp, "C"),
        "sm" => Col::Value(Field::UtilGpu, "%"),
        "mem" => Col::Value(Field::UtilMem, "%"),
        "pclk" => Col::Value(Field::SmClock, "MHz"),
        "mclk" => Col::Value(Field::MemClock, "MHz"),
        "fb" => Col::Value(Field::MemUsed, "MB"),
        _ => Col::Ignored,
    }
}

/// The columns of the current header.
struct Layout {
    names: Vec<String>,
    cols: Vec<Col>,
    /// Per column: the units line gave another unit than expected.
    odd_unit: Vec<bool>,
}

impl Layout {
    fn new(names: &[&str], report: &mut ReadReport) -> Layout {
        let cols: Vec<Col> = names.iter().map(|n| column(n)).collect();
        for (name, col) in names.iter().zip(&cols) {
            if *col == Col::Ignored && !report.ignored_columns.iter().any(|c| c == name) {
                report.ignored_columns.push((*name).to_string());
            }
        }
        Layout { names: names.iter().map(|n| (*n).to_string()).collect(), odd_unit: vec![false; cols.len()], cols }
    }

    fn units(&mut self, units: &[&str]) {
        if units.len() != self.cols.len() {
            return;
        }
        for ((odd, col), unit) in self.odd_unit.iter_mut().zip(&self.cols).zip(units) {
            *odd = matches!(col, Col::Value(_, want) if !unit.eq_ignore_ascii_case(want));
        }
    }
}

/// Where the time axis stands, for columns that do not give it whole.
#[derive(Default)]
struct Clock {
    /// Interval count when there is no `Time` column.
    interval: i64,
    /// GPUs seen in the current interval.
    seen: Vec<u32>,
    /// Days passed when there is no `Date` column.
    days: i64,
    /// The previous row's time of day.
    prev: Option<i64>,
}

type Bad = (Option<String>, String);

fn split(line: &str) -> Vec<&str> {
    line.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()).collect()
}

fn number(s: &str) -> Result<Option<f64>, String> {
    if s == "-" || s.eq_ignore_ascii_case("n/a") {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(format!("`{s}` is not a number")),
    }
}

/// One data row; the count of values read under an unexpected unit beside it.
fn row(l: &Layout, fields: &[&str], clock: &mut Clock, opts: &ReadOptions) -> Result<(Sample, usize), Bad> {
    if fields.len() != l.cols.len() {
        return Err((None, format!("{} fields where the header names {}", fields.len(), l.cols.len())));
    }
    let (mut date, mut time, mut gpu) = (None, None, None);
    let mut s = Sample::default();
    let mut odd = 0;
    for (((col, name), odd_unit), f) in l.cols.iter().zip(&l.names).zip(&l.odd_unit).zip(fields) {
        let bad = |m: String| (Some(name.clone()), m);
        match *col {
            Col::Date => date = Some(parse_date(f).ok_or_else(|| bad(format!("`{f}` is not a YYYYMMDD date")))?),
            Col::Time => time = Some(parse_clock(f).ok_or_else(|| bad(format!("`{f}` is not an HH:MM:SS time")))?),
            Col::Gpu => gpu = Some(f.parse::<u32>().map_err(|_| bad(format!("`{f}` is not a GPU index")))?),
            Col::Value(field, _) => {
                if let Some(v) = number(f).map_err(bad)? {
                    s.set(field, v);
                    odd += usize::from(*odd_unit);
                }
            }
            Col::Ignored => {}
        }
    }
    let gpu = gpu.ok_or((None, "no gpu index".to_string()))?;
    let of_day = match time {
        Some(t) => {
            if date.is_none() && clock.prev.is_some_and(|p| t + DAY_NS / 2 < p) {
                clock.days += 1;
            }
            clock.prev = Some(t);
            t
        }
        None => {
            if clock.seen.contains(&gpu) {
                clock.interval += 1;
                clock.seen.clear();
            }
            clock.seen.push(gpu);
            clock.interval.saturating_mul(opts.scrape_interval_ns)
        }
    };
    let day = date.unwrap_or(clock.days);
    s.time_ns = day
        .checked_mul(DAY_NS)
        .and_then(|d| d.checked_add(of_day))
        .ok_or_else(|| (Some("Date".to_string()), "the date is out of range".to_string()))?;
    s.gpu = gpu;
    Ok((s, odd))
}

/// Reads `nvidia-smi dmon` text into samples, in file order.
///
/// Rows that cannot be read are skipped and reported with their line, or with
/// [`ReadOptions::strict`] end the read with a [`ReplayError::Format`]. Data
/// before any header is a [`ReplayError::Format`] either way: it is not dmon output.
pub fn read(text: &str, origin: &str, opts: &ReadOptions) -> Result<(Vec<Sample>, ReadReport), ReplayError> {
    let mut report = ReadReport { format: crate::Format::Dmon.name().into(), ..ReadReport::default() };
    let mut samples = Vec::new();
    let mut layout: Option<Layout> = None;
    let mut after_header = false;
    let mut clock = Clock::default();
    let last = crate::text::line_count(text);
    let cut = !text.ends_with('\n');
    let error = |line, field, message, hint: &str| ReplayError::Format {
        origin: origin.to_string(),
        line,
        field,
        message,
        hint: Some(hint.to_string()),
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let tokens = split(rest);
            if tokens.iter().any(|t| t.eq_ignore_ascii_case("gpu")) {
                layout = Some(Layout::new(&tokens, &mut report));
                after_header = true;
            } else if let (true, Some(l)) = (after_header, layout.as_mut()) {
                l.units(&tokens);
                after_header = false;
            }
            continue;
        }
        after_header = false;
        let Some(l) = &layout else {
            return Err(error(
                n,
                None,
                "a data line before any `#` header naming the columns".into(),
                "this is not `nvidia-smi dmon` output, which starts with `#Date Time gpu pwr ...` or `# gpu pwr ...`; pass the right --format",
            ));
        };
        report.lines += 1;
        let fields = split(line);
        if n == last && cut && fields.len() < l.cols.len() {
            report.truncated_last_line = true;
            report.skipped += 1;
            continue;
        }
        match row(l, &fields, &mut clock, opts) {
            Ok((s, odd)) => {
                report.unit_mismatches += odd;
                samples.push(s);
            }
            Err((field, message)) if opts.strict => {
                return Err(error(n, field, message, "fix or remove the row, or read without --strict to skip it"));
            }
            Err((field, message)) => report.skip(n, field.as_deref(), message),
        }
    }
    Ok((samples, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEAD: &str = "#Date        Time         gpu    pwr  gtemp  mtemp     sm    mem    enc    dec    jpg    ofa   mclk   pclk  pviol  tviol     fb   bar1   ccpm  sbecc  dbecc    pci  rxpci  txpci \n\
                        #YYYYMMDD    HH:MM:SS     Idx      W      C      C      %      %      %      %      %      %    MHz    MHz      %   bool     MB     MB     MB   errs   errs   errs   MB/s   MB/s \n";
    const ROWS: &str = " 20261127    01:58:59       0     77     36     40      0      0      0      0      0      0   3201    345      0      0      0      1      0      0      0      0      0      0 \n \
                        20261127    01:58:59       1    701     63     70    100     54      0      0      0      0   3201   1980      0      0   1011   1012      0      0      0      0      0      0 \n \
                        20261127    01:59:00       0     79     36     40      2      1      0      0      0      0   3201    345      0      0      0      1      0      0      0      0      0      0 \n";

    fn sample() -> String {
        format!("{HEAD}{ROWS}")
    }

    fn ok(text: &str) -> (Vec<Sample>, ReadReport) {
        read(text, "dmon.txt", &ReadOptions::default()).unwrap()
    }

    #[test]
    fn reads_a_realistic_sample_with_units() {
        let (s, r) = ok(&sample());
        assert_eq!((s.len(), r.lines, r.skipped, r.unit_mismatches), (3, 3, 0, 0));
        assert_eq!(r.format, "dmon");
        let t0 = crate::timefmt::parse_timestamp("2026/11/27 01:58:59").unwrap();
        assert_eq!((s[0].time_ns, s[0].gpu), (t0, 0));
        assert_eq!((s[1].time_ns, s[1].gpu), (t0, 1));
        assert_eq!(s[2].time_ns, t0 + 1_000_000_000);
        let g1 = &s[1];
        for (f, v) in [
            (Field::Power, 701.0),
            (Field::Temp, 63.0),
            (Field::MemTemp, 70.0),
            (Field::UtilGpu, 100.0),
            (Field::UtilMem, 54.0),
            (Field::MemClock, 3201.0),
            (Field::SmClock, 1980.0),
            (Field::MemUsed, 1011.0),
        ] {
            assert_eq!(g1.get(f), Some(v), "{f:?}");
        }
        assert_eq!((g1.get(Field::Energy), g1.get(Field::SmActive), g1.throttle_reasons, g1.gpu_name.clone()), (None, None, None, None));
        let ignored = ["enc", "dec", "jpg", "ofa", "pviol", "tviol", "bar1", "ccpm", "sbecc", "dbecc", "pci", "rxpci", "txpci"];
        assert_eq!(r.ignored_columns, ignored);
    }

    #[test]
    fn the_crate_reader_detects_dmon() {
        let (t, r) = crate::read(&sample(), "d", crate::Format::Auto, &ReadOptions::default()).unwrap();
        assert_eq!((r.format.as_str(), t.len(), t.gpus()), ("dmon", 3, vec![0, 1]));
    }

    #[test]
    fn repeated_headers_are_not_data_and_a_new_column_set_takes_over() {
        let text = format!("{HEAD}{ROWS}{HEAD}{ROWS}# gpu    pwr     fb\n# Idx      W     MB\n    0    100    512\n");
        let (s, r) = ok(&text);
        assert_eq!((s.len(), r.lines, r.skipped), (7, 7, 0));
        assert_eq!(r.ignored_columns.len(), 13, "listed once: {:?}", r.ignored_columns);
        // `# gpu` output has no time: one interval from 1970-01-01.
        assert_eq!(
            (s[6].time_ns, s[6].get(Field::Power), s[6].get(Field::MemUsed), s[6].get(Field::Temp)),
            (0, Some(100.0), Some(512.0), None)
        );
    }

    #[test]
    fn dash_means_no_value() {
        let text = "# gpu pwr gtemp mtemp sm\n# Idx W C C %\n 0 55 30 - -\n 1 - - - 7\n";
        let (s, r) = ok(text);
        assert_eq!(r.skipped, 0);
        assert_eq!((s[0].get(Field::Power), s[0].get(Field::MemTemp), s[0].get(Field::UtilGpu)), (Some(55.0), None, None));
        assert_eq!((s[1].get(Field::Power), s[1].get(Field::UtilGpu)), (None, Some(7.0)));
    }

    #[test]
    fn time_only_counts_from_1970_and_passes_midnight() {
        let text = "#Time gpu pwr\n#HH:MM:SS Idx W\n23:59:59 0 1\n00:00:00 0 2\n00:00:01 0 3\n";
        let (s, _) = ok(text);
        let t: Vec<i64> = s.iter().map(|s| s.time_ns).collect();
        assert_eq!(t, [86_399_000_000_000, DAY_NS, DAY_NS + 1_000_000_000]);
    }

    #[test]
    fn without_time_rows_group_into_intervals() {
        let text = "# gpu pwr\n# Idx W\n 0 1\n 1 2\n 0 3\n 1 4\n";
        let opts = ReadOptions { scrape_interval_ns: 5_000_000_000, ..ReadOptions::default() };
        let (s, _) = read(text, "d", &opts).unwrap();
        let t: Vec<(i64, u32)> = s.iter().map(|s| (s.time_ns, s.gpu)).collect();
        assert_eq!(t, [(0, 0), (0, 1), (5_000_000_000, 0), (5_000_000_000, 1)]);
    }

    #[test]
    fn other_units_are_counted() {
        let text = "# gpu pwr gtemp\n# Idx mW F\n 0 1000 - \n 0 900 100\n";
        let (s, r) = ok(text);
        assert_eq!((s.len(), r.unit_mismatches), (2, 3));
    }

    #[test]
    fn data_before_a_header_is_not_dmon() {
        let e = read(" 0 77 36\n", "x.txt", &ReadOptions::default()).unwrap_err();
        let ReplayError::Format { line, hint, .. } = &e else { panic!("{e}") };
        assert_eq!(*line, 1);
        assert!(hint.as_deref().unwrap_or_default().contains("not `nvidia-smi dmon`"), "{e}");
    }

    #[test]
    fn bad_rows_are_skipped_with_their_lines() {
        let text = format!(
            "{HEAD}{ROWS} 20261127 01:59:01 0 77\n 20261127 01:59:02 x 77 36 40 0 0 0 0 0 0 3201 345 0 0 0 1 0 0 0 0 0 0\n 20261127 01:59:03 0 7o 36 40 0 0 0 0 0 0 3201 345 0 0 0 1 0 0 0 0 0 0\n 2026112 01:59:04 0 77 36 40 0 0 0 0 0 0 3201 345 0 0 0 1 0 0 0 0 0 0\n 20261127 1:59:05 0 77 36 40 0 0 0 0 0 0 3201 345 0 0 0 1 0 0 0 0 0 0\n{}",
            ROWS.lines().next().unwrap_or_default()
        );
        let (s, r) = ok(&text);
        assert_eq!((s.len(), r.lines, r.skipped), (4, 9, 5));
        let got: Vec<(usize, Option<&str>)> = r.problems.iter().map(|p| (p.line, p.field.as_deref())).collect();
        assert_eq!(got, [(6, None), (7, Some("gpu")), (8, Some("pwr")), (9, Some("Date")), (10, Some("Time"))]);
        assert!(!r.truncated_last_line, "a full last row without newline is kept");
    }

    #[test]
    fn strict_mode_stops_at_the_first_bad_row() {
        let text = format!("{HEAD}{ROWS} 20261127 01:59:02 0 7o 36 40 0 0 0 0 0 0 3201 345 0 0 0 1 0 0 0 0 0 0\n");
        let e = read(&text, "d.txt", &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap_err();
        let ReplayError::Format { origin, line, field, .. } = &e else { panic!("{e}") };
        assert_eq!((origin.as_str(), *line, field.as_deref()), ("d.txt", 6, Some("pwr")));
        assert!(e.to_string().starts_with("d.txt:6: `pwr`: "), "{e}");
    }

    #[test]
    fn a_cut_last_line_is_flagged_not_an_error() {
        let text = format!("{HEAD}{ROWS} 20261127    01:59:01       0     77     36");
        for strict in [false, true] {
            let (s, r) = read(&text, "d", &ReadOptions { strict, ..ReadOptions::default() }).unwrap();
            assert_eq!((s.len(), r.lines, r.skipped, r.problems.len(), r.truncated_last_line), (3, 4, 1, 0, true));
        }
        // The same short row with its newline is an ordinary bad row.
        let (_, r) = ok(&format!("{text}\n"));
        assert_eq!((r.skipped, r.truncated_last_line), (1, false));
    }

    #[test]
    fn reads_the_h200_recording() {
        let Some(text) = crate::shared_data("gpu_telemetry", "h200_nvidia_smi_dmon_1s.txt") else { return };
        let (s, r) = ok(&text);
        assert!((120..=135).contains(&s.len()), "{} rows", s.len());
        assert_eq!((r.skipped, r.lines, r.unit_mismatches), (0, s.len(), 0));
        assert!(s.iter().all(|s| s.gpu == 0));
        assert!(s.iter().all(|s| s.get(Field::Power).is_some_and(|p| (70.0..=710.0).contains(&p))));
        assert!(s.windows(2).all(|w| w[0].time_ns < w[1].time_ns));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".*", strict in any::<bool>()) {
            let _ = read(&text, "p", &ReadOptions { strict, ..ReadOptions::default() });
        }

        #[test]
        fn mangled_samples_never_panic(edits in prop::collection::vec((any::<usize>(), 0usize..8, ".{0,6}"), 1..6), strict in any::<bool>()) {
            let text = crate::mangle(&sample(), &edits);
            let _ = read(&text, "p", &ReadOptions { strict, scrape_interval_ns: i64::MAX });
        }
    }
}
