//! Which Kustomer conversation a call or chat belongs to (R-T-1…5, R-U-1, R-U-2, R-U-5, R-U-6):
//! pure functions over the session's current truth and the customer's current conversation.
//!
//! The decision reads the session as the Manager API reports it now (R-E-5), not the event
//! that woke the worker: a lost, duplicated or reordered event still places the session
//! where the rules say, as soon as any event of it arrives.

/// The channel a session is logged on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Voice,
    Chat,
}

/// Where a session came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A phone call through the IVR.
    Ivr,
    /// A call or chat from the mobile or web SDK.
    Sdk,
    /// An agent dialled out (adapter, click-to-call, callback).
    Outbound,
}

/// The facts of a session the rules use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFacts {
    pub channel: Channel,
    pub origin: Origin,
    /// The customer's menu selection (queue).
    pub menu: Option<String>,
    /// An agent was assigned (answered).
    pub answered: bool,
    /// Hung up before any agent answered.
    pub abandoned: bool,
    /// A voicemail was left.
    pub voicemail: bool,
}

/// The conversation the bridge last placed a session of this customer in, with its current
/// status in Kustomer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentConversation {
    pub id: String,
    pub open: bool,
    pub channel: Channel,
    pub menu: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Not decidable yet (an IVR call nobody has answered and that is not over).
    NotYet,
    /// A new conversation; `voicemail` marks a voicemail conversation (R-T-5).
    Create { voicemail: bool },
    /// The customer's current conversation.
    Append { conversation_id: String },
}

/// R-U-1: same channel, same menu selection, still open.
fn continues(facts: &SessionFacts, current: Option<&CurrentConversation>) -> Option<String> {
    current
        .filter(|c| c.open && c.channel == facts.channel && c.menu == facts.menu)
        .map(|c| c.id.clone())
}

fn append_or_create(current: Option<String>) -> Placement {
    match current {
        Some(conversation_id) => Placement::Append { conversation_id },
        None => Placement::Create { voicemail: false },
    }
}

/// Where the session goes. `original` is the conversation of the call this one calls back,
/// when the platform links them.
pub fn place_session(
    facts: &SessionFacts,
    current: Option<&CurrentConversation>,
    original: Option<&CurrentConversation>,
) -> Placement {
    placed_by_rule(facts, current, original).0
}

/// Where the session goes, and the rule that chose it, in words for the admin's timeline
/// (R-ADM-2: what the bridge decided and why).
pub fn placed_by_rule(
    facts: &SessionFacts,
    current: Option<&CurrentConversation>,
    original: Option<&CurrentConversation>,
) -> (Placement, &'static str) {
    if facts.voicemail {
        return (
            Placement::Create { voicemail: true },
            "R-T-5: a voicemail is always its own conversation",
        );
    }
    if facts.origin == Origin::Outbound
        && let Some(original) = original.filter(|c| c.open)
    {
        return (
            Placement::Append {
                conversation_id: original.id.clone(),
            },
            "R-U-5/R-U-6: a callback joins the open conversation of the call it returns",
        );
    }
    let open = |placement: &Placement, append: &'static str, create: &'static str| match placement {
        Placement::Append { .. } => append,
        _ => create,
    };
    match facts.origin {
        // R-T-3 / R-U-2, and so R-U-5 and R-U-6 (a callback is an outbound call while the
        // conversation of the first call is open): the open latest conversation, whatever its
        // channel or menu.
        Origin::Outbound => {
            let placement = append_or_create(current.filter(|c| c.open).map(|c| c.id.clone()));
            let rule = open(
                &placement,
                "R-U-2: an outbound call joins the customer's open latest conversation",
                "R-T-3: an outbound call with no open conversation of the customer starts one",
            );
            (placement, rule)
        }
        // R-T-1 / R-U-1: an SDK session is placed when it starts; R-T-2 / R-U-1 an IVR call
        // once answered; R-T-4 when abandoned.
        Origin::Sdk | Origin::Ivr
            if facts.origin == Origin::Sdk || facts.answered || facts.abandoned =>
        {
            let placement = append_or_create(continues(facts, current));
            let create = match facts.origin {
                Origin::Sdk => {
                    "R-T-1: an SDK session with no open conversation of the same channel and menu starts one"
                }
                _ if facts.abandoned && !facts.answered => {
                    "R-T-4: an abandoned call with no open conversation of the same channel and menu starts one"
                }
                _ => {
                    "R-T-2: an answered call with no open conversation of the same channel and menu starts one"
                }
            };
            let rule = open(
                &placement,
                "R-U-1: the customer's open conversation of the same channel and menu continues",
                create,
            );
            (placement, rule)
        }
        _ => (
            Placement::NotYet,
            "not yet: an IVR call is placed once answered or abandoned",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(origin: Origin) -> SessionFacts {
        SessionFacts {
            channel: Channel::Voice,
            origin,
            menu: Some("Billing".into()),
            answered: false,
            abandoned: false,
            voicemail: false,
        }
    }

    fn current(open: bool) -> CurrentConversation {
        CurrentConversation {
            id: "c-1".into(),
            open,
            channel: Channel::Voice,
            menu: Some("Billing".into()),
        }
    }

    fn append() -> Placement {
        Placement::Append {
            conversation_id: "c-1".into(),
        }
    }

    const CREATE: Placement = Placement::Create { voicemail: false };

    #[test]
    fn r_t_1_an_sdk_call_or_chat_creates_a_conversation() {
        assert_eq!(place_session(&facts(Origin::Sdk), None, None), CREATE);
        let chat = SessionFacts {
            channel: Channel::Chat,
            ..facts(Origin::Sdk)
        };
        assert_eq!(place_session(&chat, Some(&current(false)), None), CREATE);
    }

    #[test]
    fn r_t_2_an_ivr_call_creates_a_conversation_once_answered() {
        assert_eq!(
            place_session(&facts(Origin::Ivr), None, None),
            Placement::NotYet
        );
        let answered = SessionFacts {
            answered: true,
            ..facts(Origin::Ivr)
        };
        assert_eq!(place_session(&answered, None, None), CREATE);
    }

    #[test]
    fn r_t_3_an_outbound_call_creates_when_the_latest_is_not_open() {
        assert_eq!(place_session(&facts(Origin::Outbound), None, None), CREATE);
        assert_eq!(
            place_session(&facts(Origin::Outbound), Some(&current(false)), None),
            CREATE
        );
    }

    #[test]
    fn r_t_4_an_abandoned_call_gets_a_conversation() {
        let abandoned = SessionFacts {
            abandoned: true,
            ..facts(Origin::Ivr)
        };
        assert_eq!(place_session(&abandoned, None, None), CREATE);
    }

    #[test]
    fn r_t_5_a_voicemail_always_creates_even_with_an_open_conversation() {
        let voicemail = SessionFacts {
            voicemail: true,
            ..facts(Origin::Ivr)
        };
        assert_eq!(
            place_session(&voicemail, Some(&current(true)), None),
            Placement::Create { voicemail: true }
        );
    }

    #[test]
    fn r_u_1_same_customer_menu_and_channel_while_open_appends() {
        let answered = SessionFacts {
            answered: true,
            ..facts(Origin::Ivr)
        };
        assert_eq!(
            place_session(&answered, Some(&current(true)), None),
            append()
        );
        assert_eq!(
            place_session(&facts(Origin::Sdk), Some(&current(true)), None),
            append()
        );
    }

    #[test]
    fn r_u_1_another_menu_another_channel_or_a_closed_conversation_creates() {
        let answered = SessionFacts {
            answered: true,
            ..facts(Origin::Ivr)
        };
        let other_menu = SessionFacts {
            menu: Some("Sales".into()),
            ..answered.clone()
        };
        let chat = SessionFacts {
            channel: Channel::Chat,
            ..answered.clone()
        };
        for f in [&other_menu, &chat] {
            assert_eq!(place_session(f, Some(&current(true)), None), CREATE);
        }
        assert_eq!(
            place_session(&answered, Some(&current(false)), None),
            CREATE
        );
    }

    #[test]
    fn r_u_2_an_outbound_call_appends_to_the_open_latest_conversation_whatever_its_menu() {
        let outbound = SessionFacts {
            menu: None,
            ..facts(Origin::Outbound)
        };
        assert_eq!(
            place_session(&outbound, Some(&current(true)), None),
            append()
        );
    }

    #[test]
    fn r_u_6_a_callback_joins_the_call_it_returns_even_when_another_conversation_is_newer() {
        let callback = facts(Origin::Outbound);
        let original = CurrentConversation {
            id: "c-original".into(),
            ..current(true)
        };
        // The customer's newest conversation is another one (a chat started meanwhile).
        assert_eq!(
            place_session(&callback, Some(&current(true)), Some(&original)),
            Placement::Append {
                conversation_id: "c-original".into()
            }
        );
        // Closed since: the usual rule (the open latest conversation) applies.
        let closed = CurrentConversation {
            open: false,
            ..original
        };
        assert_eq!(
            place_session(&callback, Some(&current(true)), Some(&closed)),
            append()
        );
        // Only a callback follows the link.
        assert_eq!(
            place_session(&facts(Origin::Sdk), None, Some(&current(true))),
            Placement::Create { voicemail: false }
        );
    }

    #[test]
    fn r_u_5_and_r_u_6_a_callback_appends_to_the_open_conversation() {
        // Hang up and call back, or the callback after a call shorter than 10 s: both reach the
        // bridge as an outbound call while the first call's conversation is open.
        let callback = facts(Origin::Outbound);
        assert_eq!(
            place_session(&callback, Some(&current(true)), None),
            append()
        );
    }

    #[test]
    fn r_adm_2_every_placement_names_the_rule_that_chose_it() {
        let mut ivr = facts(Origin::Ivr);
        assert!(
            placed_by_rule(&ivr, Some(&current(true)), None)
                .1
                .starts_with("not yet")
        );
        ivr.answered = true;
        let (placement, rule) = placed_by_rule(&ivr, Some(&current(true)), None);
        assert_eq!(
            (placement, rule.split(':').next()),
            (append(), Some("R-U-1"))
        );
        let (_, rule) = placed_by_rule(&ivr, Some(&current(false)), None);
        assert!(rule.starts_with("R-T-2"), "{rule}");
        let mut abandoned = facts(Origin::Ivr);
        abandoned.abandoned = true;
        assert!(
            placed_by_rule(&abandoned, None, None)
                .1
                .starts_with("R-T-4")
        );
        assert!(
            placed_by_rule(&facts(Origin::Sdk), None, None)
                .1
                .starts_with("R-T-1")
        );
        let outbound = facts(Origin::Outbound);
        assert!(placed_by_rule(&outbound, None, None).1.starts_with("R-T-3"));
        assert!(
            placed_by_rule(&outbound, Some(&current(true)), None)
                .1
                .starts_with("R-U-2")
        );
        assert!(
            placed_by_rule(&outbound, None, Some(&current(true)))
                .1
                .starts_with("R-U-5")
        );
        let mut voicemail = facts(Origin::Ivr);
        voicemail.voicemail = true;
        assert!(
            placed_by_rule(&voicemail, Some(&current(true)), None)
                .1
                .starts_with("R-T-5")
        );
    }
}
