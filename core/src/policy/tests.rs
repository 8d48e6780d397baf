use super::*;

const OK: &[u8] =
    b"version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 604800\n";

fn err(text: &[u8]) -> Option<PolicyError> {
    parse(text).err()
}

#[test]
fn rfc8461_3_2_minimal_valid_policy() {
    let p = parse(OK).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.mode(), Mode::Enforce);
    assert_eq!(p.max_age(), 604800);
    assert_eq!(p.mx_count(), 2);
    let mut it = p.mx();
    assert_eq!(it.next(), Some(&b"mx1.example.com"[..]));
    assert_eq!(it.next(), Some(&b"*.example.net"[..]));
    assert_eq!(it.next(), None);
}

#[test]
fn rfc8461_3_2_line_ends_lf_or_crlf() {
    let cases: &[(&[u8], Option<PolicyError>)] = &[
        (b"version: STSv1\r\nmode: none\r\nmax_age: 1\r\n", None),
        (b"version: STSv1\nmode: none\nmax_age: 1\n", None),
        (b"version: STSv1\r\nmode: none\nmax_age: 1", None),
        (b"version: STSv1\nmode: none\nmax_age: 1", None),
        (
            b"version: STSv1\rmode: none\rmax_age: 1\r",
            Some(PolicyError::BareCr),
        ),
        (
            b"version: STSv1\nmode: none\nmax_age: 1\r",
            Some(PolicyError::BareCr),
        ),
        (
            b"version: STSv1\nmode: none\nmax_age: 1\r\r\n",
            Some(PolicyError::BareCr),
        ),
        (
            b"version: STSv1\nmode: none\nmax_age: 1\n\n",
            Some(PolicyError::BlankLine),
        ),
        (
            b"\nversion: STSv1\nmode: none\nmax_age: 1\n",
            Some(PolicyError::BlankLine),
        ),
        (
            b"version: STSv1\n\nmode: none\nmax_age: 1\n",
            Some(PolicyError::BlankLine),
        ),
        (
            b"version: STSv1\r\n\r\nmode: none\r\nmax_age: 1\r\n",
            Some(PolicyError::BlankLine),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), *want, "{:?}", core::str::from_utf8(text));
    }
}

#[test]
fn rfc8461_3_2_field_delimiter_and_whitespace() {
    let cases: &[(&[u8], Option<PolicyError>)] = &[
        (b"version:STSv1\nmode:none\nmax_age:1\n", None),
        (b"version: \t STSv1 \t\nmode: none  \nmax_age: 1\t\n", None),
        (
            b" version: STSv1\nmode: none\nmax_age: 1\n",
            Some(PolicyError::LeadingWhitespace),
        ),
        (
            b"\tversion: STSv1\nmode: none\nmax_age: 1\n",
            Some(PolicyError::LeadingWhitespace),
        ),
        (
            b"version : STSv1\nmode: none\nmax_age: 1\n",
            Some(PolicyError::WhitespaceBeforeColon),
        ),
        (
            b"version STSv1\nmode: none\nmax_age: 1\n",
            Some(PolicyError::MissingColon),
        ),
        (
            b"version: STSv1\nmode: none\nmax_age: 1\n   \n",
            Some(PolicyError::LeadingWhitespace),
        ),
        (
            b"\xef\xbb\xbfversion: STSv1\nmode: none\nmax_age: 1\n",
            Some(PolicyError::ByteOrderMark),
        ),
        (b"\xff\xfev\0e\0", Some(PolicyError::ByteOrderMark)),
        (b"", Some(PolicyError::Empty)),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), *want, "{:?}", core::str::from_utf8(text));
    }
}

#[test]
fn rfc8461_3_2_version_mode_max_age_values() {
    let cases: &[(&[u8], Option<PolicyError>)] = &[
        (
            b"version: STSv10\nmode: none\nmax_age: 1\n",
            Some(PolicyError::BadVersion),
        ),
        (
            b"version: stsv1\nmode: none\nmax_age: 1\n",
            Some(PolicyError::BadVersion),
        ),
        (
            b"version: STSv1\nmode: Enforce\nmx: a.b\nmax_age: 1\n",
            Some(PolicyError::BadMode),
        ),
        (
            b"version: STSv1\nmode: enforced\nmx: a.b\nmax_age: 1\n",
            Some(PolicyError::BadMode),
        ),
        (
            b"version: STSv1\nmode: testing # c\nmx: a.b\nmax_age: 1\n",
            Some(PolicyError::BadMode),
        ),
        (
            b"version: STSv1\nmode: \nmax_age: 1\n",
            Some(PolicyError::BadMode),
        ),
        (b"version: STSv1\nmode: none\nmax_age: 0\n", None),
        (b"version: STSv1\nmode: none\nmax_age: 0031557600\n", None),
        (b"version: STSv1\nmode: none\nmax_age: 31557600\n", None),
        (
            b"version: STSv1\nmode: none\nmax_age: 31557601\n",
            Some(PolicyError::MaxAgeTooLarge),
        ),
        (
            b"version: STSv1\nmode: none\nmax_age: 9999999999\n",
            Some(PolicyError::MaxAgeTooLarge),
        ),
        (
            b"version: STSv1\nmode: none\nmax_age: 01234567890\n",
            Some(PolicyError::BadMaxAge),
        ),
        (
            b"version: STSv1\nmode: none\nmax_age: -1\n",
            Some(PolicyError::BadMaxAge),
        ),
        (
            b"version: STSv1\nmode: none\nmax_age: +1\n",
            Some(PolicyError::BadMaxAge),
        ),
        (
            b"version: STSv1\nmode: none\nmax_age: 1.5\n",
            Some(PolicyError::BadMaxAge),
        ),
        (
            b"version: STSv1\nmode: none\nmax_age: 0x10\n",
            Some(PolicyError::BadMaxAge),
        ),
        (
            b"version: STSv1\nmode: none\nmax_age: \n",
            Some(PolicyError::BadMaxAge),
        ),
        (
            b"version: STSv1\nmode: none\nmax_age: 1 2\n",
            Some(PolicyError::BadMaxAge),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), *want, "{:?}", core::str::from_utf8(text));
    }
}

#[test]
fn rfc8461_3_2_required_fields() {
    let cases: &[(&[u8], Option<PolicyError>)] = &[
        (
            b"mode: none\nmax_age: 1\n",
            Some(PolicyError::MissingVersion),
        ),
        (
            b"Version: STSv1\nmode: none\nmax_age: 1\n",
            Some(PolicyError::MissingVersion),
        ),
        (
            b"version: STSv1\nmax_age: 1\n",
            Some(PolicyError::MissingMode),
        ),
        (
            b"version: STSv1\nmode: none\n",
            Some(PolicyError::MissingMaxAge),
        ),
        (
            b"version: STSv1\nmode: enforce\nmax_age: 1\n",
            Some(PolicyError::MissingMx),
        ),
        (
            b"version: STSv1\nmode: testing\nmax_age: 1\n",
            Some(PolicyError::MissingMx),
        ),
        (b"version: STSv1\nmode: none\nmax_age: 1\n", None),
        (
            b"max_age: 1\nmx: a.example\nmode: testing\nversion: STSv1\n",
            None,
        ),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), *want, "{:?}", core::str::from_utf8(text));
    }
}

#[test]
fn rfc8461_3_2_mx_values() {
    let cases: &[(&[u8], Option<PolicyError>)] = &[
        (b"mx: mail.example.com", None),
        (b"mx: *.example.com", None),
        (b"mx: MAIL.Example.COM", None),
        (b"mx: xn--mnchen-3ya.example", None),
        (b"mx: localhost", None),
        (b"mx: mail.example.com.", Some(PolicyError::BadMx)),
        (b"mx: .", Some(PolicyError::BadMx)),
        (b"mx: ", Some(PolicyError::BadMx)),
        (b"mx: *", Some(PolicyError::BadMx)),
        (b"mx: *.", Some(PolicyError::BadMx)),
        (b"mx: **.example", Some(PolicyError::BadMx)),
        (b"mx: *.*.example", Some(PolicyError::BadMx)),
        (b"mx: a*.example", Some(PolicyError::BadMx)),
        (b"mx: a.*.example", Some(PolicyError::BadMx)),
        (b"mx: m\xc3\xbcnchen.example", Some(PolicyError::BadMx)),
        (b"mx: your_domain.tld", Some(PolicyError::BadMx)),
        (b"mx: a.example # comment", Some(PolicyError::BadMx)),
        (b"mx: ://google.com", Some(PolicyError::BadMx)),
        (b"mx: -a.example", Some(PolicyError::BadMx)),
    ];
    for (mx_line, want) in cases {
        let mut buf = [0u8; 128];
        let head = b"version: STSv1\nmode: enforce\nmax_age: 1\n";
        buf[..head.len()].copy_from_slice(head);
        buf[head.len()..head.len() + mx_line.len()].copy_from_slice(mx_line);
        let text = &buf[..head.len() + mx_line.len()];
        assert_eq!(err(text), *want, "{:?}", core::str::from_utf8(mx_line));
    }
}

#[test]
fn rfc8461_3_2_unknown_fields_ignored() {
    let cases: &[(&[u8], Option<PolicyError>)] = &[
        (b"ext: value\n", None),
        (b"x-ext.1_a: value with  spaces\n", None),
        (b"ext: caf\xc3\xa9\n", None),
        (b"a2345678901234567890123456789012: v\n", None),
        (
            b"a23456789012345678901234567890123: v\n",
            Some(PolicyError::BadFieldName),
        ),
        (b"_ext: v\n", Some(PolicyError::BadFieldName)),
        (b"#comment: v\n", Some(PolicyError::BadFieldName)),
        (b"# comment\n", Some(PolicyError::MissingColon)),
        (b": v\n", Some(PolicyError::BadFieldName)),
        (b"ext:\n", Some(PolicyError::BadExtensionValue)),
        (b"ext:   \n", Some(PolicyError::BadExtensionValue)),
        (b"ext: a\x01b\n", Some(PolicyError::BadExtensionValue)),
        (b"ext: a\x7fb\n", Some(PolicyError::BadExtensionValue)),
        (b"ext: \xff\xfe\n", Some(PolicyError::NotUtf8)),
        (b"ext: caf\xc3\n", Some(PolicyError::NotUtf8)),
    ];
    for (ext, want) in cases {
        let mut buf = [0u8; 128];
        let head = b"version: STSv1\nmode: none\nmax_age: 1\n";
        buf[..head.len()].copy_from_slice(head);
        buf[head.len()..head.len() + ext.len()].copy_from_slice(ext);
        let text = &buf[..head.len() + ext.len()];
        assert_eq!(err(text), *want, "{:?}", core::str::from_utf8(ext));
    }
}

#[test]
fn rfc8461_3_2_first_wins() {
    let p = parse(
        b"version: STSv1\nmode: testing\nmode: enforced\nmx: a.example\nmax_age: 5\nmax_age: 7\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.mode(), Mode::Testing);
    assert_eq!(p.max_age(), 5);
    let p = parse(b"version: STSv1\nversion: STSv2\nmode: none\nmax_age: 1\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.mode(), Mode::None);
    // The later duplicate is an extension: it must still be well-formed.
    assert_eq!(
        err(b"version: STSv1\nmode: none\nmode:\nmax_age: 1\n"),
        Some(PolicyError::BadExtensionValue)
    );
    // mx is the repeated field: every occurrence counts and is checked.
    assert_eq!(
        err(b"version: STSv1\nmode: none\nmx: a.example\nmx: bad_.example\nmax_age: 1\n"),
        Some(PolicyError::BadMx)
    );
}

#[test]
fn rfc8461_3_2_mx_iterator_beyond_inline_positions() {
    let mut buf = [0u8; 2048];
    let mut n = 0;
    let mut push = |s: &[u8]| {
        buf[n..n + s.len()].copy_from_slice(s);
        n += s.len();
    };
    push(b"version: STSv1\r\nmode: enforce\r\n");
    for i in 0..20u8 {
        push(b"mx: mx");
        push(&[b'a' + i]);
        push(b".example.com \r\n");
        if i == 10 {
            push(b"ext: between\r\n");
        }
    }
    push(b"max_age: 86400\r\n");
    let p = parse(&buf[..n]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.mx_count(), 20);
    assert_eq!(p.mx().count(), 20);
    for (i, mx) in p.mx().enumerate() {
        assert_eq!(mx.len(), "mxa.example.com".len());
        assert_eq!(mx[2], b'a' + i as u8);
        assert_eq!(p.mx_at(i), Some(mx));
    }
    assert_eq!(p.mx_at(20), None);
    assert_eq!(p.match_mx(b"mxt.example.com"), Ok(()));
    assert_eq!(p.match_mx(b"mxu.example.com"), Err(MxError::NoMatch));
}

#[test]
fn rfc8461_4_1_policy_match() {
    let p = parse(OK).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.match_mx(b"mx1.example.com"), Ok(()));
    assert_eq!(p.match_mx(b"MX1.EXAMPLE.COM."), Ok(()));
    assert_eq!(p.match_mx(b"a.example.net"), Ok(()));
    assert_eq!(p.match_mx(b"a.b.example.net"), Err(MxError::NoMatch));
    assert_eq!(p.match_mx(b"example.net"), Err(MxError::NoMatch));
    assert_eq!(p.match_mx(b"mx2.example.com"), Err(MxError::NoMatch));
    assert_eq!(p.match_mx(b"mx1.example.com.."), Err(MxError::BadHost));
    assert_eq!(p.match_mx(b"192.0.2.1"), Err(MxError::IpLiteral));
}

#[test]
fn error_location_is_line_and_column() {
    let text = b"version: STSv1\nmode: enforce\nmax_age: x\nmx: a.b\n";
    let e = parse_detailed(text)
        .err()
        .unwrap_or_else(|| panic!("should fail"));
    assert_eq!(e.error, PolicyError::BadMaxAge);
    assert_eq!(e.line_column(text), (3, 1));
    let e = parse_detailed(b"version: STSv1\n")
        .err()
        .unwrap_or_else(|| panic!("should fail"));
    assert_eq!(e.error, PolicyError::MissingMode);
    assert_eq!(e.line_column(b"version: STSv1\n"), (2, 1));
}

#[test]
fn from_parts_with_garbage_never_panics() {
    let p = parse(OK).unwrap_or_else(|e| panic!("{e}"));
    let mut parts = p.parts();
    parts.inline[0] = Span {
        start: u32::MAX,
        len: u32::MAX,
    };
    parts.mx_count = usize::MAX;
    parts.rest_from = u32::MAX;
    let q = Policy::from_parts(b"short", parts);
    assert_eq!(q.mx_at(0), None);
    assert_eq!(q.mx_at(100), None);
    assert_eq!(q.match_mx(b"mx1.example.com"), Err(MxError::NoMatch));
}

#[test]
fn rfc8461_3_2_fast_path_takes_plain_policies_and_agrees() {
    // (text, whether the fast path must take it): every case must parse
    // the same with and without it.
    let cases: &[(&[u8], bool)] = &[
        (OK, true),
        (
            b"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mail.example.net\r\nmax_age: 604800\r\n",
            true,
        ),
        (b"version: STSv1\nmode: none\nmax_age: 0001", true),
        (b"mode: testing\nmx: a\nmax_age: 31557600\nversion: STSv1\n", true),
        (b"version: STSv1\r\nmode: none\nmax_age: 1", true),
        // Shapes the fast path leaves to the full parser, valid or not.
        (b"version: STSv1\nmode: none\nmax_age: 1\nfoo: bar\n", false),
        (b"version:STSv1\nmode: none\nmax_age: 1\n", false),
        (b"version: STSv1 \nmode: none\nmax_age: 1\n", false),
        (b"version: STSv1\nmode: none\nmode: enforce\nmax_age: 1\n", false),
        (b"version: STSv1\nmode: none\nmax_age: 1\n\n", false),
        (b"version: STSv1\nmode: none\nmax_age: 1\r", false),
        (b"version: STSv1\nmode: enforce\nmax_age: 1\n", false),
        (b"version: STSv1\nmode: enforce\nmx: a..b\nmax_age: 1\n", false),
        (b"version: STSv1\nmode: enforce\nmx: *.\nmax_age: 1\n", false),
        (b"version: STSv1\nmode: enforce\nmx: *a.b\nmax_age: 1\n", false),
        (b"version: STSv1\nmode: enforce\nmx: a.b \nmax_age: 1\n", false),
        (b"version: STSv1\nmode: enforce\nmx: a_b\nmax_age: 1\n", false),
        (b"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 31557601\n", false),
        (b"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 00000000001\n", false),
        (b"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: \n", false),
        (b"version: STSv1\nmode: enforced\nmx: a.b\nmax_age: 1\n", false),
        (b"version: STSv10\nmode: enforce\nmx: a.b\nmax_age: 1\n", false),
        (b"\xef\xbb\xbfversion: STSv1\nmode: none\nmax_age: 1\n", false),
        (b"", false),
        (b"mx: ", false),
    ];
    for (text, taken) in cases {
        let fast = parse_fast_path(text);
        assert_eq!(fast.is_some(), *taken, "{:?}", core::str::from_utf8(text));
        if let Some(p) = fast {
            assert_eq!(
                Ok(p),
                parse_detailed(text),
                "{:?}",
                core::str::from_utf8(text)
            );
        }
        assert_eq!(parse(text), parse_detailed(text).map_err(|e| e.error));
    }
}

#[test]
fn rfc8461_3_2_fast_path_keeps_positions_past_the_inline_ones() {
    let head = b"version: STSv1\nmode: enforce\nmax_age: 86400\n";
    let line = b"mx: mx00.example.com\n";
    let mut text = [0u8; 46 + 20 * 21];
    text[..head.len()].copy_from_slice(head);
    for i in 0..20 {
        let at = head.len() + i * line.len();
        let dst = &mut text[at..at + line.len()];
        dst.copy_from_slice(line);
        dst[6] = b'0' + (i / 10) as u8;
        dst[7] = b'0' + (i % 10) as u8;
    }
    let text = &text[..head.len() + 20 * line.len()];
    let fast = parse_fast_path(text).unwrap_or_else(|| panic!("fast path declined"));
    assert_eq!(Ok(fast), parse_detailed(text));
    assert_eq!(fast.mx_count(), 20);
    assert_eq!(fast.mx_at(19), Some(&b"mx19.example.com"[..]));
    assert_eq!(fast.match_mx(b"MX13.example.com."), Ok(()));
}

extern crate std;
use std::vec::Vec;

/// A valid name of `len` bytes: labels of up to nine letters, a digit at
/// the end.
fn name_of(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| match i {
            _ if i + 1 == len => b'7',
            _ if i % 10 == 9 => b'.',
            _ => b'a' + (i % 26) as u8,
        })
        .collect()
}

#[test]
fn rfc8461_3_2_fast_path_window_edges() {
    // The fast path reads a line through a 32-byte window, a name through
    // 16-byte blocks, and the end of the text through a padded copy: mx
    // names of every length to past a label's limit, first, in the middle
    // and last, with each line end or none, and max_age of every width,
    // must parse as the full parser parses them, and the fast path must
    // take every one of them whose name fits its limit of 63 bytes.
    for len in 1..=70usize {
        let mx = name_of(len);
        for (wild, end) in [(&b""[..], &b"\n"[..]), (b"*.", b"\r\n"), (b"", b"")] {
            let line = [&b"mx: "[..], wild, &mx].concat();
            let head = b"version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\n";
            for text in [
                [&head[..], &line, end].concat(),
                [&line[..], b"\n", &head[..]].concat(),
                [&head[..31], &line, b"\nmx: b.c\n", &head[31..]].concat(),
            ] {
                let fast = parse_fast_path(&text);
                let full = parse_detailed(&text);
                let shown = core::str::from_utf8(&text);
                assert_eq!(fast.is_some(), len <= 63, "{shown:?}");
                if let Some(p) = fast {
                    assert_eq!(Ok(p), full, "{shown:?}");
                }
                assert_eq!(parse(&text), full.map_err(|e| e.error), "{shown:?}");
            }
        }
    }
    for digits in 1..=11usize {
        let value: Vec<u8> = (0..digits)
            .map(|i| b'0' + ((i * 7 + 3) % 10) as u8)
            .collect();
        for end in [&b"\n"[..], b"\r\n", b""] {
            let text = [
                &b"version: STSv1\nmode: testing\nmx: mail.example.org\nmax_age: "[..],
                &value,
                end,
            ]
            .concat();
            let full = parse_detailed(&text);
            let fast = parse_fast_path(&text);
            assert_eq!(fast.is_some(), full.is_ok(), "{digits} digits");
            if let Some(p) = fast {
                assert_eq!(Ok(p), full);
            }
        }
    }
    // Around the shortest policy the fast path takes, and a NUL where the
    // padded copy has its zeros.
    let shortest: &[u8] = b"version: STSv1\nmode: none\nmax_age: 0";
    assert_eq!(shortest.len(), 36);
    assert!(parse_fast_path(shortest).is_some());
    assert_eq!(parse_fast_path(&shortest[..35]), None);
    let nul = [shortest, b"\0"].concat();
    assert_eq!(parse_fast_path(&nul), None);
    assert_eq!(parse(&nul), parse_detailed(&nul).map_err(|e| e.error));
}
