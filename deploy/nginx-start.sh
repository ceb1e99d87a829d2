#!/bin/sh
# The nginx service's command in docker-compose.prod.yml: writes the resolver that deploy/nginx.conf includes, then
# runs nginx (or the command given as arguments).
# nginx resolves the upstream names (http, ws) on its own, per request, so that every replica `--scale` starts is
# used; it must be told which DNS server to ask, by address. That server is the container's own, the first one
# /etc/resolv.conf names: Docker's embedded DNS (127.0.0.11) on a compose network, podman's aardvark-dns (the
# network's gateway) under podman. Only the first: podman lists the host's servers after it, which know no service
# name, and nginx asks its resolvers in turn — every other lookup would fail ("Host not found", a 502).
# Reading it here makes one file work on both engines.
# RESOLV_CONF and RESOLVER_CONF move the two files (the tests run this script outside a container).
set -eu
resolv=${RESOLV_CONF:-/etc/resolv.conf}
out=${RESOLVER_CONF:-/etc/nginx/resolver.conf}
# An IPv6 server goes in brackets, as nginx wants it; a link-local one with a zone (fe80::1%eth0) nginx cannot take.
server=$(awk '$1 == "nameserver" && $2 != "" && $2 !~ /%/ { a = $2; if (a ~ /:/) a = "[" a "]"; print a; exit }' "$resolv")
if [ -z "$server" ]; then
  echo "nginx-start: no nameserver in $resolv: nginx could not resolve the upstreams" >&2
  exit 1
fi
# valid=5s: a removed replica's address is dropped within five seconds (nginx.conf fails over from it meanwhile).
# ipv6=off: the compose networks are IPv4, and the roles listen on IPv4.
echo "resolver $server valid=5s ipv6=off;" >"$out"
[ $# -gt 0 ] || set -- nginx -g 'daemon off;'
exec "$@"
