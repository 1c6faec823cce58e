#!/usr/bin/env bash
# Set up from nothing and run the main job on the embedded default (SQLite, files in a
# local CA home): create a CA, issue ECDSA and RSA certificates, verify them with
# openssl, and list the inventory. The CA home is ./demo-home (removed first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
HOME_DIR=${CERTKEEPER_DEMO_HOME:-demo-home}
rm -rf "$HOME_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A non-public home: the demo issues for example.com names nobody here can validate, so
# it skips domain authorization (stated in certkeeper.toml and on every issue). A public
# home refuses these names until `certkeeper validate NAME --method ...` has run.
certkeeper init --home "$HOME_DIR" --non-public

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ec.key" \
  -subj "/CN=www.example.com" -addext "subjectAltName=DNS:www.example.com,DNS:example.com" \
  -out "$work/ec.csr" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout "$work/rsa.key" \
  -subj "/CN=shop.example.org" -addext "subjectAltName=DNS:shop.example.org" \
  -out "$work/rsa.csr" 2>/dev/null

certkeeper issue --home "$HOME_DIR" --csr "$work/ec.csr" --profile tls-dv-ecdsa --out "$work/ec.pem"
certkeeper issue --home "$HOME_DIR" --csr "$work/rsa.csr" --profile tls-dv-rsa --out "$work/rsa.pem"

for leaf in ec rsa; do
  openssl verify -CAfile "$HOME_DIR/certs/root.pem" -untrusted "$work/$leaf.pem" "$work/$leaf.pem"
done

mkdir -p "$work/batch"
for i in $(seq 1 20); do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj "/CN=host$i.example.net" -addext "subjectAltName=DNS:host$i.example.net" \
    -out "$work/batch/host$i.csr" 2>/dev/null
done
certkeeper issue --home "$HOME_DIR" --batch "$work/batch" --profile tls-dv-ecdsa --out "$work/issued"

certkeeper certs list --home "$HOME_DIR" --limit 5
certkeeper certs list --home "$HOME_DIR" --format csv --domain example.com

# Revoke the RSA certificate; its OCSP response is re-signed and its CRL shard republished.
serial=$(openssl x509 -in "$work/rsa.pem" -noout -serial | cut -d= -f2)
certkeeper revoke --home "$HOME_DIR" "$serial" --reason keyCompromise --evidence "demo: key published"

# Publish every CRL shard, then check the revoked certificate against its shard.
certkeeper crl publish --home "$HOME_DIR"
certkeeper crl status --home "$HOME_DIR"
shard_url=$(openssl x509 -in "$work/rsa.pem" -noout -ext crlDistributionPoints | grep -o 'http://[^ ]*')
shard_file="$HOME_DIR/crl/${shard_url#*/crl/}"
openssl crl -inform DER -in "$shard_file" -out "$work/shard.pem"
openssl x509 -in "$work/rsa.pem" > "$work/rsa-leaf.pem"
# openssl verify exits non-zero for a revoked certificate: that is the expected outcome.
verdict=$(openssl verify -crl_check -CAfile "$HOME_DIR/certs/root.pem" -untrusted "$work/rsa.pem" \
  -CRLfile "$work/shard.pem" "$work/rsa-leaf.pem" 2>&1 || true)
if [[ "$verdict" == *"certificate revoked"* ]]; then
  echo "demo: openssl finds the RSA certificate revoked in shard ${shard_url##*/crl/}"
else
  echo "demo: the revoked certificate is missing from its CRL shard" >&2
  exit 1
fi

# Serve OCSP (and the CRL files) on loopback and ask openssl about both certificates.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
certkeeper serve --home "$HOME_DIR" --port "$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
python3 - "$port" <<'PYEOF'
import socket, sys, time
for _ in range(100):  # wait up to 20 s for the server to listen
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        time.sleep(0.2)
PYEOF
for leaf in ec rsa; do
  issuer="$HOME_DIR/certs/tls-ecdsa-1.pem"
  [ "$leaf" = rsa ] && issuer="$HOME_DIR/certs/tls-rsa-1.pem"
  cat "$HOME_DIR/certs/root.pem" "$issuer" > "$work/trust.pem"
  openssl x509 -in "$work/$leaf.pem" > "$work/$leaf-leaf.pem"
  openssl ocsp -issuer "$issuer" -cert "$work/$leaf-leaf.pem" -CAfile "$work/trust.pem" \
    -url "http://127.0.0.1:$port/ocsp" 2>&1 | grep -E "leaf.pem|Response verify"
done
kill $server 2>/dev/null || true
echo "demo: CA home is $HOME_DIR" >&2
