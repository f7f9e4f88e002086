//! The file queues' adapter (`bridge_shared::queue::sqs`) against a real SQS API (the moto
//! stand-in): the inbox worker's hand-off reaches the queue its trigger names, and a send SQS
//! refuses is reported for every message it carried.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::queue::handoff::hand_off;
use bridge_shared::queue::sqs::SqsQueues;
use bridge_shared::queue::{FileQueue, QueuedWork, WorkQueues};
use bridge_shared::store::{Item, ItemKey};
use bridge_shared::stream::{StreamRecord, inbox_type};
use bridge_tests::local::sqs_client;
use bridge_tests::unique;
use serde_json::json;

async fn queue(client: &aws_sdk_sqs::Client, name: &str) -> String {
    client
        .create_queue()
        .queue_name(unique(name))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned()
}

async fn bodies(client: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let answer = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if answer.messages().is_empty() {
            return bodies;
        }
        bodies.extend(
            answer
                .messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_owned)),
        );
    }
}

#[tokio::test]
async fn issue_27_a_stream_batch_of_file_work_reaches_each_kinds_queue_through_sqs() {
    let client = sqs_client().await;
    let recordings = queue(&client, "recordings").await;
    let transcripts = queue(&client, "transcripts").await;
    let queues = SqsQueues::new(client.clone(), recordings.clone(), transcripts.clone());

    // Twelve call ends (two SendMessageBatch calls of at most ten) and a chat end.
    let mut items: Vec<Item> = (0..12)
        .map(|i| {
            Item::new(
                ItemKey::new(format!("EVENT#c{i}"), "INBOX"),
                json!({"id": format!("c{i}"), "type": "call.ended", "source": "ese",
                       "occurred_at": "2026-12-07T00:00:00Z", "session": {"kind": "call", "id": i}}),
            )
        })
        .collect();
    items.push(Item::new(
        ItemKey::new("EVENT#h1", "INBOX"),
        json!({"id": "h1", "type": "chat.ended", "source": "ese",
               "occurred_at": "2026-12-07T00:00:00Z", "session": {"kind": "chat", "id": 5}}),
    ));
    let batch = bridge_tests::stream_support::inserts(&items, 1);
    let outcome = hand_off(&queues, &batch).await;
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(outcome.queued, 13);

    let calls = bodies(&client, &recordings).await;
    assert_eq!(calls.len(), 12);
    for body in &calls {
        let record: StreamRecord = serde_json::from_str(body).unwrap();
        assert_eq!(inbox_type(&record).as_deref(), Some("call.ended"));
    }
    let chats = bodies(&client, &transcripts).await;
    assert_eq!(chats.len(), 1);
}

#[tokio::test]
async fn issue_27_a_send_sqs_refuses_names_every_message() {
    let client = sqs_client().await;
    let recordings = queue(&client, "recordings").await;
    let queues = SqsQueues::new(
        client,
        recordings,
        "http://127.0.0.1:1/000000000000/no-such-queue".into(),
    );
    let work = [
        QueuedWork {
            id: "1".into(),
            body: "a".into(),
        },
        QueuedWork {
            id: "2".into(),
            body: "b".into(),
        },
    ];
    assert!(queues.send(FileQueue::Recordings, &work).await.is_empty());
    // Two entries with one id: SQS refuses the whole batch (BatchEntryIdsNotDistinct).
    let twice = [work[0].clone(), work[0].clone()];
    let refused = queues.send(FileQueue::Recordings, &twice).await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    let refused = queues.send(FileQueue::Transcripts, &work).await;
    let ids: Vec<&str> = refused.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["1", "2"]);
}
