//! The contract's vocabulary: tables and their columns, categories, channels, reasons.
//!
//! Everything here is a constant of `../shared/CONTRACT.md`; nothing here reads or decides.

use std::fmt;

/// One input table of the extract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Customers,
    Invoices,
    Vehicles,
    Preferences,
    Requests,
    DoNotCall,
    Postfilter,
    DeceasedRegister,
}

/// How a column's text is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Date,
    Timestamp,
    Bool,
    Decimal,
    Category,
    Channel,
    Status,
    RequestKind,
    /// A customer's `kind`: person, sole_trader or organisation.
    RecipientKind,
    Phone,
}

pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn req(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        required: true,
    }
}
const fn opt(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        required: false,
    }
}

use Kind::*;
const CUSTOMERS: &[Column] = &[
    req("dealer_id", Text),
    req("customer_id", Text),
    req("registered_on", Date),
    opt("source", Text),
    opt("initials", Text),
    opt("first_name", Text),
    opt("infix", Text),
    opt("last_name", Text),
    opt("company_name", Text),
    opt("kind", RecipientKind),
    opt("street", Text),
    opt("house_number", Text),
    opt("house_number_suffix", Text),
    opt("postcode", Text),
    opt("city", Text),
    opt("country", Text),
    opt("email", Text),
    opt("phone", Text),
    opt("mobile", Text),
    opt("app_id", Text),
    opt("deceased", Bool),
];
const INVOICES: &[Column] = &[
    req("dealer_id", Text),
    req("invoice_id", Text),
    req("customer_id", Text),
    req("invoice_date", Date),
    opt("vehicle_id", Text),
    opt("department", Text),
    opt("amount", Decimal),
];
const VEHICLES: &[Column] = &[
    req("dealer_id", Text),
    req("vehicle_id", Text),
    opt("customer_id", Text),
    opt("license_plate", Text),
    opt("vin", Text),
    opt("make", Text),
    opt("model", Text),
    opt("first_registration_on", Date),
    opt("apk_due_on", Date),
];
const PREFERENCES: &[Column] = &[
    req("dealer_id", Text),
    req("customer_id", Text),
    req("category", Category),
    req("channel", Channel),
    req("status", Status),
    req("recorded_at", Timestamp),
    opt("origin", Text),
];
const REQUESTS: &[Column] = &[
    req("dealer_id", Text),
    req("customer_id", Text),
    req("kind", RequestKind),
    req("received_on", Date),
];
const DO_NOT_CALL: &[Column] = &[req("phone", Phone)];
const POSTFILTER: &[Column] = &[
    req("postcode", Text),
    req("house_number", Text),
    opt("house_number_suffix", Text),
];
const DECEASED_REGISTER: &[Column] = &[
    req("postcode", Text),
    req("house_number", Text),
    opt("house_number_suffix", Text),
    req("last_name", Text),
];

/// How a table's `customer_id` names a customer record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomerRef {
    None,
    /// Every row must name a valid customer record.
    Required,
    /// A row that names one must name a valid one (vehicles: an owner is optional).
    Optional,
}

impl Table {
    pub const ALL: [Table; 8] = [
        Table::Customers,
        Table::Invoices,
        Table::Vehicles,
        Table::Preferences,
        Table::Requests,
        Table::DoNotCall,
        Table::Postfilter,
        Table::DeceasedRegister,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Customers => "customers",
            Table::Invoices => "invoices",
            Table::Vehicles => "vehicles",
            Table::Preferences => "preferences",
            Table::Requests => "requests",
            Table::DoNotCall => "do_not_call",
            Table::Postfilter => "postfilter",
            Table::DeceasedRegister => "deceased_register",
        }
    }

    /// Tables whose rows belong to a dealer; the others (do_not_call, the registers) are
    /// read whole and apply to every dealer.
    pub fn has_dealer(self) -> bool {
        !matches!(
            self,
            Table::DoNotCall | Table::Postfilter | Table::DeceasedRegister
        )
    }

    pub fn required(self) -> bool {
        matches!(self, Table::Customers | Table::Invoices)
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Customers => CUSTOMERS,
            Table::Invoices => INVOICES,
            Table::Vehicles => VEHICLES,
            Table::Preferences => PREFERENCES,
            Table::Requests => REQUESTS,
            Table::DoNotCall => DO_NOT_CALL,
            Table::Postfilter => POSTFILTER,
            Table::DeceasedRegister => DECEASED_REGISTER,
        }
    }

    /// Columns that identify a row; two rows sharing them but differing elsewhere are
    /// `duplicate_key`.
    pub fn key(self) -> &'static [&'static str] {
        match self {
            Table::Customers => &["dealer_id", "customer_id"],
            Table::Invoices => &["dealer_id", "invoice_id"],
            Table::Vehicles => &["dealer_id", "vehicle_id"],
            _ => &[],
        }
    }

    /// The column that must not be dated after the as-of date.
    pub fn dated_by(self) -> Option<&'static str> {
        match self {
            Table::Customers => Some("registered_on"),
            Table::Invoices => Some("invoice_date"),
            Table::Preferences => Some("recorded_at"),
            Table::Requests => Some("received_on"),
            _ => None,
        }
    }

    pub fn customer_ref(self) -> CustomerRef {
        match self {
            Table::Invoices | Table::Preferences | Table::Requests => CustomerRef::Required,
            Table::Vehicles => CustomerRef::Optional,
            Table::Customers | Table::DoNotCall | Table::Postfilter | Table::DeceasedRegister => {
                CustomerRef::None
            }
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Message categories, in the order of the contract's policy table.
pub const CATEGORIES: [&str; 5] = [
    "aftersales_service",
    "newsletter",
    "sales_actions",
    "aftersales_actions",
    "prospects",
];
pub const CHANNELS: [&str; 5] = ["email", "sms", "app", "post", "phone"];
pub const STATUSES: [&str; 2] = ["opt_in", "opt_out"];
pub const REQUEST_KINDS: [&str; 3] = ["erasure", "objection", "restriction"];

/// Why a row was quarantined, in the contract's order of precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Quarantine {
    MissingValue,
    BadValue,
    FutureDate,
    UnknownCustomer,
    DuplicateKey,
}

impl Quarantine {
    pub const ALL: [Quarantine; 5] = [
        Quarantine::MissingValue,
        Quarantine::BadValue,
        Quarantine::FutureDate,
        Quarantine::UnknownCustomer,
        Quarantine::DuplicateKey,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Quarantine::MissingValue => "missing_value",
            Quarantine::BadValue => "bad_value",
            Quarantine::FutureDate => "future_date",
            Quarantine::UnknownCustomer => "unknown_customer",
            Quarantine::DuplicateKey => "duplicate_key",
        }
    }
}
