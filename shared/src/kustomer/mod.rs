//! The Kustomer client (kustomer-api.md): one `reqwest` client built at cold start, bearer
//! auth, typed calls for what the product needs, lenient parsing, typed errors, bounded retries
//! (429 waits for `x-ratelimit-reset`; 5xx and timeouts back off with jitter; other 4xx are not
//! retried), and creates that find, rather than duplicate, what a lost answer created.

mod api;
mod attachments;
mod client;
mod directory;
mod error;
pub mod model;
pub mod requests;
pub mod ui_link;

pub use api::is_e164;
pub use attachments::AttachmentFile;
pub(crate) use client::encode_segment;
pub use client::{Attempt, KustomerClient, SEND_MARGIN, without_rate_waits};
pub use directory::{
    CustomerDirectory, DirectoryError, Resolved, identifier_external_id, phone_external_id,
};
pub use error::KustomerError;
pub use ui_link::KustomerUi;
