//! The headers in `include/` must be exactly what cbindgen (pinned in the
//! workspace) generates from this crate: one per build configuration, each
//! defining the `STS_FEATURE_*` macros of its library so that it declares
//! nothing that library lacks. Run with `STS_BLESS=1` to rewrite them.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::Path;

/// (header path, feature macros the library of that configuration has).
const CONFIGURATIONS: &[(&str, &[&str])] = &[
    // cargo build -p sts-ffi (default features: std, messages, cert, client)
    (
        "include/sts.h",
        &[
            "STS_FEATURE_STD",
            "STS_FEATURE_MESSAGES",
            "STS_FEATURE_WEBPKI",
            "STS_FEATURE_DANE",
            "STS_FEATURE_CLIENT",
        ],
    ),
    // --no-default-features
    ("include/firmware/sts.h", &[]),
    // --no-default-features --features dane
    ("include/firmware-dane/sts.h", &["STS_FEATURE_DANE"]),
];

/// The version macros and the feature macros of one configuration, and
/// `STS_INIT` for the structs that begin with `struct_size`.
fn preamble(features: &[&str]) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split('.');
    let mut next = || parts.next().unwrap_or("0").to_owned();
    let (major, minor, patch) = (next(), next(), next());
    let mut s = format!(
        "// The version of libsts this header belongs to. At run time,\n\
         // sts_version_number() >= STS_VERSION_NUMBER says the library is at\n\
         // least as new as the header the program was built with.\n\
         #define STS_VERSION_MAJOR {major}\n\
         #define STS_VERSION_MINOR {minor}\n\
         #define STS_VERSION_PATCH {patch}\n\
         #define STS_VERSION_NUMBER \
         ((STS_VERSION_MAJOR << 16) | (STS_VERSION_MINOR << 8) | STS_VERSION_PATCH)\n\
         \n\
         // What the library of this header has (#if defined(STS_FEATURE_CLIENT)).\n"
    );
    if features.is_empty() {
        s.push_str("// This configuration has none of the optional features.\n");
    }
    for f in features {
        s.push_str(&format!("#define {f} 1\n"));
    }
    if !features.contains(&"STS_FEATURE_MESSAGES") {
        s.push_str(
            "// No STS_FEATURE_MESSAGES: sts_result_str returns the code's name\n\
             // (\"STS_ERR_POLICY_BAD_MX\", as sts_result_name does), not a text.\n",
        );
    }
    s.push('\n');
    s.push_str(&result_enum());
    s.push_str(
        "\n// Initialises a struct that begins with `struct_size` (C99):\n\
         // `sts_decision d = STS_INIT(sts_decision);`\n\
         #define STS_INIT(type) { .struct_size = (uint32_t)sizeof(type) }\n",
    );
    s
}

/// The C lines of a Rust doc text, indented.
fn comment(doc: &str, indent: &str) -> String {
    doc.lines().map(|l| format!("{indent}//{l}\n")).collect()
}

/// `enum sts_result` in cbindgen's style, from the table in result.rs.
fn result_enum() -> String {
    let mut s = comment(sts::sts_result::DOC, "");
    s.push_str(
        "enum sts_result\n\
         #if defined(__cplusplus) || __STDC_VERSION__ >= 202311L\n  : uint32_t\n\
         #endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L\n {\n",
    );
    for r in sts::sts_result::ALL {
        s.push_str(&comment(r.doc(), "  "));
        let name = r.name_nul().trim_end_matches('\0');
        s.push_str(&format!("  {name} = {},\n", *r as u32));
    }
    s.push_str(
        "};\n#ifndef __cplusplus\n#if __STDC_VERSION__ >= 202311L\n\
         typedef enum sts_result sts_result;\n#else\ntypedef uint32_t sts_result;\n\
         #endif // __STDC_VERSION__ >= 202311L\n#endif // __cplusplus\n",
    );
    s
}

#[test]
fn headers_are_up_to_date() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for (path, features) in CONFIGURATIONS {
        let header = crate_dir.join("..").join(path);
        let mut config =
            cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
        config.after_includes = Some(preamble(features));
        let bindings = cbindgen::Builder::new()
            .with_crate(crate_dir)
            .with_config(config)
            .generate()
            .expect("cbindgen generates the header");
        let mut fresh = Vec::new();
        bindings.write(&mut fresh);
        if std::env::var_os("STS_BLESS").is_some() {
            std::fs::create_dir_all(header.parent().expect("include dir")).expect("mkdir");
            std::fs::write(&header, &fresh).expect("write the header");
            continue;
        }
        if std::fs::read(&header).unwrap_or_default() != fresh {
            stale.push(*path);
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} stale: run `STS_BLESS=1 cargo test -p sts-ffi --test header` and commit"
    );
}
