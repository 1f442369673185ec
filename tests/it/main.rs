//! The one integration-test binary; modules by area.

mod apps;
mod archive;
mod check;
mod cli;
mod cmd;
mod db_checks;
mod detect;
mod helm;
mod k8s;
mod knowledge;
mod pg;
mod plan;
mod platforms;
mod procfs;
mod redis_testbed;
mod rehearse;
mod rehearse_resume;
mod services;
mod smoke;
mod snapshot;
mod snapshot_safety;
mod status;
mod support;
mod testbed;
mod tls;
