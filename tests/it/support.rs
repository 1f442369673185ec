//! Shared test helpers: golden files and running the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether golden and canonical files should be rewritten instead of compared.
pub fn blessing() -> bool {
    std::env::var_os("REDASH_UPGRADE_BLESS").is_some_and(|value| value == "1")
}

/// Compares `actual` with the golden file `tests/golden/<name>`, or rewrites it when blessing.
pub fn assert_golden(name: &str, actual: &str) {
    let path = repo_root().join("tests/golden").join(name);
    assert_matches_file(&path, actual);
}

pub fn assert_matches_file(path: &Path, actual: &str) {
    if blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error} (run with REDASH_UPGRADE_BLESS=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
            .unified_diff()
            .header("expected", "actual")
            .to_string();
        panic!("{} differs from the output:\n{diff}", path.display());
    }
}

/// The binary, without the variables of the environment that change what it does: colour
/// forcing, a database URL, a CI marker.
pub fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_redash-upgrade"));
    command
        .env_remove("CLICOLOR_FORCE")
        .env_remove("NO_COLOR")
        .env_remove("REDASH_DATABASE_URL")
        .env_remove("REDASH_REDIS_URL")
        .env_remove("CI")
        .env("COLUMNS", "80");
    command
}

/// Runs the binary with `args`.
pub fn run(args: &[&str]) -> Output {
    command().args(args).output().expect("the binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// Copies a directory tree (test data into a temp dir that a test may change).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
