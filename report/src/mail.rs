//! The report message of RFC 8460 §5.3, built with lettre's MIME builder.
//!
//! The message is `multipart/report; report-type="tlsrpt"` with a
//! text/plain part and the gzipped report as an `application/tlsrpt+gzip`
//! attachment in base64, and carries `TLS-Report-Domain`,
//! `TLS-Report-Submitter` and `TLS-Required: No` (RFC 8689: a report about
//! TLS failures must be delivered even where TLS fails). How the message
//! leaves (SMTP, STARTTLS, sendmail) is [`crate::transport`].

use std::time::{Duration, SystemTime};

use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use lettre::Message;

use crate::day::Day;

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
/// without spaces, angle brackets or quotes. lettre would encode anything
/// else; it is refused instead, because these values come from DNS and
/// the settings, where an address that needs quoting or encoding is a
/// broken or hostile record rather than a destination.
pub(crate) fn is_plain_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\'))
}

/// Builds the RFC 8460 §5.3 message, lines ending in CRLF (SMTP
/// dot-stuffing is the transport's). `None` if an address, domain or id is
/// unsafe in a header.
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
    let from: Mailbox = m.from.parse().ok()?;
    let to: Mailbox = m.to.parse().ok()?;
    // lettre has no `multipart/report` kind; a Content-Type set by hand
    // with its boundary is taken as is by the multipart writer.
    let report_type = ContentType::parse(&format!(
        "multipart/report; report-type=\"tlsrpt\"; boundary=\"tlsrpt-{}\"",
        m.unique_id
    ))
    .ok()?;
    let text = format!(
        "This is an aggregate TLS report from {} for {},\r\n\
         covering {} 00:00:00Z to 23:59:59Z (RFC 8460).\r\n",
        m.submitter, m.policy_domain, m.day
    );
    let text_part = SinglePart::builder()
        .header(ContentType::parse("text/plain; charset=us-ascii").ok()?)
        .header(ContentTransferEncoding::SevenBit)
        .body(text);
    let gzip_type = ContentType::parse("application/tlsrpt+gzip").ok()?;
    let attachment = Attachment::new(report_filename(
        m.submitter,
        m.policy_domain,
        m.day,
        m.unique_id,
    ))
    .body(
        Body::new_with_encoding(m.gzip.to_vec(), ContentTransferEncoding::Base64).ok()?,
        gzip_type,
    );
    let body = MultiPart::builder()
        .header(report_type)
        .singlepart(text_part)
        .singlepart(attachment);
    let header = |name: &'static str, value: &str| {
        HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_owned())
    };
    let message = Message::builder()
        .from(from)
        .to(to)
        .date(SystemTime::UNIX_EPOCH + Duration::from_secs(m.date))
        .message_id(Some(format!("<{}.msg.{}>", m.unique_id, m.submitter)))
        .subject(format!(
            "Report Domain: {} Submitter: {} Report-ID: <{}>",
            m.policy_domain, m.submitter, m.report_id
        ))
        .raw_header(header("TLS-Report-Domain", m.policy_domain))
        .raw_header(header("TLS-Report-Submitter", m.submitter))
        .raw_header(header("TLS-Required", "No"))
        .raw_header(header("Auto-Submitted", "auto-generated"))
        .multipart(body)
        .ok()?;
    Some(message.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8460_5_1_filename() {
        assert_eq!(
            report_filename("mail.sender.example", "example.com", Day(1), "abc1"),
            "mail.sender.example!example.com!86400!172799!abc1.json.gz"
        );
    }
}
