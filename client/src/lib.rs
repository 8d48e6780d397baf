//! `sts-client`: the std layer of libsts.
//!
//! It answers the question an MTA asks for every delivery attempt: for
//! this recipient domain and this MX host, may I deliver, must TLS be
//! required, and what do I record for TLSRPT ([`Client::decide`]). On the
//! way it discovers the policy in DNS (RFC 8461 §3.1), fetches it over
//! HTTPS (§3.3), keeps it in a cache on disk and in memory, and applies the
//! refresh rules of §3.3, §3.4 and §5.1 (see [`refresh`]).
//!
//! There are no background threads and no async runtime: every call does
//! its I/O on the calling thread with timeouts, so a process that forks per
//! delivery (Exim) can use it.
//!
//! ```no_run
//! use sts_client::{Client, ClientOptions, DaneStatus};
//! let client = Client::new(ClientOptions::default())?;
//! let d = client.decide("example.com", "mx1.example.com", DaneStatus::NotUsable);
//! if d.refuse() {
//!     // defer the message: the MX host is not permitted under "enforce"
//! }
//! # Ok::<(), sts_client::ClientError>(())
//! ```

pub mod cache;
pub mod dns;
pub mod fetch;
pub mod file_access;
pub mod refresh;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sts_core::policy::{self, Mode, PolicyError};
use sts_core::txt::{self, TxtError};

use crate::cache::{Cache, CacheEntry, CachedPolicy, DiskCache};
use crate::dns::DnsResolver;
pub use crate::dns::{DnsError, TxtResolver};
use crate::fetch::{FetchConfig, FetchError, Fetcher};
use crate::refresh::{Action, BeforeDns, Rules, TxtSeen};

/// Settings of a [`Client`].
///
/// The four settings that point the client at a test setup fall back to
/// environment variables when unset: `STS_DNS_SERVER` (`ip` or
/// `ip:port`), `STS_CA_FILE` (a PEM bundle), `STS_HTTPS_PORT`, `STS_CACHE`
/// (a directory), and also `STS_HTTPS_CONNECT` (an IP address, see
/// [`ClientOptions::https_connect_override`]).
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The recursive DNS server to ask; default: the first `nameserver` of
    /// `/etc/resolv.conf`.
    pub dns_server: Option<SocketAddr>,
    /// PEM file with the trusted roots for the policy host; default: the
    /// webpki (Mozilla) roots.
    pub ca_file: Option<PathBuf>,
    /// HTTPS port of the policy host; default 443.
    pub https_port: Option<u16>,
    /// Directory of the on-disk policy cache; default: memory only.
    pub cache_path: Option<PathBuf>,
    /// Connect to this address instead of resolving `mta-sts.<domain>`
    /// (the certificate is still checked for `mta-sts.<domain>`). Meant
    /// for tests and loopback setups; default: the system resolver.
    pub https_connect_override: Option<IpAddr>,
    /// Time to wait for each DNS answer.
    pub dns_timeout: Duration,
    /// DNS tries over UDP before giving up.
    pub dns_attempts: u32,
    /// TCP connect timeout for the policy host.
    pub https_connect_timeout: Duration,
    /// Timeout for the whole policy fetch, TLS handshake and body included.
    pub https_total_timeout: Duration,
    /// Most domains kept in the cache (on disk and in memory).
    pub cache_max_entries: usize,
    /// Periods of the refresh rules.
    pub rules: Rules,
    /// Whether unset settings are read from the `STS_*` variables.
    pub use_env: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            dns_server: None,
            ca_file: None,
            https_port: None,
            cache_path: None,
            https_connect_override: None,
            dns_timeout: Duration::from_secs(2),
            dns_attempts: 3,
            https_connect_timeout: Duration::from_secs(10),
            https_total_timeout: Duration::from_secs(30),
            cache_max_entries: 10_000,
            rules: Rules::default(),
            use_env: true,
        }
    }
}

impl ClientOptions {
    /// Fills the unset settings from the `STS_*` environment variables.
    /// A variable that is set but malformed is an error.
    pub fn apply_env(&mut self) -> Result<(), ClientError> {
        fn var(name: &str) -> Option<String> {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        }
        let bad = |name: &str, v: &str| ClientError::Config(format!("{name}={v:?} is not valid"));
        if self.dns_server.is_none() {
            if let Some(v) = var("STS_DNS_SERVER") {
                self.dns_server =
                    Some(dns::parse_server(&v).ok_or_else(|| bad("STS_DNS_SERVER", &v))?);
            }
        }
        if self.ca_file.is_none() {
            self.ca_file = var("STS_CA_FILE").map(PathBuf::from);
        }
        if self.https_port.is_none() {
            if let Some(v) = var("STS_HTTPS_PORT") {
                self.https_port = Some(v.parse().map_err(|_| bad("STS_HTTPS_PORT", &v))?);
            }
        }
        if self.cache_path.is_none() {
            self.cache_path = var("STS_CACHE").map(PathBuf::from);
        }
        if self.https_connect_override.is_none() {
            if let Some(v) = var("STS_HTTPS_CONNECT") {
                self.https_connect_override =
                    Some(v.parse().map_err(|_| bad("STS_HTTPS_CONNECT", &v))?);
            }
        }
        Ok(())
    }
}

/// Why a [`Client`] could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// A setting is malformed.
    Config(String),
    /// The cache directory cannot be created or opened.
    Cache(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Config(e) => write!(f, "configuration: {e}"),
            ClientError::Cache(e) => write!(f, "cache: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// What the caller knows about DANE for the MX host (RFC 8461 §2: a
/// domain whose MX host has a usable DNSSEC-signed TLSA RRset is governed
/// by DANE, RFC 7672, and MTA-STS is not applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DaneStatus {
    /// No DNSSEC-signed TLSA records, or not looked up.
    NotUsable,
    /// The MX host has a usable DNSSEC-signed TLSA RRset.
    Usable,
}

/// The policy in force for a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecisionMode {
    /// `enforce`: deliver only to a permitted MX over validated TLS.
    Enforce,
    /// `testing`: deliver anyway, report failures.
    Testing,
    /// `none`: the domain withdrew its policy.
    None,
    /// The domain has no usable policy.
    NoPolicy,
    /// DANE applies instead of MTA-STS.
    Dane,
}

impl DecisionMode {
    /// A short lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionMode::Enforce => "enforce",
            DecisionMode::Testing => "testing",
            DecisionMode::None => "none",
            DecisionMode::NoPolicy => "no-policy",
            DecisionMode::Dane => "dane",
        }
    }
}

impl From<Mode> for DecisionMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Enforce => DecisionMode::Enforce,
            Mode::Testing => DecisionMode::Testing,
            Mode::None => DecisionMode::None,
        }
    }
}

/// RFC 8460 §4.3 result types this layer can determine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsrptFailure {
    /// `sts-policy-fetch-error`: the policy could not be fetched.
    StsPolicyFetchError,
    /// `sts-policy-invalid`: the fetched policy is not valid.
    StsPolicyInvalid,
    /// `validation-failure`: the MX host is not permitted by the policy.
    ValidationFailure,
}

impl TlsrptFailure {
    /// The result type as written in a TLSRPT report.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsrptFailure::StsPolicyFetchError => "sts-policy-fetch-error",
            TlsrptFailure::StsPolicyInvalid => "sts-policy-invalid",
            TlsrptFailure::ValidationFailure => "validation-failure",
        }
    }
}

/// Where the policy of a decision came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Fetched during this call.
    Network,
    /// From the cache.
    Cache,
    /// No policy.
    None,
}

impl Source {
    /// `"network"`, `"cache"` or `"none"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Network => "network",
            Source::Cache => "cache",
            Source::None => "none",
        }
    }
}

/// Why a lookup found no policy, or found one only in the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// The domain is not a valid domain name.
    BadDomain(String),
    /// The TXT lookup failed (temporarily, see [`DnsError::is_temporary`]).
    Dns(DnsError),
    /// The TXT records give no policy (none or several STSv1 records, a
    /// malformed record).
    Txt(TxtError),
    /// The policy could not be fetched.
    Fetch(FetchError),
    /// The fetched policy is invalid.
    Invalid(PolicyError),
    /// A fetch failed recently; not retried until the back-off ends.
    BackedOff,
}

impl LookupError {
    /// Whether retrying later may give another answer (DNS trouble,
    /// network trouble), as opposed to a definite "no policy".
    pub fn is_temporary(&self) -> bool {
        match self {
            LookupError::Dns(e) => e.is_temporary(),
            LookupError::Fetch(_) | LookupError::BackedOff => true,
            _ => false,
        }
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::BadDomain(d) => write!(f, "not a valid domain: {d}"),
            LookupError::Dns(e) => write!(f, "TXT lookup: {e}"),
            LookupError::Txt(e) => write!(f, "TXT record: {}", e.as_str()),
            LookupError::Fetch(e) => write!(f, "policy fetch: {e}"),
            LookupError::Invalid(e) => write!(f, "policy invalid: {}", e.as_str()),
            LookupError::BackedOff => f.write_str("policy fetch failed recently; backing off"),
        }
    }
}

impl std::error::Error for LookupError {}

/// A policy in force, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyInfo {
    /// The TXT `id` the policy was fetched under.
    pub txt_id: String,
    /// The mode.
    pub mode: Mode,
    /// `max_age` in seconds.
    pub max_age: u32,
    /// The mx patterns, in file order.
    pub mx: Vec<String>,
    /// The policy file.
    pub text: Arc<[u8]>,
    /// When it was fetched (Unix seconds).
    pub fetched_at: u64,
    /// When it expires (Unix seconds).
    pub expires_at: u64,
}

impl PolicyInfo {
    fn from_cached(c: &CachedPolicy) -> Option<PolicyInfo> {
        let p = policy::parse(&c.text).ok()?;
        Some(PolicyInfo {
            txt_id: c.txt_id.clone(),
            mode: p.mode(),
            max_age: p.max_age(),
            mx: p
                .mx()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect(),
            text: c.text.clone(),
            fetched_at: c.fetched_at,
            expires_at: c.expires_at,
        })
    }

    /// RFC 8461 §4.1: whether `mx_host` (an A-label host name) is
    /// permitted. IP literals never are.
    pub fn permits(&self, mx_host: &str) -> bool {
        policy::parse(&self.text).is_ok_and(|p| p.match_mx(mx_host.as_bytes()).is_ok())
    }
}

/// The result of [`Client::lookup`]: the policy in force for a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLookup {
    /// The domain as A-labels, lower case.
    pub domain: String,
    /// The policy in force, if any.
    pub policy: Option<PolicyInfo>,
    /// Where it came from.
    pub source: Source,
    /// What went wrong on the way, if anything (with a policy present,
    /// a refresh failed and the cached policy was used).
    pub error: Option<LookupError>,
    /// The TLSRPT result type of a failed fetch, if a fetch failed.
    pub fetch_failure: Option<TlsrptFailure>,
}

/// The answer to "may I deliver to this MX host?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The recipient domain as A-labels.
    pub domain: String,
    /// The MX host as given, converted to A-labels when possible.
    pub mx_host: String,
    /// The policy mode in force.
    pub mode: DecisionMode,
    /// Whether the MX host is permitted (always true without a policy in
    /// `enforce` or `testing` mode).
    pub mx_permitted: bool,
    /// What to report to TLSRPT for this delivery, if anything:
    /// `validation-failure` when the MX is not permitted, else a fetch or
    /// invalid-policy failure met while looking the policy up.
    pub failure: Option<TlsrptFailure>,
    /// The policy in force.
    pub policy: Option<PolicyInfo>,
    /// Where the policy came from.
    pub source: Source,
    /// What went wrong while looking the policy up, if anything.
    pub error: Option<LookupError>,
    /// The message carries `TLS-Required: No` (RFC 8689 §5): the sender
    /// asked that MTA-STS and DANE not stop the delivery. The policy is
    /// still looked up and judged (for reporting), but [`Decision::refuse`]
    /// and [`Decision::tls_required`] are false.
    pub tls_required_no: bool,
}

impl Decision {
    /// Whether the delivery must not go ahead: `enforce` and the MX host
    /// is not permitted (after the §5.1 re-check). The MTA should defer
    /// rather than bounce.
    pub fn refuse(&self) -> bool {
        self.mode == DecisionMode::Enforce && !self.mx_permitted && !self.tls_required_no
    }

    /// Whether TLS with a certificate valid for [`Decision::mx_host`] must
    /// be required (`enforce` mode).
    pub fn tls_required(&self) -> bool {
        self.mode == DecisionMode::Enforce && !self.tls_required_no
    }
}

/// The inputs of [`Client::decide_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecisionRequest<'a> {
    /// The recipient domain (U-labels or A-labels).
    pub domain: &'a str,
    /// The MX host about to be used.
    pub mx_host: &'a str,
    /// Whether DANE governs the MX host.
    pub dane: DaneStatus,
    /// The message has `TLS-Required: No` (RFC 8689).
    pub tls_required_no: bool,
}

/// What [`Client::refresh_all`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Entries looked at.
    pub checked: usize,
    /// Policies fetched anew.
    pub refreshed: usize,
    /// Fetches that failed.
    pub failed: usize,
    /// Expired entries removed.
    pub removed: usize,
}

/// Converts a domain to lower-case A-labels without a final dot and
/// checks it is a host name. U-labels are converted with IDNA (UTS 46).
pub fn normalize_domain(domain: &str) -> Result<String, LookupError> {
    let bad = || LookupError::BadDomain(domain.to_owned());
    let d = domain.strip_suffix('.').unwrap_or(domain);
    if d.is_empty() || d.parse::<IpAddr>().is_ok() || d.starts_with('[') {
        return Err(bad());
    }
    let ascii = if d.is_ascii() {
        d.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(d).map_err(|_| bad())?
    };
    if sts_core::name::validate(ascii.as_bytes()).is_err()
        || sts_core::name::looks_like_ipv4(ascii.as_bytes())
    {
        return Err(bad());
    }
    Ok(ascii)
}

/// A trace callback: gets one line per step (for `sts -v`).
pub type TraceFn = Arc<dyn Fn(&str) + Send + Sync>;

/// A clock: seconds since the Unix epoch.
pub type ClockFn = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The MTA-STS client. Cheap to create (the HTTPS client is built on the
/// first fetch); share one per process, or make one per delivery in a
/// forking MTA with an on-disk cache.
pub struct Client {
    opts: ClientOptions,
    resolver: Arc<dyn TxtResolver>,
    fetcher: OnceLock<Result<Fetcher, String>>,
    cache: Cache,
    trace: Option<TraceFn>,
    clock: ClockFn,
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
    /// with its own DNS code); `dns_server` is then unused.
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
        let resolver = resolver.unwrap_or_else(|| {
            Arc::new(match opts.dns_server {
                Some(s) => DnsResolver::new(s, opts.dns_timeout, opts.dns_attempts),
                None => DnsResolver::from_system(opts.dns_timeout, opts.dns_attempts),
            })
        });
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
            cache: Cache::new(disk, opts.cache_max_entries),
            opts,
            resolver,
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

    fn trace(&self, line: impl FnOnce() -> String) {
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
            if refresh::before_dns(Some(&e.meta()), now, &rules, force_txt) == BeforeDns::UseCached
            {
                self.trace(|| format!("cache: memory hit for {domain} ({:.3} ms)", ms(t0)));
                return cached(domain, &e, None, None);
            }
        }
        let entry = self.cache.get(&domain);
        if let Some(e) = &entry {
            if refresh::before_dns(Some(&e.meta()), now, &rules, force_txt) == BeforeDns::UseCached
            {
                self.trace(|| format!("cache: hit for {domain} ({:.3} ms)", ms(t0)));
                return cached(domain, e, None, None);
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
        let (seen_id, txt_error) = self.check_txt(&domain);
        let seen = match &seen_id {
            Some(id) => TxtSeen::Id(id),
            None if txt_error.as_ref().is_some_and(LookupError::is_temporary) => TxtSeen::TempFail,
            None => TxtSeen::NoPolicy,
        };
        let action =
            refresh::after_txt(entry.as_ref().map(|e| e.meta()).as_ref(), seen, now, &rules);
        self.trace(|| format!("rules: {action:?}"));
        self.act(domain, entry, action, seen_id, txt_error, now)
    }

    /// Looks the TXT record up: the id, or why there is none.
    fn check_txt(&self, domain: &str) -> (Option<String>, Option<LookupError>) {
        let name = format!("_mta-sts.{domain}");
        let t0 = Instant::now();
        let answer = self.resolver.lookup_txt(&name);
        match answer {
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
                    Ok(r) => (Some(String::from_utf8_lossy(r.id).into_owned()), None),
                    Err(TxtError::NoRecord) => (None, None),
                    Err(e) => (None, Some(LookupError::Txt(e))),
                }
            }
            Err(e) => {
                self.trace(|| format!("dns: TXT {name} -> {e} ({:.3} ms)", ms(t0)));
                match e {
                    DnsError::NxDomain | DnsError::NoData => (None, None),
                    e => (None, Some(LookupError::Dns(e))),
                }
            }
        }
    }

    fn act(
        &self,
        domain: String,
        entry: Option<CacheEntry>,
        action: Action,
        seen_id: Option<String>,
        txt_error: Option<LookupError>,
        now: u64,
    ) -> PolicyLookup {
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
                    if let Err(err) = self.cache.put(&domain, e.clone()) {
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
                // Another process may have fetched this id while DNS was
                // asked: use its entry rather than fetch again.
                if let Some(d) = self.cache.disk().and_then(|d| d.load(&domain)) {
                    let m = d.meta();
                    if m.policy.is_some_and(|p| p.txt_id == id)
                        && refresh::is_valid(&m, now)
                        && !refresh::near_expiry(&m, now, &self.opts.rules)
                    {
                        self.trace(|| {
                            format!("cache: {domain} id {id} was just fetched by another process")
                        });
                        return cached(domain, &d, None, None);
                    }
                }
                self.fetch_and_store(domain, entry, &id, now)
            }
        }
    }

    fn fetch_and_store(
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
                };
                if let Err(err) = self.cache.put(&domain, e.clone()) {
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
                if let Err(werr) = self.cache.put(&domain, e.clone()) {
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
            report.checked += 1;
            let now = (self.clock)();
            let (seen_id, txt_error) = self.check_txt(&domain);
            let seen = match &seen_id {
                Some(id) => TxtSeen::Id(id),
                None if txt_error.as_ref().is_some_and(LookupError::is_temporary) => {
                    TxtSeen::TempFail
                }
                None => TxtSeen::NoPolicy,
            };
            match refresh::proactive(&entry.meta(), seen, now, &rules) {
                None => {
                    self.trace(|| format!("refresh: {domain} expired and has no policy: removed"));
                    if self.cache.remove(&domain).is_ok() {
                        report.removed += 1;
                    }
                }
                Some(action) => {
                    self.trace(|| format!("refresh: {domain}: {action:?}"));
                    let fetching = action == Action::Fetch;
                    let look = self.act(domain, Some(entry), action, seen_id, txt_error, now);
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

fn cached(
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

fn no_policy(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_become_a_labels() {
        assert_eq!(
            normalize_domain("Example.COM.").as_deref(),
            Ok("example.com")
        );
        assert_eq!(
            normalize_domain("bücher.example").as_deref(),
            Ok("xn--bcher-kva.example")
        );
        assert!(normalize_domain("192.0.2.1").is_err());
        assert!(normalize_domain("[::1]").is_err());
        assert!(normalize_domain("").is_err());
        assert!(normalize_domain("a..b").is_err());
        assert!(normalize_domain("../etc").is_err());
    }

    #[test]
    fn tlsrpt_result_type_names() {
        assert_eq!(
            TlsrptFailure::StsPolicyFetchError.as_str(),
            "sts-policy-fetch-error"
        );
        assert_eq!(
            TlsrptFailure::StsPolicyInvalid.as_str(),
            "sts-policy-invalid"
        );
        assert_eq!(
            TlsrptFailure::ValidationFailure.as_str(),
            "validation-failure"
        );
    }
}
