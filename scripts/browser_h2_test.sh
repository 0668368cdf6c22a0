#!/usr/bin/env bash
# WebSockets over HTTP/2 (RFC 8441) in Debian's Chromium: rfc6455-tokio/examples/chat --tls
# serves the page and its WebSocket on one TLS port (ALPN h2 and http/1.1). A page loaded over
# h2 opens wss:// as an extended CONNECT on that connection; a second Chromium with
# --disable-http2 joins the same room over HTTP/1.1. Evidence: the server's log line for the
# CONNECT with :protocol = websocket, and Chromium's net log (target/browser-test-h2/).
# Installs and builds as scripts/browser_test.sh does (it runs through it); prints one
# PASS/FAIL line per check and "N passed, N failed".
#
#   scripts/browser_h2_test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BROWSER_TEST_JS=chat_h2_test.mjs BROWSER_TEST_OUT=browser-test-h2 exec scripts/browser_test.sh "$@"
