//! Marketing eligibility for Dutch car dealers: turns one night's DMS extract into one
//! decision per customer record x category x channel, as `../shared/CONTRACT.md` specifies.
//!
//! The stages, in the data's order: `read` (files to frames), `route` (buckets of dealers),
//! `validate` (quarantine), `records` (joins), `cells` (every cell decided by `policy`: the
//! policy, the law and the decision table, in one place), `audience` (contact points of
//! eligible cells), `write` (the run folder), `manifest`, `report` (report.html); `changes` compares with the
//! previous run, `unsubscribe` lists the cells lost since with the contact point the platform
//! holds, and `explain` tells one record's story. `run` strings them together (for all dealers,
//! or a shard's), `commit` publishes a night from its shards, `remote` runs either on object storage;
//! `cli` is the command line.

pub mod audience;
pub mod cells;
pub mod changes;
pub mod cli;
pub mod commit;
pub mod contact;
pub mod error;
pub mod explain;
pub mod generate;
pub mod guard;
pub mod manifest;
pub mod parallel;
pub mod pipeline;
pub mod policy;
pub mod progress;
pub mod read;
pub mod records;
pub mod remote;
pub mod report;
pub mod route;
pub mod run;
pub mod schema;
pub mod unsubscribe;
pub mod validate;
pub mod values;
pub mod write;

pub use error::{Error, Exit, Result};
