"""The renewal-info endpoint (RFC 9773 4): GET /acme/renewal-info/<certID>.

Unauthenticated (a certID names a public certificate); answers the suggested window of
`ari.py` with Retry-After. An unknown certificate is a 404 problem document.
"""

from __future__ import annotations

from certkeeper.acme.ari import Window, normal_window, parse_cert_id, retry_after
from certkeeper.acme.context import Acme, Request, Response
from certkeeper.acme.problems import AcmeProblem
from certkeeper.errors import NotFound


def renewal_info(acme: Acme, request: Request, text: str) -> Response:
    if request.method not in ("GET", "HEAD"):
        raise AcmeProblem("malformed", "renewal information is fetched with GET", status=405)
    cert_id = parse_cert_id(text)
    inventory = acme.ca.stores.inventory
    try:
        record = inventory.certificate(serial=cert_id.serial_hex)
    except NotFound:
        raise AcmeProblem("malformed", f"no certificate with certID {text}", status=404) from None
    issuer = inventory.issuer(record.issuer_id)
    if bytes.fromhex(issuer.ski) != cert_id.key_identifier:
        raise AcmeProblem("malformed", f"no certificate with certID {text}", status=404)
    override = acme.ca.stores.incidents.renewal_window(record.serial)
    if override is not None:
        window = Window(override[0], override[1], override[2])
    else:
        window = normal_window(record.not_before, record.not_after)
    retry = retry_after(acme.settings.renewal_info_retry_after, in_incident=override is not None)
    return Response.json(200, window.to_json(), [("Retry-After", str(retry))])
