//! Reading the extract: finding one file per table, and reading a CSV or Parquet file into a
//! frame of its columns as written, with the line number of every row.
//!
//! Every value is trimmed and an empty one is null; nothing is parsed or judged here (that is
//! `validate`). A file that cannot be read, or lacks a required column, fails the run with a
//! message naming the file, the column and the line.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::pipeline::CsvOptions;
use crate::progress::Progress;
use crate::schema::Table;
use crate::values::{clean, hex};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Parquet,
}

/// One input file found in the extract folder.
#[derive(Clone, Debug)]
pub struct Source {
    pub table: Table,
    pub path: PathBuf,
    pub format: Format,
}

/// One table as read: `line` (Int64) and the file's columns in file order, named `c0`, `c1`,
/// ... (header names may repeat), as trimmed text, or as the Parquet file's own type for
/// dates, timestamps and booleans.
pub struct RawTable {
    pub source: Source,
    /// Header names as written.
    pub header: Vec<String>,
    pub df: DataFrame,
    /// For each of `table.columns()`, the index of its file column (first match, any case).
    pub positions: Vec<Option<usize>>,
    pub sha256: String,
    pub bytes: u64,
}

impl RawTable {
    /// The file column holding contract column `name`, if the file has it.
    pub fn column(&self, name: &str) -> Option<&Column> {
        let i = self
            .source
            .table
            .columns()
            .iter()
            .position(|c| c.name == name)?;
        let pos = self.positions[i]?;
        self.df.column(&file_col(pos)).ok()
    }

    pub fn lines(&self) -> &Int64Chunked {
        self.df
            .column("line")
            .and_then(|c| c.i64())
            .expect("a raw table always has an Int64 `line` column")
    }

    /// Names of the file columns (`c0`, `c1`, ...), in file order.
    pub fn file_columns(&self) -> Vec<PlSmallStr> {
        (0..self.header.len()).map(|i| file_col(i).into()).collect()
    }
}

pub fn file_col(i: usize) -> String {
    format!("c{i}")
}

/// Finds each table's file in `dir`: `<table>.csv` or `<table>.parquet`, any case. Optional
/// tables may be absent; a required one missing, or two files for one table, is an error.
pub fn discover(dir: &Path) -> Result<Vec<Source>> {
    if !dir.is_dir() {
        return Err(Error::NoInputDir {
            path: dir.to_path_buf(),
        });
    }
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    let mut found = Vec::new();
    for table in Table::ALL {
        let hits: Vec<(PathBuf, Format)> = names
            .iter()
            .filter_map(|p| {
                let stem = p.file_stem()?.to_str()?.to_ascii_lowercase();
                let ext = p.extension()?.to_str()?.to_ascii_lowercase();
                let format = match ext.as_str() {
                    "csv" => Format::Csv,
                    "parquet" => Format::Parquet,
                    _ => return None,
                };
                (stem == table.name()).then(|| (p.clone(), format))
            })
            .collect();
        match hits.as_slice() {
            [] if table.required() => {
                return Err(Error::MissingTable {
                    dir: dir.to_path_buf(),
                    table: table.name(),
                })
            }
            [] => {}
            [(path, format)] => found.push(Source {
                table,
                path: path.clone(),
                format: *format,
            }),
            _ => {
                return Err(Error::Extract {
                    dir: dir.to_path_buf(),
                    problems: vec![format!(
                        "table `{table}` has {} files ({}); keep one",
                        hits.len(),
                        hits.iter()
                            .map(|(p, _)| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )],
                })
            }
        }
    }
    Ok(found)
}

/// The header of a file, for `validate`: names as written, and positions of the contract
/// columns; an error names every missing required column.
pub fn header(source: &Source, csv: &CsvOptions) -> Result<(Vec<String>, Vec<Option<usize>>)> {
    let header = match source.format {
        Format::Csv => {
            let mut rdr = CsvRecords::new(open(&source.path)?, csv.delimiter);
            read_header(&mut rdr, source, csv)?
        }
        Format::Parquet => {
            let file = open(&source.path)?;
            let schema = guarded(&source.path, || {
                ParquetReader::new(file)
                    .schema()
                    .map_err(|e| unreadable(&source.path, None, e.to_string()))
            })?;
            schema.iter_names().map(PlSmallStr::to_string).collect()
        }
    };
    let positions = positions(source, &header)?;
    Ok((header, positions))
}

pub(crate) fn positions(source: &Source, header: &[String]) -> Result<Vec<Option<usize>>> {
    let lower: Vec<String> = header
        .iter()
        .map(|h| clean(h).unwrap_or("").to_lowercase())
        .collect();
    let table = source.table;
    let positions: Vec<Option<usize>> = table
        .columns()
        .iter()
        .map(|c| lower.iter().position(|h| h == c.name))
        .collect();
    let missing: Vec<&'static str> = table
        .columns()
        .iter()
        .zip(&positions)
        .filter(|(c, p)| c.required && p.is_none())
        .map(|(c, _)| c.name)
        .collect();
    if !missing.is_empty() {
        return Err(Error::MissingColumn {
            path: source.path.clone(),
            table: table.name(),
            missing,
            columns: header.to_vec(),
        });
    }
    Ok(positions)
}

/// Reads a whole table.
pub fn read(source: &Source, csv: &CsvOptions, progress: &Progress) -> Result<RawTable> {
    match source.format {
        Format::Csv => read_csv(source, csv, progress),
        Format::Parquet => read_parquet(source, progress),
    }
}

pub(crate) fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Readers of input Parquet files at work; while there are any, a panic is that reader's
/// (see `guarded`) and the binary's panic hook stays quiet.
static GUARDED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether a panic now may come from a guarded reader (the panic hook then stays quiet).
pub fn in_guarded_read() -> bool {
    GUARDED.load(std::sync::atomic::Ordering::SeqCst) > 0
}

/// Runs `f`, which reads the input file `path` with polars' Parquet reader: that reader
/// panics on some corrupt files (a bad thrift field), and such a file is bad data, not a bug:
/// the panic becomes `Error::Unreadable` naming the file.
pub(crate) fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    use std::sync::atomic::Ordering::SeqCst;
    GUARDED.fetch_add(1, SeqCst);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.fetch_sub(1, SeqCst);
    r.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(unreadable(
            path,
            None,
            format!("not a readable Parquet file ({why})"),
        ))
    })
}

/// A frame polars read from the input file `path`, checked: a corrupt file can read as columns
/// of different lengths.
pub(crate) fn whole(path: &Path, df: DataFrame) -> Result<DataFrame> {
    match df.columns().iter().find(|c| c.len() != df.height()) {
        None => Ok(df),
        Some(c) => Err(unreadable(
            path,
            None,
            format!(
                "not a readable Parquet file: column `{}` has {} values for {} rows",
                c.name(),
                c.len(),
                df.height()
            ),
        )),
    }
}

pub(crate) fn unreadable(path: &Path, line: Option<u64>, message: String) -> Error {
    Error::Unreadable {
        path: path.to_path_buf(),
        line,
        message,
    }
}

/// Passes bytes through while hashing them and counting them for the progress bar.
pub(crate) struct Hashing<R> {
    inner: R,
    pub hash: Sha256,
    pub bytes: u64,
    bar: indicatif::ProgressBar,
}

impl<R> Hashing<R> {
    pub(crate) fn new(inner: R, bar: indicatif::ProgressBar) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            bytes: 0,
            bar,
        }
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        self.bar.set_position(self.bytes);
        Ok(n)
    }
}

/// CSV records with the physical line each starts on: `\n`, `\r\n` and a bare `\r` end a
/// line; a quoted field may span lines; blank lines are not records.
pub(crate) struct CsvRecords<R> {
    inner: R,
    core: csv_core::Reader,
    delimiter: u8,
    /// split lines without quotes on the delimiter instead of through `core` (tests compare)
    fast: bool,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    /// line ends consumed so far
    lines: u64,
    prev_cr: bool,
    /// the file offset of `buf[0]`, and of the last record's first byte
    offset: u64,
    record_start: u64,
    fields: Vec<u8>,
    ends: Vec<usize>,
    nfields: usize,
}

impl<R: Read> CsvRecords<R> {
    pub(crate) fn new(inner: R, delimiter: u8) -> Self {
        CsvRecords {
            inner,
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            delimiter,
            fast: true,
            buf: vec![0; 1 << 20].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            lines: 0,
            prev_cr: false,
            offset: 0,
            record_start: 0,
            fields: vec![0; 4096],
            ends: vec![0; 64],
            nfields: 0,
        }
    }

    /// Reads from file offset `offset`, a line start, instead of from the start of the file
    /// (lines are counted from there).
    pub(crate) fn starting_at(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    /// The file offset of the last record's first byte.
    pub(crate) fn record_start(&self) -> u64 {
        self.record_start
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    fn fill(&mut self) -> std::io::Result<()> {
        if self.start == self.end && !self.eof {
            let n = self.inner.read(&mut self.buf)?;
            self.offset += self.end as u64;
            (self.start, self.end, self.eof) = (0, n, n == 0);
        }
        Ok(())
    }

    fn count_lines(&mut self, bytes_from: usize, bytes_to: usize) {
        self.lines += line_ends(&self.buf[bytes_from..bytes_to], &mut self.prev_cr);
    }

    /// The next record and the line it starts on.
    pub(crate) fn next(&mut self) -> std::io::Result<Option<u64>> {
        // skip line ends (blank lines) so the record's first byte gives its line
        loop {
            self.fill()?;
            let from = self.start;
            while self.start < self.end && matches!(self.buf[self.start], b'\r' | b'\n') {
                self.start += 1;
            }
            self.count_lines(from, self.start);
            if self.start < self.end || self.eof {
                break;
            }
        }
        let line = self.lines + 1;
        self.record_start = self.offset + self.start as u64;
        if self.fast && self.plain_line() {
            return Ok(Some(line));
        }
        let (mut out, mut nend) = (0, 0);
        loop {
            self.fill()?;
            let (res, nin, nout, nends) = self.core.read_record(
                &self.buf[self.start..self.end],
                &mut self.fields[out..],
                &mut self.ends[nend..],
            );
            self.count_lines(self.start, self.start + nin);
            self.start += nin;
            out += nout;
            nend += nends;
            match res {
                csv_core::ReadRecordResult::InputEmpty => {
                    // at the end of the file the core finishes the last record on empty input
                }
                csv_core::ReadRecordResult::OutputFull => {
                    let len = self.fields.len();
                    self.fields.resize(len * 2, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                csv_core::ReadRecordResult::Record => {
                    self.nfields = nend;
                    return Ok(Some(line));
                }
                csv_core::ReadRecordResult::End => return Ok(None),
            }
        }
    }

    /// Takes the next record when it is a whole line in the buffer without a quote or a bare
    /// CR (most lines): its fields are the pieces between delimiters, as `core` would read
    /// them. Returns false, consuming nothing, for any other line.
    fn plain_line(&mut self) -> bool {
        let bytes = &self.buf[self.start..self.end];
        let Some(nl) = memchr::memchr(b'\n', bytes) else {
            return false;
        };
        let body = bytes[..nl].strip_suffix(b"\r").unwrap_or(&bytes[..nl]);
        if memchr::memchr2(b'"', b'\r', body).is_some() {
            return false;
        }
        if self.fields.len() < body.len() {
            self.fields.resize(body.len(), 0);
        }
        let (mut out, mut from, mut n) = (0, 0, 0);
        for to in memchr::memchr_iter(self.delimiter, body).chain([body.len()]) {
            let f = &body[from..to];
            self.fields[out..out + f.len()].copy_from_slice(f);
            out += f.len();
            if n == self.ends.len() {
                self.ends.push(0);
            }
            self.ends[n] = out;
            n += 1;
            from = to + 1;
        }
        self.nfields = n;
        // one line end: `\n` or `\r\n`
        self.lines += 1;
        self.prev_cr = false;
        self.start += nl + 1;
        true
    }

    /// Whether every field of the last record is UTF-8: the fields one after the other are,
    /// and none starts inside a character (one check instead of one per field).
    pub(crate) fn fields_are_utf8(&self) -> bool {
        let ends = &self.ends[..self.nfields];
        let all = &self.fields[..ends.last().copied().unwrap_or(0)];
        std::str::from_utf8(all).is_ok()
            && ends
                .iter()
                .all(|&e| all.get(e).is_none_or(|b| !(0x80..0xC0).contains(b)))
    }

    pub(crate) fn field(&self, i: usize) -> Option<&[u8]> {
        if i >= self.nfields {
            return None;
        }
        let from = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.fields[from..self.ends[i]])
    }
}

/// The line ends in `bytes` (`\n`, `\r\n` or a bare `\r`); `prev_cr` says whether the
/// bytes before ended in `\r`, and is set for the bytes after.
pub(crate) fn line_ends(bytes: &[u8], prev_cr: &mut bool) -> u64 {
    let Some(&last) = bytes.last() else { return 0 };
    if memchr::memchr(b'\r', bytes).is_none() {
        // no CR: every LF ends a line, but one right after a CR ending the last slice
        let lf = memchr::memchr_iter(b'\n', bytes).count() as u64;
        let n = lf - u64::from(*prev_cr && bytes[0] == b'\n');
        *prev_cr = false;
        return n;
    }
    let mut n = 0;
    for &b in bytes {
        if b == b'\r' || (b == b'\n' && !*prev_cr) {
            n += 1;
        }
        *prev_cr = b == b'\r';
    }
    debug_assert_eq!(*prev_cr, last == b'\r');
    n
}

pub(crate) fn read_header<R: Read>(
    rdr: &mut CsvRecords<R>,
    source: &Source,
    csv: &CsvOptions,
) -> Result<Vec<String>> {
    let line = rdr
        .next()
        .map_err(|e| unreadable(&source.path, Some(1), e.to_string()))?
        .ok_or_else(|| unreadable(&source.path, None, "empty file: no header row".into()))?;
    (0..rdr.nfields)
        .map(|i| {
            let f = rdr.field(i).unwrap_or_default();
            let f = if i == 0 {
                f.strip_prefix(b"\xef\xbb\xbf").unwrap_or(f)
            } else {
                f
            };
            decode(f, csv, &source.path, line, i)
                .map(|s| s.trim_matches(crate::values::is_trim_char).to_string())
        })
        .collect()
}

pub(crate) fn decode<'a>(
    bytes: &'a [u8],
    csv: &CsvOptions,
    path: &Path,
    line: u64,
    field: usize,
) -> Result<std::borrow::Cow<'a, str>> {
    if csv.encoding == encoding_rs::UTF_8 {
        std::str::from_utf8(bytes).map(Into::into).map_err(|_| {
            unreadable(
                path,
                Some(line),
                format!(
                    "field {} is not valid UTF-8; if the file is Windows-1252, set input.encoding = \"windows-1252\"",
                    field + 1
                ),
            )
        })
    } else {
        Ok(csv.encoding.decode_without_bom_handling(bytes).0)
    }
}

fn read_csv(source: &Source, csv: &CsvOptions, progress: &Progress) -> Result<RawTable> {
    let file = open(&source.path)?;
    let total = file.metadata().map_or(0, |m| m.len());
    let bar = progress.bytes(&format!("reading {}", file_name(&source.path)), total);
    let mut rdr = CsvRecords::new(
        Hashing::new(BufReader::with_capacity(1 << 16, file), bar.clone()),
        csv.delimiter,
    );
    let header = read_header(&mut rdr, source, csv)?;
    let positions = positions(source, &header)?;
    let df = csv_frame(&mut rdr, header.len(), None, csv, &source.path, total / 64)?;
    bar.finish_and_clear();
    let hashing = rdr.into_inner();
    Ok(RawTable {
        source: source.clone(),
        header,
        df,
        positions,
        sha256: hex(&hashing.hash.finalize()),
        bytes: hashing.bytes,
    })
}

/// The rest of a CSV file as a raw frame of `width` file columns: `line` is the physical line,
/// or, with `line_base`, the first field of each record plus the base (a bucket file written
/// by `route`).
/// `path` names the extract's file in messages.
pub(crate) fn csv_frame<R: Read>(
    rdr: &mut CsvRecords<R>,
    width: usize,
    line_base: Option<u64>,
    csv: &CsvOptions,
    path: &Path,
    rows_hint: u64,
) -> Result<DataFrame> {
    let cap = rows_hint.min(1 << 24) as usize;
    let mut cols: Vec<StringChunkedBuilder> = (0..width)
        .map(|i| StringChunkedBuilder::new(file_col(i).into(), cap))
        .collect();
    let mut lines: Vec<i64> = Vec::with_capacity(cap);
    let skip = usize::from(line_base.is_some());
    while let Some(mut line) = rdr
        .next()
        .map_err(|e| unreadable(path, None, e.to_string()))?
    {
        if let Some(base) = line_base {
            line = rdr
                .field(0)
                .and_then(|f| std::str::from_utf8(f).ok()?.parse::<u64>().ok())
                .map(|n| n + base)
                .ok_or_else(|| {
                    Error::Internal(format!(
                        "bucket file of {}: bad line number",
                        path.display()
                    ))
                })?;
        }
        lines.push(line as i64);
        let utf8 = csv.encoding == encoding_rs::UTF_8 && rdr.fields_are_utf8();
        for (i, col) in cols.iter_mut().enumerate() {
            match rdr.field(i + skip) {
                Some(f) => match clean(&if utf8 {
                    // SAFETY: `fields_are_utf8` found every field of this record UTF-8
                    std::borrow::Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(f) })
                } else {
                    decode(f, csv, path, line, i)?
                }) {
                    Some(v) => col.append_value(v),
                    None => col.append_null(),
                },
                None => col.append_null(),
            }
        }
    }
    let mut columns = vec![Column::new("line".into(), lines)];
    columns.extend(cols.into_iter().map(|b| b.finish().into_column()));
    Ok(DataFrame::new_infer_height(columns)?)
}

fn read_parquet(source: &Source, progress: &Progress) -> Result<RawTable> {
    let path = &source.path;
    let bar = progress.bytes(&format!("reading {}", file_name(path)), 0);
    let (sha256, bytes) = hash_file(path)?;
    let file = open(path)?;
    let df = guarded(path, || {
        ParquetReader::new(file)
            .finish()
            .map_err(|e| unreadable(path, None, e.to_string()))
            .and_then(|df| whole(path, df))
    })?;
    bar.finish_and_clear();
    let header: Vec<String> = df
        .get_column_names()
        .iter()
        .map(ToString::to_string)
        .collect();
    let positions = positions(source, &header)?;
    let df = parquet_frame(&df, 1)?;
    Ok(RawTable {
        source: source.clone(),
        header,
        df,
        positions,
        sha256,
        bytes,
    })
}

/// Rows of a Parquet file as a raw frame: `line` counts from `first_line`; dates, timestamps
/// and booleans keep their type, other columns become trimmed text.
pub(crate) fn parquet_frame(df: &DataFrame, first_line: i64) -> Result<DataFrame> {
    let mut columns = vec![Column::new(
        "line".into(),
        (first_line..first_line + df.height() as i64).collect::<Vec<_>>(),
    )];
    for (i, c) in df.columns().iter().enumerate() {
        let c = match c.dtype() {
            DataType::Date | DataType::Datetime(_, _) | DataType::Boolean => c.clone(),
            DataType::String => trimmed(c.str()?),
            _ => trimmed(c.cast(&DataType::String)?.str()?),
        };
        columns.push(c.with_name(file_col(i).into()));
    }
    Ok(DataFrame::new_infer_height(columns)?)
}

/// The column with values trimmed and empty ones null; the column itself (no copy) when
/// every value already is.
fn trimmed(s: &StringChunked) -> Column {
    // `clean` gives a part of the value: of the same length, it is the value
    if s.iter()
        .all(|v| v.is_none_or(|v| clean(v).map(str::len) == Some(v.len())))
    {
        return s.clone().into_column();
    }
    s.iter()
        .map(|v| v.and_then(clean))
        .collect::<StringChunked>()
        .into_column()
}

pub(crate) fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut file = open(path)?;
    let mut hash = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hash).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    Ok((hex(&hash.finalize()), bytes))
}

pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// A raw table from rows in memory (line numbers from 2), for unit tests.
#[cfg(test)]
pub(crate) fn raw_from_rows(table: Table, header: &[&str], rows: &[&[&str]]) -> RawTable {
    let source = Source {
        table,
        path: PathBuf::from(format!("{table}.csv")),
        format: Format::Csv,
    };
    let header: Vec<String> = header.iter().map(ToString::to_string).collect();
    let positions = positions(&source, &header).expect("test header has the required columns");
    let mut columns = vec![Column::new(
        "line".into(),
        (2..rows.len() as i64 + 2).collect::<Vec<_>>(),
    )];
    for i in 0..header.len() {
        let v: StringChunked = rows
            .iter()
            .map(|r| r.get(i).and_then(|v| clean(v)))
            .collect();
        columns.push(v.with_name(file_col(i).into()).into_column());
    }
    let df = DataFrame::new_infer_height(columns).expect("columns have one height");
    RawTable {
        source,
        header,
        df,
        positions,
        sha256: String::new(),
        bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Record = (u64, u64, Vec<String>);

    /// Every record as (line, offset, fields), read through a buffer of `size` bytes.
    fn records(text: &str, size: usize, fast: bool) -> Vec<Record> {
        let mut rdr = CsvRecords::new(text.as_bytes(), b';');
        rdr.buf = vec![0; size].into_boxed_slice();
        rdr.fast = fast;
        let mut out = Vec::new();
        while let Some(line) = rdr.next().expect("reads") {
            let text = |b: &[u8]| String::from_utf8(b.to_vec()).expect("utf-8");
            let fields = (0..rdr.nfields)
                .map(|i| text(rdr.field(i).unwrap_or_default()))
                .collect();
            out.push((line, rdr.record_start(), fields));
        }
        out
    }

    #[test]
    fn a_record_is_utf8_when_each_field_is() {
        let fields = |text: &[u8]| {
            let mut rdr = CsvRecords::new(text, b';');
            rdr.next().expect("reads").expect("a record");
            rdr.fields_are_utf8()
        };
        assert!(fields("ä;é;;x\n".as_bytes()));
        assert!(fields("\"a;\"\"é\";b\n".as_bytes()));
        // "é" cut in two by the delimiter: valid once the fields are joined, not field by field
        assert!(!fields(b"\xC3;\xA9\n"));
        assert!(!fields(b"a;\xFF\n"));
        assert!(!fields(b"\"\xC3\";\xA9\n"));
    }

    /// Lines without quotes are split on the delimiter as csv_core splits them, with the
    /// same lines and offsets, whatever the buffer size; quoted fields, bare CRs
    /// and a last line without a line end still read right.
    #[test]
    fn plain_lines_read_as_csv_core_reads_them() {
        let text = "a;b;c\r\n;;\n x ; y \n\n\r\nq;\"quoted;field\";z\rbare;cr\n\"two\nlines\";2\r\n1;2;3\n;last";
        let expected = records(text, 1 << 20, false);
        let lines: Vec<u64> = expected.iter().map(|r| r.0).collect();
        assert_eq!(lines, [1, 2, 3, 6, 7, 8, 10, 11]);
        let fields = |i: usize| expected[i].2.join("|");
        assert_eq!(fields(1), "||");
        assert_eq!(fields(2), " x | y ");
        assert_eq!(fields(3), "q|quoted;field|z");
        assert_eq!(fields(5), "two\nlines|2");
        assert_eq!(fields(7), "|last");
        assert_eq!(expected[3].1, 21, "offset of the line after the blank ones");
        for size in [1, 2, 3, 5, 8, 64, 1 << 20] {
            assert_eq!(records(text, size, true), expected, "buffer of {size}");
            assert_eq!(
                records(text, size, false),
                expected,
                "buffer of {size}, core only"
            );
        }
    }
}
