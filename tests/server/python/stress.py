"""The old Custom Installer Builder's stress example, in its shape: CALLS threads (50) each send one
build_installers call at once through xmlrpc.client, with the example's vessels (alex with bob 60%,
carl with darren 20%) and keys for alex and darren only, so the server generates two key pairs per
call. Every answer is then checked: get_urls gives the same installer URLs, every generated pair is
a sound RSA pair of BITS bits and appears once, the supplied keys come back without a private key.

The example's own user_data keys ("12345 54321" and "67890 09876") are kept where the builder
accepts them: alex's is; darren's has e > n and an even e, which this builder refuses on purpose
(README, "Differences from the old service"), so darren gets the DARREN_KEY argument instead.

Usage: stress.py XMLRPC_URL DARREN_KEY [CALLS] [BITS]. Prints JSON; never prints a private key."""
import json
import math
import os
import sys
import threading
import time
import xmlrpc.client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import check_keypair  # noqa: E402

url, darren_key = sys.argv[1], sys.argv[2]
calls = int(sys.argv[3]) if len(sys.argv) > 3 else 50
bits = int(sys.argv[4]) if len(sys.argv) > 4 else 2048

VESSELS = [
    {"percentage": 60, "owner": "alex", "users": ["bob"]},
    {"percentage": 20, "owner": "carl", "users": ["darren"]},
]
USER_DATA = {"alex": {"public_key": "12345 54321"}, "darren": {"public_key": darren_key}}
GENERATED = ("bob", "carl")


def sound_pair(public_text, private_text):
    """The pair is RSA: n = p*q of BITS bits, p and q probable primes, e*d = 1 mod lcm(p-1, q-1).
    Lighter than check_keypair.check (two Miller-Rabin rounds, no modular exponentiation with d),
    since a hundred 2048-bit pairs are checked here."""
    e, n = check_keypair.parse(public_text, 2, "public key")
    d, p, q = check_keypair.parse(private_text, 3, "private key")
    if p * q != n or n.bit_length() != bits or p == q:
        return False
    if not (check_keypair.probably_prime(p, 2) and check_keypair.probably_prime(q, 2)):
        return False
    lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    return e < n and (e * d) % lam == 1


class PatientTransport(xmlrpc.client.Transport):
    """xmlrpc.client's transport with a socket timeout, so a call that is never answered shows
    as a failure instead of hanging the run."""

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = 240
        return connection


answers = [None] * calls
start_line = threading.Barrier(calls, timeout=60)


def agent(i):
    proxy = xmlrpc.client.ServerProxy(url, transport=PatientTransport())
    start_line.wait()
    sent = time.monotonic()
    try:
        answers[i] = {"answer": proxy.build_installers(VESSELS, USER_DATA)}
    except xmlrpc.client.Fault as fault:
        answers[i] = {"faultCode": fault.faultCode, "faultString": fault.faultString}
    except Exception as error:  # a refused, dropped or unanswered call counts as a failure too
        answers[i] = {"error": repr(error)}
    answers[i]["seconds"] = time.monotonic() - sent


started = time.monotonic()
threads = [threading.Thread(target=agent, args=(i,)) for i in range(calls)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
seconds = time.monotonic() - started

faults = [a for a in answers if "answer" not in a]
proxy = xmlrpc.client.ServerProxy(url, transport=PatientTransport())
checked = {"urls_match": 0, "pairs_sound": 0, "supplied_kept": 0}
public_keys = set()
build_ids = set()
for a in answers:
    if "answer" not in a:
        continue
    answer = a["answer"]
    build_ids.add(answer["build_id"])
    if proxy.get_urls(answer["build_id"]) == answer["installers"]:
        checked["urls_match"] += 1
    users = answer["users"]
    if all(sound_pair(users[name]["public_key"], users[name]["private_key"]) for name in GENERATED):
        checked["pairs_sound"] += 1
    public_keys.update(users[name]["public_key"] for name in GENERATED)
    if all(
        "private_key" not in users[name] and users[name]["public_key"] == USER_DATA[name]["public_key"]
        for name in USER_DATA
    ):
        checked["supplied_kept"] += 1

print(
    json.dumps(
        {
            "calls": calls,
            "answered": calls - len(faults),
            "faults": faults[:5],
            "fault_count": len(faults),
            "distinct_build_ids": len(build_ids),
            "distinct_generated_keys": len(public_keys),
            "checked": checked,
            "seconds": round(seconds, 2),
            "slowest_call_seconds": round(max(a["seconds"] for a in answers), 2),
        },
        indent=1,
    )
)
