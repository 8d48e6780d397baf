//! An HTTPS policy host on loopback answering `/.well-known/mta-sts.txt`
//! per Host header from a table, with replies that misbehave the ways
//! real hosts do (redirects, slow or chunked bodies, garbage), and a TCP
//! server that never answers.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Leaf;

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
    /// A 200 text/plain sent after this many milliseconds (a slow policy
    /// host, so that concurrent fetches overlap).
    Delayed(u64, Vec<u8>),
}

/// A 200 text/plain reply with this policy file.
pub fn policy_reply(text: &str) -> Reply {
    Reply::Plain(200, "text/plain".into(), text.as_bytes().to_vec())
}

/// A policy file (RFC 8461 §3.2) with these fields, in the usual order.
pub fn policy_text(mode: &str, mx: &[&str], max_age: u32) -> String {
    let mut s = format!("version: STSv1\nmode: {mode}\n");
    for m in mx {
        s.push_str(&format!("mx: {m}\n"));
    }
    s.push_str(&format!("max_age: {max_age}\n"));
    s
}

/// The policy host on 127.0.0.1; hosts not in its table get a 404.
pub struct HttpsServer {
    /// Its port.
    pub port: u16,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    /// Requests received (all paths).
    pub requests: Arc<AtomicUsize>,
}

impl HttpsServer {
    /// Starts the server threads (they live as long as the process),
    /// presenting `leaf`.
    pub fn start(leaf: Leaf) -> HttpsServer {
        let config = leaf.server_config();
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

    /// What to send for the policy of `host` (the Host header, without
    /// the port).
    pub fn set(&self, host: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(host.to_owned(), reply);
    }

    /// Requests so far.
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
        Reply::Delayed(ms, body) => {
            std::thread::sleep(Duration::from_millis(ms));
            tls.write_all(head(200, "text/plain", body.len(), "").as_bytes())?;
            tls.write_all(&body)?;
        }
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

/// A TCP server on 127.0.0.1 that accepts connections and never sends a
/// byte; its port.
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
