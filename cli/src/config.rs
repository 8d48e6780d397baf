//! `sts --config FILE`: the settings file of the Exim module
//! (integrations/exim/sts-exim.conf.example), so that cron jobs and an
//! administrator's checks see the cache, resolver, roots and store that
//! Exim uses without repeating them.
//!
//! The file is `key = value` lines; blank lines and lines starting with
//! `#` are skipped; an empty value leaves the key unset. The keys and
//! their limits are the module's, and like the module, an unknown key or a
//! bad value is an error, never ignored. Options given on the command line
//! win over the file, and the file wins over the `STS_*` variables.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use sts_client::shared::RedisUrl;
use sts_client::ClientOptions;

use crate::{Cli, Command};

/// Whether each TLSRPT outcome is flushed to disk (`report_sync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportSync {
    /// fsync each outcome (the default).
    Sync,
    /// Leave it to the kernel.
    NoSync,
}

/// The settings of one file; `None` for keys it does not set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `cache_dir`: the on-disk policy cache.
    pub cache_dir: Option<PathBuf>,
    /// `report_dir`: the TLSRPT outcome store.
    pub report_dir: Option<PathBuf>,
    /// `dns_server`: `ip` or `ip:port`.
    pub dns_server: Option<SocketAddr>,
    /// `ca_file`: PEM roots for the policy hosts.
    pub ca_file: Option<PathBuf>,
    /// `https_port`: the policy hosts' port.
    pub https_port: Option<u16>,
    /// `https_connect`: the address to connect to instead of resolving.
    pub https_connect: Option<IpAddr>,
    /// `dns_timeout_ms`.
    pub dns_timeout: Option<Duration>,
    /// `https_timeout_ms`.
    pub https_timeout: Option<Duration>,
    /// `txt_recheck_s`: seconds a TXT answer is trusted (0: always ask).
    pub txt_recheck_s: Option<u64>,
    /// `report_sync`; `sts report record` always syncs, so only the
    /// module acts on `no`.
    pub report_sync: Option<ReportSync>,
    /// `redis_url`: the fleet's Redis (its `Debug` hides the password).
    pub redis_url: Option<RedisUrl>,
}

/// What is wrong with a line of the file.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The file cannot be read.
    Unreadable,
    /// The line is not `key = value`.
    NotKeyValue,
    /// The key is not one the module knows.
    UnknownKey,
    /// Not a whole number within the key's limit.
    BadNumber,
    /// Not an IP address (or `ip:port` for `dns_server`).
    BadAddress,
    /// `report_sync` is neither `yes` nor `no`.
    BadYesNo,
    /// `redis_url` is not a `redis://` or `rediss://` URL.
    BadRedisUrl,
}

impl ConfigError {
    /// A short description.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigError::Unreadable => "cannot be read",
            ConfigError::NotKeyValue => "expected key = value",
            ConfigError::UnknownKey => "unknown key",
            ConfigError::BadNumber => "not a whole number within the limit of the key",
            ConfigError::BadAddress => "not an IP address (dns_server: ip or ip:port)",
            ConfigError::BadYesNo => "expected yes or no",
            ConfigError::BadRedisUrl => "not a redis:// or rediss:// URL",
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The module's limits (sts_exim.c).
const MAX_TIMEOUT_MS: u64 = 600_000;
const MAX_TXT_RECHECK_S: u64 = 86_400;

/// Reads a settings file; on error the line number (1-based; 0 for the
/// whole file) and what is wrong.
pub fn parse(text: &str) -> Result<Settings, (usize, ConfigError)> {
    let mut s = Settings {
        cache_dir: None,
        report_dir: None,
        dns_server: None,
        ca_file: None,
        https_port: None,
        https_connect: None,
        dns_timeout: None,
        https_timeout: None,
        txt_recheck_s: None,
        report_sync: None,
        redis_url: None,
    };
    for (i, raw) in text.lines().enumerate() {
        let at = |e| (i + 1, e);
        let line = raw.trim_matches([' ', '\t', '\r']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once('=').ok_or(at(ConfigError::NotKeyValue))?;
        let (k, v) = (k.trim_matches([' ', '\t']), v.trim_matches([' ', '\t']));
        let path = || (!v.is_empty()).then(|| PathBuf::from(v));
        let number = |max: u64| -> Result<u64, (usize, ConfigError)> {
            // Digits only: no sign, no spaces, as the module's parser.
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(at(ConfigError::BadNumber));
            }
            v.parse::<u64>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or(at(ConfigError::BadNumber))
        };
        match k {
            "cache_dir" => s.cache_dir = path(),
            "report_dir" => s.report_dir = path(),
            "ca_file" => s.ca_file = path(),
            "dns_server" if v.is_empty() => s.dns_server = None,
            "dns_server" => {
                s.dns_server =
                    Some(sts_client::dns::parse_server(v).ok_or(at(ConfigError::BadAddress))?);
            }
            "https_connect" if v.is_empty() => s.https_connect = None,
            "https_connect" => {
                s.https_connect = Some(v.parse().map_err(|_| at(ConfigError::BadAddress))?);
            }
            // 0 is the module's "default port".
            "https_port" => {
                s.https_port = u16::try_from(number(65_535)?).ok().filter(|p| *p != 0);
            }
            "dns_timeout_ms" => {
                s.dns_timeout = Some(number(MAX_TIMEOUT_MS)?)
                    .filter(|n| *n != 0)
                    .map(Duration::from_millis);
            }
            "https_timeout_ms" => {
                s.https_timeout = Some(number(MAX_TIMEOUT_MS)?)
                    .filter(|n| *n != 0)
                    .map(Duration::from_millis);
            }
            "txt_recheck_s" => s.txt_recheck_s = Some(number(MAX_TXT_RECHECK_S)?),
            "report_sync" => {
                s.report_sync = Some(match v {
                    "yes" => ReportSync::Sync,
                    "no" => ReportSync::NoSync,
                    _ => return Err(at(ConfigError::BadYesNo)),
                });
            }
            "redis_url" if v.is_empty() => s.redis_url = None,
            // The value is not repeated in the error: it may hold the
            // password.
            "redis_url" => {
                s.redis_url = Some(RedisUrl::parse(v).map_err(|_| at(ConfigError::BadRedisUrl))?);
            }
            _ => return Err(at(ConfigError::UnknownKey)),
        }
    }
    Ok(s)
}

/// Reads the settings file at `path`; the error names the file and line.
pub fn load(path: &Path) -> Result<Settings, String> {
    let text = std::fs::read(path)
        .map_err(|e| format!("{}: {}: {e}", path.display(), ConfigError::Unreadable))?;
    let text =
        std::str::from_utf8(&text).map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
    parse(text).map_err(|(line, e)| format!("{} line {line}: {e}", path.display()))
}

static LOADED: OnceLock<Settings> = OnceLock::new();

/// Reads `--config FILE` if given and fills the global options the command
/// line left unset; `sts report` gets `--dir` from `report_dir`.
pub fn apply(cli: &mut Cli) -> Result<(), ExitCode> {
    let Some(path) = cli.config.clone() else {
        return Ok(());
    };
    let s = load(&path).map_err(|e| {
        eprintln!("sts: --config {e}");
        ExitCode::from(2)
    })?;
    cli.dns_server = cli.dns_server.or(s.dns_server);
    cli.ca_file = cli.ca_file.take().or_else(|| s.ca_file.clone());
    cli.https_port = cli.https_port.or(s.https_port);
    cli.cache = cli.cache.take().or_else(|| s.cache_dir.clone());
    cli.connect = cli.connect.or(s.https_connect);
    cli.redis = cli
        .redis
        .take()
        .or_else(|| s.redis_url.as_ref().map(|u| u.secret().to_owned()));
    // The file's report directory counts as `--dir` when none was given.
    if let (Command::Report(args), Some(dir)) = (&mut cli.command, &s.report_dir) {
        if args.dir.is_none() {
            args.dir = Some(dir.clone());
        }
    }
    let _ = LOADED.set(s);
    Ok(())
}

/// The client settings of the file that the command line has no flag
/// for: separate DNS and HTTPS time limits, and the TXT re-check period.
/// `--timeout` is applied after this and wins.
pub fn client_options(opts: &mut ClientOptions) {
    let Some(s) = LOADED.get() else {
        return;
    };
    if let Some(t) = s.dns_timeout {
        opts.dns_timeout = t;
    }
    if let Some(t) = s.https_timeout {
        opts.https_connect_timeout = t.min(opts.https_connect_timeout);
        opts.https_total_timeout = t;
    }
    if let Some(r) = s.txt_recheck_s {
        opts.rules.txt_recheck = r;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every key the module knows, in the order of the example file.
    const KEYS: [&str; 11] = [
        "cache_dir",
        "report_dir",
        "dns_server",
        "ca_file",
        "https_port",
        "https_connect",
        "dns_timeout_ms",
        "https_timeout_ms",
        "txt_recheck_s",
        "report_sync",
        "redis_url",
    ];

    #[test]
    fn the_example_file_sets_every_key_it_shows() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../integrations/exim/sts-exim.conf.example"
        ))
        .unwrap();
        // Every key appears in the example file (set or commented out).
        for k in KEYS {
            assert!(
                text.lines().any(|l| l
                    .trim_start_matches('#')
                    .trim_start()
                    .starts_with(&format!("{k} ="))),
                "{k} is not in the example file"
            );
        }
        // With every commented key switched on, the file still parses.
        let on: String = text
            .lines()
            .map(|l| {
                let t = l.trim_start_matches('#');
                if KEYS.iter().any(|k| t.starts_with(&format!("{k} ="))) {
                    t
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(parse(&on).map(|s| s.txt_recheck_s.is_some()), Ok(true));
    }

    #[test]
    fn values_and_errors() {
        let s = parse(
            "# c\n\ncache_dir = /c\ndns_server=127.0.0.1:5353\nhttps_port = 8443\n\
             https_connect = ::1\ndns_timeout_ms = 1500\nhttps_timeout_ms = 0\n\
             txt_recheck_s = 0\nreport_sync = no\nca_file =\n\
             redis_url = redis://:pw@127.0.0.1:6379/2\n",
        )
        .unwrap();
        assert_eq!(s.cache_dir, Some(PathBuf::from("/c")));
        assert_eq!(s.dns_server, "127.0.0.1:5353".parse().ok());
        assert_eq!(s.https_port, Some(8443));
        assert_eq!(s.https_connect, "::1".parse().ok());
        assert_eq!(s.dns_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(s.https_timeout, None);
        assert_eq!(s.txt_recheck_s, Some(0));
        assert_eq!(s.report_sync, Some(ReportSync::NoSync));
        assert_eq!(s.ca_file, None);
        assert_eq!(
            s.redis_url.as_ref().map(RedisUrl::secret),
            Some("redis://:pw@127.0.0.1:6379/2")
        );
        assert!(!format!("{s:?}").contains("pw@"));
        for (text, want) in [
            ("cache_dir", (1, ConfigError::NotKeyValue)),
            ("\nfoo = 1", (2, ConfigError::UnknownKey)),
            ("https_port = 65536", (1, ConfigError::BadNumber)),
            ("https_port = -1", (1, ConfigError::BadNumber)),
            ("https_port = 1 2", (1, ConfigError::BadNumber)),
            ("txt_recheck_s = 86401", (1, ConfigError::BadNumber)),
            ("dns_timeout_ms = 600001", (1, ConfigError::BadNumber)),
            ("dns_server = mx.example", (1, ConfigError::BadAddress)),
            ("https_connect = 1.2.3", (1, ConfigError::BadAddress)),
            ("report_sync = maybe", (1, ConfigError::BadYesNo)),
            ("redis_url = http://:pw@h", (1, ConfigError::BadRedisUrl)),
        ] {
            assert_eq!(parse(text), Err(want), "{text}");
        }
    }
}
