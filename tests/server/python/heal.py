"""A damaged build record heals (issue: the store heals). Usage: heal.py XMLRPC_URL DATA_DIR KEY.
For each kind of damage: build, damage the record file on disk, see the URLs and get_urls
refuse it clearly, call build_installers again, and download every URL with urllib, reading each
archive with tarfile/zipfile. Prints one JSON object."""
import io
import json
import os
import sys
import tarfile
import urllib.error
import urllib.request
import xmlrpc.client
import zipfile

url, data_dir, key = sys.argv[1:4]
proxy = xmlrpc.client.ServerProxy(url)
VESSELINFO = "seattle/seattle_repy/vesselinfo"


def damage_truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def damage_garble(path):
    """Same size, one byte changed: only reading the content can tell."""
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0x01
        f.seek(0)
        f.write(bytes(data))


def damage_empty(path):
    open(path, "wb").close()


def fetch(address):
    try:
        with urllib.request.urlopen(address) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def vesselinfo_of(platform, body):
    if platform in ("linux", "mac"):
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            return archive.extractfile(VESSELINFO).read().decode()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return archive.read(VESSELINFO).decode()


results = {}
for name, damage in [("truncated", damage_truncate), ("garbled", damage_garble), ("empty", damage_empty)]:
    vessels = [{"percentage": 80, "owner": "owner" + name}]
    user_data = {"owner" + name: {"public_key": key}}
    first = proxy.build_installers(vessels, user_data)
    build_id = first["build_id"]
    path = os.path.join(data_dir, "builds", build_id[:2], build_id + ".json")
    with open(path, "rb") as f:
        original = f.read()
    damage(path)
    entry = {"damaged_differs": open(path, "rb").read() != original}
    status, body = fetch(first["installers"]["linux"])
    entry["damaged_status"] = status
    entry["damaged_body"] = body.decode("utf-8", "replace")
    try:
        proxy.get_urls(build_id)
        entry["damaged_get_urls"] = "no fault"
    except xmlrpc.client.Fault as fault:
        entry["damaged_get_urls"] = fault.faultString
    again = proxy.build_installers(vessels, user_data)
    entry["same_id"] = again["build_id"] == build_id
    entry["same_urls"] = again["installers"] == first["installers"]
    with open(path, "rb") as f:
        entry["record_restored"] = f.read() == original
    entry["get_urls"] = proxy.get_urls(build_id) == first["installers"]
    entry["downloads"] = {}
    for platform, address in sorted(again["installers"].items()):
        status, body = fetch(address)
        entry["downloads"][platform] = {
            "status": status,
            "owner_line": status == 200 and ("Owner " + key) in vesselinfo_of(platform, body)}
    results[name] = entry
print(json.dumps(results, indent=1))
