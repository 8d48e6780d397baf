//! How report mail leaves: one setting, written as a URL.
//!
//! | setting | what |
//! |---|---|
//! | `smtp://host[:port]` | plain SMTP to a relay (port 25), no AUTH |
//! | `smtp+starttls://[user@]host[:port]` | SMTP (port 587) with STARTTLS required: a server that does not offer it gets neither AUTH nor the report |
//! | `smtps://[user@]host[:port]` | SMTP over TLS from the first byte (port 465) |
//! | `sendmail[:/path]` | the local MTA's `sendmail` (default `/usr/sbin/sendmail`), run as `sendmail -i -f FROM -- TO` |
//!
//! The password of `user` is never part of the URL (it would end up in
//! process lists and logs): it comes from `STS_SMTP_PASSWORD` or a file
//! (see [`Password`]). A `user` over plain `smtp://` is refused, since the
//! password would cross the network in clear.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Why a transport setting cannot be used.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// Neither `smtp://`, `smtp+starttls://`, `smtps://` nor `sendmail`.
    UnknownScheme,
    /// The host is missing or not a host name or IP address.
    BadHost,
    /// The port is not a number from 1 to 65535.
    BadPort,
    /// The URL carries a password (`user:password@`).
    PasswordInUrl,
    /// A user for `smtp://`, which would send the password in clear.
    AuthWithoutTls,
    /// The user name has a bad percent-escape or a control character.
    BadUser,
    /// Something follows the host and port (a path, query or fragment).
    TrailingText,
    /// The sendmail path is not absolute.
    RelativeSendmailPath,
    /// The password file cannot be read, is empty or too long.
    PasswordFile,
}

impl TransportError {
    /// A short description.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportError::UnknownScheme => {
                "not smtp://, smtp+starttls://, smtps:// or sendmail[:/path]"
            }
            TransportError::BadHost => "missing or bad host",
            TransportError::BadPort => "bad port",
            TransportError::PasswordInUrl => {
                "no password in the URL: use STS_SMTP_PASSWORD or the password file"
            }
            TransportError::AuthWithoutTls => {
                "a user needs smtp+starttls:// or smtps:// (never AUTH in clear)"
            }
            TransportError::BadUser => "bad user name",
            TransportError::TrailingText => "unexpected text after host and port",
            TransportError::RelativeSendmailPath => "the sendmail path must be absolute",
            TransportError::PasswordFile => {
                "the password file cannot be read, or is empty or longer than 1024 bytes"
            }
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for TransportError {}

/// Whether and how an SMTP connection is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP (`smtp://`).
    Plain,
    /// STARTTLS, required (`smtp+starttls://`).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Tls,
}

/// The default sendmail program.
pub const SENDMAIL: &str = "/usr/sbin/sendmail";

/// How report mail is handed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailTransport {
    /// An SMTP server.
    Smtp {
        /// Encryption.
        security: Security,
        /// Host name or IP address; also the name its certificate must
        /// carry.
        host: String,
        /// TCP port.
        port: u16,
        /// The AUTH user (PLAIN or LOGIN), if any.
        user: Option<String>,
    },
    /// A sendmail-compatible program.
    Sendmail {
        /// Its absolute path.
        path: PathBuf,
    },
}

impl Default for MailTransport {
    /// `smtp://127.0.0.1:25`: the local MTA.
    fn default() -> Self {
        MailTransport::Smtp {
            security: Security::Plain,
            host: "127.0.0.1".into(),
            port: 25,
            user: None,
        }
    }
}

impl fmt::Display for MailTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailTransport::Sendmail { path } => write!(f, "sendmail:{}", path.display()),
            MailTransport::Smtp {
                security,
                host,
                port,
                user,
            } => {
                let scheme = match security {
                    Security::Plain => "smtp",
                    Security::StartTls => "smtp+starttls",
                    Security::Tls => "smtps",
                };
                write!(f, "{scheme}://")?;
                if let Some(u) = user {
                    let escaped =
                        percent_encoding::utf8_percent_encode(u, USERINFO_ESCAPES).to_string();
                    write!(f, "{escaped}@")?;
                }
                if host.contains(':') {
                    write!(f, "[{host}]:{port}")
                } else {
                    write!(f, "{host}:{port}")
                }
            }
        }
    }
}

/// Bytes escaped in a user name when the setting is printed back.
const USERINFO_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b'@')
    .add(b':')
    .add(b'%')
    .add(b'/')
    .add(b' ');

impl FromStr for MailTransport {
    type Err = TransportError;

    fn from_str(s: &str) -> Result<Self, TransportError> {
        let lower = s.to_ascii_lowercase();
        if lower == "sendmail" {
            return Ok(MailTransport::Sendmail {
                path: PathBuf::from(SENDMAIL),
            });
        }
        if lower.starts_with("sendmail:") {
            let path = Path::new(s.get(9..).unwrap_or(""));
            if !path.is_absolute() {
                return Err(TransportError::RelativeSendmailPath);
            }
            return Ok(MailTransport::Sendmail {
                path: path.to_path_buf(),
            });
        }
        let (security, default_port, rest) = [
            ("smtp://", Security::Plain, 25),
            ("smtp+starttls://", Security::StartTls, 587),
            ("smtps://", Security::Tls, 465),
        ]
        .into_iter()
        .find(|(p, _, _)| lower.starts_with(p))
        .map(|(p, sec, port)| (sec, port, s.get(p.len()..).unwrap_or("")))
        .ok_or(TransportError::UnknownScheme)?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(TransportError::TrailingText);
        }
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(decode_user(u)?), h),
            None => (None, authority),
        };
        if user.is_some() && security == Security::Plain {
            return Err(TransportError::AuthWithoutTls);
        }
        let (host, port) = split_host_port(hostport)?;
        Ok(MailTransport::Smtp {
            security,
            host,
            port: port.unwrap_or(default_port),
            user,
        })
    }
}

fn decode_user(u: &str) -> Result<String, TransportError> {
    if u.contains(':') {
        return Err(TransportError::PasswordInUrl);
    }
    let b = u.as_bytes();
    let escapes_ok = b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || matches!(b.get(i + 1..i + 3), Some([x, y]) if x.is_ascii_hexdigit() && y.is_ascii_hexdigit())
    });
    if u.is_empty() || !escapes_ok {
        return Err(TransportError::BadUser);
    }
    let user = percent_encoding::percent_decode_str(u)
        .decode_utf8()
        .map_err(|_| TransportError::BadUser)?;
    if user.chars().any(char::is_control) {
        return Err(TransportError::BadUser);
    }
    Ok(user.into_owned())
}

fn split_host_port(s: &str) -> Result<(String, Option<u16>), TransportError> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or(TransportError::BadHost)?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(TransportError::BadHost);
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(TransportError::TrailingText)?),
        };
        (h, port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = port
        .map(|p| match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(TransportError::BadPort),
        })
        .transpose()?;
    let host_ok = host.parse::<std::net::IpAddr>().is_ok()
        || (!host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    if !host_ok {
        return Err(TransportError::BadHost);
    }
    Ok((host.to_ascii_lowercase(), port))
}

/// An SMTP password. Its `Debug` does not show it, so it cannot leak into
/// a log line through a printed options struct.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// A password given as text (from `STS_SMTP_PASSWORD`).
    pub fn new(s: impl Into<String>) -> Password {
        Password(s.into())
    }

    /// Reads the first line of `path` (a trailing CR/LF is dropped).
    pub fn from_file(path: &Path) -> Result<Password, TransportError> {
        use std::io::Read;
        let f = std::fs::File::open(path).map_err(|_| TransportError::PasswordFile)?;
        let mut text = String::new();
        // One byte past the limit tells an over-long file from a full one.
        f.take(1025)
            .read_to_string(&mut text)
            .map_err(|_| TransportError::PasswordFile)?;
        let line = text.lines().next().unwrap_or("");
        if line.is_empty() || text.len() > 1024 {
            return Err(TransportError::PasswordFile);
        }
        Ok(Password(line.to_owned()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(security: Security, host: &str, port: u16, user: Option<&str>) -> MailTransport {
        MailTransport::Smtp {
            security,
            host: host.into(),
            port,
            user: user.map(str::to_owned),
        }
    }

    #[test]
    fn settings_parse_with_default_ports() {
        for (s, want) in [
            (
                "smtp://relay.example",
                smtp(Security::Plain, "relay.example", 25, None),
            ),
            (
                "smtp://127.0.0.1:2525/",
                smtp(Security::Plain, "127.0.0.1", 2525, None),
            ),
            (
                "smtp+starttls://tls%40x@Smarthost.example",
                smtp(Security::StartTls, "smarthost.example", 587, Some("tls@x")),
            ),
            (
                "smtps://u@[::1]:4650",
                smtp(Security::Tls, "::1", 4650, Some("u")),
            ),
            (
                "sendmail",
                MailTransport::Sendmail {
                    path: SENDMAIL.into(),
                },
            ),
            (
                "sendmail:/opt/bin/sendmail",
                MailTransport::Sendmail {
                    path: "/opt/bin/sendmail".into(),
                },
            ),
        ] {
            assert_eq!(s.parse::<MailTransport>(), Ok(want.clone()), "{s}");
            // Printed back, the setting means the same.
            assert_eq!(want.to_string().parse::<MailTransport>(), Ok(want), "{s}");
        }
    }

    #[test]
    fn bad_settings_refused() {
        for (s, e) in [
            ("smtp://u@relay.example", TransportError::AuthWithoutTls),
            (
                "smtps://u:secret@relay.example",
                TransportError::PasswordInUrl,
            ),
            ("smtps://relay.example:0", TransportError::BadPort),
            ("smtps://relay.example:+25", TransportError::BadPort),
            ("smtps://relay.example:99999", TransportError::BadPort),
            ("smtps://relay.example/path", TransportError::TrailingText),
            ("smtps://", TransportError::BadHost),
            ("smtps://a_b.example", TransportError::BadHost),
            ("smtps://[zz]:25", TransportError::BadHost),
            ("smtps://%G1@relay.example", TransportError::BadUser),
            ("smtps://a%0A@relay.example", TransportError::BadUser),
            ("lmtp://relay.example", TransportError::UnknownScheme),
            (
                "sendmail:bin/sendmail",
                TransportError::RelativeSendmailPath,
            ),
        ] {
            assert_eq!(s.parse::<MailTransport>(), Err(e), "{s}");
        }
    }

    #[test]
    fn password_never_printed() {
        let p = Password::new("hunter2");
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
