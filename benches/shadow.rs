//! Live shadow mode: one DCGM exporter scrape of 1,000 GPUs (125 hosts of 8,
//! ten metrics each, about 2.6 MB of exposition text) read into readings,
//! counters checked for resets, and pushed through the feed to the shadow
//! loop. Goal: under 10% of one core at one scrape a second, i.e. < 100 ms
//! a scrape.
//!
//! `cargo bench -p twin-benches --bench shadow`
#![forbid(unsafe_code)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use twin_shadow::dcgm::{ScrapeReader, example_scrape};
use twin_shadow::feed::{Event, Feed};

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
    g.finish();
}

criterion_group!(benches, scrape);
criterion_main!(benches);
