//! The decision for one cell: the contract's twelve rules, in order, in one place.
//!
//! `decide` is a pure function of the facts about a cell; the join stage gathers the facts
//! for every cell and applies it in parallel. It must not look anything up itself.

use serde::Serialize;

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
    pub const ALL: [Reason; 10] = [
        Reason::ErasureRequested,
        Reason::Objected,
        Reason::Restricted,
        Reason::Deceased,
        Reason::RetentionExpired,
        Reason::OptedOut,
        Reason::Unreachable,
        Reason::DoNotCall,
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

/// The winning preference of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preference {
    OptIn,
    OptOut,
}

/// Everything the decision table looks at for one cell.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts {
    pub erasure: bool,
    pub objection: bool,
    pub restriction: bool,
    pub deceased: bool,
    /// as-of >= retain_until
    pub past_retention: bool,
    /// some cell of the record is won by an opt-in
    pub record_has_opt_in: bool,
    pub preference: Option<Preference>,
    /// the channel has a contact point (phone: some valid number)
    pub reachable: bool,
    /// phone channel, and every valid number is on do_not_call
    pub all_numbers_do_not_call: bool,
    pub needs_consent: bool,
    /// as-of >= expires_on
    pub past_term: bool,
}

/// The contract's decision table: the first rule that applies.
pub fn decide(f: &Facts) -> Decision {
    use Decision::*;
    let opt_in = f.preference == Some(Preference::OptIn);
    if f.erasure {
        NotEligible(Reason::ErasureRequested) // 1
    } else if f.objection {
        NotEligible(Reason::Objected) // 2
    } else if f.restriction {
        NotEligible(Reason::Restricted) // 3
    } else if f.deceased {
        NotEligible(Reason::Deceased) // 4
    } else if f.past_retention && !f.record_has_opt_in {
        NotEligible(Reason::RetentionExpired) // 5
    } else if f.preference == Some(Preference::OptOut) {
        NotEligible(Reason::OptedOut) // 6
    } else if !f.reachable {
        NotEligible(Reason::Unreachable) // 7
    } else if f.all_numbers_do_not_call && !opt_in {
        NotEligible(Reason::DoNotCall) // 8
    } else if opt_in {
        Eligible(Basis::Consent) // 9
    } else if f.needs_consent {
        NotEligible(Reason::NoConsent) // 10
    } else if f.past_term {
        NotEligible(Reason::Expired) // 11
    } else {
        Eligible(Basis::Term) // 12
    }
}

/// The rule number (1-12) of the decision table that produced `d`.
pub fn rule(d: Decision) -> u8 {
    match d {
        Decision::NotEligible(r) => match r {
            Reason::ErasureRequested => 1,
            Reason::Objected => 2,
            Reason::Restricted => 3,
            Reason::Deceased => 4,
            Reason::RetentionExpired => 5,
            Reason::OptedOut => 6,
            Reason::Unreachable => 7,
            Reason::DoNotCall => 8,
            Reason::NoConsent => 10,
            Reason::Expired => 11,
        },
        Decision::Eligible(Basis::Consent) => 9,
        Decision::Eligible(Basis::Term) => 12,
    }
}

/// The contract's words for rule `n` of the decision table.
pub fn rule_name(n: u8) -> &'static str {
    match n {
        1 => "an erasure request",
        2 => "an objection request",
        3 => "a restriction request",
        4 => "deceased",
        5 => "past retain_until, and no cell of the record is won by an opt-in",
        6 => "the winning preference is opt_out",
        7 => "no contact point for the channel",
        8 => "every valid number is on do_not_call, and no winning opt_in",
        9 => "the winning preference is opt_in",
        10 => "the cell needs explicit consent",
        11 => "as-of >= expires_on",
        _ => "otherwise: in term",
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
            past_retention: true,
            record_has_opt_in: false,
            preference: Some(Preference::OptOut),
            reachable: false,
            all_numbers_do_not_call: true,
            needs_consent: true,
            past_term: true,
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
            Reason::ErasureRequested,
            Reason::Objected,
            Reason::Restricted,
            Reason::Deceased,
            Reason::RetentionExpired,
            Reason::OptedOut,
            Reason::Unreachable,
            Reason::DoNotCall,
            Reason::NoConsent,
            Reason::Expired,
        ];
        for (i, r) in expect.iter().enumerate() {
            assert_eq!(decide(&f), NotEligible(*r), "step {i}");
            match r {
                Reason::ErasureRequested => f.erasure = false,
                Reason::Objected => f.objection = false,
                Reason::Restricted => f.restriction = false,
                Reason::Deceased => f.deceased = false,
                Reason::RetentionExpired => f.past_retention = false,
                Reason::OptedOut => f.preference = None,
                Reason::Unreachable => f.reachable = true,
                Reason::DoNotCall => f.all_numbers_do_not_call = false,
                Reason::NoConsent => f.needs_consent = false,
                Reason::Expired => f.past_term = false,
            }
        }
        assert_eq!(decide(&f), Eligible(Basis::Term));
    }

    #[test]
    fn an_opt_in_wins_over_consent_term_and_do_not_call() {
        let f = Facts {
            preference: Some(Preference::OptIn),
            record_has_opt_in: true,
            needs_consent: true,
            past_term: true,
            all_numbers_do_not_call: true,
            past_retention: true,
            ..plain()
        };
        assert_eq!(decide(&f), Eligible(Basis::Consent));
    }

    #[test]
    fn an_opt_in_elsewhere_in_the_record_lifts_retention_only() {
        let f = Facts {
            past_retention: true,
            record_has_opt_in: true,
            past_term: true,
            ..plain()
        };
        assert_eq!(decide(&f), NotEligible(Reason::Expired));
        let f = Facts {
            past_retention: true,
            ..plain()
        };
        assert_eq!(decide(&f), NotEligible(Reason::RetentionExpired));
    }

    #[test]
    fn an_opt_in_does_not_beat_objection_or_reachability() {
        let f = Facts {
            objection: true,
            preference: Some(Preference::OptIn),
            ..plain()
        };
        assert_eq!(decide(&f), NotEligible(Reason::Objected));
        let f = Facts {
            reachable: false,
            preference: Some(Preference::OptIn),
            ..plain()
        };
        assert_eq!(decide(&f), NotEligible(Reason::Unreachable));
    }

    #[test]
    fn rule_numbers() {
        assert_eq!(rule(NotEligible(Reason::Unreachable)), 7);
        assert_eq!(rule(Eligible(Basis::Consent)), 9);
        assert_eq!(rule(Eligible(Basis::Term)), 12);
    }
}
