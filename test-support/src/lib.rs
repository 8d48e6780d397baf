//! Test support for the libsts integration tests (sts-client, sts-report,
//! sts-server, the C ABI and the `sts` command): a DNS server on loopback
//! (UDP and TCP) answering from a table, a throw-away CA, an HTTPS policy
//! host, SMTP and Redis servers, child processes, and fresh temporary
//! directories. One copy for every crate's tests, so that they exercise
//! the same servers.
// Test code: a failed set-up is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![deny(missing_docs)]

pub mod child;
pub mod https;
pub mod loopback;
pub mod redis;
pub mod smtp;
pub mod zone;

pub use https::{policy_reply, policy_text, silent_tcp, HttpsServer, Reply};
pub use loopback::Loopback;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{CNAME, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

// ---------------------------------------------------------------- DNS

/// What the test DNS server says for one name.
#[derive(Clone, Debug)]
pub enum DnsAnswer {
    /// TXT records, each a list of character-strings.
    Txt(Vec<Vec<String>>),
    /// A CNAME to another name (the client must ask again).
    Cname(String),
    /// RCODE 3.
    NxDomain,
    /// RCODE 2.
    ServFail,
    /// No answer at all.
    Silent,
    /// TXT records, but over UDP only an empty answer with TC set.
    Truncated(Vec<Vec<String>>),
    /// The query's id followed by these bytes (not a valid message).
    Garbage(Vec<u8>),
    /// Records of any types (A, AAAA, MX, TLSA, TXT, ...): a query gets
    /// those of its type, or NODATA (with the SOA) when there are none.
    Records(Vec<RData>),
    /// As `Records`, with the AD bit set on this answer whatever
    /// [`DnsServer::set_authenticated`] says: one DNSSEC-validated RRset
    /// among unsigned ones.
    Authenticated(Vec<RData>),
}

/// A record made of one string.
pub fn txt1(s: &str) -> DnsAnswer {
    DnsAnswer::Txt(vec![vec![s.to_owned()]])
}

/// Answers by name, and by (name, type) where a type is given: the
/// latter wins for its type.
type Table = HashMap<(String, Option<RecordType>), DnsAnswer>;

/// A DNS server on 127.0.0.1, UDP and TCP on one port, answering from a
/// table set with [`DnsServer::set`] and [`DnsServer::set_type`]; names
/// not in it get NXDOMAIN.
pub struct DnsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    table: Arc<Mutex<Table>>,
    /// Queries received over UDP.
    pub udp_queries: Arc<AtomicUsize>,
    /// Connections received over TCP.
    pub tcp_queries: Arc<AtomicUsize>,
    flags: Arc<Mutex<Flags>>,
}

/// Server-wide behaviour, changed while the server runs.
#[derive(Clone, Copy, Debug)]
struct Flags {
    /// Set the AD bit on every answer (as a validating resolver would for
    /// a signed zone).
    authenticated: bool,
    /// The SOA MINIMUM (and TTL) sent with NXDOMAIN and NODATA answers;
    /// `None`: no SOA in the authority section.
    negative_ttl: Option<u32>,
}

impl DnsServer {
    /// Starts the server threads (they live as long as the process).
    pub fn start() -> DnsServer {
        // UDP and TCP on the same port.
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let table: Arc<Mutex<Table>> = Arc::default();
        let flags = Arc::new(Mutex::new(Flags {
            authenticated: false,
            negative_ttl: Some(300),
        }));
        let udp_queries = Arc::new(AtomicUsize::new(0));
        let tcp_queries = Arc::new(AtomicUsize::new(0));
        {
            let table = table.clone();
            let flags = flags.clone();
            let count = udp_queries.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok((n, peer)) = udp.recv_from(&mut buf) {
                    count.fetch_add(1, Ordering::SeqCst);
                    let f = *flags.lock().unwrap();
                    if let Some(out) = respond(&table, f, &buf[..n], false) {
                        let _ = udp.send_to(&out, peer);
                    }
                }
            });
        }
        {
            let table = table.clone();
            let flags = flags.clone();
            let count = tcp_queries.clone();
            std::thread::spawn(move || {
                for conn in tcp.incoming() {
                    let Ok(mut s) = conn else { continue };
                    count.fetch_add(1, Ordering::SeqCst);
                    let table = table.clone();
                    let f = *flags.lock().unwrap();
                    std::thread::spawn(move || {
                        let mut len = [0u8; 2];
                        if s.read_exact(&mut len).is_err() {
                            return;
                        }
                        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if s.read_exact(&mut q).is_err() {
                            return;
                        }
                        if let Some(out) = respond(&table, f, &q, true) {
                            let mut framed = (out.len() as u16).to_be_bytes().to_vec();
                            framed.extend_from_slice(&out);
                            let _ = s.write_all(&framed);
                        }
                    });
                }
            });
        }
        DnsServer {
            addr,
            table,
            udp_queries,
            tcp_queries,
            flags,
        }
    }

    /// Whether answers carry the AD bit (default: no).
    pub fn set_authenticated(&self, on: bool) {
        self.flags.lock().unwrap().authenticated = on;
    }

    /// The negative TTL (SOA MINIMUM and SOA TTL) of NXDOMAIN and NODATA
    /// answers; `None` sends no SOA. Default: 300 seconds.
    pub fn set_negative_ttl(&self, ttl: Option<u32>) {
        self.flags.lock().unwrap().negative_ttl = ttl;
    }

    /// What to answer for `name` (any case, with or without the root dot).
    pub fn set(&self, name: &str, answer: DnsAnswer) {
        self.table.lock().unwrap().insert((key(name), None), answer);
    }

    /// What to answer for `name` asked for `rtype`, in place of what
    /// [`DnsServer::set`] gave for the name. A name given answers for
    /// some types only answers NODATA for the others.
    pub fn set_type(&self, name: &str, rtype: RecordType, answer: DnsAnswer) {
        self.table
            .lock()
            .unwrap()
            .insert((key(name), Some(rtype)), answer);
    }

    /// Unauthenticated records of `name` for `rtype`.
    pub fn records(&self, name: &str, rtype: RecordType, data: Vec<RData>) {
        self.set_type(name, rtype, DnsAnswer::Records(data));
    }

    /// Queries so far, UDP and TCP.
    pub fn queries(&self) -> usize {
        self.udp_queries.load(Ordering::SeqCst) + self.tcp_queries.load(Ordering::SeqCst)
    }
}

/// The table key of a name: lower case, without the root dot.
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// What the table says for this question; a name known for other types
/// only has no records of this one.
fn lookup(table: &Mutex<Table>, name: String, rtype: RecordType) -> Option<DnsAnswer> {
    let t = table.lock().unwrap();
    let found = t
        .get(&(name.clone(), Some(rtype)))
        .or_else(|| t.get(&(name.clone(), None)));
    match found {
        Some(a) => Some(a.clone()),
        None => t
            .keys()
            .any(|(n, _)| *n == name)
            .then(|| DnsAnswer::Records(Vec::new())),
    }
}

fn respond(table: &Mutex<Table>, flags: Flags, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
    let q = Message::from_vec(query).ok()?;
    let question = q.queries.first()?.clone();
    let answer = lookup(
        table,
        key(&question.name().to_ascii()),
        question.query_type(),
    );
    let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    r.metadata.recursion_desired = q.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    r.metadata.authentic_data =
        flags.authenticated || matches!(answer, Some(DnsAnswer::Authenticated(_)));
    r.add_query(question.clone());
    let name = question.name().clone();
    let add_txt = |r: &mut Message, recs: &[Vec<String>]| {
        if question.query_type() == RecordType::TXT {
            for rec in recs {
                r.add_answer(Record::from_rdata(
                    name.clone(),
                    60,
                    RData::TXT(TXT::new(rec.clone())),
                ));
            }
        }
    };
    match answer {
        None | Some(DnsAnswer::NxDomain) => r.metadata.response_code = ResponseCode::NXDomain,
        Some(DnsAnswer::ServFail) => r.metadata.response_code = ResponseCode::ServFail,
        Some(DnsAnswer::Silent) => return None,
        Some(DnsAnswer::Garbage(bytes)) => {
            let mut out = q.metadata.id.to_be_bytes().to_vec();
            out.extend_from_slice(&bytes);
            return Some(out);
        }
        Some(DnsAnswer::Txt(recs)) => add_txt(&mut r, &recs),
        Some(DnsAnswer::Truncated(recs)) => {
            if tcp {
                add_txt(&mut r, &recs);
            } else {
                r.metadata.truncation = true;
            }
        }
        Some(DnsAnswer::Cname(target)) => {
            let t = Name::from_ascii(format!("{target}.")).ok()?;
            r.add_answer(Record::from_rdata(name.clone(), 60, RData::CNAME(CNAME(t))));
        }
        Some(DnsAnswer::Records(rdata) | DnsAnswer::Authenticated(rdata)) => {
            for d in rdata {
                if d.record_type() == question.query_type() {
                    r.add_answer(Record::from_rdata(name.clone(), 60, d));
                }
            }
        }
    }
    // RFC 2308 §3: negative answers carry the zone's SOA, whose MINIMUM
    // bounds how long they may be cached.
    let negative = r.metadata.response_code == ResponseCode::NXDomain
        || (r.metadata.response_code == ResponseCode::NoError && r.answers.is_empty());
    if let (true, Some(ttl)) = (negative, flags.negative_ttl) {
        let zone = Name::from_ascii("test.").ok()?;
        let soa = SOA::new(
            Name::from_ascii("ns.test.").ok()?,
            Name::from_ascii("hostmaster.test.").ok()?,
            1,
            3600,
            600,
            86_400,
            ttl,
        );
        r.add_authority(Record::from_rdata(zone, ttl, RData::SOA(soa)));
    }
    r.to_vec().ok()
}

// ---------------------------------------------------------------- files

/// A fresh empty directory under the system temp dir, named after `tag`
/// and unique in this process. Not removed afterwards, so that a failed
/// test's files stay for a post mortem; [`TempDir`] is removed.
pub fn tempdir(tag: &str) -> PathBuf {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "sts-test-{tag}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A [`tempdir`] removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh empty directory named after `tag`.
    pub fn new(tag: &str) -> TempDir {
        TempDir(tempdir(tag))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------- TLS

/// A throw-away CA; its certificate is written to `ca.pem` in the
/// directory given to [`TestCa::new`].
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate in PEM.
    pub pem_path: PathBuf,
}

/// Whether [`TestCa::leaf`] issues a certificate valid now or one that
/// expired in 2021.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// Valid for the usual rcgen period around now.
    Current,
    /// Valid from 2020-01-01 to 2021-01-01.
    Expired,
}

/// A server certificate chain and its key.
pub struct Leaf {
    /// The leaf certificate (the CA is not included).
    pub chain: Vec<CertificateDer<'static>>,
    /// Its private key.
    pub key: PrivateKeyDer<'static>,
}

impl Leaf {
    /// A rustls server configuration (ring provider, safe defaults)
    /// presenting this certificate.
    pub fn server_config(self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(self.chain, self.key)
            .unwrap();
        Arc::new(config)
    }
}

impl TestCa {
    /// A new CA, its certificate written to `dir/ca.pem`.
    pub fn new(dir: &Path) -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "libsts test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        let pem_path = dir.join("ca.pem");
        std::fs::write(&pem_path, cert.pem()).unwrap();
        TestCa {
            issuer: Issuer::new(params, key),
            pem_path,
        }
    }

    /// A certificate for `names` (DNS names or IP addresses).
    pub fn leaf(&self, names: &[&str], validity: Validity) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        if validity == Validity::Expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }
}
