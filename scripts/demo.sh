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

certkeeper init --home "$HOME_DIR"

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
echo "demo: CA home is $HOME_DIR" >&2
