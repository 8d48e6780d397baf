//! Record constructors for [`DnsServer`] answers, and [`ZoneServer`]: the
//! same server keyed by (name, type) with the AD bit per answer, as a
//! validating resolver answers for DNSSEC-signed and unsigned RRsets
//! (the Postfix policy server's DANE tests).

use std::net::SocketAddr;

use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_proto::rr::rdata::{A, MX, TLSA, TXT};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::{DnsAnswer, DnsServer};

/// What the server says for one (name, type).
#[derive(Clone, Debug)]
pub enum ZoneAnswer {
    /// These records; `authenticated` sets AD on the answer.
    Records {
        /// The records (their type must match the question's).
        data: Vec<RData>,
        /// Set the AD bit.
        authenticated: bool,
    },
    /// RCODE 2.
    ServFail,
    /// RCODE 3.
    NxDomain,
}

impl From<ZoneAnswer> for DnsAnswer {
    fn from(z: ZoneAnswer) -> DnsAnswer {
        match z {
            ZoneAnswer::Records {
                data,
                authenticated: true,
            } => DnsAnswer::Authenticated(data),
            ZoneAnswer::Records {
                data,
                authenticated: false,
            } => DnsAnswer::Records(data),
            ZoneAnswer::ServFail => DnsAnswer::ServFail,
            ZoneAnswer::NxDomain => DnsAnswer::NxDomain,
        }
    }
}

/// An A record.
pub fn a(ip: [u8; 4]) -> RData {
    RData::A(A::new(ip[0], ip[1], ip[2], ip[3]))
}

/// An MX record.
pub fn mx(preference: u16, exchange: &str) -> RData {
    RData::MX(MX::new(
        preference,
        Name::from_ascii(format!("{}.", exchange.trim_end_matches('.'))).unwrap(),
    ))
}

/// A TXT record of one string.
pub fn txt(s: &str) -> RData {
    RData::TXT(TXT::new(vec![s.to_owned()]))
}

/// A TLSA record `3 1 1 <digest>` (DANE-EE, SPKI, SHA-256).
pub fn tlsa_3_1_1(digest: [u8; 32]) -> RData {
    RData::TLSA(TLSA::new(
        CertUsage::DaneEe,
        Selector::Spki,
        Matching::Sha256,
        digest.to_vec(),
    ))
}

/// A [`DnsServer`] set only through (name, type) answers and sending no
/// SOA with negative answers (so a client falls back to its own negative
/// TTL). Names not set answer NXDOMAIN; a name set for other types only
/// answers NOERROR with no records.
pub struct ZoneServer {
    /// Where it listens (UDP and TCP).
    pub addr: SocketAddr,
    dns: DnsServer,
}

impl ZoneServer {
    /// Starts the server on 127.0.0.1 (its threads live as long as the
    /// process).
    pub fn start() -> ZoneServer {
        let dns = DnsServer::start();
        dns.set_negative_ttl(None);
        ZoneServer {
            addr: dns.addr,
            dns,
        }
    }

    /// Sets the answer for `name` (any case, with or without the root
    /// dot) and `rtype`.
    pub fn set(&self, name: &str, rtype: RecordType, answer: ZoneAnswer) {
        self.dns.set_type(name, rtype, answer.into());
    }

    /// Sets unauthenticated records.
    pub fn records(&self, name: &str, rtype: RecordType, data: Vec<RData>) {
        self.dns.records(name, rtype, data);
    }

    /// Queries so far.
    pub fn queries(&self) -> usize {
        self.dns.queries()
    }
}
