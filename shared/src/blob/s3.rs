use super::*;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream as SdkBody;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures::StreamExt;

/// S3's smallest part (except the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// Our default part size: 8 MiB parts keep two parts (16 MiB) in memory at most.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's largest part.
pub const MAX_PART_SIZE: usize = 5 * 1024 * 1024 * 1024;
/// S3's part count limit.
pub const MAX_PARTS: u32 = 10_000;

#[derive(Clone, Copy, Debug)]
pub struct S3BlobStoreOptions {
    /// Size of every multipart part but the last; also the threshold below which a body goes in
    /// one `PutObject`. Between [`MIN_PART_SIZE`] and [`MAX_PART_SIZE`].
    pub part_size: usize,
}

impl Default for S3BlobStoreOptions {
    fn default() -> Self {
        Self {
            part_size: DEFAULT_PART_SIZE,
        }
    }
}

/// The one S3 client builder. Path-style addressing when the endpoint is overridden (local
/// stand-ins such as moto answer on one host), virtual-hosted style on AWS.
pub fn s3_client(config: &aws_config::SdkConfig) -> Client {
    let overridden = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(overridden)
        .build();
    Client::from_conf(s3_config)
}

/// An S3 object's body as a [`ByteStream`] (shared with the external-storage reader).
pub(crate) fn body_stream(body: SdkBody) -> ByteStream {
    futures::stream::try_unfold(body, |mut body| async move {
        match body.try_next().await {
            Ok(Some(chunk)) => Ok(Some((chunk, body))),
            Ok(None) => Ok(None),
            Err(err) => Err(std::io::Error::other(err)),
        }
    })
    .boxed()
}

/// [`BlobStore`] on one S3 bucket.
#[derive(Clone, Debug)]
pub struct S3BlobStore {
    client: crate::aws::LazyClient<Client>,
    bucket: String,
    part_size: usize,
}

impl S3BlobStore {
    pub fn new(
        client: impl Into<crate::aws::LazyClient<Client>>,
        bucket: impl Into<String>,
        options: S3BlobStoreOptions,
    ) -> Result<Self, BlobError> {
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&options.part_size) {
            return Err(BlobError::InvalidOptions(format!(
                "part size {} is outside S3's {MIN_PART_SIZE}..={MAX_PART_SIZE} bytes",
                options.part_size
            )));
        }
        Ok(Self {
            client: client.into(),
            bucket: bucket.into(),
            part_size: options.part_size,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put_single(
        &self,
        key: &BlobKey,
        content_type: &str,
        body: Bytes,
    ) -> Result<UploadReport, BlobError> {
        let size = body.len() as u64;
        self.client
            .get()
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .content_length(size as i64)
            .body(SdkBody::from(body))
            .send()
            .await
            .map_err(|err| classify("PutObject", key, err))?;
        Ok(UploadReport { size, parts: 0 })
    }

    async fn upload_part(
        &self,
        key: &BlobKey,
        upload_id: &str,
        number: u32,
        body: Bytes,
    ) -> Result<CompletedPart, BlobError> {
        let answer = self
            .client
            .get()
            .upload_part()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .part_number(number as i32)
            .content_length(body.len() as i64)
            .body(SdkBody::from(body))
            .send()
            .await
            .map_err(|err| classify("UploadPart", key, err))?;
        Ok(CompletedPart::builder()
            .part_number(number as i32)
            .set_e_tag(answer.e_tag().map(str::to_owned))
            .set_checksum_crc32(answer.checksum_crc32().map(str::to_owned))
            .set_checksum_crc32_c(answer.checksum_crc32_c().map(str::to_owned))
            .set_checksum_crc64_nvme(answer.checksum_crc64_nvme().map(str::to_owned))
            .build())
    }

    /// Uploads `first` and every later part, the next part filling while the previous one
    /// uploads: at most two parts in memory.
    async fn upload_parts(
        &self,
        key: &BlobKey,
        upload_id: &str,
        first: Bytes,
        reader: &mut PartReader,
    ) -> Result<(Vec<CompletedPart>, u64), BlobError> {
        let mut completed = Vec::new();
        let mut size = first.len() as u64;
        let mut current = first;
        let mut number = 1u32;
        loop {
            let (uploaded, next) = futures::join!(
                self.upload_part(key, upload_id, number, current),
                reader.next_part(self.part_size)
            );
            completed.push(uploaded?);
            let next = next.map_err(|source| BlobError::Source {
                key: key.to_string(),
                bytes_read: reader.bytes_read(),
                source,
            })?;
            match next {
                None => return Ok((completed, size)),
                Some(part) => {
                    number += 1;
                    if number > MAX_PARTS {
                        return Err(BlobError::TooLarge {
                            key: key.to_string(),
                            limit: u64::from(MAX_PARTS) * self.part_size as u64,
                        });
                    }
                    size += part.len() as u64;
                    current = part;
                }
            }
        }
    }

    async fn abort(&self, key: &BlobKey, upload_id: &str) {
        if let Err(err) = self
            .client
            .get()
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .send()
            .await
        {
            // The bucket's lifecycle rule aborts incomplete uploads after a day; log and move on
            // with the error that caused the abort.
            tracing::warn!(key = %key, error = %DisplayErrorContext(&err), "abort of multipart upload failed");
        }
    }
}

/// An S3 error as a [`BlobError`]: a missing key is `NotFound`, throttling and server trouble
/// are retryable. Shared with the external-storage reader (`crate::storage`).
pub(crate) fn classify<E, R>(
    operation: &'static str,
    key: impl std::fmt::Display,
    err: SdkError<E, R>,
) -> BlobError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    const RETRYABLE: [&str; 5] = [
        "SlowDown",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeTooSkewed",
    ];
    let code = err.code().unwrap_or_default().to_owned();
    if matches!(code.as_str(), "NoSuchKey" | "NotFound") {
        return BlobError::NotFound {
            key: key.to_string(),
        };
    }
    let retryable = match &err {
        SdkError::ServiceError(_) => RETRYABLE.contains(&code.as_str()),
        SdkError::ConstructionFailure(_) => false,
        _ => true,
    };
    BlobError::Backend {
        operation,
        key: key.to_string(),
        message: format!("{}", DisplayErrorContext(&err)),
        retryable,
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn upload(
        &self,
        key: &BlobKey,
        content_type: &str,
        body: ByteStream,
    ) -> Result<UploadReport, BlobError> {
        let mut reader = PartReader::new(body);
        let first = reader
            .next_part(self.part_size)
            .await
            .map_err(|source| BlobError::Source {
                key: key.to_string(),
                bytes_read: reader.bytes_read(),
                source,
            })?
            .unwrap_or_default();
        if first.len() < self.part_size {
            return self.put_single(key, content_type, first).await;
        }

        let created = self
            .client
            .get()
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .send()
            .await
            .map_err(|err| classify("CreateMultipartUpload", key, err))?;
        let upload_id = created.upload_id().ok_or_else(|| BlobError::Backend {
            operation: "CreateMultipartUpload",
            key: key.to_string(),
            message: "answer carries no upload id".into(),
            retryable: true,
        })?;

        let outcome = match self.upload_parts(key, upload_id, first, &mut reader).await {
            Ok((parts, size)) => {
                let count = parts.len() as u32;
                self.client
                    .get()
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key.as_str())
                    .upload_id(upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map(|_| UploadReport { size, parts: count })
                    .map_err(|err| classify("CompleteMultipartUpload", key, err))
            }
            Err(err) => Err(err),
        };
        if outcome.is_err() {
            self.abort(key, upload_id).await;
        }
        outcome
    }

    async fn download(&self, key: &BlobKey) -> Result<BlobDownload, BlobError> {
        let answer = self
            .client
            .get()
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|err| classify("GetObject", key, err))?;
        let meta = BlobMeta {
            size: answer.content_length().map_or(0, |n| n.max(0) as u64),
            content_type: answer.content_type().map(str::to_owned),
        };
        Ok(BlobDownload {
            meta,
            body: body_stream(answer.body),
        })
    }

    async fn stat(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        match self
            .client
            .get()
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(head) => Ok(Some(BlobMeta {
                size: head.content_length().map_or(0, |n| n.max(0) as u64),
                content_type: head.content_type().map(str::to_owned),
            })),
            Err(err) => match classify("HeadObject", key, err) {
                BlobError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.client
            .get()
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|err| classify("DeleteObject", key, err))?;
        Ok(())
    }
}
