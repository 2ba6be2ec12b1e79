#!/bin/sh
# Throwaway PKI for the TLS tests (remote.int.test.ts): a CA, a server certificate for
# 127.0.0.1/localhost and a client certificate, laid out the way libvirt looks for them, plus
# client directories that must be refused. Everything expires in two days and lives under $1.
#
#   $1/server/    cacert.pem servercert.pem serverkey.pem       (the daemon's key_file/cert_file/ca_file)
#   $1/client/    cacert.pem clientcert.pem clientkey.pem       (pkipath= for a good client)
#   $1/wrongca/   another CA's cacert.pem + the good client cert (the server's cert must be refused)
#   $1/nocert/    cacert.pem only                               (the daemon must refuse the client)
#   $1/badname/   servercert.pem serverkey.pem naming only other.invalid (the client must refuse it)
#
# RSA keys: libvirt insists on the keyEncipherment usage, which ECDSA keys cannot carry.
# Needs certtool (Debian: gnutls-bin). Never touches /etc/pki.
set -eu
out=${1:?usage: make-pki.sh OUTDIR}
command -v certtool >/dev/null || { echo "certtool not found: apt-get install -y gnutls-bin" >&2; exit 1; }
mkdir -p "$out/ca" "$out/other" "$out/server" "$out/client" "$out/wrongca" "$out/nocert" "$out/badname"
cd "$out"
quiet() { log=$("$@" 2>&1) || { printf 'failed: %s\n%s\n' "$*" "$log" >&2; exit 1; }; }

cat > ca/ca.info <<'T'
cn = "pulumi-libvirt test CA"
ca
cert_signing_key
expiration_days = 2
T
cat > other/ca.info <<'T'
cn = "pulumi-libvirt unrelated CA"
ca
cert_signing_key
expiration_days = 2
T
cat > server/server.info <<'T'
organization = "pulumi-libvirt tests"
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
encryption_key
signing_key
expiration_days = 2
T
cat > badname/server.info <<'T'
organization = "pulumi-libvirt tests"
cn = "other.invalid"
dns_name = "other.invalid"
tls_www_server
encryption_key
signing_key
expiration_days = 2
T
cat > client/client.info <<'T'
organization = "pulumi-libvirt tests"
cn = "pulumi-libvirt test client"
tls_www_client
encryption_key
signing_key
expiration_days = 2
T

for ca in ca other; do
  quiet certtool --generate-privkey --key-type=rsa --bits=2048 --outfile "$ca/cakey.pem"
  quiet certtool --generate-self-signed --load-privkey "$ca/cakey.pem" --template "$ca/ca.info" --outfile "$ca/cacert.pem"
done
quiet certtool --generate-privkey --key-type=rsa --bits=2048 --outfile server/serverkey.pem
quiet certtool --generate-certificate --load-privkey server/serverkey.pem --load-ca-certificate ca/cacert.pem \
  --load-ca-privkey ca/cakey.pem --template server/server.info --outfile server/servercert.pem
quiet certtool --generate-privkey --key-type=rsa --bits=2048 --outfile badname/serverkey.pem
quiet certtool --generate-certificate --load-privkey badname/serverkey.pem --load-ca-certificate ca/cacert.pem \
  --load-ca-privkey ca/cakey.pem --template badname/server.info --outfile badname/servercert.pem
quiet certtool --generate-privkey --key-type=rsa --bits=2048 --outfile client/clientkey.pem
quiet certtool --generate-certificate --load-privkey client/clientkey.pem --load-ca-certificate ca/cacert.pem \
  --load-ca-privkey ca/cakey.pem --template client/client.info --outfile client/clientcert.pem

cp ca/cacert.pem server/cacert.pem
cp ca/cacert.pem client/cacert.pem
cp ca/cacert.pem nocert/cacert.pem
cp other/cacert.pem wrongca/cacert.pem
cp client/clientcert.pem client/clientkey.pem wrongca/
cp ca/cacert.pem badname/cacert.pem
rm -f ca/ca.info other/ca.info server/server.info badname/server.info client/client.info
chmod 600 ca/cakey.pem other/cakey.pem server/serverkey.pem badname/serverkey.pem client/clientkey.pem wrongca/clientkey.pem
