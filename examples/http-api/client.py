#!/usr/bin/env python3
"""A Herald HTTP API client in plain Python (standard library only): lists the notifications, enqueues one,
shows a refused request, waits for the delivery to be sent, then speaks postmaster's JSON-RPC.

    HERALD_URL=http://127.0.0.1:8080 HERALD_KEY=hk_... python3 client.py
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

URL = os.environ["HERALD_URL"].rstrip("/")
KEY = os.environ["HERALD_KEY"]


def call(method, path, body=None):
    """One request; answers (status, parsed JSON body). HTTP errors are answers too: their body names the field."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {KEY}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(URL + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def rpc(method, params):
    status, answer = call("POST", "/rpc", {"jsonrpc": "2.0", "method": method, "params": params, "id": 1})
    if status != 200 or "error" in answer:
        sys.exit(f"{method} failed: {status} {answer}")
    return answer["result"]


status, notifications = call("GET", "/v1/notifications")
print("notifications:", ", ".join(n["id"] for n in notifications["items"]))

status, result = call("POST", "/v1/notify", {
    "notification": "order-shipped",
    "data": {"orderId": "A-1001", "carrier": "DHL"},
    "recipients": [{"id": "u-ada", "name": "Ada Lovelace", "contacts": [{"protocol": "email", "address": "ada@shop.dev"}]}],
})
if status != 201:
    sys.exit(f"notify failed: {status} {result}")
delivery = result["deliveries"][0]
print(f"enqueued {delivery['id']} to {delivery['address']} ({delivery['status']})")

status, refused = call("POST", "/v1/notify", {"notification": "order-shipped", "data": {"orderId": 7}, "recipients": []})
print(f"refused: {status} {refused['error']['code']} field={refused['error']['field']}")

deadline = time.time() + 20
while True:
    status, detail = call("GET", f"/v1/deliveries/{delivery['id']}")
    if detail["delivery"]["status"] == "sent" or time.time() > deadline:
        break
    time.sleep(0.2)
print(f"delivery {detail['delivery']['status']}: \"{detail['delivery']['message']['content']['subject']}\" after {len(detail['attempts'])} attempt(s)")

print("postmaster enqueue:", rpc("Postmaster.Enqueue", {
    "to": "grace@shop.dev", "toName": "Grace Hopper", "from": "noreply@shop.example.org",
    "subject": "Welcome", "html": "<p>Welcome, Grace</p>", "uniqueID": "welcome-grace", "flags": 2,
}))
stat = rpc("Postmaster.GetLastEmail", {"to": "grace@shop.dev", "uniqueID": "welcome-grace"})["stat"]
print(f"postmaster last email: {stat['recipient']} uniqueID={stat['uniqueID']} emailFlags={stat['emailFlags']}")
print("done")
