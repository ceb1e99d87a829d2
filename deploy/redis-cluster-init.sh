#!/bin/sh
# The `redis-cluster-init` service of docker-compose.prod.yml's `cluster` profile: runs once per `up`, exits 0 when
# every node reports `cluster_state:ok`. Safe to run again and again (every `up`, a restart of everything):
#   - six blank nodes (a first `up`)          → `redis-cli --cluster create … --cluster-replicas 1`;
#   - a cluster already formed (nodes.conf on the volumes) → every node is told every other node's address again
#     (CLUSTER MEET). Redis Cluster's bus knows its peers by the IP written in nodes.conf; containers get new
#     IPs when they are re-created, and when all of them change at once no node can reach another. A MEET to a
#     node the cluster already knows by id only updates that node's address (redis cluster.c, the handshake
#     branch: "we already know node …, updating the address if needed");
#   - a blank node among formed ones (its volume was lost) → added as a replica of the master with the fewest;
#   - two clusters (nodes formed apart) → refused, with what to do: nothing here deletes data.
# REDIS_CLUSTER_HOSTS: the nodes' service names; REDIS_CLUSTER_PORT (6379); REDISCLI_AUTH, when the nodes
# have a password. Needs only redis-cli and a POSIX shell (the redis image, Alpine or Debian).
set -eu
hosts=${REDIS_CLUSTER_HOSTS:?REDIS_CLUSTER_HOSTS: the cluster nodes, space-separated}
port=${REDIS_CLUSTER_PORT:-6379}
say() { echo "redis-cluster-init: $*"; }
cli() {
  _host=$1
  shift
  redis-cli --no-auth-warning -h "$_host" -p "$port" "$@"
}
field() { sed -n "s/^$1:\([^[:space:]]*\).*/\1/p"; }

# Each node's address as its clients (and CLUSTER MEET) must name it: the IP this connection reached, from
# CLIENT INFO's laddr (Redis ≥ 6.2) — no DNS tool is needed in the image.
for h in $hosts; do
  tries=0
  until [ "$(cli "$h" ping 2>/dev/null)" = PONG ]; do
    tries=$((tries + 1))
    [ $tries -lt 120 ] || { say "$h does not answer PING after 120 s"; exit 1; }
    sleep 1
  done
done
addr() { cli "$1" client info | sed -n 's/.* laddr=\([^ ]*\).*/\1/p'; }
known() { cli "$1" cluster info | tr -d '\r' | field cluster_known_nodes; }
assigned() { cli "$1" cluster info | tr -d '\r' | field cluster_slots_assigned; }

blank='' formed='' all=''
for h in $hosts; do
  a=$(addr "$h")
  [ -n "$a" ] || { say "$h: no address in CLIENT INFO (Redis older than 6.2?)"; exit 1; }
  all="$all $a"
  if [ "$(known "$h")" = 1 ] && [ "$(assigned "$h")" = 0 ]; then blank="$blank $h=$a"; else formed="$formed $h=$a"; fi
done

if [ -z "$formed" ]; then
  say "creating the cluster:$all"
  # shellcheck disable=SC2086
  redis-cli --no-auth-warning --cluster create $all --cluster-replicas 1 --cluster-yes
else
  # One cluster only: every formed node must know the first one's id (two halves formed apart would be merged
  # by a MEET, with their slots overlapping: that is for a person to sort out).
  first=${formed%%=*}
  first=${first# }
  id=$(cli "$first" cluster myid | tr -d '\r')
  for pair in $formed; do
    h=${pair%%=*}
    cli "$h" cluster nodes | grep -q "^$id " || {
      say "$h belongs to another cluster than $first (it does not know node $id)."
      say 'Nothing was changed. Either remove the odd volume(s) and `up` again, or join them by hand.'
      exit 1
    }
  done
  say "cluster formed already: telling every node where the others are now"
  for pair in $formed; do
    h=${pair%%=*}
    for other in $formed; do
      [ "$other" = "$pair" ] && continue
      a=${other#*=}
      cli "$h" cluster meet "${a%:*}" "${a##*:}" >/dev/null
    done
  done
  for pair in $blank; do
    say "${pair%%=*} is blank (a lost volume?): adding it as a replica"
    redis-cli --no-auth-warning --cluster add-node "${pair#*=}" "$(addr "$first")" --cluster-slave
  done
fi

# Done when every node sees the whole cluster healthy (a MEET and a new replica settle within seconds).
tries=0
for h in $hosts; do
  until [ "$(cli "$h" cluster info | tr -d '\r' | field cluster_state)" = ok ] &&
    [ "$(known "$h")" -ge "$(echo $hosts | wc -w)" ]; do
    tries=$((tries + 1))
    [ $tries -lt 120 ] || { say "$h: cluster_state not ok after 120 s"; cli "$h" cluster nodes; exit 1; }
    sleep 1
  done
done
say "cluster_state:ok on every node"
cli "${hosts%% *}" cluster nodes
