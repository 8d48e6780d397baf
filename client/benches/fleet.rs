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

use std::hint::black_box;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use sts_client::cache::{CacheEntry, CachedPolicy, DiskCache};
use sts_client::dns::{DnsError, TxtResolver};
use sts_client::refresh::Rules;
use sts_client::shared::backend::SharedBackend;
use sts_client::shared::RedisUrl;
use sts_client::{Client, ClientOptions, DaneStatus};

struct Fixed;
impl TxtResolver for Fixed {
    fn lookup_txt(&self, _name: &str) -> Result<Vec<Vec<u8>>, DnsError> {
        Ok(vec![b"v=STSv1; id=bench1;".to_vec()])
    }
}

const POLICY: &str = "version: STSv1\nmode: enforce\nmx: mx1.bench.example\nmx: mx2.bench.example\nmx: *.mail.bench.example\nmax_age: 604800\n";

fn entry(fetched: u64, checked: u64) -> CacheEntry {
    CacheEntry {
        policy: Some(CachedPolicy {
            txt_id: "bench1".into(),
            text: Arc::from(POLICY.as_bytes()),
            fetched_at: fetched,
            expires_at: fetched + 604_800,
        }),
        txt_checked_at: checked,
        last_failure: None,
        no_policy_until: 0,
    }
}

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
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--dir", &dir.display().to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (Debian package redis-server) must be installed");
    let url = RedisUrl::parse(&format!("redis://127.0.0.1:{port}")).unwrap();
    let probe = SharedBackend::new(&url, Duration::from_secs(1), Duration::ZERO).unwrap();
    let t0 = Instant::now();
    while probe.get_entry("bench.example").is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
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

    let _ = redis.kill();
    let _ = redis.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
