#!/usr/bin/env python3
"""A small client of the ABE Portal's partner API (docs/api.md), with the standard library only.

    export ABE_API_URL=https://abe.example.org/api/v1
    export ABE_API_KEY=AbCd1234.the-rest-of-the-secret

    python api_client.py records --province 40          # the first page of records
    python api_client.py sync --state feed-state.json   # every change since the last sync, page by page
    python api_client.py bulk records.json              # create or update up to 1,000 records
    python api_client.py change 1024 '{"status": "referred"}'   # change one record, from its version now

`sync` keeps the feed's `next` link in the state file: run it from cron and each run prints (here:
counts) exactly the records changed since the previous run, none twice. `bulk` sends an
Idempotency-Key, so re-running it after a network error never applies anything twice, and prints
each rejected record with its reasons. `change` reads the record, then sends the change with the
version it read (If-Match): if someone changed the record in between, the portal refuses (412) and the
client says what changed, instead of undoing it. Over the rate, the client waits as Retry-After says.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


class ApiError(Exception):
    def __init__(self, status: int, body: dict) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"{status} {error.get('code')}: {error.get('message')} {error.get('details') or ''}".strip())
        self.status = status
        self.body = body


class Client:
    def __init__(self, base_url: str, key: str, *, lang: str = "th") -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.key = key
        self.lang = lang

    def request(self, method: str, url: str, body=None, headers: dict | None = None) -> dict:
        if not url.startswith("http"):
            url = urllib.parse.urljoin(self.base_url, url.lstrip("/"))
        if "lang=" not in url:  # messages (errors, reasons) in the client's language
            url += ("&" if "?" in url else "?") + f"lang={self.lang}"
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Authorization": f"Api-Key {self.key}", "Accept": "application/json", **(headers or {})}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        for _attempt in range(5):
            request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the API's own URL
                    body = json.loads(response.read())
                    if isinstance(body, dict) and response.headers.get("ETag"):
                        body["_etag"] = response.headers["ETag"]  # the version read, for a later If-Match
                    return body
            except urllib.error.HTTPError as error:
                payload = json.loads(error.read() or b"{}")
                if error.code == 429:  # over the rate: wait as told, then try again
                    time.sleep(int(error.headers.get("Retry-After", "5")))
                    continue
                raise ApiError(error.code, payload) from None
        raise ApiError(429, {"error": {"code": "throttled", "message": "still throttled after 5 tries"}})

    def get(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return self.request("GET", f"{path}?{query}")

    def changes(self, start: str | None = None, *, since: str | None = None, page_size: int = 1000):
        """Yield (records of a page, the link to continue from), from `start` (a saved `next` link)
        or from `since` (an ISO time), until there is nothing more for now."""
        page = (
            self.request("GET", start)
            if start
            else self.get("records/changes/", updated_since=since, page_size=page_size)
        )
        while True:
            yield page["results"], page["next"]
            if not page["has_more"]:
                return
            page = self.request("GET", page["next"])

    def change(self, record_id: int, changes: dict, *, etag: str | None = None) -> dict:
        """Change fields of one record from the version read (`etag`, or read now). If someone changed
        it since, ApiError 412: its body's error.details has the version now and what changed."""
        if etag is None:
            etag = self.get(f"records/{record_id}/")["_etag"]
        return self.request("PATCH", f"records/{record_id}/", changes, headers={"If-Match": etag})

    def bulk(self, records: list[dict], *, idempotency_key: str | None = None) -> dict:
        return self.request(
            "POST",
            "records/bulk/",
            {"records": records},
            headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4())},
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("ABE_API_URL", "http://127.0.0.1:8000/api/v1"))
    parser.add_argument("--key", default=os.environ.get("ABE_API_KEY"))
    parser.add_argument("--lang", default="th", choices=["th", "en"])
    commands = parser.add_subparsers(dest="command", required=True)
    records = commands.add_parser("records", help="the first page of records")
    records.add_argument("--province", type=int)
    records.add_argument("--page-size", type=int, default=20)
    sync = commands.add_parser("sync", help="every change since the last sync")
    sync.add_argument("--state", default="feed-state.json")
    sync.add_argument("--since", help="the first time only: an ISO time, e.g. 2026-01-01T00:00:00+07:00")
    bulk = commands.add_parser("bulk", help="create or update records from a JSON file (a list of records)")
    bulk.add_argument("file")
    bulk.add_argument("--idempotency-key", help="the same key as a failed run, to retry it safely")
    change = commands.add_parser("change", help='change fields of one record, e.g. 1024 \'{"notes": "..."}\'')
    change.add_argument("record", type=int)
    change.add_argument("changes", help="the fields to change, as a JSON object")
    args = parser.parse_args(argv)
    if not args.key:
        parser.error("give the key with --key or ABE_API_KEY")
    client = Client(args.url, args.key, lang=args.lang)
    try:
        if args.command == "records":
            page = client.get("records/", province=args.province, page_size=args.page_size)
            for record in page["results"]:
                print(record["id"], record["identifier"], record["first_name"], record["last_name"], record["status"])
            print("next:", page["next"])
        elif args.command == "sync":
            state = {}
            if os.path.exists(args.state):
                with open(args.state) as saved:
                    state = json.load(saved)
            total = 0
            for results, next_link in client.changes(state.get("next"), since=args.since):
                total += len(results)  # here a real client stores `results` in its own database
                with open(args.state, "w") as out:  # saved after every page: a crash resumes where it stopped
                    json.dump({"next": next_link}, out)
            print(f"{total} changed records")
        elif args.command == "bulk":
            with open(args.file, encoding="utf-8") as source:
                items = json.load(source)
            key = args.idempotency_key or str(uuid.uuid4())
            print("Idempotency-Key:", key, "(give it again with --idempotency-key to retry this run)")
            result = client.bulk(items, idempotency_key=key)
            print(json.dumps(result["summary"]))
            for item in result["results"]:
                if item["status"] == "rejected":
                    reasons = "; ".join(f"{e['field'] or '-'}: {e['message']}" for e in item["errors"])
                    print(f"item {item['index']} ({item['identifier']}): {reasons}")
        elif args.command == "change":
            result = client.change(args.record, json.loads(args.changes))
            print(result["status"], "version", result["record"]["version"])
    except ApiError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
