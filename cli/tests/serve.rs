//! `sts serve` as an operator runs it: the global settings, a socketmap
//! answer, metrics, and SIGTERM ending it with exit status 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use sts_test_support::zone::{self, ZoneServer};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn connect(port: u16) -> TcpStream {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                return s;
            }
            Err(e) if Instant::now() > until => panic!("sts serve not listening: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Kills the server if the test fails before it is stopped.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn serve_answers_then_exits_0_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("sts-cli-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dns = ZoneServer::start();
    dns.records(
        "plain.test",
        RecordType::MX,
        vec![zone::mx(10, "mx.plain.test")],
    );
    let (port, mport) = (free_port(), free_port());
    let mut guard = Guard(
        Command::new(env!("CARGO_BIN_EXE_sts"))
            .args(["serve", "--socketmap"])
            .arg(format!("inet:127.0.0.1:{port}"))
            .arg("--socketmap")
            .arg(format!("unix:{}", dir.join("sock").display()))
            .arg("--metrics")
            .arg(format!("inet:127.0.0.1:{mport}"))
            .arg("--dns-server")
            .arg(dns.addr.to_string())
            .arg("--cache")
            .arg(dir.join("cache"))
            .arg("--timeout")
            .arg("1")
            .env_remove("STS_REPORT_DIR")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let child = &mut guard.0;
    let mut s = connect(port);
    s.write_all(b"18:postfix plain.test,").unwrap();
    let mut reply = [0u8; 12];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"9:NOTFOUND ,");
    let mut m = connect(mport);
    m.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut text = String::new();
    m.read_to_string(&mut text).unwrap();
    assert!(
        text.contains("sts_serve_requests_total{answer=\"notfound\"} 1"),
        "{text}"
    );
    assert!(dir.join("sock").exists());
    drop(s);
    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let until = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > until {
            panic!("sts serve did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let log: Vec<String> = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    assert!(log.iter().any(|l| l.contains("info: stopped")), "{log:?}");
    assert!(!dir.join("sock").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
