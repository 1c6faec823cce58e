"""Weak-key rules (BR 6.1.1.3, 6.1.5, 6.1.6) on known-weak vectors made here, and as
properties: every rule names itself, sound keys pass."""

from __future__ import annotations

import math
import random
from functools import cache

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.keys import weak
from keys.primes import fermat_pair, next_prime, random_prime, roca_prime

E = 65537


@cache
def sound_modulus() -> int:
    rng = random.Random(2048)
    return random_prime(1024, rng) * random_prime(1024, rng)


@cache
def roca_modulus() -> int:
    rng = random.Random(17)
    return roca_prime(1024, rng) * roca_prime(1024, rng)


def rule(n: int, e: int = E) -> str | None:
    problem = weak.rsa_problem(n, e)
    return None if problem is None else problem.rule


def test_a_sound_rsa_key_passes() -> None:
    assert rule(sound_modulus()) is None
    for size in (2048, 3072):
        key = rsa.generate_private_key(E, size).public_key()
        assert weak.public_key_problem(key) is None


def test_fermat_factorable_modulus_is_refused() -> None:
    p, q = fermat_pair(1024, 2**300, random.Random(7))
    assert (p * q).bit_length() == 2048
    assert weak.fermat_factor(p * q, weak.FERMAT_ROUNDS) == (p, q)
    problem = weak.rsa_problem(p * q, E)
    assert problem is not None and problem.rule == "rsa_fermat_factorable"
    assert "Fermat" in problem.detail and "100 rounds" in problem.detail


def test_fermat_search_is_bounded() -> None:
    """Primes far apart are not found within the rounds, and the search stops."""
    assert weak.fermat_factor(sound_modulus(), weak.FERMAT_ROUNDS) is None


def test_roca_fingerprint_is_refused() -> None:
    n = roca_modulus()
    assert n.bit_length() == 2048
    assert weak.roca_fingerprint(n)
    assert rule(n) == "rsa_roca_fingerprint"
    assert not weak.roca_fingerprint(sound_modulus())
    assert weak.roca_false_positive_rate() < 1e-8


def with_factor(small: int, offset: int) -> int:
    """A 2048-bit modulus whose smallest prime factor is `small`."""
    cofactor = -(-(1 << 2047) // small) + offset
    while math.gcd(cofactor, math.prod(weak.SMALL_PRIMES)) != 1:
        cofactor += 1
    return small * cofactor


def test_small_prime_factor_is_refused() -> None:
    n = with_factor(751, 12345)
    assert n.bit_length() == 2048
    problem = weak.rsa_problem(n, E)
    assert problem is not None and problem.rule == "rsa_small_prime_factor"
    assert "divisible by 751;" in problem.detail


def test_prime_power_is_refused() -> None:
    p = random_prime(1024, random.Random(3))
    assert rule(p * p) == "rsa_modulus_prime_power"
    assert rule(p**2) == rule(p * p)


@pytest.mark.parametrize(
    ("e", "expected"),
    [
        (1, "rsa_exponent_not_odd_at_least_3"),
        (2, "rsa_exponent_not_odd_at_least_3"),
        (65536, "rsa_exponent_not_odd_at_least_3"),
        (3, "rsa_exponent_out_of_range"),
        (65535, "rsa_exponent_out_of_range"),
        (2**256 + 1, "rsa_exponent_out_of_range"),
        (65537, None),
        (2**256 - 1, None),
    ],
)
def test_exponent_rules(e: int, expected: str | None) -> None:
    assert rule(sound_modulus(), e) == expected


@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        (1024, "rsa_modulus_too_small"),
        (2047, "rsa_modulus_too_small"),
        (2052, "rsa_modulus_size_not_multiple_of_8"),
        (8200, "rsa_modulus_too_large"),
    ],
)
def test_modulus_size_rules(bits: int, expected: str) -> None:
    n = (1 << (bits - 1)) | 1
    assert rule(n) == expected


def point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_ec_point_rules(curve: ec.EllipticCurve) -> None:
    key = ec.generate_private_key(curve).public_key()
    good = point(key)
    assert weak.public_key_problem(key) is None
    size = (len(good) - 1) // 2
    x, y = good[1 : 1 + size], int.from_bytes(good[1 + size :], "big")
    off_curve = b"\x04" + x + (y + 1).to_bytes(size, "big")
    cases = {
        b"\x00": "ec_point_at_infinity",
        b"": "ec_point_at_infinity",
        b"\x02" + x: "ec_point_encoding",
        good[:-1]: "ec_point_encoding",
        off_curve: "ec_point_not_on_curve",
        b"\x04" + b"\xff" * (2 * size): "ec_point_coordinate_out_of_range",
    }
    for encoded, expected in cases.items():
        problem = weak.ec_problem(curve.name, encoded)
        assert problem is not None and problem.rule == expected, (encoded[:4], problem)


def test_other_curves_and_algorithms_are_refused() -> None:
    k256 = ec.generate_private_key(ec.SECP256K1()).public_key()
    assert weak.public_key_problem(k256) == weak.KeyProblem(
        "ec_curve_not_allowed",
        "elliptic curve secp256k1 is not allowed (BR 6.1.5: P-256, P-384, P-521)",
    )
    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    problem = weak.public_key_problem(ed)
    assert problem is not None and problem.rule == "key_algorithm_not_allowed"


# -- properties ----------------------------------------------------------------------

primes_256 = st.integers(min_value=2**255, max_value=2**256 - 1).map(next_prime)


@given(p=primes_256, gap=st.integers(min_value=1, max_value=2**60))
def test_fermat_finds_every_pair_of_close_primes(p: int, gap: int) -> None:
    q = next_prime(p + gap)
    found = weak.fermat_factor(p * q, weak.FERMAT_ROUNDS)
    assert found == (p, q)


@given(small=st.sampled_from(weak.SMALL_PRIMES), offset=st.integers(0, 2**64))
def test_every_factor_below_752_is_named(small: int, offset: int) -> None:
    n = small * (-(-(1 << 2047) // small) + offset)
    assert n.bit_length() == 2048
    problem = weak.rsa_problem(n, E)
    assert problem is not None and problem.rule == "rsa_small_prime_factor"
    smallest = next(p for p in weak.SMALL_PRIMES if n % p == 0)
    assert f"divisible by {smallest};" in problem.detail


@given(a=st.integers(1, 2**40), b=st.integers(1, 2**40), k=st.integers(1, 2**64))
def test_every_product_of_rsalib_shaped_residues_has_the_fingerprint(
    a: int, b: int, k: int
) -> None:
    from keys.primes import ROCA_MODULUS

    residue = pow(E, a, ROCA_MODULUS) * pow(E, b, ROCA_MODULUS) % ROCA_MODULUS
    assert weak.roca_fingerprint(k * ROCA_MODULUS + residue)


@given(n=st.integers(min_value=0, max_value=2**9000), e=st.integers(min_value=0, max_value=2**300))
def test_any_numbers_get_an_answer_never_an_exception(n: int, e: int) -> None:
    problem = weak.rsa_problem(n, e, fermat_rounds=5)
    assert problem is None or problem.rule.startswith("rsa_")


@given(data=st.binary(max_size=140), curve=st.sampled_from(sorted(weak.CURVES)))
def test_any_point_bytes_get_an_answer_never_an_exception(data: bytes, curve: str) -> None:
    problem = weak.ec_problem(curve, data)
    assert problem is not None  # random bytes are never a point on the curve


@given(root=st.integers(min_value=753, max_value=2**300), k=st.sampled_from([2, 3, 5, 7, 11, 13]))
def test_every_perfect_power_is_found(root: int, k: int) -> None:
    found = weak.perfect_power(root**k)
    assert found is not None and found[0] ** found[1] == root**k


@given(n=st.integers(min_value=2**64, max_value=2**2048))
def test_a_reported_power_is_a_power(n: int) -> None:
    found = weak.perfect_power(n)
    assert found is None or found[0] ** found[1] == n
