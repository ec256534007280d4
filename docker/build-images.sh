#!/usr/bin/env bash
# Builds the ZooKeeper and etcd images elect's tests and compose file use,
# without any image registry: a Debian bookworm base from debootstrap, then
# the servers from Debian's own packages.
#
#   docker/build-images.sh            # builds what is missing, skips the rest
#   ELECT_IMAGES_REBUILD=1 docker/build-images.sh   # builds everything again
#
# Images (each also tagged with the official name people pull, so the test
# harness and docker/compose.yml work unchanged with or without a registry):
#   elect/debian:bookworm                          the debootstrap base
#   elect/zookeeper:3.8  = zookeeper:3.8           configured like the official image (ZOO_* env)
#   elect/etcd:3.4       = quay.io/coreos/etcd:v3.4.23, gcr.io/etcd-development/etcd:v3.4.23
#
# Needs root (debootstrap), debootstrap, and a Docker engine that answers
# (DOCKER_HOST, or scripts/start-dockerd.sh's engine, which is used when
# DOCKER_HOST is unset). The base rootfs tarball is cached under
# ELECT_IMAGE_CACHE (default /var/cache/elect-images) so a rebuild skips
# debootstrap. ELECT_DEBIAN_MIRROR picks the Debian mirror.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/docker-env.sh
. "$repo/scripts/docker-env.sh"
export DOCKER_HOST=${DOCKER_HOST:-$ELECT_DOCKER_HOST}

cache=${ELECT_IMAGE_CACHE:-/var/cache/elect-images}
mirror=${ELECT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${ELECT_DEBIAN_SECURITY_MIRROR:-${mirror%/debian}/debian-security}
suite=bookworm
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
rebuild=${ELECT_IMAGES_REBUILD:-}

base_image=elect/debian:$suite
zk_image=elect/zookeeper:3.8
zk_tags=(zookeeper:3.8)
etcd_image=elect/etcd:3.4
etcd_tags=(quay.io/coreos/etcd:v3.4.23 gcr.io/etcd-development/etcd:v3.4.23)

log() { echo "build-images: $*" >&2; }
# An image counts as built when it exists with the label of the recipe it was
# built from: changing a Dockerfile or entrypoint rebuilds that image.
label=org.elect.recipe
have_image() { # NAME RECIPE
  [[ -z $rebuild ]] &&
    [[ $(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null) == "$2" ]]
}
recipe_of() { # DIR: a digest of the build context and of the base it builds on
  { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    docker image inspect -f '{{.Id}}' "$base_image"; } | sha256sum | cut -c1-16
}
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

if ! docker info >/dev/null 2>&1; then
  log "no Docker engine answers at ${DOCKER_HOST}; start one first (as root: scripts/start-dockerd.sh)"
  exit 1
fi

# Debootstrap a minimal bookworm into a temp dir, prepare it for use as a
# container base, and cache it as a tarball.
make_rootfs_tarball() {
  local tarball=$1 dir
  command -v debootstrap >/dev/null || { log "debootstrap not found (apt-get install debootstrap)"; exit 1; }
  [[ $(id -u) -eq 0 ]] || { log "debootstrap needs root"; exit 1; }
  mkdir -p "$cache"
  dir=$(mktemp -d "$cache/rootfs.XXXXXX")
  # shellcheck disable=SC2064  # expand now: the trap must remove this dir
  trap "rm -rf '$dir'" EXIT
  log "debootstrap --variant=minbase $suite from $mirror (a minute or two)"
  debootstrap --variant=minbase --arch="$arch" "$suite" "$dir" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
    log "debootstrap failed; the end of $cache/debootstrap.log:"
    tail -n 20 "$cache/debootstrap.log" >&2
    exit 1
  }

  # Same suites as a Debian machine: security and point-release updates too.
  rm -f "$dir/etc/apt/sources.list"
  cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # No init system runs inside a container: package scripts must not try to
  # start services while an image is built.
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
  chmod 755 "$dir/usr/sbin/policy-rc.d"
  cat >"$dir/etc/apt/apt.conf.d/90elect-image" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
EOF
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log \
    "$dir"/var/cache/apt/*.bin "$dir"/debootstrap
  : >"$dir/etc/hostname"
  : >"$dir/etc/resolv.conf"

  tar --numeric-owner -C "$dir" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$dir"
  trap - EXIT
}

build_base() {
  local tarball=$cache/debian-$suite-minbase-$arch.tar start
  # Bump when the rootfs preparation above changes.
  local recipe=$suite-minbase-$arch-1
  if have_image "$base_image" "$recipe"; then
    log "$base_image exists"
    return
  fi
  start=$(now)
  if [[ -s $tarball && -z $rebuild ]]; then
    log "using cached rootfs $tarball"
  else
    make_rootfs_tarball "$tarball"
  fi
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    --change "LABEL $label=$recipe" \
    "$tarball" "$base_image" >/dev/null
  log "$base_image built in $(took "$start")"
}

# build_image NAME CONTEXT_DIR [OFFICIAL_TAG...]
build_image() {
  local name=$1 context=$2 start tag recipe
  shift 2
  recipe=$(recipe_of "$context")
  if have_image "$name" "$recipe"; then
    log "$name exists"
  else
    start=$(now)
    log "building $name"
    # Host networking: the engine runs with no bridge, and apt inside the
    # build needs to reach the Debian mirror. The classic builder is used
    # because engines and clients here may lack BuildKit/buildx.
    local build_log=$cache/build-${name//[\/:]/_}.log
    DOCKER_BUILDKIT=0 docker build --network host \
      --build-arg "BASE=$base_image" --label "$label=$recipe" \
      -t "$name" "$context" >"$build_log" 2>&1 || {
      log "building $name failed; the end of $build_log:"
      tail -n 40 "$build_log" >&2
      exit 1
    }
    log "$name built in $(took "$start")"
  fi
  for tag in "$@"; do
    docker tag "$name" "$tag"
  done
}

mkdir -p "$cache"
total=$(now)
build_base
build_image "$zk_image" "$here/images/zookeeper" "${zk_tags[@]}"
build_image "$etcd_image" "$here/images/etcd" "${etcd_tags[@]}"
# Images replaced by a rebuild lose their tags; remove those of ours only.
docker image prune --force --filter "label=$label" >/dev/null
log "images ready in $(took "$total"): $zk_image ${zk_tags[*]} $etcd_image ${etcd_tags[*]}"
