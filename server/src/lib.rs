//! `sts-server`: the Postfix socketmap policy server behind `sts serve`.
//!
//! Postfix asks `smtp_tls_policy_maps = socketmap:inet:HOST:PORT:NAME`
//! (socketmap_table(5)) for the TLS policy of each next-hop domain; this
//! crate answers from the MTA-STS policy (RFC 8461) of the domain, with
//! the exact MX host names the policy permits, DANE first, and fetch
//! errors recorded for TLSRPT (RFC 8460). Modules: [`netstring`] (the
//! framing), [`answer`] (what to say, by map name), [`listen`]
//! (addresses and streams), [`refresher`] (proactive refresh),
//! [`metrics`] (Prometheus text), [`log`].
//!
//! A long-lived daemon, not inside a forking MTA: one thread per
//! connection (Postfix keeps one connection per smtp process and sends
//! one request at a time on it), a few refresh threads.

pub mod answer;
pub mod listen;
pub mod log;
pub mod metrics;
pub mod netstring;
pub mod refresher;

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sts_client::dns::DnsResolver;
use sts_client::Client;
use sts_report::Recorder;

pub use crate::answer::{AnswerKind, Answerer, DaneCheck, MapName, Reply};
pub use crate::listen::{ListenAddr, ListenError};
pub use crate::log::{Level, Log};
pub use crate::metrics::Metrics;

/// Why the server could not start.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerError {
    /// No `--socketmap` address was given.
    NoListener,
    /// A socketmap address cannot be bound.
    Listen(ListenError),
    /// The metrics address cannot be bound.
    Metrics,
    /// The TLSRPT store directory cannot be opened.
    ReportDir,
}

impl ServerError {
    /// A short description.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerError::NoListener => "no socketmap address to listen on",
            ServerError::Listen(e) => e.as_str(),
            ServerError::Metrics => "cannot listen on the metrics address",
            ServerError::ReportDir => "cannot open the TLSRPT store directory",
        }
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ServerError {}

/// Settings of a [`Server`].
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Socketmap listeners.
    pub listen: Vec<ListenAddr>,
    /// Where Prometheus text is served, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// An idle connection is closed after this long (Postfix closes its
    /// own after 10 s idle, so this only catches stale clients).
    pub idle_timeout: Duration,
    /// A request must arrive in full within this long of its first byte.
    pub request_timeout: Duration,
    /// Most open connections; more are closed at once.
    pub max_connections: usize,
    /// Background refresh threads.
    pub refresh_workers: usize,
    /// Every cached domain is queued for a refresh this often (0: never).
    pub sweep: Duration,
    /// How long an answer is reused without looking at the policy cache,
    /// MX and TLSA records again (0: never).
    pub memo_ttl: Duration,
    /// Whether TLSA records are looked up (DANE first).
    pub dane: DaneCheck,
    /// TLSRPT store for policy fetch errors, if any.
    pub report_dir: Option<PathBuf>,
    /// Log level.
    pub log: Level,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            listen: Vec::new(),
            metrics: None,
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            max_connections: 1000,
            refresh_workers: 2,
            sweep: Duration::from_secs(3600),
            memo_ttl: Duration::from_secs(30),
            dane: DaneCheck::Lookup,
            report_dir: None,
            log: Level::Info,
        }
    }
}

/// A bound server; [`Server::run`] serves until [`Server::stop_flag`] is
/// set (by a signal handler, see [`stop_on_signals`]).
pub struct Server {
    answerer: Arc<Answerer>,
    client: Arc<Client>,
    listeners: Vec<Arc<listen::Listener>>,
    metrics_listener: Option<TcpListener>,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    opts: ServerOptions,
    log: Log,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds every listener and starts the background refresh.
    pub fn bind(client: Client, opts: ServerOptions) -> Result<Server, ServerError> {
        if opts.listen.is_empty() {
            return Err(ServerError::NoListener);
        }
        let log = Log::new(opts.log);
        let mut listeners = Vec::new();
        for a in &opts.listen {
            let l = listen::Listener::bind(a).map_err(|e| {
                log.at(Level::Info, || format!("{a}: {e}"));
                ServerError::Listen(e)
            })?;
            listeners.push(Arc::new(l));
        }
        let metrics_listener = match opts.metrics {
            Some(a) => Some(TcpListener::bind(a).map_err(|e| {
                log.at(Level::Info, || format!("metrics {a}: {e}"));
                ServerError::Metrics
            })?),
            None => None,
        };
        let recorder = match &opts.report_dir {
            Some(d) => Some(Recorder::open(d).map_err(|e| {
                log.at(Level::Info, || format!("TLSRPT store {}: {e}", d.display()));
                ServerError::ReportDir
            })?),
            None => None,
        };
        let copts = client.options();
        let dns = match copts.dns_server {
            Some(s) => DnsResolver::new(s, copts.dns_timeout, copts.dns_attempts),
            None => DnsResolver::from_system(copts.dns_timeout, copts.dns_attempts),
        };
        let client = Arc::new(client);
        let metrics = Arc::new(Metrics::default());
        let memo = Arc::new(answer::Memo::default());
        let stop = Arc::new(AtomicBool::new(false));
        let refresher = refresher::Refresher::spawn(
            client.clone(),
            memo.clone(),
            metrics.clone(),
            log,
            opts.refresh_workers,
            opts.sweep,
            stop.clone(),
        );
        let answerer = Arc::new(Answerer::new(answer::AnswererParts {
            client: client.clone(),
            dns,
            recorder,
            metrics: metrics.clone(),
            memo,
            memo_ttl: opts.memo_ttl,
            refresher: Some(refresher),
            dane: opts.dane,
            log,
        }));
        Ok(Server {
            answerer,
            client,
            listeners,
            metrics_listener,
            metrics,
            stop,
            opts,
            log,
        })
    }

    /// The socketmap addresses bound (real ports for port 0).
    pub fn local_addrs(&self) -> Vec<ListenAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr())
            .collect()
    }

    /// The metrics address bound.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Setting this flag stops [`Server::run`].
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// The counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Serves until the stop flag is set, then stops accepting, lets the
    /// requests in flight finish (each is bounded by the client's DNS and
    /// HTTPS timeouts) and returns.
    pub fn run(self) {
        let mut threads: Vec<JoinHandle<()>> = Vec::new();
        for l in &self.listeners {
            let l = l.clone();
            let answerer = self.answerer.clone();
            let metrics = self.metrics.clone();
            let stop = self.stop.clone();
            let opts = self.opts.clone();
            let log = self.log;
            log.at(Level::Info, || {
                format!(
                    "listening on {}",
                    l.local_addr().map_or_else(String::new, |a| a.to_string())
                )
            });
            threads.push(std::thread::spawn(move || {
                accept_loop(&l, &answerer, &metrics, &stop, &opts, log);
            }));
        }
        if let Some(ml) = self
            .metrics_listener
            .as_ref()
            .and_then(|l| l.try_clone().ok())
        {
            let metrics = self.metrics.clone();
            let client = self.client.clone();
            let stop = self.stop.clone();
            threads.push(std::thread::spawn(move || {
                metrics_loop(&ml, &metrics, &client, &stop);
            }));
        }
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
        self.log.at(Level::Info, || {
            "stopping: finishing requests in flight".into()
        });
        for l in &self.listeners {
            l.wake();
        }
        if let Some(a) = self.metrics_addr() {
            let _ = std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1));
        }
        for t in threads {
            let _ = t.join();
        }
        // Connection threads notice the flag between requests; one in
        // the middle of a lookup finishes it first.
        let copts = self.client.options();
        let limit = Instant::now()
            + self.opts.request_timeout
            + copts.https_total_timeout
            + copts.dns_timeout * 4 * copts.dns_attempts.max(1);
        while self.metrics.connections_open.load(Ordering::Relaxed) > 0 && Instant::now() < limit {
            std::thread::sleep(Duration::from_millis(20));
        }
        for l in &self.listeners {
            l.cleanup();
        }
        self.log.at(Level::Info, || "stopped".into());
    }
}

/// Sets `stop` on SIGTERM and SIGINT.
pub fn stop_on_signals(stop: &Arc<AtomicBool>) -> std::io::Result<()> {
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    Ok(())
}

fn accept_loop(
    l: &listen::Listener,
    answerer: &Arc<Answerer>,
    metrics: &Arc<Metrics>,
    stop: &Arc<AtomicBool>,
    opts: &ServerOptions,
    log: Log,
) {
    loop {
        let accepted = l.accept();
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(stream) = accepted else {
            // Out of file descriptors and the like: do not spin.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        metrics.connections.fetch_add(1, Ordering::Relaxed);
        let open = metrics.connections_open.fetch_add(1, Ordering::Relaxed);
        if open >= opts.max_connections as u64 {
            metrics.connections_open.fetch_sub(1, Ordering::Relaxed);
            log.at(Level::Debug, || "too many connections: closed one".into());
            continue;
        }
        let answerer = answerer.clone();
        let metrics2 = metrics.clone();
        let stop = stop.clone();
        let conn = ConnLimits {
            idle: opts.idle_timeout,
            request: opts.request_timeout,
        };
        let spawned = std::thread::Builder::new().spawn(move || {
            serve_connection(stream, &answerer, &metrics2, &stop, conn, log);
            metrics2.connections_open.fetch_sub(1, Ordering::Relaxed);
        });
        if spawned.is_err() {
            metrics.connections_open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[derive(Clone, Copy)]
struct ConnLimits {
    idle: Duration,
    request: Duration,
}

/// Read timeouts are cut into slices this long, so that an idle
/// connection notices a stop within it.
const SLICE: Duration = Duration::from_millis(500);

/// Answers the requests of one connection in order until the client
/// closes it, sends something that is not a request, is idle or slow for
/// too long, or the server stops. Memory stays bounded: at most one
/// partial request (10,000 bytes) plus one read is buffered.
fn serve_connection(
    mut s: listen::Stream,
    answerer: &Answerer,
    metrics: &Metrics,
    stop: &AtomicBool,
    limits: ConnLimits,
    log: Log,
) {
    let _ = s.set_write_timeout(Some(limits.request));
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let mut chunk = [0u8; 4096];
    let mut out: Vec<u8> = Vec::with_capacity(512);
    let mut started: Option<Instant> = None;
    let mut idle_since = Instant::now();
    loop {
        let mut used_total = 0;
        loop {
            match netstring::decode(&buf[used_total..]) {
                Ok(Some((data, used))) => {
                    let reply = answerer.answer(data);
                    out.clear();
                    netstring::encode(reply.text.as_bytes(), &mut out);
                    if s.write_all(&out).is_err() {
                        return;
                    }
                    used_total += used;
                    idle_since = Instant::now();
                    started = None;
                }
                Ok(None) => break,
                Err(e) => {
                    metrics.bad_requests.fetch_add(1, Ordering::Relaxed);
                    log.at(Level::Debug, || format!("connection closed: {e}"));
                    return;
                }
            }
        }
        buf.drain(..used_total);
        let now = Instant::now();
        if buf.is_empty() {
            started = None;
            if stop.load(Ordering::Relaxed) {
                return;
            }
        } else if started.is_none() {
            started = Some(now);
        }
        let deadline = match started {
            Some(t) => t + limits.request,
            None => idle_since + limits.idle,
        };
        if now >= deadline {
            if started.is_some() {
                metrics.slow_requests.fetch_add(1, Ordering::Relaxed);
                log.at(Level::Debug, || {
                    "connection closed: request too slow".into()
                });
            }
            return;
        }
        let _ = s.set_read_timeout(Some((deadline - now).min(SLICE)));
        match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}

/// Serves the Prometheus text to any HTTP request, one connection at a
/// time (scrapes are rare; each is bounded by a 2 s timeout).
fn metrics_loop(l: &TcpListener, metrics: &Metrics, client: &Client, stop: &AtomicBool) {
    for conn in l.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut s) = conn else { continue };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
        let mut req = Vec::new();
        let mut chunk = [0u8; 1024];
        while req.len() < 8192 && !req.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => req.extend_from_slice(&chunk[..n]),
            }
        }
        let entries = client.cache().domains().map_or(0, |d| d.len());
        let body = metrics.render(entries);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body.as_bytes());
    }
}
