//! RFC 8460 §5: submitting reports by mail (§5.3) and HTTPS (§5.4) to
//! loopback receivers, with retries across runs.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::TcpListener;
use std::time::Duration;

use base64::Engine as _;
use common::{
    day_files, fake_sendmail, gunzip, python, relay, spooled, AddrDns, AuthSmtp, AuthSmtpConfig,
    DnsAnswer, DnsServer, HttpsCollector, MapResolver, SmtpSink, TempDir, TestCa, Validity,
};
use serde_json::Value;
use sts_client::dns::DnsError;
use sts_report::mail::{build_message, MailReport};
use sts_report::send::gzip;
use sts_report::{
    record, send, send_with_resolver, Day, EventKind, Failure, MailTransport, Outcome, Password,
    PolicyType, Recorded, ReportOptions, ResultType, Security, SessionResult,
};

const SUBMITTER: &str = "mta.sender.example";

fn day() -> Day {
    "2026-11-04".parse().unwrap()
}

/// Some time on the day after `day()`.
fn next_day() -> u64 {
    day().end() + 1 + 600
}

fn opts(dir: &std::path::Path) -> ReportOptions {
    let mut o = ReportOptions::new(dir, SUBMITTER);
    o.timeout = Duration::from_secs(5);
    o.now = Some(next_day());
    o.max_attempts = 3;
    o.retry_base = Duration::from_secs(60);
    o
}

fn record_some(dir: &std::path::Path, domain: &str) {
    let at = day().start() + 3600;
    let mut o = Outcome::new(PolicyType::Sts, domain, at);
    o.policy_strings = vec!["version: STSv1".into(), "mode: enforce".into()];
    o.mx_hosts = vec![format!("mx.{domain}")];
    o.receiving_mx_hostname = format!("mx.{domain}");
    o.count = 9;
    record(dir, &o).unwrap();
    let mut f = Failure::new(ResultType::CertificateHostMismatch);
    f.receiving_ip = "192.0.2.25".into();
    o.result = SessionResult::Failure(f);
    o.count = 1;
    record(dir, &o).unwrap();
}

fn header<'a>(parsed: &'a Value, name: &str) -> Vec<&'a str> {
    parsed["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|h| h[1].as_str().unwrap())
        .collect()
}

/// Parses a message with Python's email package and checks it against
/// RFC 8460 §5.3; returns the decoded JSON report.
fn check_mail(dir: &std::path::Path, message: &[u8], domain: &str, to: &str) -> Value {
    let path = dir.join("message.eml");
    std::fs::write(&path, message).unwrap();
    let parsed: Value = serde_json::from_str(&python("parse_mail.py", &[&path])).unwrap();
    assert_eq!(parsed["defects"], serde_json::json!([]), "{parsed}");
    for h in [
        "From",
        "To",
        "Date",
        "Subject",
        "Message-ID",
        "TLS-Report-Domain",
        "TLS-Report-Submitter",
        "TLS-Required",
        "MIME-Version",
        "Content-Type",
    ] {
        assert_eq!(header(&parsed, h).len(), 1, "exactly one {h}");
    }
    assert_eq!(header(&parsed, "To")[0], to);
    assert_eq!(
        header(&parsed, "From")[0],
        format!("tlsrpt-noreply@{SUBMITTER}")
    );
    assert_eq!(header(&parsed, "TLS-Report-Domain")[0], domain);
    assert_eq!(header(&parsed, "TLS-Report-Submitter")[0], SUBMITTER);
    assert_eq!(header(&parsed, "TLS-Required")[0], "No");
    assert_eq!(header(&parsed, "MIME-Version")[0], "1.0");
    assert_eq!(parsed["content_type"], "multipart/report");
    assert_eq!(parsed["params"]["report-type"], "tlsrpt");
    let parts = parsed["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["content_type"], "text/plain");
    let text = base64::engine::general_purpose::STANDARD
        .decode(parts[0]["payload_b64"].as_str().unwrap())
        .unwrap();
    assert!(String::from_utf8(text).unwrap().contains(SUBMITTER));
    let att = &parts[1];
    assert_eq!(att["content_type"], "application/tlsrpt+gzip");
    assert_eq!(att["transfer_encoding"], "base64");
    assert_eq!(att["disposition"], "attachment");
    assert_eq!(att["defects"], serde_json::json!([]));
    let gz = base64::engine::general_purpose::STANDARD
        .decode(att["payload_b64"].as_str().unwrap())
        .unwrap();
    let report: Value = serde_json::from_slice(&gunzip(&gz)).unwrap();
    let report_id = report["report-id"].as_str().unwrap();
    assert_eq!(
        header(&parsed, "Subject")[0],
        format!("Report Domain: {domain} Submitter: {SUBMITTER} Report-ID: <{report_id}>")
    );
    // submitter!policy-domain!begin-timestamp!end-timestamp!unique-id.json.gz
    let filename = att["filename"].as_str().unwrap();
    let fields: Vec<&str> = filename
        .strip_suffix(".json.gz")
        .unwrap()
        .split('!')
        .collect();
    assert_eq!(fields.len(), 5, "{filename}");
    assert_eq!(fields[0], SUBMITTER);
    assert_eq!(fields[1], domain);
    assert_eq!(fields[2], day().start().to_string());
    assert_eq!(fields[3], day().end().to_string());
    assert!(!fields[4].is_empty() && fields[4].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(report_id.starts_with(fields[4]));
    report
}

#[test]
fn rfc8460_5_3_mailto_headers() {
    let dir = TempDir::new("headers");
    // A report whose JSON has lines starting with dots would need
    // stuffing; the gzip round trip must give back exactly this text.
    let json = r#"{"organization-name":"x","report-id":"ab12@mta.sender.example"}"#;
    let gz = gzip(json.as_bytes()).unwrap();
    let message = build_message(&MailReport {
        from: &format!("tlsrpt-noreply@{SUBMITTER}"),
        to: "tlsrpt@example.net",
        submitter: SUBMITTER,
        policy_domain: "example.net",
        report_id: "ab12@mta.sender.example",
        unique_id: "ab12",
        day: day(),
        date: next_day(),
        gzip: &gz,
    })
    .unwrap();
    let report = check_mail(dir.path(), &message, "example.net", "tlsrpt@example.net");
    assert_eq!(report.to_string(), json);
    // Header injection is refused, not written.
    assert!(build_message(&MailReport {
        from: "a@b",
        to: "x@y\r\nBcc: z@w",
        submitter: SUBMITTER,
        policy_domain: "example.net",
        report_id: "1@x",
        unique_id: "1",
        day: day(),
        date: 0,
        gzip: &gz,
    })
    .is_none());
}

#[test]
fn rfc8460_5_3_mailto_through_smtp_relay() {
    let dir = TempDir::new("smtp");
    let sink = SmtpSink::start();
    record_some(dir.path(), "example.net");
    let resolver = MapResolver::with(
        "_smtp._tls.example.net",
        &["v=TLSRPTv1; rua=mailto:tls%2Breports@example.net"],
    );
    let mut o = opts(dir.path());
    o.smtp = relay(sink.addr);
    let summary = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert_eq!(
        summary.delivered(),
        vec!["mailto:tls%2Breports@example.net"]
    );
    assert_eq!(summary.count(&EventKind::Completed), 1, "{summary:?}");
    assert_eq!(sink.count(), 1);
    let mail = sink.mails.lock().unwrap()[0].clone();
    assert_eq!(mail.from, format!("tlsrpt-noreply@{SUBMITTER}"));
    assert_eq!(mail.to, vec!["tls+reports@example.net".to_owned()]);
    let report = check_mail(
        dir.path(),
        &mail.data,
        "example.net",
        "tls+reports@example.net",
    );
    assert_eq!(
        report["policies"][0]["summary"]["total-successful-session-count"],
        9
    );
    assert_eq!(
        report["policies"][0]["summary"]["total-failure-session-count"],
        1
    );
    // Sent and accepted everywhere: the day's data is gone.
    assert_eq!(day_files(dir.path()), 0);
    assert_eq!(spooled(dir.path()), 0);
    // A second run sends nothing.
    let again = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert!(again.events.is_empty(), "{again:?}");
    assert_eq!(sink.count(), 1);
}

#[test]
fn rfc8460_5_3_report_deliveries_not_recorded() {
    let dir = TempDir::new("loop");
    let mut o = Outcome::new(PolicyType::Sts, "example.net", day().start());
    o.report_delivery = true;
    assert_eq!(
        record(dir.path(), &o).unwrap(),
        Recorded::SkippedReportDelivery
    );
    assert!(sts_report::print_reports(&opts(dir.path()), day())
        .unwrap()
        .is_empty());
    // Our own report messages are recognisable by their headers.
    let message = build_message(&MailReport {
        from: "a@mta.sender.example",
        to: "r@example.net",
        submitter: SUBMITTER,
        policy_domain: "example.net",
        report_id: "1@mta.sender.example",
        unique_id: "1",
        day: day(),
        date: 0,
        gzip: b"",
    })
    .unwrap();
    assert!(sts_report::is_report_message(&message));
    assert!(String::from_utf8(message)
        .unwrap()
        .contains("\r\nTLS-Required: No\r\n"));
}

#[test]
fn rfc8460_3_no_record_discards_the_day() {
    let dir = TempDir::new("norecord");
    record_some(dir.path(), "example.net");
    record_some(dir.path(), "two.example");
    record_some(dir.path(), "bad.example");
    let resolver = MapResolver::default();
    // Two TLSRPT records: not exactly one, so no record (§3).
    resolver.set(
        "_smtp._tls.two.example",
        &[
            "v=TLSRPTv1; rua=mailto:a@two.example",
            "v=TLSRPTv1; rua=mailto:b@two.example",
        ],
    );
    resolver.set("_smtp._tls.bad.example", &["v=TLSRPTv1; rua=ftp://x"]);
    // Dry run: nothing changes.
    let dry = send_with_resolver(&opts(dir.path()), &resolver, None, true).unwrap();
    assert_eq!(dry.count(&EventKind::NoRecord), 3, "{dry:?}");
    assert_eq!(day_files(dir.path()), 1);
    let summary = send_with_resolver(&opts(dir.path()), &resolver, None, false).unwrap();
    assert_eq!(summary.count(&EventKind::NoRecord), 3, "{summary:?}");
    assert_eq!(day_files(dir.path()), 0);
    assert_eq!(spooled(dir.path()), 0);
    // Today's data is never sent.
    let mut today = Outcome::new(PolicyType::Sts, "example.net", next_day());
    today.count = 2;
    record(dir.path(), &today).unwrap();
    let s = send_with_resolver(&opts(dir.path()), &resolver, None, false).unwrap();
    assert!(s.events.is_empty());
    assert_eq!(day_files(dir.path()), 1);
    assert!(send_with_resolver(
        &opts(dir.path()),
        &resolver,
        Some(Day::from_unix(next_day())),
        false
    )
    .is_err());
}

#[test]
fn rfc8460_5_4_https_post() {
    let dir = TempDir::new("https");
    let ca = TestCa::new(dir.path());
    let collector = HttpsCollector::start(ca.leaf(&["127.0.0.1", "localhost"], Validity::Current));
    record_some(dir.path(), "example.org");
    // The record comes from a DNS server on loopback, through the
    // sts-client resolver.
    let dns = DnsServer::start();
    dns.set(
        "_smtp._tls.example.org",
        DnsAnswer::Txt(vec![vec![format!("v=TLSRPTv1;rua={}", collector.url())]]),
    );
    let mut o = opts(dir.path());
    o.dns_server = Some(dns.addr);
    o.ca_file = Some(ca.pem_path.clone());
    let summary = send(&o, Some(day()), false).unwrap();
    assert_eq!(
        summary.delivered(),
        vec![collector.url().as_str()],
        "{summary:?}"
    );
    let post = collector.posts.lock().unwrap()[0].clone();
    assert_eq!(post.method, "POST");
    assert_eq!(post.path, "/tlsrpt/v1");
    assert_eq!(post.content_type, "application/tlsrpt+gzip");
    let report: Value = serde_json::from_slice(&gunzip(&post.body)).unwrap();
    assert_eq!(
        report["policies"][0]["policy"]["policy-domain"],
        "example.org"
    );
    assert!(report["report-id"]
        .as_str()
        .unwrap()
        .ends_with(&format!("@{SUBMITTER}")));
    assert_eq!(spooled(dir.path()), 0);
}

#[test]
fn rfc8460_5_4_certificate_verified() {
    let dir = TempDir::new("untrusted");
    let ca = TestCa::new(dir.path());
    let other = TempDir::new("other-ca");
    let other_ca = TestCa::new(other.path());
    let collector = HttpsCollector::start(other_ca.leaf(&["127.0.0.1"], Validity::Current));
    record_some(dir.path(), "example.org");
    let resolver = MapResolver::with(
        "_smtp._tls.example.org",
        &[&format!("v=TLSRPTv1; rua={}", collector.url())],
    );
    let mut o = opts(dir.path());
    o.ca_file = Some(ca.pem_path.clone());
    let summary = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert_eq!(summary.count(&EventKind::DeliveryFailed), 1, "{summary:?}");
    assert_eq!(collector.count(), 0);
    assert_eq!(spooled(dir.path()), 1);
}

#[test]
fn rfc8460_5_retry_without_duplicates() {
    let dir = TempDir::new("retry");
    let ca = TestCa::new(dir.path());
    let collector = HttpsCollector::start(ca.leaf(&["127.0.0.1"], Validity::Current));
    // The collector fails twice (503, then 500), then accepts.
    collector.statuses.lock().unwrap().extend([503, 500]);
    let sink = SmtpSink::start();
    record_some(dir.path(), "example.com");
    let resolver = MapResolver::with(
        "_smtp._tls.example.com",
        &[&format!(
            "v=TLSRPTv1; rua=mailto:tlsrpt@example.com,{}",
            collector.url()
        )],
    );
    let mut o = opts(dir.path());
    o.smtp = relay(sink.addr);
    o.ca_file = Some(ca.pem_path.clone());
    o.max_attempts = 5;

    // Run 1: mail accepted, HTTPS refused; kept for a retry in 60 s.
    let s1 = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert_eq!(s1.delivered(), vec!["mailto:tlsrpt@example.com"]);
    assert_eq!(s1.count(&EventKind::DeliveryFailed), 1);
    assert!(s1
        .events
        .iter()
        .any(|e| e.kind == EventKind::RetryScheduled(next_day() + 60)));
    assert_eq!(
        (sink.count(), collector.count(), spooled(dir.path())),
        (1, 0, 1)
    );

    // Too early: nothing is tried.
    o.now = Some(next_day() + 59);
    let s = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert!(s.events.is_empty() && s.pending == 1, "{s:?}");

    // Run 2: refused again; the next delay doubles.
    o.now = Some(next_day() + 60);
    let s2 = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert!(s2.delivered().is_empty());
    assert!(s2
        .events
        .iter()
        .any(|e| e.kind == EventKind::RetryScheduled(next_day() + 60 + 120)));

    // Run 3: accepted. The mail destination is not sent to again.
    o.now = Some(next_day() + 180);
    let s3 = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert_eq!(s3.delivered(), vec![collector.url().as_str()]);
    assert_eq!(s3.count(&EventKind::Completed), 1);
    assert_eq!(
        (sink.count(), collector.count(), spooled(dir.path())),
        (1, 1, 0)
    );
    // The same report (same report-id) went to both.
    let post: Value =
        serde_json::from_slice(&gunzip(&collector.posts.lock().unwrap()[0].body)).unwrap();
    let mail = String::from_utf8(sink.mails.lock().unwrap()[0].data.clone()).unwrap();
    assert!(mail.contains(post["report-id"].as_str().unwrap()));
    // The record was looked up once, on the first run.
    assert_eq!(
        resolver.lookups.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[test]
fn rfc8460_5_receiver_down_for_good() {
    let dir = TempDir::new("down");
    // A port with nothing listening.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    record_some(dir.path(), "example.com");
    let resolver = MapResolver::with(
        "_smtp._tls.example.com",
        &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
    );
    let mut o = opts(dir.path());
    o.smtp = relay(format!("127.0.0.1:{port}").parse().unwrap());
    o.max_attempts = 3;
    let mut now = next_day();
    for run in 1..=2 {
        o.now = Some(now);
        let s = send_with_resolver(&o, &resolver, None, false).unwrap();
        assert_eq!(s.count(&EventKind::DeliveryFailed), 1, "run {run}: {s:?}");
        assert_eq!(s.pending, 1);
        // The data is kept while retries remain.
        assert_eq!(spooled(dir.path()), 1);
        now += 3600;
    }
    o.now = Some(now);
    let s = send_with_resolver(&o, &resolver, None, false).unwrap();
    let gave_up: Vec<_> = s
        .events
        .iter()
        .filter(|e| e.kind == EventKind::GaveUp)
        .collect();
    assert_eq!(gave_up.len(), 1, "{s:?}");
    assert_eq!(
        gave_up[0].destination.as_deref(),
        Some("mailto:tlsrpt@example.com")
    );
    assert!(gave_up[0].to_string().contains("retries exhausted"));
    assert_eq!(spooled(dir.path()), 0);
    assert_eq!(day_files(dir.path()), 0);
}

#[test]
fn rfc8460_5_temporary_dns_failure_is_retried() {
    let dir = TempDir::new("dnsfail");
    let sink = SmtpSink::start();
    record_some(dir.path(), "example.com");
    let resolver = MapResolver::default();
    resolver.set_error("_smtp._tls.example.com", DnsError::ServFail);
    let mut o = opts(dir.path());
    o.smtp = relay(sink.addr);
    let s = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert_eq!(s.pending, 1, "{s:?}");
    resolver.set(
        "_smtp._tls.example.com",
        &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
    );
    o.now = Some(next_day() + 3600);
    let s = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert_eq!(s.count(&EventKind::Completed), 1, "{s:?}");
    assert_eq!(sink.count(), 1);
}

// ------------------------------------------------ submission with TLS and AUTH

const PASSWORD: &str = "s3cret-pass";

/// Options for sending `example.net`'s report through `server` as user
/// `reporter`, trusting the test CA of `ca`.
fn submission(
    dir: &std::path::Path,
    ca: &TestCa,
    server: &AuthSmtp,
    security: Security,
) -> ReportOptions {
    let mut o = opts(dir);
    o.smtp = MailTransport::Smtp {
        security,
        host: "127.0.0.1".into(),
        port: server.addr.port(),
        user: Some("reporter".into()),
    };
    o.smtp_password = Some(Password::new(PASSWORD));
    o.ca_file = Some(ca.pem_path.clone());
    o
}

fn tlsrpt_to_mail() -> MapResolver {
    MapResolver::with(
        "_smtp._tls.example.net",
        &["v=TLSRPTv1; rua=mailto:tlsrpt@example.net"],
    )
}

/// The report went through `server`: one message, parsed back header by
/// header, whose gzip attachment gives back the recorded counts.
fn check_delivered(dir: &std::path::Path, server: &AuthSmtp) {
    assert_eq!(server.count(), 1, "{:?}", server.commands());
    let mail = server.mails.lock().unwrap()[0].clone();
    assert_eq!(mail.from, format!("tlsrpt-noreply@{SUBMITTER}"));
    assert_eq!(mail.to, vec!["tlsrpt@example.net".to_owned()]);
    let report = check_mail(dir, &mail.data, "example.net", "tlsrpt@example.net");
    let summary = &report["policies"][0]["summary"];
    assert_eq!(summary["total-successful-session-count"], 9);
    assert_eq!(summary["total-failure-session-count"], 1);
    assert_eq!(spooled(dir), 0);
}

fn submission_case(config: AuthSmtpConfig, security: Security) {
    let dir = TempDir::new("submit");
    let ca = TestCa::new(dir.path());
    let server = AuthSmtp::start(ca.leaf(&["127.0.0.1"], Validity::Current), config);
    record_some(dir.path(), "example.net");
    let o = submission(dir.path(), &ca, &server, security);
    let s = send_with_resolver(&o, &tlsrpt_to_mail(), None, false).unwrap();
    assert_eq!(s.delivered(), vec!["mailto:tlsrpt@example.net"], "{s:?}");
    check_delivered(dir.path(), &server);
    let cmds = server.commands();
    let pos = |verb: &str| {
        cmds.iter()
            .position(|c| c.to_ascii_uppercase().starts_with(verb))
    };
    // AUTH only inside TLS: after STARTTLS (when used), before MAIL.
    if security == Security::StartTls {
        assert!(pos("STARTTLS") < pos("AUTH"), "{cmds:?}");
    }
    assert!(
        pos("AUTH").is_some() && pos("AUTH") < pos("MAIL FROM"),
        "{cmds:?}"
    );
}

#[test]
fn rfc8460_5_3_starttls_auth_plain() {
    submission_case(
        AuthSmtpConfig {
            mechanisms: "PLAIN",
            ..AuthSmtpConfig::default()
        },
        Security::StartTls,
    );
}

#[test]
fn rfc8460_5_3_starttls_auth_login() {
    submission_case(
        AuthSmtpConfig {
            mechanisms: "LOGIN",
            ..AuthSmtpConfig::default()
        },
        Security::StartTls,
    );
}

#[test]
fn rfc8460_5_3_smtps_implicit_tls() {
    submission_case(
        AuthSmtpConfig {
            implicit_tls: true,
            offer_starttls: false,
            ..AuthSmtpConfig::default()
        },
        Security::Tls,
    );
}

/// A failed submission is kept for the next run, and the summary says
/// which destination failed and why; the password is in no event.
fn refused_case(o: &ReportOptions, server: &AuthSmtp, why: &str) -> sts_report::SendSummary {
    let s = send_with_resolver(o, &tlsrpt_to_mail(), None, false).unwrap();
    let failed: Vec<_> = s
        .events
        .iter()
        .filter(|e| e.kind == EventKind::DeliveryFailed)
        .collect();
    assert_eq!(failed.len(), 1, "{s:?}");
    assert_eq!(
        failed[0].destination.as_deref(),
        Some("mailto:tlsrpt@example.net")
    );
    let line = failed[0].to_string();
    assert!(line.contains(why), "{line}");
    for e in &s.events {
        assert!(!e.to_string().contains(PASSWORD), "{e}");
    }
    assert_eq!(s.pending, 1);
    assert_eq!(spooled(&o.dir), 1);
    assert_eq!(server.count(), 0);
    s
}

#[test]
fn rfc8460_5_3_wrong_password_keeps_the_report() {
    let dir = TempDir::new("badpass");
    let ca = TestCa::new(dir.path());
    let server = AuthSmtp::start(
        ca.leaf(&["127.0.0.1"], Validity::Current),
        AuthSmtpConfig::default(),
    );
    record_some(dir.path(), "example.net");
    let mut o = submission(dir.path(), &ca, &server, Security::StartTls);
    o.smtp_password = Some(Password::new("wrong-password"));
    refused_case(&o, &server, "authentication refused");
    assert!(server.saw("AUTH"));
    assert!(!server.saw("MAIL"));
    // The next run, with the right password from a file, delivers the
    // same report.
    let file = dir.path().join("smtp-password");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    o.smtp_password = None;
    o.smtp_password_file = Some(file);
    o.now = Some(next_day() + 3600);
    let s = send_with_resolver(&o, &tlsrpt_to_mail(), None, false).unwrap();
    assert_eq!(s.count(&EventKind::Completed), 1, "{s:?}");
    check_delivered(dir.path(), &server);
}

#[test]
fn rfc8460_5_3_no_starttls_offered_nothing_sent() {
    let dir = TempDir::new("nostarttls");
    let ca = TestCa::new(dir.path());
    let server = AuthSmtp::start(
        ca.leaf(&["127.0.0.1"], Validity::Current),
        AuthSmtpConfig {
            offer_starttls: false,
            ..AuthSmtpConfig::default()
        },
    );
    record_some(dir.path(), "example.net");
    let o = submission(dir.path(), &ca, &server, Security::StartTls);
    refused_case(&o, &server, "STARTTLS missing");
    // Refused right after EHLO: no AUTH, no envelope, no message.
    assert!(server.saw("EHLO"));
    for verb in ["AUTH", "MAIL", "RCPT", "DATA"] {
        assert!(!server.saw(verb), "{verb}: {:?}", server.commands());
    }
}

#[test]
fn rfc8460_5_3_untrusted_certificate_refused() {
    let dir = TempDir::new("untrusted-smtp");
    let ca = TestCa::new(dir.path());
    let other = TempDir::new("other-smtp-ca");
    let other_ca = TestCa::new(other.path());
    let server = AuthSmtp::start(
        other_ca.leaf(&["127.0.0.1"], Validity::Current),
        AuthSmtpConfig::default(),
    );
    record_some(dir.path(), "example.net");
    let o = submission(dir.path(), &ca, &server, Security::StartTls);
    refused_case(&o, &server, "certificate not trusted");
    assert!(!server.saw("AUTH"));
}

#[test]
fn rfc8460_5_3_certificate_for_another_name_refused() {
    let dir = TempDir::new("othername-smtp");
    let ca = TestCa::new(dir.path());
    let server = AuthSmtp::start(
        ca.leaf(&["smtp.elsewhere.example"], Validity::Current),
        AuthSmtpConfig {
            implicit_tls: true,
            ..AuthSmtpConfig::default()
        },
    );
    record_some(dir.path(), "example.net");
    let o = submission(dir.path(), &ca, &server, Security::Tls);
    refused_case(&o, &server, "certificate not valid for the host name");
    assert!(!server.saw("AUTH"));
}

#[test]
fn rfc8460_5_3_sendmail_pipe() {
    let dir = TempDir::new("sendmail");
    let bin = TempDir::new("sendmail-bin");
    let path = fake_sendmail(bin.path(), 0);
    record_some(dir.path(), "example.net");
    let mut o = opts(dir.path());
    o.smtp = format!("sendmail:{}", path.display()).parse().unwrap();
    let s = send_with_resolver(&o, &tlsrpt_to_mail(), None, false).unwrap();
    assert_eq!(s.count(&EventKind::Completed), 1, "{s:?}");
    // `-i` (a lone dot is no end), the envelope sender, the recipient
    // after `--`: the equivalent of `-i -t` without trusting headers.
    let args = std::fs::read_to_string(bin.path().join("args")).unwrap();
    let from = format!("tlsrpt-noreply@{SUBMITTER}");
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        vec!["-i", "-f", from.as_str(), "--", "tlsrpt@example.net"]
    );
    // The whole message on stdin.
    let message = std::fs::read(bin.path().join("message")).unwrap();
    let report = check_mail(dir.path(), &message, "example.net", "tlsrpt@example.net");
    assert_eq!(
        report["policies"][0]["summary"]["total-successful-session-count"],
        9
    );
    assert_eq!(spooled(dir.path()), 0);
}

#[test]
fn rfc8460_5_3_failing_sendmail_keeps_the_report() {
    let dir = TempDir::new("sendmail-fail");
    let bin = TempDir::new("sendmail-fail-bin");
    let path = fake_sendmail(bin.path(), 75);
    record_some(dir.path(), "example.net");
    let mut o = opts(dir.path());
    o.smtp = MailTransport::Sendmail { path };
    let s = send_with_resolver(&o, &tlsrpt_to_mail(), None, false).unwrap();
    let failed: Vec<_> = s
        .events
        .iter()
        .filter(|e| e.kind == EventKind::DeliveryFailed)
        .collect();
    assert_eq!(failed.len(), 1, "{s:?}");
    let line = failed[0].to_string();
    assert!(line.contains("sendmail failed"), "{line}");
    assert!(line.contains("queue file write error"), "{line}");
    assert_eq!(s.pending, 1);
    assert_eq!(spooled(dir.path()), 1);
}

#[test]
fn rfc8460_3_stray_v1x_record_beside_a_valid_one() {
    let dir = TempDir::new("v1x");
    let sink = SmtpSink::start();
    record_some(dir.path(), "example.net");
    let resolver = MapResolver::with(
        "_smtp._tls.example.net",
        &[
            "v=TLSRPTv1x; rua=mailto:stray@example.net",
            "v=TLSRPTv1; rua=mailto:tlsrpt@example.net",
        ],
    );
    let mut o = opts(dir.path());
    o.smtp = relay(sink.addr);
    let s = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert_eq!(s.delivered(), vec!["mailto:tlsrpt@example.net"], "{s:?}");
    assert_eq!(sink.count(), 1);
}

#[test]
fn rfc6068_2_mailto_escapes_in_a_record() {
    let dir = TempDir::new("escapes");
    let sink = SmtpSink::start();
    record_some(dir.path(), "example.net");
    let resolver = MapResolver::with(
        "_smtp._tls.example.net",
        &["v=TLSRPTv1; rua=mailto:a%+A@example.net,mailto:b%0D%0ABcc:c@example.net,mailto:tls%2Bok@example.net"],
    );
    let mut o = opts(dir.path());
    o.smtp = relay(sink.addr);
    let s = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert_eq!(s.count(&EventKind::Unusable), 2, "{s:?}");
    assert_eq!(s.delivered(), vec!["mailto:tls%2Bok@example.net"]);
    assert_eq!(s.count(&EventKind::Completed), 1);
    let mails = sink.mails.lock().unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["tls+ok@example.net".to_owned()]);
}

#[test]
fn rfc8460_5_3_smtp_host_resolved_by_the_configured_dns() {
    let dir = TempDir::new("smtp-name");
    let ca = TestCa::new(dir.path());
    let server = AuthSmtp::start(
        ca.leaf(&["submit.report.test"], Validity::Current),
        AuthSmtpConfig {
            implicit_tls: true,
            ..AuthSmtpConfig::default()
        },
    );
    // A name only this DNS server knows: the system resolver cannot have
    // given its address.
    let dns = AddrDns::start(&[("submit.report.test", std::net::Ipv4Addr::LOCALHOST)]);
    record_some(dir.path(), "example.net");
    let mut o = submission(dir.path(), &ca, &server, Security::Tls);
    o.smtp = format!("smtps://reporter@submit.report.test:{}", server.addr.port())
        .parse()
        .unwrap();
    o.dns_server = Some(dns.addr);
    let s = send_with_resolver(&o, &tlsrpt_to_mail(), None, false).unwrap();
    assert_eq!(s.count(&EventKind::Completed), 1, "{s:?}");
    check_delivered(dir.path(), &server);
    assert!(dns.queries_for("submit.report.test") >= 1);
}

#[test]
fn rfc8460_5_4_https_host_resolved_by_the_configured_dns() {
    let dir = TempDir::new("https-name");
    let ca = TestCa::new(dir.path());
    let collector = HttpsCollector::start(ca.leaf(&["collect.report.test"], Validity::Current));
    let dns = AddrDns::start(&[("collect.report.test", std::net::Ipv4Addr::LOCALHOST)]);
    record_some(dir.path(), "example.org");
    let url = format!("https://collect.report.test:{}/tlsrpt/v1", collector.port);
    let resolver = MapResolver::with(
        "_smtp._tls.example.org",
        &[&format!("v=TLSRPTv1; rua={url}")],
    );
    let mut o = opts(dir.path());
    o.ca_file = Some(ca.pem_path.clone());
    o.dns_server = Some(dns.addr);
    let s = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert_eq!(s.delivered(), vec![url.as_str()], "{s:?}");
    assert_eq!(collector.count(), 1);
    assert!(dns.queries_for("collect.report.test") >= 1);
    // A name the DNS server does not know: no address, kept for a retry.
    let dir2 = TempDir::new("https-unknown-name");
    record_some(dir2.path(), "example.org");
    let unknown = format!("https://other.report.test:{}/tlsrpt/v1", collector.port);
    let resolver = MapResolver::with(
        "_smtp._tls.example.org",
        &[&format!("v=TLSRPTv1; rua={unknown}")],
    );
    let mut o = opts(dir2.path());
    o.ca_file = Some(ca.pem_path.clone());
    o.dns_server = Some(dns.addr);
    let s = send_with_resolver(&o, &resolver, None, false).unwrap();
    assert_eq!(s.count(&EventKind::DeliveryFailed), 1, "{s:?}");
    assert_eq!(collector.count(), 1);
    assert_eq!(spooled(dir2.path()), 1);
}

#[test]
fn rfc8460_5_3_silent_server_times_out_and_keeps_the_report() {
    let dir = TempDir::new("silent-smtp");
    // Accepts connections and never says a word; stopped with the test.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || listener.accept().map(|(c, _)| c));
    record_some(dir.path(), "example.net");
    let mut o = opts(dir.path());
    o.timeout = Duration::from_secs(1);
    o.smtp = format!("smtp+starttls://reporter@127.0.0.1:{port}")
        .parse()
        .unwrap();
    o.smtp_password = Some(Password::new(PASSWORD));
    let s = send_with_resolver(&o, &tlsrpt_to_mail(), None, false).unwrap();
    let failed: Vec<String> = s
        .events
        .iter()
        .filter(|e| e.kind == EventKind::DeliveryFailed)
        .map(|e| e.to_string())
        .collect();
    assert_eq!(failed.len(), 1, "{s:?}");
    assert!(failed[0].contains("timeout"), "{}", failed[0]);
    assert_eq!(spooled(dir.path()), 1);
    drop(held.join().unwrap());
}

#[test]
fn rfc8460_5_3_expired_certificate_refused() {
    let dir = TempDir::new("expired-smtp");
    let ca = TestCa::new(dir.path());
    let server = AuthSmtp::start(
        ca.leaf(&["127.0.0.1"], Validity::Expired),
        AuthSmtpConfig::default(),
    );
    record_some(dir.path(), "example.net");
    let o = submission(dir.path(), &ca, &server, Security::StartTls);
    refused_case(&o, &server, "certificate expired");
    assert!(!server.saw("AUTH"));
}
