//! The discovery routes: each passes the gate (auth, throttling, api-version, subscription rights),
//! then answers from the estate in pages of `page_size` linked by `nextLink` (`$skipToken` is the
//! index of the page's first item).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};

use super::DiscoveryService;
use super::gate::{
    Provider, arm_error, check_api_version, check_auth, forbidden, no_subscription, throttled,
};
use super::shapes;
use super::world::{Account, Subscription};

type S = State<Arc<DiscoveryService>>;

#[derive(Debug, serde::Deserialize)]
pub(super) struct ListQuery {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
    #[serde(rename = "$skipToken")]
    skip_token: Option<String>,
    #[serde(rename = "$filter")]
    filter: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct SubPath {
    sub: String,
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct RgPath {
    sub: String,
    rg: String,
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct AccountPath {
    sub: String,
    rg: String,
    account: String,
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct ContainerPath {
    sub: String,
    rg: String,
    account: String,
    container: String,
}

pub(super) fn routes() -> Router<Arc<DiscoveryService>> {
    let sa = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{account}";
    Router::new()
        .route("/subscriptions", get(list_subscriptions))
        .route(
            "/subscriptions/{sub}/providers/Microsoft.Sql/managedInstances",
            get(list_instances),
        )
        .route(
            "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Sql/managedInstances",
            get(list_instances_in_group),
        )
        .route(
            "/subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts",
            get(list_accounts),
        )
        .route(
            "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts",
            get(list_accounts_in_group),
        )
        .route(sa, get(get_account))
        .route(&format!("{sa}/listKeys"), post(list_keys))
        .route(&format!("{sa}/ListServiceSas"), post(list_service_sas))
        .route(
            &format!("{sa}/blobServices/default/containers"),
            get(list_containers),
        )
        .route(
            &format!("{sa}/blobServices/default/containers/{{container}}"),
            get(get_container).put(put_container),
        )
        .route(
            &format!("{sa}/providers/Microsoft.Authorization/roleAssignments"),
            get(list_role_assignments),
        )
}

impl DiscoveryService {
    /// Auth, throttling and api-version; the api-version on success.
    #[allow(clippy::result_large_err)] // an axum Response, returned at once by the handler
    fn gate(&self, headers: &HeaderMap, q: &ListQuery, p: Provider) -> Result<String, Response> {
        check_auth(headers, self.required_token.as_deref())?;
        if self.take_throttle() {
            return Err(throttled());
        }
        check_api_version(q.api_version.as_deref(), p)
    }

    /// The subscription, readable: 404 if unknown, 403 if the credential has no rights in it.
    #[allow(clippy::result_large_err)]
    fn readable(&self, sub: &str, action: &str) -> Result<Subscription, Response> {
        let world = self.world();
        match world.iter().find(|s| s.id.eq_ignore_ascii_case(sub)) {
            None => Err(no_subscription(sub)),
            Some(s) if s.forbidden => Err(forbidden(sub, action)),
            Some(s) => Ok(s.clone()),
        }
    }

    /// The storage account at `p`: 404 ResourceGroupNotFound / ResourceNotFound.
    #[allow(clippy::result_large_err)]
    fn account(&self, p: &AccountPath, action: &str) -> Result<(Subscription, Account), Response> {
        let s = self.readable(&p.sub, action)?;
        let in_group = |rg: &str| {
            s.accounts
                .iter()
                .any(|a| a.resource_group.eq_ignore_ascii_case(rg))
                || s.instances
                    .iter()
                    .any(|i| i.resource_group.eq_ignore_ascii_case(rg))
        };
        if !in_group(&p.rg) {
            return Err(arm_error(
                StatusCode::NOT_FOUND,
                "ResourceGroupNotFound",
                format!("Resource group '{}' could not be found.", p.rg),
            ));
        }
        let found = s
            .accounts
            .iter()
            .find(|a| {
                a.resource_group.eq_ignore_ascii_case(&p.rg)
                    && a.name.eq_ignore_ascii_case(&p.account)
            })
            .cloned();
        match found {
            Some(a) => Ok((s, a)),
            None => Err(arm_error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                format!(
                    "The Resource 'Microsoft.Storage/storageAccounts/{}' under resource group '{}' was not found.",
                    p.account, p.rg
                ),
            )),
        }
    }

    /// One page of `items` with the `nextLink` of the next page (on the caller's own host).
    fn page(
        &self,
        headers: &HeaderMap,
        path: &str,
        api: &str,
        q: &ListQuery,
        items: Vec<Value>,
    ) -> Response {
        let start = match q.skip_token.as_deref() {
            None => 0,
            Some(t) => match t.parse::<usize>() {
                Ok(n) if n <= items.len() => n,
                _ => {
                    return arm_error(
                        StatusCode::BAD_REQUEST,
                        "InvalidSkipToken",
                        format!(
                            "The $skipToken '{t}' is not valid for this list; start again without it."
                        ),
                    );
                }
            },
        };
        let end = (start + self.page_size).min(items.len());
        let value: Vec<Value> = items[start..end].to_vec();
        let mut body = json!({ "value": value });
        if end < items.len() {
            let host = headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            let mut link = format!("http://{host}{path}?api-version={api}&$skipToken={end}");
            if let Some(f) = &q.filter {
                let enc: String = url::form_urlencoded::byte_serialize(f.as_bytes()).collect();
                link.push_str(&format!("&$filter={enc}"));
            }
            body["nextLink"] = Value::String(link);
        }
        Json(body).into_response()
    }
}

async fn list_subscriptions(State(s): S, Query(q): Query<ListQuery>, h: HeaderMap) -> Response {
    let api = match s.gate(&h, &q, Provider::Resources) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let items: Vec<Value> = s.world().iter().map(shapes::subscription).collect();
    s.page(&h, "/subscriptions", &api, &q, items)
}

async fn list_instances(
    State(s): S,
    Path(p): Path<SubPath>,
    Query(q): Query<ListQuery>,
    h: HeaderMap,
) -> Response {
    instances(&s, &h, &q, &p.sub, None)
}

async fn list_instances_in_group(
    State(s): S,
    Path(p): Path<RgPath>,
    Query(q): Query<ListQuery>,
    h: HeaderMap,
) -> Response {
    instances(&s, &h, &q, &p.sub, Some(&p.rg))
}

fn instances(
    s: &DiscoveryService,
    h: &HeaderMap,
    q: &ListQuery,
    sub: &str,
    rg: Option<&str>,
) -> Response {
    let api = match s.gate(h, q, Provider::Sql) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let sub_v = match s.readable(sub, "Microsoft.Sql/managedInstances/read") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let items: Vec<Value> = sub_v
        .instances
        .iter()
        .filter(|i| rg.is_none_or(|g| i.resource_group.eq_ignore_ascii_case(g)))
        .map(|i| shapes::instance(&sub_v.id, i))
        .collect();
    let path = match rg {
        None => format!("/subscriptions/{sub}/providers/Microsoft.Sql/managedInstances"),
        Some(g) => format!(
            "/subscriptions/{sub}/resourceGroups/{g}/providers/Microsoft.Sql/managedInstances"
        ),
    };
    s.page(h, &path, &api, q, items)
}

async fn list_accounts(
    State(s): S,
    Path(p): Path<SubPath>,
    Query(q): Query<ListQuery>,
    h: HeaderMap,
) -> Response {
    accounts(&s, &h, &q, &p.sub, None)
}

async fn list_accounts_in_group(
    State(s): S,
    Path(p): Path<RgPath>,
    Query(q): Query<ListQuery>,
    h: HeaderMap,
) -> Response {
    accounts(&s, &h, &q, &p.sub, Some(&p.rg))
}

fn accounts(
    s: &DiscoveryService,
    h: &HeaderMap,
    q: &ListQuery,
    sub: &str,
    rg: Option<&str>,
) -> Response {
    let api = match s.gate(h, q, Provider::Storage) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let sub_v = match s.readable(sub, "Microsoft.Storage/storageAccounts/read") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let items: Vec<Value> = sub_v
        .accounts
        .iter()
        .filter(|a| rg.is_none_or(|g| a.resource_group.eq_ignore_ascii_case(g)))
        .map(|a| shapes::account(&sub_v.id, a))
        .collect();
    let path = match rg {
        None => format!("/subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts"),
        Some(g) => format!(
            "/subscriptions/{sub}/resourceGroups/{g}/providers/Microsoft.Storage/storageAccounts"
        ),
    };
    s.page(h, &path, &api, q, items)
}

async fn get_account(
    State(s): S,
    Path(p): Path<AccountPath>,
    Query(q): Query<ListQuery>,
    h: HeaderMap,
) -> Response {
    if let Err(r) = s.gate(&h, &q, Provider::Storage) {
        return r;
    }
    match s.account(&p, "Microsoft.Storage/storageAccounts/read") {
        Ok((sub, a)) => Json(shapes::account(&sub.id, &a)).into_response(),
        Err(r) => r,
    }
}

/// Fake but stable keys for an account the sandbox does not serve (64 bytes, base64, as Azure's).
fn fake_key(seed: u64, n: u64) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ n.wrapping_add(0x5bd1_e995);
    let bytes: Vec<u8> = (0..64)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn list_keys(
    State(s): S,
    Path(p): Path<AccountPath>,
    Query(q): Query<ListQuery>,
    h: HeaderMap,
) -> Response {
    if let Err(r) = s.gate(&h, &q, Provider::Storage) {
        return r;
    }
    match s.account(&p, "Microsoft.Storage/storageAccounts/listkeys/action") {
        Ok((_, a)) if a.served => {
            let key = s.blob.account_key();
            Json(shapes::keys(&key, &fake_key(a.key_seed, 2))).into_response()
        }
        Ok((_, a)) => Json(shapes::keys(
            &fake_key(a.key_seed, 1),
            &fake_key(a.key_seed, 2),
        ))
        .into_response(),
        Err(r) => r,
    }
}

/// StorageAccounts_ListServiceSAS for a container (`signedResource` c): the SAS signed with the
/// account key, which never leaves the service (StorageAccountListServiceSAS.json).
async fn list_service_sas(
    State(s): S,
    Path(p): Path<AccountPath>,
    Query(q): Query<ListQuery>,
    h: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = s.gate(&h, &q, Provider::Storage) {
        return r;
    }
    let (_, a) = match s.account(
        &p,
        "Microsoft.Storage/storageAccounts/listServiceSas/action",
    ) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let bad = |m: String| {
        arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidValuesForRequestParameters",
            m,
        )
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad("The request body is not JSON.".into());
    };
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if field("signedResource") != "c" {
        return bad("The sandbox signs container SAS only: signedResource must be 'c'.".into());
    }
    let resource = field("canonicalizedResource");
    let prefix = format!("/blob/{}/", a.name);
    let Some(container) = resource
        .strip_prefix(&prefix)
        .filter(|c| !c.is_empty() && !c.contains('/'))
    else {
        return bad(format!(
            "canonicalizedResource must be '{prefix}CONTAINER', not '{resource}'."
        ));
    };
    let perms = field("signedPermission");
    if perms.is_empty() || !perms.chars().all(|c| "racwdl".contains(c)) {
        return bad(format!(
            "signedPermission '{perms}' is not a combination of r, a, c, w, d, l."
        ));
    }
    let Ok(expiry) = time::OffsetDateTime::parse(
        &field("signedExpiry"),
        &time::format_description::well_known::Rfc3339,
    ) else {
        return bad("signedExpiry must be an ISO 8601 date and time.".into());
    };
    let key = if a.served {
        s.blob.account_key()
    } else {
        fake_key(a.key_seed, 1)
    };
    match crate::sas::sign_container_sas(&a.name, &key, container, &perms, expiry) {
        Ok(token) => Json(json!({ "serviceSasToken": token })).into_response(),
        Err(e) => bad(format!("The SAS cannot be signed: {e}")),
    }
}

fn rfc3339_ns(ns: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| t.replace_nanosecond(0).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

fn container_items(s: &DiscoveryService, sub: &str, a: &Account) -> Vec<(String, Value)> {
    if a.served {
        s.blob
            .containers()
            .into_iter()
            .map(|(name, ns, etag)| {
                let v = shapes::container(sub, a, &name, &rfc3339_ns(ns), &etag);
                (name, v)
            })
            .collect()
    } else {
        a.containers
            .iter()
            .map(|name| {
                let v =
                    shapes::container(sub, a, name, "2026-01-05T08:00:00Z", "0x8DE2C0FFEE00000");
                (name.clone(), v)
            })
            .collect()
    }
}

async fn list_containers(
    State(s): S,
    Path(p): Path<AccountPath>,
    Query(q): Query<ListQuery>,
    h: HeaderMap,
) -> Response {
    let api = match s.gate(&h, &q, Provider::Storage) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (sub, a) = match s.account(
        &p,
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
    ) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let items = container_items(&s, &sub.id, &a)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let path = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}/blobServices/default/containers",
        p.sub, p.rg, p.account
    );
    s.page(&h, &path, &api, &q, items)
}

async fn get_container(
    State(s): S,
    Path(p): Path<ContainerPath>,
    Query(q): Query<ListQuery>,
    h: HeaderMap,
) -> Response {
    if let Err(r) = s.gate(&h, &q, Provider::Storage) {
        return r;
    }
    let ap = AccountPath {
        sub: p.sub,
        rg: p.rg,
        account: p.account,
    };
    let (sub, a) = match s.account(
        &ap,
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
    ) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match container_items(&s, &sub.id, &a)
        .into_iter()
        .find(|(n, _)| *n == p.container)
    {
        Some((_, v)) => Json(v).into_response(),
        None => arm_error(
            StatusCode::NOT_FOUND,
            "ContainerNotFound",
            format!("The specified container '{}' does not exist.", p.container),
        ),
    }
}

/// BlobContainers_Create: 201 when created, 200 when it already existed (a PUT is create-or-update).
async fn put_container(
    State(s): S,
    Path(p): Path<ContainerPath>,
    Query(q): Query<ListQuery>,
    h: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = s.gate(&h, &q, Provider::Storage) {
        return r;
    }
    if !body.is_empty() && serde_json::from_slice::<Value>(&body).is_err() {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        );
    }
    let ap = AccountPath {
        sub: p.sub.clone(),
        rg: p.rg.clone(),
        account: p.account.clone(),
    };
    let (sub, a) = match s.account(
        &ap,
        "Microsoft.Storage/storageAccounts/blobServices/containers/write",
    ) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Some(problem) = crate::blob::container_name_problem(&p.container) {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "ContainerOperationFailure",
            format!("Invalid container name: {problem}."),
        );
    }
    let created = if a.served {
        let exists = s
            .blob
            .containers()
            .iter()
            .any(|(n, _, _)| *n == p.container);
        if !exists && let Err(e) = s.blob.create_container(&p.container) {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "ContainerOperationFailure",
                format!(
                    "The container '{}' cannot be created: {}",
                    p.container,
                    e.code.as_str()
                ),
            );
        }
        !exists
    } else {
        let mut world = s.world();
        let acc = world
            .iter_mut()
            .filter(|x| x.id == sub.id)
            .flat_map(|x| x.accounts.iter_mut())
            .find(|x| x.name == a.name);
        match acc {
            Some(acc) => acc.containers.insert(p.container.clone()),
            None => false,
        }
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        Json(shapes::created_container(&sub.id, &a, &p.container)),
    )
        .into_response()
}

/// The `$filter` of RoleAssignments_ListForScope: `atScope()`, `principalId eq '{id}'`,
/// `assignedTo('{id}')`, joined by `and`. Returns the principal to keep, if any.
fn principal_filter(f: &str) -> Result<Option<String>, String> {
    let mut principal = None;
    for part in f.split(" and ") {
        let part = part.trim();
        let quoted = |rest: &str| {
            rest.trim()
                .strip_prefix('\'')
                .and_then(|r| r.strip_suffix('\''))
                .map(str::to_string)
        };
        if part == "atScope()" {
            continue;
        } else if let Some(rest) = part.strip_prefix("principalId eq ") {
            principal = Some(quoted(rest).ok_or_else(|| format!("'{part}': quote the ID"))?);
        } else if let Some(rest) = part
            .strip_prefix("assignedTo(")
            .and_then(|r| r.strip_suffix(')'))
        {
            principal = Some(quoted(rest).ok_or_else(|| format!("'{part}': quote the ID"))?);
        } else {
            return Err(format!("The filter '{part}' is not supported."));
        }
    }
    Ok(principal)
}

async fn list_role_assignments(
    State(s): S,
    Path(p): Path<AccountPath>,
    Query(q): Query<ListQuery>,
    h: HeaderMap,
) -> Response {
    let api = match s.gate(&h, &q, Provider::Authorization) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let principal = match q.filter.as_deref().map(principal_filter).transpose() {
        Ok(p) => p.flatten(),
        Err(m) => return arm_error(StatusCode::BAD_REQUEST, "UnsupportedQuery", m),
    };
    let (sub, a) = match s.account(&p, "Microsoft.Authorization/roleAssignments/read") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let scope = shapes::account_id(&sub.id, &a);
    let items = a
        .roles
        .iter()
        .filter(|r| {
            principal
                .as_deref()
                .is_none_or(|id| r.principal_id.eq_ignore_ascii_case(id))
        })
        .map(|r| shapes::role_assignment(&scope, r))
        .collect();
    let path = format!("{scope}/providers/Microsoft.Authorization/roleAssignments");
    s.page(&h, &path, &api, &q, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_assignment_filters_are_read_or_refused() {
        assert_eq!(principal_filter("atScope()"), Ok(None));
        assert_eq!(
            principal_filter("atScope() and assignedTo('abc')"),
            Ok(Some("abc".into()))
        );
        assert_eq!(
            principal_filter("principalId eq 'p1'"),
            Ok(Some("p1".into()))
        );
        assert!(principal_filter("roleName eq 'x'").is_err());
        assert!(principal_filter("principalId eq p1").is_err());
    }
}
