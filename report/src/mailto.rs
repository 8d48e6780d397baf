//! The recipient of a `mailto:` reporting URI (RFC 8460 §3, RFC 6068).
//!
//! The address is the part before `?` (header fields of the URI are not
//! used: the report message has fixed headers), percent-decoded. Decoding
//! is done by the `percent-encoding` crate; this module only checks the
//! escapes first, because that crate passes a malformed escape through as
//! literal text, and `%+A`, `%G1` or an escape of a control character in
//! an address is a broken or hostile record, not an address to write to.

use std::fmt;

/// Why a `mailto:` URI gives no usable address.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailtoError {
    /// The URI does not start with `mailto:` (any case).
    NotMailto,
    /// A `%` is not followed by two hexadecimal digits.
    BadEscape,
    /// An escape decodes to a control character (CR, LF, NUL, ...).
    ControlCharacter,
    /// The decoded address is not UTF-8.
    NotUtf8,
    /// The decoded address has no `@` with text on both sides, or holds
    /// spaces, angle brackets, quotes or backslashes.
    NotAnAddress,
    /// More than one address (`,` in the address part).
    SeveralAddresses,
}

impl MailtoError {
    /// A short description.
    pub fn as_str(self) -> &'static str {
        match self {
            MailtoError::NotMailto => "not a mailto: URI",
            MailtoError::BadEscape => "a % is not followed by two hexadecimal digits",
            MailtoError::ControlCharacter => "an escape decodes to a control character",
            MailtoError::NotUtf8 => "the decoded address is not UTF-8",
            MailtoError::NotAnAddress => "not a plain mail address",
            MailtoError::SeveralAddresses => "more than one address",
        }
    }
}

impl fmt::Display for MailtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for MailtoError {}

/// The one recipient address of a `mailto:` URI, decoded.
pub fn recipient(uri: &str) -> Result<String, MailtoError> {
    let scheme = uri.get(..7).ok_or(MailtoError::NotMailto)?;
    if !scheme.eq_ignore_ascii_case("mailto:") {
        return Err(MailtoError::NotMailto);
    }
    let rest = uri.get(7..).unwrap_or("");
    let raw = rest.split('?').next().unwrap_or("");
    check_escapes(raw.as_bytes())?;
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
    if decoded.iter().any(|b| b.is_ascii_control()) {
        return Err(MailtoError::ControlCharacter);
    }
    let addr = String::from_utf8(decoded).map_err(|_| MailtoError::NotUtf8)?;
    if addr.contains(',') {
        return Err(MailtoError::SeveralAddresses);
    }
    let plain = addr
        .chars()
        .all(|c| !c.is_whitespace() && !matches!(c, '<' | '>' | '"' | '\\'));
    match addr.rsplit_once('@') {
        Some((local, domain)) if plain && !local.is_empty() && !domain.is_empty() => Ok(addr),
        _ => Err(MailtoError::NotAnAddress),
    }
}

/// Every `%` must start `%XX` with two hexadecimal digits; a sign or any
/// other byte after it is refused (`u8::from_str_radix` would take `+A`).
fn check_escapes(raw: &[u8]) -> Result<(), MailtoError> {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            match raw.get(i + 1..i + 3) {
                Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i += 3,
                _ => return Err(MailtoError::BadEscape),
            }
        } else {
            i += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6068_2_percent_escapes_decode() {
        assert_eq!(
            recipient("mailto:tls%2Breports@example.net").as_deref(),
            Ok("tls+reports@example.net")
        );
        assert_eq!(
            recipient("MAILTO:a%40b@example.net?subject=x").as_deref(),
            Ok("a@b@example.net")
        );
        assert_eq!(
            recipient("mailto:j%C3%B6rg@example.net").as_deref(),
            Ok("jörg@example.net")
        );
    }

    #[test]
    fn rfc6068_2_bad_escapes_refused() {
        for (uri, e) in [
            ("mailto:a%+A@example.net", MailtoError::BadEscape),
            ("mailto:a%G1@example.net", MailtoError::BadEscape),
            ("mailto:a@example.net%", MailtoError::BadEscape),
            ("mailto:a@example.net%4", MailtoError::BadEscape),
            ("mailto:a%0A@example.net", MailtoError::ControlCharacter),
            (
                "mailto:a%0d%0aBcc:x@example.net",
                MailtoError::ControlCharacter,
            ),
            ("mailto:a%00@example.net", MailtoError::ControlCharacter),
            ("mailto:a%7F@example.net", MailtoError::ControlCharacter),
            ("mailto:a%FF@example.net", MailtoError::NotUtf8),
            ("mailto:a@x,b@y", MailtoError::SeveralAddresses),
            ("mailto:a%20b@example.net", MailtoError::NotAnAddress),
            ("mailto:example.net", MailtoError::NotAnAddress),
            ("mailto:@example.net", MailtoError::NotAnAddress),
            ("https://example.net", MailtoError::NotMailto),
        ] {
            assert_eq!(recipient(uri), Err(e), "{uri}");
        }
    }
}
