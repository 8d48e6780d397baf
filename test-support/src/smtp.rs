//! SMTP servers on loopback for the STARTTLS probe and `sts doctor` tests:
//! they greet, answer EHLO (offering STARTTLS or not), switch to TLS with a
//! test-CA certificate, and record every command a client sends, so that a
//! test can check that no mail was ever offered. One kind stays silent, to
//! stand for an MX host that accepts the connection and never answers.
//!
//! Several servers can share one port on different loopback addresses
//! ([`SmtpServer::start_on_one_port`]), because a sender connects to every
//! MX host on the same port (25, or `--smtp-port`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How a test SMTP server behaves.
#[derive(Clone)]
pub enum SmtpMode {
    /// Offers STARTTLS and presents this configuration's certificate.
    StartTls(Arc<rustls::ServerConfig>),
    /// Greets and answers EHLO without offering STARTTLS.
    Plain,
    /// Accepts connections and never sends a byte.
    Silent,
    /// Offers STARTTLS and says 220 to it, then answers the client's TLS
    /// hello with bytes that are not TLS and closes: a handshake that
    /// fails after a good start.
    BrokenTls,
}

/// A running SMTP server; dropping it stops the listener.
pub struct SmtpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every command received, in order, across connections (`EHLO x`,
    /// `STARTTLS`, `QUIT`, ...; those after STARTTLS as `tls: QUIT`).
    pub commands: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SmtpServer {
    /// Starts one server per `(ip, mode)`, all on the same port (tried
    /// until one is free on every address).
    pub fn start_on_one_port(specs: Vec<(IpAddr, SmtpMode)>) -> Vec<SmtpServer> {
        'port: for _ in 0..50 {
            let Some((first_ip, _)) = specs.first() else {
                return Vec::new();
            };
            let first = TcpListener::bind((*first_ip, 0)).unwrap();
            let port = first.local_addr().unwrap().port();
            let mut listeners = vec![first];
            for (ip, _) in &specs[1..] {
                match TcpListener::bind((*ip, port)) {
                    Ok(l) => listeners.push(l),
                    Err(_) => continue 'port,
                }
            }
            return listeners
                .into_iter()
                .zip(specs)
                .map(|(l, (_, mode))| SmtpServer::run(l, mode))
                .collect();
        }
        panic!("no port free on every address");
    }

    /// Starts one server on `ip`, on a port of the system's choosing.
    pub fn start(ip: IpAddr, mode: SmtpMode) -> SmtpServer {
        SmtpServer::start_on_one_port(vec![(ip, mode)])
            .pop()
            .unwrap()
    }

    fn run(listener: TcpListener, mode: SmtpMode) -> SmtpServer {
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let commands: Arc<Mutex<Vec<String>>> = Arc::default();
        let thread = {
            let stop = stop.clone();
            let commands = commands.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(tcp) = conn else { continue };
                    let mode = mode.clone();
                    let commands = commands.clone();
                    std::thread::spawn(move || {
                        let _ = session(tcp, &mode, &commands);
                    });
                }
            })
        };
        SmtpServer {
            addr,
            commands,
            stop,
            thread: Some(thread),
        }
    }

    /// The commands received so far.
    pub fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a server does after its 220 to STARTTLS.
enum Tls {
    Real(Arc<rustls::ServerConfig>),
    Broken,
}

fn session(
    mut tcp: TcpStream,
    mode: &SmtpMode,
    commands: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let config = match mode {
        SmtpMode::Silent => {
            // Hold the connection until the client gives up.
            let mut sink = [0u8; 512];
            while tcp.read(&mut sink)? > 0 {}
            return Ok(());
        }
        SmtpMode::Plain => None,
        SmtpMode::StartTls(c) => Some(Tls::Real(c.clone())),
        SmtpMode::BrokenTls => Some(Tls::Broken),
    };
    tcp.write_all(b"220 mx.test ESMTP libsts test server\r\n")?;
    let mut reader = BufReader::new(tcp.try_clone()?);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_owned();
        commands.lock().unwrap().push(cmd.clone());
        let verb = cmd.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => {
                let tls = if config.is_some() {
                    "250-STARTTLS\r\n"
                } else {
                    ""
                };
                write!(
                    tcp,
                    "250-mx.test\r\n250-PIPELINING\r\n{tls}250 8BITMIME\r\n"
                )?;
            }
            "STARTTLS" => match &config {
                Some(Tls::Real(c)) => {
                    tcp.write_all(b"220 go ahead\r\n")?;
                    drop(reader);
                    return after_starttls(tcp, c.clone(), commands);
                }
                Some(Tls::Broken) => {
                    tcp.write_all(b"220 go ahead\r\n")?;
                    let mut hello = [0u8; 512];
                    let _ = reader.read(&mut hello)?;
                    tcp.write_all(b"421 this is not TLS\r\n")?;
                    return Ok(());
                }
                None => tcp.write_all(b"502 not offered\r\n")?,
            },
            "QUIT" => {
                tcp.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => tcp.write_all(b"502 not here\r\n")?,
        }
    }
}

fn after_starttls(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    commands: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    loop {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            if tls.read(&mut byte)? == 0 {
                return Ok(());
            }
            if byte[0] == b'\n' {
                break;
            }
            line.push(byte[0]);
        }
        let cmd = String::from_utf8_lossy(&line).trim_end().to_owned();
        commands.lock().unwrap().push(format!("tls: {cmd}"));
        if cmd.eq_ignore_ascii_case("QUIT") {
            tls.write_all(b"221 bye\r\n")?;
            tls.conn.send_close_notify();
            let _ = tls.flush();
            return Ok(());
        }
        tls.write_all(b"250 ok\r\n")?;
    }
}
