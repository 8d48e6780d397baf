//! The C ABI of libsts: `libsts.so` (SONAME `libsts.so.0`), `libsts.a` and
//! the generated header `include/sts.h`.
//!
//! This crate is the only place with `unsafe` code. Every exported function
//! checks its pointers, runs inside a panic boundary, and writes its
//! outputs only on success. Types and functions follow C naming
//! (`sts_<noun>_<verb>`), as the header is the product.
#![deny(missing_docs)]
#![allow(non_camel_case_types)]

mod boundary;
mod cert;
mod records;
mod result;

pub use cert::{sts_cert_verify, sts_dane_verify};
pub use records::*;
pub use result::{sts_result, sts_result_name, sts_result_str, sts_result_tlsrpt_type};

use core::ffi::c_char;

/// The library version, a static NUL-terminated string such as `"0.1.0"`.
#[no_mangle]
pub extern "C" fn sts_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
