"""Publishes dns-01 TXT records into the test DNS server (pebble-challtestsrv).

Run by the ACME clients themselves, so it reads their conventions:

  certbot --manual-auth-hook:    dns_hook.py certbot-auth     ($CERTBOT_DOMAIN, $CERTBOT_VALIDATION)
  certbot --manual-cleanup-hook: dns_hook.py certbot-cleanup
  lego --dns exec (EXEC_PATH):   dns_hook.py lego present|cleanup <fqdn> <value>

The management API address comes from $CHALLTESTSRV_MANAGEMENT ("127.0.0.1:PORT").
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def post(path: str, body: dict[str, str]) -> None:
    management = os.environ["CHALLTESTSRV_MANAGEMENT"]
    request = urllib.request.Request(
        f"http://{management}{path}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        if response.status != 200:
            raise SystemExit(f"challtestsrv {path}: HTTP {response.status}")


def fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def main(argv: list[str]) -> int:
    if argv[:1] == ["certbot-auth"]:
        host = fqdn("_acme-challenge." + os.environ["CERTBOT_DOMAIN"])
        post("/set-txt", {"host": host, "value": os.environ["CERTBOT_VALIDATION"]})
        return 0
    if argv[:1] == ["certbot-cleanup"]:
        post("/clear-txt", {"host": fqdn("_acme-challenge." + os.environ["CERTBOT_DOMAIN"])})
        return 0
    if argv[:1] == ["lego"] and len(argv) == 4 and argv[1] in ("present", "cleanup"):
        _, action, name, value = argv
        if action == "present":
            post("/set-txt", {"host": fqdn(name), "value": value})
        else:
            post("/clear-txt", {"host": fqdn(name)})
        return 0
    print(f"usage: {sys.argv[0]} certbot-auth | certbot-cleanup | lego present|cleanup FQDN VALUE")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
