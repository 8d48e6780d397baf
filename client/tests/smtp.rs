//! The STARTTLS probe against loopback SMTP servers of sts-test-support.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use sts_client::smtp::{self, ProbeOptions, SmtpError, StartTls, TlsVersion};
use sts_test_support::smtp::{SmtpMode, SmtpServer};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn opts(timeout: Duration) -> ProbeOptions {
    ProbeOptions {
        ehlo_name: "probe.test".into(),
        timeout,
    }
}

#[test]
fn rfc3207_starttls_handshake_keeps_chain_and_quits_without_mail() {
    let dir = tempdir("smtp-good");
    let ca = TestCa::new(&dir);
    let leaf = ca.leaf(&["mx.probe.test"], Validity::Current);
    let leaf_der = leaf.chain[0].as_ref().to_vec();
    let server = SmtpServer::start(LOOPBACK, SmtpMode::StartTls(leaf.server_config()));
    let p = smtp::probe(server.addr, "mx.probe.test", &opts(Duration::from_secs(5))).unwrap();
    assert_eq!(p.starttls, StartTls::Offered);
    let tls = p.tls.unwrap();
    assert_eq!(tls.version, TlsVersion::Tls13);
    assert_eq!(tls.chain, vec![leaf_der.clone()]);
    // rcgen's default validity ends in 4096; the point is that it parses
    // to a time after now.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(smtp::not_after(&leaf_der).unwrap() > now);
    // Wait for the server thread to log the QUIT it answered.
    let t0 = Instant::now();
    while !server.commands().iter().any(|c| c == "tls: QUIT") && t0.elapsed().as_secs() < 5 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let cmds = server.commands();
    assert_eq!(
        cmds,
        ["EHLO probe.test", "STARTTLS", "tls: QUIT"],
        "{cmds:?}"
    );
}

#[test]
fn rfc5280_4_1_2_5_not_after_of_expired_certificate() {
    let dir = tempdir("smtp-expired");
    let ca = TestCa::new(&dir);
    let leaf = ca.leaf(&["mx.probe.test"], Validity::Expired);
    // 2021-01-01T00:00:00Z
    assert_eq!(smtp::not_after(leaf.chain[0].as_ref()), Some(1_609_459_200));
}

#[test]
fn rfc3207_no_starttls_offered() {
    let server = SmtpServer::start(LOOPBACK, SmtpMode::Plain);
    let p = smtp::probe(server.addr, "mx.probe.test", &opts(Duration::from_secs(5))).unwrap();
    assert_eq!(p.starttls, StartTls::NotOffered);
    assert!(p.tls.is_none());
}

#[test]
fn silent_server_is_a_timeout() {
    let server = SmtpServer::start(LOOPBACK, SmtpMode::Silent);
    let e = smtp::probe(
        server.addr,
        "mx.probe.test",
        &opts(Duration::from_millis(500)),
    );
    assert_eq!(e.unwrap_err(), SmtpError::Timeout);
}

#[test]
fn refused_connection() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = std::net::SocketAddr::new(LOOPBACK, port);
    let e = smtp::probe(addr, "mx.probe.test", &opts(Duration::from_secs(2)));
    assert_eq!(e.unwrap_err(), SmtpError::Connect);
}
