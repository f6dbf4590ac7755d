//! Preferences: which rows of a record compete for a cell (its category or `*`, its channel
//! or `*`) and which one wins (the latest `recorded_at`; on a tie `opt_out`).

use super::cell::{Relation, Slot};

/// The winning preference of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preference {
    OptIn,
    OptOut,
}

impl Preference {
    /// From a validated (lowercased) `status`.
    pub fn of(status: &str) -> Preference {
        if status == "opt_in" {
            Preference::OptIn
        } else {
            Preference::OptOut
        }
    }
}

/// A preference row competing for a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Competitor {
    pub recorded_at: i64,
    pub preference: Preference,
    pub line: i64,
}

impl Competitor {
    pub fn beats(&self, other: &Competitor) -> bool {
        (self.recorded_at, self.preference == Preference::OptOut)
            > (other.recorded_at, other.preference == Preference::OptOut)
    }
}

/// Whether a preference row for (`category`, `channel`), each a name or `*`, competes for
/// `slot` of a record of `relation` (a category the relation does not have decides nothing).
pub fn competes(category: &str, channel: &str, slot: Slot, relation: Relation) -> bool {
    slot.category().relation() == relation
        && (category == "*" || category == slot.category().name())
        && (channel == "*" || channel == slot.channel().name())
}

/// The winning preference of each of a record's cells, by slot.
pub type Winners = [Option<Competitor>; Slot::COUNT];

/// Enters `row` into the competition for every cell it names.
pub fn enter(w: &mut Winners, row: Competitor, category: &str, channel: &str, relation: Relation) {
    for s in Slot::all() {
        if competes(category, channel, s, relation) {
            let slot = &mut w[s.index()];
            if slot.is_none_or(|x| row.beats(&x)) {
                *slot = Some(row);
            }
        }
    }
}

/// Some cell of the record is won by an opt-in.
pub fn has_opt_in(w: &Winners) -> bool {
    w.iter()
        .flatten()
        .any(|c| c.preference == Preference::OptIn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::cell::{Category, Channel};

    fn row(at: i64, p: Preference, line: i64) -> Competitor {
        Competitor {
            recorded_at: at,
            preference: p,
            line,
        }
    }

    #[test]
    fn latest_wins_and_opt_out_wins_a_tie() {
        let mut w: Winners = [None; Slot::COUNT];
        let news_email = Slot::of(Category::Newsletter, Channel::Email);
        enter(
            &mut w,
            row(5, Preference::OptIn, 2),
            "*",
            "*",
            Relation::Customer,
        );
        enter(
            &mut w,
            row(5, Preference::OptOut, 3),
            "newsletter",
            "email",
            Relation::Customer,
        );
        enter(
            &mut w,
            row(4, Preference::OptIn, 4),
            "newsletter",
            "*",
            Relation::Customer,
        );
        assert_eq!(w[news_email.index()].map(|c| c.line), Some(3));
        let news_sms = Slot::of(Category::Newsletter, Channel::Sms);
        assert_eq!(w[news_sms.index()].map(|c| c.line), Some(2));
        // a customer's prospects cells are not competed for
        let prospects = Slot::of(Category::Prospects, Channel::Email);
        assert_eq!(w[prospects.index()], None);
        assert!(has_opt_in(&w));
        assert!(!competes("prospects", "*", prospects, Relation::Customer));
        assert!(competes("prospects", "*", prospects, Relation::Prospect));
    }
}
