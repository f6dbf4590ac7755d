//! `run --shard I/N` and `commit`: the shards of a night, committed, publish what the single
//! run publishes, row for row; a commit with a missing or mismatched shard publishes nothing.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::*;

/// A pipeline with every output on, CSV audiences in one file per channel (which the commit
/// joins), small buckets split into parts (whose retention files the shards number alike),
/// and no truncation guard.
fn pipeline(work: &Workdir) -> PathBuf {
    let sample = std::fs::read_to_string(repo().join("pipelines/sample.toml")).unwrap();
    let text = sample
        .replace("audiences_csv = false", "audiences_csv = true")
        .replace("files = \"per_dealer\"", "files = \"per_channel\"")
        // the two nights are different extracts (generated with other seeds)
        .replace("default = 10\n", "default = 100\n");
    assert!(text.contains("audiences_csv = true") && text.contains("\"per_channel\""));
    assert!(text.contains("default = 100\n"));
    work.write(
        "pipeline.toml",
        &format!("{text}\n[run]\nbucket_rows = 400\n"),
    )
}

/// Two nights of a generated extract of many dealers, with the sample's bad rows and a
/// row without a dealer.
fn nights(work: &Workdir) -> [PathBuf; 2] {
    ["2026-11-21", "2026-11-22"].map(|day| {
        let dir = work.path(&format!("extract/{day}"));
        assert_ok(&work.cmd(&[
            "generate",
            "--customers",
            "4000",
            "--dealers",
            "23",
            "--seed",
            if day.ends_with("21") { "3" } else { "4" },
            "--as-of",
            day,
            "--out",
            dir.to_str().unwrap(),
        ]));
        let path = dir.join("customers.csv");
        let customers = std::fs::read_to_string(&path).unwrap();
        let width = customers.lines().next().unwrap().matches(';').count();
        let no_dealer = format!(";77;{}\n", ";".repeat(width - 1));
        std::fs::write(&path, customers + &no_dealer).unwrap();
        dir
    })
}

fn run(work: &Workdir, p: &Path, input: &Path, out: &str, as_of: &str, extra: &[&str]) {
    assert_ok(&work.run_at(p.to_str().unwrap(), Some(input), out, as_of, extra, &[]));
}

fn commit(work: &Workdir, p: &Path, out: &str, as_of: &str, n: usize) -> std::process::Output {
    let out = work.path(out);
    let n = n.to_string();
    work.cmd(&[
        "commit",
        "--quiet",
        "--pipeline",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--as-of",
        as_of,
        "--shards",
        &n,
    ])
}

/// The lines of every CSV file under `dir`, with its path: the header once, the rows sorted.
fn csv_lines(dir: &Path) -> Vec<(String, Vec<String>)> {
    let mut files: Vec<(String, Vec<String>)> = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files.extend(csv_lines(&p));
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[1..].sort();
        files.push((p.file_name().unwrap().to_string_lossy().into(), lines));
    }
    files.sort();
    files
}

/// Asserts that the manifest of `folder` follows the repository's JSON Schema.
fn follows_the_schema(folder: &Path) {
    let schema: Value = serde_json::from_slice(
        &std::fs::read(repo().join("schemas/manifest.schema.json")).unwrap(),
    )
    .unwrap();
    let mut broken = Vec::new();
    crate::snapshots_text::check_schema(&manifest(folder), &schema, "manifest", &mut broken);
    assert!(broken.is_empty(), "{broken:#?}");
}

/// What a night's manifest says about its content: inputs' counts, outputs' rows, cells,
/// and what changes/ compared with.
fn counts(night: &Path) -> Value {
    let m = manifest(night);
    let inputs: Vec<Value> = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let mut i = i.clone();
            i.as_object_mut().unwrap().remove("path");
            i
        })
        .collect();
    let outputs: Vec<(String, Value)> = m["outputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["rows"].clone()))
        .collect();
    serde_json::json!({"inputs": inputs, "outputs": outputs, "cells": m["cells"],
                       "changes": m["changes"]["previous_as_of"]})
}

#[test]
fn shards_committed_publish_what_the_single_run_publishes() {
    let work = Workdir::new();
    let p = pipeline(&work);
    let days = nights(&work);
    for (input, day) in days.iter().zip(["2026-11-21", "2026-11-22"]) {
        run(&work, &p, input, "single", day, &[]);
    }
    let single = work.path("single/as_of=2026-11-22");
    assert!(dataset(&single, "changes").height() > 0, "night 2 changed");
    for n in [1, 3, 7] {
        let out = format!("sharded-{n}");
        for (input, day) in days.iter().zip(["2026-11-21", "2026-11-22"]) {
            // the shards in any order; one of them retried (it replaces only its own result)
            for i in (0..n).rev().chain([n / 2]) {
                run(
                    &work,
                    &p,
                    input,
                    &out,
                    day,
                    &["--shard", &format!("{i}/{n}")],
                );
            }
            assert!(
                !work.path(&format!("{out}/as_of={day}")).exists(),
                "a shard publishes nothing"
            );
            assert_ok(&commit(&work, &p, &out, day, n));
        }
        let night = work.path(&format!("{out}/as_of=2026-11-22"));
        for name in [
            "eligibility",
            "expiring",
            "retention",
            "audiences",
            "quarantine",
            "changes",
            "unsubscribe",
        ] {
            let (a, b) = (dataset(&single, name), dataset(&night, name));
            assert!(a.height() > 0 || name == "unsubscribe", "{name} has rows");
            assert!(a.equals_missing(&b), "{name} with {n} shards:\n{a}\n{b}");
        }
        for name in ["audiences_csv", "unsubscribe_csv"] {
            assert_eq!(
                csv_lines(&single.join(name)),
                csv_lines(&night.join(name)),
                "{name} with {n} shards"
            );
        }
        let (a, b) = (counts(&single), counts(&night));
        for part in ["inputs", "outputs", "cells", "changes"] {
            assert_eq!(a[part], b[part], "the manifest's {part} with {n} shards");
        }
        assert_eq!(manifest(&night)["shards"].as_array().unwrap().len(), n);
        follows_the_schema(&night);
        assert!(
            !work.path(&format!("{out}/.shards")).exists(),
            "the commit removes the shards' results"
        );
    }
    // the row without a dealer is quarantined once, by shard 0
    let q = dataset(&single, "quarantine");
    assert!(q.height() > 0);
}

#[test]
fn a_commit_without_every_shard_of_the_same_inputs_publishes_nothing() {
    let work = Workdir::new();
    let p = pipeline(&work);
    let [a, b] = nights(&work);
    let day = "2026-11-22";
    run(&work, &p, &b, "out", day, &["--shard", "0/3"]);
    run(&work, &p, &b, "out", day, &["--shard", "2/3"]);
    let result = work.path("out/.shards/as_of=2026-11-22/shard=2-of-3");
    assert_eq!(
        manifest(&result)["shard"],
        serde_json::json!({"index": 2, "count": 3})
    );
    follows_the_schema(&result);
    let o = commit(&work, &p, "out", day, 3);
    assert_eq!(o.status.code(), Some(75), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1/3"),
        "names the missing shard: {}",
        stderr(&o)
    );
    assert!(!work.path("out/as_of=2026-11-22").exists());

    // shard 1 of another extract
    run(&work, &p, &a, "out", day, &["--shard", "1/3"]);
    let o = commit(&work, &p, "out", day, 3);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("shard 1/3: read other input files"),
        "{}",
        stderr(&o)
    );
    assert!(!work.path("out/as_of=2026-11-22").exists());

    // shard 1 again, of the right extract, but another pipeline file
    let other = work.write(
        "other.toml",
        &std::fs::read_to_string(&p)
            .unwrap()
            .replace("expiring_days = 30", "expiring_days = 31"),
    );
    run(&work, &other, &b, "out", day, &["--shard", "1/3"]);
    let o = commit(&work, &p, "out", day, 3);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(stderr(&o).contains("pipeline file"), "{}", stderr(&o));
    assert!(!work.path("out/as_of=2026-11-22").exists());

    // a wrong shard count is refused, and the right shard then commits
    let o = work.run_at(
        p.to_str().unwrap(),
        Some(&b),
        "out",
        day,
        &["--shard", "3/3"],
        &[],
    );
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    run(&work, &p, &b, "out", day, &["--shard", "1/3"]);
    assert_ok(&commit(&work, &p, "out", day, 3));
    assert!(work.path("out/as_of=2026-11-22/_SUCCESS").is_file());
}
