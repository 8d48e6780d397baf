//! The `_smtp._tls` TXT record (RFC 8460 §3).
//!
//! ```text
//! tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//! field-delim   = *WSP ";" *WSP
//! tlsrpt-version = %s"v=TLSRPTv1"
//! tlsrpt-rua    = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//! tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
//! ```
//!
//! `rua` is required. Each URI must be `mailto:` with an address that has
//! a non-empty local part and domain, or `https://` with a non-empty host
//! (schemes in any case, RFC 3986 §3.1). URIs may not contain whitespace,
//! `,`, `;` or `!` (§3: commas and exclamation points MUST be encoded) or
//! control characters; other bytes, including non-ASCII UTF-8, are kept
//! as given and left to the submitter to encode.
//!
//! As for the MTA-STS record, a second `rua=` fits the extension grammar
//! and the first occurrence wins.

use crate::lex::{error_enum, is_txt_ext_value, is_wsp, skip_wsp};
use crate::txt::{parse_fields, value_end, FieldErrors};

error_enum! {
    /// Why a TLSRPT record is invalid.
    pub enum TlsrptError {
        /// The record does not start with `v=TLSRPTv1` (case-sensitive).
        NotTlsrptv1 => "TXT record does not start with v=TLSRPTv1",
        /// Something other than `;` follows the version or a field.
        MissingDelimiter => "TLSRPT record has fields not separated by ';'",
        /// `;;`.
        EmptyField => "TLSRPT record has an empty field",
        /// Whitespace at the end that is not before a `;`.
        TrailingWhitespace => "TLSRPT record ends in whitespace",
        /// No `rua=` field.
        MissingRua => "TLSRPT record has no rua field",
        /// A `rua` URI is empty or not a `mailto:` address or `https://` URL.
        BadUri => "TLSRPT rua is not a list of mailto: or https:// URIs",
        /// A field that is neither `rua=` nor a well-formed extension.
        BadField => "TLSRPT record has a malformed field",
    }
}

impl FieldErrors for TlsrptError {
    const NOT_VERSION: Self = TlsrptError::NotTlsrptv1;
    const MISSING_DELIMITER: Self = TlsrptError::MissingDelimiter;
    const TRAILING_WHITESPACE: Self = TlsrptError::TrailingWhitespace;
    const EMPTY_FIELD: Self = TlsrptError::EmptyField;
    const BAD_FIELD: Self = TlsrptError::BadField;
    const NO_FIELDS: Self = TlsrptError::MissingRua;
}

/// A valid TLSRPT record. Borrows the record text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsrptRecord<'a> {
    rua: &'a [u8],
    rua_count: usize,
}

/// Kind of a reporting URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriKind {
    /// `mailto:` (RFC 8460 §5.3).
    Mailto,
    /// `https:` (RFC 8460 §5.4).
    Https,
}

/// Parses one `_smtp._tls` TXT record (all its strings joined).
pub fn parse(record: &[u8]) -> Result<TlsrptRecord<'_>, TlsrptError> {
    let mut found = None;
    parse_fields(record, b"v=TLSRPTv1", |name, s, start| {
        if name == b"rua" && found.is_none() {
            let (rua, end) = scan_rua(s, start)?;
            found = Some(rua);
            return Ok(end);
        }
        let end = value_end(s, start);
        if is_txt_ext_value(&s[start..end]) {
            Ok(end)
        } else {
            Err(TlsrptError::BadField)
        }
    })?;
    found.ok_or(TlsrptError::MissingRua)
}

/// Scans `tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)` from `start`; returns
/// the record and the offset just past the last URI.
fn scan_rua(s: &[u8], start: usize) -> Result<(TlsrptRecord<'_>, usize), TlsrptError> {
    let mut i = start;
    let mut count = 0usize;
    loop {
        let u = i;
        while i < s.len() && !matches!(s[i], b',' | b';') && !is_wsp(s[i]) {
            i += 1;
        }
        check_uri(&s[u..i])?;
        count += 1;
        let j = skip_wsp(s, i);
        if j < s.len() && s[j] == b',' {
            i = skip_wsp(s, j + 1);
            continue;
        }
        return Ok((
            TlsrptRecord {
                rua: &s[start..i],
                rua_count: count,
            },
            i,
        ));
    }
}

/// `uri` without its leading `scheme` (given in lower case), which is
/// matched case-insensitively (RFC 3986 §3.1: "an implementation should
/// accept uppercase letters as equivalent to lowercase in scheme names").
pub fn strip_scheme<'u>(uri: &'u [u8], scheme: &[u8]) -> Option<&'u [u8]> {
    match uri.split_at_checked(scheme.len()) {
        Some((head, rest)) if head.eq_ignore_ascii_case(scheme) => Some(rest),
        _ => None,
    }
}

/// One reporting URI: `mailto:local@domain` or `https://host...`.
fn check_uri(uri: &[u8]) -> Result<UriKind, TlsrptError> {
    if uri
        .iter()
        .any(|&b| b < 0x21 || b == 0x7f || b == b'!' || b == b',' || b == b';')
    {
        return Err(TlsrptError::BadUri);
    }
    if let Some(addr) = strip_scheme(uri, b"mailto:") {
        // The last '@' separates local part and domain; a mailbox list with
        // several '@' is left to the mail system to refuse.
        match addr.iter().rposition(|&b| b == b'@') {
            Some(at) if at > 0 && at + 1 < addr.len() => Ok(UriKind::Mailto),
            _ => Err(TlsrptError::BadUri),
        }
    } else if let Some(rest) = strip_scheme(uri, b"https://") {
        let host_end = rest
            .iter()
            .position(|&b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(rest.len());
        if host_end == 0 {
            Err(TlsrptError::BadUri)
        } else {
            Ok(UriKind::Https)
        }
    } else {
        Err(TlsrptError::BadUri)
    }
}

impl<'a> TlsrptRecord<'a> {
    /// Number of URIs in `rua`.
    #[inline]
    pub fn rua_count(&self) -> usize {
        self.rua_count
    }

    /// The raw `rua` value (the list as written).
    #[inline]
    pub fn rua_raw(&self) -> &'a [u8] {
        self.rua
    }

    /// Rebuilds a record from [`Self::rua_raw`] and [`Self::rua_count`]
    /// (for foreign-language wrappers). Wrong parts give wrong answers, never
    /// a panic.
    #[inline]
    pub fn from_parts(rua: &'a [u8], rua_count: usize) -> Self {
        TlsrptRecord { rua, rua_count }
    }

    /// The reporting URIs, in order.
    pub fn rua(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let rua = self.rua;
        rua.split(|&b| b == b',')
            .map(|u| {
                let start = skip_wsp(u, 0);
                crate::lex::trim_wsp_end(&u[start..])
            })
            .take(self.rua_count)
    }

    /// The URI at `index` and its kind.
    pub fn rua_at(&self, index: usize) -> Option<(&'a [u8], UriKind)> {
        let uri = self.rua().nth(index)?;
        Some((uri, check_uri(uri).ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uris(record: &str) -> Result<([&str; 4], usize), TlsrptError> {
        let r = parse(record.as_bytes())?;
        let mut out = [""; 4];
        for (slot, u) in out.iter_mut().zip(r.rua()) {
            *slot = core::str::from_utf8(u).unwrap_or("<non-utf8>");
        }
        Ok((out, r.rua_count()))
    }

    #[test]
    fn rfc8460_3_record_grammar() {
        let ok1 = |u: &'static str| Ok(([u, "", "", ""], 1));
        let cases: &[(&str, Result<([&str; 4], usize), TlsrptError>)] = &[
            (
                "v=TLSRPTv1; rua=mailto:a@example.com",
                ok1("mailto:a@example.com"),
            ),
            (
                "v=TLSRPTv1;rua=mailto:a@example.com;",
                ok1("mailto:a@example.com"),
            ),
            (
                "v=TLSRPTv1; rua=https://r.example/v1",
                ok1("https://r.example/v1"),
            ),
            (
                "v=TLSRPTv1; rua=https://r.example/v1?a=1",
                ok1("https://r.example/v1?a=1"),
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@example.com ; ext=1",
                ok1("mailto:a@example.com"),
            ),
            (
                "v=TLSRPTv1; ext=1; rua=mailto:a@example.com",
                ok1("mailto:a@example.com"),
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@example.com \t, \thttps://r.example/x",
                Ok((["mailto:a@example.com", "https://r.example/x", "", ""], 2)),
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@x.example,mailto:b@x.example,https://c.example",
                Ok((
                    [
                        "mailto:a@x.example",
                        "mailto:b@x.example",
                        "https://c.example",
                        "",
                    ],
                    3,
                )),
            ),
            ("v=TLSRPTv1", Err(TlsrptError::MissingRua)),
            ("v=TLSRPTv1;", Err(TlsrptError::MissingRua)),
            ("v=TLSRPTv1; ext=1", Err(TlsrptError::MissingRua)),
            (
                "v=TLSRPTv10; rua=mailto:a@b",
                Err(TlsrptError::MissingDelimiter),
            ),
            (
                "v=TLSRPTv1 rua=mailto:a@b",
                Err(TlsrptError::MissingDelimiter),
            ),
            ("v=TLSRPTv2; rua=mailto:a@b", Err(TlsrptError::NotTlsrptv1)),
            (" v=TLSRPTv1; rua=mailto:a@b", Err(TlsrptError::NotTlsrptv1)),
            (
                "v=TLSRPTv1; rua=mailto:a@b ",
                Err(TlsrptError::TrailingWhitespace),
            ),
            ("v=TLSRPTv1;; rua=mailto:a@b", Err(TlsrptError::EmptyField)),
            ("v=TLSRPTv1; rua=", Err(TlsrptError::BadUri)),
            ("v=TLSRPTv1; rua=;", Err(TlsrptError::BadUri)),
            ("v=TLSRPTv1; rua= mailto:a@b", Err(TlsrptError::BadUri)),
            ("v=TLSRPTv1; rua=mailto:a@b,", Err(TlsrptError::BadUri)),
            ("v=TLSRPTv1; rua=,mailto:a@b", Err(TlsrptError::BadUri)),
            (
                "v=TLSRPTv1; rua=mailto:example.com",
                Err(TlsrptError::BadUri),
            ),
            (
                "v=TLSRPTv1; rua=mailto:@example.com",
                Err(TlsrptError::BadUri),
            ),
            ("v=TLSRPTv1; rua=mailto:a@", Err(TlsrptError::BadUri)),
            ("v=TLSRPTv1; rua=https://", Err(TlsrptError::BadUri)),
            ("v=TLSRPTv1; rua=https:///path", Err(TlsrptError::BadUri)),
            (
                "v=TLSRPTv1; rua=http://r.example/",
                Err(TlsrptError::BadUri),
            ),
            ("v=TLSRPTv1; rua=MAILTO:a@b", ok1("MAILTO:a@b")),
            (
                "v=TLSRPTv1; rua=Https://r.example",
                ok1("Https://r.example"),
            ),
            ("v=TLSRPTv1; rua=MAILTO:@b", Err(TlsrptError::BadUri)),
            ("v=TLSRPTv1; rua=HTTP://r.example", Err(TlsrptError::BadUri)),
            ("v=TLSRPTv1; rua=a@b", Err(TlsrptError::BadUri)),
            ("v=TLSRPTv1; rua=mailto:a!b@c", Err(TlsrptError::BadUri)),
            (
                "v=TLSRPTv1; rua=mailto:a@b; x==",
                Err(TlsrptError::BadField),
            ),
            ("v=TLSRPTv1; rua =mailto:a@b", Err(TlsrptError::BadField)),
        ];
        for (record, want) in cases {
            assert_eq!(uris(record), *want, "{record:?}");
        }
    }

    #[test]
    fn rfc3986_3_1_schemes_are_case_insensitive() {
        let r = parse(b"v=TLSRPTv1; rua=MAILTO:tlsrpt@example.com,HTTPS://example.com/tlsrpt")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.rua_at(0).map(|u| u.1), Some(UriKind::Mailto));
        assert_eq!(r.rua_at(1).map(|u| u.1), Some(UriKind::Https));
        assert_eq!(strip_scheme(b"MailTo:a@b", b"mailto:"), Some(&b"a@b"[..]));
        assert_eq!(strip_scheme(b"mail", b"mailto:"), None);
        assert_eq!(strip_scheme(b"mailtx:a@b", b"mailto:"), None);
    }

    #[test]
    fn rfc8460_3_rua_first_occurrence_wins() {
        assert_eq!(
            uris("v=TLSRPTv1; rua=mailto:a@x.example; rua=mailto:b@x.example"),
            Ok((["mailto:a@x.example", "", "", ""], 1))
        );
    }

    #[test]
    fn rfc8460_3_rua_at_gives_kind() {
        let r = parse(b"v=TLSRPTv1; rua=mailto:a@x.example,https://h.example/r")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.rua_at(0),
            Some((&b"mailto:a@x.example"[..], UriKind::Mailto))
        );
        assert_eq!(
            r.rua_at(1),
            Some((&b"https://h.example/r"[..], UriKind::Https))
        );
        assert_eq!(r.rua_at(2), None);
    }
}
