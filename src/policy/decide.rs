//! The decision table: the contract's rules 1-12 with 8a and 9a, in order, in one place; the
//! facts of a record's cells gathered from its record-level facts, the policy and the law;
//! and retention, which is rules 1 and 5 judged for the whole record.
//!
//! Pure functions: `run` and `explain` both call `decide_record`, so they agree by
//! construction. Nothing here looks anything up in the extract.

use chrono::NaiveDate;
use serde::Serialize;

use super::cell::{Channel, Recipient, Relation, Slot};
use super::law::{LawAt, RuleRef};
use super::preferences::{has_opt_in, Preference, Winners};
use super::terms::Terms;
use crate::contact::Reach;
use crate::values::add_months;

/// Why a cell is not eligible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    ErasureRequested,
    Objected,
    Restricted,
    Deceased,
    RetentionExpired,
    OptedOut,
    Unreachable,
    DoNotCall,
    Postfilter,
    ConsentRequiredByLaw,
    NoConsent,
    Expired,
}

/// Why a cell is eligible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    Consent,
    Term,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    Eligible(Basis),
    NotEligible(Reason),
}

impl Reason {
    pub const ALL: [Reason; 12] = [
        Reason::ErasureRequested,
        Reason::Objected,
        Reason::Restricted,
        Reason::Deceased,
        Reason::RetentionExpired,
        Reason::OptedOut,
        Reason::Unreachable,
        Reason::DoNotCall,
        Reason::Postfilter,
        Reason::ConsentRequiredByLaw,
        Reason::NoConsent,
        Reason::Expired,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Reason::ErasureRequested => "erasure_requested",
            Reason::Objected => "objected",
            Reason::Restricted => "restricted",
            Reason::Deceased => "deceased",
            Reason::RetentionExpired => "retention_expired",
            Reason::OptedOut => "opted_out",
            Reason::Unreachable => "unreachable",
            Reason::DoNotCall => "do_not_call",
            Reason::Postfilter => "postfilter",
            Reason::ConsentRequiredByLaw => "consent_required_by_law",
            Reason::NoConsent => "no_consent",
            Reason::Expired => "expired",
        }
    }
}

impl Basis {
    pub fn code(self) -> &'static str {
        match self {
            Basis::Consent => "consent",
            Basis::Term => "term",
        }
    }
}

impl Decision {
    /// All outcomes, one number each: the two bases, then the reasons.
    pub const OUTCOMES: usize = 2 + Reason::ALL.len();

    pub fn outcome(self) -> usize {
        match self {
            Decision::Eligible(Basis::Consent) => 0,
            Decision::Eligible(Basis::Term) => 1,
            Decision::NotEligible(r) => 2 + r as usize,
        }
    }

    /// The basis when eligible, else the reason.
    pub fn code(self) -> &'static str {
        match self {
            Decision::Eligible(b) => b.code(),
            Decision::NotEligible(r) => r.code(),
        }
    }

    /// The rule of the decision table that gives this decision.
    pub fn rule(self) -> &'static str {
        match self {
            Decision::NotEligible(r) => match r {
                Reason::ErasureRequested => "1",
                Reason::Objected => "2",
                Reason::Restricted => "3",
                Reason::Deceased => "4",
                Reason::RetentionExpired => "5",
                Reason::OptedOut => "6",
                Reason::Unreachable => "7",
                Reason::DoNotCall => "8",
                Reason::Postfilter => "8a",
                Reason::ConsentRequiredByLaw => "9a",
                Reason::NoConsent => "10",
                Reason::Expired => "11",
            },
            Decision::Eligible(Basis::Consent) => "9",
            Decision::Eligible(Basis::Term) => "12",
        }
    }

    /// The contract's words for the rule.
    pub fn rule_name(self) -> &'static str {
        match self.rule() {
            "1" => "an erasure request",
            "2" => "an objection request",
            "3" => "a restriction request",
            "4" => "deceased",
            "5" => "past retain_until, and no cell of the record is won by an opt-in",
            "6" => "the winning preference is opt_out",
            "7" => "no contact point for the channel",
            "8" => "every valid number is on do_not_call, and no winning opt_in",
            "8a" => {
                "a natural person's prospect post cell, address on postfilter, no winning opt_in"
            }
            "9" => "the winning preference is opt_in",
            "9a" => "a rule in force makes the cell consent only",
            "10" => "the cell needs explicit consent",
            "11" => "as-of >= expires_on",
            _ => "otherwise: in term",
        }
    }
}

/// A decision and the law's rule behind it: the rule that decided the cell (the deceased
/// register, 8a, 9a), or for rules 11 and 12 the rule that capped or dated `expires_on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub decision: Decision,
    pub law: Option<RuleRef>,
}

/// Everything the decision table looks at for one cell.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts {
    pub erasure: bool,
    pub objection: bool,
    pub restriction: bool,
    /// the customers row says `deceased`
    pub deceased: bool,
    /// the record is on the deceased register, by this rule in force
    pub deceased_register: Option<RuleRef>,
    /// as-of >= retain_until
    pub past_retention: bool,
    /// some cell of the record is won by an opt-in
    pub record_has_opt_in: bool,
    pub preference: Option<Preference>,
    /// the channel has a contact point (phone: some valid number)
    pub reachable: bool,
    /// phone channel, and every valid number is on do_not_call
    pub all_numbers_do_not_call: bool,
    /// the address is on postfilter, and this rule in force binds the cell
    pub postfilter: Option<RuleRef>,
    /// this rule in force makes the cell consent only
    pub consent_by_law: Option<RuleRef>,
    /// the policy marks the cell explicit consent
    pub needs_consent: bool,
    /// as-of >= expires_on
    pub past_term: bool,
    /// the rule that capped or dated expires_on
    pub dated_by: Option<RuleRef>,
}

/// The contract's decision table: the first rule that applies.
pub fn decide(f: &Facts) -> Verdict {
    use Decision::*;
    let opt_in = f.preference == Some(Preference::OptIn);
    let (decision, law) = if f.erasure {
        (NotEligible(Reason::ErasureRequested), None) // 1
    } else if f.objection {
        (NotEligible(Reason::Objected), None) // 2
    } else if f.restriction {
        (NotEligible(Reason::Restricted), None) // 3
    } else if f.deceased || f.deceased_register.is_some() {
        (NotEligible(Reason::Deceased), f.deceased_register) // 4
    } else if f.past_retention && !f.record_has_opt_in {
        (NotEligible(Reason::RetentionExpired), None) // 5
    } else if f.preference == Some(Preference::OptOut) {
        (NotEligible(Reason::OptedOut), None) // 6
    } else if !f.reachable {
        (NotEligible(Reason::Unreachable), None) // 7
    } else if f.all_numbers_do_not_call && !opt_in {
        (NotEligible(Reason::DoNotCall), None) // 8
    } else if f.postfilter.is_some() && !opt_in {
        (NotEligible(Reason::Postfilter), f.postfilter) // 8a
    } else if opt_in {
        (Eligible(Basis::Consent), None) // 9
    } else if f.consent_by_law.is_some() {
        (NotEligible(Reason::ConsentRequiredByLaw), f.consent_by_law) // 9a
    } else if f.needs_consent {
        (NotEligible(Reason::NoConsent), None) // 10
    } else if f.past_term {
        (NotEligible(Reason::Expired), f.dated_by) // 11
    } else {
        (Eligible(Basis::Term), f.dated_by) // 12
    };
    Verdict { decision, law }
}

/// The requests a record has (rules 1-3).
#[derive(Clone, Copy, Debug, Default)]
pub struct Requests {
    pub erasure: bool,
    pub objection: bool,
    pub restriction: bool,
}

/// What the decision table needs to know about one customer record.
#[derive(Clone, Copy, Debug)]
pub struct RecordFacts<'a> {
    pub relation: Relation,
    pub recipient: Recipient,
    /// The last valid invoice, or `registered_on` for a prospect.
    pub anchor: NaiveDate,
    pub requests: Requests,
    pub deceased: bool,
    pub on_deceased_register: bool,
    pub on_postfilter: bool,
    pub reach: Reach,
    pub winners: Option<&'a Winners>,
}

impl RecordFacts<'_> {
    pub fn has_opt_in(&self) -> bool {
        self.winners.is_some_and(has_opt_in)
    }

    pub fn retain_until(&self, terms: &Terms) -> NaiveDate {
        terms.retain_until(self.relation, self.anchor)
    }
}

/// Rules 1 and 5 for the whole record: why it must now be erased, if it must
/// (`retention/`). An erasure request first; else past `retain_until` with no cell won by an
/// opt-in, whatever its cells' own reasons.
pub fn erasure(rec: &RecordFacts, terms: &Terms, as_of: NaiveDate) -> Option<Reason> {
    if rec.requests.erasure {
        Some(Reason::ErasureRequested)
    } else if as_of >= rec.retain_until(terms) && !rec.has_opt_in() {
        Some(Reason::RetentionExpired)
    } else {
        None
    }
}

/// Rule 7's question: does the channel have a contact point (phone: some valid number)?
pub fn reachable(r: &Reach, ch: Channel) -> bool {
    match ch {
        Channel::Email => r.email,
        Channel::Sms => r.sms.is_some(),
        Channel::App => r.app,
        Channel::Post => r.post,
        Channel::Phone => r.phone_first.is_some(),
    }
}

/// One decided cell.
#[derive(Clone, Copy, Debug)]
pub struct Decided {
    pub slot: Slot,
    pub facts: Facts,
    pub expires: NaiveDate,
    pub verdict: Verdict,
}

/// Decides every cell of a record (its relation's slots, in slot order), calling `each`.
pub fn decide_record(rec: &RecordFacts, terms: &Terms, law: &LawAt, mut each: impl FnMut(Decided)) {
    let as_of = law.as_of;
    let past_retention = as_of >= rec.retain_until(terms);
    let record_has_opt_in = rec.has_opt_in();
    // a record's cells share a few terms: each term's end is computed once
    let mut ends: Vec<(u32, NaiveDate)> = Vec::with_capacity(4);
    let mut end = |m: u32| {
        if let Some(e) = ends.iter().find(|e| e.0 == m) {
            return e.1;
        }
        let d = add_months(rec.anchor, m);
        ends.push((m, d));
        d
    };
    for slot in Slot::of_relation(rec.relation) {
        let ch = slot.channel();
        let cell = law.cell(slot, rec.recipient);
        let (expires, dated_by) = cell.expires(terms.cell(slot), &mut end);
        let facts = Facts {
            erasure: rec.requests.erasure,
            objection: rec.requests.objection,
            restriction: rec.requests.restriction,
            deceased: rec.deceased,
            deceased_register: cell.deceased_register.filter(|_| rec.on_deceased_register),
            past_retention,
            record_has_opt_in,
            preference: rec
                .winners
                .and_then(|w| w[slot.index()])
                .map(|c| c.preference),
            reachable: reachable(&rec.reach, ch),
            all_numbers_do_not_call: ch == Channel::Phone && rec.reach.all_numbers_do_not_call(),
            postfilter: cell.postfilter.filter(|_| rec.on_postfilter),
            consent_by_law: cell.consent_only,
            needs_consent: terms.cell(slot).explicit_consent,
            past_term: as_of >= expires,
            dated_by,
        };
        each(Decided {
            slot,
            facts,
            expires,
            verdict: decide(&facts),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;

    /// A cell that every rule would reject, and a plain eligible one.
    fn everything() -> Facts {
        Facts {
            erasure: true,
            objection: true,
            restriction: true,
            deceased: true,
            deceased_register: None,
            past_retention: true,
            record_has_opt_in: false,
            preference: Some(Preference::OptOut),
            reachable: false,
            all_numbers_do_not_call: true,
            postfilter: Some(5),
            consent_by_law: Some(4),
            needs_consent: true,
            past_term: true,
            dated_by: Some(2),
        }
    }

    fn plain() -> Facts {
        Facts {
            reachable: true,
            ..Facts::default()
        }
    }

    #[test]
    fn rules_apply_in_order() {
        // Switching off each rule's condition in turn uncovers the next rule.
        let mut f = everything();
        let expect = [
            (Reason::ErasureRequested, None),
            (Reason::Objected, None),
            (Reason::Restricted, None),
            (Reason::Deceased, None),
            (Reason::RetentionExpired, None),
            (Reason::OptedOut, None),
            (Reason::Unreachable, None),
            (Reason::DoNotCall, None),
            (Reason::Postfilter, Some(5)),
            (Reason::ConsentRequiredByLaw, Some(4)),
            (Reason::NoConsent, None),
            (Reason::Expired, Some(2)),
        ];
        for (i, (r, law)) in expect.iter().enumerate() {
            assert_eq!(
                decide(&f),
                Verdict {
                    decision: NotEligible(*r),
                    law: *law
                },
                "step {i}"
            );
            match r {
                Reason::ErasureRequested => f.erasure = false,
                Reason::Objected => f.objection = false,
                Reason::Restricted => f.restriction = false,
                Reason::Deceased => f.deceased = false,
                Reason::RetentionExpired => f.past_retention = false,
                Reason::OptedOut => f.preference = None,
                Reason::Unreachable => f.reachable = true,
                Reason::DoNotCall => f.all_numbers_do_not_call = false,
                Reason::Postfilter => f.postfilter = None,
                Reason::ConsentRequiredByLaw => f.consent_by_law = None,
                Reason::NoConsent => f.needs_consent = false,
                Reason::Expired => f.past_term = false,
            }
        }
        assert_eq!(
            decide(&f),
            Verdict {
                decision: Eligible(Basis::Term),
                law: Some(2)
            }
        );
    }

    #[test]
    fn an_opt_in_wins_over_consent_term_do_not_call_postfilter_and_the_law() {
        let f = Facts {
            preference: Some(Preference::OptIn),
            record_has_opt_in: true,
            needs_consent: true,
            past_term: true,
            all_numbers_do_not_call: true,
            postfilter: Some(5),
            consent_by_law: Some(4),
            past_retention: true,
            ..plain()
        };
        assert_eq!(decide(&f).decision, Eligible(Basis::Consent));
        assert_eq!(decide(&f).law, None);
    }

    #[test]
    fn the_deceased_register_decides_rule_4_and_is_named() {
        let f = Facts {
            deceased_register: Some(6),
            preference: Some(Preference::OptIn),
            ..plain()
        };
        assert_eq!(
            decide(&f),
            Verdict {
                decision: NotEligible(Reason::Deceased),
                law: Some(6)
            }
        );
        let f = Facts {
            deceased: true,
            ..plain()
        };
        assert_eq!(decide(&f).law, None);
    }

    #[test]
    fn an_opt_in_elsewhere_in_the_record_lifts_retention_only() {
        let f = Facts {
            past_retention: true,
            record_has_opt_in: true,
            past_term: true,
            ..plain()
        };
        assert_eq!(decide(&f).decision, NotEligible(Reason::Expired));
        let f = Facts {
            past_retention: true,
            ..plain()
        };
        assert_eq!(decide(&f).decision, NotEligible(Reason::RetentionExpired));
    }

    #[test]
    fn an_opt_in_does_not_beat_objection_or_reachability() {
        let f = Facts {
            objection: true,
            preference: Some(Preference::OptIn),
            ..plain()
        };
        assert_eq!(decide(&f).decision, NotEligible(Reason::Objected));
        let f = Facts {
            reachable: false,
            preference: Some(Preference::OptIn),
            ..plain()
        };
        assert_eq!(decide(&f).decision, NotEligible(Reason::Unreachable));
    }

    #[test]
    fn rule_numbers() {
        assert_eq!(NotEligible(Reason::Unreachable).rule(), "7");
        assert_eq!(NotEligible(Reason::Postfilter).rule(), "8a");
        assert_eq!(NotEligible(Reason::ConsentRequiredByLaw).rule(), "9a");
        assert_eq!(Eligible(Basis::Consent).rule(), "9");
        assert_eq!(Eligible(Basis::Term).rule(), "12");
        let outcomes: std::collections::BTreeSet<usize> = Reason::ALL
            .iter()
            .map(|r| NotEligible(*r).outcome())
            .chain([
                Eligible(Basis::Consent).outcome(),
                Eligible(Basis::Term).outcome(),
            ])
            .collect();
        assert_eq!(outcomes.len(), Decision::OUTCOMES);
    }

    mod properties {
        use super::super::*;
        use crate::contact::{NumberField, Reach};
        use crate::policy::law::Law;
        use crate::policy::preferences::{enter, Competitor};
        use crate::policy::{Channel, Recipient, Relation, Slot, Terms};
        use proptest::prelude::*;
        use Decision::{Eligible as E, NotEligible as N};

        fn day(n: i64) -> NaiveDate {
            NaiveDate::from_ymd_opt(2015, 1, 1).unwrap() + chrono::Duration::days(n)
        }

        prop_compose! {
            fn record()(
                customer in any::<bool>(),
                recipient in 0..3u8,
                anchor in 0..5000i64,
                requests in any::<(bool, bool, bool)>(),
                deceased in any::<bool>(),
                registers in any::<(bool, bool)>(),
                reach in any::<(bool, bool, bool, u8, u8)>(),
                prefs in proptest::collection::vec((0..6usize, 0..6usize, any::<bool>(), 0..100i64), 0..4),
            ) -> (RecordFacts<'static>, Vec<(usize, usize, bool, i64)>) {
                let number = |k: u8| match k % 3 { 0 => None, 1 => Some(NumberField::Phone), _ => Some(NumberField::Mobile) };
                let phone_first = number(reach.3);
                let rec = RecordFacts {
                    relation: if customer { Relation::Customer } else { Relation::Prospect },
                    recipient: [Recipient::Person, Recipient::SoleTrader, Recipient::Organisation][usize::from(recipient)],
                    anchor: day(anchor),
                    requests: Requests { erasure: requests.0, objection: requests.1, restriction: requests.2 },
                    deceased,
                    on_deceased_register: registers.0,
                    on_postfilter: registers.1,
                    reach: Reach {
                        email: reach.0,
                        app: reach.1,
                        post: reach.2,
                        sms: number(reach.4),
                        phone_first,
                        phone_free: phone_first.filter(|_| reach.4 % 2 == 0),
                    },
                    winners: None,
                };
                (rec, prefs)
            }
        }

        proptest! {
            /// No eligible cell of a natural person's phone channel has basis `term` on or
            /// after 2026-07-01, whatever the policy's term; every eligible cell has a
            /// contact point; explicit consent is never eligible by term.
            #[test]
            fn the_law_holds_for_any_record(
                (rec, prefs) in record(),
                as_of in 0..6000i64,
                months in proptest::collection::vec(0..200u32, 25),
                marks in proptest::collection::vec(any::<bool>(), 25),
            ) {
                let law = Law::built_in();
                let as_of = day(as_of).max(rec.anchor);
                let mut terms = Terms::contract_default();
                for (i, c) in terms.cells.iter_mut().enumerate() {
                    c.months = months[i];
                    c.explicit_consent = marks[i];
                }
                let cats = ["*", "aftersales_service", "newsletter", "sales_actions", "aftersales_actions", "prospects"];
                let chans = ["*", "email", "sms", "app", "post", "phone"];
                let mut w = [None; Slot::COUNT];
                for (i, (c, h, opt_in, at)) in prefs.iter().enumerate() {
                    let p = if *opt_in { Preference::OptIn } else { Preference::OptOut };
                    let row = Competitor { recorded_at: *at, preference: p, line: i as i64 };
                    enter(&mut w, row, cats[*c], chans[*h], rec.relation);
                }
                let rec = RecordFacts { winners: Some(&w), ..rec };
                let mut cells = Vec::new();
                decide_record(&rec, &terms, &law.at(as_of), |d| cells.push(d));
                let n = cells.len();
                for d in cells {
                    if let Decision::Eligible(basis) = d.verdict.decision {
                        prop_assert!(reachable(&rec.reach, d.slot.channel()));
                        if basis == Basis::Term {
                            prop_assert!(!terms.cell(d.slot).explicit_consent);
                            prop_assert!(as_of < d.expires);
                            let cutoff = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
                            prop_assert!(!(d.slot.channel() == Channel::Phone
                                && rec.recipient.natural()
                                && as_of >= cutoff));
                        }
                    }
                }
                prop_assert_eq!(n, if rec.relation == Relation::Customer { 20 } else { 5 });
            }
        }

        proptest! {
            /// The decision is the first row of the contract's table whose condition holds,
            /// read here as a list of (condition, outcome) in the contract's order.
            #[test]
            fn the_first_rule_that_applies_decides(
                b in proptest::collection::vec(any::<bool>(), 14),
                pref in 0..3u8,
                law in proptest::collection::vec(proptest::option::of(0..7u16), 4),
            ) {
                let f = Facts {
                    erasure: b[0], objection: b[1], restriction: b[2], deceased: b[3],
                    deceased_register: law[0], past_retention: b[4], record_has_opt_in: b[5],
                    preference: [None, Some(Preference::OptIn), Some(Preference::OptOut)][usize::from(pref)],
                    reachable: b[6], all_numbers_do_not_call: b[7], postfilter: law[1],
                    consent_by_law: law[2], needs_consent: b[8], past_term: b[9], dated_by: law[3],
                };
                let opt_in = f.preference == Some(Preference::OptIn);
                let table: [(bool, Decision); 14] = [
                    (f.erasure, N(Reason::ErasureRequested)),
                    (f.objection, N(Reason::Objected)),
                    (f.restriction, N(Reason::Restricted)),
                    (f.deceased || f.deceased_register.is_some(), N(Reason::Deceased)),
                    (f.past_retention && !f.record_has_opt_in, N(Reason::RetentionExpired)),
                    (f.preference == Some(Preference::OptOut), N(Reason::OptedOut)),
                    (!f.reachable, N(Reason::Unreachable)),
                    (f.all_numbers_do_not_call && !opt_in, N(Reason::DoNotCall)),
                    (f.postfilter.is_some() && !opt_in, N(Reason::Postfilter)),
                    (opt_in, E(Basis::Consent)),
                    (f.consent_by_law.is_some(), N(Reason::ConsentRequiredByLaw)),
                    (f.needs_consent, N(Reason::NoConsent)),
                    (f.past_term, N(Reason::Expired)),
                    (true, E(Basis::Term)),
                ];
                let want = table.iter().find(|(c, _)| *c).map(|(_, d)| *d).unwrap();
                prop_assert_eq!(decide(&f).decision, want);
            }

            /// The winner of a cell is the latest competing row, an opt-out on a tie, over
            /// every row whose category and channel (or `*`) name the cell.
            #[test]
            fn the_latest_competing_preference_wins(
                rows in proptest::collection::vec((0..6usize, 0..6usize, any::<bool>(), 0..5i64), 0..8),
                customer in any::<bool>(),
            ) {
                use crate::policy::preferences::competes;
                let relation = if customer { Relation::Customer } else { Relation::Prospect };
                let cats = ["*", "aftersales_service", "newsletter", "sales_actions", "aftersales_actions", "prospects"];
                let chans = ["*", "email", "sms", "app", "post", "phone"];
                let mut w = [None; Slot::COUNT];
                for (i, (c, h, opt_in, at)) in rows.iter().enumerate() {
                    let p = if *opt_in { Preference::OptIn } else { Preference::OptOut };
                    let row = Competitor { recorded_at: *at, preference: p, line: i as i64 };
                    enter(&mut w, row, cats[*c], chans[*h], relation);
                }
                for s in Slot::all() {
                    let best = rows
                        .iter()
                        .filter(|(c, h, _, _)| competes(cats[*c], chans[*h], s, relation))
                        .map(|(_, _, opt_in, at)| (*at, !*opt_in))
                        .max();
                    let got = w[s.index()].map(|c| (c.recorded_at, c.preference == Preference::OptOut));
                    prop_assert_eq!(got, best);
                }
            }

            /// anchor + n months: the same day of the month n months on, or that month's last
            /// day when it has fewer days (2022-08-31 + 18 = 2024-02-29).
            #[test]
            fn months_end_on_the_same_day_or_the_last_of_the_month(
                days in 0..20_000i64,
                months in 0..1200u32,
            ) {
                use chrono::Datelike;
                let a = day(days - 10_000);
                let e = add_months(a, months);
                let total = a.year() * 12 + a.month0() as i32 + months as i32;
                prop_assert_eq!((e.year(), e.month0() as i32), (total / 12, total % 12));
                let last = (28..=31u32)
                    .rev()
                    .find(|d| NaiveDate::from_ymd_opt(e.year(), e.month(), *d).is_some())
                    .unwrap();
                prop_assert_eq!(e.day(), a.day().min(last));
            }
        }
    }
}
