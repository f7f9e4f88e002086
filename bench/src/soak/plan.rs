//! The soak's generator: a seeded list of sessions of every kind over a few agents and a
//! population of callers with repeat callers, the same list for the run without faults (the
//! oracle) and the run with them.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// One session (or pair) the CCAI sandbox plays.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// An IVR call answered by an agent, with a recording and a wrap-up.
    IvrAnswered { agent: usize, caller: usize },
    /// The caller hangs up in the queue.
    Abandoned { caller: usize },
    /// A voicemail, then read, called back, closed, or left alone.
    Voicemail {
        caller: usize,
        action: Option<&'static str>,
    },
    /// Answered by one agent, transferred to another.
    Transfer {
        from: usize,
        to: usize,
        caller: usize,
    },
    /// An agent dials a customer (appended to the customer's open conversation, or a new one).
    Outbound { agent: usize, caller: usize },
    /// A call under 10 s and the agent's callback (R-U-6): two sessions.
    CallAndCallback { agent: usize, caller: usize },
    /// A mobile-SDK call from an identified app user.
    Sdk { agent: usize, user: usize },
    /// A web chat with a transcript.
    Chat {
        agent: usize,
        user: usize,
        lines: usize,
    },
    /// A call whose caller id is withheld.
    UnknownCaller { agent: usize },
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::IvrAnswered { .. } => "IVR answered",
            Kind::Abandoned { .. } => "abandoned",
            Kind::Voicemail { .. } => "voicemail",
            Kind::Transfer { .. } => "transfer",
            Kind::Outbound { .. } => "outbound",
            Kind::CallAndCallback { .. } => "call and callback",
            Kind::Sdk { .. } => "SDK call",
            Kind::Chat { .. } => "chat",
            Kind::UnknownCaller { .. } => "unknown caller",
        }
    }

    /// Whether an agent took the session (so a recording or transcript is exported).
    pub fn answered(&self) -> bool {
        !matches!(self, Kind::Abandoned { .. })
    }
}

/// What happens to one session.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub kind: Kind,
    /// The customer rates it afterwards (a rating 1–5, maybe a comment).
    pub csat: Option<(u8, Option<String>)>,
    /// A SmartAction during it: a photo received (true) or failed (false).
    pub smart_action: Option<bool>,
    /// Its recording or transcript never lands in the tenant's bucket (both runs).
    pub file_never: bool,
}

/// The whole run's sessions, and the moments its admin acts.
#[derive(Clone, Debug)]
pub struct Plan {
    pub seed: u64,
    pub agents: usize,
    /// Callers' numbers (E.164), repeat callers among them.
    pub phones: Vec<String>,
    /// App users' identifiers (SDK calls, chats).
    pub users: Vec<String>,
    pub steps: Vec<Step>,
    /// The custom fields are created in Kustomer before this step (mid-run, R-CF-2).
    pub fields_created_before: usize,
}

/// Steps between two sessions of one customer: four waves, beyond the reach of the faults
/// that delay a session (an event held back two waves; a retry due after the quick window). A
/// customer's sessions processed out of order are placed by the bridge's own order (the
/// conversation it last placed one in, R-U-1), which the oracle cannot share; the call and its
/// callback (R-U-6) are the one pair played back to back, and the bridge orders those itself.
pub const CUSTOMER_GAP: usize = 80;

/// A customer for `step`: most often one of the first fifth (repeat callers), never one whose
/// last session is less than `CUSTOMER_GAP` steps back; else the one idle the longest.
fn pick(rng: &mut StdRng, seen: &mut [Option<usize>], step: usize) -> usize {
    let hot = seen.len().div_ceil(5);
    for _ in 0..8 {
        let candidate = if rng.random_bool(0.6) {
            rng.random_range(0..hot)
        } else {
            rng.random_range(0..seen.len())
        };
        if seen[candidate].is_none_or(|last| step - last >= CUSTOMER_GAP) {
            seen[candidate] = Some(step);
            return candidate;
        }
    }
    let idlest = (0..seen.len())
        .min_by_key(|c| seen[*c].map_or(0, |last| last + 1))
        .unwrap_or(0);
    seen[idlest] = Some(step);
    idlest
}

const COMMENTS: [&str; 4] = [
    "Quick and kind",
    "Took too long",
    "Solved my problem",
    "Call me at +1 555 010 9999 next time",
];

impl Plan {
    /// `sessions` steps (a call-and-callback counts as one) over `agents` agents.
    pub fn generate(seed: u64, sessions: usize, agents: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let agents = agents.max(2);
        // A customer population a third the size of the sessions (repeat callers), large
        // enough that a customer's sessions are `CUSTOMER_GAP` steps apart.
        let customers = (sessions / 3).max(2 * CUSTOMER_GAP);
        let phones: Vec<String> = (0..customers)
            .map(|n| {
                format!(
                    "+1555{:07}",
                    (seed % 90 + 10) * 100_000 + n as u64 % 100_000
                )
            })
            .collect();
        let users: Vec<String> = (0..customers)
            .map(|n| format!("app-user-{seed}-{n}"))
            .collect();
        let mut steps = Vec::with_capacity(sessions);
        let mut callers_seen: Vec<Option<usize>> = vec![None; phones.len()];
        let mut users_seen: Vec<Option<usize>> = vec![None; users.len()];
        for step in 0..sessions {
            let agent = rng.random_range(0..agents);
            let roll = rng.random_range(0..100u32);
            let mut caller = || pick(&mut rng, &mut callers_seen, step);
            let kind = match roll {
                0..=24 => Kind::IvrAnswered {
                    agent,
                    caller: caller(),
                },
                25..=31 => Kind::Abandoned { caller: caller() },
                32..=41 => {
                    let caller = caller();
                    Kind::Voicemail {
                        caller,
                        action: [None, Some("read"), Some("called_back"), Some("closed")]
                            [rng.random_range(0..4)],
                    }
                }
                42..=48 => {
                    let caller = caller();
                    Kind::Transfer {
                        from: agent,
                        to: (agent + 1 + rng.random_range(0..agents - 1)) % agents,
                        caller,
                    }
                }
                49..=55 => Kind::Outbound {
                    agent,
                    caller: caller(),
                },
                56..=60 => Kind::CallAndCallback {
                    agent,
                    caller: caller(),
                },
                61..=68 => Kind::Sdk {
                    agent,
                    user: pick(&mut rng, &mut users_seen, step),
                },
                69..=94 => {
                    let user = pick(&mut rng, &mut users_seen, step);
                    Kind::Chat {
                        agent,
                        user,
                        lines: rng.random_range(1..6),
                    }
                }
                _ => Kind::UnknownCaller { agent },
            };
            let csat = (kind.answered() && rng.random_bool(0.15)).then(|| {
                let comment = rng
                    .random_bool(0.5)
                    .then(|| COMMENTS[rng.random_range(0..COMMENTS.len())].to_owned());
                (rng.random_range(1..6u32) as u8, comment)
            });
            let smart_action =
                (kind.answered() && rng.random_bool(0.06)).then(|| rng.random_bool(0.7));
            let file_never = kind.answered() && rng.random_bool(0.01);
            steps.push(Step {
                kind,
                csat,
                smart_action,
                file_never,
            });
        }
        Self {
            seed,
            agents,
            phones,
            users,
            steps,
            fields_created_before: sessions / 2,
        }
    }

    pub fn agent_email(&self, agent: usize) -> String {
        format!("agent{agent}@soak.example.com")
    }

    pub fn agent_name(agent: usize) -> String {
        format!("Agent{agent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_p_1_the_same_seed_makes_the_same_plan_and_another_seed_another() {
        let a = Plan::generate(7, 200, 4);
        let b = Plan::generate(7, 200, 4);
        let c = Plan::generate(8, 200, 4);
        assert_eq!(a.steps, b.steps);
        assert_eq!(a.phones, b.phones);
        assert_ne!(a.steps, c.steps);
        // Every kind occurs in a plan of this size.
        let kinds: std::collections::BTreeSet<&str> =
            a.steps.iter().map(|s| s.kind.name()).collect();
        assert_eq!(kinds.len(), 9, "{kinds:?}");
        // A customer's sessions are CUSTOMER_GAP steps apart; some customers call again.
        let mut last: std::collections::HashMap<String, usize> = Default::default();
        let mut repeats = 0;
        for (step, s) in a.steps.iter().enumerate() {
            let who = match &s.kind {
                Kind::Sdk { user, .. } | Kind::Chat { user, .. } => format!("u{user}"),
                Kind::UnknownCaller { .. } => continue,
                Kind::IvrAnswered { caller, .. }
                | Kind::Abandoned { caller }
                | Kind::Voicemail { caller, .. }
                | Kind::Transfer { caller, .. }
                | Kind::Outbound { caller, .. }
                | Kind::CallAndCallback { caller, .. } => format!("c{caller}"),
            };
            if let Some(before) = last.insert(who, step) {
                assert!(step - before >= CUSTOMER_GAP, "step {step} after {before}");
                repeats += 1;
            }
        }
        assert!(repeats > 0);
        // Numbers are distinct and E.164.
        let distinct: std::collections::BTreeSet<&String> = a.phones.iter().collect();
        assert_eq!(distinct.len(), a.phones.len());
        assert!(
            a.phones
                .iter()
                .all(|p| p.starts_with("+1555") && p.len() == 12),
            "{:?}",
            &a.phones[..3]
        );
    }
}
