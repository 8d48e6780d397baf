//! Loopback helpers for the report tests, all started by the test and
//! stopped when dropped: a temporary store directory, an SMTP sink, an
//! HTTPS collector with certificates from a throw-away CA, an in-memory
//! TXT resolver, and the Python checkers (JSON Schema validation, MIME
//! parsing). The DNS server and the CA come from `sts-test-support`.
#![allow(
    dead_code,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sts_client::dns::{DnsError, TxtResolver};

// ---------------------------------------------------------------- files

pub use sts_test_support::TempDir;

/// Number of spool entries (reports waiting for delivery).
pub fn spooled(dir: &Path) -> usize {
    match std::fs::read_dir(dir.join("spool")) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count(),
        Err(_) => 0,
    }
}

/// Number of day files.
pub fn day_files(dir: &Path) -> usize {
    match std::fs::read_dir(dir.join("outcomes")) {
        Ok(rd) => rd.count(),
        Err(_) => 0,
    }
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

// ---------------------------------------------------------------- stopping

/// A server thread with a stop flag; dropping it stops the thread.
struct Stopper {
    stop: Arc<AtomicBool>,
    wake: SocketAddr,
    udp: bool,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Stopper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if self.udp {
            if let Ok(s) = UdpSocket::bind("127.0.0.1:0") {
                let _ = s.send_to(b"", self.wake);
            }
        } else {
            let _ = TcpStream::connect_timeout(&self.wake, Duration::from_secs(1));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------- SMTP

#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message, dot-stuffing removed, CRLF line ends.
    pub data: Vec<u8>,
}

/// An SMTP server that accepts every message (or answers 451 to DATA
/// while `fail_data` is above zero, counting down).
pub struct SmtpSink {
    pub addr: SocketAddr,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    pub fail_data: Arc<AtomicUsize>,
    _stopper: Stopper,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let fail_data = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, f, s) = (mails.clone(), fail_data.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    let _ = smtp_session(c, &m, &f);
                }
            }
        });
        SmtpSink {
            addr,
            mails,
            fail_data,
            _stopper: Stopper {
                stop,
                wake: addr,
                udp: false,
                thread: Some(thread),
            },
        }
    }

    pub fn count(&self) -> usize {
        self.mails.lock().unwrap().len()
    }
}

fn smtp_session(
    c: TcpStream,
    mails: &Mutex<Vec<Mail>>,
    fail_data: &AtomicUsize,
) -> std::io::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut w = c.try_clone()?;
    let mut r = BufReader::new(c);
    w.write_all(b"220 sink.test ESMTP\r\n")?;
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            w.write_all(b"250-sink.test\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n")?;
        } else if upper.starts_with("HELO") {
            w.write_all(b"250 sink.test\r\n")?;
        } else if let Some(a) = upper.strip_prefix("MAIL FROM:") {
            from = cmd[cmd.len() - a.len()..]
                .trim_matches(['<', '>'])
                .to_owned();
            w.write_all(b"250 ok\r\n")?;
        } else if let Some(a) = upper.strip_prefix("RCPT TO:") {
            to.push(
                cmd[cmd.len() - a.len()..]
                    .trim_matches(['<', '>'])
                    .to_owned(),
            );
            w.write_all(b"250 ok\r\n")?;
        } else if upper == "DATA" {
            w.write_all(b"354 go ahead\r\n")?;
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                if r.read_until(b'\n', &mut l)? == 0 {
                    return Ok(());
                }
                if l == b".\r\n" {
                    break;
                }
                let l = if l.starts_with(b".") { &l[1..] } else { &l[..] };
                data.extend_from_slice(l);
            }
            let failing = fail_data
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                w.write_all(b"451 try again later\r\n")?;
            } else {
                mails.lock().unwrap().push(Mail {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
                w.write_all(b"250 queued\r\n")?;
            }
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            w.write_all(b"250 ok\r\n")?;
        } else {
            w.write_all(b"500 what\r\n")?;
        }
    }
}

// DNS server and test CA: shared with the sts-client tests.
#[allow(unused_imports)] // each test binary uses a part
pub use sts_test_support::{DnsAnswer, DnsServer, Leaf, TestCa, Validity};

// ---------------------------------------------------------------- HTTPS

#[derive(Clone, Debug)]
pub struct Post {
    pub method: String,
    pub path: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// An HTTPS server recording every request; it answers with the statuses
/// queued in `statuses`, then 200.
pub struct HttpsCollector {
    pub port: u16,
    pub posts: Arc<Mutex<Vec<Post>>>,
    pub statuses: Arc<Mutex<VecDeque<u16>>>,
    _stopper: Stopper,
}

impl HttpsCollector {
    pub fn start(leaf: Leaf) -> HttpsCollector {
        let config = leaf.server_config();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let posts = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(VecDeque::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, st, s) = (posts.clone(), statuses.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    let _ = https_exchange(c, config.clone(), &p, &st);
                }
            }
        });
        HttpsCollector {
            port: addr.port(),
            posts,
            statuses,
            _stopper: Stopper {
                stop,
                wake: addr,
                udp: false,
                thread: Some(thread),
            },
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/tlsrpt/v1", self.port)
    }

    pub fn count(&self) -> usize {
        self.posts.lock().unwrap().len()
    }
}

fn https_exchange(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    posts: &Mutex<Vec<Post>>,
    statuses: &Mutex<VecDeque<u16>>,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    let mut request_line = String::new();
    tls.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut content_type = String::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if tls.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-type" => content_type = v.trim().to_owned(),
                "content-length" => length = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    tls.read_exact(&mut body)?;
    let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
    if (200..300).contains(&status) {
        posts.lock().unwrap().push(Post {
            method,
            path,
            content_type,
            body,
        });
    }
    let stream = tls.get_mut();
    write!(
        stream,
        "HTTP/1.1 {status} Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    stream.flush()?;
    stream.conn.send_close_notify();
    let _ = stream.flush();
    Ok(())
}

// ---------------------------------------------------------------- DNS

/// TXT answers from a table; names not in it are NXDOMAIN.
#[derive(Default)]
pub struct MapResolver {
    pub table: Mutex<HashMap<String, Result<Vec<Vec<u8>>, DnsError>>>,
    pub lookups: AtomicUsize,
}

impl MapResolver {
    pub fn with(name: &str, records: &[&str]) -> MapResolver {
        let r = MapResolver::default();
        r.set(name, records);
        r
    }

    pub fn set(&self, name: &str, records: &[&str]) {
        self.table.lock().unwrap().insert(
            name.to_owned(),
            Ok(records.iter().map(|s| s.as_bytes().to_vec()).collect()),
        );
    }

    pub fn set_error(&self, name: &str, e: DnsError) {
        self.table.lock().unwrap().insert(name.to_owned(), Err(e));
    }
}

impl TxtResolver for MapResolver {
    fn lookup_txt(&self, name: &str) -> Result<Vec<Vec<u8>>, DnsError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.table
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or(Err(DnsError::NxDomain))
    }
}

// ---------------------------------------------------------------- Python

pub fn py_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("py")
        .join(name)
}

pub fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("tlsrpt.schema.json")
}

/// Runs `python3 <script> <args>`; panics with its stderr on failure.
pub fn python(script: &str, args: &[&Path]) -> String {
    let out = Command::new("python3")
        .arg(py_script(script))
        .args(args)
        .output()
        .expect("python3 must be installed (with the jsonschema package)");
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Validates JSON reports against `tests/tlsrpt.schema.json`.
pub fn validate_reports(dir: &Path, reports: &[String]) {
    let file = dir.join("reports.json");
    std::fs::write(&file, format!("[{}]", reports.join(","))).unwrap();
    python("validate_schema.py", &[&schema_path(), &file]);
}

/// `smtp://ADDR`: plain SMTP to a loopback server.
pub fn relay(addr: SocketAddr) -> sts_report::MailTransport {
    sts_report::MailTransport::Smtp {
        security: sts_report::Security::Plain,
        host: addr.ip().to_string(),
        port: addr.port(),
        user: None,
    }
}

// ---------------------------------------------------------------- SMTP with TLS and AUTH

/// How an [`AuthSmtp`] server behaves.
#[derive(Clone, Debug)]
pub struct AuthSmtpConfig {
    /// TLS from the first byte (smtps) instead of STARTTLS.
    pub implicit_tls: bool,
    /// Offer STARTTLS in the EHLO answer.
    pub offer_starttls: bool,
    /// The AUTH mechanisms offered once TLS is up (never before).
    pub mechanisms: &'static str,
    /// The one user and password accepted.
    pub user: &'static str,
    pub password: &'static str,
}

impl Default for AuthSmtpConfig {
    fn default() -> Self {
        AuthSmtpConfig {
            implicit_tls: false,
            offer_starttls: true,
            mechanisms: "PLAIN LOGIN",
            user: "reporter",
            password: "s3cret-pass",
        }
    }
}

/// A submission server (RFC 6409 style) on loopback: TLS (STARTTLS or
/// implicit) with a certificate of the test CA, then AUTH PLAIN or LOGIN
/// required before MAIL. Records every command (AUTH arguments
/// replaced by `***`) and every accepted message.
pub struct AuthSmtp {
    pub addr: SocketAddr,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    pub commands: Arc<Mutex<Vec<String>>>,
    _stopper: Stopper,
}

impl AuthSmtp {
    pub fn start(leaf: Leaf, config: AuthSmtpConfig) -> AuthSmtp {
        let tls = leaf.server_config();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let commands = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, c, s) = (mails.clone(), commands.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(tcp) = conn {
                    let _ = auth_session(tcp, tls.clone(), &config, &m, &c);
                }
            }
        });
        AuthSmtp {
            addr,
            mails,
            commands,
            _stopper: Stopper {
                stop,
                wake: addr,
                udp: false,
                thread: Some(thread),
            },
        }
    }

    pub fn count(&self) -> usize {
        self.mails.lock().unwrap().len()
    }

    /// The commands received, upper-cased verbs first.
    pub fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }

    /// Whether any command starting with `verb` was received.
    pub fn saw(&self, verb: &str) -> bool {
        self.commands()
            .iter()
            .any(|c| c.to_ascii_uppercase().starts_with(verb))
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
    Gone,
}

impl Conn {
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Conn::Plain(t) => t,
            Conn::Tls(t) => t.as_mut(),
            Conn::Gone => unreachable!(),
        }
    }

    fn is_tls(&self) -> bool {
        matches!(self, Conn::Tls(_))
    }
}

pub trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// One line (up to LF), byte by byte so nothing is read past it before a
/// STARTTLS upgrade.
fn read_line_raw(r: &mut dyn ReadWrite) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if r.read(&mut b)? == 0 {
            return Ok(if line.is_empty() { None } else { Some(line) });
        }
        line.push(b[0]);
        if b[0] == b'\n' || line.len() > 100_000 {
            return Ok(Some(line));
        }
    }
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap_or_default()
}

fn auth_session(
    tcp: TcpStream,
    tls: Arc<rustls::ServerConfig>,
    cfg: &AuthSmtpConfig,
    mails: &Mutex<Vec<Mail>>,
    commands: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut conn = if cfg.implicit_tls {
        let server = rustls::ServerConnection::new(tls.clone()).map_err(std::io::Error::other)?;
        Conn::Tls(Box::new(rustls::StreamOwned::new(server, tcp)))
    } else {
        Conn::Plain(tcp)
    };
    conn.io().write_all(b"220 submit.test ESMTP\r\n")?;
    let mut authed = false;
    let mut from = String::new();
    let mut to = Vec::new();
    let check =
        |user: &[u8], pass: &[u8]| user == cfg.user.as_bytes() && pass == cfg.password.as_bytes();
    loop {
        let Some(line) = read_line_raw(conn.io())? else {
            return Ok(());
        };
        let cmd = String::from_utf8_lossy(&line).trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        let logged = if upper.starts_with("AUTH") {
            cmd.split(' ').take(2).collect::<Vec<_>>().join(" ") + " ***"
        } else {
            cmd.clone()
        };
        commands.lock().unwrap().push(logged);
        let is_tls = conn.is_tls();
        let w = conn.io();
        if upper.starts_with("EHLO") {
            let mut reply = String::from("250-submit.test\r\n");
            if !conn.is_tls() && cfg.offer_starttls {
                reply.push_str("250-STARTTLS\r\n");
            }
            if conn.is_tls() {
                reply.push_str(&format!("250-AUTH {}\r\n", cfg.mechanisms));
            }
            reply.push_str("250 8BITMIME\r\n");
            conn.io().write_all(reply.as_bytes())?;
        } else if upper == "STARTTLS" {
            if is_tls || !cfg.offer_starttls {
                w.write_all(b"502 not offered\r\n")?;
                continue;
            }
            w.write_all(b"220 go ahead\r\n")?;
            w.flush()?;
            let Conn::Plain(tcp) = std::mem::replace(&mut conn, Conn::Gone) else {
                unreachable!()
            };
            let server =
                rustls::ServerConnection::new(tls.clone()).map_err(std::io::Error::other)?;
            conn = Conn::Tls(Box::new(rustls::StreamOwned::new(server, tcp)));
        } else if let Some(rest) = upper.strip_prefix("AUTH ") {
            if !is_tls {
                w.write_all(b"538 encryption required\r\n")?;
                continue;
            }
            let args: Vec<&str> = cmd.split(' ').skip(2).collect();
            let ok = if rest.starts_with("PLAIN") && cfg.mechanisms.contains("PLAIN") {
                let blob = match args.first() {
                    Some(a) => b64(a),
                    None => {
                        w.write_all(b"334 \r\n")?;
                        let l = read_line_raw(conn.io())?.unwrap_or_default();
                        b64(&String::from_utf8_lossy(&l))
                    }
                };
                let parts: Vec<&[u8]> = blob.split(|&b| b == 0).collect();
                parts.len() == 3 && check(parts[1], parts[2])
            } else if rest.starts_with("LOGIN") && cfg.mechanisms.contains("LOGIN") {
                let user = match args.first() {
                    Some(a) => b64(a),
                    None => {
                        w.write_all(b"334 VXNlcm5hbWU6\r\n")?;
                        let l = read_line_raw(conn.io())?.unwrap_or_default();
                        b64(&String::from_utf8_lossy(&l))
                    }
                };
                conn.io().write_all(b"334 UGFzc3dvcmQ6\r\n")?;
                let l = read_line_raw(conn.io())?.unwrap_or_default();
                check(&user, &b64(&String::from_utf8_lossy(&l)))
            } else {
                conn.io().write_all(b"504 mechanism not offered\r\n")?;
                continue;
            };
            authed = ok;
            conn.io().write_all(if ok {
                b"235 2.7.0 authenticated\r\n"
            } else {
                b"535 5.7.8 authentication credentials invalid\r\n"
            })?;
        } else if let Some(a) = upper.strip_prefix("MAIL FROM:") {
            if !authed {
                w.write_all(b"530 5.7.0 authentication required\r\n")?;
                continue;
            }
            from = cmd[cmd.len() - a.len()..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(['<', '>'])
                .to_owned();
            w.write_all(b"250 ok\r\n")?;
        } else if let Some(a) = upper.strip_prefix("RCPT TO:") {
            to.push(
                cmd[cmd.len() - a.len()..]
                    .trim_matches(['<', '>'])
                    .to_owned(),
            );
            w.write_all(b"250 ok\r\n")?;
        } else if upper == "DATA" {
            w.write_all(b"354 go ahead\r\n")?;
            let mut data = Vec::new();
            loop {
                let Some(l) = read_line_raw(conn.io())? else {
                    return Ok(());
                };
                if l == b".\r\n" {
                    break;
                }
                let l = if l.starts_with(b".") { &l[1..] } else { &l[..] };
                data.extend_from_slice(l);
            }
            mails.lock().unwrap().push(Mail {
                from: from.clone(),
                to: to.clone(),
                data,
            });
            conn.io().write_all(b"250 queued\r\n")?;
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n")?;
            w.flush()?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            w.write_all(b"250 ok\r\n")?;
        } else {
            w.write_all(b"500 what\r\n")?;
        }
        conn.io().flush()?;
    }
}

// ---------------------------------------------------------------- sendmail

/// A stand-in sendmail: a shell script that writes its arguments (one a
/// line) to `args` and its input to `message` in `dir`, and exits with
/// `status` (printing a complaint to stderr when not 0).
pub fn fake_sendmail(dir: &Path, status: u8) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("sendmail");
    let script = format!(
        "#!/bin/sh\n\
         for a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{d}/args'\n\
         cat > '{d}/message'\n\
         if [ {status} -ne 0 ]; then echo 'sendmail: queue file write error' >&2; fi\n\
         exit {status}\n",
        d = dir.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

// ---------------------------------------------------------------- DNS for host addresses

/// A DNS server on loopback (UDP) that knows the IPv4 addresses of a few
/// host names: A queries for them get the address, AAAA queries an empty
/// answer, every other name NXDOMAIN. Counts the queries per name.
pub struct AddrDns {
    pub addr: SocketAddr,
    pub asked: Arc<Mutex<Vec<String>>>,
    _stopper: Stopper,
}

impl AddrDns {
    pub fn start(hosts: &[(&str, std::net::Ipv4Addr)]) -> AddrDns {
        use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
        use hickory_proto::rr::rdata::A;
        use hickory_proto::rr::{RData, Record, RecordType};
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let table: HashMap<String, std::net::Ipv4Addr> =
            hosts.iter().map(|(h, ip)| (format!("{h}."), *ip)).collect();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (asked.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, peer)) = socket.recv_from(&mut buf) {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(question) = q.queries.first().cloned() else {
                    continue;
                };
                let name = question.name().to_ascii().to_ascii_lowercase();
                a.lock().unwrap().push(name.clone());
                let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                r.metadata.recursion_desired = q.metadata.recursion_desired;
                r.metadata.recursion_available = true;
                r.add_query(question.clone());
                match table.get(&name) {
                    None => r.metadata.response_code = ResponseCode::NXDomain,
                    Some(ip) if question.query_type() == RecordType::A => {
                        r.add_answer(Record::from_rdata(
                            question.name().clone(),
                            60,
                            RData::A(A(*ip)),
                        ));
                    }
                    Some(_) => {}
                }
                if let Ok(out) = r.to_vec() {
                    let _ = socket.send_to(&out, peer);
                }
            }
        });
        AddrDns {
            addr,
            asked,
            _stopper: Stopper {
                stop,
                wake: addr,
                udp: true,
                thread: Some(thread),
            },
        }
    }

    /// Queries for `name` (without the root dot) so far.
    pub fn queries_for(&self, name: &str) -> usize {
        let n = format!("{name}.");
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|a| **a == n)
            .count()
    }
}
