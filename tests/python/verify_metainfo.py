#!/usr/bin/env python3
"""Independent check of a Seattle `metainfo` file (spec section 9), Python 3 standard library only.

Usage: verify_metainfo.py METAINFO PUBLICKEY_FILE [--tree SEATTLE_REPY_DIR]

Checks that
  * the signature block is `\\n!<e n>!<timestamp>!<expiration>!None!None!<signature>`, its key is
    the given public key, and `signature^e mod n` equals the big-endian integer of
    0x01 + SHA-1(everything before the last "!");
  * every list line is `<path> <sha1 hex> <size>`;
  * with --tree: each listed file exists with that SHA-1 and size, and every file of the tree that
    spec section 9 says must be listed (all but *.pyc, *.swp, *_repy.py, metainfo) is listed.
    `vesselinfo` may be present unlisted: customisation adds it after signing.

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


def main(argv):
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
