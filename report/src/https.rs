//! Report delivery over HTTPS (RFC 8460 §5.4): a POST of the gzipped report
//! with `Content-Type: application/tlsrpt+gzip`; the server certificate is
//! verified (webpki roots, or the roots of the `ca_file` option); any 2xx
//! status means the report was accepted. Redirects are not followed and
//! proxies from the environment are not used. The host of the URI is
//! resolved by the project's DNS client (`DnsResolver::host_addresses`).

use std::path::Path;
use std::time::Duration;

use sts_client::dns::DnsResolver;
use sts_client::fetch::DnsAddrResolver;
use ureq::config::Config;
use ureq::unversioned::transport::DefaultConnector;

/// An HTTPS client for reporting URIs.
#[derive(Debug)]
pub struct Poster {
    agent: ureq::Agent,
}

impl Poster {
    /// Builds the client, resolving hosts through the servers of
    /// `/etc/resolv.conf`; fails only when `ca_file` cannot be read.
    pub fn new(ca_file: Option<&Path>, timeout: Duration) -> Result<Poster, String> {
        let dns = DnsResolver::from_system(timeout.min(Duration::from_secs(5)), 3);
        Poster::with_dns(ca_file, timeout, dns)
    }

    /// Builds the client with `dns` for the hosts of reporting URIs.
    pub fn with_dns(
        ca_file: Option<&Path>,
        timeout: Duration,
        dns: DnsResolver,
    ) -> Result<Poster, String> {
        let tls = sts_client::fetch::tls_config(ca_file)?;
        let config = Config::builder()
            .https_only(true)
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .save_redirect_history(false)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout))
            .user_agent(concat!("libsts-report/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build();
        Ok(Poster {
            agent: ureq::Agent::with_parts(
                config,
                DefaultConnector::new(),
                DnsAddrResolver::new(Some(dns), None, timeout),
            ),
        })
    }

    /// POSTs `gzip` to `url`; `Ok` for a 2xx answer.
    pub fn post(&self, url: &str, gzip: &[u8]) -> Result<(), String> {
        let resp = self
            .agent
            .post(url)
            .header("Content-Type", "application/tlsrpt+gzip")
            .send(gzip)
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("POST {url}: HTTP status {status}"))
        }
    }
}
