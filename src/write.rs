//! Writing a run folder: Parquet datasets (ZSTD, statistics on), `manifest.json` and
//! `_SUCCESS`, in a hidden temporary folder that is renamed into place only when complete.
//!
//! A run that fails removes its temporary folder; one that is killed leaves it hidden, and the
//! next run clears it. The previous folder of the same date stays as it was until the new one
//! is complete, and is replaced in one atomic exchange where the file system can (else it is
//! kept aside until the new one is in place, and put back by the next run if need be).

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_parquet::parquet::error::ParquetError;
use polars_parquet::write::{
    array_to_columns, get_dtype_encoding, to_parquet_schema, CompressionOptions, Compressor,
    DynIter, DynStreamingIterator, Encoding, FallibleStreamingIterator, FileWriter, ParquetType,
    StatisticsOptions, Version, WriteOptions,
};
use serde::Serialize;

pub use polars_parquet::write::KeyValue;

use crate::error::{Error, Result};
use crate::route::Shard;

/// Rows per Parquet row group: small enough for DuckDB and polars to skip groups by their
/// statistics, large enough to compress well.
const ROW_GROUP: usize = 256 * 1024;

/// A run folder being written.
pub struct RunDir {
    pub tmp: PathBuf,
    pub target: PathBuf,
    published: bool,
    /// The output root's lock, held until the run ends.
    _lock: fs::File,
    /// Key-value metadata of every Parquet file written (`set_metadata`).
    metadata: Vec<KeyValue>,
}

/// What was written to one dataset folder.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Written {
    pub path: String,
    pub rows: u64,
    pub files: u64,
    pub bytes: u64,
}

fn out_err(path: &Path, source: std::io::Error) -> Error {
    Error::output(path, source)
}

impl RunDir {
    /// Takes the output root's lock (`Error::Locked` while another run holds it), then
    /// prepares `<root>/.as_of=DATE.tmp-PID/`, clearing what killed runs left behind.
    pub fn begin(root: &Path, as_of: NaiveDate) -> Result<RunDir> {
        Self::begin_in(
            root,
            &format!("as_of={as_of}"),
            &root.join(".lock"),
            ".as_of=",
        )
    }

    /// Prepares shard `shard`'s result of night `as_of`, to be published as `shard_dir`, with
    /// a lock of its own: a night's shards run at the same time, each retried alone.
    pub fn begin_shard(root: &Path, as_of: NaiveDate, shard: Shard) -> Result<RunDir> {
        let target = shard_dir(root, as_of, shard);
        let (parent, name) = (
            target.parent().unwrap_or(root),
            file_name_of(&target).to_string(),
        );
        let lock = parent.join(format!(".{name}.lock"));
        Self::begin_in(parent, &name, &lock, &format!(".{name}."))
    }

    /// Takes the lock `lock`, clears the leftovers in `parent` whose names start with
    /// `leftovers`, and prepares `<parent>/.<name>.tmp-PID/` to be published as `<name>`.
    fn begin_in(parent: &Path, name: &str, lock_path: &Path, leftovers: &str) -> Result<RunDir> {
        fs::create_dir_all(parent).map_err(|e| out_err(parent, e))?;
        let lock = lock(lock_path)?;
        clear_leftovers(parent, leftovers);
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| out_err(&tmp, e))?;
        }
        fs::create_dir(&tmp).map_err(|e| out_err(&tmp, e))?;
        Ok(RunDir {
            tmp,
            target: parent.join(name),
            published: false,
            _lock: lock,
            metadata: Vec::new(),
        })
    }

    /// Sets the key-value metadata of every Parquet file written from now on.
    pub fn set_metadata(&mut self, pairs: &[(&str, String)]) {
        self.metadata = pairs
            .iter()
            .map(|(k, v)| KeyValue::new((*k).to_string(), v.clone()))
            .collect();
    }

    pub fn metadata(&self) -> &[KeyValue] {
        &self.metadata
    }

    /// Writes one file of dataset `name`: `<name>/part-0.parquet`, or for a partition
    /// `<name>/<key>=<value>/part-0.parquet` (the key lives in the folder name only: `df`
    /// must not hold it). Returns the bytes written.
    pub fn part(
        &self,
        name: &str,
        partition: Option<(&str, &str)>,
        df: &mut DataFrame,
        mode: Option<u32>,
    ) -> Result<u64> {
        let dir = self.partition_dir(name, partition.as_slice())?;
        write_parquet(&dir.join("part-0.parquet"), df, mode, &self.metadata)
    }

    /// Starts `<name>/<key>=<value>/.../part-<part>.parquet`, to be written a row group at a
    /// time (the keys live in the folder names only: the frames written must not hold them).
    pub fn part_writer(
        &self,
        name: &str,
        partition: &[(&str, &str)],
        part: usize,
        schema: &Schema,
        mode: Option<u32>,
    ) -> Result<PartWriter> {
        let dir = self.partition_dir(name, partition)?;
        Ok(PartWriter::create(
            dir.join(format!("part-{part}.parquet")),
            schema,
            mode,
            false,
        )?
        .with_metadata(&self.metadata))
    }

    /// `<name>/<key>=<value>/...`, created.
    pub fn partition_dir(&self, name: &str, partition: &[(&str, &str)]) -> Result<PathBuf> {
        let mut dir = self.tmp.join(name);
        for (key, value) in partition {
            dir.push(format!("{key}={}", escape(value)));
        }
        fs::create_dir_all(&dir).map_err(|e| out_err(&dir, e))?;
        Ok(dir)
    }

    /// Writes `<name>/<file>`, one file of a dataset written in parts.
    pub fn part_file(&self, name: &str, file: &str, df: &mut DataFrame) -> Result<u64> {
        let dir = self.tmp.join(name);
        fs::create_dir_all(&dir).map_err(|e| out_err(&dir, e))?;
        write_parquet(&dir.join(file), df, None, &self.metadata)
    }

    /// Writes a file of no rows with `schema` into dataset `name` under the partition
    /// `none` of each of `keys` (`dealer_id=none/...`), so that an empty dataset still reads
    /// as a table with its columns in DuckDB, polars, pyarrow and Spark (none of them reads a
    /// folder without files, and pyarrow cannot type a key whose only value is Hive's null).
    /// Returns the bytes written.
    pub fn empty_dataset(
        &self,
        name: &str,
        keys: &[&str],
        schema: &Schema,
        mode: Option<u32>,
    ) -> Result<u64> {
        let partition: Vec<(&str, &str)> = keys.iter().map(|k| (*k, "none")).collect();
        let dir = self.partition_dir(name, &partition)?;
        let mut df = DataFrame::empty_with_schema(schema);
        write_parquet(&dir.join("part-0.parquet"), &mut df, mode, &self.metadata)
    }

    /// Writes a dataset of one file.
    pub fn dataset(&self, name: &str, df: &DataFrame, mode: Option<u32>) -> Result<Written> {
        let bytes = self.part(name, None, &mut df.clone(), mode)?;
        Ok(Written {
            path: name.to_string(),
            rows: df.height() as u64,
            files: 1,
            bytes,
        })
    }

    /// Writes `manifest.json` and `_SUCCESS`, then puts the folder in place of any earlier
    /// one of the same date.
    pub fn publish(mut self, manifest: &impl Serialize) -> Result<PathBuf> {
        let json =
            serde_json::to_vec_pretty(manifest).map_err(|e| Error::Internal(e.to_string()))?;
        let m = self.tmp.join("manifest.json");
        fs::write(&m, json).map_err(|e| out_err(&m, e))?;
        let s = self.tmp.join("_SUCCESS");
        fs::write(&s, b"").map_err(|e| out_err(&s, e))?;
        fail_point("publish_written");
        if self.target.exists() && exchange(&self.tmp, &self.target).is_ok() {
            // one atomic step: the new night is in view, the old one under the hidden name
            self.published = true;
            fail_point("publish_exchanged");
            let _ = fs::remove_dir_all(&self.tmp);
            return Ok(self.target.clone());
        }
        // no exchange (a file system without it, or no earlier folder): two renames, with
        // the earlier folder kept aside until the new one is in place; a run killed between
        // them leaves `.as_of=DATE.old-PID`, which the next run puts back (`clear_leftovers`)
        let old = aside(&self.target, std::process::id());
        let had_old = self.target.exists();
        if had_old {
            fs::rename(&self.target, &old).map_err(|e| out_err(&self.target, e))?;
            fail_point("publish_moved_old");
        }
        if let Err(e) = fs::rename(&self.tmp, &self.target) {
            if had_old {
                let _ = fs::rename(&old, &self.target);
            }
            return Err(out_err(&self.target, e));
        }
        self.published = true;
        fail_point("publish_renamed");
        if had_old {
            let _ = fs::remove_dir_all(&old);
        }
        Ok(self.target.clone())
    }
}

/// Where shard `shard`'s result of night `as_of` is published, out of readers' sight:
/// `<root>/.shards/as_of=DATE/shard=I-of-N/`.
pub fn shard_dir(root: &Path, as_of: NaiveDate, shard: Shard) -> PathBuf {
    root.join(".shards")
        .join(format!("as_of={as_of}"))
        .join(format!("shard={}-of-{}", shard.index, shard.count))
}

fn file_name_of(p: &Path) -> std::borrow::Cow<'_, str> {
    p.file_name().unwrap_or_default().to_string_lossy()
}

/// An advisory lock on the file `path` (`flock`; `<root>/.lock` for a night), so that two
/// runs never write one output at once: the second fails with `Error::Locked` naming the
/// holder's process id. The kernel releases the lock when the holder ends, however it ends.
fn lock(path: &Path) -> Result<fs::File> {
    use std::io::{Read, Seek, Write};
    use std::os::unix::io::AsRawFd;
    let path = path.to_path_buf();
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| out_err(&path, e))?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::WouldBlock {
            return Err(out_err(&path, err));
        }
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        return Err(Error::Locked {
            path,
            holder: holder.trim().to_string(),
        });
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    Ok(file)
}

/// Where the published folder `target` waits while process `pid` puts a new one in place.
fn aside(target: &Path, pid: u32) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    target.with_file_name(format!(".{name}.old-{pid}"))
}

/// Swaps two folders in one atomic step (`renameat2(RENAME_EXCHANGE)`, Linux 3.15 and most
/// local file systems); an error when the system or file system cannot. The test hook
/// `ELIGIBILITY_NO_EXCHANGE=1` makes it fail, to test the two-rename path.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    if std::env::var_os("ELIGIBILITY_NO_EXCHANGE").is_some() {
        return Err(std::io::ErrorKind::Unsupported.into());
    }
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both paths are NUL-terminated strings that live across the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Test hook: `ELIGIBILITY_ABORT_AT=<point>` aborts the process there, as a kill would;
/// `ELIGIBILITY_ABORT_AT=panic:<point>` panics there, as a bug would.
pub(crate) fn fail_point(point: &str) {
    let Ok(at) = std::env::var("ELIGIBILITY_ABORT_AT") else {
        return;
    };
    if at == point {
        std::process::abort();
    }
    assert!(
        at.strip_prefix("panic:") != Some(point),
        "test hook: a panic at {point}"
    );
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Cleans what killed runs left behind, before anything else, with the lock of what they
/// wrote held (so their runs are gone, whatever their process ids: in a container every
/// night's run has the same one). Of the folders whose names start with `prefix`: a
/// `.as_of=DATE.old-PID` folder is put back as `as_of=DATE` when that is missing (a run
/// killed between the publish's two renames), else removed; `.as_of=*.tmp-PID` folders are
/// removed (likewise `.shard=I-of-N.*` in a night's shards). The only copy of a night is
/// never deleted.
fn clear_leftovers(root: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && Path::new(n).extension() != Some("lock".as_ref()))
        .collect();
    // `.old` before `.tmp`, so a night is restored before anything is removed
    names.sort_by_key(|n| !n.contains(".old-"));
    for name in names {
        let Some((stem, pid)) = name
            .rsplit_once(".old-")
            .or_else(|| name.rsplit_once(".tmp-"))
        else {
            continue;
        };
        if pid.parse::<u32>().is_err() {
            continue;
        }
        let path = root.join(&name);
        if name.contains(".old-") {
            let night = root.join(&stem[1..]);
            if !night.exists() {
                let _ = fs::rename(&path, &night);
                continue;
            }
        }
        let _ = fs::remove_dir_all(&path);
    }
}

/// A partition value as a folder name: letters, digits, `-`, `_` and `.` as they are, any
/// other byte as `%XX` (Hive's escaping).
pub fn escape(v: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.starts_with('.') {
        out.replace_range(0..1, "%2E");
    }
    out
}

/// The value that `escape` turned into `v`.
pub fn unescape(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'%')
            .then(|| b.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let Some(x) = hex {
            out.push(x);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Parquet file written a row group at a time, through polars' Parquet encoder, choosing
/// each text column's encoding here: polars would find a dictionary by hashing every value
/// (a fifth of a run's time), where the text columns written here mostly repeat values
/// gathered from one place, so their 16-byte views repeat too and are hashed instead.
/// The file's Arrow schema is the frame's: text reads back as text.
pub struct PartWriter {
    path: PathBuf,
    writer: FileWriter<BufWriter<fs::File>>,
    fields: Vec<ParquetType>,
    options: WriteOptions,
    metadata: Vec<KeyValue>,
}

impl PartWriter {
    /// Starts the file `path` (ZSTD, full statistics); a `spill` file, read back once by this
    /// run, is written without compression or statistics.
    pub fn create(path: PathBuf, schema: &Schema, mode: Option<u32>, spill: bool) -> Result<Self> {
        // the footer's Arrow schema names plain (large) strings, not string views, which
        // pyarrow 14 and older cannot read; the pages are the same either way
        let arrow = schema.to_arrow(CompatLevel::oldest());
        let parquet = to_parquet_schema(&arrow).map_err(|e| output_error(&path, &e))?;
        let options = WriteOptions {
            statistics: if spill {
                StatisticsOptions::empty()
            } else {
                StatisticsOptions::full()
            },
            compression: if spill {
                CompressionOptions::Uncompressed
            } else {
                CompressionOptions::Zstd(None)
            },
            version: Version::V1,
            data_page_size: None,
        };
        let fields = parquet.fields().to_vec();
        let file = BufWriter::with_capacity(1 << 20, create(&path, mode)?);
        let writer = FileWriter::new_with_parquet_schema(file, arrow, parquet, options);
        Ok(PartWriter {
            path,
            writer,
            fields,
            options,
            metadata: Vec::new(),
        })
    }

    /// The key-value metadata the file's footer will carry.
    #[must_use]
    pub fn with_metadata(mut self, metadata: &[KeyValue]) -> Self {
        self.metadata = metadata.to_vec();
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `df` as one row group.
    pub fn write(&mut self, df: &mut DataFrame) -> Result<()> {
        if df.height() == 0 {
            return Ok(());
        }
        df.rechunk_mut();
        let err = |e: PolarsError| output_error(&self.path, &e);
        let mut columns = Vec::new();
        for batch in df.iter_chunks(CompatLevel::newest(), false) {
            for (array, field) in batch.into_arrays().into_iter().zip(&self.fields) {
                let (array, encoding) = encoding(array);
                let pages =
                    array_to_columns(array, field.clone(), self.options, &encoding).map_err(err)?;
                for pages in pages {
                    let pages =
                        pages.map(|p| p.map_err(|e| ParquetError::OutOfSpec(e.to_string())));
                    let compressed =
                        Compressor::new(DynIter::new(pages), self.options.compression, vec![])
                            .map_err(PolarsError::from);
                    columns.push(Ok(DynStreamingIterator::new(compressed)));
                }
            }
        }
        self.writer
            .write(df.height() as u64, DynIter::new(columns.into_iter()))
            .map_err(err)
    }

    /// Finishes the file; returns its size.
    pub fn finish(mut self) -> Result<u64> {
        let metadata = std::mem::take(&mut self.metadata);
        let size = self
            .writer
            .end((!metadata.is_empty()).then_some(metadata))
            .map_err(|e| output_error(&self.path, &e))?;
        self.writer
            .into_inner()
            .into_inner()
            .map_err(|e| out_err(&self.path, e.into_error()))?;
        Ok(size)
    }
}

/// How to write one column: text as a dictionary when its views repeat enough, else plain;
/// other types as polars would.
fn encoding(array: ArrayRef) -> (ArrayRef, Vec<Encoding>) {
    let Some(text) = array.as_any().downcast_ref::<Utf8ViewArray>() else {
        let encodings = get_dtype_encoding(array.dtype());
        return (array, encodings);
    };
    match dictionary(text) {
        Some(dict) => (Box::new(dict), vec![Encoding::RleDictionary]),
        None => (array, vec![Encoding::Plain]),
    }
}

/// `text` as a dictionary of its distinct views (equal views are equal strings; equal long
/// strings stored apart may get two entries, which readers do not mind), or `None` when more
/// than three in four values are distinct, when polars would not use one either.
fn dictionary(text: &Utf8ViewArray) -> Option<DictionaryArray<u32>> {
    let views = text.views();
    let mut index: PlHashMap<u128, u32> = PlHashMap::new();
    let mut firsts: Vec<usize> = Vec::new();
    let mut keys: Vec<u32> = Vec::with_capacity(views.len());
    let mut check = 1024;
    // values often repeat the one before (a record's cells share its customer_id)
    let mut last: Option<(u128, u32)> = None;
    for (i, v) in views.iter().enumerate() {
        if !text.is_valid(i) {
            keys.push(0);
            continue;
        }
        let v = v.as_u128();
        let k = match last {
            Some((view, k)) if view == v => k,
            _ => {
                let next = firsts.len() as u32;
                let k = *index.entry(v).or_insert_with(|| {
                    firsts.push(i);
                    next
                });
                last = Some((v, k));
                k
            }
        };
        keys.push(k);
        if i + 1 == check {
            if firsts.len() * 4 > check * 3 {
                return None;
            }
            check *= 4;
        }
    }
    if firsts.is_empty() || firsts.len() * 4 > views.len() * 3 {
        return None;
    }
    // SAFETY: every index in `firsts` is below the array's length
    let values: Vec<&str> = firsts
        .iter()
        .map(|&i| unsafe { text.value_unchecked(i) })
        .collect();
    let keys = PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), text.validity().cloned());
    DictionaryArray::try_new(
        ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::Utf8View),
            false,
        ),
        keys,
        Box::new(Utf8ViewArray::from_slice_values(values)),
    )
    .ok()
}

/// How CSV files for a mailing platform are written.
#[derive(Clone, Copy, Debug)]
pub struct CsvFormat {
    pub delimiter: u8,
    /// Start with a UTF-8 byte order mark.
    pub bom: bool,
    pub mode: Option<u32>,
}

/// A CSV file (UTF-8, header row) written in pieces.
pub struct CsvPart {
    path: PathBuf,
    writer: csv::Writer<fs::File>,
    header: Vec<&'static str>,
}

impl CsvPart {
    pub fn create(path: &Path, header: &[&'static str], format: CsvFormat) -> Result<CsvPart> {
        let mut file = create(path, format.mode)?;
        if format.bom {
            file.write_all("\u{feff}".as_bytes())
                .map_err(|e| out_err(path, e))?;
        }
        let mut writer = csv::WriterBuilder::new()
            .delimiter(format.delimiter)
            .from_writer(file);
        writer
            .write_record(header)
            .map_err(|e| output_error(path, &e))?;
        Ok(CsvPart {
            path: path.to_path_buf(),
            writer,
            header: header.to_vec(),
        })
    }

    /// Writes the rows of `df`: each header column from `fixed` (a value for every row) or
    /// else the column of `df` of that name; dates as `YYYY-MM-DD`, null as an empty field,
    /// and no line break inside a field.
    pub fn write(&mut self, fixed: &[(&str, &str)], df: &DataFrame) -> Result<()> {
        enum Field<'a> {
            Fixed(&'a str),
            Column(StringChunked),
        }
        let fields: Vec<Field> = self
            .header
            .iter()
            .map(|h| match fixed.iter().find(|(k, _)| k == h) {
                Some((_, v)) => Ok(Field::Fixed(v)),
                None => Ok(Field::Column(
                    df.column(h)?.cast(&DataType::String)?.str()?.clone(),
                )),
            })
            .collect::<Result<_>>()?;
        let mut record: Vec<std::borrow::Cow<str>> = Vec::with_capacity(fields.len());
        for i in 0..df.height() {
            record.clear();
            record.extend(fields.iter().map(|f| {
                let v = match f {
                    Field::Fixed(v) => v,
                    Field::Column(c) => c.get(i).unwrap_or(""),
                };
                if v.chars().any(crate::audience::breaks) {
                    std::borrow::Cow::Owned(crate::audience::one_line(v))
                } else {
                    std::borrow::Cow::Borrowed(v)
                }
            }));
            self.writer
                .write_record(record.iter().map(|v| v.as_bytes()))
                .map_err(|e| output_error(&self.path, &e))?;
        }
        Ok(())
    }

    /// Finishes the file; returns its size.
    pub fn finish(mut self) -> Result<u64> {
        self.writer
            .flush()
            .map_err(|e| output_error(&self.path, &e))?;
        fs::metadata(&self.path)
            .map(|m| m.len())
            .map_err(|e| out_err(&self.path, e))
    }
}

/// An output error from something other than `std::io` (polars' writer), keeping a full
/// disk recognisable (its exit code differs from a permission problem's).
pub(crate) fn output_error(path: &Path, e: &dyn std::fmt::Display) -> Error {
    let text = e.to_string();
    let kind = if text.contains("os error 28") {
        std::io::ErrorKind::StorageFull
    } else if text.contains("os error 27") {
        std::io::ErrorKind::FileTooLarge
    } else {
        std::io::ErrorKind::Other
    };
    Error::Output {
        path: path.to_path_buf(),
        source: std::io::Error::new(kind, text),
    }
}

/// Writes `df` as one file, in row groups of `ROW_GROUP` rows.
fn write_parquet(
    path: &Path,
    df: &mut DataFrame,
    mode: Option<u32>,
    metadata: &[KeyValue],
) -> Result<u64> {
    let mut w =
        PartWriter::create(path.to_path_buf(), df.schema(), mode, false)?.with_metadata(metadata);
    let mut offset = 0;
    while offset < df.height() {
        w.write(&mut df.slice(offset as i64, ROW_GROUP))?;
        offset += ROW_GROUP;
    }
    w.finish()
}

/// The mode of files only their owner may read (personal data).
pub const PRIVATE: Option<u32> = Some(0o600);

/// Creates `path`, which must not exist; with `mode`, the file has exactly that mode
/// (whatever the umask), else the umask's.
pub(crate) fn create(path: &Path, mode: Option<u32>) -> Result<fs::File> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        // created owner-only, then opened up to `mode`, so no one reads it in between
        opts.mode(0o600);
        let file = opts.open(path).map_err(|e| out_err(path, e))?;
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| out_err(path, e))?;
        return Ok(file);
    }
    #[cfg(not(unix))]
    let _ = mode;
    opts.open(path).map_err(|e| out_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_are_escaped() {
        assert_eq!(escape("D001"), "D001");
        assert_eq!(escape("Garage a/b=c"), "Garage%20a%2Fb%3Dc");
        assert_eq!(escape(".."), "%2E.");
        for v in ["D001", "Garage a/b=c", "..", "Citroën 100%", "%zz"] {
            assert_eq!(unescape(&escape(v)), v);
        }
    }

    #[test]
    fn repeated_text_becomes_a_dictionary_of_its_values() {
        let long = "a value longer than twelve bytes";
        let words = StringChunked::new("w".into(), [long, "ab", long, "ab"]);
        // gathered from `words`, as the output's text columns are: equal values share a view
        let picks = IdxCa::new("i".into(), [Some(0), None, Some(1), Some(0), Some(1)]);
        let text = words.take(&picks).expect("take");
        let text = text.rechunk();
        let array = text.downcast_as_array();
        let dict = dictionary(array).expect("repeated values make a dictionary");
        assert_eq!(dict.values().len(), 2, "one entry per distinct view");
        let back: Vec<Option<&str>> = (0..dict.len())
            .map(|i| {
                dict.is_valid(i).then(|| {
                    let k = dict.keys().value(i) as usize;
                    let v = dict.values().as_any().downcast_ref::<Utf8ViewArray>();
                    v.expect("text values").value(k)
                })
            })
            .collect();
        assert_eq!(back, [Some(long), None, Some("ab"), Some(long), Some("ab")]);
        let distinct: Vec<String> = (0..2000).map(|i| format!("customer-{i}")).collect();
        let distinct = StringChunked::new("d".into(), &distinct);
        assert!(dictionary(distinct.rechunk().downcast_as_array()).is_none());
    }

    #[test]
    fn written_files_read_back_as_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let n = 3000;
        let df = df!(
            "id" => (0..n).map(|i| format!("C{i}")).collect::<Vec<_>>(),
            "word" => (0..n).map(|i| ["email", "post", "a much longer category name"][i % 3]).collect::<Vec<_>>(),
            "maybe" => (0..n).map(|i| (i % 7 != 0).then_some("x")).collect::<Vec<_>>(),
            "none" => (0..n).map(|_| None::<&str>).collect::<Vec<_>>(),
            "flag" => (0..n).map(|i| i % 2 == 0).collect::<Vec<_>>(),
            "day" => (0..n).map(|i| i as i32).collect::<Vec<_>>(),
        )
        .expect("frame")
        .lazy()
        .with_column(col("day").cast(DataType::Date))
        .collect()
        .expect("dates");
        for spill in [false, true] {
            let path = dir.path().join(format!("t-{spill}.parquet"));
            let mut w = PartWriter::create(path.clone(), df.schema(), None, spill).expect("writer");
            w.write(&mut df.slice(0, 1000)).expect("first group");
            w.write(&mut df.slice(1000, n)).expect("second group");
            w.finish().expect("finished");
            let file = fs::File::open(&path).expect("written");
            let back = ParquetReader::new(file).finish().expect("reads");
            assert_eq!(back.schema(), df.schema());
            assert!(back.equals_missing(&df), "{spill}: {back}");
        }
    }
}
