//! Agents sign in with Kustomer (R-SEC-1, events.md §3): the bridge learns who an agent is from
//! Kustomer's OAuth provider, never from a request body, and issues its own agent session.
//!
//! - [`flow`]: begin (PKCE, `state`, the browser binding) and callback.
//! - [`oauth`]: Kustomer's endpoints and the code exchange (its unconfirmed facts live there).
//! - [`sessions`]: agent sessions, stored hashed, at most 12 h, revocable.
//! - [`secrets`]: random tokens and digests.
//! - [`settings`]: the configuration it is read from.
//! - [`standing`]: whether the signed-in Kustomer user is still active.

pub mod flow;
pub mod oauth;
pub mod secrets;
pub mod sessions;
pub mod settings;
pub mod standing;

pub use flow::{BINDING_COOKIE, Begun, CALLBACK_PATH, SignIn, SignInError};
pub use oauth::{KustomerOAuth, OAuthError, OAuthSettings, SignedInUser};
pub use sessions::{AgentIdentity, AgentSessions, SESSION_LIFETIME, Scope};
