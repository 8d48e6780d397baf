//! Proactive refresh (RFC 8461 §3.3): [`Client::refresh_all`], run from
//! cron or by a long-running server, over the policy refresh rules of
//! §3.3, §3.4 and §5.1, which live in the no_std core
//! ([`sts_core::refresh`]) as pure functions and are re-exported here.

pub use sts_core::refresh::*;

use crate::lookup::Client;
use crate::types::{RefreshReport, Source};

impl Client {
    /// Proactively refreshes every cached policy whose TXT id changed or
    /// that expires soon, and removes expired entries of domains that no
    /// longer publish a policy (RFC 8461 §3.3; run it from cron).
    pub fn refresh_all(&self) -> RefreshReport {
        let mut report = RefreshReport::default();
        let domains = match self.cache.domains() {
            Ok(d) => d,
            Err(e) => {
                self.trace(|| format!("cache: cannot list entries: {e}"));
                return report;
            }
        };
        let rules = self.opts.rules;
        for domain in domains {
            let Some(entry) = self.cache.get(&domain) else {
                continue;
            };
            let now = (self.clock)();
            // A remembered "no policy" answer holds nothing to refresh:
            // kept while fresh, dropped after, with no DNS query either way.
            if entry.policy.is_none() && entry.last_failure.is_none() {
                if !knows_no_policy(&entry.meta(), now) && self.cache.remove(&domain).is_ok() {
                    report.removed += 1;
                }
                continue;
            }
            report.checked += 1;
            let txt = self.check_txt(&domain);
            match proactive(&entry.meta(), txt.seen(), now, &rules) {
                None => {
                    self.trace(|| format!("refresh: {domain} expired and has no policy: removed"));
                    if self.cache.remove(&domain).is_ok() {
                        report.removed += 1;
                    }
                }
                Some(action) => {
                    self.trace(|| format!("refresh: {domain}: {action:?}"));
                    let fetching = action == Action::Fetch;
                    let look = self.act(domain, Some(entry), action, txt, now);
                    if fetching {
                        if look.source == Source::Network {
                            report.refreshed += 1;
                        } else {
                            report.failed += 1;
                        }
                    }
                }
            }
        }
        report
    }
}
