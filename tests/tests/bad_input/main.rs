//! Bad input through every write path: a corpus of bodies that are not JSON, not UTF-8, too large,
//! too deep, of the wrong types, with absurd numbers, impossible dates, unknown zones and
//! intervals ending before they start. Each is answered 4xx with a JSON error a person can read
//! (never a 5xx), and the database is byte-for-byte unchanged by them. Then strings that are valid
//! however hostile they look (SQL, script, format strings, emoji, right-to-left text, the longest
//! allowed) are stored and answered literally.
//!
//! Earlier tests cover one case each (foundation.rs: unparseable JSON, a wrong type, an unknown
//! field; contract_tracking.rs: each endpoint's field rules); this one sweeps every path.

mod corpus;
mod literal;
mod paths;

pub const PASSWORD: &str = "correct horse battery staple";
