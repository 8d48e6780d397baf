//! The policy refresh rules of RFC 8461 §3.3, §3.4 and §5.1 as pure
//! functions of (cached entry, TXT id seen, now).
//!
//! Nothing here does I/O or reads a clock, so that the rules can be tested
//! with a fake clock and serve any cache: the std client's on-disk cache
//! (`sts-client`) drives them, and firmware can drive them over its own
//! storage.
//!
//! The flow for one delivery decision is:
//!
//! 1. [`before_dns`]: is the cached entry fresh enough to be used without
//!    asking DNS for the TXT record? (The TXT record is re-checked at most
//!    every [`Rules::txt_recheck`] seconds; a refusal under `enforce`
//!    forces a re-check, §5.1.)
//! 2. [`after_txt`]: given what DNS said, use the cached policy, fetch a
//!    new one, or conclude that there is no policy.
//! 3. After a fetch, the cache entry is updated; a failed fetch keeps a
//!    still-valid cached policy (§3.3) and starts a back-off period.

/// The parts of a cached policy the rules look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyMeta<'a> {
    /// The TXT `id` seen when the policy was fetched.
    pub txt_id: &'a str,
    /// When it was fetched (seconds since the Unix epoch).
    pub fetched_at: u64,
    /// When it expires: `fetched_at + max_age` (§3.3).
    pub expires_at: u64,
}

/// What the cache knows about one domain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntryMeta<'a> {
    /// The cached policy, if any was ever fetched.
    pub policy: Option<PolicyMeta<'a>>,
    /// When the TXT record was last looked up (0: never).
    pub txt_checked_at: u64,
    /// When the last policy fetch failed, if the last fetch failed.
    pub last_failure: Option<u64>,
    /// Until when the domain is known to publish no policy (a negative
    /// DNS answer for `_mta-sts`, remembered for its negative TTL; 0:
    /// nothing known). Never hides a valid cached policy.
    pub no_policy_until: u64,
}

/// Tunable periods of the rules, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// How long a TXT answer is trusted before DNS is asked again
    /// (0: ask for every decision, and remember no "no policy" answer).
    pub txt_recheck: u64,
    /// After a failed fetch, no new fetch for this long.
    pub failure_backoff: u64,
    /// Refresh a policy when it expires within this many seconds (capped
    /// at a quarter of its lifetime).
    pub refresh_margin: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            txt_recheck: 300,
            failure_backoff: 300,
            refresh_margin: 86_400,
        }
    }
}

/// What DNS said about `_mta-sts.<domain>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxtSeen<'a> {
    /// Exactly one valid STSv1 record with this id.
    Id(&'a str),
    /// No valid STSv1 record (NXDOMAIN, no TXT, none or several STSv1
    /// records, a bad record): the domain announces no policy.
    NoPolicy,
    /// The lookup failed (SERVFAIL, timeout): nothing is known.
    TempFail,
}

/// Step 1: whether DNS has to be asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeforeDns {
    /// The cached policy is valid and its TXT id was checked recently.
    UseCached,
    /// No valid policy is cached and DNS said "no policy" less than the
    /// answer's negative TTL ago: the domain has no policy.
    NoPolicyCached,
    /// Look up the TXT record, then call [`after_txt`].
    CheckTxt,
}

/// Step 2: what to do once the TXT record is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Use the cached policy.
    UseCached,
    /// Fetch the policy over HTTPS. If the fetch fails, use the cached
    /// policy if it is still valid ([`is_valid`]).
    Fetch,
    /// A fetch is needed but one failed less than
    /// [`Rules::failure_backoff`] ago, and no valid policy is cached:
    /// act as if there were no policy, and report a fetch error.
    BackedOff,
    /// The domain has no policy (and none is cached).
    NoPolicy,
}

/// Whether the cached policy has not expired (§3.3: policies are valid
/// for `max_age` seconds after they were fetched).
pub fn is_valid(entry: &EntryMeta<'_>, now: u64) -> bool {
    entry.policy.is_some_and(|p| now < p.expires_at)
}

/// Whether the entry should be refreshed now although it is still valid.
pub fn near_expiry(entry: &EntryMeta<'_>, now: u64, rules: &Rules) -> bool {
    match entry.policy {
        Some(p) => {
            let life = p.expires_at.saturating_sub(p.fetched_at);
            let margin = rules.refresh_margin.min(life / 4);
            now.saturating_add(margin) >= p.expires_at
        }
        None => false,
    }
}

/// Whether a negative answer for the TXT record is still fresh. A clock
/// that went backwards past the answer counts as stale.
pub fn knows_no_policy(entry: &EntryMeta<'_>, now: u64) -> bool {
    now < entry.no_policy_until
}

/// The negative-answer lifetime the client keeps: the answer's negative
/// TTL (RFC 2308 §5) clamped to `[NEGATIVE_TTL_MIN, NEGATIVE_TTL_MAX]`;
/// the floor when the answer carried none.
pub fn negative_ttl(answer_ttl: Option<u32>) -> u64 {
    u64::from(answer_ttl.unwrap_or(0)).clamp(NEGATIVE_TTL_MIN, NEGATIVE_TTL_MAX)
}

/// Shortest time a "no policy" answer is remembered: below this, a domain
/// without MTA-STS would cost a DNS query on nearly every delivery.
pub const NEGATIVE_TTL_MIN: u64 = 60;
/// Longest time a "no policy" answer is remembered, so that a policy
/// published later is found within the hour.
pub const NEGATIVE_TTL_MAX: u64 = 3600;

/// Whether a fetch is suppressed by the back-off after a failure.
pub fn backing_off(entry: &EntryMeta<'_>, now: u64, rules: &Rules) -> bool {
    entry
        .last_failure
        .is_some_and(|t| now < t.saturating_add(rules.failure_backoff) && now >= t)
}

/// Step 1. `force_txt` is set when a delivery is about to be refused under
/// `enforce`: §5.1 requires checking DNS for an updated policy first.
pub fn before_dns(
    entry: Option<&EntryMeta<'_>>,
    now: u64,
    rules: &Rules,
    force_txt: bool,
) -> BeforeDns {
    let Some(e) = entry else {
        return BeforeDns::CheckTxt;
    };
    if !is_valid(e, now) && !force_txt && knows_no_policy(e, now) {
        return BeforeDns::NoPolicyCached;
    }
    if force_txt || !is_valid(e, now) || near_expiry(e, now, rules) {
        return BeforeDns::CheckTxt;
    }
    // A clock that went backwards counts as "not checked recently".
    let recent = now >= e.txt_checked_at && now - e.txt_checked_at < rules.txt_recheck;
    if recent {
        BeforeDns::UseCached
    } else {
        BeforeDns::CheckTxt
    }
}

/// Step 2.
pub fn after_txt(
    entry: Option<&EntryMeta<'_>>,
    seen: TxtSeen<'_>,
    now: u64,
    rules: &Rules,
) -> Action {
    let empty = EntryMeta::default();
    let e = entry.unwrap_or(&empty);
    let valid = is_valid(e, now);
    match seen {
        TxtSeen::Id(id) => {
            let same_id = e.policy.is_some_and(|p| p.txt_id == id);
            let wants_fetch = !valid || !same_id || near_expiry(e, now, rules);
            if !wants_fetch {
                Action::UseCached
            } else if backing_off(e, now, rules) {
                if valid {
                    Action::UseCached
                } else {
                    Action::BackedOff
                }
            } else {
                Action::Fetch
            }
        }
        // §3.3: with no live policy discoverable, a valid cached policy
        // still applies (a removed TXT record must not downgrade).
        TxtSeen::NoPolicy | TxtSeen::TempFail => {
            if valid {
                Action::UseCached
            } else {
                Action::NoPolicy
            }
        }
    }
}

/// What a proactive refresh (`sts_client::Client::refresh_all`) does with one cached entry, given
/// the TXT answer: `Some(action)` for entries worth keeping, `None` when
/// the entry holds no valid policy and the domain announces none, so that
/// it may be deleted (this also drops the marks of old failed fetches).
pub fn proactive(
    entry: &EntryMeta<'_>,
    seen: TxtSeen<'_>,
    now: u64,
    rules: &Rules,
) -> Option<Action> {
    match after_txt(Some(entry), seen, now, rules) {
        Action::NoPolicy => None,
        a => Some(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Rules = Rules {
        txt_recheck: 300,
        failure_backoff: 300,
        refresh_margin: 86_400,
    };

    /// A fake clock: the tests move `now` by hand.
    struct Clock(u64);
    impl Clock {
        fn advance(&mut self, s: u64) -> u64 {
            self.0 += s;
            self.0
        }
    }

    fn entry(id: &str, fetched: u64, max_age: u64, checked: u64) -> EntryMeta<'_> {
        EntryMeta {
            policy: Some(PolicyMeta {
                txt_id: id,
                fetched_at: fetched,
                expires_at: fetched + max_age,
            }),
            txt_checked_at: checked,
            last_failure: None,
            no_policy_until: 0,
        }
    }

    #[test]
    fn rfc8461_3_2_negative_answer_is_remembered_for_its_ttl() {
        // RFC 8461 §3.2 discovery: NXDOMAIN/NODATA at `_mta-sts` means no
        // policy; RFC 2308 §5 lets that answer be cached for its TTL.
        let neg = EntryMeta {
            no_policy_until: 1000 + negative_ttl(Some(900)),
            ..EntryMeta::default()
        };
        assert_eq!(
            before_dns(Some(&neg), 1000, &R, false),
            BeforeDns::NoPolicyCached
        );
        assert_eq!(
            before_dns(Some(&neg), 1899, &R, false),
            BeforeDns::NoPolicyCached
        );
        // After the TTL the TXT record is asked again, so a policy
        // published meanwhile is found.
        assert_eq!(before_dns(Some(&neg), 1900, &R, false), BeforeDns::CheckTxt);
        // The end is absolute: a clock set back does not lengthen it.
        assert_eq!(
            before_dns(Some(&neg), 0, &R, false),
            BeforeDns::NoPolicyCached
        );
        // A valid cached policy is never hidden by a negative answer.
        let mut both = entry("a", 1000, 604_800, 1000);
        both.no_policy_until = 5000;
        assert_eq!(
            before_dns(Some(&both), 1010, &R, false),
            BeforeDns::UseCached
        );
    }

    #[test]
    fn rfc2308_5_negative_ttl_is_clamped() {
        assert_eq!(negative_ttl(None), NEGATIVE_TTL_MIN);
        assert_eq!(negative_ttl(Some(0)), 60);
        assert_eq!(negative_ttl(Some(30)), 60);
        assert_eq!(negative_ttl(Some(900)), 900);
        assert_eq!(negative_ttl(Some(86_400)), 3600);
        assert_eq!(negative_ttl(Some(u32::MAX)), 3600);
    }

    #[test]
    fn rfc8461_3_3_no_cache_fetches_on_valid_txt() {
        assert_eq!(before_dns(None, 1000, &R, false), BeforeDns::CheckTxt);
        assert_eq!(after_txt(None, TxtSeen::Id("a"), 1000, &R), Action::Fetch);
        assert_eq!(
            after_txt(None, TxtSeen::NoPolicy, 1000, &R),
            Action::NoPolicy
        );
        assert_eq!(
            after_txt(None, TxtSeen::TempFail, 1000, &R),
            Action::NoPolicy
        );
    }

    #[test]
    fn rfc8461_3_3_same_id_uses_cache_new_id_refetches() {
        let mut clock = Clock(10_000);
        let e = entry("a", clock.0, 604_800, clock.0);
        let now = clock.advance(10);
        assert_eq!(before_dns(Some(&e), now, &R, false), BeforeDns::UseCached);
        let now = clock.advance(400);
        assert_eq!(before_dns(Some(&e), now, &R, false), BeforeDns::CheckTxt);
        assert_eq!(
            after_txt(Some(&e), TxtSeen::Id("a"), now, &R),
            Action::UseCached
        );
        assert_eq!(
            after_txt(Some(&e), TxtSeen::Id("b"), now, &R),
            Action::Fetch
        );
    }

    #[test]
    fn rfc8461_3_3_expired_policy_is_not_used() {
        let mut clock = Clock(10_000);
        let e = entry("a", clock.0, 100, clock.0);
        let now = clock.advance(100);
        assert!(!is_valid(&e, now));
        assert_eq!(before_dns(Some(&e), now, &R, false), BeforeDns::CheckTxt);
        assert_eq!(
            after_txt(Some(&e), TxtSeen::Id("a"), now, &R),
            Action::Fetch
        );
        assert_eq!(
            after_txt(Some(&e), TxtSeen::NoPolicy, now, &R),
            Action::NoPolicy
        );
        assert_eq!(
            after_txt(Some(&e), TxtSeen::TempFail, now, &R),
            Action::NoPolicy
        );
    }

    #[test]
    fn rfc8461_3_3_valid_cache_survives_dns_failure_and_removed_record() {
        let e = entry("a", 10_000, 604_800, 10_000);
        assert_eq!(
            after_txt(Some(&e), TxtSeen::TempFail, 20_000, &R),
            Action::UseCached
        );
        assert_eq!(
            after_txt(Some(&e), TxtSeen::NoPolicy, 20_000, &R),
            Action::UseCached
        );
    }

    #[test]
    fn failed_fetch_backs_off() {
        let mut clock = Clock(10_000);
        // No cached policy, a fetch failed just now.
        let mut e = EntryMeta {
            last_failure: Some(clock.0),
            ..EntryMeta::default()
        };
        let now = clock.advance(60);
        assert_eq!(
            after_txt(Some(&e), TxtSeen::Id("a"), now, &R),
            Action::BackedOff
        );
        let now = clock.advance(300);
        assert_eq!(
            after_txt(Some(&e), TxtSeen::Id("a"), now, &R),
            Action::Fetch
        );
        // With a valid cached policy, a new id during back-off keeps it.
        e = entry("a", 10_000, 604_800, 10_000);
        e.last_failure = Some(now);
        let now = clock.advance(1);
        assert_eq!(
            after_txt(Some(&e), TxtSeen::Id("b"), now, &R),
            Action::UseCached
        );
        let now = clock.advance(300);
        assert_eq!(
            after_txt(Some(&e), TxtSeen::Id("b"), now, &R),
            Action::Fetch
        );
    }

    #[test]
    fn rfc8461_5_1_refusal_forces_txt_check() {
        let e = entry("a", 10_000, 604_800, 10_000);
        assert_eq!(before_dns(Some(&e), 10_001, &R, true), BeforeDns::CheckTxt);
        assert_eq!(
            after_txt(Some(&e), TxtSeen::Id("b"), 10_001, &R),
            Action::Fetch
        );
    }

    #[test]
    fn rfc8461_3_3_proactive_refresh_near_expiry() {
        let day = 86_400;
        let e = entry("a", 0, 10 * day, 0);
        assert!(!near_expiry(&e, 8 * day, &R));
        assert!(near_expiry(&e, 9 * day, &R));
        assert_eq!(
            after_txt(Some(&e), TxtSeen::Id("a"), 9 * day, &R),
            Action::Fetch
        );
        assert_eq!(
            before_dns(Some(&e), 9 * day, &R, false),
            BeforeDns::CheckTxt
        );
        // A short-lived policy refreshes in its last quarter.
        let e = entry("a", 0, 100, 0);
        assert!(!near_expiry(&e, 74, &R));
        assert!(near_expiry(&e, 75, &R));
        // refresh_all drops an expired entry whose domain has no policy now.
        assert_eq!(proactive(&e, TxtSeen::NoPolicy, 200, &R), None);
        assert_eq!(
            proactive(&e, TxtSeen::NoPolicy, 50, &R),
            Some(Action::UseCached)
        );
        assert_eq!(proactive(&e, TxtSeen::Id("b"), 50, &R), Some(Action::Fetch));
        // An entry that only remembers a failed fetch goes too.
        let failed = EntryMeta {
            last_failure: Some(10),
            ..EntryMeta::default()
        };
        assert_eq!(proactive(&failed, TxtSeen::NoPolicy, 20, &R), None);
        assert_eq!(
            proactive(&failed, TxtSeen::Id("a"), 20, &R),
            Some(Action::BackedOff)
        );
    }

    #[test]
    fn clock_going_backwards_rechecks() {
        let e = entry("a", 10_000, 604_800, 20_000);
        assert_eq!(before_dns(Some(&e), 15_000, &R, false), BeforeDns::CheckTxt);
    }

    #[test]
    fn zero_recheck_asks_dns_every_time() {
        let rules = Rules {
            txt_recheck: 0,
            ..R
        };
        let e = entry("a", 10_000, 604_800, 10_000);
        assert_eq!(
            before_dns(Some(&e), 10_000, &rules, false),
            BeforeDns::CheckTxt
        );
    }
}
