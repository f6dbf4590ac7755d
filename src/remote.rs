//! Extracts and outputs on object storage: `--input` and `--out` as `s3://`, `gs://`, `az://`
//! or `file://` URLs, through the `object_store` crate, with credentials from the usual
//! environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`; `AWS_ENDPOINT_URL` and
//! `AWS_ALLOW_HTTP=true` for an S3-compatible server).
//!
//! A run works on local files in a staging folder under `TMPDIR`, removed when it ends: the
//! extract is downloaded there, with the published nights the run compares with (the
//! previous night whole, the manifests of the 30 before it for the report's history), and
//! the night is published there as on a local disk, then uploaded.
//!
//! A store has no rename, so a night is published by a marker instead: every file goes under
//! a prefix of its own run, `<out>/as_of=DATE/run=RUN_ID/`, and then the marker
//! `<out>/as_of=DATE/_SUCCESS` is written, last, naming the run id and listing the files.
//! Readers that follow the marker never see half a night; a killed run leaves only a
//! prefix no marker names, which the next run of that night deletes (as it deletes the run
//! its marker replaced). A shard's result is published the same way under
//! `<out>/.shards/as_of=DATE/shard=I-of-N/`. Nothing locks a store: the scheduler runs one
//! task per night (or per shard) at a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use futures::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, ObjectStoreScheme, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::progress::Progress;
use crate::route::Shard;
use crate::run::{self, Job, Report};
use crate::schema::Table;

/// Whether a `--input` or `--out` names object storage rather than a local folder.
pub fn is_url(p: &Path) -> bool {
    p.to_str().is_some_and(|p| p.contains("://"))
}

/// The marker that publishes a night (or a shard's result) on a store.
#[derive(Debug, Serialize, Deserialize)]
pub struct Marker {
    pub run_id: String,
    /// The files of the night, relative to the marker's folder (`run=RUN_ID/...`).
    pub files: Vec<MarkedFile>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct MarkedFile {
    pub path: String,
    pub bytes: u64,
}

/// An object store and the prefix a URL names in it.
pub struct Store {
    url: String,
    /// For `file://`: the folder, whose emptied folders are removed too.
    local: Option<PathBuf>,
    inner: Arc<dyn ObjectStore>,
    root: Key,
    rt: tokio::runtime::Runtime,
}

/// Bytes uploaded in one request; larger files go up in parts of this size.
const PART: usize = 16 << 20;

impl Store {
    pub fn open(url: &str) -> Result<Store> {
        use object_store::aws::AmazonS3Builder;
        use object_store::azure::MicrosoftAzureBuilder;
        use object_store::gcp::GoogleCloudStorageBuilder;
        let bad = |why: String| Error::Usage(format!("{url}: {why}"));
        let parsed = url::Url::parse(url).map_err(|e| bad(format!("not a URL: {e}")))?;
        let (scheme, path) =
            ObjectStoreScheme::parse(&parsed).map_err(|e| bad(format!("not a store URL: {e}")))?;
        let config = |e: object_store::Error| bad(format!("cannot open the store: {e}"));
        let store: Arc<dyn ObjectStore> = match scheme {
            ObjectStoreScheme::Local => Arc::new(object_store::local::LocalFileSystem::new()),
            ObjectStoreScheme::AmazonS3 => Arc::new(
                AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(config)?,
            ),
            ObjectStoreScheme::GoogleCloudStorage => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(config)?,
            ),
            ObjectStoreScheme::MicrosoftAzure => Arc::new(
                MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(config)?,
            ),
            other => {
                return Err(bad(format!(
                    "{other:?} is not supported: use s3://, gs://, az:// or file://"
                )))
            }
        };
        let root = path;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("no async runtime: {e}")))?;
        let local = matches!(scheme, ObjectStoreScheme::Local)
            .then(|| parsed.to_file_path().ok())
            .flatten();
        Ok(Store {
            url: url.trim_end_matches('/').to_string(),
            local,
            inner: store,
            root,
            rt,
        })
    }

    fn key(&self, rel: &str) -> Key {
        rel.split('/')
            .filter(|p| !p.is_empty())
            .fold(self.root.clone(), Key::join)
    }

    fn err(&self, rel: &str, e: &object_store::Error) -> Error {
        Error::Store {
            url: format!("{}/{rel}", self.url),
            message: e.to_string(),
            not_found: matches!(e, object_store::Error::NotFound { .. }),
        }
    }

    /// The objects under `rel`, at any depth, as paths relative to `rel`.
    fn list(&self, rel: &str) -> Result<Vec<String>> {
        let prefix = self.key(rel);
        let found: Vec<object_store::ObjectMeta> = self
            .rt
            .block_on(self.inner.list(Some(&prefix)).try_collect())
            .map_err(|e| self.err(rel, &e))?;
        Ok(found
            .into_iter()
            .filter_map(|m| {
                let parts: Vec<String> = m
                    .location
                    .prefix_match(&prefix)?
                    .map(|p| p.as_ref().to_string())
                    .collect();
                Some(parts.join("/"))
            })
            .collect())
    }

    /// What is directly under `rel`: the names of its folders (common prefixes) and of its
    /// objects, one listing request per thousand, however much lies deeper.
    fn children(&self, rel: &str) -> Result<(Vec<String>, Vec<String>)> {
        let prefix = self.key(rel);
        let found = self
            .rt
            .block_on(self.inner.list_with_delimiter(Some(&prefix)))
            .map_err(|e| self.err(rel, &e))?;
        let names = |paths: Vec<&Key>| -> Vec<String> {
            paths
                .into_iter()
                .filter_map(|k| k.filename().map(String::from))
                .collect()
        };
        Ok((
            names(found.common_prefixes.iter().collect()),
            names(found.objects.iter().map(|o| &o.location).collect()),
        ))
    }

    /// The object `rel`, or `None` when there is none.
    fn get(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let key = self.key(rel);
        let got = self.rt.block_on(async {
            match self.inner.get(&key).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        got.map(|b| b.map(|b| b.to_vec()))
            .map_err(|e| self.err(rel, &e))
    }

    fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        let key = self.key(rel);
        self.rt
            .block_on(self.inner.put(&key, PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(|e| self.err(rel, &e))
    }

    /// Downloads the object `rel` to the file `to`, a part at a time.
    fn download(&self, rel: &str, to: &Path) -> Result<()> {
        use std::io::Write;
        let key = self.key(rel);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
        }
        let mut file = std::fs::File::create(to).map_err(|e| Error::output(to, e))?;
        self.rt.block_on(async {
            let mut stream = self
                .inner
                .get(&key)
                .await
                .map_err(|e| self.err(rel, &e))?
                .into_stream();
            while let Some(chunk) = stream.try_next().await.map_err(|e| self.err(rel, &e))? {
                file.write_all(&chunk).map_err(|e| Error::output(to, e))?;
            }
            Ok::<(), Error>(())
        })?;
        file.flush().map_err(|e| Error::output(to, e))
    }

    /// Uploads the local file `from` as `rel`: at once, or in parts when large.
    fn upload(&self, from: &Path, rel: &str) -> Result<()> {
        use std::io::Read;
        let size = std::fs::metadata(from)
            .map_err(|e| Error::io(from, e))?
            .len();
        if size <= PART as u64 {
            let bytes = std::fs::read(from).map_err(|e| Error::io(from, e))?;
            return self.put(rel, bytes);
        }
        let key = self.key(rel);
        let mut file = std::fs::File::open(from).map_err(|e| Error::io(from, e))?;
        self.rt.block_on(async {
            let upload = self
                .inner
                .put_multipart(&key)
                .await
                .map_err(|e| self.err(rel, &e))?;
            let mut w = object_store::WriteMultipart::new_with_chunk_size(upload, PART);
            let mut buf = vec![0; PART];
            loop {
                let n = file.read(&mut buf).map_err(|e| Error::io(from, e))?;
                if n == 0 {
                    break;
                }
                w.wait_for_capacity(4)
                    .await
                    .map_err(|e| self.err(rel, &e))?;
                w.write(&buf[..n]);
            }
            w.finish().await.map_err(|e| self.err(rel, &e))?;
            Ok(())
        })
    }

    /// Deletes every object under `rel`.
    fn delete_all(&self, rel: &str) -> Result<()> {
        for path in self.list(rel)? {
            let key = self.key(&format!("{rel}/{path}"));
            self.rt
                .block_on(self.inner.delete(&key))
                .map_err(|e| self.err(rel, &e))?;
        }
        if let Some(root) = &self.local {
            let _ = std::fs::remove_dir_all(root.join(rel));
        }
        Ok(())
    }

    /// The marker of the night (or shard result) in folder `rel`, if published.
    pub fn marker(&self, rel: &str) -> Result<Option<Marker>> {
        let Some(bytes) = self.get(&format!("{rel}/_SUCCESS"))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Store {
                url: format!("{}/{rel}/_SUCCESS", self.url),
                message: format!("not a marker of this tool: {e}"),
                not_found: false,
            })
    }

    /// Downloads the published night (or shard result) in folder `rel` into the local folder
    /// `to`, as the local publish would have left it; false when nothing is published there.
    /// With `only`, just those files of it.
    fn fetch_published(&self, rel: &str, to: &Path, only: Option<&[&str]>) -> Result<bool> {
        let Some(marker) = self.marker(rel)? else {
            return Ok(false);
        };
        let run = format!("run={}", marker.run_id);
        for f in &marker.files {
            let inner = f.path.strip_prefix(&format!("{run}/")).unwrap_or(&f.path);
            if only.is_some_and(|o| !o.contains(&inner)) {
                continue;
            }
            self.download(&format!("{rel}/{}", f.path), &to.join(inner))?;
        }
        std::fs::create_dir_all(to).map_err(|e| Error::output(to, e))?;
        std::fs::write(to.join("_SUCCESS"), b"").map_err(|e| Error::output(to, e))?;
        Ok(true)
    }

    /// Uploads the local folder `from` (a published night or shard result) as the run
    /// `run_id` of folder `rel`, then writes the marker, then deletes the folder's other
    /// runs: those of killed runs and the one the marker replaced.
    fn publish(&self, from: &Path, rel: &str, run_id: &str, progress: &Progress) -> Result<()> {
        let run = format!("run={run_id}");
        let mut files = Vec::new();
        let mut stack = vec![from.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                let p = e.map_err(|e| Error::io(&dir, e))?.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p != from.join("_SUCCESS") {
                    files.push(p);
                }
            }
        }
        files.sort();
        let bar = progress.count("files uploaded", files.len() as u64);
        let mut listed = Vec::new();
        for p in &files {
            let inner = p
                .strip_prefix(from)
                .unwrap_or(p)
                .to_string_lossy()
                .replace('\\', "/");
            let path = format!("{run}/{inner}");
            self.upload(p, &format!("{rel}/{path}"))?;
            let bytes = std::fs::metadata(p).map_or(0, |m| m.len());
            listed.push(MarkedFile { path, bytes });
            bar.inc(1);
        }
        bar.finish_and_clear();
        let marker = Marker {
            run_id: run_id.to_string(),
            files: listed,
        };
        let json =
            serde_json::to_vec_pretty(&marker).map_err(|e| Error::Internal(e.to_string()))?;
        crate::write::fail_point("before_marker");
        self.put(&format!("{rel}/_SUCCESS"), json)?;
        self.clean(rel, Some(run_id))
    }

    /// Deletes the runs in folder `rel` other than `keep`.
    fn clean(&self, rel: &str, keep: Option<&str>) -> Result<()> {
        let (folders, _) = self.children(rel)?;
        for r in folders.into_iter().filter(|r| r.starts_with("run=")) {
            if keep.is_none_or(|k| r != format!("run={k}")) {
                self.delete_all(&format!("{rel}/{r}"))?;
            }
        }
        Ok(())
    }

    /// The dates of the night folders under the root, oldest first (published or not).
    fn nights(&self) -> Result<Vec<NaiveDate>> {
        let (folders, _) = self.children("")?;
        let mut nights: Vec<NaiveDate> = folders
            .iter()
            .filter_map(|f| NaiveDate::parse_from_str(f.strip_prefix("as_of=")?, "%Y-%m-%d").ok())
            .collect();
        nights.sort();
        Ok(nights)
    }
}

/// A fresh run id: the time and the process, unique enough for runs of one night.
fn run_id() -> String {
    let now = chrono::Utc::now();
    format!(
        "{}-{}",
        now.format("%Y%m%dT%H%M%S%.6fZ"),
        std::process::id()
    )
}

/// A staging folder for a run on a store: owner-only, removed when the run ends.
fn stage() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("eligibility-stage-")
        .tempdir()
        .map_err(|e| Error::output(&std::env::temp_dir(), e))
}

/// Downloads the extract in the store folder `url` to `to`: each table's file.
fn fetch_extract(url: &str, to: &Path) -> Result<()> {
    let store = Store::open(url)?;
    let (_, names) = store.children("")?;
    let mut found = 0;
    for name in names {
        let table_file = Table::ALL.iter().any(|t| {
            [".csv", ".parquet"]
                .iter()
                .any(|ext| name == format!("{}{ext}", t.name()))
        });
        if table_file {
            store.download(&name, &to.join(&name))?;
            found += 1;
        }
    }
    if found == 0 {
        return Err(Error::NoInputDir {
            path: PathBuf::from(url),
        });
    }
    Ok(())
}

/// Downloads what a run of night `as_of` on the store root `out` reads of the nights before
/// it into the local output root `to`: the previous published night whole, and the
/// manifests of the 30 before it.
fn fetch_history(store: &Store, as_of: NaiveDate, to: &Path) -> Result<()> {
    let before: Vec<NaiveDate> = store.nights()?.into_iter().filter(|d| *d < as_of).collect();
    let mut fetched = 0;
    for date in before.iter().rev() {
        let night = format!("as_of={date}");
        let only: Option<&[&str]> = (fetched > 0).then_some(&["manifest.json"][..]);
        if store.fetch_published(&night, &to.join(&night), only)? {
            fetched += 1;
        }
        if fetched > 30 {
            break;
        }
    }
    Ok(())
}

/// When `job`'s extract is on a store: downloads it into a staging folder and points the
/// job there (`explain` and `validate` of a stored extract). The folder lives as long as
/// the value returned.
pub fn local_input(job: &mut Job, progress: &Progress) -> Result<Option<tempfile::TempDir>> {
    let Some(url) = job.input.to_str().filter(|_| is_url(&job.input)) else {
        return Ok(None);
    };
    let stage = stage()?;
    let to = stage.path().join("input");
    fetch_extract(url, &to)?;
    progress.step(format!("downloaded the extract {url}"));
    job.input = to;
    Ok(Some(stage))
}

/// `run` of a job whose input or output root (or both) is on a store; others run as they
/// are.
pub fn run(job: &Job, progress: &Progress) -> Result<Report> {
    if !is_url(&job.input) && !is_url(&job.out) {
        return run::run(job, progress);
    }
    let stage = stage()?;
    let mut local = Job {
        pipeline: job.pipeline.clone(),
        as_of: job.as_of,
        input: job.input.clone(),
        out: job.out.clone(),
        accept_shrink: job.accept_shrink.clone(),
        arguments: job.arguments.clone(),
        shard: job.shard,
    };
    let _input = local_input(&mut local, progress)?;
    let Some(url) = job.out.to_str().filter(|_| is_url(&job.out)) else {
        return run::run(&local, progress);
    };
    let store = Store::open(url)?;
    local.out = stage.path().join("out");
    if job.shard.is_none() {
        fetch_history(&store, job.as_of, &local.out)?;
    }
    let mut report = run::run(&local, progress)?;
    let rel = match job.shard {
        Some(s) => shard_rel(job.as_of, s),
        None => format!("as_of={}", job.as_of),
    };
    let id = run_id();
    store.publish(&report.folder, &rel, &id, progress)?;
    report.folder = PathBuf::from(format!("{url}/{rel}/run={id}"));
    progress.step(format!("published {}", report.folder.display()));
    Ok(report)
}

/// A shard's result folder under a store root.
fn shard_rel(as_of: NaiveDate, s: Shard) -> String {
    format!(".shards/as_of={as_of}/shard={}-of-{}", s.index, s.count)
}

/// `commit` on a store root: the shards' results and the nights before are downloaded, the
/// night committed locally, then published on the store, and the shards' results deleted.
pub fn commit(
    pipeline: &Pipeline,
    out: &Path,
    as_of: NaiveDate,
    shards: usize,
    accept_shrink: &[Table],
    arguments: &[String],
    progress: &Progress,
) -> Result<(PathBuf, serde_json::Value)> {
    let commit = |out: &Path| {
        crate::commit::commit(
            pipeline,
            out,
            as_of,
            shards,
            accept_shrink,
            arguments,
            progress,
        )
    };
    let Some(url) = out.to_str().filter(|_| is_url(out)) else {
        return commit(out);
    };
    let store = Store::open(url)?;
    let stage = stage()?;
    let local = stage.path().join("out");
    let mut missing = Vec::new();
    for index in 0..shards {
        let s = Shard {
            index,
            count: shards,
        };
        let to = crate::write::shard_dir(&local, as_of, s);
        std::fs::create_dir_all(&to).map_err(|e| Error::output(&to, e))?;
        if !store.fetch_published(&shard_rel(as_of, s), &to, None)? {
            missing.push(s.to_string());
        }
    }
    if !missing.is_empty() {
        return Err(Error::ShardsMissing {
            dir: PathBuf::from(format!("{url}/.shards/as_of={as_of}")),
            count: shards,
            missing,
        });
    }
    fetch_history(&store, as_of, &local)?;
    let (folder, manifest) = commit(&local)?;
    let rel = format!("as_of={as_of}");
    let id = run_id();
    store.publish(&folder, &rel, &id, progress)?;
    store.delete_all(&format!(".shards/as_of={as_of}"))?;
    Ok((PathBuf::from(format!("{url}/{rel}/run={id}")), manifest))
}
