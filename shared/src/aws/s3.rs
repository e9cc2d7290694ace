//! [`S3BlobStore`]: claim-check storage in S3. An object is complete once `PutObject`
//! returns (S3 is strongly consistent), so a message never carries a reference to half a body.
//! References are `s3://<bucket>/claim-check/<key>.json`; a reference to another bucket or
//! prefix is refused as corrupt (a message cannot make the worker read arbitrary objects).

use async_trait::async_trait;

use super::error::{code, sdk_error};
use crate::blob::{BlobStore, is_valid_key};
use crate::error::{Error, Result};

/// The key prefix of claim-checked envelopes (the bucket's lifecycle rule expires it).
pub const CLAIM_CHECK_PREFIX: &str = "claim-check/";

/// Claim-checked bodies in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3BlobStore {
    /// Blobs in `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    fn object_key<'a>(&self, reference: &'a str) -> Result<&'a str> {
        let bad = || {
            Error::Corrupt(format!(
                "not a claim-check reference of this bucket: {reference}"
            ))
        };
        let rest = reference
            .strip_prefix("s3://")
            .and_then(|r| r.strip_prefix(self.bucket.as_str()))
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(bad)?;
        let name = rest.strip_prefix(CLAIM_CHECK_PREFIX).ok_or_else(bad)?;
        if !is_valid_key(name) {
            return Err(bad());
        }
        Ok(rest)
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<String> {
        let reference = format!("s3://{}/{CLAIM_CHECK_PREFIX}{key}.json", self.bucket);
        let object = self.object_key(&reference)?.to_owned();
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(object)
            .content_type("application/json")
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| sdk_error("put claim-check", e))?;
        Ok(reference)
    }

    async fn get(&self, reference: &str) -> Result<Vec<u8>> {
        let object = self.object_key(reference)?;
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(object)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if code(&e) == Some("NoSuchKey") => {
                return Err(Error::Corrupt(format!(
                    "claim-check {reference} does not exist"
                )));
            }
            Err(e) => return Err(sdk_error("get claim-check", e)),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| Error::Unavailable(format!("read claim-check {reference}: {e}")))?;
        Ok(body.into_bytes().to_vec())
    }
}
