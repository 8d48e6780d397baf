//! End-to-end tests against real DNS and HTTPS servers on 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use sts_client::dns::DnsError;
use sts_client::fetch::FetchError;
use sts_client::refresh::Rules;
use sts_client::{
    Client, ClientOptions, DaneStatus, DecisionMode, DecisionRequest, LookupError, Source,
    TlsrptFailure, TxtResolver,
};
use sts_core::txt::TxtError;

type Env = Loopback;

/// Servers for `domains`: DNS, and HTTPS with a certificate for
/// `mta-sts.<domain>` of each.
fn env(tag: &str, domains: &[&str]) -> Env {
    Loopback::start(tag, domains)
}

/// The client settings that use the loopback servers.
trait Settings {
    fn opts(&self) -> ClientOptions;
    fn client(&self) -> Client;
}

impl Settings for Env {
    fn opts(&self) -> ClientOptions {
        ClientOptions {
            dns_server: Some(self.dns.addr),
            ca_file: Some(self.ca.pem_path.clone()),
            https_port: Some(self.https.port),
            cache_path: Some(self.dir.join("cache")),
            https_connect_override: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            dns_timeout: Duration::from_millis(200),
            dns_attempts: 2,
            https_connect_timeout: Duration::from_secs(1),
            https_total_timeout: Duration::from_secs(2),
            use_env: false,
            ..ClientOptions::default()
        }
    }

    fn client(&self) -> Client {
        Client::new(self.opts()).unwrap()
    }
}

fn enforce(mx: &[&str]) -> String {
    policy_text("enforce", mx, 86_400)
}

fn fetch_error(d: &sts_client::Decision) -> Option<&FetchError> {
    match &d.error {
        Some(LookupError::Fetch(e)) => Some(e),
        _ => None,
    }
}

#[test]
fn rfc8461_happy_path_network_then_cache() {
    let e = env("happy", &["example.test"]);
    e.publish(
        "example.test",
        "20240101",
        &enforce(&["mx1.example.test", "*.mx.example.test"]),
    );
    let c = e.client();
    let d = c.decide("example.test", "mx1.example.test", DaneStatus::NotUsable);
    assert_eq!(d.mode, DecisionMode::Enforce, "{d:?}");
    assert!(d.mx_permitted);
    assert_eq!(d.source, Source::Network);
    assert_eq!(d.failure, None);
    assert!(d.tls_required() && !d.refuse());
    let p = d.policy.as_ref().unwrap();
    assert_eq!(p.txt_id, "20240101");
    assert_eq!(p.mx, ["mx1.example.test", "*.mx.example.test"]);
    assert_eq!(e.https.requests(), 1);

    // Second decision: cache, no new fetch.
    let d = c.decide("EXAMPLE.test.", "a.mx.example.test.", DaneStatus::NotUsable);
    assert_eq!(d.source, Source::Cache);
    assert!(d.mx_permitted);
    assert_eq!(e.https.requests(), 1);

    // A fresh client (a new process) reads the disk cache.
    let c2 = e.client();
    let q = e.dns.queries();
    let d = c2.decide("example.test", "mx1.example.test", DaneStatus::NotUsable);
    assert_eq!(d.source, Source::Cache);
    assert_eq!(e.https.requests(), 1);
    assert_eq!(e.dns.queries(), q, "TXT checked recently: no DNS query");

    // §4.1: not permitted, and IP literals never match.
    for bad in [
        "evil.test",
        "b.a.mx.example.test",
        "192.0.2.1",
        "[192.0.2.1]",
    ] {
        let d = c.decide("example.test", bad, DaneStatus::NotUsable);
        assert!(!d.mx_permitted, "{bad}");
        assert!(d.refuse());
        assert_eq!(d.failure, Some(TlsrptFailure::ValidationFailure));
    }
    // RFC 8689 TLS-Required: No: judged, but never refused.
    let d = c.decide_with(&DecisionRequest {
        domain: "example.test",
        mx_host: "evil.test",
        dane: DaneStatus::NotUsable,
        tls_required_no: true,
    });
    assert!(!d.mx_permitted && !d.refuse() && !d.tls_required());
    assert_eq!(d.mode, DecisionMode::Enforce);
    assert_eq!(
        c.permitted_mx("example.test"),
        Some(vec![
            "mx1.example.test".to_owned(),
            "*.mx.example.test".to_owned()
        ])
    );
}

#[test]
fn rfc8461_2_dane_takes_precedence() {
    let e = env("dane", &["dane.test"]);
    e.publish("dane.test", "1", &enforce(&["mx.dane.test"]));
    let c = e.client();
    let d = c.decide("dane.test", "other.test", DaneStatus::Usable);
    assert_eq!(d.mode, DecisionMode::Dane);
    assert!(d.mx_permitted && !d.refuse());
    assert_eq!(e.dns.queries(), 0);
}

#[test]
fn rfc8461_3_1_cname_and_joined_strings() {
    let e = env("cname", &["alias.test"]);
    e.dns.set(
        "_mta-sts.alias.test",
        DnsAnswer::Cname("_mta-sts.target.test".into()),
    );
    e.dns.set(
        "_mta-sts.target.test",
        DnsAnswer::Txt(vec![
            vec!["v=spf1 -all".into()],
            vec!["v=STSv1; ".into(), "id=abc123;".into()],
        ]),
    );
    e.https.set(
        "mta-sts.alias.test",
        policy_reply(&enforce(&["mx.alias.test"])),
    );
    let d = e
        .client()
        .decide("alias.test", "mx.alias.test", DaneStatus::NotUsable);
    assert_eq!(d.mode, DecisionMode::Enforce, "{d:?}");
    assert_eq!(d.policy.unwrap().txt_id, "abc123");
}

#[test]
fn dns_truncation_falls_back_to_tcp() {
    let e = env("tc", &["tc.test"]);
    let long = "x".repeat(250);
    e.dns.set(
        "_mta-sts.tc.test",
        DnsAnswer::Truncated(vec![
            vec!["v=STSv1; id=tcp1;".into()],
            vec![
                long.clone(),
                long.clone(),
                long.clone(),
                long.clone(),
                long.clone(),
                long.clone(),
            ],
        ]),
    );
    e.https
        .set("mta-sts.tc.test", policy_reply(&enforce(&["mx.tc.test"])));
    let d = e
        .client()
        .decide("tc.test", "mx.tc.test", DaneStatus::NotUsable);
    assert_eq!(d.policy.map(|p| p.txt_id).as_deref(), Some("tcp1"));
    assert!(e.dns.tcp_queries.load(Ordering::SeqCst) >= 1);
}

#[test]
fn rfc8461_3_1_no_record_is_no_policy() {
    let e = env("norec", &["norec.test"]);
    let c = e.client();
    let d = c.decide("norec.test", "anything.test", DaneStatus::NotUsable);
    assert_eq!(d.mode, DecisionMode::NoPolicy);
    assert!(d.mx_permitted && !d.refuse());
    assert_eq!(d.failure, None);
    assert_eq!(d.error, None);
    // A TXT record that is not STSv1 is the same.
    e.dns.set("_mta-sts.norec.test", txt1("v=spf1 -all"));
    let d = c.decide("norec.test", "anything.test", DaneStatus::NotUsable);
    assert_eq!((d.mode, d.error), (DecisionMode::NoPolicy, None));
    assert_eq!(e.https.requests(), 0);
}

#[test]
fn rfc8461_3_1_two_records_or_bad_id_is_no_policy() {
    let e = env("two", &["two.test", "badid.test"]);
    e.dns.set(
        "_mta-sts.two.test",
        DnsAnswer::Txt(vec![
            vec!["v=STSv1; id=1;".into()],
            vec!["v=STSv1; id=2;".into()],
        ]),
    );
    e.dns
        .set("_mta-sts.badid.test", txt1("v=STSv1; id=not-valid!;"));
    e.https
        .set("mta-sts.two.test", policy_reply(&enforce(&["mx.two.test"])));
    let c = e.client();
    let d = c.decide("two.test", "x.test", DaneStatus::NotUsable);
    assert_eq!(d.mode, DecisionMode::NoPolicy);
    assert_eq!(d.error, Some(LookupError::Txt(TxtError::MultipleRecords)));
    let d = c.decide("badid.test", "x.test", DaneStatus::NotUsable);
    assert_eq!(d.mode, DecisionMode::NoPolicy);
    assert_eq!(d.error, Some(LookupError::Txt(TxtError::BadId)));
    assert_eq!(e.https.requests(), 0);
}

#[test]
fn dns_servfail_and_timeout_are_temporary() {
    let e = env("servfail", &["sf.test"]);
    e.dns.set("_mta-sts.sf.test", DnsAnswer::ServFail);
    e.dns.set("_mta-sts.silent.test", DnsAnswer::Silent);
    let c = e.client();
    let d = c.decide("sf.test", "x.test", DaneStatus::NotUsable);
    assert_eq!(d.mode, DecisionMode::NoPolicy);
    assert_eq!(d.error, Some(LookupError::Dns(DnsError::ServFail)));
    assert!(d.error.as_ref().unwrap().is_temporary());
    let t0 = Instant::now();
    let d = c.decide("silent.test", "x.test", DaneStatus::NotUsable);
    assert_eq!(d.error, Some(LookupError::Dns(DnsError::Timeout)));
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert!(e.dns.udp_queries.load(Ordering::SeqCst) >= 3, "retried");
    // NXDOMAIN is not temporary.
    assert!(!DnsError::NxDomain.is_temporary());
}

/// Publishes `reply` for `domain` and returns the decision.
fn fetch_case(e: &Env, domain: &str, reply: Reply) -> sts_client::Decision {
    e.dns
        .set(&format!("_mta-sts.{domain}"), txt1("v=STSv1; id=1;"));
    e.https.set(&format!("mta-sts.{domain}"), reply);
    e.client()
        .decide(domain, &format!("mx.{domain}"), DaneStatus::NotUsable)
}

#[test]
fn rfc8461_3_3_http_failures() {
    let doms = [
        "r301.test",
        "r302.test",
        "s404.test",
        "s500.test",
        "html.test",
        "big.test",
        "ok64k.test",
    ];
    let e = env("http", &doms);
    let ok = enforce(&["mx.x.test"]);
    for (status, dom) in [(301, "r301.test"), (302, "r302.test")] {
        let d = fetch_case(&e, dom, Reply::Redirect(status));
        assert_eq!(
            fetch_error(&d),
            Some(&FetchError::Redirect(status)),
            "{d:?}"
        );
        assert_eq!(d.mode, DecisionMode::NoPolicy);
        assert_eq!(d.failure, Some(TlsrptFailure::StsPolicyFetchError));
    }
    for (status, dom) in [(404, "s404.test"), (500, "s500.test")] {
        let d = fetch_case(
            &e,
            dom,
            Reply::Plain(status, "text/plain".into(), ok.clone().into_bytes()),
        );
        assert_eq!(fetch_error(&d), Some(&FetchError::Status(status)));
        assert_eq!(d.failure, Some(TlsrptFailure::StsPolicyFetchError));
    }
    let d = fetch_case(
        &e,
        "html.test",
        Reply::Plain(200, "text/html".into(), ok.clone().into_bytes()),
    );
    assert_eq!(
        fetch_error(&d),
        Some(&FetchError::ContentType("text/html".into()))
    );
    // charset parameter is fine.
    let d = fetch_case(
        &e,
        "ok64k.test",
        Reply::Plain(
            200,
            "text/plain; charset=utf-8".into(),
            ok.clone().into_bytes(),
        ),
    );
    assert_eq!(d.mode, DecisionMode::Enforce, "{d:?}");

    // Exactly 64 KiB is accepted, one byte more is not.
    let mut exact = policy_text("enforce", &["mx.ok64k.test"], 86_400);
    let pad = 65_536 - exact.len() - "x: \n".len();
    exact.push_str(&format!("x: {}\n", "a".repeat(pad)));
    assert_eq!(exact.len(), 65_536);
    let d = fetch_case(
        &e,
        "ok64k.test",
        Reply::Plain(200, "text/plain".into(), exact.clone().into_bytes()),
    );
    // (the cached policy from above is still valid and has the same id, so
    // force a refetch with a new id)
    let _ = d;
    e.dns.set("_mta-sts.ok64k.test", txt1("v=STSv1; id=2;"));
    let mut opts = e.opts();
    opts.rules.txt_recheck = 0;
    let d = Client::new(opts)
        .unwrap()
        .decide("ok64k.test", "mx.ok64k.test", DaneStatus::NotUsable);
    assert_eq!(
        (d.source, d.mode),
        (Source::Network, DecisionMode::Enforce),
        "{d:?}"
    );
    let mut big = exact;
    big.insert(big.len() - 1, 'a');
    assert_eq!(big.len(), 65_537);
    let d = fetch_case(
        &e,
        "big.test",
        Reply::Plain(200, "text/plain".into(), big.into_bytes()),
    );
    assert_eq!(fetch_error(&d), Some(&FetchError::TooLarge));
}

#[test]
fn rfc8461_3_3_slow_body_times_out() {
    let e = env("trickle", &["slow.test"]);
    let t0 = Instant::now();
    let d = fetch_case(
        &e,
        "slow.test",
        Reply::Trickle(enforce(&["mx.slow.test"]).into_bytes()),
    );
    assert_eq!(fetch_error(&d), Some(&FetchError::Timeout), "{d:?}");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

#[test]
fn rfc8461_3_3_invalid_policy() {
    let e = env("invalid", &["inv.test"]);
    let d = fetch_case(
        &e,
        "inv.test",
        Reply::Plain(
            200,
            "text/plain".into(),
            b"version: STSv2\nmode: enforce\n".to_vec(),
        ),
    );
    assert_eq!(d.mode, DecisionMode::NoPolicy);
    assert_eq!(d.failure, Some(TlsrptFailure::StsPolicyInvalid));
    assert!(matches!(d.error, Some(LookupError::Invalid(_))));
}

#[test]
fn rfc8461_3_3_certificate_must_match_and_be_current() {
    let dir = tempdir("certs");
    let ca = TestCa::new(&dir);
    let dns = DnsServer::start();
    for (tag, leaf) in [
        (
            "wrongname",
            ca.leaf(&["mta-sts.other.test"], Validity::Current),
        ),
        (
            "expired",
            ca.leaf(&["mta-sts.cert.test"], Validity::Expired),
        ),
    ] {
        let https = HttpsServer::start(leaf);
        dns.set("_mta-sts.cert.test", txt1("v=STSv1; id=1;"));
        https.set(
            "mta-sts.cert.test",
            policy_reply(&enforce(&["mx.cert.test"])),
        );
        let c = Client::new(ClientOptions {
            dns_server: Some(dns.addr),
            ca_file: Some(ca.pem_path.clone()),
            https_port: Some(https.port),
            https_connect_override: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            https_total_timeout: Duration::from_secs(2),
            use_env: false,
            ..ClientOptions::default()
        })
        .unwrap();
        let d = c.decide("cert.test", "mx.cert.test", DaneStatus::NotUsable);
        assert!(
            matches!(fetch_error(&d), Some(FetchError::Tls(_))),
            "{tag}: {d:?}"
        );
        assert_eq!(d.failure, Some(TlsrptFailure::StsPolicyFetchError));
        assert_eq!(https.requests(), 0, "{tag}");
    }
    // Default roots (webpki) do not trust the test CA.
    let https = HttpsServer::start(ca.leaf(&["mta-sts.cert.test"], Validity::Current));
    https.set(
        "mta-sts.cert.test",
        policy_reply(&enforce(&["mx.cert.test"])),
    );
    let c = Client::new(ClientOptions {
        dns_server: Some(dns.addr),
        https_port: Some(https.port),
        https_connect_override: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        https_total_timeout: Duration::from_secs(2),
        use_env: false,
        ..ClientOptions::default()
    })
    .unwrap();
    let d = c.decide("cert.test", "mx.cert.test", DaneStatus::NotUsable);
    assert!(matches!(fetch_error(&d), Some(FetchError::Tls(_))), "{d:?}");
}

#[test]
fn rfc8461_3_3_tls_server_that_never_answers_times_out() {
    let e = env("hang", &["hang.test"]);
    e.dns.set("_mta-sts.hang.test", txt1("v=STSv1; id=1;"));
    let mut opts = e.opts();
    opts.https_port = Some(silent_tcp());
    let t0 = Instant::now();
    let d = Client::new(opts)
        .unwrap()
        .decide("hang.test", "mx.hang.test", DaneStatus::NotUsable);
    assert_eq!(fetch_error(&d), Some(&FetchError::Timeout), "{d:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[test]
fn rfc8461_3_3_new_id_refetches_and_mode_can_drop_to_none() {
    let e = env("idchange", &["change.test"]);
    e.publish("change.test", "1", &enforce(&["mx1.change.test"]));
    let mut opts = e.opts();
    opts.rules.txt_recheck = 0; // ask DNS every time
    let c = Client::new(opts).unwrap();
    let d = c.decide("change.test", "mx1.change.test", DaneStatus::NotUsable);
    assert_eq!((d.mode, d.mx_permitted), (DecisionMode::Enforce, true));
    // Same id: no refetch even if the file changed.
    e.https.set(
        "mta-sts.change.test",
        policy_reply(&enforce(&["mx2.change.test"])),
    );
    let d = c.decide("change.test", "mx1.change.test", DaneStatus::NotUsable);
    assert_eq!((d.source, d.mx_permitted), (Source::Cache, true));
    // New id: refetch.
    e.dns.set("_mta-sts.change.test", txt1("v=STSv1; id=2;"));
    let d = c.decide("change.test", "mx2.change.test", DaneStatus::NotUsable);
    assert_eq!((d.source, d.mx_permitted), (Source::Network, true), "{d:?}");
    assert_eq!(d.policy.unwrap().txt_id, "2");
    // enforce -> none.
    e.publish("change.test", "3", &policy_text("none", &[], 86_400));
    let d = c.decide("change.test", "anything.test", DaneStatus::NotUsable);
    assert_eq!(
        (d.mode, d.mx_permitted, d.refuse()),
        (DecisionMode::None, true, false)
    );
    assert_eq!(c.permitted_mx("change.test"), None);
}

#[test]
fn rfc8461_5_1_refusal_rechecks_txt_first() {
    let e = env("recheck", &["rc.test"]);
    e.publish("rc.test", "1", &enforce(&["mx1.rc.test"]));
    let c = e.client(); // TXT re-check every 300 s
    assert!(
        c.decide("rc.test", "mx1.rc.test", DaneStatus::NotUsable)
            .mx_permitted
    );
    // The domain moves to a new MX and publishes a new policy.
    e.publish("rc.test", "2", &enforce(&["mx2.rc.test"]));
    let d = c.decide("rc.test", "mx2.rc.test", DaneStatus::NotUsable);
    assert!(d.mx_permitted, "{d:?}");
    assert_eq!(d.source, Source::Network);
    assert_eq!(d.policy.unwrap().txt_id, "2");
}

#[test]
fn rfc8461_3_3_host_down_keeps_valid_cached_policy_and_backs_off() {
    let e = env("down", &["down.test"]);
    e.publish("down.test", "1", &enforce(&["mx1.down.test"]));
    let mut opts = e.opts();
    opts.rules.txt_recheck = 0;
    let c = Client::new(opts.clone()).unwrap();
    assert_eq!(
        c.decide("down.test", "mx1.down.test", DaneStatus::NotUsable)
            .source,
        Source::Network
    );
    // New id, but the policy host now fails.
    e.dns.set("_mta-sts.down.test", txt1("v=STSv1; id=2;"));
    e.https.set(
        "mta-sts.down.test",
        Reply::Plain(500, "text/plain".into(), Vec::new()),
    );
    let d = c.decide("down.test", "mx1.down.test", DaneStatus::NotUsable);
    assert_eq!(
        (d.mode, d.mx_permitted, d.source),
        (DecisionMode::Enforce, true, Source::Cache),
        "{d:?}"
    );
    assert_eq!(fetch_error(&d), Some(&FetchError::Status(500)));
    let n = e.https.requests();
    // Back-off: the next decisions (also in another process) do not fetch.
    let d = c.decide("down.test", "mx1.down.test", DaneStatus::NotUsable);
    assert_eq!((d.mode, d.mx_permitted), (DecisionMode::Enforce, true));
    let d = Client::new(opts)
        .unwrap()
        .decide("down.test", "mx1.down.test", DaneStatus::NotUsable);
    assert_eq!((d.mode, d.mx_permitted), (DecisionMode::Enforce, true));
    assert_eq!(e.https.requests(), n);
    // The policy host completely unreachable is the same.
    let mut opts2 = e.opts();
    opts2.https_port = Some(closed_port());
    opts2.rules = Rules {
        failure_backoff: 0,
        txt_recheck: 0,
        ..Rules::default()
    };
    let d = Client::new(opts2)
        .unwrap()
        .decide("down.test", "mx1.down.test", DaneStatus::NotUsable);
    assert_eq!(
        (d.mode, d.source),
        (DecisionMode::Enforce, Source::Cache),
        "{d:?}"
    );
    assert!(
        matches!(fetch_error(&d), Some(FetchError::Connect(_))),
        "{d:?}"
    );
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn rfc8461_3_3_expiry_and_removed_record() {
    let e = env("expiry", &["exp.test"]);
    e.publish(
        "exp.test",
        "1",
        &policy_text("enforce", &["mx.exp.test"], 1000),
    );
    let now = Arc::new(AtomicU64::new(1_000_000));
    let mut c = e.client();
    let n2 = now.clone();
    c.set_clock(Arc::new(move || n2.load(Ordering::SeqCst)));
    let d = c.decide("exp.test", "mx.exp.test", DaneStatus::NotUsable);
    assert_eq!(d.policy.as_ref().unwrap().expires_at, 1_001_000);
    // The TXT record disappears: the valid cached policy still applies.
    e.dns.set("_mta-sts.exp.test", DnsAnswer::NxDomain);
    now.store(1_000_500, Ordering::SeqCst);
    let d = c.decide("exp.test", "other.test", DaneStatus::NotUsable);
    assert_eq!((d.mode, d.refuse()), (DecisionMode::Enforce, true));
    // After max_age it is gone.
    now.store(1_001_000, Ordering::SeqCst);
    let d = c.decide("exp.test", "other.test", DaneStatus::NotUsable);
    assert_eq!((d.mode, d.refuse()), (DecisionMode::NoPolicy, false));
}

#[test]
fn refresh_all_renews_near_expiry_and_drops_dead_entries() {
    let e = env("refresh", &["r1.test", "r2.test"]);
    e.publish(
        "r1.test",
        "1",
        &policy_text("enforce", &["mx.r1.test"], 1000),
    );
    e.publish(
        "r2.test",
        "1",
        &policy_text("testing", &["mx.r2.test"], 1000),
    );
    let now = Arc::new(AtomicU64::new(5_000_000));
    let mut c = e.client();
    let n2 = now.clone();
    c.set_clock(Arc::new(move || n2.load(Ordering::SeqCst)));
    c.decide("r1.test", "mx.r1.test", DaneStatus::NotUsable);
    c.decide("r2.test", "mx.r2.test", DaneStatus::NotUsable);
    let report = c.refresh_all();
    assert_eq!(
        (report.checked, report.refreshed, report.removed),
        (2, 0, 0)
    );
    // Near expiry: r1 is renewed; r2 withdrew its record and expires.
    now.store(5_000_900, Ordering::SeqCst);
    e.dns.set("_mta-sts.r2.test", DnsAnswer::NxDomain);
    let report = c.refresh_all();
    assert_eq!(
        (report.checked, report.refreshed, report.removed),
        (2, 1, 0),
        "{report:?}"
    );
    assert_eq!(c.lookup("r1.test").policy.unwrap().expires_at, 5_001_900);
    now.store(5_001_100, Ordering::SeqCst);
    let report = c.refresh_all();
    assert_eq!(report.removed, 1, "{report:?}");
    assert_eq!(c.cache().domains().unwrap(), ["r1.test"]);
}

#[test]
fn idna_u_label_domain() {
    let e = env("idna", &["xn--bcher-kva.test"]);
    e.publish(
        "xn--bcher-kva.test",
        "7",
        &enforce(&["mx.xn--bcher-kva.test"]),
    );
    let d = e
        .client()
        .decide("Bücher.test", "mx.bücher.test", DaneStatus::NotUsable);
    assert_eq!(d.domain, "xn--bcher-kva.test");
    assert_eq!(d.mx_host, "mx.xn--bcher-kva.test");
    assert_eq!(
        (d.mode, d.mx_permitted),
        (DecisionMode::Enforce, true),
        "{d:?}"
    );
}

struct TableResolver;
impl TxtResolver for TableResolver {
    fn lookup_txt(&self, name: &str) -> Result<Vec<Vec<u8>>, DnsError> {
        match name {
            "_mta-sts.cb.test" => Ok(vec![b"v=STSv1; id=cb1;".to_vec()]),
            "_mta-sts.fail.test" => Err(DnsError::ServFail),
            _ => Err(DnsError::NxDomain),
        }
    }
}

#[test]
fn host_supplied_txt_resolver() {
    let e = env("callback", &["cb.test"]);
    e.https
        .set("mta-sts.cb.test", policy_reply(&enforce(&["mx.cb.test"])));
    let c = Client::with_resolver(e.opts(), Arc::new(TableResolver)).unwrap();
    let d = c.decide("cb.test", "mx.cb.test", DaneStatus::NotUsable);
    assert_eq!(
        (d.mode, d.mx_permitted),
        (DecisionMode::Enforce, true),
        "{d:?}"
    );
    let d = c.decide("fail.test", "mx.cb.test", DaneStatus::NotUsable);
    assert_eq!(d.error, Some(LookupError::Dns(DnsError::ServFail)));
    assert_eq!(e.dns.queries(), 0);
}

#[test]
fn bad_domain_is_no_policy() {
    let e = env("baddomain", &[]);
    let d = e
        .client()
        .decide("not a domain", "mx.test", DaneStatus::NotUsable);
    assert_eq!(d.mode, DecisionMode::NoPolicy);
    assert!(matches!(d.error, Some(LookupError::BadDomain(_))));
}

#[test]
fn chunked_bodies_are_bounded_too() {
    let e = env("chunked", &["chunk.test", "chunkbig.test", "raw.test"]);
    let ok = enforce(&["mx.chunk.test"]);
    let d = fetch_case(&e, "chunk.test", Reply::Chunked(ok.into_bytes()));
    assert_eq!(
        (d.mode, d.source),
        (DecisionMode::Enforce, Source::Network),
        "{d:?}"
    );
    // 1 MiB, chunked, no Content-Length: stops at 64 KiB.
    let big = vec![b'a'; 1 << 20];
    let d = fetch_case(&e, "chunkbig.test", Reply::Chunked(big));
    assert_eq!(fetch_error(&d), Some(&FetchError::TooLarge), "{d:?}");
    // Not HTTP at all.
    let d = fetch_case(
        &e,
        "raw.test",
        Reply::Raw(b"SSH-2.0-OpenSSH\r\n\0\xff".to_vec()),
    );
    assert!(
        matches!(fetch_error(&d), Some(FetchError::Http(_))),
        "{d:?}"
    );
    assert_eq!(d.failure, Some(TlsrptFailure::StsPolicyFetchError));
}

#[test]
fn garbage_dns_answers_are_ignored() {
    let e = env("garbage", &[]);
    e.dns.set(
        "_mta-sts.garbage.test",
        DnsAnswer::Garbage(vec![0x81, 0x80, 0, 1, 0, 5, 0xff, 0xff]),
    );
    let d = e
        .client()
        .decide("garbage.test", "mx.garbage.test", DaneStatus::NotUsable);
    assert_eq!(d.mode, DecisionMode::NoPolicy);
    assert_eq!(d.error, Some(LookupError::Dns(DnsError::Timeout)));
}

#[test]
fn dns_tries_the_next_server() {
    let e = env("nextserver", &["next.test"]);
    e.publish("next.test", "n1", &enforce(&["mx.next.test"]));
    // A UDP socket that never answers.
    let hole = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = sts_client::dns::DnsResolver::with_servers(
        vec![hole.local_addr().unwrap(), e.dns.addr],
        Duration::from_millis(200),
        2,
    );
    let t0 = Instant::now();
    let c = Client::with_resolver(e.opts(), Arc::new(resolver)).unwrap();
    let d = c.decide("next.test", "mx.next.test", DaneStatus::NotUsable);
    assert_eq!(
        (d.mode, d.mx_permitted),
        (DecisionMode::Enforce, true),
        "{d:?}"
    );
    assert!(t0.elapsed() >= Duration::from_millis(200));
}
