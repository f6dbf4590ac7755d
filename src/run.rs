//! The nightly job end to end: read, validate, join, decide, write, publish; and `validate`,
//! which checks a pipeline file and an extract's headers without writing anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use crate::cells;
use crate::error::{Error, Result};
use crate::manifest::{CellCount, Input, Manifest, Reading};
use crate::pipeline::Pipeline;
use crate::progress::Progress;
use crate::read::{self, file_name, Source};
use crate::records::{self, Valid};
use crate::route::{self, Routed};
use crate::schema::{Table, CATEGORIES, CHANNELS};
use crate::validate::{self, Context, CustomerIndex, TableStats};
use crate::write::{self, Written};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What one run is asked to do.
pub struct Job {
    pub pipeline: Pipeline,
    pub as_of: NaiveDate,
    pub input: PathBuf,
    pub out: PathBuf,
}

impl Job {
    /// The job a pipeline file describes, with the command line's overrides.
    pub fn new(
        pipeline: Pipeline,
        as_of: NaiveDate,
        input: Option<PathBuf>,
        out: Option<PathBuf>,
    ) -> Result<Job> {
        let input = input
            .or_else(|| pipeline.input_dir.clone())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "{}: no extract folder: set input.dir in the pipeline file or pass --input DIR",
                    pipeline.path.display()
                ))
            })?;
        let out = out.unwrap_or_else(|| pipeline.output_dir.clone());
        Ok(Job {
            pipeline,
            as_of,
            input,
            out,
        })
    }
}

/// What a finished run reports.
pub struct Report {
    pub folder: PathBuf,
    pub manifest: Manifest,
}

/// Today in Europe/Amsterdam, the default as-of date.
pub fn today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Amsterdam)
        .date_naive()
}

/// Checks the extract's files and headers: every problem at once, nothing read beyond the
/// header row.
pub fn check_extract(job: &Job) -> Result<Vec<(Source, Vec<String>)>> {
    let sources = read::discover(&job.input)?;
    let mut problems = Vec::new();
    let mut found = Vec::new();
    for s in sources {
        match read::header(&s, &job.pipeline.csv) {
            Ok((header, _)) => found.push((s, header)),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(Error::Extract {
            dir: job.input.clone(),
            problems,
        })
    }
}

/// What one bucket of dealers gave.
struct Bucket {
    stats: BTreeMap<Table, TableStats>,
    quarantine: Vec<DataFrame>,
    eligibility: Written,
    expiring: Written,
    retention: Written,
    counts: Vec<CellCount>,
}

/// What one dealer's cells gave.
#[derive(Default)]
struct Dealer {
    cells: u64,
    cell_bytes: u64,
    expiring: u64,
    expiring_files: u64,
    expiring_bytes: u64,
    counts: Vec<CellCount>,
}

/// Runs the job and publishes `<out>/as_of=DATE/`.
///
/// The extract is split into buckets of dealers (`route`), and each bucket is validated,
/// joined, decided and written on its own, two at a time on two cores: memory holds two
/// buckets, not the extract. `do_not_call`, which has no dealer, is read whole.
pub fn run(job: &Job, progress: &Progress) -> Result<Report> {
    let mut timings: BTreeMap<&'static str, f64> = BTreeMap::new();
    let mut clock = Instant::now();
    let mut lap = |name: &'static str| {
        timings.insert(
            name,
            (clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        );
        clock = Instant::now();
    };
    let sources: Vec<Source> = check_extract(job)?.into_iter().map(|(s, _)| s).collect();
    let csv = &job.pipeline.csv;
    let ctx = Context {
        as_of: job.as_of,
        date_format: &csv.date_format,
    };
    let dir = write::RunDir::begin(&job.out, job.as_of)?;
    let spill = dir.tmp.join("_buckets");
    let mkdir = |p: &Path| {
        std::fs::create_dir_all(p).map_err(|e| Error::Output {
            path: p.to_path_buf(),
            source: e,
        })
    };
    mkdir(&spill)?;
    // the folders exist even when no record was decided (an extract without valid customers)
    mkdir(&dir.tmp.join("eligibility"))?;
    mkdir(&dir.tmp.join("expiring"))?;

    let (dnc_source, sources): (Vec<Source>, Vec<Source>) = sources
        .into_iter()
        .partition(|s| s.table == Table::DoNotCall);
    let buckets = route::buckets(&sources, job.pipeline.buckets);
    let routed: Vec<Routed> = sources
        .par_iter()
        .map(|s| route::route(s, csv, buckets, &spill, progress))
        .collect::<Result<_>>()?;
    let mut dnc = None;
    let mut inputs = Vec::new();
    for s in &dnc_source {
        let raw = read::read(s, csv, progress)?;
        let c = validate::check(&raw, &ctx, None, records::columns_used(s.table))?;
        inputs.push(input(s, raw.sha256, raw.bytes, c.stats.clone()));
        dnc = Some(c);
    }
    let numbers = records::do_not_call(dnc.as_ref().map(|c| &c.valid))?;
    progress.step(format!(
        "split {} into {buckets} buckets of dealers",
        plural(routed.len(), "table")
    ));
    lap("split");

    let bar = progress.count("buckets", buckets as u64);
    let rows: Vec<u64> = (0..buckets)
        .map(|b| routed.iter().map(|r| r.rows[b]).sum())
        .collect();
    let done = in_parallel(&rows, |b| {
        let r = bucket(b, &routed, &ctx, &job.pipeline, &numbers, &dir);
        bar.inc(1);
        r
    })?;
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&spill);

    // per table: the buckets' counts added up
    for r in &routed {
        let mut stats = TableStats::default();
        for b in &done {
            if let Some(s) = b.stats.get(&r.source.table) {
                stats.add(s);
            }
        }
        inputs.push(input(&r.source, r.sha256.clone(), r.bytes, stats));
    }
    let mut quarantine_parts: Vec<&DataFrame> = done.iter().flat_map(|b| &b.quarantine).collect();
    quarantine_parts.extend(dnc.as_ref().map(|c| &c.quarantine));
    inputs.sort_by_key(|i| Table::ALL.iter().position(|t| t.name() == i.table));
    for i in &inputs {
        progress.step(format!(
            "{}: {} rows, {} valid, {} quarantined, {} exact duplicates",
            file_name(Path::new(&i.path)),
            i.stats.rows_read,
            i.stats.rows_valid,
            i.stats.quarantined_total(),
            i.stats.exact_duplicates
        ));
    }
    let mut outputs = BTreeMap::new();
    for (name, part) in [
        (
            "eligibility",
            (|b| &b.eligibility) as fn(&Bucket) -> &Written,
        ),
        ("expiring", |b| &b.expiring),
        ("retention", |b| &b.retention),
    ] {
        outputs.insert(
            name,
            Written {
                path: name.into(),
                rows: done.iter().map(|b| part(b).rows).sum(),
                files: done.iter().map(|b| part(b).files).sum(),
                bytes: done.iter().map(|b| part(b).bytes).sum(),
            },
        );
    }
    let counts = merge_counts(done.iter().flat_map(|b| b.counts.iter().cloned()));
    progress.step(format!(
        "decided and wrote {} cells",
        outputs["eligibility"].rows
    ));
    lap("buckets");
    fail_point("eligibility_written");

    let quarantine = quarantine(quarantine_parts.into_iter())?;
    outputs.insert("quarantine", dir.dataset("quarantine", &quarantine, true)?);
    lap("write");

    timings.insert("total", (progress.elapsed() * 1000.0).round() / 1000.0);
    let manifest = Manifest {
        tool: "eligibility",
        tool_version: VERSION,
        as_of: job.as_of.to_string(),
        pipeline_file: absolute(&job.pipeline.path),
        pipeline_sha256: job.pipeline.sha256.clone(),
        reading: Reading {
            delimiter: (csv.delimiter as char).to_string(),
            encoding: csv.encoding.name(),
            date_format: csv.date_format.spec().to_string(),
        },
        inputs,
        outputs,
        cells: counts,
        timings_s: timings,
    };
    fail_point("before_publish");
    let folder = dir.publish(&manifest)?;
    let folder = folder.canonicalize().unwrap_or(folder);
    progress.step(format!("published {}", folder.display()));
    Ok(Report { folder, manifest })
}

fn input(s: &Source, sha256: String, bytes: u64, stats: TableStats) -> Input {
    Input {
        table: s.table.name(),
        path: absolute(&s.path),
        format: s.format,
        sha256,
        bytes,
        stats,
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Rows of buckets processed at the same time, at most (unless one bucket alone has more):
/// about 1.6 GiB at some 200 bytes a row.
const ROWS_AT_ONCE: u64 = 8_000_000;

/// Runs `work` on every bucket, largest first, on as many threads as rayon has, but starts a
/// bucket only while the buckets in work hold at most `ROWS_AT_ONCE` rows: a large dealer is
/// processed alone (with its inner steps still in parallel) instead of beside another.
fn in_parallel<T: Send>(rows: &[u64], work: impl Fn(usize) -> Result<T> + Sync) -> Result<Vec<T>> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&b| std::cmp::Reverse(rows[b]));
    // (buckets not yet started, largest last; rows in work; results)
    let state = Mutex::new((
        order.into_iter().rev().collect::<Vec<_>>(),
        0u64,
        Vec::new(),
    ));
    let turn = Condvar::new();
    let lock = || {
        state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    std::thread::scope(|s| {
        for _ in 0..rayon::current_num_threads() {
            s.spawn(|| loop {
                let b = {
                    let mut st = lock();
                    loop {
                        let Some(&b) = st.0.last() else { return };
                        if st.1 == 0 || st.1 + rows[b] <= ROWS_AT_ONCE {
                            st.0.pop();
                            st.1 += rows[b];
                            break b;
                        }
                        st = turn
                            .wait(st)
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                    }
                };
                let r = work(b);
                let mut st = lock();
                st.1 -= rows[b];
                if r.is_err() {
                    st.0.clear();
                }
                st.2.push((b, r));
                turn.notify_all();
            });
        }
    });
    let mut done = state
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .2;
    done.sort_by_key(|(b, _)| *b);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Validates, joins, decides and writes the dealers of bucket `b`: eligibility per dealer,
/// retention as `retention/part-<b>.parquet`; quarantined rows are returned.
fn bucket(
    b: usize,
    routed: &[Routed],
    ctx: &Context,
    pipeline: &Pipeline,
    do_not_call: &PlHashSet<String>,
    dir: &write::RunDir,
) -> Result<Bucket> {
    let (csv, policy, expiring_days) = (&pipeline.csv, &pipeline.policy, pipeline.expiring_days);
    let mut stats = BTreeMap::new();
    let mut quarantine = Vec::new();
    let mut valid: BTreeMap<Table, DataFrame> = BTreeMap::new();
    let mut index = CustomerIndex::default();
    for r in routed {
        let table = r.source.table;
        let raw = route::load(r, b, csv)?;
        let c = validate::check(&raw, ctx, Some(&index), records::columns_used(table))?;
        drop(raw);
        if table == Table::Customers {
            index = CustomerIndex::new(&c.valid)?;
        }
        stats.insert(table, c.stats);
        quarantine.push(c.quarantine);
        valid.insert(table, c.valid);
    }
    drop(index);
    let empty = DataFrame::empty();
    let recs = records::build(&Valid {
        customers: valid.get(&Table::Customers).unwrap_or(&empty),
        invoices: valid.get(&Table::Invoices).unwrap_or(&empty),
        preferences: valid.get(&Table::Preferences),
        requests: valid.get(&Table::Requests),
        do_not_call,
    })?;
    drop(valid);

    let order = cells::sorted_records(&recs);
    // a dealer's cells are decided and written a row group at a time
    let per_dealer: Vec<Dealer> = cells::dealer_runs(&recs, &order)
        .into_par_iter()
        .map(|(dealer, range)| {
            let mut d = Dealer::default();
            let (mut cells_file, mut expiring_file) = (None, None);
            for chunk in order[range].chunks(cells::RECORDS_PER_GROUP) {
                let (mut df, c) = cells::eligibility(&recs, chunk, policy, ctx.as_of)?;
                let mut soon = cells::expiring(&df, ctx.as_of, expiring_days)?;
                d.cells += df.height() as u64;
                d.expiring += soon.height() as u64;
                d.counts.extend(c);
                for (file, name, df) in [
                    (&mut cells_file, "eligibility", &mut df),
                    (&mut expiring_file, "expiring", &mut soon),
                ] {
                    if df.height() == 0 {
                        continue;
                    }
                    let w = match file {
                        Some(w) => w,
                        None => file.insert(dir.part_writer(
                            name,
                            ("dealer_id", &dealer),
                            df.schema(),
                        )?),
                    };
                    w.write(df)?;
                }
            }
            if let Some(w) = cells_file {
                d.cell_bytes = w.finish()?;
            }
            if let Some(w) = expiring_file {
                d.expiring_bytes = w.finish()?;
                d.expiring_files = 1;
            }
            d.counts = merge_counts(d.counts.into_iter());
            Ok(d)
        })
        .collect::<Result<_>>()?;
    let mut retention = cells::retention(&recs, &order, policy, ctx.as_of)?;
    let bytes = dir.part_file("retention", &format!("part-{b}.parquet"), &mut retention)?;
    Ok(Bucket {
        stats,
        quarantine,
        eligibility: Written {
            path: "eligibility".into(),
            rows: per_dealer.iter().map(|d| d.cells).sum(),
            files: per_dealer.iter().filter(|d| d.cells > 0).count() as u64,
            bytes: per_dealer.iter().map(|d| d.cell_bytes).sum(),
        },
        expiring: Written {
            path: "expiring".into(),
            rows: per_dealer.iter().map(|d| d.expiring).sum(),
            files: per_dealer.iter().map(|d| d.expiring_files).sum(),
            bytes: per_dealer.iter().map(|d| d.expiring_bytes).sum(),
        },
        retention: Written {
            path: "retention".into(),
            rows: retention.height() as u64,
            files: 1,
            bytes,
        },
        counts: merge_counts(per_dealer.into_iter().flat_map(|d| d.counts)),
    })
}

/// Cell counts of several dealers added up per category x channel x outcome.
fn merge_counts(counts: impl Iterator<Item = CellCount>) -> Vec<CellCount> {
    let mut all: BTreeMap<(&'static str, &'static str, bool, &'static str), u64> = BTreeMap::new();
    for c in counts {
        *all.entry((c.category, c.channel, c.eligible, c.outcome))
            .or_insert(0) += c.cells;
    }
    all.into_iter()
        .map(
            |((category, channel, eligible, outcome), cells)| CellCount {
                category,
                channel,
                eligible,
                outcome,
                cells,
            },
        )
        .collect()
}

/// All tables' quarantined rows, sorted by table and line.
fn quarantine<'a>(parts: impl Iterator<Item = &'a DataFrame>) -> Result<DataFrame> {
    let mut all: Option<DataFrame> = None;
    for p in parts {
        match &mut all {
            None => all = Some(p.clone()),
            Some(a) => {
                a.vstack_mut(p)?;
            }
        }
    }
    let all = all.unwrap_or_default();
    if all.height() == 0 {
        return Ok(all);
    }
    Ok(all.sort(["table", "line"], SortMultipleOptions::default())?)
}

/// Test hook: `ELIGIBILITY_ABORT_AT=<point>` aborts the process there, as a kill would.
fn fail_point(point: &str) {
    if std::env::var("ELIGIBILITY_ABORT_AT").is_ok_and(|v| v == point) {
        std::process::abort();
    }
}

fn absolute(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

impl Report {
    /// The short summary printed at the end of a run.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let m = &self.manifest;
        let mut s = String::new();
        let _ = writeln!(s, "as-of {}\n", m.as_of);
        let _ = writeln!(
            s,
            "{:<14} {:>10} {:>10} {:>12}  quarantined by reason",
            "table", "read", "valid", "quarantined"
        );
        for i in &m.inputs {
            let reasons: Vec<String> = i
                .stats
                .quarantined
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(
                s,
                "{:<14} {:>10} {:>10} {:>12}  {}",
                i.table,
                i.stats.rows_read,
                i.stats.rows_valid,
                i.stats.quarantined_total(),
                reasons.join(", ")
            );
        }
        let _ = write!(s, "\n{:<35}", "eligible cells (of all)");
        for c in CHANNELS {
            let _ = write!(s, " {c:>16}");
        }
        s.push('\n');
        for cat in CATEGORIES {
            let _ = write!(s, "{cat:<35}");
            for ch in CHANNELS {
                let of = |pred: &dyn Fn(&CellCount) -> bool| -> u64 {
                    m.cells
                        .iter()
                        .filter(|c| c.category == cat && c.channel == ch && pred(c))
                        .map(|c| c.cells)
                        .sum()
                };
                let _ = write!(
                    s,
                    " {:>16}",
                    format!("{} of {}", of(&|c| c.eligible), of(&|_| true))
                );
            }
            s.push('\n');
        }
        let _ = writeln!(s, "\noutput: {}", self.folder.display());
        s
    }
}
