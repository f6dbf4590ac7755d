//! What a night run survives: a truncated extract (the guard), two runs on one output root
//! (the lock), a full disk, a panic, and kills at random moments.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::*;

/// `run` of the sample pipeline on `input` into `out` for AS_OF, as a command the test
/// starts itself (with limits, or to kill it).
fn sample_run(work: &Workdir, input: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_eligibility"));
    c.args([
        "run",
        "--quiet",
        "--pipeline",
        repo().join("pipelines/sample.toml").to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--out",
        work.path("out").to_str().unwrap(),
        "--as-of",
        AS_OF,
    ]);
    c
}

/// `run` of the sample pipeline on `input` into `out` for `as_of`, with extra arguments.
fn run_at(work: &Workdir, input: &Path, out: &str, as_of: &str, extra: &[&str]) -> Output {
    work.run_at("pipelines/sample.toml", Some(input), out, as_of, extra, &[])
}

/// Keeps the header of a copied extract file and no row.
fn header_only(file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    std::fs::write(file, text.lines().next().unwrap().to_string() + "\n").unwrap();
}

/// Keeps the header and every `keep`-th of the other lines of a copied extract file.
fn thin(file: &Path, keep: usize) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut lines = text.lines();
    let mut out = vec![lines.next().unwrap()];
    out.extend(
        lines
            .enumerate()
            .filter(|(i, _)| i % keep == 0)
            .map(|(_, l)| l),
    );
    std::fs::write(file, out.join("\n") + "\n").unwrap();
}

/// Regression (issue 15): a header-only customers.csv and invoices.csv published "0 cells"
/// and changes/ marked every cell of the previous night `disappeared`.
#[test]
fn a_truncated_extract_is_not_published() {
    let work = Workdir::new();
    let full = repo().join("sample-data/iso");
    assert_ok(&run_at(&work, &full, "out", "2026-11-21", &[]));
    let broken = work.copy_sample("iso", "broken");
    for t in ["customers.csv", "invoices.csv"] {
        header_only(&broken.join(t));
    }
    let o = run_at(&work, &broken, "out", "2026-11-22", &[]);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    let err = stderr(&o);
    for needle in [
        "customers: no valid row tonight",
        "invoices: no valid row tonight",
        "nothing was published",
        "--accept-shrink",
    ] {
        assert!(err.contains(needle), "{needle} in\n{err}");
    }
    assert!(!work.path("out/as_of=2026-11-22").exists());

    // a real drop of two thirds of the invoices: refused, named with both counts
    let less = work.copy_sample("iso", "less");
    thin(&less.join("invoices.csv"), 3);
    let o = run_at(&work, &less, "out", "2026-11-22", &[]);
    assert_eq!(o.status.code(), Some(65));
    let err = stderr(&o);
    let before = manifest(&work.path("out/as_of=2026-11-21"))["inputs"][1]["rows_valid"]
        .as_u64()
        .unwrap();
    assert!(
        err.contains(&format!("against {before} on 2026-11-21")) && err.contains("invoices:"),
        "{err}"
    );
    assert!(
        !err.contains("customers:"),
        "customers did not shrink: {err}"
    );
    // ... passed by a limit of the pipeline file's own
    let p = work.write(
        "p.toml",
        &format!(
            "[guard.max_drop_percent]\ninvoices = 90\n[input]\ndir = {:?}\n",
            less.display().to_string()
        ),
    );
    let o = work.cmd(&[
        "run",
        "--quiet",
        "--pipeline",
        p.to_str().unwrap(),
        "--out",
        work.path("out").to_str().unwrap(),
        "--as-of",
        "2026-11-22",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // ... and, the next night, by the operator
    let least = work.copy_sample("iso", "least");
    thin(&least.join("invoices.csv"), 9);
    let o = run_at(&work, &least, "out", "2026-11-23", &[]);
    assert_eq!(o.status.code(), Some(65));
    assert!(stderr(&o).contains("on 2026-11-22"), "{}", stderr(&o));
    assert_ok(&run_at(
        &work,
        &least,
        "out",
        "2026-11-23",
        &["--accept-shrink", "invoices"],
    ));
    assert!(work.path("out/as_of=2026-11-23/_SUCCESS").exists());
    let o = work.cmd(&["run", "--accept-shrink", "orders"]);
    assert_eq!(o.status.code(), Some(64));
}

#[test]
fn a_first_night_with_an_empty_required_table_fails() {
    let work = Workdir::new();
    let broken = work.copy_sample("iso", "broken");
    header_only(&broken.join("customers.csv"));
    let o = run_at(&work, &broken, "out", AS_OF, &[]);
    assert_eq!(o.status.code(), Some(65));
    assert!(stderr(&o).contains("customers: no valid row tonight"));
    assert!(!work.run_dir("out").exists());
}

/// A second run on an output root that another run is writing exits 75 and touches nothing.
#[test]
fn two_runs_on_one_output_root() {
    use std::os::unix::io::AsRawFd;
    let work = Workdir::new();
    std::fs::create_dir_all(work.path("out")).unwrap();
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(work.path("out/.lock"))
        .unwrap();
    std::fs::write(work.path("out/.lock"), "4242").unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(
        unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let o = run_at(&work, &repo().join("sample-data/iso"), "out", AS_OF, &[]);
    assert_eq!(o.status.code(), Some(75));
    let err = stderr(&o);
    assert!(
        err.contains(".lock") && err.contains("process 4242") && err.contains("try again"),
        "{err}"
    );
    assert!(!work.run_dir("out").exists());
    drop(held);
    assert_ok(&run_at(
        &work,
        &repo().join("sample-data/iso"),
        "out",
        AS_OF,
        &[],
    ));
}

/// A full disk (here: the process's file size limit, the same error path) exits 74 with the
/// file named, and the previous night stays as it was.
#[test]
fn a_full_disk_exits_74_and_keeps_the_previous_night() {
    let work = Workdir::new();
    let x = generate(&work, 20_000);
    assert_ok(&run_at(&work, &x, "out", AS_OF, &[]));
    let night = work.run_dir("out");
    let before = std::fs::read(night.join("manifest.json")).unwrap();
    let mut c = sample_run(&work, &x);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 256 << 10,
                rlim_max: 256 << 10,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &raw const limit);
            Ok(())
        });
    }
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(74), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot write the output"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(night.join("manifest.json")).unwrap(), before);
}

/// An output root that cannot be created (here: below a file, as a read-only or foreign
/// mount behaves) exits 73 naming the folder.
#[test]
fn an_output_root_that_cannot_be_written_exits_73() {
    let work = Workdir::new();
    work.write("not-a-folder", "x");
    let o = run_at(
        &work,
        &repo().join("sample-data/iso"),
        "not-a-folder/out",
        AS_OF,
        &[],
    );
    assert_eq!(o.status.code(), Some(73), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not-a-folder/out") && stderr(&o).contains("cannot write the output"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_panic_exits_70_with_a_clear_message() {
    let work = Workdir::new();
    let o = work.try_run(
        "pipelines/sample.toml",
        None,
        "out",
        &[("ELIGIBILITY_ABORT_AT", "panic:before_publish")],
    );
    assert_eq!(o.status.code(), Some(70));
    assert!(
        stderr(&o).contains("internal error (a bug: please report it"),
        "{}",
        stderr(&o)
    );
    assert!(!work.run_dir("out").exists());
}

fn generate(work: &Workdir, customers: u64) -> PathBuf {
    let x = work.path("x");
    assert_ok(&work.cmd(&[
        "generate",
        "--customers",
        &customers.to_string(),
        "--seed",
        "5",
        "--as-of",
        AS_OF,
        "--out",
        x.to_str().unwrap(),
    ]));
    x
}

/// 20 runs killed with SIGKILL at random moments (a seed printed for a rerun): after each,
/// night D is the previous one byte for byte or a complete new one, never a half one; the
/// next run clears the leftovers.
#[test]
fn kills_at_random_moments_never_leave_a_half_night() {
    let work = Workdir::new();
    let x = generate(&work, 30_000);
    let started = Instant::now();
    assert_ok(&run_at(&work, &x, "out", AS_OF, &[]));
    let whole = started.elapsed();
    let night = work.run_dir("out");
    let seed = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) ^ whole.as_nanos() as u64);
    eprintln!("kill offsets from KILL_SEED={seed}");
    let mut r = seed | 1;
    let mut next = || {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        r
    };
    let mut published = std::fs::read(night.join("manifest.json")).unwrap();
    for k in 0..20 {
        let at = whole.mul_f64((next() % 1000) as f64 / 1000.0 * 1.2);
        let mut child = sample_run(&work, &x)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read(night.join("manifest.json"))
            .unwrap_or_else(|e| panic!("kill {k} at {at:?}: night D is gone: {e}"));
        assert!(
            now == published || night.join("_SUCCESS").exists(),
            "kill {k} at {at:?}: a half night"
        );
        published = now;
        let visible: Vec<String> = std::fs::read_dir(work.path("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        assert_eq!(visible, [format!("as_of={AS_OF}")], "kill {k}");
    }
    std::thread::sleep(Duration::from_millis(10));
    assert_ok(&run_at(&work, &x, "out", AS_OF, &[]));
    let mut names: Vec<String> = std::fs::read_dir(work.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".lock".to_string(), format!("as_of={AS_OF}")]);
}
