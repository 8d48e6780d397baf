//! The addresses of a host (SMTP server, HTTPS reporting URI) through the
//! project's own DNS client, with the server and timeouts of the options:
//! the report sender never falls back to the system resolver
//! (getaddrinfo). IP literals are their own address.
//!
//! sts-client is getting an address lookup of its own (A and AAAA with
//! CNAMEs followed); this one asks for A and AAAA and takes every address
//! in the answers, which is what a recursive server returns for a CNAME
//! chain too. It should give way to the client's once that is public.

use std::fmt;
use std::net::IpAddr;

use hickory_proto::rr::{Name, RData, RecordType};
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
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let name = Name::from_ascii(format!("{}.", host.trim_end_matches('.')))
        .map_err(|e| (AddressError::BadName, e.to_string()))?;
    let mut out = Vec::new();
    let mut last_error = String::new();
    for rtype in [RecordType::A, RecordType::AAAA] {
        match dns.query(&name, rtype) {
            Ok(msg) => out.extend(msg.answers.iter().filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })),
            Err(e) => last_error = e.to_string(),
        }
    }
    out.truncate(MAX_ADDRESSES);
    if out.is_empty() {
        return Err((AddressError::NotFound, last_error));
    }
    Ok(out)
}
