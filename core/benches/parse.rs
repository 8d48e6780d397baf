//! Criterion benchmarks for the `sts-core` parsers and matchers.
//!
//! Inputs are the policies in `../shared/bench/` (relative to the repository
//! root) and the MX hosts named in `../shared/bench/hosts.tsv`. Run with
//!
//! ```text
//! cargo bench -p sts-core --bench parse -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! `floor/*` counts newlines in the same bytes: a lower bound for any parser
//! that has to look at every byte once.

// A benchmark whose input is missing or wrong must stop loudly, not time
// an error path.
#![allow(clippy::panic)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sts_core::{mx, policy, tlsrpt, txt};

/// The policy files benchmarked, by name (without `.txt`).
const FILES: &[&str] = &["typical_crlf", "small", "testing", "large"];

fn bench_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench"))
}

fn read(name: &str) -> Vec<u8> {
    let path = bench_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The host to match for `file`, from `hosts.tsv` (`name<TAB>host`).
fn host_for(file: &str) -> Vec<u8> {
    let hosts = read("hosts.tsv");
    let hosts = String::from_utf8(hosts).unwrap_or_else(|e| panic!("hosts.tsv: {e}"));
    hosts
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .find(|(name, _)| *name == file)
        .map(|(_, host)| host.trim().as_bytes().to_vec())
        .unwrap_or_else(|| panic!("no host for {file} in hosts.tsv"))
}

fn bench_policy(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy_parse");
    for &name in FILES {
        let text = read(&format!("{name}.txt"));
        if let Err(e) = policy::parse(&text) {
            panic!("{name}.txt does not parse: {e}");
        }
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| b.iter(|| policy::parse(black_box(&text))));
    }
    g.finish();

    let mut g = c.benchmark_group("floor_count_newlines");
    for &name in FILES {
        let text = read(&format!("{name}.txt"));
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| black_box(&text).iter().filter(|&&c| c == b'\n').count())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("policy_match_mx");
    for &name in FILES {
        let text = read(&format!("{name}.txt"));
        let host = host_for(name);
        let p = policy::parse(&text).unwrap_or_else(|e| panic!("{name}.txt: {e}"));
        if let Err(e) = p.match_mx(&host) {
            panic!("{name}: host does not match: {e}");
        }
        g.bench_function(name, |b| {
            b.iter(|| black_box(&p).match_mx(black_box(&host)))
        });
    }
    g.finish();
}

fn bench_records(c: &mut Criterion) {
    let pattern: &[u8] = b"*.mail.example.net";
    let host: &[u8] = b"eu.mail.example.net";
    if let Err(e) = mx::pattern_match(pattern, host) {
        panic!("pattern does not match: {e}");
    }
    c.bench_function("mx_pattern_match_wildcard", |b| {
        b.iter(|| mx::pattern_match(black_box(pattern), black_box(host)))
    });

    let record: &[u8] = b"v=STSv1; id=20160831085700Z;";
    if let Err(e) = txt::parse(record) {
        panic!("TXT record does not parse: {e}");
    }
    c.bench_function("txt_parse", |b| b.iter(|| txt::parse(black_box(record))));

    let record: &[u8] = b"v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://tlsrpt.example.com/v1";
    if let Err(e) = tlsrpt::parse(record) {
        panic!("TLSRPT record does not parse: {e}");
    }
    c.bench_function("tlsrpt_parse", |b| {
        b.iter(|| tlsrpt::parse(black_box(record)))
    });
}

criterion_group!(benches, bench_policy, bench_records);
criterion_main!(benches);
