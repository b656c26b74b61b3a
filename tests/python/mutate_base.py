#!/usr/bin/env python3
"""Rewrites a base installer with one deliberate change, using tarfile/zipfile only.

Usage: mutate_base.py IN OUT ACTION [PATH]
  flip-byte PATH    change the first byte of the entry PATH (xor 1)
  signature-digit   change the last digit of seattle/seattle_repy/metainfo's signature
  remove PATH       leave the entry PATH out
  add PATH          add a small file PATH
  copy              change nothing (a plain tarfile/zipfile repack)

Everything else is copied entry by entry (names, modes, times), and the archive is repacked:
.tgz with tarfile "w:gz", .zip with zipfile (deflated).
"""
import io
import sys
import tarfile
import zipfile

METAINFO = "seattle/seattle_repy/metainfo"


def change(name, data, action, target):
    """The new bytes for an entry, None to drop it."""
    if action == "remove" and name == target:
        return None
    if action == "flip-byte" and name == target:
        return bytes([data[0] ^ 1]) + data[1:]
    if action == "signature-digit" and name == METAINFO:
        last = data[-1:]
        digit = b"1" if last != b"1" else b"2"
        return data[:-1] + digit
    return data


def main(argv):
    source, out, action = argv[0], argv[1], argv[2]
    target = argv[3] if len(argv) > 3 else None
    added = b"print('not signed')\n"
    if source.endswith(".zip"):
        with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
            for info in old.infolist():
                data = old.read(info)
                if not info.is_dir():
                    data = change(info.filename, data, action, target)
                    if data is None:
                        continue
                new.writestr(info, data)
            if action == "add":
                new.writestr(target, added)
        return 0
    with tarfile.open(source, "r:*") as old, tarfile.open(out, "w:gz") as new:
        for member in old.getmembers():
            data = old.extractfile(member).read() if member.isreg() else None
            if data is not None:
                data = change(member.name, data, action, target)
                if data is None:
                    continue
                member.size = len(data)
                new.addfile(member, io.BytesIO(data))
            else:
                new.addfile(member)
        if action == "add":
            info = tarfile.TarInfo(target)
            info.size = len(added)
            info.mode = 0o644
            new.addfile(info, io.BytesIO(added))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
