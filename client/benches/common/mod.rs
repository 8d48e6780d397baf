//! What the decision benches share: a TXT resolver that answers at once,
//! the policy, a cache entry for it, and the client that checks TXT on
//! every decision.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sts_client::cache::{CacheEntry, CachedPolicy};
use sts_client::dns::{DnsError, TxtResolver};
use sts_client::refresh::Rules;
use sts_client::{Client, ClientOptions};

/// Answers every TXT question with the bench policy's record.
pub struct Fixed;
impl TxtResolver for Fixed {
    fn lookup_txt(&self, _name: &str) -> Result<Vec<Vec<u8>>, DnsError> {
        Ok(vec![b"v=STSv1; id=bench1;".to_vec()])
    }
}

pub const POLICY: &str = "version: STSv1\nmode: enforce\nmx: mx1.bench.example\nmx: mx2.bench.example\nmx: *.mail.bench.example\nmax_age: 604800\n";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The policy fetched at `fetched`, its TXT id last confirmed at `checked`.
pub fn entry(fetched: u64, checked: u64) -> CacheEntry {
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

/// A client with `opts` that asks for the TXT record on every decision.
pub fn recheck_client(opts: &ClientOptions) -> Client {
    Client::with_resolver(
        ClientOptions {
            rules: Rules {
                txt_recheck: 0,
                ..Rules::default()
            },
            ..opts.clone()
        },
        Arc::new(Fixed),
    )
    .unwrap()
}
