//! `sts man DIR`: the manual pages the Debian package ships.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn sts(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sts"))
        .args(args)
        .output()
        .unwrap()
}

/// The subcommands `sts --help` lists, without clap's `help`.
fn subcommands() -> Vec<String> {
    let help = String::from_utf8(sts(&["--help"]).stdout).unwrap();
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_listed_subcommand_gets_a_page_and_nothing_else_does() {
    let dir = std::env::temp_dir().join(format!("sts-man-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_sts"))
        .args(["man", dir.to_str().unwrap()])
        .env("SOURCE_DATE_EPOCH", "1800000000")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut want: Vec<String> = subcommands().iter().map(|c| format!("sts-{c}.1")).collect();
    assert!(want.len() >= 4, "too few subcommands in --help: {want:?}");
    want.push("sts.1".into());
    want.sort();
    let mut got: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, want, "the hidden `man` and clap's `help` get no page");

    let main = std::fs::read_to_string(dir.join("sts.1")).unwrap();
    assert!(main.contains(".TH STS 1"), "{main}");
    assert!(main.contains("dns\\-server"), "global options documented");
    let check = std::fs::read_to_string(dir.join("sts-check.1")).unwrap();
    assert!(check.contains(".TH STS-CHECK 1"), "{check}");
    // SOURCE_DATE_EPOCH (1,800,000,000 s) gives the date: reproducible pages.
    let th = format!(
        ".TH STS-CHECK 1 2027-01-15 \"libsts {}\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(check.contains(&th), "{check}");
    // The synopsis names the command as typed, not the page.
    assert!(check.contains("sts check"), "{check}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unwritable_directory_is_an_error_not_a_crash() {
    let out = sts(&["man", "/proc/version/x"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("sts man:"));
}
