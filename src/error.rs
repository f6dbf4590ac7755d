//! The library's one error type and the exit codes a scheduler acts on.
//!
//! Messages name the file, the column and the line, and what would be valid. Bad rows are not
//! errors: they are quarantined and counted.

use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes in the sysexits tradition (see the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Ok = 0,
    Usage = 64,
    DataErr = 65,
    NoInput = 66,
    Software = 70,
    CantCreate = 73,
    IoErr = 74,
    TempFail = 75,
    Config = 78,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot read the pipeline file: {source}", path.display())]
    PipelineUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: {} problem(s) in the pipeline file:\n  {}", path.display(), problems.len(), problems.join("\n  "))]
    Pipeline {
        path: PathBuf,
        problems: Vec<String>,
    },

    #[error("{}: cannot read the law table: {source}", path.display())]
    LawUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: {} problem(s) in the law table:\n  {}", path.display(), problems.len(), problems.join("\n  "))]
    Law {
        path: PathBuf,
        problems: Vec<String>,
    },

    #[error("{0}")]
    Usage(String),

    #[error("{}: extract folder not found", path.display())]
    NoInputDir { path: PathBuf },

    #[error("{}: required table `{table}` not found (expected {table}.csv or {table}.parquet)", dir.display())]
    MissingTable { dir: PathBuf, table: &'static str },

    #[error("{}: missing required column {} ({table}); columns are: {}", path.display(),
        missing.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "), columns.join(", "))]
    MissingColumn {
        path: PathBuf,
        table: &'static str,
        missing: Vec<&'static str>,
        columns: Vec<String>,
    },

    #[error("{}: {} problem(s) in the extract:\n  {}", dir.display(), problems.len(), problems.join("\n  "))]
    Extract { dir: PathBuf, problems: Vec<String> },

    #[error("{}{}: {message}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Unreadable {
        path: PathBuf,
        line: Option<u64>,
        message: String,
    },

    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: cannot write the output: {source}", path.display())]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("the extract shrank, so nothing was published:\n  {}\nif the drop is real, run again with --accept-shrink TABLE (or raise [guard] max_drop_percent)", problems.join("\n  "))]
    Shrink { problems: Vec<String> },

    #[error("{}: another run (process {holder}) is writing this output root; try again when it has ended", path.display())]
    Locked { path: PathBuf, holder: String },

    #[error("{}: {} of the {count} shard results are not there ({}): run those shards (again), then commit", dir.display(), missing.len(), missing.join(", "))]
    ShardsMissing {
        dir: PathBuf,
        count: usize,
        missing: Vec<String>,
    },

    #[error("the shard results are not of one night, so nothing was published:\n  {}\nrun the shards again with the same extract, pipeline file and tool version", problems.join("\n  "))]
    ShardsMismatch { problems: Vec<String> },

    #[error("{url}: {message}")]
    Store {
        url: String,
        message: String,
        not_found: bool,
    },

    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A file or folder that cannot be read.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A file or folder of the output that cannot be written.
    pub fn output(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Output {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn exit(&self) -> Exit {
        match self {
            Error::PipelineUnreadable { .. }
            | Error::Pipeline { .. }
            | Error::LawUnreadable { .. }
            | Error::Law { .. } => Exit::Config,
            Error::Usage(_) => Exit::Usage,
            Error::NoInputDir { .. }
            | Error::MissingTable { .. }
            | Error::Store {
                not_found: true, ..
            } => Exit::NoInput,
            Error::MissingColumn { .. }
            | Error::Extract { .. }
            | Error::Unreadable { .. }
            | Error::Shrink { .. }
            | Error::ShardsMismatch { .. } => Exit::DataErr,
            Error::Io { .. } => Exit::IoErr,
            Error::Output { source, .. } if disk_full(source) => Exit::IoErr,
            Error::Output { .. } => Exit::CantCreate,
            // the store's service or the network (`Store`): worth a retry
            Error::Locked { .. } | Error::ShardsMissing { .. } | Error::Store { .. } => {
                Exit::TempFail
            }
            Error::Internal(_) => Exit::Software,
        }
    }
}

/// The disk (or the process's file size limit or quota) is full: worth a retry once space is
/// freed, unlike a permission problem.
fn disk_full(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{FileTooLarge, QuotaExceeded, StorageFull};
    matches!(e.kind(), StorageFull | FileTooLarge | QuotaExceeded)
}

impl From<polars::error::PolarsError> for Error {
    fn from(e: polars::error::PolarsError) -> Self {
        Error::Internal(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
