"""A rolling update against the release binary, as Kubernetes does it:
traffic flows on kept-alive connections, SIGTERM arrives, /health/ready turns
503 within a second while the server keeps serving for server.drain_secs,
the "load balancer" (a readiness probe every 100 ms) stops routing one
second after it saw the 503, and only then does the server stop accepting.
No request may fail; the process must exit 0, and not before the drain.

usage: drain.py BIN"""
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

binary = sys.argv[1]
DRAIN_SECS = 3
data = tempfile.mkdtemp(prefix="insight-ship-drain-")
env = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "INSIGHT_DATA_DIR": data,
    "INSIGHT_ADMIN_PASSWORD": "ship-drain-admin-password",
    "INSIGHT_SERVER__DRAIN_SECS": str(DRAIN_SECS),
    "INSIGHT_SERVER__SHUTDOWN_GRACE_SECS": "5",
}
proc = subprocess.Popen([binary, "serve", "--port", "0"], env=env, cwd=data,
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
port = None
deadline = time.time() + 60
for line in proc.stderr:
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
    if m:
        port = int(m.group(1))
        break
    if time.time() > deadline:
        break
if port is None:
    proc.kill()
    sys.exit("the server did not print its address")
# Keep reading stderr so the pipe never fills.
threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()

routed = threading.Event()
routed.set()
terminated = threading.Event()
lock = threading.Lock()
counts = {"served": 0, "after_term": 0}
failures = []


def client(path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while routed.is_set():
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            ok = resp.status == 200
            if resp.getheader("connection", "").lower() == "close":
                conn.close()  # the server asked: reconnect for the next one
        except Exception as e:  # noqa: BLE001 - every failure is a finding
            ok = False
            resp = e
            conn.close()
        with lock:
            if ok:
                counts["served"] += 1
                if terminated.is_set():
                    counts["after_term"] += 1
            else:
                failures.append(f"{path}: {getattr(resp, 'status', resp)}")
        time.sleep(0.01)


def ready_status():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/health/ready")
        return conn.getresponse().status
    finally:
        conn.close()


if ready_status() != 200:
    proc.kill()
    sys.exit("not ready before the test")
threads = [threading.Thread(target=client, args=(p,)) for p in ("/health", "/openapi.json", "/health", "/openapi.json")]
for t in threads:
    t.start()
time.sleep(0.5)
term_at = time.time()
terminated.set()
proc.send_signal(signal.SIGTERM)
unready_after = None
while time.time() - term_at < 2:
    if ready_status() == 503:
        unready_after = time.time() - term_at
        break
    time.sleep(0.1)
time.sleep(1)  # endpoint removal reaching every proxy
routed.clear()
for t in threads:
    t.join()
try:
    code = proc.wait(timeout=DRAIN_SECS + 10)
except subprocess.TimeoutExpired:
    proc.kill()
    sys.exit("the server did not exit after the drain and grace")
exited_after = time.time() - term_at

problems = []
if unready_after is None:
    problems.append("/health/ready never answered 503 after SIGTERM")
if failures:
    problems.append(f"{len(failures)} failed request(s): {failures[:5]}")
if counts["after_term"] < 20:
    problems.append(f"only {counts['after_term']} request(s) served after SIGTERM")
if code != 0:
    problems.append(f"exit status {code}")
if exited_after < DRAIN_SECS:
    problems.append(f"exited {exited_after:.1f} s after SIGTERM, before the {DRAIN_SECS} s drain")
for p in problems:
    print(p)
if not problems:
    print(f"{counts['served']} requests, {counts['after_term']} after SIGTERM, none failed; "
          f"unready after {unready_after:.2f} s, exited after {exited_after:.1f} s")
sys.exit(1 if problems else 0)
