"""Downloads every platform's installer the way the old integration test did (a plain HTTP
client, no browser), checks each archive with tarfile/zipfile, extracts it, and runs the demo
linux installer's `install.sh --dry-run`. Usage: installers.py XMLRPC_URL BASES_DIR WORK_DIR.
Prints one JSON object with what it found."""
import json
import os
import subprocess
import sys
import tarfile
import urllib.request
import xmlrpc.client
import zipfile

url, bases_dir, work = sys.argv[1:4]
VESSELINFO = "seattle/seattle_repy/vesselinfo"
BASE_FILES = {"linux": "seattle_linux.tgz", "mac": "seattle_mac.tgz",
              "windows": "seattle_win.zip", "android": "seattle_android.zip"}

built = xmlrpc.client.ServerProxy(url).build_installers(
    [{"percentage": 60, "owner": "alice", "users": ["bob"]}, {"percentage": 20, "owner": "carl"}],
    {"alice": {"public_key": "12345 54321"}, "bob": {"public_key": "3 1000003"}})
out = {"build_id": built["build_id"], "users": built["users"], "platforms": {}}


def names_of(path):
    if path.endswith(".tgz"):
        with tarfile.open(path, "r:gz") as archive:
            return [m.name + ("/" if m.isdir() else "") for m in archive.getmembers()]
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


for platform, address in sorted(built["installers"].items()):
    with urllib.request.urlopen(address) as response:
        body = response.read()
        headers = response.headers
    fmt = "tgz" if platform in ("linux", "mac") else "zip"
    path = os.path.join(work, "seattle_%s.%s" % (platform, fmt))
    with open(path, "wb") as f:
        f.write(body)
    target = os.path.join(work, platform)
    if fmt == "tgz":
        with tarfile.open(path, "r:gz") as archive:
            vesselinfo = archive.extractfile(VESSELINFO).read().decode("ascii")
            archive.extractall(target, filter="data")
    else:
        with zipfile.ZipFile(path) as archive:
            if archive.testzip() is not None:
                raise SystemExit("corrupt zip member in " + platform)
            vesselinfo = archive.read(VESSELINFO).decode("ascii")
            archive.extractall(target)
    with open(os.path.join(target, VESSELINFO), encoding="ascii") as f:
        extracted = f.read()
    out["platforms"][platform] = {
        "status": response.status,
        "content_type": headers["Content-Type"],
        "content_length": int(headers["Content-Length"]),
        "disposition": headers["Content-Disposition"],
        "size": len(body),
        "vesselinfo": vesselinfo,
        "extracted_vesselinfo": extracted,
        "names": names_of(path),
        "base_names": names_of(os.path.join(bases_dir, BASE_FILES[platform])),
    }

dry = subprocess.run(["sh", os.path.join(work, "linux", "seattle", "install.sh"), "--dry-run"],
                     capture_output=True, text=True, timeout=60)
out["dry_run"] = {"status": dry.returncode, "stdout": dry.stdout, "stderr": dry.stderr}
print(json.dumps(out, indent=1))
