//! The `_mta-sts` TXT record (RFC 8461 §3.1).
//!
//! ```text
//! sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//! sts-version     = %s"v=STSv1"
//! sts-field-delim = *WSP ";" *WSP
//! sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//! sts-extension   = sts-ext-name "=" sts-ext-value
//! ```
//!
//! An `id=` field is required. Because `id=...` also fits the extension
//! grammar, a second `id=` is read as an extension: the first one wins, the
//! rule §3.2 gives for policy fields. (The RFC does not say; this is the
//! reading that makes every ABNF-valid record mean one thing.)
//!
//! [`select`] applies the selection rule for several TXT records at the
//! same name: records that do not begin with `v=STSv1` followed by the
//! field delimiter are discarded, and unless exactly one is left, and it is
//! valid, the domain has no policy. (§3.1 says "do not begin with
//! `v=STSv1;`"; we also keep `v=STSv1 ;`, which is valid under the ABNF,
//! so that no valid record is ever thrown away.)
//!
//! A record made of several character-strings must be joined by the
//! caller before parsing (RFC 7208 §3.3 does the same for SPF).

use crate::lex::{error_enum, is_ext_name, is_txt_ext_value, is_wsp, skip_wsp};

error_enum! {
    /// Why a TXT record gives no MTA-STS policy.
    pub enum TxtError {
        /// The record does not start with `v=STSv1` (case-sensitive).
        NotStsv1 => "TXT record does not start with v=STSv1",
        /// Something other than `;` follows `v=STSv1` or a field.
        MissingDelimiter => "TXT record has fields not separated by ';'",
        /// `;;` or a `;` followed by nothing but another `;`.
        EmptyField => "TXT record has an empty field",
        /// Whitespace at the end that is not before a `;`.
        TrailingWhitespace => "TXT record ends in whitespace",
        /// No `id=` field.
        MissingId => "TXT record has no id field",
        /// The `id` value is not 1 to 32 letters and digits.
        BadId => "TXT record id is not 1 to 32 letters and digits",
        /// A field that is neither `id=` nor a well-formed extension.
        BadField => "TXT record has a malformed field",
        /// No record at the name begins with `v=STSv1;`.
        NoRecord => "no TXT record begins with v=STSv1",
        /// More than one record begins with `v=STSv1;`.
        MultipleRecords => "more than one TXT record begins with v=STSv1",
    }
}

/// Longest `id` value.
pub const MAX_ID_LEN: usize = 32;

/// A valid `_mta-sts` TXT record. Borrows the record text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxtRecord<'a> {
    /// The `id` value: 1 to 32 letters and digits.
    pub id: &'a [u8],
}

const VERSION: &[u8] = b"v=STSv1";

/// Parses one TXT record (all its strings joined).
pub fn parse(record: &[u8]) -> Result<TxtRecord<'_>, TxtError> {
    let mut id = None;
    parse_fields(record, VERSION, |name, s, start| {
        let end = value_end(s, start);
        let value = s.get(start..end).unwrap_or_default();
        if name == b"id" && id.is_none() {
            if value.is_empty()
                || value.len() > MAX_ID_LEN
                || !value.iter().all(u8::is_ascii_alphanumeric)
            {
                return Err(TxtError::BadId);
            }
            id = Some(value);
        } else if !is_txt_ext_value(value) {
            return Err(TxtError::BadField);
        }
        Ok(end)
    })?;
    id.map(|id| TxtRecord { id }).ok_or(TxtError::MissingId)
}

/// Whether `record` is one §3.1 selection keeps: `v=STSv1` followed by
/// `*WSP ";"`.
pub fn is_candidate(record: &[u8]) -> bool {
    // A slice pattern rather than strip_prefix, which keeps split_at's
    // panic path in size-optimised builds.
    match record {
        [b'v', b'=', b'S', b'T', b'S', b'v', b'1', rest @ ..] => {
            matches!(rest.get(skip_wsp(rest, 0)), Some(b';'))
        }
        _ => false,
    }
}

/// RFC 8461 §3.1 selection among all TXT records at `_mta-sts.<domain>`.
pub fn select<'a, I>(records: I) -> Result<TxtRecord<'a>, TxtError>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut found = None;
    for record in records {
        if is_candidate(record) {
            if found.is_some() {
                return Err(TxtError::MultipleRecords);
            }
            found = Some(record);
        }
    }
    parse(found.ok_or(TxtError::NoRecord)?)
}

/// The end of a simple field value: the next WSP or `;`, or the end.
pub(crate) fn value_end(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && s[i] != b';' && !is_wsp(s[i]) {
        i += 1;
    }
    i
}

/// Walks `version 1*(delim field) [delim]`. For each field it checks the
/// name and the `=`, then calls `field(name, record, value_start)`, which
/// validates the value and returns where it ends. Shared with the TLSRPT
/// record, whose grammar has the same shape.
pub(crate) fn parse_fields<'a, E: FieldErrors>(
    s: &'a [u8],
    version: &[u8],
    mut field: impl FnMut(&'a [u8], &'a [u8], usize) -> Result<usize, E>,
) -> Result<(), E> {
    if !s.starts_with(version) {
        return Err(E::NOT_VERSION);
    }
    let mut i = version.len();
    let mut fields = 0usize;
    loop {
        // sts-field-delim, or the end.
        let j = skip_wsp(s, i);
        match s.get(j) {
            None if j != i => {
                return Err(if fields == 0 {
                    E::MISSING_DELIMITER
                } else {
                    E::TRAILING_WHITESPACE
                });
            }
            None if fields == 0 => return Err(E::NO_FIELDS),
            None => return Ok(()),
            Some(b';') => {}
            Some(_) => return Err(E::MISSING_DELIMITER),
        }
        i = skip_wsp(s, j + 1);
        match s.get(i) {
            // A final delimiter is allowed after at least one field.
            None if fields == 0 => return Err(E::NO_FIELDS),
            None => return Ok(()),
            Some(b';') => return Err(E::EMPTY_FIELD),
            Some(_) => {}
        }
        let start = i;
        while i < s.len() && s[i] != b'=' && s[i] != b';' && !is_wsp(s[i]) {
            i += 1;
        }
        let name = s.get(start..i).unwrap_or_default();
        if !matches!(s.get(i), Some(b'=')) || !is_ext_name(name) {
            return Err(E::BAD_FIELD);
        }
        i = field(name, s, i + 1)?;
        fields += 1;
    }
}

/// The errors [`parse_fields`] reports, per record type.
pub(crate) trait FieldErrors {
    const NOT_VERSION: Self;
    const MISSING_DELIMITER: Self;
    const TRAILING_WHITESPACE: Self;
    const EMPTY_FIELD: Self;
    const BAD_FIELD: Self;
    const NO_FIELDS: Self;
}

impl FieldErrors for TxtError {
    const NOT_VERSION: Self = TxtError::NotStsv1;
    const MISSING_DELIMITER: Self = TxtError::MissingDelimiter;
    const TRAILING_WHITESPACE: Self = TxtError::TrailingWhitespace;
    const EMPTY_FIELD: Self = TxtError::EmptyField;
    const BAD_FIELD: Self = TxtError::BadField;
    const NO_FIELDS: Self = TxtError::MissingId;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(id: &str) -> Result<&str, TxtError> {
        Ok(id)
    }

    fn run(record: &str) -> Result<&str, TxtError> {
        parse(record.as_bytes()).map(|r| core::str::from_utf8(r.id).unwrap_or("<non-utf8>"))
    }

    #[test]
    fn rfc8461_3_1_record_grammar() {
        let cases: &[(&str, Result<&str, TxtError>)] = &[
            ("v=STSv1; id=20160831085700Z;", ok("20160831085700Z")),
            ("v=STSv1; id=20160831085700Z", ok("20160831085700Z")),
            ("v=STSv1;id=1", ok("1")),
            ("v=STSv1 ; id=1 ;", ok("1")),
            ("v=STSv1;\tid=1\t;\t", ok("1")),
            ("v=STSv1; id=abc; ext=val", ok("abc")),
            ("v=STSv1; ext=val; id=abc", ok("abc")),
            ("v=STSv1; id=abc; a_b-c.d=x!y", ok("abc")),
            ("v=STSv1", Err(TxtError::MissingId)),
            ("v=STSv1;", Err(TxtError::MissingId)),
            ("v=STSv1 ;", Err(TxtError::MissingId)),
            ("v=STSv1; ext=1", Err(TxtError::MissingId)),
            ("v=STSv1 id=1", Err(TxtError::MissingDelimiter)),
            ("v=STSv12; id=1", Err(TxtError::MissingDelimiter)),
            ("v=STSv1 ", Err(TxtError::MissingDelimiter)),
            ("v=STSv1; id=1 ", Err(TxtError::TrailingWhitespace)),
            ("v=STSv1; id=1 x=2", Err(TxtError::MissingDelimiter)),
            ("v=STSv1; id=1;;", Err(TxtError::EmptyField)),
            ("v=STSv1;; id=1", Err(TxtError::EmptyField)),
            ("v=stsv1; id=1", Err(TxtError::NotStsv1)),
            ("v=STSv2; id=1", Err(TxtError::NotStsv1)),
            (" v=STSv1; id=1", Err(TxtError::NotStsv1)),
            ("", Err(TxtError::NotStsv1)),
            ("v =STSv1; id=1", Err(TxtError::NotStsv1)),
            ("v=STSv1; id=", Err(TxtError::BadId)),
            ("v=STSv1; id=a-b", Err(TxtError::BadId)),
            (
                "v=STSv1; id=123456789012345678901234567890123",
                Err(TxtError::BadId),
            ),
            ("v=STSv1; id=\u{e9}", Err(TxtError::BadId)),
            ("v=STSv1; id=1; x==", Err(TxtError::BadField)),
            ("v=STSv1; id=1; x=", Err(TxtError::BadField)),
            ("v=STSv1; id=1; =x", Err(TxtError::BadField)),
            ("v=STSv1; id=1; _x=1", Err(TxtError::BadField)),
            ("v=STSv1; id=1; x", Err(TxtError::BadField)),
            ("v=STSv1; id =1", Err(TxtError::BadField)),
            (
                "v=STSv1; id=1; a123456789012345678901234567890123=1",
                Err(TxtError::BadField),
            ),
        ];
        for (record, want) in cases {
            assert_eq!(run(record), *want, "{record:?}");
        }
        // 32 alphanumerics is the longest id.
        assert_eq!(
            run("v=STSv1; id=12345678901234567890123456789012"),
            ok("12345678901234567890123456789012")
        );
    }

    #[test]
    fn rfc8461_3_1_id_first_occurrence_wins() {
        assert_eq!(run("v=STSv1; id=first; id=second"), ok("first"));
        // The second id is an extension, so it must still be well-formed.
        assert_eq!(run("v=STSv1; id=first; id=a=b"), Err(TxtError::BadField));
    }

    #[test]
    fn rfc8461_3_1_selection_discards_other_records() {
        let sel = |rs: &[&'static str]| -> Result<&'static str, TxtError> {
            select(rs.iter().map(|r| r.as_bytes()))
                .map(|r| core::str::from_utf8(r.id).unwrap_or(""))
        };
        assert_eq!(sel(&["v=spf1 -all", "v=STSv1; id=1"]), ok("1"));
        assert_eq!(sel(&["v=STSv1; id=1"]), ok("1"));
        assert_eq!(sel(&["v=STSv1 ; id=2"]), ok("2"));
        assert_eq!(sel(&[]), Err(TxtError::NoRecord));
        assert_eq!(sel(&["v=spf1 -all"]), Err(TxtError::NoRecord));
        // "v=STSv1" alone does not begin with "v=STSv1;", so it is discarded.
        assert_eq!(sel(&["v=STSv1", "v=STSv1; id=3"]), ok("3"));
        assert_eq!(sel(&["v=STSv10; id=1", "v=STSv1; id=4"]), ok("4"));
        assert_eq!(
            sel(&["v=STSv1; id=1", "v=STSv1; id=2"]),
            Err(TxtError::MultipleRecords)
        );
        // Exactly one candidate, but invalid: no policy, and the reason says why.
        assert_eq!(sel(&["v=STSv1; id=bad-id"]), Err(TxtError::BadId));
    }
}
