#!/usr/bin/env bash
# Build the worker image on a machine with no Docker engine and no image registry:
# podman (with runc) and a base image made locally with debootstrap, passed as BASE_IMAGE.
# With a Docker engine it is plain `docker build`, and the Dockerfile's public default base.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base=${BASE:-localhost/filepipe-base:bookworm}
# The sources' digest, labelled on the image and its tag (localhost/filepipe-worker:<digest>): each
# checkout gets its own image, and the local cloud runs the one built from its sources.
sources=$(python3 "$root/batch_image/sources.py")
image=${IMAGE:-$(python3 "$root/batch_image/sources.py" --image)}

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  # add --secret id=ca-bundle,src=... behind a TLS-inspecting proxy
  exec docker build --build-arg SOURCES_DIGEST="$sources" -t "$image" "$root"
fi
command -v podman >/dev/null || { echo "neither docker nor podman: install podman buildah runc debootstrap" >&2; exit 2; }
if [ -z "${IMAGE:-}" ] && podman image exists "$image"; then
  echo "$image is built from these sources"
  exit 0
fi

# crun fails on rlimits and hybrid cgroups here; runc with explicit ulimits works.
flags=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1000:1000)

if ! podman image exists "$base"; then
  echo "making the base image $base with debootstrap (about a minute)"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" >/dev/null
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
fi

# The host's CA bundle, for a network that inspects TLS (the Dockerfile uses it only for pip).
secret=()
bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$bundle" ] && secret=(--secret "id=ca-bundle,src=$bundle")

podman build "${flags[@]}" "${secret[@]}" --network host --build-arg BASE_IMAGE="$base" \
  --build-arg SOURCES_DIGEST="$sources" -t "$image" "$root"
podman image inspect "$image" --format 'built {{index .RepoTags 0}}: {{.Size}} bytes'
