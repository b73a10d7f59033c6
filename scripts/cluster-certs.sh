#!/bin/sh
# Certificates for the docker compose cluster profile (docs/scaling-out.md, "Docker"):
# a CA, and one server certificate for nats1, nats2 and nats3, in ./certs. The logflow
# containers trust the CA (NATS_CA=/certs/ca.pem); keep ca-key.pem off the servers.
set -eu
dir=${1:-certs}
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 825 -subj /CN=logflow-nats-ca
openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj /CN=nats
printf 'subjectAltName=DNS:nats1,DNS:nats2,DNS:nats3,DNS:localhost,IP:127.0.0.1\n' > san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 825 -extfile san.ext
rm -f server.csr san.ext ca.srl
# The containers run as LOGFLOW_UID and nats' own user: readable by them.
chmod 644 ca.pem server.pem server-key.pem
echo "certificates in $dir: ca.pem (give to every client), server.pem + server-key.pem (the NATS servers)"
