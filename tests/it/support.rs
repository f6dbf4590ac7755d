//! A work folder with the binary at hand, and readers for what a run writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars::prelude::*;

pub const AS_OF: &str = "2026-11-22";

/// The contract's tables, in its order.
pub const TABLES: [&str; 8] = [
    "customers",
    "invoices",
    "vehicles",
    "preferences",
    "requests",
    "do_not_call",
    "postfilter",
    "deceased_register",
];

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs the binary in the work folder.
    pub fn cmd(&self, args: &[&str]) -> Output {
        self.cmd_env(args, &[])
    }

    pub fn cmd_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_eligibility"));
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("the binary runs")
    }

    /// `run` of a pipeline from the repository on `input`, into `out`, for AS_OF; it must
    /// succeed.
    pub fn run(&self, pipeline: &str, input: &Path, out: &str) -> Output {
        let o = self.try_run(pipeline, Some(input), out, &[]);
        assert_ok(&o);
        o
    }

    /// `run` of the bundled pipeline on the bundled sample (`sample-data/iso`) into `out`;
    /// returns the run folder.
    pub fn run_sample(&self) -> PathBuf {
        self.run(
            "pipelines/sample.toml",
            &repo().join("sample-data/iso"),
            "out",
        );
        self.run_dir("out")
    }

    /// The same, with the pipeline file's own input when `input` is `None`, extra
    /// environment, and whatever the outcome.
    pub fn try_run(
        &self,
        pipeline: &str,
        input: Option<&Path>,
        out: &str,
        env: &[(&str, &str)],
    ) -> Output {
        self.run_at(pipeline, input, out, AS_OF, &[], env)
    }

    /// `run` of `pipeline` (a path in the repository, or an absolute one) on `input` (the
    /// pipeline file's own when `None`) into the work folder's `out`, for `as_of`, with
    /// extra arguments and environment, whatever the outcome.
    pub fn run_at(
        &self,
        pipeline: &str,
        input: Option<&Path>,
        out: &str,
        as_of: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        let p = repo().join(pipeline);
        let out = self.path(out);
        let mut args = vec!["run", "--quiet", "--pipeline", p.to_str().unwrap()];
        if let Some(input) = input {
            args.extend(["--input", input.to_str().unwrap()]);
        }
        args.extend(["--out", out.to_str().unwrap(), "--as-of", as_of]);
        args.extend(extra);
        self.cmd_env(&args, env)
    }

    /// The run folder of AS_OF under output root `out`.
    pub fn run_dir(&self, out: &str) -> PathBuf {
        self.path(out).join(format!("as_of={AS_OF}"))
    }

    /// Copies a sample extract into the work folder.
    pub fn copy_sample(&self, variant: &str, to: &str) -> PathBuf {
        let dst = self.path(to);
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(repo().join("sample-data").join(variant)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
        dst
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

pub fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The manifest of a run folder.
pub fn manifest(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap()
}

/// Rows quarantined for any reason, of one entry of a manifest's `inputs`.
pub fn quarantined(input: &serde_json::Value) -> u64 {
    input["quarantined"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

/// A dataset of a run folder, read with hive partitioning, sorted by every column.
pub fn dataset(run: &Path, name: &str) -> DataFrame {
    let args = ScanArgsParquet {
        hive_options: HiveOptions::new_enabled(),
        ..Default::default()
    };
    let path = run.join(name);
    let lf = LazyFrame::scan_parquet(PlRefPath::new(path.to_str().unwrap()), args).expect("scan");
    let df = lf.collect().expect("read back");
    let cols: Vec<PlSmallStr> = df
        .columns()
        .iter()
        .filter(|c| !matches!(c.dtype(), DataType::List(_)))
        .map(|c| c.name().clone())
        .collect();
    df.sort(cols, SortMultipleOptions::default().with_nulls_last(true))
        .unwrap()
}

/// One cell of an eligibility frame: (eligible, basis or reason, expires_on).
pub fn cell(
    df: &DataFrame,
    dealer: &str,
    customer: &str,
    category: &str,
    channel: &str,
) -> (bool, String, String) {
    let hit = df
        .clone()
        .lazy()
        .filter(
            col("dealer_id")
                .cast(DataType::String)
                .eq(lit(dealer))
                .and(col("customer_id").eq(lit(customer)))
                .and(col("category").eq(lit(category)))
                .and(col("channel").eq(lit(channel))),
        )
        .collect()
        .unwrap();
    assert_eq!(
        hit.height(),
        1,
        "one cell {dealer}/{customer}/{category}/{channel}"
    );
    let eligible = hit
        .column("eligible")
        .unwrap()
        .bool()
        .unwrap()
        .get(0)
        .unwrap();
    let outcome = if eligible { "basis" } else { "reason" };
    let outcome = hit
        .column(outcome)
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let expires = hit
        .column("expires_on")
        .unwrap()
        .cast(&DataType::String)
        .unwrap();
    let expires = expires.str().unwrap().get(0).unwrap().to_string();
    (eligible, outcome, expires)
}

/// Value `i` of column `col` as text (dates as `YYYY-MM-DD`, booleans as `true`/`false`).
pub fn text(df: &DataFrame, col: &str, i: usize) -> Option<String> {
    let c = df.column(col).unwrap().cast(&DataType::String).unwrap();
    c.str().unwrap().get(i).map(str::to_string)
}

/// The physical line (header = 1) on which the row starting with `prefix` begins.
pub fn line_of(file: &Path, prefix: &str) -> i64 {
    let text = std::fs::read(file).unwrap();
    let text = String::from_utf8_lossy(&text);
    text.split('\n')
        .position(|l| l.starts_with(prefix))
        .expect("row in file") as i64
        + 1
}

/// A CSV file of the sample as a frame of text columns (empty = null).
pub fn csv_frame(path: &Path) -> DataFrame {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let cols = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let v: StringChunked = rows
                .iter()
                .map(|r| r.get(i).filter(|s| !s.is_empty()))
                .collect();
            v.with_name(h.as_str().into()).into_column()
        })
        .collect();
    DataFrame::new(rows.len(), cols).unwrap()
}

pub fn write_parquet(path: &Path, df: &mut DataFrame) {
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(df)
        .unwrap();
}
