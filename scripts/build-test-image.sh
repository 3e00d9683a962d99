#!/usr/bin/env bash
# Builds a docker-save archive of a tiny image holding Debian's static busybox, with no registry:
# a rootfs is imported into the engine and saved BY ID, so the archive carries no name at all.
# The imported image is removed from the engine once saved (its id is new with every build, as the
# rootfs carries the build's times, so nothing else uses it): whoever needs it in an engine loads
# the archive, and a machine that builds the archives again and again keeps no image records of it.
# Usage: build-test-image.sh OUT.tar VARIANT [CMD-JSON]    Prints the engine id (sha256:…).
set -euo pipefail
out=$1 variant=$2
cmd=${3:-'["/bin/sh","-c","i=0; while true; do i=$((i+1)); echo \"tick $i\"; sleep 1; done"]'}
bb=""
for p in /bin/busybox /usr/bin/busybox; do [ -x "$p" ] && bb=$p && break; done
[ -n "$bb" ] || { echo "busybox not found: apt-get install busybox-static" >&2; exit 1; }
work=$(mktemp -d)
# On the way out, whether saved or not: the imported image goes (see above).
trap 'rm -rf "$work"; [ -z "${id:-}" ] || docker rmi "$id" >/dev/null 2>&1 || true' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,etc,root,tmp,proc,sys,dev,var/lib/cloud}
cp "$bb" "$root/bin/busybox"; chmod 755 "$root/bin/busybox"
for a in sh ls cat echo sleep ps hostname ip id env head tail dd mkdir rm touch grep wc true false kill \
         nc ping ifconfig mount df free uname date yes tr seq md5sum; do ln -s busybox "$root/bin/$a"; done
echo "$variant" > "$root/etc/variant"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
tar -C "$root" --numeric-owner -cf "$work/rootfs.tar" .
id=$(docker import --change "CMD $cmd" "$work/rootfs.tar")
case $id in sha256:*) ;; *) id="sha256:$id" ;; esac
docker save -o "$out.partial" "$id"
mv "$out.partial" "$out"
echo "$id"
