//! The command line: exit codes and messages that name the file, the column and the key.

use crate::support::*;

fn pipeline() -> String {
    repo().join("pipelines/sample.toml").display().to_string()
}

#[test]
fn missing_required_column_names_file_and_column() {
    let work = Workdir::new();
    let input = work.copy_sample("iso", "extract");
    let text = std::fs::read_to_string(input.join("invoices.csv")).unwrap();
    std::fs::write(
        input.join("invoices.csv"),
        text.replacen("invoice_date", "datum", 1),
    )
    .unwrap();
    let o = work.cmd(&[
        "run",
        "--quiet",
        "--pipeline",
        &pipeline(),
        "--input",
        input.to_str().unwrap(),
        "--out",
        "out",
        "--as-of",
        AS_OF,
    ]);
    assert_eq!(o.status.code(), Some(65));
    let err = stderr(&o);
    assert!(
        err.contains("invoices.csv") && err.contains("`invoice_date`") && err.contains("datum"),
        "{err}"
    );
    assert!(!work.run_dir("out").exists());
}

#[test]
fn validate_reports_every_problem_and_writes_nothing() {
    let work = Workdir::new();
    let input = work.copy_sample("iso", "extract");
    for (file, col) in [
        ("invoices.csv", "invoice_date"),
        ("preferences.csv", "recorded_at"),
    ] {
        let text = std::fs::read_to_string(input.join(file)).unwrap();
        std::fs::write(input.join(file), text.replacen(col, "x", 1)).unwrap();
    }
    let o = work.cmd(&[
        "validate",
        "--pipeline",
        &pipeline(),
        "--input",
        input.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(65));
    let err = stderr(&o);
    assert!(
        err.contains("`invoice_date`") && err.contains("`recorded_at`"),
        "{err}"
    );

    let o = work.cmd(&["validate", "--pipeline", &pipeline()]);
    assert_ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("pipeline file ok"));
    assert!(std::fs::read_dir(work.dir.path())
        .unwrap()
        .all(|e| e.unwrap().file_name() == "extract"));
}

#[test]
fn a_broken_pipeline_file_lists_every_unknown_key() {
    let work = Workdir::new();
    let p = work.write(
        "p.toml",
        "[input]\ndir = \"x\"\ndelimeter = \",\"\n[policy.terms]\nnewsletter = { fax = 3 }\n[outptu]\ndir = \"y\"\n",
    );
    let o = work.cmd(&["validate", "--pipeline", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(78));
    let err = stderr(&o);
    assert!(
        err.contains("p.toml")
            && err.contains("`input.delimeter`")
            && err.contains("`outptu`")
            && err.contains("`fax`"),
        "{err}"
    );
    let o = work.cmd(&["run", "--pipeline", "nope.toml"]);
    assert_eq!(o.status.code(), Some(78));
}

#[test]
fn input_missing_and_usage() {
    let work = Workdir::new();
    let o = work.cmd(&[
        "run",
        "--pipeline",
        &pipeline(),
        "--input",
        "no-such-folder",
    ]);
    assert_eq!(o.status.code(), Some(66));
    assert!(stderr(&o).contains("no-such-folder"));
    let empty = work.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    work.write(
        "empty/customers.csv",
        "dealer_id;customer_id;registered_on\n",
    );
    let o = work.cmd(&[
        "run",
        "--pipeline",
        &pipeline(),
        "--input",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(66));
    assert!(stderr(&o).contains("invoices"), "{}", stderr(&o));
    let o = work.cmd(&["run", "--as-of", "22-11-2026"]);
    assert_eq!(o.status.code(), Some(64));
    // a URL of no supported store is refused (64), not taken for a local folder; a stored
    // extract that is not there is a missing input (66)
    for (option, url) in [("--out", "ftp://host/out"), ("--input", "sftp://host/dms")] {
        let o = work.cmd(&["run", "--pipeline", &pipeline(), option, url]);
        assert_eq!(o.status.code(), Some(64), "{option} {url}: {}", stderr(&o));
        assert!(stderr(&o).contains(url), "{}", stderr(&o));
    }
    let missing = format!("file://{}", work.path("nowhere").display());
    let o = work.cmd(&["run", "--pipeline", &pipeline(), "--input", &missing]);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let o = work.cmd(&[
        "run",
        "--pipeline",
        &pipeline(),
        "--out",
        "s3://eligibility/out",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
    ]);
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    assert!(!work.path("ftp:").exists() && !work.path("s3:").exists());
}

#[test]
fn the_summary_counts_tables_and_cells() {
    let work = Workdir::new();
    let o = work.run(
        "pipelines/sample.toml",
        &repo().join("sample-data/iso"),
        "out",
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("customers") && out.contains("newsletter") && out.contains("output: "),
        "{out}"
    );
}

/// An extract without rows fails the truncation guard; accepted, it publishes an empty run
/// whose dataset folders exist.
#[test]
fn an_extract_without_rows_publishes_an_empty_run_only_when_accepted() {
    let work = Workdir::new();
    work.write("x/customers.csv", "dealer_id;customer_id;registered_on\n");
    work.write(
        "x/invoices.csv",
        "dealer_id;invoice_id;customer_id;invoice_date\n",
    );
    let o = work.try_run("pipelines/sample.toml", Some(&work.path("x")), "out", &[]);
    assert_eq!(o.status.code(), Some(65));
    assert!(!work.run_dir("out").exists());
    let accept = [
        "--accept-shrink",
        "customers",
        "--accept-shrink",
        "invoices",
    ];
    let x = work.path("x");
    let out = work.path("out");
    assert_ok(&work.run_at(
        "pipelines/sample.toml",
        Some(&x),
        "out",
        AS_OF,
        &accept,
        &[],
    ));
    let run = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("as_of=")
        })
        .unwrap();
    assert!(run.join("eligibility").is_dir() && run.join("_SUCCESS").exists());
}

/// The README links the contract inside the repository; the copy must be the team's own.
#[test]
fn the_contract_copy_is_the_shared_one() {
    let shared = repo().join("../shared/CONTRACT.md");
    let copy = std::fs::read_to_string(repo().join("docs/CONTRACT.md")).unwrap();
    assert!(copy.contains("## The law in force on the as-of date"));
    if let Ok(shared) = std::fs::read_to_string(shared) {
        assert!(
            shared == copy,
            "docs/CONTRACT.md differs from ../shared/CONTRACT.md: copy it again"
        );
    }
}

/// The pipeline file is required, on the command line or in `ELIGIBILITY_PIPELINE` (every
/// option has its variable); nothing depends on the working folder.
#[test]
fn options_from_the_environment() {
    let work = Workdir::new();
    let o = work.cmd(&["run", "--quiet"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(stderr(&o).contains("--pipeline"), "{}", stderr(&o));
    let out = work.path("elsewhere");
    let o = work.cmd_env(
        &["run"],
        &[
            ("ELIGIBILITY_PIPELINE", &pipeline()),
            ("ELIGIBILITY_OUT", out.to_str().unwrap()),
            ("ELIGIBILITY_AS_OF", AS_OF),
            ("ELIGIBILITY_QUIET", "true"),
        ],
    );
    assert_ok(&o);
    assert!(stderr(&o).is_empty(), "quiet: {}", stderr(&o));
    assert!(out.join(format!("as_of={AS_OF}/_SUCCESS")).exists());
}

/// `--log-format json` writes every stderr line as one JSON object with a wall-clock
/// timestamp; a piped run logs a line at least every `ELIGIBILITY_PROGRESS_EVERY_MS` (10 s
/// unless set) naming what it works on; `RUST_LOG` filters the lines.
#[test]
fn logs_are_json_lines_with_a_heartbeat_when_piped() {
    let work = Workdir::new();
    let out = work.path("out");
    let args = |format: &'static str| {
        vec![
            "--log-format".to_string(),
            format.to_string(),
            "run".into(),
            "--pipeline".into(),
            pipeline(),
            "--out".into(),
            out.display().to_string(),
            "--as-of".into(),
            AS_OF.into(),
        ]
    };
    let json = args("json");
    let json: Vec<&str> = json.iter().map(String::as_str).collect();
    let o = work.cmd_env(&json, &[("ELIGIBILITY_PROGRESS_EVERY_MS", "1")]);
    assert_ok(&o);
    let lines: Vec<serde_json::Value> = stderr(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| {
            let stamp = l["timestamp"].as_str().unwrap();
            assert!(
                chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
                "{stamp}"
            );
            assert_eq!(l["level"], "INFO");
            l["fields"]["message"].as_str().unwrap()
        })
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with("published ")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("working, ")),
        "{messages:?}"
    );
    assert!(lines.iter().all(|l| l["fields"]["elapsed_s"].is_number()));

    let text = args("text");
    let text: Vec<&str> = text.iter().map(String::as_str).collect();
    let o = work.cmd_env(&text, &[("RUST_LOG", "warn")]);
    assert_ok(&o);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let o = work.cmd(&text);
    assert_ok(&o);
    let first = stderr(&o).lines().next().unwrap_or_default().to_string();
    assert!(first.contains("Z  INFO "), "{first}");
}
