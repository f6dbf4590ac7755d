//! Splitting the extract into buckets of dealers, so that a run holds one bucket in memory at a
//! time instead of the whole extract.
//!
//! Every key of the contract is scoped by `dealer_id`, so each check and join needs only the
//! rows of one dealer (`do_not_call` and the registers, which have no dealer, are read whole). `route` reads each
//! table once, in pieces on all cores (CSV cut at line starts, Parquet by row groups), hashes
//! each row's trimmed `dealer_id` to a bucket (rows without one go to bucket 0) and appends the
//! row to that piece's file of the bucket, keeping its line number. `load` reads one bucket's
//! files back, piece after piece, as the `RawTable` that `read` would have made of those rows,
//! in file order. A CSV row is written with its line number and its values decoded to UTF-8
//! and trimmed, as their lengths and then their bytes (`bucket_row`), so that `load` copies
//! them instead of parsing CSV again; Parquet rows are written as the raw frame `read` makes of them, types
//! kept. A bucket too large to hold at once is split further by customer record (`resplit`).
//!
//! Bucket files are owner-only (they hold raw rows) and live in the run's hidden temporary
//! folder, which is removed when the run ends.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::pipeline::{CsvOptions, MAX_BUCKETS};
use crate::progress::Progress;
use crate::read::{self, file_col, file_name, Format, RawTable, Source};
use crate::values::clean;
use crate::write;

/// Input per bucket that `buckets` aims for, counting a Parquet byte as five CSV bytes.
const BUCKET_BYTES: u64 = 64 << 20;

/// One table split into buckets.
pub struct Routed {
    pub source: Source,
    pub header: Vec<String>,
    pub positions: Vec<Option<usize>>,
    pub sha256: String,
    pub bytes: u64,
    /// Per piece of the file, in file order: each bucket's file, `None` when no row went to it.
    pub pieces: Vec<Vec<Option<PathBuf>>>,
    /// Per piece: the lines before it (CSV pieces number their rows from their own start).
    pub line_bases: Vec<u64>,
    /// Rows in each bucket.
    pub rows: Vec<u64>,
}

/// How many buckets to use for these input files: `fixed` when given, else about one per
/// `BUCKET_BYTES` of input that one of `shards` shards keeps.
pub fn buckets(sources: &[Source], fixed: Option<usize>, shards: usize) -> usize {
    if let Some(k) = fixed {
        return k;
    }
    let weight: u64 = sources
        .iter()
        .map(|s| {
            let bytes = std::fs::metadata(&s.path).map_or(0, |m| m.len());
            match s.format {
                Format::Csv => bytes,
                Format::Parquet => bytes * 5,
            }
        })
        .sum();
    usize::try_from(weight.div_ceil(BUCKET_BYTES * shards as u64))
        .unwrap_or(MAX_BUCKETS)
        .clamp(1, MAX_BUCKETS)
}

/// Which dealers a run decides: those of shard `index` of `count` (`run --shard I/N`), or
/// all of them (`Shard::WHOLE`).
///
/// A dealer's shard is the FNV-1a 64-bit hash of its trimmed `dealer_id`'s UTF-8 bytes
/// modulo `count` (rows without a dealer go to shard 0): the same on every machine and in
/// every version, so a shard retried elsewhere decides the same dealers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// How a route splits the rows: the dealers of `shard` into `count` buckets, keeping every
/// bucket or only bucket `keep` (the others' rows are read and dropped: `explain` of one
/// dealer).
#[derive(Clone, Copy, Debug)]
pub struct Split {
    pub count: usize,
    pub keep: Option<usize>,
    pub shard: Shard,
}

impl Split {
    pub fn all(count: usize) -> Split {
        Split {
            count,
            keep: None,
            shard: Shard::WHOLE,
        }
    }

    /// The bucket of a trimmed dealer id (rows without one: bucket 0 of shard 0), or `None`
    /// when this split drops its rows. Within a shard, the bucket is the hash divided by the
    /// shards, modulo the buckets: independent of the shard.
    pub fn bucket(self, dealer: Option<&str>) -> Option<usize> {
        let h = dealer.map_or(0, |d| fnv(FNV_START, d.as_bytes()));
        let shards = self.shard.count as u64;
        if h % shards != self.shard.index as u64 {
            return None;
        }
        let b = ((h / shards) % self.count as u64) as usize;
        self.keep.is_none_or(|k| k == b).then_some(b)
    }
}

/// FNV-1a's starting value.
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a of `bytes` from hash `h`: fast on short ids, and the same in every run.
fn fnv(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Input per piece when a file is split on several cores, counting a Parquet byte as five
/// CSV bytes.
pub const PIECE_BYTES: u64 = 128 << 20;

/// Where one piece of a file starts and ends.
#[derive(Clone)]
enum Span {
    /// CSV bytes from `start`, a line start, up to the first record that starts at or after
    /// `end`.
    Csv { start: u64, end: u64 },
    /// Parquet row groups, the first starting on row `first_row` (0-based) of the file.
    Parquet {
        groups: std::ops::Range<usize>,
        first_row: usize,
    },
}

/// A file to split: its header and its pieces.
struct Plan {
    source: Source,
    header: Vec<String>,
    positions: Vec<Option<usize>>,
    dealer: usize,
    /// The file's size in bytes.
    size: u64,
    spans: Vec<Span>,
    metadata: Option<polars::io::parquet::metadata::FileMetadataRef>,
    bar: ProgressBar,
}

/// What routing one piece gave.
struct Piece {
    files: Vec<Option<PathBuf>>,
    rows: Vec<u64>,
    /// CSV: the offset and line (counted from the piece's start) of the piece's first record
    /// and of the first record after it (`None`: the end of the file).
    first: Option<(u64, u64)>,
    next: Option<(u64, u64)>,
}

/// What one task of `route` gave: a file's hash and size, or a piece routed.
enum Done {
    Hash(String, u64),
    Piece(Result<Piece>),
}

/// Reads every file of `sources` once and writes its rows to one file per bucket (and piece)
/// under `dir`. Files larger than `piece_bytes` are split into pieces routed on all cores:
/// Parquet by row groups; CSV at line starts, each piece numbering lines from its start and
/// reading on to the first record at or after its end, which is the next piece's first
/// record, so that the pieces' line counts add up. A CSV cut that falls inside a quoted field
/// shows as pieces that do not meet (the record before the cut runs past it), and a piece that
/// fails may have failed on a false start: either way the file is routed again whole.
pub fn route(
    sources: &[Source],
    csv: &CsvOptions,
    split: Split,
    dir: &Path,
    progress: &Progress,
    piece_bytes: u64,
) -> Result<Vec<Routed>> {
    let plans: Vec<Plan> = sources
        .par_iter()
        .map(|s| plan(s, csv, piece_bytes, progress))
        .collect::<Result<_>>()?;
    // every piece of every file, and each file's hash, weighed by bytes
    let mut tasks: Vec<(usize, Option<usize>)> = Vec::new();
    let mut weights = Vec::new();
    for (f, p) in plans.iter().enumerate() {
        tasks.push((f, None));
        weights.push(p.size / 8);
        for k in 0..p.spans.len() {
            tasks.push((f, Some(k)));
            weights.push(p.size / p.spans.len() as u64);
        }
    }
    let done = crate::parallel::in_parallel(&weights, u64::MAX, |t| {
        let (f, piece) = tasks[t];
        let p = &plans[f];
        Ok(match piece {
            None => {
                let (sha256, bytes) = read::hash_file(&p.source.path)?;
                Done::Hash(sha256, bytes)
            }
            Some(k) => {
                // a CSV piece may fail on a false start (the file is then routed whole); a
                // Parquet piece's error is the file's
                let piece = route_piece(p, k, csv, split, dir);
                Done::Piece(match &p.spans[k] {
                    Span::Csv { .. } => piece,
                    Span::Parquet { .. } => Ok(piece?),
                })
            }
        })
    })?;
    let mut hashes = vec![(String::new(), 0); plans.len()];
    let mut pieces: Vec<Vec<Result<Piece>>> = plans.iter().map(|_| Vec::new()).collect();
    for ((f, _), d) in tasks.iter().zip(done) {
        match d {
            Done::Hash(sha256, bytes) => hashes[*f] = (sha256, bytes),
            Done::Piece(r) => pieces[*f].push(r),
        }
    }
    plans
        .into_iter()
        .zip(pieces)
        .zip(hashes)
        .map(|((plan, pieces), (sha256, bytes))| {
            let meet = pieces.iter().all(Result::is_ok)
                && pieces.windows(2).all(|w| match (&w[0], &w[1]) {
                    (Ok(a), Ok(b)) => a.next.map(|n| n.0) == b.first.map(|f| f.0),
                    _ => false,
                });
            let pieces = if meet {
                pieces.into_iter().collect::<Result<Vec<_>>>()?
            } else {
                for p in pieces.iter().flatten() {
                    for f in p.files.iter().flatten() {
                        let _ = std::fs::remove_file(f);
                    }
                }
                // under a piece number of its own: a failed piece leaves its files behind
                plan.bar.set_position(0);
                let whole = route_csv(&plan, plan.spans.len(), (0, u64::MAX), csv, split, dir)?;
                return Ok(routed(plan, vec![whole], sha256, bytes));
            };
            Ok(routed(plan, pieces, sha256, bytes))
        })
        .collect()
}

fn routed(plan: Plan, pieces: Vec<Piece>, sha256: String, bytes: u64) -> Routed {
    plan.bar.finish_and_clear();
    let mut rows = vec![0; pieces.first().map_or(0, |p| p.rows.len())];
    for p in &pieces {
        for (t, n) in rows.iter_mut().zip(&p.rows) {
            *t += n;
        }
    }
    // piece k's lines end where the record at its end starts, which is piece k+1's first
    let mut line_bases = vec![0];
    for w in pieces.windows(2) {
        let lines = match (w[0].next, w[1].first) {
            (Some((_, at)), Some((_, first))) => at - first,
            _ => 0,
        };
        line_bases.push(line_bases[line_bases.len() - 1] + lines);
    }
    Routed {
        source: plan.source,
        header: plan.header,
        positions: plan.positions,
        sha256,
        bytes,
        pieces: pieces.into_iter().map(|p| p.files).collect(),
        line_bases,
        rows,
    }
}

/// Reads a file's header and cuts it into pieces of about `piece_bytes`.
fn plan(source: &Source, csv: &CsvOptions, piece_bytes: u64, progress: &Progress) -> Result<Plan> {
    let path = &source.path;
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let unreadable = |e: PolarsError| read::unreadable(path, None, e.to_string());
    let (header, positions, metadata, spans) = match source.format {
        Format::Csv => {
            let (header, positions) = read::header(source, csv)?;
            (header, positions, None, csv_spans(path, size, piece_bytes)?)
        }
        Format::Parquet => {
            let mut reader = ParquetReader::new(read::open(path)?);
            let (metadata, header) = read::guarded(path, || {
                let metadata = reader.get_metadata().map_err(unreadable)?.clone();
                let header: Vec<String> = reader
                    .schema()
                    .map_err(unreadable)?
                    .iter_names()
                    .map(PlSmallStr::to_string)
                    .collect();
                Ok((metadata, header))
            })?;
            let mut rows = Vec::new();
            for group in &metadata.row_groups {
                rows.push(group.num_rows());
            }
            let n = (size * 5).div_ceil(piece_bytes).max(1);
            let spans = parquet_spans(&rows, usize::try_from(n).unwrap_or(usize::MAX));
            let positions = read::positions(source, &header)?;
            (header, positions, Some(metadata), spans)
        }
    };
    let dealer = dealer_position(source, &positions)?;
    let total = if source.format == Format::Csv {
        size
    } else {
        0
    };
    Ok(Plan {
        source: source.clone(),
        header,
        positions,
        dealer,
        size,
        spans,
        metadata,
        bar: progress.bytes(&format!("splitting {}", file_name(path)), total),
    })
}

/// A CSV file of `size` bytes cut at line starts into pieces of about `piece_bytes`.
fn csv_spans(path: &Path, size: u64, piece_bytes: u64) -> Result<Vec<Span>> {
    use std::os::unix::fs::FileExt;
    let file = read::open(path)?;
    let n = size.div_ceil(piece_bytes.max(1)).max(1);
    let mut cuts = vec![0];
    let mut buf = vec![0; 1 << 16];
    for k in 1..n {
        // the first line start after the k-th n-th of the file
        let mut at = size / n * k;
        while at < size {
            let got = file.read_at(&mut buf, at).map_err(|e| Error::Io {
                path: path.to_path_buf(),
                source: e,
            })?;
            if got == 0 {
                break;
            }
            if let Some(i) = memchr::memchr(b'\n', &buf[..got]) {
                at += i as u64 + 1;
                if at < size && at > cuts[cuts.len() - 1] {
                    cuts.push(at);
                }
                break;
            }
            at += got as u64;
        }
    }
    cuts.push(size);
    Ok(cuts
        .windows(2)
        .map(|w| Span::Csv {
            start: w[0],
            end: w[1],
        })
        .collect())
}

/// Row groups of `rows` rows each, in at most `n` pieces of about equal rows.
fn parquet_spans(rows: &[usize], n: usize) -> Vec<Span> {
    let total: usize = rows.iter().sum();
    let per = total.div_ceil(n.max(1)).max(1);
    let mut spans = Vec::new();
    let (mut from, mut first_row, mut acc) = (0, 0, 0);
    for (g, r) in rows.iter().enumerate() {
        acc += r;
        if acc >= per || g + 1 == rows.len() {
            spans.push(Span::Parquet {
                groups: from..g + 1,
                first_row,
            });
            (from, first_row, acc) = (g + 1, first_row + acc, 0);
        }
    }
    spans
}

/// Passes bytes through while counting them on a progress bar.
struct Counted<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn piece_path(dir: &Path, source: &Source, piece: usize, bucket: usize) -> PathBuf {
    let ext = match source.format {
        Format::Csv => "rows",
        Format::Parquet => "parquet",
    };
    dir.join(format!("{}-{piece:04}-{bucket:04}.{ext}", source.table))
}

fn dealer_position(source: &Source, positions: &[Option<usize>]) -> Result<usize> {
    source
        .table
        .columns()
        .iter()
        .position(|c| c.name == "dealer_id")
        .and_then(|i| positions[i])
        .ok_or_else(|| Error::Internal(format!("{} has no dealer_id", source.table)))
}

/// Routes piece `k` of `plan`'s file.
fn route_piece(plan: &Plan, k: usize, csv: &CsvOptions, split: Split, dir: &Path) -> Result<Piece> {
    match &plan.spans[k] {
        Span::Csv { start, end } => route_csv(plan, k, (*start, *end), csv, split, dir),
        Span::Parquet { groups, first_row } => {
            route_parquet(plan, k, groups.clone(), *first_row, split, dir)
        }
    }
}

/// A value's length byte in a CSV bucket file: a null (empty value or missing field) ...
const NULL: u8 = 0xff;
/// ... or a value of `LONG` bytes or more, whose length follows as a `u32`.
const LONG: u8 = 0xfe;

/// Writes a CSV record as a row of a CSV bucket file to `row`: its line (`u64`), then the
/// length of each of the `width` columns' value decoded to UTF-8 and trimmed (one byte, or
/// `NULL`, or `LONG` and a `u32`; little-endian), then the values' bytes one after the other.
/// `load` then copies the values without parsing, decoding or trimming them again, and
/// checks the UTF-8 of a row's values at once. `values` is scratch space. Returns the
/// bucket `split` gives the value of column `dealer` (`None`: the row is dropped).
#[allow(clippy::too_many_arguments)]
fn bucket_row<R: Read>(
    rdr: &read::CsvRecords<R>,
    line: u64,
    width: usize,
    (dealer, split): (usize, Split),
    csv: &CsvOptions,
    path: &Path,
    (row, values): (&mut Vec<u8>, &mut Vec<u8>),
) -> Result<Option<usize>> {
    row.clear();
    values.clear();
    row.extend(line.to_le_bytes());
    let utf8 = csv.encoding == encoding_rs::UTF_8 && rdr.fields_are_utf8();
    let mut bucket = split.bucket(None);
    for i in 0..width {
        let decoded = match rdr.field(i) {
            None => None,
            // SAFETY: `fields_are_utf8` found every field of this record UTF-8
            Some(f) if utf8 => Some(std::borrow::Cow::Borrowed(unsafe {
                std::str::from_utf8_unchecked(f)
            })),
            Some(f) => Some(read::decode(f, csv, path, line, i)?),
        };
        match decoded.as_deref().and_then(clean) {
            Some(v) => {
                if i == dealer {
                    bucket = split.bucket(Some(v));
                }
                match u8::try_from(v.len()) {
                    Ok(len) if len < LONG => row.push(len),
                    _ => {
                        let len = u32::try_from(v.len()).map_err(|_| {
                            let field = format!("field {} is over 4 GiB", i + 1);
                            read::unreadable(path, Some(line), field)
                        })?;
                        row.push(LONG);
                        row.extend(len.to_le_bytes());
                    }
                }
                values.extend(v.as_bytes());
            }
            None => row.push(NULL),
        }
    }
    row.extend_from_slice(values);
    Ok(bucket)
}

/// The rows of a CSV bucket file's bytes (see `bucket_row`), one after the other.
struct BucketRows<'a> {
    rest: &'a [u8],
    width: usize,
    path: &'a Path,
    /// The last row's values.
    values: Vec<Option<&'a str>>,
    /// The last row's value lengths (`None`: null).
    lens: Vec<Option<usize>>,
}

impl<'a> BucketRows<'a> {
    fn new(bytes: &'a [u8], width: usize, path: &'a Path) -> BucketRows<'a> {
        BucketRows {
            rest: bytes,
            width,
            path,
            values: Vec::with_capacity(width),
            lens: Vec::with_capacity(width),
        }
    }

    /// The next row's line and bytes (its values in `values`).
    fn next(&mut self) -> Result<Option<(u64, &'a [u8])>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let cut = || Error::Internal(format!("bucket file {} is cut short", self.path.display()));
        let bytes = self.rest;
        let take = |at: usize, n: usize| bytes.get(at..at + n).ok_or_else(cut);
        let line = u64::from_le_bytes(take(0, 8)?.try_into().map_err(|_| cut())?);
        let mut at = 8;
        self.lens.clear();
        for _ in 0..self.width {
            let len = match take(at, 1)?[0] {
                NULL => {
                    at += 1;
                    self.lens.push(None);
                    continue;
                }
                LONG => {
                    at += 5;
                    u32::from_le_bytes(take(at - 4, 4)?.try_into().map_err(|_| cut())?) as usize
                }
                len => {
                    at += 1;
                    usize::from(len)
                }
            };
            self.lens.push(Some(len));
        }
        let total = self.lens.iter().flatten().sum();
        // the values one after the other: one UTF-8 check, then cut at their ends (each a
        // character boundary, as each value is UTF-8)
        let text = std::str::from_utf8(take(at, total)?).map_err(|_| cut())?;
        let mut from = 0;
        self.values.clear();
        for len in &self.lens {
            self.values.push(match len {
                None => None,
                Some(n) => {
                    from += n;
                    Some(text.get(from - n..from).ok_or_else(cut)?)
                }
            });
        }
        at += total;
        self.rest = &bytes[at..];
        Ok(Some((line, &bytes[..at])))
    }
}

/// The raw frame (`line` and the file's columns as text) of a CSV bucket file's bytes;
/// lines counted from `base`.
fn bucket_frame(bytes: &[u8], width: usize, base: u64, path: &Path) -> Result<DataFrame> {
    let cap = bytes.len() / 64;
    let mut cols: Vec<StringChunkedBuilder> = (0..width)
        .map(|i| StringChunkedBuilder::new(file_col(i).into(), cap))
        .collect();
    let mut lines: Vec<i64> = Vec::with_capacity(cap);
    let mut rows = BucketRows::new(bytes, width, path);
    while let Some((line, _)) = rows.next()? {
        lines.push(i64::try_from(line + base).unwrap_or(i64::MAX));
        for (col, v) in cols.iter_mut().zip(&rows.values) {
            col.append_option(*v);
        }
    }
    let mut columns = vec![Column::new("line".into(), lines)];
    columns.extend(cols.into_iter().map(|b| b.finish().into_column()));
    Ok(DataFrame::new_infer_height(columns)?)
}

/// A CSV bucket file's bytes.
fn read_bucket_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| write::output_error(path, &e))
}

/// Files written a row at a time, one per bucket (or part), each created with its first row.
struct Outs(Vec<Option<(PathBuf, BufWriter<File>)>>);

impl Outs {
    fn new(n: usize) -> Outs {
        Outs((0..n).map(|_| None).collect())
    }

    /// Appends `bytes` to file `i`, created at `path(i)` when it is not open yet.
    fn write(&mut self, i: usize, path: impl FnOnce() -> PathBuf, bytes: &[u8]) -> Result<()> {
        let (p, w) = match &mut self.0[i] {
            Some(pw) => pw,
            slot => {
                let p = path();
                let w = BufWriter::with_capacity(1 << 16, write::create(&p, write::PRIVATE)?);
                slot.insert((p, w))
            }
        };
        w.write_all(bytes).map_err(|e| write::output_error(p, &e))
    }

    /// Flushes every file; each one's path, `None` where nothing was written.
    fn finish(self) -> Result<Vec<Option<PathBuf>>> {
        self.0
            .into_iter()
            .map(|pw| {
                pw.map(|(p, mut w)| {
                    w.flush()
                        .map_err(|e| write::output_error(&p, &e))
                        .map(|()| p)
                })
                .transpose()
            })
            .collect()
    }
}

fn route_csv(
    plan: &Plan,
    k: usize,
    (start, end): (u64, u64),
    csv: &CsvOptions,
    split: Split,
    dir: &Path,
) -> Result<Piece> {
    let buckets = split.count;
    let path = &plan.source.path;
    let mut file = read::open(path)?;
    file.seek(SeekFrom::Start(start)).map_err(|e| Error::Io {
        path: path.clone(),
        source: e,
    })?;
    let counted = Counted {
        inner: file,
        bar: plan.bar.clone(),
    };
    let mut rdr = read::CsvRecords::new(counted, csv.delimiter).starting_at(start);
    let unreadable = |e: std::io::Error| read::unreadable(path, None, e.to_string());
    if start == 0 {
        rdr.next().map_err(unreadable)?; // the header
    }
    let mut out = Outs::new(buckets);
    let (mut row, mut values): (Vec<u8>, Vec<u8>) = (Vec::with_capacity(1024), Vec::new());
    let mut rows = vec![0; buckets];
    let (mut first, mut next) = (None, None);
    while let Some(line) = rdr.next().map_err(unreadable)? {
        let at = rdr.record_start();
        first.get_or_insert((at, line));
        if at >= end {
            next = Some((at, line));
            break;
        }
        let width = plan.header.len();
        let b = bucket_row(
            &rdr,
            line,
            width,
            (plan.dealer, split),
            csv,
            path,
            (&mut row, &mut values),
        )?;
        if let Some(b) = b {
            rows[b] += 1;
            out.write(b, || piece_path(dir, &plan.source, k, b), &row)?;
        }
    }
    let files = out.finish()?;
    Ok(Piece {
        files,
        rows,
        first,
        next,
    })
}

fn route_parquet(
    plan: &Plan,
    k: usize,
    groups: std::ops::Range<usize>,
    first_row: usize,
    split: Split,
    dir: &Path,
) -> Result<Piece> {
    let buckets = split.count;
    let path = &plan.source.path;
    let unreadable = |e: PolarsError| read::unreadable(path, None, e.to_string());
    let metadata = plan
        .metadata
        .clone()
        .ok_or_else(|| Error::Internal("Parquet piece without metadata".into()))?;
    let dealer = file_col(plan.dealer);
    let mut out: Vec<Option<write::PartWriter>> = (0..buckets).map(|_| None).collect();
    let mut offset = first_row;
    let mut counts = vec![0; buckets];
    // a row group at a time: memory holds one row group, not the file
    for group in &metadata.row_groups[groups] {
        let n = group.num_rows();
        if n == 0 {
            continue;
        }
        let mut reader = ParquetReader::new(read::open(path)?);
        reader.set_metadata(metadata.clone());
        let df = read::guarded(path, || {
            reader
                .with_slice(Some((offset, n)))
                .finish()
                .map_err(unreadable)
                .and_then(|df| read::whole(path, df))
        })?;
        let df = read::parquet_frame(&df, offset as i64 + 1)?;
        offset += n;
        let mut rows: Vec<Vec<IdxSize>> = vec![Vec::new(); buckets];
        for (i, d) in df.column(&dealer)?.str()?.iter().enumerate() {
            if let Some(b) = split.bucket(d) {
                rows[b].push(i as IdxSize);
            }
        }
        for (b, rows) in rows.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            counts[b] += rows.len() as u64;
            let mut part = gather(&df, rows)?;
            let w = match &mut out[b] {
                Some(w) => w,
                slot => slot.insert(write::PartWriter::create(
                    piece_path(dir, &plan.source, k, b),
                    part.schema(),
                    write::PRIVATE,
                    true,
                )?),
            };
            w.write(&mut part)?;
        }
    }
    let files = out
        .into_iter()
        .map(|pw| {
            pw.map(|w| {
                let p = w.path().to_path_buf();
                w.finish().map(|_| p)
            })
            .transpose()
        })
        .collect::<Result<_>>()?;
    Ok(Piece {
        files,
        rows: counts,
        first: None,
        next: None,
    })
}

/// The rows `rows` of `df`, column by column on this thread (`DataFrame::take` would wait
/// for polars' pool).
fn gather(df: &DataFrame, rows: Vec<IdxSize>) -> Result<DataFrame> {
    let idx = IdxCa::from_vec("".into(), rows);
    let columns = df
        .columns()
        .iter()
        .map(|c| c.take(&idx))
        .collect::<PolarsResult<Vec<_>>>()?;
    Ok(DataFrame::new(idx.len(), columns)?)
}

/// FNV-1a of a dealer's id and a value of one of its rows (`None`: no value): the same in
/// every run.
fn id_hash(dealer: Option<&str>, value: Option<&str>) -> u64 {
    let h = fnv(FNV_START, dealer.unwrap_or_default().as_bytes());
    match value {
        Some(v) => fnv(fnv(h, &[0xff]), v.as_bytes()),
        None => fnv(h, &[0xfe]),
    }
}

/// Where a table's ids sit in its bucket files' rows: dealer, customer, and the key that
/// links customer records (an invoice's or vehicle's own id).
struct Ids {
    dealer: Option<usize>,
    customer: Option<usize>,
    link: Option<usize>,
}

impl Ids {
    fn of(r: &Routed) -> Ids {
        let at = |name: &str| {
            let cols = r.source.table.columns();
            cols.iter()
                .position(|c| c.name == name)
                .and_then(|i| r.positions[i])
        };
        let link = r
            .source
            .table
            .key()
            .iter()
            .find(|k| !matches!(**k, "dealer_id" | "customer_id"))
            .and_then(|k| at(k));
        Ids {
            dealer: at("dealer_id"),
            customer: at("customer_id"),
            link,
        }
    }
}

/// A row's (dealer, customer) hash, and its (dealer, link key) hash when it has a link key;
/// values trimmed as `load` trims them.
fn hashes(dealer: Option<&str>, customer: Option<&str>, link: Option<&str>) -> (u64, Option<u64>) {
    let dealer = dealer.and_then(clean);
    let customer = id_hash(dealer, customer.and_then(clean));
    (
        customer,
        link.and_then(clean).map(|l| id_hash(dealer, Some(l))),
    )
}

/// The hashes of every row of a Parquet bucket file's frame.
fn frame_hashes(df: &DataFrame, ids: &Ids) -> Result<Vec<(u64, Option<u64>)>> {
    let n = df.height();
    let text = |at: Option<usize>| -> Result<StringChunked> {
        Ok(match at {
            None => StringChunked::full_null("".into(), n),
            Some(at) => df
                .column(&file_col(at))?
                .cast(&DataType::String)?
                .str()?
                .clone(),
        })
    };
    let (d, c, l) = (text(ids.dealer)?, text(ids.customer)?, text(ids.link)?);
    Ok(d.iter()
        .zip(c.iter())
        .zip(l.iter())
        .map(|((d, c), l)| hashes(d, c, l))
        .collect())
}

/// The hashes of every row of a bucket file, in file order.
fn file_hashes(r: &Routed, path: &Path, ids: &Ids) -> Result<Vec<(u64, Option<u64>)>> {
    match r.source.format {
        Format::Csv => {
            let bytes = read_bucket_file(path)?;
            let mut rows = BucketRows::new(&bytes, r.header.len(), path);
            let mut out = Vec::new();
            while rows.next()?.is_some() {
                let at = |i: Option<usize>| i.and_then(|i| rows.values[i]);
                out.push(hashes(at(ids.dealer), at(ids.customer), at(ids.link)));
            }
            Ok(out)
        }
        Format::Parquet => {
            let cols = [ids.dealer, ids.customer, ids.link];
            let cols = cols.iter().flatten().map(|&i| file_col(i)).collect();
            let file = File::open(path).map_err(|e| write::output_error(path, &e))?;
            frame_hashes(&read_spill(file, path, Some(cols))?, ids)
        }
    }
}

/// A Parquet bucket file, or only the columns named.
fn read_spill(file: File, path: &Path, columns: Option<Vec<String>>) -> Result<DataFrame> {
    // on this thread: bucket files are read in parallel already
    ParquetReader::new(file)
        .with_columns(columns)
        .read_parallel(ParallelStrategy::None)
        .finish()
        .map_err(|e| write::output_error(path, &e))
}

/// Customer records linked by a shared link key (an invoice or vehicle id held by rows of
/// several records), as a forest: each linked record's hash points towards its group's
/// root, the smallest hash of the group. Records not linked are their own roots.
struct Links(PlHashMap<u64, u64>);

impl Links {
    /// From (link key, customer) hash pairs.
    fn new(mut pairs: Vec<(u64, u64)>) -> Links {
        pairs.par_sort_unstable();
        let mut links = Links(PlHashMap::new());
        for run in pairs.chunk_by(|a, b| a.0 == b.0) {
            for &(_, c) in &run[1..] {
                let (a, b) = (links.root(run[0].1), links.root(c));
                if a != b {
                    links.0.insert(a.max(b), a.min(b));
                }
            }
        }
        links
    }

    fn root(&self, mut c: u64) -> u64 {
        while let Some(&up) = self.0.get(&c) {
            c = up;
        }
        c
    }

    /// The part, of `parts`, of a customer record's rows.
    fn part(&self, customer: u64, parts: usize) -> usize {
        let h = self.root(customer).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        ((h >> 32) % parts as u64) as usize
    }
}

/// Splits bucket `b` of every table further into `parts` parts by customer record, for a
/// bucket too large to hold at once. Each part is a bucket of the `Routed` returned, and
/// holds every row of its records: the checks and joins that `load`'s callers run on a
/// bucket give on a part what they give on the whole, since a customer record's rows, and
/// the rows of records linked by a shared invoice or vehicle id (a possible `duplicate_key`),
/// go to the same part. Rows keep their line numbers; bucket `b`'s files are removed.
pub fn resplit(routed: &[Routed], b: usize, parts: usize, dir: &Path) -> Result<Vec<Routed>> {
    let files =
        |r: &Routed| -> Vec<PathBuf> { r.pieces.iter().filter_map(|p| p[b].clone()).collect() };
    // links first: every (link key, customer) pair of the tables that have a link key
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    for r in routed {
        let ids = Ids::of(r);
        if ids.link.is_none() {
            continue;
        }
        let found: Vec<Vec<(u64, u64)>> = files(r)
            .par_iter()
            .map(|path| {
                let h = file_hashes(r, path, &ids)?;
                Ok(h.into_iter().filter_map(|(c, l)| Some((l?, c))).collect())
            })
            .collect::<Result<_>>()?;
        pairs.extend(found.into_iter().flatten());
    }
    let links = Links::new(pairs);
    routed
        .iter()
        .map(|r| {
            let ids = Ids::of(r);
            let split: Vec<(Vec<Option<PathBuf>>, Vec<u64>)> = r
                .pieces
                .par_iter()
                .enumerate()
                .map(|(k, p)| match &p[b] {
                    None => Ok((vec![None; parts], vec![0; parts])),
                    Some(path) => {
                        let out = split_file(r, (k, b), path, &ids, &links, parts, dir);
                        let _ = std::fs::remove_file(path);
                        out
                    }
                })
                .collect::<Result<_>>()?;
            let mut rows = vec![0; parts];
            let mut pieces = Vec::new();
            for (files, n) in split {
                for (t, n) in rows.iter_mut().zip(n) {
                    *t += n;
                }
                pieces.push(files);
            }
            Ok(Routed {
                source: r.source.clone(),
                header: r.header.clone(),
                positions: r.positions.clone(),
                sha256: r.sha256.clone(),
                bytes: r.bytes,
                pieces,
                line_bases: r.line_bases.clone(),
                rows,
            })
        })
        .collect()
}

/// Writes the rows of one bucket file to one file per part; returns the files and rows.
#[allow(clippy::too_many_arguments)]
fn split_file(
    r: &Routed,
    (piece, bucket): (usize, usize),
    path: &Path,
    ids: &Ids,
    links: &Links,
    parts: usize,
    dir: &Path,
) -> Result<(Vec<Option<PathBuf>>, Vec<u64>)> {
    let part_path = |p: usize| {
        let name = piece_path(dir, &r.source, piece, bucket);
        let stem = name.file_stem().unwrap_or_default().to_string_lossy();
        let ext = name.extension().unwrap_or_default().to_string_lossy();
        dir.join(format!("{stem}-{p:04}.{ext}"))
    };
    let mut rows = vec![0; parts];
    match r.source.format {
        Format::Csv => {
            let bytes = read_bucket_file(path)?;
            let mut rdr = BucketRows::new(&bytes, r.header.len(), path);
            let mut out = Outs::new(parts);
            while let Some((_, row)) = rdr.next()? {
                let at = |i: Option<usize>| i.and_then(|i| rdr.values[i]);
                let p = links.part(hashes(at(ids.dealer), at(ids.customer), None).0, parts);
                rows[p] += 1;
                out.write(p, || part_path(p), row)?;
            }
            let files = out.finish()?;
            Ok((files, rows))
        }
        Format::Parquet => {
            let file = File::open(path).map_err(|e| write::output_error(path, &e))?;
            let df = read_spill(file, path, None)?;
            let mut idx: Vec<Vec<IdxSize>> = vec![Vec::new(); parts];
            for (i, (c, _)) in frame_hashes(&df, ids)?.into_iter().enumerate() {
                idx[links.part(c, parts)].push(i as IdxSize);
            }
            let mut files = vec![None; parts];
            for (p, idx) in idx.into_iter().enumerate() {
                if idx.is_empty() {
                    continue;
                }
                rows[p] = idx.len() as u64;
                let mut part = gather(&df, idx)?;
                let to = part_path(p);
                let mut w =
                    write::PartWriter::create(to.clone(), part.schema(), write::PRIVATE, true)?;
                w.write(&mut part)?;
                w.finish()?;
                files[p] = Some(to);
            }
            Ok((files, rows))
        }
    }
}

/// The rows of bucket `bucket`, as `read` would have read them, in file order: the pieces'
/// files read on all cores, one after the other.
pub fn load(r: &Routed, bucket: usize) -> Result<RawTable> {
    let width = r.header.len();
    let files: Vec<(&PathBuf, u64)> = r
        .pieces
        .iter()
        .zip(&r.line_bases)
        .filter_map(|(p, base)| Some((p[bucket].as_ref()?, *base)))
        .collect();
    let frames: Vec<DataFrame> = files
        .par_iter()
        .map(|&(p, base)| -> Result<DataFrame> {
            match r.source.format {
                Format::Csv => bucket_frame(&read_bucket_file(p)?, width, base, p),
                Format::Parquet => {
                    let file = File::open(p).map_err(|e| write::output_error(p, &e))?;
                    read_spill(file, p, None)
                }
            }
        })
        .collect::<Result<_>>()?;
    let mut frames = frames.into_iter();
    let df = match frames.next() {
        None => {
            let mut columns = vec![Column::new_empty("line".into(), &DataType::Int64)];
            columns.extend(
                (0..width).map(|i| Column::new_empty(file_col(i).into(), &DataType::String)),
            );
            DataFrame::new_infer_height(columns)?
        }
        Some(mut df) => {
            for f in frames {
                df.vstack_mut_owned(f)?;
            }
            df
        }
    };
    Ok(RawTable {
        source: r.source.clone(),
        header: r.header.clone(),
        df,
        positions: r.positions.clone(),
        sha256: String::new(),
        bytes: 0,
    })
}

/// Removes the files of bucket `bucket`, once it is loaded: a file deleted before the kernel
/// writes its pages out is never written to the disk.
pub fn remove(r: &Routed, bucket: usize) {
    for p in r.pieces.iter().filter_map(|p| p[bucket].as_ref()) {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Table;

    const HEADER: &str = "\u{feff}dealer_id;customer_id;registered_on;source";

    /// Every row of every bucket, sorted by line: (line, values).
    fn routed_rows(sources: &[Source], piece_bytes: u64) -> (Vec<Vec<String>>, Vec<usize>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let csv = CsvOptions::default();
        let routed = route(
            sources,
            &csv,
            Split::all(3),
            dir.path(),
            &Progress::new(true),
            piece_bytes,
        )
        .expect("routes");
        let mut rows = Vec::new();
        for b in 0..3 {
            rows.extend(frame_rows(&load(&routed[0], b).expect("loads").df));
        }
        rows.sort_by_key(|r| r[0].parse::<i64>().expect("line"));
        (rows, routed.iter().map(|r| r.pieces.len()).collect())
    }

    fn frame_rows(df: &DataFrame) -> Vec<Vec<String>> {
        (0..df.height())
            .map(|i| {
                df.columns()
                    .iter()
                    .map(|c| c.get(i).expect("row").to_string())
                    .collect()
            })
            .collect()
    }

    fn source(dir: &Path, name: &str, format: Format) -> Source {
        Source {
            table: Table::Customers,
            path: dir.join(name),
            format,
        }
    }

    /// Cutting a CSV file into pieces of any size gives the rows and lines of reading it
    /// whole: through CRLF, bare CR, blank lines and short rows; a cut inside a quoted field
    /// routes the file again whole.
    #[test]
    fn csv_pieces_give_the_rows_of_the_whole_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let plain = (0..40).fold(String::new(), |s, i| {
            s + &format!("D{};{i};2020-01-01;web\r\n", i % 7)
        });
        // a value of 300 bytes: its length is written in five bytes, not one
        let long = "é".repeat(150);
        let tricky = format!(
            "{plain}\r\nD1;x1;2021-02-03\rD2;\"x;2\";\"two\nlines\"\n\nD3;\"x\"\"3\";\"crlf\r\ninside\"\r\nD5;{long};  ;\r\n{plain}D4;last"
        );
        for (name, body, cuts_inside_quotes) in
            [("plain.csv", &plain, false), ("tricky.csv", &tricky, true)]
        {
            std::fs::write(dir.path().join(name), format!("{HEADER}\r\n{body}")).expect("write");
            let s = [source(dir.path(), name, Format::Csv)];
            let whole =
                read::read(&s[0], &CsvOptions::default(), &Progress::new(true)).expect("reads");
            let expected = frame_rows(&whole.df);
            assert!(expected.len() >= 40, "{name}");
            let mut fell_back = false;
            for piece_bytes in [1, 2, 5, 13, 64, 200, u64::MAX] {
                let (rows, pieces) = routed_rows(&s, piece_bytes);
                assert_eq!(rows, expected, "{name}, pieces of {piece_bytes} bytes");
                fell_back |= piece_bytes < 64 && pieces[0] == 1;
                if piece_bytes == 64 && !cuts_inside_quotes {
                    assert!(pieces[0] > 10, "{name}: {pieces:?} pieces");
                }
            }
            assert_eq!(fell_back, cuts_inside_quotes, "{name}");
        }
    }

    /// A bad dealer_id in a later piece fails the run naming its line in the file, not in
    /// the piece.
    #[test]
    fn a_bad_value_in_a_piece_names_its_line_in_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut body = format!("{HEADER}\n").into_bytes();
        for i in 0..30 {
            body.extend(format!("D{};{i};2020-01-01;web\n", i % 7).bytes());
        }
        body.extend(b"D\xff;x;2020-01-01;web\n");
        std::fs::write(dir.path().join("customers.csv"), body).expect("write");
        let s = [source(dir.path(), "customers.csv", Format::Csv)];
        let out = tempfile::tempdir().expect("temp dir");
        for piece_bytes in [16, u64::MAX] {
            let err = route(
                &s,
                &CsvOptions::default(),
                Split::all(3),
                out.path(),
                &Progress::new(true),
                piece_bytes,
            )
            .err()
            .expect("fails");
            assert!(
                matches!(err, Error::Unreadable { line: Some(32), .. }),
                "pieces of {piece_bytes}: {err}"
            );
        }
    }

    /// A Parquet file is cut by row groups; line numbers are row numbers across the pieces.
    #[test]
    fn parquet_pieces_give_the_rows_of_the_whole_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("customers.parquet");
        let col = |name: &str, f: &dyn Fn(usize) -> String| {
            Column::new(name.into(), (0..50).map(f).collect::<Vec<_>>())
        };
        let df = DataFrame::new_infer_height(vec![
            col("dealer_id", &|i| format!("D{}", i % 7)),
            col("customer_id", &|i| i.to_string()),
            col("registered_on", &|_| "2020-01-01".into()),
            col("source", &|_| "web".into()),
        ])
        .expect("frame");
        let mut w = write::PartWriter::create(path, df.schema(), None, true).expect("writer");
        for (at, len) in [(0, 20), (20, 10), (30, 20)] {
            w.write(&mut df.slice(at, len)).expect("row group");
        }
        w.finish().expect("finish");
        let s = [source(dir.path(), "customers.parquet", Format::Parquet)];
        let whole = read::read(&s[0], &CsvOptions::default(), &Progress::new(true)).expect("reads");
        let expected = frame_rows(&whole.df);
        assert_eq!(expected.len(), 50);
        for piece_bytes in [1, 1 << 40] {
            let (rows, pieces) = routed_rows(&s, piece_bytes);
            assert_eq!(rows, expected, "pieces of {piece_bytes} bytes");
            assert_eq!(pieces[0], if piece_bytes == 1 { 3 } else { 1 });
        }
    }

    /// A bucket split into parts keeps every row once, with its line; each customer
    /// record's rows (ids trimmed as checks trim them) and the records linked by a shared
    /// invoice id land in one part; Parquet and CSV alike.
    #[test]
    fn parts_keep_a_records_rows_and_linked_records_together() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut customers, mut invoices) = (Vec::new(), Vec::new());
        let day = "2024-01-01".to_string();
        for c in 0..300 {
            customers.push(vec![
                format!("D{}", c % 2),
                c.to_string(),
                "2020-01-01".into(),
            ]);
            for k in 0..3 {
                // a customer id written with spaces is the same record
                let id = if k == 1 {
                    format!(" {c} ")
                } else {
                    c.to_string()
                };
                invoices.push(vec![
                    format!("D{}", c % 2),
                    format!("I{c}-{k}"),
                    id,
                    day.clone(),
                ]);
            }
        }
        // records 2j and 2j+2 (one dealer) share an invoice id: a possible duplicate_key
        for j in 0..60 {
            for c in [2 * j, 2 * j + 2] {
                invoices.push(vec![
                    "D0".into(),
                    format!("L{j}"),
                    c.to_string(),
                    day.clone(),
                ]);
            }
        }
        let tables = [
            (
                Table::Customers,
                "dealer_id;customer_id;registered_on",
                customers,
            ),
            (
                Table::Invoices,
                "dealer_id;invoice_id;customer_id;invoice_date",
                invoices,
            ),
        ];
        for format in [Format::Csv, Format::Parquet] {
            let mut sources = Vec::new();
            for (table, header, rows) in &tables {
                let path = dir.path().join(format!("{table}-{format:?}"));
                match format {
                    Format::Csv => {
                        let body: String = rows.iter().map(|r| r.join(";") + "\n").collect();
                        std::fs::write(&path, format!("{header}\n{body}")).expect("write");
                    }
                    Format::Parquet => {
                        let columns = header
                            .split(';')
                            .enumerate()
                            .map(|(i, name)| {
                                let v: Vec<&str> = rows.iter().map(|r| r[i].as_str()).collect();
                                Column::new(name.into(), v)
                            })
                            .collect();
                        let mut df = DataFrame::new_infer_height(columns).expect("frame");
                        let mut w =
                            write::PartWriter::create(path.clone(), df.schema(), None, true)
                                .expect("writer");
                        w.write(&mut df).expect("rows");
                        w.finish().expect("finish");
                    }
                }
                sources.push(Source {
                    table: *table,
                    path,
                    format,
                });
            }
            let (out, csv) = (
                tempfile::tempdir().expect("temp dir"),
                CsvOptions::default(),
            );
            let quiet = Progress::new(true);
            let routed =
                route(&sources, &csv, Split::all(1), out.path(), &quiet, 2000).expect("routes");
            let whole: Vec<Vec<Vec<String>>> = routed
                .iter()
                .map(|r| frame_rows(&load(r, 0).expect("loads").df))
                .collect();
            let parts = resplit(&routed, 0, 8, out.path()).expect("splits");
            let mut part_of = std::collections::HashMap::<String, usize>::new();
            for (t, r) in parts.iter().enumerate() {
                let mut rows = Vec::new();
                for p in 0..8 {
                    for row in frame_rows(&load(r, p).expect("loads").df) {
                        let customer = format!("{}/{}", row[1], row[if t == 0 { 2 } else { 3 }]);
                        let first = *part_of.entry(customer.clone()).or_insert(p);
                        assert_eq!(first, p, "{format:?}: customer {customer}");
                        rows.push(row);
                    }
                }
                rows.sort_by_key(|r| r[0].parse::<i64>().expect("line"));
                assert_eq!(rows, whole[t], "{format:?} {}", r.source.table);
            }
            let used: std::collections::HashSet<&usize> = part_of.values().collect();
            assert_eq!(used.len(), 8, "{format:?}: every part used");
            for j in 0..60 {
                assert_eq!(
                    part_of[&format!("\"D0\"/\"{}\"", 2 * j)],
                    part_of[&format!("\"D0\"/\"{}\"", 120)],
                    "{format:?}: linked records 0, 2, .., 120 in one part"
                );
            }
        }
    }
}
