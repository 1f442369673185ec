//! redash-upgrade: plan and check upgrades of a self-hosted Redash, one release at a time. The
//! binary in `main.rs` only parses arguments (`cli.rs`) and calls the commands in [`engine`].

pub mod archive;
pub mod checks;
pub mod cli;
pub mod db;
pub mod detect;
pub mod engine;
pub mod fernet;
pub mod fleet;
pub mod inputs;
pub mod inventory;
pub mod knowledge;
pub mod plan;
pub mod rehearse;
pub mod report;
pub mod smoke;
pub mod snapshot;
pub mod status;
#[cfg(feature = "testbed")]
pub mod testbed;
pub mod verify;
pub mod window;
