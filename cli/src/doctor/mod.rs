//! `sts doctor DOMAIN`: the whole MTA-STS deployment of a domain as an
//! enforcing sender sees it, with what to fix.
//!
//! The checks run concurrently where they do not depend on each other:
//! the TXT record, the policy fetch and the TLSRPT record in their own
//! threads, while the MX records are looked up and every MX address is
//! probed over SMTP (a bounded pool). Each network step has the timeout,
//! so a dead MX or policy host costs one timeout, and its finding says
//! which one. The MX findings are judged after the policy is in, since its
//! mode decides whether a TLS fault is an error (enforce) or a warning.

mod findings;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use sts_client::dns::{Answer, DnsError, DnsResolver, MailHosts};
use sts_client::fetch::{FetchConfig, FetchError, Fetcher};
use sts_client::smtp::{self, Probe, ProbeOptions, SmtpError, StartTls};
use sts_core::policy::{self, Mode};
use sts_core::{cert, dane, mx, tlsrpt, txt};

use self::findings::{Check, Finding, Verdict};
use crate::Cli;

/// The options of `sts doctor`.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// The domain to check (the part after @ in addresses).
    domain: String,
    /// Print the findings as JSON.
    #[arg(long)]
    json: bool,
    /// SMTP port of the MX hosts.
    #[arg(long, value_name = "PORT", default_value_t = 25)]
    smtp_port: u16,
}

/// How the report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Text,
    Json,
}

/// Timeout of each network step when `--timeout` is not given.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// MX hosts probed at most (a domain with more is unusual; the rest are
/// named as not checked).
const MAX_MX: usize = 16;
/// Addresses probed per MX host at most.
const MAX_ADDRESSES: usize = 8;
/// SMTP probes running at once.
const PROBE_WORKERS: usize = 8;
/// A certificate expiring sooner than this is a warning.
const EXPIRY_WARNING_DAYS: i64 = 14;
/// A max_age below this is a warning (RFC 8461 §3.2 suggests weeks).
const MIN_MAX_AGE: u32 = 86_400;
/// Roots for the MX certificates when `--ca-file` is not given: Debian's
/// bundle of the Mozilla roots (`SSL_CERT_FILE` overrides it).
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Runs the checks and prints the report; the exit status is 0 when
/// nothing is wrong, 1 on an error, 2 on warnings only.
pub fn run(cli: &Cli, args: &DoctorArgs) -> ExitCode {
    let output = if args.json {
        Output::Json
    } else {
        Output::Text
    };
    let timeout = match cli.timeout.map(Duration::try_from_secs_f64) {
        None => DEFAULT_TIMEOUT,
        Some(Ok(t)) => t,
        Some(Err(_)) => {
            eprintln!("sts: --timeout is not a number of seconds");
            return ExitCode::from(2);
        }
    };
    let domain = match sts_client::normalize_domain(&args.domain) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("sts: {e}");
            return ExitCode::from(2);
        }
    };
    // The same STS_* environment fallbacks as the other commands.
    let mut settings = sts_client::ClientOptions {
        dns_server: cli.dns_server,
        ca_file: cli.ca_file.clone(),
        https_port: cli.https_port,
        https_connect_override: cli.connect,
        ..sts_client::ClientOptions::default()
    };
    if let Err(e) = settings.apply_env() {
        eprintln!("sts: {e}");
        return ExitCode::from(2);
    }
    // Two tries per DNS question within the one timeout.
    let per_try = timeout / 2;
    let dns = match settings.dns_server {
        Some(s) => DnsResolver::new(s, per_try, 2),
        None => DnsResolver::from_system(per_try, 2),
    };
    let fetcher = match Fetcher::new(&FetchConfig {
        ca_file: settings.ca_file.clone(),
        port: settings.https_port,
        connect_override: settings.https_connect_override,
        dns: Some(dns.clone()),
        connect_timeout: timeout,
        total_timeout: timeout,
    }) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("sts: {e}");
            return ExitCode::from(2);
        }
    };
    let roots = load_roots(settings.ca_file.as_deref());
    let env = Env {
        dns,
        fetcher,
        roots,
        smtp_port: args.smtp_port,
        timeout,
        now: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let findings = env.diagnose(&domain);
    match output {
        Output::Text => print!("{}", findings::render_text(&domain, &findings)),
        Output::Json => println!("{:#}", findings::render_json(&domain, &findings)),
    }
    findings::exit_code(&findings)
}

/// Trusted roots for the MX certificates, DER, or why there are none.
fn load_roots(ca_file: Option<&Path>) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let path = match ca_file {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os("SSL_CERT_FILE")
            .map_or_else(|| SYSTEM_ROOTS.into(), std::path::PathBuf::from),
    };
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let roots: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .map(|c| c.as_ref().to_vec())
        .collect();
    if roots.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(roots)
}

struct Env {
    dns: DnsResolver,
    fetcher: Fetcher,
    roots: Result<Vec<Vec<u8>>, String>,
    smtp_port: u16,
    timeout: Duration,
    now: u64,
}

/// The `_mta-sts` TXT lookup's outcome, kept for judging together with
/// the policy fetch (a policy without a TXT record is a different fault
/// from no MTA-STS at all).
enum TxtState {
    Valid,
    Absent,
    Broken,
}

/// What the policy fetch gave.
enum Fetched {
    Body(Vec<u8>),
    Failed(FetchError),
}

/// One MX host: its addresses, its TLSA records and each address's probe.
struct HostReport {
    host: String,
    addresses: Result<Vec<IpAddr>, DnsError>,
    tlsa: Result<Answer<Vec<u8>>, DnsError>,
    probes: Vec<(SocketAddr, Result<Probe, SmtpError>)>,
}

impl Env {
    fn diagnose(&self, domain: &str) -> Vec<Finding> {
        let txt_name = format!("_mta-sts.{domain}");
        let (txt, fetched, tlsrpt, mail_hosts, hosts) = std::thread::scope(|s| {
            let txt = s.spawn(|| self.txt(&txt_name));
            let fetched = s.spawn(|| match self.fetcher.fetch(domain) {
                Ok(f) => Fetched::Body(f.body),
                Err(e) => Fetched::Failed(e),
            });
            let tlsrpt = s.spawn(|| self.tlsrpt(domain));
            let mail_hosts = self.dns.mail_hosts(domain);
            let hosts = match &mail_hosts {
                Ok(MailHosts::Mx(list)) => {
                    let names: Vec<String> = list
                        .iter()
                        .take(MAX_MX)
                        .map(|m| m.exchange.clone())
                        .collect();
                    self.probe_hosts(&names)
                }
                Ok(MailHosts::Implicit(d)) => self.probe_hosts(std::slice::from_ref(d)),
                _ => Vec::new(),
            };
            let join = |name: &str| format!("the {name} check stopped");
            (
                txt.join().unwrap_or_else(|_| {
                    (
                        TxtState::Broken,
                        Finding::new(Check::Txt, &txt_name, Verdict::Error, join("TXT")),
                    )
                }),
                fetched
                    .join()
                    .unwrap_or_else(|_| Fetched::Failed(FetchError::Http(join("policy")))),
                tlsrpt.join().unwrap_or_else(|_| {
                    vec![Finding::new(
                        Check::Tlsrpt,
                        domain,
                        Verdict::Error,
                        join("TLSRPT"),
                    )]
                }),
                mail_hosts,
                hosts,
            )
        });

        let (txt_state, mut txt_finding) = txt;
        let policy_host = format!("mta-sts.{domain}");
        let mut policy_text = None;
        let mut out = Vec::new();
        match (&fetched, &txt_state) {
            (Fetched::Body(body), TxtState::Absent) => {
                txt_finding.verdict = Verdict::Error;
                txt_finding.detail = format!(
                    "{}, but {policy_host} serves a policy: senders never fetch it",
                    txt_finding.detail
                );
                txt_finding.hint = Some(format!(
                    "publish \"v=STSv1; id=<a new id>\" as TXT at _mta-sts.{domain}"
                ));
                policy_text = Some(body.as_slice());
            }
            (Fetched::Body(body), _) => policy_text = Some(body.as_slice()),
            (Fetched::Failed(e), TxtState::Absent) => {
                txt_finding.detail = format!(
                    "{}: the domain does not publish MTA-STS",
                    txt_finding.detail
                );
                txt_finding.hint = Some(format!(
                    "to protect inbound mail, publish a policy at https://{policy_host}/.well-known/mta-sts.txt and a TXT record at _mta-sts.{domain}"
                ));
                out.push(Finding::new(
                    Check::PolicyHttps,
                    &policy_host,
                    Verdict::Info,
                    format!("no policy either ({e})"),
                ));
            }
            (Fetched::Failed(e), _) => out.push(fetch_failure(&policy_host, e)),
        }
        out.insert(0, txt_finding);
        let policy = policy_text.and_then(|t| self.policy(&policy_host, t, &mut out));
        let mode = policy.as_ref().map(|p| p.mode);
        out.extend(mx_findings(domain, &mail_hosts, policy.as_ref()));
        for h in &hosts {
            out.extend(self.host_findings(h, mode));
        }
        out.extend(tlsrpt);
        out
    }

    // ------------------------------------------------------------ TXT

    fn txt(&self, name: &str) -> (TxtState, Finding) {
        let f = |v, d: String| Finding::new(Check::Txt, name, v, d);
        let records = match self.dns.txt(name) {
            Ok(r) => r,
            Err(DnsError::NxDomain | DnsError::NoData) => {
                return (
                    TxtState::Absent,
                    f(Verdict::Warning, "no TXT record".into()),
                )
            }
            Err(e) => return (
                TxtState::Broken,
                f(Verdict::Error, format!("lookup failed: {e}")).hint(
                    "make the name resolve (senders treat a failed lookup as a temporary error)",
                ),
            ),
        };
        let candidates = records.iter().filter(|r| txt::is_candidate(r)).count();
        match txt::select(records.iter().map(Vec::as_slice)) {
            Ok(r) => (
                TxtState::Valid,
                f(
                    Verdict::Ok,
                    format!("v=STSv1, id={}", String::from_utf8_lossy(r.id)),
                ),
            ),
            Err(txt::TxtError::NoRecord) => (
                TxtState::Absent,
                f(Verdict::Warning, "no TXT record begins with v=STSv1".into()),
            ),
            Err(e) => {
                let hint = if candidates > 1 {
                    format!(
                        "keep exactly one v=STSv1 record at {name} (there are {candidates}); RFC 8461 §3.1 makes senders ignore all of them"
                    )
                } else {
                    "write the record as \"v=STSv1; id=<1 to 32 letters and digits>;\"".into()
                };
                (
                    TxtState::Broken,
                    f(Verdict::Error, e.as_str().into()).hint(hint),
                )
            }
        }
    }

    // ------------------------------------------------------------ policy

    /// Checks the fetched policy text; the parsed policy's mode and mx
    /// patterns when it is valid.
    fn policy(&self, host: &str, text: &[u8], out: &mut Vec<Finding>) -> Option<PolicySummary> {
        out.push(Finding::new(
            Check::PolicyHttps,
            host,
            Verdict::Ok,
            format!("HTTP 200, text/plain, {} bytes", text.len()),
        ));
        let p = match policy::parse_detailed(text) {
            Ok(p) => p,
            Err(e) => {
                let (line, col) = e.line_column(text);
                out.push(
                    Finding::new(
                        Check::PolicySyntax,
                        host,
                        Verdict::Error,
                        format!("line {line}, column {col}: {}", e.error.as_str()),
                    )
                    .hint("correct the policy file (`sts lint FILE` checks it before you publish); senders ignore an invalid policy"),
                );
                return None;
            }
        };
        out.push(Finding::new(
            Check::PolicySyntax,
            host,
            Verdict::Ok,
            format!(
                "valid: mode {}, max_age {}, {} mx",
                p.mode().as_str(),
                p.max_age(),
                p.mx_count()
            ),
        ));
        let (verdict, detail) = match p.mode() {
            Mode::Enforce => (
                Verdict::Ok,
                "enforce: senders refuse MX hosts that fail".to_owned(),
            ),
            Mode::Testing => (
                Verdict::Info,
                "testing: senders deliver anyway and report failures".to_owned(),
            ),
            Mode::None => (Verdict::Info, "none: the policy is withdrawn".to_owned()),
        };
        out.push(Finding::new(Check::PolicyMode, host, verdict, detail));
        if p.max_age() < MIN_MAX_AGE {
            out.push(
                Finding::new(
                    Check::PolicyMaxAge,
                    host,
                    Verdict::Warning,
                    format!("max_age {} is under one day", p.max_age()),
                )
                .hint("raise max_age to weeks (e.g. 1209600 or more), as RFC 8461 §3.2 suggests, so that a cached policy outlives an attack on DNS"),
            );
        } else {
            out.push(Finding::new(
                Check::PolicyMaxAge,
                host,
                Verdict::Ok,
                format!("max_age {} ({} days)", p.max_age(), p.max_age() / 86_400),
            ));
        }
        Some(PolicySummary {
            mode: p.mode(),
            patterns: p
                .mx()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect(),
        })
    }

    // ------------------------------------------------------------ TLSRPT

    fn tlsrpt(&self, domain: &str) -> Vec<Finding> {
        let name = format!("_smtp._tls.{domain}");
        let hint_publish = format!(
            "publish \"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}\" as TXT at {name} to receive reports of failed TLS deliveries"
        );
        let records = match self.dns.txt(&name) {
            Ok(r) => r,
            Err(DnsError::NxDomain | DnsError::NoData) => {
                return vec![Finding::new(
                    Check::Tlsrpt,
                    &name,
                    Verdict::Warning,
                    "no TLSRPT record: nobody hears about failed deliveries".into(),
                )
                .hint(hint_publish)]
            }
            Err(e) => {
                return vec![Finding::new(
                    Check::Tlsrpt,
                    &name,
                    Verdict::Warning,
                    format!("lookup failed: {e}"),
                )
                .hint("make the name resolve")]
            }
        };
        // RFC 8460 §3: records not starting with v=TLSRPTv1 are ignored;
        // more than one that does means no policy.
        let ours: Vec<&Vec<u8>> = records
            .iter()
            .filter(|r| r.starts_with(b"v=TLSRPTv1"))
            .collect();
        match ours.as_slice() {
            [] => vec![Finding::new(
                Check::Tlsrpt,
                &name,
                Verdict::Warning,
                "no TXT record begins with v=TLSRPTv1".into(),
            )
            .hint(hint_publish)],
            [one] => match tlsrpt::parse(one) {
                Ok(r) => {
                    let rua: Vec<String> = r
                        .rua()
                        .map(|u| String::from_utf8_lossy(u).into_owned())
                        .collect();
                    vec![Finding::new(
                        Check::Tlsrpt,
                        &name,
                        Verdict::Ok,
                        format!("reports go to {}", rua.join(", ")),
                    )]
                }
                Err(e) => {
                    vec![
                        Finding::new(Check::Tlsrpt, &name, Verdict::Warning, e.as_str().into())
                            .hint(
                            "write it as \"v=TLSRPTv1; rua=mailto:ADDRESS\" (or an https:// URI)",
                        ),
                    ]
                }
            },
            more => vec![Finding::new(
                Check::Tlsrpt,
                &name,
                Verdict::Warning,
                format!(
                    "{} records begin with v=TLSRPTv1: senders use none",
                    more.len()
                ),
            )
            .hint("keep exactly one TLSRPT record")],
        }
    }

    // ------------------------------------------------------------ MX hosts

    /// Looks up every host's addresses and TLSA records (a thread per
    /// host), then probes every address with a pool of workers.
    fn probe_hosts(&self, names: &[String]) -> Vec<HostReport> {
        let mut hosts: Vec<HostReport> = std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|h| {
                    s.spawn(move || HostReport {
                        host: h.clone(),
                        addresses: self.dns.addresses(h),
                        tlsa: self.dns.tlsa(&format!("_25._tcp.{h}")),
                        probes: Vec::new(),
                    })
                })
                .collect();
            handles
                .into_iter()
                .zip(names)
                .map(|(j, h)| {
                    j.join().unwrap_or_else(|_| HostReport {
                        host: h.clone(),
                        addresses: Err(DnsError::Io("lookup stopped".into())),
                        tlsa: Err(DnsError::Io("lookup stopped".into())),
                        probes: Vec::new(),
                    })
                })
                .collect()
        });
        let jobs: Vec<(usize, SocketAddr)> = hosts
            .iter()
            .enumerate()
            .flat_map(|(i, h)| {
                h.addresses
                    .iter()
                    .flatten()
                    .take(MAX_ADDRESSES)
                    .map(move |ip| (i, SocketAddr::new(*ip, self.smtp_port)))
            })
            .collect();
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<(usize, SocketAddr, Result<Probe, SmtpError>)>> =
            Mutex::new(Vec::new());
        let opts = ProbeOptions {
            ehlo_name: "sts-doctor.localhost".into(),
            timeout: self.timeout,
        };
        std::thread::scope(|s| {
            for _ in 0..PROBE_WORKERS.min(jobs.len()) {
                s.spawn(|| {
                    while let Some(&(i, addr)) = jobs.get(next.fetch_add(1, Ordering::SeqCst)) {
                        let r = smtp::probe(addr, &hosts[i].host, &opts);
                        if let Ok(mut v) = results.lock() {
                            v.push((i, addr, r));
                        }
                    }
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_default();
        // Report in the order of the MX records and addresses.
        results
            .sort_by_key(|(i, addr, _)| (*i, jobs.iter().position(|(j, a)| j == i && a == addr)));
        for (i, addr, r) in results {
            hosts[i].probes.push((addr, r));
        }
        hosts
    }

    fn host_findings(&self, h: &HostReport, mode: Option<Mode>) -> Vec<Finding> {
        let mut out = Vec::new();
        let tls_fault = tls_fault_verdict(mode);
        match &h.addresses {
            Err(e) => {
                out.push(
                    Finding::new(
                        Check::MxAddress,
                        &h.host,
                        Verdict::Error,
                        format!("no address: {e}"),
                    )
                    .hint(format!("publish A (and AAAA) records for {}", h.host)),
                );
                return out;
            }
            Ok(ips) => {
                if !ips.iter().any(IpAddr::is_ipv6) {
                    out.push(Finding::new(
                        Check::MxAddress,
                        &h.host,
                        Verdict::Info,
                        "no IPv6 address (AAAA)".into(),
                    ));
                }
                if ips.len() > MAX_ADDRESSES {
                    out.push(Finding::new(
                        Check::MxAddress,
                        &h.host,
                        Verdict::Info,
                        format!("{} addresses; the first {MAX_ADDRESSES} checked", ips.len()),
                    ));
                }
            }
        }
        let tlsa = tlsa_records(&h.host, &h.tlsa, &mut out);
        for (addr, result) in &h.probes {
            let subject = format!("{} [{}]:{}", h.host, addr.ip(), addr.port());
            let probe = match result {
                Ok(p) => p,
                Err(e) => {
                    let hint = match e {
                        SmtpError::Timeout => format!(
                            "make the server at {addr} answer (nothing within {:.1} s): senders defer mail to it",
                            self.timeout.as_secs_f64()
                        ),
                        SmtpError::Connect => format!(
                            "start the SMTP server on {addr} or remove the address from DNS"
                        ),
                        SmtpError::Handshake => {
                            "fix the server's TLS setup (certificate and key, protocol versions)".into()
                        }
                        _ => "fix the SMTP server's replies".into(),
                    };
                    out.push(
                        Finding::new(
                            Check::SmtpConnect,
                            &subject,
                            Verdict::Error,
                            e.as_str().into(),
                        )
                        .hint(hint),
                    );
                    continue;
                }
            };
            out.push(Finding::new(
                Check::SmtpConnect,
                &subject,
                Verdict::Ok,
                format!("220 {}", probe.greeting),
            ));
            let Some(tls) = (match probe.starttls {
                StartTls::Offered => probe.tls.as_ref(),
                StartTls::NotOffered => None,
            }) else {
                out.push(
                    Finding::new(
                        Check::StartTls,
                        &subject,
                        tls_fault,
                        "STARTTLS is not offered: mail goes in clear text".into(),
                    )
                    .hint(
                        "enable STARTTLS with a certificate for the MX host name (RFC 8461 §4.2)",
                    ),
                );
                continue;
            };
            out.push(Finding::new(
                Check::StartTls,
                &subject,
                Verdict::Ok,
                "offered; handshake done".into(),
            ));
            out.push(Finding::new(
                Check::TlsVersion,
                &subject,
                Verdict::Ok,
                tls.version.as_str().into(),
            ));
            let chain: Vec<&[u8]> = tls.chain.iter().map(Vec::as_slice).collect();
            out.push(self.certificate(&subject, &h.host, &chain, tls_fault));
            if let Some(leaf) = chain.first() {
                out.push(self.expiry(&subject, leaf, tls_fault));
            }
            if let Some(records) = &tlsa {
                let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
                out.push(
                    match dane::verify(&chain, &refs, h.host.as_bytes(), self.now) {
                        Ok(()) => Finding::new(
                            Check::Dane,
                            &subject,
                            Verdict::Ok,
                            "the chain matches the TLSA records (DANE takes precedence over MTA-STS for senders that do DANE)".into(),
                        ),
                        Err(e) => Finding::new(
                            Check::Dane,
                            &subject,
                            Verdict::Error,
                            format!("{} ({})", e.as_str(), e.tlsrpt_result_type()),
                        )
                        .hint(format!(
                            "publish TLSA records at _25._tcp.{} for the certificate in use before rolling it over; DANE senders defer mail until they match (DANE takes precedence over MTA-STS)",
                            h.host
                        )),
                    },
                );
            }
        }
        out
    }

    fn certificate(&self, subject: &str, host: &str, chain: &[&[u8]], fault: Verdict) -> Finding {
        let roots = match &self.roots {
            Ok(r) => r,
            Err(e) => {
                return Finding::new(
                    Check::Certificate,
                    subject,
                    Verdict::Warning,
                    format!("not checked: no trusted roots ({e})"),
                )
                .hint("give a PEM bundle of roots with --ca-file")
            }
        };
        let roots: Vec<&[u8]> = roots.iter().map(Vec::as_slice).collect();
        match cert::verify(chain, &roots, host.as_bytes(), self.now) {
            Ok(()) => Finding::new(
                Check::Certificate,
                subject,
                Verdict::Ok,
                format!("valid under WebPKI for {host}"),
            ),
            Err(e) => {
                let hint = match e {
                    cert::CertError::HostMismatch => format!(
                        "use a certificate whose subjectAltName covers {host} (the MX host name, not the domain)"
                    ),
                    cert::CertError::Expired => "renew the certificate".into(),
                    cert::CertError::NotTrusted => {
                        "use a certificate from a public CA and send the intermediates".into()
                    }
                    _ => "replace the certificate chain with one that validates".into(),
                };
                Finding::new(
                    Check::Certificate,
                    subject,
                    fault,
                    format!("{} ({})", e.as_str(), e.tlsrpt_result_type()),
                )
                .hint(hint)
            }
        }
    }

    /// Days until the leaf expires; an expired one is as bad as the
    /// certificate check says (`fault`), one close to it a warning.
    fn expiry(&self, subject: &str, leaf: &[u8], fault: Verdict) -> Finding {
        let now = i64::try_from(self.now).unwrap_or(i64::MAX);
        let f = |v, d: String| Finding::new(Check::CertificateExpiry, subject, v, d);
        match smtp::not_after(leaf) {
            None => f(
                Verdict::Warning,
                "cannot read the certificate's notAfter".into(),
            )
            .hint("check that the server sends a well-formed X.509 certificate"),
            Some(t) if t < now => f(
                fault,
                format!("expired {} day(s) ago", (now - t).div_euclid(86_400)),
            )
            .hint("renew the certificate and reload the SMTP server"),
            Some(t) => {
                let days = (t - now).div_euclid(86_400);
                if days < EXPIRY_WARNING_DAYS {
                    f(Verdict::Warning, format!("expires in {days} day(s)"))
                        .hint("renew the certificate now (and check that renewal is automated)")
                } else {
                    f(Verdict::Ok, format!("expires in {days} days"))
                }
            }
        }
    }
}

/// The policy facts the MX checks need.
struct PolicySummary {
    mode: Mode,
    patterns: Vec<String>,
}

/// How bad a TLS fault at an MX host is: enforcing senders refuse the host
/// (error); under testing, or with no usable policy, they deliver anyway.
fn tls_fault_verdict(mode: Option<Mode>) -> Verdict {
    match mode {
        Some(Mode::Enforce) => Verdict::Error,
        _ => Verdict::Warning,
    }
}

fn fetch_failure(host: &str, e: &FetchError) -> Finding {
    let hint = match e {
        FetchError::HostNotFound => format!("publish A/AAAA records for {host}"),
        FetchError::Connect(_) => format!("start an HTTPS server on {host}"),
        FetchError::Tls(_) => {
            format!("serve a certificate valid for {host} from a public CA (RFC 8461 §3.3)")
        }
        FetchError::Timeout => format!("make {host} answer within the timeout"),
        FetchError::Redirect(_) => {
            "serve the policy directly: senders do not follow redirects (RFC 8461 §3.3)".into()
        }
        FetchError::Status(_) => {
            format!("serve the policy at https://{host}/.well-known/mta-sts.txt with status 200")
        }
        FetchError::ContentType(_) => "serve the policy with Content-Type: text/plain".into(),
        FetchError::TooLarge => "shorten the policy (senders stop reading at 64 KiB)".into(),
        FetchError::Http(_) => "fix the HTTPS server".into(),
    };
    Finding::new(Check::PolicyHttps, host, Verdict::Error, e.to_string()).hint(hint)
}

/// The domain's MX records against the policy (RFC 8461 §4.1).
fn mx_findings(
    domain: &str,
    mail_hosts: &Result<MailHosts, DnsError>,
    policy: Option<&PolicySummary>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let hosts: Vec<String> = match mail_hosts {
        Ok(MailHosts::Mx(list)) => {
            out.push(Finding::new(
                Check::MxRecords,
                domain,
                Verdict::Ok,
                list.iter()
                    .map(|m| format!("{} {}", m.preference, m.exchange))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
            if list.len() > MAX_MX {
                out.push(Finding::new(
                    Check::MxRecords,
                    domain,
                    Verdict::Info,
                    format!("{} MX records; the first {MAX_MX} checked", list.len()),
                ));
            }
            list.iter().map(|m| m.exchange.clone()).collect()
        }
        Ok(MailHosts::Implicit(d)) => {
            out.push(Finding::new(
                Check::MxRecords,
                domain,
                Verdict::Info,
                "no MX records: the domain itself is the mail host (RFC 5321 §5.1)".into(),
            ));
            vec![d.clone()]
        }
        Ok(MailHosts::NullMx) => {
            out.push(Finding::new(
                Check::MxRecords,
                domain,
                Verdict::Info,
                "null MX (RFC 7505): the domain accepts no mail".into(),
            ));
            return out;
        }
        Err(e) => {
            out.push(
                Finding::new(
                    Check::MxRecords,
                    domain,
                    Verdict::Error,
                    format!("MX lookup failed: {e}"),
                )
                .hint("publish MX records for the domain"),
            );
            return out;
        }
    };
    let Some(p) = policy else { return out };
    let refused = match p.mode {
        Mode::Enforce => Verdict::Error,
        Mode::Testing => Verdict::Warning,
        Mode::None => Verdict::Info,
    };
    for h in &hosts {
        let matching = p
            .patterns
            .iter()
            .find(|pat| mx::pattern_match(pat.as_bytes(), h.as_bytes()).is_ok());
        out.push(match matching {
            Some(pat) => Finding::new(
                Check::MxPermitted,
                h,
                Verdict::Ok,
                format!("permitted by mx: {pat}"),
            ),
            None => Finding::new(
                Check::MxPermitted,
                h,
                refused,
                format!("not permitted by the policy (mode {})", p.mode.as_str()),
            )
            .hint(format!(
                "add \"mx: {h}\" to the policy and change the TXT id, or remove the MX record"
            )),
        });
    }
    for pat in &p.patterns {
        if !hosts
            .iter()
            .any(|h| mx::pattern_match(pat.as_bytes(), h.as_bytes()).is_ok())
        {
            out.push(
                Finding::new(
                    Check::MxPattern,
                    pat,
                    Verdict::Warning,
                    "matches no MX host of the domain (stale entry?)".into(),
                )
                .hint(format!(
                    "remove \"mx: {pat}\" from the policy if that host is gone"
                )),
            );
        }
    }
    out
}

/// The host's TLSA records when DANE applies (present and validated);
/// adds a finding either way.
fn tlsa_records(
    host: &str,
    tlsa: &Result<Answer<Vec<u8>>, DnsError>,
    out: &mut Vec<Finding>,
) -> Option<Vec<Vec<u8>>> {
    let name = format!("_25._tcp.{host}");
    match tlsa {
        Err(DnsError::NxDomain | DnsError::NoData) => {
            out.push(Finding::new(
                Check::Dane,
                &name,
                Verdict::Info,
                "no TLSA records: DANE is not in use".into(),
            ));
            None
        }
        Err(e) => {
            out.push(
                Finding::new(
                    Check::Dane,
                    &name,
                    Verdict::Warning,
                    format!("TLSA lookup failed: {e}"),
                )
                .hint("DANE senders defer mail while the TLSA lookup fails: fix the zone's DNSSEC or its servers"),
            );
            None
        }
        Ok(a) if !a.authenticated => {
            out.push(
                Finding::new(
                    Check::Dane,
                    &name,
                    Verdict::Warning,
                    format!(
                        "{} TLSA record(s), not DNSSEC-validated (no AD bit): senders ignore them",
                        a.records.len()
                    ),
                )
                .hint("sign the zone with DNSSEC (and ask a validating resolver), or remove the TLSA records"),
            );
            None
        }
        Ok(a) => {
            out.push(Finding::new(
                Check::Dane,
                &name,
                Verdict::Info,
                format!(
                    "{} DNSSEC-validated TLSA record(s): DANE senders use them instead of MTA-STS",
                    a.records.len()
                ),
            ));
            Some(a.records.clone())
        }
    }
}
