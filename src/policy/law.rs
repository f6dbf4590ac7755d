//! The law in force on the as-of date: the statutory rules as data (`law/nl.toml`, carried in
//! the binary), which of them bind a cell, and how they cap and date its term.
//!
//! A rule binds a cell by channel, recipient (natural person or organisation) and relation;
//! it acts while the as-of date lies in its `from ..= until`. Dating looks at every rule the
//! table knows, past and future: `expires_on` is the first day on which the cell is out of
//! term by the law in force on that day. Nothing here reads the extract.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::cell::{Channel, Recipient, Relation, Slot};
use super::terms::CellPolicy;
use crate::error::Error;
use crate::schema::CHANNELS;
use crate::values::hex;

/// The law table the binary carries.
pub const BUILT_IN: &str = include_str!("../../law/nl.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLaw {
    version: String,
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    channels: Vec<String>,
    recipients: String,
    relation: String,
    from: Option<String>,
    until: Option<String>,
    effect: String,
    cap_months: Option<i64>,
    register: Option<String>,
    source: String,
}

/// Whom a rule protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipients {
    All,
    NaturalPersons,
    Organisations,
}

impl Recipients {
    pub fn name(self) -> &'static str {
        match self {
            Recipients::All => "all",
            Recipients::NaturalPersons => "natural_persons",
            Recipients::Organisations => "organisations",
        }
    }

    fn include(self, r: Recipient) -> bool {
        match self {
            Recipients::All => true,
            Recipients::NaturalPersons => r.natural(),
            Recipients::Organisations => !r.natural(),
        }
    }
}

/// A table of outside facts that a register rule checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Register {
    /// Addresses registered with Stichting Postfilter: rule 8a.
    Postfilter,
    /// Addresses and last names of the Nationaal Overledenenregister: rule 4.
    DeceasedRegister,
}

impl Register {
    pub fn name(self) -> &'static str {
        match self {
            Register::Postfilter => "postfilter",
            Register::DeceasedRegister => "deceased_register",
        }
    }
}

/// What a rule does to a cell it binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Not eligible without a winning opt-in (rule 9a); dates the term as a cap of 0.
    ConsentOnly,
    /// The term is at most this many months.
    TermCap(u32),
    Register(Register),
}

impl Effect {
    pub fn text(self) -> String {
        match self {
            Effect::ConsentOnly => "consent only".into(),
            Effect::TermCap(m) => format!("term capped at {m} months"),
            Effect::Register(r) => format!("register: {}", r.name()),
        }
    }

    /// The cap on the term this effect sets, in months (consent only: 0).
    pub fn cap(self) -> Option<u32> {
        match self {
            Effect::ConsentOnly => Some(0),
            Effect::TermCap(m) => Some(m),
            Effect::Register(_) => None,
        }
    }
}

/// One statutory rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub channels: Vec<Channel>,
    pub recipients: Recipients,
    /// `None`: customers and prospects.
    pub relation: Option<Relation>,
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub effect: Effect,
    pub source: String,
}

impl Rule {
    pub fn in_force(&self, day: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= day) && self.until.is_none_or(|u| day <= u)
    }

    /// Whether the rule binds cell `slot` of a record of `recipient`.
    pub fn binds(&self, slot: Slot, recipient: Recipient) -> bool {
        self.channels.contains(&slot.channel())
            && self.recipients.include(recipient)
            && self
                .relation
                .is_none_or(|r| r == slot.category().relation())
    }

    pub fn channels_text(&self) -> String {
        if self.channels.len() == Channel::ALL.len() {
            return "all".into();
        }
        let names: Vec<&str> = self.channels.iter().map(|c| c.name()).collect();
        names.join(", ")
    }

    pub fn relation_text(&self) -> &'static str {
        self.relation.map_or("all", Relation::name)
    }

    pub fn period_text(&self) -> String {
        let day = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        format!("{} .. {}", day(self.from), day(self.until))
            .trim()
            .to_string()
    }
}

/// A rule's index in its table.
pub type RuleRef = u16;

/// A checked law table.
#[derive(Clone, Debug)]
pub struct Law {
    pub version: String,
    /// `built in`, or the file it was read from.
    pub origin: String,
    pub sha256: String,
    pub rules: Vec<Rule>,
}

impl Law {
    /// The table the binary carries (tested to be valid).
    pub fn built_in() -> Law {
        Law::parse(BUILT_IN, "built in").expect("law/nl.toml is a valid law table")
    }

    /// A law table file; every problem in it is listed at once.
    pub fn load(path: &Path) -> Result<Law, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::LawUnreadable {
            path: path.to_path_buf(),
            source: e,
        })?;
        Law::parse(&text, &path.display().to_string()).map_err(|problems| Error::Law {
            path: PathBuf::from(path),
            problems,
        })
    }

    pub fn parse(text: &str, origin: &str) -> Result<Law, Vec<String>> {
        let raw: RawLaw = toml::from_str(text)
            .map_err(|e| vec![e.to_string().trim_end().replace('\n', "\n  ")])?;
        let mut problems = Vec::new();
        let mut rules = Vec::new();
        for (i, r) in raw.rules.iter().enumerate() {
            let at = format!("rule {} (`{}`)", i + 1, r.id);
            if raw.rules[..i].iter().any(|x| x.id == r.id) || r.id.trim().is_empty() {
                problems.push(format!("{at}: the id must be present and unique"));
            }
            if let Some(rule) = resolve(r, &at, &mut problems) {
                rules.push(rule);
            }
        }
        if rules.len() > usize::from(RuleRef::MAX) {
            problems.push(format!("at most {} rules", RuleRef::MAX));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Law {
            version: raw.version,
            origin: origin.to_string(),
            sha256: hex(&Sha256::digest(text.as_bytes())),
            rules,
        })
    }

    pub fn rule(&self, r: RuleRef) -> &Rule {
        &self.rules[usize::from(r)]
    }

    /// The ids of the rules in force on `day`, in table order.
    pub fn in_force(&self, day: NaiveDate) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|r| r.in_force(day))
            .map(|r| r.id.as_str())
            .collect()
    }

    /// The law as it acts on each cell on `as_of`.
    pub fn at(&self, as_of: NaiveDate) -> LawAt {
        let cell = |slot: Slot, recipient: Recipient| {
            let binding: Vec<RuleRef> = (0..self.rules.len() as RuleRef)
                .filter(|&i| self.rule(i).binds(slot, recipient))
                .collect();
            let first_in_force = |want: &dyn Fn(Effect) -> bool| {
                binding
                    .iter()
                    .copied()
                    .find(|&i| want(self.rule(i).effect) && self.rule(i).in_force(as_of))
            };
            CellLaw {
                consent_only: first_in_force(&|e| e == Effect::ConsentOnly),
                postfilter: first_in_force(&|e| e == Effect::Register(Register::Postfilter)),
                deceased_register: first_in_force(&|e| {
                    e == Effect::Register(Register::DeceasedRegister)
                }),
                segments: self.segments(&binding),
            }
        };
        LawAt {
            as_of,
            cells: std::array::from_fn(|i| {
                [Recipient::Person, Recipient::Organisation].map(|r| cell(Slot(i as u8), r))
            }),
        }
    }

    /// The time line cut where any of the `binding` rules that cap a term starts or ends,
    /// with the smallest cap in force on each piece.
    fn segments(&self, binding: &[RuleRef]) -> Vec<Segment> {
        let capping: Vec<RuleRef> = binding
            .iter()
            .copied()
            .filter(|&i| self.rule(i).effect.cap().is_some())
            .collect();
        let mut cuts: Vec<NaiveDate> = capping
            .iter()
            .flat_map(|&i| {
                let r = self.rule(i);
                [r.from, r.until.and_then(|u| u.succ_opt())]
            })
            .flatten()
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut starts: Vec<Option<NaiveDate>> = vec![None];
        starts.extend(cuts.iter().copied().map(Some));
        starts
            .iter()
            .enumerate()
            .map(|(k, &start)| {
                let end = cuts.get(k).and_then(NaiveDate::pred_opt);
                // a day of the piece, to ask which rules are in force on it
                let day = start.or(end).unwrap_or_default();
                let cap = capping
                    .iter()
                    .filter(|&&i| self.rule(i).in_force(day))
                    .filter_map(|&i| self.rule(i).effect.cap().map(|m| (m, i)))
                    .min();
                Segment { start, end, cap }
            })
            .collect()
    }

    /// The table as text: every rule, or those in force on `day`, with its source.
    pub fn text(&self, day: Option<NaiveDate>) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let shown: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| day.is_none_or(|d| r.in_force(d)))
            .collect();
        let _ = writeln!(
            s,
            "law table {} ({}, sha256 {})",
            self.version,
            self.origin,
            &self.sha256[..12]
        );
        let _ = match day {
            Some(d) => writeln!(
                s,
                "{} of {} rules in force on {d}",
                shown.len(),
                self.rules.len()
            ),
            None => writeln!(s, "{} rules", self.rules.len()),
        };
        for r in shown {
            let _ = writeln!(
                s,
                "\n{}\n  channels {}; recipients {}; relation {}; in force {}\n  {}\n  source: {}",
                r.id,
                r.channels_text(),
                r.recipients.name(),
                r.relation_text(),
                r.period_text(),
                r.effect.text(),
                r.source
            );
        }
        s
    }

    /// The table as JSON values (for `eligibility law --json`).
    pub fn json(&self, day: Option<NaiveDate>) -> serde_json::Value {
        let rules: Vec<serde_json::Value> = self
            .rules
            .iter()
            .filter(|r| day.is_none_or(|d| r.in_force(d)))
            .map(|r| {
                let (effect, cap, register) = match r.effect {
                    Effect::ConsentOnly => ("consent_only", None, None),
                    Effect::TermCap(m) => ("term_cap", Some(m), None),
                    Effect::Register(g) => ("register", None, Some(g.name())),
                };
                serde_json::json!({
                    "id": r.id,
                    "channels": r.channels.iter().map(|c| c.name()).collect::<Vec<_>>(),
                    "recipients": r.recipients.name(),
                    "relation": r.relation_text(),
                    "from": r.from.map(|d| d.to_string()),
                    "until": r.until.map(|d| d.to_string()),
                    "effect": effect,
                    "cap_months": cap,
                    "register": register,
                    "source": r.source,
                })
            })
            .collect();
        serde_json::json!({
            "version": self.version,
            "origin": self.origin,
            "sha256": self.sha256,
            "as_of": day.map(|d| d.to_string()),
            "rules": rules,
        })
    }
}

fn resolve(r: &RawRule, at: &str, problems: &mut Vec<String>) -> Option<Rule> {
    let n = problems.len();
    let mut channels = Vec::new();
    for c in &r.channels {
        match (c.as_str(), Channel::parse(c)) {
            ("*", _) => channels.extend(Channel::ALL),
            (_, Some(ch)) => channels.push(ch),
            _ => problems.push(format!(
                "{at}: unknown channel `{c}`; channels are {} or *",
                CHANNELS.join(", ")
            )),
        }
    }
    channels.sort_unstable();
    channels.dedup();
    if r.channels.is_empty() {
        problems.push(format!("{at}: channels is empty"));
    }
    let recipients = match r.recipients.as_str() {
        "all" => Recipients::All,
        "natural_persons" => Recipients::NaturalPersons,
        "organisations" => Recipients::Organisations,
        other => {
            problems.push(format!(
                "{at}: unknown recipients `{other}`; use all, natural_persons or organisations"
            ));
            Recipients::All
        }
    };
    let relation = match r.relation.as_str() {
        "all" => None,
        "customer" => Some(Relation::Customer),
        "prospect" => Some(Relation::Prospect),
        other => {
            problems.push(format!(
                "{at}: unknown relation `{other}`; use customer, prospect or all"
            ));
            None
        }
    };
    let mut date = |key: &str, v: &Option<String>| {
        let v = v.as_ref()?;
        let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok();
        if d.is_none() {
            problems.push(format!("{at}: {key} `{v}` is not a YYYY-MM-DD date"));
        }
        d
    };
    let (from, until) = (date("from", &r.from), date("until", &r.until));
    if let (Some(f), Some(u)) = (from, until) {
        if u < f {
            problems.push(format!("{at}: until {u} is before from {f}"));
        }
    }
    let effect = match (r.effect.as_str(), r.cap_months, r.register.as_deref()) {
        ("consent_only", None, None) => Some(Effect::ConsentOnly),
        ("term_cap", Some(m), None) => match u32::try_from(m) {
            Ok(m) if m <= 1200 => Some(Effect::TermCap(m)),
            _ => {
                problems.push(format!(
                    "{at}: cap_months {m} is not a number of months from 0 to 1200"
                ));
                None
            }
        },
        ("register", None, Some("postfilter")) => Some(Effect::Register(Register::Postfilter)),
        ("register", None, Some("deceased_register")) => {
            Some(Effect::Register(Register::DeceasedRegister))
        }
        (e, cap, reg) => {
            problems.push(format!(
                "{at}: effect `{e}`{}{} is not one of: consent_only; term_cap with cap_months; register with register = \"postfilter\" or \"deceased_register\"",
                cap.map(|m| format!(" with cap_months {m}")).unwrap_or_default(),
                reg.map(|g| format!(" with register `{g}`")).unwrap_or_default(),
            ));
            None
        }
    };
    if r.source.trim().is_empty() {
        problems.push(format!(
            "{at}: source is empty: say where the rule comes from"
        ));
    }
    (problems.len() == n).then(|| Rule {
        id: r.id.clone(),
        channels,
        recipients,
        relation,
        from,
        until,
        effect: effect.expect("checked"),
        source: r.source.clone(),
    })
}

/// A piece of the time line (`None`: unbounded) and the smallest cap in force on it, with
/// the rule that sets it.
#[derive(Clone, Debug)]
struct Segment {
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    cap: Option<(u32, RuleRef)>,
}

/// How the law acts on one cell of one kind of recipient on the as-of date.
#[derive(Clone, Debug)]
pub struct CellLaw {
    /// The consent-only rule in force that binds the cell (rule 9a).
    pub consent_only: Option<RuleRef>,
    /// The postfilter rule in force that binds the cell (rule 8a).
    pub postfilter: Option<RuleRef>,
    /// The deceased-register rule in force that binds the cell (rule 4).
    pub deceased_register: Option<RuleRef>,
    segments: Vec<Segment>,
}

impl CellLaw {
    /// The cell's `expires_on` and the rule that capped or dated it (`None`: the policy's
    /// own anchor + term): the first day d with d >= anchor + min(policy term, cap in force
    /// on d), a consent-only rule counting as cap 0. A cell the policy marks explicit
    /// consent has no term basis: anchor + term, undated. `end(m)` is anchor + m months.
    pub fn expires(
        &self,
        policy: CellPolicy,
        mut end: impl FnMut(u32) -> NaiveDate,
    ) -> (NaiveDate, Option<RuleRef>) {
        let own = end(policy.months);
        if policy.explicit_consent {
            return (own, None);
        }
        for s in &self.segments {
            let (term, rule) = match s.cap {
                Some((cap, rule)) if cap < policy.months => (end(cap), Some(rule)),
                _ => (own, None),
            };
            let day = s.start.map_or(term, |start| start.max(term));
            if s.end.is_none_or(|e| day <= e) {
                return (day, rule.filter(|_| day < own));
            }
        }
        (own, None)
    }
}

/// The law on one as-of date, per cell and recipient.
pub struct LawAt {
    pub as_of: NaiveDate,
    /// By slot, then [natural person, organisation].
    cells: [[CellLaw; 2]; Slot::COUNT],
}

impl LawAt {
    pub fn cell(&self, slot: Slot, recipient: Recipient) -> &CellLaw {
        &self.cells[slot.index()][usize::from(!recipient.natural())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::cell::Category;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// `anchor + months` as `CellLaw::expires` asks for it.
    fn months_after(anchor: NaiveDate) -> impl FnMut(u32) -> NaiveDate {
        move |m| crate::values::add_months(anchor, m)
    }

    fn phone(category: Category) -> Slot {
        Slot::of(category, Channel::Phone)
    }

    const TERM_48: CellPolicy = CellPolicy {
        months: 48,
        explicit_consent: false,
    };

    /// expires_on and the dating rule's id for a natural person's newsletter phone cell.
    fn dated(as_of: &str, anchor: &str, policy: CellPolicy) -> (String, Option<String>) {
        let law = Law::built_in();
        let at = law.at(d(as_of));
        let (day, rule) = at
            .cell(phone(Category::Newsletter), Recipient::Person)
            .expires(policy, months_after(d(anchor)));
        (day.to_string(), rule.map(|r| law.rule(r).id.clone()))
    }

    #[test]
    fn the_built_in_table_is_the_contracts() {
        let law = Law::built_in();
        let ids: Vec<&str> = law.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "nl-tw-11.7-digital-prospect",
                "nl-code-telemarketing-2020",
                "nl-tw-11.7-phone-2021",
                "nl-tw-11.7-phone-2021-prospect",
                "nl-tw-11.7-phone-2026",
                "nl-postfilter",
                "nl-overledenenregister",
            ]
        );
        assert_eq!(
            law.in_force(d("2026-12-03")),
            [
                "nl-tw-11.7-digital-prospect",
                "nl-tw-11.7-phone-2021-prospect",
                "nl-tw-11.7-phone-2026",
                "nl-postfilter",
                "nl-overledenenregister",
            ]
        );
    }

    /// Each rule with dates, on the day before `from`, `from`, `until` and the day after.
    #[test]
    fn every_rule_at_its_boundaries() {
        let law = Law::built_in();
        for r in &law.rules {
            if let Some(f) = r.from {
                assert!(!r.in_force(f.pred_opt().unwrap()), "{} before from", r.id);
                assert!(r.in_force(f), "{} on from", r.id);
            }
            if let Some(u) = r.until {
                assert!(r.in_force(u), "{} on until", r.id);
                assert!(!r.in_force(u.succ_opt().unwrap()), "{} after until", r.id);
            }
        }
        // what each boundary does to a natural person's phone cell of a customer
        let consent = |day: &str| {
            law.at(d(day))
                .cell(phone(Category::Newsletter), Recipient::Person)
                .consent_only
                .map(|r| law.rule(r).id.as_str())
        };
        assert_eq!(consent("2026-06-30"), None);
        assert_eq!(consent("2026-07-01"), Some("nl-tw-11.7-phone-2026"));
        let prospect = |day: &str, who| {
            law.at(d(day))
                .cell(phone(Category::Prospects), who)
                .consent_only
                .is_some()
        };
        assert!(!prospect("2021-06-30", Recipient::Person));
        assert!(prospect("2021-07-01", Recipient::Person));
        assert!(prospect("2021-07-01", Recipient::SoleTrader));
        assert!(!prospect("2030-01-01", Recipient::Organisation));
        let email = Slot::of(Category::Prospects, Channel::Email);
        for who in [Recipient::Person, Recipient::Organisation] {
            assert!(law
                .at(d("2009-10-01"))
                .cell(email, who)
                .consent_only
                .is_some());
            assert!(law
                .at(d("2009-09-30"))
                .cell(email, who)
                .consent_only
                .is_none());
        }
        let post = Slot::of(Category::Prospects, Channel::Post);
        let pf = |day: &str, who| law.at(d(day)).cell(post, who).postfilter.is_some();
        assert!(!pf("2021-03-31", Recipient::Person));
        assert!(pf("2021-04-01", Recipient::Person));
        assert!(!pf("2021-04-01", Recipient::Organisation));
        let customer_post = Slot::of(Category::Newsletter, Channel::Post);
        assert!(law
            .at(d("2026-12-03"))
            .cell(customer_post, Recipient::Person)
            .postfilter
            .is_none());
        for s in Slot::all() {
            assert!(law
                .at(d("1990-01-01"))
                .cell(s, Recipient::Organisation)
                .deceased_register
                .is_some());
        }
    }

    #[test]
    fn the_cap_of_36_months_at_its_boundaries() {
        // in force 2020-06-01 .. 2026-06-30 (the Code, then the Telecommunicatiewet)
        assert_eq!(
            dated("2024-05-01", "2022-01-01", TERM_48),
            ("2025-01-01".into(), Some("nl-tw-11.7-phone-2021".into()))
        );
        assert_eq!(
            dated("2020-07-01", "2018-01-01", TERM_48),
            (
                "2021-01-01".into(),
                Some("nl-code-telemarketing-2020".into())
            )
        );
        // the cap starts on 2020-06-01: a term past 36 months ends that day
        assert_eq!(
            dated("2020-05-31", "2017-03-01", TERM_48),
            (
                "2020-06-01".into(),
                Some("nl-code-telemarketing-2020".into())
            )
        );
        // a term that ended before any rule is the policy's own
        assert_eq!(
            dated("2024-05-01", "2015-01-01", TERM_48),
            ("2019-01-01".into(), None)
        );
        // the contract's example: on 2026-12-03 a cell anchored 2023-01-15 expired
        // 2026-01-15 under the 2021 cap
        assert_eq!(
            dated("2026-12-03", "2023-01-15", TERM_48),
            ("2026-01-15".into(), Some("nl-tw-11.7-phone-2021".into()))
        );
        // a policy term under the cap is not capped
        let term_24 = CellPolicy {
            months: 24,
            explicit_consent: false,
        };
        assert_eq!(
            dated("2024-05-01", "2023-01-31", term_24),
            ("2025-01-31".into(), None)
        );
        // month ends: 2023-05-31 + 36 months is 2026-05-31; + 24 from 2022-08-31 clamps
        assert_eq!(
            dated("2024-05-01", "2023-05-31", TERM_48),
            ("2026-05-31".into(), Some("nl-tw-11.7-phone-2021".into()))
        );
    }

    #[test]
    fn a_rule_known_to_come_ends_the_term_on_its_from_date() {
        // a run for 2026-06-15: natural persons' phone cells expire 2026-07-01 at the latest
        assert_eq!(
            dated("2026-06-15", "2025-03-10", TERM_48),
            ("2026-07-01".into(), Some("nl-tw-11.7-phone-2026".into()))
        );
        assert_eq!(
            dated("2026-06-15", "2023-06-30", TERM_48),
            ("2026-06-30".into(), Some("nl-tw-11.7-phone-2021".into()))
        );
        // a backfill for 2024-05-01 knows the 2026 rule too
        assert_eq!(
            dated("2024-05-01", "2024-04-01", TERM_48),
            ("2026-07-01".into(), Some("nl-tw-11.7-phone-2026".into()))
        );
        // explicit consent: no term basis, undated
        let marked = CellPolicy {
            months: 48,
            explicit_consent: true,
        };
        assert_eq!(
            dated("2026-06-15", "2025-03-10", marked),
            ("2029-03-10".into(), None)
        );
        // organisations: no rule caps them
        let law = Law::built_in();
        let (day, rule) = law
            .at(d("2026-12-03"))
            .cell(phone(Category::Newsletter), Recipient::Organisation)
            .expires(TERM_48, months_after(d("2025-03-10")));
        assert_eq!((day, rule), (d("2029-03-10"), None));
    }

    #[test]
    fn a_bad_table_lists_every_problem() {
        let err = Law::parse(
            r#"
            version = "x"
            [[rule]]
            id = "a"
            channels = ["fax"]
            recipients = "everyone"
            relation = "friends"
            from = "2026-13-01"
            effect = "term_cap"
            source = ""
            [[rule]]
            id = "a"
            channels = ["post"]
            recipients = "all"
            relation = "all"
            from = "2026-02-01"
            until = "2026-01-01"
            effect = "register"
            register = "kvk"
            source = "x"
            "#,
            "test",
        )
        .unwrap_err()
        .join("\n");
        for needle in [
            "`fax`",
            "`everyone`",
            "`friends`",
            "2026-13-01",
            "`term_cap`",
            "source is empty",
            "unique",
            "before from",
            "`kvk`",
        ] {
            assert!(err.contains(needle), "{needle} not in:\n{err}");
        }
        assert!(Law::parse("version = 1\nsurprise = 2", "t").is_err());
    }
}
