//! `sts`: the operator's view of libsts.
//!
//! ```text
//! sts lint FILE                       check a policy file (exit 0 valid, 1 invalid)
//! sts check DOMAIN [--mx HOST] [--json]
//! sts refresh                         refresh cached policies (for cron)
//! ```
//!
//! `--dns-server`, `--ca-file`, `--https-port`, `--cache` and `--connect`
//! override the `STS_*` environment variables; `-v` prints each step with
//! its duration to stderr.

mod config;
mod doctor;

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser, Subcommand};
use serde_json::{json, Value};
use sts_client::{Client, ClientOptions, DaneStatus, Decision, PolicyInfo, PolicyLookup};
use sts_core::policy;

mod man;
mod serve;

/// MTA-STS (RFC 8461) tool: lint policy files, check domains, refresh the cache.
#[derive(Parser, Debug)]
#[command(name = "sts", version)]
struct Cli {
    /// Print each step (DNS answer, HTTPS status, cache hit) with timings to stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Settings file of the Exim module (key = value); flags given here win.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// DNS server to ask, `ip` or `ip:port` [env: STS_DNS_SERVER].
    #[arg(long, global = true, value_name = "ADDR", value_parser = parse_server)]
    dns_server: Option<SocketAddr>,
    /// PEM file of trusted roots for policy hosts [env: STS_CA_FILE].
    #[arg(long, global = true, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// HTTPS port of policy hosts [env: STS_HTTPS_PORT].
    #[arg(long, global = true, value_name = "PORT")]
    https_port: Option<u16>,
    /// Policy cache directory [env: STS_CACHE].
    #[arg(long, global = true, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Connect to this address instead of resolving mta-sts.DOMAIN [env: STS_HTTPS_CONNECT].
    #[arg(long, global = true, value_name = "IP")]
    connect: Option<IpAddr>,
    /// Timeout in seconds for each DNS try and for the whole policy fetch.
    #[arg(long, global = true, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Redis shared by a fleet of MTAs, redis:// or rediss:// [env: STS_REDIS_URL].
    // A String, checked later: clap would repeat a refused value, and
    // with it the password, in its error message.
    #[arg(long, global = true, value_name = "URL")]
    redis: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a policy file against RFC 8461 §3.2 ("-" reads stdin).
    Lint {
        /// The policy file.
        file: PathBuf,
    },
    /// Look up the policy of a domain and, with --mx, judge an MX host.
    Check {
        /// The recipient domain.
        domain: String,
        /// The MX host to judge.
        #[arg(long, value_name = "HOST")]
        mx: Option<String>,
        /// Say that the MX host has usable DNSSEC-signed TLSA records (DANE applies).
        #[arg(long)]
        dane: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Refresh every cached policy that changed or expires soon.
    Refresh,
    /// Check a domain's whole MTA-STS deployment (TXT, policy, MX hosts over
    /// SMTP STARTTLS, DANE, TLSRPT) and say what to fix. Exit 0 nothing
    /// wrong, 1 an error (enforcing senders refuse or defer mail, or the
    /// published setup is unusable), 2 warnings only. No mail is sent.
    Doctor(doctor::DoctorArgs),
    /// Postfix socketmap policy server (smtp_tls_policy_maps); runs until SIGTERM.
    Serve(serve::ServeArgs),
    /// TLS reports (RFC 8460): record outcomes, print and send the daily reports
    /// (see `sts report --help`).
    Report(sts_report::cli::ReportArgs),
    /// Write the manual pages (sts.1, sts-SUBCOMMAND.1) into DIR; used by `make deb`.
    #[command(hide = true)]
    Man {
        /// Output directory.
        dir: PathBuf,
    },
}

fn parse_server(s: &str) -> Result<SocketAddr, String> {
    sts_client::dns::parse_server(s).ok_or_else(|| format!("{s:?} is not ip or ip:port"))
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if let Err(code) = config::apply(&mut cli) {
        return code;
    }
    match &cli.command {
        Command::Lint { file } => lint(file),
        Command::Check {
            domain,
            mx,
            dane,
            json,
        } => match client(&cli) {
            Ok(c) => check(&c, domain, mx.as_deref(), *dane, *json),
            Err(code) => code,
        },
        Command::Refresh => match client(&cli) {
            Ok(c) => refresh(&c),
            Err(code) => code,
        },
        Command::Report(args) => report(&cli, args),
        Command::Doctor(args) => doctor::run(&cli, args),
        Command::Serve(args) => serve::run(&cli, args),
        Command::Man { dir } => match man::write_pages(Cli::command(), dir) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sts man: {}: {e}", dir.display());
                ExitCode::from(2)
            }
        },
    }
}

/// `sts report ...`, with the global client settings (the policy of a
/// recorded outcome is looked up with them; DNS server and CA file apply
/// to sending too).
fn report(cli: &Cli, args: &sts_report::cli::ReportArgs) -> ExitCode {
    // The report store reads the fleet's Redis from the environment (its
    // recorder is opened deep inside); set before any thread exists.
    if let Some(u) = &cli.redis {
        std::env::set_var("STS_REDIS_URL", u);
    }
    let opts = match options(cli) {
        Ok(o) => o,
        Err(code) => return code,
    };
    match sts_report::cli::run(args, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sts report: {e}");
            ExitCode::from(2)
        }
    }
}

fn lint(file: &PathBuf) -> ExitCode {
    let text = if file.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::stdin().read_to_end(&mut v).map(|_| v)
    } else {
        std::fs::read(file)
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            eprintln!("sts: {}: {e}", file.display());
            return ExitCode::from(1);
        }
    };
    match policy::parse_detailed(&text) {
        Ok(p) => {
            println!(
                "{}: valid: mode {}, max_age {}, {} mx",
                file.display(),
                p.mode().as_str(),
                p.max_age(),
                p.mx_count()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            let (line, col) = e.line_column(&text);
            println!(
                "{}:{line}:{col}: {:?}: {}",
                file.display(),
                e.error,
                e.error.as_str()
            );
            ExitCode::from(1)
        }
    }
}

/// The client settings of the global options, the settings file and the
/// environment, as every command that looks policies up uses them.
pub(crate) fn options(cli: &Cli) -> Result<ClientOptions, ExitCode> {
    let mut opts = ClientOptions {
        dns_server: cli.dns_server,
        ca_file: cli.ca_file.clone(),
        https_port: cli.https_port,
        cache_path: cli.cache.clone(),
        https_connect_override: cli.connect,
        ..ClientOptions::default()
    };
    config::client_options(&mut opts);
    if let Some(u) = &cli.redis {
        match sts_client::shared::RedisUrl::parse(u) {
            Ok(u) => opts.redis_url = Some(u),
            Err(e) => {
                eprintln!("sts: --redis: {e}");
                return Err(ExitCode::from(2));
            }
        }
    }
    if let Some(t) = cli.timeout {
        let Ok(t) = Duration::try_from_secs_f64(t) else {
            eprintln!("sts: --timeout {t} is not a number of seconds");
            return Err(ExitCode::from(2));
        };
        opts.dns_timeout = t;
        opts.https_connect_timeout = t;
        opts.https_total_timeout = t;
    }
    Ok(opts)
}

fn client(cli: &Cli) -> Result<Client, ExitCode> {
    let mut c = Client::new(options(cli)?).map_err(|e| {
        eprintln!("sts: {e}");
        ExitCode::from(2)
    })?;
    if cli.verbose {
        let t0 = Instant::now();
        c.set_trace(Arc::new(move |line: &str| {
            eprintln!("[{:9.3} ms] {line}", t0.elapsed().as_secs_f64() * 1000.0);
        }));
    }
    Ok(c)
}

fn policy_json(p: &PolicyInfo) -> Value {
    json!({
        "mode": p.mode.as_str(),
        "max_age": p.max_age,
        "mx": p.mx,
        "fetched_at": p.fetched_at,
        "expires_at": p.expires_at,
        "fetched": utc(p.fetched_at),
        "expires": utc(p.expires_at),
    })
}

/// A Unix time as an RFC 3339 UTC date and time, e.g.
/// `2026-12-07T05:00:00Z` (operators read dates, not seconds).
fn utc(secs: u64) -> String {
    let days = u32::try_from(secs / 86_400).ok();
    match days.and_then(sts_core::tlsrpt::report::civil_from_days) {
        Some((y, m, d)) => {
            let t = secs % 86_400;
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                t / 3600,
                t / 60 % 60,
                t % 60
            )
        }
        None => format!("{secs} (Unix time)"),
    }
}

fn check(c: &Client, domain: &str, mx: Option<&str>, dane: bool, as_json: bool) -> ExitCode {
    let dane = if dane {
        DaneStatus::Usable
    } else {
        DaneStatus::NotUsable
    };
    let (look, decision): (PolicyLookup, Option<Decision>) = match mx {
        Some(mx) => {
            let d = c.decide(domain, mx, dane);
            let look = PolicyLookup {
                domain: d.domain.clone(),
                policy: d.policy.clone(),
                source: d.source,
                error: d.error.clone(),
                fetch_failure: None,
            };
            (look, Some(d))
        }
        None => (c.lookup(domain), None),
    };
    let refuse = decision.as_ref().is_some_and(Decision::refuse);
    if as_json {
        let v = json!({
            "domain": look.domain,
            "txt_id": look.policy.as_ref().map(|p| p.txt_id.clone()),
            "policy": look.policy.as_ref().map(policy_json),
            "mode": decision.as_ref().map_or_else(
                || look.policy.as_ref().map_or("no-policy", |p| p.mode.as_str()),
                |d| d.mode.as_str()),
            "mx_host": decision.as_ref().map(|d| d.mx_host.clone()),
            "mx_permitted": decision.as_ref().map(|d| d.mx_permitted),
            "refuse": refuse,
            "tlsrpt_failure": decision.as_ref().and_then(|d| d.failure).or(look.fetch_failure).map(|f| f.as_str()),
            "source": look.source.as_str(),
            "error": look.error.as_ref().map(|e| e.to_string()),
            "error_temporary": look.error.as_ref().map(|e| e.is_temporary()),
        });
        println!("{v:#}");
    } else {
        println!("domain:     {}", look.domain);
        match &look.policy {
            Some(p) => {
                println!(
                    "policy:     mode {}, max_age {}, id {} (from {})",
                    p.mode.as_str(),
                    p.max_age,
                    p.txt_id,
                    look.source.as_str()
                );
                println!("mx:         {}", p.mx.join(", "));
                println!("fetched:    {}", utc(p.fetched_at));
                println!("expires:    {}", utc(p.expires_at));
            }
            None => println!("policy:     none"),
        }
        if let Some(d) = &decision {
            println!(
                "mx host:    {} ({}){}",
                d.mx_host,
                if d.mx_permitted {
                    "permitted"
                } else {
                    "NOT permitted"
                },
                if refuse {
                    ": enforce: do not deliver"
                } else {
                    ""
                }
            );
            if let Some(f) = d.failure {
                println!("tlsrpt:     {}", f.as_str());
            }
        }
        if let Some(e) = &look.error {
            println!("error:      {e}");
        }
    }
    if refuse {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn refresh(c: &Client) -> ExitCode {
    if c.options().cache_path.is_none() {
        eprintln!("sts: refresh needs a cache directory (--cache or STS_CACHE)");
        return ExitCode::from(2);
    }
    let r = c.refresh_all();
    println!(
        "checked {}, refreshed {}, failed {}, removed {}",
        r.checked, r.refreshed, r.failed, r.removed
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_printed_as_utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc(1_796_620_811), "2026-12-07T05:20:11Z");
        assert_eq!(super::utc(951_868_799), "2000-02-29T23:59:59Z");
        assert_eq!(super::utc(u64::MAX), format!("{} (Unix time)", u64::MAX));
    }
}
