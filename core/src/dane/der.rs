//! Just enough DER to find a certificate's SubjectPublicKeyInfo.
//!
//! ```text
//! Certificate  ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
//! TBSCertificate ::= SEQUENCE {
//!     version [0] EXPLICIT Version DEFAULT v1, serialNumber INTEGER,
//!     signature AlgorithmIdentifier, issuer Name, validity Validity,
//!     subject Name, subjectPublicKeyInfo SubjectPublicKeyInfo, ... }
//! ```
//!
//! Every read is bounds-checked; anything that is not DER (indefinite
//! lengths, non-minimal lengths, multi-byte tags, lengths past the end)
//! gives `None`.

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const VERSION: u8 = 0xa0; // [0] EXPLICIT, constructed

/// One element: its full encoding (header and contents) and its contents.
struct Tlv<'a> {
    tag: u8,
    whole: &'a [u8],
    contents: &'a [u8],
}

/// Reads one element from the front of `input`; returns it and the rest.
fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, after_tag) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers do not occur in certificates
    }
    let (&first, mut after_len) = after_tag.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None; // indefinite, or larger than any certificate
        }
        let (bytes, rest) = (after_len.get(..n)?, after_len.get(n..)?);
        after_len = rest;
        if bytes.first() == Some(&0) {
            return None; // not minimal
        }
        let len = bytes.iter().try_fold(0usize, |acc, &b| {
            acc.checked_mul(256)?.checked_add(b.into())
        })?;
        if len < 0x80 {
            return None; // should have used the short form
        }
        len
    };
    let header = input.len() - after_len.len();
    let contents = after_len.get(..len)?;
    let whole = input.get(..header.checked_add(len)?)?;
    let rest = after_len.get(len..)?;
    Some((
        Tlv {
            tag,
            whole,
            contents,
        },
        rest,
    ))
}

/// Reads one element with the given tag.
fn expect(input: &[u8], tag: u8) -> Option<(Tlv<'_>, &[u8])> {
    read(input).filter(|(t, _)| t.tag == tag)
}

/// The DER SubjectPublicKeyInfo (tag, length and contents) of an X.509
/// certificate, or `None` if `cert` is not a single well-formed
/// certificate up to that field.
pub(crate) fn subject_public_key_info(cert: &[u8]) -> Option<&[u8]> {
    let (cert, trailing) = expect(cert, SEQUENCE)?;
    if !trailing.is_empty() {
        return None;
    }
    let (tbs, _) = expect(cert.contents, SEQUENCE)?;
    let mut fields = tbs.contents;
    if let Some((_, rest)) = expect(fields, VERSION) {
        fields = rest;
    }
    let (_, fields) = expect(fields, INTEGER)?; // serialNumber
    let (_, fields) = expect(fields, SEQUENCE)?; // signature
    let (_, fields) = expect(fields, SEQUENCE)?; // issuer
    let (_, fields) = expect(fields, SEQUENCE)?; // validity
    let (_, fields) = expect(fields, SEQUENCE)?; // subject
    let (spki, _) = expect(fields, SEQUENCE)?;
    Some(spki.whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert!(read(&[]).is_none());
        assert!(read(&[0x30]).is_none());
        assert!(read(&[0x30, 0x01]).is_none());
        let (t, rest) = read(&[0x30, 0x01, 0xaa, 0xbb]).unwrap_or_else(|| unreachable!());
        assert_eq!(
            (t.tag, t.contents, t.whole, rest),
            (0x30, &[0xaa][..], &[0x30, 0x01, 0xaa][..], &[0xbb][..])
        );
        assert!(read(&[0x30, 0x80, 0x00, 0x00]).is_none()); // indefinite
        assert!(read(&[0x30, 0x81, 0x05, 0, 0, 0, 0, 0]).is_none()); // non-minimal
        assert!(read(&[0x30, 0x82, 0x00, 0x80]).is_none()); // leading zero
        assert!(read(&[0x30, 0x85, 1, 0, 0, 0, 0]).is_none()); // too long a length
        assert!(read(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none()); // past the end
        assert!(read(&[0x1f, 0x01, 0x00]).is_none()); // high tag
        let mut long = [0u8; 0x83];
        long[0] = 0x04;
        long[1] = 0x81;
        long[2] = 0x80;
        let (t, rest) = read(&long).unwrap_or_else(|| unreachable!());
        assert_eq!((t.contents.len(), rest.len()), (0x80, 0));
    }

    #[test]
    fn garbage_has_no_spki() {
        assert!(subject_public_key_info(b"").is_none());
        assert!(subject_public_key_info(b"not a certificate").is_none());
        assert!(subject_public_key_info(&[0x30, 0x00]).is_none());
        assert!(subject_public_key_info(&[0x30, 0x02, 0x30, 0x00]).is_none());
        // Every prefix of a made-up structure fails without panicking.
        let fake = [
            0x30, 0x16, 0x30, 0x14, 0x02, 0x01, 0x01, 0x30, 0x00, 0x30, 0x00, 0x30, 0x00, 0x30,
            0x00, 0x30, 0x06, 0x30, 0x00, 0x03, 0x02, 0x00, 0xff, 0x00,
        ];
        assert_eq!(
            subject_public_key_info(&fake),
            Some(&[0x30, 0x06, 0x30, 0x00, 0x03, 0x02, 0x00, 0xff][..])
        );
        for n in 0..fake.len() {
            assert!(subject_public_key_info(&fake[..n]).is_none());
        }
    }
}
