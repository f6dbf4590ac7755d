//! The facts of one run, written as `manifest.json`: tool version, as-of date, the pipeline
//! file and its hash, the law table and the rules in force, every input with its hash and
//! row counts, every output with its row count, cells per category x channel x outcome, and
//! timings.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::read::Format;
use crate::validate::TableStats;
use crate::write::Written;

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub tool: &'static str,
    pub tool_version: &'static str,
    /// The JSON Schema this manifest follows, a path in the tool's repository.
    pub manifest_schema: &'static str,
    pub as_of: String,
    /// When the run started and finished, RFC 3339 in UTC.
    pub started_at: String,
    pub finished_at: String,
    /// The command line, as given.
    pub arguments: Vec<String>,
    /// The most memory the run held resident (Linux; null elsewhere).
    pub peak_memory_mib: Option<u64>,
    pub pipeline_file: String,
    pub pipeline_sha256: String,
    pub reading: Reading,
    pub inputs: Vec<Input>,
    pub outputs: BTreeMap<&'static str, Written>,
    /// What `changes/` compares with.
    pub changes: crate::changes::Since,
    pub law: LawUsed,
    pub cells: Vec<CellCount>,
    pub timings_s: BTreeMap<&'static str, f64>,
    /// A shard's result (`run --shard I/N`): which shard. A committed night lists its
    /// shards' runs under `shards` instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::route::Shard>,
}

/// The law table a run applied.
#[derive(Debug, Serialize)]
pub struct LawUsed {
    pub version: String,
    /// `built in`, or the file named by `[law] file`.
    pub table: String,
    pub sha256: String,
    /// The ids of the rules in force on the as-of date.
    pub rules_in_force: Vec<String>,
}

impl LawUsed {
    pub fn new(law: &crate::policy::Law, as_of: chrono::NaiveDate) -> LawUsed {
        LawUsed {
            version: law.version.clone(),
            table: law.origin.clone(),
            sha256: law.sha256.clone(),
            rules_in_force: law.in_force(as_of).into_iter().map(String::from).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Reading {
    pub delimiter: String,
    pub encoding: &'static str,
    pub date_format: String,
}

#[derive(Debug, Serialize)]
pub struct Input {
    pub table: &'static str,
    pub path: String,
    pub format: Format,
    pub sha256: String,
    pub bytes: u64,
    #[serde(flatten)]
    pub stats: TableStats,
}

/// Cells of one category x channel with one outcome (a basis when eligible, else a reason).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CellCount {
    pub category: &'static str,
    pub channel: &'static str,
    pub eligible: bool,
    pub outcome: &'static str,
    pub cells: u64,
}
