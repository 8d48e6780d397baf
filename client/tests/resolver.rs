//! Every lookup goes to the configured DNS server, and what it says is
//! remembered as long as it allows: the policy host's address comes from
//! the same server as the TXT record (no system resolver, no
//! `STS_HTTPS_CONNECT`), and a domain without a policy costs one query per
//! negative TTL, not one per delivery.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::RData;
use sts_client::refresh::Rules;
use sts_client::{Client, ClientOptions, DaneStatus, DecisionMode, Source};

fn loopback_a() -> DnsAnswer {
    DnsAnswer::Records(vec![RData::A(A(Ipv4Addr::LOCALHOST))])
}

fn options(dns: &DnsServer, ca: &TestCa, https_port: u16) -> ClientOptions {
    ClientOptions {
        dns_server: Some(dns.addr),
        ca_file: Some(ca.pem_path.clone()),
        https_port: Some(https_port),
        dns_timeout: Duration::from_millis(500),
        dns_attempts: 2,
        https_total_timeout: Duration::from_secs(10),
        // Only what is written here: no STS_HTTPS_CONNECT from outside.
        use_env: false,
        ..ClientOptions::default()
    }
}

#[test]
fn rfc8461_3_3_policy_host_resolved_by_the_configured_server() {
    let dir = tempdir("resolver");
    let ca = TestCa::new(&dir);
    let dns = DnsServer::start();
    let https = HttpsServer::start(ca.leaf(
        &["mta-sts.only-here.test", "mta-sts.cname.test"],
        Validity::Current,
    ));
    let text = policy_text("enforce", &["mx.only-here.test"], 86_400);
    https.set("mta-sts.only-here.test", policy_reply(&text));
    https.set("mta-sts.cname.test", policy_reply(&text));
    dns.set("_mta-sts.only-here.test", txt1("v=STSv1; id=a1;"));
    // Only the test server knows this name: the system resolver would say
    // it does not exist.
    dns.set("mta-sts.only-here.test", loopback_a());
    // A CNAME to a name with the address (RFC 8461 §3.3 fetches from the
    // host name; the address may be anywhere).
    dns.set("_mta-sts.cname.test", txt1("v=STSv1; id=c1;"));
    dns.set(
        "mta-sts.cname.test",
        DnsAnswer::Cname("policy-host.cname.test".into()),
    );
    dns.set("policy-host.cname.test", loopback_a());

    let c = Client::new(options(&dns, &ca, https.port)).unwrap();
    assert_eq!(c.options().https_connect_override, None);
    for domain in ["only-here.test", "cname.test"] {
        let look = c.lookup(domain);
        assert_eq!(look.source, Source::Network, "{domain}: {look:?}");
        let p = look.policy.unwrap_or_else(|| panic!("{domain}: no policy"));
        assert_eq!(&*p.text, text.as_bytes());
    }
    assert_eq!(https.requests(), 2);

    // A policy host the server does not know fails as a fetch error, with
    // no fallback anywhere.
    dns.set("_mta-sts.unknown-host.test", txt1("v=STSv1; id=u1;"));
    let look = c.lookup("unknown-host.test");
    assert!(look.policy.is_none());
    assert!(
        look.error
            .as_ref()
            .is_some_and(|e| e.to_string().contains("mta-sts.unknown-host.test")),
        "{look:?}"
    );
    assert_eq!(https.requests(), 2);
}

/// A clock the test moves by hand.
fn fake_clock(c: &mut Client, start: u64) -> Arc<AtomicU64> {
    let now = Arc::new(AtomicU64::new(start));
    let n = now.clone();
    c.set_clock(Arc::new(move || n.load(Ordering::SeqCst)));
    now
}

#[test]
fn rfc8461_3_2_no_policy_costs_one_query_per_negative_ttl() {
    let dir = tempdir("negative");
    let ca = TestCa::new(&dir);
    let dns = DnsServer::start();
    dns.set_negative_ttl(Some(900));
    let https = HttpsServer::start(ca.leaf(&["mta-sts.later.test"], Validity::Current));
    let cache = dir.join("cache");
    let opts = ClientOptions {
        cache_path: Some(cache.clone()),
        rules: Rules {
            txt_recheck: 300,
            ..Rules::default()
        },
        ..options(&dns, &ca, https.port)
    };

    // 1,000 decisions, each by a new client as in a process forked per
    // delivery, sharing the on-disk cache.
    let before = dns.queries();
    for _ in 0..1000 {
        let mut c = Client::new(opts.clone()).unwrap();
        fake_clock(&mut c, 1_000_000);
        let d = c.decide("later.test", "mx.later.test", DaneStatus::NotUsable);
        assert_eq!(d.mode, DecisionMode::NoPolicy);
        assert!(!d.refuse());
    }
    let queries = dns.queries() - before;
    eprintln!("1000 decisions for a domain without a policy: {queries} DNS queries");
    assert_eq!(queries, 1);

    // The next lookup says where the answer came from.
    let mut c = Client::new(opts.clone()).unwrap();
    let now = fake_clock(&mut c, 1_000_500);
    assert_eq!(c.lookup("later.test").source, Source::Cache);

    // The domain publishes a policy. Until the negative TTL ends the old
    // answer stands; after it, the policy is found.
    let text = policy_text("enforce", &["mx.later.test"], 86_400);
    https.set("mta-sts.later.test", policy_reply(&text));
    dns.set("mta-sts.later.test", loopback_a());
    dns.set("_mta-sts.later.test", txt1("v=STSv1; id=new1;"));
    now.store(1_000_899, Ordering::SeqCst);
    assert!(c.lookup("later.test").policy.is_none());
    now.store(1_000_900, Ordering::SeqCst);
    let look = c.lookup("later.test");
    assert_eq!(look.source, Source::Network, "{look:?}");
    assert_eq!(look.policy.unwrap().mode, sts_core::Mode::Enforce);
    let d = c.decide("later.test", "mx.other.test", DaneStatus::NotUsable);
    assert!(d.refuse());
}

#[test]
fn rfc2308_5_negative_ttl_is_capped_and_floored() {
    let dir = tempdir("negcap");
    let ca = TestCa::new(&dir);
    let dns = DnsServer::start();
    let opts = options(&dns, &ca, 9);
    for (soa, remembered) in [(Some(86_400), 3600), (Some(5), 60), (None, 60)] {
        dns.set_negative_ttl(soa);
        let mut c = Client::new(opts.clone()).unwrap();
        let now = fake_clock(&mut c, 5_000_000);
        let before = dns.queries();
        c.lookup("none.test");
        now.store(5_000_000 + remembered - 1, Ordering::SeqCst);
        c.lookup("none.test");
        assert_eq!(
            dns.queries() - before,
            1,
            "SOA {soa:?}: asked again too early"
        );
        now.store(5_000_000 + remembered, Ordering::SeqCst);
        c.lookup("none.test");
        assert_eq!(
            dns.queries() - before,
            2,
            "SOA {soa:?}: not asked again after {remembered} s"
        );
    }
}

#[test]
fn temporary_dns_failure_is_not_remembered_as_no_policy() {
    let dir = tempdir("servfail");
    let ca = TestCa::new(&dir);
    let dns = DnsServer::start();
    dns.set("_mta-sts.flaky.test", DnsAnswer::ServFail);
    let c = Client::new(options(&dns, &ca, 9)).unwrap();
    c.lookup("flaky.test");
    let before = dns.queries();
    c.lookup("flaky.test");
    assert!(dns.queries() > before, "a SERVFAIL was cached");
}

#[test]
fn zero_txt_recheck_asks_dns_for_every_decision() {
    let dir = tempdir("recheck0");
    let ca = TestCa::new(&dir);
    let dns = DnsServer::start();
    let c = Client::new(ClientOptions {
        rules: Rules {
            txt_recheck: 0,
            ..Rules::default()
        },
        ..options(&dns, &ca, 9)
    })
    .unwrap();
    let before = dns.queries();
    c.lookup("none.test");
    c.lookup("none.test");
    assert_eq!(dns.queries() - before, 2);
}
