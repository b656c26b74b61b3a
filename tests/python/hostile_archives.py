#!/usr/bin/env python3
"""Builds hostile installers with Python's tarfile, zipfile and gzip, for the inspect tests.

Usage: hostile_archives.py OUTDIR [--bench]

Each archive first holds a regular seattle/seattle_repy/vesselinfo reading "first", then a
second entry that tar -x or unzip writes onto the same path (or onto the same path on a
case-insensitive file system). Also writes bomb.tgz (a ~1 MB tgz holding 1 GiB of zeros) and two
zips whose vesselinfo declares a size that is huge (huge-declared.zip) or a lie (lying-size.zip).
With --bench, also the inputs that load the strict profile's checks across entries: many-names.tgz
(entries with 200-byte names until the inflation cap) and deep-paths.tgz (100,000 entries, each
more than a hundred folders deep).
"""
import gzip
import io
import os
import struct
import sys
import tarfile
import zipfile
import zlib

VESSELINFO = "seattle/seattle_repy/vesselinfo"
FIRST = b"first\n"
SECOND = b"second\n"


def tar_file(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def tar_link(tar, name, kind, target):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    tar.addfile(info)


def write_tgz(path, add_second):
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        tar_file(tar, "seattle/seattle_repy/nmmain.py", b"print('hello')\n")
        tar_file(tar, "seattle/evil", SECOND)
        tar_file(tar, VESSELINFO, FIRST)
        add_second(tar)


def pax_size_hides(tar):
    """A pax header gives the next entry size=0 while its ustar field says 1024: GNU tar follows
    pax, so the 1024 bytes a reader ignoring pax would skip as data hold the second entry."""
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w", format=tarfile.USTAR_FORMAT) as t:
        tar_file(t, VESSELINFO, SECOND)
    hidden = inner.getvalue()[:1024]
    cover = tarfile.TarInfo("seattle/blob")
    cover.size = 1024
    cover.pax_headers = {"size": "0"}
    header = cover.tobuf(format=tarfile.PAX_FORMAT)
    tar.fileobj.write(header + hidden)
    tar.offset += len(header) + len(hidden)


def gzip_member(raw, marker):
    """One RFC 1952 member with the marker as FEXTRA subfield "cb", as the append-ready layout
    (documented in src/core/archive/tgz.ts) writes it."""
    text = ("cib-append-ready/1 " + marker).encode()
    extra = b"cb" + struct.pack("<H", len(text)) + text
    header = b"\x1f\x8b\x08\x04\0\0\0\0\x02\x03" + struct.pack("<H", len(extra)) + extra
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(raw) + deflate.flush()
    return header + body + struct.pack("<II", zlib.crc32(raw), len(raw) & 0xFFFFFFFF)


def write_forged_ready(path, names):
    """An append-ready base whose end marker says "no vesselinfo" while its entries hold `names`:
    what an older tool, blind to spellings like seattle/./, would have written."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar_file(tar, "seattle/seattle_repy/nmmain.py", b"print('hello')\n")
        for name in names:
            tar_file(tar, name, SECOND)
    entries_end = 512 * (2 + 2 * len(names))
    entries = gzip_member(raw.getvalue()[:entries_end], "role=entries")
    padded = -(-(entries_end + 1024) // 10240) * 10240
    crc, isize = struct.unpack("<II", entries[-8:])
    end = gzip_member(
        bytes(padded - entries_end),
        "role=end tar=%d gz=%d vesselinfo=none mtime=0 prev=%08x:%d"
        % (entries_end, len(entries), crc, isize),
    )
    with open(path, "wb") as f:
        f.write(entries + end)


def write_zip(path, add_second):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("seattle/seattle_repy/nmmain.py", "print('hello')\n")
        z.writestr(VESSELINFO, FIRST)
        add_second(z)


def zip_info(name, system=3, mode=0o100644):
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.create_system = system
    info.external_attr = mode << 16
    return info


def patch_sizes(path, name, size):
    """Rewrites the uncompressed size of `name` in its local header and central record."""
    data = bytearray(open(path, "rb").read())
    encoded = name.encode()
    at = 0
    while True:
        at = data.find(b"PK\x03\x04", at)
        if at < 0:
            break
        n = struct.unpack_from("<H", data, at + 26)[0]
        if bytes(data[at + 30 : at + 30 + n]) == encoded:
            struct.pack_into("<I", data, at + 22, size)
        at += 4
    at = 0
    while True:
        at = data.find(b"PK\x01\x02", at)
        if at < 0:
            break
        n = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46 : at + 46 + n]) == encoded:
            struct.pack_into("<I", data, at + 24, size)
        at += 4
    open(path, "wb").write(bytes(data))


def many_entries(path, names):
    """A tgz of empty files, one per name: headers only, so it compresses to almost nothing."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for name in names:
                info = tarfile.TarInfo(name)
                info.mode = 0o644
                tar.addfile(info)


def bench_inputs(out):
    j = lambda name: os.path.join(out, name)
    many_entries(j("many-names.tgz"),
                 ("seattle/%s%08d" % ("n" * 180, i) for i in range(120_000)))
    deep = "/".join(["d"] * 110)
    many_entries(j("deep-paths.tgz"), ("seattle/%d/%s/f" % (i, deep) for i in range(100_000)))


def main(out):
    import warnings

    warnings.simplefilter("ignore")
    os.makedirs(out, exist_ok=True)
    j = lambda name: os.path.join(out, name)

    write_tgz(j("dot.tgz"), lambda t: tar_file(t, "seattle/./seattle_repy/vesselinfo", SECOND))
    write_tgz(j("double-slash.tgz"), lambda t: tar_file(t, "seattle//seattle_repy/vesselinfo", SECOND))
    write_tgz(j("leading-dot.tgz"), lambda t: tar_file(t, "./seattle/seattle_repy/vesselinfo", SECOND))
    write_tgz(j("symlink.tgz"), lambda t: tar_link(t, VESSELINFO, tarfile.SYMTYPE, "../evil"))
    write_tgz(j("hardlink.tgz"), lambda t: tar_link(t, VESSELINFO, tarfile.LNKTYPE, "seattle/evil"))
    with tarfile.open(j("symlink-only.tgz"), "w:gz") as tar:
        tar_file(tar, "seattle/evil", SECOND)
        tar_link(tar, VESSELINFO, tarfile.SYMTYPE, "../evil")
    write_tgz(j("pax-size.tgz"), pax_size_hides)
    write_forged_ready(j("forged-ready.tgz"), ["seattle/./seattle_repy/vesselinfo"])
    write_forged_ready(j("forged-ready-two.tgz"), ["seattle/./seattle_repy/vesselinfo",
                                                   "./seattle/seattle_repy/vesselinfo"])
    write_tgz(j("case.tgz"), lambda t: tar_file(t, "Seattle/Seattle_repy/VesselInfo", SECOND))
    # Inside the strict profile, but the vesselinfo is a folder: still ambiguous.
    with tarfile.open(j("folder-vesselinfo.tgz"), "w:gz") as tar:
        tar_file(tar, "seattle/seattle_repy/nmmain.py", b"print('hello')\n")
        folder = tarfile.TarInfo(VESSELINFO + "/")
        folder.type = tarfile.DIRTYPE
        folder.mode = 0o755
        tar.addfile(folder)
        tar_file(tar, VESSELINFO + "/x", SECOND)

    # unzip turns \ into / for entries made on MS-DOS/Windows (create_system 0), as Windows does.
    write_zip(j("backslash.zip"),
              lambda z: z.writestr(zip_info("seattle\\seattle_repy\\vesselinfo", system=0), SECOND))
    write_zip(j("case.zip"), lambda z: z.writestr(zip_info("Seattle/Seattle_repy/VesselInfo"), SECOND))
    # Python allows a duplicate name with a warning; unzip -o replaces the file with the link.
    write_zip(j("symlink.zip"),
              lambda z: z.writestr(zip_info(VESSELINFO, mode=0o120777), "../evil"))

    # 1 GiB of zeros in ~1 MB: a tar header, then one small gzip member repeated (RFC 1952 lets
    # members follow one another; tar sees one stream).
    total = 1 << 30
    header = tarfile.TarInfo("seattle/zeros")
    header.size = total
    piece = gzip.compress(bytes(1 << 20), 9)
    with open(j("bomb.tgz"), "wb") as f:
        f.write(gzip.compress(header.tobuf(format=tarfile.GNU_FORMAT), 9))
        for _ in range(total >> 20):
            f.write(piece)
        f.write(gzip.compress(bytes(1024 * 20), 9))

    with zipfile.ZipFile(j("huge-declared.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(VESSELINFO, FIRST)
    patch_sizes(j("huge-declared.zip"), VESSELINFO, 0xFFFFFFF0)

    with zipfile.ZipFile(j("lying-size.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(VESSELINFO, bytes(64 << 20))
    patch_sizes(j("lying-size.zip"), VESSELINFO, 100)


if __name__ == "__main__":
    main(sys.argv[1])
    if "--bench" in sys.argv[2:]:
        bench_inputs(sys.argv[1])
