//! What the server answers for one socketmap request, by map name
//! (`postfix` for any Postfix, `postfix-tlsrpt` for Postfix 3.10+ with
//! its STS plugin attributes).

use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sts_client::dns::{DnsError, DnsResolver, MailHosts};
use sts_client::serving::Freshness;
use sts_client::{normalize_domain, Client, PolicyInfo, PolicyLookup, Source, TlsrptFailure};
use sts_core::policy::Mode;
use sts_report::{Failure, Outcome, PolicyType, Recorder, ResultType, SessionResult};

use crate::log::{Level, Log};
use crate::metrics::Metrics;
use crate::refresher::Refresher;

/// Longest reply Postfix accepts (dict_sockmap.c).
pub const MAX_REPLY: usize = 100_000;

/// The socketmap NAME of a request: which answer format Postfix expects.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapName {
    /// `postfix`: the classic `secure match=...` answer every Postfix
    /// understands.
    Postfix,
    /// `postfix-tlsrpt`: the classic answer plus the STS plugin attributes
    /// of Postfix 3.10+ (`policy_type=sts`, `mx_host_pattern=`,
    /// `policy_string`), which older Postfix rejects.
    PostfixTlsrpt,
}

impl MapName {
    /// The NAME as written in `smtp_tls_policy_maps`.
    pub fn as_str(self) -> &'static str {
        match self {
            MapName::Postfix => "postfix",
            MapName::PostfixTlsrpt => "postfix-tlsrpt",
        }
    }

    fn parse(name: &[u8]) -> Option<MapName> {
        match name {
            b"postfix" => Some(MapName::Postfix),
            b"postfix-tlsrpt" => Some(MapName::PostfixTlsrpt),
            _ => None,
        }
    }
}

impl fmt::Display for MapName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a reply (for metrics and tests).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnswerKind {
    /// `OK secure match=...`: MTA-STS enforce.
    Secure,
    /// `OK dane-only`: DANE applies instead of MTA-STS.
    DaneOnly,
    /// `NOTFOUND `: no policy to enforce.
    NotFound,
    /// `TEMP ...`: defer the delivery.
    Temp,
    /// `PERM ...`: the request itself is wrong (a configuration error).
    Perm,
}

impl AnswerKind {
    /// Number of kinds.
    pub const COUNT: usize = 5;
    /// Every kind, in metric order.
    pub const ALL: [AnswerKind; AnswerKind::COUNT] = [
        AnswerKind::Secure,
        AnswerKind::DaneOnly,
        AnswerKind::NotFound,
        AnswerKind::Temp,
        AnswerKind::Perm,
    ];

    /// A short lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerKind::Secure => "secure",
            AnswerKind::DaneOnly => "dane-only",
            AnswerKind::NotFound => "notfound",
            AnswerKind::Temp => "temp",
            AnswerKind::Perm => "perm",
        }
    }
}

impl fmt::Display for AnswerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reply, without the netstring framing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Its kind.
    pub kind: AnswerKind,
    /// The text Postfix gets, e.g. `OK secure match=mx1.example.com servername=hostname`.
    pub text: Arc<str>,
}

impl Reply {
    fn new(kind: AnswerKind, text: impl Into<Arc<str>>) -> Reply {
        Reply {
            kind,
            text: text.into(),
        }
    }

    fn not_found() -> Reply {
        Reply::new(AnswerKind::NotFound, "NOTFOUND ")
    }

    fn temp(reason: &str) -> Reply {
        Reply::new(AnswerKind::Temp, format!("TEMP {reason}"))
    }
}

/// Whether the server looks TLSA records up before answering for an
/// `enforce` domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DaneCheck {
    /// Look them up; an authenticated (AD) TLSA RRset for an MX host
    /// makes the answer `dane-only` (RFC 8461 §2: DANE takes precedence).
    Lookup,
    /// Never (the resolver does not validate DNSSEC).
    Skip,
}

/// Answers kept for a short while, so that the mail hosts and TLSA
/// records of a domain are not looked up for every delivery.
#[derive(Debug, Default)]
pub struct Memo {
    map: Mutex<HashMap<(MapName, String), (Reply, Instant)>>,
}

/// Most memoized answers; past it the memo starts over (a bound, not an
/// eviction policy: answers are cheap to recompute from the policy cache).
const MEMO_MAX: usize = 50_000;

impl Memo {
    fn get(&self, map: MapName, domain: &str, now: Instant) -> Option<Reply> {
        let m = self.map.lock().ok()?;
        let (reply, until) = m.get(&(map, domain.to_owned()))?;
        (now < *until).then(|| reply.clone())
    }

    fn put(&self, map: MapName, domain: String, reply: Reply, until: Instant) {
        if let Ok(mut m) = self.map.lock() {
            if m.len() >= MEMO_MAX {
                m.clear();
            }
            m.insert((map, domain), (reply, until));
        }
    }

    /// Forgets the answers for `domain` (its policy changed).
    pub fn forget(&self, domain: &str) {
        if let Ok(mut m) = self.map.lock() {
            for map in [MapName::Postfix, MapName::PostfixTlsrpt] {
                m.remove(&(map, domain.to_owned()));
            }
        }
    }
}

/// Turns requests into replies: the policy (cache first, background
/// refresh), the MX hosts, DANE, and TLSRPT recording of fetch errors.
pub struct Answerer {
    client: Arc<Client>,
    dns: DnsResolver,
    recorder: Option<Recorder>,
    metrics: Arc<Metrics>,
    memo: Arc<Memo>,
    memo_ttl: Duration,
    refresher: Option<Refresher>,
    dane: DaneCheck,
    log: Log,
}

impl fmt::Debug for Answerer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answerer")
            .field("dane", &self.dane)
            .field("memo_ttl", &self.memo_ttl)
            .finish_non_exhaustive()
    }
}

/// The parts an [`Answerer`] is made of.
pub struct AnswererParts {
    /// The policy client (its cache is shared with libsts and `sts check`).
    pub client: Arc<Client>,
    /// The resolver for MX and TLSA lookups (the client's server).
    pub dns: DnsResolver,
    /// Where fetch errors are recorded for TLSRPT, if anywhere.
    pub recorder: Option<Recorder>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Memoized answers (shared with the refresher).
    pub memo: Arc<Memo>,
    /// How long an answer is memoized (0: never).
    pub memo_ttl: Duration,
    /// The background refresher, if any.
    pub refresher: Option<Refresher>,
    /// Whether DANE is looked up.
    pub dane: DaneCheck,
    /// The log.
    pub log: Log,
}

impl Answerer {
    /// An answerer from its parts.
    pub fn new(p: AnswererParts) -> Answerer {
        Answerer {
            client: p.client,
            dns: p.dns,
            recorder: p.recorder,
            metrics: p.metrics,
            memo: p.memo,
            memo_ttl: p.memo_ttl,
            refresher: p.refresher,
            dane: p.dane,
            log: p.log,
        }
    }

    /// The reply to one request payload (`NAME KEY`).
    pub fn answer(&self, request: &[u8]) -> Reply {
        let t0 = Instant::now();
        let reply = self.answer_inner(request, t0);
        self.metrics.answered(reply.kind, t0.elapsed());
        reply
    }

    fn answer_inner(&self, request: &[u8], t0: Instant) -> Reply {
        let Some(space) = request.iter().position(|&b| b == b' ') else {
            return Reply::new(AnswerKind::Perm, "PERM request is not NAME KEY");
        };
        let (name, key) = (&request[..space], &request[space + 1..]);
        let Some(map) = MapName::parse(name) else {
            return Reply::new(
                AnswerKind::Perm,
                "PERM unknown socketmap name (use postfix or postfix-tlsrpt)",
            );
        };
        let Some(domain) = domain_of(key) else {
            self.log.at(Level::Debug, || {
                format!(
                    "{map} {:?}: not a domain: NOTFOUND",
                    String::from_utf8_lossy(key)
                )
            });
            return Reply::not_found();
        };
        if let Some(r) = self.memo.get(map, &domain, t0) {
            self.metrics
                .lookups_cached
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.log.at(Level::Debug, || {
                format!("{map} {domain}: {} (memo)", r.text)
            });
            return r;
        }
        let (look, memoize) = self.policy(&domain);
        let reply = self.reply_for(map, &domain, &look);
        self.log.at(Level::Debug, || {
            format!(
                "{map} {domain}: {} ({} ms)",
                reply.text,
                t0.elapsed().as_secs_f64() * 1000.0
            )
        });
        if memoize && reply.kind != AnswerKind::Temp && !self.memo_ttl.is_zero() {
            self.memo
                .put(map, domain, reply.clone(), t0 + self.memo_ttl);
        }
        reply
    }

    /// The policy in force, and whether an answer built on it may be
    /// memoized.
    fn policy(&self, domain: &str) -> (PolicyLookup, bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some((look, fresh)) = self.client.lookup_cached(domain) {
            self.metrics.lookups_cached.fetch_add(1, Relaxed);
            if fresh == Freshness::RefreshDue {
                if let Some(r) = &self.refresher {
                    r.request(domain);
                }
            }
            return (look, true);
        }
        self.metrics.lookups_full.fetch_add(1, Relaxed);
        let look = self.client.lookup(domain);
        if look.source == Source::Network {
            self.metrics.fetches.fetch_add(1, Relaxed);
            if let Some(p) = &look.policy {
                self.log.at(Level::Info, || {
                    format!(
                        "{domain}: policy fetched: mode {}, id {}, mx {}",
                        p.mode.as_str(),
                        p.txt_id,
                        p.mx.join(" ")
                    )
                });
            }
        }
        let Some(failure) = look.fetch_failure else {
            return (look, true);
        };
        self.metrics.fetch_failures.fetch_add(1, Relaxed);
        self.log.at(Level::Info, || {
            format!(
                "{domain}: policy fetch failed ({}): {}",
                failure.as_str(),
                look.error
                    .as_ref()
                    .map_or_else(String::new, ToString::to_string)
            )
        });
        if look.policy.is_none() {
            self.record_failure(domain, failure);
        }
        (look, false)
    }

    /// RFC 8460 §4.3: a policy that could not be fetched is reported as a
    /// session failure of the policy domain.
    fn record_failure(&self, domain: &str, failure: TlsrptFailure) {
        let Some(rec) = &self.recorder else { return };
        let result_type = match failure {
            TlsrptFailure::StsPolicyFetchError => ResultType::StsPolicyFetchError,
            TlsrptFailure::StsPolicyInvalid => ResultType::StsPolicyInvalid,
            TlsrptFailure::ValidationFailure => ResultType::ValidationFailure,
        };
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut outcome = Outcome::new(PolicyType::Sts, domain, at);
        outcome.result = SessionResult::Failure(Failure::new(result_type));
        match rec.record(&outcome) {
            Ok(_) => {
                self.metrics
                    .tlsrpt_recorded
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => self
                .log
                .at(Level::Info, || format!("{domain}: TLSRPT store: {e}")),
        }
    }

    fn reply_for(&self, map: MapName, domain: &str, look: &PolicyLookup) -> Reply {
        let Some(policy) = look.policy.as_ref().filter(|p| p.mode == Mode::Enforce) else {
            return Reply::not_found();
        };
        let hosts = match self.dns.mail_hosts(domain) {
            Ok(MailHosts::Mx(mx)) => mx.into_iter().map(|m| m.exchange).collect(),
            Ok(MailHosts::Implicit(d)) => vec![d],
            // Postfix refuses mail for a null MX itself (RFC 7505).
            Ok(MailHosts::NullMx) | Err(DnsError::NxDomain) => return Reply::not_found(),
            Err(e) => return Reply::temp(&format!("MTA-STS: MX lookup for {domain} failed: {e}")),
        };
        let hosts: Vec<String> = hosts
            .into_iter()
            .filter(|h| !h.is_empty() && sts_core::name::validate(h.as_bytes()).is_ok())
            .collect();
        if self.dane == DaneCheck::Lookup {
            match self.dane_usable(&hosts) {
                Ok(true) => return Reply::new(AnswerKind::DaneOnly, "OK dane-only"),
                Ok(false) => {}
                Err(reason) => return Reply::temp(&reason),
            }
        }
        let permitted: Vec<&str> = hosts
            .iter()
            .map(String::as_str)
            .filter(|h| policy.permits(h))
            .collect();
        if permitted.is_empty() {
            let mut shown = hosts.join(", ");
            shown.truncate(1000);
            return Reply::temp(&format!(
                "MTA-STS policy of {domain} (enforce) permits none of its MX hosts ({shown})"
            ));
        }
        let classic = format!(
            "OK secure match={} servername=hostname",
            permitted.join(":")
        );
        if map == MapName::Postfix {
            return Reply::new(AnswerKind::Secure, classic);
        }
        let full = with_sts_attributes(classic.clone(), domain, policy);
        if full.len() <= MAX_REPLY {
            Reply::new(AnswerKind::Secure, full)
        } else {
            Reply::new(AnswerKind::Secure, classic)
        }
    }

    /// Whether any MX host has TLSA records in an authenticated answer;
    /// an error (the reason for TEMP) when a lookup failed temporarily,
    /// since DANE status unknown must not become a downgrade.
    fn dane_usable(&self, hosts: &[String]) -> Result<bool, String> {
        for h in hosts {
            let name = format!("_25._tcp.{h}");
            match self.dns.tlsa(&name) {
                Ok(a) if a.authenticated && !a.records.is_empty() => return Ok(true),
                Ok(_) | Err(DnsError::NxDomain | DnsError::NoData) => {}
                Err(e) => return Err(format!("MTA-STS/DANE: TLSA lookup for {name} failed: {e}")),
            }
        }
        Ok(false)
    }
}

/// The Postfix 3.10+ STS plugin attributes: the policy as published, so
/// that Postfix dials only permitted MX hosts and its TLSRPT reports carry
/// the policy.
fn with_sts_attributes(mut s: String, domain: &str, policy: &PolicyInfo) -> String {
    let _ = write!(s, " policy_type=sts policy_domain={domain}");
    for p in &policy.mx {
        let _ = write!(s, " mx_host_pattern={p}");
    }
    let text = String::from_utf8_lossy(&policy.text);
    for line in text.lines() {
        let line = line.trim();
        // Braces and control bytes would end the attribute early; such a
        // line cannot be passed on faithfully, so it is left out.
        if line.is_empty() || line.contains(['{', '}']) || line.contains(|c: char| c.is_control()) {
            continue;
        }
        let _ = write!(s, " {{ policy_string = {line} }}");
    }
    s
}

/// The recipient domain of a key, or `None` for the keys that never have
/// a policy: Postfix's parent-domain probes (`.example.com`), IP literals.
fn domain_of(key: &[u8]) -> Option<String> {
    let key = std::str::from_utf8(key).ok()?;
    if key.starts_with('.') || key.starts_with('[') || key.parse::<IpAddr>().is_ok() {
        return None;
    }
    normalize_domain(key).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_names_are_exact() {
        assert_eq!(MapName::parse(b"postfix"), Some(MapName::Postfix));
        assert_eq!(
            MapName::parse(b"postfix-tlsrpt"),
            Some(MapName::PostfixTlsrpt)
        );
        assert_eq!(MapName::parse(b"Postfix"), None);
        assert_eq!(MapName::parse(b"postfix-"), None);
    }

    #[test]
    fn keys_without_a_policy() {
        assert_eq!(domain_of(b".example.com"), None);
        assert_eq!(domain_of(b"192.0.2.1"), None);
        assert_eq!(domain_of(b"[192.0.2.1]"), None);
        assert_eq!(domain_of(b"2001:db8::1"), None);
        assert_eq!(domain_of(b"a b"), None);
        assert_eq!(domain_of(b"\xff"), None);
        assert_eq!(domain_of(b"Example.COM").as_deref(), Some("example.com"));
    }
}
