#!/usr/bin/env python3
"""Microsoft's Python SDK (azure-storage-blob) against the sandbox Blob service: the independent
client of tests/sandbox_blob.rs.

    sandbox_python_client.py --endpoint http://127.0.0.1:PORT/devstoreaccount1 --container NAME

Connects with a connection string (Shared Key, the account key from $SANDBOX_ACCOUNT_KEY or the
well-known development key) and prints one JSON object:

    "listed":   {"<blob>": {"size": N, "md5": "<hex of the downloaded bytes>",
                            "content_md5": "<hex of the stored Content-MD5>" or null,
                            "downloaded_bytes": N}}         every blob, each downloaded in full
    "prefixes": ["<db folder>/", ...]                         walk_blobs(delimiter="/") at the top
    "uploaded": {"<blob>": {"size": N, "md5": "<hex>", "content_md5": "<hex>" or null,
                            "downloaded_md5": "<hex>", "blocks": N}}
                the blobs this script wrote: one small (Put Blob), one in several blocks (Put Block
                + Put Block List); the data is bytes(i * 7 % 251 for i in range(size))
    "overwrite_refused": "<error code>"     upload_blob(overwrite=False) on an existing blob
    "missing_blob_exists": false            BlobClient.exists() on a blob that is not there
    "sas_list_count": N                     blobs listed through a Read+List container SAS
    "sas_write_refused": "<error code>"     an 8 MiB upload through that SAS (refused before its
                                            body is read)

Exit code 0 on success, 1 on any unexpected error (message on stderr), 2 when azure-storage-blob is
not installed.
"""

import argparse
import hashlib
import json
import os
import sys
from datetime import datetime, timedelta, timezone

DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

UPLOADS = {
    # name: (size, max_single_put_size, max_block_size)
    "python/small.bin": (1000, 64 * 1024 * 1024, 4 * 1024 * 1024),
    "python/multi-block.bin": (700 * 1024, 256 * 1024, 128 * 1024),
}


def data_of(size):
    return bytes(i * 7 % 251 for i in range(size))


def download_md5(container_client, name):
    h = hashlib.md5()
    n = 0
    for chunk in container_client.download_blob(name, max_concurrency=2).chunks():
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


def stored_md5(props):
    md5 = props.content_settings.content_md5 if props.content_settings else None
    return bytes(md5).hex() if md5 else None


def main():
    try:
        from azure.core.exceptions import HttpResponseError, ResourceExistsError
        from azure.storage.blob import (
            BlobClient,
            BlobServiceClient,
            ContainerClient,
            ContainerSasPermissions,
            generate_container_sas,
        )
    except ImportError as e:
        print(f"azure-storage-blob is not installed ({e}); pip install azure-storage-blob", file=sys.stderr)
        return 2

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--container", required=True)
    a = p.parse_args()

    endpoint = a.endpoint.rstrip("/")
    account = endpoint.rsplit("/", 1)[-1]
    key = os.environ.get("SANDBOX_ACCOUNT_KEY", DEV_KEY)
    conn = f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={endpoint};"
    out = {}
    try:
        service = BlobServiceClient.from_connection_string(conn, retry_total=2)
        cc = service.get_container_client(a.container)

        listed = {}
        for b in cc.list_blobs():
            md5, n = download_md5(cc, b.name)
            listed[b.name] = {
                "size": b.size,
                "md5": md5,
                "content_md5": stored_md5(b),
                "downloaded_bytes": n,
            }
        out["listed"] = listed
        out["prefixes"] = sorted(item.name for item in cc.walk_blobs(delimiter="/") if item.name.endswith("/"))

        uploaded = {}
        for name, (size, single_put, block) in UPLOADS.items():
            data = data_of(size)
            bc = BlobClient.from_connection_string(
                conn,
                a.container,
                name,
                max_single_put_size=single_put,
                max_block_size=block,
                retry_total=2,
            )
            bc.upload_blob(data, overwrite=True, max_concurrency=2)
            props = bc.get_blob_properties()
            blocks = bc.get_block_list("committed")[0]
            md5, _ = download_md5(cc, name)
            uploaded[name] = {
                "size": props.size,
                "md5": hashlib.md5(data).hexdigest(),
                "content_md5": stored_md5(props),
                "downloaded_md5": md5,
                "blocks": len(blocks),
            }
        out["uploaded"] = uploaded

        try:
            service.get_blob_client(a.container, "python/small.bin").upload_blob(b"again", overwrite=False)
            out["overwrite_refused"] = None
        except ResourceExistsError as e:
            out["overwrite_refused"] = e.error_code
        out["missing_blob_exists"] = service.get_blob_client(a.container, "python/none").exists()

        sas = generate_container_sas(
            account,
            a.container,
            account_key=key,
            permission=ContainerSasPermissions(read=True, list=True),
            expiry=datetime.now(timezone.utc) + timedelta(hours=1),
        )
        sas_client = ContainerClient.from_container_url(f"{endpoint}/{a.container}?{sas}", retry_total=0)
        out["sas_list_count"] = sum(1 for _ in sas_client.list_blobs())
        try:
            sas_client.upload_blob("python/forbidden.bin", b"x" * (8 << 20), overwrite=True)
            out["sas_write_refused"] = None
        except HttpResponseError as e:
            out["sas_write_refused"] = e.error_code
    except Exception as e:  # noqa: BLE001 - any failure is reported to the test as text
        print(f"sandbox_python_client.py: {type(e).__name__}: {e}", file=sys.stderr)
        json.dump(out, sys.stderr, sort_keys=True)
        return 1
    json.dump(out, sys.stdout, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
