//! The one integration-test binary; modules by area.

mod check;
mod cli;
mod cmd;
mod db_checks;
mod detect;
mod knowledge;
mod pg;
mod plan;
mod platforms;
mod procfs;
mod rehearse;
mod rehearse_resume;
mod snapshot;
mod snapshot_safety;
mod support;
mod testbed;
mod tls;
