//! Decision latency with a warm cache, no network.
//!
//! * `decide/memory`: a long-lived client answering from its in-process map.
//! * `decide/disk_new_client`: a new client per decision reading the
//!   on-disk entry (what a process forked per delivery does, minus exec).
//! * `decide/txt_recheck`: TXT id checked on every decision through a
//!   resolver callback that answers at once (the rules and parsing cost).
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::hint::black_box;
use std::sync::Arc;

use common::{entry, now, recheck_client, Fixed};
use criterion::{criterion_group, criterion_main, Criterion};
use sts_client::cache::DiskCache;
use sts_client::{Client, ClientOptions, DaneStatus};

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("sts-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let now = now();
    let disk = DiskCache::open(&dir, 100).unwrap();
    disk.store("bench.example", &entry(now, now)).unwrap();
    let opts = ClientOptions {
        cache_path: Some(dir.clone()),
        use_env: false,
        ..ClientOptions::default()
    };

    let client = Client::with_resolver(opts.clone(), Arc::new(Fixed)).unwrap();
    c.bench_function("decide/memory", |b| {
        b.iter(|| {
            let d = client.decide(
                black_box("bench.example"),
                black_box("a.mail.bench.example"),
                DaneStatus::NotUsable,
            );
            assert!(d.mx_permitted);
            d
        })
    });

    c.bench_function("decide/disk_new_client", |b| {
        b.iter(|| {
            let client = Client::with_resolver(opts.clone(), Arc::new(Fixed)).unwrap();
            client.decide(
                black_box("bench.example"),
                black_box("mx2.bench.example"),
                DaneStatus::NotUsable,
            )
        })
    });

    let recheck = recheck_client(&opts);
    c.bench_function("decide/txt_recheck", |b| {
        b.iter(|| {
            recheck.decide(
                black_box("bench.example"),
                black_box("mx1.bench.example"),
                DaneStatus::NotUsable,
            )
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
