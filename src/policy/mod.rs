//! The policy and the law: how every cell is decided, in one place that reads like the
//! contract. A reader finds each rule in one step:
//!
//! - `cell`: what a cell is (category, channel, the one index `Slot`), relation, recipient;
//! - `terms`: the dealer's policy (terms, explicit consent, retention) and its defaults;
//! - `law`: the statutory rules as data (`law/nl.toml`), in force by date; caps and dating;
//! - `preferences`: which preference rows compete for a cell, and which one wins;
//! - `decide`: the decision table (rules 1-12, 8a, 9a), a record's cells, and retention.
//!
//! Pure logic: the join stage (`records`) gathers the facts, `cells` writes the results.

pub mod cell;
pub mod decide;
pub mod law;
pub mod preferences;
pub mod terms;

pub use cell::{Category, Channel, Recipient, Relation, Slot};
pub use decide::{decide_record, Basis, Decided, Decision, Reason, RecordFacts, Verdict};
pub use law::{Law, LawAt, RuleRef};
pub use terms::{CellPolicy, Policy, Terms};

use chrono::NaiveDate;

/// The pipeline's terms that a rule in force on `as_of` caps, one warning each, naming the
/// setting and the rule: the default policy's cells, and a dealer's cells where they differ
/// from the default.
pub fn capped_terms(policy: &Policy, law: &Law, as_of: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let mut scope = |at: &str, terms: &Terms, base: Option<&Terms>| {
        for slot in Slot::all() {
            let cell = terms.cell(slot);
            if cell.explicit_consent || base.is_some_and(|b| b.cell(slot) == cell) {
                continue;
            }
            for rule in law.rules.iter().filter(|r| r.in_force(as_of)) {
                let whom = [Recipient::Person, Recipient::Organisation]
                    .into_iter()
                    .find(|r| rule.binds(slot, *r));
                let (Some(_), Some(cap)) = (whom, rule.effect.cap()) else {
                    continue;
                };
                if cap < cell.months {
                    let effect = if cap == 0 {
                        "consent only".to_string()
                    } else {
                        format!("capped at {cap} months")
                    };
                    out.push(format!(
                        "{at}.terms.{}.{} = {} months: for {} ({}) this cell is {effect} by `{}` (in force {})",
                        slot.category().name(),
                        slot.channel().name(),
                        cell.months,
                        rule.recipients.name().replace('_', " "),
                        rule.relation_text(),
                        rule.id,
                        rule.period_text()
                    ));
                }
            }
        }
    };
    scope("policy", &policy.default, None);
    for (dealer, terms) in &policy.dealers {
        scope(&format!("dealers.{dealer}"), terms, Some(&policy.default));
    }
    out
}
