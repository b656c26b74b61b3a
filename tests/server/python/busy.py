"""The key-generation queue, through xmlrpc.client. Usage: busy.py ORIGIN.

The server generates keys on one thread with room for one waiting key, and holds every key back
until this script prints the line "release" (the test then lets them be made). So the order is
fixed: call A's key holds the thread; B's key waits, then B's client goes away (B must leave the
queue); C's key takes the place; D finds thread and queue full and must fault "busy" at once.
/healthz reports the queue, so each step waits for a state, never for a time. The last line is
the outcome as JSON."""
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
results = {"steps": []}
steps = results["steps"]


def keygen_load():
    try:
        with urllib.request.urlopen(origin + "/healthz") as response:
            load = json.load(response)["keygen"]
    except urllib.error.HTTPError as error:  # 503 (no built page) still reports the queue
        load = json.load(error)["keygen"]
    return {name: load[name] for name in ("running", "queued", "calls")}


def wait_for(running, queued, calls, what):
    """Polls /healthz until the queue is in this state; the bound only stops a broken run hanging."""
    state = {"running": running, "queued": queued, "calls": calls}
    for _ in range(3000):
        load = keygen_load()
        if load == state:
            steps.append(what)
            return
        time.sleep(0.01)
    steps.append("never: " + what + " (last " + json.dumps(load) + ")")


def generating(owner):
    """A call that makes the server generate one key: the owner's."""
    return [{"percentage": 80, "owner": owner}]


def build(name, owner):
    try:
        answer = xmlrpc.client.ServerProxy(url).build_installers(generating(owner))
        results[name] = {"build_id": answer["build_id"], "keys": len(answer["users"])}
    except xmlrpc.client.Fault as fault:
        results[name] = {"faultCode": fault.faultCode, "faultString": fault.faultString}


a = threading.Thread(target=build, args=("a", "alpha"))
a.start()
wait_for(1, 0, 1, "A generating")
# B: sent by hand so its socket can be closed while it waits.
b = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
b.request("POST", "/xmlrpc/", xmlrpc.client.dumps((generating("bravo"),), "build_installers"),
          {"Content-Type": "text/xml"})
wait_for(1, 1, 2, "B queued")
b.sock.close()
b.close()
wait_for(1, 0, 1, "B dropped")
c = threading.Thread(target=build, args=("c", "charlie"))
c.start()
wait_for(1, 1, 2, "C queued")
# D must be answered without waiting; were it queued, the held keys would keep it waiting, so it
# is given a bound and the keys are let go in any case.
d = threading.Thread(target=build, args=("d", "delta"))
d.start()
d.join(30)
results["d_waited"] = d.is_alive()
print("release", flush=True)
for thread in (a, c, d):
    thread.join()
wait_for(0, 0, 0, "idle")
print(json.dumps(results))
