//! The addresses of a host (SMTP server, HTTPS reporting URI) through the
//! project's own DNS client, with the server and timeouts of the options:
//! the report sender never falls back to the system resolver
//! (getaddrinfo). IP literals are their own address.
//! The lookup is the client's (`DnsResolver::host_addresses`: literals,
//! `localhost`, then A and AAAA with CNAMEs followed), as for the policy
//! fetch.

use std::fmt;
use std::net::IpAddr;

use sts_client::dns::DnsResolver;

/// Why a host has no address.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// Not a host name.
    BadName,
    /// The DNS lookup failed or found no A or AAAA record.
    NotFound,
}

impl AddressError {
    /// A short description.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressError::BadName => "not a host name",
            AddressError::NotFound => "no address found",
        }
    }
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for AddressError {}

/// At most this many addresses are tried per host.
const MAX_ADDRESSES: usize = 8;

/// The addresses of `host`, IPv4 first; with the last DNS error text when
/// there are none.
pub fn addresses(dns: &DnsResolver, host: &str) -> Result<Vec<IpAddr>, (AddressError, String)> {
    let mut out = dns.host_addresses(host).map_err(|e| match e {
        sts_client::DnsError::BadName(m) => (AddressError::BadName, m),
        e => (AddressError::NotFound, e.to_string()),
    })?;
    out.truncate(MAX_ADDRESSES);
    if out.is_empty() {
        return Err((AddressError::NotFound, String::new()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A resolver pointed at a port where nothing answers: any DNS query
    /// would fail, so an answer proves none was made.
    fn no_dns() -> DnsResolver {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        drop(sock);
        DnsResolver::new(addr, Duration::from_millis(100), 1)
    }

    #[test]
    fn rfc6761_6_3_localhost_without_dns() {
        let dns = no_dns();
        for h in ["localhost", "LocalHost.", "smtp.localhost"] {
            assert_eq!(
                addresses(&dns, h).unwrap()[0],
                IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                "{h}"
            );
        }
        assert_eq!(
            addresses(&dns, "[::1]").unwrap(),
            vec![IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)]
        );
        assert_eq!(
            addresses(&dns, "localhost.example").map_err(|e| e.0),
            Err(AddressError::NotFound)
        );
        assert_eq!(
            addresses(&dns, "bad name").map_err(|e| e.0),
            Err(AddressError::BadName)
        );
    }
}
