//! Custom fields (R-CF): the twelve fields the admin can create in Kustomer, the SDK
//! custom-data keys mapped to attributes, and the values a session's message carries.
//!
//! - [`catalogue`]: the fields, their Kustomer attributes and types.
//! - [`settings`]: which are created (and when), where SDK keys go; in the state table.
//! - [`values`]: the values of one session — pure.
//! - [`admin`]: creating (with the Kustomer metadata), deleting, mapping.

pub mod admin;
pub mod catalogue;
pub mod settings;
pub mod values;

pub use catalogue::{CATALOGUE, Field, FieldId, Suffix};
pub use settings::FieldSettings;
pub use values::{CustomValues, FieldFacts, SessionValues, custom_values, read_custom_data};
