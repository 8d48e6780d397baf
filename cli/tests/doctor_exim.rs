//! `sts doctor` against a real MTA: an Exim daemon (Debian's
//! `exim4-daemon-heavy`, which `.ci/run` installs) started on 127.0.27.20
//! with a test-CA certificate, and stopped, by this test. It checks that
//! the STARTTLS probe gets through a real server's EHLO and handshake and
//! that no message reaches it. Needs root (Exim with `-C`).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use base64::Engine;
use hickory_proto::rr::rdata::{A, MX};
use hickory_proto::rr::{Name, RData};
use serde_json::Value;
use sts_test_support::{
    policy_reply, policy_text, tempdir, txt1, DnsAnswer, DnsServer, HttpsServer, Leaf, TestCa,
    Validity,
};

const MX_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 27, 20);

/// Stops the daemon however the test ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn exim_binary() -> String {
    for b in ["exim4", "exim"] {
        if Command::new(b)
            .arg("-bV")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return b.to_owned();
        }
    }
    panic!("exim not found: apt-get install -y exim4-daemon-heavy");
}

fn exim_user() -> &'static str {
    let exists = |u: &str| {
        Command::new("id")
            .arg(u)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if exists("Debian-exim") {
        "Debian-exim"
    } else if exists("exim") {
        "exim"
    } else {
        panic!("no Exim user (Debian-exim or exim)")
    }
}

fn start_exim(dir: &Path, leaf: &Leaf, port: u16) -> Daemon {
    let user = exim_user();
    for sub in ["spool", "log"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(
        dir.join("cert.pem"),
        pem("CERTIFICATE", leaf.chain[0].as_ref()),
    )
    .unwrap();
    std::fs::write(
        dir.join("key.pem"),
        pem("PRIVATE KEY", leaf.key.secret_der()),
    )
    .unwrap();
    let d = dir.display();
    let conf = format!(
        "primary_hostname = mx.exim.test
exim_user = {user}
exim_group = {user}
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
pid_file_path = {d}/exim.pid
keep_environment =
local_interfaces = <; {MX_IP}.{port}
host_lookup = :
rfc1413_hosts = :
tls_advertise_hosts = *
tls_certificate = {d}/cert.pem
tls_privatekey = {d}/key.pem
acl_smtp_rcpt = accept
queue_only = true
begin routers
drop:
  driver = redirect
  data = :blackhole:
"
    );
    std::fs::write(dir.join("exim.conf"), conf).unwrap();
    let chown = Command::new("chown")
        .args(["-R", &format!("{user}:")])
        .arg(dir.join("spool"))
        .arg(dir.join("log"))
        .arg(dir.join("key.pem"))
        .status()
        .unwrap();
    assert!(chown.success(), "chown failed: the test needs root");
    let child = Command::new(exim_binary())
        .arg("-C")
        .arg(dir.join("exim.conf"))
        .arg("-bdf")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    let addr = SocketAddr::new(IpAddr::V4(MX_IP), port);
    let t0 = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "Exim did not start: {}",
            std::fs::read_to_string(dir.join("log/paniclog")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon
}

#[test]
fn rfc8461_4_2_real_exim_mx_passes_and_receives_no_mail() {
    let dir = tempdir("doctor-exim");
    let ca = TestCa::new(&dir);
    let port = TcpListener::bind((MX_IP, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let leaf = ca.leaf(&["mx.exim.test"], Validity::Current);
    let _exim = start_exim(&dir.join("exim"), &leaf, port);

    let dns = DnsServer::start();
    let https = HttpsServer::start(ca.leaf(&["mta-sts.exim.test"], Validity::Current));
    dns.set("_mta-sts.exim.test", txt1("v=STSv1; id=exim1;"));
    dns.set(
        "mta-sts.exim.test",
        DnsAnswer::Records(vec![RData::A(A(Ipv4Addr::LOCALHOST))]),
    );
    dns.set(
        "exim.test",
        DnsAnswer::Records(vec![RData::MX(MX::new(
            10,
            Name::from_ascii("mx.exim.test.").unwrap(),
        ))]),
    );
    dns.set("mx.exim.test", DnsAnswer::Records(vec![RData::A(A(MX_IP))]));
    dns.set(
        "_smtp._tls.exim.test",
        txt1("v=TLSRPTv1; rua=mailto:tls@exim.test"),
    );
    https.set(
        "mta-sts.exim.test",
        policy_reply(&policy_text("enforce", &["mx.exim.test"], 1_209_600)),
    );

    let o = Command::new(env!("CARGO_BIN_EXE_sts"))
        .args(["doctor", "exim.test", "--json", "--timeout", "5"])
        .args(["--dns-server", &dns.addr.to_string()])
        .args(["--ca-file", ca.pem_path.to_str().unwrap()])
        .args(["--https-port", &https.port.to_string()])
        .args(["--smtp-port", &port.to_string()])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    let has = |check: &str, detail: &str| {
        v["findings"].as_array().unwrap().iter().any(|f| {
            f["check"] == check
                && f["verdict"] == "ok"
                && f["detail"].as_str().unwrap().contains(detail)
        })
    };
    assert!(has("smtp-connect", "mx.exim.test ESMTP Exim"), "{v:#}");
    assert!(has("starttls", "offered"), "{v:#}");
    assert!(
        has("certificate", "valid under WebPKI for mx.exim.test"),
        "{v:#}"
    );
    assert!(has("tls-version", "TLSv1."), "{v:#}");
    // Exim logs "<=" for every message it accepts: there must be none.
    let log = std::fs::read_to_string(dir.join("exim/log/mainlog")).unwrap_or_default();
    assert!(!log.contains(" <= "), "{log}");
}
