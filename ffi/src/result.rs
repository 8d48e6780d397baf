//! `sts_result`: one stable number per failure, never reused.

use core::ffi::c_char;
#[cfg(feature = "cert")]
use sts_core::cert::CertError;
#[cfg(any(feature = "cert", feature = "dane"))]
use sts_core::dane::DaneError;
use sts_core::mx::MxError;
use sts_core::policy::PolicyError;
use sts_core::tlsrpt::ResultType;
use sts_core::tlsrpt::TlsrptError;
use sts_core::txt::TxtError;

/// Declares `sts_result` from one table: per code its number, its
/// documentation (also the comment in the C header, which the header test
/// writes from [`sts_result::ALL`] and [`sts_result::doc`]) and, for codes
/// that no core error maps to, the text of `sts_result_str` (the others use
/// the core error's own text). The exhaustive `match`es make the compiler
/// check that every code has its name and text.
macro_rules! sts_results {
    (
        $(#[doc = $edoc:literal])+
        pub enum sts_result {
            $( $(#[doc = $doc:literal])+ $name:ident = $num:literal $(=> $msg:literal)?, )+
        }
    ) => {
        $(#[doc = $edoc])+
        #[allow(non_camel_case_types)]
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum sts_result {
            $( $(#[doc = $doc])+ $name = $num, )+
        }

        impl sts_result {
            /// The documentation of the type, for the C header.
            pub const DOC: &'static str = concat!($($edoc, "\n"),+);

            /// Every code, in numeric order.
            pub const ALL: &'static [sts_result] = &[$(sts_result::$name),+];

            /// The C identifier of the code, NUL-terminated.
            pub const fn name_nul(self) -> &'static str {
                match self {
                    $( sts_result::$name => concat!(stringify!($name), "\0"), )+
                }
            }

            /// The documentation of the code, for the C header.
            pub const fn doc(self) -> &'static str {
                match self {
                    $( sts_result::$name => concat!($($doc, "\n"),+), )+
                }
            }

            /// The text of a code that no core error maps to, NUL-terminated.
            #[cfg(feature = "messages")]
            fn own_message(self) -> Option<&'static str> {
                match self {
                    $( sts_result::$name => None$(.or(Some(concat!($msg, "\0"))))?, )+
                }
            }
        }
    };
}

sts_results! {
    /// The outcome of every libsts call. `STS_OK` is 0; each error names the
    /// rule that was broken. Numbers are stable across releases and never
    /// reused: 1–99 are about the call itself, 200s the `_mta-sts` TXT record,
    /// 300s the policy file, 400s MX matching, 500s the TLSRPT record, 600s
    /// WebPKI certificate checks, 700s DANE, 800s the client, 900s TLSRPT
    /// recording.
    /// `sts_result_str` describes each one in words (with
    /// `STS_FEATURE_MESSAGES`; without it, firmware, it gives the name).
    pub enum sts_result {
        /// Success.
        STS_OK = 0 => "success",
        /// A required pointer argument was NULL.
        STS_ERR_NULL = 1 => "a required pointer argument was NULL",
        /// libsts hit an internal error (a caught Rust panic); please report it.
        STS_ERR_PANIC = 2 => "internal error in libsts (caught panic); please report it",
        /// An argument is out of range (for example a length over SSIZE_MAX).
        STS_ERR_INVALID_ARGUMENT = 3 => "an argument is out of range",
        /// The index is not below the item count.
        STS_ERR_INDEX_OUT_OF_RANGE = 4 => "index is not below the number of items",
        /// A C string argument is not valid UTF-8 (host names must be ASCII).
        STS_ERR_NOT_UTF8 = 5 => "string argument is not valid UTF-8",
        /// A struct handed back to libsts was not filled by libsts, or was changed.
        STS_ERR_CORRUPT_STRUCT = 6 => "struct was not filled by libsts or was changed",
        /// A struct's `struct_size` is not set (0), not a size any header
        /// declared, or sets fields this library is too old to know.
        STS_ERR_STRUCT_SIZE = 7 => "struct_size is unset, unknown or newer than this library",

        /// TXT record does not start with `v=STSv1` (RFC 8461 §3.1).
        STS_ERR_TXT_NOT_STSV1 = 200,
        /// TXT record fields are not separated by `;`.
        STS_ERR_TXT_MISSING_DELIMITER = 201,
        /// TXT record has an empty field (`;;`).
        STS_ERR_TXT_EMPTY_FIELD = 202,
        /// TXT record ends in whitespace not followed by `;`.
        STS_ERR_TXT_TRAILING_WHITESPACE = 203,
        /// TXT record has no `id=` field.
        STS_ERR_TXT_MISSING_ID = 204,
        /// TXT record `id` is not 1 to 32 letters and digits.
        STS_ERR_TXT_BAD_ID = 205,
        /// TXT record has a malformed extension field.
        STS_ERR_TXT_BAD_FIELD = 206,
        /// No TXT record at the name begins with `v=STSv1;`: no policy.
        STS_ERR_TXT_NO_RECORD = 207,
        /// More than one TXT record begins with `v=STSv1;`: no policy.
        STS_ERR_TXT_MULTIPLE_RECORDS = 208,
        /// TXT record is invalid for a reason this version does not name.
        STS_ERR_TXT_OTHER = 299 => "TXT record is invalid",

        /// Policy is empty (RFC 8461 §3.2).
        STS_ERR_POLICY_EMPTY = 300,
        /// Policy starts with a byte-order mark.
        STS_ERR_POLICY_BYTE_ORDER_MARK = 301,
        /// Policy has an empty line.
        STS_ERR_POLICY_BLANK_LINE = 302,
        /// Policy has a CR that is not part of CRLF.
        STS_ERR_POLICY_BARE_CR = 303,
        /// Policy line starts with whitespace.
        STS_ERR_POLICY_LEADING_WHITESPACE = 304,
        /// Policy line is not `name: value`.
        STS_ERR_POLICY_MISSING_COLON = 305,
        /// Policy line has whitespace before `:`.
        STS_ERR_POLICY_WHITESPACE_BEFORE_COLON = 306,
        /// Policy field name is malformed.
        STS_ERR_POLICY_BAD_FIELD_NAME = 307,
        /// Policy `version` is not `STSv1`.
        STS_ERR_POLICY_BAD_VERSION = 308,
        /// Policy `mode` is not enforce, testing or none.
        STS_ERR_POLICY_BAD_MODE = 309,
        /// Policy `max_age` is not 1 to 10 digits.
        STS_ERR_POLICY_BAD_MAX_AGE = 310,
        /// Policy `max_age` is over 31557600.
        STS_ERR_POLICY_MAX_AGE_TOO_LARGE = 311,
        /// Policy `mx` is not a host name or `*.` and a host name.
        STS_ERR_POLICY_BAD_MX = 312,
        /// Policy extension value is empty or has control characters.
        STS_ERR_POLICY_BAD_EXTENSION_VALUE = 313,
        /// Policy has bytes that are not valid UTF-8.
        STS_ERR_POLICY_NOT_UTF8 = 314,
        /// Policy has no `version` field.
        STS_ERR_POLICY_MISSING_VERSION = 315,
        /// Policy has no `mode` field.
        STS_ERR_POLICY_MISSING_MODE = 316,
        /// Policy has no `max_age` field.
        STS_ERR_POLICY_MISSING_MAX_AGE = 317,
        /// Policy has no `mx` field and its mode is not none.
        STS_ERR_POLICY_MISSING_MX = 318,
        /// Policy is larger than 4 GiB.
        STS_ERR_POLICY_TOO_LARGE = 319,
        /// Policy is invalid for a reason this version does not name.
        STS_ERR_POLICY_OTHER = 399 => "policy is invalid",

        /// The MX host matches no pattern of the policy (RFC 8461 §4.1).
        STS_ERR_MX_NO_MATCH = 400,
        /// The MX pattern is not a host name or `*.` and a host name.
        STS_ERR_MX_BAD_PATTERN = 401,
        /// The MX host is not a valid host name.
        STS_ERR_MX_BAD_HOST = 402,
        /// The MX host is an IP address; MTA-STS matches names only.
        STS_ERR_MX_IP_LITERAL = 403,
        /// MX matching failed for a reason this version does not name.
        STS_ERR_MX_OTHER = 499 => "MX host is not permitted",

        /// TXT record does not start with `v=TLSRPTv1` (RFC 8460 §3).
        STS_ERR_TLSRPT_NOT_TLSRPTV1 = 500,
        /// TLSRPT record fields are not separated by `;`.
        STS_ERR_TLSRPT_MISSING_DELIMITER = 501,
        /// TLSRPT record has an empty field.
        STS_ERR_TLSRPT_EMPTY_FIELD = 502,
        /// TLSRPT record ends in whitespace not followed by `;`.
        STS_ERR_TLSRPT_TRAILING_WHITESPACE = 503,
        /// TLSRPT record has no `rua=` field.
        STS_ERR_TLSRPT_MISSING_RUA = 504,
        /// TLSRPT `rua` is not a list of mailto: or https:// URIs.
        STS_ERR_TLSRPT_BAD_URI = 505,
        /// TLSRPT record has a malformed extension field.
        STS_ERR_TLSRPT_BAD_FIELD = 506,
        /// TLSRPT record is invalid for a reason this version does not name.
        STS_ERR_TLSRPT_OTHER = 599 => "TLSRPT record is invalid",

        /// Certificate does not match the MX host (TLSRPT certificate-host-mismatch).
        STS_ERR_CERT_HOST_MISMATCH = 600,
        /// Certificate is expired or not yet valid (TLSRPT certificate-expired).
        STS_ERR_CERT_EXPIRED = 601,
        /// Chain does not lead to a trusted root (TLSRPT certificate-not-trusted).
        STS_ERR_CERT_NOT_TRUSTED = 602,
        /// Chain failed validation otherwise (TLSRPT validation-failure).
        STS_ERR_CERT_VALIDATION_FAILURE = 603,
        /// The certificate chain is empty.
        STS_ERR_CERT_EMPTY_CHAIN = 604,
        /// The MX host is not a valid host name.
        STS_ERR_CERT_BAD_HOST = 605,
        /// The chain has more than 16 certificates.
        STS_ERR_CERT_TOO_MANY_CERTIFICATES = 606,
        /// Certificate check failed for a reason this version does not name.
        STS_ERR_CERT_OTHER = 699 => "certificate chain is not valid for the MX host",

        /// No usable TLSA record (TLSRPT tlsa-invalid).
        STS_ERR_DANE_TLSA_INVALID = 700,
        /// Usable TLSA records, but none matches the chain.
        STS_ERR_DANE_NO_MATCH = 701,
        /// DANE-TA matched but the certificate does not match the MX host.
        STS_ERR_DANE_HOST_MISMATCH = 702,
        /// DANE-TA matched but a certificate is expired or not yet valid.
        STS_ERR_DANE_EXPIRED = 703,
        /// DANE-TA matched but the chain does not verify up to it.
        STS_ERR_DANE_CHAIN_INVALID = 704,
        /// DANE-TA needs certificate validation, which this build lacks.
        STS_ERR_DANE_TA_UNSUPPORTED = 705,
        /// The certificate chain is empty.
        STS_ERR_DANE_EMPTY_CHAIN = 706,
        /// The chain has more than 16 certificates.
        STS_ERR_DANE_TOO_MANY_CERTIFICATES = 707,
        /// The server certificate is not well-formed X.509.
        STS_ERR_DANE_BAD_CERTIFICATE = 708,
        /// The MX host is not a valid host name.
        STS_ERR_DANE_BAD_HOST = 709,
        /// DANE check failed for a reason this version does not name.
        STS_ERR_DANE_OTHER = 799 => "DANE authentication failed",

        /// A client setting (option or `STS_*` variable) is malformed.
        STS_ERR_CLIENT_CONFIG = 800 => "client setting (option or STS_* variable) is malformed",
        /// The policy cache directory cannot be created or opened.
        STS_ERR_CLIENT_CACHE = 801 => "policy cache directory cannot be created or opened",
        /// The domain is not a valid domain name.
        STS_ERR_CLIENT_BAD_DOMAIN = 802 => "domain is not a valid domain name",
        /// The TXT lookup failed temporarily (SERVFAIL, timeout).
        STS_ERR_CLIENT_DNS_TEMPORARY = 803 => "TXT lookup failed temporarily (SERVFAIL or timeout)",
        /// The policy could not be fetched (TLSRPT sts-policy-fetch-error).
        STS_ERR_CLIENT_FETCH = 804 => "policy could not be fetched over HTTPS",
        /// A fetch failed recently; not retried until the back-off ends.
        STS_ERR_CLIENT_BACKED_OFF = 805 => "policy fetch failed recently; backing off",
        /// The domain has no policy in force.
        STS_ERR_CLIENT_NO_POLICY = 806 => "domain has no MTA-STS policy in force",
        /// The output buffer is too small; the size needed was written.
        STS_ERR_BUFFER_TOO_SMALL = 807 => "output buffer is too small",

        /// Not an RFC 8460 §4.3 result type name.
        STS_ERR_REPORT_BAD_RESULT_TYPE = 900 => "not a TLSRPT result type of RFC 8460 section 4.3",
        /// The outcome cannot be recorded (bad domain, over-long field).
        STS_ERR_REPORT_BAD_OUTCOME = 901 => "outcome cannot be recorded (bad domain or over-long field)",
        /// The report store cannot be written.
        STS_ERR_REPORT_STORAGE = 902 => "report store cannot be written",
    }
}

use sts_result::*;

impl From<TxtError> for sts_result {
    fn from(e: TxtError) -> Self {
        match e {
            TxtError::NotStsv1 => STS_ERR_TXT_NOT_STSV1,
            TxtError::MissingDelimiter => STS_ERR_TXT_MISSING_DELIMITER,
            TxtError::EmptyField => STS_ERR_TXT_EMPTY_FIELD,
            TxtError::TrailingWhitespace => STS_ERR_TXT_TRAILING_WHITESPACE,
            TxtError::MissingId => STS_ERR_TXT_MISSING_ID,
            TxtError::BadId => STS_ERR_TXT_BAD_ID,
            TxtError::BadField => STS_ERR_TXT_BAD_FIELD,
            TxtError::NoRecord => STS_ERR_TXT_NO_RECORD,
            TxtError::MultipleRecords => STS_ERR_TXT_MULTIPLE_RECORDS,
            _ => STS_ERR_TXT_OTHER,
        }
    }
}

impl From<PolicyError> for sts_result {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Empty => STS_ERR_POLICY_EMPTY,
            PolicyError::ByteOrderMark => STS_ERR_POLICY_BYTE_ORDER_MARK,
            PolicyError::BlankLine => STS_ERR_POLICY_BLANK_LINE,
            PolicyError::BareCr => STS_ERR_POLICY_BARE_CR,
            PolicyError::LeadingWhitespace => STS_ERR_POLICY_LEADING_WHITESPACE,
            PolicyError::MissingColon => STS_ERR_POLICY_MISSING_COLON,
            PolicyError::WhitespaceBeforeColon => STS_ERR_POLICY_WHITESPACE_BEFORE_COLON,
            PolicyError::BadFieldName => STS_ERR_POLICY_BAD_FIELD_NAME,
            PolicyError::BadVersion => STS_ERR_POLICY_BAD_VERSION,
            PolicyError::BadMode => STS_ERR_POLICY_BAD_MODE,
            PolicyError::BadMaxAge => STS_ERR_POLICY_BAD_MAX_AGE,
            PolicyError::MaxAgeTooLarge => STS_ERR_POLICY_MAX_AGE_TOO_LARGE,
            PolicyError::BadMx => STS_ERR_POLICY_BAD_MX,
            PolicyError::BadExtensionValue => STS_ERR_POLICY_BAD_EXTENSION_VALUE,
            PolicyError::NotUtf8 => STS_ERR_POLICY_NOT_UTF8,
            PolicyError::MissingVersion => STS_ERR_POLICY_MISSING_VERSION,
            PolicyError::MissingMode => STS_ERR_POLICY_MISSING_MODE,
            PolicyError::MissingMaxAge => STS_ERR_POLICY_MISSING_MAX_AGE,
            PolicyError::MissingMx => STS_ERR_POLICY_MISSING_MX,
            PolicyError::TooLarge => STS_ERR_POLICY_TOO_LARGE,
            _ => STS_ERR_POLICY_OTHER,
        }
    }
}

impl From<MxError> for sts_result {
    fn from(e: MxError) -> Self {
        match e {
            MxError::NoMatch => STS_ERR_MX_NO_MATCH,
            MxError::BadPattern => STS_ERR_MX_BAD_PATTERN,
            MxError::BadHost => STS_ERR_MX_BAD_HOST,
            MxError::IpLiteral => STS_ERR_MX_IP_LITERAL,
            _ => STS_ERR_MX_OTHER,
        }
    }
}

impl From<TlsrptError> for sts_result {
    fn from(e: TlsrptError) -> Self {
        match e {
            TlsrptError::NotTlsrptv1 => STS_ERR_TLSRPT_NOT_TLSRPTV1,
            TlsrptError::MissingDelimiter => STS_ERR_TLSRPT_MISSING_DELIMITER,
            TlsrptError::EmptyField => STS_ERR_TLSRPT_EMPTY_FIELD,
            TlsrptError::TrailingWhitespace => STS_ERR_TLSRPT_TRAILING_WHITESPACE,
            TlsrptError::MissingRua => STS_ERR_TLSRPT_MISSING_RUA,
            TlsrptError::BadUri => STS_ERR_TLSRPT_BAD_URI,
            TlsrptError::BadField => STS_ERR_TLSRPT_BAD_FIELD,
            _ => STS_ERR_TLSRPT_OTHER,
        }
    }
}

#[cfg(feature = "cert")]
impl From<CertError> for sts_result {
    fn from(e: CertError) -> Self {
        match e {
            CertError::HostMismatch => STS_ERR_CERT_HOST_MISMATCH,
            CertError::Expired => STS_ERR_CERT_EXPIRED,
            CertError::NotTrusted => STS_ERR_CERT_NOT_TRUSTED,
            CertError::ValidationFailure => STS_ERR_CERT_VALIDATION_FAILURE,
            CertError::EmptyChain => STS_ERR_CERT_EMPTY_CHAIN,
            CertError::BadHost => STS_ERR_CERT_BAD_HOST,
            CertError::TooManyCertificates => STS_ERR_CERT_TOO_MANY_CERTIFICATES,
            _ => STS_ERR_CERT_OTHER,
        }
    }
}

#[cfg(any(feature = "cert", feature = "dane"))]
impl From<DaneError> for sts_result {
    fn from(e: DaneError) -> Self {
        match e {
            DaneError::TlsaInvalid => STS_ERR_DANE_TLSA_INVALID,
            DaneError::NoMatch => STS_ERR_DANE_NO_MATCH,
            DaneError::HostMismatch => STS_ERR_DANE_HOST_MISMATCH,
            DaneError::Expired => STS_ERR_DANE_EXPIRED,
            DaneError::ChainInvalid => STS_ERR_DANE_CHAIN_INVALID,
            DaneError::TaNeedsWebpki => STS_ERR_DANE_TA_UNSUPPORTED,
            DaneError::EmptyChain => STS_ERR_DANE_EMPTY_CHAIN,
            DaneError::TooManyCertificates => STS_ERR_DANE_TOO_MANY_CERTIFICATES,
            DaneError::BadCertificate => STS_ERR_DANE_BAD_CERTIFICATE,
            DaneError::BadHost => STS_ERR_DANE_BAD_HOST,
            _ => STS_ERR_DANE_OTHER,
        }
    }
}

impl sts_result {
    /// The code with number `n`, if there is one.
    pub fn from_u32(n: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| *r as u32 == n)
    }

    /// A description in words, NUL-terminated. Codes that come from a core
    /// error reuse the core's text, so the two never disagree.
    #[cfg(feature = "messages")]
    pub fn message_nul(self) -> &'static str {
        self.own_message()
            .or_else(|| core_message(self))
            .unwrap_or("unknown libsts result code\0")
    }

    /// Without the `messages` feature the name stands in for the text: it
    /// is what sts_result_name keeps anyway, so the English texts (2.9 KB
    /// on thumbv7em) stay out of firmware flash.
    #[cfg(not(feature = "messages"))]
    pub fn message_nul(self) -> &'static str {
        self.name_nul()
    }
}

/// Applies `f` to the error of `all` that maps to `r`, if one does.
#[cfg(any(feature = "messages", feature = "dane", feature = "cert"))]
fn find_error<E: Copy + Into<sts_result>, T>(all: &[E], r: sts_result, f: fn(E) -> T) -> Option<T> {
    all.iter().copied().find(|e| (*e).into() == r).map(f)
}

/// Finds the core error that maps to `r` and returns its text.
#[cfg(feature = "messages")]
fn core_message(r: sts_result) -> Option<&'static str> {
    let found = find_error(TxtError::ALL, r, TxtError::as_nul_terminated)
        .or_else(|| find_error(PolicyError::ALL, r, PolicyError::as_nul_terminated))
        .or_else(|| find_error(MxError::ALL, r, MxError::as_nul_terminated))
        .or_else(|| find_error(TlsrptError::ALL, r, TlsrptError::as_nul_terminated));
    #[cfg(feature = "cert")]
    let found = found.or_else(|| find_error(CertError::ALL, r, CertError::as_nul_terminated));
    #[cfg(any(feature = "cert", feature = "dane"))]
    let found = found.or_else(|| find_error(DaneError::ALL, r, DaneError::as_nul_terminated));
    found
}

/// The RFC 8460 result type a failure is reported as, if it has one.
pub fn tlsrpt_type(r: sts_result) -> Option<ResultType> {
    let code = r as u32;
    match r {
        STS_ERR_TXT_NO_RECORD => None,
        STS_ERR_CERT_OTHER | STS_ERR_DANE_OTHER | STS_ERR_MX_NO_MATCH => {
            Some(ResultType::ValidationFailure)
        }
        STS_ERR_CLIENT_FETCH => Some(ResultType::StsPolicyFetchError),
        _ if (200..400).contains(&code) => Some(ResultType::StsPolicyInvalid),
        _ => {
            let name: Option<&'static str> = None;
            #[cfg(feature = "cert")]
            let name =
                name.or_else(|| find_error(CertError::ALL, r, CertError::tlsrpt_result_type));
            #[cfg(any(feature = "cert", feature = "dane"))]
            let name =
                name.or_else(|| find_error(DaneError::ALL, r, DaneError::tlsrpt_result_type));
            ResultType::from_name(name?.as_bytes()).ok()
        }
    }
}

/// The RFC 8460 §4.3 result type (for example `"certificate-expired"`)
/// under which a failure `result` is reported, static and NUL-terminated;
/// NULL when the code is not a reportable failure (`STS_OK`, argument
/// errors, `STS_ERR_TXT_NO_RECORD`).
#[no_mangle]
pub extern "C" fn sts_result_tlsrpt_type(result: u32) -> *const c_char {
    match sts_result::from_u32(result).and_then(tlsrpt_type) {
        Some(t) => t.as_nul_terminated().as_ptr().cast(),
        None => core::ptr::null(),
    }
}

/// A static, NUL-terminated description of `result`; never NULL. Unknown
/// numbers get a generic text. `result` is a `uint32_t` so that any value
/// a C caller passes is defined behaviour.
///
/// A library built without the `messages` feature (the firmware builds:
/// their headers do not define `STS_FEATURE_MESSAGES`) has no texts and
/// returns what `sts_result_name` returns: the code's C identifier, or
/// `"STS_UNKNOWN"`.
#[no_mangle]
pub extern "C" fn sts_result_str(result: u32) -> *const c_char {
    #[cfg(feature = "messages")]
    const UNKNOWN: &str = "unknown libsts result code\0";
    #[cfg(not(feature = "messages"))]
    const UNKNOWN: &str = "STS_UNKNOWN\0";
    let text = match sts_result::from_u32(result) {
        Some(r) => r.message_nul(),
        None => UNKNOWN,
    };
    text.as_ptr().cast()
}

/// The C identifier of `result` (for example `"STS_ERR_POLICY_BAD_MX"`),
/// static and NUL-terminated; `"STS_UNKNOWN"` for an unknown number.
#[no_mangle]
pub extern "C" fn sts_result_name(result: u32) -> *const c_char {
    let text = match sts_result::from_u32(result) {
        Some(r) => r.name_nul(),
        None => "STS_UNKNOWN\0",
    };
    text.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_ordered() {
        let mut seen = HashSet::new();
        let mut last = None;
        for r in sts_result::ALL {
            assert!(seen.insert(*r as u32), "{r:?}");
            assert!(last < Some(*r as u32), "ALL out of order at {r:?}");
            last = Some(*r as u32);
            assert_eq!(sts_result::from_u32(*r as u32), Some(*r));
            assert_eq!(r.name_nul().trim_end_matches('\0'), format!("{r:?}"));
            assert!(r.message_nul().ends_with('\0'));
            // The texts of certificate and DANE codes come with their
            // module, which heap-free builds leave out (or keep DANE only).
            let n = *r as u32;
            let built = (cfg!(feature = "cert") || !(600..700).contains(&n))
                && (cfg!(any(feature = "cert", feature = "dane")) || !(700..800).contains(&n));
            if built && cfg!(feature = "messages") {
                assert_ne!(r.message_nul(), "unknown libsts result code\0", "{r:?}");
                assert_ne!(r.message_nul(), r.name_nul(), "{r:?}");
            }
        }
    }

    #[cfg(not(feature = "messages"))]
    #[test]
    fn without_messages_str_is_the_name() {
        for r in sts_result::ALL {
            let (s, n) = (sts_result_str(*r as u32), sts_result_name(*r as u32));
            let s = unsafe { core::ffi::CStr::from_ptr(s) };
            let n = unsafe { core::ffi::CStr::from_ptr(n) };
            assert_eq!(s, n, "{r:?}");
            assert_eq!(s.to_str(), Ok(format!("{r:?}").as_str()));
        }
        let s = unsafe { core::ffi::CStr::from_ptr(sts_result_str(123_456)) };
        assert_eq!(s.to_str(), Ok("STS_UNKNOWN"));
    }

    fn check_module<E: Copy + Into<sts_result> + core::fmt::Debug>(
        all: &[E],
        other: sts_result,
        text: fn(E) -> &'static str,
    ) {
        let mut seen = HashSet::new();
        for e in all {
            let r: sts_result = (*e).into();
            assert_ne!(r, other, "{e:?} has no code of its own");
            assert!(seen.insert(r), "{e:?} shares a code");
            if cfg!(feature = "messages") {
                assert_eq!(r.message_nul(), text(*e));
            }
        }
    }

    #[test]
    fn every_core_error_has_its_own_code_and_text() {
        check_module(
            TxtError::ALL,
            STS_ERR_TXT_OTHER,
            TxtError::as_nul_terminated,
        );
        check_module(
            PolicyError::ALL,
            STS_ERR_POLICY_OTHER,
            PolicyError::as_nul_terminated,
        );
        check_module(MxError::ALL, STS_ERR_MX_OTHER, MxError::as_nul_terminated);
        check_module(
            TlsrptError::ALL,
            STS_ERR_TLSRPT_OTHER,
            TlsrptError::as_nul_terminated,
        );
        #[cfg(feature = "cert")]
        check_module(
            CertError::ALL,
            STS_ERR_CERT_OTHER,
            CertError::as_nul_terminated,
        );
        #[cfg(any(feature = "cert", feature = "dane"))]
        check_module(
            DaneError::ALL,
            STS_ERR_DANE_OTHER,
            DaneError::as_nul_terminated,
        );
    }

    #[test]
    fn rfc8460_4_3_failures_map_to_result_types() {
        let t = |r: sts_result| tlsrpt_type(r).map(ResultType::as_str);
        #[cfg(feature = "cert")]
        {
            assert_eq!(
                t(STS_ERR_CERT_HOST_MISMATCH),
                Some("certificate-host-mismatch")
            );
            assert_eq!(t(STS_ERR_CERT_EXPIRED), Some("certificate-expired"));
            assert_eq!(t(STS_ERR_CERT_NOT_TRUSTED), Some("certificate-not-trusted"));
            assert_eq!(
                t(STS_ERR_CERT_VALIDATION_FAILURE),
                Some("validation-failure")
            );
            let s = unsafe { core::ffi::CStr::from_ptr(sts_result_tlsrpt_type(601)) };
            assert_eq!(s.to_str(), Ok("certificate-expired"));
        }
        #[cfg(any(feature = "cert", feature = "dane"))]
        assert_eq!(t(STS_ERR_DANE_TLSA_INVALID), Some("tlsa-invalid"));
        assert_eq!(t(STS_ERR_POLICY_BAD_MX), Some("sts-policy-invalid"));
        assert_eq!(t(STS_ERR_TXT_BAD_ID), Some("sts-policy-invalid"));
        assert_eq!(t(STS_ERR_MX_NO_MATCH), Some("validation-failure"));
        assert_eq!(t(STS_OK), None);
        assert_eq!(t(STS_ERR_NULL), None);
        assert_eq!(t(STS_ERR_TXT_NO_RECORD), None);
        #[cfg(feature = "cert")]
        for e in CertError::ALL {
            assert_eq!(t((*e).into()), Some(e.tlsrpt_result_type()), "{e:?}");
        }
        #[cfg(any(feature = "cert", feature = "dane"))]
        for e in DaneError::ALL {
            assert_eq!(t((*e).into()), Some(e.tlsrpt_result_type()), "{e:?}");
        }
        assert!(sts_result_tlsrpt_type(0).is_null());
    }

    #[test]
    fn unknown_numbers_are_safe() {
        let s = unsafe { core::ffi::CStr::from_ptr(sts_result_str(123_456)) };
        let unknown = if cfg!(feature = "messages") {
            "unknown libsts result code"
        } else {
            "STS_UNKNOWN"
        };
        assert_eq!(s.to_str(), Ok(unknown));
        let s = unsafe { core::ffi::CStr::from_ptr(sts_result_name(u32::MAX)) };
        assert_eq!(s.to_str(), Ok("STS_UNKNOWN"));
    }
}
