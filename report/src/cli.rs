//! The command line of the report store, shared by `sts-report` and
//! `sts report`: record TLS delivery outcomes, print and send the daily TLS
//! reports (RFC 8460).
//!
//! ```text
//! sts-report [common options] record --domain D --mx H --result TYPE|success [--count N]
//!            [--policy-type sts|tlsa|no-policy-found] [--policy-string S]... [--mx-pattern P]...
//!            [--sending-ip IP] [--receiving-ip IP] [--helo NAME] [--info URI] [--reason TEXT]
//!            [--at UNIX] [--report-delivery]
//! sts-report [common options] print [--day YYYY-MM-DD]      (JSON array, default yesterday)
//! sts-report [common options] send [--day YYYY-MM-DD] [--dry-run]
//! common: --dir DIR (or STS_REPORT_DIR) --submitter DOMAIN --org NAME --contact ADDR
//!         --from ADDR --relay IP:PORT --dns IP[:PORT] --ca-file PEM
//! ```

use crate::{
    day::now_unix, print_reports, record, send, Day, Failure, Outcome, PolicyType, ReportOptions,
    ResultType, SessionResult,
};

/// The usage text.
pub const USAGE: &str = "usage: sts-report [--dir DIR] [--submitter DOMAIN] [--org NAME] [--contact ADDR] \
[--from ADDR] [--relay IP:PORT] [--dns IP[:PORT]] [--ca-file PEM] \
(record --domain D --mx H --result TYPE|success [--count N] [...] | print [--day YYYY-MM-DD] | send [--day YYYY-MM-DD] [--dry-run])";

struct Args {
    rest: Vec<(String, Option<String>)>,
}

impl Args {
    fn take(&mut self, name: &str) -> Option<String> {
        let i = self.rest.iter().position(|(n, _)| n == name)?;
        self.rest.remove(i).1
    }

    fn take_all(&mut self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(v) = self.take(name) {
            out.push(v);
        }
        out
    }

    fn flag(&mut self, name: &str) -> bool {
        match self.rest.iter().position(|(n, _)| n == name) {
            Some(i) => {
                self.rest.remove(i);
                true
            }
            None => false,
        }
    }
}

const FLAGS: [&str; 2] = ["--dry-run", "--report-delivery"];

fn parse(args: &[String]) -> Result<(Option<String>, Args), String> {
    let mut command = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-h" || a == "--help" {
            return Err(USAGE.into());
        }
        if let Some(name) = a.strip_prefix("--") {
            if let Some((n, v)) = name.split_once('=') {
                rest.push((format!("--{n}"), Some(v.to_owned())));
            } else if FLAGS.contains(&a.as_str()) {
                rest.push((a.clone(), None));
            } else {
                let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
                rest.push((a.clone(), Some(v.clone())));
            }
        } else if command.is_none() {
            command = Some(a.clone());
        } else {
            return Err(format!("unexpected argument {a:?}\n{USAGE}"));
        }
    }
    Ok((command, Args { rest }))
}

/// Runs one command line (without the program name): `record`, `print`
/// or `send` with their options; the error is the message to print.
pub fn run(args: &[String]) -> Result<(), String> {
    let (command, mut a) = parse(args)?;
    let dir = a
        .take("--dir")
        .or_else(|| std::env::var("STS_REPORT_DIR").ok())
        .ok_or("no store directory: give --dir or STS_REPORT_DIR")?;
    let submitter = a.take("--submitter").unwrap_or_else(|| "localhost".into());
    let mut opts = ReportOptions::new(&dir, &submitter);
    if let Some(v) = a.take("--org") {
        opts.organization_name = v;
    }
    if let Some(v) = a.take("--contact") {
        opts.contact_info = v;
    }
    if let Some(v) = a.take("--from") {
        opts.mail_from = v;
    }
    if let Some(v) = a.take("--relay") {
        opts.smtp_relay = v.parse().map_err(|_| format!("bad --relay {v:?}"))?;
    }
    if let Some(v) = a.take("--dns") {
        opts.dns_server =
            Some(sts_client::dns::parse_server(&v).ok_or_else(|| format!("bad --dns {v:?}"))?);
    }
    if let Some(v) = a.take("--ca-file") {
        opts.ca_file = Some(v.into());
    }
    opts.apply_env().map_err(|e| e.to_string())?;
    let day = |a: &mut Args| -> Result<Option<Day>, String> {
        a.take("--day")
            .map(|d| d.parse::<Day>().map_err(|e| e.to_string()))
            .transpose()
    };
    let result = match command.as_deref() {
        Some("record") => {
            let o = outcome(&mut a)?;
            finish(&a)?;
            record(&dir, &o).map_err(|e| e.to_string())?;
            Ok(())
        }
        Some("print") => {
            let d = day(&mut a)?.unwrap_or(Day(Day::today().0.saturating_sub(1)));
            finish(&a)?;
            let reports = print_reports(&opts, d).map_err(|e| e.to_string())?;
            println!("[{}]", reports.join(",\n"));
            Ok(())
        }
        Some("send") => {
            let d = day(&mut a)?;
            let dry = a.flag("--dry-run");
            finish(&a)?;
            let summary = send(&opts, d, dry).map_err(|e| e.to_string())?;
            for e in &summary.events {
                eprintln!("{e}");
            }
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    };
    result
}

fn finish(a: &Args) -> Result<(), String> {
    match a.rest.first() {
        Some((n, _)) => Err(format!("unknown option {n}\n{USAGE}")),
        None => Ok(()),
    }
}

fn outcome(a: &mut Args) -> Result<Outcome, String> {
    let domain = a.take("--domain").ok_or("record needs --domain")?;
    let mx = a.take("--mx").ok_or("record needs --mx")?;
    let result = a.take("--result").ok_or("record needs --result")?;
    let policy_type = match a.take("--policy-type").as_deref() {
        None | Some("sts") => PolicyType::Sts,
        Some("tlsa") => PolicyType::Tlsa,
        Some("no-policy-found") => PolicyType::NoPolicyFound,
        Some(p) => return Err(format!("bad --policy-type {p:?}")),
    };
    let at = match a.take("--at") {
        Some(v) => v.parse().map_err(|_| format!("bad --at {v:?}"))?,
        None => now_unix(),
    };
    let mut o = Outcome::new(policy_type, &domain, at);
    o.receiving_mx_hostname = mx;
    o.policy_strings = a.take_all("--policy-string");
    o.mx_hosts = a.take_all("--mx-pattern");
    o.report_delivery = a.flag("--report-delivery");
    if let Some(c) = a.take("--count") {
        o.count = c.parse().map_err(|_| format!("bad --count {c:?}"))?;
    }
    if result != "success" {
        let t = ResultType::from_name(result.as_bytes())
            .map_err(|_| format!("unknown result type {result:?}"))?;
        let mut f = Failure::new(t);
        f.sending_mta_ip = a.take("--sending-ip").unwrap_or_default();
        f.receiving_ip = a.take("--receiving-ip").unwrap_or_default();
        f.receiving_mx_helo = a.take("--helo").unwrap_or_default();
        f.additional_information = a.take("--info").unwrap_or_default();
        f.failure_reason_code = a.take("--reason").unwrap_or_default();
        o.result = SessionResult::Failure(f);
    }
    Ok(o)
}
