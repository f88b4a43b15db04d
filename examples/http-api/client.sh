#!/bin/sh
# The same enqueue with curl: POST /v1/notify, then the delivery list for the address.
#   HERALD_URL=http://127.0.0.1:8080 HERALD_KEY=hk_... sh client.sh
set -eu
curl -sS --fail-with-body -X POST "$HERALD_URL/v1/notify" \
  -H "Authorization: Bearer $HERALD_KEY" -H 'Content-Type: application/json' \
  -d '{"notification":"order-shipped","data":{"orderId":"B-2002","carrier":"UPS"},"recipients":[{"name":"Alan","contacts":[{"protocol":"email","address":"alan@shop.dev"}]}]}'
echo
curl -sS --fail-with-body "$HERALD_URL/v1/deliveries?address=alan%40shop.dev&limit=5" -H "Authorization: Bearer $HERALD_KEY"
echo
