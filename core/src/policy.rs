//! The MTA-STS policy file (RFC 8461 §3.2).
//!
//! [`parse`] reads the bytes of `/.well-known/mta-sts.txt` without copying
//! them and without allocating. The grammar is the ABNF of §3.2, read
//! strictly:
//!
//! * lines end in LF or CRLF (the ABNF's `sts-policy-term`); a bare CR is
//!   an error, and so is an empty line (only one final terminator is
//!   allowed);
//! * a line is `name ":" *WSP value *WSP`, with no whitespace before the
//!   name or the colon;
//! * `version: STSv1`, `mode: enforce|testing|none` and `max_age:` with
//!   1–10 digits and at most 31557600 must each be present; names and
//!   values are case-sensitive (`%s` in the ABNF);
//! * `mx:` is `["*."] Domain` with A-labels only, and at least one is
//!   required unless the mode is `none`;
//! * every other field is an extension and is ignored once its name and
//!   value are well-formed; extension values may be UTF-8, and invalid
//!   UTF-8 is an error;
//! * for every field but `mx`, the first occurrence wins: later ones are
//!   read as extensions, so they must be well-formed but their value is not
//!   checked against the field's own grammar.
//!
//! The mx list is not copied: the first [`INLINE_MX`] positions are kept
//! in the [`Policy`] value for fast matching and the rest are found again
//! by a lazy scan ([`Policy::mx`]), so there is no limit on their number.

use crate::lex::{self, error_enum, find_lf, is_ext_name, is_wsp, skip_wsp, trim_wsp_end};
use crate::mx::{self, MxError};
use crate::name;

error_enum! {
    /// Why a policy file is invalid. Each variant names one broken rule of
    /// RFC 8461 §3.2.
    pub enum PolicyError {
        /// The file is empty.
        Empty => "policy is empty",
        /// The file starts with a byte-order mark (it must start with a field).
        ByteOrderMark => "policy starts with a byte-order mark",
        /// An empty line; only one optional line end may follow the last field.
        BlankLine => "policy has an empty line",
        /// A CR not followed by LF (line ends are LF or CRLF).
        BareCr => "policy has a CR that is not part of a CRLF line end",
        /// A line starts with whitespace.
        LeadingWhitespace => "policy line starts with whitespace",
        /// A line has no `:`.
        MissingColon => "policy line is not 'name: value'",
        /// Whitespace between a field name and its `:`.
        WhitespaceBeforeColon => "policy line has whitespace before ':'",
        /// A field name that is not `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`.
        BadFieldName => "policy field name is not 1-32 letters, digits, '_', '-' or '.' starting with a letter or digit",
        /// `version` is not `STSv1`.
        BadVersion => "policy version is not STSv1",
        /// `mode` is not `enforce`, `testing` or `none`.
        BadMode => "policy mode is not enforce, testing or none",
        /// `max_age` is not 1 to 10 digits.
        BadMaxAge => "policy max_age is not 1 to 10 digits",
        /// `max_age` is more than 31557600 seconds.
        MaxAgeTooLarge => "policy max_age is over 31557600",
        /// An `mx` value is not `["*."] Domain` with A-labels.
        BadMx => "policy mx is not a host name (A-labels) or '*.' and a host name",
        /// An extension value is empty or has control characters.
        BadExtensionValue => "policy extension value is empty or has control characters",
        /// An extension value is not valid UTF-8.
        NotUtf8 => "policy has bytes that are not valid UTF-8",
        /// No `version` field.
        MissingVersion => "policy has no version field",
        /// No `mode` field.
        MissingMode => "policy has no mode field",
        /// No `max_age` field.
        MissingMaxAge => "policy has no max_age field",
        /// No `mx` field although the mode is not `none`.
        MissingMx => "policy has no mx field and its mode is not none",
        /// The file is larger than 4 GiB, beyond what positions can hold.
        TooLarge => "policy is larger than 4 GiB",
    }
}

/// Largest `max_age` allowed by RFC 8461 §3.2 (about one year).
pub const MAX_AGE_LIMIT: u32 = 31_557_600;

/// How many mx positions a [`Policy`] keeps inline for fast matching.
pub const INLINE_MX: usize = 8;

/// The policy mode (RFC 8461 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Mode {
    /// `none`: the domain has no active policy.
    None = 0,
    /// `testing`: deliver anyway, report failures (RFC 8460).
    Testing = 1,
    /// `enforce`: do not deliver to an MX host that fails validation.
    Enforce = 2,
}

impl Mode {
    /// The keyword as it appears in a policy file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Testing => "testing",
            Mode::Enforce => "enforce",
        }
    }
}

/// Position of one mx value inside the policy text.
// `repr(C)`: two `u32`s in this order, so that a wrapper which stores the
// spans as a `u32` array (the C ABI's `sts_policy`) can lend them as
// `[Span; INLINE_MX]` to [`MxList`] without copying.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Span {
    /// Byte offset of the value.
    pub start: u32,
    /// Length of the value in bytes.
    pub len: u32,
}

/// A parsed policy. It borrows the text it was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy<'a> {
    text: &'a [u8],
    parts: PolicyParts,
}

/// Everything a [`Policy`] holds besides the text, as plain data, so that a
/// foreign-language wrapper can store it and rebuild the policy with
/// [`Policy::from_parts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyParts {
    /// The mode.
    pub mode: Mode,
    /// `max_age` in seconds.
    pub max_age: u32,
    /// Number of `mx` fields.
    pub mx_count: usize,
    /// Positions of the first [`INLINE_MX`] mx values.
    pub inline: [Span; INLINE_MX],
    /// Offset of the line holding mx value number `INLINE_MX` (0-based),
    /// where the lazy scan resumes.
    pub rest_from: u32,
}

/// A [`PolicyError`] and the byte offset of the line or field where it was
/// found (for `missing` errors, the end of the text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyErrorAt {
    /// What is wrong.
    pub error: PolicyError,
    /// Where, as a byte offset into the text.
    pub offset: usize,
}

impl PolicyErrorAt {
    /// The 1-based line and column of [`Self::offset`] in `text`.
    pub fn line_column(&self, text: &[u8]) -> (usize, usize) {
        let upto = &text[..self.offset.min(text.len())];
        let line = 1 + upto.iter().filter(|&&b| b == b'\n').count();
        let line_start = upto.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        (line, 1 + upto.len() - line_start)
    }
}

/// Parses a policy file; see the module documentation for the rules.
#[inline]
pub fn parse(text: &[u8]) -> Result<Policy<'_>, PolicyError> {
    // Policies as published almost always have the plain shape the fast
    // path reads; it returns `None` for anything else, valid or not. On
    // 32-bit targets (firmware) code size matters more, so they skip it.
    #[cfg(target_pointer_width = "64")]
    if let Some(policy) = fast::parse(text) {
        return Ok(policy);
    }
    parse_detailed(text).map_err(|e| e.error)
}

/// The fast path of [`parse`] alone: `Some` only for policies of the
/// common shape it reads (see the source of `policy::fast`), and then
/// exactly what [`parse_detailed`] gives. For tests and benchmarks that
/// check the two agree; use [`parse`].
#[doc(hidden)]
#[inline]
pub fn parse_fast_path(text: &[u8]) -> Option<Policy<'_>> {
    fast::parse(text)
}

/// Like [`parse`], but also says where the first error is.
pub fn parse_detailed(text: &[u8]) -> Result<Policy<'_>, PolicyErrorAt> {
    let fail = |error, offset| Err(PolicyErrorAt { error, offset });
    if text.is_empty() {
        return fail(PolicyError::Empty, 0);
    }
    if u32::try_from(text.len()).is_err() {
        return fail(PolicyError::TooLarge, 0);
    }
    if text.starts_with(b"\xef\xbb\xbf")
        || text.starts_with(b"\xfe\xff")
        || text.starts_with(b"\xff\xfe")
    {
        return fail(PolicyError::ByteOrderMark, 0);
    }

    let mut mode = None;
    let mut max_age = None;
    let mut have_version = false;
    let mut mx_count = 0usize;
    let mut inline = [Span::default(); INLINE_MX];
    let mut rest_from = text.len() as u32;

    let mut pos = 0usize;
    while pos < text.len() {
        let line_start = pos;
        let rest = lex::tail_in_range(text, pos);
        let (line, next) = match find_lf(rest) {
            Some(nl) => match lex::head_in_range(rest, nl) {
                [body @ .., b'\r'] => (body, pos + nl + 1),
                body => (body, pos + nl + 1),
            },
            // The last line has no terminator, so a CR here is a bare CR.
            None => (rest, text.len()),
        };
        pos = next;
        let located = |error| {
            // A stray CR explains most malformed lines better than the
            // field-level rule it happened to break.
            let error = if lex::has_byte(line, b'\r') {
                PolicyError::BareCr
            } else {
                error
            };
            Err(PolicyErrorAt {
                error,
                offset: line_start,
            })
        };

        // Most lines of a policy are mx lines: skip the colon search.
        let colon = if line.starts_with(b"mx:") {
            2
        } else {
            match line.iter().position(|&b| b == b':') {
                Some(c) => c,
                None if line.is_empty() => return located(PolicyError::BlankLine),
                None if line.first().is_some_and(|&b| is_wsp(b)) => {
                    return located(PolicyError::LeadingWhitespace)
                }
                None => return located(PolicyError::MissingColon),
            }
        };
        let name = lex::head(line, colon);
        let value = trim_wsp_end(lex::tail(line, skip_wsp(line, colon + 1)));

        match name {
            b"mx" => {
                if mx::validate_pattern(value).is_err() {
                    return located(PolicyError::BadMx);
                }
                let start =
                    (line_start + (value.as_ptr() as usize - line.as_ptr() as usize)) as u32;
                if let Some(slot) = inline.get_mut(mx_count) {
                    *slot = Span {
                        start,
                        len: value.len() as u32,
                    };
                } else if mx_count == INLINE_MX {
                    rest_from = line_start as u32;
                }
                mx_count += 1;
            }
            b"version" if !have_version => {
                if value != b"STSv1" {
                    return located(PolicyError::BadVersion);
                }
                have_version = true;
            }
            b"mode" if mode.is_none() => {
                mode = Some(match value {
                    b"enforce" => Mode::Enforce,
                    b"testing" => Mode::Testing,
                    b"none" => Mode::None,
                    _ => return located(PolicyError::BadMode),
                });
            }
            b"max_age" if max_age.is_none() => {
                max_age = Some(match parse_max_age(value) {
                    Ok(v) => v,
                    Err(e) => return located(e),
                });
            }
            _ => {
                if !is_ext_name(name) {
                    let error = match name.first() {
                        Some(&b) if is_wsp(b) => PolicyError::LeadingWhitespace,
                        _ if name.last().is_some_and(|&b| is_wsp(b)) => {
                            PolicyError::WhitespaceBeforeColon
                        }
                        _ => PolicyError::BadFieldName,
                    };
                    return located(error);
                }
                if let Err(e) = check_extension_value(value) {
                    return located(e);
                }
            }
        }
    }

    let end = text.len();
    if !have_version {
        return fail(PolicyError::MissingVersion, end);
    }
    let Some(mode) = mode else {
        return fail(PolicyError::MissingMode, end);
    };
    let Some(max_age) = max_age else {
        return fail(PolicyError::MissingMaxAge, end);
    };
    if mx_count == 0 && mode != Mode::None {
        return fail(PolicyError::MissingMx, end);
    }
    Ok(Policy {
        text,
        parts: PolicyParts {
            mode,
            max_age,
            mx_count,
            inline,
            rest_from,
        },
    })
}

/// `1*10(DIGIT)`, at most [`MAX_AGE_LIMIT`]. Leading zeros are allowed.
fn parse_max_age(value: &[u8]) -> Result<u32, PolicyError> {
    if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
        return Err(PolicyError::BadMaxAge);
    }
    let n = value
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    u32::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_AGE_LIMIT)
        .ok_or(PolicyError::MaxAgeTooLarge)
}

/// `sts-policy-vchar *(*WSP sts-policy-vchar)` where a vchar is visible
/// ASCII or non-ASCII UTF-8. The value arrives trimmed of outer WSP.
fn check_extension_value(value: &[u8]) -> Result<(), PolicyError> {
    if value.is_empty() {
        return Err(PolicyError::BadExtensionValue);
    }
    let mut non_ascii = false;
    for &b in value {
        match b {
            0x21..=0x7e | b' ' | b'\t' => {}
            0x80..=0xff => non_ascii = true,
            _ => return Err(PolicyError::BadExtensionValue),
        }
    }
    if non_ascii && core::str::from_utf8(value).is_err() {
        return Err(PolicyError::NotUtf8);
    }
    Ok(())
}

impl<'a> Policy<'a> {
    /// The policy mode.
    #[inline]
    pub fn mode(&self) -> Mode {
        self.parts.mode
    }

    /// `max_age` in seconds.
    #[inline]
    pub fn max_age(&self) -> u32 {
        self.parts.max_age
    }

    /// How many `mx` fields the policy has.
    #[inline]
    pub fn mx_count(&self) -> usize {
        self.parts.mx_count
    }

    /// The text the policy was parsed from.
    #[inline]
    pub fn text(&self) -> &'a [u8] {
        self.text
    }

    /// The plain data behind this policy (see [`PolicyParts`]).
    #[inline]
    pub fn parts(&self) -> PolicyParts {
        self.parts
    }

    /// Rebuilds a policy from its text and the parts [`Policy::parts`]
    /// returned. Parts that do not belong to `text` give wrong answers but
    /// never a panic or an out-of-bounds read.
    #[inline]
    pub fn from_parts(text: &'a [u8], parts: PolicyParts) -> Self {
        Policy { text, parts }
    }

    /// The mx patterns in file order, as a lazy iterator.
    #[inline]
    pub fn mx(&self) -> MxIter<'a> {
        self.mx_list().iter()
    }

    /// The mx pattern at `index`, if there is one.
    pub fn mx_at(&self, index: usize) -> Option<&'a [u8]> {
        self.mx_list().mx_at(index)
    }

    /// RFC 8461 §4.1: whether `host` is permitted by one of the mx
    /// patterns. `Ok(())` when it is; [`MxError::NoMatch`] when it is not;
    /// other errors when `host` is not a host name.
    #[inline(always)]
    pub fn match_mx(&self, host: &[u8]) -> Result<(), MxError> {
        self.mx_list().match_mx(host)
    }

    /// What matching reads of this policy, borrowed.
    #[inline(always)]
    pub fn mx_list(&self) -> MxList<'a, '_> {
        MxList {
            text: self.text,
            inline: &self.parts.inline,
            mx_count: self.parts.mx_count,
            rest_from: self.parts.rest_from,
        }
    }
}

/// The parts of a policy that [`MxList::match_mx`] reads, borrowed: the
/// text and the [`PolicyParts`] fields about mx values. A wrapper that keeps
/// the parts in a layout of its own (the C ABI) matches through this
/// without rebuilding a [`Policy`]. As with [`Policy::from_parts`], parts
/// that do not belong to `text` give wrong answers but never a panic or an
/// out-of-bounds read.
#[derive(Clone, Copy, Debug)]
pub struct MxList<'t, 'p> {
    /// The policy text.
    pub text: &'t [u8],
    /// [`PolicyParts::inline`].
    pub inline: &'p [Span; INLINE_MX],
    /// [`PolicyParts::mx_count`].
    pub mx_count: usize,
    /// [`PolicyParts::rest_from`].
    pub rest_from: u32,
}

impl<'t> MxList<'t, '_> {
    /// [`Policy::mx_at`].
    pub fn mx_at(&self, index: usize) -> Option<&'t [u8]> {
        if index >= self.mx_count {
            return None;
        }
        match self.inline.get(index) {
            Some(span) => span_slice(self.text, *span),
            None => self.rest().nth(index - INLINE_MX),
        }
    }

    /// The mx values in file order: the inline ones, then those found by
    /// scanning the text from `rest_from`.
    #[inline]
    fn iter(&self) -> MxIter<'t> {
        MxIter {
            text: self.text,
            inline: *self.inline,
            mx_count: self.mx_count,
            index: 0,
            scan: self.rest_from as usize,
        }
    }

    /// The mx values past the inline ones.
    fn rest(&self) -> MxIter<'t> {
        MxIter {
            index: INLINE_MX,
            ..self.iter()
        }
    }

    /// [`Policy::match_mx`].
    #[inline(always)]
    pub fn match_mx(&self, host: &[u8]) -> Result<(), MxError> {
        // Compare first and validate after: a host equal to a validated
        // pattern is itself valid but for the label a wildcard stands
        // for, so the common case checks only that label.
        let host = name::strip_root(host);
        let inline = self.mx_count.min(INLINE_MX);
        for span in self.inline.get(..inline).unwrap_or_default() {
            if let Some(p) = span_slice(self.text, *span) {
                if let Some(verdict) = mx::match_validated(p, host) {
                    return verdict;
                }
            }
        }
        match_mx_rest(self.text, self.mx_count, self.rest_from, host)
    }
}

/// [`MxList::match_mx`] past the inline patterns: the lazily found ones,
/// then the verdict on a host no pattern matched. Out of line so that the
/// common case stays small, and given the fields it reads rather than the
/// list, which the caller would otherwise write to memory for it on every
/// match.
#[inline(never)]
fn match_mx_rest(text: &[u8], mx_count: usize, rest_from: u32, host: &[u8]) -> Result<(), MxError> {
    if mx_count > INLINE_MX {
        let rest = MxIter {
            text,
            inline: [Span::default(); INLINE_MX],
            mx_count,
            index: INLINE_MX,
            scan: rest_from as usize,
        };
        for p in rest {
            if let Some(verdict) = mx::match_validated(p, host) {
                return verdict;
            }
        }
    }
    // The root dot is already gone, so this must not strip another.
    mx::check_host(host)?;
    Err(MxError::NoMatch)
}

#[inline]
fn span_slice(text: &[u8], span: Span) -> Option<&[u8]> {
    let start = span.start as usize;
    text.get(start..start.checked_add(span.len as usize)?)
}

/// Iterator over the mx patterns of a [`Policy`]; see [`Policy::mx`].
#[derive(Clone, Debug)]
pub struct MxIter<'a> {
    text: &'a [u8],
    inline: [Span; INLINE_MX],
    mx_count: usize,
    index: usize,
    scan: usize,
}

impl<'a> Iterator for MxIter<'a> {
    type Item = &'a [u8];

    // `always`: in libsts.so LTO otherwise leaves it a call per pattern
    // inside the match loop, 23 instructions each on a 200-mx policy.
    #[inline(always)]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.index >= self.mx_count {
            return None;
        }
        if let Some(span) = self.inline.get(self.index) {
            self.index += 1;
            return span_slice(self.text, *span);
        }
        // Past the inline positions: find the next `mx:` line. The text was
        // validated when parsed, so every line is `name: value`.
        while self.scan < self.text.len() {
            let rest = lex::tail(self.text, self.scan);
            let (line, advance) = match find_lf(rest) {
                Some(nl) => (lex::head(rest, nl), nl + 1),
                None => (rest, rest.len()),
            };
            self.scan += advance;
            // Slice patterns rather than strip_suffix/strip_prefix, which
            // keep split_at's panic path in size-optimised builds.
            let line = match line {
                [body @ .., b'\r'] => body,
                _ => line,
            };
            if let [b'm', b'x', b':', value @ ..] = line {
                let value = trim_wsp_end(lex::tail(value, skip_wsp(value, 0)));
                self.index += 1;
                return Some(value);
            }
        }
        self.index = self.mx_count;
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.mx_count.saturating_sub(self.index);
        (0, Some(left))
    }
}

mod fast;
#[cfg(test)]
mod tests;
