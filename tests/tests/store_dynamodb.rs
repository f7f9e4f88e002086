//! The state-store contract against DynamoDB Local (started by `infra/local/with-services`),
//! on the table created from `template.yaml`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

bridge_tests::state_store_contract!(bridge_tests::local::dynamo_store());
