//! Where the server listens (`inet:HOST:PORT`, `unix:PATH`, the forms of
//! Postfix's socketmap table names) and the stream of one connection.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Why a listen address is not usable.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenError {
    /// Not `inet:HOST:PORT` or `unix:PATH`.
    BadSyntax,
    /// The host does not resolve.
    BadHost,
    /// The address is in use or not ours.
    Bind,
    /// A file that is not a socket is in the way of `unix:PATH`.
    PathInUse,
}

impl ListenError {
    /// A short description.
    pub fn as_str(self) -> &'static str {
        match self {
            ListenError::BadSyntax => "expected inet:HOST:PORT or unix:PATH",
            ListenError::BadHost => "the host does not resolve to an address",
            ListenError::Bind => "cannot listen on the address (in use, or not allowed)",
            ListenError::PathInUse => "a file that is not a socket is in the way",
        }
    }
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ListenError {}

/// A listen address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// `inet:HOST:PORT` (IPv6 as `inet:[::1]:PORT`).
    Inet(SocketAddr),
    /// `unix:PATH`.
    Unix(PathBuf),
}

impl FromStr for ListenAddr {
    type Err = ListenError;

    fn from_str(s: &str) -> Result<Self, ListenError> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(ListenError::BadSyntax);
            }
            return Ok(ListenAddr::Unix(PathBuf::from(path)));
        }
        let rest = s.strip_prefix("inet:").ok_or(ListenError::BadSyntax)?;
        let (host, port) = rest.rsplit_once(':').ok_or(ListenError::BadSyntax)?;
        let port: u16 = port.parse().map_err(|_| ListenError::BadSyntax)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(ListenError::BadSyntax);
        }
        (host, port)
            .to_socket_addrs()
            .map_err(|_| ListenError::BadHost)?
            .next()
            .map(ListenAddr::Inet)
            .ok_or(ListenError::BadHost)
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Inet(a) => write!(f, "inet:{a}"),
            ListenAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A bound listener.
#[derive(Debug)]
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A Unix stream socket (removed when the server stops).
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Binds `addr`. A stale socket file at a `unix:` path is replaced;
    /// any other file there is an error.
    pub fn bind(addr: &ListenAddr) -> Result<Listener, ListenError> {
        match addr {
            ListenAddr::Inet(a) => TcpListener::bind(a)
                .map(Listener::Tcp)
                .map_err(|_| ListenError::Bind),
            ListenAddr::Unix(p) => {
                if let Ok(m) = std::fs::symlink_metadata(p) {
                    if !m.file_type().is_socket() {
                        return Err(ListenError::PathInUse);
                    }
                    let _ = std::fs::remove_file(p);
                }
                UnixListener::bind(p)
                    .map(|l| Listener::Unix(l, p.clone()))
                    .map_err(|_| ListenError::Bind)
            }
        }
    }

    /// The address actually bound (the port chosen for port 0).
    pub fn local_addr(&self) -> Option<ListenAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok().map(ListenAddr::Inet),
            Listener::Unix(_, p) => Some(ListenAddr::Unix(p.clone())),
        }
    }

    /// Waits for the next connection.
    pub fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }),
            Listener::Unix(l, _) => l.accept().map(|(s, _)| Stream::Unix(s)),
        }
    }

    /// Wakes a thread blocked in [`Listener::accept`] by connecting to it.
    pub fn wake(&self) {
        match self.local_addr() {
            Some(ListenAddr::Inet(a)) => {
                let _ = TcpStream::connect_timeout(&a, Duration::from_secs(1));
            }
            Some(ListenAddr::Unix(p)) => {
                let _ = UnixStream::connect(p);
            }
            None => {}
        }
    }

    /// Removes the socket file of a `unix:` listener.
    pub fn cleanup(&self) {
        if let Listener::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// One client connection.
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// Unix stream socket.
    Unix(UnixStream),
}

impl Stream {
    /// Sets the read timeout (`None`: block).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }

    /// Sets the write timeout (`None`: block).
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(t),
            Stream::Unix(s) => s.set_write_timeout(t),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_table_forms() {
        assert_eq!(
            "inet:127.0.0.1:8461".parse(),
            Ok(ListenAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 8461))))
        );
        assert_eq!(
            "unix:/run/sts/sock".parse(),
            Ok(ListenAddr::Unix(PathBuf::from("/run/sts/sock")))
        );
        assert!(matches!(
            "inet:[::1]:8461".parse::<ListenAddr>(),
            Ok(ListenAddr::Inet(a)) if a.is_ipv6()
        ));
        for bad in [
            "127.0.0.1:8461",
            "inet:127.0.0.1",
            "inet::8461",
            "unix:",
            "tcp:x:1",
        ] {
            assert_eq!(
                bad.parse::<ListenAddr>(),
                Err(ListenError::BadSyntax),
                "{bad}"
            );
        }
    }
}
