//! The [`Client`] and the lookup state machine behind every delivery
//! decision: cache (memory, then disk), TXT record, the core's refresh
//! rules, HTTPS fetch, store.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sts_core::policy::{self, Mode};
use sts_core::txt::{self, TxtError};

use crate::cache::{Cache, CacheEntry, CachedPolicy, DiskCache};
use crate::config::{ClientError, ClientOptions};
use crate::dns::{DnsError, DnsResolver, TxtResolver};
use crate::fetch::{FetchConfig, FetchError, Fetcher};
use crate::lock::{self, Acquire};
use crate::refresh::{self, Action, BeforeDns, TxtSeen};
use crate::types::{
    normalize_domain, DaneStatus, Decision, DecisionMode, DecisionRequest, LookupError, PolicyInfo,
    PolicyLookup, Source, TlsrptFailure,
};

/// A trace callback: gets one line per step (for `sts -v`).
pub type TraceFn = Arc<dyn Fn(&str) + Send + Sync>;

/// A clock: seconds since the Unix epoch.
pub type ClockFn = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The MTA-STS client. Cheap to create (the HTTPS client is built on the
/// first fetch); share one per process, or make one per delivery in a
/// forking MTA with an on-disk cache.
pub struct Client {
    pub(crate) opts: ClientOptions,
    /// TXT lookups: the built-in resolver or the MTA's own.
    resolver: Arc<dyn TxtResolver>,
    /// Every other lookup (the policy host's addresses): always the
    /// built-in resolver with the configured server.
    dns: DnsResolver,
    fetcher: OnceLock<Result<Fetcher, String>>,
    pub(crate) cache: Cache,
    trace: Option<TraceFn>,
    pub(crate) clock: ClockFn,
    pub(crate) shared: crate::shared::Shared,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Client {
    /// A client with the built-in DNS resolver.
    pub fn new(opts: ClientOptions) -> Result<Client, ClientError> {
        Self::build(opts, None)
    }

    /// A client that looks TXT records up through `resolver` (for an MTA
    /// with its own DNS code); `dns_server` then serves only the policy
    /// host's address lookups.
    pub fn with_resolver(
        opts: ClientOptions,
        resolver: Arc<dyn TxtResolver>,
    ) -> Result<Client, ClientError> {
        Self::build(opts, Some(resolver))
    }

    fn build(
        mut opts: ClientOptions,
        resolver: Option<Arc<dyn TxtResolver>>,
    ) -> Result<Client, ClientError> {
        if opts.use_env {
            opts.apply_env()?;
        }
        // Zero would mean "no timeout" to the socket layer; huge values
        // would overflow deadlines.
        let clamp = |d: Duration| d.clamp(Duration::from_millis(1), Duration::from_secs(3600));
        opts.dns_timeout = clamp(opts.dns_timeout);
        opts.https_connect_timeout = clamp(opts.https_connect_timeout);
        opts.https_total_timeout = clamp(opts.https_total_timeout);
        let dns = match opts.dns_server {
            Some(s) => DnsResolver::new(s, opts.dns_timeout, opts.dns_attempts),
            None => DnsResolver::from_system(opts.dns_timeout, opts.dns_attempts),
        };
        let resolver = resolver.unwrap_or_else(|| Arc::new(dns.clone()));
        let disk = match &opts.cache_path {
            Some(p) => Some(
                DiskCache::open(p, opts.cache_max_entries)
                    .map_err(|e| ClientError::Cache(format!("{}: {e}", p.display())))?,
            ),
            None => None,
        };
        if let Some(ca) = &opts.ca_file {
            if !ca.is_file() {
                return Err(ClientError::Config(format!(
                    "CA file {} not found",
                    ca.display()
                )));
            }
        }
        Ok(Client {
            shared: crate::shared::Shared::from_options(&opts)?,
            cache: Cache::new(disk, opts.cache_max_entries),
            opts,
            resolver,
            dns,
            fetcher: OnceLock::new(),
            trace: None,
            clock: Arc::new(system_now),
        })
    }

    /// The options in effect (environment fallbacks applied).
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// Sets a callback that receives a line for each step (DNS answer,
    /// HTTPS status, cache hit) with its duration.
    pub fn set_trace(&mut self, trace: TraceFn) {
        self.trace = Some(trace);
    }

    /// Replaces the clock (tests).
    pub fn set_clock(&mut self, clock: ClockFn) {
        self.clock = clock;
    }

    /// The cache.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    pub(crate) fn trace(&self, line: impl FnOnce() -> String) {
        if let Some(t) = &self.trace {
            t(&line());
        }
    }

    fn fetcher(&self) -> Result<&Fetcher, String> {
        self.fetcher
            .get_or_init(|| {
                Fetcher::new(&FetchConfig {
                    ca_file: self.opts.ca_file.clone(),
                    port: self.opts.https_port,
                    connect_override: self.opts.https_connect_override,
                    dns: Some(self.dns.clone()),
                    connect_timeout: self.opts.https_connect_timeout,
                    total_timeout: self.opts.https_total_timeout,
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The delivery decision for `domain` and `mx_host`, with the §5.1
    /// rule: before answering "refuse" under `enforce`, the TXT record is
    /// checked again and the policy refetched if its id changed.
    pub fn decide(&self, domain: &str, mx_host: &str, dane: DaneStatus) -> Decision {
        self.decide_with(&DecisionRequest {
            domain,
            mx_host,
            dane,
            tls_required_no: false,
        })
    }

    /// [`Client::decide`] with every input spelled out.
    pub fn decide_with(&self, req: &DecisionRequest<'_>) -> Decision {
        let (domain, mx_host, dane) = (req.domain, req.mx_host, req.dane);
        let mx = normalize_mx(mx_host);
        let domain_norm = normalize_domain(domain);
        if dane == DaneStatus::Usable {
            return Decision {
                domain: domain_norm.unwrap_or_else(|_| domain.to_owned()),
                mx_host: mx.unwrap_or_else(|| mx_host.to_owned()),
                mode: DecisionMode::Dane,
                mx_permitted: true,
                failure: None,
                policy: None,
                source: Source::None,
                error: None,
                tls_required_no: req.tls_required_no,
            };
        }
        let mut look = self.lookup_inner(domain, false);
        let mut d = judge(&look, mx.as_deref(), mx_host);
        d.tls_required_no = req.tls_required_no;
        if d.refuse() {
            self.trace(|| format!("decide: {mx_host} not permitted under enforce; re-checking TXT (RFC 8461 §5.1)"));
            look = self.lookup_inner(domain, true);
            d = judge(&look, mx.as_deref(), mx_host);
        }
        d
    }

    /// The policy in force for `domain` (no MX check).
    pub fn lookup(&self, domain: &str) -> PolicyLookup {
        self.lookup_inner(domain, false)
    }

    /// The MX patterns of the policy in force for `domain`, without IP
    /// literals; `None` when no policy in `enforce` or `testing` mode is in
    /// force (any MX host is then acceptable).
    pub fn permitted_mx(&self, domain: &str) -> Option<Vec<String>> {
        let look = self.lookup(domain);
        let p = look.policy?;
        if p.mode == Mode::None {
            return None;
        }
        Some(
            p.mx.into_iter()
                .filter(|m| !sts_core::name::looks_like_ipv4(m.as_bytes()))
                .collect(),
        )
    }

    fn lookup_inner(&self, domain: &str, force_txt: bool) -> PolicyLookup {
        let domain = match normalize_domain(domain) {
            Ok(d) => d,
            Err(e) => return no_policy(domain.to_owned(), Some(e), None),
        };
        let now = (self.clock)();
        let rules = self.opts.rules;
        // Memory first, then disk (another process may have refreshed it).
        let t0 = Instant::now();
        if let Some(e) = self.cache.get_mem(&domain) {
            if let Some(look) = self.answer_from_cache(&domain, &e, now, force_txt, "memory ", t0) {
                return look;
            }
        }
        let entry = self.consult_shared(&domain, self.cache.get(&domain), now, force_txt);
        if let Some(e) = &entry {
            if let Some(look) = self.answer_from_cache(&domain, e, now, force_txt, "", t0) {
                return look;
            }
        }
        self.trace(|| match &entry {
            Some(e) => format!(
                "cache: entry for {domain} needs a TXT check (policy id {}) ({:.3} ms)",
                e.policy.as_ref().map_or("-", |p| p.txt_id.as_str()),
                ms(t0)
            ),
            None => format!("cache: miss for {domain} ({:.3} ms)", ms(t0)),
        });
        let txt = self.check_txt(&domain);
        let entry = self.remember_negative(&domain, entry, &txt, now);
        let action = refresh::after_txt(
            entry.as_ref().map(|e| e.meta()).as_ref(),
            txt.seen(),
            now,
            &rules,
        );
        self.trace(|| format!("rules: {action:?}"));
        self.act(domain, entry, action, txt, now)
    }

    /// The answer a cache entry gives without DNS (RFC 8461 §3.3 rules of
    /// the core), or `None` when the TXT record must be asked. `layer`
    /// names the cache layer in the trace.
    fn answer_from_cache(
        &self,
        domain: &str,
        e: &CacheEntry,
        now: u64,
        force_txt: bool,
        layer: &str,
        t0: Instant,
    ) -> Option<PolicyLookup> {
        match refresh::before_dns(Some(&e.meta()), now, &self.opts.rules, force_txt) {
            BeforeDns::UseCached => {
                self.trace(|| format!("cache: {layer}hit for {domain} ({:.3} ms)", ms(t0)));
                Some(cached(domain.to_owned(), e, None, None))
            }
            BeforeDns::NoPolicyCached => {
                self.trace(|| format!("cache: {layer}{domain} has no policy ({:.3} ms)", ms(t0)));
                Some(known_no_policy(domain.to_owned()))
            }
            BeforeDns::CheckTxt => None,
        }
    }

    /// Looks the TXT record up: the id, or why there is none.
    pub(crate) fn check_txt(&self, domain: &str) -> TxtCheck {
        let name = format!("_mta-sts.{domain}");
        let t0 = Instant::now();
        let answer = self.resolver.lookup_txt_answer(&name);
        match answer.result {
            Ok(records) => {
                self.trace(|| {
                    let shown: Vec<String> = records
                        .iter()
                        .map(|r| format!("{:?}", String::from_utf8_lossy(r)))
                        .collect();
                    format!(
                        "dns: TXT {name} -> [{}] ({:.3} ms)",
                        shown.join(", "),
                        ms(t0)
                    )
                });
                match txt::select(records.iter().map(Vec::as_slice)) {
                    Ok(r) => TxtCheck::id(String::from_utf8_lossy(r.id).into_owned()),
                    Err(TxtError::NoRecord) => TxtCheck::none(None),
                    Err(e) => TxtCheck::error(LookupError::Txt(e)),
                }
            }
            Err(e) => {
                self.trace(|| format!("dns: TXT {name} -> {e} ({:.3} ms)", ms(t0)));
                match e {
                    DnsError::NxDomain | DnsError::NoData => {
                        TxtCheck::none(Some(refresh::negative_ttl(answer.negative_ttl)))
                    }
                    e => TxtCheck::error(LookupError::Dns(e)),
                }
            }
        }
    }

    /// Remembers an NXDOMAIN/NODATA answer for its negative TTL in the
    /// entry of `domain` (memory and disk, so other processes skip DNS
    /// too), and returns the entry the rules then look at.
    fn remember_negative(
        &self,
        domain: &str,
        entry: Option<CacheEntry>,
        txt: &TxtCheck,
        now: u64,
    ) -> Option<CacheEntry> {
        // `txt_recheck = 0` asks DNS for every decision, negative answers
        // included.
        let Some(ttl) = txt.negative_ttl.filter(|_| self.opts.rules.txt_recheck > 0) else {
            return entry;
        };
        let mut e = entry.unwrap_or_default();
        e.no_policy_until = now.saturating_add(ttl);
        if let Err(err) = self.store(domain, e.clone()) {
            self.trace(|| format!("cache: write failed: {err}"));
        }
        self.trace(|| format!("cache: {domain} has no policy for {ttl} s (negative answer)"));
        Some(e)
    }

    pub(crate) fn act(
        &self,
        domain: String,
        entry: Option<CacheEntry>,
        action: Action,
        txt: TxtCheck,
        now: u64,
    ) -> PolicyLookup {
        let TxtCheck {
            id: seen_id,
            error: txt_error,
            ..
        } = txt;
        match action {
            Action::UseCached => {
                let Some(mut e) = entry else {
                    return no_policy(domain, txt_error, None);
                };
                // Remember that the id was confirmed, so that other
                // processes skip DNS until the next re-check.
                let confirmed =
                    matches!((&seen_id, &e.policy), (Some(id), Some(p)) if *id == p.txt_id);
                if confirmed && self.opts.rules.txt_recheck > 0 {
                    e.txt_checked_at = now;
                    if let Err(err) = self.store(&domain, e.clone()) {
                        self.trace(|| format!("cache: write failed: {err}"));
                    }
                }
                let err = txt_error.or(match (&e.last_failure, &seen_id, &e.policy) {
                    (Some(_), Some(id), Some(p)) if *id != p.txt_id => Some(LookupError::BackedOff),
                    _ => None,
                });
                cached(domain, &e, err, None)
            }
            Action::NoPolicy => no_policy(domain, txt_error, None),
            Action::BackedOff => no_policy(
                domain,
                Some(LookupError::BackedOff),
                Some(TlsrptFailure::StsPolicyFetchError),
            ),
            Action::Fetch => {
                let id = seen_id.unwrap_or_default();
                self.fetch_once(domain, entry, &id, now)
            }
        }
    }

    /// Fetches the policy of `domain` with id `id` unless another process
    /// sharing the cache directory does so already: then the still-valid
    /// cached policy is used, or the entry that process writes is awaited
    /// (at most until its lock's deadline, which is one fetch timeout).
    fn fetch_once(
        &self,
        domain: String,
        entry: Option<CacheEntry>,
        id: &str,
        now: u64,
    ) -> PolicyLookup {
        let (domain, entry) = match self.fetch_once_shared(domain, entry, id, now) {
            Ok(look) => return look,
            Err(back) => back,
        };
        let Some(disk) = self.cache.disk() else {
            return self.fetch_and_store(domain, entry, id, now);
        };
        let hold = self.fetch_budget();
        let mut waited = false;
        loop {
            // Another process may have fetched this id meanwhile.
            if let Some(d) = disk.load(&domain) {
                let m = d.meta();
                let clock = (self.clock)();
                if m.policy.is_some_and(|p| p.txt_id == id)
                    && refresh::is_valid(&m, clock)
                    && !refresh::near_expiry(&m, clock, &self.opts.rules)
                {
                    self.trace(|| {
                        format!("cache: {domain} id {id} was just fetched by another process")
                    });
                    self.cache.put_mem(&domain, d.clone());
                    return cached(domain, &d, None, None);
                }
                // The holder we waited for failed: share its failure
                // rather than hitting the policy host again at once.
                if waited && refresh::backing_off(&m, clock, &self.opts.rules) {
                    let failure = TlsrptFailure::StsPolicyFetchError;
                    return if refresh::is_valid(&m, clock) {
                        cached(domain, &d, Some(LookupError::BackedOff), Some(failure))
                    } else {
                        no_policy(domain, Some(LookupError::BackedOff), Some(failure))
                    };
                }
            }
            match lock::try_lock(disk.dir(), disk.access(), &domain, (self.clock)(), hold) {
                Ok(Acquire::Held(held)) => {
                    let look = self.fetch_and_store(domain, entry, id, now);
                    drop(held);
                    return look;
                }
                Ok(Acquire::Busy { until }) => {
                    // A valid policy in hand: keep using it, the holder
                    // will store the new one.
                    if let Some(e) = &entry {
                        if refresh::is_valid(&e.meta(), now) {
                            self.trace(|| {
                                format!("lock: {domain} is being fetched by another process; using the cached policy")
                            });
                            return cached(domain, e, None, None);
                        }
                    }
                    if waited {
                        // The holder overran its deadline: it is stale now
                        // and the next round breaks it.
                        continue;
                    }
                    self.trace(|| {
                        format!("lock: {domain} is being fetched by another process; waiting")
                    });
                    self.wait_for_unlock(disk.dir(), &domain, until);
                    waited = true;
                }
                Err(err) => {
                    // A cache directory we cannot lock in still lets us
                    // fetch: correctness first, deduplication second.
                    self.trace(|| format!("lock: {domain}: {err}; fetching without the lock"));
                    return self.fetch_and_store(domain, entry, id, now);
                }
            }
        }
    }

    /// Sleeps until the lock on `domain` is gone or its deadline passes.
    fn wait_for_unlock(&self, dir: &std::path::Path, domain: &str, until: u64) {
        let started = Instant::now();
        let cap = self.fetch_budget() + Duration::from_secs(1);
        while lock::is_locked(dir, domain, (self.clock)())
            && (self.clock)() < until
            && started.elapsed() < cap
        {
            std::thread::sleep(LOCK_POLL);
        }
    }

    /// The longest one policy fetch can take: the address lookup, then
    /// the HTTPS exchange (whose total timeout includes connect and TLS).
    pub(crate) fn fetch_budget(&self) -> Duration {
        self.opts
            .dns_timeout
            .saturating_mul(self.opts.dns_attempts.max(1))
            .saturating_mul(2)
            .saturating_add(self.opts.https_total_timeout)
    }

    pub(crate) fn fetch_and_store(
        &self,
        domain: String,
        entry: Option<CacheEntry>,
        id: &str,
        now: u64,
    ) -> PolicyLookup {
        let t0 = Instant::now();
        let result = self
            .fetcher()
            .map_err(|e| LookupError::Fetch(FetchError::Tls(e)))
            .and_then(|f| {
                let r = f.fetch(&domain);
                self.trace(|| match &r {
                    Ok(got) => format!(
                        "https: GET {} -> {} ({} bytes) ({:.3} ms)",
                        f.url(&domain),
                        got.status,
                        got.body.len(),
                        ms(t0)
                    ),
                    Err(e) => format!("https: GET {} -> {e} ({:.3} ms)", f.url(&domain), ms(t0)),
                });
                let body = r.map_err(LookupError::Fetch)?.body;
                let max_age = policy::parse(&body)
                    .map_err(LookupError::Invalid)?
                    .max_age();
                Ok((body, max_age))
            });
        match result {
            Ok((body, max_age)) => {
                let e = CacheEntry {
                    policy: Some(CachedPolicy {
                        txt_id: id.to_owned(),
                        text: Arc::from(body),
                        fetched_at: now,
                        expires_at: now.saturating_add(u64::from(max_age)),
                    }),
                    txt_checked_at: now,
                    last_failure: None,
                    no_policy_until: 0,
                };
                if let Err(err) = self.store(&domain, e.clone()) {
                    self.trace(|| format!("cache: write failed: {err}"));
                }
                let mut look = cached(domain, &e, None, None);
                look.source = Source::Network;
                look
            }
            Err(err) => {
                let failure = match err {
                    LookupError::Invalid(_) => TlsrptFailure::StsPolicyInvalid,
                    _ => TlsrptFailure::StsPolicyFetchError,
                };
                let mut e = entry.unwrap_or_default();
                e.last_failure = Some(now);
                if let Err(werr) = self.store(&domain, e.clone()) {
                    self.trace(|| format!("cache: write failed: {werr}"));
                }
                // §3.3: a failed refetch keeps a still-valid cached policy.
                if refresh::is_valid(&e.meta(), now) {
                    cached(domain, &e, Some(err), Some(failure))
                } else {
                    no_policy(domain, Some(err), Some(failure))
                }
            }
        }
    }
}

/// How often a process waiting for another's fetch looks at the lock.
pub(crate) const LOCK_POLL: Duration = Duration::from_millis(20);

/// What the TXT lookup of `_mta-sts.<domain>` said.
#[derive(Debug)]
pub(crate) struct TxtCheck {
    /// The id of the one valid STSv1 record.
    pub(crate) id: Option<String>,
    /// Why there is no id, when that says something (a bad record, or a
    /// temporary DNS failure).
    pub(crate) error: Option<LookupError>,
    /// For an NXDOMAIN/NODATA answer: how long to remember it (already
    /// clamped).
    pub(crate) negative_ttl: Option<u64>,
}

impl TxtCheck {
    fn id(id: String) -> Self {
        TxtCheck {
            id: Some(id),
            error: None,
            negative_ttl: None,
        }
    }

    fn none(negative_ttl: Option<u64>) -> Self {
        TxtCheck {
            id: None,
            error: None,
            negative_ttl,
        }
    }

    fn error(e: LookupError) -> Self {
        TxtCheck {
            id: None,
            error: Some(e),
            negative_ttl: None,
        }
    }

    /// The form the core's rules take.
    pub(crate) fn seen(&self) -> TxtSeen<'_> {
        match &self.id {
            Some(id) => TxtSeen::Id(id),
            None if self.error.as_ref().is_some_and(LookupError::is_temporary) => TxtSeen::TempFail,
            None => TxtSeen::NoPolicy,
        }
    }
}

fn ms(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
}

fn normalize_mx(mx_host: &str) -> Option<String> {
    let h = mx_host.strip_suffix('.').unwrap_or(mx_host);
    if h.is_ascii() {
        Some(h.to_ascii_lowercase())
    } else {
        idna::domain_to_ascii(h).ok()
    }
}

pub(crate) fn cached(
    domain: String,
    e: &CacheEntry,
    error: Option<LookupError>,
    fetch_failure: Option<TlsrptFailure>,
) -> PolicyLookup {
    match e.policy.as_ref().and_then(PolicyInfo::from_cached) {
        Some(p) => PolicyLookup {
            domain,
            policy: Some(p),
            source: Source::Cache,
            error,
            fetch_failure,
        },
        None => no_policy(domain, error, fetch_failure),
    }
}

/// A domain whose "no policy" DNS answer is still remembered.
fn known_no_policy(domain: String) -> PolicyLookup {
    PolicyLookup {
        domain,
        policy: None,
        source: Source::Cache,
        error: None,
        fetch_failure: None,
    }
}

pub(crate) fn no_policy(
    domain: String,
    error: Option<LookupError>,
    fetch_failure: Option<TlsrptFailure>,
) -> PolicyLookup {
    PolicyLookup {
        domain,
        policy: None,
        source: Source::None,
        error,
        fetch_failure,
    }
}

/// Applies the policy of a lookup to an MX host (RFC 8461 §4.1, §5).
fn judge(look: &PolicyLookup, mx: Option<&str>, mx_raw: &str) -> Decision {
    let (mode, mx_permitted) = match &look.policy {
        Some(p) => {
            let mode = DecisionMode::from(p.mode);
            match p.mode {
                Mode::None => (mode, true),
                _ => (mode, mx.is_some_and(|h| p.permits(h))),
            }
        }
        None => (DecisionMode::NoPolicy, true),
    };
    let failure = if mx_permitted {
        look.fetch_failure
    } else {
        Some(TlsrptFailure::ValidationFailure)
    };
    Decision {
        domain: look.domain.clone(),
        mx_host: mx.map_or_else(|| mx_raw.to_owned(), str::to_owned),
        mode,
        mx_permitted,
        failure,
        policy: look.policy.clone(),
        source: look.source,
        error: look.error.clone(),
        tls_required_no: false,
    }
}
