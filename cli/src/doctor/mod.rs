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
mod hosts;
mod policy;
mod records;

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use sts_client::dns::{DnsResolver, MailHosts};
use sts_client::fetch::{FetchConfig, FetchError, Fetcher};

use self::findings::{Check, Finding, Verdict};
use self::policy::{fetch_failure, mx_findings};
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
        trace_from: cli.verbose.then(Instant::now),
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

/// What every check needs, built once from the options.
struct Env {
    dns: DnsResolver,
    fetcher: Fetcher,
    roots: Result<Vec<Vec<u8>>, String>,
    smtp_port: u16,
    timeout: Duration,
    now: u64,
    /// With `-v`: when the run started, for the step timings on stderr.
    trace_from: Option<Instant>,
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

impl Env {
    /// With `-v`, one line on stderr when a step ends, so that a slow step
    /// shows.
    fn trace(&self, what: &str) {
        if let Some(t0) = self.trace_from {
            eprintln!("[{:9.3} ms] {what}", t0.elapsed().as_secs_f64() * 1000.0);
        }
    }

    fn diagnose(&self, domain: &str) -> Vec<Finding> {
        let txt_name = format!("_mta-sts.{domain}");
        let (txt, fetched, tlsrpt, mail_hosts, hosts) = std::thread::scope(|s| {
            let txt = s.spawn(|| {
                let r = self.txt(&txt_name);
                self.trace(&format!("dns: TXT {txt_name}"));
                r
            });
            let fetched = s.spawn(|| {
                let r = match self.fetcher.fetch(domain) {
                    Ok(f) => Fetched::Body(f.body),
                    Err(e) => Fetched::Failed(e),
                };
                self.trace(&format!("https: {}", self.fetcher.url(domain)));
                r
            });
            let tlsrpt = s.spawn(|| {
                let r = self.tlsrpt(domain);
                self.trace(&format!("dns: TXT _smtp._tls.{domain}"));
                r
            });
            let mail_hosts = self.dns.mail_hosts(domain);
            self.trace(&format!("dns: MX {domain}"));
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
}
