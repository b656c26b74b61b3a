"""The key-generation queue, through xmlrpc.client. Usage: busy.py ORIGIN. The server runs with
KEYGEN_CONCURRENCY=1 and KEYGEN_QUEUE=1. Call A holds the one slot; B waits, then its client goes
away (B must leave the queue); C takes the queue place; D finds slot and queue full and must fault
"busy" at once. /healthz reports the queue, so each step waits for a state, never for a time.
A busy machine can finish A's key generation before D arrives; then the scenario is run again
with a new A (the outcome is only recorded for a run in which A outlasted D)."""
import http.client
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xmlrpc.client

origin = sys.argv[1]
url = origin + "/xmlrpc/"
parts = urllib.parse.urlsplit(origin)


class ANotRunning(Exception):
    pass


def keygen_load():
    try:
        with urllib.request.urlopen(origin + "/healthz") as response:
            return json.load(response)["keygen"]
    except urllib.error.HTTPError as error:  # 503 (no built page) still reports the queue
        return json.load(error)["keygen"]


def wait_for(state, what, steps):
    """Polls /healthz until keygen equals state; the bound only stops a broken run hanging."""
    for _ in range(3000):
        load = keygen_load()
        if load == state:
            steps.append(what)
            return True
        if state["running"] == 1 and load["running"] == 0:
            raise ANotRunning(what)
        time.sleep(0.01)
    steps.append("never: " + what + " (last " + json.dumps(load) + ")")
    return False


def generating(owner, users):
    """A call that makes the server generate a key for every name."""
    return [{"percentage": 80, "owner": owner, "users": users}]


def build(results, name, vessels):
    try:
        answer = xmlrpc.client.ServerProxy(url).build_installers(vessels)
        results[name] = {"build_id": answer["build_id"], "keys": len(answer["users"])}
    except xmlrpc.client.Fault as fault:
        results[name] = {"faultCode": fault.faultCode, "faultString": fault.faultString}


def scenario(attempt, a_users):
    results = {"steps": [], "attempt": attempt}
    steps = results["steps"]
    tag = "t%d" % attempt
    a = threading.Thread(target=build, args=(results, "a", generating(
        "alpha" + tag, ["a%s%03d" % (tag, i) for i in range(a_users)])))
    threads = [a]
    a.start()
    try:
        wait_for({"running": 1, "queued": 0}, "A generating", steps)
        # B: sent by hand so its socket can be closed while it waits.
        b = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        b.request("POST", "/xmlrpc/", xmlrpc.client.dumps(
            (generating("bravo" + tag, ["b01"]),), "build_installers"), {"Content-Type": "text/xml"})
        wait_for({"running": 1, "queued": 1}, "B queued", steps)
        b.sock.close()
        b.close()
        wait_for({"running": 1, "queued": 0}, "B dropped", steps)
        c = threading.Thread(target=build, args=(results, "c", generating("charlie" + tag, ["c01"])))
        threads.append(c)
        c.start()
        wait_for({"running": 1, "queued": 1}, "C queued", steps)
        build(results, "d", generating("delta" + tag, ["d01"]))
        held = a.is_alive()
    except ANotRunning:
        held = False
    for thread in threads:
        thread.join()
    wait_for({"running": 0, "queued": 0}, "idle", steps)
    return results if held else None


for attempt, a_users in enumerate([31, 31, 31]):
    outcome = scenario(attempt, a_users)
    if outcome is not None:
        break
else:
    outcome = {"steps": ["A never outlasted D"]}
print(json.dumps(outcome, indent=1))
