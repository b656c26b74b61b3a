#!/usr/bin/env python3
"""Extracts archives with every extractor the differential tests compare against, each into a
folder of its own, and prints the trees they leave as JSON.

Usage: extract.py DIR    (reads DIR/extract.json: [{"id", "file", "kind"}])

Prints {id: {extractor: {"status": exit code or exception name, "tree": [[path, type, detail]]}}}
where type is "dir", "file" (detail: SHA-256 of the bytes), "symlink" (detail: the target) or
"other". Extractors: for tgz GNU tar, bsdtar and Python's tarfile with the "data" and the
"fully_trusted" filter; for zip (and exe) unzip, Python's zipfile, 7-Zip, and bsdtar reading the
file (central directory) and reading a pipe (local headers, as Java's ZipInputStream does).
The caller runs this in a sandbox: a hostile archive may make an extractor write outside its
folder.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ENV = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
TIMEOUT = 60


def tree_of(root):
    items = []

    def walk(folder, prefix):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            items.append([prefix or ".", "unreadable", type(error).__name__])
            return
        for entry in entries:
            path = prefix + entry.name
            if entry.is_symlink():
                items.append([path, "symlink", os.readlink(entry.path)])
            elif entry.is_dir(follow_symlinks=False):
                items.append([path, "dir", None])
                walk(entry.path, path + "/")
            elif entry.is_file(follow_symlinks=False):
                try:
                    with open(entry.path, "rb") as f:
                        items.append([path, "file", hashlib.sha256(f.read()).hexdigest()])
                except OSError as error:
                    items.append([path, "unreadable", type(error).__name__])
            else:
                items.append([path, "other", None])

    walk(root, "")
    return items


def run(cmd, **kwargs):
    try:
        return subprocess.run(cmd, env=ENV, capture_output=True, timeout=TIMEOUT, **kwargs).returncode
    except subprocess.TimeoutExpired:
        return "timeout"


def python_tar(file, out, filter_name):
    with tarfile.open(file) as tar:
        tar.extractall(out, filter=filter_name)
    return 0


def python_zip(file, out):
    with zipfile.ZipFile(file) as z:
        z.extractall(out)
    return 0


def extractors(kind):
    if kind == "tgz":
        return {
            "gnutar": lambda f, d: run(["tar", "--no-same-owner", "-xzf", f, "-C", d]),
            "bsdtar": lambda f, d: run(["bsdtar", "--no-same-owner", "-xf", f, "-C", d]),
            "python-data": lambda f, d: python_tar(f, d, "data"),
            "python-trusted": lambda f, d: python_tar(f, d, "fully_trusted"),
        }
    return {
        "unzip": lambda f, d: run(["unzip", "-qo", f, "-d", d]),
        "python-zipfile": python_zip,
        "7z": lambda f, d: run(["7z", "x", "-y", "-bd", "-o" + d, f]),
        "bsdtar": lambda f, d: run(["bsdtar", "-xf", f, "-C", d]),
        "bsdtar-pipe": lambda f, d: run(["bsdtar", "-xf", "-", "-C", d], input=open(f, "rb").read()),
    }


def main(folder):
    cases = json.load(open(os.path.join(folder, "extract.json")))
    results = {}
    for case in cases:
        file = os.path.join(folder, case["file"])
        found = {}
        for name, extract in extractors(case["kind"]).items():
            out = tempfile.mkdtemp(dir=folder, prefix="x-")
            try:
                status = extract(file, out)
            except Exception as error:  # noqa: BLE001 - any failure is the extractor's verdict
                status = type(error).__name__
            found[name] = {"status": status, "tree": tree_of(out)}
            subprocess.run(["chmod", "-R", "u+rwx", out], capture_output=True)
            shutil.rmtree(out, ignore_errors=True)
        results[case["id"]] = found
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
