//! Settings of a [`crate::Client`] and their `STS_*` environment
//! fallbacks.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::dns;
use crate::refresh::Rules;
use crate::shared::RedisUrl;

/// Settings of a [`crate::Client`].
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
    /// A Redis shared by a fleet of MTAs (policy cache, fetch lock,
    /// TLSRPT counters); needs the `redis` feature. Environment fallback:
    /// `STS_REDIS_URL`. Default: none.
    pub redis_url: Option<RedisUrl>,
    /// Connect and command timeout for Redis.
    pub redis_timeout: Duration,
    /// After a Redis failure, no new attempt for this long (the local
    /// cache carries on alone meanwhile).
    pub redis_retry_after: Duration,
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
            redis_url: None,
            redis_timeout: Duration::from_millis(250),
            redis_retry_after: Duration::from_secs(10),
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
        // Without the `redis` feature the variable is ignored: a library
        // built without it must not stop deciding because the fleet's
        // environment names a Redis.
        if self.redis_url.is_none() && cfg!(feature = "redis") {
            if let Some(v) = var("STS_REDIS_URL") {
                // Not `bad()`: the value may hold the password.
                self.redis_url = Some(RedisUrl::parse(&v).map_err(|e| {
                    ClientError::Config(format!("STS_REDIS_URL is not valid: {e}"))
                })?);
            }
        }
        Ok(())
    }
}

/// Why a [`crate::Client`] could not be made.
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
