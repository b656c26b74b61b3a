#!/usr/bin/env python3
"""Independent check of a Seattle `metainfo` file (docs/formats.md#signed-metainfo), Python 3 standard library only.

Usage: verify_metainfo.py METAINFO PUBLICKEY_FILE [--tree SEATTLE_REPY_DIR]
       verify_metainfo.py --archive INSTALLER [--known PUBLICKEY_FILE]...

Checks that
  * the signature block is `\\n!<e n>!<timestamp>!<expiration>!None!None!<signature>`, its key is
    the given public key, and `signature^e mod n` equals the big-endian integer of
    0x01 + SHA-1(everything before the last "!");
  * every list line is `<path> <sha1 hex> <size>`;
  * with --tree: each listed file exists with that SHA-1 and size, and every file of the tree that
    docs/formats.md#signed-metainfo says must be listed (all but *.pyc, *.swp, *_repy.py, metainfo) is listed.
    `vesselinfo` may be present unlisted: customisation adds it after signing.

With --archive, reads a .tgz (tarfile) or .zip (zipfile) installer and prints one JSON object
{verdict, fingerprint, modified, missing, unlisted, unsigned} with the same verdicts as the core's
software check, by Seattle's rules: "not-signed" (no seattle/seattle_repy/metainfo),
"signature-fails" (bad signature, or a signer other than the key the node trusts: the
softwareupdatepublickey line of softwareupdater.py, else softwareupdater.publickey, the two
agreeing where both exist), "modified" (a listed file present but different, or an unlisted file
a node could run: .py .pyw .pyc .pyo .pyd .so .dll .r2py .repy, or an unlisted link),
"untrusted-key" (the signer is not one of --known nor Seattle's update key, read from
src/core/seattle-keys.ts), else "intact". Listed files that are absent are "missing" and allowed;
other unlisted files are "unsigned" and allowed. Exit 0 for intact only.

Prints one line per finding and exits 0 when everything holds, 1 otherwise. Written separately
from src/core/metainfo.ts on purpose, so the two implementations check each other.
"""
import hashlib
import os
import sys


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def must_be_listed(relative_path):
    name = relative_path
    return not (
        name.endswith(".pyc")
        or name.endswith(".swp")
        or name.endswith("_repy.py")
        or name == "metainfo"
        or name == "vesselinfo"
    )


PROGRAM = "seattle/seattle_repy/"


def extracted(name, is_zip):
    # Where an extractor writes the entry, case-folded (docs/formats.md, "Entry paths").
    if is_zip:
        name = name.replace("\\", "/")
    return "/".join(p for p in name.split("/") if p not in ("", ".")).lower()


def archive_files(path):
    """path -> bytes (None for entries that are not regular files); later entries win."""
    import tarfile
    import zipfile

    files = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                kind = (info.external_attr >> 16) & 0o170000
                regular = info.create_system != 3 or kind in (0, 0o100000)
                files[extracted(info.filename, True)] = archive.read(info) if regular else None
    else:
        with tarfile.open(path, "r:*") as archive:
            for member in archive.getmembers():
                if member.isdir():
                    continue
                data = archive.extractfile(member).read() if member.isreg() else None
                files[extracted(member.name, False)] = data
    return files


def seattle_update_key():
    here = os.path.dirname(os.path.abspath(__file__))
    source = open(os.path.join(here, "..", "..", "src", "core", "seattle-keys.ts")).read()
    start = source.index("SEATTLE_UPDATE_KEY =")
    return source[start:].split("'")[1]


def fingerprint(key_text):
    e, n = (int(x) for x in key_text.split())
    hex_digits = hashlib.sha256(("%d %d" % (e, n)).encode()).hexdigest()[:16]
    return ":".join(hex_digits[i : i + 4] for i in range(0, 16, 4))


CODE_ENDINGS = (".py", ".pyw", ".pyc", ".pyo", ".pyd", ".so", ".dll", ".r2py", ".repy")


def updater_key(text):
    """The key softwareupdater.py assigns, as Seattle writes it; None when not exactly that."""
    import re

    lines = text.split("\n")
    assigned = [l.rstrip("\r") for l in lines if re.match(r"^[ \t]*softwareupdatepublickey[ \t]*=(?!=)", l)]
    if len(assigned) != 1:
        return None
    match = re.match(
        r"^softwareupdatepublickey[ \t]*=[ \t]*\{[ \t]*'e'[ \t]*:[ \t]*([0-9]+)[ \t]*,"
        r"[ \t]*'n'[ \t]*:[ \t]*([0-9]+)[ \t]*\}[ \t]*(#.*)?$",
        assigned[0],
    )
    if not match:
        return None
    return "%d %d" % (int(match.group(1)), int(match.group(2)))


def node_key(program):
    """The key the node trusts for updates, or None when it cannot be established."""
    from_updater = from_file = None
    if "softwareupdater.py" in program:
        data = program["softwareupdater.py"]
        from_updater = updater_key(data.decode("latin-1")) if data is not None else None
        if from_updater is None:
            return None
    if "softwareupdater.publickey" in program:
        data = program["softwareupdater.publickey"]
        words = data.decode("latin-1").split() if data is not None else []
        if len(words) != 2 or not all(w.isdigit() for w in words):
            return None
        from_file = "%d %d" % (int(words[0]), int(words[1]))
    if from_updater and from_file and from_updater != from_file:
        return None
    return from_updater or from_file


def check_archive(path, known_files):
    files = archive_files(path)
    program = {p[len(PROGRAM):]: d for p, d in files.items() if p.startswith(PROGRAM)}
    report = {
        "verdict": None,
        "fingerprint": None,
        "modified": [],
        "missing": [],
        "unlisted": [],
        "unsigned": [],
    }
    skip = ("metainfo", "vesselinfo")

    def sort_unlisted(names):
        for name in sorted(names):
            if name in skip:
                continue
            refused = program[name] is None or name.lower().endswith(CODE_ENDINGS)
            (report["unlisted"] if refused else report["unsigned"]).append(name)

    if program.get("metainfo") is None:
        report["verdict"] = "not-signed"
        sort_unlisted(program)
        return report
    raw = program["metainfo"]
    signed, _bang, signature = raw.rpartition(b"!")
    parts = signed.rsplit(b"!", 5)
    ok = len(parts) == 6
    listed = {}
    if ok:
        body, key_field, _ts, _exp, _seq, _dest = parts
        try:
            e, n = (int(x) for x in key_field.decode("ascii").split(" "))
            report["fingerprint"] = fingerprint(key_field.decode("ascii"))
            digest = hashlib.sha1(signed).digest()
            ok = (
                key_field.decode("ascii") == "%d %d" % (e, n)
                and signature.startswith(b" ")
                and signature[1:].isdigit()
                and pow(int(signature[1:]), e, n) == int.from_bytes(b"\x01" + digest, "big")
                and body.endswith(b"\n")
            )
        except ValueError:
            ok = False
        if ok:
            for line in body[:-1].decode("latin-1").split("\n"):
                if line.strip() == "":
                    continue
                fields = line.split(" ")
                if len(fields) != 3:
                    ok = False
                    break
                listed[fields[0]] = (fields[1], int(fields[2]))
        ok = ok and node_key(program) == "%d %d" % (e, n)
    if not ok:
        report["verdict"] = "signature-fails"
        return report
    for name, (sha1_hex, size) in sorted(listed.items()):
        if name.lower() not in program:
            report["missing"].append(name)
            continue
        data = program[name.lower()]
        if data is None or hashlib.sha1(data).hexdigest() != sha1_hex or len(data) != size:
            report["modified"].append(name)
    names = {n.lower() for n in listed}
    sort_unlisted(p for p in program if p not in names)
    if report["modified"] or report["unlisted"]:
        report["verdict"] = "modified"
        return report
    known = {fingerprint(seattle_update_key())}
    for known_file in known_files:
        with open(known_file) as handle:
            known.add(fingerprint(handle.read()))
    report["verdict"] = "intact" if report["fingerprint"] in known else "untrusted-key"
    return report


def archive_main(argv):
    import json

    path = argv[1]
    known = []
    rest = argv[2:]
    while rest:
        if rest[0] != "--known" or len(rest) < 2:
            print(__doc__)
            return 2
        known.append(rest[1])
        rest = rest[2:]
    report = check_archive(path, known)
    print(json.dumps(report))
    return 0 if report["verdict"] == "intact" else 1


def main(argv):
    if argv and argv[0] == "--archive" and len(argv) >= 2:
        return archive_main(argv)
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--tree"):
        print(__doc__)
        return 2
    with open(argv[0], "rb") as handle:
        raw = handle.read()
    with open(argv[1], "rb") as handle:
        key_words = handle.read().decode("ascii").split()
    if len(key_words) != 2:
        fail("the public key file is not 'e n'")
    e, n = int(key_words[0]), int(key_words[1])

    signed, bang, signature = raw.rpartition(b"!")
    if not bang:
        fail("no '!' in the metainfo")
    parts = signed.rsplit(b"!", 5)
    if len(parts) != 6:
        fail("the signature block does not have six '!' fields")
    body, key_field, timestamp, expiration, sequence, destination = parts
    if key_field.decode("ascii") != "%d %d" % (e, n):
        fail("the metainfo names another public key")
    if sequence != b"None" or destination != b"None":
        fail("sequence number and destination must be None")
    int(timestamp)
    int(expiration)
    if not signature.startswith(b" ") or not signature[1:].isdigit():
        fail("the signature is not ' <decimal>'")

    digest = hashlib.sha1(signed).digest()
    expected = int.from_bytes(b"\x01" + digest, "big")
    if pow(int(signature[1:]), e, n) != expected:
        fail("bad signature")
    print("signature ok: timestamp %s expiration %s" % (timestamp.decode(), expiration.decode()))

    # The block was appended as "\n!..." to a list whose lines each end in "\n".
    if not body.endswith(b"\n"):
        fail("the signature block does not start on its own line")
    listed = {}
    for number, line in enumerate(body[:-1].decode("ascii").split("\n"), start=1):
        if line.strip() == "":
            continue
        fields = line.split(" ")
        if len(fields) != 3 or len(fields[1]) != 40 or not fields[2].isdigit():
            fail("line %d is not '<path> <sha1> <size>': %r" % (number, line))
        int(fields[1], 16)
        listed[fields[0]] = (fields[1], int(fields[2]))
    print("%d files listed" % len(listed))

    if len(argv) == 4:
        tree = argv[3]
        for path, (sha1_hex, size) in sorted(listed.items()):
            full = os.path.join(tree, *path.split("/"))
            if not os.path.isfile(full):
                fail("listed file missing from the tree: " + path)
            with open(full, "rb") as handle:
                data = handle.read()
            if hashlib.sha1(data).hexdigest() != sha1_hex or len(data) != size:
                fail("listed file differs from the tree: " + path)
        for root, _dirs, files in os.walk(tree):
            for name in files:
                relative = os.path.relpath(os.path.join(root, name), tree).replace(os.sep, "/")
                if must_be_listed(relative) and relative not in listed:
                    fail("file in the tree but not listed: " + relative)
        print("tree ok: every listed file matches and every program file is listed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
