//! A `redis-server` (Debian package redis-server) on 127.0.0.1 for the
//! fleet tests: no persistence, its own port and directory, stopped when
//! dropped; looked into with `redis-cli` (package redis-tools), so that
//! the tests need no Redis client of their own.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server process and where it listens.
pub struct RedisServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server with its working directory in `dir`, on a free
    /// port; returns once it answers PING.
    pub fn start(dir: &Path) -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = RedisServer {
            port,
            dir: dir.to_owned(),
            child: None,
        };
        r.restart();
        r
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// (Re)starts a stopped server on the same port, empty.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server already running");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--dir", &self.dir.display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server (Debian package redis-server) must be installed");
        self.child = Some(child);
        let t0 = Instant::now();
        while !self.pong() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether it answers an inline PING (RESP simple string `+PONG`).
    fn pong(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    /// Runs one command with `redis-cli`; its output, `None` on failure.
    pub fn cmd(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && !s.starts_with("Could not connect")).then_some(s)
    }

    /// Every key with its remaining time to live in ms (-1: none).
    pub fn keys_with_ttl(&self) -> Vec<(String, i64)> {
        let script = "local out = {} for _, k in ipairs(redis.call('KEYS', '*')) do \
            table.insert(out, k) table.insert(out, redis.call('PTTL', k)) end return out";
        let out = self.cmd(&["EVAL", script, "0"]).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        lines
            .chunks(2)
            .map(|p| (p[0].to_owned(), p[1].trim().parse().unwrap()))
            .collect()
    }

    /// Sends a signal (`-STOP`, `-CONT`, ...) to the running server: a
    /// stopped server is one that hangs.
    pub fn signal(&self, sig: &str) {
        let pid = self.pid().expect("redis-server not running").to_string();
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    }

    /// Stops the server (SIGKILL: as a crash, nothing saved) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // A stopped process only dies of SIGKILL once continued.
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
