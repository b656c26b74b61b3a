"""Installer downloads under the server's download budget, through Python's own clients (README,
"Security and limits"). Usage: bandwidth.py CASE ORIGIN [ARGS]. Prints one JSON object.

  downloads ORIGIN FIRST COUNT   COUNT builds (owners FIRST, FIRST+1, ...) made with xmlrpc.client,
                                 then their linux installers downloaded at once, one thread each
  leave ORIGIN                   one build's linux installer: 64 KiB read, then the socket closed
"""
import hashlib
import http.client
import io
import json
import sys
import tarfile
import threading
import time
import urllib.parse
import xmlrpc.client

case, origin = sys.argv[1], sys.argv[2]
parts = urllib.parse.urlsplit(origin)
KEY = "3 1000003"


def build(owner):
    """A build with one vessel for `owner`; its linux installer's path."""
    proxy = xmlrpc.client.ServerProxy(origin + "/xmlrpc/")
    answer = proxy.build_installers([{"percentage": 80, "owner": owner}],
                                    {owner: {"public_key": KEY}})
    return urllib.parse.urlsplit(answer["installers"]["linux"]).path


def download(path, results, index):
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    started = time.monotonic()
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        data = response.read()
        entry = {"status": response.status, "length": response.getheader("Content-Length"),
                 "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        if response.status == 200:
            # Read whole by Python's tarfile: a paced stream is still one valid archive.
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                entry["members"] = len(archive.getmembers())
    finally:
        connection.close()
    entry["seconds"] = round(time.monotonic() - started, 3)
    results[index] = entry


if case == "downloads":
    first, count = int(sys.argv[3]), int(sys.argv[4])
    paths = [build(f"owner{first + i}") for i in range(count)]
    results = [None] * count
    threads = [threading.Thread(target=download, args=(p, results, i)) for i, p in enumerate(paths)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"downloads": results, "seconds": round(time.monotonic() - started, 3)}))
elif case == "leave":
    path = build("leaver")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.request("GET", path)
    response = connection.getresponse()
    read = len(response.read(64 * 1024))
    # Gone with most of the installer unread: the server sees the connection reset.
    response.close()
    connection.close()
    print(json.dumps({"status": response.status, "length": response.getheader("Content-Length"),
                      "read": read}))
else:
    sys.exit(f"unknown case {case}")
