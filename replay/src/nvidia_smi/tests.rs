use super::reference::parse_row;
use super::*;

const HEAD: &str = "timestamp, index, name, pstate, utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB], power.draw [W], power.limit [W], temperature.gpu, temperature.memory, clocks.current.sm [MHz], clocks.current.memory [MHz], clocks_event_reasons.active";

fn read_all(text: &str) -> (Telemetry, ReadReport) {
    crate::read(text, "t.csv", crate::Format::Auto, &ReadOptions::default()).unwrap()
}

#[test]
fn reads_every_column_with_units_and_no_values() {
    let text = format!(
        "{HEAD}\n2026/11/27 01:58:59.960, 0, NVIDIA H200, P0, 0 %, 0 %, 0 MiB, 143771 MiB, 77.25 W, 700.00 W, 36, 40, 345 MHz, 3201 MHz, 0x0000000000000001\n\
         2026/11/27 01:59:00.067, 1, NVIDIA H200, P0, 97 %, [N/A], 1024 MiB, 143771 MiB, [Not Supported], 700.00 W, 61, 70, 1980 MHz, 3201 MHz, 0x0000000000000004\n"
    );
    let (t, r) = read_all(&text);
    assert_eq!((r.rows, r.skipped, r.format.as_str()), (2, 0, "nvidia-smi"));
    assert_eq!(r.ignored_columns, ["pstate"]);
    assert_eq!(t.gpu, [0, 1]);
    assert_eq!(t.names[&1], "NVIDIA H200");
    assert_eq!(t.values_of(Field::Power), [Some(77.25), None]);
    assert_eq!(t.values_of(Field::UtilMem), [Some(0.0), None]);
    assert_eq!(t.values_of(Field::SmClock), [Some(345.0), Some(1980.0)]);
    assert_eq!(t.values_of(Field::MemTemp), [Some(40.0), Some(70.0)]);
    assert_eq!(t.throttle_reasons, [Some(1), Some(4)]);
    assert_eq!(t.time_ns[1] - t.time_ns[0], 107_000_000);
}

#[test]
fn nounits_any_order_and_other_units_convert() {
    let text = "power.draw [W], timestamp, memory.used [GiB], clocks.sm [MHz]\n1.5 W, 2026/11/27 00:00:00.000, 2, 1.2 GHz\n80, 2026/11/27 00:00:01.000, 3 GiB, 900\n";
    let (t, r) = read_all(text);
    assert_eq!(r.rows, 2);
    assert_eq!(t.values_of(Field::Power), [Some(1.5), Some(80.0)]);
    assert_eq!(t.values_of(Field::MemUsed), [Some(2048.0), Some(3072.0)]);
    assert_eq!(t.values_of(Field::SmClock), [Some(1200.0), Some(900.0)]);
    assert_eq!(r.unit_mismatches, 1, "GHz where the header says MHz");
}

#[test]
fn bad_rows_are_skipped_with_their_line_or_stop_a_strict_read() {
    let text = "timestamp, index, power.draw [W]\n2026/11/27 00:00:00.000, 0, 70 W\nyesterday, 0, 70 W\n2026/11/27 00:00:01.000, 0, seventy W\n2026/11/27 00:00:02.000, 0\n2026/11/27 00:00:03.000, 0, 75 W\n2026/11/27 00:00:04.0";
    let (t, r) = read_all(text);
    assert_eq!(t.len(), 2);
    assert_eq!(r.skipped, 4);
    assert!(r.truncated_last_line);
    let lines: Vec<usize> = r.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [3, 4, 5]);
    assert_eq!(r.problems[0].field.as_deref(), Some("timestamp"));
    let strict = ReadOptions { strict: true, ..ReadOptions::default() };
    let err = crate::read(text, "t.csv", crate::Format::NvidiaSmi, &strict).unwrap_err().to_string();
    assert!(err.starts_with("t.csv:3: `timestamp`: `yesterday` is not a time"), "{err}");
}

#[test]
fn out_of_order_samples_and_gaps_are_counted_and_sorted() {
    let text = "timestamp, index, power.draw [W]\n\
        2026/11/27 00:00:00.000, 0, 1 W\n2026/11/27 00:00:00.100, 0, 2 W\n2026/11/27 00:00:00.050, 0, 3 W\n\
        2026/11/27 00:00:00.200, 0, 4 W\n2026/11/27 00:00:05.000, 0, 5 W\n";
    let (t, r) = read_all(text);
    assert_eq!(r.non_monotonic, 1);
    assert_eq!(r.gaps, 1);
    assert!(t.time_ns.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(t.value(Field::Power, 1), Some(3.0));
}

#[test]
fn dates_that_do_not_exist_are_bad_rows_on_both_paths() {
    let text = "timestamp, index, power.draw [W]\n2024/02/29 00:00:00.000, 0, 70 W\n2024/02/30 00:00:00.000, 0, 70 W\n\
                2023/02/29 00:00:00.100, 0, 71 W\n2100/02/29 00:00:00.100, 0, 71 W\n2024/04/31 00:00:00.100, 0, 71 W\n2024/04/30 00:00:00.100, 0, 71 W\n";
    let (t, bad) = reads_as_the_reference(text);
    assert_eq!((t.len(), bad), (2, 4));
    let (_, r) = read_all(text);
    assert_eq!(r.problems.iter().map(|p| p.line).collect::<Vec<_>>(), [3, 4, 5, 6]);
    assert!(r.problems[0].message.contains("`2024/02/30 00:00:00.000` is not a time"), "{r}");
}

#[test]
fn a_headerless_file_is_refused_with_a_hint() {
    let err = read("2026/11/27 00:00:00.000, 0, 70 W\n", "x.csv", &ReadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("x.csv:1:") && err.contains("no `timestamp` column") && err.contains("hint:"), "{err}");
}

#[test]
fn chunks_on_many_cores_read_exactly_as_one() {
    let mut text = String::from("timestamp, index, name, utilization.gpu [%], power.draw [W], clocks_event_reasons.active\n");
    for i in 0..5_000u32 {
        let ms = i * 100;
        let row = match i % 997 {
            13 => "garbage line\n".to_string(),
            14 => "\n".to_string(),
            15 => format!(
                "2026/11/27 00:{:02}:{:02}.{:03}, {}, NVIDIA H100, 1e2 %, 7.5e2 W, 0x1\n",
                ms / 60_000 % 60,
                ms / 1000 % 60,
                ms % 1000,
                i % 4
            ),
            _ => format!(
                "2026/11/27 00:{:02}:{:02}.{:03}, {}, NVIDIA H100, {} %, {}.{:02} W, 0x{:x}\n",
                ms / 60_000 % 60,
                ms / 1000 % 60,
                ms % 1000,
                i % 4,
                i % 101,
                70 + i % 600,
                i % 100,
                i % 8
            ),
        };
        text.push_str(&row);
    }
    text.push_str("2026/11/27 01:00:00.000, 0, NVIDIA");
    let opts = ReadOptions::default();
    let one = read_in(&text, "c.csv", &opts, 1).unwrap();
    for threads in [1, 2, 3] {
        for parts in [2, 3, 7] {
            let got = crate::cores::in_pool(threads, || read_in(&text, "c.csv", &opts, parts)).unwrap();
            assert_eq!(got, one, "{parts} parts on {threads} threads");
        }
    }
    let (t, r) = one;
    assert_eq!(r.skipped, 7, "6 garbage lines and the cut last one: {r}");
    assert!(r.truncated_last_line);
    assert_eq!(r.problems[0].line, 15);
    assert_eq!(t.value(Field::Power, 15 - 2), Some(750.0), "exponents take the slow path and still read");
    // The fast path gives what the slow path gives.
    let line = "2026/11/27 00:00:01.300, 2, NVIDIA H100, 57 %, 123.45 W, 0x4";
    let cols = parse_header("timestamp, index, name, utilization.gpu [%], power.draw [W], clocks_event_reasons.active");
    let slow = parse_row(&line.split(',').collect::<Vec<_>>(), &cols, &mut ReadReport::default(), &mut Default::default()).unwrap();
    let (fast, _) = read_in(
        &format!("timestamp, index, name, utilization.gpu [%], power.draw [W], clocks_event_reasons.active\n{line}\n"),
        "f.csv",
        &opts,
        1,
    )
    .unwrap();
    assert_eq!(fast, Telemetry::from_samples(vec![slow]));
}

/// The reference reading of a whole text: every line through the slow path.
fn reference(text: &str) -> (Telemetry, usize, usize) {
    let mut lines = text.split('\n');
    let cols = parse_header(lines.next().unwrap());
    let (mut t, mut report, mut names, mut bad) = (Telemetry::default(), ReadReport::default(), Default::default(), 0);
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        match (fields.len() == cols.len()).then(|| parse_row(&fields, &cols, &mut report, &mut names)) {
            Some(Ok(s)) => t.push(s),
            _ => bad += 1,
        }
    }
    t.names = names;
    (t, bad, report.unit_mismatches)
}

/// A xorshift stream: `rnd(n)` draws below `n`.
fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    }
}

/// Reads `text` in 1, 2 and 3 chunks, in thread pools of 1, 2 and 3
/// threads, and checks every column against the reference (the slow path
/// alone); gives its rows and bad lines.
fn reads_as_the_reference(text: &str) -> (Telemetry, usize) {
    let (want, bad, mismatches) = reference(text);
    for (threads, parts) in [1, 2, 3].into_iter().flat_map(|threads| [1, 2, 3].map(|parts| (threads, parts))) {
        let (got, report) = crate::cores::in_pool(threads, || read_in(text, "r.csv", &ReadOptions::default(), parts)).unwrap();
        assert_eq!((got.len(), report.skipped, report.unit_mismatches), (want.len(), bad, mismatches), "{parts} parts, {threads} threads");
        for f in Field::ALL {
            let (a, b) = (got.column(f), want.column(f));
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                // Bit for bit (so -0 differs from 0; both read NaN for a null).
                assert_eq!(x.to_bits(), y.to_bits(), "{f:?} row {i}");
            }
        }
        let first = |a: &[i64], b: &[i64]| a.iter().zip(b).position(|(x, y)| x != y);
        assert_eq!(first(&got.time_ns, &want.time_ns), None, "time_ns, {parts} parts, {threads} threads");
        assert_eq!(got.gpu, want.gpu, "{parts} parts, {threads} threads");
        assert_eq!(got.throttle_reasons, want.throttle_reasons, "{parts} parts, {threads} threads");
        assert_eq!(got.names, want.names, "{parts} parts, {threads} threads");
    }
    (want, bad)
}

#[test]
fn repeated_fields_read_as_the_slow_path_does() {
    // Fields from small pools, so that most repeat the row before: the
    // fast path then reuses what it read. Two columns fill power and two
    // the bitmask, so a null in one must not bring back the other's
    // value; units that differ from the header's count on every row.
    let head = "timestamp, index, name, power.draw [W], power.draw.instant [W], memory.used [MiB], clocks_throttle_reasons.active, clocks_event_reasons.active, pstate";
    let mut rnd = xorshift(0x2545_f491_4f6c_dd1du64);
    let mut text = format!("{head}\n");
    for k in 0..20_000u64 {
        // Mostly the first of the pool; bad ones come last, and rarely.
        let pick = |rnd: &mut dyn FnMut(u64) -> u64, pool: &[&str]| {
            let i = rnd(pool.len() as u64 * 4) as usize;
            pool[if i < pool.len() { i } else { 0 }].to_string()
        };
        let line = [
            format!("2026/11/27 10:{:02}:{:02}.{:03}", k / 6000 % 60, k / 100 % 60, [0, 100, 100][rnd(3) as usize]),
            pick(&mut rnd, &["0", "1", "7"]),
            pick(&mut rnd, &["NVIDIA H200", "NVIDIA A100", ""]),
            pick(&mut rnd, &["77.25 W", "[N/A]", "700.00 W", "77250 mW", "77.25"]),
            pick(&mut rnd, &["[N/A]", "81.5 W", "81500 mW"]),
            pick(&mut rnd, &["1024 MiB", "1 GiB", "[Not Supported]", "-0 MiB", "x MiB"]),
            pick(&mut rnd, &["0x0000000000000001", "[N/A]", "0x4"]),
            pick(&mut rnd, &["[N/A]", "0x0000000000000004", "0x"]),
            pick(&mut rnd, &["P0", "P8"]),
        ];
        // Now and then a field fewer or one more: the repeated fields
        // before them must not let the line through.
        let fields = match rnd(40) {
            0 => &line[..8],
            1 => &line[..7],
            _ => &line[..],
        };
        text.push_str(&fields.iter().map(|f| format!(" {f}")).collect::<Vec<_>>().join(",")[1..]);
        if rnd(40) == 0 {
            text.push_str(", P0");
        }
        text.push('\n');
    }
    let (want, bad) = reads_as_the_reference(&text);
    assert!(want.len() > 5_000 && bad > 1_000, "both paths are exercised: {} rows, {bad} bad", want.len());
}

#[test]
fn the_fast_path_reads_random_lines_as_the_slow_path_does() {
    let head = "timestamp, index, name, pstate, utilization.gpu [%], memory.used [MiB], power.draw [W], temperature.gpu, clocks.current.sm [MHz], clocks_event_reasons.active";
    let mut rnd = xorshift(0x9e37_79b9_7f4a_7c15u64);
    let mut text = format!("{head}\n");
    for _ in 0..20_000 {
        let number = |rnd: &mut dyn FnMut(u64) -> u64| {
            let digits = 1 + if rnd(8) == 0 { rnd(18) } else { rnd(7) } as usize;
            let mut d: String = (0..digits).map(|_| char::from(b'0' + rnd(10) as u8)).collect();
            match rnd(6) {
                0 => d.insert(rnd(digits as u64 + 1) as usize, '.'),
                1 => d = format!("-{d}"),
                2 => d.truncate(1 + rnd(3) as usize),
                _ => {}
            }
            d
        };
        let time = format!(
            "{} {:02}:{:02}:{:02}{}",
            ["2026/11/27", "2026/11/28", "1969/12/31", "2026-11-27", "9999/12/31", "2026/13/01"][rnd(24).saturating_sub(18) as usize],
            rnd(25),
            rnd(62),
            rnd(62),
            [String::new(), format!(".{}", rnd(1000)), format!(".{:03}", rnd(1000)), ",5".into(), ".1234567891".into(), ".".into()]
                [rnd(18).saturating_sub(12) as usize]
        );
        let mut line = vec![
            time,
            [rnd(8).to_string(), "x".into(), "12345678901".into()][rnd(60).saturating_sub(57) as usize].clone(),
            ["NVIDIA H200", "NVIDIA H100 80GB HBM3", "NVIDIA A100"][rnd(3) as usize].into(),
            "P0".into(),
        ];
        for unit in ["%", "MiB", "W", "", "MHz"] {
            let n = number(&mut rnd);
            line.push(match rnd(40) {
                0 => "[N/A]".into(),
                1 => "N/A".into(),
                2 => "[Not Supported]".into(),
                3 => n,
                4 => format!("{n} GiB"),
                5 => format!("{n}e2 {unit}"),
                6 => format!("  {n}  {unit}  "),
                7 => format!("{n} mW"),
                _ => format!("{n} {unit}"),
            });
        }
        line.push(
            [
                "0x0000000000000001".into(),
                format!("0x{:x}", rnd(u64::MAX)),
                "[N/A]".into(),
                "0x0x1".into(),
                "ff".into(),
                "0x".into(),
                "0x11111111111111111".into(),
            ][rnd(36).saturating_sub(30) as usize]
                .clone(),
        );
        let mut line = line.iter().map(|f| format!(" {f}")).collect::<Vec<_>>().join(",");
        match rnd(20) {
            0 => line.push('\r'),
            1 => line.push_str(", extra"),
            _ => {}
        }
        text.push_str(line.trim_start());
        text.push('\n');
    }
    let (want, bad) = reads_as_the_reference(&text);
    assert!(want.len() > 1_000 && bad > 1_000, "both paths are exercised: {} rows, {bad} bad", want.len());
}

#[test]
fn lines_as_long_as_the_last_read_as_the_slow_path_does() {
    // Each column fills its own slot, so a line as long as the one
    // before is read a changed field at a time. The fields change in
    // place, mostly keeping their length: digits, a unit, a null for a
    // number, a name; now and then, for one line, separators move
    // ("12, 3" and "1, 23"), a field takes a comma or a bad value.
    let head = "timestamp, index, name, utilization.gpu [%], power.draw [W], temperature.gpu, clocks_event_reasons.active, pstate";
    let mut rnd = xorshift(0x51_7cc1_b727_220au64);
    let mut text = format!("{head}\n");
    let mut line: Vec<String> =
        ["2026/11/27 10:00:00.000", "0", "NVIDIA H200", "97 %", "650.25 W", "59", "0x0000000000000001", "P0"].map(String::from).to_vec();
    // Per column: values that read (kept for the lines after), then
    // values for one line only (bad, or moving a separator).
    let pools: [(&[&str], &[&str]); 8] = [
        (
            &["2026/11/27 10:00:00.000", "2026/11/27 10:00:00.9", "2026/11/27 11:59:59.999"],
            &["2026/11/3x 10:00:00.000", "2026/11/27 10:00:00,500", "2026/11/27 10:00:00.1,0", "2026/11/27 10:00:0"],
        ),
        (&["0", "7", "01"], &["x", "-1", "1,"]),
        (&["NVIDIA H200", "NVIDIA A100", "", "NVIDIA H2OO"], &["NVIDIA,H200"]),
        (&["97 %", "98 %", "9 %", "[N/A]", "97  %", "1e2 %", "-0 %"], &["99 W", "97,%", "97 %,"]),
        (&["650.25 W", "650.26 W", "651.25 W", "65.25 W", "[N/A] W", "650250 mW", "650.25"], &["650.25 w", "6,0.25 W"]),
        (&["59", "60", "5", "[N/A]", "59\r"], &["5x"]),
        (&["0x0000000000000001", "0x0000000000000004", "[Not Supported]", "0x1"], &["0x000000000000000g"]),
        (&["P0", "P8"], &["P,"]),
    ];
    for k in 0..30_000u64 {
        let pick = |rnd: &mut dyn FnMut(u64) -> u64, pool: &[&str]| pool[rnd(pool.len() as u64) as usize].to_string();
        // Most rows change two or three fields, as a logger's do.
        line[1] = (k % 8).to_string();
        line[0] = format!("2026/11/27 {:02}:{:02}:{:02}.{:03}", 10 + k / 36_000, k / 600 % 60, k / 10 % 60, [0, 100, 250][rnd(3) as usize]);
        let mut row = line.clone();
        for _ in 0..1 + rnd(3) {
            let at = rnd(8) as usize;
            let (good, once) = pools[at];
            if rnd(12) == 0 {
                row[at] = pick(&mut rnd, once);
            } else {
                line[at] = pick(&mut rnd, good);
                row[at] = line[at].clone();
            }
        }
        let mut row = row.iter().map(|f| format!(" {f}")).collect::<Vec<_>>().join(",");
        // Now and then a separator goes, or moves by one, in place.
        if rnd(40) == 0
            && let Some((at, _)) = row.match_indices(", ").nth(rnd(7) as usize)
        {
            row.replace_range(at..at + 2, [";;", " ,", ";,"][rnd(3) as usize]);
        }
        text.push_str(if rnd(500) == 0 { "" } else { &row[1..] });
        text.push('\n');
    }
    let (want, bad) = reads_as_the_reference(&text);
    assert!(want.len() > 20_000 && bad > 1_000, "both paths are exercised: {} rows, {bad} bad", want.len());
}

proptest::proptest! {
    #[test]
    fn no_input_makes_it_panic(text in "\\PC{0,300}", cut in 0usize..400) {
        let _ = read(&text, "p.csv", &ReadOptions::default());
        let valid = format!("{HEAD}\n2026/11/27 01:58:59.960, 0, NVIDIA H200, P0, 0 %, 0 %, 0 MiB, 143771 MiB, 77.25 W, 700.00 W, 36, 40, 345 MHz, 3201 MHz, 0x1\n");
        let cut = cut.min(valid.len());
        if valid.is_char_boundary(cut) {
            let mangled = format!("{}{}{}", &valid[..cut], text, &valid[cut..]);
            let _ = read(&mangled, "p.csv", &ReadOptions::default());
            let _ = read(&mangled, "p.csv", &ReadOptions { strict: true, ..ReadOptions::default() });
        }
    }
}
