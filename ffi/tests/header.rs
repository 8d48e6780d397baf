//! `include/sts.h` must be exactly what cbindgen (pinned in the workspace)
//! generates from this crate. Run with `STS_BLESS=1` to rewrite it.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::Path;

#[test]
fn header_is_up_to_date() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../include/sts.h");
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    if std::env::var_os("STS_BLESS").is_some() {
        std::fs::write(&header, &fresh).expect("write include/sts.h");
        return;
    }
    let committed = std::fs::read(&header).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/sts.h is stale: run `STS_BLESS=1 cargo test -p sts-ffi --test header` and commit it"
    );
}
