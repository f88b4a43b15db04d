"""A non-Node client in its own process: reads [{method, url, headers, body}] as JSON on stdin, sends them with
Python's urllib one after the other, prints [{status, headers, body}] as JSON. HTTP errors are answers too."""
import json
import sys
import urllib.error
import urllib.request

out = []
for r in json.load(sys.stdin):
    data = r["body"].encode("utf-8") if r.get("body") is not None else None
    request = urllib.request.Request(r["url"], data=data, method=r["method"], headers=r.get("headers") or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            out.append({"status": response.status, "headers": {k.lower(): v for k, v in response.headers.items()}, "body": response.read().decode("utf-8")})
    except urllib.error.HTTPError as error:
        out.append({"status": error.code, "headers": {k.lower(): v for k, v in error.headers.items()}, "body": error.read().decode("utf-8")})
json.dump(out, sys.stdout)
