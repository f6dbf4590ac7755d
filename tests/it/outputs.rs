//! The run folder: read back with hive partitioning, the same for every input form, published
//! whole or not at all.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use crate::support::*;

fn without(df: &DataFrame, col: &str) -> DataFrame {
    df.drop(col).unwrap()
}

#[test]
fn hive_partitioned_by_dealer_with_the_key_in_folder_names_only() {
    let work = Workdir::new();
    let run = work.run_sample();
    let df = dataset(&run, "eligibility");
    let dealers = df
        .column("dealer_id")
        .unwrap()
        .cast(&DataType::String)
        .unwrap();
    let mut dealers: Vec<String> = dealers
        .str()
        .unwrap()
        .iter()
        .map(|d| d.unwrap().to_string())
        .collect();
    dealers.dedup();
    assert_eq!(dealers, ["D001", "D002"]);
    let one = run.join("eligibility/dealer_id=D001/part-0.parquet");
    let file = ParquetReader::new(File::open(&one).unwrap())
        .finish()
        .unwrap();
    assert!(
        file.column("dealer_id").is_err(),
        "the key lives in the folder name only"
    );
    let names: Vec<&str> = file.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "customer_id",
            "source",
            "relation",
            "category",
            "channel",
            "anchor_date",
            "expires_on",
            "eligible",
            "basis",
            "reason",
            "law"
        ]
    );
    assert_eq!(file.column("anchor_date").unwrap().dtype(), &DataType::Date);
    // sorted by customer_id, category, channel within the dealer
    let sorted = file
        .sort(
            ["customer_id", "category", "channel"],
            SortMultipleOptions::default(),
        )
        .unwrap();
    assert!(sorted.equals_missing(&file), "files are written sorted");
    // only Parquet files in the dataset folders
    for e in walk(&run.join("eligibility")) {
        assert!(
            e.extension().is_some_and(|x| x == "parquet"),
            "{}",
            e.display()
        );
    }
    assert!(run.join("_SUCCESS").exists() && run.join("manifest.json").exists());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_windows_export_decides_the_same() {
    let work = Workdir::new();
    work.run(
        "pipelines/sample.toml",
        &repo().join("sample-data/iso"),
        "iso",
    );
    work.run(
        "pipelines/sample-nl.toml",
        &repo().join("sample-data/nl"),
        "nl",
    );
    for name in ["eligibility", "retention"] {
        let a = dataset(&work.run_dir("iso"), name);
        let b = dataset(&work.run_dir("nl"), name);
        assert!(a.equals_missing(&b), "{name} differs:\n{a}\n{b}");
    }
    let qa = dataset(&work.run_dir("iso"), "quarantine");
    let qb = dataset(&work.run_dir("nl"), "quarantine");
    let key = |q: &DataFrame| q.select(["table", "line", "reason"]).unwrap();
    assert!(
        key(&qa).equals_missing(&key(&qb)),
        "quarantine differs:\n{qa}\n{qb}"
    );
}

#[test]
fn parquet_input_decides_the_same() {
    let work = Workdir::new();
    let pq = work.path("pq");
    std::fs::create_dir_all(&pq).unwrap();
    for t in TABLES {
        let mut df = csv_frame(&repo().join(format!("sample-data/iso/{t}.csv")));
        write_parquet(&pq.join(format!("{t}.parquet")), &mut df);
    }
    work.run(
        "pipelines/sample.toml",
        &repo().join("sample-data/iso"),
        "csv",
    );
    work.run("pipelines/sample.toml", &pq, "pq");
    for name in ["eligibility", "retention"] {
        let a = dataset(&work.run_dir("csv"), name);
        let b = dataset(&work.run_dir("pq"), name);
        assert!(a.equals_missing(&b), "{name} differs");
    }
    // the same rows are quarantined; Parquet lines are row numbers
    let reasons = |out: &str| {
        let q = dataset(&work.run_dir(out), "quarantine");
        without(&without(&q, "line"), "record")
            .sort(["table", "reason"], SortMultipleOptions::default())
            .unwrap()
    };
    assert!(reasons("csv").equals_missing(&reasons("pq")));
}

#[test]
fn typed_parquet_columns_are_read_as_their_type() {
    let work = Workdir::new();
    let dir = work.path("typed");
    std::fs::create_dir_all(&dir).unwrap();
    let day = |s: &str| {
        (chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap() - chrono::NaiveDate::default())
            .num_days() as i32
    };
    let dates = |name: &str, v: &[&str]| {
        Int32Chunked::from_vec(name.into(), v.iter().map(|s| day(s)).collect())
            .into_date()
            .into_column()
    };
    let mut customers = DataFrame::new(
        2,
        vec![
            Column::new("Dealer_ID".into(), ["D1", "D1"]),
            Column::new("customer_id".into(), [7i64, 8]),
            dates("registered_on", &["2020-01-01", "2026-11-01"]),
            Column::new("email".into(), ["a@b.nl", "c@d.nl"]),
            Column::new("deceased".into(), [Some(false), None]),
        ],
    )
    .unwrap();
    write_parquet(&dir.join("customers.parquet"), &mut customers);
    let mut invoices = DataFrame::new(
        2,
        vec![
            Column::new("dealer_id".into(), ["D1", "D1"]),
            Column::new("invoice_id".into(), ["F1", "F2"]),
            Column::new("customer_id".into(), [7i64, 8]),
            dates("invoice_date", &["2025-06-01", "2026-12-01"]),
            Column::new("amount".into(), [12.5f64, 3.0]),
        ],
    )
    .unwrap();
    write_parquet(&dir.join("invoices.parquet"), &mut invoices);
    // 2026-11-22 23:30 UTC is 2026-11-23 in Amsterdam: a future preference
    let micros = |s: &str| {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .unwrap()
            .and_utc()
            .timestamp_micros()
    };
    let at = Int64Chunked::from_vec(
        "recorded_at".into(),
        vec![micros("2025-07-01 10:00"), micros("2026-11-22 23:30")],
    )
    .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
    .into_column();
    let mut prefs = DataFrame::new(
        2,
        vec![
            Column::new("dealer_id".into(), ["D1", "D1"]),
            Column::new("customer_id".into(), ["7", "7"]),
            Column::new("category".into(), ["newsletter", "*"]),
            Column::new("channel".into(), ["email", "*"]),
            Column::new("status".into(), ["opt_out", "opt_out"]),
            at,
        ],
    )
    .unwrap();
    write_parquet(&dir.join("preferences.parquet"), &mut prefs);
    work.run("pipelines/sample.toml", &dir, "out");
    let run = work.run_dir("out");
    let e = dataset(&run, "eligibility");
    assert_eq!(cell(&e, "D1", "7", "newsletter", "email").1, "opted_out");
    assert_eq!(
        cell(&e, "D1", "7", "sales_actions", "email"),
        (true, "term".into(), "2026-12-01".into())
    );
    let q = dataset(&run, "quarantine");
    let got: Vec<(String, i64, String)> = (0..q.height())
        .map(|i| {
            (
                q.column("table")
                    .unwrap()
                    .str()
                    .unwrap()
                    .get(i)
                    .unwrap()
                    .to_string(),
                q.column("line").unwrap().i64().unwrap().get(i).unwrap(),
                q.column("reason")
                    .unwrap()
                    .str()
                    .unwrap()
                    .get(i)
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("invoices".to_string(), 2, "future_date".to_string()),
            ("preferences".to_string(), 2, "future_date".to_string())
        ]
    );
}

#[test]
fn a_killed_run_leaves_the_previous_output_as_it_was() {
    let work = Workdir::new();
    let run = work.run_sample();
    let before = std::fs::read(run.join("manifest.json")).unwrap();
    let out = work.path("out");
    for stage in ["eligibility_written", "before_publish"] {
        let o = work.try_run(
            "pipelines/sample.toml",
            None,
            "out",
            &[("ELIGIBILITY_ABORT_AT", stage)],
        );
        assert!(!o.status.success(), "the run was aborted at {stage}");
        assert_eq!(
            std::fs::read(run.join("manifest.json")).unwrap(),
            before,
            "previous output untouched"
        );
        let visible: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        assert_eq!(
            visible,
            [format!("as_of={AS_OF}")],
            "no half-written folder in view"
        );
    }
    // the next run clears the leftovers and replaces the folder whole; in a container every
    // night's run has the same small process id, alive again: the lock, not the id, tells
    // that a leftover's run is gone
    work.write(
        "out/.as_of=2026-11-21.tmp-1/eligibility/part-0.parquet",
        "half",
    );
    work.run(
        "pipelines/sample.toml",
        &repo().join("sample-data/iso"),
        "out",
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock")
        .collect();
    assert_eq!(names, [format!("as_of={AS_OF}")]);
    assert!(run.join("_SUCCESS").exists());
}

/// Regression (issue 18): a kill between the publish's two renames of a re-run hid night D,
/// and the next run deleted the hidden copy. A kill at each step of the publish, with the
/// atomic exchange and without it, leaves night D whole (the old one or a complete new one)
/// after the next run, and in view at once where the exchange is used.
#[test]
fn a_kill_at_any_step_of_the_publish_never_loses_the_night() {
    let steps: [(&str, &[&str]); 2] = [
        ("", &["publish_written", "publish_exchanged"]),
        (
            "1",
            &["publish_written", "publish_moved_old", "publish_renamed"],
        ),
    ];
    for (no_exchange, points) in steps {
        for point in points {
            let work = Workdir::new();
            let run = work.run_sample();
            let before = std::fs::read(run.join("manifest.json")).unwrap();
            let mut env = vec![("ELIGIBILITY_ABORT_AT", *point)];
            if !no_exchange.is_empty() {
                env.push(("ELIGIBILITY_NO_EXCHANGE", no_exchange));
            }
            let o = work.try_run("pipelines/sample.toml", None, "out", &env);
            if o.status.success() {
                // this file system cannot exchange folders: the step is never reached
                assert_eq!(*point, "publish_exchanged");
                continue;
            }
            let whole = |why: &str| {
                let m = std::fs::read(run.join("manifest.json"))
                    .unwrap_or_else(|e| panic!("{point} {why}: no night D: {e}"));
                assert!(
                    m == before || run.join("_SUCCESS").exists(),
                    "{point} {why}: a half night"
                );
            };
            if *point != "publish_moved_old" {
                whole("right after the kill");
            }
            // the next night's run restores or clears what the kill left, and keeps night D
            let next = work.cmd(&[
                "run",
                "--quiet",
                "--pipeline",
                repo().join("pipelines/sample.toml").to_str().unwrap(),
                "--out",
                work.path("out").to_str().unwrap(),
                "--as-of",
                "2026-11-23",
            ]);
            assert_ok(&next);
            whole("after the next run");
            let names: Vec<String> = std::fs::read_dir(work.path("out"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != ".lock")
                .collect();
            let mut names = names;
            names.sort();
            assert_eq!(
                names,
                ["as_of=2026-11-22", "as_of=2026-11-23"],
                "{point}: no leftovers"
            );
        }
    }
}

#[test]
fn a_failed_run_leaves_the_previous_output_as_it_was() {
    let work = Workdir::new();
    let input = work.copy_sample("iso", "extract");
    work.run("pipelines/sample.toml", &input, "out");
    let run = work.run_dir("out");
    let before = std::fs::read(run.join("manifest.json")).unwrap();
    // a byte that is not UTF-8 far into a file: the run fails while reading
    let mut bytes = std::fs::read(input.join("vehicles.csv")).unwrap();
    let at = bytes.len() - 5;
    bytes[at] = 0xff;
    std::fs::write(input.join("vehicles.csv"), bytes).unwrap();
    let o = work.try_run("pipelines/sample.toml", Some(&input), "out", &[]);
    assert_eq!(o.status.code(), Some(65));
    let err = stderr(&o);
    assert!(
        err.contains("vehicles.csv") && err.contains("line ") && err.contains("UTF-8"),
        "{err}"
    );
    assert_eq!(std::fs::read(run.join("manifest.json")).unwrap(), before);
    let names: Vec<String> = std::fs::read_dir(work.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock")
        .collect();
    assert_eq!(
        names,
        [format!("as_of={AS_OF}")],
        "nothing else left behind"
    );
}

/// Regression (issue 16): on the first night `changes/` was an empty folder, which DuckDB,
/// polars and Spark refuse to read; an extract without valid customers left eligibility/
/// and audiences/ empty too. Every dataset folder now holds a file, of no rows when there
/// are none, with the same columns as a night with rows.
#[test]
fn empty_datasets_read_as_tables_with_their_columns() {
    let work = Workdir::new();
    let full = work.run_sample();
    work.write("x/customers.csv", "dealer_id;customer_id;registered_on\n");
    work.write(
        "x/invoices.csv",
        "dealer_id;invoice_id;customer_id;invoice_date\n",
    );
    let accept = [
        "--accept-shrink",
        "customers",
        "--accept-shrink",
        "invoices",
    ];
    let x = work.path("x");
    assert_ok(&work.run_at(
        "pipelines/sample.toml",
        Some(&x),
        "empty",
        AS_OF,
        &accept,
        &[],
    ));
    let out = work.path("empty");
    let empty = out.join(format!("as_of={AS_OF}"));
    let schema = |run: &Path, name: &str| {
        let file = walk(&run.join(name))
            .into_iter()
            .find(|f| f.extension().is_some_and(|e| e == "parquet"))
            .unwrap_or_else(|| panic!("{name} has a file"));
        ParquetReader::new(File::open(file).unwrap())
            .schema()
            .unwrap()
            .iter()
            .map(|(name, f)| (name.to_string(), format!("{:?}", f.dtype)))
            .collect::<Vec<_>>()
    };
    for name in [
        "eligibility",
        "expiring",
        "audiences",
        "changes",
        "retention",
        "quarantine",
    ] {
        let df = dataset(&empty, name);
        assert_eq!(df.height(), 0, "{name}");
        if name != "quarantine" {
            // the sample's first night has no changes: compare with a later night's
            let with_rows = if name == "changes" {
                work.run(
                    "pipelines/sample.toml",
                    &repo().join("sample-data/iso"),
                    "out",
                );
                let next =
                    work.run_at("pipelines/sample.toml", None, "out", "2026-11-23", &[], &[]);
                assert_ok(&next);
                work.path("out/as_of=2026-11-23")
            } else {
                full.clone()
            };
            assert_eq!(schema(&empty, name), schema(&with_rows, name), "{name}");
        }
        if name != "retention" && name != "quarantine" {
            assert!(
                df.column("dealer_id").is_ok(),
                "{name}: the partition key reads as a column"
            );
        }
    }
    assert_eq!(manifest(&empty)["outputs"]["eligibility"]["files"], 1);
}

/// Every Parquet file of a run carries the run's metadata: tool version and commit, the
/// contract's sha256, the as-of date, the pipeline's sha256, the law table's version. (Its
/// footer's Arrow schema names plain strings for pyarrow 14 and older, which polars' reader
/// cannot show: checked by hand with pyarrow 14.0.2, see the README.)
#[test]
fn every_parquet_file_has_the_runs_metadata() {
    let work = Workdir::new();
    let run = work.run_sample();
    let files: Vec<_> = walk(&run)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert!(files.len() > 20);
    let pipeline = manifest(&run)["pipeline_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    for f in files {
        let mut r = ParquetReader::new(File::open(&f).unwrap());
        let meta = r.get_metadata().unwrap().clone();
        let kv: std::collections::BTreeMap<String, String> = meta
            .key_value_metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|k| (k.key, k.value.unwrap_or_default()))
            .collect();
        assert_eq!(kv.get("eligibility.as_of").map(String::as_str), Some(AS_OF));
        assert_eq!(kv.get("eligibility.pipeline_sha256"), Some(&pipeline));
        assert_eq!(
            kv.get("eligibility.law_version").map(String::as_str),
            Some("nl-2026.1")
        );
        for k in ["tool_version", "commit", "contract_sha256"] {
            assert!(
                kv.contains_key(&format!("eligibility.{k}")),
                "{}: {k}",
                f.display()
            );
        }
    }
}

/// `report.html`: self-contained (no scripts, nothing fetched), and its figures are the
/// manifest's: cells per category x channel x outcome, quarantined rows per table and
/// reason, and the trend over the earlier published nights of the same output root.
#[test]
fn the_report_shows_the_manifests_figures() {
    let work = Workdir::new();
    let x = repo().join("sample-data/iso");
    for as_of in ["2026-06-30", "2026-07-01"] {
        assert_ok(&work.run_at("pipelines/sample.toml", Some(&x), "out", as_of, &[], &[]));
    }
    let run = work.path("out/as_of=2026-07-01");
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    let m = manifest(&run);
    let shown = |attr: &str, key: &str| -> u64 {
        let at = format!("{attr}=\"{key}\">");
        let start = page.find(&at).unwrap_or_else(|| panic!("{at} on the page")) + at.len();
        page[start..]
            .split('<')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|e| panic!("{at}: {e}"))
    };
    for c in m["cells"].as_array().unwrap() {
        let key = format!(
            "{}/{}/{}",
            c["category"].as_str().unwrap(),
            c["channel"].as_str().unwrap(),
            c["outcome"].as_str().unwrap()
        );
        assert_eq!(
            shown("data-cell", &key),
            c["cells"].as_u64().unwrap(),
            "{key}"
        );
    }
    let mut quarantined = 0;
    for i in m["inputs"].as_array().unwrap() {
        let table = i["table"].as_str().unwrap();
        for (reason, n) in i["quarantined"].as_object().unwrap() {
            assert_eq!(
                shown("data-quarantine", &format!("{table}/{reason}")),
                n.as_u64().unwrap()
            );
            quarantined += n.as_u64().unwrap();
        }
    }
    // tonight and the night before, each with its own manifest's figures
    let before = manifest(&work.path("out/as_of=2026-06-30"));
    assert_eq!(
        shown("data-trend", "2026-07-01/quarantined rows"),
        quarantined
    );
    assert_eq!(
        shown("data-trend", "2026-07-01/changes"),
        m["outputs"]["changes"]["rows"].as_u64().unwrap()
    );
    let phone_before: u64 = before["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["channel"] == "phone" && c["eligible"] == true)
        .map(|c| c["cells"].as_u64().unwrap())
        .sum();
    assert!(phone_before > 0);
    assert_eq!(
        shown("data-trend", "2026-06-30/eligible phone"),
        phone_before
    );
    assert!(!page.contains("2026-06-29"), "only published nights");
    for outside in ["<script", "http://", "https://", "src=", "@import"] {
        assert!(
            !page.contains(outside),
            "{outside}: the page is self-contained"
        );
    }
}
