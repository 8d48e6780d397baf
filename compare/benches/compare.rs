//! Comparison benchmarks: policy parse and MX match in libsts (sts-core)
//! and mailrs-mta-sts on ../shared/bench, with a newline scan of the same
//! bytes as the floor.
//!
//! ```text
//! cd compare && CARGO_TARGET_DIR=../target/compare \
//!   cargo bench --ignore-rust-version --bench compare -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! mailrs-mta-sts takes `&str`; the UTF-8 check is done once outside the
//! timed loop (it would add a few ns per 100 bytes).

#![allow(clippy::panic)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sts_compare::{bench_host, bench_input, count_newlines, BENCH_FILES};

fn inputs() -> Vec<(&'static str, Vec<u8>, String)> {
    BENCH_FILES
        .iter()
        .map(|&name| {
            let bytes = bench_input(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            let host = bench_host(name).unwrap_or_else(|| panic!("no host for {name}"));
            (name, bytes, host)
        })
        .collect()
}

fn parse(c: &mut Criterion) {
    for (name, bytes, _) in inputs() {
        let text = std::str::from_utf8(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(sts_core::policy::parse(&bytes).is_ok(), "libsts rejects {name}");
        assert!(mailrs_mta_sts::Policy::parse(text).is_ok(), "mailrs rejects {name}");
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("libsts", |b| {
            b.iter(|| sts_core::policy::parse(black_box(&bytes)))
        });
        g.bench_function("mailrs-mta-sts", |b| {
            b.iter(|| mailrs_mta_sts::Policy::parse(black_box(text)))
        });
        g.bench_function("floor_count_newlines", |b| {
            b.iter(|| count_newlines(black_box(&bytes)))
        });
        g.finish();
    }
}

fn match_mx(c: &mut Criterion) {
    for (name, bytes, host) in inputs() {
        let text = std::str::from_utf8(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ours = sts_core::policy::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let theirs = mailrs_mta_sts::Policy::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(ours.match_mx(host.as_bytes()).is_ok(), "libsts: {host} not in {name}");
        assert_eq!(
            mailrs_mta_sts::enforce(&theirs, &host),
            mailrs_mta_sts::Decision::Allow,
            "mailrs: {host} not in {name}"
        );
        let mut g = c.benchmark_group(format!("match/{name}"));
        g.bench_function("libsts", |b| {
            b.iter(|| black_box(&ours).match_mx(black_box(host.as_bytes())))
        });
        g.bench_function("mailrs-mta-sts", |b| {
            b.iter(|| mailrs_mta_sts::enforce(black_box(&theirs), black_box(&host)))
        });
        g.finish();
    }
}

criterion_group!(benches, parse, match_mx);
criterion_main!(benches);
