//! `changes/`: the cells whose `eligible` or `reason` differ from the previous published run
//! in the same output root (the latest earlier as-of date with a `_SUCCESS`), and the cells
//! that appeared or disappeared: what a platform uses to unsubscribe people the same day.
//!
//! Both runs' eligibility files are sorted by customer_id, category, channel within a dealer
//! (each file of a dealer whose bucket was split by customer record), so each dealer is
//! compared by merging its files a row group at a time: memory holds a row group per file,
//! not a dealer.

use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::read;
use crate::write::{self, RunDir, Written};

/// What the manifest says about `changes/`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Since {
    /// The as-of date of the run compared with; null when there is none.
    pub previous_as_of: Option<String>,
    pub note: String,
}

/// The published run folders in `root` (`as_of=DATE` with `_SUCCESS`), oldest first.
pub fn published(root: &Path) -> Vec<(NaiveDate, PathBuf)> {
    let mut nights: Vec<(NaiveDate, PathBuf)> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let date = NaiveDate::parse_from_str(name.strip_prefix("as_of=")?, "%Y-%m-%d").ok()?;
            e.path()
                .join("_SUCCESS")
                .is_file()
                .then(|| (date, e.path()))
        })
        .collect();
    nights.sort();
    nights
}

/// The latest published run folder in `root` of an as-of date before `as_of`.
pub fn previous_run(root: &Path, as_of: NaiveDate) -> Option<(NaiveDate, PathBuf)> {
    published(root).into_iter().rev().find(|(d, _)| *d < as_of)
}

/// The columns of `changes/`.
pub const COLUMNS: [&str; 8] = [
    "customer_id",
    "category",
    "channel",
    "change",
    "old_eligible",
    "new_eligible",
    "old_reason",
    "new_reason",
];

/// The columns of `changes/` (`COLUMNS` with their types), for an empty dataset.
pub fn schema() -> Schema {
    COLUMNS
        .iter()
        .map(|c| {
            let t = match *c {
                "old_eligible" | "new_eligible" => DataType::Boolean,
                _ => DataType::String,
            };
            Field::new((*c).into(), t)
        })
        .collect()
}

/// Writes `changes/` of the run being written in `dir` against the published run folder
/// `previous`, per dealer. `Ok(Err(why))` when the previous run cannot be compared (files
/// not in the order this tool writes them, null keys, unreadable): then nothing is written
/// and the manifest says why.
#[allow(clippy::type_complexity)]
pub fn write(dir: &RunDir, previous: &Path) -> Result<std::result::Result<Written, String>> {
    let (old_root, new_root) = (previous.join("eligibility"), dir.tmp.join("eligibility"));
    let dealers: BTreeSet<String> = [&old_root, &new_root]
        .iter()
        .flat_map(|d| partitions(d))
        .collect();
    let per_dealer: Vec<std::result::Result<(u64, u64), String>> = dealers
        .par_iter()
        .map(|folder| {
            match dealer(dir, folder, &old_root.join(folder), &new_root.join(folder)) {
                // a previous run that cannot be read is not compared; tonight's run goes on
                Err(e) if !matches!(e, crate::error::Error::Output { .. }) => {
                    Ok(Err(e.to_string()))
                }
                r => r,
            }
        })
        .collect::<Result<_>>()?;
    let mut total = Written {
        path: "changes".into(),
        ..Written::default()
    };
    for d in per_dealer {
        let (rows, bytes) = match d {
            Ok(x) => x,
            Err(why) => {
                let _ = fs::remove_dir_all(dir.tmp.join("changes"));
                return Ok(Err(format!("{}: {why}", previous.display())));
            }
        };
        total.rows += rows;
        total.bytes += bytes;
        total.files += u64::from(bytes > 0);
    }
    Ok(Ok(total))
}

/// The `dealer_id=...` folders of a dataset.
fn partitions(dataset: &Path) -> Vec<String> {
    fs::read_dir(dataset)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("dealer_id="))
                .collect()
        })
        .unwrap_or_default()
}

/// Rows of changes written per row group.
const BATCH: usize = 256 * 1024;

/// Compares one dealer's cells; returns (rows, bytes) written, or why the files cannot be
/// compared.
fn dealer(
    dir: &RunDir,
    folder: &str,
    old: &Path,
    new: &Path,
) -> Result<std::result::Result<(u64, u64), String>> {
    let target = dir.tmp.join("changes").join(folder);
    let (mut a, mut b) = (Merged::open(old)?, Merged::open(new)?);
    let mut out = Batch::default();
    let mut writer: Option<write::PartWriter> = None;
    let mut rows = 0u64;
    loop {
        a.fill()?;
        b.fill()?;
        if let Some(why) = a.disorder().or_else(|| b.disorder()) {
            return Ok(Err(why));
        }
        let (old, new) = match (a.row(), b.row()) {
            (None, None) => break,
            (o, None) => (o, None),
            (None, n) => (None, n),
            (Some(o), Some(n)) => match o.key().cmp(&n.key()) {
                Ordering::Less => (Some(o), None),
                Ordering::Greater => (None, Some(n)),
                Ordering::Equal => (Some(o), Some(n)),
            },
        };
        let (step_a, step_b) = (old.is_some(), new.is_some());
        out.push(old, new);
        if step_a {
            a.advance();
        }
        if step_b {
            b.advance();
        }
        if out.len() >= BATCH {
            rows += out.flush(&target, &mut writer, dir.metadata())?;
        }
    }
    rows += out.flush(&target, &mut writer, dir.metadata())?;
    let bytes = writer.map(write::PartWriter::finish).transpose()?;
    Ok(Ok((rows, bytes.unwrap_or(0))))
}

/// One cell of an eligibility file.
#[derive(Clone, Copy)]
struct Row<'a> {
    customer: &'a str,
    category: &'a str,
    channel: &'a str,
    eligible: Option<bool>,
    reason: Option<&'a str>,
}

impl<'a> Row<'a> {
    fn key(&self) -> (&'a str, &'a str, &'a str) {
        (self.customer, self.category, self.channel)
    }
}

/// The change rows of one dealer, gathered until written.
#[derive(Default)]
struct Batch {
    customer: Vec<String>,
    category: Vec<String>,
    channel: Vec<String>,
    change: Vec<&'static str>,
    old_eligible: Vec<Option<bool>>,
    new_eligible: Vec<Option<bool>>,
    old_reason: Vec<Option<String>>,
    new_reason: Vec<Option<String>>,
}

impl Batch {
    fn len(&self) -> usize {
        self.change.len()
    }

    /// A cell as it was and as it is (`None`: it did not exist); nothing when both exist
    /// with the same `eligible` and `reason`.
    fn push(&mut self, old: Option<Row>, new: Option<Row>) {
        let (key, change) = match (&old, &new) {
            (Some(o), Some(n)) if (o.eligible, o.reason) == (n.eligible, n.reason) => return,
            (Some(o), Some(_)) => (o, "changed"),
            (Some(o), None) => (o, "disappeared"),
            (None, Some(n)) => (n, "appeared"),
            (None, None) => return,
        };
        self.customer.push(key.customer.to_string());
        self.category.push(key.category.to_string());
        self.channel.push(key.channel.to_string());
        self.change.push(change);
        self.old_eligible
            .push(old.as_ref().and_then(|o| o.eligible));
        self.old_reason
            .push(old.as_ref().and_then(|o| o.reason).map(str::to_string));
        self.new_eligible
            .push(new.as_ref().and_then(|n| n.eligible));
        self.new_reason
            .push(new.as_ref().and_then(|n| n.reason).map(str::to_string));
    }

    /// Writes the rows gathered as a row group of `<folder>/part-0.parquet`.
    fn flush(
        &mut self,
        folder: &Path,
        writer: &mut Option<write::PartWriter>,
        meta: &[write::KeyValue],
    ) -> Result<u64> {
        let n = self.len();
        if n == 0 {
            return Ok(0);
        }
        let b = std::mem::take(self);
        let text = |name: &str, v: Vec<String>| Column::new(name.into(), v);
        let mut df = DataFrame::new(
            n,
            vec![
                text("customer_id", b.customer),
                text("category", b.category),
                text("channel", b.channel),
                Column::new("change".into(), b.change),
                Column::new("old_eligible".into(), b.old_eligible),
                Column::new("new_eligible".into(), b.new_eligible),
                Column::new("old_reason".into(), b.old_reason),
                Column::new("new_reason".into(), b.new_reason),
            ],
        )?;
        if writer.is_none() {
            fs::create_dir_all(folder).map_err(|e| write::output_error(folder, &e))?;
            let path = folder.join("part-0.parquet");
            *writer = Some(
                write::PartWriter::create(path, df.schema(), None, false)?.with_metadata(meta),
            );
        }
        if let Some(w) = writer {
            w.write(&mut df)?;
        }
        Ok(n as u64)
    }
}

/// The cells of one dealer's eligibility files, a row group at a time.
struct Cursor {
    /// (file, row offset, rows) of the row groups not yet read
    groups: VecDeque<(PathBuf, usize, usize)>,
    frame: Option<Frame>,
    at: usize,
    /// the key of the last row of the row group before, to check the order across groups
    last: Option<(String, String, String)>,
    /// set when the rows are not in key order
    disorder: Option<String>,
}

/// The cells of a dealer folder's files (none when it does not exist), merged in key order:
/// a dealer whose bucket was split by customer record has one sorted file per part.
struct Merged(Vec<Cursor>);

impl Merged {
    fn open(folder: &Path) -> Result<Merged> {
        let mut files: Vec<PathBuf> = fs::read_dir(folder)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "parquet"));
        files.sort();
        Ok(Merged(
            files
                .iter()
                .map(|f| Cursor::open(f))
                .collect::<Result<_>>()?,
        ))
    }

    fn fill(&mut self) -> Result<()> {
        self.0.iter_mut().try_for_each(Cursor::fill)
    }

    /// Why the files are not in key order, once found.
    fn disorder(&mut self) -> Option<String> {
        self.0.iter_mut().find_map(|c| c.disorder.take())
    }

    /// The file whose current row sorts first.
    fn first(&self) -> Option<usize> {
        (0..self.0.len())
            .filter_map(|i| Some((self.0[i].row()?.key(), i)))
            .min()
            .map(|(_, i)| i)
    }

    fn row(&self) -> Option<Row<'_>> {
        self.0[self.first()?].row()
    }

    fn advance(&mut self) {
        if let Some(i) = self.first() {
            self.0[i].advance();
        }
    }
}

/// One row group's columns.
struct Frame {
    customer: StringChunked,
    category: StringChunked,
    channel: StringChunked,
    eligible: BooleanChunked,
    reason: StringChunked,
}

const KEY: [&str; 5] = ["customer_id", "category", "channel", "eligible", "reason"];

impl Cursor {
    /// One eligibility file.
    fn open(f: &Path) -> Result<Cursor> {
        let mut groups = VecDeque::new();
        let mut reader = ParquetReader::new(read::open(f)?);
        let meta = reader
            .get_metadata()
            .map_err(|e| read::unreadable(f, None, e.to_string()))?;
        let mut offset = 0;
        for g in &meta.row_groups {
            groups.push_back((f.to_path_buf(), offset, g.num_rows()));
            offset += g.num_rows();
        }
        Ok(Cursor {
            groups,
            frame: None,
            at: 0,
            last: None,
            disorder: None,
        })
    }

    /// Reads the next row group when the current one is used up.
    fn fill(&mut self) -> Result<()> {
        while self
            .frame
            .as_ref()
            .is_none_or(|f| self.at >= f.customer.len())
        {
            let Some((path, offset, n)) = self.groups.pop_front() else {
                self.frame = None;
                return Ok(());
            };
            let unreadable = |e: PolarsError| read::unreadable(&path, None, e.to_string());
            let df = ParquetReader::new(read::open(&path)?)
                .with_columns(Some(KEY.iter().map(|c| (*c).to_string()).collect()))
                .with_slice(Some((offset, n)))
                .finish()
                .map_err(unreadable)?;
            let text = |c: &str| -> Result<StringChunked> {
                Ok(df
                    .column(c)
                    .map_err(unreadable)?
                    .str()
                    .map_err(unreadable)?
                    .rechunk()
                    .into_owned())
            };
            self.frame = Some(Frame {
                customer: text("customer_id")?,
                category: text("category")?,
                channel: text("channel")?,
                eligible: df
                    .column("eligible")
                    .map_err(unreadable)?
                    .bool()
                    .map_err(unreadable)?
                    .rechunk()
                    .into_owned(),
                reason: text("reason")?,
            });
            self.at = 0;
            let f = self.frame.as_ref().expect("just read");
            if f.customer.null_count() + f.category.null_count() + f.channel.null_count() > 0 {
                self.disorder = Some(format!(
                    "{}: a customer_id, category or channel is null",
                    path.display()
                ));
            }
            if let (Some(last), Some(first)) = (&self.last, self.row()) {
                let last = (last.0.as_str(), last.1.as_str(), last.2.as_str());
                if last > first.key() {
                    self.disorder = Some(disorder(first.customer));
                }
            }
        }
        Ok(())
    }

    fn row(&self) -> Option<Row<'_>> {
        let f = self.frame.as_ref()?;
        Some(Row {
            customer: f.customer.get(self.at)?,
            category: f.category.get(self.at)?,
            channel: f.channel.get(self.at)?,
            eligible: f.eligible.get(self.at),
            reason: f.reason.get(self.at),
        })
    }

    /// Moves past the current row, checking that the next one does not sort before it.
    fn advance(&mut self) {
        let Some(f) = self.frame.as_ref() else { return };
        let at = self.at;
        self.at += 1;
        let key = |i: usize| (f.customer.get(i), f.category.get(i), f.channel.get(i));
        if at + 1 < f.customer.len() {
            if key(at + 1) < key(at) {
                self.disorder = Some(disorder(f.customer.get(at + 1).unwrap_or_default()));
            }
        } else if let (Some(a), Some(b), Some(c)) = key(at) {
            self.last = Some((a.to_string(), b.to_string(), c.to_string()));
        }
    }
}

fn disorder(customer: &str) -> String {
    format!(
        "its eligibility files are not sorted by customer_id, category, channel (at customer \
         {customer}); was it written by another tool?"
    )
}
