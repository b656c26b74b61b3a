"""Hostile traffic against the server through Python's own clients (README, "Security and limits").
Usage: traffic.py CASE ORIGIN [ARGS]. Prints one JSON object.

  xml ORIGIN                  malformed and oversized calls through xmlrpc.client and raw bodies
  limits ORIGIN BUILD_ID      the per-client rate limits, from several loopback addresses
  downloads ORIGIN N          N fresh builds downloaded at once, then the refused ones again
"""
import hashlib
import http.client
import json
import sys
import threading
import time
import urllib.parse
import xmlrpc.client

case, origin = sys.argv[1], sys.argv[2]
parts = urllib.parse.urlsplit(origin)
XMLRPC = origin + "/xmlrpc/"
KEY = "3 1000003"


class From(xmlrpc.client.Transport):
    """xmlrpc.client's own transport, connecting from a chosen loopback address."""

    def __init__(self, source):
        super().__init__()
        self.source = source

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.source_address = (self.source, 0)
        return connection


def proxy(source="127.0.0.1"):
    return xmlrpc.client.ServerProxy(XMLRPC, transport=From(source), allow_none=True)


def outcome(call):
    """The result, or the fault as xmlrpc.client raised it, and how long the answer took."""
    started = time.monotonic()
    try:
        entry = {"result": call()}
    except xmlrpc.client.Fault as fault:
        entry = {"faultCode": fault.faultCode, "faultString": fault.faultString,
                 "faultLength": len(fault.faultString)}
    entry["seconds"] = round(time.monotonic() - started, 3)
    return entry


def raw(body, source="127.0.0.1", headers=None):
    """POSTs a body xmlrpc.client would not write, and reads the answer with xmlrpc.client."""
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60,
                                            source_address=(source, 0))
    try:
        connection.request("POST", "/xmlrpc/", body, {"Content-Type": "text/xml", **(headers or {})})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return outcome(lambda: xmlrpc.client.loads(data)[0][0]) | {"status": response.status,
                                                               "bytes": len(data)}


def get(path, source="127.0.0.1", headers=None, method="GET"):
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120,
                                            source_address=(source, 0))
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return {"status": response.status, "retry_after": response.getheader("Retry-After"),
                "length": response.getheader("Content-Length"), "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "text": data.decode("utf-8", "replace") if response.status != 200 else ""}
    finally:
        connection.close()


def build(index, source="127.0.0.1"):
    owner = "owner%05d" % index
    return proxy(source).build_installers([{"percentage": 80, "owner": owner}],
                                          {owner: {"public_key": KEY}})


out = {}
MEGA = 1_000_000

if case == "xml":
    rpc = proxy()
    # xmlrpc.client writes control characters and U+FFFE into the XML unescaped.
    out["control_characters"] = outcome(lambda: rpc.get_urls("\x01" * MEGA))
    out["control_late"] = outcome(lambda: rpc.get_urls("a" * (MEGA - 10) + "\x1f"))
    out["fffe"] = outcome(lambda: rpc.get_urls("\ufffe" * (MEGA // 3)))
    out["long_method"] = outcome(lambda: getattr(rpc, "m" * MEGA)())
    out["long_member"] = outcome(lambda: rpc.build_installers([{"n" * MEGA: None}]))
    out["long_user_data_name"] = outcome(
        lambda: rpc.build_installers([{"percentage": 80, "owner": "owner"}],
                                     {"owner": {"public_key": KEY}, "u" * MEGA: {"public_key": KEY}}))
    out["long_build_id"] = outcome(lambda: rpc.get_urls("b" * MEGA))
    head = b"<?xml version='1.0'?><methodCall><methodName>get_urls</methodName><params><param><value><string>"
    tail = b"</string></value></param></params></methodCall>"
    out["long_element"] = raw(b"<?xml version='1.0'?><methodCall><" + b"e" * MEGA + b"/></methodCall>")
    out["attributes"] = raw(b"<?xml version='1.0'?><methodCall "
                            + b" ".join(b'a%d="x"' % i for i in range(80000)) + b"><methodName>api_version"
                            b"</methodName></methodCall>")
    out["references"] = raw(head + b"&#65;" * (MEGA // 5) + tail)
    out["comments"] = raw(head + b"<!--c-->" * (MEGA // 8) + tail)
    out["unclosed"] = raw(head + b"a" * MEGA)
    out["first_error_early"] = raw(b"<?xml version='1.0'?><methodCall><methodName>get_urls</methodName>"
                                   b"</oops>" + b"<x>" * (MEGA // 3))
    out["still_up"] = rpc.api_version()

elif case == "limits":
    build_id = sys.argv[3]
    # The limited client: build_installers until refused, api_version and get_urls never counted.
    limited = proxy("127.0.0.2")
    out["builds"] = [outcome(lambda i=i: build(i, "127.0.0.2")["build_id"]) for i in range(4)]
    out["api_version"] = outcome(limited.api_version)
    out["get_urls"] = outcome(lambda: limited.get_urls(build_id)["linux"])
    # Another address is counted apart; a trusted one (the clearinghouse) is never limited.
    out["other_client"] = outcome(lambda: build(10, "127.0.0.5")["build_id"])
    out["trusted"] = [outcome(lambda i=i: build(20 + i, "127.0.0.3")["build_id"]) for i in range(6)]
    path = "/%s/installers/linux/" % build_id
    out["downloads"] = [get(path, "127.0.0.2") for _ in range(3)]
    out["browser"] = get(path, "127.0.0.2", {"Accept": "text/html"})
    out["trusted_downloads"] = [get(path, "127.0.0.3")["status"] for _ in range(4)]
    # Behind a trusted proxy each forwarded client has its own bucket; a forged header from an
    # untrusted address counts against that address.
    out["proxied"] = [get(path, "127.0.0.4", {"X-Forwarded-For": "198.51.100.%d" % (i % 2 + 1)})["status"]
                      for i in range(4)]
    out["proxied_third"] = get(path, "127.0.0.4", {"X-Forwarded-For": "198.51.100.1"})
    out["forged"] = [get(path, "127.0.0.6", {"X-Forwarded-For": "198.51.100.%d" % (i + 10)})["status"]
                     for i in range(3)]

elif case == "downloads":
    count = int(sys.argv[3])
    ids = [build(i)["build_id"] for i in range(count)]
    results = [None] * count
    start = threading.Barrier(count)

    def fetch(i):
        start.wait()
        results[i] = get("/%s/installers/linux/" % ids[i])

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out["ids"] = ids
    out["first"] = results
    # The refused ones again, one at a time, as Retry-After says a client should.
    out["again"] = {i: get("/%s/installers/linux/" % ids[i]) for i in range(count)
                    if results[i]["status"] != 200}
    out["head"] = get("/%s/installers/linux/" % ids[0], method="HEAD")

print(json.dumps(out, indent=1))
