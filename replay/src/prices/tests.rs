use super::*;
use proptest::prelude::*;

fn shared(name: &str) -> Option<String> {
    crate::shared_data("spot_prices", name)
}

/// One `describe-spot-price-history` page, as the AWS CLI prints it
/// (indented, so entries have lines of their own).
fn aws_page(entries: &[(&str, &str, &str, &str, &str)], next: &str) -> String {
    let list: Vec<serde_json::Value> = entries
        .iter()
        .map(|(zone, ty, product, price, time)| {
            serde_json::json!({"AvailabilityZone": zone, "InstanceType": ty, "ProductDescription": product, "SpotPrice": price, "Timestamp": time})
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({"SpotPriceHistory": list, "NextToken": next})).unwrap()
}

fn aws_pages() -> (String, String) {
    let first = aws_page(
        &[
            ("us-east-1a", "p5.48xlarge", "Linux/UNIX", "31.464000", "2025-06-01T10:21:07+00:00"),
            ("us-east-1a", "p5.48xlarge", "Windows", "40.000000", "2025-06-01T10:21:07+00:00"),
            ("us-east-1b", "p5.48xlarge", "Linux/UNIX", "30.100000", "2025-05-31T23:00:00.500Z"),
        ],
        "token",
    );
    let second = aws_page(
        &[
            ("us-east-1a", "p5.48xlarge", "Linux/UNIX", "29.000000", "2025-05-30T12:00:00Z"),
            ("us-east-1a", "p4d.24xlarge", "Linux/UNIX", "9.500000", "2025-05-30T14:00:00+02:00"),
        ],
        "",
    );
    (first, second)
}

#[test]
fn reads_the_real_gcp_changes_with_the_readme_example() {
    let Some(text) = shared("gcp_gpu_vm_ondemand_spot_price_changes_2022-2026.csv") else { return };
    let (Prices::History(h), r) = read(&text, "gcp", None, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap() else {
        panic!("not a history")
    };
    // 16,896 rows: an on-demand point each, a spot point for all but the 811 without a spot SKU yet.
    assert_eq!((r.format.as_str(), r.rows, r.skipped), ("gcp-changes", 16_896, 0));
    assert_eq!(h.len(), 2 * 16_896 - 811);
    assert_eq!(h.instance_types().len(), 29);
    let spot = h.series("a3-highgpu-8g", "us-central1", Capacity::Spot).unwrap();
    let rounded: Vec<f64> = spot.iter().map(|p| (p.1 * 10.0).round() / 10.0).collect();
    let at = |x: f64| rounded.iter().position(|&v| v == x).unwrap_or_else(|| panic!("{x} not in {rounded:?}"));
    assert!(at(62.5) < at(48.8) && at(48.8) < at(35.6) && at(35.6) < at(20.4));
    assert_eq!(rounded.last(), Some(&50.6));
    assert_eq!(crate::timefmt::format_ns(spot[0].0), "2024-05-17 00:00:00.000");
    assert!(spot.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 != w[1].1));
    let od = h.series("a3-highgpu-8g", "us-central1", Capacity::OnDemand).unwrap();
    assert_eq!(od.len(), 2, "{od:?}"); // 87.83, then 88.49 from 2024-05-21 on
    let mid_2025 = crate::timefmt::parse_timestamp("2025-07-01 00:00:00").unwrap();
    let p = h.price_at("a3-highgpu-8g", "us-central1", Capacity::Spot, mid_2025).unwrap().unwrap();
    assert!((p - 20.399).abs() < 1e-3, "{p}");
    assert_eq!(h.price_at("a3-highgpu-8g", "us-central1", Capacity::Spot, 0).unwrap(), None);
    // What a user with a typo sees: the closest first (one edit), then
    // what is within a third of its length (`me-central1`, three edits).
    let e = h.series("a3-highgpu-8g", "us-centrl1", Capacity::Spot).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "`a3-highgpu-8g` has no prices in `us-centrl1` (did you mean `us-central1` or `me-central1`?); it is priced in 40 locations: africa-south1, "
        ),
        "{e}"
    );
    let e = h.series("a3-highgpu8g", "us-central1", Capacity::Spot).unwrap_err().to_string();
    assert!(e.contains("did you mean `a3-highgpu-8g`"), "{e}");
    assert!(e.ends_with("they cover 29 types"), "{e}");
}

#[test]
fn reads_the_real_advisor_csv_and_picks_the_newest_snapshot() {
    let Some(text) = shared("aws_spot_advisor_gpu_linux_2021_2025.csv") else { return };
    let (Prices::Advisor(a), r) = read(&text, "advisor", None, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap() else {
        panic!("not advisor data")
    };
    assert_eq!((r.format.as_str(), a.len(), r.skipped), ("spot-advisor-csv", 1144, 0));
    let p5 = advisor_band(&a, "us-east-1", "p5.48xlarge").unwrap();
    assert_eq!((p5.savings_pct, p5.band, p5.label.as_str()), (52, 4, ">20%"));
    let p4d = advisor_band(&a, "us-east-1", "p4d.24xlarge").unwrap();
    assert_eq!((p4d.savings_pct, p4d.band, p4d.label.as_str()), (67, 2, "10-15%"));
    assert_eq!(p4d.snapshot.map(crate::timefmt::format_ns).as_deref(), Some("2025-06-28 00:00:00.000"));
    // 2021's p4d.24xlarge in us-east-1 was band 0.
    let old: Vec<_> = a.iter().filter(|e| e.instance_type == "p4d.24xlarge" && e.region == "us-east-1").collect();
    assert_eq!(old.iter().map(|e| e.band).collect::<Vec<_>>(), [0, 2]);
    assert!(advisor_band(&a, "us-east-1", "p9.huge").is_none());
    // The one negative saving: spot above on-demand.
    assert_eq!(advisor_band(&a, "ca-central-1", "p5.48xlarge").map(|e| (e.savings_pct, e.band)), Some((-62, 0)));
    assert_eq!(a.iter().filter(|e| e.savings_pct < 0).count(), 1);
}

#[test]
fn reads_the_advisor_json_shape_with_its_ranges() {
    let json = r#"{
  "global_rate": "<10%",
  "instance_types": {"p5.48xlarge": {"emr": false, "cores": 192, "ram_gb": 2048.0}},
  "ranges": [
{"index": 0, "label": "<5%", "dots": 0, "max": 5},
{"index": 4, "label": ">20%", "dots": 4, "max": 100}
  ],
  "spot_advisor": {
"us-east-1": {
  "Linux": {"p5.48xlarge": {"s": 52, "r": 4}, "p4d.24xlarge": {"s": 67, "r": 2}},
  "Windows": {"p4d.24xlarge": {"s": 60, "r": 0}}
},
"eu-west-1": {"Linux": {"p5.48xlarge": {"s": 40, "r": 9}}}
  }
}"#;
    assert_eq!(detect(json), Some(PriceFormat::SpotAdvisorJson));
    let (a, r) = read_advisor_json(json, "a.json", Some(0), &ReadOptions::default()).unwrap();
    assert_eq!(a.len(), 3);
    assert_eq!(r.problems.iter().map(|p| p.line).collect::<Vec<_>>(), [13]);
    let p5 = advisor_band(&a, "us-east-1", "p5.48xlarge").unwrap();
    assert_eq!((p5.savings_pct, p5.band, p5.label.as_str(), p5.snapshot), (52, 4, ">20%", Some(0)));
    assert_eq!(advisor_band(&a, "us-east-1", "p4d.24xlarge").unwrap().os, "Linux");
    let e = read_advisor_json(json, "a.json", None, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap_err();
    assert!(e.to_string().starts_with("a.json:13: "), "{e}");
    assert!(read_advisor_json("{\"ranges\": 3}", "b.json", None, &ReadOptions::default()).is_err());
}

#[test]
fn reads_aws_spot_history_pages_in_any_arrangement() {
    let (first, second) = aws_pages();
    let concatenated = format!("{first}\n{second}\n");
    let array = format!("[{first},\n{second}]");
    for text in [&concatenated, &array] {
        assert_eq!(detect(text), Some(PriceFormat::AwsSpotHistory));
        let (h, r) = read_aws_spot_history(text, "aws.json", &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap();
        assert_eq!((h.len(), r.rows, r.lines), (4, 4, 5));
        assert_eq!(r.ignored_columns, ["1 entries whose ProductDescription is not Linux/UNIX"]);
        let a = h.series("p5.48xlarge", "us-east-1a", Capacity::Spot).unwrap();
        let t = |s| parse_iso8601(s).unwrap();
        assert_eq!(a, [(t("2025-05-30T12:00:00Z"), 29.0), (t("2025-06-01T10:21:07Z"), 31.464)]);
        let b = h.series("p5.48xlarge", "us-east-1b", Capacity::Spot).unwrap();
        assert_eq!(b[0].0 % 1_000_000_000, 500_000_000);
        let p4d = h.series("p4d.24xlarge", "us-east-1a", Capacity::Spot).unwrap();
        assert_eq!(crate::timefmt::format_ns(p4d[0].0), "2025-05-30 12:00:00.000");
        let e = h.series("p5.48xlarge", "us-east-1a", Capacity::OnDemand).unwrap_err().to_string();
        assert_eq!(e, "`p5.48xlarge` in `us-east-1a` has no on-demand prices, only spot");
        let e = h.series("p5.48xlarge", "us-east-1", Capacity::Spot).unwrap_err().to_string();
        assert!(e.contains("(did you mean `us-east-1a` or `us-east-1b`?)"), "{e}");
    }
}

#[test]
fn bad_input_is_reported_with_lines() {
    let gcp = "snapshot_date,source_commit,machine_type,gpu_model,gpu_count,region,ondemand_usd_per_hour,spot_usd_per_hour\n\
               2024-05-17,abc,a3-highgpu-8g,h100-80gb,8,us-central1,87.83,61.95\n\
               2024-05-32,abc,a3-highgpu-8g,h100-80gb,8,us-central1,87.83,61.95\n\
               2024-06-01,abc,a3-highgpu-8g,h100-80gb,8,us-central1,cheap,61.95\n\
               2024-06-02,abc,a3-highgpu-8g,h100-80gb,8,us-central1,,\n\
               2024-06-03,abc,a3-highgpu-8g\n\
               2024-06-04,abc,a3-highgpu-8g,h100-80gb,8,us-central1,87";
    let (h, r) = read_gcp_changes(gcp, "g.csv", &ReadOptions::default()).unwrap();
    assert_eq!((h.len(), r.rows, r.skipped, r.truncated_last_line), (2, 1, 5, true));
    assert_eq!(r.problems.iter().map(|p| p.line).collect::<Vec<_>>(), [3, 4, 5, 6]);
    assert_eq!(r.problems[1].field.as_deref(), Some("ondemand_usd_per_hour"));
    let e = read_gcp_changes(gcp, "g.csv", &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap_err().to_string();
    assert!(e.starts_with("g.csv:3: `snapshot_date`: `2024-05-32` is not a date"), "{e}");
    let e = read_gcp_changes("date,price\n1,2\n", "x.csv", &ReadOptions::default()).unwrap_err().to_string();
    assert!(e.starts_with("x.csv:1: the header lacks `snapshot_date`, `machine_type`"), "{e}");

    let advisor = "region,os,instance_type,savings_vs_ondemand_pct,interruption_band\nus-east-1,Linux,p5.48xlarge,52,4\nus-east-1,Linux,p5.48xlarge,52,5\nus-east-1,Linux,p5.48xlarge,most,1\n";
    let (a, r) = read_advisor_csv(advisor, "a.csv", &ReadOptions::default()).unwrap();
    assert_eq!((a.len(), a[0].label.as_str(), a[0].snapshot), (1, ">20%", None));
    assert_eq!(
        r.problems.iter().map(|p| (p.line, p.field.clone().unwrap())).collect::<Vec<_>>(),
        [(3, "interruption_band".to_string()), (4, "savings_vs_ondemand_pct".to_string())]
    );

    let (first, _) = aws_pages();
    let bad = first.replace("30.100000", "lots");
    let line = bad.lines().position(|l| l.contains("\"us-east-1b\"")).unwrap();
    let (h, r) = read_aws_spot_history(&bad, "aws.json", &ReadOptions::default()).unwrap();
    assert_eq!(h.len(), 1);
    // The problem is at the line where its entry opens.
    assert_eq!(r.problems.len(), 1);
    assert!(r.problems[0].line < line + 1 && r.problems[0].line >= line - 2, "{r}");
    assert_eq!(r.problems[0].field.as_deref(), Some("SpotPrice"));
    let cut = format!("{first}\n{}", &first[..first.len() / 2]);
    let (h, r) = read_aws_spot_history(&cut, "aws.json", &ReadOptions::default()).unwrap();
    assert_eq!((h.len(), r.skipped, r.truncated_last_line), (2, 1, true));
    let e = read_aws_spot_history("{\"Spot\": 1}", "x.json", &ReadOptions::default()).unwrap_err().to_string();
    assert!(e.starts_with("x.json:1: neither a page"), "{e}");
    assert!(read("hello", "x", None, &ReadOptions::default()).is_err());
}

#[test]
fn parses_iso_times_with_offsets() {
    let z = parse_iso8601("2025-06-01T10:21:07Z").unwrap();
    assert_eq!(parse_iso8601("2025-06-01T10:21:07+00:00"), Some(z));
    assert_eq!(parse_iso8601("2025-06-01T12:21:07+02:00"), Some(z));
    assert_eq!(parse_iso8601("2025-06-01T05:21:07-0500"), Some(z));
    assert_eq!(parse_iso8601("2025-06-01T10:21:07.250Z"), Some(z + 250_000_000));
    for bad in ["2025-06-01", "2025-06-01T10:21:07+25:00", "2025-06-01T10:21:07+0", "2025-06-01T10:21:07é+00:00"] {
        assert_eq!(parse_iso8601(bad), None, "{bad}");
    }
}

#[test]
fn formats_are_detected_and_named() {
    assert_eq!(
        detect("snapshot_date,source_commit,machine_type,gpu_model,gpu_count,region,ondemand_usd_per_hour,spot_usd_per_hour\n"),
        Some(PriceFormat::GcpChanges)
    );
    assert_eq!(
        detect(
            "\u{feff}snapshot_commit_date,source_commit,region,os,instance_type,vcpu,ram_gb,savings_vs_ondemand_pct,interruption_band,interruption_label"
        ),
        Some(PriceFormat::SpotAdvisorCsv)
    );
    assert_eq!(detect("{\"SpotPriceHistory\": []}"), Some(PriceFormat::AwsSpotHistory));
    assert_eq!(detect("time,price"), None);
    for f in PriceFormat::NAMES.split(", ") {
        assert_eq!(PriceFormat::from_name(f).map(PriceFormat::name), Some(f));
    }
    assert_eq!(Capacity::from_name("Spot"), Some(Capacity::Spot));
    assert_eq!(close_matches("a3-highgpu", ["a3-highgpu-8g", "g2-standard-4"]), ["a3-highgpu-8g"]);
}

#[test]
fn close_matches_are_within_a_third_of_the_known_name_or_contain_the_asked_one() {
    // Nine chars: three edits pass, four do not.
    assert_eq!(close_matches("abcxyzghi", ["abcdefghi"]), ["abcdefghi"]);
    assert!(close_matches("abwxyzghi", ["abcdefghi"]).is_empty());
    // Short names: two edits, always.
    assert_eq!(close_matches("a3", ["g2", "g5", "a3-megagpu-8g"]), ["g2", "g5"]);
    assert_eq!(close_matches("g2", ["g5", "a2", "xyz"]), ["a2", "g5"]);
    // Case aside; closest first, at most three.
    assert_eq!(
        close_matches("US-EAST-1", ["us-east-1a", "us-east-1", "us-east-2", "us-west-1", "eu-east-1"]),
        ["us-east-1", "us-east-1a", "us-east-2"]
    );
    // Containing or contained, however far.
    assert_eq!(close_matches("highgpu", ["a3-highgpu-8g", "a2-ultragpu-1g"]), ["a3-highgpu-8g"]);
    assert_eq!(close_matches("a3-highgpu-8g-spot-extra", ["a3-highgpu-8g"]), ["a3-highgpu-8g"]);
    assert!(close_matches("p5", ["a3-highgpu-8g"]).is_empty());
}

#[test]
fn round_trips_through_parquet() {
    let (first, second) = aws_pages();
    let (h, _) = read_aws_spot_history(&format!("{first}{second}"), "aws.json", &ReadOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prices.parquet");
    write_parquet(&h, &path).unwrap();
    assert_eq!(read_parquet(&path).unwrap(), h);
    assert_eq!(to_frame(&h).unwrap().width(), 6);
    std::fs::write(dir.path().join("x.parquet"), b"nope").unwrap();
    assert!(read_parquet(&dir.path().join("x.parquet")).is_err());
}

fn sample() -> String {
    let (first, second) = aws_pages();
    format!("{first}\n{second}")
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}", strict in any::<bool>()) {
        let opts = ReadOptions { strict, ..ReadOptions::default() };
        let _ = read(&text, "p", None, &opts);
        for f in [PriceFormat::GcpChanges, PriceFormat::AwsSpotHistory, PriceFormat::SpotAdvisorCsv, PriceFormat::SpotAdvisorJson] {
            let _ = read(&text, "p", Some(f), &opts);
        }
        let _ = read(&format!("snapshot_date,machine_type,region,ondemand_usd_per_hour,spot_usd_per_hour\n{text}"), "p", None, &opts);
        let _ = read(&format!("region,os,instance_type,savings_vs_ondemand_pct,interruption_band\n{text}"), "p", None, &opts);
        let _ = parse_iso8601(&text);
    }

    #[test]
    fn mangled_files_never_panic(edits in prop::collection::vec((any::<usize>(), 0usize..8, ".{0,6}"), 1..6), strict in any::<bool>()) {
        let opts = ReadOptions { strict, ..ReadOptions::default() };
        if let Ok((Prices::History(h), _)) = read(&crate::mangle(&sample(), &edits), "p", None, &opts) {
            for t in h.instance_types() {
                let _ = h.series(t, "us-east-1a", Capacity::Spot);
            }
            let _ = h.series("p5", "x", Capacity::OnDemand);
        }
        let gcp = "snapshot_date,source_commit,machine_type,gpu_model,gpu_count,region,ondemand_usd_per_hour,spot_usd_per_hour\n2024-05-17,abc,a3-highgpu-8g,h100-80gb,8,us-central1,87.83,61.95\n";
        let _ = read(&crate::mangle(gcp, &edits), "p", None, &opts);
    }
}
