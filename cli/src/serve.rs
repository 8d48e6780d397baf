//! `sts serve`: the Postfix socketmap policy server (crate `sts-server`)
//! with the same settings as the rest of `sts`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sts_client::Client;
use sts_server::{DaneCheck, Level, ListenAddr, Server, ServerOptions};

use crate::Cli;

/// `sts serve` options.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Listen for Postfix here: inet:HOST:PORT or unix:PATH (repeat for several).
    #[arg(long = "socketmap", value_name = "ADDR", required = true, value_parser = parse_listen)]
    socketmap: Vec<ListenAddr>,
    /// Serve Prometheus metrics here: inet:HOST:PORT.
    #[arg(long, value_name = "ADDR", value_parser = parse_metrics)]
    metrics: Option<SocketAddr>,
    /// TLSRPT store for policy fetch errors [env: STS_REPORT_DIR].
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Do not look up TLSA records (only for a resolver that does not validate DNSSEC).
    #[arg(long)]
    no_dane: bool,
    /// Re-check a cached policy's TXT record (in the background) after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    recheck: u64,
    /// Reuse an answer (policy, MX and TLSA lookups) for this many seconds (0: never).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    answer_ttl: u64,
    /// Close connections idle for this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    idle_timeout: u64,
    /// Most connections open at once.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_connections: usize,
    /// Background refresh threads.
    #[arg(long, value_name = "N", default_value_t = 2)]
    refresh_workers: usize,
}

fn parse_listen(s: &str) -> Result<ListenAddr, String> {
    s.parse().map_err(|e| format!("{s:?}: {e}"))
}

fn parse_metrics(s: &str) -> Result<SocketAddr, String> {
    match parse_listen(s)? {
        ListenAddr::Inet(a) => Ok(a),
        ListenAddr::Unix(_) => Err(format!("{s:?}: metrics need inet:HOST:PORT")),
    }
}

/// Runs the server until SIGTERM or SIGINT; exit 0 after the requests in
/// flight are answered.
pub fn run(cli: &Cli, args: &ServeArgs) -> ExitCode {
    // The same settings as every other command (flags, --config, --redis,
    // STS_* variables); the server adds its own TXT re-check period.
    let Ok(mut opts) = crate::options(cli) else {
        return ExitCode::from(2);
    };
    opts.rules.txt_recheck = args.recheck;
    let client = match Client::new(opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sts serve: {e}");
            return ExitCode::from(2);
        }
    };
    let report_dir = args.report_dir.clone().or_else(|| {
        std::env::var_os("STS_REPORT_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let sopts = ServerOptions {
        listen: args.socketmap.clone(),
        metrics: args.metrics,
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        max_connections: args.max_connections.max(1),
        refresh_workers: args.refresh_workers.max(1),
        memo_ttl: Duration::from_secs(args.answer_ttl),
        dane: if args.no_dane {
            DaneCheck::Skip
        } else {
            DaneCheck::Lookup
        },
        report_dir,
        log: if cli.verbose {
            Level::Debug
        } else {
            Level::Info
        },
        ..ServerOptions::default()
    };
    let server = match Server::bind(client, sopts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sts serve: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = sts_server::stop_on_signals(&server.stop_flag()) {
        eprintln!("sts serve: cannot handle signals: {e}");
        return ExitCode::from(2);
    }
    server.run();
    ExitCode::SUCCESS
}
