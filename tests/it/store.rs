//! Extracts and outputs on object storage: a night read from and published to a local S3
//! server (moto's, which `.ci/run` installs) and read back from it by polars; and the same
//! publish by marker on `file://` URLs, which need no server.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::*;

/// An S3 server on a free local port, stopped when dropped.
struct S3 {
    child: Child,
    python: String,
    env: Vec<(&'static str, String)>,
}

impl S3 {
    /// The server, or `None` when no Python with moto is configured (then the test passes
    /// with a note, unless `ELIGIBILITY_READERS=required`, as for the readers' test).
    fn start() -> Option<S3> {
        let required = std::env::var("ELIGIBILITY_READERS").as_deref() == Ok("required");
        let Ok(python) = std::env::var("ELIGIBILITY_PYTHON") else {
            assert!(
                !required,
                "ELIGIBILITY_READERS=required needs ELIGIBILITY_PYTHON"
            );
            eprintln!("store: ELIGIBILITY_PYTHON is not set; the S3 round trip did not run");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(&python)
            .arg(repo().join("tests/store.py"))
            .args(["serve", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // its log of every request
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{python}: {e}"));
        // moto says a word of its own first
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while line.trim() != "ready" {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "moto's S3 server did not start"
            );
        }
        let env = vec![
            ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ];
        Some(S3 { child, python, env })
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// `tests/store.py` with `args`; its output as JSON (null when it prints nothing).
    fn py(&self, args: &[&str]) -> Value {
        let o = Command::new(&self.python)
            .arg(repo().join("tests/store.py"))
            .args(args)
            .envs(self.env())
            .output()
            .unwrap();
        assert_ok(&o);
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two nights of the sample, the second with an opt-out (so changes/ has rows).
fn two_nights(work: &Workdir) -> [std::path::PathBuf; 2] {
    let a = work.copy_sample("iso", "extract/2026-11-21");
    let b = work.copy_sample("iso", "extract/2026-11-22");
    let prefs = b.join("preferences.csv");
    let text = std::fs::read_to_string(&prefs).unwrap();
    let opt_out = "D001;1003;newsletter;email;opt_out;2026-11-21 20:00;website\n";
    std::fs::write(&prefs, text + opt_out).unwrap();
    [a, b]
}

const NIGHTS: [&str; 2] = ["2026-11-21", "2026-11-22"];

fn run(
    work: &Workdir,
    input: &str,
    out: &str,
    as_of: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let p = repo().join("pipelines/sample.toml");
    let mut args = vec!["run", "--quiet", "--pipeline", p.to_str().unwrap()];
    args.extend(["--input", input, "--out", out, "--as-of", as_of]);
    args.extend(extra);
    work.cmd_env(&args, env)
}

/// The rows of the datasets `store.py read` counts, from a local night's manifest.
fn rows(night: &Path) -> Value {
    let m = manifest(night);
    let names = [
        "eligibility",
        "expiring",
        "audiences",
        "quarantine",
        "changes",
    ];
    names
        .iter()
        .map(|n| ((*n).to_string(), m["outputs"][n]["rows"].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[test]
fn a_night_round_trips_through_s3() {
    let Some(s3) = S3::start() else { return };
    let env = s3.env();
    let work = Workdir::new();
    for (dir, day) in two_nights(&work).iter().zip(NIGHTS) {
        s3.py(&[
            "put",
            dir.to_str().unwrap(),
            &format!("s3://data/extract/{day}"),
        ]);
        assert_ok(&run(
            &work,
            dir.to_str().unwrap(),
            work.path("local").to_str().unwrap(),
            day,
            &[],
            &[],
        ));
    }
    let local = work.path("local/as_of=2026-11-22");
    assert!(rows(&local)["changes"].as_u64() > Some(0));

    for day in NIGHTS {
        assert_ok(&run(
            &work,
            "s3://data/extract/{as_of}",
            "s3://data/out",
            day,
            &[],
            &env,
        ));
    }
    // polars reads the night from S3 by its marker: the rows of the local run, changes too
    assert_eq!(
        s3.py(&["read", "s3://data/out/as_of=2026-11-22"]),
        rows(&local)
    );

    // a run killed before its marker leaves the published night as it was ...
    let before = s3.py(&["runs", "s3://data/out/as_of=2026-11-22"]);
    let killed = run(
        &work,
        "s3://data/extract/{as_of}",
        "s3://data/out",
        NIGHTS[1],
        &[],
        &[env.as_slice(), &[("ELIGIBILITY_ABORT_AT", "before_marker")]].concat(),
    );
    assert!(!killed.status.success());
    let after = s3.py(&["runs", "s3://data/out/as_of=2026-11-22"]);
    assert_eq!(after["marker"], before["marker"]);
    assert_eq!(after["runs"].as_array().unwrap().len(), 2, "{after}");
    assert_eq!(
        s3.py(&["read", "s3://data/out/as_of=2026-11-22"]),
        rows(&local)
    );
    // ... and the next run of the night deletes what it left, and the run it replaces
    assert_ok(&run(
        &work,
        "s3://data/extract/{as_of}",
        "s3://data/out",
        NIGHTS[1],
        &[],
        &env,
    ));
    let last = s3.py(&["runs", "s3://data/out/as_of=2026-11-22"]);
    assert_eq!(
        last["runs"].as_array().unwrap(),
        &vec![last["marker"].clone()]
    );
    assert_ne!(last["marker"], before["marker"]);

    // shards on S3, committed there: the single run's rows (no night before: no changes)
    for shard in ["1/2", "0/2"] {
        assert_ok(&run(
            &work,
            "s3://data/extract/{as_of}",
            "s3://data/sharded",
            NIGHTS[1],
            &["--shard", shard],
            &env,
        ));
    }
    let p = repo().join("pipelines/sample.toml");
    assert_ok(&work.cmd_env(
        &[
            "commit",
            "--quiet",
            "--pipeline",
            p.to_str().unwrap(),
            "--out",
            "s3://data/sharded",
            "--as-of",
            NIGHTS[1],
            "--shards",
            "2",
        ],
        &env,
    ));
    let mut want = rows(&local);
    want["changes"] = 0.into();
    assert_eq!(s3.py(&["read", "s3://data/sharded/as_of=2026-11-22"]), want);

    // explain reads a stored extract too
    let o = work.cmd_env(
        &[
            "explain",
            "--pipeline",
            p.to_str().unwrap(),
            "--input",
            "s3://data/extract/{as_of}",
            "--as-of",
            NIGHTS[1],
            "--dealer",
            "D001",
            "--customer",
            "1003",
        ],
        &env,
    );
    assert_ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("1003"));
}

#[test]
fn file_urls_publish_by_marker_too() {
    let work = Workdir::new();
    let store = work.path("store");
    let url = format!("file://{}", store.display());
    let nights = two_nights(&work);
    for (dir, day) in nights.iter().zip(NIGHTS) {
        assert_ok(&run(
            &work,
            dir.to_str().unwrap(),
            work.path("local").to_str().unwrap(),
            day,
            &[],
            &[],
        ));
        assert_ok(&run(&work, dir.to_str().unwrap(), &url, day, &[], &[]));
    }
    let night = store.join("as_of=2026-11-22");
    let marker: Value =
        serde_json::from_slice(&std::fs::read(night.join("_SUCCESS")).unwrap()).unwrap();
    let files = marker["files"].as_array().unwrap();
    for f in files {
        let path = night.join(f["path"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            f["bytes"].as_u64().unwrap()
        );
    }
    let run_dir = night.join(format!("run={}", marker["run_id"].as_str().unwrap()));
    let local = work.path("local/as_of=2026-11-22");
    for name in ["eligibility", "changes", "quarantine", "audiences"] {
        assert!(
            dataset(&local, name).equals_missing(&dataset(&run_dir, name)),
            "{name}"
        );
    }
    assert_eq!(rows(&run_dir), rows(&local));
    assert!(
        !run_dir.join("_SUCCESS").exists(),
        "the marker is the night's, not the run's"
    );

    // a killed upload leaves a run no marker names; the next run deletes it
    let killed = run(
        &work,
        nights[1].to_str().unwrap(),
        &url,
        NIGHTS[1],
        &[],
        &[("ELIGIBILITY_ABORT_AT", "before_marker")],
    );
    assert!(!killed.status.success());
    let runs = |n: &Path| {
        std::fs::read_dir(n)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("run="))
            .count()
    };
    assert_eq!(runs(&night), 2);
    assert_ok(&run(
        &work,
        nights[1].to_str().unwrap(),
        &url,
        NIGHTS[1],
        &[],
        &[],
    ));
    assert_eq!(runs(&night), 1);
}
