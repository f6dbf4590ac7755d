//! `changes/`: two consecutive nights, with cells that flip by the calendar, by a new opt-out,
//! and records that appear and disappear.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::support::*;

type Cells = BTreeMap<[String; 4], (Option<bool>, Option<String>)>;

fn key(df: &DataFrame, i: usize) -> [String; 4] {
    ["dealer_id", "customer_id", "category", "channel"].map(|c| text(df, c, i).unwrap())
}

/// Every cell of an eligibility dataset: (eligible, reason).
fn cells(run: &std::path::Path) -> Cells {
    let e = dataset(run, "eligibility");
    (0..e.height())
        .map(|i| {
            let eligible = e.column("eligible").unwrap().bool().unwrap().get(i);
            (key(&e, i), (eligible, text(&e, "reason", i)))
        })
        .collect()
}

#[test]
fn changes_list_what_differs_from_the_previous_run() {
    let work = Workdir::new();
    let day1 = work.copy_sample("iso", "day1");
    let day2 = work.copy_sample("iso", "day2");
    // night 2: 1001 opts out of the newsletter by e-mail, 1023 is gone, 9999 is new
    let customers = std::fs::read_to_string(day2.join("customers.csv")).unwrap();
    let mut customers: Vec<&str> = customers
        .lines()
        .filter(|l| !l.starts_with("D001;1023;"))
        .collect();
    customers.push("D001;9999;2026-11-21;Website;;;;Nieuw;;;;;;;;nieuw@example.nl;;;;\n");
    std::fs::write(day2.join("customers.csv"), customers.join("\n")).unwrap();
    let mut prefs = std::fs::read_to_string(day2.join("preferences.csv")).unwrap();
    prefs += "D001;1001;newsletter;email;opt_out;2026-11-21T20:00;website\n";
    std::fs::write(day2.join("preferences.csv"), prefs).unwrap();

    // decoys: a folder without _SUCCESS and a later date are never compared with
    work.write("out/as_of=2026-11-21x/_SUCCESS", "");
    work.write("out/as_of=2026-11-30/_SUCCESS", "");
    work.write(
        "out/as_of=2026-11-20/eligibility/dealer_id=D001/part-0.parquet",
        "junk",
    );

    let p = repo().join("pipelines/sample.toml");
    let out = work.path("out");
    let night = |input: &std::path::Path, as_of: &str| {
        assert_ok(&work.cmd(&[
            "run",
            "--quiet",
            "--pipeline",
            p.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--as-of",
            as_of,
        ]));
        out.join(format!("as_of={as_of}"))
    };
    let first = night(&day1, "2026-11-21");
    let m = manifest(&first);
    assert_eq!(m["changes"]["previous_as_of"], serde_json::Value::Null);
    assert_eq!(m["outputs"]["changes"]["rows"], 0);
    assert!(first.join("changes").is_dir());

    let second = night(&day2, "2026-11-22");
    let m = manifest(&second);
    assert_eq!(m["changes"]["previous_as_of"], "2026-11-21");

    // expected: every cell whose eligible or reason differs, or that exists on one night only
    let (old, new) = (cells(&first), cells(&second));
    let mut expected: BTreeMap<[String; 4], &str> = BTreeMap::new();
    for (k, o) in &old {
        match new.get(k) {
            None => {
                expected.insert(k.clone(), "disappeared");
            }
            Some(n) if n != o => {
                expected.insert(k.clone(), "changed");
            }
            Some(_) => {}
        }
    }
    for k in new.keys().filter(|k| !old.contains_key(*k)) {
        expected.insert(k.clone(), "appeared");
    }
    let c = dataset(&second, "changes");
    let got: BTreeMap<[String; 4], String> = (0..c.height())
        .map(|i| (key(&c, i), text(&c, "change", i).unwrap()))
        .collect();
    assert_eq!(got.len(), c.height(), "one row per cell");
    assert_eq!(
        got,
        expected
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    );
    assert_eq!(m["outputs"]["changes"]["rows"], c.height() as u64);

    // the known ones, with old and new values
    let row = |customer: &str, category: &str, channel: &str| {
        let i = (0..c.height())
            .find(|&i| key(&c, i)[1..] == [customer, category, channel])
            .unwrap_or_else(|| panic!("{customer} {category} {channel} listed"));
        [
            "change",
            "old_eligible",
            "new_eligible",
            "old_reason",
            "new_reason",
        ]
        .map(|col| text(&c, col, i))
    };
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        row("1001", "newsletter", "email"),
        [s("changed"), s("true"), s("false"), None, s("opted_out")]
    );
    // 1003's digital cells end on 2026-11-22 itself
    assert_eq!(
        row("1003", "newsletter", "email"),
        [s("changed"), s("true"), s("false"), None, s("expired")]
    );
    assert_eq!(
        row("1023", "newsletter", "post")[..3],
        [s("disappeared"), s("true"), None]
    );
    assert_eq!(row("9999", "prospects", "post")[0], s("appeared"));
    assert_eq!(row("9999", "prospects", "email")[1], None);
    let of = |who: &str| got.keys().filter(|k| k[1] == who).count();
    assert_eq!((of("1023"), of("9999")), (20, 5));

    // unsubscribe/: every cell eligible last night and not tonight, with the contact point of
    // last night's audience (owner-only, like the audiences)
    let u = dataset(&second, "unsubscribe");
    let lost: BTreeMap<[String; 4], String> = old
        .iter()
        .filter(|(k, o)| o.0 == Some(true) && new.get(*k).and_then(|n| n.0) != Some(true))
        .map(|(k, _)| (k.clone(), expected[k].to_string()))
        .collect();
    let listed: BTreeMap<[String; 4], String> = (0..u.height())
        .map(|i| (key(&u, i), text(&u, "change", i).unwrap()))
        .collect();
    assert_eq!(listed.len(), u.height(), "one row per cell");
    assert_eq!(listed, lost);
    assert_eq!(m["outputs"]["unsubscribe"]["rows"], u.height() as u64);
    let a = dataset(&first, "audiences");
    let last_night = |k: &[String; 4], col: &str| {
        (0..a.height())
            .find(|&i| key(&a, i) == *k)
            .and_then(|i| text(&a, col, i))
    };
    for i in 0..u.height() {
        let k = key(&u, i);
        for col in ["name", "email", "phone", "app_id", "address", "postcode"] {
            assert_eq!(text(&u, col, i), last_night(&k, col), "{k:?} {col}");
        }
    }
    let gone = (0..u.height())
        .find(|&i| key(&u, i)[1..] == ["1001", "newsletter", "email"])
        .expect("the opt-out is listed");
    assert_eq!(text(&u, "new_reason", gone).as_deref(), Some("opted_out"));
    assert!(text(&u, "email", gone).is_some());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let f = second.join("unsubscribe/dealer_id=D001/part-0.parquet");
        let mode = std::fs::metadata(f).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// `run --from D1 --to D2` decides every night of the range in order, each by its own
/// extract (`{as_of}` in `--input`), and then refreshes `changes/` and `unsubscribe/` of the
/// first published night after D2, which now follows a different night; that night's other
/// files stay as they were.
#[test]
fn a_backfill_refreshes_the_next_nights_changes() {
    let work = Workdir::new();
    for d in ["2026-06-29", "2026-06-30", "2026-07-01", "2026-07-02"] {
        work.copy_sample("iso", &format!("x/{d}"));
    }
    let x = |d: &str| work.path(&format!("x/{d}"));
    // on the last night 1003 opts out of the newsletter by e-mail
    let prefs = x("2026-07-02").join("preferences.csv");
    let text = std::fs::read_to_string(&prefs).unwrap();
    let opt_out = "D001;1003;newsletter;email;opt_out;2026-07-01 20:00;website\n";
    std::fs::write(&prefs, text + opt_out).unwrap();
    for d in ["2026-06-29", "2026-07-02"] {
        assert_ok(&work.run_at("pipelines/sample.toml", Some(&x(d)), "out", d, &[], &[]));
    }
    let last = work.path("out/as_of=2026-07-02");
    assert_eq!(manifest(&last)["changes"]["previous_as_of"], "2026-06-29");
    let eligibility =
        std::fs::read(last.join("eligibility/dealer_id=D001/part-0.parquet")).unwrap();

    let pattern = work.path("x/{as_of}");
    let o = work.cmd(&[
        "run",
        "--quiet",
        "--pipeline",
        repo().join("pipelines/sample.toml").to_str().unwrap(),
        "--input",
        pattern.to_str().unwrap(),
        "--out",
        work.path("out").to_str().unwrap(),
        "--from",
        "2026-06-30",
        "--to",
        "2026-07-01",
    ]);
    assert_ok(&o);
    for (d, before) in [
        ("2026-06-30", "2026-06-29"),
        ("2026-07-01", "2026-06-30"),
        ("2026-07-02", "2026-07-01"),
    ] {
        let m = manifest(&work.path(&format!("out/as_of={d}")));
        assert_eq!(m["changes"]["previous_as_of"], before, "{d}");
    }
    // the same as nights run one after another from the start
    for d in ["2026-07-01", "2026-07-02"] {
        assert_ok(&work.run_at("pipelines/sample.toml", Some(&x(d)), "fresh", d, &[], &[]));
    }
    let fresh = work.path("fresh/as_of=2026-07-02");
    for name in ["changes", "unsubscribe"] {
        assert_eq!(
            dataset(&last, name),
            dataset(&fresh, name),
            "{name} of 2026-07-02 after the backfill"
        );
        assert_eq!(
            manifest(&last)["outputs"][name]["rows"],
            manifest(&fresh)["outputs"][name]["rows"]
        );
    }
    let gone = &manifest(&last)["outputs"]["unsubscribe"]["rows"];
    assert!(gone.as_u64().is_some_and(|n| n > 0), "{gone}");
    assert_eq!(
        std::fs::read(last.join("eligibility/dealer_id=D001/part-0.parquet")).unwrap(),
        eligibility
    );
    assert!(std::fs::read_to_string(last.join("report.html"))
        .unwrap()
        .contains("2026-07-01"));

    let o = work.cmd(&[
        "run",
        "--pipeline",
        repo().join("pipelines/sample.toml").to_str().unwrap(),
        "--from",
        "2026-07-02",
        "--to",
        "2026-07-01",
    ]);
    assert_eq!(o.status.code(), Some(64));
    assert!(
        stderr(&o).contains("--from 2026-07-02 is after --to 2026-07-01"),
        "{}",
        stderr(&o)
    );
    // a range over one extract folder would decide every night from the same extract
    let o = work.cmd(&[
        "run",
        "--pipeline",
        repo().join("pipelines/sample.toml").to_str().unwrap(),
        "--from",
        "2026-07-01",
        "--to",
        "2026-07-02",
    ]);
    assert_eq!(o.status.code(), Some(64));
    assert!(stderr(&o).contains("has no {as_of}"), "{}", stderr(&o));
}
