//! The one integration-test binary; modules by area.

mod cli;
mod knowledge;
mod plan;
mod support;
