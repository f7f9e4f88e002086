//! What the platforms really send (issue 28, R-F): for every kind of document the bridge
//! reads — External Session Events, Manager API answers, metadata and transcript files,
//! storage pushes, Kustomer answers — the keys and value types seen (never values), counted,
//! with what the bridge's model does not read and what it expected and did not get.
//!
//! - [`shape`]: one document's shape, as a pure function.
//! - [`kinds`]: the document kinds, and what the model reads and expects of each.
//! - [`book`]: sampling, counting, the table's record (`SHAPES` / `<kind>`) and the report.

pub mod book;
pub mod kinds;
pub mod shape;

pub use book::{KindReport, book, observe, read_reports};
pub use kinds::DocumentKind;
