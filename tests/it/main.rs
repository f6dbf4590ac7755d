//! Integration tests: the real binary on real files in a temporary folder.

mod audiences;
mod changes;
mod cli;
mod expiring;
mod explain;
mod fuzz;
mod generate;
mod law;
mod outputs;
mod readers;
mod reliability;
mod rules;
mod shards;
mod snapshots_text;
mod store;
mod support;
