#!/usr/bin/env python3
"""Checks a Seattle RSA key pair mathematically (docs/formats.md#keys), independently of our TypeScript.

Usage:
  check_keypair.py --public FILE --private FILE        (NAME.publickey / NAME.privatekey)
  check_keypair.py --public-key "e n" --private-key "d p q"
  check_keypair.py --json FILE|-                       ({"public_key": ..., "private_key": ...})
  add --bits N to also require an N-bit modulus.

Exit 0 when the pair is sound, 1 with a message naming the first failed check. Never prints keys.
Python 3 standard library only.
"""
import argparse
import json
import random
import re
import sys

DECIMAL = re.compile(r"[0-9]+")


def parse(text, count, what):
    words = text.strip().split(" ")
    if len(words) != count or not all(DECIMAL.fullmatch(w) for w in words):
        raise ValueError(f"the {what} is not {count} decimal numbers separated by single spaces")
    values = [int(w) for w in words]
    if any(v <= 0 for v in values):
        raise ValueError(f"the {what} has a number that is not positive")
    return values


def probably_prime(n, rounds=24):
    """Miller-Rabin with random bases."""
    if n < 4:
        return n in (2, 3)
    if n % 2 == 0:
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    rng = random.SystemRandom()
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def check(public_text, private_text, bits=None):
    e, n = parse(public_text, 2, "public key")
    d, p, q = parse(private_text, 3, "private key")
    if not e < n:
        raise ValueError("e is not smaller than n")
    if p * q != n:
        raise ValueError("n is not p*q: the private key does not belong to the public key")
    if bits is not None and n.bit_length() != bits:
        raise ValueError(f"the modulus has {n.bit_length()} bits, not {bits}")
    if p == q or not probably_prime(p) or not probably_prime(q):
        raise ValueError("p and q are not two distinct primes")
    rng = random.SystemRandom()
    messages = [m for m in (2, 3, 65537) if m < n] + [n - 2] + [rng.randrange(2, n - 1) for _ in range(8)]
    for m in messages:
        if pow(pow(m, e, n), d, n) != m:
            raise ValueError("pow(pow(m, e, n), d, n) != m: decrypting does not undo encrypting")
    return n.bit_length()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--public", help="file holding the public key")
    parser.add_argument("--private", help="file holding the private key")
    parser.add_argument("--public-key", help='public key string "e n"')
    parser.add_argument("--private-key", help='private key string "d p q"')
    parser.add_argument("--json", help='file (or - for stdin) with {"public_key", "private_key"}')
    parser.add_argument("--bits", type=int, help="required modulus size in bits")
    args = parser.parse_args()

    if args.json is not None:
        source = sys.stdin if args.json == "-" else open(args.json, encoding="ascii")
        data = json.load(source)
        public_text, private_text = data["public_key"], data["private_key"]
    else:
        public_text = args.public_key
        private_text = args.private_key
        if args.public:
            with open(args.public, encoding="ascii") as f:
                public_text = f.read()
        if args.private:
            with open(args.private, encoding="ascii") as f:
                private_text = f.read()
    if public_text is None or private_text is None:
        parser.error("give a public and a private key (files, strings or --json)")
    try:
        bits = check(public_text, private_text, args.bits)
    except ValueError as error:
        print(f"check_keypair: FAIL: {error}", file=sys.stderr)
        return 1
    print(f"check_keypair: OK: {bits}-bit key pair")
    return 0


if __name__ == "__main__":
    sys.exit(main())
