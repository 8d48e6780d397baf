//! Manual pages generated from the command-line definition, so that every
//! subcommand present at build time gets a page and options never drift
//! from `--help`.

use std::io;
use std::path::{Path, PathBuf};

/// Writes `NAME.1` for the command and `NAME-SUB.1` for each visible
/// subcommand into `dir`; returns the files written.
pub fn write_pages(cmd: clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd;
    // Building the tree gives subcommands their parent in the synopsis
    // ("sts check") and their page name ("sts-check").
    cmd.build();
    let name = cmd.get_name().to_owned();
    let mut written = vec![render(&cmd, &name, dir)?];
    // clap's own `help` subcommand only repeats the other pages.
    let subs = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help");
    for sub in subs {
        let page = format!("{name}-{}", sub.get_name());
        written.push(render(sub, &page, dir)?);
    }
    Ok(written)
}

fn render(cmd: &clap::Command, page: &str, dir: &Path) -> io::Result<PathBuf> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .title(page.to_uppercase())
        .section("1")
        .date(page_date())
        .source(concat!("libsts ", env!("CARGO_PKG_VERSION")))
        .manual("libsts")
        .render(&mut out)?;
    let path = dir.join(format!("{page}.1"));
    std::fs::write(&path, out)?;
    Ok(path)
}

/// The pages' date: SOURCE_DATE_EPOCH when the build sets it (reproducible
/// packages), else today; as `YYYY-MM-DD`.
fn page_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    u32::try_from(secs / 86_400)
        .ok()
        .and_then(sts_core::tlsrpt::report::civil_from_days)
        .map_or_else(String::new, |(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}
