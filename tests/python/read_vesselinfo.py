#!/usr/bin/env python3
"""Reads a vesselinfo file the way the node-side installer does (docs/formats.md#vesselinfo).

Usage: read_vesselinfo.py FILE

Prints the vessels the node would create as JSON on stdout:
  [{"name": "v1", "percent": 60, "owner": "e n", "users": ["e n"], "ports": [63100, 63159]}, ...]
or exits 1 with "line N: problem" on stderr. Python 3 standard library only; written from the
spec, independently of the TypeScript parser, so the two check each other.
"""
import json
import sys

FIRST_PORT = 63100
PORTS_PER_STEP = 10


class VesselinfoError(Exception):
    pass


def parse_key(text, line_number):
    """Seattle's rule (docs/formats.md#keys): two positive decimal integers "e n" with e < n."""
    parts = text.split(" ")
    if len(parts) != 2 or not all(p.isdigit() and p.isascii() for p in parts):
        raise VesselinfoError("line %d: not a public key \"e n\"" % line_number)
    e, n = int(parts[0]), int(parts[1])
    if e <= 0 or n <= 0 or e >= n:
        raise VesselinfoError("line %d: a public key needs 0 < e < n" % line_number)
    return "%d %d" % (e, n)


def read_vesselinfo(data):
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise VesselinfoError("the file is not plain ASCII")
    # A single trailing newline is harmless; anything else empty is a blank line.
    if text.endswith("\n"):
        text = text[:-1]
    if text == "":
        raise VesselinfoError("line 1: the file is empty")
    vessels = []
    for index, line in enumerate(text.split("\n")):
        number = index + 1
        if line == "":
            raise VesselinfoError("line %d: empty line" % number)
        label, _, rest = line.partition(" ")
        if label == "Percent":
            if not (rest.isdigit() and rest.isascii()):
                raise VesselinfoError("line %d: the percentage is not a whole number" % number)
            percent = int(rest)
            if percent < 10 or percent > 100 or percent % 10 != 0:
                raise VesselinfoError("line %d: %d is not a multiple of 10 from 10 to 100" % (number, percent))
            vessels.append({"percent": percent, "owner": None, "users": []})
        elif label in ("Owner", "User"):
            if not vessels:
                raise VesselinfoError("line %d: %s before any Percent" % (number, label))
            key = parse_key(rest, number)
            vessel = vessels[-1]
            if label == "Owner":
                if vessel["owner"] is not None:
                    raise VesselinfoError("line %d: a second owner" % number)
                vessel["owner"] = key
            else:
                vessel["users"].append(key)
        else:
            raise VesselinfoError("line %d: unknown label %r" % (number, label))
    for vessel in vessels:
        if vessel["owner"] is None:
            raise VesselinfoError("a vessel has no owner")
    total = sum(v["percent"] for v in vessels)
    if total != 100:
        raise VesselinfoError("the percentages add up to %d, not 100" % total)
    steps = 0
    for k, vessel in enumerate(vessels):
        a = steps
        b = a + vessel["percent"] // 10
        steps = b
        vessel["name"] = "v%d" % (k + 1)
        vessel["ports"] = [FIRST_PORT + PORTS_PER_STEP * a, FIRST_PORT + PORTS_PER_STEP * b - 1]
    return vessels


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        data = f.read()
    try:
        vessels = read_vesselinfo(data)
    except VesselinfoError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(json.dumps(vessels))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
