//! The scheduler extender's work for one request, less HTTP: the body
//! decoded, the pod decided over 1,000 nodes with the cost-aware profile,
//! the answer encoded. `by-names` is a `nodeCacheCapable` filter request
//! (1,000 node names, answered from a fed cache); `full-nodes`, the
//! baseline, carries the same 1,000 Node objects in full (about 5 MB), as
//! kube-scheduler sends them without `nodeCacheCapable`. `twin bench --only
//! extender` times the same requests over HTTP under load.
//!
//! `cargo bench -p twin-benches --bench extender`
#![forbid(unsafe_code)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use twin_extender::wire::{ExtenderArgs, HostPriority, decode};
use twin_extender::{Extender, NodeCache, NodeReader, benchmarks};
use twin_scheduler::Profile;

const NODES: usize = 1_000;

fn extender() -> Extender {
    let prices = benchmarks::PRICES.iter().map(|(t, p)| (t.to_string(), *p)).collect();
    let reader = NodeReader::new(prices).expect("good prices");
    let mut x = Extender::new(Profile::builtin("cost-aware").expect("built in"), NodeCache::new(reader));
    for node in &benchmarks::fleet(NODES) {
        let _ = x.cache.feed(node);
    }
    x
}

fn filter(x: &mut Extender, body: &[u8]) -> usize {
    let args: ExtenderArgs = decode(body).expect("a good body");
    serde_json::to_vec(&x.filter(&args)).expect("encodes").len()
}

fn prioritize(x: &mut Extender, body: &[u8]) -> usize {
    let args: ExtenderArgs = decode(body).expect("a good body");
    let scores: Vec<HostPriority> = x.prioritize(&args);
    serde_json::to_vec(&scores).expect("encodes").len()
}

fn requests(c: &mut Criterion) {
    let mut x = extender();
    let by_names = serde_json::to_vec(&benchmarks::by_names(NODES)).expect("encodes");
    let full = serde_json::to_vec(&benchmarks::full(NODES)).expect("encodes");
    let mut group = c.benchmark_group("extender/1000-nodes");
    group.throughput(Throughput::Elements(1));
    group.bench_function("filter/by-names", |b| b.iter(|| filter(&mut x, &by_names)));
    group.bench_function("prioritize/by-names", |b| b.iter(|| prioritize(&mut x, &by_names)));
    group.sample_size(20);
    group.bench_function("filter/full-nodes", |b| b.iter(|| filter(&mut x, &full)));
    group.finish();
}

criterion_group!(benches, requests);
criterion_main!(benches);
