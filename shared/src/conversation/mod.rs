//! Kustomer conversations for CCAI sessions: the placement rules (R-T, R-U), pure; the view
//! of a session they read; and contact sync, the one idempotent step every worker calls to
//! resolve a session's customer and conversation.

pub mod attached_file;
pub mod contact;
pub mod file_worker;
pub mod held_lock;
pub mod media;
mod planner;
pub mod preview;
pub mod report;
pub mod rules;
pub mod session;
pub mod transcript_file;
pub mod truth;
pub mod updates;

pub use attached_file::{AttachError, AttachOutcome, AttachedFile, FileProgress, FileToAttach};
pub use contact::{ContactError, ContactOutcome, ContactSync, SessionLink};
pub use file_worker::{FileWorker, FileWorkerError};
pub use rules::{
    Channel, CurrentConversation, Origin, Placement, SessionFacts, place_session, placed_by_rule,
};
pub use session::{SessionView, kept_ese_item};
pub use transcript_file::{RenderedTranscript, render_transcript_file};
pub use truth::{Need, Truth, TruthError, session_truth};
pub use updates::{
    ConversationUpdate, NoteFacts, VoicemailHandling, session_notes, voicemail_handling,
};
