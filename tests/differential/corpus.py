#!/usr/bin/env python3
"""The seeded corpus of the differential tests (docs/formats.md, "Strict archive profile").

Usage: corpus.py --seed S --count N --out DIR [--tricks]

Writes N archives (tgz and zip) into DIR and DIR/cases.json, made three ways:

- "python": a random tree written by Python's tarfile (PAX, GNU and ustar formats) or zipfile;
- "tools":  a random tree on disk archived by GNU tar (gnu, posix, ustar), bsdtar, Info-ZIP zip
            or 7-Zip;
- "mutant": an archive of the first two kinds with its header fields, names, records and layout
            changed at the byte level.

With --tricks, the archive tricks of tests/python/profile_tricks.py come first, built on a small
generated base. The same seed gives the same archives (tool versions aside).
"""
import argparse
import gzip
import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import zipfile
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import profile_tricks  # noqa: E402

SAFE_PARTS = ["seattle", "seattle_repy", "nmmain.py", "install.sh", "README.txt", "lib", "a",
              "b.txt", "Data", "repyV2", "x-y_z.py", "metainfo", "v1", "tests", "sub"]
TRICKY_PARTS = [
    "NMMAIN.py", "Seattle", "x y", "\u00fcn\u00ef.py", "e\u0301.txt", "\u00e9.txt", "CON",
    "aux.txt", "file.", "file ", "SOFTWA~1.PY", "a:b", "a\\b", "\u03a9", "\u01c5", "\u00df", "SS",
    "\ufb01", "\u212a", ".hidden", "..", ".", "\u200cnmmain.py", "tab\there", "l" * 120,
    "m" * 300, "nul\0x", "q?", "star*", "\u00c5", "A\u030a", "\u0130", "i\u0307",
]


class Tree:
    """A random tree: (path, kind, data, mode, link) tuples in archive order."""

    def __init__(self, rng, tricky):
        self.rng = rng
        self.tricky = tricky
        self.items = []

    def part(self):
        if self.tricky and self.rng.random() < 0.25:
            return self.rng.choice(TRICKY_PARTS)
        name = self.rng.choice(SAFE_PARTS)
        if self.rng.random() < 0.7:
            stem, dot, ext = name.partition(".")
            name = "%s%d%s%s" % (stem, self.rng.randrange(1000), dot, ext)
        return name

    def data(self):
        r = self.rng.random()
        if r < 0.1:
            return b""
        if r < 0.15:
            return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randrange(60000, 80000)))
        return ("%s\n" % self.rng.random()).encode() * self.rng.randrange(1, 40)

    def build(self):
        rng = self.rng
        dirs = ["seattle"]
        self.items.append(("seattle", "dir", b"", 0o755, None))
        for _ in range(rng.randrange(1, 12)):
            parent = rng.choice(dirs)
            name = parent + "/" + self.part()
            r = rng.random()
            if r < 0.25:
                dirs.append(name)
                self.items.append((name, "dir", b"", rng.choice([0o755, 0o700, 0o775]), None))
            elif self.tricky and r < 0.32:
                target = rng.choice(["seattle_repy", "b.txt", "../x", "/etc", "lib"])
                self.items.append((name, "symlink", b"", 0o777, target))
            elif self.tricky and r < 0.35:
                self.items.append((name, "hardlink", b"", 0o644, rng.choice(self.files() or ["seattle/a"])))
            else:
                mode = rng.choice([0o644, 0o755, 0o600] + ([0o4755, 0o000, 0o1777] if self.tricky else []))
                self.items.append((name, "file", self.data(), mode, None))
        if rng.random() < 0.3 and self.files():
            # A duplicate or case variant of an existing file.
            path = rng.choice(self.files())
            if rng.random() < 0.5:
                path = path.upper() if rng.random() < 0.5 else path
            self.items.append((path, "file", self.data(), 0o644, None))
        if rng.random() < 0.2:
            rng.shuffle(self.items)
        return self

    def files(self):
        return [p for p, kind, *_ in self.items if kind == "file"]


def python_tar(tree, rng):
    fmt = rng.choice([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for path, kind, data, mode, link in tree.items:
            info = tarfile.TarInfo(path)
            info.mode = mode
            info.mtime = rng.choice([1700000000, 1700000000.25, 0])
            info.uid = rng.choice([0, 1000])
            info.uname = rng.choice(["", "root", "d\u00e9mo"])
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, link
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, link
            else:
                info.size = len(data)
            try:
                tar.addfile(info, io.BytesIO(data) if kind == "file" else None)
            except (ValueError, UnicodeError):
                pass  # a name this format cannot hold
    return out.getvalue(), "python tarfile %s" % {0: "ustar", 1: "gnu", 2: "pax"}[fmt]


def python_zip(tree, rng):
    out = io.BytesIO()
    method = rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
    with zipfile.ZipFile(out, "w", method) as z:
        for path, kind, data, mode, link in tree.items:
            if kind in ("symlink", "hardlink"):
                info = zipfile.ZipInfo(path, (2024, 1, 1, 0, 0, 0))
                info.create_system = 3
                info.external_attr = (0o120777 << 16)
                z.writestr(info, link)
                continue
            name = path + "/" if kind == "dir" else path
            info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            info.create_system = rng.choice([3, 3, 0])
            info.external_attr = ((0o40000 if kind == "dir" else 0o100000) | mode) << 16
            if kind == "dir":
                info.external_attr |= 0x10
            info.compress_type = method
            z.writestr(info, data)
    return out.getvalue(), "python zipfile"


def write_tree(tree, root):
    for path, kind, data, mode, link in tree.items:
        full = os.path.join(root, path)
        try:
            if kind == "dir":
                os.makedirs(full, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(full), exist_ok=True)
                if kind == "symlink":
                    os.symlink(link, full)
                elif kind == "file" and not os.path.lexists(full):
                    with open(full, "wb") as f:
                        f.write(data)
                    os.chmod(full, mode & 0o777 | 0o600)
        except (OSError, ValueError):
            pass


def tool_archive(tree, rng, work):
    root = tempfile.mkdtemp(dir=work)
    write_tree(tree, root)
    # zip and 7z add ".zip" to a name without an extension.
    out = os.path.join(work, "tool-out.zip")
    if os.path.exists(out):
        os.remove(out)
    tool = rng.choice(["gnutar", "gnutar-posix", "gnutar-ustar", "gnutar-dot", "bsdtar", "bsdtar-pax",
                       "zip", "zip-symlinks", "zip-stream", "7z"])
    env = dict(os.environ, LC_ALL="C.UTF-8")
    if tool.startswith("gnutar"):
        fmt = {"gnutar": "gnu", "gnutar-posix": "posix", "gnutar-ustar": "ustar", "gnutar-dot": "gnu"}[tool]
        what = "." if tool == "gnutar-dot" else "seattle"
        cmd = ["tar", "--format=" + fmt, "-cf", out, "-C", root, what]
        kind = "tgz"
    elif tool.startswith("bsdtar"):
        cmd = ["bsdtar", "-cf", out, "-C", root, "seattle"] + (["--format", "pax"] if tool == "bsdtar-pax" else [])
        kind = "tgz"
    elif tool == "7z":
        cmd = ["7z", "a", "-bd", "-tzip", out, "seattle"]
        kind = "zip"
    else:
        flags = {"zip": "-qr", "zip-symlinks": "-qry", "zip-stream": "-qr"}[tool]
        cmd = ["zip", flags, "-" if tool == "zip-stream" else out, "seattle"]
        kind = "zip"
    try:
        if tool == "zip-stream":
            data = subprocess.run(cmd, cwd=root, env=env, capture_output=True, timeout=20).stdout
        else:
            subprocess.run(cmd, cwd=root, env=env, capture_output=True, timeout=20)
            data = open(out, "rb").read() if os.path.exists(out) else b""
    except subprocess.TimeoutExpired:
        data = b""  # zip and 7z follow symbolic links, round and round a loop
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return data, kind, tool


# ---- tar mutations ---------------------------------------------------------------------------


def tar_blocks(raw):
    """Header offsets of a tar stream, walking sizes as GNU tar does (typeflags 0, x, g, L, K carry data)."""
    offsets = []
    at = 0
    while at + 512 <= len(raw):
        block = raw[at:at + 512]
        if block == bytes(512):
            break
        offsets.append(at)
        try:
            size = int(block[124:136].split(b"\0")[0].strip() or b"0", 8)
        except ValueError:
            size = 0
        has_data = block[156:157] not in (b"1", b"2", b"3", b"4", b"5", b"6")
        at += 512 + (-(-size // 512) * 512 if has_data else 0)
    return offsets, at


def fix_checksum(out, at):
    out[at + 148:at + 156] = b" " * 8
    out[at + 148:at + 156] = b"%06o\0 " % sum(out[at:at + 512])


def mutate_tar(raw, rng):
    offsets, end = tar_blocks(raw)
    out = bytearray(raw)
    if not offsets:
        return bytes(out), "empty"
    at = rng.choice(offsets)
    if rng.random() < 0.4:
        return mutate_tar_inside(raw, rng, offsets, end)
    op = rng.choice(["flip", "typeflag", "pax", "longname", "global", "duplicate", "rename", "tail",
                     "size", "gnu-prefix", "v7", "lone-zero", "field-garbage", "pax-size"])
    note = op
    if op == "flip":
        pos = at + rng.randrange(512)
        out[pos] = rng.getrandbits(8)
        note += " byte %d" % (pos - at)
    elif op == "typeflag":
        flag = rng.choice(b"01234567SgxKLVMDNX\0")
        out[at + 156] = flag
        note += " %r" % chr(flag)
    elif op in ("pax", "pax-size"):
        keys = [("path", [b"seattle/seattle_repy/nmmain.py", b"seattle/x\0.pyc", b"seattle//a", b"./seattle/a",
                          b"seattle/\xc3\xa9", b"/abs", b"seattle/../x", b"Seattle/A"]),
                ("size", [b"0", b"1024", b"12", b"x"]), ("mtime", [b"1.5", b"abc", b"-3"]),
                ("linkpath", [b"seattle"]), ("GNU.sparse.name", [b"seattle/a"]), ("hdrcharset", [b"BINARY"]),
                ("comment", [b"hi"]), ("uname", [b"x"]), ("SCHILY.xattr.user.x", [b"1"]), ("atime", [b"1"])]
        records = []
        for _ in range(rng.randrange(1, 4)):
            key, values = rng.choice(keys)
            if op == "pax-size":
                key, values = "size", [b"0", b"512", b"1"]
            records.append(profile_tricks.pax_record(key, rng.choice(values)))
        if rng.random() < 0.2:
            # A length counted wrongly.
            records[0] = str(int(records[0].split(b" ")[0]) + rng.choice([-2, -1, 1, 2])).encode() + records[0][records[0].index(b" "):]
        note += " " + b",".join(r.split(b"=")[0].split(b" ")[1] for r in records).decode()
        out[at:at] = profile_tricks.pax_header(records)
    elif op == "longname":
        name = rng.choice(["seattle/seattle_repy/nmmain.py", "seattle/" + "q" * 150, "seattle/a\0b", "Seattle/a"])
        data = name.encode() + (b"\0" if rng.random() < 0.8 else b"\0junk")
        out[at:at] = profile_tricks.header("././@LongLink", len(data), b"L", magic=b"ustar  \0") + profile_tricks.padded(data)
    elif op == "global":
        out[at:at] = profile_tricks.pax_header([profile_tricks.pax_record("path", b"seattle/g")], b"g", "pax_global_header")
    elif op == "duplicate":
        block = raw[at:at + 512]
        size = int(block[124:136].split(b"\0")[0].strip() or b"0", 8) if block[156:157] in (b"0", b"\0") else 0
        entry = bytearray(raw[at:at + 512 + -(-size // 512) * 512])
        if rng.random() < 0.5:
            name = entry[:100].split(b"\0")[0].upper()
            entry[:100] = name + bytes(100 - len(name))
            fix_checksum(entry, 0)
        out[end:end] = entry
    elif op == "rename":
        name = rng.choice(TRICKY_PARTS + ["seattle/" + p for p in TRICKY_PARTS]).encode("utf-8")[:99]
        if rng.random() < 0.3:
            name = b"seattle/\xff\xfe.bin"
        out[at:at + 100] = name + bytes(100 - len(name))
        fix_checksum(out, at)
        note += " %r" % name
    elif op == "tail":
        out.extend(rng.choice([b"garbage", bytes(512) + profile_tricks.entry("seattle/tail.txt", b"tail\n"), bytes(7)]))
    elif op == "size":
        block = out[at:at + 512]
        size = int(block[124:136].split(b"\0")[0].strip() or b"0", 8)
        out[at + 124:at + 136] = b"%011o\0" % max(0, size + rng.choice([-512, 512, 1, -1]))
    elif op == "gnu-prefix":
        out[at + 257:at + 265] = b"ustar  \0"
        out[at + 345:at + 360] = b"seattle_repy\0\0\0"
    elif op == "v7":
        out[at + 257:at + 265] = bytes(8)
    elif op == "lone-zero":
        out[at:at] = bytes(512)
    elif op == "field-garbage":
        field = rng.choice([(0, 100), (265, 32), (297, 32), (345, 155), (157, 100)])
        name_end = out[at + field[0]:at + field[0] + field[1]].find(b"\0")
        if 0 <= name_end < field[1] - 1:
            out[at + field[0] + field[1] - 1] = ord("z")
    if op not in ("flip",) or rng.random() < 0.7:
        for offset in tar_blocks(bytes(out))[0]:
            if offset == at:
                fix_checksum(out, at)
    return bytes(out), note


def mutate_tar_inside(raw, rng, offsets, end):
    """Changes that keep the archive inside the profile if the reader reads them right: times,
    owners, allowed pax records, base-256 sizes, a leading ./, extra zero blocks, reordering."""
    out = bytearray(raw)
    at = rng.choice(offsets)
    block = raw[at:at + 512]
    typeflag = block[156:157]
    op = rng.choice(["mtime", "owner", "pax-ok", "base256", "dot-slash", "zeros", "reorder", "pax-path-same",
                     "devfields", "checksum-spaces"])
    if op == "mtime":
        out[at + 136:at + 148] = rng.choice([b"%011o\0" % rng.randrange(8 ** 11), b"     1234 \0", b"\x80" + bytes(10) + b"\x05"])
    elif op == "owner":
        field = rng.choice([(108, 8), (116, 8), (265, 32), (297, 32)])
        value = rng.choice([b"0001750\0", b"nobody", b"d\xc3\xa9mo", b"7777777\0"])[:field[1]]
        out[at + field[0]:at + field[0] + field[1]] = value + bytes(field[1] - len(value))
    elif op in ("pax-ok", "pax-path-same") and typeflag in (b"0", b"5"):
        records = []
        if op == "pax-path-same" and block[257:263] == b"ustar\0" and block[345] == 0:
            records.append(profile_tricks.pax_record("path", block[:100].split(b"\0")[0]))
        for key, value in rng.sample([("mtime", b"1700000000.123456789"), ("atime", b"1.5"), ("ctime", b"2"),
                                      ("uname", b"d\xc3\xa9mo"), ("gname", b"staff"), ("uid", b"4294967296"),
                                      ("gid", b"0")], rng.randrange(1, 4)):
            records.append(profile_tricks.pax_record(key, value))
        if typeflag == b"0" and rng.random() < 0.5:
            size = int(block[124:136].split(b"\0")[0].strip() or b"0", 8)
            records.append(profile_tricks.pax_record("size", str(size).encode()))
        out[at:at] = profile_tricks.pax_header(records)
        return bytes(out), op
    elif op == "base256" and typeflag == b"0":
        size = int(block[124:136].split(b"\0")[0].strip() or b"0", 8)
        out[at + 124:at + 136] = b"\x80" + size.to_bytes(11, "big")
    elif op == "dot-slash":
        name = block[:100].split(b"\0")[0]
        if len(name) < 98 and not name.startswith(b"./"):
            name = b"./" + name
            out[at:at + 100] = name + bytes(100 - len(name))
    elif op == "zeros":
        out.extend(bytes(512 * rng.randrange(1, 30)))
    elif op == "reorder" and len(offsets) > 1:
        # Move the first entry (a folder, usually) to the end of the entries.
        first_end = offsets[1]
        out = bytearray(raw[first_end:end] + raw[:first_end] + raw[end:])
        return bytes(out), op
    elif op == "devfields":
        out[at + 329:at + 345] = rng.choice([b"0000000\x000000000\0", bytes(16), b"0000000 0000000 "])
    elif op == "checksum-spaces":
        out[at + 148:at + 156] = b" " * 8
        total = sum(out[at:at + 512])
        out[at + 148:at + 156] = (b"%o" % total).rjust(7) + b" "
        return bytes(out), op
    fix_checksum(out, at)
    return bytes(out), op


def gzip_members(tar, rng):
    """One gzip member, or several split at random points (as append-ready bases are)."""
    if rng.random() < 0.7:
        return gzip.compress(tar, 6, mtime=0)
    cuts = sorted(rng.sample(range(1, max(2, len(tar))), min(3, max(1, len(tar) - 1))))
    parts = [tar[a:b] for a, b in zip([0] + cuts, cuts + [len(tar)])]
    return b"".join(gzip.compress(p, 6, mtime=0) for p in parts)


# ---- zip mutations ---------------------------------------------------------------------------


def central_records(data):
    end = data.rfind(b"PK\x05\x06")
    if end < 0:
        return end, []
    count, size, at = struct.unpack_from("<HII", data, end + 10)
    records = []
    for _ in range(count):
        if data[at:at + 4] != b"PK\x01\x02":
            break
        n, e, c = struct.unpack_from("<HHH", data, at + 28)
        records.append(at)
        at += 46 + n + e + c
    return end, records


def mutate_zip(data, rng):
    out = bytearray(data)
    end, records = central_records(data)
    if not records:
        return bytes(out), "no records"
    rec = rng.choice(records)
    local = struct.unpack_from("<I", data, rec + 42)[0]
    if rng.random() < 0.4:
        op = rng.choice(["time", "comment-ok", "madeby", "internal", "archive-bit", "ut-both"])
        if op == "time":
            stamp = rng.getrandbits(32)
            struct.pack_into("<I", out, rec + 12, stamp)
            if rng.random() < 0.5:
                struct.pack_into("<I", out, local + 10, stamp)
        elif op == "comment-ok":
            comment = rng.choice([b"a base comment", b"START:not an exe", "caf\u00e9".encode()])
            struct.pack_into("<H", out, end + 20, len(comment))
            out = out[:end + 22] + comment
        elif op == "madeby":
            struct.pack_into("<H", out, rec + 4, rng.choice([0x0014, 0x0314, 0x0a3f, 0x0b14, 0x1314]))
        elif op == "internal":
            struct.pack_into("<H", out, rec + 36, rng.choice([0, 1, 2]))
        elif op == "archive-bit":
            attrs = struct.unpack_from("<I", out, rec + 38)[0]
            struct.pack_into("<I", out, rec + 38, attrs | 0x20 | rng.choice([0, 1, 2, 4]))
        elif op == "ut-both":
            field = struct.pack("<HHBI", 0x5455, 5, 1, 1700000000)
            n, e, c = struct.unpack_from("<HHH", data, rec + 28)
            ln, le = struct.unpack_from("<HH", data, local + 26)
            # Local first (it comes earlier in the file), then the central record and the end record.
            out[local + 30 + ln + le:local + 30 + ln + le] = field
            struct.pack_into("<H", out, local + 28, le + len(field))
            shift = len(field)
            for r in records:
                pos = r + shift + 42
                value = struct.unpack_from("<I", out, pos)[0]
                if value > local:
                    struct.pack_into("<I", out, pos, value + shift)
            r2 = rec + shift
            out[r2 + 46 + n + e:r2 + 46 + n + e] = field
            struct.pack_into("<H", out, r2 + 30, e + len(field))
            e2 = end + 2 * shift
            count, size, at = struct.unpack_from("<HII", out, e2 + 10)
            struct.pack_into("<II", out, e2 + 12, size + shift, at + shift)
        return bytes(out), op
    op = rng.choice(["flip-central", "flip-local", "name-central", "name-local", "extra", "flags",
                     "method", "unlisted", "stub", "comment", "trailing", "attrs", "version",
                     "duplicate", "nul-name", "dos-dir"])
    note = op
    if op == "flip-central":
        pos = rec + rng.randrange(46)
        out[pos] = rng.getrandbits(8)
        note += " byte %d" % (pos - rec)
    elif op == "flip-local":
        pos = local + rng.randrange(30)
        out[pos] = rng.getrandbits(8)
        note += " byte %d" % (pos - local)
    elif op in ("name-central", "name-local", "nul-name"):
        base = rec + 46 if op != "name-local" else local + 30
        n = struct.unpack_from("<H", data, (rec + 28) if op != "name-local" else (local + 26))[0]
        if n:
            pos = base + rng.randrange(n)
            out[pos] = 0 if op == "nul-name" else rng.choice(b"A/\\.:\xc3\x80 ")
            if op == "nul-name":
                lpos = local + 30 + (pos - base)
                out[lpos] = 0
    elif op == "extra":
        ident = rng.choice([0x7075, 0x6375, 0x5455, 0x9901, 0x1234, 0x0001, 0x000a])
        payload = struct.pack("<BI", 1, 0) + b"seattle/seattle_repy/nmmain.py" if ident == 0x7075 else b"\x01\x00\x00\x00\x00"
        field = struct.pack("<HH", ident, len(payload)) + payload
        # Central record only: grows it and shifts what follows.
        n, e, c = struct.unpack_from("<HHH", data, rec + 28)
        insert_at = rec + 46 + n + e
        out[insert_at:insert_at] = field
        struct.pack_into("<H", out, rec + 30, e + len(field))
        new_end = end + len(field)
        size = struct.unpack_from("<I", out, new_end + 12)[0]
        struct.pack_into("<I", out, new_end + 12, size + len(field))
        note += " 0x%04x" % ident
    elif op == "flags":
        bit = rng.choice([0, 1, 3, 5, 6, 11, 13])
        for pos in (rec + 8, local + 6):
            struct.pack_into("<H", out, pos, struct.unpack_from("<H", out, pos)[0] ^ (1 << bit))
        note += " bit %d" % bit
    elif op == "method":
        method = rng.choice([0, 8, 12, 14, 99])
        struct.pack_into("<H", out, rec + 10, method)
        struct.pack_into("<H", out, local + 8, method)
    elif op == "unlisted":
        crc = zlib.crc32(b"unlisted\n")
        name = rng.choice([b"seattle/seattle_repy/nmmain.py", b"seattle/unlisted.txt"])
        entry = struct.pack("<IHHHHHIIIHH", 0x04034B50, 10, 0, 0, 0, 0, crc, 9, 9, len(name), 0) + name + b"unlisted\n"
        central_at = struct.unpack_from("<I", data, end + 16)[0]
        out[central_at:central_at] = entry
        struct.pack_into("<I", out, end + len(entry) + 16, central_at + len(entry))
    elif op == "stub":
        stub = rng.choice([b"MZ" + bytes(62), b"#!/bin/sh\nexit 0\n"])
        adjust = rng.random() < 0.5
        out = bytearray(stub) + out
        if adjust:
            e = end + len(stub)
            count, size, at = struct.unpack_from("<HII", out, e + 10)
            struct.pack_into("<I", out, e + 16, at + len(stub))
            for r in records:
                pos = r + len(stub) + 42
                struct.pack_into("<I", out, pos, struct.unpack_from("<I", out, pos)[0] + len(stub))
        note += " adjusted" if adjust else ""
    elif op == "comment":
        comment = rng.choice([b"hello", b"PK\x05\x06" + bytes(18), b"START:Percent 100\nOwner 3 33"])
        struct.pack_into("<H", out, end + 20, len(comment))
        out = out[:end + 22] + comment
    elif op == "trailing":
        out.extend(b"trailing bytes")
    elif op == "attrs":
        mode = rng.choice([0o120777, 0o020644, 0o010644, 0o104755, 0o040755, 0o100000])
        attrs = struct.unpack_from("<I", out, rec + 38)[0]
        struct.pack_into("<I", out, rec + 38, (mode << 16) | (attrs & 0xFFFF))
        struct.pack_into("<H", out, rec + 4, (3 << 8) | 30)
        note += " %o" % mode
    elif op == "version":
        struct.pack_into("<H", out, rec + 6, rng.choice([20, 45, 46, 63]))
    elif op == "duplicate":
        n, e, c = struct.unpack_from("<HHH", data, rec + 28)
        record = bytes(data[rec:rec + 46 + n + e + c])
        central_end = end
        out[central_end:central_end] = record
        e2 = end + len(record)
        count, size = struct.unpack_from("<HI", out, e2 + 10)
        struct.pack_into("<HHI", out, e2 + 8, count + 1, count + 1, size + len(record))
    elif op == "dos-dir":
        attrs = struct.unpack_from("<I", out, rec + 38)[0]
        struct.pack_into("<I", out, rec + 38, attrs ^ 0x10)
    return bytes(out), note


# ---- the corpus ------------------------------------------------------------------------------


def make_case(rng, work):
    family = rng.choice(["python", "python", "tools", "tools", "mutant", "mutant", "mutant"])
    tricky = rng.random() < (0.2 if family == "mutant" else 0.4)
    tree = Tree(rng, tricky).build()
    if family == "tools":
        data, kind, note = tool_archive(tree, rng, work)
        if kind == "tgz":
            data = gzip_members(data, rng)
        return family, kind, data, note
    kind = rng.choice(["tgz", "zip"])
    if kind == "tgz":
        raw, note = python_tar(tree, rng)
        if family == "mutant":
            raw, how = mutate_tar(raw, rng)
            note += ", " + how
        return family, kind, gzip_members(raw, rng), note
    data, note = python_zip(tree, rng)
    if family == "mutant":
        data, how = mutate_zip(data, rng)
        note += ", " + how
    return family, kind, data, note


def trick_cases(work):
    """The tricks of tests/python/profile_tricks.py, on a small generated base."""
    root = tempfile.mkdtemp(dir=work)
    for path, data in [("seattle/install.sh", b"#!/bin/sh\n"), ("seattle/seattle_repy/nmmain.py", b"print(1)\n"),
                       ("seattle/seattle_repy/metainfo", b"nmmain.py 0 9\n")]:
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        open(os.path.join(root, path), "wb").write(data)
    tgz = os.path.join(work, "trick-base.tgz")
    zipped = os.path.join(work, "trick-base.zip")
    with tarfile.open(tgz, "w:gz", format=tarfile.USTAR_FORMAT) as t:
        t.add(os.path.join(root, "seattle"), "seattle")
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        for folder, dirs, files in sorted(os.walk(root)):
            for name in sorted(files):
                full = os.path.join(folder, name)
                z.write(full, os.path.relpath(full, root))
    out = os.path.join(work, "tricks")
    profile_tricks.main(tgz, zipped, out)
    cases = []
    for trick in json.load(open(os.path.join(out, "tricks.json"))):
        data = open(os.path.join(out, trick["file"]), "rb").read()
        cases.append(("trick", trick["file"].rsplit(".", 1)[1], data, trick["trick"]))
    shutil.rmtree(root, ignore_errors=True)
    return cases


def main():
    import warnings

    warnings.simplefilter("ignore")  # zipfile warns of the duplicate names the corpus wants
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tricks", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(dir=args.out)
    rng = random.Random(args.seed)
    made = trick_cases(work) if args.tricks else []
    wanted = len(made) + args.count
    while len(made) < wanted:
        made.append(make_case(rng, work))
    cases = []
    for index, (family, kind, data, note) in enumerate(made):
        if os.environ.get("CORPUS_DEBUG") and not data:
            print("empty:", family, kind, note, file=sys.stderr)
        ident = "s%d-%04d" % (args.seed, index)
        file = "%s.%s" % (ident, kind)
        open(os.path.join(args.out, file), "wb").write(data)
        cases.append({"id": ident, "file": file, "kind": kind, "family": family, "note": note})
    shutil.rmtree(work, ignore_errors=True)
    json.dump(cases, open(os.path.join(args.out, "cases.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
