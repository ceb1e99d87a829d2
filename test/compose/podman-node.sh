#!/usr/bin/env bash
# For a machine without an image registry whose `node:*` base images are local stand-ins holding the machine's own
# Node (SCANLOGIN_DOCKER_ENV, see run.sh): makes the image IMAGE (e.g. node:24-bookworm-slim) carry the Node its tag
# names. When its node is another major, IMAGE is rebuilt from itself with that line's newest binary, fetched from
# the npm registry (the node-linux-<arch> package the `node` package installs), everything else kept (npm, user,
# entrypoint, labels). Needs podman with the environment docker-env exported (CONTAINERS_CONF...).
#   test/compose/podman-node.sh node:24-bookworm-slim
set -euo pipefail
# The full name docker-compose's builds ask podman for (a short name given to podman would be localhost/...).
case $1 in */*) image=$1 ;; *) image=docker.io/library/$1 ;; esac
major=$(sed -n 's/^\(.*\/\)\{0,1\}node:\([0-9][0-9]*\)[.-].*$/\2/p; s/^\(.*\/\)\{0,1\}node:\([0-9][0-9]*\)$/\2/p' <<<"$image")
[ -n "$major" ] || { echo "podman-node: $image names no Node major" >&2; exit 1; }
have=$(podman run --rm --entrypoint node "$image" -p 'process.versions.node' 2>/dev/null || true)
if [ "${have%%.*}" = "$major" ]; then
  echo "podman-node: $image has Node $have"
  exit 0
fi
case $(uname -m) in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) echo "podman-node: no Node binary for $(uname -m)" >&2; exit 1 ;; esac
cache=${XDG_CACHE_HOME:-$HOME/.cache}/scanlogin-podman-node/$major
rm -rf "$cache" && mkdir -p "$cache"
npm install --prefix "$cache" --no-save --no-audit --no-fund --loglevel=error "node-linux-$arch@$major" >/dev/null
bin=$cache/node_modules/node-linux-$arch/bin/node
version=$("$bin" -p 'process.versions.node')
# The binary replaced in a copy of the image's filesystem, imported as one layer (a layer on top would keep the old
# binary's ~100 MB underneath and make every size measured here that much larger than on a real node image); the
# image's configuration (environment, entrypoint, command, labels) is carried over, NODE_VERSION updated.
cid=$(podman create "$image" true)
trap 'podman rm -f "$cid" >/dev/null 2>&1 || true' EXIT
podman cp "$bin" "$cid:/usr/local/bin/node"
mapfile -t changes < <(podman image inspect --format '{{json .Config}}' "$image" | node -e '
  const c = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const out = [];
  for (const e of c.Env ?? []) if (!e.startsWith("NODE_VERSION=")) out.push(`ENV ${e}`);
  out.push(`ENV NODE_VERSION=${process.argv[1]}`);
  for (const [k, v] of Object.entries(c.Labels ?? {})) out.push(`LABEL ${k}=${v}`);
  if (c.WorkingDir) out.push(`WORKDIR ${c.WorkingDir}`);
  if (c.User) out.push(`USER ${c.User}`);
  if (c.Entrypoint?.length) out.push(`ENTRYPOINT ${JSON.stringify(c.Entrypoint)}`);
  if (c.Cmd?.length) out.push(`CMD ${JSON.stringify(c.Cmd)}`);
  for (const line of out) console.log("--change=" + line);
' "$version")
podman export "$cid" | podman import --quiet "${changes[@]}" - "$image" >/dev/null
echo "podman-node: $image had Node ${have:-none}; now $(podman run --rm --entrypoint node "$image" -p 'process.version')"
