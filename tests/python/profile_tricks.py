#!/usr/bin/env python3
"""Builds the archive tricks that made an extractor write a changed Seattle file while the
builder's inspect read something else, each on top of a real base installer.

Usage: profile_tricks.py LINUX_BASE.tgz WINDOWS_BASE.zip OUTDIR

Every trick leaves CHANGED at seattle/seattle_repy/nmmain.py for the extractor named beside it
(the tests check that with the real tool), and writes OUTDIR/tricks.json: one object per file
with the trick's name, the extractors it fools and the entry a refusal must name.
"""
import gzip
import io
import json
import os
import struct
import sys
import tarfile
import zipfile
import zlib

TARGET = "seattle/seattle_repy/nmmain.py"
CHANGED = b"print('CHANGED')\n"


# ---- tar helpers ---------------------------------------------------------------------------


def base_tar(path):
    """The base's tar stream without its end-of-archive blocks."""
    raw = gzip.decompress(open(path, "rb").read())
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        tar.getmembers()
        return raw[:tar.offset]


def rename_in_tar(tar, old, new):
    """Renames the ustar entry `old` to `new` (name field and checksum), keeping its data."""
    out = bytearray(tar)
    at = 0
    while at < len(out):
        block = out[at:at + 512]
        size = int(block[124:136].split(b"\0")[0].strip() or b"0", 8)
        if block[:100].split(b"\0")[0] == old.encode():
            name = new.encode()
            out[at:at + 100] = name + bytes(100 - len(name))
            out[at + 148:at + 156] = b" " * 8
            out[at + 148:at + 156] = b"%06o\0 " % sum(out[at:at + 512])
        at += 512 + (-(-size // 512) * 512 if block[156:157] in (b"0", b"x", b"L") else 0)
    return bytes(out)


def header(name, size=0, typeflag=b"0", linkname="", magic=b"ustar\x0000"):
    """One ustar header block with a correct checksum."""
    block = bytearray(512)
    encoded = name.encode("utf-8", "surrogateescape")[:100]
    block[0:len(encoded)] = encoded
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = b"%011o\0" % size
    block[136:148] = b"%011o\0" % 1700000000
    block[156:157] = typeflag
    link = linkname.encode()
    block[157:157 + len(link)] = link
    block[257:265] = magic
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def padded(data):
    return data + bytes(-len(data) % 512)


def entry(name, data=b"", typeflag=b"0", linkname=""):
    return header(name, len(data), typeflag, linkname) + padded(data)


def pax_record(key, value):
    """A pax record whose length counts bytes, as the standard says."""
    body = b" " + key.encode() + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length = len(str(length)) + len(body)
    return str(length).encode() + body


def pax_header(records, typeflag=b"x", name="././@PaxHeader"):
    body = b"".join(records)
    return header(name, len(body), typeflag) + padded(body)


def finish_tgz(tar):
    tar = tar + bytes(1024)
    tar = tar + bytes(-len(tar) % 10240)
    return gzip.compress(tar, 9, mtime=0)


# ---- the tar tricks ------------------------------------------------------------------------


def pax_sparse_rename(tar):
    """pax 1.0 sparse entry: its header names a harmless file, GNU.sparse.name renames it."""
    sparse_map = padded(b"1\n0\n%d\n" % len(CHANGED))
    records = [
        pax_record("GNU.sparse.major", b"1"),
        pax_record("GNU.sparse.minor", b"0"),
        pax_record("GNU.sparse.name", TARGET.encode()),
        pax_record("GNU.sparse.realsize", str(len(CHANGED)).encode()),
    ]
    data = sparse_map + CHANGED
    return tar + pax_header(records) + entry("seattle/GNUSparseFile.0/harmless.txt", data)


def pax_path_nul(tar):
    """pax path= with a NUL: C readers stop at it, the header name ends in .pyc."""
    value = TARGET.encode() + b"\0.pyc"
    return tar + pax_header([pax_record("path", value)]) + entry(TARGET + "c", CHANGED)


def long_name(name):
    data = name.encode() + b"\0"
    return header("././@LongLink", len(data), b"L", magic=b"ustar  \0") + padded(data)


def pax_then_long_name(tar):
    """pax path= names the target, then a GNU long name names something harmless."""
    return (tar + pax_header([pax_record("path", TARGET.encode())])
            + long_name("seattle/" + "h" * 100 + ".txt") + entry("seattle/harmless.txt", CHANGED))


def long_name_then_pax(tar):
    """The reverse order: a GNU long name for the target, then a harmless pax path=."""
    return (tar + long_name(TARGET)
            + pax_header([pax_record("path", b"seattle/harmless.txt")])
            + entry("seattle/harmless.txt", CHANGED))


def pax_global_path(tar):
    """A pax global header whose path= applies to the entry after it."""
    return (tar + pax_header([pax_record("path", TARGET.encode())], b"g", "pax_global_header")
            + entry("seattle/harmless.txt", CHANGED))


def pax_char_lengths(tar):
    """A comment record whose length counts characters: read by bytes, it ends early and what
    follows is a path= record naming the target; read by characters, it is all one comment."""
    inner = pax_record("path", TARGET.encode())
    k = len(inner)
    value = ("é" * k).encode() + b"\n" + inner[:-1]  # the record's own newline ends it
    for digits in range(1, 6):
        chars = digits + len(" comment=") + k + 1 + len(inner)
        if len(str(chars)) == digits:
            break
    record = str(chars).encode() + b" comment=" + value + b"\n"
    return (tar + header("././@PaxHeader", len(record), b"x") + padded(record)
            + entry("seattle/harmless.txt", CHANGED))


def symlinked_folder(tar):
    """seattle/lib -> seattle_repy, then seattle/lib/nmmain.py written through the link."""
    return tar + entry("seattle/lib", b"", b"2", "seattle_repy") + entry("seattle/lib/nmmain.py", CHANGED)


def tar_case_variant(tar):
    """The changed file first, then the signed one under a case variant (replacing it only on a
    case-insensitive disk)."""
    return entry(TARGET, CHANGED) + rename_in_tar(tar, TARGET, "seattle/seattle_repy/NMMAIN.py")


# ---- zip tricks ------------------------------------------------------------------------------


def zip_add(base, name, data, extra=b""):
    """The base with one more entry, written by Python's zipfile."""
    out = io.BytesIO(base)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_STORED) as z:
        info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
        info.create_system = 3
        info.external_attr = 0o100644 << 16
        info.extra = extra
        z.writestr(info, data)
    return out.getvalue()


def replace_name(zip_bytes, old, new):
    """Renames an entry in place, in its local header and central record (same length)."""
    assert len(old) == len(new)
    return zip_bytes.replace(old, new)


def zip_nul_name(base):
    """nmmain.py\\0.pyc: unzip and Python cut the name at the NUL."""
    placeholder = TARGET + "X.pyc"
    data = zip_add(base, placeholder, CHANGED)
    return replace_name(data, placeholder.encode(), (TARGET + "\0.pyc").encode())


def zip_unicode_path(base):
    """A harmless name, and an Info-ZIP Unicode Path field (0x7075) naming the target."""
    name = "seattle/harmless.txt"
    field = struct.pack("<BI", 1, zlib.crc32(name.encode())) + TARGET.encode()
    extra = struct.pack("<HH", 0x7075, len(field)) + field
    return zip_add(base, name, CHANGED, extra)


def zip_unlisted_local(base):
    """A local entry for the target that the central directory does not list, before the
    directory: readers that walk local headers (Java's ZipInputStream, bsdtar on a pipe) see it."""
    end = base.rfind(b"PK\x05\x06")
    central_size, central_at = struct.unpack_from("<II", base, end + 12)
    crc = zlib.crc32(CHANGED)
    local = (struct.pack("<IHHHHHIIIHH", 0x04034B50, 10, 0, 0, 0, 0x5821, crc, len(CHANGED),
                         len(CHANGED), len(TARGET), 0) + TARGET.encode() + CHANGED)
    # The base's own nmmain.py goes first in the directory order; the unlisted copy comes later,
    # so a streaming reader writes it last.
    out = bytearray(base[:central_at] + local + base[central_at:])
    struct.pack_into("<I", out, end + len(local) + 16, central_at + len(local))
    return bytes(out)


def zip_case_variant(base):
    """The changed file first, then the signed one under a case variant."""
    renamed = replace_name(base, TARGET.encode(), b"seattle/seattle_repy/NMMAIN.py")
    # Put the changed file in front by rebuilding: changed first, then every base entry.
    src = zipfile.ZipFile(io.BytesIO(renamed))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(TARGET, (2024, 1, 1, 0, 0, 0))
        info.create_system = 3
        info.external_attr = 0o100644 << 16
        z.writestr(info, CHANGED)
        for item in src.infolist():
            z.writestr(item, src.read(item))
    return out.getvalue()


def pe_stub():
    """The smallest PE header this builder checks: MZ, e_lfanew, "PE\\0\\0", one section inside the
    file."""
    stub = bytearray(0x200)
    stub[0:2] = b"MZ"
    struct.pack_into("<I", stub, 0x3C, 0x80)
    stub[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<HH", stub, 0x84, 0x14C, 1)  # machine i386, one section
    struct.pack_into("<H", stub, 0x84 + 16, 0)  # no optional header
    section = 0x84 + 20
    stub[section:section + 8] = b".text\0\0\0"
    struct.pack_into("<II", stub, section + 16, 0x100, 0x100)  # raw size, raw pointer
    return bytes(stub)


def exe_zip_stub(base, stub=b"MZ" + bytes(62)):
    """A DOS stub in front of a zip, its START: block in the zip comment: detected as the GUI
    executable (software never checked), while unzip extracts the zip."""
    changed = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in changed.infolist():
            z.writestr(item, CHANGED if item.filename == TARGET else changed.read(item))
        z.comment = b"START:Percent 80\nOwner 65537 3233\nPercent 20\nOwner 65537 3233"
    data = bytearray(out.getvalue())
    # Offsets count the stub, as `zip -A` leaves them.
    end = data.rfind(b"PK\x05\x06")
    count, size, at = struct.unpack_from("<HII", data, end + 10)
    struct.pack_into("<I", data, end + 16, at + len(stub))
    pos = at
    for _ in range(count):
        struct.pack_into("<I", data, pos + 42, struct.unpack_from("<I", data, pos + 42)[0] + len(stub))
        n, e, c = struct.unpack_from("<HHH", data, pos + 28)
        pos += 46 + n + e + c
    return stub + bytes(data)


def main(linux_base, windows_base, out):
    os.makedirs(out, exist_ok=True)
    tar = base_tar(linux_base)
    win = open(windows_base, "rb").read()
    tricks = []

    def save(file, trick, fools, entry, rule, data):
        open(os.path.join(out, file), "wb").write(data)
        tricks.append({"file": file, "trick": trick, "fools": fools, "entry": entry, "rule": rule})

    save("pax-sparse-rename.tgz", "pax 1.0 sparse entry renamed by GNU.sparse.name",
         ["gnutar", "python"], TARGET, "sparse", finish_tgz(pax_sparse_rename(tar)))
    save("pax-path-nul.tgz", "pax path= holding a NUL, name ending in .pyc", ["gnutar"],
         TARGET + "\\u0000.pyc", "name", finish_tgz(pax_path_nul(tar)))
    save("pax-then-longname.tgz", "pax path, then a GNU long name for the same entry",
         ["gnutar", "python"], TARGET, "meta", finish_tgz(pax_then_long_name(tar)))
    save("longname-then-pax.tgz", "a GNU long name, then a pax path for the same entry",
         ["python", "bsdtar"], TARGET, "meta", finish_tgz(long_name_then_pax(tar)))
    save("pax-global-path.tgz", "a pax global header with path=", ["gnutar", "python"],
         "pax_global_header", "global-header", finish_tgz(pax_global_path(tar)))
    save("pax-char-lengths.tgz", "pax record lengths counted in characters", ["gnutar", "python"],
         TARGET, "pax", finish_tgz(pax_char_lengths(tar)))
    save("symlinked-folder.tgz", "a symlinked folder, then a file through it", ["gnutar", "python"],
         "seattle/lib", "type", finish_tgz(symlinked_folder(tar)))
    save("case-variant.tgz", "a changed file, then the signed one under a case variant", ["gnutar"],
         "seattle/seattle_repy/NMMAIN.py", "case", finish_tgz(tar_case_variant(tar)))
    save("case-variant.zip", "a changed file, then the signed one under a case variant", ["unzip"],
         "seattle/seattle_repy/NMMAIN.py", "case", zip_case_variant(win))
    save("nul-name.zip", "zip name nmmain.py\\0.pyc", ["unzip", "pyzipfile"], TARGET + "\\u0000.pyc", "name", zip_nul_name(win))
    save("unicode-path.zip", "zip Unicode Path extra field (0x7075)", ["unzip"],
         "seattle/harmless.txt", "zip-extra", zip_unicode_path(win))
    save("unlisted-local.zip", "a zip local entry the central directory does not list",
         ["bsdtar-pipe", "java"], TARGET, "zip-layout", zip_unlisted_local(win))
    save("zip-behind-stub.exe", "a zip behind an MZ stub, taken for the GUI exe", ["unzip"],
         "MZ header", "exe", exe_zip_stub(win))
    save("zip-behind-pe.exe", "the same zip behind a real PE header", ["unzip"], "zip end record",
         "exe-zip", exe_zip_stub(win, pe_stub()))
    json.dump(tricks, open(os.path.join(out, "tricks.json"), "w"), indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
