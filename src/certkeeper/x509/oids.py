"""Every object identifier certkeeper names, as dotted strings, defined once.

The lints and the DER readers compare OIDs as the strings `der.decode_oid` returns;
code built on `cryptography` wraps these in `ObjectIdentifier` where it has no constant
of its own. A dotted literal anywhere else in the source is a second definition.
"""

from __future__ import annotations

# --- certificate and CRL extensions (RFC 5280 4.2, 5.2, 5.3; RFC 6962, 7633, 8737) ------

OID_SDA = "2.5.29.9"  # subjectDirectoryAttributes
OID_SKI = "2.5.29.14"
OID_KEY_USAGE = "2.5.29.15"
OID_PKUP = "2.5.29.16"  # privateKeyUsagePeriod
OID_SAN = "2.5.29.17"
OID_IAN = "2.5.29.18"
OID_BASIC_CONSTRAINTS = "2.5.29.19"
OID_CRL_NUMBER = "2.5.29.20"
OID_REASON_CODE = "2.5.29.21"
OID_INVALIDITY_DATE = "2.5.29.24"
OID_DELTA_CRL = "2.5.29.27"
OID_IDP = "2.5.29.28"
OID_CERTIFICATE_ISSUER = "2.5.29.29"
OID_NAME_CONSTRAINTS = "2.5.29.30"
OID_CRLDP = "2.5.29.31"
OID_CERT_POLICIES = "2.5.29.32"
OID_POLICY_MAPPINGS = "2.5.29.33"
OID_AKI = "2.5.29.35"
OID_POLICY_CONSTRAINTS = "2.5.29.36"
OID_EKU = "2.5.29.37"
OID_FRESHEST_CRL = "2.5.29.46"
OID_INHIBIT_ANY_POLICY = "2.5.29.54"
OID_AIA = "1.3.6.1.5.5.7.1.1"
OID_QC_STATEMENTS = "1.3.6.1.5.5.7.1.3"
OID_SIA = "1.3.6.1.5.5.7.1.11"
OID_TLS_FEATURE = "1.3.6.1.5.5.7.1.24"
OID_ACME_IDENTIFIER = "1.3.6.1.5.5.7.1.31"  # id-pe-acmeIdentifier, tls-alpn-01 (RFC 8737 6.1)
OID_SCT_LIST = "1.3.6.1.4.1.11129.2.4.2"
OID_CT_POISON = "1.3.6.1.4.1.11129.2.4.3"

# --- OCSP (RFC 6960 4.2.1, 4.4) -----------------------------------------------------------

OID_OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1"
OID_OCSP_NONCE = "1.3.6.1.5.5.7.48.1.2"
OID_OCSP_NOCHECK = "1.3.6.1.5.5.7.48.1.5"
OID_OCSP_ARCHIVE_CUTOFF = "1.3.6.1.5.5.7.48.1.6"
OID_OCSP_EXTENDED_REVOKE = "1.3.6.1.5.5.7.48.1.9"

# --- extended key usages ----------------------------------------------------------------

EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
EKU_CODE_SIGNING = "1.3.6.1.5.5.7.3.3"
EKU_EMAIL = "1.3.6.1.5.5.7.3.4"
EKU_TIME_STAMPING = "1.3.6.1.5.5.7.3.8"
EKU_OCSP_SIGNING = "1.3.6.1.5.5.7.3.9"
EKU_ANY = "2.5.29.37.0"
EKU_PRECERT_SIGNING = "1.3.6.1.4.1.11129.2.4.4"

# --- access methods and policy qualifiers -----------------------------------------------

AD_OCSP = "1.3.6.1.5.5.7.48.1"
AD_CA_ISSUERS = "1.3.6.1.5.5.7.48.2"
QT_CPS = "1.3.6.1.5.5.7.2.1"
QT_UNOTICE = "1.3.6.1.5.5.7.2.2"

# --- name attributes --------------------------------------------------------------------

ATTR_CN = "2.5.4.3"
ATTR_SURNAME = "2.5.4.4"
ATTR_SERIAL_NUMBER = "2.5.4.5"
ATTR_C = "2.5.4.6"
ATTR_L = "2.5.4.7"
ATTR_ST = "2.5.4.8"
ATTR_STREET = "2.5.4.9"
ATTR_O = "2.5.4.10"
ATTR_OU = "2.5.4.11"
ATTR_BUSINESS_CATEGORY = "2.5.4.15"
ATTR_POSTAL_CODE = "2.5.4.17"
ATTR_GIVEN_NAME = "2.5.4.42"
ATTR_PSEUDONYM = "2.5.4.65"
ATTR_ORG_ID = "2.5.4.97"
ATTR_DC = "0.9.2342.19200300.100.1.25"
ATTR_EMAIL = "1.2.840.113549.1.9.1"
ATTR_JURIS_C = "1.3.6.1.4.1.311.60.2.1.3"
ATTR_JURIS_ST = "1.3.6.1.4.1.311.60.2.1.2"
ATTR_JURIS_L = "1.3.6.1.4.1.311.60.2.1.1"

# --- keys, curves, signatures, hashes ---------------------------------------------------

ARC_PKCS1 = "1.2.840.113549.1.1"  # RSA algorithms live under this arc
ARC_ECDSA = "1.2.840.10045.4"  # ECDSA signature algorithms live under this arc
ALG_RSA = "1.2.840.113549.1.1.1"
ALG_RSA_PSS = "1.2.840.113549.1.1.10"
ALG_EC = "1.2.840.10045.2.1"
ALG_ED25519 = "1.3.101.112"
ALG_ED448 = "1.3.101.113"
CURVE_P256 = "1.2.840.10045.3.1.7"
CURVE_P384 = "1.3.132.0.34"
CURVE_P521 = "1.3.132.0.35"

SIG_RSA_MD5 = "1.2.840.113549.1.1.4"
SIG_RSA_SHA1 = "1.2.840.113549.1.1.5"
SIG_RSA_SHA256 = "1.2.840.113549.1.1.11"
SIG_RSA_SHA384 = "1.2.840.113549.1.1.12"
SIG_RSA_SHA512 = "1.2.840.113549.1.1.13"
SIG_ECDSA_SHA1 = "1.2.840.10045.4.1"
SIG_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
SIG_ECDSA_SHA384 = "1.2.840.10045.4.3.3"
SIG_ECDSA_SHA512 = "1.2.840.10045.4.3.4"

HASH_SHA1 = "1.3.14.3.2.26"
HASH_SHA256 = "2.16.840.1.101.3.4.2.1"
HASH_SHA384 = "2.16.840.1.101.3.4.2.2"
HASH_SHA512 = "2.16.840.1.101.3.4.2.3"

# --- certificate policies and CA/Browser Forum identifiers ------------------------------

POLICY_DV = "2.23.140.1.2.1"
POLICY_OV = "2.23.140.1.2.2"
POLICY_IV = "2.23.140.1.2.3"
POLICY_EV = "2.23.140.1.1"
POLICY_ANY = "2.5.29.32.0"
RESERVED_POLICIES = frozenset({POLICY_DV, POLICY_OV, POLICY_IV, POLICY_EV})
OID_CABF_ORG_ID = "2.23.140.3.1"  # EVG 9.8.2 cabfOrganizationIdentifier
OID_TOR_SERVICE_DESCRIPTOR = "2.23.140.1.31"  # BR Appendix C
