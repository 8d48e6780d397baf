//! The socketmap server against real loopback DNS (with the AD bit) and
//! HTTPS policy servers, spoken to over TCP and Unix sockets as Postfix
//! does: answers by map name, DANE first, cached policies through DNS
//! failures, TLSRPT records of fetch errors, and hostile clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use sts_client::{Client, ClientOptions};
use sts_server::{ListenAddr, Server, ServerOptions};
use sts_test_support::zone;
use sts_test_support::{policy_reply, policy_text, DnsAnswer, Loopback, Reply};

type Env = Loopback;

fn env(tag: &str, domains: &[&str]) -> Env {
    let l = Loopback::start(&format!("serve-{tag}"), domains);
    // No SOA with negative answers: the client's own negative TTL applies.
    l.dns.set_negative_ttl(None);
    l
}

/// The client and server settings that use the loopback servers.
trait Settings {
    fn client_opts(&self) -> ClientOptions;
    fn publish_mx(&self, domain: &str, id: &str, policy: &str, mx: &[(u16, &str)]);
    fn serve(&self, tweak: impl FnOnce(&mut ServerOptions, &mut ClientOptions)) -> Running;
}

impl Settings for Env {
    fn client_opts(&self) -> ClientOptions {
        ClientOptions {
            dns_server: Some(self.dns.addr),
            ca_file: Some(self.ca.pem_path.clone()),
            https_port: Some(self.https.port),
            cache_path: Some(self.dir.join("cache")),
            https_connect_override: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            dns_timeout: Duration::from_millis(300),
            dns_attempts: 1,
            https_connect_timeout: Duration::from_secs(1),
            https_total_timeout: Duration::from_secs(2),
            use_env: false,
            ..ClientOptions::default()
        }
    }

    /// TXT id, policy, and MX records for `domain`.
    fn publish_mx(&self, domain: &str, id: &str, policy: &str, mx: &[(u16, &str)]) {
        self.publish(domain, id, policy);
        if !mx.is_empty() {
            self.dns.records(
                domain,
                RecordType::MX,
                mx.iter().map(|(p, h)| zone::mx(*p, h)).collect(),
            );
        }
    }

    fn serve(&self, tweak: impl FnOnce(&mut ServerOptions, &mut ClientOptions)) -> Running {
        let mut opts = ServerOptions {
            listen: vec![ListenAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 0)))],
            metrics: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            report_dir: Some(self.dir.join("tlsrpt")),
            ..ServerOptions::default()
        };
        let mut copts = self.client_opts();
        tweak(&mut opts, &mut copts);
        let server = Server::bind(Client::new(copts).unwrap(), opts).unwrap();
        let addrs = server.local_addrs();
        let metrics = server.metrics_addr();
        let stop = server.stop_flag();
        let thread = Some(std::thread::spawn(move || server.run()));
        Running {
            addrs,
            metrics,
            stop,
            thread,
        }
    }
}

/// A server running on its own thread; stopped when dropped.
struct Running {
    addrs: Vec<ListenAddr>,
    metrics: Option<SocketAddr>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    fn tcp(&self) -> SocketAddr {
        match &self.addrs[0] {
            ListenAddr::Inet(a) => *a,
            ListenAddr::Unix(_) => panic!("not inet"),
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.tcp()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// One request on a fresh connection.
    fn ask(&self, request: &str) -> String {
        ask(&mut self.connect(), request)
    }

    fn scrape(&self) -> String {
        let mut s = TcpStream::connect(self.metrics.unwrap()).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn request(r: &str) -> Vec<u8> {
    format!("{}:{r},", r.len()).into_bytes()
}

fn read_reply(s: &mut impl Read) -> String {
    let mut len = Vec::new();
    let mut b = [0u8; 1];
    loop {
        s.read_exact(&mut b).unwrap();
        if b[0] == b':' {
            break;
        }
        len.push(b[0]);
    }
    let n: usize = String::from_utf8(len).unwrap().parse().unwrap();
    let mut data = vec![0u8; n + 1];
    s.read_exact(&mut data).unwrap();
    assert_eq!(data.pop(), Some(b','));
    String::from_utf8(data).unwrap()
}

fn ask(s: &mut (impl Read + Write), r: &str) -> String {
    s.write_all(&request(r)).unwrap();
    read_reply(s)
}

/// Whether the server closed the connection (EOF or reset) rather than
/// leaving it open until the test's own timeout.
fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut b = [0u8; 64];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

fn enforce(mx: &[&str]) -> String {
    policy_text("enforce", mx, 86_400)
}

#[test]
fn rfc8461_4_1_match_lists_the_exact_permitted_mx_hosts_one_label_wildcard() {
    let e = env("match", &["shop.test"]);
    e.publish_mx(
        "shop.test",
        "1",
        &enforce(&["*.mx.shop.test", "backup.shop.test"]),
        &[
            (10, "a.mx.shop.test"),
            (20, "deep.a.mx.shop.test"),
            (30, "backup.shop.test"),
            (40, "elsewhere.test"),
        ],
    );
    let srv = e.serve(|_, _| {});
    assert_eq!(
        srv.ask("postfix shop.test"),
        "OK secure match=a.mx.shop.test:backup.shop.test servername=hostname"
    );
}

#[test]
fn rfc5321_5_1_no_mx_records_means_the_domain_is_the_mx() {
    let e = env("implicit", &["solo.test"]);
    e.publish_mx("solo.test", "1", &enforce(&["solo.test"]), &[]);
    e.dns
        .records("solo.test", RecordType::A, vec![zone::a([127, 0, 0, 9])]);
    let srv = e.serve(|_, _| {});
    assert_eq!(
        srv.ask("postfix solo.test"),
        "OK secure match=solo.test servername=hostname"
    );
}

#[test]
fn rfc8461_4_1_no_permitted_mx_is_temp_naming_mta_sts_and_the_domain() {
    let e = env("nomatch", &["none-ok.test"]);
    e.publish_mx(
        "none-ok.test",
        "1",
        &enforce(&["*.good.test"]),
        &[(10, "mx.bad.test"), (20, "a.b.good.test")],
    );
    let srv = e.serve(|_, _| {});
    let r = srv.ask("postfix none-ok.test");
    assert!(r.starts_with("TEMP "), "{r}");
    assert!(r.contains("MTA-STS") && r.contains("none-ok.test"), "{r}");
    assert!(!r.contains("match="), "{r}");
}

#[test]
fn postfix_tlsrpt_map_adds_the_sts_plugin_attributes() {
    let e = env("tlsrpt", &["shop.test"]);
    let policy = "version: STSv1\r\nmode: enforce\r\nmx: *.mx.shop.test\r\nmx: mail.shop.test\r\nmax_age: 86400\r\n";
    e.publish_mx(
        "shop.test",
        "7",
        policy,
        &[(10, "mail.shop.test"), (20, "b.mx.shop.test")],
    );
    let srv = e.serve(|_, _| {});
    assert_eq!(
        srv.ask("postfix-tlsrpt shop.test"),
        "OK secure match=mail.shop.test:b.mx.shop.test servername=hostname \
         policy_type=sts policy_domain=shop.test \
         mx_host_pattern=*.mx.shop.test mx_host_pattern=mail.shop.test \
         { policy_string = version: STSv1 } { policy_string = mode: enforce } \
         { policy_string = mx: *.mx.shop.test } { policy_string = mx: mail.shop.test } \
         { policy_string = max_age: 86400 }"
    );
    // The classic map on the same server never gets the attributes
    // (Postfix before 3.10 rejects them).
    assert_eq!(
        srv.ask("postfix shop.test"),
        "OK secure match=mail.shop.test:b.mx.shop.test servername=hostname"
    );
}

#[test]
fn rfc8461_5_testing_none_and_no_policy_are_notfound() {
    let e = env("modes", &["t.test", "n.test"]);
    e.publish_mx(
        "t.test",
        "1",
        &policy_text("testing", &["mx.t.test"], 86_400),
        &[(10, "other.test")],
    );
    e.publish_mx(
        "n.test",
        "1",
        "version: STSv1\nmode: none\nmax_age: 86400\n",
        &[],
    );
    e.dns.records(
        "plain.test",
        RecordType::MX,
        vec![zone::mx(10, "mx.plain.test")],
    );
    let srv = e.serve(|_, _| {});
    for d in ["t.test", "n.test", "plain.test", "nxdomain.test"] {
        for map in ["postfix", "postfix-tlsrpt"] {
            assert_eq!(srv.ask(&format!("{map} {d}")), "NOTFOUND ", "{map} {d}");
        }
    }
}

#[test]
fn parent_domain_probes_and_ip_literals_are_notfound_without_dns() {
    let e = env("keys", &[]);
    let srv = e.serve(|_, _| {});
    let before = e.dns.queries();
    for key in [
        ".shop.test",
        "192.0.2.1",
        "[192.0.2.1]",
        "2001:db8::1",
        "bad..name",
    ] {
        assert_eq!(srv.ask(&format!("postfix {key}")), "NOTFOUND ", "{key}");
    }
    assert_eq!(e.dns.queries(), before);
}

#[test]
fn unknown_map_name_or_no_key_is_perm() {
    let e = env("perm", &[]);
    let srv = e.serve(|_, _| {});
    assert!(srv.ask("exim shop.test").starts_with("PERM "));
    assert!(srv.ask("postfix").starts_with("PERM "));
}

#[test]
fn rfc8461_2_authenticated_tlsa_records_make_the_answer_dane_only() {
    let e = env("dane", &["dane.test", "unsigned.test"]);
    for d in ["dane.test", "unsigned.test"] {
        e.publish_mx(
            d,
            "1",
            &enforce(&[&format!("mx.{d}")]),
            &[(10, &format!("mx.{d}"))],
        );
    }
    e.dns.set_type(
        "_25._tcp.mx.dane.test",
        RecordType::TLSA,
        DnsAnswer::Authenticated(vec![zone::tlsa_3_1_1([7; 32])]),
    );
    // The same records without AD: not validated, so not DANE.
    e.dns.records(
        "_25._tcp.mx.unsigned.test",
        RecordType::TLSA,
        vec![zone::tlsa_3_1_1([7; 32])],
    );
    let srv = e.serve(|_, _| {});
    assert_eq!(srv.ask("postfix dane.test"), "OK dane-only");
    assert_eq!(srv.ask("postfix-tlsrpt dane.test"), "OK dane-only");
    assert_eq!(
        srv.ask("postfix unsigned.test"),
        "OK secure match=mx.unsigned.test servername=hostname"
    );
}

#[test]
fn rfc7672_tlsa_lookup_failure_for_an_enforce_domain_is_temp_never_a_downgrade() {
    let e = env("danefail", &["df.test"]);
    e.publish_mx(
        "df.test",
        "1",
        &enforce(&["mx.df.test"]),
        &[(10, "mx.df.test")],
    );
    e.dns
        .set_type("_25._tcp.mx.df.test", RecordType::TLSA, DnsAnswer::ServFail);
    let srv = e.serve(|_, _| {});
    let r = srv.ask("postfix df.test");
    assert!(r.starts_with("TEMP ") && r.contains("TLSA"), "{r}");
}

#[test]
fn rfc8461_3_3_dns_failure_keeps_serving_the_cached_policy() {
    let e = env("dnsfail", &["keep.test"]);
    e.publish_mx(
        "keep.test",
        "1",
        &enforce(&["mx.keep.test"]),
        &[(10, "mx.keep.test")],
    );
    let mut srv = e.serve(|o, _| o.memo_ttl = Duration::ZERO);
    let want = "OK secure match=mx.keep.test servername=hostname";
    assert_eq!(srv.ask("postfix keep.test"), want);
    srv.stop();
    // A new server process on the same cache, DNS for the TXT record now
    // failing, and every TXT answer due for a re-check.
    e.dns
        .set_type("_mta-sts.keep.test", RecordType::TXT, DnsAnswer::ServFail);
    e.https.set(
        "mta-sts.keep.test",
        Reply::Plain(500, "text/plain".into(), vec![]),
    );
    let srv = e.serve(|o, c| {
        o.memo_ttl = Duration::ZERO;
        c.rules.txt_recheck = 0;
    });
    assert_eq!(srv.ask("postfix keep.test"), want);
    assert_eq!(srv.ask("postfix keep.test"), want);
}

#[test]
fn rfc8460_4_3_fetch_failure_with_nothing_cached_is_notfound_and_recorded() {
    let e = env("fetchfail", &["broken.test"]);
    e.publish_mx(
        "broken.test",
        "1",
        &enforce(&["mx.broken.test"]),
        &[(10, "mx.broken.test")],
    );
    e.https.set(
        "mta-sts.broken.test",
        Reply::Plain(404, "text/plain".into(), b"no".to_vec()),
    );
    let srv = e.serve(|_, _| {});
    assert_eq!(srv.ask("postfix broken.test"), "NOTFOUND ");
    let outcomes = e.dir.join("tlsrpt").join("outcomes");
    let text: String = std::fs::read_dir(&outcomes)
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    let line = text
        .lines()
        .find(|l| l.contains("broken.test"))
        .unwrap_or_else(|| panic!("no outcome for broken.test in {text:?}"));
    assert!(line.contains("sts-policy-fetch-error"), "{line}");
    assert!(srv.scrape().contains("sts_serve_tlsrpt_recorded_total 1"));
}

#[test]
fn rfc8461_3_3_requests_never_wait_for_a_refresh_which_runs_in_the_background() {
    let e = env("bg", &["bg.test"]);
    e.publish_mx(
        "bg.test",
        "1",
        &enforce(&["mx1.bg.test"]),
        &[(10, "mx1.bg.test"), (20, "mx2.bg.test")],
    );
    let srv = e.serve(|o, c| {
        o.memo_ttl = Duration::ZERO;
        c.rules.txt_recheck = 0;
    });
    let old = "OK secure match=mx1.bg.test servername=hostname";
    let new = "OK secure match=mx2.bg.test servername=hostname";
    assert_eq!(srv.ask("postfix bg.test"), old);
    let fetches_before = e.https.requests();
    // A new policy under a new id; its host answers, but the request in
    // flight is answered from the still-valid cached policy.
    e.publish_mx(
        "bg.test",
        "2",
        &enforce(&["mx2.bg.test"]),
        &[(10, "mx1.bg.test"), (20, "mx2.bg.test")],
    );
    e.https.set(
        "mta-sts.bg.test",
        Reply::Trickle(enforce(&["mx2.bg.test"]).into_bytes()),
    );
    assert_eq!(srv.ask("postfix bg.test"), old);
    // The trickling host makes the background fetch fail (timeout): the
    // cached policy stays in force.
    e.https
        .set("mta-sts.bg.test", policy_reply(&enforce(&["mx2.bg.test"])));
    let until = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < until {
        last = srv.ask("postfix bg.test");
        if last == new {
            break;
        }
        assert_eq!(last, old);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(last, new);
    assert!(e.https.requests() > fetches_before);
}

#[test]
fn requests_on_one_connection_are_answered_in_order_even_when_pipelined() {
    let e = env("order", &["a.test", "b.test"]);
    e.publish_mx(
        "a.test",
        "1",
        &enforce(&["mx.a.test"]),
        &[(10, "mx.a.test")],
    );
    let srv = e.serve(|_, _| {});
    let mut s = srv.connect();
    let mut all = Vec::new();
    for k in [
        "postfix a.test",
        ".a.test",
        "postfix a.test",
        "postfix b.test",
    ] {
        let k = if k.starts_with('.') {
            format!("postfix {k}")
        } else {
            k.to_owned()
        };
        all.extend(request(&k));
    }
    s.write_all(&all).unwrap();
    let replies: Vec<String> = (0..4).map(|_| read_reply(&mut s)).collect();
    assert_eq!(
        replies,
        [
            "OK secure match=mx.a.test servername=hostname",
            "NOTFOUND ",
            "OK secure match=mx.a.test servername=hostname",
            "NOTFOUND ",
        ]
    );
}

#[test]
fn hundreds_of_concurrent_connections_are_all_answered() {
    let e = env("many", &["m.test"]);
    e.publish_mx(
        "m.test",
        "1",
        &enforce(&["mx.m.test"]),
        &[(10, "mx.m.test")],
    );
    let srv = e.serve(|_, _| {});
    let want = "OK secure match=mx.m.test servername=hostname";
    assert_eq!(srv.ask("postfix m.test"), want);
    let mut conns: Vec<TcpStream> = (0..300).map(|_| srv.connect()).collect();
    for round in 0..3 {
        for c in &mut conns {
            c.write_all(&request("postfix m.test")).unwrap();
        }
        for c in &mut conns {
            assert_eq!(read_reply(c), want, "round {round}");
        }
    }
    // The 300 held open (the first, closed one may not be counted out yet).
    let m = srv.scrape();
    let open: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("sts_serve_connections_open "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((300..=301).contains(&open), "{open}");
}

#[test]
fn malformed_or_oversized_netstrings_close_the_connection() {
    let e = env("bad", &[]);
    let srv = e.serve(|_, _| {});
    for junk in [
        &b"GET / HTTP/1.0\r\n\r\n"[..],
        b"12x",
        b"5:abcdeX",
        b"99999:",
        b"10001:",
    ] {
        let mut s = srv.connect();
        s.write_all(junk).unwrap();
        assert!(closed(&mut s), "{:?}", String::from_utf8_lossy(junk));
    }
    // A query of exactly 10,000 bytes is still a query.
    let mut s = srv.connect();
    let key = format!("postfix {}", "a".repeat(10_000 - 8));
    assert_eq!(ask(&mut s, &key), "NOTFOUND ");
    assert!(srv.scrape().contains("sts_serve_bad_requests_total 5"));
}

#[test]
fn a_client_sending_one_byte_at_a_time_is_cut_off_after_the_request_timeout() {
    let e = env("slow", &[]);
    let srv = e.serve(|o, _| o.request_timeout = Duration::from_secs(1));
    let mut s = srv.connect();
    let req = request("postfix slow.test");
    let mut cut = false;
    for b in req.iter().take(req.len() - 1).cycle().take(60) {
        if s.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(cut || closed(&mut s));
    assert!(srv.scrape().contains("sts_serve_slow_requests_total 1"));
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let e = env("idle", &[]);
    let srv = e.serve(|o, _| o.idle_timeout = Duration::from_millis(300));
    let mut s = srv.connect();
    assert_eq!(ask(&mut s, "postfix idle.test"), "NOTFOUND ");
    assert!(closed(&mut s));
}

#[test]
fn unix_socket_listener_and_removal_on_stop() {
    let e = env("unix", &["u.test"]);
    e.publish_mx(
        "u.test",
        "1",
        &enforce(&["mx.u.test"]),
        &[(10, "mx.u.test")],
    );
    let path = e.dir.join("sts.sock");
    let mut srv = e.serve(|o, _| o.listen.push(ListenAddr::Unix(path.clone())));
    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(
        ask(&mut s, "postfix u.test"),
        "OK secure match=mx.u.test servername=hostname"
    );
    drop(s);
    srv.stop();
    assert!(!path.exists());
}

#[test]
fn stop_finishes_the_request_in_flight() {
    let e = env("stop", &["late.test"]);
    e.publish_mx(
        "late.test",
        "1",
        &enforce(&["mx.late.test"]),
        &[(10, "mx.late.test")],
    );
    // The policy host sends its body slowly: the request is in flight
    // when the stop comes.
    e.https.set(
        "mta-sts.late.test",
        Reply::Trickle(b"version: STSv1\n".to_vec()),
    );
    let mut srv = e.serve(|_, _| {});
    let mut s = srv.connect();
    s.write_all(&request("postfix late.test")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    srv.stop.store(true, Ordering::SeqCst);
    // The answer still comes (the fetch times out: no policy).
    assert_eq!(read_reply(&mut s), "NOTFOUND ");
    srv.stop();
}

#[test]
fn metrics_are_prometheus_text() {
    let e = env("metrics", &["p.test"]);
    e.publish_mx(
        "p.test",
        "1",
        &enforce(&["mx.p.test"]),
        &[(10, "mx.p.test")],
    );
    let srv = e.serve(|_, _| {});
    srv.ask("postfix p.test");
    srv.ask("postfix p.test");
    srv.ask("postfix .p.test");
    let m = srv.scrape();
    assert!(m.starts_with("HTTP/1.1 200 OK\r\n"), "{m}");
    for want in [
        "sts_serve_requests_total{answer=\"secure\"} 2",
        "sts_serve_requests_total{answer=\"notfound\"} 1",
        "sts_serve_fetches_total 1",
        "sts_serve_cache_entries 1",
        "sts_serve_answer_seconds_count 3",
        "# TYPE sts_serve_answer_seconds histogram",
    ] {
        assert!(m.contains(want), "{want} missing in\n{m}");
    }
}
