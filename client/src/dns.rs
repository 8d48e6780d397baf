//! Blocking DNS lookups over UDP, with TCP when the answer is truncated:
//! TXT (the `_mta-sts` and `_smtp._tls` records), A/AAAA (the policy host
//! and report endpoints), MX and TLSA. Every lookup the std layers make
//! goes through one [`DnsResolver`], so the configured server applies to
//! all of them and nothing falls back to the system resolver.
//!
//! The wire format comes from `hickory-proto`; the transport is written
//! here so that no thread and no async runtime is involved (an MTA such as
//! Exim forks per delivery, and runtime threads do not survive a fork).
//!
//! A host MTA that has its own resolver can implement [`TxtResolver`]
//! instead and hand it to [`crate::Client::with_resolver`].

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

/// Why a TXT lookup gave no records.
///
/// [`DnsError::is_temporary`] separates "the domain has no such record"
/// (NXDOMAIN, or an empty answer: the domain has no policy) from failures
/// that say nothing about the domain (SERVFAIL, timeouts, network errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The name does not exist (RCODE 3, NXDOMAIN).
    NxDomain,
    /// The name exists but has no record of the requested type.
    NoData,
    /// The server answered SERVFAIL (RCODE 2).
    ServFail,
    /// The server answered with another error code (REFUSED, FORMERR, ...).
    Rcode(u16),
    /// No answer within the timeout, after all retries.
    Timeout,
    /// A socket error.
    Io(String),
    /// The answer could not be decoded or does not answer the question.
    Malformed(String),
    /// The name is not a valid DNS name.
    BadName(String),
    /// A CNAME chain longer than the limit, or a loop.
    CnameChain,
}

impl DnsError {
    /// Whether this is a temporary failure rather than an authoritative
    /// "no record" answer.
    pub fn is_temporary(&self) -> bool {
        !matches!(self, DnsError::NxDomain | DnsError::NoData)
    }
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::NxDomain => f.write_str("NXDOMAIN: the name does not exist"),
            DnsError::NoData => f.write_str("no record of the requested type"),
            DnsError::ServFail => f.write_str("SERVFAIL from the DNS server"),
            DnsError::Rcode(c) => write!(f, "DNS error code {c}"),
            DnsError::Timeout => f.write_str("DNS timeout"),
            DnsError::Io(e) => write!(f, "DNS I/O error: {e}"),
            DnsError::Malformed(e) => write!(f, "malformed DNS answer: {e}"),
            DnsError::BadName(e) => write!(f, "bad DNS name: {e}"),
            DnsError::CnameChain => f.write_str("CNAME chain too long or looping"),
        }
    }
}

impl std::error::Error for DnsError {}

/// A source of TXT records. [`DnsResolver`] is the built-in one; an MTA
/// can supply its own (the C layer wraps a callback in this trait).
pub trait TxtResolver: Send + Sync {
    /// Returns every TXT record at `name` (an A-label name without the
    /// final dot), each record's character-strings joined into one byte
    /// string, after following CNAMEs.
    fn lookup_txt(&self, name: &str) -> Result<Vec<Vec<u8>>, DnsError>;

    /// [`TxtResolver::lookup_txt`], with how long a negative answer may be
    /// remembered (RFC 2308 §5). A resolver that cannot tell leaves
    /// `negative_ttl` unset and the client uses its floor.
    fn lookup_txt_answer(&self, name: &str) -> TxtAnswer {
        TxtAnswer {
            result: self.lookup_txt(name),
            negative_ttl: None,
        }
    }
}

/// A TXT lookup's records or error, and the negative TTL of an NXDOMAIN or
/// NODATA answer when the server sent the zone's SOA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxtAnswer {
    /// The records, or why there are none.
    pub result: Result<Vec<Vec<u8>>, DnsError>,
    /// For NXDOMAIN/NODATA: min(SOA TTL, SOA MINIMUM) of the authority
    /// section (RFC 2308 §5), in seconds.
    pub negative_ttl: Option<u32>,
}

/// Records of one type at the end of a CNAME chain, with the answer's AD
/// bit (RFC 4035 §3.2.3: set by a validating resolver when every record in
/// the answer was DNSSEC-validated; worth trusting only from a resolver on
/// a trusted path, such as one on loopback).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer<T> {
    /// The records, in the order of the answer.
    pub records: Vec<T>,
    /// Whether the resolver set AD on every answer of the chain.
    pub authenticated: bool,
}

/// One MX record (RFC 1035 §3.3.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxRecord {
    /// Lower is preferred.
    pub preference: u16,
    /// The exchange, lower-case, without the final dot; empty for the
    /// null MX "." of RFC 7505.
    pub exchange: String,
}

/// Where mail for a domain goes, from its MX records (RFC 5321 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailHosts {
    /// The MX hosts, most preferred first (equal preferences keep the
    /// answer's order).
    Mx(Vec<MxRecord>),
    /// No MX records: the domain itself is the implicit MX (RFC 5321
    /// §5.1), with preference 0.
    Implicit(String),
    /// A null MX (RFC 7505): the domain accepts no mail.
    NullMx,
}

/// Longest CNAME chain followed.
const MAX_CNAME: usize = 8;
/// EDNS UDP payload size advertised (the DNS flag day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;

/// A blocking stub resolver talking to recursive servers, tried in turn.
#[derive(Clone, Debug)]
pub struct DnsResolver {
    servers: Vec<SocketAddr>,
    timeout: Duration,
    attempts: u32,
}

impl DnsResolver {
    /// A resolver that asks `server`, waiting `timeout` for each of
    /// `attempts` UDP tries (at least one).
    pub fn new(server: SocketAddr, timeout: Duration, attempts: u32) -> Self {
        Self::with_servers(vec![server], timeout, attempts)
    }

    /// A resolver that asks `servers` in turn, one per try; 127.0.0.1 when
    /// the list is empty.
    pub fn with_servers(mut servers: Vec<SocketAddr>, timeout: Duration, attempts: u32) -> Self {
        if servers.is_empty() {
            servers.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
        }
        DnsResolver {
            servers,
            timeout: timeout.max(Duration::from_millis(1)),
            attempts: attempts.max(1),
        }
    }

    /// A resolver for the `nameserver` lines of `/etc/resolv.conf`
    /// (127.0.0.1 when there is none). Each try goes to the next server.
    pub fn from_system(timeout: Duration, attempts: u32) -> Self {
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let attempts = attempts.max(1);
        let servers = system_nameservers(&text);
        // Give every server at least one try.
        let n = u32::try_from(servers.len()).unwrap_or(u32::MAX);
        Self::with_servers(servers, timeout, attempts.max(n))
    }

    /// The servers this resolver asks.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// Sends one query and returns the decoded answer after checking the
    /// response code; UDP with retries, then TCP if the answer is truncated.
    pub fn query(&self, name: &Name, rtype: RecordType) -> Result<Message, DnsError> {
        let answer = self.exchange(name, rtype, Dnssec::Plain)?;
        rcode(&answer)?;
        Ok(answer)
    }

    /// Sends one query and returns the decoded answer whatever its response
    /// code: UDP with retries, then TCP if the answer is truncated.
    fn exchange(
        &self,
        name: &Name,
        rtype: RecordType,
        dnssec: Dnssec,
    ) -> Result<Message, DnsError> {
        let mut msg = Message::query();
        msg.metadata.recursion_desired = true;
        msg.add_query(Query::query(name.clone(), rtype));
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        if dnssec == Dnssec::WantAd {
            // RFC 6840 §5.7: AD in a query asks the resolver to report
            // whether it validated; DO makes older validators report it too.
            msg.metadata.authentic_data = true;
            edns.set_dnssec_ok(true);
        }
        msg.set_edns(edns);
        let wire = msg.to_vec().map_err(|e| DnsError::BadName(e.to_string()))?;
        let id = msg.metadata.id;
        let mut last = DnsError::Timeout;
        let mut got = None;
        for attempt in 0..self.attempts as usize {
            let server = self.servers[attempt % self.servers.len()];
            match self.udp(server, &wire, id, name, rtype) {
                Ok(m) => {
                    got = Some((server, m));
                    break;
                }
                Err(e @ (DnsError::Timeout | DnsError::Io(_))) => last = e,
                Err(e) => return Err(e),
            }
        }
        let (server, mut answer) = got.ok_or(last)?;
        if answer.metadata.truncation {
            answer = self.tcp(server, &wire, id, name, rtype)?;
        }
        Ok(answer)
    }

    /// One UDP try: send, then wait up to the timeout for the answer.
    fn udp(
        &self,
        server: SocketAddr,
        wire: &[u8],
        id: u16,
        name: &Name,
        rtype: RecordType,
    ) -> Result<Message, DnsError> {
        let bind: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let sock = UdpSocket::bind(bind).map_err(io_err)?;
        sock.connect(server).map_err(io_err)?;
        let mut buf = vec![0u8; 65535];
        sock.send(wire).map_err(io_err)?;
        let deadline = deadline_after(self.timeout);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DnsError::Timeout);
            }
            sock.set_read_timeout(Some(left)).map_err(io_err)?;
            match sock.recv(&mut buf) {
                Ok(n) => {
                    // Ignore anything that is not the answer to this
                    // question (stray or spoofed datagrams).
                    if let Some(m) = decode_answer(&buf[..n], id, name, rtype) {
                        return Ok(m);
                    }
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return Err(DnsError::Timeout)
                }
                // ICMP port unreachable shows up as ConnectionRefused; pause
                // a little so that retries do not spin.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    std::thread::sleep(left.min(Duration::from_millis(50)));
                    return Err(DnsError::Io(format!("{server}: connection refused")));
                }
                Err(e) => return Err(io_err(e)),
            }
        }
    }

    fn tcp(
        &self,
        server: SocketAddr,
        wire: &[u8],
        id: u16,
        name: &Name,
        rtype: RecordType,
    ) -> Result<Message, DnsError> {
        let deadline = deadline_after(self.timeout.saturating_mul(self.attempts));
        let mut s = TcpStream::connect_timeout(&server, self.timeout).map_err(tcp_err)?;
        let left = || {
            let d = deadline.saturating_duration_since(Instant::now());
            if d.is_zero() {
                Err(DnsError::Timeout)
            } else {
                Ok(d)
            }
        };
        s.set_write_timeout(Some(left()?)).map_err(io_err)?;
        let len =
            u16::try_from(wire.len()).map_err(|_| DnsError::BadName("query too long".into()))?;
        let mut out = Vec::with_capacity(wire.len() + 2);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(wire);
        s.write_all(&out).map_err(tcp_err)?;
        let mut read_exact = |buf: &mut [u8]| -> Result<(), DnsError> {
            let mut got = 0;
            while got < buf.len() {
                s.set_read_timeout(Some(left()?)).map_err(io_err)?;
                match s.read(&mut buf[got..]) {
                    Ok(0) => return Err(DnsError::Malformed("TCP answer cut short".into())),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(tcp_err(e)),
                }
            }
            Ok(())
        };
        let mut lenb = [0u8; 2];
        read_exact(&mut lenb)?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(lenb))];
        read_exact(&mut buf)?;
        decode_answer(&buf, id, name, rtype)
            .ok_or_else(|| DnsError::Malformed("TCP answer does not match the query".into()))
    }

    /// Records of type `rtype` at `name`, CNAMEs followed (within one
    /// answer and across queries), each picked out by `pick`.
    fn resolve<T>(
        &self,
        name: &str,
        rtype: RecordType,
        dnssec: Dnssec,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> Result<Answer<T>, Negative> {
        let mut qname = parse_name(name).map_err(Negative::from)?;
        let mut authenticated = true;
        for _ in 0..MAX_CNAME {
            let answer = self.exchange(&qname, rtype, dnssec)?;
            authenticated &= answer.metadata.authentic_data;
            if let Err(error) = rcode(&answer) {
                return Err(Negative {
                    negative_ttl: negative_ttl(&answer),
                    error,
                });
            }
            match collect(&answer, &qname, &pick) {
                Ok(Collected::Records(records)) => {
                    return Ok(Answer {
                        records,
                        authenticated,
                    })
                }
                Ok(Collected::Follow(target)) => qname = target,
                Err(error) => {
                    return Err(Negative {
                        negative_ttl: negative_ttl(&answer),
                        error,
                    })
                }
            }
        }
        Err(DnsError::CnameChain.into())
    }

    /// TXT records at `name`, CNAMEs followed.
    pub fn txt(&self, name: &str) -> Result<Vec<Vec<u8>>, DnsError> {
        self.txt_answer(name).result
    }

    /// [`DnsResolver::txt`] with the negative TTL of a "no record" answer.
    pub fn txt_answer(&self, name: &str) -> TxtAnswer {
        match self.resolve(name, RecordType::TXT, Dnssec::Plain, txt_data) {
            Ok(a) => TxtAnswer {
                result: Ok(a.records),
                negative_ttl: None,
            },
            Err(n) => TxtAnswer {
                result: Err(n.error),
                negative_ttl: n.negative_ttl,
            },
        }
    }

    /// The IPv4 and IPv6 addresses of `host` (A then AAAA, CNAMEs
    /// followed), IPv4 first. An error only when neither type gave an
    /// address: the temporary one if either failed temporarily.
    pub fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let v4 = self.resolve(host, RecordType::A, Dnssec::Plain, |d| match d {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        });
        let v6 = self.resolve(host, RecordType::AAAA, Dnssec::Plain, |d| match d {
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        });
        match (v4, v6) {
            (Ok(a), Ok(b)) => Ok(a.records.into_iter().chain(b.records).collect()),
            (Ok(a), Err(_)) => Ok(a.records),
            (Err(_), Ok(b)) => Ok(b.records),
            (Err(a), Err(b)) => Err(if a.error.is_temporary() {
                a.error
            } else {
                b.error
            }),
        }
    }

    /// The addresses of a host as a URI or a setting names it: an IP
    /// literal (`192.0.2.1`, `[2001:db8::1]`) is its own address,
    /// `localhost` and names under it are the loopback addresses without a
    /// query (RFC 6761 §6.3), anything else goes to
    /// [`DnsResolver::addresses`].
    pub fn host_addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let bare = host.trim_end_matches('.');
        let is_localhost = bare.eq_ignore_ascii_case("localhost")
            || bare
                .rsplit_once('.')
                .is_some_and(|(_, tld)| tld.eq_ignore_ascii_case("localhost"));
        if is_localhost {
            return Ok(vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]);
        }
        self.addresses(bare)
    }

    /// The MX records of `domain`, most preferred first.
    pub fn mx(&self, domain: &str) -> Result<Vec<MxRecord>, DnsError> {
        let mut records = self
            .resolve(domain, RecordType::MX, Dnssec::Plain, |d| match d {
                RData::MX(m) => Some(MxRecord {
                    preference: m.preference,
                    exchange: host_string(&m.exchange),
                }),
                _ => None,
            })
            .map_err(|n| n.error)?
            .records;
        // Stable: equal preferences keep the server's order.
        records.sort_by_key(|m| m.preference);
        Ok(records)
    }

    /// Where mail for `domain` goes: its MX hosts, the domain itself when
    /// it has no MX records but exists (RFC 5321 §5.1), or nowhere (null
    /// MX, RFC 7505). NXDOMAIN and temporary failures are errors.
    pub fn mail_hosts(&self, domain: &str) -> Result<MailHosts, DnsError> {
        match self.mx(domain) {
            Ok(mx) if mx.len() == 1 && mx[0].exchange.is_empty() => Ok(MailHosts::NullMx),
            Ok(mx) => Ok(MailHosts::Mx(mx)),
            Err(DnsError::NoData) => Ok(MailHosts::Implicit(
                domain.trim_end_matches('.').to_ascii_lowercase(),
            )),
            Err(e) => Err(e),
        }
    }

    /// The TLSA RRset at `name` (e.g. `_25._tcp.mx.example.com`), each
    /// record's RDATA as bytes (usage, selector, matching type, data), with
    /// whether the resolver says it validated them (the AD bit; RFC 7672
    /// §2.2 uses TLSA records only when they are DNSSEC-validated).
    pub fn tlsa(&self, name: &str) -> Result<Answer<Vec<u8>>, DnsError> {
        self.resolve(name, RecordType::TLSA, Dnssec::WantAd, |d| match d {
            RData::TLSA(t) => {
                let mut rdata = Vec::with_capacity(3 + t.cert_data.len());
                rdata.push(u8::from(t.cert_usage));
                rdata.push(u8::from(t.selector));
                rdata.push(u8::from(t.matching));
                rdata.extend_from_slice(&t.cert_data);
                Some(rdata)
            }
            _ => None,
        })
        .map_err(|n| n.error)
    }
}

/// Whether a query asks the resolver about DNSSEC validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dnssec {
    /// A plain recursive query.
    Plain,
    /// Set AD and DO so that the answer's AD bit says whether it validated.
    WantAd,
}

/// A failed lookup, with the negative TTL when the answer had one.
struct Negative {
    error: DnsError,
    negative_ttl: Option<u32>,
}

impl From<DnsError> for Negative {
    fn from(error: DnsError) -> Self {
        Negative {
            error,
            negative_ttl: None,
        }
    }
}

fn parse_name(name: &str) -> Result<Name, DnsError> {
    let mut qname = Name::from_ascii(name).map_err(|e| DnsError::BadName(e.to_string()))?;
    qname.set_fqdn(true);
    Ok(qname)
}

/// A DNS name as a host name: lower-case, no final dot.
fn host_string(name: &Name) -> String {
    let mut s = name.to_ascii();
    if s.ends_with('.') {
        s.pop();
    }
    s.to_ascii_lowercase()
}

fn txt_data(d: &RData) -> Option<Vec<u8>> {
    match d {
        RData::TXT(t) => Some(t.txt_data.iter().flat_map(|s| s.iter().copied()).collect()),
        _ => None,
    }
}

/// The answer's response code as a result.
fn rcode(answer: &Message) -> Result<(), DnsError> {
    match answer.metadata.response_code {
        ResponseCode::NoError => Ok(()),
        ResponseCode::NXDomain => Err(DnsError::NxDomain),
        ResponseCode::ServFail => Err(DnsError::ServFail),
        other => Err(DnsError::Rcode(u16::from(other))),
    }
}

/// RFC 2308 §5: a negative answer may be cached for the smaller of the
/// SOA record's own TTL and its MINIMUM field.
fn negative_ttl(answer: &Message) -> Option<u32> {
    answer
        .authorities
        .iter()
        .filter_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        })
        .min()
}

impl TxtResolver for DnsResolver {
    fn lookup_txt(&self, name: &str) -> Result<Vec<Vec<u8>>, DnsError> {
        self.txt(name)
    }

    fn lookup_txt_answer(&self, name: &str) -> TxtAnswer {
        self.txt_answer(name)
    }
}

enum Collected<T> {
    Records(Vec<T>),
    /// The answer ends in a CNAME whose target it does not resolve.
    Follow(Name),
}

/// Walks the CNAME chain inside one answer starting at `qname` and
/// collects the records `pick` accepts at its end.
fn collect<T>(
    answer: &Message,
    qname: &Name,
    pick: impl Fn(&RData) -> Option<T>,
) -> Result<Collected<T>, DnsError> {
    let mut current = qname.clone();
    let mut hops = 0;
    loop {
        let cname = answer.answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name == current => Some(c.0.clone()),
            _ => None,
        });
        match cname {
            Some(target) => {
                hops += 1;
                if hops > MAX_CNAME {
                    return Err(DnsError::CnameChain);
                }
                current = target;
            }
            None => break,
        }
    }
    let records: Vec<T> = answer
        .answers
        .iter()
        .filter(|r| r.name == current)
        .filter_map(|r| pick(&r.data))
        .collect();
    if !records.is_empty() {
        Ok(Collected::Records(records))
    } else if current != *qname {
        Ok(Collected::Follow(current))
    } else {
        Err(DnsError::NoData)
    }
}

fn decode_answer(buf: &[u8], id: u16, name: &Name, rtype: RecordType) -> Option<Message> {
    let m = Message::from_vec(buf).ok()?;
    let md = &m.metadata;
    if md.id != id || md.message_type != MessageType::Response || md.op_code != OpCode::Query {
        return None;
    }
    // A server may leave out the question in an error answer; when it is
    // there it must be ours.
    match m.queries.first() {
        Some(q) if q.name() != name || q.query_type() != rtype => None,
        _ => Some(m),
    }
}

/// Runs a DNS answer from the network through the same decoding and TXT
/// collection a lookup of `_mta-sts.example.com` uses; for fuzzing. Returns
/// the number of bytes of TXT data found.
#[doc(hidden)]
pub fn fuzz_answer(buf: &[u8]) -> usize {
    let Ok(name) = Name::from_ascii("_mta-sts.example.com.") else {
        return 0;
    };
    let id = buf.first().map_or(0, |&b| {
        u16::from(b) << 8 | u16::from(buf.get(1).copied().unwrap_or(0))
    });
    match decode_answer(buf, id, &name, RecordType::TXT).map(|m| collect(&m, &name, txt_data)) {
        Some(Ok(Collected::Records(r))) => r.iter().map(Vec::len).sum(),
        _ => 0,
    }
}

/// `now + d`, with `d` capped at a day.
fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d.min(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

fn io_err(e: io::Error) -> DnsError {
    DnsError::Io(e.to_string())
}

fn tcp_err(e: io::Error) -> DnsError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => DnsError::Timeout,
        _ => io_err(e),
    }
}

/// The usable `nameserver` lines of a resolv.conf text, in order.
pub fn system_nameservers(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next() != Some("nameserver") {
                return None;
            }
            // Drop an IPv6 zone ("fe80::1%eth0"): std cannot parse it.
            let addr = words.next()?;
            let ip: IpAddr = addr.split('%').next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

/// Parses `ip`, `ip:port` or `[ipv6]:port` (port 53 when absent).
pub fn parse_server(s: &str) -> Option<SocketAddr> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa);
    }
    s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# comment\nsearch example\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n";
        let want: Vec<SocketAddr> = vec![
            "192.0.2.1:53".parse().unwrap(),
            "192.0.2.2:53".parse().unwrap(),
        ];
        assert_eq!(system_nameservers(text), want);
        assert_eq!(
            system_nameservers("nameserver fe80::1%eth0\n"),
            vec!["[fe80::1]:53".parse::<SocketAddr>().unwrap()]
        );
        assert!(system_nameservers("nameserver bogus\n").is_empty());
    }

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn rfc8461_3_1_cname_chain_inside_one_answer() {
        use hickory_proto::rr::rdata::{CNAME, TXT};
        use hickory_proto::rr::Record;
        let mut m = Message::response(1, OpCode::Query);
        let rec = |owner: &str, data: RData| Record::from_rdata(name(owner), 60, data);
        m.add_answer(rec(
            "_mta-sts.a.test.",
            RData::CNAME(CNAME(name("b.test."))),
        ));
        m.add_answer(rec("B.test.", RData::CNAME(CNAME(name("c.test.")))));
        m.add_answer(rec(
            "c.test.",
            RData::TXT(TXT::new(vec!["v=STSv1; ".into(), "id=1".into()])),
        ));
        m.add_answer(rec("other.test.", RData::TXT(TXT::new(vec!["x".into()]))));
        match collect(&m, &name("_mta-sts.a.test."), txt_data) {
            Ok(Collected::Records(r)) => assert_eq!(r, [b"v=STSv1; id=1".to_vec()]),
            _ => panic!("chain not followed"),
        }
        // A chain that ends without records is followed by a new query.
        let mut m = Message::response(1, OpCode::Query);
        m.add_answer(rec(
            "_mta-sts.a.test.",
            RData::CNAME(CNAME(name("b.test."))),
        ));
        assert!(
            matches!(collect(&m, &name("_mta-sts.a.test."), txt_data), Ok(Collected::Follow(n)) if n == name("b.test."))
        );
        // A loop is an error, an empty answer is NODATA.
        let mut m = Message::response(1, OpCode::Query);
        m.add_answer(rec("a.test.", RData::CNAME(CNAME(name("b.test.")))));
        m.add_answer(rec("b.test.", RData::CNAME(CNAME(name("a.test.")))));
        assert_eq!(
            collect(&m, &name("a.test."), txt_data).err(),
            Some(DnsError::CnameChain)
        );
        let m = Message::response(1, OpCode::Query);
        assert_eq!(
            collect(&m, &name("a.test."), txt_data).err(),
            Some(DnsError::NoData)
        );
    }

    #[test]
    fn server_syntax() {
        assert_eq!(
            parse_server("127.0.0.1:5353"),
            "127.0.0.1:5353".parse().ok()
        );
        assert_eq!(parse_server("127.0.0.1"), "127.0.0.1:53".parse().ok());
        assert_eq!(parse_server("::1"), "[::1]:53".parse().ok());
        assert_eq!(parse_server("nope"), None);
    }
}
