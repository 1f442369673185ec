//! redash-upgrade: plan, check and rehearse upgrades of a self-hosted Redash, one release at a
//! time. The binary in `main.rs` only parses arguments and calls into this library.

pub mod checks;
pub mod cli;
pub mod db;
pub mod detect;
pub mod fernet;
pub mod inputs;
pub mod knowledge;
pub mod plan;
pub mod report;
pub mod testbed;
