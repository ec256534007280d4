#!/usr/bin/env bash
# Builds the `elect` image (docker/images/elect) from this checkout, without an
# image registry: the debootstrap base from docker/build-images.sh, Node from
# the npm registry (scripts/fetch-node.sh), the CLI and its dependencies as
# `pnpm deploy --prod` lays them out. Run after `pnpm build`.
#
#   docker/build-elect-image.sh        # → elect/elect:<version>, also tagged elect:latest
#
# Rebuilt only when its context (Dockerfile, Node, the deployed CLI) changed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/docker-env.sh
. "$repo/scripts/docker-env.sh"
export DOCKER_HOST=${DOCKER_HOST:-$ELECT_DOCKER_HOST}

node_version=${ELECT_IMAGE_NODE:-22.23.5}
version=$(node -p "require('$repo/packages/cli/package.json').version")
image=elect/elect:$version
base_image=elect/debian:bookworm
label=org.elect.recipe
log() { echo "build-elect-image: $*" >&2; }

docker image inspect "$base_image" >/dev/null 2>&1 || { log "no $base_image: run docker/build-images.sh first"; exit 1; }
[[ -f $repo/packages/cli/dist/main.js && -f $repo/packages/cli/bundle/elect.js ]] || { log "packages/cli is not built: run pnpm build first"; exit 1; }

context=$(mktemp -d "${TMPDIR:-/tmp}/elect-image.XXXXXX")
trap 'rm -rf "$context"' EXIT
cp "$here/images/elect/Dockerfile" "$context/"
mkdir "$context/node"
cp "$(bash "$repo/scripts/fetch-node.sh" "$node_version")/node" "$context/node/node"
(cd "$repo" && pnpm --silent --filter @elect/cli deploy --prod "$context/app" >/dev/null)
# Sources and maps are for readers of the packages, not for the image.
find "$context/app" -name '*.map' -delete
recipe=$({ (cd "$context" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); docker image inspect -f '{{.Id}}' "$base_image"; } | sha256sum | cut -c1-16)
if [[ $(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$image" 2>/dev/null) == "$recipe" ]]; then
  log "$image exists"
else
  start=$SECONDS
  DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE=$base_image" --label "$label=$recipe" -t "$image" "$context" >"$context/build.log" 2>&1 || {
    log "building $image failed:"
    tail -n 40 "$context/build.log" >&2
    exit 1
  }
  log "$image built in $((SECONDS - start))s"
fi
docker tag "$image" elect:latest
docker image prune --force --filter "label=$label" >/dev/null
echo "$image"
