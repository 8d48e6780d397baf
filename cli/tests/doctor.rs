//! `sts doctor` against loopback servers started here: the DNS server and
//! test CA of sts-test-support, HTTPS policy servers, and SMTP servers on
//! 127.0.27.0/24 sharing one port (a sender uses the same port for every
//! MX host). One domain is right in every respect; each other domain has
//! one fault, and its test checks the verdict, the exit status and the
//! JSON finding.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_proto::rr::rdata::{A, AAAA, MX, TLSA, TXT};
use hickory_proto::rr::{Name, RData};
use serde_json::Value;
use sts_test_support::smtp::{SmtpMode, SmtpServer};
use sts_test_support::{
    policy_reply, policy_text, silent_tcp, tempdir, txt1, DnsAnswer, DnsServer, HttpsServer, Leaf,
    Reply, TestCa, Validity,
};

/// The SMTP servers, by behaviour.
const GOOD: Ipv4Addr = Ipv4Addr::new(127, 0, 27, 1);
const NO_STARTTLS: Ipv4Addr = Ipv4Addr::new(127, 0, 27, 2);
const WRONG_NAME: Ipv4Addr = Ipv4Addr::new(127, 0, 27, 3);
const EXPIRED: Ipv4Addr = Ipv4Addr::new(127, 0, 27, 4);
const SILENT: Ipv4Addr = Ipv4Addr::new(127, 0, 27, 5);
const BROKEN_TLS: Ipv4Addr = Ipv4Addr::new(127, 0, 27, 6);

/// Domains whose MX host is `mx.<domain>` on the good server.
const ON_GOOD: &[&str] = &[
    "good.test",
    "notxt.test",
    "twotxt.test",
    "badcert.test",
    "e404.test",
    "html.test",
    "syntax.test",
    "stale.test",
    "tlsa.test",
    "notlsrpt.test",
    "testing.test",
    "v6.test",
    "noad.test",
];

struct World {
    dns: DnsServer,
    https: HttpsServer,
    /// A policy server whose certificate is for another name.
    https_wrong: HttpsServer,
    /// The port of a policy server that never answers.
    https_silent: u16,
    smtp: Vec<SmtpServer>,
    smtp_port: u16,
    ca: TestCa,
}

fn a(ip: Ipv4Addr) -> RData {
    RData::A(A(ip))
}

fn mx(pref: u16, host: &str) -> RData {
    let fqdn = if host.ends_with('.') {
        host.to_owned()
    } else {
        format!("{host}.")
    };
    RData::MX(MX::new(pref, Name::from_ascii(fqdn).unwrap()))
}

fn txt(s: &str) -> RData {
    RData::TXT(TXT::new(vec![s.to_owned()]))
}

/// DANE-EE(3), Cert(0), Full(0): the whole certificate, so the test needs
/// no hashing.
fn tlsa_full(der: &[u8]) -> RData {
    RData::TLSA(TLSA::new(
        CertUsage::from(3),
        Selector::from(0),
        Matching::from(0),
        der.to_vec(),
    ))
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = tempdir("doctor");
        let ca = TestCa::new(&dir);
        let dns = DnsServer::start();

        let mut policy_names: Vec<String> =
            ON_GOOD.iter().map(|d| format!("mta-sts.{d}")).collect();
        for d in [
            "notpermitted.test",
            "nostarttls.test",
            "mxname.test",
            "expired.test",
            "dead.test",
            "three.test",
            "brokentls.test",
            "nullmx.test",
            "implicit.test",
        ] {
            policy_names.push(format!("mta-sts.{d}"));
        }
        let refs: Vec<&str> = policy_names.iter().map(String::as_str).collect();
        let https = HttpsServer::start(ca.leaf(&refs, Validity::Current));
        let https_wrong =
            HttpsServer::start(ca.leaf(&["mta-sts.elsewhere.test"], Validity::Current));

        let mut good_mx: Vec<String> = ON_GOOD.iter().map(|d| format!("mx.{d}")).collect();
        good_mx.extend([
            "mx.notpermitted.test".into(),
            "mx1.three.test".into(),
            "mx2.three.test".into(),
            "implicit.test".into(),
        ]);
        let good_refs: Vec<&str> = good_mx.iter().map(String::as_str).collect();
        let good_leaf = ca.leaf(&good_refs, Validity::Current);
        let good_der = good_leaf.chain[0].as_ref().to_vec();
        let good_leaf_v6 = Leaf {
            chain: good_leaf.chain.clone(),
            key: good_leaf.key.clone_key(),
        };
        let wrong_leaf = ca.leaf(&["mail.elsewhere.test"], Validity::Current);
        let wrong_der = wrong_leaf.chain[0].as_ref().to_vec();
        let smtp = SmtpServer::start_on_one_port(vec![
            (
                IpAddr::V4(GOOD),
                SmtpMode::StartTls(good_leaf.server_config()),
            ),
            (IpAddr::V4(NO_STARTTLS), SmtpMode::Plain),
            (
                IpAddr::V4(WRONG_NAME),
                SmtpMode::StartTls(wrong_leaf.server_config()),
            ),
            (
                IpAddr::V4(EXPIRED),
                SmtpMode::StartTls(
                    ca.leaf(&["mx.expired.test"], Validity::Expired)
                        .server_config(),
                ),
            ),
            (IpAddr::V4(SILENT), SmtpMode::Silent),
            (IpAddr::V4(BROKEN_TLS), SmtpMode::BrokenTls),
            (
                IpAddr::V6(Ipv6Addr::LOCALHOST),
                SmtpMode::StartTls(good_leaf_v6.server_config()),
            ),
        ]);
        let smtp_port = smtp[0].addr.port();

        // Every domain: policy host on 127.0.0.1, an MX host, TLSRPT, and
        // an enforce policy permitting its MX host, unless changed below.
        let all: Vec<&str> = ON_GOOD
            .iter()
            .copied()
            .chain([
                "notpermitted.test",
                "nostarttls.test",
                "mxname.test",
                "expired.test",
                "dead.test",
                "brokentls.test",
                "nullmx.test",
            ])
            .collect();
        let mx_ip = |d: &str| match d {
            "nostarttls.test" => NO_STARTTLS,
            "mxname.test" => WRONG_NAME,
            "expired.test" => EXPIRED,
            "dead.test" => SILENT,
            "brokentls.test" => BROKEN_TLS,
            _ => GOOD,
        };
        for d in &all {
            dns.set(
                &format!("mta-sts.{d}"),
                DnsAnswer::Records(vec![a(Ipv4Addr::LOCALHOST)]),
            );
            dns.set(&format!("_mta-sts.{d}"), txt1("v=STSv1; id=20261207;"));
            dns.set(d, DnsAnswer::Records(vec![mx(10, &format!("mx.{d}"))]));
            dns.set(&format!("mx.{d}"), DnsAnswer::Records(vec![a(mx_ip(d))]));
            dns.set(
                &format!("_smtp._tls.{d}"),
                txt1(&format!("v=TLSRPTv1; rua=mailto:tlsrpt@{d}")),
            );
            https.set(
                &format!("mta-sts.{d}"),
                policy_reply(&policy_text("enforce", &[&format!("mx.{d}")], 1_209_600)),
            );
        }
        // As a validating resolver for signed zones: TLSA records count
        // for DANE only with the AD bit.
        dns.set_authenticated(true);
        // The good domain also has DANE, matching.
        dns.set(
            "_25._tcp.mx.good.test",
            DnsAnswer::Records(vec![tlsa_full(&good_der)]),
        );
        // The faults.
        dns.set("_mta-sts.notxt.test", DnsAnswer::NxDomain);
        dns.set(
            "_mta-sts.twotxt.test",
            DnsAnswer::Records(vec![txt("v=STSv1; id=one;"), txt("v=STSv1; id=two;")]),
        );
        https.set(
            "mta-sts.e404.test",
            Reply::Plain(404, "text/plain".into(), b"no\n".to_vec()),
        );
        https.set(
            "mta-sts.html.test",
            Reply::Plain(
                200,
                "text/html".into(),
                policy_text("enforce", &["mx.html.test"], 1_209_600).into_bytes(),
            ),
        );
        https.set(
            "mta-sts.syntax.test",
            policy_reply("version: STSv1\nmode: enforce\nmx: mx.syntax.test\nmax_age: soon\n"),
        );
        https.set(
            "mta-sts.notpermitted.test",
            policy_reply(&policy_text("enforce", &["mx.elsewhere.test"], 1_209_600)),
        );
        https.set(
            "mta-sts.stale.test",
            policy_reply(&policy_text(
                "enforce",
                &["mx.stale.test", "old.stale.test"],
                1_209_600,
            )),
        );
        https.set(
            "mta-sts.testing.test",
            policy_reply(&policy_text("testing", &["mx.testing.test"], 3600)),
        );
        dns.set(
            "_25._tcp.mx.tlsa.test",
            DnsAnswer::Records(vec![tlsa_full(&wrong_der)]),
        );
        dns.set("_smtp._tls.notlsrpt.test", DnsAnswer::NxDomain);
        dns.set(
            "mx.v6.test",
            DnsAnswer::Records(vec![a(GOOD), RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))]),
        );
        // RFC 7505: a null MX, the domain accepts no mail.
        dns.set("nullmx.test", DnsAnswer::Records(vec![mx(0, ".")]));
        // RFC 5321 §5.1: no MX records, the domain's own address.
        dns.set(
            "mta-sts.implicit.test",
            DnsAnswer::Records(vec![a(Ipv4Addr::LOCALHOST)]),
        );
        dns.set("_mta-sts.implicit.test", txt1("v=STSv1; id=5321;"));
        dns.set("implicit.test", DnsAnswer::Records(vec![a(GOOD)]));
        dns.set(
            "_smtp._tls.implicit.test",
            txt1("v=TLSRPTv1; rua=mailto:t@implicit.test"),
        );
        https.set(
            "mta-sts.implicit.test",
            policy_reply(&policy_text("enforce", &["implicit.test"], 1_209_600)),
        );
        // Three MX hosts, the last one never answers.
        dns.set(
            "mta-sts.three.test",
            DnsAnswer::Records(vec![a(Ipv4Addr::LOCALHOST)]),
        );
        dns.set("_mta-sts.three.test", txt1("v=STSv1; id=3;"));
        dns.set(
            "three.test",
            DnsAnswer::Records(vec![
                mx(10, "mx1.three.test"),
                mx(20, "mx2.three.test"),
                mx(30, "mx3.three.test"),
            ]),
        );
        dns.set("mx1.three.test", DnsAnswer::Records(vec![a(GOOD)]));
        dns.set("mx2.three.test", DnsAnswer::Records(vec![a(GOOD)]));
        dns.set("mx3.three.test", DnsAnswer::Records(vec![a(SILENT)]));
        dns.set(
            "_smtp._tls.three.test",
            txt1("v=TLSRPTv1; rua=mailto:t@three.test"),
        );
        https.set(
            "mta-sts.three.test",
            policy_reply(&policy_text("enforce", &["*.three.test"], 1_209_600)),
        );
        World {
            dns,
            https,
            https_wrong,
            https_silent: silent_tcp(),
            smtp,
            smtp_port,
            ca,
        }
    })
}

/// Which policy server a run talks to.
#[derive(Clone, Copy)]
enum PolicyServer {
    Right,
    WrongName,
    /// Accepts connections and never answers.
    Silent,
}

fn doctor(domain: &str, server: PolicyServer, timeout: &str, extra: &[&str]) -> Output {
    doctor_asking(world().dns.addr, domain, server, timeout, extra)
}

/// [`doctor`] with another DNS server.
fn doctor_asking(
    dns: std::net::SocketAddr,
    domain: &str,
    server: PolicyServer,
    timeout: &str,
    extra: &[&str],
) -> Output {
    let w = world();
    let port = match server {
        PolicyServer::Right => w.https.port,
        PolicyServer::WrongName => w.https_wrong.port,
        PolicyServer::Silent => w.https_silent,
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sts"));
    cmd.args(["doctor", domain])
        .args(["--dns-server", &dns.to_string()])
        .args(["--ca-file", w.ca.pem_path.to_str().unwrap()])
        .args(["--https-port", &port.to_string()])
        .args(["--smtp-port", &w.smtp_port.to_string()])
        .args(["--timeout", timeout])
        .args(extra);
    sts_test_support::child::without_sts_settings(&mut cmd);
    cmd.output().unwrap()
}

fn json(domain: &str, server: PolicyServer) -> (Option<i32>, Value) {
    let o = doctor(domain, server, "2", &["--json"]);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    (o.status.code(), v)
}

fn findings<'v>(v: &'v Value, check: &str) -> Vec<&'v Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

/// The one finding of `check` with `verdict`, whose detail contains
/// `detail`; it must have a hint if it is a problem.
fn expect<'v>(v: &'v Value, check: &str, verdict: &str, detail: &str) -> &'v Value {
    let f = findings(v, check)
        .into_iter()
        .find(|f| f["verdict"] == verdict && f["detail"].as_str().unwrap().contains(detail))
        .unwrap_or_else(|| panic!("no {verdict} {check} with {detail:?} in {v:#}"));
    if verdict == "error" || verdict == "warning" {
        assert!(f["hint"].as_str().is_some_and(|h| !h.is_empty()), "{f}");
    }
    f
}

fn worst(v: &Value) -> &str {
    v["verdict"].as_str().unwrap()
}

#[test]
fn all_good_domain_exit_0_and_every_check_ok() {
    let (code, v) = json("good.test", PolicyServer::Right);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(worst(&v), "ok");
    for f in v["findings"].as_array().unwrap() {
        assert!(f["verdict"] == "ok" || f["verdict"] == "info", "{f}");
    }
    expect(&v, "txt", "ok", "id=20261207");
    expect(&v, "policy-https", "ok", "HTTP 200");
    expect(&v, "policy-syntax", "ok", "mode enforce");
    expect(&v, "policy-max-age", "ok", "1209600");
    expect(&v, "mx-permitted", "ok", "mx.good.test");
    expect(&v, "starttls", "ok", "offered");
    expect(&v, "tls-version", "ok", "TLSv1.3");
    expect(
        &v,
        "certificate",
        "ok",
        "valid under WebPKI for mx.good.test",
    );
    expect(&v, "certificate-expiry", "ok", "expires in");
    expect(&v, "dane", "ok", "matches the TLSA records");
    expect(&v, "tlsrpt", "ok", "mailto:tlsrpt@good.test");
    // Absent by choice: information, not a warning.
    expect(&v, "mx-address", "info", "no IPv6");
    // The probe never offered mail.
    let good = &world().smtp[0];
    for c in good.commands() {
        assert!(
            c.starts_with("EHLO ") || c == "STARTTLS" || c == "tls: QUIT" || c == "QUIT",
            "{c}"
        );
    }
}

#[test]
fn human_report_has_one_line_per_check_and_what_to_fix() {
    let o = doctor("nostarttls.test", PolicyServer::Right, "2", &[]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with("error") && l.contains("starttls"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("mx.nostarttls.test [127.0.27.2]"), "{out}");
    assert!(out.contains("fix: enable STARTTLS"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("ok") && l.contains("txt")),
        "{out}"
    );
    assert!(out.ends_with("1 error(s), 0 warning(s)\n"), "{out}");
}

#[test]
fn rfc8461_3_1_no_txt_record_but_policy_published() {
    let (code, v) = json("notxt.test", PolicyServer::Right);
    assert_eq!(code, Some(1), "{v:#}");
    expect(&v, "txt", "error", "senders never fetch it");
}

#[test]
fn rfc8461_3_1_two_sts_records() {
    let (code, v) = json("twotxt.test", PolicyServer::Right);
    assert_eq!(code, Some(1), "{v:#}");
    let f = expect(&v, "txt", "error", "more than one TXT record");
    assert!(f["hint"].as_str().unwrap().contains("exactly one"), "{f}");
}

#[test]
fn rfc8461_3_3_policy_host_certificate_for_another_name() {
    let (code, v) = json("badcert.test", PolicyServer::WrongName);
    assert_eq!(code, Some(1), "{v:#}");
    let f = expect(&v, "policy-https", "error", "TLS");
    assert!(
        f["hint"].as_str().unwrap().contains("mta-sts.badcert.test"),
        "{f}"
    );
}

#[test]
fn rfc8461_3_3_policy_404() {
    let (code, v) = json("e404.test", PolicyServer::Right);
    assert_eq!(code, Some(1), "{v:#}");
    expect(&v, "policy-https", "error", "404");
}

#[test]
fn rfc8461_3_3_policy_text_html() {
    let (code, v) = json("html.test", PolicyServer::Right);
    assert_eq!(code, Some(1), "{v:#}");
    expect(&v, "policy-https", "error", "text/html");
}

#[test]
fn rfc8461_3_2_policy_syntax_error_with_line_and_column() {
    let (code, v) = json("syntax.test", PolicyServer::Right);
    assert_eq!(code, Some(1), "{v:#}");
    expect(&v, "policy-syntax", "error", "line 4, column");
}

#[test]
fn rfc8461_4_1_mx_not_permitted_under_enforce() {
    let (code, v) = json("notpermitted.test", PolicyServer::Right);
    assert_eq!(code, Some(1), "{v:#}");
    let f = expect(&v, "mx-permitted", "error", "not permitted");
    assert_eq!(f["subject"], "mx.notpermitted.test");
}

#[test]
fn rfc8461_4_1_stale_pattern_is_a_warning() {
    let (code, v) = json("stale.test", PolicyServer::Right);
    assert_eq!(code, Some(2), "{v:#}");
    assert_eq!(worst(&v), "warning");
    let f = expect(&v, "mx-pattern", "warning", "matches no MX host");
    assert_eq!(f["subject"], "old.stale.test");
}

#[test]
fn rfc8461_5_testing_mode_and_short_max_age_are_not_errors() {
    let (code, v) = json("testing.test", PolicyServer::Right);
    assert_eq!(code, Some(2), "{v:#}");
    expect(&v, "policy-mode", "info", "testing");
    expect(&v, "policy-max-age", "warning", "under one day");
}

#[test]
fn rfc3207_mx_without_starttls_under_enforce() {
    let (code, v) = json("nostarttls.test", PolicyServer::Right);
    assert_eq!(code, Some(1), "{v:#}");
    expect(&v, "starttls", "error", "not offered");
}

#[test]
fn rfc3207_handshake_that_fails_after_220_is_a_starttls_error() {
    let (code, v) = json("brokentls.test", PolicyServer::Right);
    assert_eq!(code, Some(1), "{v:#}");
    expect(&v, "starttls", "error", "handshake failed");
    // The connection itself was fine: no connect error is reported.
    assert!(
        findings(&v, "smtp-connect")
            .iter()
            .all(|f| f["verdict"] != "error"),
        "{v:#}"
    );
}

#[test]
fn rfc7505_null_mx_is_said_and_no_host_is_probed() {
    let (code, v) = json("nullmx.test", PolicyServer::Right);
    expect(&v, "mx-records", "info", "null MX");
    for check in ["smtp-connect", "starttls", "certificate"] {
        assert!(findings(&v, check).is_empty(), "{check} in {v:#}");
    }
    assert_eq!(code, Some(0), "{v:#}");
}

#[test]
fn rfc5321_5_1_implicit_mx_probes_the_domain_itself() {
    let (code, v) = json("implicit.test", PolicyServer::Right);
    assert_eq!(code, Some(0), "{v:#}");
    expect(
        &v,
        "mx-records",
        "info",
        "the domain itself is the mail host",
    );
    expect(&v, "starttls", "ok", "handshake done");
    assert!(
        findings(&v, "smtp-connect").iter().any(|f| f["subject"]
            .as_str()
            .unwrap_or("")
            .starts_with("implicit.test ")),
        "{v:#}"
    );
}

#[test]
fn rfc8461_4_2_mx_certificate_for_another_name() {
    let (code, v) = json("mxname.test", PolicyServer::Right);
    assert_eq!(code, Some(1), "{v:#}");
    expect(&v, "certificate", "error", "certificate-host-mismatch");
}

#[test]
fn rfc8461_4_2_expired_mx_certificate() {
    let (code, v) = json("expired.test", PolicyServer::Right);
    assert_eq!(code, Some(1), "{v:#}");
    expect(&v, "certificate", "error", "certificate-expired");
    expect(&v, "certificate-expiry", "error", "expired");
}

#[test]
fn mx_that_never_answers_is_named() {
    let (code, v) = json("dead.test", PolicyServer::Right);
    assert_eq!(code, Some(1), "{v:#}");
    let f = expect(&v, "smtp-connect", "error", "no answer within the timeout");
    assert!(
        f["subject"]
            .as_str()
            .unwrap()
            .starts_with("mx.dead.test [127.0.27.5]:"),
        "{f}"
    );
}

#[test]
fn rfc7672_tlsa_that_does_not_match() {
    let (code, v) = json("tlsa.test", PolicyServer::Right);
    assert_eq!(code, Some(1), "{v:#}");
    expect(&v, "dane", "error", "no TLSA record matches");
    // The WebPKI check still passes: only DANE senders defer.
    expect(&v, "certificate", "ok", "valid under WebPKI");
}

#[test]
fn rfc8460_3_missing_tlsrpt_record() {
    let (code, v) = json("notlsrpt.test", PolicyServer::Right);
    assert_eq!(code, Some(2), "{v:#}");
    expect(&v, "tlsrpt", "warning", "no TLSRPT record");
}

#[test]
fn no_mta_sts_at_all_is_a_warning() {
    // A domain with MX and TLSRPT but neither TXT nor policy host.
    let w = world();
    w.dns.set(
        "plain.test",
        DnsAnswer::Records(vec![mx(10, "mx.good.test")]),
    );
    w.dns.set(
        "_smtp._tls.plain.test",
        txt1("v=TLSRPTv1; rua=mailto:t@plain.test"),
    );
    let (code, v) = json("plain.test", PolicyServer::Right);
    assert_eq!(code, Some(2), "{v:#}");
    expect(&v, "txt", "warning", "does not publish MTA-STS");
    expect(&v, "policy-https", "info", "no policy");
}

/// Three MX hosts, one of which never answers: the probes run at once, so
/// the run takes about one timeout. Prints the time (the figure is for
/// the report; speed is not asserted here).
#[test]
fn three_mx_one_dead_is_named_and_reported() {
    let t0 = Instant::now();
    let o = doctor("three.test", PolicyServer::Right, "2", &["--json", "-v"]);
    let took = t0.elapsed();
    eprintln!("sts doctor three.test (3 MX, one dead, --timeout 2): {took:?}");
    assert_eq!(o.status.code(), Some(1));
    // -v: each step's end with its time on stderr, the dead one named.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.lines()
            .any(|l| l.contains(" ms] smtp mx3.three.test [127.0.27.5:")
                && l.ends_with("no answer within the timeout")),
        "{err}"
    );
    assert!(err.contains(" ms] dns: MX three.test"), "{err}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    expect(&v, "smtp-connect", "error", "no answer");
    let ok: Vec<&str> = findings(&v, "smtp-connect")
        .iter()
        .filter(|f| f["verdict"] == "ok")
        .map(|f| f["subject"].as_str().unwrap())
        .collect();
    assert_eq!(ok.len(), 2, "{v:#}");
    expect(&v, "mx-permitted", "ok", "*.three.test");
}

#[test]
fn rfc8461_3_3_policy_host_that_never_answers_is_named() {
    let (code, v) = json("good.test", PolicyServer::Silent);
    assert_eq!(code, Some(1), "{v:#}");
    let f = expect(&v, "policy-https", "error", "timeout");
    assert_eq!(f["subject"], "mta-sts.good.test");
    // The MX checks do not wait for it and still run.
    expect(&v, "starttls", "ok", "offered");
}

#[test]
fn every_address_v4_and_v6_is_probed() {
    let (code, v) = json("v6.test", PolicyServer::Right);
    assert_eq!(code, Some(0), "{v:#}");
    let port = world().smtp_port;
    for addr in [format!("[127.0.27.1]:{port}"), format!("[::1]:{port}")] {
        let subject = format!("mx.v6.test {addr}");
        for check in ["smtp-connect", "starttls", "certificate"] {
            assert!(
                findings(&v, check)
                    .iter()
                    .any(|f| f["subject"] == subject.as_str() && f["verdict"] == "ok"),
                "{check} {subject}: {v:#}"
            );
        }
    }
    assert!(
        !findings(&v, "mx-address")
            .iter()
            .any(|f| f["detail"].as_str().unwrap().contains("IPv6")),
        "{v:#}"
    );
}

#[test]
fn rfc7672_2_2_tlsa_without_dnssec_validation_is_ignored_with_a_warning() {
    // A resolver that does not set AD: the same records as the world's
    // for noad.test, plus TLSA records that would not even match.
    let dns = DnsServer::start();
    dns.set(
        "mta-sts.noad.test",
        DnsAnswer::Records(vec![a(Ipv4Addr::LOCALHOST)]),
    );
    dns.set("_mta-sts.noad.test", txt1("v=STSv1; id=20261207;"));
    dns.set(
        "noad.test",
        DnsAnswer::Records(vec![mx(10, "mx.noad.test")]),
    );
    dns.set("mx.noad.test", DnsAnswer::Records(vec![a(GOOD)]));
    dns.set(
        "_25._tcp.mx.noad.test",
        DnsAnswer::Records(vec![tlsa_full(b"not the certificate")]),
    );
    dns.set(
        "_smtp._tls.noad.test",
        txt1("v=TLSRPTv1; rua=mailto:tlsrpt@noad.test"),
    );
    let o = doctor_asking(dns.addr, "noad.test", PolicyServer::Right, "2", &["--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(2), "{v:#}");
    expect(&v, "dane", "warning", "not DNSSEC-validated");
    // Not used for DANE, so no mismatch is reported; WebPKI still passes.
    assert!(
        !findings(&v, "dane").iter().any(|f| f["verdict"] == "error"),
        "{v:#}"
    );
    expect(
        &v,
        "certificate",
        "ok",
        "valid under WebPKI for mx.noad.test",
    );
}

#[test]
fn settings_come_from_the_exim_module_config_file() {
    let w = world();
    let dir = tempdir("doctor-config");
    let conf = dir.join("sts-exim.conf");
    std::fs::write(
        &conf,
        format!(
            "dns_server = {}\nca_file = {}\nhttps_port = {}\n",
            w.dns.addr,
            w.ca.pem_path.display(),
            w.https.port
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sts"))
        .args([
            "--config",
            conf.to_str().unwrap(),
            "doctor",
            "good.test",
            "--json",
        ])
        .args(["--smtp-port", &w.smtp_port.to_string(), "--timeout", "2"])
        .env_remove("STS_DNS_SERVER")
        .env_remove("STS_CA_FILE")
        .env_remove("STS_HTTPS_PORT")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    expect(
        &v,
        "policy-https",
        "ok",
        "certificate valid for mta-sts.good.test",
    );
    expect(
        &v,
        "certificate",
        "ok",
        "valid under WebPKI for mx.good.test",
    );
}
