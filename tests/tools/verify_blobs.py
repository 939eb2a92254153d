#!/usr/bin/env python3
"""Independent reader for the upload tests: Microsoft's Python SDK (azure-storage-blob), not cutover.

    verify_blobs.py list   --endpoint URL --container NAME [--prefix P]
        Prints {"<blob name>": {"size": N, "md5": "<hex of the downloaded bytes, by hashlib>",
        "content_md5": "<hex of the stored Content-MD5>" or null, "downloaded_bytes": N}} for every
        committed blob under the prefix. Each blob is downloaded in full (streamed, bounded memory).
    verify_blobs.py exists --endpoint URL --container NAME
        Prints {"exists": true|false}.
    verify_blobs.py delete --endpoint URL --container NAME
        Deletes the container (cleanup after a test); prints {"deleted": true|false}.
    verify_blobs.py md5 FILE...
        Prints {"<file>": "<hex md5>"} computed with hashlib (fast for multi-GiB local files).

URL is the emulator's account endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1. The account
name is the last path segment; the key is $AZURITE_ACCOUNT_KEY or Azurite's well-known key.
Exit code 0 on success, 1 on any error (message on stderr), 2 when azure-storage-blob is missing.
"""

import argparse
import hashlib
import json
import os
import sys

AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def service(endpoint):
    try:
        from azure.storage.blob import BlobServiceClient
    except ImportError as e:  # pragma: no cover - reported to the test
        print(f"azure-storage-blob is not installed ({e}); pip install azure-storage-blob", file=sys.stderr)
        sys.exit(2)
    endpoint = endpoint.rstrip("/")
    account = endpoint.rsplit("/", 1)[-1]
    key = os.environ.get("AZURITE_ACCOUNT_KEY", AZURITE_KEY)
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
        f"BlobEndpoint={endpoint};"
    )
    # The SDK's own retries would hide nothing here (the emulator is local); keep them few.
    return BlobServiceClient.from_connection_string(conn, retry_total=3)


def list_blobs(endpoint, container, prefix):
    cc = service(endpoint).get_container_client(container)
    out = {}
    for b in cc.list_blobs(name_starts_with=prefix or None, include=["metadata"]):
        h = hashlib.md5()
        n = 0
        for chunk in cc.download_blob(b.name, max_concurrency=2).chunks():
            h.update(chunk)
            n += len(chunk)
        stored = b.content_settings.content_md5 if b.content_settings else None
        out[b.name] = {
            "size": b.size,
            "md5": h.hexdigest(),
            "content_md5": bytes(stored).hex() if stored else None,
            "crc64": (b.metadata or {}).get("cutover_crc64"),
            "downloaded_bytes": n,
        }
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("list", "exists", "delete"):
        s = sub.add_parser(name)
        s.add_argument("--endpoint", required=True)
        s.add_argument("--container", required=True)
        if name == "list":
            s.add_argument("--prefix", default="")
    m = sub.add_parser("md5")
    m.add_argument("files", nargs="+")
    a = p.parse_args()

    try:
        if a.cmd == "list":
            result = list_blobs(a.endpoint, a.container, a.prefix)
        elif a.cmd == "exists":
            result = {"exists": service(a.endpoint).get_container_client(a.container).exists()}
        elif a.cmd == "delete":
            from azure.core.exceptions import ResourceNotFoundError

            try:
                service(a.endpoint).delete_container(a.container)
                result = {"deleted": True}
            except ResourceNotFoundError:
                result = {"deleted": False}
        else:
            result = {}
            for f in a.files:
                h = hashlib.md5()
                with open(f, "rb") as fh:
                    while True:
                        chunk = fh.read(8 << 20)
                        if not chunk:
                            break
                        h.update(chunk)
                result[f] = h.hexdigest()
    except Exception as e:  # noqa: BLE001 - any failure is reported to the test as text
        print(f"verify_blobs.py {a.cmd}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
