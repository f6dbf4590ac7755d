//! The dealer's policy: a term in months and an explicit-consent mark per cell, and the
//! retention of records; the contract's defaults, and a dealer's overrides.
//!
//! The pipeline file's parser fills these; the law bounds them (`law`).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::cell::{Category, Channel, Relation, Slot};
use crate::values::add_months;

/// The policy for one cell: its term in months and whether it needs an opt-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellPolicy {
    pub months: u32,
    pub explicit_consent: bool,
}

/// The policy for one dealer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terms {
    /// By `Slot`.
    pub cells: [CellPolicy; Slot::COUNT],
    pub retain_customer_months: u32,
    pub retain_prospect_months: u32,
}

impl Terms {
    /// The contract's policy table: aftersales_service 48 months everywhere; the other
    /// customer categories 18 digital, 48 post and phone; prospects 3, digital by explicit
    /// consent only. Retention 84 months for a customer, 3 for a prospect.
    pub fn contract_default() -> Terms {
        let cell = |s: Slot| {
            let digital = s.channel().digital();
            let (months, explicit_consent) = match s.category() {
                Category::AftersalesService => (48, false),
                Category::Prospects => (3, digital),
                _ if digital => (18, false),
                _ => (48, false),
            };
            CellPolicy {
                months,
                explicit_consent,
            }
        };
        Terms {
            cells: std::array::from_fn(|i| cell(Slot(i as u8))),
            retain_customer_months: 84,
            retain_prospect_months: 3,
        }
    }

    pub fn cell(&self, slot: Slot) -> CellPolicy {
        self.cells[slot.index()]
    }

    pub fn cell_mut(&mut self, category: Category, channel: Channel) -> &mut CellPolicy {
        &mut self.cells[Slot::of(category, channel).index()]
    }

    pub fn retain_months(&self, relation: Relation) -> u32 {
        match relation {
            Relation::Customer => self.retain_customer_months,
            Relation::Prospect => self.retain_prospect_months,
        }
    }

    /// The day from which a record anchored on `anchor` must be erased.
    pub fn retain_until(&self, relation: Relation, anchor: NaiveDate) -> NaiveDate {
        add_months(anchor, self.retain_months(relation))
    }
}

/// All dealers' policies: a default and per-dealer overrides.
#[derive(Clone, Debug)]
pub struct Policy {
    pub default: Terms,
    pub dealers: BTreeMap<String, Terms>,
}

impl Policy {
    pub fn for_dealer(&self, dealer: &str) -> &Terms {
        self.dealers.get(dealer).unwrap_or(&self.default)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            default: Terms::contract_default(),
            dealers: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_policy_table() {
        use Category::*;
        use Channel::*;
        let t = Terms::contract_default();
        let at = |c, h| t.cell(Slot::of(c, h));
        for h in Channel::ALL {
            assert_eq!(at(AftersalesService, h).months, 48);
            assert_eq!(at(Prospects, h).months, 3);
            assert_eq!(at(Prospects, h).explicit_consent, h.digital());
            for c in [Newsletter, SalesActions, AftersalesActions] {
                assert_eq!(at(c, h).months, if h.digital() { 18 } else { 48 });
                assert!(!at(c, h).explicit_consent);
            }
        }
        assert_eq!(at(Newsletter, Post).months, 48);
        assert_eq!(at(Newsletter, Phone).months, 48);
        assert_eq!(t.retain_customer_months, 84);
        assert_eq!(t.retain_prospect_months, 3);
    }
}
