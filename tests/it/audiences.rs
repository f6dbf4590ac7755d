//! `audiences/` and `audiences_csv/`: one row per eligible cell with its contact point and
//! the record's vehicles as a list, one row per vehicle for the per-vehicle cells
//! (`[output.per_vehicle]`, by default aftersales_service by post).

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;

use crate::support::*;

/// The rows of `df` for one customer, category and channel, as maps of column to text.
fn rows(
    df: &DataFrame,
    customer: &str,
    category: &str,
    channel: &str,
) -> Vec<BTreeMap<String, Option<String>>> {
    (0..df.height())
        .filter(|&i| {
            text(df, "customer_id", i).as_deref() == Some(customer)
                && text(df, "category", i).as_deref() == Some(category)
                && text(df, "channel", i).as_deref() == Some(channel)
        })
        .map(|i| {
            df.get_column_names()
                .iter()
                .map(|c| {
                    let v = if c.as_str() == "vehicles" {
                        Some(vehicles(df, i).len().to_string())
                    } else {
                        text(df, c, i)
                    };
                    (c.to_string(), v)
                })
                .collect()
        })
        .collect()
}

/// The vehicle ids of row `i`'s `vehicles`.
fn vehicles(df: &DataFrame, i: usize) -> Vec<String> {
    let list = df
        .column("vehicles")
        .unwrap()
        .list()
        .unwrap()
        .get_as_series(i);
    let Some(list) = list else { return Vec::new() };
    let ids = list.struct_().unwrap().field_by_name("vehicle_id").unwrap();
    ids.str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect()
}

fn get<'a>(row: &'a BTreeMap<String, Option<String>>, col: &str) -> Option<&'a str> {
    row.get(col)
        .unwrap_or_else(|| panic!("column {col}"))
        .as_deref()
}

/// A hand-made extract: each contact rule of the contract once, checked value by value.
#[test]
fn contact_points_follow_the_contract() {
    let work = Workdir::new();
    let x = work.path("x");
    work.write(
        "x/customers.csv",
        "dealer_id;customer_id;registered_on;initials;infix;last_name;company_name;kind;street;house_number;house_number_suffix;postcode;city;country;email;phone;mobile;app_id\n\
         D1;c1;2020-01-01;J.P.;van der;Berg;;organisation;Kerkstraat;12;a;1234ab;Ede;Nederland;Jan@Example.NL;0341-456789;06-12345678;app-1\n\
         D1;c2;2020-01-01;;;;Garage Bos B.V.;;Rue Neuve;3;;1000;Brussel;BE;geen;+32 2 511 22 33;;\n\
         D1;c3;2020-01-01;K.;;Smit;;;;;;;;;k@smit.nl;;;\n\
         D1;c4;2020-01-01;;;Vos;;organisation;;;;;;;;06-11111111;06-22222222;\n",
    );
    work.write(
        "x/invoices.csv",
        "dealer_id;invoice_id;customer_id;invoice_date\nD1;i1;c1;2026-06-01\nD1;i2;c2;2026-06-01\nD1;i3;c3;2026-06-01\nD1;i4;c4;2026-06-01\n",
    );
    work.write(
        "x/vehicles.csv",
        "dealer_id;vehicle_id;customer_id;license_plate;make;model;first_registration_on;apk_due_on\n\
         D1;v2;c1;ab-12-cd;Kia;Picanto;2019-03-01;2027-03-01\n\
         D1;v1;c1;1-XYZ-23;Volvo;V60;2021-05-05;2026-12-01\n\
         D1;v3;;99-ZZ-99;Opel;Corsa;2010-01-01;2026-01-01\n",
    );
    work.write("x/do_not_call.csv", "phone\n+31 341 456789\n");
    work.write(
        "x/preferences.csv",
        "dealer_id;customer_id;category;channel;status;recorded_at\nD1;c1;newsletter;phone;opt_in;2026-01-01\n",
    );
    work.run("pipelines/sample.toml", &x, "out");
    let run = work.run_dir("out");
    let a = dataset(&run, "audiences");

    // c1: e-mail lowercased; sms the mobile; phone by term skips the number on do_not_call,
    // phone by consent calls the first valid number; postal lines normalised (c1 and c4 are
    // organisations by `kind`: only they may be called by term since 2026-07-01)
    let email = rows(&a, "c1", "newsletter", "email");
    assert_eq!(email.len(), 1);
    assert_eq!(get(&email[0], "email"), Some("jan@example.nl"));
    assert_eq!(get(&email[0], "name"), Some("J.P. van der Berg"));
    assert_eq!(
        get(&email[0], "phone"),
        None,
        "only the channel's contact point"
    );
    assert_eq!(get(&email[0], "address"), None);
    let sms = rows(&a, "c1", "newsletter", "sms");
    assert_eq!(get(&sms[0], "phone"), Some("+31612345678"));
    let phone_term = rows(&a, "c1", "sales_actions", "phone");
    assert_eq!(get(&phone_term[0], "basis"), Some("term"));
    assert_eq!(get(&phone_term[0], "phone"), Some("+31612345678"));
    let phone_consent = rows(&a, "c1", "newsletter", "phone");
    assert_eq!(get(&phone_consent[0], "basis"), Some("consent"));
    assert_eq!(get(&phone_consent[0], "phone"), Some("+31341456789"));
    let post = rows(&a, "c1", "newsletter", "post");
    assert_eq!(get(&post[0], "address"), Some("Kerkstraat 12 a"));
    assert_eq!(get(&post[0], "postcode"), Some("1234 AB"));
    assert_eq!(get(&post[0], "city"), Some("Ede"));
    assert_eq!(get(&post[0], "country"), Some("NL"));
    assert_eq!(get(&post[0], "email"), None);
    let app = rows(&a, "c1", "newsletter", "app");
    assert_eq!(get(&app[0], "app_id"), Some("app-1"));

    // one row per vehicle for the APK letter (aftersales_service by post), by vehicle_id,
    // each listing its car; every other cell once, listing the record's cars
    let cars = rows(&a, "c1", "aftersales_service", "post");
    let plates: Vec<_> = cars.iter().map(|r| get(r, "license_plate")).collect();
    assert_eq!(plates, [Some("1XYZ23"), Some("AB12CD")]);
    assert_eq!(get(&cars[1], "make"), Some("Kia"));
    assert_eq!(get(&cars[1], "apk_due_on"), Some("2027-03-01"));
    assert!(cars.iter().all(|r| get(r, "vehicles") == Some("1")));
    for (cat, ch) in [
        ("aftersales_actions", "post"),
        ("aftersales_service", "email"),
        ("newsletter", "post"),
    ] {
        let once = rows(&a, "c1", cat, ch);
        assert_eq!(once.len(), 1, "{cat} {ch}");
        assert_eq!(get(&once[0], "license_plate"), None);
        assert_eq!(get(&once[0], "vehicles"), Some("2"), "{cat} {ch}");
    }

    // c2: a company abroad; no usable e-mail
    let post = rows(&a, "c2", "aftersales_service", "post");
    assert_eq!(post.len(), 1, "no vehicles: still one row");
    assert_eq!(get(&post[0], "name"), Some("Garage Bos B.V."));
    assert_eq!(get(&post[0], "postcode"), Some("1000"));
    assert_eq!(get(&post[0], "country"), Some("BE"));
    assert_eq!(get(&post[0], "license_plate"), None);
    assert!(rows(&a, "c2", "newsletter", "email").is_empty());
    let phone = rows(&a, "c2", "newsletter", "phone");
    assert_eq!(get(&phone[0], "phone"), Some("+3225112233"));
    assert!(
        rows(&a, "c2", "newsletter", "sms").is_empty(),
        "a fixed line"
    );

    // c4: two valid mobile numbers, none on do_not_call: sms takes `mobile`, phone `phone`
    let sms = rows(&a, "c4", "newsletter", "sms");
    assert_eq!(get(&sms[0], "phone"), Some("+31622222222"));
    let phone = rows(&a, "c4", "newsletter", "phone");
    assert_eq!(get(&phone[0], "phone"), Some("+31611111111"));
    assert_eq!(get(&phone[0], "name"), Some("Vos"));

    // c3: e-mail only
    let reached: BTreeSet<String> = (0..a.height())
        .filter(|&i| text(&a, "customer_id", i).as_deref() == Some("c3"))
        .filter_map(|i| text(&a, "channel", i))
        .collect();
    assert_eq!(reached, BTreeSet::from(["email".to_string()]));
}

/// On the sample extract: exactly the eligible cells, one row per valid vehicle for the
/// aftersales categories, owner-only files, and the CSV export holding the same rows.
#[test]
fn audiences_are_the_eligible_cells() {
    let work = Workdir::new();
    let pipeline = work.write(
        "p.toml",
        &format!(
            "[input]\ndir = \"{}\"\n[output]\naudiences_csv = true\n",
            repo().join("sample-data/iso").display()
        ),
    );
    let o = work.try_run(pipeline.to_str().unwrap(), None, "out", &[]);
    assert_ok(&o);
    let run = work.run_dir("out");
    let a = dataset(&run, "audiences");
    let e = dataset(&run, "eligibility");

    let key = |df: &DataFrame, i: usize| {
        ["dealer_id", "customer_id", "category", "channel"].map(|c| text(df, c, i).unwrap())
    };
    let eligible: BTreeSet<[String; 4]> = (0..e.height())
        .filter(|&i| e.column("eligible").unwrap().bool().unwrap().get(i) == Some(true))
        .map(|i| key(&e, i))
        .collect();
    let mut per_cell: BTreeMap<[String; 4], usize> = BTreeMap::new();
    for i in 0..a.height() {
        *per_cell.entry(key(&a, i)).or_default() += 1;
    }
    assert_eq!(per_cell.keys().cloned().collect::<BTreeSet<_>>(), eligible);

    // valid vehicles per record, from the file and the quarantine
    let q = dataset(&run, "quarantine");
    let bad: BTreeSet<i64> = (0..q.height())
        .filter(|&i| text(&q, "table", i).as_deref() == Some("vehicles"))
        .map(|i| text(&q, "line", i).unwrap().parse().unwrap())
        .collect();
    let mut cars: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(repo().join("sample-data/iso/vehicles.csv"))
        .unwrap();
    for r in rdr.records() {
        let r = r.unwrap();
        let line = r.position().unwrap().line() as i64;
        if bad.contains(&line) || r[2].trim().is_empty() {
            continue;
        }
        cars.entry((r[0].trim().into(), r[2].trim().into()))
            .or_default()
            .insert(r[1].trim().into());
    }
    let mut listed: BTreeMap<[String; 4], BTreeSet<String>> = BTreeMap::new();
    for i in 0..a.height() {
        listed
            .entry(key(&a, i))
            .or_default()
            .extend(vehicles(&a, i));
    }
    let mut per_vehicle = 0;
    for (k, n) in &per_cell {
        let owned = cars
            .get(&(k[0].clone(), k[1].clone()))
            .cloned()
            .unwrap_or_default();
        // an APK letter is per car: a row each; every other cell once, listing the cars
        if (k[2].as_str(), k[3].as_str()) == ("aftersales_service", "post") {
            assert_eq!(*n, owned.len().max(1), "{k:?}");
            per_vehicle += 1;
        } else {
            assert_eq!(*n, 1, "{k:?}");
        }
        assert_eq!(listed[k], owned, "{k:?}");
    }
    assert!(per_vehicle > 0);
    assert!(
        per_cell.values().any(|n| *n > 1) && listed.values().any(|v| v.len() > 1),
        "the sample has records with several cars"
    );

    // the hand-written cases of sample-data/README.md
    let one = |c: &str, cat: &str, ch: &str| {
        let r = rows(&a, c, cat, ch);
        assert_eq!(r.len(), 1, "{c} {cat} {ch}");
        r.into_iter().next().unwrap()
    };
    assert_eq!(
        get(&one("1001", "newsletter", "email"), "email"),
        Some("jan.jansen@ziggo.nl")
    );
    let post = one("1001", "newsletter", "post");
    assert_eq!(get(&post, "name"), Some("J. Jansen"));
    assert_eq!(get(&post, "address"), Some("Sint Jansstraat 99 bis"));
    assert_eq!(get(&post, "postcode"), Some("1593 BR"));
    assert_eq!(
        get(&one("1015", "newsletter", "phone"), "phone"),
        Some("+31341456780"),
        "consent calls the first valid number, on do_not_call or not"
    );
    assert_eq!(
        get(&one("1016", "newsletter", "sms"), "phone"),
        Some("+31611223344")
    );
    assert_eq!(
        get(&one("1023", "newsletter", "email"), "email"),
        Some("info@hoekstra-transport.nl")
    );
    assert_eq!(
        get(&one("1023", "newsletter", "post"), "name"),
        Some("Transportbedrijf Hoekstra B.V.")
    );

    // owner-only files, Parquet and CSV; the CSV export has the same rows, each channel's
    // own columns, and the listed vehicles in a file beside
    let (mut csv_rows, mut csv_vehicles) = (0, 0);
    for dir in ["audiences", "audiences_csv"] {
        let mut stack = vec![run.join(dir)];
        let mut files = 0;
        while let Some(d) = stack.pop() {
            for f in std::fs::read_dir(d).unwrap() {
                let p = f.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                files += 1;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(&p).unwrap().permissions().mode();
                    assert_eq!(mode & 0o777, 0o600, "{}", p.display());
                }
                if dir == "audiences_csv" {
                    let mut r = csv::ReaderBuilder::new()
                        .delimiter(b';')
                        .from_path(&p)
                        .unwrap();
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    let header = r.headers().unwrap().clone();
                    if name.ends_with(".vehicles.csv") {
                        assert_eq!(
                            &header,
                            vec![
                                "dealer_id",
                                "customer_id",
                                "source",
                                "vehicle_id",
                                "license_plate",
                                "make",
                                "model",
                                "first_registration_on",
                                "apk_due_on"
                            ]
                        );
                        csv_vehicles += r.records().count();
                        continue;
                    }
                    let own = match name.trim_end_matches(".csv").rsplit('-').next().unwrap() {
                        "email" => "email",
                        "sms" | "phone" => "phone",
                        "app" => "app_id",
                        _ => "address",
                    };
                    assert!(header.iter().any(|h| h == own), "{name}: {header:?}");
                    assert!(
                        !header.iter().any(|h| h == "email") || own == "email",
                        "{name}"
                    );
                    csv_rows += r.records().count();
                }
            }
        }
        assert!(files > 10, "{dir}: {files} files");
    }
    assert_eq!(csv_rows, a.height());
    let not_per_vehicle: usize = (0..a.height())
        .filter(|&i| {
            text(&a, "category", i).as_deref() != Some("aftersales_service")
                || text(&a, "channel", i).as_deref() != Some("post")
        })
        .map(|i| vehicles(&a, i).len())
        .sum();
    assert_eq!(csv_vehicles, not_per_vehicle);
    let m = manifest(&run);
    assert_eq!(m["outputs"]["audiences"]["rows"], a.height() as u64);
    assert_eq!(m["outputs"]["audiences_csv"]["rows"], a.height() as u64);
}

/// `output.audiences = false` writes no personal data at all; the CSV export needs the
/// audiences.
#[test]
fn audiences_can_be_left_out() {
    let work = Workdir::new();
    let x = repo().join("sample-data/iso");
    let off = work.write("off.toml", "[output]\naudiences = false\n");
    work.run(off.to_str().unwrap(), &x, "out");
    let run = work.run_dir("out");
    assert!(!run.join("audiences").exists());
    assert!(manifest(&run)["outputs"].get("audiences").is_none());
    assert!(run.join("eligibility").is_dir());

    let bad = work.write(
        "bad.toml",
        "[output]\naudiences = false\naudiences_csv = true\n",
    );
    let o = work.try_run(bad.to_str().unwrap(), Some(&x), "out2", &[]);
    assert_eq!(o.status.code(), Some(78));
    assert!(
        stderr(&o).contains("output.audiences_csv = true needs output.audiences = true"),
        "{}",
        stderr(&o)
    );
}

/// `[output.csv]` and friends: the delimiter, a byte order mark, each channel's columns, the
/// per-vehicle cells and the files' mode; no field holds a line break.
#[test]
fn csv_files_fit_the_mailing_platform() {
    let work = Workdir::new();
    let x = work.path("x");
    work.write(
        "x/customers.csv",
        "dealer_id;customer_id;registered_on;last_name;street;house_number;postcode;city;email\n\
         D1;c1;2020-01-01;Berg;\"Kerk\r\nstraat\";12;1234ab;Ede;jan@example.nl\n",
    );
    work.write(
        "x/invoices.csv",
        "dealer_id;invoice_id;customer_id;invoice_date\nD1;i1;c1;2026-10-01\n",
    );
    work.write(
        "x/vehicles.csv",
        "dealer_id;vehicle_id;customer_id;license_plate;make;model\n\
         D1;v1;c1;ab-12-cd;Citroën;C3\nD1;v2;c1;1-xyz-23;Kia;\"Picanto\nGT\"\n",
    );
    let pipeline = work.write(
        "p.toml",
        &format!(
            "[input]\ndir = \"{}\"\n[output]\naudiences_csv = true\nprivate_mode = \"0640\"\n\
             [output.per_vehicle]\naftersales_actions = [\"email\"]\n\
             [output.csv]\ndelimiter = \"tab\"\nbom = true\n\
             [output.csv.columns]\nemail = [\"customer_id\", \"email\", \"license_plate\"]\n",
            x.display()
        ),
    );
    assert_ok(&work.try_run(pipeline.to_str().unwrap(), None, "out", &[]));
    let run = work.run_dir("out");
    let dir = run.join("audiences_csv/dealer_id=D1");
    let read = |name: &str| {
        let bytes = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o640, "{name}");
        }
        let text = String::from_utf8(bytes).unwrap();
        let text = text
            .strip_prefix('\u{feff}')
            .expect("a byte order mark")
            .to_string();
        text.lines()
            .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    // the chosen columns; a per-vehicle cell by e-mail has a row per car
    assert_eq!(
        read("aftersales_actions-email.csv"),
        [
            vec!["customer_id", "email", "license_plate"],
            vec!["c1", "jan@example.nl", "AB12CD"],
            vec!["c1", "jan@example.nl", "1XYZ23"],
        ]
    );
    // the default per-vehicle cell is no longer one (the table lists only aftersales_actions)
    let post = read("aftersales_service-post.csv");
    assert_eq!(post.len(), 2, "{post:?}");
    let address = post[0].iter().position(|h| h == "address").unwrap();
    assert_eq!(
        post[1][address], "Kerk straat 12",
        "no line break in a field"
    );
    let cars = read("aftersales_service-post.vehicles.csv");
    assert_eq!(cars.len(), 3);
    assert_eq!(cars[2][6], "Picanto GT");
    assert!(!dir.join("aftersales_actions-email.vehicles.csv").exists());
    // Parquet audiences have the same mode
    let a = dataset(&run, "audiences");
    assert!(a.height() > 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let f = run.join("audiences/dealer_id=D1/category=newsletter/channel=email/part-0.parquet");
        let mode = std::fs::metadata(&f).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640, "{}", f.display());
    }

    // the next night c1 opts out of the newsletter by e-mail: the unsubscribe file lists
    // the cell with the address the platform has
    work.write(
        "x/preferences.csv",
        "dealer_id;customer_id;category;channel;status;recorded_at;origin\n\
         D1;c1;newsletter;email;opt_out;2026-11-22 20:00;website\n",
    );
    let o = work.run_at(
        pipeline.to_str().unwrap(),
        None,
        "out",
        "2026-11-23",
        &[],
        &[],
    );
    assert_ok(&o);
    let dir = work.path("out/as_of=2026-11-23/unsubscribe_csv/dealer_id=D1");
    let text = std::fs::read_to_string(dir.join("unsubscribe.csv")).unwrap();
    let lines: Vec<Vec<&str>> = text
        .strip_prefix('\u{feff}')
        .expect("a byte order mark")
        .lines()
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let field = |name: &str| lines[1][lines[0].iter().position(|h| *h == name).unwrap()];
    assert_eq!(
        [
            field("dealer_id"),
            field("customer_id"),
            field("category"),
            field("channel")
        ],
        ["D1", "c1", "newsletter", "email"]
    );
    assert_eq!(field("email"), "jan@example.nl");
    assert_eq!(field("new_reason"), "opted_out");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("unsubscribe.csv"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
    }

    let bad = work.write(
        "bad.toml",
        "[output.csv]\ndelimiter = \"ab\"\n[output.csv.columns]\nfax = [\"x\"]\nemail = [\"mail\"]\n\
         [output.per_vehicle]\naftersales = [\"post\"]\n[output]\nprivate_mode = \"0777\"\n",
    );
    let o = work.try_run(bad.to_str().unwrap(), Some(&x), "out2", &[]);
    assert_eq!(o.status.code(), Some(78));
    for problem in [
        "output.csv.delimiter: `ab`",
        "output.csv.columns.fax: unknown channel",
        "output.csv.columns.email: unknown column `mail`",
        "output.per_vehicle.aftersales: unknown category",
        "output.private_mode: `0777`",
    ] {
        assert!(stderr(&o).contains(problem), "{problem}: {}", stderr(&o));
    }
    let bad = work.write(
        "bad2.toml",
        "[output.csv]\nfiles = \"per_channel\"\n[output.csv.columns]\nemail = [\"customer_id\", \"email\"]\n",
    );
    let o = work.try_run(bad.to_str().unwrap(), Some(&x), "out3", &[]);
    assert_eq!(o.status.code(), Some(78));
    let problem = "output.csv.columns.email: files = \"per_channel\"";
    assert!(stderr(&o).contains(problem), "{problem}: {}", stderr(&o));
}

/// `[output.csv] files = "per_channel"`: one audience file (and one vehicles file) per
/// category x channel for all dealers, with the same rows as the per-dealer files.
#[test]
fn csv_files_per_channel_hold_every_dealer() {
    let work = Workdir::new();
    let x = repo().join("sample-data/iso");
    let per_dealer = work.write("a.toml", "[output]\naudiences_csv = true\n");
    let per_channel = work.write(
        "b.toml",
        "[output]\naudiences_csv = true\n[output.csv]\nfiles = \"per_channel\"\n",
    );
    work.run(per_dealer.to_str().unwrap(), &x, "a");
    work.run(per_channel.to_str().unwrap(), &x, "b");
    let rows = |root: &str| -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut stack = vec![work.run_dir(root).join("audiences_csv")];
        while let Some(d) = stack.pop() {
            for f in std::fs::read_dir(d).unwrap() {
                let p = f.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                let text = std::fs::read_to_string(&p).unwrap();
                out.entry(name)
                    .or_default()
                    .extend(text.lines().skip(1).map(str::to_string));
            }
        }
        out
    };
    let (a, b) = (rows("a"), rows("b"));
    assert_eq!(a, b);
    let flat: Vec<String> = std::fs::read_dir(work.run_dir("b").join("audiences_csv"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        flat.iter().all(|n| std::path::Path::new(n)
            .extension()
            .is_some_and(|e| e == "csv")),
        "{flat:?}"
    );
    assert!(flat.contains(&"newsletter-email.csv".to_string()));
    let dealers: BTreeSet<&str> = b["newsletter-post.csv"]
        .iter()
        .map(|l| l.split(';').next().unwrap())
        .collect();
    assert_eq!(dealers, ["D001", "D002"].into());
    let m = manifest(&work.run_dir("b"));
    assert_eq!(
        m["outputs"]["audiences_csv"]["rows"],
        manifest(&work.run_dir("a"))["outputs"]["audiences_csv"]["rows"]
    );
    assert_eq!(
        m["outputs"]["audiences_csv"]["files"].as_u64(),
        Some(flat.iter().filter(|n| !n.contains(".vehicles")).count() as u64)
    );
}
