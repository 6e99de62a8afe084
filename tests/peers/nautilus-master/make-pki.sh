#!/usr/bin/env bash
# Test PKI for the local Nautilus-master stand-in (tests only, never production).
#
#   make-pki.sh [--leaf-days N] DIR
#
# Creates in DIR whatever is missing (an existing file is never re-created):
#   tls-ca.{pem,key}        CA of the master's HTTPS server certificate
#   server.{pem,key}        CN=localhost, SAN DNS:localhost, IP:127.0.0.1
#   client-ca.{pem,key}     CA the master trusts for client certificates
#   client.{pem,key}        the agent's client certificate, CN=worker-1, clientAuth
#   other-ca.{pem,key}      an unrelated CA ("unknown CA" tests)
#   other-client.{pem,key}  a client certificate signed by other-ca
#   nitro-root.{pem,key}    P-384 self-signed root mimicking the AWS Nitro root G1
#   nitro-inter.{pem,key}   P-384 intermediate (CA:true) signed by nitro-root
#   nitro-leaf.{pem,key}    P-384 attestation signing key signed by nitro-inter
# Private keys are mode 0600. Every notBefore is 2 days in the past; --leaf-days (default 3650)
# sets how long from now the Nitro leaf lives. Prints nothing but errors.
set -euo pipefail

leaf_days=3650
while [ $# -gt 0 ]; do
  case "$1" in
    --leaf-days) leaf_days="${2:?--leaf-days needs a number}"; shift 2 ;;
    --leaf-days=*) leaf_days="${1#*=}"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "make-pki.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: make-pki.sh [--leaf-days N] DIR" >&2; exit 2; }
case "$leaf_days" in ''|*[!0-9]*) echo "make-pki.sh: --leaf-days must be a positive integer" >&2; exit 2 ;; esac

dir="$1"
mkdir -p "$dir"
umask 077   # keys are born 0600; certificates are opened up to 0644 below
tmp="$(mktemp -d "$dir/.pki-tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

ossl() {  # run openssl quietly, show its output only on failure
  local out
  if ! out="$(openssl "$@" 2>&1)"; then
    echo "make-pki.sh: openssl $1 failed: $out" >&2
    return 1
  fi
}

backdate_days=2   # every certificate starts 2 days ago: tolerant of skew, and old documents verify
utc() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
now="$(date +%s)"
not_before="$(utc $((now - backdate_days * 86400)))"

# issue NAME CURVE SUBJECT DAYS DIGEST ISSUER|self EXTS...
# `openssl ca` (not `x509 -req`) so that notBefore can lie in the past; DAYS count from now.
issue() {
  local name="$1" curve="$2" subj="$3" days="$4" md="$5" issuer="$6"; shift 6
  [ -s "$dir/$name.pem" ] && [ -s "$dir/$name.key" ] && return 0
  local db="$tmp/$name.db"
  mkdir -p "$db"
  : > "$db/index"
  echo "01$(od -An -N15 -tx1 /dev/urandom | tr -d ' \n')" > "$db/serial"
  printf '%s\n' "$@" > "$tmp/$name.ext"
  cat > "$db/ca.cnf" <<CNF
[ca]
default_ca = test_ca
[test_ca]
database = $db/index
new_certs_dir = $db
serial = $db/serial
policy = any_dn
preserve = yes
unique_subject = no
email_in_dn = no
copy_extensions = none
[any_dn]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
CNF
  if [ -s "$dir/$name.key" ]; then
    ossl req -new -key "$dir/$name.key" -subj "$subj" -out "$tmp/$name.csr" "-$md"
  else  # new key and request in one run
    ossl req -new -newkey ec -pkeyopt "ec_paramgen_curve:$curve" -pkeyopt ec_param_enc:named_curve -nodes \
      -keyout "$tmp/$name.key" -subj "$subj" -out "$tmp/$name.csr" "-$md"
    chmod 600 "$tmp/$name.key"
    mv "$tmp/$name.key" "$dir/$name.key"
  fi
  local signer
  if [ "$issuer" = self ]; then
    signer=(-selfsign -keyfile "$dir/$name.key")
  else
    signer=(-cert "$dir/$issuer.pem" -keyfile "$dir/$issuer.key")
  fi
  ossl ca -batch -notext -config "$db/ca.cnf" "${signer[@]}" -in "$tmp/$name.csr" -md "$md" \
    -startdate "$not_before" -enddate "$(utc $((now + days * 86400)))" \
    -extfile "$tmp/$name.ext" -out "$tmp/$name.pem"
  chmod 644 "$tmp/$name.pem"
  mv "$tmp/$name.pem" "$dir/$name.pem"
}
self_signed() { local n="$1" c="$2" s="$3" d="$4" m="$5"; shift 5; issue "$n" "$c" "$s" "$d" "$m" self "$@"; }
signed() { issue "$@"; }

ca_ext=("basicConstraints=critical,CA:TRUE" "keyUsage=critical,digitalSignature,keyCertSign,cRLSign"
        "subjectKeyIdentifier=hash")

# TLS between the agent and the master (P-256: fast handshakes)
self_signed tls-ca prime256v1 "/O=k3s-daas test/CN=k3s-daas test master TLS CA" 3650 sha256 "${ca_ext[@]}"
signed server prime256v1 "/O=k3s-daas test/CN=localhost" 3650 sha256 tls-ca \
  "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  "authorityKeyIdentifier=keyid"
self_signed client-ca prime256v1 "/O=k3s-daas test/CN=k3s-daas test worker client CA" 3650 sha256 "${ca_ext[@]}"
signed client prime256v1 "/O=k3s-daas test/CN=worker-1" 3650 sha256 client-ca \
  "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=clientAuth" "authorityKeyIdentifier=keyid"
self_signed other-ca prime256v1 "/O=unrelated test org/CN=unrelated test CA" 3650 sha256 "${ca_ext[@]}"
signed other-client prime256v1 "/O=unrelated test org/CN=worker-1" 3650 sha256 other-ca \
  "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=clientAuth" "authorityKeyIdentifier=keyid"

# Attestation chain shaped like AWS Nitro's (P-384, ECDSA with SHA-384)
self_signed nitro-root secp384r1 "/C=US/O=k3s-daas test/OU=AWS/CN=aws.nitro-enclaves-test" 10950 sha384 "${ca_ext[@]}"
signed nitro-inter secp384r1 "/C=US/O=k3s-daas test/OU=AWS/CN=test.us-east-1.aws.nitro-enclaves-test" 7300 sha384 nitro-root \
  "basicConstraints=critical,CA:TRUE,pathlen:2" "keyUsage=critical,digitalSignature,keyCertSign,cRLSign" \
  "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid"
signed nitro-leaf secp384r1 "/C=US/ST=Washington/L=Seattle/O=k3s-daas test/OU=AWS/CN=i-0000000000test-enc0000000000test.us-east-1.aws" \
  "$leaf_days" sha384 nitro-inter \
  "basicConstraints=critical,CA:FALSE" "keyUsage=digitalSignature,nonRepudiation"
