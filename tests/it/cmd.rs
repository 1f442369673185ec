//! What a user sees, case by case: each `tests/cmd/NAME.toml` gives the arguments and the exit
//! code, `NAME.stdout` and `NAME.stderr` what the binary prints (trycmd). With
//! `REDASH_UPGRADE_BLESS=1` (or `TRYCMD=overwrite`) the recorded outputs are rewritten; review
//! the diff.

use crate::support::{blessing, repo_root};

#[test]
fn every_cli_case_prints_what_is_recorded() {
    if blessing() {
        std::env::set_var("TRYCMD", "overwrite");
    }
    trycmd::TestCases::new()
        .register_bin(
            "redash-upgrade",
            std::path::Path::new(env!("CARGO_BIN_EXE_redash-upgrade")),
        )
        .case(repo_root().join("tests/cmd/*.toml"))
        .run();
}
