//! DCGM exporter metrics, in the Prometheus text exposition format.
//!
//! ```text
//! # HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
//! # TYPE DCGM_FI_DEV_GPU_UTIL gauge
//! DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-5fd4",modelName="NVIDIA H100 80GB HBM3"} 45
//! DCGM_FI_DEV_POWER_USAGE{gpu="0",modelName="NVIDIA H100 80GB HBM3"} 312.5 1732665600000
//! ```
//!
//! | metric | canonical |
//! | --- | --- |
//! | `DCGM_FI_DEV_GPU_UTIL` (%) | [`Field::UtilGpu`] |
//! | `DCGM_FI_DEV_MEM_COPY_UTIL` (%) | [`Field::UtilMem`] |
//! | `DCGM_FI_PROF_SM_ACTIVE` (ratio) | [`Field::SmActive`], × 100 |
//! | `DCGM_FI_DEV_FB_USED` (MiB) | [`Field::MemUsed`] |
//! | `DCGM_FI_DEV_FB_TOTAL`, or `FB_USED` + `FB_FREE` (+ `FB_RESERVED`) (MiB) | [`Field::MemTotal`] |
//! | `DCGM_FI_DEV_POWER_USAGE` (W) | [`Field::Power`] |
//! | `DCGM_FI_DEV_ENFORCED_POWER_LIMIT` (W) | [`Field::PowerLimit`] |
//! | `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION` (mJ) | [`Field::Energy`], ÷ 1000 |
//! | `DCGM_FI_DEV_GPU_TEMP`, `DCGM_FI_DEV_MEMORY_TEMP` (°C) | [`Field::Temp`], [`Field::MemTemp`] |
//! | `DCGM_FI_DEV_SM_CLOCK`, `DCGM_FI_DEV_MEM_CLOCK` (MHz) | [`Field::SmClock`], [`Field::MemClock`] |
//! | `DCGM_FI_DEV_CLOCK_THROTTLE_REASONS`, `DCGM_FI_DEV_CLOCKS_EVENT_REASONS` | [`Sample::throttle_reasons`] |
//!
//! Other metrics (`DCGM_FI_PROF_GR_ENGINE_ACTIVE` among them) are listed,
//! once and sorted, in [`ReadReport::ignored_columns`]. The `gpu` label is
//! the GPU index and `modelName` its name. `NaN` and infinities are no value.
//!
//! Samples: one per (time, GPU), in order of first appearance. A line's time
//! is its Prometheus timestamp (ms since the epoch) when it has one.
//! Otherwise the lines are split into scrapes: a new scrape starts when a
//! (metric, `gpu`) pair already seen in the current one appears again, and
//! scrape k (from 0) is at k × [`ReadOptions::scrape_interval_ns`] after the
//! epoch.
//!
//! A line that cannot be read (no value, a bad number, unclosed braces or
//! quotes, a mapped metric without a `gpu` label) is skipped and reported, or
//! ends a [`ReadOptions::strict`] read. An unreadable last line without a
//! final newline is taken as cut short: it sets
//! [`ReadReport::truncated_last_line`] and counts in [`ReadReport::skipped`],
//! but is no error even when strict.
//!
//! The line reader ([`parse_line`]) and the metric mapping ([`target`]) are
//! public for readers that keep what [`read`] drops (the host, UUID and pod
//! labels of a live scrape: `twin-shadow`).

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::{Field, ReadOptions, ReadReport, ReplayError, Sample};

/// Where a DCGM metric goes in a [`Sample`] (the table above).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// A field, after multiplying the metric's value by the factor.
    Value(Field, f64),
    /// [`Sample::throttle_reasons`], a bitmask.
    Throttle,
    /// Free framebuffer (MiB), a part of [`Field::MemTotal`].
    FbFree,
    /// Reserved framebuffer (MiB), a part of [`Field::MemTotal`].
    FbReserved,
    /// Total framebuffer (MiB): [`Field::MemTotal`] itself.
    FbTotal,
}

/// Where `metric` goes, or `None` for a metric Twin does not keep.
pub fn target(metric: &str) -> Option<Target> {
    let t = match metric {
        "DCGM_FI_DEV_GPU_UTIL" => Target::Value(Field::UtilGpu, 1.0),
        "DCGM_FI_DEV_MEM_COPY_UTIL" => Target::Value(Field::UtilMem, 1.0),
        "DCGM_FI_PROF_SM_ACTIVE" => Target::Value(Field::SmActive, 100.0),
        "DCGM_FI_DEV_FB_USED" => Target::Value(Field::MemUsed, 1.0),
        "DCGM_FI_DEV_FB_FREE" => Target::FbFree,
        "DCGM_FI_DEV_FB_RESERVED" => Target::FbReserved,
        "DCGM_FI_DEV_FB_TOTAL" => Target::FbTotal,
        "DCGM_FI_DEV_POWER_USAGE" => Target::Value(Field::Power, 1.0),
        "DCGM_FI_DEV_ENFORCED_POWER_LIMIT" => Target::Value(Field::PowerLimit, 1.0),
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" => Target::Value(Field::Energy, 1e-3),
        "DCGM_FI_DEV_GPU_TEMP" => Target::Value(Field::Temp, 1.0),
        "DCGM_FI_DEV_MEMORY_TEMP" => Target::Value(Field::MemTemp, 1.0),
        "DCGM_FI_DEV_SM_CLOCK" => Target::Value(Field::SmClock, 1.0),
        "DCGM_FI_DEV_MEM_CLOCK" => Target::Value(Field::MemClock, 1.0),
        "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS" | "DCGM_FI_DEV_CLOCKS_EVENT_REASONS" => Target::Throttle,
        _ => return None,
    };
    Some(t)
}

/// One exposition line, read by [`parse_line`].
#[derive(Clone, Debug, PartialEq)]
pub struct Line<'a> {
    /// The metric name.
    pub metric: &'a str,
    /// Its labels, values unescaped, in the order written.
    pub labels: Labels<'a>,
    /// The value as written (`NaN` and infinities included).
    pub value: f64,
    /// The Prometheus timestamp (ms since the epoch), when the line has one.
    pub ms: Option<i64>,
}

impl Line<'_> {
    /// The value of label `name`, if the line has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Why a line cannot be read: the field (metric, label or `timestamp`) at
/// fault, when there is one, and what is wrong.
pub type Bad = (Option<String>, String);

fn bad(field: &str, message: impl Into<String>) -> Bad {
    (Some(field.to_string()), message.into())
}

fn name_len(s: &str) -> usize {
    s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(s.len())
}

/// Label names and their unescaped values.
pub type Labels<'a> = Vec<(&'a str, String)>;

/// The labels after `{`, and the text after the closing `}`.
fn labels(mut r: &str) -> Result<(Labels<'_>, &str), Bad> {
    let mut out = Vec::new();
    loop {
        r = r.trim_start();
        if let Some(rest) = r.strip_prefix('}') {
            return Ok((out, rest));
        }
        let n = name_len(r);
        if n == 0 {
            return Err((None, if r.is_empty() { "unclosed `{`".into() } else { "expected a label name".into() }));
        }
        let (name, rest) = r.split_at(n);
        let rest = rest.trim_start().strip_prefix('=').ok_or_else(|| bad(name, "expected `=`"))?;
        let rest = rest.trim_start().strip_prefix('"').ok_or_else(|| bad(name, "expected a quoted value"))?;
        let mut value = String::new();
        let mut chars = rest.chars();
        loop {
            match chars.next() {
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c @ ('"' | '\\')) => value.push(c),
                    Some(c) => value.extend(['\\', c]),
                    None => return Err(bad(name, "unclosed quoted value")),
                },
                Some(c) => value.push(c),
                None => return Err(bad(name, "unclosed quoted value")),
            }
        }
        out.push((name, value));
        r = chars.as_str().trim_start();
        if let Some(rest) = r.strip_prefix('}') {
            return Ok((out, rest));
        }
        r = r.strip_prefix(',').ok_or_else(|| (None, "expected `,` or `}` after a label".to_string()))?;
    }
}

/// Reads one exposition line (trimmed; not blank, not a `#` comment).
pub fn parse_line(s: &str) -> Result<Line<'_>, Bad> {
    let n = name_len(s);
    if n == 0 || s.starts_with(|c: char| c.is_ascii_digit()) {
        return Err((None, "expected a metric name".into()));
    }
    let (metric, rest) = s.split_at(n);
    let rest = rest.trim_start();
    let (labels, rest) = match rest.strip_prefix('{') {
        Some(r) => labels(r)?,
        None => (Vec::new(), rest),
    };
    let mut words = rest.split_whitespace();
    let value = words.next().ok_or_else(|| bad(metric, "no value"))?;
    let value = value.parse::<f64>().map_err(|_| bad(metric, format!("`{value}` is not a number")))?;
    let ms = match words.next() {
        Some(t) => Some(t.parse::<i64>().map_err(|_| bad("timestamp", format!("`{t}` is not a timestamp in ms")))?),
        None => None,
    };
    if let Some(extra) = words.next() {
        return Err((None, format!("unexpected `{extra}` after the timestamp")));
    }
    Ok(Line { metric, labels, value, ms })
}

/// The scrape counter, for lines without a timestamp.
#[derive(Default)]
struct Scrapes {
    k: i64,
    seen: HashSet<(String, u32)>,
}

/// Samples by (time, GPU), and the framebuffer parts that sum to a total.
#[derive(Default)]
struct Builder {
    samples: Vec<Sample>,
    /// Free, reserved and total MiB, by sample.
    fb: Vec<[Option<f64>; 3]>,
    at: HashMap<(i64, u32), usize>,
}

impl Builder {
    fn get(&mut self, time_ns: i64, gpu: u32) -> usize {
        *self.at.entry((time_ns, gpu)).or_insert_with(|| {
            self.samples.push(Sample::new(time_ns, gpu));
            self.fb.push([None; 3]);
            self.samples.len() - 1
        })
    }

    fn finish(mut self) -> Vec<Sample> {
        for (s, [free, reserved, total]) in self.samples.iter_mut().zip(self.fb) {
            let sum = s.get(Field::MemUsed).zip(free).map(|(u, f)| u + f + reserved.unwrap_or(0.0));
            if let Some(t) = total.or(sum) {
                s.set(Field::MemTotal, t);
            }
        }
        self.samples
    }
}

/// Files one read line into its sample.
fn apply(l: &Line<'_>, b: &mut Builder, sc: &mut Scrapes, opts: &ReadOptions) -> Result<(), Bad> {
    let Some(target) = target(l.metric) else { return Ok(()) };
    let gpu = l.label("gpu").ok_or_else(|| bad("gpu", format!("`{}` has no gpu label", l.metric)))?;
    let gpu = gpu.trim().parse::<u32>().map_err(|_| bad("gpu", format!("`{gpu}` is not a GPU index")))?;
    let v = Some(l.value).filter(|v| v.is_finite());
    let throttle = match (target, v) {
        (Target::Throttle, Some(v)) if v < 0.0 || v.fract() != 0.0 || v >= 18_446_744_073_709_551_616.0 => {
            return Err(bad(l.metric, format!("`{v}` is not a bitmask")));
        }
        // In range and whole: the cast is exact.
        (Target::Throttle, Some(v)) => Some(v as u64),
        _ => None,
    };
    let time_ns = match l.ms {
        Some(ms) => ms.checked_mul(1_000_000).ok_or_else(|| bad("timestamp", format!("{ms} ms is out of range")))?,
        None => {
            if !sc.seen.insert((l.metric.to_string(), gpu)) {
                sc.k += 1;
                sc.seen.clear();
                sc.seen.insert((l.metric.to_string(), gpu));
            }
            sc.k.saturating_mul(opts.scrape_interval_ns)
        }
    };
    let i = b.get(time_ns, gpu);
    let (Some(s), Some(fb)) = (b.samples.get_mut(i), b.fb.get_mut(i)) else { return Ok(()) };
    if s.gpu_name.is_none() {
        s.gpu_name = l.label("modelName").filter(|n| !n.is_empty()).map(str::to_string);
    }
    match (target, v) {
        (Target::Value(f, scale), Some(v)) => s.set(f, v * scale),
        (Target::Throttle, _) => s.throttle_reasons = throttle,
        (Target::FbFree, v) => fb[0] = v,
        (Target::FbReserved, v) => fb[1] = v,
        (Target::FbTotal, v) => fb[2] = v,
        (Target::Value(..), None) => {}
    }
    Ok(())
}

/// Reads DCGM exporter text into samples, in order of first appearance.
///
/// Lines that cannot be read are skipped and reported with their line, or
/// with [`ReadOptions::strict`] end the read with a [`ReplayError::Format`].
pub fn read(text: &str, origin: &str, opts: &ReadOptions) -> Result<(Vec<Sample>, ReadReport), ReplayError> {
    let mut report = ReadReport { format: crate::Format::Dcgm.name().into(), ..ReadReport::default() };
    let mut b = Builder::default();
    let mut sc = Scrapes::default();
    let mut ignored = BTreeSet::new();
    let last = crate::text::line_count(text);
    let cut = !text.ends_with('\n');
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        report.lines += 1;
        let read = parse_line(line).and_then(|l| {
            if target(l.metric).is_none() {
                ignored.insert(l.metric.to_string());
            }
            apply(&l, &mut b, &mut sc, opts)
        });
        let Err((field, message)) = read else { continue };
        if n == last && cut {
            report.truncated_last_line = true;
            report.skipped += 1;
        } else if opts.strict {
            return Err(ReplayError::Format {
                origin: origin.to_string(),
                line: n,
                field,
                message,
                hint: Some(
                    "a DCGM line is `METRIC{gpu=\"0\",...} VALUE [TIMESTAMP_MS]`; without --strict, bad lines are skipped and counted"
                        .into(),
                ),
            });
        } else {
            report.skip(n, field.as_deref(), message);
        }
    }
    report.ignored_columns = ignored.into_iter().collect();
    Ok((b.finish(), report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LABELS0: &str =
        r#"gpu="0",UUID="GPU-5fd4",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1",container="",namespace="",pod="""#;
    const LABELS1: &str =
        r#"gpu="1",UUID="GPU-77aa",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1",container="",namespace="",pod="""#;

    /// One scrape of two GPUs, as dcgm-exporter writes it.
    fn scrape(util0: f64, util1: f64) -> String {
        let mut s = String::new();
        for (metric, help, v0, v1) in [
            ("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", util0, util1),
            ("DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).", 12.0, 3.0),
            ("DCGM_FI_PROF_SM_ACTIVE", "The ratio of cycles an SM has at least 1 warp assigned.", 0.25, 0.5),
            ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "Ratio of time the graphics engine is active.", 0.3, 0.6),
            ("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", 80000.0, 81000.0),
            ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", 1000.0, 0.0),
            ("DCGM_FI_DEV_FB_RESERVED", "Framebuffer memory reserved (in MiB).", 559.0, 559.0),
            ("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", 312.5, 70.25),
            ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy consumption since boot (in mJ).", 123_456_789.0, 5000.0),
            ("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", 55.0, 33.0),
            ("DCGM_FI_DEV_MEMORY_TEMP", "Memory temperature (in C).", 60.0, 35.0),
            ("DCGM_FI_DEV_SM_CLOCK", "SM frequency (in MHz).", 1980.0, 345.0),
            ("DCGM_FI_DEV_MEM_CLOCK", "Memory frequency (in MHz).", 2619.0, 2619.0),
            ("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "Current clock throttle reasons.", 4.0, 1.0),
            ("DCGM_FI_DEV_XID_ERRORS", "Value of the last XID error encountered.", 0.0, 0.0),
        ] {
            s += &format!("# HELP {metric} {help}\n# TYPE {metric} gauge\n{metric}{{{LABELS0}}} {v0}\n{metric}{{{LABELS1}}} {v1}\n");
        }
        s
    }

    fn ok(text: &str) -> (Vec<Sample>, ReadReport) {
        read(text, "dcgm.prom", &ReadOptions::default()).unwrap()
    }

    #[test]
    fn reads_a_realistic_scrape_with_mappings_and_units() {
        let (s, r) = ok(&scrape(45.0, 0.0));
        assert_eq!((s.len(), r.lines, r.skipped, r.format.as_str()), (2, 30, 0, "dcgm"));
        assert_eq!(r.ignored_columns, ["DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_PROF_GR_ENGINE_ACTIVE"]);
        let g0 = &s[0];
        assert_eq!((g0.time_ns, g0.gpu, g0.gpu_name.as_deref()), (0, 0, Some("NVIDIA H100 80GB HBM3")));
        for (f, v) in [
            (Field::UtilGpu, 45.0),
            (Field::UtilMem, 12.0),
            (Field::SmActive, 25.0),
            (Field::MemUsed, 1000.0),
            (Field::MemTotal, 81559.0),
            (Field::Power, 312.5),
            (Field::Energy, 123_456.789),
            (Field::Temp, 55.0),
            (Field::MemTemp, 60.0),
            (Field::SmClock, 1980.0),
            (Field::MemClock, 2619.0),
        ] {
            let got = g0.get(f).unwrap_or(f64::NAN);
            assert!((got - v).abs() < 1e-9, "{f:?}: {got} != {v}");
        }
        assert_eq!((g0.throttle_reasons, g0.get(Field::PowerLimit)), (Some(4), None));
        assert_eq!(
            (s[1].gpu, s[1].get(Field::SmActive), s[1].get(Field::MemTotal), s[1].throttle_reasons),
            (1, Some(50.0), Some(81559.0), Some(1))
        );
    }

    #[test]
    fn the_crate_reader_detects_dcgm() {
        let (t, r) = crate::read(&scrape(1.0, 2.0), "d", crate::Format::Auto, &ReadOptions::default()).unwrap();
        assert_eq!((r.format.as_str(), t.len(), t.gpus()), ("dcgm", 2, vec![0, 1]));
    }

    #[test]
    fn memory_total_needs_used_and_free_or_fb_total() {
        let (s, _) = ok(
            "DCGM_FI_DEV_FB_FREE{gpu=\"0\"} 10\nDCGM_FI_DEV_FB_USED{gpu=\"1\"} 5\nDCGM_FI_DEV_FB_TOTAL{gpu=\"2\"} 81559\nDCGM_FI_DEV_FB_USED{gpu=\"3\"} 5\nDCGM_FI_DEV_FB_FREE{gpu=\"3\"} 10\n",
        );
        let total: Vec<Option<f64>> = s.iter().map(|s| s.get(Field::MemTotal)).collect();
        assert_eq!(total, [None, None, Some(81559.0), Some(15.0)]);
    }

    #[test]
    fn scrapes_without_timestamps_are_counted() {
        let text = format!("{}{}{}", scrape(10.0, 11.0), scrape(20.0, 21.0), scrape(30.0, 31.0));
        let opts = ReadOptions { scrape_interval_ns: 15_000_000_000, ..ReadOptions::default() };
        let (s, r) = read(&text, "d", &opts).unwrap();
        assert_eq!(r.skipped, 0);
        let got: Vec<(i64, u32, Option<f64>)> = s.iter().map(|s| (s.time_ns, s.gpu, s.get(Field::UtilGpu))).collect();
        let want = [(0, 0, 10.0), (0, 1, 11.0), (15, 0, 20.0), (15, 1, 21.0), (30, 0, 30.0), (30, 1, 31.0)];
        assert_eq!(got, want.map(|(t, g, u)| (t * 1_000_000_000, g, Some(u))));
    }

    #[test]
    fn prometheus_timestamps_set_the_time_in_ms() {
        let text = "DCGM_FI_DEV_POWER_USAGE{gpu=\"0\"} 312.5 1732665600000\nDCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} 45 1732665600000\nDCGM_FI_DEV_POWER_USAGE{gpu=\"0\"} 300 1732665601500\nDCGM_FI_DEV_POWER_USAGE{gpu=\"0\"} 1 -1000\n";
        let (s, _) = ok(text);
        let got: Vec<(i64, Option<f64>, Option<f64>)> = s.iter().map(|s| (s.time_ns, s.get(Field::Power), s.get(Field::UtilGpu))).collect();
        assert_eq!(
            got,
            [
                (1_732_665_600_000_000_000, Some(312.5), Some(45.0)),
                (1_732_665_601_500_000_000, Some(300.0), None),
                (-1_000_000_000, Some(1.0), None)
            ]
        );
    }

    #[test]
    fn escaped_labels_are_parsed() {
        let text = "DCGM_FI_DEV_GPU_TEMP{ Hostname=\"a,b\" , modelName=\"NVIDIA \\\"H200\\\", rev \\\\2\\nx\\t\", gpu=\"3\", } 40\n";
        let (s, r) = ok(text);
        assert_eq!(r.skipped, 0, "{r}");
        assert_eq!((s[0].gpu, s[0].gpu_name.as_deref()), (3, Some("NVIDIA \"H200\", rev \\2\nx\\t")));
        let (s, _) = ok("DCGM_FI_DEV_GPU_TEMP{gpu=\"0\",modelName=\"\"} 40\nDCGM_FI_DEV_GPU_TEMP {} 40\n");
        assert_eq!((s.len(), s[0].gpu_name.as_deref()), (1, None), "no name from an empty label");
    }

    #[test]
    fn nan_inf_and_scientific_values() {
        let text = "DCGM_FI_DEV_POWER_USAGE{gpu=\"0\"} NaN\nDCGM_FI_DEV_GPU_TEMP{gpu=\"0\"} +Inf\nDCGM_FI_DEV_MEM_CLOCK{gpu=\"0\"} -Inf\nDCGM_FI_DEV_SM_CLOCK{gpu=\"0\"} 1.98e3\nDCGM_FI_PROF_SM_ACTIVE{gpu=\"0\"} 2.5E-1\nDCGM_FI_DEV_CLOCKS_EVENT_REASONS{gpu=\"0\"} NaN\n";
        let (s, r) = ok(text);
        assert_eq!((s.len(), r.skipped), (1, 0));
        let g = &s[0];
        assert_eq!((g.get(Field::Power), g.get(Field::Temp), g.get(Field::MemClock)), (None, None, None));
        assert_eq!((g.get(Field::SmClock), g.get(Field::SmActive), g.throttle_reasons), (Some(1980.0), Some(25.0), None));
    }

    #[test]
    fn malformed_lines_are_skipped_with_their_lines() {
        let text = "# HELP x\nDCGM_FI_DEV_GPU_UTIL{gpu=\"0\"}\nDCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} lots\nDCGM_FI_DEV_GPU_UTIL{gpu=\"0\" 5\nDCGM_FI_DEV_GPU_UTIL{gpu=\"0} 5\nDCGM_FI_DEV_GPU_UTIL{UUID=\"GPU-1\"} 5\nDCGM_FI_DEV_GPU_UTIL{gpu=\"zero\"} 5\nDCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} 5 soon\nDCGM_FI_DEV_CLOCK_THROTTLE_REASONS{gpu=\"0\"} 1.5\n{gpu=\"0\"} 5\nDCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} 5 9223372036855\nDCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} 5 1 2\ngo_goroutines 12\nDCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} 7\n";
        let (s, r) = ok(text);
        assert_eq!((s.len(), r.lines, r.skipped), (1, 13, 11));
        assert_eq!(s[0].get(Field::UtilGpu), Some(7.0));
        let got: Vec<(usize, Option<&str>)> = r.problems.iter().map(|p| (p.line, p.field.as_deref())).collect();
        let u = Some("DCGM_FI_DEV_GPU_UTIL");
        assert_eq!(
            got,
            [
                (2, u),
                (3, u),
                (4, None),
                (5, Some("gpu")),
                (6, Some("gpu")),
                (7, Some("gpu")),
                (8, Some("timestamp")),
                (9, Some("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS")),
                (10, None),
                (11, Some("timestamp")),
                (12, None)
            ]
        );
        assert_eq!(r.ignored_columns, ["go_goroutines"], "a metric without a gpu label is just not kept");
        assert!(!r.truncated_last_line);
    }

    #[test]
    fn strict_mode_stops_at_the_first_bad_line() {
        let text = format!("{}DCGM_FI_DEV_GPU_UTIL{{gpu=\"0\"}} 5 later\nDCGM_FI_DEV_GPU_UTIL 5\n", scrape(1.0, 2.0));
        let e = read(&text, "d.prom", &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap_err();
        let ReplayError::Format { line, field, .. } = &e else { panic!("{e}") };
        assert_eq!((*line, field.as_deref()), (61, Some("timestamp")));
        assert!(e.to_string().starts_with("d.prom:61: `timestamp`: "), "{e}");
    }

    #[test]
    fn a_cut_last_line_is_flagged_not_an_error() {
        let text = format!("{}DCGM_FI_DEV_GPU_UTIL{{gpu=\"0\",modelName=\"NVI", scrape(1.0, 2.0));
        for strict in [false, true] {
            let (s, r) = read(&text, "d", &ReadOptions { strict, ..ReadOptions::default() }).unwrap();
            assert_eq!((s.len(), r.lines, r.skipped, r.problems.len(), r.truncated_last_line), (2, 31, 1, 0, true));
        }
        let (_, r) = ok(&format!("{text}\n"));
        assert_eq!((r.skipped, r.problems.len(), r.truncated_last_line), (1, 1, false));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".*", strict in any::<bool>()) {
            let _ = read(&text, "p", &ReadOptions { strict, ..ReadOptions::default() });
        }

        #[test]
        fn mangled_scrapes_never_panic(edits in prop::collection::vec((any::<usize>(), 0usize..8, r#"[{}",=\\ \n0-9eE.+-]{0,4}|.{0,4}"#), 1..8), strict in any::<bool>()) {
            let text = crate::mangle(&scrape(45.0, 1.0), &edits);
            let _ = read(&text, "p", &ReadOptions { strict, scrape_interval_ns: i64::MIN });
        }
    }
}
