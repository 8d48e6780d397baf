//! Gives libsts.so its SONAME, so that programs link against the ABI
//! major version (`libsts.so.0`) rather than the unversioned name.
fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsts.so.0");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
