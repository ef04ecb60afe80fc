//! Live shadow mode: one DCGM exporter scrape of 1,000 GPUs (125 hosts of 8,
//! ten metrics each, about 2.6 MB of exposition text) read into readings,
//! counters checked for resets, and pushed through the feed to the shadow
//! loop. Goal: under 10% of one core at one scrape a second, i.e. < 100 ms
//! a scrape.
//!
//! `read+feed+session` adds the model update: the readings folded into a
//! shadow session watching those 125 nodes with one 8-GPU pod each (each
//! GPU's utilisation, idle spells), and the session's clock ticked once,
//! as `twin shadow` does every second (cost ledger, autoscaler looks).
//!
//! `cargo bench -p twin-benches --bench shadow`
#![forbid(unsafe_code)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use twin_extender::nodes::NodeReader;
use twin_scheduler::Profile;
use twin_shadow::dcgm::{ScrapeReader, example_scrape};
use twin_shadow::feed::{Event, Feed};
use twin_shadow::kubectl::WatchReader;
use twin_shadow::session::Session;

fn scrape(c: &mut Criterion) {
    let texts = [example_scrape(125, 8, 0), example_scrape(125, 8, 1)];
    let mut reader = ScrapeReader::new("bench");
    let s = reader.read(&texts[0], 0);
    assert_eq!((s.readings.len(), s.lines, s.skipped), (1000, 10_000, 0));
    let feed = Feed::new(16);
    let mut g = c.benchmark_group("shadow/dcgm-scrape-1000-gpus");
    g.throughput(Throughput::Bytes(texts[0].len() as u64));
    let mut tick = 0usize;
    g.bench_function("read+feed", |b| {
        b.iter(|| {
            tick += 1;
            let s = reader.read(black_box(&texts[tick % 2]), tick as i64);
            feed.push(Event::Readings { source: "dcgm:bench".into(), readings: s.readings });
            black_box(feed.drain().len())
        })
    });
    let mut session = session(125, 8);
    g.bench_function("read+feed+session", |b| {
        b.iter(|| {
            tick += 1;
            let s = reader.read(black_box(&texts[tick % 2]), tick as i64);
            feed.push(Event::Readings { source: "dcgm:bench".into(), readings: s.readings });
            let mut found = 0;
            for e in feed.drain() {
                found += session.on_telemetry(&e).len();
            }
            found += session.tick(tick as i64 * 1_000_000_000).len();
            black_box(found)
        })
    });
    g.finish();
}

/// A session watching `hosts` nodes (`node-H`) of `gpus` GPUs, each node's held by one pod (`ml/llm-H`).
fn session(hosts: usize, gpus: usize) -> Session {
    let mut text = String::new();
    for h in 0..hosts {
        text.push_str(&format!(
            r#"{{"kind":"Node","metadata":{{"name":"node-{h}","labels":{{"twin.dev/price-per-hour":"98.32"}}}},"status":{{"allocatable":{{"nvidia.com/gpu":"{gpus}"}}}}}}"#
        ));
        text.push('\n');
        // The pod the scrape's pod labels name, holding the node's GPUs.
        text.push_str(&format!(
            r#"{{"kind":"Pod","metadata":{{"name":"llm-{h}","namespace":"ml"}},"spec":{{"nodeName":"node-{h}","containers":[{{"name":"c","resources":{{"limits":{{"nvidia.com/gpu":"{gpus}"}}}}}}]}},"status":{{"phase":"Running"}}}}"#
        ));
        text.push('\n');
    }
    let mut s = Session::new(Profile::builtin("cost-aware").expect("a built-in profile"), NodeReader::default(), 600_000_000_000);
    let mut r = WatchReader::new();
    for e in r.feed(text.as_bytes()).into_iter().chain(r.finish()) {
        s.on_cluster(&e.expect("a watch event"));
    }
    s.tick(0);
    assert_eq!(s.summary().pods, hosts);
    s
}

criterion_group!(benches, scrape);
criterion_main!(benches);
