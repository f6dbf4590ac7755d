//! `explain`: agrees with `run` on every cell of every sample record, says when a cell
//! changes by itself, and reads well (snapshot).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use eligibility::explain::{self, Explanation};
use eligibility::pipeline::Pipeline;
use eligibility::progress::Progress;
use eligibility::run::Job;

use crate::support::*;

fn job(as_of: NaiveDate) -> Job {
    let pipeline = Pipeline::load(&repo().join("pipelines/sample.toml")).expect("pipeline");
    Job::new(pipeline, as_of, Some(repo().join("sample-data/iso")), None).expect("job")
}

fn as_of() -> NaiveDate {
    NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap()
}

/// Every cell `run` wrote for the sample, per record: (category, channel) -> (eligible,
/// basis, reason, expires_on, law).
type Cells =
    BTreeMap<(String, String), (bool, Option<String>, Option<String>, String, Option<String>)>;

#[test]
fn explain_agrees_with_run_on_every_sample_record() {
    let work = Workdir::new();
    let run = work.run_sample();
    let e = dataset(&run, "eligibility");
    let mut by_record: BTreeMap<(String, String), Cells> = BTreeMap::new();
    for i in 0..e.height() {
        let rec = (
            text(&e, "dealer_id", i).unwrap(),
            text(&e, "customer_id", i).unwrap(),
        );
        let cell = (
            text(&e, "category", i).unwrap(),
            text(&e, "channel", i).unwrap(),
        );
        let v = (
            text(&e, "eligible", i).unwrap() == "true",
            text(&e, "basis", i),
            text(&e, "reason", i),
            text(&e, "expires_on", i).unwrap(),
            text(&e, "law", i),
        );
        by_record.entry(rec).or_default().insert(cell, v);
    }
    let a = dataset(&run, "audiences");
    let mut contacts: BTreeMap<(String, String, String, String), Vec<Option<String>>> =
        BTreeMap::new();
    for i in 0..a.height() {
        let key =
            ["dealer_id", "customer_id", "category", "channel"].map(|c| text(&a, c, i).unwrap());
        let point = [
            "name", "email", "phone", "app_id", "address", "postcode", "city", "country",
        ]
        .map(|c| text(&a, c, i));
        contacts.insert(key.into(), point.to_vec());
    }

    // every customers row of the sample, valid or not
    let mut ids: Vec<(String, String)> = Vec::new();
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(repo().join("sample-data/iso/customers.csv"))
        .unwrap();
    for r in rdr.records() {
        let r = r.unwrap();
        let id = (r[0].trim().to_string(), r[1].trim().to_string());
        if !id.0.is_empty() && !id.1.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
    }
    let dealers: Vec<String> = {
        let mut d: Vec<String> = ids.iter().map(|i| i.0.clone()).collect();
        d.sort();
        d.dedup();
        d
    };
    let mut explained = 0;
    for dealer in &dealers {
        let loaded = explain::load(&job(as_of()), dealer, &Progress::new(true)).unwrap();
        for (_, customer) in ids.iter().filter(|i| &i.0 == dealer) {
            let x = loaded.explain(customer).unwrap();
            let rec = (dealer.clone(), customer.clone());
            match (&x.record, by_record.get(&rec)) {
                (None, None) => {
                    assert!(!x.quarantined.is_empty(), "{rec:?}: says why");
                }
                (Some(r), Some(cells)) => {
                    assert_eq!(r.cells.len(), cells.len(), "{rec:?}");
                    for c in &r.cells {
                        let key = (c.category.to_string(), c.channel.to_string());
                        let got = (
                            c.outcome.eligible,
                            c.outcome.basis.map(str::to_string),
                            c.outcome.reason.map(str::to_string),
                            c.expires_on.clone(),
                            c.outcome.law.clone(),
                        );
                        assert_eq!(Some(&got), cells.get(&key), "{rec:?} {key:?}");
                        let audience = contacts.get(&(
                            dealer.clone(),
                            customer.clone(),
                            key.0.clone(),
                            key.1.clone(),
                        ));
                        if c.outcome.eligible {
                            let p = c.contact.as_ref().expect("an eligible cell has a contact");
                            let mine = vec![
                                p.name.clone(),
                                p.email.clone(),
                                p.phone.clone(),
                                p.app_id.clone(),
                                p.address.clone(),
                                p.postcode.clone(),
                                p.city.clone(),
                                p.country.clone(),
                            ];
                            assert_eq!(audience, Some(&mine), "{rec:?} {key:?}");
                        } else {
                            assert_eq!(audience, None, "{rec:?} {key:?}");
                        }
                    }
                    explained += 1;
                }
                (r, c) => panic!(
                    "{rec:?}: explain {} cells, run {:?}",
                    r.is_some(),
                    c.map(BTreeMap::len)
                ),
            }
        }
    }
    assert_eq!(explained, by_record.len(), "every decided record explained");
    assert!(loaded_error_for_unknown());
}

fn loaded_error_for_unknown() -> bool {
    let loaded = explain::load(&job(as_of()), "D001", &Progress::new(true)).unwrap();
    loaded.explain("no-such-customer").is_err()
}

/// `next_change` is the first day the cell is decided otherwise: explain again on that day
/// and on the day before.
#[test]
fn next_change_is_the_day_the_decision_changes() {
    let customers = ["1001", "1003", "1004", "1012", "1014", "1019", "1022"];
    let now = explain::load(&job(as_of()), "D001", &Progress::new(true)).unwrap();
    let mut checked = 0;
    for c in customers {
        let x: Explanation = now.explain(c).unwrap();
        for (i, cell) in x.record.unwrap().cells.iter().enumerate() {
            let Some(next) = &cell.next_change else {
                continue;
            };
            let day = NaiveDate::parse_from_str(&next.date, "%Y-%m-%d").unwrap();
            for (d, expect_changed) in [(day - chrono::Duration::days(1), false), (day, true)] {
                let then = explain::load(&job(d), "D001", &Progress::new(true)).unwrap();
                let y = then.explain(c).unwrap().record.unwrap();
                let o = &y.cells[i].outcome;
                let same = (o.eligible, o.basis, o.reason)
                    == (
                        cell.outcome.eligible,
                        cell.outcome.basis,
                        cell.outcome.reason,
                    );
                assert_eq!(
                    !same, expect_changed,
                    "{c} {} {} on {d}",
                    cell.category, cell.channel
                );
                if expect_changed {
                    assert_eq!(
                        (o.eligible, o.reason),
                        (next.outcome.eligible, next.outcome.reason)
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} cells checked");
}

#[test]
fn explain_text_and_json() {
    let work = Workdir::new();
    let p = repo().join("pipelines/sample.toml");
    let explain = |dealer: &str, customer: &str, json: bool| {
        let mut args = vec![
            "explain",
            "--pipeline",
            p.to_str().unwrap(),
            "--dealer",
            dealer,
            "--customer",
            customer,
            "--as-of",
            AS_OF,
        ];
        if json {
            args.push("--json");
        }
        work.cmd(&args)
    };
    let mut all = String::new();
    for (dealer, customer) in [("D001", "1002"), ("D001", "1015"), ("D002", "2905")] {
        let o = explain(dealer, customer, false);
        assert_ok(&o);
        all += &String::from_utf8_lossy(&o.stdout);
        all += "\n";
    }
    insta::assert_snapshot!(all);

    let o = explain("D001", "1006", true);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cells = v["record"]["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 20);
    let tie = cells
        .iter()
        .find(|c| c["category"] == "sales_actions" && c["channel"] == "email")
        .unwrap();
    assert_eq!(tie["reason"], "opted_out");
    assert_eq!(tie["rule"], "6", "a string: the table has rules 8a and 9a");
    assert_eq!(tie["preference"]["status"], "opt_out");
    assert_eq!(
        tie["beaten"][0]["status"], "opt_in",
        "the opt-in of the same instant"
    );

    let o = explain("D001", "nobody", false);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no customer record nobody of dealer D001"),
        "{}",
        stderr(&o)
    );
}
