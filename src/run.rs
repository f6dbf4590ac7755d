//! The nightly job end to end: read, validate, join, decide, write, publish; and `validate`,
//! which checks a pipeline file and an extract's headers without writing anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use crate::audience;
use crate::cells;
use crate::changes;
use crate::error::{Error, Result};
use crate::guard;
use crate::manifest::{CellCount, Input, LawUsed, Manifest, Reading};
use crate::parallel::in_parallel;
use crate::pipeline::{Mailing, Pipeline};
use crate::policy::{Category, Channel, LawAt, Slot};
use crate::progress::Progress;
use crate::read::{self, file_name, RawTable, Source};
use crate::records::{self, Outside, Records, Valid};
use crate::report;
use crate::route::{self, Routed, Shard};
use crate::schema::Table;
use crate::unsubscribe;
use crate::validate::{self, Context, CustomerIndex, TableStats};
use crate::write::{self, Written};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the binary was built from (`build.rs`).
pub const COMMIT: &str = env!("ELIGIBILITY_COMMIT");

/// The contract the code follows (`docs/CONTRACT.md`, carried in the binary).
const CONTRACT: &str = include_str!("../docs/CONTRACT.md");

/// The sha256 of the contract the binary follows: its version, for the outputs' metadata.
pub fn contract_sha256() -> String {
    use sha2::Digest;
    crate::values::hex(&sha2::Sha256::digest(CONTRACT.as_bytes()))
}

/// What one run is asked to do.
pub struct Job {
    pub pipeline: Pipeline,
    pub as_of: NaiveDate,
    pub input: PathBuf,
    pub out: PathBuf,
    /// Tables whose drop since the previous night the operator accepts (`--accept-shrink`).
    pub accept_shrink: Vec<Table>,
    /// The command line, for the manifest.
    pub arguments: Vec<String>,
    /// Decide only this shard's dealers, into a shard result for `commit` (`run --shard`).
    pub shard: Option<Shard>,
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
        // one pipeline file for every night: `{as_of}` in the folder is the night's date
        let input = match input.to_str() {
            Some(p) if p.contains("{as_of}") => {
                PathBuf::from(p.replace("{as_of}", &as_of.to_string()))
            }
            _ => input,
        };
        let out = out.unwrap_or_else(|| pipeline.output_dir.clone());
        Ok(Job {
            pipeline,
            as_of,
            input,
            out,
            accept_shrink: Vec::new(),
            arguments: Vec::new(),
            shard: None,
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
    written: Outputs,
    counts: Vec<CellCount>,
}

/// What was written per output dataset.
pub(crate) type Outputs = BTreeMap<&'static str, Written>;

fn add_outputs(into: &mut Outputs, from: &Outputs) {
    for (name, w) in from {
        add_written(into, name, w);
    }
}

/// Adds what was written to dataset `name` to its totals.
fn add_written(into: &mut Outputs, name: &'static str, w: &Written) {
    let t = into.entry(name).or_insert_with(|| Written {
        path: name.to_string(),
        ..Written::default()
    });
    t.rows += w.rows;
    t.files += w.files;
    t.bytes += w.bytes;
}

/// The CSV files of the whole run when audiences go to one file per category x channel
/// (`[output.csv] files = "per_channel"`): an audience file and a vehicles file per slot.
type SharedCsv = std::sync::Mutex<BTreeMap<(Slot, bool), (write::CsvPart, u64)>>;

/// Where the buckets write: the run folder, and the run's shared CSV files if any.
struct Sink<'a> {
    dir: &'a write::RunDir,
    csv: Option<SharedCsv>,
}

/// The files of one dealer's partitions, each opened when its first rows come.
struct DealerFiles<'a> {
    dir: &'a write::RunDir,
    shared: Option<&'a SharedCsv>,
    dealer: &'a str,
    /// The file number within the dealer's folders (a split bucket's part).
    part: usize,
    /// Also write audiences as CSV, so.
    csv: Option<&'a Mailing>,
    /// The mode of audience files.
    mode: Option<u32>,
    parquet: BTreeMap<(&'static str, Option<Slot>), (write::PartWriter, u64)>,
    /// An audience CSV file and a vehicles file per slot.
    csv_files: BTreeMap<(Slot, bool), (write::CsvPart, u64)>,
}

impl<'a> DealerFiles<'a> {
    fn new(sink: &'a Sink, dealer: &'a str, part: usize, p: &'a Pipeline) -> Self {
        DealerFiles {
            dir: sink.dir,
            shared: sink.csv.as_ref(),
            dealer,
            part,
            csv: p.audiences_csv.then_some(&p.mailing),
            mode: Some(p.mailing.mode),
            parquet: BTreeMap::new(),
            csv_files: BTreeMap::new(),
        }
    }

    /// Writes `df` as a row group of dataset `name`, partitioned by dealer and, with `slot`,
    /// by category and channel.
    fn write(&mut self, name: &'static str, slot: Option<Slot>, df: &mut DataFrame) -> Result<()> {
        if df.height() == 0 {
            return Ok(());
        }
        let (w, rows) = match self.parquet.entry((name, slot)) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let mut partition = vec![("dealer_id", self.dealer)];
                if let Some(s) = slot {
                    partition.extend([
                        ("category", s.category().name()),
                        ("channel", s.channel().name()),
                    ]);
                }
                let mode = if name == "audiences" { self.mode } else { None };
                let w = self
                    .dir
                    .part_writer(name, &partition, self.part, df.schema(), mode)?;
                e.insert((w, 0))
            }
        };
        *rows += df.height() as u64;
        w.write(df)
    }

    /// Writes an audience to Parquet, and to CSV when asked: its rows in
    /// `audiences_csv/dealer_id=D/<category>-<channel>.csv`, the vehicles they list in
    /// `<category>-<channel>.vehicles.csv` beside it (per channel: `audiences_csv/` holds
    /// them, for all dealers).
    fn audience(&mut self, mut a: audience::Audience) -> Result<()> {
        self.write("audiences", Some(a.slot), &mut a.rows)?;
        let Some(mailing) = self.csv else {
            return Ok(());
        };
        let (category, channel) = (a.slot.category().name(), a.slot.channel().name());
        let fixed = [
            ("dealer_id", self.dealer),
            ("category", category),
            ("channel", channel),
        ];
        let format = write::CsvFormat {
            delimiter: mailing.delimiter,
            bom: mailing.bom,
            mode: self.mode,
        };
        for (vehicles, df) in [(false, &a.rows), (true, &a.vehicles)] {
            if df.height() == 0 {
                continue;
            }
            let mut shared = match self.shared {
                Some(m) => Some(
                    m.lock()
                        .map_err(|_| Error::Internal("a CSV writer panicked".into()))?,
                ),
                None => None,
            };
            let files = shared.as_deref_mut().unwrap_or(&mut self.csv_files);
            let (w, rows) = match files.entry((a.slot, vehicles)) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    let dir = if self.shared.is_some() {
                        self.dir.partition_dir("audiences_csv", &[])?
                    } else {
                        self.dir
                            .partition_dir("audiences_csv", &[("dealer_id", self.dealer)])?
                    };
                    let (header, kind) = if vehicles {
                        let mut header = vec!["dealer_id"];
                        header.extend(audience::vehicle_columns());
                        (header, ".vehicles")
                    } else {
                        (mailing.columns[a.slot.channel() as usize].clone(), "")
                    };
                    let path = match (self.part, self.shared) {
                        (0, _) | (_, Some(_)) => {
                            dir.join(format!("{category}-{channel}{kind}.csv"))
                        }
                        (p, None) => dir.join(format!("{category}-{channel}-{p}{kind}.csv")),
                    };
                    e.insert((write::CsvPart::create(&path, &header, format)?, 0))
                }
            };
            *rows += df.height() as u64;
            w.write(&fixed, df)?;
        }
        Ok(())
    }

    fn finish(self) -> Result<Outputs> {
        let mut out = Outputs::new();
        let mut count = |name: &'static str, rows: u64, bytes: u64| {
            let w = Written {
                path: name.to_string(),
                rows,
                files: 1,
                bytes,
            };
            add_written(&mut out, name, &w);
        };
        for ((name, _), (w, rows)) in self.parquet {
            count(name, rows, w.finish()?);
        }
        for ((_, vehicles), (w, rows)) in self.csv_files {
            let name = if vehicles {
                "audiences_csv_vehicles"
            } else {
                "audiences_csv"
            };
            count(name, rows, w.finish()?);
        }
        Ok(out)
    }
}

/// Runs the job and publishes `<out>/as_of=DATE/` (a shard: its result, for `commit`).
///
/// The extract is split into buckets of dealers (`route`), and each bucket is validated,
/// joined, decided and written on its own, two at a time on two cores: memory holds two
/// buckets, not the extract. `do_not_call`, which has no dealer, is read whole.
///
/// A shard's result is the night's datasets for its dealers, its quarantined rows (those of
/// the tables without a dealer in shard 0 only) and a manifest of its counts; the truncation
/// guard, `changes/`, `unsubscribe/` and the report wait for `commit`, which sees them all.
pub fn run(job: &Job, progress: &Progress) -> Result<Report> {
    let started_at = now();
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
    let mut dir = match job.shard {
        Some(shard) => write::RunDir::begin_shard(&job.out, job.as_of, shard)?,
        None => write::RunDir::begin(&job.out, job.as_of)?,
    };
    dir.set_metadata(&metadata(&job.pipeline, job.as_of));
    let shard = job.shard.unwrap_or(Shard::WHOLE);
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
    for (on, name) in [
        (job.pipeline.audiences, "audiences"),
        (job.pipeline.audiences_csv, "audiences_csv"),
    ] {
        if on {
            mkdir(&dir.tmp.join(name))?;
        }
    }

    // do_not_call and the registers name no dealer: read whole, for every bucket
    let (outside_sources, sources): (Vec<Source>, Vec<Source>) =
        sources.into_iter().partition(|s| !s.table.has_dealer());
    let buckets = route::buckets(&sources, job.pipeline.buckets, shard.count);
    let split = route::Split {
        shard,
        ..route::Split::all(buckets)
    };
    let routed = route::route(&sources, csv, split, &spill, progress, route::PIECE_BYTES)?;
    let (outside, mut inputs, mut outside_quarantine) =
        check_outside(&outside_sources, csv, &ctx, progress)?;
    if shard.index > 0 {
        // every shard reads them; one shard's result holds their bad rows
        outside_quarantine.clear();
    }
    let law = job.pipeline.law.at(job.as_of);
    progress.step(format!(
        "split {} into {buckets} buckets of dealers",
        plural(routed.len(), "table")
    ));
    lap("split");

    // a bucket too large to hold at once is split further, by customer record, into parts
    let limit = job.pipeline.bucket_rows;
    let mut parted: Vec<Vec<Routed>> = Vec::new();
    let mut units: Vec<Unit> = Vec::new();
    for b in 0..buckets {
        let rows: u64 = routed.iter().map(|r| r.rows[b]).sum();
        if rows <= limit {
            units.push(Unit {
                bucket: b,
                part: None,
                rows,
            });
            continue;
        }
        let parts = usize::try_from(rows.div_ceil(limit)).unwrap_or(usize::MAX);
        let set = route::resplit(&routed, b, parts, &spill)?;
        units.extend((0..parts).map(|p| Unit {
            bucket: b,
            part: Some((parted.len(), p)),
            rows: set.iter().map(|r| r.rows[p]).sum(),
        }));
        parted.push(set);
    }
    if !parted.is_empty() {
        progress.step(format!(
            "split {} of more than {limit} rows into parts by customer record",
            plural(parted.len(), "bucket")
        ));
    }
    lap("parts");

    let sink = Sink {
        dir: &dir,
        csv: (job.pipeline.audiences_csv && job.pipeline.mailing.csv_per_channel)
            .then(SharedCsv::default),
    };
    let bar = progress.count("buckets", units.len() as u64);
    let rows: Vec<u64> = units.iter().map(|u| u.rows).collect();
    let done = in_parallel(&rows, ROWS_AT_ONCE, |i| {
        let u = &units[i];
        let set = u.part.map_or(&routed, |(k, _)| &parted[k]);
        let r = bucket(u, set, &ctx, &job.pipeline, &outside, &law, &sink);
        bar.inc(1);
        r
    })?;
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&spill);
    let mut shared_csv = Outputs::new();
    if let Some(files) = sink.csv {
        let files = files
            .into_inner()
            .map_err(|_| Error::Internal("a CSV writer panicked".into()))?;
        for ((_, vehicles), (w, rows)) in files {
            let name = if vehicles {
                "audiences_csv_vehicles"
            } else {
                "audiences_csv"
            };
            let bytes = w.finish()?;
            add_written(
                &mut shared_csv,
                name,
                &Written {
                    path: name.into(),
                    rows,
                    files: 1,
                    bytes,
                },
            );
        }
    }

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
    quarantine_parts.extend(&outside_quarantine);
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
    let previous = changes::previous_run(&job.out, job.as_of);
    if job.shard.is_none() {
        guard::check(
            &inputs,
            previous.as_ref().map(|(d, p)| (*d, p.as_path())),
            &job.pipeline.shrink,
            &job.accept_shrink,
        )?;
    }
    let mut outputs = Outputs::new();
    let audiences = [
        job.pipeline.audiences.then_some("audiences"),
        job.pipeline.audiences_csv.then_some("audiences_csv"),
    ];
    for name in ["eligibility", "expiring", "retention"]
        .into_iter()
        .chain(audiences.into_iter().flatten())
    {
        outputs.insert(
            name,
            Written {
                path: name.into(),
                ..Written::default()
            },
        );
    }
    for b in &done {
        add_outputs(&mut outputs, &b.written);
    }
    add_outputs(&mut outputs, &shared_csv);
    let counts = merge_counts(done.iter().flat_map(|b| b.counts.iter().cloned()));
    progress.step(format!(
        "decided and wrote {} cells",
        outputs["eligibility"].rows
    ));
    lap("buckets");
    write::fail_point("eligibility_written");

    let since = if job.shard.is_some() {
        changes::Since {
            previous_as_of: None,
            note: "a shard's result: commit compares the night".into(),
        }
    } else {
        let since = compare(
            &dir,
            previous.as_ref(),
            &job.pipeline,
            &mut outputs,
            progress,
        )?;
        lap("changes");
        empty_datasets(&dir, &job.pipeline, &mut outputs)?;
        since
    };
    let quarantine = quarantine(quarantine_parts.into_iter())?;
    outputs.insert(
        "quarantine",
        dir.dataset("quarantine", &quarantine, write::PRIVATE)?,
    );
    lap("write");

    timings.insert("total", (progress.elapsed() * 1000.0).round() / 1000.0);
    let manifest = Manifest {
        tool: "eligibility",
        tool_version: VERSION,
        manifest_schema: MANIFEST_SCHEMA,
        as_of: job.as_of.to_string(),
        started_at,
        finished_at: now(),
        arguments: job.arguments.clone(),
        peak_memory_mib: crate::progress::peak_mib(),
        pipeline_file: absolute(&job.pipeline.path),
        pipeline_sha256: job.pipeline.sha256.clone(),
        reading: Reading {
            delimiter: (csv.delimiter as char).to_string(),
            encoding: csv.encoding.name(),
            date_format: csv.date_format.spec().to_string(),
        },
        inputs,
        outputs,
        changes: since,
        law: LawUsed::new(&job.pipeline.law, job.as_of),
        cells: counts,
        timings_s: timings,
        shard: job.shard,
    };
    if job.shard.is_none() {
        let page = report::html(
            &serde_json::to_value(&manifest).unwrap_or_default(),
            &report::history(&job.out, job.as_of),
        );
        let path = dir.tmp.join("report.html");
        std::fs::write(&path, page).map_err(|e| Error::Output { path, source: e })?;
    }
    write::fail_point("before_publish");
    let folder = dir.publish(&manifest)?;
    let folder = folder.canonicalize().unwrap_or(folder);
    progress.step(format!("published {}", folder.display()));
    Ok(Report { folder, manifest })
}

/// Writes a file of no rows into each dataset that has no file, so that it still reads as a
/// table, with its columns.
pub(crate) fn empty_datasets(
    dir: &write::RunDir,
    pipeline: &Pipeline,
    outputs: &mut Outputs,
) -> Result<()> {
    let by_slot = ["dealer_id", "category", "channel"];
    let mailing = Some(pipeline.mailing.mode);
    for (name, keys, schema, mode) in [
        (
            "eligibility",
            &by_slot[..1],
            cells::eligibility_schema(),
            None,
        ),
        ("expiring", &by_slot[..1], cells::expiring_schema(), None),
        ("audiences", &by_slot[..], audience::schema(), mailing),
    ] {
        if let Some(w) = outputs.get_mut(name).filter(|w| w.files == 0) {
            w.bytes += dir.empty_dataset(name, keys, &schema, mode)?;
            w.files += 1;
        }
    }
    Ok(())
}

/// Writes `changes/` against the `previous` published night (none: empty, and the manifest
/// says why) and, with audiences, `unsubscribe/` (and `unsubscribe_csv/`); each a dataset
/// that reads as a table even without rows. Returns what the manifest says about it.
pub(crate) fn compare(
    dir: &write::RunDir,
    previous: Option<&(NaiveDate, PathBuf)>,
    pipeline: &Pipeline,
    outputs: &mut Outputs,
    progress: &Progress,
) -> Result<changes::Since> {
    let mut note = "no earlier published run in the output folder: changes/ is empty".into();
    let mut changed = Written::default();
    if let Some((date, previous)) = previous {
        note = match changes::write(dir, previous)? {
            Ok(w) => {
                changed = w;
                format!("compared with the run of {date}")
            }
            Err(why) => {
                tracing::warn!(
                    "changes/ and unsubscribe/ are empty tonight: the previous night cannot be compared ({why})"
                );
                format!("not compared: {why}")
            }
        };
    }
    let since = changes::Since {
        previous_as_of: previous.map(|(d, _)| d.to_string()),
        note,
    };
    if changed.files == 0 {
        changed.bytes += dir.empty_dataset("changes", &["dealer_id"], &changes::schema(), None)?;
        changed.files = 1;
    }
    outputs.insert(
        "changes",
        Written {
            path: "changes".into(),
            ..changed
        },
    );
    progress.step(format!(
        "{} changed cells ({})",
        outputs["changes"].rows, since.note
    ));
    if pipeline.audiences {
        let mailing = &pipeline.mailing;
        let csv = pipeline.audiences_csv.then_some(write::CsvFormat {
            delimiter: mailing.delimiter,
            bom: mailing.bom,
            mode: Some(mailing.mode),
        });
        let (mut lost, csv_written) = match previous {
            Some((_, p)) => {
                unsubscribe::write(dir, p, csv, mailing.csv_per_channel, Some(mailing.mode))?
            }
            None => Default::default(),
        };
        progress.step(format!("{} cells to unsubscribe", lost.rows));
        if lost.files == 0 {
            let schema = unsubscribe::schema();
            lost.bytes +=
                dir.empty_dataset("unsubscribe", &["dealer_id"], &schema, Some(mailing.mode))?;
            lost.files = 1;
        }
        lost.path = "unsubscribe".into();
        outputs.insert("unsubscribe", lost);
        if csv.is_some() {
            let folder = dir.tmp.join("unsubscribe_csv");
            std::fs::create_dir_all(&folder).map_err(|e| Error::Output {
                path: folder,
                source: e,
            })?;
            outputs.insert(
                "unsubscribe_csv",
                Written {
                    path: "unsubscribe_csv".into(),
                    ..csv_written
                },
            );
        }
    }
    Ok(since)
}

/// The earliest published night in `out` after `date`.
pub fn next_published(out: &Path, date: NaiveDate) -> Option<NaiveDate> {
    changes::published(out)
        .into_iter()
        .map(|(d, _)| d)
        .find(|d| *d > date)
}

/// Re-computes `changes/` and `unsubscribe/` of the published night `date` in `out` against
/// the night now before it (after a backfill rewrote that one), and republishes the night
/// whole; its other files are hard links to the published ones (copies where links are not
/// possible), which no run ever changes in place.
pub fn refresh(
    pipeline: &Pipeline,
    out: &Path,
    date: NaiveDate,
    progress: &Progress,
) -> Result<()> {
    let night = out.join(format!("as_of={date}"));
    let read_err = |path: &Path, e: std::io::Error| Error::Output {
        path: path.to_path_buf(),
        source: e,
    };
    let manifest_path = night.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| read_err(&manifest_path, e))?;
    let mut manifest: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| read::unreadable(&manifest_path, None, format!("not a manifest: {e}")))?;
    if !manifest.is_object() || !manifest["outputs"].is_object() {
        return Err(read::unreadable(
            &manifest_path,
            None,
            "not a manifest: no outputs object".into(),
        ));
    }
    let mut dir = write::RunDir::begin(out, date)?;
    dir.set_metadata(&metadata(pipeline, date));
    let keep = |name: &str| {
        !matches!(
            name,
            "changes"
                | "unsubscribe"
                | "unsubscribe_csv"
                | "manifest.json"
                | "_SUCCESS"
                | "report.html"
        )
    };
    let mut stack: Vec<PathBuf> = std::fs::read_dir(&night)
        .map_err(|e| read_err(&night, e))?
        .flatten()
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    while let Some(from) = stack.pop() {
        let rel = from.strip_prefix(&night).unwrap_or(&from);
        let to = dir.tmp.join(rel);
        if from.is_dir() {
            std::fs::create_dir_all(&to).map_err(|e| read_err(&to, e))?;
            stack.extend(
                std::fs::read_dir(&from)
                    .map_err(|e| read_err(&from, e))?
                    .flatten()
                    .map(|e| e.path()),
            );
        } else if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).map_err(|e| read_err(&to, e))?;
        }
    }
    let mut outputs = Outputs::new();
    let previous = changes::previous_run(out, date);
    let since = compare(&dir, previous.as_ref(), pipeline, &mut outputs, progress)?;
    manifest["changes"] = serde_json::to_value(&since).unwrap_or_default();
    for (name, w) in &outputs {
        manifest["outputs"][*name] = serde_json::to_value(w).unwrap_or_default();
    }
    let history = report::history(out, date);
    let path = dir.tmp.join("report.html");
    std::fs::write(&path, report::html(&manifest, &history)).map_err(|e| read_err(&path, e))?;
    let folder = dir.publish(&manifest)?;
    progress.step(format!("refreshed changes/ of {}", folder.display()));
    Ok(())
}

/// The key-value metadata of every Parquet file of a run.
pub(crate) fn metadata(pipeline: &Pipeline, as_of: NaiveDate) -> Vec<(&'static str, String)> {
    vec![
        ("eligibility.tool_version", VERSION.to_string()),
        ("eligibility.commit", COMMIT.to_string()),
        ("eligibility.contract_sha256", contract_sha256()),
        ("eligibility.as_of", as_of.to_string()),
        ("eligibility.pipeline_sha256", pipeline.sha256.clone()),
        ("eligibility.law_version", pipeline.law.version.clone()),
    ]
}

/// The manifest's JSON Schema, a path in the tool's repository.
pub const MANIFEST_SCHEMA: &str = "schemas/manifest.schema.json";

/// The time now, RFC 3339 in UTC, to the second.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
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

/// One bucket of dealers to process, or one part of a bucket split by customer record.
struct Unit {
    /// The bucket of the routed extract.
    bucket: usize,
    /// For a part: its bucket's index among the split buckets, and which part it is.
    part: Option<(usize, usize)>,
    rows: u64,
}

impl Unit {
    /// The bucket's (or part's) files in its set of routed tables.
    fn files(&self) -> usize {
        self.part.map_or(self.bucket, |(_, p)| p)
    }
}

/// One row group's frames: eligibility, expiring, audiences per slot; and its cell counts.
type Group = (
    DataFrame,
    DataFrame,
    Vec<audience::Audience>,
    Vec<CellCount>,
);

/// Validates, joins, decides and writes the dealers of a bucket: eligibility per dealer (in
/// `part-<p>.parquet` for part p of a split bucket, else `part-0.parquet`), retention as
/// `retention/part-<b>.parquet` (`part-<b>-<p>.parquet`); quarantined rows are returned.
fn bucket(
    unit: &Unit,
    routed: &[Routed],
    ctx: &Context,
    pipeline: &Pipeline,
    outside: &Outside,
    law: &LawAt,
    sink: &Sink,
) -> Result<Bucket> {
    let dir = sink.dir;
    let (policy, expiring_days) = (&pipeline.policy, pipeline.expiring_days);
    let Joined {
        stats,
        quarantine,
        records: recs,
        ..
    } = check_and_join(
        routed.iter().map(|r| {
            let raw = route::load(r, unit.files());
            route::remove(r, unit.files());
            raw
        }),
        ctx,
        outside,
        false,
    )?;
    let quarantine = quarantine.into_iter().map(|(_, q)| q).collect();

    let order = cells::sorted_records(&recs);
    let group = |chunk: &[u32]| -> Result<Group> {
        let cells = cells::decide_cells(&recs, chunk, policy, law);
        let (df, counts) = cells::eligibility(&recs, &cells, &pipeline.law)?;
        let soon = cells::expiring(&df, ctx.as_of, expiring_days)?;
        let audiences = if pipeline.audiences {
            audience::audiences(
                &recs,
                &cells,
                &pipeline.law,
                &pipeline.mailing.per_vehicle,
                pipeline.audiences_csv,
            )?
        } else {
            Vec::new()
        };
        Ok((df, soon, audiences, counts))
    };
    // a dealer's cells are decided and written a row group at a time; a large dealer's next
    // groups are decided while the last ones are written
    let per_dealer: Vec<(Outputs, Vec<CellCount>)> = cells::dealer_runs(&recs, &order)
        .into_par_iter()
        .map(|(dealer, range)| {
            let part = unit.part.map_or(0, |(_, p)| p);
            let mut files = DealerFiles::new(sink, &dealer, part, pipeline);
            let mut counts = Vec::new();
            let mut write = |groups: Vec<Group>| -> Result<()> {
                for (mut df, mut soon, audiences, c) in groups {
                    counts.extend(c);
                    files.write("eligibility", None, &mut df)?;
                    files.write("expiring", None, &mut soon)?;
                    for a in audiences {
                        files.audience(a)?;
                    }
                }
                Ok(())
            };
            let chunks: Vec<&[u32]> = order[range].chunks(cells::RECORDS_PER_GROUP).collect();
            let mut decided: Vec<Group> = Vec::new();
            for batch in chunks.chunks(rayon::current_num_threads()) {
                let (written, next) = rayon::join(
                    || write(std::mem::take(&mut decided)),
                    || batch.par_iter().map(|c| group(c)).collect::<Result<_>>(),
                );
                written?;
                decided = next?;
            }
            write(decided)?;
            Ok((files.finish()?, merge_counts(counts.into_iter())))
        })
        .collect::<Result<_>>()?;
    let mut retention = cells::retention(&recs, &order, policy, ctx.as_of)?;
    let name = match unit.part {
        None => format!("part-{}.parquet", unit.bucket),
        Some((_, p)) => format!("part-{}-{p}.parquet", unit.bucket),
    };
    let bytes = dir.part_file("retention", &name, &mut retention)?;
    let mut written = Outputs::new();
    for (w, _) in &per_dealer {
        add_outputs(&mut written, w);
    }
    written.insert(
        "retention",
        Written {
            path: "retention".into(),
            rows: retention.height() as u64,
            files: 1,
            bytes,
        },
    );
    Ok(Bucket {
        stats,
        quarantine,
        written,
        counts: merge_counts(per_dealer.into_iter().flat_map(|(_, c)| c)),
    })
}

/// Reads and checks the tables that name no dealer (do_not_call, the registers), each whole:
/// what every dealer's decisions look up, the inputs' counts, the quarantined rows.
pub fn check_outside(
    sources: &[Source],
    csv: &crate::pipeline::CsvOptions,
    ctx: &Context,
    progress: &Progress,
) -> Result<(Outside, Vec<Input>, Vec<DataFrame>)> {
    let mut inputs = Vec::new();
    let mut valid = Vec::new();
    let mut quarantine = Vec::new();
    for s in sources {
        let raw = read::read(s, csv, progress)?;
        let c = validate::check(&raw, ctx, None, records::columns_used(s.table))?;
        inputs.push(input(s, raw.sha256, raw.bytes, c.stats));
        valid.push((s.table, c.valid));
        quarantine.push(c.quarantine);
    }
    let outside = Outside::new(&valid.iter().map(|(t, v)| (*t, v)).collect::<Vec<_>>())?;
    Ok((outside, inputs, quarantine))
}

/// Some dealers' tables, validated and joined.
pub struct Joined {
    pub stats: BTreeMap<Table, TableStats>,
    /// Quarantined rows per table, in the order read.
    pub quarantine: Vec<(Table, DataFrame)>,
    pub valid: BTreeMap<Table, DataFrame>,
    pub records: Records,
}

/// Validates the tables of some dealers (customers first; the tables without a dealer are
/// checked apart, into `outside`) and joins them: the one path from rows to records that
/// `run` (per bucket) and `explain` (per dealer) share. With `keep_all` the valid rows keep
/// every contract column, else only what the join reads.
pub fn check_and_join(
    tables: impl Iterator<Item = Result<RawTable>>,
    ctx: &Context,
    outside: &Outside,
    keep_all: bool,
) -> Result<Joined> {
    let mut stats = BTreeMap::new();
    let mut quarantine = Vec::new();
    let mut valid: BTreeMap<Table, DataFrame> = BTreeMap::new();
    let mut index = CustomerIndex::default();
    for raw in tables {
        let raw = raw?;
        let table = raw.source.table;
        let keep = if keep_all {
            None
        } else {
            records::columns_used(table)
        };
        let c = validate::check(&raw, ctx, Some(&index), keep)?;
        drop(raw);
        if table == Table::Customers {
            index = CustomerIndex::new(&c.valid)?;
        }
        stats.insert(table, c.stats);
        quarantine.push((table, c.quarantine));
        valid.insert(table, c.valid);
    }
    drop(index);
    let empty = DataFrame::empty();
    let records = records::build(&Valid {
        customers: valid.get(&Table::Customers).unwrap_or(&empty),
        invoices: valid.get(&Table::Invoices).unwrap_or(&empty),
        vehicles: valid.get(&Table::Vehicles),
        preferences: valid.get(&Table::Preferences),
        requests: valid.get(&Table::Requests),
        outside,
    })?;
    Ok(Joined {
        stats,
        quarantine,
        valid,
        records,
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
            "{:<18} {:>10} {:>10} {:>12}  quarantined by reason",
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
                "{:<18} {:>10} {:>10} {:>12}  {}",
                i.table,
                i.stats.rows_read,
                i.stats.rows_valid,
                i.stats.quarantined_total(),
                reasons.join(", ")
            );
        }
        let _ = write!(s, "\n{:<35}", "eligible cells (of all)");
        for c in Channel::ALL {
            let _ = write!(s, " {:>16}", c.name());
        }
        s.push('\n');
        for cat in Category::ALL.map(Category::name) {
            let _ = write!(s, "{cat:<35}");
            for ch in Channel::ALL.map(Channel::name) {
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
