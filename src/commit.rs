//! `eligibility commit`: one night published whole from its shards' results (`run --shard
//! I/N`), as the single run of the same extract would have published it.
//!
//! The shards' results wait in `<out>/.shards/as_of=DATE/shard=I-of-N/`, each published there
//! on its own (a shard retried after a kill replaces only its own result). The commit checks
//! that all N are there (else exit 75: a shard is still to run) and that they are of the same
//! night, inputs, pipeline, law and tool version (else exit 65); merges their manifests; puts
//! their files into the night (hard links, copies where links are not possible), joining the
//! per-channel CSV files and the quarantined rows; runs the truncation guard and writes
//! `changes/` and `unsubscribe/` against the previous night; then publishes the night like a
//! run, and removes the shards' results. Nothing is published when any step fails.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use polars::prelude::*;
use serde_json::{json, Value};

use crate::changes;
use crate::error::{Error, Result};
use crate::guard;
use crate::pipeline::Pipeline;
use crate::progress::Progress;
use crate::read;
use crate::report;
use crate::route::Shard;
use crate::run::{self, Outputs};
use crate::schema::Table;
use crate::write::{self, Written};

/// One shard's published result.
struct ShardResult {
    shard: Shard,
    folder: PathBuf,
    manifest: Value,
}

/// The datasets the shards write for their own dealers, put into the night as they are.
const DATASETS: [&str; 5] = [
    "eligibility",
    "expiring",
    "retention",
    "audiences",
    "audiences_csv",
];

/// Commits the night `as_of` of output root `out` from its `shards` shards' results, with
/// `pipeline` (the one the shards ran); returns the published folder and its manifest.
pub fn commit(
    pipeline: &Pipeline,
    out: &Path,
    as_of: NaiveDate,
    shards: usize,
    accept_shrink: &[Table],
    arguments: &[String],
    progress: &Progress,
) -> Result<(PathBuf, Value)> {
    let clock = Instant::now();
    let mut dir = write::RunDir::begin(out, as_of)?;
    dir.set_metadata(&run::metadata(pipeline, as_of));
    let results = results(out, as_of, shards)?;
    check(&results, pipeline, as_of)?;
    let inputs = merged_inputs(&results);
    let previous = changes::previous_run(out, as_of);
    let valid = |t: Table| {
        inputs
            .iter()
            .find(|i| i["table"] == t.name())
            .and_then(|i| i["rows_valid"].as_u64())
            .unwrap_or(0)
    };
    guard::check_valid(
        valid,
        previous.as_ref().map(|(d, p)| (*d, p.as_path())),
        &pipeline.shrink,
        accept_shrink,
    )?;
    progress.step(format!(
        "{shards} shard results of as_of={as_of}, of the same inputs"
    ));

    let mut outputs = Outputs::new();
    for name in DATASETS {
        let on = match name {
            "audiences" => pipeline.audiences,
            "audiences_csv" => pipeline.audiences_csv,
            _ => true,
        };
        if !on {
            continue;
        }
        let mut w = Written {
            path: name.into(),
            ..Written::default()
        };
        let target = dir.tmp.join(name);
        fs::create_dir_all(&target).map_err(|e| Error::output(&target, e))?;
        for r in &results {
            w.rows += r.manifest["outputs"][name]["rows"].as_u64().unwrap_or(0);
            let rename = (name == "retention").then_some(r.shard);
            put(&r.folder.join(name), &target, rename, &mut w)?;
        }
        outputs.insert(name, w);
    }
    if pipeline.audiences_csv {
        // the cars of the CSV audiences share their folder: counted apart, as a run does
        let mut cars = Written {
            path: "audiences_csv_vehicles".into(),
            ..Written::default()
        };
        for r in &results {
            let rows = &r.manifest["outputs"]["audiences_csv_vehicles"]["rows"];
            cars.rows += rows.as_u64().unwrap_or(0);
        }
        let (files, bytes) = tally(&dir.tmp.join("audiences_csv"), ".vehicles.csv")?;
        if let Some(w) = outputs.get_mut("audiences_csv") {
            w.files -= files;
            w.bytes -= bytes;
        }
        if files > 0 {
            outputs.insert(
                "audiences_csv_vehicles",
                Written {
                    files,
                    bytes,
                    ..cars
                },
            );
        }
    }
    outputs.insert("quarantine", quarantine(&dir, &results)?);
    let linked = clock.elapsed().as_secs_f64();
    progress.step(format!(
        "put {} cells of {shards} shards into the night",
        outputs["eligibility"].rows
    ));
    write::fail_point("commit_linked");

    let since = run::compare(&dir, previous.as_ref(), pipeline, &mut outputs, progress)?;
    run::empty_datasets(&dir, pipeline, &mut outputs)?;

    let manifest = merged_manifest(&results, inputs, &outputs, &since, arguments, pipeline, {
        let total = clock.elapsed().as_secs_f64();
        let round = |s: f64| (s * 1000.0).round() / 1000.0;
        json!({"link": round(linked), "changes": round(total - linked), "total": round(total)})
    });
    let path = dir.tmp.join("report.html");
    fs::write(&path, report::html(&manifest, &report::history(out, as_of)))
        .map_err(|e| Error::output(&path, e))?;
    write::fail_point("before_publish");
    let folder = dir.publish(&manifest)?;
    // the night holds its own links to the files: the shards' results are done with
    let night_shards = out.join(".shards").join(format!("as_of={as_of}"));
    let _ = fs::remove_dir_all(&night_shards);
    let _ = fs::remove_dir(out.join(".shards"));
    let folder = folder.canonicalize().unwrap_or(folder);
    progress.step(format!("published {}", folder.display()));
    Ok((folder, manifest))
}

/// The published results of the night's `count` shards; `Error::ShardsMissing` names those
/// not (yet) there.
fn results(out: &Path, as_of: NaiveDate, count: usize) -> Result<Vec<ShardResult>> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for index in 0..count {
        let shard = Shard { index, count };
        let folder = write::shard_dir(out, as_of, shard);
        let path = folder.join("manifest.json");
        if !folder.join("_SUCCESS").is_file() {
            missing.push(shard.to_string());
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
        let manifest = serde_json::from_str(&text)
            .map_err(|e| read::unreadable(&path, None, format!("not a manifest: {e}")))?;
        found.push(ShardResult {
            shard,
            folder,
            manifest,
        });
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(Error::ShardsMissing {
            dir: out.join(".shards").join(format!("as_of={as_of}")),
            count,
            missing,
        })
    }
}

/// Checks that the shards' results are of one night: this as-of date and shard count, and
/// the same tool version, pipeline, law table and input files (by hash) in every one.
fn check(results: &[ShardResult], pipeline: &Pipeline, as_of: NaiveDate) -> Result<()> {
    let mut problems = Vec::new();
    let inputs = |m: &Value| -> Vec<(String, String)> {
        m["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| (i["table"].to_string(), i["sha256"].to_string()))
            .collect()
    };
    let Some(first) = results.first() else {
        return Ok(());
    };
    for r in results {
        let m = &r.manifest;
        let name = format!("shard {}", r.shard);
        let want = serde_json::to_value(r.shard).unwrap_or_default();
        if m["shard"] != want || m["as_of"] != as_of.to_string() {
            problems.push(format!(
                "{name}: its manifest is of shard {} of as_of={}",
                m["shard"], m["as_of"]
            ));
        }
        if m["pipeline_sha256"] != pipeline.sha256.as_str() {
            problems.push(format!(
                "{name}: run with a pipeline file of sha256 {}, not {}'s {}",
                m["pipeline_sha256"],
                pipeline.path.display(),
                pipeline.sha256
            ));
        }
        for (what, key) in [("tool version", "tool_version"), ("law table", "law")] {
            if m[key] != first.manifest[key] {
                problems.push(format!(
                    "{name}: another {what} than shard {} ({} against {})",
                    first.shard,
                    short(&m[key]),
                    short(&first.manifest[key])
                ));
            }
        }
        if inputs(m) != inputs(&first.manifest) {
            problems.push(format!(
                "{name}: read other input files than shard {} (tables and sha256 {:?} against {:?})",
                first.shard,
                inputs(m),
                inputs(&first.manifest)
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::ShardsMismatch { problems })
    }
}

/// A JSON value for a message: a string as it is, anything else its version or JSON.
fn short(v: &Value) -> String {
    v.as_str()
        .map(String::from)
        .or_else(|| v["version"].as_str().map(String::from))
        .unwrap_or_else(|| v.to_string())
}

/// The inputs of the night: each table's counts added up over the shards, but for the tables
/// without a dealer, which every shard reads whole: shard 0's.
fn merged_inputs(results: &[ShardResult]) -> Vec<Value> {
    let base: Vec<Value> = results[0].manifest["inputs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    base.into_iter()
        .enumerate()
        .map(|(k, mut input)| {
            let has_dealer = Table::ALL
                .iter()
                .find(|t| input["table"] == t.name())
                .is_some_and(|t| t.has_dealer());
            if !has_dealer {
                return input;
            }
            for key in ["rows_read", "rows_valid", "exact_duplicates"] {
                let sum: u64 = results
                    .iter()
                    .map(|r| r.manifest["inputs"][k][key].as_u64().unwrap_or(0))
                    .sum();
                input[key] = sum.into();
            }
            let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
            for r in results {
                if let Some(q) = r.manifest["inputs"][k]["quarantined"].as_object() {
                    for (reason, n) in q {
                        *reasons.entry(reason.clone()).or_insert(0) += n.as_u64().unwrap_or(0);
                    }
                }
            }
            input["quarantined"] = json!(reasons);
            input
        })
        .collect()
}

/// Puts the files under `from` into `to` at the same relative paths: hard links, or copies
/// where links are not possible. The files directly in `audiences_csv/` (a CSV file per
/// channel, of all dealers) are copied, and the next shards' rows appended to them. With
/// `rename`, files directly in `from` are named `shard-I-<name>` (retention's parts are
/// numbered per shard).
fn put(from: &Path, to: &Path, rename: Option<Shard>, w: &mut Written) -> Result<()> {
    let Ok(entries) = fs::read_dir(from) else {
        return Ok(()); // this shard wrote nothing there
    };
    for e in entries {
        let e = e.map_err(|e| Error::io(from, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let source = e.path();
        if source.is_dir() {
            let dir = to.join(&name);
            fs::create_dir_all(&dir).map_err(|e| Error::output(&dir, e))?;
            put(&source, &dir, None, w)?;
            continue;
        }
        let target = match rename {
            Some(s) => to.join(format!("shard-{}-{name}", s.index)),
            None => to.join(&name),
        };
        let joined = to.ends_with("audiences_csv");
        if joined && target.exists() {
            w.bytes += append_csv(&source, &target)?;
            continue;
        }
        if target.exists() {
            return Err(Error::ShardsMismatch {
                problems: vec![format!(
                    "{} is in two shards' results (they do not split the dealers alike)",
                    target.display()
                )],
            });
        }
        if joined || fs::hard_link(&source, &target).is_err() {
            fs::copy(&source, &target).map_err(|e| Error::output(&target, e))?;
        }
        w.files += 1;
        w.bytes += fs::metadata(&target).map_or(0, |m| m.len());
    }
    Ok(())
}

/// The files under `dir` whose names end with `suffix`, and their bytes.
fn tally(dir: &Path, suffix: &str) -> Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    for e in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = e.map_err(|e| Error::io(dir, e))?.path();
        if p.is_dir() {
            let (f, b) = tally(&p, suffix)?;
            files += f;
            bytes += b;
        } else if p.to_string_lossy().ends_with(suffix) {
            files += 1;
            bytes += fs::metadata(&p).map_or(0, |m| m.len());
        }
    }
    Ok((files, bytes))
}

/// Appends the rows of CSV file `from`, without its byte-order mark and header line, to the
/// CSV file `to`. Returns the bytes appended.
fn append_csv(from: &Path, to: &Path) -> Result<u64> {
    use std::io::BufRead;
    let file = fs::File::open(from).map_err(|e| Error::io(from, e))?;
    let mut rows = std::io::BufReader::new(file);
    let mut header = Vec::new();
    rows.read_until(b'\n', &mut header)
        .map_err(|e| Error::io(from, e))?;
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(to)
        .map_err(|e| Error::output(to, e))?;
    let n = std::io::copy(&mut rows, &mut f).map_err(|e| Error::output(to, e))?;
    f.flush().map_err(|e| Error::output(to, e))?;
    Ok(n)
}

/// The night's quarantined rows: every shard's, sorted by table and line as a run sorts them.
fn quarantine(dir: &write::RunDir, results: &[ShardResult]) -> Result<Written> {
    let mut all: Option<DataFrame> = None;
    for r in results {
        let path = r.folder.join("quarantine").join("part-0.parquet");
        let file = fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let df = ParquetReader::new(file)
            .finish()
            .map_err(|e| read::unreadable(&path, None, e.to_string()))?;
        match &mut all {
            None => all = Some(df),
            Some(a) => {
                a.vstack_mut(&df)?;
            }
        }
    }
    let mut all = all.unwrap_or_default();
    if all.height() > 0 {
        all = all.sort(["table", "line"], SortMultipleOptions::default())?;
    }
    dir.dataset("quarantine", &all, write::PRIVATE)
}

/// The night's manifest: shard 0's, with the inputs and cells added up over the shards, the
/// night's outputs and changes, the commit's arguments and timings, and each shard's run
/// under `shards`.
fn merged_manifest(
    results: &[ShardResult],
    inputs: Vec<Value>,
    outputs: &Outputs,
    since: &changes::Since,
    arguments: &[String],
    pipeline: &Pipeline,
    timings: Value,
) -> Value {
    let mut m = results[0].manifest.clone();
    let mut cells: BTreeMap<(String, String, bool, String), u64> = BTreeMap::new();
    for r in results {
        for c in r.manifest["cells"].as_array().into_iter().flatten() {
            let key = (
                c["category"].as_str().unwrap_or_default().to_string(),
                c["channel"].as_str().unwrap_or_default().to_string(),
                c["eligible"].as_bool().unwrap_or_default(),
                c["outcome"].as_str().unwrap_or_default().to_string(),
            );
            *cells.entry(key).or_insert(0) += c["cells"].as_u64().unwrap_or(0);
        }
    }
    m["cells"] = cells
        .into_iter()
        .map(|((category, channel, eligible, outcome), n)| {
            json!({"category": category, "channel": channel, "eligible": eligible,
                   "outcome": outcome, "cells": n})
        })
        .collect();
    m["inputs"] = Value::Array(inputs);
    m["outputs"] = serde_json::to_value(outputs).unwrap_or_default();
    m["changes"] = serde_json::to_value(since).unwrap_or_default();
    m["arguments"] = json!(arguments);
    m["pipeline_file"] = json!(std::path::absolute(&pipeline.path)
        .unwrap_or_else(|_| pipeline.path.clone())
        .display()
        .to_string());
    let earliest = results
        .iter()
        .filter_map(|r| r.manifest["started_at"].as_str())
        .min()
        .unwrap_or_default()
        .to_string();
    m["started_at"] = json!(earliest);
    m["finished_at"] = json!(run::now());
    let peak = results
        .iter()
        .filter_map(|r| r.manifest["peak_memory_mib"].as_u64())
        .chain(crate::progress::peak_mib())
        .max();
    m["peak_memory_mib"] = json!(peak);
    m["timings_s"] = timings;
    if let Some(o) = m.as_object_mut() {
        o.remove("shard");
    }
    m["shards"] = results
        .iter()
        .map(|r| {
            let s = &r.manifest;
            json!({"shard": r.shard, "started_at": s["started_at"], "finished_at": s["finished_at"],
                   "arguments": s["arguments"], "peak_memory_mib": s["peak_memory_mib"],
                   "timings_s": s["timings_s"]})
        })
        .collect();
    m
}
