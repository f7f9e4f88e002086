//! The file queues' adapter (`bridge_shared::queue::sqs`) against a real SQS API (the moto
//! stand-in): the inbox worker's hand-off reaches the queue its trigger names, and a send SQS
//! refuses is reported for every message it carried.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::events::SessionTrigger;
use bridge_shared::queue::handoff::hand_off;
use bridge_shared::queue::sqs::SqsQueues;
use bridge_shared::queue::{FileQueue, QueuedWork, WorkQueues};
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
async fn issue_27_file_work_reaches_each_kinds_queue_through_sqs() {
    let client = sqs_client().await;
    let recordings = queue(&client, "recordings").await;
    let transcripts = queue(&client, "transcripts").await;
    let queues = SqsQueues::new(client.clone(), recordings.clone(), transcripts.clone());
    let trigger = |i: u64, kind: &str, hint: &str| -> SessionTrigger {
        serde_json::from_value(json!({"id": format!("e{i}"), "type": hint, "source": "ese",
            "occurred_at": "2026-12-07T00:00:00Z", "session": {"kind": kind, "id": i}}))
        .unwrap()
    };
    for i in 0..3 {
        assert!(
            hand_off(&queues, &trigger(i, "call", "call.ended"))
                .await
                .unwrap()
        );
    }
    assert!(
        hand_off(&queues, &trigger(9, "chat", "chat.ended"))
            .await
            .unwrap()
    );
    assert!(
        !hand_off(&queues, &trigger(10, "call", "call.created"))
            .await
            .unwrap()
    );

    let calls = bodies(&client, &recordings).await;
    assert_eq!(calls.len(), 3);
    for body in &calls {
        let sent: SessionTrigger = serde_json::from_str(body).unwrap();
        assert_eq!(sent.hint, "call.ended");
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
