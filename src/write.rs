//! Writing a run folder: Parquet datasets (ZSTD, statistics on), `manifest.json` and
//! `_SUCCESS`, in a hidden temporary folder that is renamed into place only when complete.
//!
//! A run that fails removes its temporary folder; one that is killed leaves it hidden, and the
//! next run clears it. The previous folder of the same date stays as it was until the new one
//! is complete.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};

/// Rows per Parquet row group: small enough for DuckDB and polars to skip groups by their
/// statistics, large enough to compress well.
const ROW_GROUP: usize = 256 * 1024;

/// A run folder being written.
pub struct RunDir {
    pub tmp: PathBuf,
    pub target: PathBuf,
    published: bool,
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
    Error::Output {
        path: path.to_path_buf(),
        source,
    }
}

impl RunDir {
    /// Prepares `<root>/.as_of=DATE.tmp-PID/`, clearing what killed runs left behind.
    pub fn begin(root: &Path, as_of: NaiveDate) -> Result<RunDir> {
        fs::create_dir_all(root).map_err(|e| out_err(root, e))?;
        clear_leftovers(root);
        let name = format!("as_of={as_of}");
        let tmp = root.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| out_err(&tmp, e))?;
        }
        fs::create_dir(&tmp).map_err(|e| out_err(&tmp, e))?;
        Ok(RunDir {
            tmp,
            target: root.join(name),
            published: false,
        })
    }

    /// Writes one file of dataset `name`: `<name>/part-0.parquet`, or for a partition
    /// `<name>/<key>=<value>/part-0.parquet` (the key lives in the folder name only: `df`
    /// must not hold it). Returns the bytes written.
    pub fn part(
        &self,
        name: &str,
        partition: Option<(&str, &str)>,
        df: &mut DataFrame,
        private: bool,
    ) -> Result<u64> {
        let dir = self.partition_dir(name, partition.as_slice())?;
        write_parquet(&dir.join("part-0.parquet"), df, private)
    }

    /// Starts `<name>/<key>=<value>/.../part-0.parquet`, to be written a row group at a time
    /// (the keys live in the folder names only: the frames written must not hold them).
    pub fn part_writer(
        &self,
        name: &str,
        partition: &[(&str, &str)],
        schema: &Schema,
        private: bool,
    ) -> Result<PartWriter> {
        let dir = self.partition_dir(name, partition)?;
        PartWriter::create(dir.join("part-0.parquet"), schema, private, false)
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
        write_parquet(&dir.join(file), df, false)
    }

    /// Writes a dataset of one file.
    pub fn dataset(&self, name: &str, df: &DataFrame, private: bool) -> Result<Written> {
        let bytes = self.part(name, None, &mut df.clone(), private)?;
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
        let old = self.target.with_file_name(format!(
            ".{}.old-{}",
            self.target
                .file_name()
                .unwrap_or_default()
                .to_string_lossy(),
            std::process::id()
        ));
        let had_old = self.target.exists();
        if had_old {
            fs::rename(&self.target, &old).map_err(|e| out_err(&self.target, e))?;
        }
        if let Err(e) = fs::rename(&self.tmp, &self.target) {
            if had_old {
                let _ = fs::rename(&old, &self.target);
            }
            return Err(out_err(&self.target, e));
        }
        self.published = true;
        if had_old {
            let _ = fs::remove_dir_all(&old);
        }
        Ok(self.target.clone())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Removes `.as_of=*.tmp-PID` and `.as_of=*.old-PID` folders whose process is gone.
fn clear_leftovers(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(".as_of=") {
            continue;
        }
        let pid = name
            .rsplit_once(".tmp-")
            .or_else(|| name.rsplit_once(".old-"))
            .map(|(_, p)| p);
        if let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = fs::remove_dir_all(e.path());
            }
        }
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

/// A buffered output file that polars' Parquet writer writes to (it writes headers and
/// footers in many small pieces) and that is flushed, with its error seen, when polars is
/// done with it.
#[derive(Clone)]
pub struct SharedFile(std::sync::Arc<std::sync::Mutex<std::io::BufWriter<fs::File>>>);

impl SharedFile {
    pub fn new(file: fs::File) -> SharedFile {
        SharedFile(std::sync::Arc::new(std::sync::Mutex::new(
            std::io::BufWriter::with_capacity(1 << 20, file),
        )))
    }

    fn buf(&self) -> std::sync::MutexGuard<'_, std::io::BufWriter<fs::File>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes what is buffered to the file.
    pub fn finish(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        self.buf().flush().map_err(|e| out_err(path, e))
    }
}

impl std::io::Write for SharedFile {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf().write(b)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.buf().flush()
    }
}

/// A Parquet writer on a buffered file, and the file.
pub fn parquet_writer(
    path: &Path,
    private: bool,
) -> Result<(ParquetWriter<SharedFile>, SharedFile)> {
    let file = SharedFile::new(create(path, private)?);
    Ok((ParquetWriter::new(file.clone()), file))
}

/// A Parquet file written a row group at a time.
pub struct PartWriter {
    path: PathBuf,
    writer: polars::io::parquet::write::BatchedWriter<SharedFile>,
    file: SharedFile,
}

impl PartWriter {
    /// Starts the file `path`; a `spill` file (read back once by this run) is written
    /// without compression or statistics.
    pub fn create(path: PathBuf, schema: &Schema, private: bool, spill: bool) -> Result<Self> {
        let (w, file) = parquet_writer(&path, private)?;
        let w = if spill {
            w.with_compression(ParquetCompression::Uncompressed)
                .with_statistics(StatisticsOptions::empty())
        } else {
            options(w)
        };
        let writer = w.batched(schema).map_err(|e| output_error(&path, &e))?;
        Ok(PartWriter { path, writer, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `df` as one row group.
    pub fn write(&mut self, df: &mut DataFrame) -> Result<()> {
        df.rechunk_mut();
        self.writer
            .write_batch(df)
            .map_err(|e| output_error(&self.path, &e))
    }

    /// Finishes the file; returns its size.
    pub fn finish(self) -> Result<u64> {
        let size = self
            .writer
            .finish()
            .map_err(|e| output_error(&self.path, &e))?;
        self.file.finish(&self.path)?;
        Ok(size)
    }
}

/// A CSV file (UTF-8, `;`, header row) written in pieces, owner-only.
pub struct CsvPart {
    path: PathBuf,
    writer: csv::Writer<fs::File>,
}

impl CsvPart {
    pub fn create(path: &Path, header: &[&str]) -> Result<CsvPart> {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(create(path, true)?);
        writer
            .write_record(header)
            .map_err(|e| output_error(path, &e))?;
        Ok(CsvPart {
            path: path.to_path_buf(),
            writer,
        })
    }

    /// Writes the rows of `df`, each behind the values of `prefix`; dates as `YYYY-MM-DD`,
    /// null as an empty field.
    pub fn write(&mut self, prefix: &[&str], df: &DataFrame) -> Result<()> {
        let text: Vec<StringChunked> = df
            .columns()
            .iter()
            .map(|c| Ok(c.cast(&DataType::String)?.str()?.clone()))
            .collect::<Result<_>>()?;
        let mut record: Vec<&str> = Vec::with_capacity(prefix.len() + text.len());
        for i in 0..df.height() {
            record.clear();
            record.extend_from_slice(prefix);
            record.extend(text.iter().map(|c| c.get(i).unwrap_or("")));
            self.writer
                .write_record(&record)
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

fn options(w: ParquetWriter<SharedFile>) -> ParquetWriter<SharedFile> {
    w.with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .with_row_group_size(Some(ROW_GROUP))
        .set_parallel(false)
}

/// An output error from something other than `std::io` (polars' writer).
pub(crate) fn output_error(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn write_parquet(path: &Path, df: &mut DataFrame, private: bool) -> Result<u64> {
    let (w, file) = parquet_writer(path, private)?;
    let size = options(w).finish(df).map_err(|e| output_error(path, &e))?;
    file.finish(path)?;
    Ok(size)
}

pub(crate) fn create(path: &Path, private: bool) -> Result<fs::File> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
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
    }
}
