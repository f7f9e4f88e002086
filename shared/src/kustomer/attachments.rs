//! The three-step attachment flow: create → presigned multipart POST (fields first, file last,
//! streamed with its known length) → reference in a note or message.

use super::client::{Call, KustomerClient, error_message};
use super::error::KustomerError;
use super::model::{Attachment, UploadTarget};
use super::requests::AttachmentRef;
use crate::blob::ByteStream;
use futures::StreamExt;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// File types Kustomer refuses as attachments (executables).
const BLOCKED_EXTENSIONS: [&str; 9] = [
    "exe", "bat", "bin", "com", "msi", "ps1", "vbs", "cmd", "scr",
];

#[derive(Deserialize)]
struct CreatedAttachment {
    data: Attachment,
    #[serde(default)]
    meta: UploadMeta,
}

#[derive(Default, Deserialize)]
struct UploadMeta {
    upload: Option<UploadTarget>,
}

/// A file to attach: its bytes arrive as a stream whose length is known in advance (the
/// presigned policy enforces it).
pub struct AttachmentFile {
    pub name: String,
    pub content_type: String,
    pub content_length: u64,
    pub body: ByteStream,
}

fn check_name(name: &str) -> Result<(), KustomerError> {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    match extension {
        Some(ext) if BLOCKED_EXTENSIONS.contains(&ext.as_str()) => Err(KustomerError::Invalid(
            format!("Kustomer refuses .{ext} attachments"),
        )),
        _ if name.trim().is_empty() => {
            Err(KustomerError::Invalid("attachment name is empty".into()))
        }
        _ => Ok(()),
    }
}

/// Time allowed for an upload: a minute, plus a second per MiB (slow links still finish; a
/// hung upload does not hold the function forever).
fn upload_timeout(length: u64) -> Duration {
    Duration::from_secs(60 + length / (1024 * 1024))
}

impl KustomerClient {
    /// Creates the attachment and uploads the file; the answer is what a note or message puts
    /// in its `attachments`. The stream is read once: when the upload fails the caller retries
    /// the whole flow with a fresh stream (the unreferenced attachment record is harmless).
    pub async fn upload_attachment(
        &self,
        file: AttachmentFile,
    ) -> Result<AttachmentRef, KustomerError> {
        check_name(&file.name)?;
        let call = Call::new(
            "create attachment",
            Method::POST,
            "/v1/attachments",
            Some(json!({
                "name": file.name,
                "contentType": file.content_type,
                "contentLength": file.content_length,
            })),
        );
        // An attachment record nobody references is harmless: safe to repeat.
        let answer = self.execute(&call, true).await?;
        let created: CreatedAttachment = Self::decode(call.operation, &answer)?;
        let target = created.meta.upload.ok_or_else(|| KustomerError::Decode {
            operation: call.operation.into(),
            message: "no meta.upload in the answer".into(),
        })?;
        let reference = AttachmentRef {
            id: created.data.id,
            name: file.name.clone(),
            content_type: file.content_type.clone(),
            content_length: file.content_length,
        };
        self.post_upload(&target, file).await?;
        Ok(reference)
    }

    async fn post_upload(
        &self,
        target: &UploadTarget,
        file: AttachmentFile,
    ) -> Result<(), KustomerError> {
        let operation = "upload attachment";
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in &target.fields {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            form = form.text(name.clone(), text);
        }
        // Remember why the source stopped, so that a broken source is not reported as a
        // network failure.
        let source_error: Arc<Mutex<Option<String>>> = Arc::default();
        let seen = source_error.clone();
        let body = file.body.map(move |chunk| {
            if let Err(err) = &chunk
                && let Ok(mut slot) = seen.lock()
            {
                *slot = Some(err.to_string());
            }
            chunk
        });
        let part = reqwest::multipart::Part::stream_with_length(
            reqwest::Body::wrap_stream(body),
            file.content_length,
        )
        .file_name(file.name.clone())
        .mime_str(&file.content_type)
        .map_err(|err| KustomerError::Invalid(format!("content type: {err}")))?;
        // S3 reads the fields first and ignores everything after the file.
        form = form.part("file", part);

        let response = self
            .http
            .request(Method::POST, &target.url)
            .multipart(form)
            .timeout(upload_timeout(file.content_length))
            .send()
            .await;
        let failed_source = || source_error.lock().ok().and_then(|slot| slot.clone());
        let noted = |status: Option<u16>| {
            crate::audit::note(
                "kustomer-upload",
                operation,
                "POST",
                &target.url,
                status,
                None,
            );
        };
        let response = match response {
            Ok(response) => {
                noted(Some(response.status().as_u16()));
                response
            }
            Err(err) => {
                noted(None);
                return Err(match failed_source() {
                    Some(message) => KustomerError::Source { message },
                    None => KustomerError::Transport {
                        operation: operation.into(),
                        message: crate::http::describe(&err),
                    },
                });
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.bytes().await.unwrap_or_default();
        let message = error_message(&body);
        Err(if status.is_server_error() {
            KustomerError::Server {
                operation: operation.into(),
                status: status.as_u16(),
                message,
            }
        } else {
            KustomerError::Client {
                operation: operation.into(),
                status: status.as_u16(),
                message,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_are_refused_before_any_request() {
        assert!(check_name("setup.EXE").is_err());
        assert!(check_name("script.ps1").is_err());
        assert!(check_name("call-987.mp3").is_ok());
        assert!(check_name("transcript.txt").is_ok());
        assert!(check_name("  ").is_err());
    }

    #[test]
    fn uploads_get_time_in_proportion_to_their_size() {
        assert_eq!(upload_timeout(0), Duration::from_secs(60));
        assert_eq!(upload_timeout(200 * 1024 * 1024), Duration::from_secs(260));
    }
}
