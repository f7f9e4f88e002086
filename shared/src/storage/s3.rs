//! External storage over the S3 API: Cloud Storage's XML API with HMAC keys, or an S3 bucket.

use super::{ExternalStorage, StoredFile, object_key};
use crate::blob::{BlobDownload, BlobError, BlobMeta, body_stream, classify_s3_error};
use crate::config::{ConfigError, Env, ParameterStore, Secret, optional_secrets};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::SdkError;

/// `EXTERNAL_STORAGE_*`, read once at cold start by the functions that read files.
#[derive(Clone, Debug)]
pub struct ExternalStorageSettings {
    pub bucket: String,
    /// The folder CCAI Platform writes into (may be empty).
    pub prefix: String,
    /// `https://storage.googleapis.com` for Cloud Storage; `None` = AWS S3.
    pub endpoint: Option<String>,
    /// `auto` for Cloud Storage.
    pub region: Option<String>,
    /// HMAC key of a service account with object read (Cloud Storage); `None` = the role's
    /// credentials (an S3 bucket).
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
}

impl ExternalStorageSettings {
    /// `None` when `EXTERNAL_STORAGE_BUCKET` is unset (no external storage configured). An
    /// access key without its secret (or the reverse) is refused, naming both.
    pub async fn from_env(
        env: &Env,
        parameters: Option<&dyn ParameterStore>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(bucket) = env.get("EXTERNAL_STORAGE_BUCKET").map(str::trim) else {
            return Ok(None);
        };
        if bucket.len() < 3 {
            return Err(ConfigError::Malformed {
                var: "EXTERNAL_STORAGE_BUCKET".into(),
                reason: "a bucket name has 3 characters or more".into(),
            });
        }
        let mut secrets = optional_secrets(
            env,
            parameters,
            &[
                "EXTERNAL_STORAGE_ACCESS_KEY_ID",
                "EXTERNAL_STORAGE_SECRET_ACCESS_KEY",
            ],
        )
        .await?;
        let access_key_id = secrets.remove("EXTERNAL_STORAGE_ACCESS_KEY_ID");
        let secret_access_key = secrets.remove("EXTERNAL_STORAGE_SECRET_ACCESS_KEY");
        if access_key_id.is_some() != secret_access_key.is_some() {
            return Err(ConfigError::Malformed {
                var: "EXTERNAL_STORAGE_ACCESS_KEY_ID".into(),
                reason: "set it together with EXTERNAL_STORAGE_SECRET_ACCESS_KEY, or neither"
                    .into(),
            });
        }
        let text = |var: &str| {
            env.get(var)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let endpoint = text("EXTERNAL_STORAGE_ENDPOINT");
        if let Some(endpoint) = &endpoint
            && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        {
            return Err(ConfigError::Malformed {
                var: "EXTERNAL_STORAGE_ENDPOINT".into(),
                reason: "expected a URL such as https://storage.googleapis.com".into(),
            });
        }
        Ok(Some(Self {
            bucket: bucket.to_owned(),
            prefix: text("EXTERNAL_STORAGE_PREFIX").unwrap_or_default(),
            endpoint,
            region: text("EXTERNAL_STORAGE_REGION"),
            access_key_id,
            secret_access_key,
        }))
    }
}

/// [`ExternalStorage`] over the S3 API.
#[derive(Clone, Debug)]
pub struct S3ExternalStorage {
    client: crate::aws::LazyClient<Client>,
    bucket: String,
    prefix: String,
    endpoint: String,
}

impl S3ExternalStorage {
    /// A client of its own (not the files bucket's): another endpoint, region and credentials;
    /// path-style whenever the endpoint is set; checksums only where an operation requires one,
    /// which Cloud Storage's XML API needs (it refuses the SDK's default checksum headers).
    pub fn new(base: &aws_config::SdkConfig, settings: &ExternalStorageSettings) -> Self {
        let client = {
            let (base, settings) = (base.clone(), settings.clone());
            crate::aws::LazyClient::new(move || Self::client(&base, &settings))
        };
        Self {
            client,
            bucket: settings.bucket.clone(),
            prefix: settings.prefix.clone(),
            endpoint: settings.endpoint.clone().unwrap_or_else(|| "AWS S3".into()),
        }
    }

    fn client(base: &aws_config::SdkConfig, settings: &ExternalStorageSettings) -> Client {
        let mut config = aws_sdk_s3::config::Builder::from(base)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint).force_path_style(true);
        }
        if let Some(region) = &settings.region {
            config = config.region(aws_sdk_s3::config::Region::new(region.clone()));
        }
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            config = config.credentials_provider(aws_sdk_s3::config::Credentials::new(
                id.expose(),
                secret.expose(),
                None,
                None,
                "external-storage-hmac",
            ));
        }
        Client::from_conf(config.build())
    }
}

#[async_trait]
impl ExternalStorage for S3ExternalStorage {
    async fn stat(&self, name: &str) -> Result<Option<StoredFile>, BlobError> {
        let key = object_key(&self.prefix, name);
        match self
            .client
            .get()
            .head_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(StoredFile {
                meta: BlobMeta {
                    size: head.content_length().map_or(0, |n| n.max(0) as u64),
                    content_type: head.content_type().map(str::to_owned),
                },
                // Cloud Storage's XML API answers `x-goog-generation`, which the SDK does not
                // model; the ETag changes with every rewrite too.
                generation: head.e_tag().map(|e| e.trim_matches('"').to_owned()),
                modified_ms: head.last_modified().and_then(|t| t.to_millis().ok()),
            })),
            // HEAD has no body, so a missing object is a bare 404.
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => Ok(None),
            Err(err) => match classify_s3_error("HeadObject", &key, err) {
                BlobError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn open(&self, name: &str) -> Result<BlobDownload, BlobError> {
        let key = object_key(&self.prefix, name);
        let answer = self
            .client
            .get()
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|err| classify_s3_error("GetObject", &key, err))?;
        let meta = BlobMeta {
            size: answer.content_length().map_or(0, |n| n.max(0) as u64),
            content_type: answer.content_type().map(str::to_owned),
        };
        Ok(BlobDownload {
            meta,
            body: body_stream(answer.body),
        })
    }

    async fn list(&self, start: &str) -> Result<Vec<String>, BlobError> {
        let prefix = object_key(&self.prefix, start);
        let base = object_key(&self.prefix, "");
        let mut names = Vec::new();
        let mut pages = self
            .client
            .get()
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| classify_s3_error("ListObjectsV2", &prefix, err))?;
            for object in page.contents() {
                if let Some(key) = object.key() {
                    let name = key
                        .strip_prefix(&base)
                        .map(|n| n.trim_start_matches('/'))
                        .unwrap_or(key);
                    names.push(name.to_owned());
                }
            }
        }
        Ok(names)
    }

    fn describe(&self) -> String {
        format!("bucket {} at {}", self.bucket, self.endpoint)
    }
}
