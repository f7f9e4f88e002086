//! Documents sent in another shape than documented (issue 28): a key the bridge does not know
//! added, one it expects dropped, one renamed — a switch per document kind, so a test can show
//! each flagged in the record of what the platforms sent (`bridge_shared::shapes`).

use serde_json::{Value, json};

/// What to do to one kind of document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Twist {
    /// A key added with a text value.
    pub extra: Option<&'static str>,
    /// A key removed.
    pub drop: Option<&'static str>,
    /// A key renamed (its value kept).
    pub rename: Option<(&'static str, &'static str)>,
}

impl Twist {
    pub fn is_none(&self) -> bool {
        *self == Twist::default()
    }

    /// The twist applied to `document` (an object; anything else is left as it is).
    pub fn apply(&self, document: &mut Value) {
        let Some(object) = document.as_object_mut() else {
            return;
        };
        if let Some(key) = self.drop {
            object.remove(key);
        }
        if let Some((from, to)) = self.rename
            && let Some(value) = object.remove(from)
        {
            object.insert(to.to_owned(), value);
        }
        if let Some(key) = self.extra {
            object.insert(key.to_owned(), json!("added by the sandbox"));
        }
    }
}

/// A twist per kind of document the CCAI sandbox sends.
#[derive(Clone, Debug, Default)]
pub struct ShapeTwists {
    /// Each External Session Event's `item`.
    pub ese_item: Twist,
    /// Each participant of an item.
    pub ese_participant: Twist,
    /// Manager API calls (one, or each of a list).
    pub call: Twist,
    pub chat: Twist,
}

impl ShapeTwists {
    /// An External Session Event as it is sent.
    pub fn event(&self, event: &mut Value) {
        let Some(item) = event.get_mut("item") else {
            return;
        };
        if !self.ese_participant.is_none()
            && let Some(participants) = item.get_mut("participants").and_then(Value::as_array_mut)
        {
            for participant in participants {
                self.ese_participant.apply(participant);
            }
        }
        self.ese_item.apply(item);
    }
}
