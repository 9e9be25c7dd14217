#!/usr/bin/env bash
# The README's curl session (the block between the `ship-check: curl-session`
# markers) run as written against a live instance of the release binary:
# login → ask → feedback → ask again. It must run without error, the
# feedback must be trained, the second ask must be answered from training,
# and its output must be the JSON the README shows after `# →`.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
BIN="$1"
PY="$ROOT/target/ship-venv/tools/bin/python"

fail() {
    echo "README session: $*" >&2
    exit 1
}

block="$(awk '/<!-- ship-check: curl-session -->/{on=1; next} /<!-- \/ship-check: curl-session -->/{on=0} on' README.md |
    sed '1{/^```/d}; ${/^```$/d}')"
[ -n "$block" ] || fail "no block between <!-- ship-check: curl-session --> markers in README.md"
grep -q '/api/v1/auth/login' <<< "$block" || fail "the session does not log in"
[ "$(grep -c '/api/v1/ask' <<< "$block")" -ge 2 ] || fail "the session does not ask twice"
grep -q '/feedback' <<< "$block" || fail "the session gives no feedback"
# The last `# → {…}` line: what the final command prints.
expected="$(grep '^# → {' <<< "$block" | tail -n 1 | sed 's/^# → //')"

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2> /dev/null || true
        wait "$server" 2> /dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
port="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
password="readme-$$-Session-x9"
# Only the settings given here: the test script's INSIGHT_TEST_* URLs (and a
# developer's own INSIGHT_*) would be read as unknown settings.
unset_insight=()
for name in $(compgen -e); do
    [[ "$name" == INSIGHT_* ]] && unset_insight+=(-u "$name")
done
env "${unset_insight[@]}" \
    INSIGHT_DATA_DIR="$work/data" INSIGHT_SERVER__PORT="$port" INSIGHT_ADMIN_PASSWORD="$password" \
    "$BIN" serve > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$port/health" > /dev/null 2>&1 && break
    kill -0 "$server" 2> /dev/null || {
        cat "$work/serve.log" >&2
        fail "the service exited"
    }
    sleep 0.25
done

printf '%s\n' "$block" > "$work/session.sh"
if ! BASE="http://127.0.0.1:$port" INSIGHT_ADMIN_PASSWORD="$password" \
    bash -euo pipefail "$work/session.sh" > "$work/out.json" 2> "$work/err.log"; then
    cat "$work/err.log" "$work/out.json" >&2
    fail "the session failed"
fi

"$PY" - "$work/out.json" "$expected" << 'PYEOF' || exit 1
import json, sys

text = open(sys.argv[1], encoding="utf-8").read()
dec, pos, outputs = json.JSONDecoder(), 0, []
while pos < len(text):
    if text[pos].isspace():
        pos += 1
        continue
    obj, pos = dec.raw_decode(text, pos)
    outputs.append(obj)
if len(outputs) < 2:
    sys.exit(f"README session: expected the feedback and the second answer, got {outputs}")
feedback, last = outputs[-2], outputs[-1]
if feedback.get("status") != "trained":
    sys.exit(f"README session: the feedback was not trained: {feedback}")
if last.get("strategy") != "trained_example":
    sys.exit(f"README session: the second ask was not answered from training: {last}")
documented = json.loads(sys.argv[2]) if sys.argv[2] else None
if documented != last:
    sys.exit(f"README session: the README shows\n  {documented}\nbut the session printed\n  {last}")
print(f"README session ok: {last}")
PYEOF
