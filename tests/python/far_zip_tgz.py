"""A tgz that unzip also reads as a zip whose directory is far from the end (tests/core/profile.test.ts).

Made with Python's zlib and tarfile, as a producer would: a stored gzip member whose tar file holds
a zip local header and central directory, 300 KB of other data, and a last stored member whose tar
file is a zip end record pointing, by its offset field, at that directory (or one byte past it,
with "no"). Prints the directory's file offset.

Usage: far_zip_tgz.py OUT yes|no
"""
import random
import struct
import sys
import tarfile
import zlib


def member(data, level):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + c.compress(data) + c.flush() + struct.pack("<II", zlib.crc32(data), len(data))


def entry(name, data):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
    return info.tobuf(format=tarfile.USTAR_FORMAT) + data + b"\0" * (-len(data) % 512)


name, content = b"hidden.txt", b"surprise\n"
crc = zlib.crc32(content)
local_at = 10 + 5 + 512  # gzip header, stored block header, tar header
local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 10, 0, 0, 0, 0, crc, len(content), len(content), len(name), 0)
local += name + content
central = struct.pack(
    "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 10, 0, 0, 0, 0, crc, len(content), len(content), len(name), 0, 0, 0, 0,
    0o644 << 16, local_at,
) + name
directory_at = local_at + len(local)
random.seed(1)
body = member(entry("seattle/a.bin", local + central), 0)
body += member(entry("seattle/big.bin", random.randbytes(300000)), 6)
pointer = directory_at if sys.argv[2] == "yes" else directory_at + 1
end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), pointer, 0)
data = body + member(entry("seattle/z.bin", end) + b"\0" * 1024, 0)
assert data[directory_at : directory_at + 4] == b"PK\x01\x02"
with open(sys.argv[1], "wb") as out:
    out.write(data)
print(directory_at)
