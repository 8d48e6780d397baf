//! Decisions with the fleet's Redis configured (feature `redis`), against
//! a `redis-server` on a loopback port that the bench starts and stops.
//!
//! * `fleet/memory`: long-lived client, fresh local copy (no round trip).
//! * `fleet/disk_new_client`: a new client per decision, fresh disk copy
//!   (no round trip).
//! * `fleet/stale_local_shared_fresh`: a new client per decision whose disk
//!   copy is due for a TXT check while the shared copy was just confirmed
//!   by another MTA: one round trip, no DNS.
//! * `fleet/txt_recheck`: TXT checked on every decision (as
//!   `decide/txt_recheck`), so the shared copy is read every time.
//!
//! Round trips per decision of each case are printed to stderr.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use common::{entry, now, recheck_client, Fixed};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use sts_client::cache::DiskCache;
use sts_client::shared::backend::SharedBackend;
use sts_client::shared::RedisUrl;
use sts_client::{Client, ClientOptions, DaneStatus};
use sts_test_support::redis::RedisServer;

fn trips(client: &Client) -> u64 {
    client
        .shared()
        .backend()
        .map_or(0, SharedBackend::round_trips)
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("sts-bench-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut redis = RedisServer::start(&dir);
    let url = RedisUrl::parse(&redis.url()).unwrap();
    let probe = SharedBackend::new(&url, Duration::from_secs(1), Duration::ZERO).unwrap();
    let now = now();
    let disk = DiskCache::open(&dir.join("cache"), 100).unwrap();
    disk.store("bench.example", &entry(now, now)).unwrap();
    probe
        .put_entry("bench.example", &entry(now, now), now)
        .unwrap();
    let opts = ClientOptions {
        cache_path: Some(dir.join("cache")),
        use_env: false,
        redis_url: Some(url.clone()),
        ..ClientOptions::default()
    };
    let per_decision = |name: &str, client: &Client, n: u64, mut f: Box<dyn FnMut()>| {
        let before = trips(client);
        for _ in 0..n {
            f();
        }
        eprintln!(
            "{name}: {:.2} redis round trips per decision",
            (trips(client) - before) as f64 / n as f64
        );
    };

    let client = Client::with_resolver(opts.clone(), Arc::new(Fixed)).unwrap();
    c.bench_function("fleet/memory", |b| {
        b.iter(|| {
            client.decide(
                black_box("bench.example"),
                black_box("a.mail.bench.example"),
                DaneStatus::NotUsable,
            )
        })
    });
    per_decision(
        "fleet/memory",
        &client,
        1000,
        Box::new(|| {
            client.decide("bench.example", "mx1.bench.example", DaneStatus::NotUsable);
        }),
    );

    c.bench_function("fleet/disk_new_client", |b| {
        b.iter(|| {
            let client = Client::with_resolver(opts.clone(), Arc::new(Fixed)).unwrap();
            let d = client.decide(
                black_box("bench.example"),
                black_box("mx2.bench.example"),
                DaneStatus::NotUsable,
            );
            assert_eq!(trips(&client), 0);
            d
        })
    });

    // The disk copy was confirmed an hour ago (due for a TXT check); the
    // shared copy a moment ago.
    let stale = entry(now - 7200, now - 3600);
    c.bench_function("fleet/stale_local_shared_fresh", |b| {
        b.iter_batched(
            || {
                disk.store("bench.example", &stale).unwrap();
                Client::with_resolver(opts.clone(), Arc::new(Fixed)).unwrap()
            },
            |client| {
                let d = client.decide(
                    black_box("bench.example"),
                    black_box("mx2.bench.example"),
                    DaneStatus::NotUsable,
                );
                assert_eq!(trips(&client), 2, "connect + one GET");
                d
            },
            BatchSize::PerIteration,
        )
    });

    let recheck = recheck_client(&opts);
    c.bench_function("fleet/txt_recheck", |b| {
        b.iter(|| {
            recheck.decide(
                black_box("bench.example"),
                black_box("mx1.bench.example"),
                DaneStatus::NotUsable,
            )
        })
    });
    per_decision(
        "fleet/txt_recheck",
        &recheck,
        1000,
        Box::new(|| {
            recheck.decide("bench.example", "mx1.bench.example", DaneStatus::NotUsable);
        }),
    );

    redis.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
