//! Blocking DNS TXT lookups over UDP, with TCP when the answer is
//! truncated.
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
        let mut msg = Message::query();
        msg.metadata.recursion_desired = true;
        msg.add_query(Query::query(name.clone(), rtype));
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
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
        match answer.metadata.response_code {
            ResponseCode::NoError => Ok(answer),
            ResponseCode::NXDomain => Err(DnsError::NxDomain),
            ResponseCode::ServFail => Err(DnsError::ServFail),
            other => Err(DnsError::Rcode(u16::from(other))),
        }
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

    /// TXT records at `name`, CNAMEs followed.
    pub fn txt(&self, name: &str) -> Result<Vec<Vec<u8>>, DnsError> {
        let mut qname = Name::from_ascii(name).map_err(|e| DnsError::BadName(e.to_string()))?;
        qname.set_fqdn(true);
        for _ in 0..MAX_CNAME {
            let answer = self.query(&qname, RecordType::TXT)?;
            match collect_txt(&answer, &qname)? {
                Collected::Records(r) => return Ok(r),
                Collected::Follow(target) => qname = target,
            }
        }
        Err(DnsError::CnameChain)
    }
}

impl TxtResolver for DnsResolver {
    fn lookup_txt(&self, name: &str) -> Result<Vec<Vec<u8>>, DnsError> {
        self.txt(name)
    }
}

enum Collected {
    Records(Vec<Vec<u8>>),
    /// The answer ends in a CNAME whose target it does not resolve.
    Follow(Name),
}

/// Walks the CNAME chain inside one answer starting at `qname` and
/// collects the TXT records at its end.
fn collect_txt(answer: &Message, qname: &Name) -> Result<Collected, DnsError> {
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
    let records: Vec<Vec<u8>> = answer
        .answers
        .iter()
        .filter(|r| r.name == current)
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t.txt_data.iter().flat_map(|s| s.iter().copied()).collect()),
            _ => None,
        })
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
    match decode_answer(buf, id, &name, RecordType::TXT).map(|m| collect_txt(&m, &name)) {
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
        match collect_txt(&m, &name("_mta-sts.a.test.")) {
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
            matches!(collect_txt(&m, &name("_mta-sts.a.test.")), Ok(Collected::Follow(n)) if n == name("b.test."))
        );
        // A loop is an error, an empty answer is NODATA.
        let mut m = Message::response(1, OpCode::Query);
        m.add_answer(rec("a.test.", RData::CNAME(CNAME(name("b.test.")))));
        m.add_answer(rec("b.test.", RData::CNAME(CNAME(name("a.test.")))));
        assert_eq!(
            collect_txt(&m, &name("a.test.")).err(),
            Some(DnsError::CnameChain)
        );
        let m = Message::response(1, OpCode::Query);
        assert_eq!(
            collect_txt(&m, &name("a.test.")).err(),
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
