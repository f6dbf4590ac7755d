//! A deterministic generator of contract-shaped extracts at any size, for benchmarks, tests
//! and for users who want to try the product at their own scale.
//!
//! Shape: dealer sizes Pareto-skewed (a few large groups, many small garages), ~10%
//! prospects, ~8 invoices per customer over ten years (skewed), ~1.4 vehicles per customer
//! with Dutch plates, ~15% of records with 1-3 preference rows (some wildcards), ~0.5%
//! requests, a do-not-call list of ~N/10 numbers, postfilter and deceased-register extracts
//! that match some records (~8% of prospects' addresses, ~0.3% of persons), Dutch contact data
//! with some junk, and ~0.1% bad rows of every quarantine kind plus exact duplicates. Customers are generated in
//! chunks in parallel; every chunk has its own seeded random stream, so the output depends
//! only on the arguments.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};
use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::schema::Table;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    pub customers: u64,
    pub dealers: Option<u64>,
    pub seed: u64,
    pub parquet: bool,
    pub as_of: NaiveDate,
    pub out: PathBuf,
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: small, fast, and good enough for test data.
struct Rng(u64);

impl Rng {
    /// Stream `stream` of seed `seed`: streams start at unrelated points of the sequence.
    fn new(seed: u64, stream: u64) -> Rng {
        Rng(mix(mix(seed) ^ mix(stream ^ 0xD6E8_FEB8_6659_FD93)))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// uniform in [0, 1)
    fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

const FIRST: &[&str] = &[
    "Jan", "Piet", "Kees", "Henk", "Willem", "Johan", "Gerrit", "Sander", "Bas", "Daan", "Sem",
    "Lucas", "Thijs", "Ruben", "Maria", "Anna", "Els", "Ingrid", "Linda", "Anouk", "Emma", "Julia",
    "Sophie", "Lotte", "Fleur", "Sanne", "Eva", "Iris", "Mohammed", "Fatima", "Zoë", "René",
    "José", "Noël",
];
const LAST: &[&str] = &[
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
    "Brouwer",
    "Dijkstra",
    "Janssen",
    "Vermeulen",
    "Willems",
    "Hoekstra",
    "Koster",
    "Prins",
    "Berg",
    "Dijk",
    "Heuvel",
    "Leeuwen",
    "Öztürk",
    "Müller",
    "Gonçalves",
    "El Amrani",
    "Nguyen",
];
const INFIX: &[&str] = &[
    "van", "de", "van der", "van den", "van de", "den", "ter", "in 't", "van 't",
];
const STREETS: &[&str] = &[
    "Hoofdstraat",
    "Kerkstraat",
    "Dorpsstraat",
    "Schoolstraat",
    "Molenweg",
    "Stationsweg",
    "Julianastraat",
    "Beatrixlaan",
    "Wilhelminastraat",
    "Nieuwstraat",
    "Marktplein",
    "Industrieweg",
    "Kastanjelaan",
    "Burgemeester de Withstraat",
    "Prins Hendrikkade",
    "Sint Jansstraat",
    "Van Goghstraat",
];
const CITIES: &[&str] = &[
    "Amsterdam",
    "Rotterdam",
    "Den Haag",
    "Utrecht",
    "Eindhoven",
    "Groningen",
    "Tilburg",
    "Almere",
    "Breda",
    "Nijmegen",
    "Apeldoorn",
    "Arnhem",
    "Haarlem",
    "Enschede",
    "'s-Hertogenbosch",
    "Zwolle",
    "Leiden",
    "Maastricht",
    "Súdwest-Fryslân",
];
const DOMAINS: &[&str] = &[
    "gmail.com",
    "hotmail.com",
    "outlook.com",
    "ziggo.nl",
    "kpnmail.nl",
    "planet.nl",
    "xs4all.nl",
];
const MAKES: &[&str] = &[
    "Volkswagen",
    "Opel",
    "Peugeot",
    "Renault",
    "Toyota",
    "Kia",
    "Ford",
    "Volvo",
    "Škoda",
    "Citroën",
];
const MODELS: &[&str] = &[
    "Golf", "Polo", "Corsa", "208", "Clio", "Yaris", "Niro", "Focus", "XC40", "Octavia", "C3",
];
const DEPARTMENTS: &[&str] = &[
    "Werkplaats",
    "Werkplaats",
    "Werkplaats",
    "Onderdelen",
    "Verkoop",
    "Schade",
];
const JUNK: &[&str] = &["geen", "-", "n.v.t.", "onbekend", "0000000000", "06-1234"];
const PLATE: &str = "BDFGHJKLNPRSTVXZ";

/// Columns per table, in file order.
fn header(t: Table) -> Vec<&'static str> {
    t.columns().iter().map(|c| c.name).collect()
}

/// One chunk of rows per table, column by column ("" is empty).
struct Chunk {
    tables: Vec<Vec<Vec<String>>>,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            tables: Table::ALL
                .iter()
                .map(|t| vec![Vec::new(); header(*t).len()])
                .collect(),
        }
    }
    fn push(&mut self, t: Table, row: Vec<String>) {
        for (col, v) in self.tables[t as usize].iter_mut().zip(row) {
            col.push(v);
        }
    }
    fn copy_last(&mut self, t: Table, change: Option<(usize, &str)>) {
        let cols = &mut self.tables[t as usize];
        for (i, col) in cols.iter_mut().enumerate() {
            let v = match &change {
                Some((j, v)) if *j == i => (*v).to_string(),
                _ => col.last().cloned().unwrap_or_default(),
            };
            col.push(v);
        }
    }
}

/// Dealer sizes adding up to `n`: Pareto(1.3) weights.
fn dealer_sizes(n: u64, dealers: u64, seed: u64) -> Vec<u64> {
    let mut r = Rng::new(seed, u64::MAX);
    let w: Vec<f64> = (0..dealers)
        .map(|_| (1.0 - r.f()).powf(-1.0 / 1.3))
        .collect();
    let total: f64 = w.iter().sum();
    let mut sizes: Vec<u64> = w
        .iter()
        .map(|x| ((n as f64) * x / total).floor().max(1.0) as u64)
        .collect();
    let mut sum: u64 = sizes.iter().sum();
    let mut i = 0;
    while sum != n {
        let j = i % sizes.len();
        if sum < n {
            sizes[j] += 1;
            sum += 1;
        } else if sizes[j] > 1 {
            sizes[j] -= 1;
            sum -= 1;
        }
        i += 1;
    }
    sizes
}

fn mobile(r: &mut Rng) -> String {
    let rest = format!("{}{}", r.pick(&["1", "2", "3", "4", "5", "8"]), r.digits(7));
    match r.below(6) {
        0 => format!("06-{rest}"),
        1 => format!("06{rest}"),
        2 => format!("+31 6 {rest}"),
        3 => format!(
            "06 {} {} {} {}",
            &rest[..2],
            &rest[2..4],
            &rest[4..6],
            &rest[6..]
        ),
        4 => format!("0031 6 {rest}"),
        _ => format!("+31 (0)6 {rest}"),
    }
}

fn landline(r: &mut Rng) -> String {
    let area = r.pick(&[
        "010", "020", "030", "038", "040", "050", "070", "0341", "0529", "0572", "0543",
    ]);
    let sub = format!("{}{}", 2 + r.below(8), r.digits(9 - area.len()));
    match r.below(4) {
        0 => format!("{area}-{sub}"),
        1 => format!("({area}) {sub}"),
        2 => format!("+31 {} {sub}", &area[1..]),
        _ => format!("{area}{sub}"),
    }
}

fn plate(r: &mut Rng) -> String {
    let l = |r: &mut Rng, k: usize| -> String {
        (0..k)
            .map(|_| PLATE.as_bytes()[r.below(16) as usize] as char)
            .collect()
    };
    match r.below(3) {
        0 => format!("{}-{}-{}", r.digits(2), l(r, 3), r.digits(1)),
        1 => format!("{}-{}-{}", l(r, 2), r.digits(3), l(r, 1)),
        _ => format!("{}-{}-{}", r.digits(1), l(r, 3), r.digits(2)),
    }
}

/// Generates the customers `first..first + count` of one chunk.
fn chunk(spec: &Spec, dealers: &[(String, u64, u64)], index: u64, first: u64, count: u64) -> Chunk {
    let mut r = Rng::new(spec.seed, index);
    let mut c = Chunk::new();
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let as_of = spec.as_of;
    let mut dealer = dealers.partition_point(|d| d.1 + d.2 <= first);
    for g in first..first + count {
        while dealers[dealer].1 + dealers[dealer].2 <= g {
            dealer += 1;
        }
        let (dealer_id, start, _) = &dealers[dealer];
        let customer_id = (10_000 + g - start).to_string();
        let is_customer = r.chance(0.9);
        let first_day = as_of - Duration::days(r.below(3650) as i64);
        let span = (-(1.0 - r.f()).ln() * 2000.0) as i64;
        let last_day = (first_day + Duration::days(span)).min(as_of);
        let registered = if is_customer {
            first_day - Duration::days(r.below(90) as i64)
        } else {
            as_of - Duration::days(r.below(730) as i64)
        };
        let company = r.chance(0.08);
        let (first_name, last_name) = (r.pick(FIRST), r.pick(LAST));
        let email = match r.below(100) {
            0..=79 => format!(
                "{}.{}{}@{}",
                first_name.to_lowercase(),
                last_name.to_lowercase().replace(' ', ""),
                r.below(100),
                r.pick(DOMAINS)
            ),
            80..=81 => r.pick(JUNK).to_string(),
            _ => String::new(),
        };
        let bad = r.chance(0.001);
        let mut row = vec![
            dealer_id.clone(),
            customer_id.clone(),
            day(registered),
            r.pick(&["Dealer", "Dealer", "Dealer", "Website", "Import", ""])
                .to_string(),
            if company {
                String::new()
            } else {
                format!("{}.", &first_name[..1])
            },
            if company {
                String::new()
            } else {
                first_name.to_string()
            },
            if !company && r.chance(0.3) {
                r.pick(INFIX).to_string()
            } else {
                String::new()
            },
            if company {
                String::new()
            } else {
                last_name.to_string()
            },
            if company {
                format!("Autobedrijf {last_name} B.V.")
            } else {
                String::new()
            },
            // kind: mostly left to company_name; some sole traders with a trade name
            match (company, r.below(20)) {
                (true, 0..=5) => "sole_trader".into(),
                (true, 6..=9) => "organisation".into(),
                (false, 0..=3) => "person".into(),
                (false, 4) => "Person".into(),
                _ => String::new(),
            },
            r.pick(STREETS).to_string(),
            (1 + r.below(250)).to_string(),
            r.pick(&["", "", "", "", "", "", "A", "bis"]).to_string(),
            format!(
                "{} {}{}",
                1000 + r.below(9000),
                r.pick(&["A", "B", "C", "E", "G", "K", "L", "P"]),
                r.pick(&["A", "B", "C", "H", "N", "R", "T", "X"])
            ),
            r.pick(CITIES).to_string(),
            r.pick(&["", "", "", "", "", "NL", "Nederland", "BE"])
                .to_string(),
            email,
            match r.below(100) {
                0..=33 => landline(&mut r),
                34..=39 => mobile(&mut r),
                40 => r.pick(JUNK).to_string(),
                _ => String::new(),
            },
            match r.below(100) {
                0..=69 => mobile(&mut r),
                70 => r.pick(JUNK).to_string(),
                _ => String::new(),
            },
            if r.chance(0.12) {
                format!("app-{}", r.digits(8))
            } else {
                String::new()
            },
            r.pick(&["", "", "", "", "", "", "", "N", "nee", "0", "false", "ja"])
                .to_string(),
        ];
        if bad {
            match r.below(5) {
                0 => row[1] = String::new(),
                1 => row[2] = registered.format("%d-%m-%Y").to_string(),
                2 if r.chance(0.5) => row[20] = "misschien".into(),
                2 => row[9] = "bedrijf".into(),
                3 => row[2] = day(as_of + Duration::days(1 + r.below(400) as i64)),
                _ => row[0] = String::new(),
            }
        }
        c.push(Table::Customers, row);
        if r.chance(0.0004) {
            c.copy_last(Table::Customers, None);
        } else if r.chance(0.0002) {
            c.copy_last(
                Table::Customers,
                Some((16, &format!("nieuw.{customer_id}@ziggo.nl"))),
            );
        }

        // vehicles
        let nv = if is_customer {
            [0, 1, 1, 1, 1, 2, 2, 2, 3, 4][r.below(10) as usize]
        } else {
            u64::from(r.chance(0.1))
        };
        let mut vehicle_ids = Vec::new();
        for _ in 0..nv {
            let vid = format!("V{g}{}", vehicle_ids.len());
            let first_reg = first_day - Duration::days(r.below(3000) as i64);
            let mut row = vec![
                dealer_id.clone(),
                vid.clone(),
                if r.chance(0.03) {
                    String::new()
                } else {
                    customer_id.clone()
                },
                plate(&mut r),
                format!("WVWZZZ{}", r.digits(11)),
                r.pick(MAKES).to_string(),
                r.pick(MODELS).to_string(),
                day(first_reg),
                day(first_reg + Duration::days(365 * 4 + r.below(1500) as i64)),
            ];
            if r.chance(0.001) {
                match r.below(3) {
                    0 => row[2] = format!("99{}", r.digits(7)),
                    1 => row[8] = "volgend jaar".into(),
                    _ => row[1] = String::new(),
                }
            }
            c.push(Table::Vehicles, row);
            if r.chance(0.0003) {
                c.copy_last(Table::Vehicles, Some((3, "99-XX-99")));
            }
            vehicle_ids.push(vid);
        }

        // invoices: the first on the last day, the others spread over the customer's years
        if is_customer {
            let mean = [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 10.0, 10.0, 30.0][r.below(10) as usize];
            let k = 1 + (-(1.0 - r.f()).ln() * mean) as u64;
            let days_between = (last_day - first_day).num_days().max(0) as u64;
            for j in 0..k {
                let date = if j == 0 {
                    last_day
                } else {
                    first_day + Duration::days(r.below(days_between + 1) as i64)
                };
                let cents = r.below(250_000) + 500;
                let mut row = vec![
                    dealer_id.clone(),
                    format!("F{g}-{j}"),
                    customer_id.clone(),
                    day(date),
                    if vehicle_ids.is_empty() || r.chance(0.15) {
                        String::new()
                    } else {
                        vehicle_ids[r.below(vehicle_ids.len() as u64) as usize].clone()
                    },
                    r.pick(DEPARTMENTS).to_string(),
                    format!(
                        "{}{}{:02}",
                        cents / 100,
                        if r.chance(0.7) { "," } else { "." },
                        cents % 100
                    ),
                ];
                if r.chance(0.001) {
                    match r.below(5) {
                        0 => row[3] = String::new(),
                        1 => row[3] = date.format("%d-%m-%Y").to_string(),
                        2 => row[3] = day(as_of + Duration::days(1 + r.below(400) as i64)),
                        3 => {
                            row[6] = r
                                .pick(&["12,34,56", "n.v.t.", "€ 12,50", "1.234,56"])
                                .to_string();
                        }
                        _ => row[2] = format!("99{}", r.digits(7)),
                    }
                }
                c.push(Table::Invoices, row);
                if r.chance(0.0003) {
                    c.copy_last(Table::Invoices, None);
                } else if r.chance(0.0002) {
                    c.copy_last(Table::Invoices, Some((6, "0,01")));
                }
            }
        }

        // preferences: ~15% of records, 1-3 rows, some ties
        let np = match r.below(1000) {
            0..=89 => 1,
            90..=131 => 2,
            132..=149 => 3,
            _ => 0,
        };
        let mut last_at = String::new();
        for j in 0..np {
            let cat = if is_customer {
                r.pick(&[
                    "aftersales_service",
                    "newsletter",
                    "sales_actions",
                    "aftersales_actions",
                    "*",
                    "*",
                    "prospects",
                ])
            } else {
                r.pick(&["prospects", "prospects", "*", "newsletter"])
            };
            let lo = registered.max(as_of - Duration::days(8 * 365));
            let when = lo + Duration::days(r.below((as_of - lo).num_days().max(1) as u64) as i64);
            let at = if j > 0 && r.chance(0.3) {
                last_at.clone()
            } else {
                match r.below(4) {
                    0 => format!(
                        "{} {:02}:{:02}:{:02}",
                        day(when),
                        8 + r.below(12),
                        r.below(60),
                        r.below(60)
                    ),
                    1 => format!(
                        "{}T{:02}:{:02}:00Z",
                        day(when),
                        6 + r.below(12),
                        r.below(60)
                    ),
                    2 => format!("{} {:02}:{:02}", day(when), 8 + r.below(12), r.below(60)),
                    _ => day(when),
                }
            };
            last_at.clone_from(&at);
            let mut row = vec![
                dealer_id.clone(),
                customer_id.clone(),
                cat.to_string(),
                r.pick(&["email", "email", "sms", "phone", "post", "app", "*", "*"])
                    .to_string(),
                r.pick(&[
                    "opt_out", "opt_out", "opt_in", "opt_in", "Opt_In", "OPT_OUT",
                ])
                .to_string(),
                at,
                r.pick(&["website", "balie", "app", "telefoon", "werkplaats"])
                    .to_string(),
            ];
            if r.chance(0.001) {
                match r.below(7) {
                    6 => row[4] = String::new(),
                    0 => row[2] = "marketing".into(),
                    1 => row[3] = "fax".into(),
                    2 => row[4] = "ja".into(),
                    3 => row[5] = format!("{} 10:00", when.format("%d-%m-%Y")),
                    4 => {
                        row[5] = format!(
                            "{} 10:00:00",
                            day(as_of + Duration::days(2 + r.below(300) as i64))
                        );
                    }
                    _ => row[1] = format!("99{}", r.digits(7)),
                }
            }
            c.push(Table::Preferences, row);
            if r.chance(0.0005) {
                c.copy_last(Table::Preferences, None);
            }
        }

        // requests: ~0.5% of records
        if r.chance(0.005) {
            let mut row = vec![
                dealer_id.clone(),
                customer_id.clone(),
                r.pick(&[
                    "erasure",
                    "erasure",
                    "objection",
                    "objection",
                    "restriction",
                    " Objection ",
                ])
                .to_string(),
                day(as_of - Duration::days(r.below(1100) as i64)),
            ];
            if r.chance(0.01) {
                match r.below(4) {
                    3 => row[3] = String::new(),
                    0 => row[2] = "verwijderen".into(),
                    1 => row[3] = day(as_of + Duration::days(1 + r.below(30) as i64)),
                    _ => row[1] = format!("99{}", r.digits(7)),
                }
            }
            c.push(Table::Requests, row);
        }

        // the registers: some prospects' addresses on postfilter, some persons on the
        // deceased register (postcode spacing and case as the registers write them), and
        // addresses of nobody's
        let address = |r: &mut Rng, row: &[String]| {
            let pc = match r.below(3) {
                0 => row[13].replace(' ', ""),
                1 => row[13].to_lowercase(),
                _ => row[13].clone(),
            };
            vec![pc, row[11].clone(), row[12].to_uppercase()]
        };
        let own = c.tables[Table::Customers as usize]
            .iter()
            .map(|col| col.last().cloned().unwrap_or_default())
            .collect::<Vec<String>>();
        if r.chance(if is_customer { 0.01 } else { 0.08 }) {
            let a = address(&mut r, &own);
            c.push(Table::Postfilter, a);
        }
        if !company && r.chance(0.003) {
            let mut a = address(&mut r, &own);
            a.push(own[7].to_uppercase());
            c.push(Table::DeceasedRegister, a);
        }
        if r.chance(0.01) {
            let a = vec![
                format!("{}{}", 1000 + r.below(9000), r.pick(&["AB", "KL", "TX"])),
                (1 + r.below(300)).to_string(),
                String::new(),
            ];
            c.push(Table::Postfilter, a.clone());
            if r.chance(0.2) {
                let mut a = a;
                a.push(r.pick(LAST).to_string());
                c.push(Table::DeceasedRegister, a);
            }
        }
        if r.chance(0.0005) {
            c.push(
                Table::Postfilter,
                vec![String::new(), "1".into(), String::new()],
            );
        }

        // do_not_call: some customers' own numbers, random numbers, a little junk
        if r.chance(0.04) {
            c.push(
                Table::DoNotCall,
                vec![if r.chance(0.5) {
                    mobile(&mut r)
                } else {
                    landline(&mut r)
                }],
            );
        }
        if r.chance(0.06) {
            c.push(Table::DoNotCall, vec![mobile(&mut r)]);
        }
        if r.chance(0.0005) {
            c.push(
                Table::DoNotCall,
                vec![r
                    .pick(&["geen", "06-1234", "+31 6 1234", "123", "06-123456789", " "])
                    .to_string()],
            );
        }
    }
    c
}

/// Writes one table's chunks as they come, as CSV or Parquet.
enum Sink {
    Csv(BufWriter<File>),
    Parquet(
        Box<polars::io::parquet::write::BatchedWriter<File>>,
        Vec<&'static str>,
    ),
}

impl Sink {
    fn open(dir: &Path, t: Table, parquet: bool) -> Result<Sink> {
        let path = dir.join(format!("{t}.{}", if parquet { "parquet" } else { "csv" }));
        let file = File::create(&path).map_err(|e| Error::Output {
            path: path.clone(),
            source: e,
        })?;
        let names = header(t);
        if parquet {
            let schema: Schema = names
                .iter()
                .map(|n| Field::new((*n).into(), DataType::String))
                .collect();
            let writer = ParquetWriter::new(file)
                .with_compression(ParquetCompression::Zstd(None))
                .batched(&schema)?;
            Ok(Sink::Parquet(Box::new(writer), names))
        } else {
            let mut w = BufWriter::with_capacity(1 << 20, file);
            writeln!(w, "{}", names.join(";")).map_err(|e| Error::Output { path, source: e })?;
            Ok(Sink::Csv(w))
        }
    }

    fn write(&mut self, cols: &[Vec<String>]) -> Result<()> {
        let rows = cols.first().map_or(0, Vec::len);
        match self {
            Sink::Csv(w) => {
                let mut buf = String::with_capacity(rows * 64);
                for i in 0..rows {
                    for (j, c) in cols.iter().enumerate() {
                        if j > 0 {
                            buf.push(';');
                        }
                        buf.push_str(&c[i]);
                    }
                    buf.push('\n');
                }
                w.write_all(buf.as_bytes())
                    .map_err(|e| Error::Internal(e.to_string()))
            }
            Sink::Parquet(w, names) => {
                let columns = names
                    .iter()
                    .zip(cols)
                    .map(|(n, c)| {
                        let v: StringChunked = c
                            .iter()
                            .map(|s| (!s.is_empty()).then_some(s.as_str()))
                            .collect();
                        v.with_name((*n).into()).into_column()
                    })
                    .collect();
                w.write_batch(&DataFrame::new(rows, columns)?)?;
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            Sink::Csv(mut w) => w.flush().map_err(|e| Error::Internal(e.to_string())),
            Sink::Parquet(w, _) => {
                w.finish()?;
                Ok(())
            }
        }
    }
}

/// Customer records per chunk: the unit of parallel work.
const CHUNK: u64 = 50_000;

/// Generates the extract; returns the rows written per table.
pub fn generate(spec: &Spec, progress: &Progress) -> Result<Vec<(Table, u64)>> {
    std::fs::create_dir_all(&spec.out).map_err(|e| Error::Output {
        path: spec.out.clone(),
        source: e,
    })?;
    let n = spec.customers.max(1);
    let m = spec.dealers.unwrap_or_else(|| n.div_ceil(5000)).clamp(1, n);
    let sizes = dealer_sizes(n, m, spec.seed);
    let mut start = 0;
    let dealers: Vec<(String, u64, u64)> = sizes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let d = (format!("D{:05}", i + 1), start, *s);
            start += s;
            d
        })
        .collect();
    let mut sinks: Vec<Sink> = Table::ALL
        .iter()
        .map(|t| Sink::open(&spec.out, *t, spec.parquet))
        .collect::<Result<_>>()?;
    let mut counts = vec![0u64; Table::ALL.len()];
    let chunks: Vec<u64> = (0..n.div_ceil(CHUNK)).collect();
    // two chunks per core at a time keep the writer busy without holding many in memory
    for batch in chunks.chunks(rayon::current_num_threads() * 2) {
        let made: Vec<Chunk> = batch
            .par_iter()
            .map(|&i| chunk(spec, &dealers, i, i * CHUNK, CHUNK.min(n - i * CHUNK)))
            .collect();
        for c in made {
            for (t, cols) in c.tables.iter().enumerate() {
                counts[t] += cols.first().map_or(0, Vec::len) as u64;
                sinks[t].write(cols)?;
            }
        }
        let done = ((batch[batch.len() - 1] + 1) * CHUNK).min(n);
        progress.step(format!("generated {done} of {n} customer records"));
    }
    for s in sinks {
        s.finish()?;
    }
    Ok(Table::ALL.iter().copied().zip(counts).collect())
}
