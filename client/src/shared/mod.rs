//! A second cache level shared by a fleet of MTAs through Redis (or
//! Valkey): policies, the fetch lock, and the connection the TLSRPT
//! counters of `sts-report` use.
//!
//! The local cache (memory, then disk) stays the first level and the
//! fallback: Redis is asked only when the local entry needs a TXT check,
//! so a fresh local copy costs no round trip. Every key written carries a
//! TTL. Redis failures never fail a lookup: the circuit breaker in
//! [`backend`] stops asking for a while and the local path goes on alone.
//!
//! Without the `redis` cargo feature only [`RedisUrl`] exists, so that the
//! settings parse everywhere; a client given a URL then refuses to start
//! rather than silently running without the fleet.

mod url;

#[cfg(feature = "redis")]
pub mod backend;
#[cfg(feature = "redis")]
mod lookup;

pub use url::RedisUrl;

/// The Redis client crate, for the other crates of the workspace (the
/// TLSRPT counters of `sts-report`) to use the same version.
#[cfg(feature = "redis")]
pub use redis;

use std::io;

use crate::cache::CacheEntry;
use crate::config::{ClientError, ClientOptions};
use crate::lookup::Client;

/// The shared level of one [`Client`]: nothing, or a Redis backend.
#[derive(Debug, Default)]
pub struct Shared {
    #[cfg(feature = "redis")]
    backend: Option<backend::SharedBackend>,
}

impl Shared {
    /// The shared level the options ask for.
    pub(crate) fn from_options(opts: &ClientOptions) -> Result<Shared, ClientError> {
        let Some(url) = &opts.redis_url else {
            return Ok(Shared::default());
        };
        #[cfg(feature = "redis")]
        {
            let b = backend::SharedBackend::new(url, opts.redis_timeout, opts.redis_retry_after)
                .map_err(|e| ClientError::Config(format!("{url}: {e}")))?;
            Ok(Shared { backend: Some(b) })
        }
        #[cfg(not(feature = "redis"))]
        Err(ClientError::Config(format!(
            "{url}: built without the `redis` feature"
        )))
    }

    /// The Redis backend, when one is configured.
    #[cfg(feature = "redis")]
    pub fn backend(&self) -> Option<&backend::SharedBackend> {
        self.backend.as_ref()
    }
}

impl Client {
    /// The shared level (empty unless `redis_url` is set).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Stores `entry` in the local cache and, when configured, in the
    /// shared one. A shared write that fails is only traced: the local
    /// copy is what this process decides from.
    pub(crate) fn store(&self, domain: &str, entry: CacheEntry) -> io::Result<()> {
        #[cfg(feature = "redis")]
        if let Some(b) = self.shared.backend() {
            if let Err(e) = b.put_entry(domain, &entry, (self.clock)()) {
                self.trace(|| format!("redis: storing {domain}: {e}"));
            }
        }
        self.cache.put(domain, entry)
    }

    /// After the local levels: an entry that still needs a TXT check is
    /// compared with the shared one, and the newer is kept (and copied to
    /// the local cache). Without a shared level, `entry` unchanged.
    pub(crate) fn consult_shared(
        &self,
        domain: &str,
        entry: Option<CacheEntry>,
        now: u64,
        force_txt: bool,
    ) -> Option<CacheEntry> {
        #[cfg(feature = "redis")]
        return self.consult_shared_inner(domain, entry, now, force_txt);
        #[cfg(not(feature = "redis"))]
        {
            let _ = (domain, now, force_txt);
            entry
        }
    }

    /// Fetches through the fleet-wide lock. `Err` hands the arguments
    /// back when there is no usable shared level: the caller then takes
    /// the local lock path.
    pub(crate) fn fetch_once_shared(
        &self,
        domain: String,
        entry: Option<CacheEntry>,
        id: &str,
        now: u64,
    ) -> Result<crate::types::PolicyLookup, (String, Option<CacheEntry>)> {
        #[cfg(feature = "redis")]
        return self.fetch_once_shared_inner(domain, entry, id, now);
        #[cfg(not(feature = "redis"))]
        {
            let _ = (id, now);
            Err((domain, entry))
        }
    }
}
