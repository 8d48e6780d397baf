//! Child processes of the tests. Tests that need a process of their own
//! (several MTAs sharing a cache or a Redis, a different umask) run a
//! test of their own binary again as a child: libtest's `--exact` picks
//! the one test, and an environment variable tells it that it is the
//! child. Commands under test get only the settings the test gives them.

use std::process::{Command, Stdio};

/// This test binary, set to run only `test`, one thread, its output
/// shown: add the environment and spawn.
pub fn this_test(test: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        test,
        "--nocapture",
        "--test-threads=1",
        "--quiet",
    ]);
    cmd
}

/// [`this_test`] for a simulated MTA: `STS_TEST_CHILD` set to `role`,
/// proxies in the environment pointing nowhere (a client must never use
/// them), stdout piped for the parent to read, stderr shown.
pub fn mta(test: &str, role: &str) -> Command {
    let mut cmd = this_test(test);
    cmd.env("STS_TEST_CHILD", role)
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("https_proxy", "http://127.0.0.1:9")
        .env("ALL_PROXY", "http://127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// Runs `test` again under umask 000 with `marker` set in its
/// environment, and fails unless that child ran the test and it passed
/// (what a program creates must not depend on the umask it inherits).
pub fn run_under_umask_000(test: &str, marker: &str) {
    let out = Command::new("sh")
        .args(["-c", "umask 000 && exec \"$0\" \"$@\""])
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(marker, "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
}

/// The environment variables through which the std layers and the `sts`
/// command take their settings.
pub const STS_SETTINGS_ENV: &[&str] = &[
    "STS_DNS_SERVER",
    "STS_CA_FILE",
    "STS_HTTPS_PORT",
    "STS_HTTPS_CONNECT",
    "STS_CACHE",
    "STS_REPORT_DIR",
    "STS_REDIS_URL",
];

/// Removes [`STS_SETTINGS_ENV`] from what `cmd` inherits, so that a test's
/// command sees only the settings the test gives it.
pub fn without_sts_settings(cmd: &mut Command) -> &mut Command {
    for var in STS_SETTINGS_ENV {
        cmd.env_remove(var);
    }
    cmd
}
