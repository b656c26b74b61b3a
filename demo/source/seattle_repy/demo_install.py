#!/usr/bin/env python3
"""DEMO installer for the Seattle Custom Installer Builder's demo base installers.

This is not Seattle. It installs nothing, starts nothing and changes nothing on this machine.
It reads seattle_repy/vesselinfo (the file a custom installer adds to the base installer),
checks it with the rules the real node-side installer enforces (vesselinfo section of the
project's spec), and prints the vessels a real install would create: names v1, v2, ..., shares,
port ranges and a fingerprint of every key.

Usage: demo_install.py [--dry-run] [--platform NAME]
Exit status: 0 when the vesselinfo is valid, 1 when it is missing or invalid, 2 for bad usage.
Python 3 standard library only.
"""
import hashlib
import os
import re
import sys

PERCENT_LABEL = "Percent"
OWNER_LABEL = "Owner"
USER_LABEL = "User"
LABELS = (PERCENT_LABEL, OWNER_LABEL, USER_LABEL)
MIN_PERCENT = 10
MAX_PERCENT = 100
PERCENT_STEP = 10
# Vessel k gets ports FIRST_PORT + PORTS_PER_STEP * a .. FIRST_PORT + PORTS_PER_STEP * b - 1,
# a = earlier vessels' percentages / 10, b = a + its own percentage / 10.
FIRST_PORT = 63100
PORTS_PER_STEP = 10
# Same as the builder's key fingerprint: SHA-256 of the canonical "e n" string, first 16 hex
# digits in groups of four (src/core/keys.ts `fingerprint`; a test keeps the two in sync).
FINGERPRINT_HEX_DIGITS = 16
MAX_KEY_DIGITS = 10000

DECIMAL = re.compile(r"^[0-9]+$")
PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")

HERE = os.path.dirname(os.path.abspath(__file__))
VESSELINFO = os.path.join(HERE, "vesselinfo")


def fingerprint(key):
    digest = hashlib.sha256(key.encode("ascii")).hexdigest()[:FINGERPRINT_HEX_DIGITS]
    return ":".join(digest[i : i + 4] for i in range(0, FINGERPRINT_HEX_DIGITS, 4))


def parse_key(e_text, n_text):
    """Returns (canonical "e n", problem or None). Seattle's rule: positive integers, e < n."""
    for name, text in (("e", e_text), ("n", n_text)):
        if not DECIMAL.match(text):
            return None, "the key's %s must be a positive decimal integer" % name
        if len(text) > MAX_KEY_DIGITS:
            return None, "the key's %s is too long" % name
        if int(text) == 0:
            return None, "the key's %s must be positive, not 0" % name
    e, n = int(e_text), int(n_text)
    if e >= n:
        return None, "the key's exponent e must be smaller than its modulus n"
    return "%d %d" % (e, n), None


def parse_vesselinfo(text):
    """Returns (vessels, problems); a vessel is {"percent", "owner", "users"}."""
    problems = []
    vessels = []
    owner_seen = []
    percent_lines = []
    body = text[:-1] if text.endswith("\n") else text
    if body == "":
        return vessels, ["line 1: the vesselinfo file is empty; it needs at least one vessel"]
    total = 0
    last_percent_line = 0
    for number, line in enumerate(body.split("\n"), start=1):
        where = "line %d: " % number
        if line == "":
            problems.append(where + "empty lines are not allowed")
            continue
        if not PRINTABLE_ASCII.match(line):
            problems.append(where + "the line holds a character that is not printable ASCII")
            continue
        words = line.split(" ")
        label = words[0]
        if label not in LABELS:
            problems.append(where + 'the line must start with "Percent", "Owner" or "User" '
                            "(labels are case-sensitive)")
            continue
        expected = 2 if label == PERCENT_LABEL else 3
        if len(words) != expected or "" in words:
            problems.append(where + "the line must be %s, separated by single spaces"
                            % ('"Percent N"' if label == PERCENT_LABEL else '"%s e n"' % label))
            continue
        if label == PERCENT_LABEL:
            last_percent_line = number
            percent = None
            if not DECIMAL.match(words[1]):
                problems.append(where + "the percentage must be a whole number")
            else:
                percent = int(words[1])
                total += percent
                if percent < MIN_PERCENT or percent > MAX_PERCENT or percent % PERCENT_STEP:
                    problems.append(where + "the percentage must be a multiple of %d from %d to %d"
                                    % (PERCENT_STEP, MIN_PERCENT, MAX_PERCENT))
            vessels.append({"percent": percent, "owner": None, "users": []})
            owner_seen.append(False)
            percent_lines.append(number)
            continue
        if not vessels:
            problems.append(where + 'an "%s" line must follow the "Percent" line of its vessel'
                            % label)
            continue
        key, key_problem = parse_key(words[1], words[2])
        if key_problem:
            problems.append(where + key_problem)
        if label == OWNER_LABEL:
            if owner_seen[-1]:
                problems.append(where + "this vessel already has an owner; a vessel has exactly one")
            else:
                owner_seen[-1] = True
                vessels[-1]["owner"] = key
        elif key is not None:
            vessels[-1]["users"].append(key)
    for index, seen in enumerate(owner_seen):
        if not seen:
            problems.append("line %d: this vessel has no \"Owner\" line" % percent_lines[index])
    if not vessels and not problems:
        problems.append('line 1: the vesselinfo file has no "Percent" line')
    if vessels and all(v["percent"] is not None for v in vessels) and total != MAX_PERCENT:
        problems.append("line %d: the percentages add up to %d; the node requires exactly %d"
                        % (last_percent_line, total, MAX_PERCENT))
    return vessels, problems


def node_vessels(vessels):
    steps = 0
    named = []
    for index, vessel in enumerate(vessels, start=1):
        first = steps
        steps += vessel["percent"] // PERCENT_STEP
        named.append(dict(vessel, name="v%d" % index,
                          ports=(FIRST_PORT + PORTS_PER_STEP * first,
                                 FIRST_PORT + PORTS_PER_STEP * steps - 1)))
    return named


def main(argv):
    dry_run = False
    platform = "this machine"
    args = list(argv)
    while args:
        word = args.pop(0)
        if word == "--dry-run":
            dry_run = True
        elif word == "--platform" and args:
            platform = args.pop(0)
        elif word in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            print("demo installer: unknown option %r (try --help)" % word, file=sys.stderr)
            return 2

    print("Seattle DEMO installer for %s: it only shows what a real install would do."
          % platform)
    if dry_run:
        print("Dry run requested.")
    try:
        with open(VESSELINFO, "rb") as handle:
            raw = handle.read()
    except OSError:
        print("demo installer: seattle_repy/vesselinfo is missing; this is a base installer, "
              "not a custom one. Build a custom installer first.", file=sys.stderr)
        return 1
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        print("demo installer: seattle_repy/vesselinfo is not plain ASCII text.", file=sys.stderr)
        return 1
    vessels, problems = parse_vesselinfo(text)
    if problems:
        print("demo installer: seattle_repy/vesselinfo is invalid; the node would refuse it:",
              file=sys.stderr)
        for message in problems:
            print("  " + message, file=sys.stderr)
        return 1

    print("vesselinfo is valid: %d vessel%s would be created." % (len(vessels),
                                                                    "" if len(vessels) == 1 else "s"))
    for vessel in node_vessels(vessels):
        print("%s %d%% ports %d-%d owner %s" % (vessel["name"], vessel["percent"],
                                                vessel["ports"][0], vessel["ports"][1],
                                                fingerprint(vessel["owner"])))
        for user in vessel["users"]:
            print("  user %s" % fingerprint(user))
    print("demo installer: nothing was installed.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
