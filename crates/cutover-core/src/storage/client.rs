//! A thin client over `azure_storage_blob` for the operations the uploader needs, with errors classified
//! for retrying and worded for the operator. Retries are done by the caller (`retry::with_retries`), so
//! the SDK's own retry policy is off.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{
    ClientOptions, RequestContent, RetryOptions, Transport, Url, new_http_client,
};
use azure_storage_blob::models::{
    BlobContainerClientListBlobsOptions, BlockBlobClientCommitBlockListOptions,
    BlockBlobClientStageBlockOptions, BlockListType, BlockLookupList,
};
use azure_storage_blob::{
    BlobClient, BlobClientOptions, BlobContainerClient, BlobContainerClientOptions,
    BlockBlobClient, BlockBlobClientOptions,
};
use bytes::Bytes;
use futures::TryStreamExt;

use super::auth::StorageAuth;
use super::container::ContainerUrl;
use super::error::{NetCause, StorageError, from_status, network_cause, parse_retry_after};

/// Properties of a committed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobProps {
    pub size: u64,
    pub content_md5: Option<Vec<u8>>,
    /// The whole-file CRC64 cutover stored in the blob's metadata (base64, as Azure encodes CRC64).
    pub crc64: Option<String>,
}

/// Metadata key under which cutover stores the whole file's CRC64.
pub const CRC64_METADATA: &str = "cutover_crc64";

/// Azure Storage's CRC64 (CRC-64/NVME) of `data`.
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, data)
}

/// A running CRC64 (CRC-64/NVME) over data given in pieces. `crc_fast` picks the widest SIMD the CPU
/// has at run time (AVX-512 VPCLMULQDQ where available: ~4x `crc64fast_nvme`'s 128-bit PCLMULQDQ on
/// data in cache).
pub struct Crc64(crc_fast::Digest);

impl Crc64 {
    pub fn new() -> Self {
        Crc64(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme))
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn sum64(&self) -> u64 {
        self.0.finalize()
    }
}

impl Default for Crc64 {
    fn default() -> Self {
        Self::new()
    }
}

/// CRC-64/NVME's polynomial, reflected.
const CRC64_POLY_REFLECTED: u64 = 0x9A6C_9329_AC4B_C9B5;

fn gf2_times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn gf2_square(square: &mut [u64; 64], mat: &[u64; 64]) {
    for n in 0..64 {
        square[n] = gf2_times(mat, mat[n]);
    }
}

/// The CRC64 of `A` followed by `B` from the CRC64s of both and the length of `B` (zlib's
/// crc32_combine, for 64 bits): the whole file's CRC from its blocks' CRCs, without a second pass.
pub fn crc64_combine(mut crc1: u64, crc2: u64, mut len2: u64) -> u64 {
    if len2 == 0 {
        return crc1;
    }
    let mut even = [0u64; 64];
    let mut odd = [0u64; 64];
    // The operator for one zero bit, then squared to 2 and 4 bits.
    odd[0] = CRC64_POLY_REFLECTED;
    let mut row = 1u64;
    for o in odd.iter_mut().skip(1) {
        *o = row;
        row <<= 1;
    }
    gf2_square(&mut even, &odd);
    gf2_square(&mut odd, &even);
    loop {
        gf2_square(&mut even, &odd);
        if len2 & 1 != 0 {
            crc1 = gf2_times(&even, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
        gf2_square(&mut odd, &even);
        if len2 & 1 != 0 {
            crc1 = gf2_times(&odd, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
    }
    crc1 ^ crc2
}

/// `a` after `b` (both GF(2) 64x64 matrices, column `i` the image of bit `i`).
fn gf2_compose(a: &[u64; 64], b: &[u64; 64]) -> [u64; 64] {
    std::array::from_fn(|n| gf2_times(a, b[n]))
}

/// The linear operator that appends `len` bytes' worth of CRC shift: with it, combining a running CRC
/// with the CRC of a following block of exactly `len` bytes costs one 64x64 GF(2) product. Built by
/// squaring once (log2(len) squarings), not one `crc64_combine` per column.
pub fn crc64_shift_operator(len: u64) -> [u64; 64] {
    // The operator for one zero byte: eight times the operator for one zero bit.
    let mut bit = [0u64; 64];
    bit[0] = CRC64_POLY_REFLECTED;
    for (i, b) in bit.iter_mut().enumerate().skip(1) {
        *b = 1u64 << (i - 1);
    }
    let mut power = bit;
    for _ in 0..3 {
        power = gf2_compose(&power, &power);
    }
    let mut op: [u64; 64] = std::array::from_fn(|i| 1u64 << i);
    let mut n = len;
    while n != 0 {
        if n & 1 != 0 {
            op = gf2_compose(&power, &op);
        }
        n >>= 1;
        if n != 0 {
            power = gf2_compose(&power, &power);
        }
    }
    op
}

/// `crc64_combine(crc1, crc2, len)` for the `len` the operator was built for.
pub fn crc64_combine_with(op: &[u64; 64], crc1: u64, crc2: u64) -> u64 {
    gf2_times(op, crc1) ^ crc2
}

/// A CRC64 as Azure encodes it in `x-ms-content-crc64`: base64 of the 8 little-endian bytes.
pub fn crc64_base64(crc: u64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(crc.to_le_bytes())
}

/// Blocks of a blob: committed and uncommitted, as (id, size).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocks {
    pub committed: Vec<(Vec<u8>, u64)>,
    pub uncommitted: Vec<(Vec<u8>, u64)>,
}

/// Talks to one container.
#[derive(Clone)]
pub struct BlobStore {
    pub url: ContainerUrl,
    auth: StorageAuth,
    /// Longest a single request may take before it counts as a (retryable) timeout.
    pub request_timeout: Duration,
    /// One HTTP client (connection pool) for every request of this store.
    transport: Transport,
    /// `host:port` of the service, as errors name it.
    endpoint: String,
    /// The service answered a request of this run (shared by clones): from then on network
    /// failures are an outage to ride out, not a wrong URL.
    reached: Arc<AtomicBool>,
}

/// `host:port` of a container URL's service (the port the scheme implies when none is given).
pub fn endpoint_of(url: &ContainerUrl) -> String {
    match Url::parse(&url.service_url()) {
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => url.service_url(),
        },
        Err(_) => url.service_url(),
    }
}

/// Client options sharing `transport`: an SDK client is built per request, and without a shared
/// transport each would get its own connection pool (a new TCP + TLS connection for every block,
/// starting from a small congestion window) and would load the system's root certificates again.
fn client_options(transport: &Transport) -> ClientOptions {
    ClientOptions {
        retry: RetryOptions::none(),
        transport: Some(transport.clone()),
        ..Default::default()
    }
}

/// Converts an SDK error into a classified storage error.
pub fn classify(target: &str, e: azure_core::Error) -> StorageError {
    match e.kind() {
        ErrorKind::HttpResponse {
            status,
            error_code,
            raw_response,
        } => {
            let retry_after = raw_response.as_ref().and_then(|r| {
                let h = r.headers();
                h.get_optional_str(&azure_core::http::headers::HeaderName::from_static(
                    "retry-after",
                ))
                .and_then(parse_retry_after)
            });
            let message = e.to_string();
            from_status(
                target,
                u16::from(*status),
                error_code.clone(),
                message,
                retry_after,
            )
        }
        ErrorKind::Connection | ErrorKind::Io => {
            let (cause, detail) = network_cause(&e).unwrap_or((
                if matches!(e.kind(), ErrorKind::Connection) {
                    NetCause::Connect
                } else {
                    NetCause::Dropped
                },
                e.to_string(),
            ));
            StorageError::Network {
                target: target.to_string(),
                endpoint: String::new(),
                cause,
                detail,
                reached_before: false,
            }
        }
        ErrorKind::Credential => StorageError::Auth {
            target: target.to_string(),
            status: 401,
            code: None,
            hint: format!(
                "could not get an Azure AD token ({e}); run 'az login', or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
            ),
        },
        _ => {
            if let Some((cause, detail)) = network_cause(&e) {
                return StorageError::Network {
                    target: target.to_string(),
                    endpoint: String::new(),
                    cause,
                    detail,
                    reached_before: false,
                };
            }
            // Errors without a typed source surface as Other with a message; treat network-ish
            // ones as transient.
            let text = e.to_string();
            let lower = text.to_ascii_lowercase();
            if [
                "connection",
                "timed out",
                "timeout",
                "reset",
                "broken pipe",
                "eof",
                "request or response body error",
                "error sending request",
            ]
            .iter()
            .any(|w| lower.contains(w))
            {
                StorageError::Transient {
                    target: target.to_string(),
                    what: text,
                    retry_after: None,
                }
            } else {
                StorageError::Refused {
                    target: target.to_string(),
                    status: 0,
                    code: None,
                    message: text,
                }
            }
        }
    }
}

impl BlobStore {
    pub fn new(url: ContainerUrl, auth: StorageAuth) -> Self {
        BlobStore {
            endpoint: endpoint_of(&url),
            url,
            auth,
            request_timeout: Duration::from_secs(120),
            transport: Transport::new(new_http_client(None)),
            reached: Arc::default(),
        }
    }

    pub fn auth(&self) -> &StorageAuth {
        &self.auth
    }

    fn token(&self) -> Option<Arc<dyn TokenCredential>> {
        self.auth.token_credential()
    }

    fn blob_url(&self, blob: &str) -> Result<Url, StorageError> {
        let q = self.auth.query()?;
        self.url
            .blob_url(blob, q.as_deref())
            .map_err(|e| StorageError::Local(e.to_string()))
    }

    fn block_client(&self, blob: &str) -> Result<BlockBlobClient, StorageError> {
        let opts = BlockBlobClientOptions {
            client_options: client_options(&self.transport),
            ..Default::default()
        };
        BlockBlobClient::new(self.blob_url(blob)?, self.token(), Some(opts))
            .map_err(|e| classify(blob, e))
    }

    fn blob_client(&self, blob: &str) -> Result<BlobClient, StorageError> {
        let opts = BlobClientOptions {
            client_options: client_options(&self.transport),
            ..Default::default()
        };
        BlobClient::new(self.blob_url(blob)?, self.token(), Some(opts))
            .map_err(|e| classify(blob, e))
    }

    fn container_client(&self) -> Result<BlobContainerClient, StorageError> {
        self.container_client_with(self.auth.query()?)
    }

    /// A container client authorized by `query` (a SAS), or by the token credential.
    fn container_client_with(
        &self,
        q: Option<String>,
    ) -> Result<BlobContainerClient, StorageError> {
        let url = self
            .url
            .container_url_with(q.as_deref())
            .map_err(|e| StorageError::Local(e.to_string()))?;
        let opts = BlobContainerClientOptions {
            client_options: client_options(&self.transport),
            ..Default::default()
        };
        BlobContainerClient::new(url, self.token(), Some(opts))
            .map_err(|e| classify(&self.url.container, e))
    }

    async fn timed<T>(
        &self,
        target: &str,
        f: impl std::future::Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        match tokio::time::timeout(self.request_timeout, f).await {
            Ok(r) => self.noted(r),
            Err(_) => Err(StorageError::Transient {
                target: target.to_string(),
                what: format!(
                    "{}: no answer within {} s",
                    self.endpoint,
                    self.request_timeout.as_secs()
                ),
                retry_after: None,
            }),
        }
    }

    /// The service answered in this run.
    pub fn reached(&self) -> bool {
        self.reached.load(Ordering::Relaxed)
    }

    /// Notes an answer from the service (any HTTP response, even a refusal), and completes a network
    /// error with the endpoint and whether the service answered before.
    fn noted<T>(&self, r: Result<T, StorageError>) -> Result<T, StorageError> {
        match r {
            Err(StorageError::Network {
                target,
                cause,
                detail,
                ..
            }) => Err(StorageError::Network {
                target,
                endpoint: self.endpoint.clone(),
                cause,
                detail,
                reached_before: self.reached(),
            }),
            Err(StorageError::Local(m)) => Err(StorageError::Local(m)),
            other => {
                self.reached.store(true, Ordering::Relaxed);
                other
            }
        }
    }

    /// Creates the container if it does not exist (needs a credential allowed to; a container SAS is not).
    pub async fn create_container(&self) -> Result<bool, StorageError> {
        let c = self.container_client_with(self.auth.container_admin_query()?)?;
        let target = self.url.container.clone();
        self.timed(&target, async {
            match c.create(None).await {
                Ok(_) => Ok(true),
                Err(e) => match classify(&target, e) {
                    StorageError::Refused { status: 409, .. } => Ok(false),
                    other => Err(other),
                },
            }
        })
        .await
    }

    /// Properties of a blob, or `None` if it does not exist.
    pub async fn properties(&self, blob: &str) -> Result<Option<BlobProps>, StorageError> {
        use azure_storage_blob::models::BlobClientGetPropertiesResultHeaders;
        let c = self.blob_client(blob)?;
        self.timed(blob, async {
            match c.get_properties(None).await {
                Ok(r) => Ok(Some(BlobProps {
                    size: r.content_length().ok().flatten().unwrap_or(0),
                    content_md5: r.content_md5().ok().flatten(),
                    crc64: r
                        .metadata()
                        .ok()
                        .and_then(|m| m.get(CRC64_METADATA).cloned()),
                })),
                Err(e) => match classify(blob, e) {
                    StorageError::Refused { status: 404, .. } => Ok(None),
                    other => Err(other),
                },
            }
        })
        .await
    }

    /// Committed and uncommitted blocks of a blob (empty if the blob does not exist).
    pub async fn blocks(&self, blob: &str) -> Result<Blocks, StorageError> {
        let c = self.block_client(blob)?;
        self.timed(blob, async {
            match c.get_block_list(BlockListType::All, None).await {
                Ok(r) => {
                    let list = r.into_model().map_err(|e| classify(blob, e))?;
                    let conv =
                        |v: Option<Vec<azure_storage_blob::models::Block>>| -> Vec<(Vec<u8>, u64)> {
                            v.unwrap_or_default()
                                .into_iter()
                                .filter_map(|b| {
                                    Some((b.name?, u64::try_from(b.size.unwrap_or(0)).unwrap_or(0)))
                                })
                                .collect()
                        };
                    Ok(Blocks {
                        committed: conv(list.committed_blocks),
                        uncommitted: conv(list.uncommitted_blocks),
                    })
                }
                Err(e) => match classify(blob, e) {
                    StorageError::Refused { status: 404, .. } => Ok(Blocks::default()),
                    other => Err(other),
                },
            }
        })
        .await
    }

    /// Put Block with the block's MD5 (the service verifies it).
    pub async fn put_block(
        &self,
        blob: &str,
        id: &[u8],
        data: Bytes,
        crc64: u64,
    ) -> Result<(), StorageError> {
        let c = self.block_client(blob)?;
        let len = data.len() as u64;
        let body: RequestContent<azure_core::Bytes, azure_core::http::NoFormat> =
            azure_core::http::Body::from(data).into();
        // The service verifies the block's CRC64 (cheaper than MD5 and as safe for transport errors).
        let opts = BlockBlobClientStageBlockOptions {
            transactional_content_crc64: Some(crc64.to_le_bytes().to_vec()),
            ..Default::default()
        };
        self.timed(blob, async {
            c.stage_block(id, len, body, Some(opts))
                .await
                .map(|_| ())
                .map_err(|e| classify(blob, e))
        })
        .await
    }

    /// Put Block List: commits `ids` in order, stores the whole file's CRC64 in metadata and, if
    /// given, its MD5 as Content-MD5.
    pub async fn put_block_list(
        &self,
        blob: &str,
        ids: &[Vec<u8>],
        crc64: u64,
        content_md5: Option<[u8; 16]>,
    ) -> Result<(), StorageError> {
        let c = self.block_client(blob)?;
        let list = BlockLookupList {
            latest: Some(ids.to_vec()),
            ..Default::default()
        };
        let body: RequestContent<BlockLookupList, _> =
            list.try_into().map_err(|e| classify(blob, e))?;
        let mut metadata = std::collections::HashMap::new();
        metadata.insert(CRC64_METADATA.to_string(), crc64_base64(crc64));
        let opts = BlockBlobClientCommitBlockListOptions {
            blob_content_md5: content_md5.map(|m| m.to_vec()),
            blob_content_type: Some("application/octet-stream".into()),
            metadata: Some(metadata),
            ..Default::default()
        };
        self.timed(blob, async {
            c.commit_block_list(body, Some(opts))
                .await
                .map(|_| ())
                .map_err(|e| classify(blob, e))
        })
        .await
    }

    /// Names and sizes of the blobs under `prefix`.
    pub async fn list(&self, prefix: Option<&str>) -> Result<Vec<(String, u64)>, StorageError> {
        let c = self.container_client()?;
        let target = self.url.container.clone();
        let opts = BlobContainerClientListBlobsOptions {
            prefix: prefix.map(str::to_string),
            ..Default::default()
        };
        self.timed(&target, async {
            let mut pages = c
                .list_blobs(Some(opts))
                .map_err(|e| classify(&target, e))?
                .into_pages();
            let mut out = Vec::new();
            while let Some(page) = pages.try_next().await.map_err(|e| classify(&target, e))? {
                let seg = page.into_model().map_err(|e| classify(&target, e))?;
                for b in seg.blob_items {
                    let size = b
                        .properties
                        .as_ref()
                        .and_then(|p| p.content_length)
                        .unwrap_or(0);
                    if let Some(n) = b.name {
                        out.push((n, size));
                    }
                }
            }
            Ok(out)
        })
        .await
    }
}

impl BlobStore {
    /// Gets a user delegation key (Azure AD credentials only) valid from now until `expiry` (at most
    /// 7 days, Azure's limit), for signing a user delegation SAS.
    pub async fn user_delegation_key(
        &self,
        expiry: time::OffsetDateTime,
    ) -> Result<super::sas::UserDelegationKey, StorageError> {
        use azure_storage_blob::models::KeyInfo;
        use azure_storage_blob::{BlobServiceClient, BlobServiceClientOptions};
        let target = self.url.service_url();
        if self.token().is_none() {
            return Err(StorageError::Local(
                "a user delegation key needs Azure AD credentials (--aad); with an account key, cutover signs a service SAS instead".into(),
            ));
        }
        let service = Url::parse(&format!("{}/", self.url.service_url()))
            .map_err(|e| StorageError::Local(e.to_string()))?;
        let opts = BlobServiceClientOptions {
            client_options: client_options(&self.transport),
            ..Default::default()
        };
        let c = BlobServiceClient::new(service, self.token(), Some(opts))
            .map_err(|e| classify(&target, e))?;
        let now = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or(time::OffsetDateTime::now_utc());
        let info = KeyInfo {
            start: Some(now - time::Duration::minutes(5)),
            expiry: Some(expiry.min(now + time::Duration::days(7))),
            ..Default::default()
        };
        let body = info.try_into().map_err(|e| classify(&target, e))?;
        let key = self
            .timed(&target, async {
                c.get_user_delegation_key(body, None)
                    .await
                    .map_err(|e| classify(&target, e))
            })
            .await?
            .into_model()
            .map_err(|e| classify(&target, e))?;
        let fmt_time = |t: Option<time::OffsetDateTime>| -> String {
            let f =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
            t.and_then(|t| t.to_offset(time::UtcOffset::UTC).format(&f).ok())
                .unwrap_or_default()
        };
        use base64::Engine;
        Ok(super::sas::UserDelegationKey {
            signed_oid: key.signed_oid.unwrap_or_default(),
            signed_tid: key.signed_tid.unwrap_or_default(),
            signed_start: fmt_time(key.signed_start),
            signed_expiry: fmt_time(key.signed_expiry),
            signed_service: key.signed_service.unwrap_or_else(|| "b".into()),
            signed_version: key.signed_version.unwrap_or_default(),
            value_b64: base64::engine::general_purpose::STANDARD
                .encode(key.value.unwrap_or_default()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_is_azure_storages() {
        // Reference values from Microsoft's own implementation (the `azure-storage-extensions` 0.1.0
        // package the Python SDK uses: checksums.crc64.compute(data, 0), little-endian bytes).
        assert_eq!(crc64(b"123456789"), 0xae8b_1486_0a79_9888);
        assert_eq!(crc64_base64(crc64(b"123456789")), "iJh5CoYUi64=");
        assert_eq!(crc64(b"Hello, World!"), 0xd4a9_be43_26ad_d24d);
        assert_eq!(crc64_base64(crc64(b"Hello, World!")), "TdKtJkO+qdQ=");
    }

    #[test]
    fn combined_crc_equals_crc_of_the_whole() {
        assert_eq!(
            crc64_combine(crc64(b"Hello, "), crc64(b"World!"), 6),
            crc64(b"Hello, World!")
        );
        assert_eq!(crc64_combine(crc64(b"abc"), crc64(b""), 0), crc64(b"abc"));
        assert_eq!(crc64_combine(crc64(b""), crc64(b"abc"), 3), crc64(b"abc"));
    }

    #[test]
    fn shift_operator_matches_combine() {
        let op = crc64_shift_operator(1000);
        let a = crc64(b"first part");
        let b = crc64(&[7u8; 1000]);
        assert_eq!(crc64_combine_with(&op, a, b), crc64_combine(a, b, 1000));
        let mut whole = b"first part".to_vec();
        whole.extend_from_slice(&[7u8; 1000]);
        assert_eq!(crc64_combine_with(&op, a, b), crc64(&whole));
        for len in [1u64, 2, 3, 7, 8, 4096, 8 << 20, (8 << 20) + 5, 4000 << 20] {
            let op = crc64_shift_operator(len);
            for crc1 in [0u64, 1, a, u64::MAX] {
                assert_eq!(
                    crc64_combine_with(&op, crc1, b),
                    crc64_combine(crc1, b, len),
                    "len {len}"
                );
            }
        }
    }

    #[test]
    fn running_crc64_equals_one_shot() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let mut c = Crc64::new();
        for piece in data.chunks(4099) {
            c.update(piece);
        }
        assert_eq!(c.sum64(), crc64(&data));
        let mut reference = crc64fast_nvme::Digest::new();
        reference.write(&data);
        assert_eq!(c.sum64(), reference.sum64());
    }

    proptest::proptest! {
        #[test]
        fn combine_any_split(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000), cut in 0usize..3000) {
            let cut = cut.min(data.len());
            let (a, b) = data.split_at(cut);
            proptest::prop_assert_eq!(crc64_combine(crc64(a), crc64(b), b.len() as u64), crc64(&data));
        }
    }
}
