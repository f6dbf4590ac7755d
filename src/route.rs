//! Splitting the extract into buckets of dealers, so that a run holds one bucket in memory at a
//! time instead of the whole extract.
//!
//! Every key of the contract is scoped by `dealer_id`, so each check and join needs only the
//! rows of one dealer (`do_not_call`, which has no dealer, is read whole). `route` reads a
//! table once, hashes each row's trimmed `dealer_id` to a bucket (rows without one go to
//! bucket 0) and appends the row to that bucket's file, keeping its line number and the order
//! of the file. `load` reads one bucket's file back as the `RawTable` that `read` would have
//! made of those rows. CSV rows are copied as written (bytes, quoting and encoding untouched,
//! behind a line-number field); Parquet rows are written as the raw frame `read` makes of
//! them, types kept.
//!
//! Bucket files are owner-only (they hold raw rows) and live in the run's hidden temporary
//! folder, which is removed when the run ends.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use sha2::Digest;

use crate::error::{Error, Result};
use crate::pipeline::{hex, CsvOptions, MAX_BUCKETS};
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
    /// Each bucket's file, `None` when no row went to it.
    pub files: Vec<Option<PathBuf>>,
    /// Rows in each bucket.
    pub rows: Vec<u64>,
}

/// How many buckets to use for these input files: `fixed` when given, else about one per
/// `BUCKET_BYTES` of input.
pub fn buckets(sources: &[Source], fixed: Option<usize>) -> usize {
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
    usize::try_from(weight.div_ceil(BUCKET_BYTES))
        .unwrap_or(MAX_BUCKETS)
        .clamp(1, MAX_BUCKETS)
}

/// The bucket of a trimmed dealer id.
pub fn bucket_of(dealer: Option<&str>, buckets: usize) -> usize {
    let Some(d) = dealer else { return 0 };
    // FNV-1a: fast on short ids, and the same in every run
    let h = d.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (h % buckets as u64) as usize
}

/// Reads `source` once and writes its rows to one file per bucket under `dir`.
pub fn route(
    source: &Source,
    csv: &CsvOptions,
    buckets: usize,
    dir: &Path,
    progress: &Progress,
) -> Result<Routed> {
    match source.format {
        Format::Csv => route_csv(source, csv, buckets, dir, progress),
        Format::Parquet => route_parquet(source, buckets, dir, progress),
    }
}

fn bucket_path(dir: &Path, source: &Source, bucket: usize) -> PathBuf {
    let ext = match source.format {
        Format::Csv => "csv",
        Format::Parquet => "parquet",
    };
    dir.join(format!("{}-{bucket:04}.{ext}", source.table))
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

fn route_csv(
    source: &Source,
    csv: &CsvOptions,
    buckets: usize,
    dir: &Path,
    progress: &Progress,
) -> Result<Routed> {
    let path = &source.path;
    let file = read::open(path)?;
    let total = file.metadata().map_or(0, |m| m.len());
    let bar = progress.bytes(&format!("splitting {}", file_name(path)), total);
    let mut rdr = read::CsvRecords::new(
        read::Hashing::new(BufReader::with_capacity(1 << 16, file), bar.clone()),
        csv.delimiter,
    )
    .keep_raw();
    let header = read::read_header(&mut rdr, source, csv)?;
    let positions = read::positions(source, &header)?;
    let dealer = dealer_position(source, &positions)?;
    let mut out: Vec<Option<(PathBuf, BufWriter<File>)>> = (0..buckets).map(|_| None).collect();
    let mut number: Vec<u8> = Vec::with_capacity(24);
    let mut rows = vec![0; buckets];
    while let Some(line) = rdr
        .next()
        .map_err(|e| read::unreadable(path, None, e.to_string()))?
    {
        let b = match rdr.field(dealer) {
            Some(f) => bucket_of(clean(&read::decode(f, csv, path, line, dealer)?), buckets),
            None => 0,
        };
        rows[b] += 1;
        let (p, w) = match &mut out[b] {
            Some(pw) => pw,
            slot => {
                let p = bucket_path(dir, source, b);
                let w = BufWriter::with_capacity(1 << 16, write::create(&p, true)?);
                slot.insert((p, w))
            }
        };
        number.clear();
        let _ = write!(number, "{line}");
        number.push(csv.delimiter);
        w.write_all(&number)
            .and_then(|()| w.write_all(rdr.raw()))
            .and_then(|()| w.write_all(b"\n"))
            .map_err(|e| write::output_error(p, &e))?;
    }
    bar.finish_and_clear();
    let files = out
        .into_iter()
        .map(|pw| {
            pw.map(|(p, mut w)| {
                w.flush()
                    .map_err(|e| write::output_error(&p, &e))
                    .map(|()| p)
            })
            .transpose()
        })
        .collect::<Result<_>>()?;
    let hashing = rdr.into_inner();
    Ok(Routed {
        source: source.clone(),
        header,
        positions,
        sha256: hex(&hashing.hash.finalize()),
        bytes: hashing.bytes,
        files,
        rows,
    })
}

fn route_parquet(
    source: &Source,
    buckets: usize,
    dir: &Path,
    progress: &Progress,
) -> Result<Routed> {
    let path = &source.path;
    let unreadable = |e: PolarsError| read::unreadable(path, None, e.to_string());
    let bar = progress.bytes(&format!("splitting {}", file_name(path)), 0);
    let (sha256, bytes) = read::hash_file(path)?;
    let mut reader = ParquetReader::new(read::open(path)?);
    let metadata = reader.get_metadata().map_err(unreadable)?.clone();
    let header: Vec<String> = reader
        .schema()
        .map_err(unreadable)?
        .iter_names()
        .map(PlSmallStr::to_string)
        .collect();
    let positions = read::positions(source, &header)?;
    let dealer = file_col(dealer_position(source, &positions)?);
    let mut out: Vec<Option<write::PartWriter>> = (0..buckets).map(|_| None).collect();
    let mut offset = 0;
    let mut counts = vec![0; buckets];
    // a row group at a time: memory holds one row group, not the file
    for group in &metadata.row_groups {
        let n = group.num_rows();
        if n == 0 {
            continue;
        }
        let mut reader = ParquetReader::new(read::open(path)?);
        reader.set_metadata(metadata.clone());
        let df = reader
            .with_slice(Some((offset, n)))
            .finish()
            .map_err(unreadable)?;
        let df = read::parquet_frame(&df, offset as i64 + 1)?;
        offset += n;
        let mut rows: Vec<Vec<IdxSize>> = vec![Vec::new(); buckets];
        for (i, d) in df.column(&dealer)?.str()?.iter().enumerate() {
            rows[bucket_of(d, buckets)].push(i as IdxSize);
        }
        for (b, rows) in rows.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            counts[b] += rows.len() as u64;
            let mut part = df.take(&IdxCa::from_vec("".into(), rows))?;
            let w = match &mut out[b] {
                Some(w) => w,
                slot => slot.insert(write::PartWriter::create(
                    bucket_path(dir, source, b),
                    part.schema(),
                    true,
                    true,
                )?),
            };
            w.write(&mut part)?;
        }
    }
    bar.finish_and_clear();
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
    Ok(Routed {
        source: source.clone(),
        header,
        positions,
        sha256,
        bytes,
        files,
        rows: counts,
    })
}

/// The rows of bucket `bucket`, as `read` would have read them, in file order.
pub fn load(r: &Routed, bucket: usize, csv: &CsvOptions) -> Result<RawTable> {
    let width = r.header.len();
    let df = match &r.files[bucket] {
        None => {
            let mut columns = vec![Column::new_empty("line".into(), &DataType::Int64)];
            columns.extend(
                (0..width).map(|i| Column::new_empty(file_col(i).into(), &DataType::String)),
            );
            DataFrame::new_infer_height(columns)?
        }
        Some(p) => match r.source.format {
            Format::Csv => {
                let file = File::open(p).map_err(|e| write::output_error(p, &e))?;
                let mut rdr =
                    read::CsvRecords::new(BufReader::with_capacity(1 << 16, file), csv.delimiter);
                let hint = std::fs::metadata(p).map_or(0, |m| m.len()) / 64;
                read::csv_frame(&mut rdr, width, true, csv, &r.source.path, hint)?
            }
            Format::Parquet => {
                let file = File::open(p).map_err(|e| write::output_error(p, &e))?;
                ParquetReader::new(file)
                    .finish()
                    .map_err(|e| write::output_error(p, &e))?
            }
        },
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
