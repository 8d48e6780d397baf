//! Fills a policy cache directory with N enforce policies for
//! `bench-<i>.test` (mx `mx.bench-<i>.test`), valid for a week, so that
//! `scripts/serve-bench.sh` can measure `sts serve` with a full cache
//! without fetching N policies over HTTPS.
//!
//! usage: fill_cache DIR N

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sts_client::cache::{CacheEntry, CachedPolicy, DiskCache};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(Ok(n))) = (args.get(1), args.get(2).map(|n| n.parse::<usize>())) else {
        eprintln!("usage: fill_cache DIR N");
        return ExitCode::from(2);
    };
    let disk = match DiskCache::open(std::path::Path::new(dir), n.max(1)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("fill_cache: {dir}: {e}");
            return ExitCode::from(1);
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for i in 0..n {
        let domain = format!("bench-{i}.test");
        let text = format!("version: STSv1\nmode: enforce\nmx: mx.{domain}\nmax_age: 604800\n");
        let entry = CacheEntry {
            policy: Some(CachedPolicy {
                txt_id: "bench1".into(),
                text: Arc::from(text.into_bytes()),
                fetched_at: now,
                expires_at: now + 604_800,
            }),
            txt_checked_at: now,
            last_failure: None,
            no_policy_until: 0,
        };
        if let Err(e) = disk.store(&domain, &entry) {
            eprintln!("fill_cache: {domain}: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
