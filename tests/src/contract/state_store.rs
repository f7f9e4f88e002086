//! The state-store contract (`bridge_shared::store`): documents, idempotency, leases.

use crate::unique;
use bridge_shared::UnixMillis;
use bridge_shared::store::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub type Store = Arc<dyn StateStore>;

const T0: UnixMillis = UnixMillis(1_800_000_000_000);
const SECOND: Duration = Duration::from_secs(1);
const RACERS: usize = 50;

fn at(offset_ms: i64) -> UnixMillis {
    UnixMillis(T0.0 + offset_ms)
}

fn doc_key() -> ItemKey {
    ItemKey::new(unique("DOC"), "LINK")
}

pub async fn documents_round_trip_and_delete(store: Store) {
    let key = doc_key();
    assert_eq!(store.get(&key, T0).await.unwrap(), None);
    let item = Item::new(
        key.clone(),
        json!({"conversation": "abc", "nested": {"n": 3, "list": [1, "x", null]}}),
    )
    .with_version(4);
    store.put(&item).await.unwrap();
    assert_eq!(store.get(&key, T0).await.unwrap(), Some(item));
    store.delete(&key).await.unwrap();
    assert_eq!(store.get(&key, T0).await.unwrap(), None);
    store.delete(&key).await.unwrap();
}

pub async fn expired_documents_read_as_absent_from_their_expiry(store: Store) {
    let key = doc_key();
    let item = Item::new(key.clone(), json!({"v": 1})).expiring_at(at(1_000));
    store.put(&item).await.unwrap();
    assert_eq!(store.get(&key, at(999)).await.unwrap(), Some(item));
    assert_eq!(store.get(&key, at(1_000)).await.unwrap(), None);
}

/// "Resolve conversation for session": many workers race, the first decides, the others
/// learn its decision from their failed write.
pub async fn put_if_absent_has_one_winner_and_the_others_see_it(store: Store) {
    let key = doc_key();
    let handles: Vec<_> = (0..RACERS)
        .map(|n| {
            let store = store.clone();
            let item = Item::new(key.clone(), json!({ "conversation": format!("c{n}") }));
            tokio::spawn(async move { store.put_if_absent(&item, T0).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    let mut seen = Vec::new();
    for handle in handles {
        match handle.await.unwrap() {
            PutOutcome::Written => winners += 1,
            PutOutcome::Kept(existing) => seen.push(existing.body),
        }
    }
    assert_eq!(winners, 1);
    let stored = store.get(&key, T0).await.unwrap().unwrap().body;
    assert_eq!(seen.len(), RACERS - 1);
    assert!(
        seen.iter().all(|body| *body == stored),
        "a loser saw another body than {stored}"
    );
}

pub async fn put_if_absent_replaces_an_expired_item(store: Store) {
    let key = doc_key();
    let old = Item::new(key.clone(), json!({"v": "old"})).expiring_at(at(500));
    assert_eq!(
        store.put_if_absent(&old, T0).await.unwrap(),
        PutOutcome::Written
    );
    let new = Item::new(key.clone(), json!({"v": "new"}));
    assert_eq!(
        store.put_if_absent(&new, at(499)).await.unwrap(),
        PutOutcome::Kept(old)
    );
    assert_eq!(
        store.put_if_absent(&new, at(500)).await.unwrap(),
        PutOutcome::Written
    );
    assert_eq!(store.get(&key, at(10_000)).await.unwrap(), Some(new));
}

/// Out-of-order events: only a strictly newer version replaces what is stored.
pub async fn put_if_newer_keeps_the_newest_version(store: Store) {
    let key = doc_key();
    let v = |n: u64| Item::new(key.clone(), json!({"status": format!("s{n}")})).with_version(n);
    assert_eq!(
        store.put_if_newer(&v(2)).await.unwrap(),
        PutOutcome::Written
    );
    assert_eq!(
        store.put_if_newer(&v(1)).await.unwrap(),
        PutOutcome::Kept(v(2))
    );
    assert_eq!(
        store.put_if_newer(&v(2)).await.unwrap(),
        PutOutcome::Kept(v(2))
    );
    assert_eq!(
        store.put_if_newer(&v(3)).await.unwrap(),
        PutOutcome::Written
    );
    assert_eq!(store.get(&key, T0).await.unwrap(), Some(v(3)));
}

fn claimed(claim: Claim) -> ClaimTicket {
    match claim {
        Claim::Claimed(ticket) => ticket,
        Claim::Duplicate(record) => panic!("expected a claim, got duplicate {record:?}"),
    }
}

fn duplicate(claim: Claim) -> IdempotencyRecord {
    match claim {
        Claim::Duplicate(record) => record,
        Claim::Claimed(ticket) => panic!("expected a duplicate, got claim {ticket:?}"),
    }
}

pub async fn idempotency_claim_complete_then_duplicates_see_the_result(store: Store) {
    let key = unique("evt");
    let ticket = claimed(
        store
            .claim(&key, T0, 10 * SECOND, 3600 * SECOND)
            .await
            .unwrap(),
    );
    let in_progress = duplicate(
        store
            .claim(&key, at(1), 10 * SECOND, 3600 * SECOND)
            .await
            .unwrap(),
    );
    assert_eq!(in_progress.status, IdempotencyStatus::InProgress);
    assert_eq!(in_progress.in_progress_until, Some(at(10_000)));
    assert_eq!(in_progress.result, None);

    let result = json!({"conversation": "c1", "notes": 2});
    store
        .complete(&ticket, &result, at(2_000), 3600 * SECOND)
        .await
        .unwrap();
    let done = duplicate(
        store
            .claim(&key, at(3_000), 10 * SECOND, 3600 * SECOND)
            .await
            .unwrap(),
    );
    assert_eq!(done.status, IdempotencyStatus::Completed);
    assert_eq!(done.result, Some(result));
    assert_eq!(done.expires_at, at(3_602_000));
    assert_eq!(done.in_progress_until, None);
}

pub async fn idempotency_concurrent_duplicates_learn_the_first_record(store: Store) {
    let key = unique("evt");
    let handles: Vec<_> = (0..RACERS)
        .map(|_| {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move {
                store
                    .claim(&key, T0, 30 * SECOND, 3600 * SECOND)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut claims = 0;
    for handle in handles {
        match handle.await.unwrap() {
            Claim::Claimed(_) => claims += 1,
            Claim::Duplicate(record) => {
                assert_eq!(record.key, key);
                assert_eq!(record.status, IdempotencyStatus::InProgress);
                assert_eq!(record.in_progress_until, Some(at(30_000)));
            }
        }
    }
    assert_eq!(claims, 1);
}

/// A run that outlives its in-progress expiry (the function timed out) is taken over; its
/// later completion is refused instead of overwriting the new run's record.
pub async fn idempotency_abandoned_claim_is_taken_over_after_its_expiry(store: Store) {
    let key = unique("evt");
    let first = claimed(store.claim(&key, T0, SECOND, 3600 * SECOND).await.unwrap());
    duplicate(
        store
            .claim(&key, at(1_000), SECOND, 3600 * SECOND)
            .await
            .unwrap(),
    );
    let second = claimed(
        store
            .claim(&key, at(1_001), SECOND, 3600 * SECOND)
            .await
            .unwrap(),
    );
    let late = store
        .complete(&first, &json!("late"), at(1_002), 3600 * SECOND)
        .await;
    assert!(
        matches!(late, Err(StoreError::ClaimLost { .. })),
        "{late:?}"
    );
    assert!(matches!(
        store.release(&first).await,
        Err(StoreError::ClaimLost { .. })
    ));
    store
        .complete(&second, &json!("on time"), at(1_003), 3600 * SECOND)
        .await
        .unwrap();
    let record = duplicate(
        store
            .claim(&key, at(1_004), SECOND, 3600 * SECOND)
            .await
            .unwrap(),
    );
    assert_eq!(record.result, Some(json!("on time")));
}

pub async fn idempotency_record_dedupes_until_it_expires(store: Store) {
    let key = unique("evt");
    let ticket = claimed(store.claim(&key, T0, SECOND, 10 * SECOND).await.unwrap());
    store
        .complete(&ticket, &json!(1), T0, 10 * SECOND)
        .await
        .unwrap();
    duplicate(
        store
            .claim(&key, at(10_000), SECOND, 10 * SECOND)
            .await
            .unwrap(),
    );
    claimed(
        store
            .claim(&key, at(10_001), SECOND, 10 * SECOND)
            .await
            .unwrap(),
    );
}

pub async fn idempotency_release_lets_a_retry_run(store: Store) {
    let key = unique("evt");
    let ticket = claimed(
        store
            .claim(&key, T0, 30 * SECOND, 3600 * SECOND)
            .await
            .unwrap(),
    );
    store.release(&ticket).await.unwrap();
    let retry = claimed(
        store
            .claim(&key, at(1), 30 * SECOND, 3600 * SECOND)
            .await
            .unwrap(),
    );
    assert_ne!(retry.token, ticket.token);
    assert!(matches!(
        store.release(&ticket).await,
        Err(StoreError::ClaimLost { .. })
    ));
    store
        .complete(&retry, &json!("ok"), at(2), 3600 * SECOND)
        .await
        .unwrap();
    // A completed record is not released by a ticket that no longer owns it.
    assert!(matches!(
        store.release(&ticket).await,
        Err(StoreError::ClaimLost { .. })
    ));
}

fn lease_key() -> ItemKey {
    ItemKey::agent_lease(&format!("{}@example.com", unique("agent")))
}

fn acquired(outcome: LeaseAcquisition) -> Lease {
    match outcome {
        LeaseAcquisition::Acquired(lease) => lease,
        LeaseAcquisition::Held(holder) => panic!("expected to acquire, held by {holder:?}"),
    }
}

fn held(outcome: LeaseAcquisition) -> Lease {
    match outcome {
        LeaseAcquisition::Held(holder) => holder,
        LeaseAcquisition::Acquired(lease) => panic!("expected held, acquired {lease:?}"),
    }
}

/// R-S-4: many tabs of one agent claim at once; exactly one wins, every round, and every loser
/// is told who holds the lease.
pub async fn lease_race_has_exactly_one_winner(store: Store) {
    let resource = lease_key();
    for round in 0..5i64 {
        // Each round starts after the previous lease expired.
        let now = at(round * 60_000);
        let handles: Vec<_> = (0..RACERS)
            .map(|n| {
                let store = store.clone();
                let resource = resource.clone();
                tokio::spawn(async move {
                    store
                        .acquire_lease(&resource, &format!("tab-{round}-{n}"), now, 30 * SECOND)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut holders = Vec::new();
        for handle in handles {
            match handle.await.unwrap() {
                LeaseAcquisition::Acquired(lease) => winners.push(lease),
                LeaseAcquisition::Held(holder) => holders.push(holder),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        let winner = &winners[0];
        assert_eq!(winner.fencing_token, round as u64 + 1);
        assert!(
            holders.iter().all(|h| h == winner),
            "round {round}: a loser saw another holder"
        );
    }
}

/// R-S-4: a lease not renewed within its duration can be taken over; the stale holder's token
/// then fails every guarded action.
pub async fn lease_expires_and_is_taken_over_with_a_higher_token(store: Store) {
    let resource = lease_key();
    let first = acquired(
        store
            .acquire_lease(&resource, "tab-a", T0, 30 * SECOND)
            .await
            .unwrap(),
    );
    assert_eq!(first.expires_at, at(30_000));
    let holder = held(
        store
            .acquire_lease(&resource, "tab-b", at(29_999), 30 * SECOND)
            .await
            .unwrap(),
    );
    assert_eq!(holder, first);
    let second = acquired(
        store
            .acquire_lease(&resource, "tab-b", at(30_000), 30 * SECOND)
            .await
            .unwrap(),
    );
    assert!(second.fencing_token > first.fencing_token);

    match store.renew_lease(&first, at(30_001), 30 * SECOND).await {
        Err(StoreError::LeaseLost {
            holder: Some(now_held),
            ..
        }) => assert_eq!(*now_held, second),
        other => panic!("stale renew answered {other:?}"),
    }
    assert!(!store.release_lease(&first).await.unwrap());
    assert_eq!(store.read_lease(&resource).await.unwrap(), Some(second));
}

pub async fn lease_renewal_extends_and_keeps_the_token(store: Store) {
    let resource = lease_key();
    let lease = acquired(
        store
            .acquire_lease(&resource, "tab-a", T0, 30 * SECOND)
            .await
            .unwrap(),
    );
    let renewed = store
        .renew_lease(&lease, at(20_000), 30 * SECOND)
        .await
        .unwrap();
    assert_eq!(renewed.fencing_token, lease.fencing_token);
    assert_eq!(renewed.expires_at, at(50_000));
    held(
        store
            .acquire_lease(&resource, "tab-b", at(49_999), 30 * SECOND)
            .await
            .unwrap(),
    );
    // Late, but nobody took it over: the holder may still renew.
    let late = store
        .renew_lease(&renewed, at(55_000), 30 * SECOND)
        .await
        .unwrap();
    assert_eq!(late.expires_at, at(85_000));
}

pub async fn lease_tokens_only_grow_across_release_and_reacquire(store: Store) {
    let resource = lease_key();
    let a = acquired(
        store
            .acquire_lease(&resource, "tab-a", T0, 30 * SECOND)
            .await
            .unwrap(),
    );
    assert!(store.release_lease(&a).await.unwrap());
    assert_eq!(store.read_lease(&resource).await.unwrap(), None);
    assert!(matches!(
        store.renew_lease(&a, at(1), 30 * SECOND).await,
        Err(StoreError::LeaseLost { holder: None, .. })
    ));
    let b = acquired(
        store
            .acquire_lease(&resource, "tab-b", at(2), 30 * SECOND)
            .await
            .unwrap(),
    );
    assert!(b.fencing_token > a.fencing_token);
    // The same tab claiming again (a page reload) gets a fresh token; the old one is stale.
    let b2 = acquired(
        store
            .acquire_lease(&resource, "tab-b", at(3), 30 * SECOND)
            .await
            .unwrap(),
    );
    assert!(b2.fencing_token > b.fencing_token);
    assert!(store.renew_lease(&b, at(4), 30 * SECOND).await.is_err());
    assert!(store.renew_lease(&b2, at(4), 30 * SECOND).await.is_ok());
}

/// R-S-4 + issue 13: state written under a lease needs the live lease and the version it was
/// read at, in one write; a write in between is detected, never overwritten.
pub async fn state_is_written_only_by_the_live_holder_and_never_over_another_write(store: Store) {
    let resource = lease_key();
    let lease = acquired(
        store
            .acquire_lease(&resource, "tab-a", T0, 30 * SECOND)
            .await
            .unwrap(),
    );
    let state = |s: &str| json!({"applied": s});
    assert_eq!(
        store
            .write_as_holder(&lease, at(1), 0, &state("Lunch"))
            .await
            .unwrap(),
        GuardedWrite::Written
    );
    // Written against version 0 again: someone (this very writer) wrote since.
    assert_eq!(
        store
            .write_as_holder(&lease, at(2), 0, &state("Available"))
            .await
            .unwrap(),
        GuardedWrite::Changed { stored_version: 1 }
    );
    assert_eq!(
        store
            .write_as_holder(&lease, at(3), 1, &state("Break"))
            .await
            .unwrap(),
        GuardedWrite::Written
    );

    let forged = Lease {
        fencing_token: lease.fencing_token + 7,
        ..lease.clone()
    };
    assert!(matches!(
        store
            .write_as_holder(&forged, at(4), 2, &state("x"))
            .await
            .unwrap(),
        GuardedWrite::NotHolder(Some(_))
    ));
    // Expired: nobody holds it any more, not even its owner.
    assert!(matches!(
        store
            .write_as_holder(&lease, at(30_000), 2, &state("x"))
            .await
            .unwrap(),
        GuardedWrite::NotHolder(_)
    ));
    let other = acquired(
        store
            .acquire_lease(&resource, "tab-b", at(30_001), 30 * SECOND)
            .await
            .unwrap(),
    );
    match store
        .write_as_holder(&lease, at(30_002), 2, &state("stale tab"))
        .await
        .unwrap()
    {
        GuardedWrite::NotHolder(Some(holder)) => assert_eq!(holder, other),
        answer => panic!("stale holder answered {answer:?}"),
    }
    // The state survived the takeover and the new holder continues from it.
    let read = store.read_state(&resource).await.unwrap().unwrap();
    assert_eq!((read.state, read.version), (json!({"applied": "Break"}), 2));
    let pending = json!({"applied": "Break", "pending": "Lunch"});
    assert_eq!(
        store
            .write_as_holder(&other, at(30_003), 2, &pending)
            .await
            .unwrap(),
        GuardedWrite::Written
    );
    let read = store.read_state(&resource).await.unwrap().unwrap();
    assert_eq!((read.state, read.version), (pending, 3));
}

pub async fn state_replacement_is_optimistic(store: Store) {
    let resource = lease_key();
    assert!(
        store
            .replace_state(&resource, 0, &json!({"pending": "Break"}))
            .await
            .unwrap()
    );
    assert!(
        !store
            .replace_state(&resource, 0, &json!({"pending": "lost race"}))
            .await
            .unwrap()
    );
    assert!(
        store
            .replace_state(&resource, 1, &json!({"applied": "Break"}))
            .await
            .unwrap()
    );
    let read = store.read_state(&resource).await.unwrap().unwrap();
    assert_eq!(
        (read.state, read.version, read.lease),
        (json!({"applied": "Break"}), 2, None)
    );
    // Acquiring keeps the state.
    acquired(
        store
            .acquire_lease(&resource, "tab-a", T0, 30 * SECOND)
            .await
            .unwrap(),
    );
    assert_eq!(
        store.read_state(&resource).await.unwrap().unwrap().version,
        2
    );
    assert_eq!(store.read_state(&lease_key()).await.unwrap(), None);
}

/// R-E-8: the pacing schedule shared by every concurrent function hands out consecutive spans,
/// one each, however many ask at once; idle, a span starts at once. Review S3: a span that
/// would start after the caller's bound is not reserved (the schedule is left as it was).
pub async fn a_shared_schedule_hands_out_each_span_once(store: Store) {
    let key = ItemKey::new("PACE", unique("ccai"));
    let span = std::time::Duration::from_millis(100);
    let far = at(1_000_000);
    assert_eq!(
        store.reserve_slots(&key, at(0), span, far).await.unwrap(),
        Some(at(0))
    );
    assert_eq!(
        store.reserve_slots(&key, at(0), span, far).await.unwrap(),
        Some(at(100))
    );
    // The next span starts at 200: a caller that cannot wait past 150 reserves nothing...
    assert_eq!(
        store
            .reserve_slots(&key, at(50), span, at(150))
            .await
            .unwrap(),
        None
    );
    // ...so the next caller still gets 200.
    assert_eq!(
        store.reserve_slots(&key, at(50), span, far).await.unwrap(),
        Some(at(200))
    );
    // Idle since: the next span starts when it is asked for, whatever the bound.
    assert_eq!(
        store
            .reserve_slots(&key, at(10_000), span, at(10_000))
            .await
            .unwrap(),
        Some(at(10_000))
    );
    // Twenty at once: twenty different, consecutive starts.
    let asks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move {
                store
                    .reserve_slots(&key, at(10_050), span, far)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut starts = Vec::new();
    for ask in asks {
        starts.push(ask.await.unwrap().unwrap().0);
    }
    starts.sort_unstable();
    let expected: Vec<i64> = (1..=20).map(|n| at(10_000 + 100 * n).0).collect();
    assert_eq!(starts, expected);
}

pub async fn a_partition_lists_its_live_items_in_order(store: Store) {
    let pk = unique("INDEX");
    for sk in ["c@example.com", "a@example.com", "b@example.com"] {
        store
            .put(&Item::new(
                ItemKey::new(pk.clone(), sk),
                json!({"email": sk}),
            ))
            .await
            .unwrap();
    }
    store
        .put(&Item::new(ItemKey::new(pk.clone(), "z-expired"), json!({})).expiring_at(at(-1)))
        .await
        .unwrap();
    store
        .put(&Item::new(ItemKey::new(unique("OTHER"), "a"), json!({})))
        .await
        .unwrap();
    let listed: Vec<String> = store
        .list_partition(&pk, T0)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key.sk)
        .collect();
    assert_eq!(listed, ["a@example.com", "b@example.com", "c@example.com"]);
    assert!(
        store
            .list_partition(&unique("EMPTY"), T0)
            .await
            .unwrap()
            .is_empty()
    );
}

/// R-ADM-3 (the admin's changes, newest first): the newest live items of a partition, read
/// from the end and no further than asked — past expired ones not yet deleted by TTL.
pub async fn a_partition_gives_its_newest_live_items_first(store: Store) {
    let pk = unique("LOG");
    for n in 0..7 {
        store
            .put(&Item::new(
                ItemKey::new(pk.clone(), format!("{n:03}")),
                json!({"n": n}),
            ))
            .await
            .unwrap();
    }
    // The newest two are expired: skipped, and the page goes on to three live ones.
    for n in 7..9 {
        store
            .put(
                &Item::new(ItemKey::new(pk.clone(), format!("{n:03}")), json!({}))
                    .expiring_at(at(-1)),
            )
            .await
            .unwrap();
    }
    let newest: Vec<String> = store
        .newest_of_partition(&pk, 3, T0)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key.sk)
        .collect();
    assert_eq!(newest, ["006", "005", "004"]);
    assert_eq!(
        store.newest_of_partition(&pk, 100, T0).await.unwrap().len(),
        7
    );
    assert!(
        store
            .newest_of_partition(&unique("EMPTY"), 3, T0)
            .await
            .unwrap()
            .is_empty()
    );
}

/// R-ADM-1 (the health page's pacing lag): a schedule's end is read as reserved; a schedule
/// never used has none.
pub async fn a_shared_schedule_says_where_it_ends(store: Store) {
    let key = ItemKey::new("PACE", unique("kustomer"));
    assert_eq!(store.schedule_end(&key).await.unwrap(), None);
    let span = std::time::Duration::from_millis(100);
    for _ in 0..3 {
        store
            .reserve_slots(&key, at(0), span, at(1_000_000))
            .await
            .unwrap();
    }
    assert_eq!(store.schedule_end(&key).await.unwrap(), Some(at(300)));
}

/// Expands to one test per case, each with a fresh store from `$make` (an async expression).
#[macro_export]
macro_rules! state_store_contract {
    ($make:expr) => {
        $crate::state_store_contract!(@cases $make;
            documents_round_trip_and_delete,
            expired_documents_read_as_absent_from_their_expiry,
            put_if_absent_has_one_winner_and_the_others_see_it,
            put_if_absent_replaces_an_expired_item,
            put_if_newer_keeps_the_newest_version,
            idempotency_claim_complete_then_duplicates_see_the_result,
            idempotency_concurrent_duplicates_learn_the_first_record,
            idempotency_abandoned_claim_is_taken_over_after_its_expiry,
            idempotency_record_dedupes_until_it_expires,
            idempotency_release_lets_a_retry_run,
            lease_race_has_exactly_one_winner,
            lease_expires_and_is_taken_over_with_a_higher_token,
            lease_renewal_extends_and_keeps_the_token,
            lease_tokens_only_grow_across_release_and_reacquire,
            state_is_written_only_by_the_live_holder_and_never_over_another_write,
            state_replacement_is_optimistic,
            a_partition_lists_its_live_items_in_order,
            a_shared_schedule_hands_out_each_span_once,
            a_partition_gives_its_newest_live_items_first,
            a_shared_schedule_says_where_it_ends,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let store: $crate::contract::state_store::Store = std::sync::Arc::new($make.await);
                $crate::contract::state_store::$case(store).await;
            }
        )*
    };
}
