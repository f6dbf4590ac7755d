//! The pipeline file: where the extract is, how its CSV files are written, where the output
//! goes, the policy (terms, explicit-consent cells, retention) for all dealers and per
//! dealer, and which law table bounds it.
//!
//! Parse, then resolve: the raw TOML structs below only mirror the file; `resolve` checks
//! everything and returns every problem at once, each naming its key. Nothing here reads the
//! extract.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::guard::ShrinkLimits;
use crate::policy::{Category, Channel, Law, Policy, Slot, Terms};
use crate::schema::{Table, CATEGORIES, CHANNELS};
use crate::values::DateFormat;

#[derive(Deserialize, Default)]
struct RawPipeline {
    #[serde(default)]
    input: RawInput,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    dealers: BTreeMap<String, RawPolicy>,
    #[serde(default)]
    run: RawRun,
    #[serde(default)]
    law: RawLaw,
    #[serde(default)]
    guard: RawGuard,
}

#[derive(Deserialize, Default)]
struct RawGuard {
    #[serde(default)]
    max_drop_percent: BTreeMap<String, i64>,
}

#[derive(Deserialize, Default)]
struct RawLaw {
    file: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawRun {
    buckets: Option<i64>,
    bucket_rows: Option<i64>,
}

#[derive(Deserialize, Default)]
struct RawInput {
    dir: Option<String>,
    delimiter: Option<String>,
    encoding: Option<String>,
    date_format: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawOutput {
    dir: Option<String>,
    expiring_days: Option<i64>,
    audiences: Option<bool>,
    audiences_csv: Option<bool>,
    private_mode: Option<String>,
    per_vehicle: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    csv: RawCsvOutput,
}

#[derive(Deserialize, Default)]
struct RawCsvOutput {
    delimiter: Option<String>,
    bom: Option<bool>,
    files: Option<String>,
    #[serde(default)]
    columns: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize, Default, Clone)]
struct RawPolicy {
    #[serde(default)]
    terms: BTreeMap<String, BTreeMap<String, i64>>,
    #[serde(default)]
    explicit_consent: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    retention_months: BTreeMap<String, i64>,
}

/// How CSV files of the extract are written.
#[derive(Clone, Debug)]
pub struct CsvOptions {
    pub delimiter: u8,
    pub encoding: &'static encoding_rs::Encoding,
    pub date_format: DateFormat,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b';',
            encoding: encoding_rs::UTF_8,
            date_format: DateFormat::iso(),
        }
    }
}

/// The most buckets a run may use (each holds an open file per table while routing).
pub const MAX_BUCKETS: usize = 1024;

/// Input rows a bucket may hold before it is processed in parts (`run.bucket_rows`): about
/// 800 MiB at some 200 bytes a row.
pub const BUCKET_ROWS: u64 = 4_000_000;

/// A checked pipeline file.
#[derive(Clone, Debug)]
pub struct Pipeline {
    pub path: PathBuf,
    pub sha256: String,
    pub input_dir: Option<PathBuf>,
    pub output_dir: PathBuf,
    pub csv: CsvOptions,
    pub policy: Policy,
    /// How many buckets of dealers the run splits the extract into (`None`: from its size).
    pub buckets: Option<usize>,
    /// A bucket of more input rows than this is split further by customer record and
    /// processed a part at a time.
    pub bucket_rows: u64,
    /// `expiring/` lists term-based eligible cells whose `expires_on` falls within this many
    /// days after the as-of date.
    pub expiring_days: u32,
    /// Write `audiences/` (contact points of the eligible cells).
    pub audiences: bool,
    /// Also write `audiences_csv/` (and `unsubscribe_csv/`): the audiences as CSV files.
    pub audiences_csv: bool,
    /// How the audiences and the unsubscribe feed are written for a mailing platform.
    pub mailing: Mailing,
    /// `[law] file`, relative to the pipeline file.
    pub law_file: Option<PathBuf>,
    /// The law table: the built-in one, or `[law] file`.
    pub law: Law,
    /// How far a table's valid rows may drop from the previous published night.
    pub shrink: ShrinkLimits,
}

impl Pipeline {
    /// Reads and checks a pipeline file; a problem of any kind is `Error::Pipeline` listing
    /// every problem found.
    pub fn load(path: &Path) -> Result<Pipeline, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::PipelineUnreadable {
            path: path.to_path_buf(),
            source: e,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut p = Pipeline::from_toml(&text, base).map_err(|problems| Error::Pipeline {
            path: path.to_path_buf(),
            problems,
        })?;
        p.path = path.to_path_buf();
        if let Some(file) = &p.law_file {
            p.law = Law::load(file)?;
        }
        Ok(p)
    }

    /// Parses pipeline text; relative folders are taken relative to `base`.
    pub fn from_toml(text: &str, base: &Path) -> Result<Pipeline, Vec<String>> {
        let mut problems = Vec::new();
        let de = toml::Deserializer::parse(text).map_err(|e| vec![toml_error(&e)])?;
        let raw: RawPipeline =
            serde_ignored::deserialize(de, |key| problems.push(format!("unknown key `{key}`")))
                .map_err(|e: toml::de::Error| vec![toml_error(&e)])?;

        let csv = resolve_csv(&raw.input, &mut problems);
        let default = resolve_terms(
            &raw.policy,
            &Terms::contract_default(),
            "policy",
            &mut problems,
        );
        let dealers = raw
            .dealers
            .iter()
            .map(|(d, p)| {
                (
                    d.clone(),
                    resolve_terms(p, &default, &format!("dealers.{d}"), &mut problems),
                )
            })
            .collect();
        let buckets = raw.run.buckets.and_then(|b| {
            let ok = usize::try_from(b)
                .ok()
                .filter(|b| (1..=MAX_BUCKETS).contains(b));
            if ok.is_none() {
                problems.push(format!(
                    "run.buckets: {b} is not a number from 1 to {MAX_BUCKETS}"
                ));
            }
            ok
        });
        let bucket_rows = match raw.run.bucket_rows.map(u64::try_from) {
            None => BUCKET_ROWS,
            Some(Ok(n)) if n > 0 => n,
            Some(_) => {
                problems.push(format!(
                    "run.bucket_rows: {} is not a positive number of rows",
                    raw.run.bucket_rows.unwrap_or_default()
                ));
                BUCKET_ROWS
            }
        };
        let expiring_days = match raw.output.expiring_days.map(u32::try_from) {
            None => 30,
            Some(Ok(d @ 1..=3660)) => d,
            Some(_) => {
                problems.push(format!(
                    "output.expiring_days: {} is not a number of days from 1 to 3660",
                    raw.output.expiring_days.unwrap_or_default()
                ));
                30
            }
        };
        let shrink = resolve_guard(&raw.guard, &mut problems);
        let audiences = raw.output.audiences.unwrap_or(true);
        let audiences_csv = raw.output.audiences_csv.unwrap_or(false);
        if audiences_csv && !audiences {
            problems.push("output.audiences_csv = true needs output.audiences = true".into());
        }
        let mailing = resolve_mailing(&raw.output, &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Pipeline {
            path: PathBuf::new(),
            sha256: crate::values::hex(&Sha256::digest(text.as_bytes())),
            input_dir: raw.input.dir.map(|d| resolve(base, d)),
            output_dir: resolve(base, raw.output.dir.unwrap_or_else(|| "out".into())),
            csv,
            policy: Policy { default, dealers },
            buckets,
            bucket_rows,
            expiring_days,
            audiences,
            audiences_csv,
            mailing,
            law_file: raw.law.file.map(|f| base.join(f)),
            law: Law::built_in(),
            shrink,
        })
    }
}

/// How the audiences, their CSV files and the unsubscribe feed are written.
#[derive(Clone, Debug)]
pub struct Mailing {
    /// The slots whose audience rows repeat per vehicle (a message per car).
    pub per_vehicle: [bool; Slot::COUNT],
    /// The CSV files' delimiter.
    pub delimiter: u8,
    /// Start each CSV file with a UTF-8 byte order mark (for Excel).
    pub bom: bool,
    /// The CSV columns of each channel's audience files, in `Channel::ALL` order.
    pub columns: [Vec<&'static str>; 5],
    /// The file mode of the files holding contact points.
    pub mode: u32,
    /// One CSV file per category x channel for all dealers (`files = "per_channel"`), not
    /// one per dealer x category x channel.
    pub csv_per_channel: bool,
}

/// The columns an audience CSV file may have: its partition keys, then the audience's own.
pub fn csv_columns() -> Vec<&'static str> {
    ["dealer_id", "category", "channel"]
        .into_iter()
        .chain(crate::audience::COLUMNS)
        .collect()
}

impl Mailing {
    /// The default CSV columns of a channel's audience files: the cell, the name, and the
    /// channel's own contact point (for post the vehicle too, on per-vehicle rows).
    pub fn default_columns(channel: Channel) -> Vec<&'static str> {
        let mut c = vec![
            "dealer_id",
            "category",
            "channel",
            "customer_id",
            "source",
            "relation",
            "basis",
            "expires_on",
            "law",
            "name",
        ];
        c.extend(match channel {
            Channel::Email => &["email"][..],
            Channel::Sms | Channel::Phone => &["phone"][..],
            Channel::App => &["app_id"][..],
            Channel::Post => &crate::audience::COLUMNS[10..],
        });
        c
    }

    /// `[output.per_vehicle]` when left out: the aftersales service letter (the APK
    /// reminder), which is about one car.
    pub fn default_per_vehicle() -> [bool; Slot::COUNT] {
        let mut p = [false; Slot::COUNT];
        p[Slot::of(Category::AftersalesService, Channel::Post).index()] = true;
        p
    }
}

fn resolve_mailing(raw: &RawOutput, problems: &mut Vec<String>) -> Mailing {
    let mut m = Mailing {
        per_vehicle: Mailing::default_per_vehicle(),
        delimiter: b';',
        bom: raw.csv.bom.unwrap_or(false),
        columns: Channel::ALL.map(Mailing::default_columns),
        mode: 0o600,
        csv_per_channel: false,
    };
    match raw.csv.files.as_deref() {
        None | Some("per_dealer") => {}
        Some("per_channel") => m.csv_per_channel = true,
        Some(other) => problems.push(format!(
            "output.csv.files: `{other}` must be \"per_dealer\" (a file per dealer x category x channel) or \"per_channel\" (a file per category x channel, all dealers)"
        )),
    }
    if let Some(d) = &raw.csv.delimiter {
        match d.as_bytes() {
            _ if d == "tab" => m.delimiter = b'\t',
            [b] if d.is_ascii() && !matches!(*b, b'"' | b'\n' | b'\r') => m.delimiter = *b,
            _ => problems.push(format!(
                "output.csv.delimiter: `{d}` must be one ASCII character other than a quote or line break, or \"tab\""
            )),
        }
    }
    match raw.private_mode.as_deref() {
        None | Some("0600") => {}
        Some("0640") => m.mode = 0o640,
        Some(other) => problems.push(format!(
            "output.private_mode: `{other}` must be \"0600\" (owner only) or \"0640\" (and the group, for a separate reader)"
        )),
    }
    if let Some(per_vehicle) = &raw.per_vehicle {
        m.per_vehicle = [false; Slot::COUNT];
        for (cat, chans) in per_vehicle {
            let Some(c) = Category::parse(cat) else {
                problems.push(format!(
                    "output.per_vehicle.{cat}: unknown category; categories are {}",
                    CATEGORIES.join(", ")
                ));
                continue;
            };
            for ch in chans {
                match Channel::parse(ch) {
                    Some(ch) => m.per_vehicle[Slot::of(c, ch).index()] = true,
                    None => problems.push(format!(
                        "output.per_vehicle.{cat}: unknown channel `{ch}`; channels are {}",
                        CHANNELS.join(", ")
                    )),
                }
            }
        }
    }
    let allowed = csv_columns();
    for (ch, columns) in &raw.csv.columns {
        let Some(channel) = Channel::parse(ch) else {
            problems.push(format!(
                "output.csv.columns.{ch}: unknown channel; channels are {}",
                CHANNELS.join(", ")
            ));
            continue;
        };
        let mut chosen = Vec::new();
        for c in columns {
            match allowed.iter().find(|a| **a == c.as_str()) {
                Some(a) if !chosen.contains(a) => chosen.push(*a),
                Some(_) => problems.push(format!("output.csv.columns.{ch}: `{c}` is listed twice")),
                None => problems.push(format!(
                    "output.csv.columns.{ch}: unknown column `{c}`; columns are {}",
                    allowed.join(", ")
                )),
            }
        }
        if chosen.is_empty() {
            problems.push(format!("output.csv.columns.{ch}: no column listed"));
        }
        m.columns[channel as usize] = chosen;
    }
    if m.csv_per_channel {
        for ch in Channel::ALL {
            if !m.columns[ch as usize].contains(&"dealer_id") {
                problems.push(format!(
                    "output.csv.columns.{}: files = \"per_channel\" puts every dealer in one file, so `dealer_id` must be a column",
                    ch.name()
                ));
            }
        }
    }
    m
}

fn resolve_guard(raw: &RawGuard, problems: &mut Vec<String>) -> ShrinkLimits {
    let mut limits = ShrinkLimits::default();
    for (key, v) in &raw.max_drop_percent {
        let Some(p) = u32::try_from(*v).ok().filter(|p| *p <= 100) else {
            problems.push(format!(
                "guard.max_drop_percent.{key}: {v} is not a percentage from 0 to 100"
            ));
            continue;
        };
        match (key.as_str(), Table::ALL.iter().find(|t| t.name() == key)) {
            ("default", _) => limits.default = p,
            (_, Some(t)) => {
                limits.tables.insert(*t, p);
            }
            _ => problems.push(format!(
                "guard.max_drop_percent.{key}: unknown table; use `default` or one of {}",
                Table::ALL.map(Table::name).join(", ")
            )),
        }
    }
    limits
}

fn toml_error(e: &toml::de::Error) -> String {
    e.to_string().trim_end().replace('\n', "\n  ")
}

fn resolve_csv(raw: &RawInput, problems: &mut Vec<String>) -> CsvOptions {
    let mut csv = CsvOptions::default();
    if let Some(d) = &raw.delimiter {
        match d.as_bytes() {
            [b] if d.is_ascii() && *b != b'"' && *b != b'\n' && *b != b'\r' => csv.delimiter = *b,
            _ => problems.push(format!(
                "input.delimiter: `{d}` must be one ASCII character other than a quote or line break, e.g. \";\" or \",\""
            )),
        }
    }
    if let Some(e) = &raw.encoding {
        match encoding_rs::Encoding::for_label(e.as_bytes()) {
            Some(enc) if enc == encoding_rs::UTF_8 || enc == encoding_rs::WINDOWS_1252 => {
                csv.encoding = enc;
            }
            _ => problems.push(format!(
                "input.encoding: `{e}` is not supported; use \"utf-8\" or \"windows-1252\""
            )),
        }
    }
    if let Some(f) = &raw.date_format {
        match DateFormat::parse(f) {
            Ok(df) => csv.date_format = df,
            Err(msg) => problems.push(format!("input.date_format: {msg}")),
        }
    }
    csv
}

fn resolve_terms(raw: &RawPolicy, base: &Terms, at: &str, problems: &mut Vec<String>) -> Terms {
    let mut t = base.clone();
    let category = |name: &str, key: &str, problems: &mut Vec<String>| {
        let c = Category::parse(name);
        if c.is_none() {
            problems.push(format!(
                "{at}.{key}.{name}: unknown category; categories are {}",
                CATEGORIES.join(", ")
            ));
        }
        c
    };
    let channel = |name: &str, path: &str, problems: &mut Vec<String>| {
        let c = Channel::parse(name);
        if c.is_none() {
            problems.push(format!(
                "{path}: unknown channel `{name}`; channels are {}",
                CHANNELS.join(", ")
            ));
        }
        c
    };
    let months = |v: i64, path: &str, problems: &mut Vec<String>| match u32::try_from(v) {
        Ok(m) if m <= 1200 => Some(m),
        _ => {
            problems.push(format!(
                "{path}: {v} is not a number of months between 0 and 1200"
            ));
            None
        }
    };
    for (cat, chans) in &raw.terms {
        let Some(c) = category(cat, "terms", problems) else {
            continue;
        };
        for (ch, v) in chans {
            let path = format!("{at}.terms.{cat}.{ch}");
            if let (Some(ch), Some(m)) = (channel(ch, &path, problems), months(*v, &path, problems))
            {
                t.cell_mut(c, ch).months = m;
            }
        }
    }
    for (cat, chans) in &raw.explicit_consent {
        let Some(c) = category(cat, "explicit_consent", problems) else {
            continue;
        };
        let path = format!("{at}.explicit_consent.{cat}");
        let listed: Vec<Channel> = chans
            .iter()
            .filter_map(|ch| channel(ch, &path, problems))
            .collect();
        for ch in Channel::ALL {
            t.cell_mut(c, ch).explicit_consent = listed.contains(&ch);
        }
    }
    for (rel, v) in &raw.retention_months {
        let path = format!("{at}.retention_months.{rel}");
        let Some(m) = months(*v, &path, problems) else {
            continue;
        };
        match rel.as_str() {
            "customer" => t.retain_customer_months = m,
            "prospect" => t.retain_prospect_months = m,
            _ => problems.push(format!(
                "{path}: unknown relation; use `customer` or `prospect`"
            )),
        }
    }
    t
}

/// A folder of the pipeline file, relative to the file's own folder `base`; a URL (object
/// storage, `s3://...`) as it is.
fn resolve(base: &Path, dir: String) -> PathBuf {
    let dir = PathBuf::from(dir);
    if crate::remote::is_url(&dir) {
        dir
    } else {
        base.join(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_contract() {
        let p = Pipeline::from_toml("", Path::new("/x")).unwrap();
        assert_eq!(p.policy.default, Terms::contract_default());
        assert_eq!(p.output_dir, Path::new("/x/out"));
        // a store URL is not a folder relative to the pipeline file
        let text = "[input]\ndir = \"s3://dms/{as_of}\"\n[output]\ndir = \"gs://b/out\"\n";
        let p = Pipeline::from_toml(text, Path::new("/x")).unwrap();
        assert_eq!(p.input_dir.as_deref(), Some(Path::new("s3://dms/{as_of}")));
        assert_eq!(p.output_dir, Path::new("gs://b/out"));
    }

    #[test]
    fn dealer_overrides_inherit_the_rest() {
        use crate::policy::Slot;
        let p = Pipeline::from_toml(
            r#"
            [policy.terms]
            newsletter = { email = 12 }
            [dealers.D2.terms]
            newsletter = { sms = 6 }
            [dealers.D2.explicit_consent]
            sales_actions = ["phone"]
            [dealers.D2.retention_months]
            customer = 60
            "#,
            Path::new("."),
        )
        .unwrap();
        let news = |ch| Slot::of(Category::Newsletter, ch);
        let d2 = p.policy.for_dealer("D2");
        assert_eq!(d2.cell(news(Channel::Email)).months, 12);
        assert_eq!(d2.cell(news(Channel::Sms)).months, 6);
        assert!(
            d2.cell(Slot::of(Category::SalesActions, Channel::Phone))
                .explicit_consent
        );
        assert_eq!(d2.retain_customer_months, 60);
        assert_eq!(
            p.policy.for_dealer("D1").cell(news(Channel::Sms)).months,
            18
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = Pipeline::from_toml(
            r#"
            colour = "blue"
            [input]
            encoding = "ebcdic"
            delimeter = ","
            date_format = "DD-MM"
            [policy.terms]
            newsletter = { fax = 12, email = -1 }
            marketing = { email = 1 }
            [run]
            buckets = 0
            bucket_rows = 0
            [output]
            expiring_days = -5
            [guard.max_drop_percent]
            invoices = 120
            orders = 5
            "#,
            Path::new("."),
        )
        .unwrap_err();
        let all = err.join("\n");
        for needle in [
            "`colour`",
            "`input.delimeter`",
            "ebcdic",
            "DD-MM",
            "`fax`",
            "-1",
            "marketing",
            "run.buckets: 0",
            "run.bucket_rows: 0",
            "output.expiring_days: -5",
            "guard.max_drop_percent.invoices: 120",
            "guard.max_drop_percent.orders: unknown table",
        ] {
            assert!(all.contains(needle), "{needle} not in:\n{all}");
        }
    }
}
