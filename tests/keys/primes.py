"""Prime generation for weak-key test vectors (Miller-Rabin; test code only)."""

from __future__ import annotations

import math
import random

from cryptography.hazmat.primitives.asymmetric import rsa

from certkeeper.keys.weak import ROCA_GENERATOR, ROCA_PRIMES, SMALL_PRIMES

_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)


def is_probable_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in SMALL_PRIMES[:60]:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in _BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def next_prime(n: int) -> int:
    n = max(n, 2)
    n += n % 2 == 0 and n != 2
    while not is_probable_prime(n):
        n += 2
    return n


def random_prime(bits: int, rng: random.Random) -> int:
    """A prime of exactly `bits` bits with its top two bits set (so p*q has 2*bits bits)."""
    while True:
        candidate = next_prime(rng.getrandbits(bits) | (3 << (bits - 2)) | 1)
        if candidate.bit_length() == bits:
            return candidate


def fermat_pair(bits: int, gap: int, rng: random.Random) -> tuple[int, int]:
    """Primes p < q of `bits` bits with q - p about `gap`: Fermat factors p*q at once."""
    p = random_prime(bits, rng)
    return p, next_prime(p + gap)


ROCA_MODULUS = math.prod(ROCA_PRIMES)


def roca_prime(bits: int, rng: random.Random) -> int:
    """A prime of the RSALib shape k*M + (65537^a mod M), M the product of ROCA_PRIMES."""
    while True:
        residue = pow(ROCA_GENERATOR, rng.randrange(1, 2**20), ROCA_MODULUS)
        low = -(-(3 << (bits - 2)) // ROCA_MODULUS)  # top two bits set
        candidate = rng.randrange(low, (1 << bits) // ROCA_MODULUS) * ROCA_MODULUS + residue
        if candidate.bit_length() == bits and is_probable_prime(candidate):
            return candidate


def private_key(p: int, q: int, e: int = 65537) -> rsa.RSAPrivateKey:
    """The RSA private key made of p and q: CSRs signed with weak keys, for real."""
    n = p * q
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, n),
    )
    return numbers.private_key()
