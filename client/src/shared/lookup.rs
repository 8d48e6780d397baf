//! The two places the lookup state machine meets the shared level: after
//! the local cache (read) and around the fetch (the fleet lock).

use std::time::{Duration, Instant};

use crate::cache::CacheEntry;
use crate::lookup::{cached, no_policy, Client, LOCK_POLL};
use crate::refresh::{self, BeforeDns};
use crate::shared::backend::{lock_token, LockState};
use crate::types::{LookupError, PolicyLookup, TlsrptFailure};

/// Orders entries by how recent their content is: the policy fetched last
/// wins, then the latest TXT confirmation, then the latest facts about
/// failures and "no policy".
fn recency(e: &CacheEntry) -> (u64, u64, u64, u64) {
    (
        e.policy.as_ref().map_or(0, |p| p.fetched_at),
        e.txt_checked_at,
        e.no_policy_until,
        e.last_failure.unwrap_or(0),
    )
}

/// Whether `e` holds the policy of `id`, valid and not due for refresh.
fn fresh_with_id(e: &CacheEntry, id: &str, now: u64, rules: &refresh::Rules) -> bool {
    let m = e.meta();
    m.policy.is_some_and(|p| p.txt_id == id)
        && refresh::is_valid(&m, now)
        && !refresh::near_expiry(&m, now, rules)
}

impl Client {
    pub(super) fn consult_shared_inner(
        &self,
        domain: &str,
        entry: Option<CacheEntry>,
        now: u64,
        force_txt: bool,
    ) -> Option<CacheEntry> {
        let Some(b) = self.shared.backend() else {
            return entry;
        };
        // A local entry the rules accept as it is costs no round trip.
        if let Some(e) = &entry {
            let verdict = refresh::before_dns(Some(&e.meta()), now, &self.opts.rules, force_txt);
            if verdict != BeforeDns::CheckTxt {
                return entry;
            }
        }
        let t0 = Instant::now();
        match b.get_entry(domain) {
            Ok(Some(s)) if entry.as_ref().is_none_or(|l| recency(&s) > recency(l)) => {
                self.trace(|| {
                    format!(
                        "redis: newer entry for {domain} (policy id {}) ({:.3} ms)",
                        s.policy.as_ref().map_or("-", |p| p.txt_id.as_str()),
                        t0.elapsed().as_secs_f64() * 1000.0
                    )
                });
                if let Err(err) = self.cache.put(domain, s.clone()) {
                    self.trace(|| format!("cache: write failed: {err}"));
                }
                Some(s)
            }
            Ok(_) => entry,
            Err(e) => {
                self.trace(|| format!("redis: {domain}: {e}; local cache only"));
                entry
            }
        }
    }

    pub(super) fn fetch_once_shared_inner(
        &self,
        domain: String,
        entry: Option<CacheEntry>,
        id: &str,
        now: u64,
    ) -> Result<PolicyLookup, (String, Option<CacheEntry>)> {
        let Some(b) = self.shared.backend() else {
            return Err((domain, entry));
        };
        let hold = self.fetch_budget();
        let token = lock_token();
        let mut waited = false;
        loop {
            // Another MTA may have fetched this id meanwhile.
            let shared = match b.get_entry(&domain) {
                Ok(s) => s,
                Err(e) => {
                    self.trace(|| format!("redis: {domain}: {e}; local lock instead"));
                    return Err((domain, entry));
                }
            };
            if let Some(s) = shared {
                let m = s.meta();
                let clock = (self.clock)();
                if fresh_with_id(&s, id, clock, &self.opts.rules) {
                    self.trace(|| {
                        format!("redis: {domain} id {id} was just fetched by another MTA")
                    });
                    if let Err(err) = self.cache.put(&domain, s.clone()) {
                        self.trace(|| format!("cache: write failed: {err}"));
                    }
                    return Ok(cached(domain, &s, None, None));
                }
                // The holder we waited for failed: share its failure
                // rather than hitting the policy host again at once.
                if waited && refresh::backing_off(&m, clock, &self.opts.rules) {
                    let failure = TlsrptFailure::StsPolicyFetchError;
                    return Ok(if refresh::is_valid(&m, clock) {
                        cached(domain, &s, Some(LookupError::BackedOff), Some(failure))
                    } else {
                        no_policy(domain, Some(LookupError::BackedOff), Some(failure))
                    });
                }
            }
            match b.try_lock(&domain, &token, hold) {
                Ok(LockState::Held) => {
                    // The previous holder may have stored the policy and
                    // let go between our read and our lock.
                    if let Ok(Some(s)) = b.get_entry(&domain) {
                        let clock = (self.clock)();
                        if fresh_with_id(&s, id, clock, &self.opts.rules) {
                            let _ = b.unlock(&domain, &token);
                            self.trace(|| {
                                format!("redis: {domain} id {id} was just fetched by another MTA")
                            });
                            if let Err(err) = self.cache.put(&domain, s.clone()) {
                                self.trace(|| format!("cache: write failed: {err}"));
                            }
                            return Ok(cached(domain, &s, None, None));
                        }
                    }
                    let look = self.fetch_and_store(domain.clone(), entry, id, now);
                    if let Err(e) = b.unlock(&domain, &token) {
                        // It expires by itself within `hold`.
                        self.trace(|| format!("redis: unlocking {domain}: {e}"));
                    }
                    return Ok(look);
                }
                Ok(LockState::Busy) => {
                    if let Some(e) = &entry {
                        if refresh::is_valid(&e.meta(), now) {
                            self.trace(|| {
                                format!("redis: {domain} is being fetched by another MTA; using the cached policy")
                            });
                            return Ok(cached(domain, e, None, None));
                        }
                    }
                    if waited {
                        // Waited once already and someone else got the
                        // lock: no second wait, the local path decides.
                        return Err((domain, entry));
                    }
                    self.trace(|| {
                        format!("redis: {domain} is being fetched by another MTA; waiting")
                    });
                    if let Err(e) = self.wait_shared_unlock(&domain, hold) {
                        self.trace(|| format!("redis: {domain}: {e}; local lock instead"));
                        return Err((domain, entry));
                    }
                    waited = true;
                }
                Err(e) => {
                    self.trace(|| format!("redis: {domain}: {e}; local lock instead"));
                    return Err((domain, entry));
                }
            }
        }
    }

    /// Polls the fleet lock of `domain` until it is gone, for at most
    /// `hold` (the lock's own expiry).
    fn wait_shared_unlock(
        &self,
        domain: &str,
        hold: Duration,
    ) -> Result<(), crate::shared::backend::SharedError> {
        let Some(b) = self.shared.backend() else {
            return Ok(());
        };
        let started = Instant::now();
        while started.elapsed() < hold && b.is_locked(domain)? {
            std::thread::sleep(LOCK_POLL);
        }
        Ok(())
    }
}
