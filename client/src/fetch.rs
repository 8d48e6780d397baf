//! Fetching the policy file over HTTPS (RFC 8461 §3.3).
//!
//! `GET https://mta-sts.<domain>/.well-known/mta-sts.txt` with rustls
//! (ring provider, TLS 1.2 or 1.3, SNI, a certificate valid for
//! `mta-sts.<domain>` chaining to the webpki roots or to the roots of the
//! `ca_file` option). Only status 200 is accepted; redirects are never
//! followed (§3.3); the media type must be `text/plain` (parameters such
//! as `charset` are allowed); the body is read up to 64 KiB and a longer
//! one is an error; proxies from the environment are never used; connect
//! and total timeouts bound the whole exchange, so a server that trickles
//! one byte a second fails at the total timeout.
//!
//! The policy host is resolved by the project's own DNS client (A and
//! AAAA, CNAMEs followed, the same server, timeouts and retries as the TXT
//! lookup; never getaddrinfo), unless `https_connect_override` gives the
//! address to connect to (tests, loopback setups): the certificate is
//! still checked against `mta-sts.<domain>`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::dns::DnsResolver;

/// Largest policy body accepted (64 KiB, a common limit; RFC 8461 §3.3
/// lets senders bound the size).
pub const MAX_POLICY_SIZE: u64 = 64 * 1024;

/// Why a policy could not be fetched. Every variant is reported to
/// TLSRPT as `sts-policy-fetch-error` (an unparsable body that was
/// fetched is `sts-policy-invalid`, see [`crate::TlsrptFailure`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// The policy host name could not be resolved.
    HostNotFound,
    /// TCP connection failed (refused, unreachable).
    Connect(String),
    /// TLS failed: handshake, certificate not trusted, wrong name, expired.
    Tls(String),
    /// The connect or total timeout ran out.
    Timeout,
    /// The server answered with a redirect (3xx), which is never followed.
    Redirect(u16),
    /// The server answered with a status other than 200.
    Status(u16),
    /// The media type is not `text/plain`.
    ContentType(String),
    /// The body is larger than [`MAX_POLICY_SIZE`].
    TooLarge,
    /// Any other HTTP or I/O failure.
    Http(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::HostNotFound => f.write_str("policy host not found"),
            FetchError::Connect(e) => write!(f, "cannot connect to the policy host: {e}"),
            FetchError::Tls(e) => write!(f, "TLS failure: {e}"),
            FetchError::Timeout => f.write_str("timeout fetching the policy"),
            FetchError::Redirect(s) => write!(f, "HTTP {s}: redirects are not followed"),
            FetchError::Status(s) => write!(f, "HTTP status {s}, not 200"),
            FetchError::ContentType(t) => write!(f, "media type is {t:?}, not text/plain"),
            FetchError::TooLarge => write!(f, "policy is larger than {MAX_POLICY_SIZE} bytes"),
            FetchError::Http(e) => write!(f, "HTTP failure: {e}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Settings of a [`Fetcher`].
#[derive(Clone, Debug, Default)]
pub struct FetchConfig {
    /// PEM bundle of trusted roots instead of the webpki roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Port instead of 443.
    pub port: Option<u16>,
    /// Connect here instead of resolving `mta-sts.<domain>`.
    pub connect_override: Option<IpAddr>,
    /// The resolver for the policy host's addresses; default: the servers
    /// of `/etc/resolv.conf` (never the system's getaddrinfo).
    pub dns: Option<DnsResolver>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout for the whole request, body included.
    pub total_timeout: Duration,
}

/// An HTTPS client for policy files.
#[derive(Debug)]
pub struct Fetcher {
    agent: ureq::Agent,
    port: Option<u16>,
}

/// A fetched policy body and what the server said.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The body, at most [`MAX_POLICY_SIZE`] bytes.
    pub body: Vec<u8>,
    /// The HTTP status (always 200 here).
    pub status: u16,
}

/// Reads every certificate of a PEM bundle.
pub fn load_ca_file(path: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for c in CertificateDer::pem_slice_iter(&bytes) {
        let c = c.map_err(|e| format!("{}: {e}", path.display()))?;
        out.push(Certificate::from_der(c.as_ref()).to_owned());
    }
    if out.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok(out)
}

/// The TLS settings every HTTPS client of libsts uses: rustls with the
/// ring provider, SNI, and either the roots of `ca_file` (PEM) or the
/// webpki (Mozilla) roots. Fails only when `ca_file` cannot be read.
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<TlsConfig, String> {
    let roots = match ca_file {
        Some(p) => RootCerts::Specific(Arc::new(load_ca_file(p)?)),
        None => RootCerts::WebPki,
    };
    Ok(TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(roots)
        .use_sni(true)
        .build())
}

impl Fetcher {
    /// Builds the HTTPS client. Fails only when `ca_file` cannot be read.
    pub fn new(cfg: &FetchConfig) -> Result<Fetcher, String> {
        let tls = tls_config(cfg.ca_file.as_deref())?;
        let config = Config::builder()
            .https_only(true)
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .save_redirect_history(false)
            .timeout_global(Some(cfg.total_timeout))
            .timeout_connect(Some(cfg.connect_timeout))
            .user_agent(concat!("libsts/", env!("CARGO_PKG_VERSION")))
            .accept("text/plain")
            .max_response_header_size(16 * 1024)
            // No pooled connections: a policy host is fetched about once a
            // day, and a connection kept open would be shared by the
            // children of a forking MTA.
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .tls_config(tls)
            .build();
        let resolver =
            DnsAddrResolver::new(cfg.dns.clone(), cfg.connect_override, cfg.connect_timeout);
        Ok(Fetcher {
            agent: ureq::Agent::with_parts(config, DefaultConnector::new(), resolver),
            port: cfg.port,
        })
    }

    /// The URL of the policy of `domain` (an A-label name).
    pub fn url(&self, domain: &str) -> String {
        match self.port {
            Some(p) => format!("https://mta-sts.{domain}:{p}/.well-known/mta-sts.txt"),
            None => format!("https://mta-sts.{domain}/.well-known/mta-sts.txt"),
        }
    }

    /// Fetches the policy file of `domain` (an A-label name).
    pub fn fetch(&self, domain: &str) -> Result<Fetched, FetchError> {
        let url = self.url(domain);
        let mut resp = self.agent.get(&url).call().map_err(map_err)?;
        let status = resp.status().as_u16();
        if (300..400).contains(&status) {
            return Err(FetchError::Redirect(status));
        }
        if status != 200 {
            return Err(FetchError::Status(status));
        }
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        if !is_text_plain(&ctype) {
            return Err(FetchError::ContentType(ctype));
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_POLICY_SIZE)
            .read_to_vec()
            .map_err(map_err)?;
        Ok(Fetched { body, status })
    }
}

/// `text/plain`, case-insensitive, with any parameters.
pub fn is_text_plain(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("text/plain")
}

fn map_err(e: ureq::Error) -> FetchError {
    use ureq::Error as E;
    match e {
        E::Timeout(_) => FetchError::Timeout,
        E::HostNotFound => FetchError::HostNotFound,
        E::BodyExceedsLimit(_) => FetchError::TooLarge,
        E::TooManyRedirects | E::RedirectFailed => FetchError::Redirect(0),
        E::Rustls(t) => FetchError::Tls(t.to_string()),
        E::Tls(t) => FetchError::Tls(t.to_string()),
        E::ConnectionFailed => FetchError::Connect("connection failed".into()),
        E::Io(io) => match io.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => FetchError::Timeout,
            std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::HostUnreachable
            | std::io::ErrorKind::NetworkUnreachable => FetchError::Connect(io.to_string()),
            // rustls errors surface wrapped in io::Error during the handshake.
            _ => match io.get_ref().and_then(|r| r.downcast_ref::<rustls::Error>()) {
                Some(t) => FetchError::Tls(t.to_string()),
                None => FetchError::Http(io.to_string()),
            },
        },
        other => FetchError::Http(other.to_string()),
    }
}

/// The address resolver every HTTPS client of libsts hands to ureq: the
/// project's DNS client (no thread: ureq's default resolver starts one per
/// lookup when a timeout is set; and never getaddrinfo, which would ask
/// other servers than the configured one), or a fixed address.
#[derive(Debug)]
pub struct DnsAddrResolver {
    dns: DnsResolver,
    connect_override: Option<IpAddr>,
}

impl DnsAddrResolver {
    /// Resolves through `dns` (default: `/etc/resolv.conf`'s servers with
    /// `timeout` per try), or always answers `connect_override`.
    pub fn new(
        dns: Option<DnsResolver>,
        connect_override: Option<IpAddr>,
        timeout: Duration,
    ) -> Self {
        DnsAddrResolver {
            dns: dns.unwrap_or_else(|| DnsResolver::from_system(timeout, 2)),
            connect_override,
        }
    }
}

/// Addresses tried per host, at most.
const MAX_ADDRESSES: usize = 16;

impl Resolver for DnsAddrResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().ok_or(ureq::Error::HostNotFound)?;
        let port = uri.port_u16().unwrap_or(443);
        let mut out = self.empty();
        match self.connect_override {
            Some(ip) => out.push(SocketAddr::new(ip, port)),
            None => {
                let ips = self.dns.host_addresses(host).map_err(|e| {
                    ureq::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("{host}: {e}"),
                    ))
                })?;
                for ip in ips.into_iter().take(MAX_ADDRESSES) {
                    out.push(SocketAddr::new(ip, port));
                }
            }
        }
        if out.is_empty() {
            Err(ureq::Error::HostNotFound)
        } else {
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8461_3_3_media_type() {
        assert!(is_text_plain("text/plain"));
        assert!(is_text_plain("text/plain; charset=utf-8"));
        assert!(is_text_plain("Text/Plain ;charset=\"us-ascii\""));
        assert!(!is_text_plain("text/html"));
        assert!(!is_text_plain("text/plainx"));
        assert!(!is_text_plain(""));
    }
}
