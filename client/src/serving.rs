//! Hooks for a long-running server (`sts serve`): answer from a
//! still-valid cached policy without waiting for DNS or HTTPS, and refresh
//! one domain in the background under the same rules as
//! [`Client::refresh_all`] (RFC 8461 §3.3 proactive refresh).

use sts_core::refresh::{self, Action};

use crate::lookup::Client;
use crate::types::{normalize_domain, PolicyInfo, PolicyLookup, Source};

/// Whether a cached answer should be refreshed in the background.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Checked recently enough: nothing to do.
    Current,
    /// Still valid, but its TXT record is due for a re-check or it expires
    /// soon: refresh it in the background ([`Client::refresh_domain`]).
    RefreshDue,
}

/// What [`Client::refresh_domain`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainRefresh {
    /// Nothing cached for the domain, or nothing worth refreshing.
    Skipped,
    /// The TXT id was confirmed; the cached policy stays.
    Kept,
    /// A new policy was fetched.
    Refreshed,
    /// A fetch was needed and failed (a still-valid policy stays in force).
    Failed,
    /// The entry expired and the domain announces no policy: removed.
    Removed,
}

impl DomainRefresh {
    /// A short lower-case name (logs, metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            DomainRefresh::Skipped => "skipped",
            DomainRefresh::Kept => "kept",
            DomainRefresh::Refreshed => "refreshed",
            DomainRefresh::Failed => "failed",
            DomainRefresh::Removed => "removed",
        }
    }
}

impl Client {
    /// The policy in force for `domain` when the cache alone can say it:
    /// a policy that has not expired (however long ago its TXT record was
    /// checked), or a remembered "no policy" answer. Never asks DNS and
    /// never fetches. `None` means a full [`Client::lookup`] is needed.
    pub fn lookup_cached(&self, domain: &str) -> Option<(PolicyLookup, Freshness)> {
        let domain = normalize_domain(domain).ok()?;
        let now = (self.clock)();
        let entry = self
            .cache
            .get_mem(&domain)
            .filter(|e| refresh::is_valid(&e.meta(), now))
            .or_else(|| self.cache.get(&domain))?;
        let meta = entry.meta();
        if refresh::is_valid(&meta, now) {
            let policy = entry.policy.as_ref().and_then(PolicyInfo::from_cached)?;
            let fresh = match refresh::before_dns(Some(&meta), now, &self.opts.rules, false) {
                refresh::BeforeDns::UseCached => Freshness::Current,
                _ => Freshness::RefreshDue,
            };
            let look = PolicyLookup {
                domain,
                policy: Some(policy),
                source: Source::Cache,
                error: None,
                fetch_failure: None,
            };
            return Some((look, fresh));
        }
        if refresh::knows_no_policy(&meta, now) {
            let look = PolicyLookup {
                domain,
                policy: None,
                source: Source::Cache,
                error: None,
                fetch_failure: None,
            };
            return Some((look, Freshness::Current));
        }
        None
    }

    /// Refreshes the cache entry of one domain the way
    /// [`Client::refresh_all`] treats each entry: re-check the TXT record,
    /// fetch when the id changed or the policy expires soon, keep a valid
    /// policy when the fetch fails, drop an expired entry of a domain that
    /// no longer announces a policy.
    pub fn refresh_domain(&self, domain: &str) -> DomainRefresh {
        let Ok(domain) = normalize_domain(domain) else {
            return DomainRefresh::Skipped;
        };
        let Some(entry) = self.cache.get(&domain) else {
            return DomainRefresh::Skipped;
        };
        let now = (self.clock)();
        if entry.policy.is_none() && entry.last_failure.is_none() {
            return DomainRefresh::Skipped;
        }
        let txt = self.check_txt(&domain);
        match refresh::proactive(&entry.meta(), txt.seen(), now, &self.opts.rules) {
            None => {
                self.trace(|| format!("refresh: {domain} expired and has no policy: removed"));
                match self.cache.remove(&domain) {
                    Ok(()) => DomainRefresh::Removed,
                    Err(_) => DomainRefresh::Failed,
                }
            }
            Some(action) => {
                self.trace(|| format!("refresh: {domain}: {action:?}"));
                let fetching = action == Action::Fetch;
                let look = self.act(domain, Some(entry), action, txt, now);
                match (fetching, look.source) {
                    (false, _) => DomainRefresh::Kept,
                    (true, Source::Network) => DomainRefresh::Refreshed,
                    (true, _) => DomainRefresh::Failed,
                }
            }
        }
    }
}
