//! What a cell is: a category, a channel, and the one index (`Slot`) every table of cells
//! uses, in the output's sort order; and who a record is (relation, recipient).
//!
//! Constants of the contract only; nothing here decides.

use crate::schema::{CATEGORIES, CHANNELS};

/// A kind of message, in the contract's policy-table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    AftersalesService,
    Newsletter,
    SalesActions,
    AftersalesActions,
    Prospects,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::AftersalesService,
        Category::Newsletter,
        Category::SalesActions,
        Category::AftersalesActions,
        Category::Prospects,
    ];

    pub fn name(self) -> &'static str {
        CATEGORIES[self as usize]
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == s)
    }

    /// The relation whose records have this category's cells.
    pub fn relation(self) -> Relation {
        match self {
            Category::Prospects => Relation::Prospect,
            _ => Relation::Customer,
        }
    }
}

/// Channel of a cell, in the contract's policy-table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Email,
    Sms,
    App,
    Post,
    Phone,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Email,
        Channel::Sms,
        Channel::App,
        Channel::Post,
        Channel::Phone,
    ];

    pub fn name(self) -> &'static str {
        CHANNELS[self as usize]
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == s)
    }

    pub fn digital(self) -> bool {
        matches!(self, Channel::Email | Channel::Sms | Channel::App)
    }
}

/// One cell of a record: (category, channel) as one index, `0..25`, ordered as the outputs
/// are sorted (by category name, then channel name). Terms, winning preferences, the law
/// and the written cells are all indexed by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot(pub u8);

/// Categories and channels by name, the slot order.
const CATEGORIES_BY_NAME: [Category; 5] = [
    Category::AftersalesActions,
    Category::AftersalesService,
    Category::Newsletter,
    Category::Prospects,
    Category::SalesActions,
];
const CHANNELS_BY_NAME: [Channel; 5] = [
    Channel::App,
    Channel::Email,
    Channel::Phone,
    Channel::Post,
    Channel::Sms,
];

impl Slot {
    pub const COUNT: usize = 25;

    pub fn all() -> impl Iterator<Item = Slot> {
        (0..Slot::COUNT as u8).map(Slot)
    }

    pub fn of(category: Category, channel: Channel) -> Slot {
        let c = CATEGORIES_BY_NAME.iter().position(|x| *x == category);
        let h = CHANNELS_BY_NAME.iter().position(|x| *x == channel);
        Slot((c.unwrap_or_default() * 5 + h.unwrap_or_default()) as u8)
    }

    pub fn category(self) -> Category {
        CATEGORIES_BY_NAME[usize::from(self.0) / 5]
    }

    pub fn channel(self) -> Channel {
        CHANNELS_BY_NAME[usize::from(self.0) % 5]
    }

    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The slots of a record of `relation`, in order: a customer's 20, a prospect's 5.
    pub fn of_relation(relation: Relation) -> impl Iterator<Item = Slot> {
        Slot::all().filter(move |s| s.category().relation() == relation)
    }
}

/// Whether a record is a customer (has a valid invoice) or a prospect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Relation {
    Customer,
    Prospect,
}

impl Relation {
    pub fn name(self) -> &'static str {
        match self {
            Relation::Customer => "customer",
            Relation::Prospect => "prospect",
        }
    }
}

/// Who a customer record is, for the law: its `kind` when given; otherwise an organisation
/// when it has a `company_name`, else a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Recipient {
    #[default]
    Person,
    SoleTrader,
    Organisation,
}

impl Recipient {
    pub const KINDS: [&'static str; 3] = ["person", "sole_trader", "organisation"];

    /// From the validated (lowercased) `kind` and whether `company_name` is present.
    pub fn of(kind: Option<&str>, has_company_name: bool) -> Recipient {
        match kind {
            Some("person") => Recipient::Person,
            Some("sole_trader") => Recipient::SoleTrader,
            Some(_) => Recipient::Organisation,
            None if has_company_name => Recipient::Organisation,
            None => Recipient::Person,
        }
    }

    pub fn name(self) -> &'static str {
        Recipient::KINDS[self as usize]
    }

    /// A natural person (the Telecommunicatiewet protects a sole trader's number as a
    /// consumer's).
    pub fn natural(self) -> bool {
        self != Recipient::Organisation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_in_output_order_and_round_trip() {
        let names: Vec<(&str, &str)> = Slot::all()
            .map(|s| (s.category().name(), s.channel().name()))
            .collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        for c in Category::ALL {
            for h in Channel::ALL {
                let s = Slot::of(c, h);
                assert_eq!((s.category(), s.channel()), (c, h));
            }
        }
        assert_eq!(Slot::of_relation(Relation::Customer).count(), 20);
        assert_eq!(Slot::of_relation(Relation::Prospect).count(), 5);
    }

    #[test]
    fn recipients_from_kind_or_company_name() {
        assert_eq!(Recipient::of(None, false), Recipient::Person);
        assert_eq!(Recipient::of(None, true), Recipient::Organisation);
        assert_eq!(Recipient::of(Some("person"), true), Recipient::Person);
        assert_eq!(
            Recipient::of(Some("sole_trader"), true),
            Recipient::SoleTrader
        );
        assert_eq!(
            Recipient::of(Some("organisation"), false),
            Recipient::Organisation
        );
        assert!(Recipient::SoleTrader.natural());
        assert!(!Recipient::Organisation.natural());
    }
}
