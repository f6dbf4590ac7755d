//! `eligibility generate`: deterministic, contract-shaped, readable by `run` in both formats.

use polars::prelude::*;

use crate::support::*;

fn generate(work: &Workdir, dir: &str, seed: &str, format: &str) -> std::path::PathBuf {
    generate_with(work, dir, seed, format, &[])
}

fn generate_with(
    work: &Workdir,
    dir: &str,
    seed: &str,
    format: &str,
    extra: &[&str],
) -> std::path::PathBuf {
    let out = work.path(dir);
    let mut args = vec![
        "generate",
        "--customers",
        "3000",
        "--seed",
        seed,
        "--format",
        format,
        "--as-of",
        AS_OF,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    assert_ok(&work.cmd(&args));
    out
}

#[test]
fn same_seed_same_files_and_every_table() {
    let work = Workdir::new();
    let a = generate(&work, "a", "7", "csv");
    let b = generate(&work, "b", "7", "csv");
    let c = generate(&work, "c", "8", "csv");
    for t in TABLES {
        let fa = std::fs::read(a.join(format!("{t}.csv"))).unwrap();
        assert_eq!(
            fa,
            std::fs::read(b.join(format!("{t}.csv"))).unwrap(),
            "{t} differs for one seed"
        );
        assert_ne!(
            fa,
            std::fs::read(c.join(format!("{t}.csv"))).unwrap(),
            "{t} same for two seeds"
        );
        assert!(fa.split(|b| *b == b'\n').count() > 2, "{t} has rows");
    }
    let customers = std::fs::read_to_string(a.join("customers.csv")).unwrap();
    assert!(
        customers.lines().count() > 3000,
        "3000 records plus header and duplicates"
    );
}

#[test]
fn csv_and_parquet_decide_the_same() {
    let work = Workdir::new();
    let csv = generate(&work, "csv", "3", "csv");
    let pq = generate(&work, "pq", "3", "parquet");
    work.run("pipelines/sample.toml", &csv, "out-csv");
    work.run("pipelines/sample.toml", &pq, "out-pq");
    let run = |o: &str| work.run_dir(o);
    let a = dataset(&run("out-csv"), "eligibility");
    let b = dataset(&run("out-pq"), "eligibility");
    assert!(a.height() > 3000 * 15, "about 18.5 cells per record");
    assert!(a.equals_missing(&b));
    let q = dataset(&run("out-csv"), "quarantine");
    assert!(q.height() > 0, "some bad rows");
}

/// Invariants on extracts of several seeds: every input row is valid, an exact duplicate or
/// quarantined; every valid customer record gets exactly its 20 cells (5 for a prospect),
/// with no record fanned out or lost.
#[test]
fn every_row_accounted_for_and_every_record_decided_once() {
    let work = Workdir::new();
    for seed in ["1", "2", "3"] {
        let x = generate(&work, &format!("x{seed}"), seed, "csv");
        let out = format!("out{seed}");
        work.run("pipelines/sample.toml", &x, &out);
        let run = work.run_dir(&out);
        let m = manifest(&run);
        let mut valid_customers = 0;
        for input in m["inputs"].as_array().unwrap() {
            let n = |k: &str| input[k].as_u64().unwrap();
            let q = quarantined(input);
            assert_eq!(
                n("rows_read"),
                n("rows_valid") + n("exact_duplicates") + q,
                "seed {seed}: {}",
                input["table"]
            );
            if input["table"] == "customers" {
                valid_customers = n("rows_valid");
            }
        }
        let e = dataset(&run, "eligibility");
        let per_record = e
            .clone()
            .lazy()
            .group_by([col("dealer_id"), col("customer_id")])
            .agg([len().alias("n"), col("relation").first().alias("relation")])
            .collect()
            .unwrap();
        assert_eq!(
            per_record.height() as u64,
            valid_customers,
            "seed {seed}: one decision set per record"
        );
        let n = per_record.column("n").unwrap().u32().unwrap();
        let rel = per_record.column("relation").unwrap().str().unwrap();
        for (n, rel) in n.iter().zip(rel.iter()) {
            assert_eq!(
                n,
                Some(if rel == Some("customer") { 20 } else { 5 }),
                "seed {seed}"
            );
        }
    }
}

/// Sorted by `by`, dataset `name` of a run folder.
fn sorted(run: &std::path::Path, name: &str, by: &[&str]) -> DataFrame {
    dataset(run, name)
        .sort(by.to_vec(), SortMultipleOptions::default())
        .unwrap()
}

/// Two run folders hold the same eligibility, retention, quarantine and input counts.
fn same_outputs(a: &std::path::Path, b: &std::path::Path, format: &str) {
    for (name, by) in [
        (
            "eligibility",
            &["dealer_id", "customer_id", "category", "channel"][..],
        ),
        ("retention", &["dealer_id", "customer_id"][..]),
        ("quarantine", &["table", "line"][..]),
    ] {
        let (x, y) = (sorted(a, name, by), sorted(b, name, by));
        assert!(x.height() > 0, "{format} {name} has rows");
        assert!(x.equals_missing(&y), "{format} {name} differs");
    }
    assert_eq!(manifest(a)["inputs"], manifest(b)["inputs"], "{format}");
}

/// Processing buckets in parts by customer record (`run.bucket_rows`) changes nothing:
/// eligibility, retention, quarantine and input counts, and the changes against a previous
/// run, from CSV and Parquet; with invoice ids shared by two customer records of a dealer
/// (both rows are `duplicate_key`), which the parts must keep together.
#[test]
fn parts_of_buckets_change_nothing() {
    let work = Workdir::new();
    let whole = work.write("whole.toml", "[run]\nbuckets = 1\n");
    let parts = work.write("parts.toml", "[run]\nbuckets = 2\nbucket_rows = 3000\n");
    for format in ["csv", "parquet"] {
        let x = generate_with(&work, format, "7", format, &["--dealers", "40"]);
        if format == "csv" {
            // 30 invoices of a dealer again, each under the next customer of its dealer
            let path = x.join("invoices.csv");
            let text = std::fs::read_to_string(&path).unwrap();
            let rows: Vec<Vec<&str>> = text
                .lines()
                .skip(1)
                .map(|l| l.split(';').collect())
                .collect();
            let mut extra = String::new();
            for (i, a) in rows.iter().enumerate().step_by(97).take(30) {
                let mut next = rows[i..].iter().take_while(|b| b[0] == a[0]);
                if let Some(b) = next.find(|b| b[2] != a[2]) {
                    let row = [a[0], a[1], b[2]].into_iter().chain(a[3..].iter().copied());
                    extra.extend(row.collect::<Vec<_>>().join(";").chars().chain(['\n']));
                }
            }
            assert!(extra.lines().count() >= 20);
            std::fs::write(&path, text + &extra).unwrap();
        }
        let night = |pipeline: &std::path::Path, out: &str, as_of: &str| {
            let out = work.path(&format!("{format}-{out}"));
            assert_ok(&work.cmd(&[
                "run",
                "--quiet",
                "--pipeline",
                pipeline.to_str().unwrap(),
                "--input",
                x.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--as-of",
                as_of,
            ]));
            out.join(format!("as_of={as_of}"))
        };
        let (a, b) = (night(&whole, "whole", AS_OF), night(&parts, "parts", AS_OF));
        let split = std::fs::read_dir(b.join("eligibility"))
            .unwrap()
            .any(|d| d.unwrap().path().join("part-1.parquet").is_file());
        assert!(split, "{format}: some dealer written in parts");
        same_outputs(&a, &b, format);
        if format == "csv" {
            let invoices = &manifest(&b)["inputs"][1];
            assert_eq!(invoices["table"], "invoices");
            assert!(invoices["quarantined"]["duplicate_key"].as_u64().unwrap() >= 40);
        }
        // the next night compares with this one: each dealer's part files merged in order
        let (a, b) = (
            night(&whole, "whole", "2027-06-01"),
            night(&parts, "parts", "2027-06-01"),
        );
        for run in [&a, &b] {
            let note = manifest(run)["changes"]["note"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(note.starts_with("compared with"), "{format}: {note}");
        }
        let cell = ["dealer_id", "customer_id", "category", "channel"];
        let (x, y) = (sorted(&a, "changes", &cell), sorted(&b, "changes", &cell));
        assert!(x.height() > 0, "{format}: changes has rows");
        assert!(x.equals_missing(&y), "{format}: changes differs");
    }
}

/// Splitting the extract into buckets of dealers changes nothing: one bucket and 13 give the
/// same eligibility, retention, quarantine (lines and records) and input counts, from CSV and
/// from Parquet.
#[test]
fn buckets_of_dealers_change_nothing() {
    let work = Workdir::new();
    let one = work.write("one.toml", "[run]\nbuckets = 1\n");
    let many = work.write("many.toml", "[run]\nbuckets = 13\n");
    for format in ["csv", "parquet"] {
        let x = generate_with(&work, format, "5", format, &["--dealers", "40"]);
        let (a, b) = (format!("{format}-1"), format!("{format}-13"));
        work.run(one.to_str().unwrap(), &x, &a);
        work.run(many.to_str().unwrap(), &x, &b);
        let (a, b) = (work.run_dir(&a), work.run_dir(&b));
        let dealers = dataset(&a, "eligibility")
            .column("dealer_id")
            .unwrap()
            .n_unique()
            .unwrap();
        assert!(dealers > 30, "{format}: {dealers} dealers");
        same_outputs(&a, &b, format);
    }
}
