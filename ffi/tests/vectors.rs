//! Runs tests/vectors/abi.tsv through the exported C functions, the same
//! file tests/c/vectors.c runs from C against libsts.so.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::ffi::{CStr, CString};
use std::path::Path;
use sts::*;

fn unescape(s: &str) -> Vec<u8> {
    if s == "\\e" {
        return Vec::new();
    }
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            i += 1;
            match b[i] {
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'0' => out.push(0),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("hex escape");
                    out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                    i += 2;
                }
                other => panic!("unknown escape \\{}", other as char),
            }
        } else {
            out.push(b[i]);
        }
        i += 1;
    }
    out
}

fn name(r: sts_result) -> String {
    unsafe { CStr::from_ptr(sts_result_name(r as u32)) }
        .to_string_lossy()
        .into_owned()
}

fn slice<'a>(p: *const u8, n: usize) -> &'a str {
    std::str::from_utf8(unsafe { std::slice::from_raw_parts(p, n) }).expect("utf-8")
}

/// Runs one vector; returns (result name, detail).
fn run(kind: &str, input: &[u8], arg: &str) -> (String, String) {
    unsafe {
        match kind {
            "policy" => {
                let mut p = std::mem::MaybeUninit::<sts_policy>::uninit();
                let r = sts_policy_parse(input.as_ptr(), input.len(), p.as_mut_ptr());
                if r != sts_result::STS_OK {
                    return (name(r), "-".into());
                }
                let p = p.assume_init();
                let mode = match p.mode {
                    sts_mode::STS_MODE_NONE => "none",
                    sts_mode::STS_MODE_TESTING => "testing",
                    sts_mode::STS_MODE_ENFORCE => "enforce",
                };
                let mut mx = Vec::new();
                for i in 0..p.mx_count {
                    let (mut n, mut l) = (std::ptr::null(), 0usize);
                    assert_eq!(sts_policy_mx(&p, i, &mut n, &mut l), sts_result::STS_OK);
                    mx.push(slice(n, l).to_string());
                }
                let (mut n, mut l) = (std::ptr::null(), 0usize);
                assert_eq!(
                    sts_policy_mx(&p, p.mx_count, &mut n, &mut l),
                    sts_result::STS_ERR_INDEX_OUT_OF_RANGE
                );
                (
                    name(r),
                    format!("mode={mode} max_age={} mx={}", p.max_age, mx.join(",")),
                )
            }
            "policy_match" => {
                let mut p = std::mem::MaybeUninit::<sts_policy>::uninit();
                assert_eq!(
                    sts_policy_parse(input.as_ptr(), input.len(), p.as_mut_ptr()),
                    sts_result::STS_OK
                );
                let host = CString::new(unescape(arg)).expect("no NUL in host");
                (
                    name(sts_policy_match_mx(p.as_ptr(), host.as_ptr())),
                    "-".into(),
                )
            }
            "mx" => {
                let pattern = CString::new(input).expect("no NUL");
                let host = CString::new(unescape(arg)).expect("no NUL");
                (
                    name(sts_mx_pattern_match(pattern.as_ptr(), host.as_ptr())),
                    "-".into(),
                )
            }
            "txt" | "txt_select" => {
                let mut out = std::mem::MaybeUninit::<sts_txt_record>::uninit();
                let r = if kind == "txt" {
                    sts_txt_parse(input.as_ptr(), input.len(), out.as_mut_ptr())
                } else {
                    let n: usize = arg.parse().expect("count");
                    let records: Vec<&[u8]> = if n == 0 {
                        Vec::new()
                    } else {
                        input.split(|&b| b == 0).collect()
                    };
                    assert_eq!(records.len(), n);
                    let ptrs: Vec<*const u8> = records.iter().map(|r| r.as_ptr()).collect();
                    let lens: Vec<usize> = records.iter().map(|r| r.len()).collect();
                    sts_txt_select(ptrs.as_ptr(), lens.as_ptr(), n, out.as_mut_ptr())
                };
                if r != sts_result::STS_OK {
                    return (name(r), "-".into());
                }
                let out = out.assume_init();
                (name(r), format!("id={}", slice(out.id, out.id_len)))
            }
            "tlsrpt" => {
                let mut out = std::mem::MaybeUninit::<sts_tlsrpt_record>::uninit();
                let r = sts_tlsrpt_parse(input.as_ptr(), input.len(), out.as_mut_ptr());
                if r != sts_result::STS_OK {
                    return (name(r), "-".into());
                }
                let out = out.assume_init();
                let mut uris = Vec::new();
                for i in 0..out.rua_count {
                    let (mut u, mut l) = (std::ptr::null(), 0usize);
                    assert_eq!(sts_tlsrpt_rua(&out, i, &mut u, &mut l), sts_result::STS_OK);
                    uris.push(slice(u, l).to_string());
                }
                (name(r), format!("rua={}", uris.join(",")))
            }
            other => panic!("unknown vector kind {other}"),
        }
    }
}

#[test]
fn abi_vectors() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/abi.tsv");
    let text = std::fs::read_to_string(&path).expect("tests/vectors/abi.tsv");
    let mut count = 0;
    for (lineno, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 5, "line {}: {line:?}", lineno + 1);
        let (got, detail) = run(cols[0], &unescape(cols[1]), cols[2]);
        assert_eq!(got, cols[3], "line {}: {line:?}", lineno + 1);
        assert_eq!(detail, cols[4], "line {}: {line:?}", lineno + 1);
        count += 1;
    }
    assert!(count >= 70, "only {count} vectors");
}

#[test]
fn null_arguments_give_err_null() {
    unsafe {
        let mut p = std::mem::MaybeUninit::<sts_policy>::uninit();
        assert_eq!(
            sts_policy_parse(std::ptr::null(), 0, p.as_mut_ptr()),
            sts_result::STS_ERR_NULL
        );
        assert_eq!(
            sts_policy_parse(b"x".as_ptr(), 1, std::ptr::null_mut()),
            sts_result::STS_ERR_NULL
        );
        assert_eq!(
            sts_policy_match_mx(std::ptr::null(), c"a".as_ptr()),
            sts_result::STS_ERR_NULL
        );
        assert_eq!(
            sts_mx_pattern_match(std::ptr::null(), c"a".as_ptr()),
            sts_result::STS_ERR_NULL
        );
        assert_eq!(
            sts_mx_pattern_match(c"a".as_ptr(), std::ptr::null()),
            sts_result::STS_ERR_NULL
        );
        let mut t = std::mem::MaybeUninit::<sts_txt_record>::uninit();
        assert_eq!(
            sts_txt_parse(std::ptr::null(), 3, t.as_mut_ptr()),
            sts_result::STS_ERR_NULL
        );
        assert_eq!(
            sts_txt_select(std::ptr::null(), std::ptr::null(), 1, t.as_mut_ptr()),
            sts_result::STS_ERR_NULL
        );
        let recs = [std::ptr::null::<u8>()];
        let lens = [0usize];
        assert_eq!(
            sts_txt_select(recs.as_ptr(), lens.as_ptr(), 1, t.as_mut_ptr()),
            sts_result::STS_ERR_NULL
        );
        let mut r = std::mem::MaybeUninit::<sts_tlsrpt_record>::uninit();
        assert_eq!(
            sts_tlsrpt_parse(std::ptr::null(), 0, r.as_mut_ptr()),
            sts_result::STS_ERR_NULL
        );
        assert_eq!(
            sts_tlsrpt_rua(std::ptr::null(), 0, &mut std::ptr::null(), &mut 0),
            sts_result::STS_ERR_NULL
        );
        assert_eq!(
            sts_policy_parse(b"x".as_ptr(), usize::MAX, p.as_mut_ptr()),
            sts_result::STS_ERR_INVALID_ARGUMENT
        );
    }
}

#[test]
fn outputs_untouched_on_error() {
    unsafe {
        let mut t = sts_txt_record {
            id: 7 as *const u8,
            id_len: 99,
        };
        let rec = b"v=STSv1; id=bad-id";
        assert_eq!(
            sts_txt_parse(rec.as_ptr(), rec.len(), &mut t),
            sts_result::STS_ERR_TXT_BAD_ID
        );
        assert_eq!((t.id as usize, t.id_len), (7, 99));
    }
}

#[test]
fn structs_not_filled_by_libsts_are_refused() {
    let text = b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n";
    unsafe {
        let mut p = std::mem::MaybeUninit::<sts_policy>::uninit();
        assert_eq!(
            sts_policy_parse(text.as_ptr(), text.len(), p.as_mut_ptr()),
            sts_result::STS_OK
        );
        let mut p = p.assume_init();
        assert_eq!(
            sts_policy_match_mx(&p, c"a.example".as_ptr()),
            sts_result::STS_OK
        );
        p.private_len += 1000;
        assert_eq!(
            sts_policy_match_mx(&p, c"a.example".as_ptr()),
            sts_result::STS_ERR_CORRUPT_STRUCT
        );
        let mut zero: sts_policy = std::mem::zeroed();
        zero.mx_count = 1;
        assert_eq!(
            sts_policy_match_mx(&zero, c"a.example".as_ptr()),
            sts_result::STS_ERR_CORRUPT_STRUCT
        );
        // A mode value outside the enum is read as an integer, not trusted.
        let raw = (&mut zero as *mut sts_policy).cast::<u32>();
        raw.write(77);
        assert_eq!(
            sts_policy_match_mx(&zero, c"a.example".as_ptr()),
            sts_result::STS_ERR_CORRUPT_STRUCT
        );
    }
}

#[test]
fn the_check_word_catches_a_change_to_any_field() {
    let text = b"version: STSv1\nmode: testing\nmx: a.example\nmx: *.b.example\nmax_age: 86400\n";
    let host = c"a.example".as_ptr();
    unsafe {
        let mut good: sts_policy = std::mem::zeroed();
        assert_eq!(
            sts_policy_parse(text.as_ptr(), text.len(), &mut good),
            sts_result::STS_OK
        );
        let changes: Vec<(&str, Box<dyn Fn(&mut sts_policy)>)> = vec![
            ("mode", Box::new(|p| p.mode = sts_mode::STS_MODE_ENFORCE)),
            ("max_age", Box::new(|p| p.max_age += 1)),
            ("mx_count", Box::new(|p| p.mx_count += 1)),
            (
                "private_text",
                Box::new(|p| p.private_text = p.private_text.add(1)),
            ),
            ("private_len", Box::new(|p| p.private_len -= 1)),
            ("private_rest_from", Box::new(|p| p.private_rest_from += 1)),
            ("span swap", Box::new(|p| p.private_mx.swap(0, 2))),
            (
                "pair swap",
                Box::new(|p| {
                    p.private_mx.swap(0, 2);
                    p.private_mx.swap(1, 3);
                }),
            ),
        ];
        for (name, change) in &changes {
            let mut p = good;
            change(&mut p);
            assert_eq!(
                sts_policy_match_mx(&p, host),
                sts_result::STS_ERR_CORRUPT_STRUCT,
                "{name}"
            );
        }
        for i in 0..STS_POLICY_MX_WORDS {
            let mut p = good;
            p.private_mx[i] ^= 1;
            assert_eq!(
                sts_policy_match_mx(&p, host),
                sts_result::STS_ERR_CORRUPT_STRUCT,
                "private_mx[{i}]"
            );
        }
        assert_eq!(sts_policy_match_mx(&good, host), sts_result::STS_OK);
    }
}

#[test]
fn version_and_strings_are_nul_terminated() {
    let v = unsafe { CStr::from_ptr(sts_version()) };
    assert_eq!(v.to_str(), Ok(env!("CARGO_PKG_VERSION")));
    for code in [0u32, 1, 312, 400, 599, 9999] {
        let s = unsafe { CStr::from_ptr(sts_result_str(code)) };
        assert!(!s.to_bytes().is_empty());
    }
}
