"""Weak subscriber keys (BR 6.1.1.3, 6.1.5, 6.1.6): pure arithmetic, no I/O.

A key passes only if none of these rules names it (each refusal names its rule):

- RSA: modulus size (at least 2048 bits, a multiple of 8, at most 8192 bits so the
  checks stay bounded); exponent odd, >= 3 and in [2^16 + 1, 2^256 - 1]; no prime
  factor below 752; not a perfect power; not factorable by Fermat's method within
  `FERMAT_ROUNDS` rounds (primes too close together); no ROCA fingerprint (primes made
  by the Infineon RSALib construction, CVE-2017-15361).
- ECDSA: a named curve the BRs allow; the point encoded uncompressed, not the point at
  infinity, coordinates in [0, p - 1], and on the curve (NIST SP 800-56A 5.6.2.3.4
  partial validation, enough for these prime-order curves).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certkeeper import br

# A CA policy, not a BR rule: bigger moduli only cost time in every check below.
RSA_MAX_MODULUS_BITS = 8192
# Fermat's method finds p and q in round k when (p - q)^2 / (8 sqrt(n)) < k; 100 rounds
# catch every pair closer than about 2^(bits/4 + 4) apart, at ~1 ms for 2048 bits.
FERMAT_ROUNDS = 100

# Primes whose residues carry the ROCA fingerprint: an RSALib prime is k*M + (65537^a
# mod M) with M a primorial, so n mod r lies in the subgroup 65537 generates mod r.
ROCA_PRIMES = (
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
    89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
)  # fmt: skip
ROCA_GENERATOR = 65537


@dataclass(frozen=True)
class Curve:
    """Short Weierstrass parameters y^2 = x^3 + ax + b over GF(p) (FIPS 186-5 / SEC 2)."""

    p: int
    a: int
    b: int
    size: int  # octets per coordinate


CURVES: dict[str, Curve] = {
    "secp256r1": Curve(
        p=2**256 - 2**224 + 2**192 + 2**96 - 1,
        a=-3,
        b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
        size=32,
    ),
    "secp384r1": Curve(
        p=2**384 - 2**128 - 2**96 + 2**32 - 1,
        a=-3,
        b=int(
            "B3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875A"
            "C656398D8A2ED19D2A85C8EDD3EC2AEF",
            16,
        ),
        size=48,
    ),
    "secp521r1": Curve(
        p=2**521 - 1,
        a=-3,
        b=int(
            "0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF1"
            "09E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B50"
            "3F00",
            16,
        ),
        size=66,
    ),
}


@dataclass(frozen=True)
class KeyProblem:
    """Why a key is refused: `rule` is a stable identifier, `detail` one line for people."""

    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


def primes_below(bound: int) -> tuple[int, ...]:
    sieve = bytearray([1]) * bound
    sieve[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(bound) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return tuple(i for i, flag in enumerate(sieve) if flag)


SMALL_PRIMES = primes_below(br.RSA_SMALL_FACTOR_BOUND)
_SMALL_PRIMORIAL = math.prod(SMALL_PRIMES)


@cache
def _roca_residues() -> tuple[tuple[int, frozenset[int]], ...]:
    """For each ROCA prime r, the subgroup of (Z/r)* that 65537 generates."""
    table = []
    for r in ROCA_PRIMES:
        seen = {1}
        value = ROCA_GENERATOR % r
        while value not in seen:
            seen.add(value)
            value = value * ROCA_GENERATOR % r
        table.append((r, frozenset(seen)))
    return tuple(table)


def roca_fingerprint(n: int) -> bool:
    """True when n mod r lies in <65537> mod r for every ROCA prime r (the detector of
    Nemec et al., CCS 2017). A random modulus does so with probability about 4e-9
    (`roca_false_positive_rate`), a refusal rate a CA can afford."""
    return all(n % r in residues for r, residues in _roca_residues())


def roca_false_positive_rate() -> float:
    """Chance that a random modulus coprime to the ROCA primes carries the fingerprint."""
    rate = 1.0
    for r, residues in _roca_residues():
        rate *= len(residues) / (r - 1)
    return rate


def fermat_factor(n: int, rounds: int) -> tuple[int, int] | None:
    """Factors (p, q) of odd n found by Fermat's method within `rounds` steps, else None."""
    a = math.isqrt(n)
    if a * a < n:
        a += 1
    for _ in range(rounds):
        b2 = a * a - n
        b = math.isqrt(b2)
        if b * b == b2:
            return a - b, a + b
        a += 1
    return None


def _iroot(n: int, k: int) -> int:
    """floor(n ** (1/k)) for n >= 0, exactly (Newton's method on integers)."""
    if n < 2:
        return n
    x = 1 << ((n.bit_length() + k - 1) // k)
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


def _not_a_power(n: int, k: int) -> bool:
    """True when a k-th power residue test proves n is no k-th power: for primes q = jk + 1
    not dividing n, a k-th power satisfies n^((q-1)/k) = 1 mod q. Cheap, and it rules
    out almost every k before the exact root is taken."""
    tested, j = 0, 2
    while tested < 4:
        q = j * k + 1
        j += 2
        if not _small_prime(q) or n % q == 0:
            continue
        if pow(n % q, (q - 1) // k, q) != 1:
            return True
        tested += 1
    return False


def _small_prime(q: int) -> bool:
    return q > 1 and all(q % p for p in range(2, math.isqrt(q) + 1))


def perfect_power(n: int) -> tuple[int, int] | None:
    """(root, k) with root**k == n and k >= 2 when n is a perfect power, else None.
    Only prime k need trying; roots below 752 are excluded by the small-factor rule."""
    max_k = max(2, n.bit_length() // 9 + 1)
    for k in primes_below(max_k + 1):
        if k > 2 and _not_a_power(n, k):
            continue
        root = _iroot(n, k)
        if root**k == n:
            return root, k
    return None


def rsa_problem(n: int, e: int, *, fermat_rounds: int = FERMAT_ROUNDS) -> KeyProblem | None:
    """The first rule an RSA public key (n, e) breaks, else None."""
    bits = n.bit_length()
    if bits < br.RSA_MIN_MODULUS_BITS:
        return KeyProblem(
            "rsa_modulus_too_small",
            f"RSA modulus of {bits} bits; BR 6.1.5 requires at least {br.RSA_MIN_MODULUS_BITS}",
        )
    if bits % br.RSA_MODULUS_MULTIPLE_BITS:
        return KeyProblem(
            "rsa_modulus_size_not_multiple_of_8",
            f"RSA modulus of {bits} bits is not a multiple of 8 (BR 6.1.5)",
        )
    if bits > RSA_MAX_MODULUS_BITS:
        return KeyProblem(
            "rsa_modulus_too_large",
            f"RSA modulus of {bits} bits; this CA accepts at most {RSA_MAX_MODULUS_BITS}",
        )
    if e < br.RSA_MIN_EXPONENT or e % 2 == 0:
        return KeyProblem(
            "rsa_exponent_not_odd_at_least_3",
            f"RSA public exponent {e} is not an odd number of 3 or more (BR 6.1.6)",
        )
    low, high = br.RSA_EXPONENT_RANGE
    if not low <= e <= high:
        return KeyProblem(
            "rsa_exponent_out_of_range",
            f"RSA public exponent {e} is outside [2^16 + 1, 2^256 - 1] (BR 6.1.6)",
        )
    factor = math.gcd(n, _SMALL_PRIMORIAL)
    if factor != 1:
        smallest = next(p for p in SMALL_PRIMES if n % p == 0)
        return KeyProblem(
            "rsa_small_prime_factor",
            f"RSA modulus is divisible by {smallest}; BR 6.1.6 requires no factor below "
            f"{br.RSA_SMALL_FACTOR_BOUND}",
        )
    power = perfect_power(n)
    if power is not None:
        return KeyProblem(
            "rsa_modulus_prime_power",
            f"RSA modulus is a perfect power (exponent {power[1]}); BR 6.1.6",
        )
    if fermat_factor(n, fermat_rounds) is not None:
        return KeyProblem(
            "rsa_fermat_factorable",
            f"RSA modulus factors by Fermat's method within {fermat_rounds} rounds: its "
            "primes are too close together (BR 6.1.1.3)",
        )
    if roca_fingerprint(n):
        return KeyProblem(
            "rsa_roca_fingerprint",
            "RSA modulus has the ROCA fingerprint (Infineon RSALib, CVE-2017-15361; BR 6.1.1.3)",
        )
    return None


def ec_problem(curve_name: str, point: bytes) -> KeyProblem | None:
    """The first rule an ECDSA public key breaks (`point`: the SEC 1 encoding), else None."""
    curve = CURVES.get(curve_name)
    if curve is None or curve_name not in br.ECDSA_CURVES:
        return KeyProblem(
            "ec_curve_not_allowed",
            f"elliptic curve {curve_name} is not allowed (BR 6.1.5: P-256, P-384, P-521)",
        )
    if point in (b"", b"\x00"):
        return KeyProblem("ec_point_at_infinity", "the public key is the point at infinity")
    if point[0] != 0x04 or len(point) != 1 + 2 * curve.size:
        return KeyProblem(
            "ec_point_encoding",
            f"the public key is not an uncompressed {curve_name} point "
            f"({len(point)} octets, first 0x{point[0]:02x})",
        )
    x = int.from_bytes(point[1 : 1 + curve.size], "big")
    y = int.from_bytes(point[1 + curve.size :], "big")
    if not (0 <= x < curve.p and 0 <= y < curve.p):
        return KeyProblem(
            "ec_point_coordinate_out_of_range", "a coordinate of the public key is not below p"
        )
    if (y * y - (x * x * x + curve.a * x + curve.b)) % curve.p:
        return KeyProblem("ec_point_not_on_curve", f"the public key is not on {curve_name}")
    return None


def public_key_problem(key: object) -> KeyProblem | None:
    """The first rule a public key object (pyca/cryptography) breaks, else None."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return rsa_problem(numbers.n, numbers.e)
    if isinstance(key, ec.EllipticCurvePublicKey):
        point = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return ec_problem(key.curve.name, point)
    return KeyProblem(
        "key_algorithm_not_allowed",
        f"{type(key).__name__} keys are not allowed (BR 6.1.5: RSA or ECDSA)",
    )
