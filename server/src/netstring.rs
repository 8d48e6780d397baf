//! Netstrings as socketmap_table(5) uses them: `LEN:DATA,` with LEN in
//! decimal. A request is `NAME KEY`; Postfix never sends more than 10,000
//! bytes of it, so anything longer is refused before it is buffered.

use std::fmt;

/// Longest request accepted (Postfix's own limit for a query).
pub const MAX_REQUEST: usize = 10_000;

/// Digits of the longest accepted length prefix.
const MAX_DIGITS: usize = 5;

/// Why the bytes from a client are not a request.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetstringError {
    /// The length is not decimal digits followed by `:`.
    BadLength,
    /// The length exceeds [`MAX_REQUEST`].
    TooLong,
    /// The data is not followed by `,`.
    MissingComma,
}

impl NetstringError {
    /// A short description.
    pub fn as_str(self) -> &'static str {
        match self {
            NetstringError::BadLength => "netstring length is not decimal digits and ':'",
            NetstringError::TooLong => "request longer than 10000 bytes",
            NetstringError::MissingComma => "netstring not terminated by ','",
        }
    }
}

impl fmt::Display for NetstringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for NetstringError {}

/// Looks for one complete netstring at the start of `buf`.
///
/// `Ok(None)`: more bytes are needed (and `buf` is still short enough to
/// be a valid prefix); `Ok(Some((data, used)))`: the payload and how many
/// bytes of `buf` it took.
pub fn decode(buf: &[u8]) -> Result<Option<(&[u8], usize)>, NetstringError> {
    let mut len: usize = 0;
    let mut digits = 0;
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'0'..=b'9' if digits < MAX_DIGITS => {
                len = len * 10 + usize::from(b - b'0');
                digits += 1;
                if len > MAX_REQUEST {
                    return Err(NetstringError::TooLong);
                }
            }
            b':' if digits > 0 => {
                let start = i + 1;
                let end = start + len;
                return match buf.get(end) {
                    None => Ok(None),
                    Some(b',') => Ok(buf.get(start..end).map(|d| (d, end + 1))),
                    Some(_) => Err(NetstringError::MissingComma),
                };
            }
            b'0'..=b'9' => return Err(NetstringError::TooLong),
            _ => return Err(NetstringError::BadLength),
        }
    }
    Ok(None)
}

/// Appends `data` to `out` as a netstring.
pub fn encode(data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(data.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(data);
    out.push(b',');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socketmap_request_round_trip() {
        let mut out = Vec::new();
        encode(b"postfix example.test", &mut out);
        assert_eq!(out, b"20:postfix example.test,");
        assert_eq!(
            decode(&out),
            Ok(Some((&b"postfix example.test"[..], out.len())))
        );
    }

    #[test]
    fn partial_input_asks_for_more() {
        let full = b"20:postfix example.test,";
        for n in 0..full.len() {
            assert_eq!(decode(&full[..n]), Ok(None), "prefix of {n} bytes");
        }
    }

    #[test]
    fn two_requests_in_one_buffer_are_taken_one_at_a_time() {
        let buf = b"3:a b,3:c d,";
        assert_eq!(decode(buf), Ok(Some((&b"a b"[..], 6))));
        assert_eq!(decode(&buf[6..]), Ok(Some((&b"c d"[..], 6))));
    }

    #[test]
    fn malformed_and_oversized_are_errors() {
        assert_eq!(decode(b"x"), Err(NetstringError::BadLength));
        assert_eq!(decode(b":abc,"), Err(NetstringError::BadLength));
        assert_eq!(decode(b"3:abcX"), Err(NetstringError::MissingComma));
        assert_eq!(decode(b"10001:"), Err(NetstringError::TooLong));
        assert_eq!(decode(b"999999"), Err(NetstringError::TooLong));
        assert_eq!(decode(b"10000:"), Ok(None));
        assert_eq!(decode(b"0:,"), Ok(Some((&b""[..], 3))));
    }
}
