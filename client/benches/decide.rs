//! Decision latency with a warm cache, no network.
//!
//! * `decide/memory`: a long-lived client answering from its in-process map.
//! * `decide/disk_new_client`: a new client per decision reading the
//!   on-disk entry (what a process forked per delivery does, minus exec).
//! * `decide/txt_recheck`: TXT id checked on every decision through a
//!   resolver callback that answers at once (the rules and parsing cost).
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use sts_client::cache::{CacheEntry, CachedPolicy, DiskCache};
use sts_client::dns::{DnsError, TxtResolver};
use sts_client::refresh::Rules;
use sts_client::{Client, ClientOptions, DaneStatus};

struct Fixed;
impl TxtResolver for Fixed {
    fn lookup_txt(&self, _name: &str) -> Result<Vec<Vec<u8>>, DnsError> {
        Ok(vec![b"v=STSv1; id=bench1;".to_vec()])
    }
}

const POLICY: &str = "version: STSv1\nmode: enforce\nmx: mx1.bench.example\nmx: mx2.bench.example\nmx: *.mail.bench.example\nmax_age: 604800\n";

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("sts-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let disk = DiskCache::open(&dir, 100).unwrap();
    disk.store(
        "bench.example",
        &CacheEntry {
            policy: Some(CachedPolicy {
                txt_id: "bench1".into(),
                text: Arc::from(POLICY.as_bytes()),
                fetched_at: now,
                expires_at: now + 604_800,
            }),
            txt_checked_at: now,
            last_failure: None,
            no_policy_until: 0,
        },
    )
    .unwrap();
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

    let recheck = Client::with_resolver(
        ClientOptions {
            rules: Rules {
                txt_recheck: 0,
                ..Rules::default()
            },
            ..opts.clone()
        },
        Arc::new(Fixed),
    )
    .unwrap();
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
