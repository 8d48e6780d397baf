//! Report delivery by mail (RFC 8460 §5.3): the MIME message and a small
//! blocking SMTP client for the relay.
//!
//! The message is `multipart/report; report-type="tlsrpt"` with a
//! text/plain part and the gzipped report as an `application/tlsrpt+gzip`
//! attachment in base64, and carries `TLS-Report-Domain`,
//! `TLS-Report-Submitter` and `TLS-Required: No` (RFC 8689: a report about
//! TLS failures must be delivered even where TLS fails).
//!
//! The SMTP client speaks plain SMTP to the configured relay (normally the
//! local MTA on 127.0.0.1:25): EHLO (HELO if refused), MAIL FROM, RCPT TO,
//! DATA with dot-stuffing, QUIT; every read and write has a timeout.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use base64::Engine as _;

use crate::day::{rfc5322_date, Day};

/// What goes into one report message.
#[derive(Clone, Debug)]
pub struct MailReport<'a> {
    /// Header and envelope sender address (`tlsrpt@mail.example.org`).
    pub from: &'a str,
    /// Recipient address (from the `mailto:` URI).
    pub to: &'a str,
    /// The submitter's domain (`TLS-Report-Submitter`).
    pub submitter: &'a str,
    /// The policy domain (`TLS-Report-Domain`).
    pub policy_domain: &'a str,
    /// The report-id of the JSON report (`id-left@id-right`).
    pub report_id: &'a str,
    /// The unique id of the file name (letters and digits).
    pub unique_id: &'a str,
    /// The report day.
    pub day: Day,
    /// When the message is written (Unix seconds, for `Date`).
    pub date: u64,
    /// The gzipped JSON report.
    pub gzip: &'a [u8],
}

/// The attachment file name of RFC 8460 §5.1:
/// `submitter!policy-domain!begin-timestamp!end-timestamp!unique-id.json.gz`.
pub fn report_filename(submitter: &str, policy_domain: &str, day: Day, unique_id: &str) -> String {
    format!(
        "{submitter}!{policy_domain}!{}!{}!{unique_id}.json.gz",
        day.start(),
        day.end()
    )
}

/// Whether `s` may go into a header or SMTP command as is: printable ASCII
/// without spaces, angle brackets or quotes.
pub(crate) fn is_plain_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\'))
}

/// Builds the RFC 8460 §5.3 message, lines ending in CRLF (not yet
/// dot-stuffed). `None` if an address, domain or id is unsafe in a header.
pub fn build_message(m: &MailReport<'_>) -> Option<Vec<u8>> {
    for s in [
        m.from,
        m.to,
        m.submitter,
        m.policy_domain,
        m.report_id,
        m.unique_id,
    ] {
        if !is_plain_token(s) {
            return None;
        }
    }
    if !m.unique_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let boundary = format!("tlsrpt-{}", m.unique_id);
    let filename = report_filename(m.submitter, m.policy_domain, m.day, m.unique_id);
    let mut msg = String::with_capacity(m.gzip.len() * 4 / 3 + 2048);
    let mut h = |line: &str| {
        msg.push_str(line);
        msg.push_str("\r\n");
    };
    h(&format!("From: <{}>", m.from));
    h(&format!("To: <{}>", m.to));
    h(&format!("Date: {}", rfc5322_date(m.date)));
    h(&format!(
        "Message-ID: <{}.msg.{}>",
        m.unique_id, m.submitter
    ));
    h(&format!("Subject: Report Domain: {}", m.policy_domain));
    h(&format!(" Submitter: {}", m.submitter));
    h(&format!(" Report-ID: <{}>", m.report_id));
    h(&format!("TLS-Report-Domain: {}", m.policy_domain));
    h(&format!("TLS-Report-Submitter: {}", m.submitter));
    h("TLS-Required: No");
    h("Auto-Submitted: auto-generated");
    h("MIME-Version: 1.0");
    h("Content-Type: multipart/report; report-type=\"tlsrpt\";");
    h(&format!(" boundary=\"{boundary}\""));
    h("");
    h("This is a multipart message in MIME format.");
    h("");
    h(&format!("--{boundary}"));
    h("Content-Type: text/plain; charset=\"us-ascii\"");
    h("Content-Transfer-Encoding: 7bit");
    h("");
    h(&format!(
        "This is an aggregate TLS report from {} for {},",
        m.submitter, m.policy_domain
    ));
    h(&format!(
        "covering {} 00:00:00Z to 23:59:59Z (RFC 8460).",
        m.day
    ));
    h("");
    h(&format!("--{boundary}"));
    h("Content-Type: application/tlsrpt+gzip");
    h("Content-Transfer-Encoding: base64");
    h(&format!(
        "Content-Disposition: attachment; filename=\"{filename}\""
    ));
    h("");
    let b64 = base64::engine::general_purpose::STANDARD.encode(m.gzip);
    for chunk in b64.as_bytes().chunks(76) {
        h(std::str::from_utf8(chunk).unwrap_or(""));
    }
    h("");
    h(&format!("--{boundary}--"));
    Some(msg.into_bytes())
}

/// Dot-stuffs a CRLF message for DATA (RFC 5321 §4.5.2) and adds the
/// final `.` line. Bare LF line ends are turned into CRLF.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && out.last() != Some(&b'\r') {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Sends `message` from `from` to `to` through the SMTP relay at `relay`.
/// Errors are the relay's reply or the I/O error, as text.
pub fn smtp_send(
    relay: SocketAddr,
    timeout: Duration,
    helo: &str,
    from: &str,
    to: &str,
    message: &[u8],
) -> Result<(), String> {
    for s in [helo, from, to] {
        if !is_plain_token(s) {
            return Err(format!("unsafe SMTP argument {s:?}"));
        }
    }
    let stream = TcpStream::connect_timeout(&relay, timeout)
        .map_err(|e| format!("connect to {relay}: {e}"))?;
    let io = |e: std::io::Error| format!("SMTP I/O with {relay}: {e}");
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut w = stream.try_clone().map_err(io)?;
    let mut r = BufReader::new(stream);

    expect(&mut r, &[220], "greeting")?;
    command(&mut w, &format!("EHLO {helo}")).map_err(io)?;
    if expect(&mut r, &[250], "EHLO").is_err() {
        command(&mut w, &format!("HELO {helo}")).map_err(io)?;
        expect(&mut r, &[250], "HELO")?;
    }
    command(&mut w, &format!("MAIL FROM:<{from}>")).map_err(io)?;
    expect(&mut r, &[250], "MAIL FROM")?;
    command(&mut w, &format!("RCPT TO:<{to}>")).map_err(io)?;
    expect(&mut r, &[250, 251], "RCPT TO")?;
    command(&mut w, "DATA").map_err(io)?;
    expect(&mut r, &[354], "DATA")?;
    w.write_all(&dot_stuff(message)).map_err(io)?;
    w.flush().map_err(io)?;
    expect(&mut r, &[250], "end of data")?;
    // The message is accepted; a failing QUIT changes nothing.
    let _ = command(&mut w, "QUIT");
    let _ = expect(&mut r, &[221], "QUIT");
    Ok(())
}

fn command(w: &mut TcpStream, line: &str) -> std::io::Result<()> {
    w.write_all(line.as_bytes())?;
    w.write_all(b"\r\n")?;
    w.flush()
}

/// Reads one (possibly multi-line) reply and checks its code.
fn expect(r: &mut impl BufRead, codes: &[u16], what: &str) -> Result<(), String> {
    let mut text = String::new();
    for _ in 0..100 {
        let mut line = Vec::new();
        let n = std::io::Read::take(&mut *r, 4096)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("SMTP {what}: {e}"))?;
        if n == 0 {
            return Err(format!("SMTP {what}: connection closed"));
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end();
        text.push_str(line);
        text.push(' ');
        let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
        let more = line.as_bytes().get(3) == Some(&b'-');
        match code {
            None => return Err(format!("SMTP {what}: bad reply {line:?}")),
            Some(_) if more => continue,
            Some(c) if codes.contains(&c) => return Ok(()),
            Some(_) => return Err(format!("SMTP {what}: {}", text.trim_end())),
        }
    }
    Err(format!("SMTP {what}: reply too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5321_4_5_2_dot_stuffing() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n..\r\n"), b"a\r\n..b\r\n...\r\n.\r\n");
        assert_eq!(dot_stuff(b".x\nend"), b"..x\r\nend\r\n.\r\n");
    }

    #[test]
    fn rfc8460_5_1_filename() {
        assert_eq!(
            report_filename("mail.sender.example", "example.com", Day(1), "abc1"),
            "mail.sender.example!example.com!86400!172799!abc1.json.gz"
        );
    }
}
