//! The command line of the report store, shared by `sts report` and
//! `sts-report` (one clap definition, [`ReportArgs`]): record TLS delivery
//! outcomes, print and send the daily TLS reports (RFC 8460).
//!
//! Every setting of `send` can also come from the environment, so a cron
//! job or systemd unit needs no long command line: `STS_REPORT_DIR`,
//! `STS_REPORT_SUBMITTER`, `STS_REPORT_FROM`, `STS_REPORT_ORG`,
//! `STS_REPORT_CONTACT`, `STS_REPORT_SMTP`, `STS_SMTP_PASSWORD`,
//! `STS_SMTP_PASSWORD_FILE`, and the client's `STS_DNS_SERVER`,
//! `STS_CA_FILE`, `STS_CACHE`. A flag wins over its variable.
//!
//! Without `--dir` or `STS_REPORT_DIR` the store is `tlsrpt` beside the
//! policy cache directory (`--cache`/`STS_CACHE`): a cache at
//! `/var/spool/exim4/mta-sts` gives `/var/spool/exim4/tlsrpt`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use sts_client::{Client, ClientOptions};

use crate::{
    day::now_unix, print_reports, record, send, Day, Failure, Outcome, PolicyType, ReportOptions,
    ResultType, SessionResult,
};

/// The name of the default store directory, beside the policy cache.
pub const DEFAULT_DIR_NAME: &str = "tlsrpt";

/// `sts report`: the options before the command, then the command.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Report store directory [env: STS_REPORT_DIR] [default: `tlsrpt` beside the --cache directory].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The reporting domain: TLS-Report-Submitter and report-id [env: STS_REPORT_SUBMITTER] [default: localhost].
    #[arg(long, value_name = "DOMAIN")]
    pub submitter: Option<String>,
    /// organization-name of the reports [env: STS_REPORT_ORG] [default: the submitter].
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// contact-info of the reports [env: STS_REPORT_CONTACT] (default: `postmaster@SUBMITTER`).
    #[arg(long, value_name = "ADDR")]
    pub contact: Option<String>,
    /// From address of report mail [env: STS_REPORT_FROM] (default: `tlsrpt-noreply@SUBMITTER`).
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
    /// How report mail leaves: `smtp://host[:25]`, `smtp+starttls://user@host[:587]`,
    /// `smtps://user@host[:465]` or `sendmail[:/path]` [env: STS_REPORT_SMTP] [default: `smtp://127.0.0.1:25`].
    /// The password comes from STS_SMTP_PASSWORD or --smtp-password-file, never from here.
    #[arg(long, value_name = "URL")]
    pub smtp: Option<String>,
    /// File whose first line is the SMTP password [env: STS_SMTP_PASSWORD_FILE].
    #[arg(long, value_name = "FILE")]
    pub smtp_password_file: Option<PathBuf>,
    /// Older form of --smtp smtp://IP:PORT.
    #[arg(long, value_name = "IP:PORT", hide = true)]
    pub relay: Option<std::net::SocketAddr>,
    /// The command.
    #[command(subcommand)]
    pub command: ReportCommand,
}

/// The commands of `sts report`.
#[derive(Subcommand, Debug, Clone)]
pub enum ReportCommand {
    /// Record the outcome of delivery sessions to one MX host.
    ///
    /// The policy type, policy strings and MX patterns come from the policy client
    /// (cache first, a lookup if needed; a domain without a policy is
    /// recorded as no-policy-found) unless given with --policy-type,
    /// --policy-string or --mx-pattern.
    Record(Box<RecordArgs>),
    /// Print a day's reports as a JSON array (nothing is changed).
    Print {
        /// The UTC day, YYYY-MM-DD [default: yesterday].
        #[arg(long, value_name = "YYYY-MM-DD")]
        day: Option<Day>,
    },
    /// Close finished days and send due reports (with retries across runs).
    Send {
        /// Only this UTC day, which must be over.
        #[arg(long, value_name = "YYYY-MM-DD")]
        day: Option<Day>,
        /// Only say what would be sent; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Which policy applied, as given on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyTypeArg {
    /// An MTA-STS policy.
    Sts,
    /// A DANE TLSA RRset.
    Tlsa,
    /// Neither (RFC 8460 §4.3).
    NoPolicyFound,
}

/// `sts report record`.
#[derive(Args, Debug, Clone)]
pub struct RecordArgs {
    /// The policy (recipient) domain.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: String,
    /// The MX host the sessions went to.
    #[arg(long, value_name = "HOST")]
    pub mx: String,
    /// `success` or an RFC 8460 §4.3 result type (e.g. certificate-expired).
    #[arg(long, value_name = "TYPE")]
    pub result: String,
    /// Number of sessions [default: 1].
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// The policy type, without a lookup.
    #[arg(long, value_enum, value_name = "TYPE")]
    pub policy_type: Option<PolicyTypeArg>,
    /// A line of the policy, without a lookup (repeat for each line).
    #[arg(long, value_name = "LINE")]
    pub policy_string: Vec<String>,
    /// An MX pattern of the policy, without a lookup (repeat).
    #[arg(long, value_name = "PATTERN")]
    pub mx_pattern: Vec<String>,
    /// sending-mta-ip of a failure.
    #[arg(long, value_name = "IP")]
    pub sending_ip: Option<String>,
    /// receiving-ip of a failure.
    #[arg(long, value_name = "IP")]
    pub receiving_ip: Option<String>,
    /// receiving-mx-helo of a failure.
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    /// additional-information (a URI) of a failure.
    #[arg(long, value_name = "URI")]
    pub info: Option<String>,
    /// failure-reason-code of a failure.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// When it happened, Unix seconds [default: now].
    #[arg(long, value_name = "UNIX")]
    pub at: Option<u64>,
    /// The delivery carried a TLS report: not recorded (RFC 8460 §5.3).
    #[arg(long)]
    pub report_delivery: bool,
}

/// The command line of `sts-report`: the client settings `sts` has as
/// global options, then [`ReportArgs`].
#[derive(clap::Parser, Debug)]
#[command(name = "sts-report", version)]
pub struct StandaloneCli {
    /// DNS server to ask, `ip` or `ip:port` [env: STS_DNS_SERVER].
    #[arg(long, alias = "dns", value_name = "ADDR")]
    pub dns_server: Option<String>,
    /// PEM file of trusted roots for policy hosts, HTTPS reporting URIs
    /// and SMTP servers [env: STS_CA_FILE].
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Policy cache directory [env: STS_CACHE].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// The report command.
    #[command(flatten)]
    pub report: ReportArgs,
}

impl StandaloneCli {
    /// Runs it (see [`run`]).
    pub fn run(&self) -> Result<(), String> {
        let mut client = ClientOptions {
            ca_file: self.ca_file.clone(),
            cache_path: self.cache.clone(),
            ..ClientOptions::default()
        };
        if let Some(s) = &self.dns_server {
            client.dns_server = Some(
                sts_client::dns::parse_server(s)
                    .ok_or_else(|| format!("--dns-server {s:?} is not ip or ip:port"))?,
            );
        }
        run(&self.report, client)
    }
}

/// The store directory: `--dir`, `STS_REPORT_DIR`, or `tlsrpt` beside the
/// policy cache directory.
pub fn store_dir(dir: Option<&Path>, cache: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(d) = dir {
        return Ok(d.to_path_buf());
    }
    if let Some(d) = env("STS_REPORT_DIR") {
        return Ok(PathBuf::from(d));
    }
    let cache = cache.ok_or(
        "no report store: give --dir or STS_REPORT_DIR, or --cache or STS_CACHE \
         (the store is then `tlsrpt` beside the cache)",
    )?;
    let parent = cache
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(parent.join(DEFAULT_DIR_NAME))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Runs one `sts report` command with the client settings `client`
/// (unset ones are read from the `STS_*` variables); the error is the
/// message to print.
pub fn run(args: &ReportArgs, mut client: ClientOptions) -> Result<(), String> {
    client.apply_env().map_err(|e| e.to_string())?;
    let dir = store_dir(args.dir.as_deref(), client.cache_path.as_deref())?;
    match &args.command {
        ReportCommand::Record(r) => {
            let o = outcome(r, &client)?;
            record(&dir, &o).map_err(|e| e.to_string())?;
            Ok(())
        }
        ReportCommand::Print { day } => {
            let opts = options(args, &client, dir)?;
            let d = day.unwrap_or(Day(Day::today().0.saturating_sub(1)));
            let reports = print_reports(&opts, d).map_err(|e| e.to_string())?;
            println!("[{}]", reports.join(",\n"));
            Ok(())
        }
        ReportCommand::Send { day, dry_run } => {
            let opts = options(args, &client, dir)?;
            let summary = send(&opts, *day, *dry_run).map_err(|e| e.to_string())?;
            for e in &summary.events {
                eprintln!("{e}");
            }
            Ok(())
        }
    }
}

/// The report options: flags, then `STS_REPORT_*`, then defaults.
fn options(
    args: &ReportArgs,
    client: &ClientOptions,
    dir: PathBuf,
) -> Result<ReportOptions, String> {
    let pick = |flag: &Option<String>, var: &str| flag.clone().or_else(|| env(var));
    let submitter = pick(&args.submitter, "STS_REPORT_SUBMITTER").unwrap_or("localhost".into());
    let mut opts = ReportOptions::new(dir, &submitter);
    opts.dns_server = client.dns_server;
    opts.ca_file = client.ca_file.clone();
    opts.apply_env().map_err(|e| e.to_string())?;
    if let Some(v) = pick(&args.org, "STS_REPORT_ORG") {
        opts.organization_name = v;
    }
    if let Some(v) = pick(&args.contact, "STS_REPORT_CONTACT") {
        opts.contact_info = v;
    }
    if let Some(v) = pick(&args.from, "STS_REPORT_FROM") {
        opts.mail_from = v;
    }
    if let Some(a) = args.relay {
        opts.smtp = crate::MailTransport::Smtp {
            security: crate::Security::Plain,
            host: a.ip().to_string(),
            port: a.port(),
            user: None,
        };
    }
    if let Some(v) = &args.smtp {
        // The value is not repeated: it may hold a password by mistake.
        opts.smtp = v.parse().map_err(|e| format!("--smtp: {e}"))?;
    }
    if let Some(f) = &args.smtp_password_file {
        opts.smtp_password_file = Some(f.clone());
    }
    Ok(opts)
}

/// The outcome to record. Policy details given on the command line are
/// taken as they are; otherwise they come from the client, as
/// `sts_client_report_record` does for C callers.
fn outcome(a: &RecordArgs, client: &ClientOptions) -> Result<Outcome, String> {
    let at = a.at.unwrap_or_else(now_unix);
    let explicit =
        a.policy_type.is_some() || !a.policy_string.is_empty() || !a.mx_pattern.is_empty();
    let mut o = if explicit {
        let policy_type = match a.policy_type.unwrap_or(PolicyTypeArg::Sts) {
            PolicyTypeArg::Sts => PolicyType::Sts,
            PolicyTypeArg::Tlsa => PolicyType::Tlsa,
            PolicyTypeArg::NoPolicyFound => PolicyType::NoPolicyFound,
        };
        let mut o = Outcome::new(policy_type, &a.domain, at);
        o.policy_strings = a.policy_string.clone();
        o.mx_hosts = a.mx_pattern.clone();
        o
    } else {
        looked_up(&a.domain, at, client)?
    };
    o.receiving_mx_hostname = a.mx.clone();
    o.report_delivery = a.report_delivery;
    if let Some(c) = a.count {
        o.count = c;
    }
    if a.result != "success" {
        let t = ResultType::from_name(a.result.as_bytes())
            .map_err(|_| format!("unknown result type {:?}", a.result))?;
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut f = Failure::new(t);
        f.sending_mta_ip = text(&a.sending_ip);
        f.receiving_ip = text(&a.receiving_ip);
        f.receiving_mx_helo = text(&a.helo);
        f.additional_information = text(&a.info);
        f.failure_reason_code = text(&a.reason);
        o.result = SessionResult::Failure(f);
    }
    Ok(o)
}

/// The policy part of an outcome from the client: the policy in force
/// (policy-type sts, its lines and MX patterns); no-policy-found for a
/// domain that has no policy (RFC 8460 §4.3); an error when DNS cannot
/// tell right now, rather than recording a guess.
fn looked_up(domain: &str, at: u64, client: &ClientOptions) -> Result<Outcome, String> {
    let c = Client::new(client.clone()).map_err(|e| e.to_string())?;
    let look = c.lookup(domain);
    crate::policy::outcome_for(&look, domain, at).map_err(|e| {
        format!(
            "cannot tell the policy of {domain}: {e} ({}); give --policy-type (and \
             --policy-string, --mx-pattern) to record without a lookup",
            look.error
                .as_ref()
                .map_or_else(String::new, ToString::to_string)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_store_is_beside_the_cache() {
        // STS_REPORT_DIR is not set by the test harness; a set one would
        // win, which the first assertion would show.
        if env("STS_REPORT_DIR").is_none() {
            assert_eq!(
                store_dir(None, Some(Path::new("/var/spool/exim4/mta-sts"))),
                Ok(PathBuf::from("/var/spool/exim4/tlsrpt"))
            );
            assert_eq!(
                store_dir(None, Some(Path::new("cache"))),
                Ok(PathBuf::from("./tlsrpt"))
            );
            assert!(store_dir(None, None).is_err());
        }
        assert_eq!(
            store_dir(Some(Path::new("/x")), Some(Path::new("/c/d"))),
            Ok(PathBuf::from("/x"))
        );
    }
}
