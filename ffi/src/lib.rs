//! The C ABI of libsts: `libsts.so` (SONAME `libsts.so.0`), `libsts.a` and
//! the generated header `include/sts.h`.
//!
//! This crate is the only place with `unsafe` code. Every exported function
//! checks its pointers, runs inside a panic boundary, and writes its
//! outputs only on success. Types and functions follow C naming
//! (`sts_<noun>_<verb>`), as the header is the product.
//!
//! Features: `std` (default) gives the panic boundary and is needed by
//! `cert` (default: WebPKI and DANE through ring) and `client` (default:
//! DNS, HTTPS fetch and the policy cache of `sts-client`). Without `std` the crate
//! is `no_std` for firmware: policy, TXT, MX and TLSRPT parsing, plus
//! DANE-EE matching with the `dane` feature, all without a heap.
// Without `std` the crate is `no_std` wherever it can be: with
// `panic = "abort"` (firmware). A host test build of the same code keeps
// unwinding, which needs std's runtime, but calls nothing from std.
#![cfg_attr(all(not(feature = "std"), panic = "abort"), no_std)]
#![deny(missing_docs)]
#![allow(non_camel_case_types)]

mod boundary;
#[cfg(any(feature = "cert", feature = "dane"))]
mod cert;
mod check;
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
mod extensible;
#[cfg(feature = "client")]
mod lookup;
mod records;
#[cfg(feature = "client")]
mod report;
mod result;

#[cfg(feature = "cert")]
pub use cert::sts_cert_verify;
#[cfg(any(feature = "cert", feature = "dane"))]
pub use cert::sts_dane_verify;
#[cfg(feature = "client")]
pub use client::*;
#[cfg(feature = "client")]
pub use lookup::*;
pub use records::*;
#[cfg(feature = "client")]
pub use report::*;
pub use result::{sts_result, sts_result_name, sts_result_str, sts_result_tlsrpt_type};

use core::ffi::c_char;

/// The library version, a static NUL-terminated string such as `"0.1.0"`.
#[no_mangle]
pub extern "C" fn sts_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The library version as `(major << 16) | (minor << 8) | patch`, to
/// compare with the header's `STS_VERSION_NUMBER`: a program built with a
/// newer header than its library may set fields the library ignores.
#[no_mangle]
pub extern "C" fn sts_version_number() -> u32 {
    const fn part(s: &str) -> u32 {
        let b = s.as_bytes();
        let mut i = 0;
        let mut n = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            n = n * 10 + (b[i] - b'0') as u32;
            i += 1;
        }
        n
    }
    const NUMBER: u32 = (part(env!("CARGO_PKG_VERSION_MAJOR")) << 16)
        | (part(env!("CARGO_PKG_VERSION_MINOR")) << 8)
        | part(env!("CARGO_PKG_VERSION_PATCH"));
    NUMBER
}

/// Firmware has no unwinding and nobody to report to; the core never
/// panics, so this is only reached through a bug. Spinning keeps the
/// watchdog in charge of what happens next.
#[cfg(all(not(feature = "std"), panic = "abort", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
