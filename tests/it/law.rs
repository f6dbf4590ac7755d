//! The law in force on the as-of date (the contract's section of that name): recipients,
//! consent-only rules (9a), the 36-month cap, postfilter (8a), the deceased register, the
//! dating of `expires_on`, the `law` column, the manifest, `validate`, `eligibility law`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::support::*;

/// Runs the bundled pipeline on the bundled sample for `as_of` into `out`.
fn run_sample_at(work: &Workdir, as_of: &str, out: &str) -> PathBuf {
    let input = repo().join("sample-data/iso");
    assert_ok(&work.run_at("pipelines/sample.toml", Some(&input), out, as_of, &[], &[]));
    work.path(out).join(format!("as_of={as_of}"))
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The contract's reading of each sample customer row: (dealer, customer) -> natural
/// person (its `kind` when given, else organisation when it has a company name).
fn natural_persons() -> BTreeMap<(String, String), bool> {
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(repo().join("sample-data/iso/customers.csv"))
        .unwrap();
    let h = r.headers().unwrap().clone();
    let at = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (dealer, id, kind, company) = (
        at("dealer_id"),
        at("customer_id"),
        at("kind"),
        at("company_name"),
    );
    r.records()
        .map(|row| {
            let row = row.unwrap();
            let kind = row[kind].trim().to_lowercase();
            let natural = match kind.as_str() {
                "person" | "sole_trader" => true,
                "" => row[company].trim().is_empty(),
                _ => false,
            };
            ((row[dealer].to_string(), row[id].to_string()), natural)
        })
        .collect()
}

/// Rows of `df` as (dealer, customer, category, channel, eligible, basis/reason, expires_on,
/// anchor_date, law).
struct Row {
    dealer: String,
    customer: String,
    category: String,
    channel: String,
    relation: String,
    eligible: bool,
    outcome: String,
    expires: NaiveDate,
    anchor: NaiveDate,
    law: Option<String>,
}

fn rows(df: &DataFrame) -> Vec<Row> {
    (0..df.height())
        .map(|i| {
            let t = |c: &str| text(df, c, i);
            let eligible = t("eligible") == Some("true".into());
            Row {
                dealer: t("dealer_id").unwrap(),
                customer: t("customer_id").unwrap(),
                category: t("category").unwrap(),
                channel: t("channel").unwrap(),
                relation: t("relation").unwrap(),
                eligible,
                outcome: t(if eligible { "basis" } else { "reason" }).unwrap(),
                expires: d(&t("expires_on").unwrap()),
                anchor: d(&t("anchor_date").unwrap()),
                law: t("law"),
            }
        })
        .collect()
}

fn one<'a>(rows: &'a [Row], customer: &str, category: &str, channel: &str) -> &'a Row {
    rows.iter()
        .find(|r| {
            r.dealer == "D001"
                && r.customer == customer
                && r.category == category
                && r.channel == channel
        })
        .unwrap_or_else(|| panic!("no cell D001/{customer}/{category}/{channel}"))
}

fn outcome(r: &Row) -> (bool, &str, Option<&str>) {
    (r.eligible, r.outcome.as_str(), r.law.as_deref())
}

struct Night {
    _work: Workdir,
    run: PathBuf,
    rows: Vec<Row>,
}

fn night(as_of: &'static str) -> Night {
    let work = Workdir::new();
    let run = run_sample_at(&work, as_of, "out");
    let rows = rows(&dataset(&run, "eligibility"));
    Night {
        _work: work,
        run,
        rows,
    }
}

/// Done when: the bundled sample run for today has no term-based phone cell for a natural
/// person; organisations keep theirs.
#[test]
fn no_natural_person_is_called_on_a_term_since_2026_07_01() {
    let natural = natural_persons();
    for as_of in ["2026-07-01", "2026-11-22", "2026-12-03"] {
        let n = night(as_of);
        let mut organisations_by_term = 0;
        for r in n.rows.iter().filter(|r| r.channel == "phone") {
            let person = natural[&(r.dealer.clone(), r.customer.clone())];
            if person {
                assert!(
                    !(r.eligible && r.outcome == "term"),
                    "{as_of}: {}/{} {} phone is eligible by term",
                    r.dealer,
                    r.customer,
                    r.category
                );
                if !r.eligible && r.outcome == "consent_required_by_law" {
                    let want = if r.relation == "customer" {
                        "nl-tw-11.7-phone-2026"
                    } else {
                        "nl-tw-11.7-phone-2021-prospect"
                    };
                    assert_eq!(r.law.as_deref(), Some(want));
                }
            } else if r.eligible && r.outcome == "term" {
                organisations_by_term += 1;
            }
        }
        assert!(organisations_by_term > 0, "{as_of}: organisations by term");
    }
}

#[test]
fn recipients_from_kind_or_company_name() {
    let n = night("2026-11-22");
    let rows = &n.rows;
    // a sole trader (kind, with a company name) is a natural person
    assert_eq!(
        outcome(one(rows, "1026", "newsletter", "phone")),
        (
            false,
            "consent_required_by_law",
            Some("nl-tw-11.7-phone-2026")
        )
    );
    // an organisation by kind, without a company name: the policy's 48 months, no law
    let org = one(rows, "1027", "newsletter", "phone");
    assert_eq!(outcome(org), (true, "term", None));
    assert_eq!(org.expires, d("2028-01-10"));
    // kind person beats a company name; an opt-in lifts consent-only
    assert_eq!(
        outcome(one(rows, "1028", "newsletter", "phone")),
        (true, "consent", None)
    );
    assert_eq!(
        outcome(one(rows, "1028", "sales_actions", "phone")),
        (
            false,
            "consent_required_by_law",
            Some("nl-tw-11.7-phone-2026")
        )
    );
    // e-mail, sms and app to customers: the policy's term stands
    assert_eq!(
        outcome(one(rows, "1026", "aftersales_service", "email")),
        (true, "term", None)
    );
    // prospects: digital channels consent only for every recipient, phone for persons
    assert_eq!(
        outcome(one(rows, "1030", "prospects", "email")),
        (
            false,
            "consent_required_by_law",
            Some("nl-tw-11.7-digital-prospect")
        )
    );
    assert_eq!(
        outcome(one(rows, "1029", "prospects", "phone")).1,
        "unreachable"
    );
    assert_eq!(
        outcome(one(rows, "1019", "prospects", "phone")),
        (
            false,
            "consent_required_by_law",
            Some("nl-tw-11.7-phone-2021-prospect")
        )
    );
    // a company by company_name alone: the policy's term
    assert_eq!(
        outcome(one(rows, "1030", "prospects", "phone")),
        (true, "term", None)
    );
}

#[test]
fn postfilter_binds_natural_persons_who_are_prospects() {
    let n = night("2026-11-22");
    let rows = &n.rows;
    // `3511ab` / `BIS` on the register matches `3511 AB` / `bis`
    assert_eq!(
        outcome(one(rows, "1029", "prospects", "post")),
        (false, "postfilter", Some("nl-postfilter"))
    );
    // an organisation, a prospect with an opt-in, a customer: not bound
    assert_eq!(
        outcome(one(rows, "1030", "prospects", "post")),
        (true, "term", None)
    );
    assert_eq!(
        outcome(one(rows, "1031", "prospects", "post")),
        (true, "consent", None)
    );
    assert_eq!(
        outcome(one(rows, "1032", "newsletter", "post")),
        (true, "term", None)
    );
}

fn rows_of<'a>(n: &'a Night, customer: &str) -> Vec<&'a Row> {
    n.rows
        .iter()
        .filter(|r| r.dealer == "D001" && r.customer == customer)
        .collect()
}

#[test]
fn the_deceased_register_matches_address_and_last_name() {
    let n = night("2026-11-22");
    // postcode spacing, suffix case, last name case and spaces; the infix is not compared
    for r in rows_of(&n, "1033") {
        assert_eq!(
            outcome(r),
            (false, "deceased", Some("nl-overledenenregister")),
            "{} {}",
            r.category,
            r.channel
        );
    }
    // the same address with another last name, and another suffix: not deceased
    for c in ["1034", "1035"] {
        assert!(
            rows_of(&n, c).iter().all(|r| r.outcome != "deceased"),
            "{c}"
        );
    }
    // the customers row's own flag: rule 4 without a law
    assert_eq!(
        outcome(one(&n.rows, "1010", "newsletter", "email")),
        (false, "deceased", None)
    );
}

/// Done when: a backfill for 2024-05-01 caps natural persons' phone terms at 36 months.
#[test]
fn a_backfill_for_2024_05_01_caps_phone_terms_at_36_months() {
    let natural = natural_persons();
    let n = night("2024-05-01");
    let mut capped = 0;
    for r in n
        .rows
        .iter()
        .filter(|r| r.channel == "phone" && r.relation == "customer")
    {
        let months = |m| r.anchor.checked_add_months(chrono::Months::new(m)).unwrap();
        if natural[&(r.dealer.clone(), r.customer.clone())] {
            assert!(
                r.expires <= months(36).max(d("2020-06-01")).min(d("2026-07-01")),
                "{}/{} {}: {} from {}",
                r.dealer,
                r.customer,
                r.category,
                r.expires,
                r.anchor
            );
            if r.eligible && r.outcome == "term" {
                capped += 1;
                assert!(r.expires > d("2024-05-01"));
                let want = if months(36) <= d("2026-06-30") {
                    "nl-tw-11.7-phone-2021"
                } else {
                    "nl-tw-11.7-phone-2026"
                };
                assert_eq!(r.law.as_deref(), Some(want), "{}", r.customer);
            }
            assert_ne!(
                r.outcome, "consent_required_by_law",
                "no consent-only rule for customers' calls in 2024"
            );
        } else if r.outcome == "term" {
            assert_eq!(r.expires, months(48));
        }
    }
    assert!(
        capped > 10,
        "natural persons called by term in 2024: {capped}"
    );
}

/// The contract's dating example: a run for 2026-06-15 shows natural persons' phone cells
/// expiring 2026-07-01, so that expiring/ and changes/ foresee the change.
#[test]
fn a_run_for_2026_06_15_foresees_2026_07_01() {
    let work = Workdir::new();
    let june = run_sample_at(&work, "2026-06-15", "out");
    let natural = natural_persons();
    let rows = rows(&dataset(&june, "eligibility"));
    let mut foreseen = std::collections::BTreeSet::new();
    for r in rows.iter().filter(|r| r.channel == "phone") {
        if natural[&(r.dealer.clone(), r.customer.clone())] && r.relation == "customer" {
            assert!(r.expires <= d("2026-07-01"), "{}", r.customer);
            if r.eligible && r.outcome == "term" && r.expires == d("2026-07-01") {
                assert_eq!(r.law.as_deref(), Some("nl-tw-11.7-phone-2026"));
                foreseen.insert((r.dealer.clone(), r.customer.clone(), r.category.clone()));
            }
        }
    }
    assert!(foreseen.len() > 10, "{}", foreseen.len());
    let soon = dataset(&june, "expiring")
        .lazy()
        .filter(
            col("channel")
                .eq(lit("phone"))
                .and(col("law").eq(lit("nl-tw-11.7-phone-2026"))),
        )
        .collect()
        .unwrap();
    assert_eq!(soon.height(), foreseen.len(), "expiring/ lists them");
    for i in 0..soon.height() {
        assert_eq!(text(&soon, "expires_on", i).as_deref(), Some("2026-07-01"));
        assert_eq!(text(&soon, "days_left", i).as_deref(), Some("16"));
    }
    // the night the rule comes into force, changes/ lists each of them
    let july = run_sample_at(&work, "2026-07-01", "out");
    let changed = dataset(&july, "changes")
        .lazy()
        .filter(
            col("channel")
                .eq(lit("phone"))
                .and(col("new_reason").eq(lit("consent_required_by_law")))
                .and(col("old_eligible").eq(lit(true))),
        )
        .collect()
        .unwrap();
    let changed: std::collections::BTreeSet<(String, String, String)> = (0..changed.height())
        .map(|i| {
            let t = |c: &str| text(&changed, c, i).unwrap();
            (t("dealer_id"), t("customer_id"), t("category"))
        })
        .collect();
    assert!(foreseen.is_subset(&changed));
}

#[test]
fn registers_and_kind_quarantine_bad_rows() {
    let n = night("2026-11-22");
    let q = dataset(&n.run, "quarantine");
    let count = |table: &str, reason: &str| {
        q.clone()
            .lazy()
            .filter(
                col("table")
                    .eq(lit(table))
                    .and(col("reason").eq(lit(reason))),
            )
            .collect()
            .unwrap()
            .height()
    };
    assert_eq!(count("postfilter", "missing_value"), 1);
    assert_eq!(count("deceased_register", "missing_value"), 1);
    let file = repo().join("sample-data/iso/customers.csv");
    let bad = q
        .clone()
        .lazy()
        .filter(
            col("table")
                .eq(lit("customers"))
                .and(col("line").eq(lit(line_of(&file, "D002;2906;")))),
        )
        .collect()
        .unwrap();
    assert_eq!(text(&bad, "reason", 0).as_deref(), Some("bad_value"));
    let m = manifest(&n.run);
    let pf = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["table"] == "postfilter")
        .unwrap();
    assert_eq!(pf["rows_read"], 6);
    assert_eq!(pf["exact_duplicates"], 1);
    assert_eq!(pf["rows_valid"], 4);
}

#[test]
fn the_manifest_names_the_law_table_and_the_rules_in_force() {
    let n = night("2026-11-22");
    let m = manifest(&n.run);
    assert_eq!(m["law"]["version"], "nl-2026.1");
    assert_eq!(m["law"]["table"], "built in");
    let ids: Vec<&str> = m["law"]["rules_in_force"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(ids.contains(&"nl-tw-11.7-phone-2026"));
    assert!(!ids.contains(&"nl-tw-11.7-phone-2021"));
    let consent_by_law: u64 = m["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "consent_required_by_law")
        .map(|c| c["cells"].as_u64().unwrap())
        .sum();
    assert!(consent_by_law > 0);
}

#[test]
fn eligibility_law_prints_the_rules_in_force_with_sources() {
    let work = Workdir::new();
    let all = work.cmd(&["law"]);
    assert_ok(&all);
    let all = String::from_utf8_lossy(&all.stdout).into_owned();
    for id in [
        "nl-code-telemarketing-2020",
        "nl-tw-11.7-phone-2026",
        "nl-postfilter",
    ] {
        assert!(all.contains(id), "{id} in\n{all}");
    }
    assert!(all.contains("Kamerstuk 36378"), "{all}");
    let o = work.cmd(&["law", "--as-of", "2026-06-30", "--json"]);
    assert_ok(&o);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = j["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"nl-tw-11.7-phone-2021"));
    assert!(!ids.contains(&"nl-tw-11.7-phone-2026"));
    assert!(!ids.contains(&"nl-code-telemarketing-2020"));
    assert_eq!(
        work.cmd(&["law", "--as-of", "gisteren"]).status.code(),
        Some(64)
    );
}

#[test]
fn validate_warns_for_every_term_the_law_caps() {
    let work = Workdir::new();
    let p = repo().join("pipelines/sample.toml");
    let validate = |as_of: &str| {
        let o = work.cmd(&[
            "validate",
            "--pipeline",
            p.to_str().unwrap(),
            "--as-of",
            as_of,
        ]);
        assert_ok(&o);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let now = validate("2026-12-03");
    for cat in [
        "aftersales_service",
        "newsletter",
        "sales_actions",
        "aftersales_actions",
    ] {
        let line = format!("warning: policy.terms.{cat}.phone = 48 months");
        assert!(now.contains(&line), "{line} in\n{now}");
    }
    assert!(
        now.contains("consent only by `nl-tw-11.7-phone-2026`"),
        "{now}"
    );
    assert!(
        now.contains("policy.terms.prospects.phone = 3 months"),
        "{now}"
    );
    assert!(!now.contains("policy.terms.newsletter.email"), "{now}");
    let then = validate("2024-05-01");
    assert!(
        then.contains("capped at 36 months by `nl-tw-11.7-phone-2021`"),
        "{then}"
    );
    assert_eq!(validate("2019-01-01").matches("warning:").count(), 0);
}

/// A law table of the dealer's own (`[law] file`) is applied, and a bad one is refused with
/// every problem listed.
#[test]
fn a_law_file_of_the_pipelines_own() {
    let work = Workdir::new();
    let input = repo().join("sample-data/iso");
    work.write(
        "law.toml",
        r#"
        version = "test-1"
        [[rule]]
        id = "test-no-post"
        channels = ["post"]
        recipients = "all"
        relation = "customer"
        from = "2026-01-01"
        effect = "consent_only"
        source = "a test"
        "#,
    );
    let pipeline = work.write(
        "p.toml",
        &format!(
            "[input]\ndir = {:?}\n[law]\nfile = \"law.toml\"\n",
            input.display().to_string()
        ),
    );
    let out = work.path("out");
    assert_ok(&work.cmd(&[
        "run",
        "--quiet",
        "--pipeline",
        pipeline.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--as-of",
        AS_OF,
    ]));
    let run = out.join(format!("as_of={AS_OF}"));
    let rows = rows(&dataset(&run, "eligibility"));
    assert_eq!(
        outcome(one(&rows, "1001", "newsletter", "post")),
        (false, "consent_required_by_law", Some("test-no-post"))
    );
    // the built-in table is not applied: natural persons' phone cells by term again
    assert_eq!(
        outcome(one(&rows, "1001", "newsletter", "phone")),
        (true, "term", None)
    );
    assert_eq!(manifest(&run)["law"]["version"], "test-1");
    work.write(
        "law.toml",
        "version = \"x\"\n[[rule]]\nid = \"a\"\nchannels = [\"fax\"]\nrecipients = \"all\"\nrelation = \"all\"\neffect = \"consent_only\"\nsource = \"s\"\n",
    );
    let o = work.cmd(&["law", "--pipeline", pipeline.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(78));
    let err = stderr(&o);
    assert!(
        err.contains("law.toml")
            && err.contains("problem(s) in the law table")
            && err.contains("`fax`"),
        "{err}"
    );
}

#[test]
fn explain_names_the_rule_of_the_law() {
    let work = Workdir::new();
    let p = repo().join("pipelines/sample.toml");
    let o = work.cmd(&[
        "explain",
        "--pipeline",
        p.to_str().unwrap(),
        "--dealer",
        "D001",
        "--customer",
        "1026",
        "--as-of",
        "2026-06-15",
    ]);
    assert_ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("recipient: sole trader"), "{text}");
    assert!(
        text.contains("newsletter / phone: eligible by term (rule 12: otherwise: in term; law nl-tw-11.7-phone-2026)"),
        "{text}"
    );
    assert!(
        text.contains(
            "changes by itself on 2026-07-01: not eligible: consent_required_by_law (rule 9a"
        ),
        "{text}"
    );
}
