//! An SMTP STARTTLS probe (RFC 3207): connect to an MX host, read the
//! greeting, EHLO, see whether STARTTLS is offered, do the TLS handshake
//! and keep the certificate chain the server presented, then `QUIT`. It
//! never sends `MAIL`, so no message can be delivered.
//!
//! The handshake accepts any certificate on purpose: the point is to judge
//! the chain afterwards (WebPKI for MTA-STS, RFC 8461 §4.2; TLSA for DANE,
//! RFC 7672) and say *why* it would be refused, which a handshake that
//! aborts on the first problem cannot tell. The server's handshake
//! signature is still checked, so the chain is the one the server holds the
//! key for.
//!
//! Every step is bounded by one deadline for the whole probe, and every
//! reply is read with limits (line length, line count), so a server that
//! never answers, or answers forever, costs at most the timeout.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

/// Longest reply line read, CRLF included (RFC 5321 §4.5.3.1.5 allows 512;
/// real servers stay well within twice that).
const MAX_LINE: usize = 1024;
/// Most lines of one multi-line reply (an EHLO reply lists one extension
/// per line).
const MAX_LINES: usize = 64;

/// Why a probe stopped before it could judge the server's TLS.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpError {
    /// The TCP connection was refused or the host is unreachable.
    Connect,
    /// The server did not answer within the timeout.
    Timeout,
    /// The server closed the connection.
    Closed,
    /// The greeting was not 220.
    Greeting,
    /// EHLO was refused.
    Ehlo,
    /// STARTTLS was offered but refused when asked for.
    StartTlsRefused,
    /// The TLS handshake failed.
    Handshake,
    /// A reply line was too long, a reply had too many lines, or a line
    /// did not start with a three-digit code.
    BadReply,
    /// The host name cannot be sent as TLS SNI.
    BadName,
    /// Another socket error.
    Io,
}

impl SmtpError {
    /// A short description.
    pub const fn as_str(self) -> &'static str {
        match self {
            SmtpError::Connect => "connection refused or host unreachable",
            SmtpError::Timeout => "no answer within the timeout",
            SmtpError::Closed => "the server closed the connection",
            SmtpError::Greeting => "the greeting is not 220",
            SmtpError::Ehlo => "EHLO was refused",
            SmtpError::StartTlsRefused => "STARTTLS is advertised but was refused",
            SmtpError::Handshake => "the TLS handshake failed",
            SmtpError::BadReply => "malformed or oversized SMTP reply",
            SmtpError::BadName => "the MX host name is not a valid TLS server name",
            SmtpError::Io => "socket error",
        }
    }
}

impl fmt::Display for SmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for SmtpError {}

/// Whether the server listed STARTTLS in its EHLO reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartTls {
    /// Listed (and then used).
    Offered,
    /// Not listed: a sender can only deliver in clear text.
    NotOffered,
}

/// The TLS protocol version negotiated.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
    /// Something else (rustls offers only 1.2 and 1.3).
    Other,
}

impl TlsVersion {
    /// `TLSv1.2`, `TLSv1.3` or `other`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
            TlsVersion::Other => "other",
        }
    }
}

/// What the TLS handshake gave.
#[derive(Clone, Debug)]
pub struct TlsSession {
    /// The negotiated version.
    pub version: TlsVersion,
    /// The certificates the server sent, its own first, DER.
    pub chain: Vec<Vec<u8>>,
}

/// The outcome of a probe that got as far as the EHLO reply.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The first line of the greeting, without the code.
    pub greeting: String,
    /// Whether STARTTLS was offered.
    pub starttls: StartTls,
    /// The TLS session, when STARTTLS was offered and the handshake done.
    pub tls: Option<TlsSession>,
}

/// Settings of [`probe`].
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// The name sent with EHLO.
    pub ehlo_name: String,
    /// The deadline of the whole probe, connect to QUIT.
    pub timeout: Duration,
}

/// Probes the SMTP server at `addr` for the MX host `mx_host` (sent as
/// SNI): greeting, EHLO, STARTTLS, handshake, QUIT.
pub fn probe(addr: SocketAddr, mx_host: &str, opts: &ProbeOptions) -> Result<Probe, SmtpError> {
    let deadline = Instant::now() + opts.timeout;
    let sni = ServerName::try_from(mx_host.trim_end_matches('.').to_owned())
        .map_err(|_| SmtpError::BadName)?;
    let tcp = TcpStream::connect_timeout(&addr, remaining(deadline)?).map_err(io_error)?;
    let mut s = Session { tcp, deadline };
    let (code, greeting) = s.reply()?;
    if code != 220 {
        return Err(SmtpError::Greeting);
    }
    let greeting = greeting.into_iter().next().unwrap_or_default();
    s.send(&format!("EHLO {}\r\n", opts.ehlo_name))?;
    let (code, lines) = s.reply()?;
    if code != 250 {
        return Err(SmtpError::Ehlo);
    }
    // The first line is the server's name; keywords follow (RFC 5321 §4.1.1.1).
    let offered = lines.iter().skip(1).any(|l| {
        l.split_ascii_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
    });
    if !offered {
        // Best effort: the verdict is already known.
        let _ = s.send("QUIT\r\n").and_then(|()| s.reply());
        return Ok(Probe {
            greeting,
            starttls: StartTls::NotOffered,
            tls: None,
        });
    }
    s.send("STARTTLS\r\n")?;
    let (code, _) = s.reply()?;
    if code != 220 {
        return Err(SmtpError::StartTlsRefused);
    }
    let tls = s.handshake(sni)?;
    Ok(Probe {
        greeting,
        starttls: StartTls::Offered,
        tls: Some(tls),
    })
}

struct Session {
    tcp: TcpStream,
    deadline: Instant,
}

fn remaining(deadline: Instant) -> Result<Duration, SmtpError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(SmtpError::Timeout)
    } else {
        Ok(left)
    }
}

fn io_error(e: io::Error) -> SmtpError {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => SmtpError::Timeout,
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::AddrNotAvailable => SmtpError::Connect,
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => SmtpError::Closed,
        _ => SmtpError::Io,
    }
}

impl Session {
    fn arm(&self) -> Result<(), SmtpError> {
        let left = remaining(self.deadline)?;
        self.tcp.set_read_timeout(Some(left)).map_err(io_error)?;
        self.tcp.set_write_timeout(Some(left)).map_err(io_error)
    }

    fn send(&mut self, line: &str) -> Result<(), SmtpError> {
        self.arm()?;
        self.tcp.write_all(line.as_bytes()).map_err(io_error)
    }

    /// One reply: its code and the text of each line. Read a byte at a
    /// time so that nothing past the reply is consumed (after STARTTLS's
    /// 220 the next bytes belong to TLS).
    fn reply(&mut self) -> Result<(u16, Vec<String>), SmtpError> {
        let mut lines = Vec::new();
        loop {
            if lines.len() == MAX_LINES {
                return Err(SmtpError::BadReply);
            }
            let line = self.line()?;
            let (code, more, text) = parse_reply_line(&line).ok_or(SmtpError::BadReply)?;
            lines.push(text);
            if !more {
                return Ok((code, lines));
            }
        }
    }

    fn line(&mut self) -> Result<Vec<u8>, SmtpError> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            self.arm()?;
            match self.tcp.read(&mut byte) {
                Ok(0) => return Err(SmtpError::Closed),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            }
            if byte[0] == b'\n' {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if line.len() == MAX_LINE {
                return Err(SmtpError::BadReply);
            }
            line.push(byte[0]);
        }
    }

    fn handshake(mut self, sni: ServerName<'static>) -> Result<TlsSession, SmtpError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|_| SmtpError::Handshake)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(KeepChain(provider)))
            .with_no_client_auth();
        let mut conn =
            ClientConnection::new(Arc::new(config), sni).map_err(|_| SmtpError::Handshake)?;
        while conn.is_handshaking() {
            self.arm()?;
            conn.complete_io(&mut self.tcp)
                .map_err(|e| match io_error(e) {
                    SmtpError::Io => SmtpError::Handshake,
                    other => other,
                })?;
        }
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => TlsVersion::Tls12,
            Some(rustls::ProtocolVersion::TLSv1_3) => TlsVersion::Tls13,
            _ => TlsVersion::Other,
        };
        let chain = conn
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .map(|c| c.as_ref().to_vec())
            .collect();
        // QUIT inside TLS, best effort: the session is already judged.
        let mut tls = rustls::Stream::new(&mut conn, &mut self.tcp);
        if tls.write_all(b"QUIT\r\n").is_ok() {
            let mut buf = [0u8; 64];
            let _ = tls.read(&mut buf);
        }
        conn.send_close_notify();
        let _ = conn.complete_io(&mut self.tcp);
        Ok(TlsSession { version, chain })
    }
}

/// Parses `250-text` / `250 text` / `250`: the code, whether more lines
/// follow, and the text.
fn parse_reply_line(line: &[u8]) -> Option<(u16, bool, String)> {
    let (digits, rest) = line.split_at_checked(3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let (more, text) = match rest.split_first() {
        None => (false, &[][..]),
        Some((b'-', t)) => (true, t),
        Some((b' ', t)) => (false, t),
        Some(_) => return None,
    };
    Some((code, more, String::from_utf8_lossy(text).into_owned()))
}

/// A verifier that accepts every chain (see the module docs for why) but
/// checks the handshake signatures with the provider's algorithms.
#[derive(Debug)]
struct KeepChain(Arc<CryptoProvider>);

impl ServerCertVerifier for KeepChain {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The notAfter time of an X.509 certificate (RFC 5280 §4.1.2.5), in
/// seconds since the Unix epoch, or `None` if the DER does not reach it.
pub fn not_after(cert_der: &[u8]) -> Option<i64> {
    let (cert, _) = der_take(cert_der, 0x30)?;
    let (mut tbs, _) = der_take(cert, 0x30)?;
    // version [0] EXPLICIT is optional (absent means v1).
    if tbs.first() == Some(&0xa0) {
        tbs = der_take(tbs, 0xa0)?.1;
    }
    let (_, rest) = der_take(tbs, 0x02)?; // serialNumber
    let (_, rest) = der_take(rest, 0x30)?; // signature
    let (_, rest) = der_take(rest, 0x30)?; // issuer
    let (validity, _) = der_take(rest, 0x30)?;
    let tag = *validity.first()?;
    let (_, after) = der_take(validity, tag)?; // notBefore
    let tag = *after.first()?;
    let (time, _) = der_take(after, tag)?;
    match tag {
        0x17 => parse_time(time, Digits::Two),
        0x18 => parse_time(time, Digits::Four),
        _ => None,
    }
}

/// One DER element with tag `tag` at the start of `input`: its contents
/// and what follows it.
fn der_take(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(n)?;
        rest = after;
        bytes.iter().fold(0usize, |l, &b| (l << 8) | usize::from(b))
    };
    rest.split_at_checked(len)
}

/// Year digits of a certificate time: UTCTime has two, GeneralizedTime four.
#[derive(Clone, Copy)]
enum Digits {
    Two,
    Four,
}

/// `YYMMDDHHMMSSZ` or `YYYYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.1/2).
fn parse_time(t: &[u8], digits: Digits) -> Option<i64> {
    let (year, rest) = match digits {
        Digits::Two => {
            let (y, rest) = t.split_at_checked(2)?;
            let y = number(y)?;
            // RFC 5280: 50..99 are 19xx, 00..49 are 20xx.
            (if y >= 50 { 1900 + y } else { 2000 + y }, rest)
        }
        Digits::Four => {
            let (y, rest) = t.split_at_checked(4)?;
            (number(y)?, rest)
        }
    };
    if rest.len() != 11 || rest[10] != b'Z' {
        return None;
    }
    let month = number(&rest[0..2])?;
    let day = number(&rest[2..4])?;
    let (h, m, s) = (
        number(&rest[4..6])?,
        number(&rest[6..8])?,
        number(&rest[8..10])?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

fn number(d: &[u8]) -> Option<i64> {
    d.iter().try_fold(0i64, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5321_4_2_reply_lines() {
        assert_eq!(
            parse_reply_line(b"250-STARTTLS"),
            Some((250, true, "STARTTLS".into()))
        );
        assert_eq!(parse_reply_line(b"220 hi"), Some((220, false, "hi".into())));
        assert_eq!(parse_reply_line(b"221"), Some((221, false, String::new())));
        assert_eq!(parse_reply_line(b"22"), None);
        assert_eq!(parse_reply_line(b"2x0 no"), None);
        assert_eq!(parse_reply_line(b"250+x"), None);
    }

    #[test]
    fn rfc5280_4_1_2_5_times() {
        assert_eq!(
            parse_time(b"210101000000Z", Digits::Two),
            Some(1_609_459_200)
        );
        assert_eq!(
            parse_time(b"20500101000000Z", Digits::Four),
            Some(2_524_608_000)
        );
        assert_eq!(
            parse_time(b"491231235959Z", Digits::Two),
            Some(2_524_607_999)
        );
        assert_eq!(
            parse_time(b"500101000000Z", Digits::Two),
            Some(-631_152_000)
        );
        assert_eq!(parse_time(b"211301000000Z", Digits::Two), None);
        assert_eq!(parse_time(b"2101010000Z", Digits::Two), None);
    }

    #[test]
    fn not_after_of_truncated_der_is_none() {
        assert_eq!(not_after(&[]), None);
        assert_eq!(not_after(&[0x30, 0x82, 0xff]), None);
        assert_eq!(not_after(&[0x30, 0x03, 0x30, 0x01, 0x02]), None);
    }
}
