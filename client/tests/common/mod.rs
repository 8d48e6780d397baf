//! Loopback test servers started in-process: a DNS server (UDP and TCP)
//! answering from a table, an HTTPS policy server with certificates from a
//! throw-away CA, and a TCP server that never answers.
#![allow(
    dead_code,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{CNAME, TXT};
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
}

/// A record made of one string.
pub fn txt1(s: &str) -> DnsAnswer {
    DnsAnswer::Txt(vec![vec![s.to_owned()]])
}

pub struct DnsServer {
    pub addr: SocketAddr,
    table: Arc<Mutex<HashMap<String, DnsAnswer>>>,
    pub udp_queries: Arc<AtomicUsize>,
    pub tcp_queries: Arc<AtomicUsize>,
}

impl DnsServer {
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
        let table: Arc<Mutex<HashMap<String, DnsAnswer>>> = Arc::default();
        let udp_queries = Arc::new(AtomicUsize::new(0));
        let tcp_queries = Arc::new(AtomicUsize::new(0));
        {
            let table = table.clone();
            let count = udp_queries.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok((n, peer)) = udp.recv_from(&mut buf) {
                    count.fetch_add(1, Ordering::SeqCst);
                    if let Some(out) = respond(&table, &buf[..n], false) {
                        let _ = udp.send_to(&out, peer);
                    }
                }
            });
        }
        {
            let table = table.clone();
            let count = tcp_queries.clone();
            std::thread::spawn(move || {
                for conn in tcp.incoming() {
                    let Ok(mut s) = conn else { continue };
                    count.fetch_add(1, Ordering::SeqCst);
                    let table = table.clone();
                    std::thread::spawn(move || {
                        let mut len = [0u8; 2];
                        if s.read_exact(&mut len).is_err() {
                            return;
                        }
                        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if s.read_exact(&mut q).is_err() {
                            return;
                        }
                        if let Some(out) = respond(&table, &q, true) {
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
        }
    }

    pub fn set(&self, name: &str, answer: DnsAnswer) {
        self.table
            .lock()
            .unwrap()
            .insert(name.trim_end_matches('.').to_ascii_lowercase(), answer);
    }

    pub fn queries(&self) -> usize {
        self.udp_queries.load(Ordering::SeqCst) + self.tcp_queries.load(Ordering::SeqCst)
    }
}

fn respond(table: &Mutex<HashMap<String, DnsAnswer>>, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
    let q = Message::from_vec(query).ok()?;
    let question = q.queries.first()?.clone();
    let mut key = question.name().to_ascii().to_ascii_lowercase();
    if key.ends_with('.') {
        key.pop();
    }
    let answer = table.lock().unwrap().get(&key).cloned();
    let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    r.metadata.recursion_desired = q.metadata.recursion_desired;
    r.metadata.recursion_available = true;
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
    }
    r.to_vec().ok()
}

// ---------------------------------------------------------------- TLS

pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub pem_path: PathBuf,
}

pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl TestCa {
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

    pub fn leaf(&self, names: &[&str], expired: bool) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        if expired {
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

// ---------------------------------------------------------------- HTTPS

/// What the policy server sends for one host.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Status, content type, body.
    Plain(u16, String, Vec<u8>),
    /// A redirect with this status.
    Redirect(u16),
    /// A 200 text/plain whose body is sent one byte a second.
    Trickle(Vec<u8>),
    /// A 200 text/plain with a chunked body (no Content-Length).
    Chunked(Vec<u8>),
    /// These bytes instead of an HTTP response.
    Raw(Vec<u8>),
}

pub fn policy_reply(text: &str) -> Reply {
    Reply::Plain(200, "text/plain".into(), text.as_bytes().to_vec())
}

pub struct HttpsServer {
    pub port: u16,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    pub requests: Arc<AtomicUsize>,
}

impl HttpsServer {
    pub fn start(leaf: Leaf) -> HttpsServer {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(leaf.chain, leaf.key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let requests = Arc::new(AtomicUsize::new(0));
        {
            let routes = routes.clone();
            let requests = requests.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    let Ok(tcp) = conn else { continue };
                    let config = config.clone();
                    let routes = routes.clone();
                    let requests = requests.clone();
                    std::thread::spawn(move || {
                        let _ = serve(tcp, config, &routes, &requests);
                    });
                }
            });
        }
        HttpsServer {
            port,
            routes,
            requests,
        }
    }

    pub fn set(&self, host: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(host.to_owned(), reply);
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    routes: &Mutex<HashMap<String, Reply>>,
    requests: &AtomicUsize,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut reader = BufReader::new(&mut tls);
    let mut host = String::new();
    let mut path = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(rest) = line.strip_prefix("GET ") {
            path = rest.split(' ').next().unwrap_or("").to_owned();
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("host") {
                host = value.trim().split(':').next().unwrap_or("").to_owned();
            }
        }
    }
    drop(reader);
    requests.fetch_add(1, Ordering::SeqCst);
    let reply = if path == "/.well-known/mta-sts.txt" {
        routes.lock().unwrap().get(&host).cloned()
    } else {
        None
    };
    let reply = reply.unwrap_or(Reply::Plain(
        404,
        "text/plain".into(),
        b"not found\n".to_vec(),
    ));
    let head = |status: u16, ctype: &str, len: usize, extra: &str| {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len}\r\n{extra}Connection: close\r\n\r\n"
        )
    };
    match reply {
        Reply::Plain(status, ctype, body) => {
            tls.write_all(head(status, &ctype, body.len(), "").as_bytes())?;
            tls.write_all(&body)?;
        }
        Reply::Redirect(status) => {
            let body = b"moved\n";
            let loc = format!("Location: https://{host}/.well-known/mta-sts.txt.moved\r\n");
            tls.write_all(head(status, "text/plain", body.len(), &loc).as_bytes())?;
            tls.write_all(body)?;
        }
        Reply::Chunked(body) => {
            tls.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            )?;
            for chunk in body.chunks(4096) {
                tls.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                tls.write_all(chunk)?;
                tls.write_all(b"\r\n")?;
            }
            tls.write_all(b"0\r\n\r\n")?;
        }
        Reply::Raw(bytes) => tls.write_all(&bytes)?,
        Reply::Trickle(body) => {
            tls.write_all(head(200, "text/plain", body.len(), "").as_bytes())?;
            tls.flush()?;
            for b in body {
                std::thread::sleep(Duration::from_secs(1));
                tls.write_all(&[b])?;
                tls.flush()?;
            }
        }
    }
    tls.flush()?;
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}

/// A TCP server that accepts connections and never sends a byte.
pub fn silent_tcp() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c);
        }
    });
    port
}

// ---------------------------------------------------------------- misc

/// A fresh empty directory under the system temp dir.
pub fn tempdir(tag: &str) -> PathBuf {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "sts-client-test-{tag}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn policy_text(mode: &str, mx: &[&str], max_age: u32) -> String {
    let mut s = format!("version: STSv1\nmode: {mode}\n");
    for m in mx {
        s.push_str(&format!("mx: {m}\n"));
    }
    s.push_str(&format!("max_age: {max_age}\n"));
    s
}
