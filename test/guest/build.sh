#!/bin/bash
# Builds the tiny test guest for pulumi-libvirt's integration tests:
# a Debian kernel (direct kernel boot) plus a busybox initramfs running
# test/guest/init. See test/guest/README.md.
#
# Usage: test/guest/build.sh [--force] [--refresh]
#   --force    rebuild vmlinuz/initrd.img even if the stamp says up to date
#   --refresh  ask apt again for the current kernel/busybox packages
#              (otherwise the .debs already in the cache are reused)
#
# Environment:
#   PULUMI_LIBVIRT_GUEST_DIR    output dir   (default /var/lib/libvirt/images/pulumi-libvirt-guest)
#   PULUMI_LIBVIRT_GUEST_CACHE  download dir (default /var/cache/pulumi-libvirt-guest)
#   PULUMI_LIBVIRT_GUEST_KERNEL_PKG  kernel package to use instead of the one
#                               linux-image-amd64 depends on (e.g. linux-image-6.1.0-56-amd64)
#
# Output dir contents: vmlinuz, initrd.img, stamp. The last line on stdout is
# the output dir; progress goes to stderr. Needs root (apt-get download,
# writing under /var/lib/libvirt/images, device node in the initramfs).
set -euo pipefail

OUT="${PULUMI_LIBVIRT_GUEST_DIR:-/var/lib/libvirt/images/pulumi-libvirt-guest}"
CACHE="${PULUMI_LIBVIRT_GUEST_CACHE:-/var/cache/pulumi-libvirt-guest}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Top-level modules the guest needs; dependencies are resolved from each
# module's modinfo `depends=` and loaded first.
#   ata_piix+sr_mod+isofs: the NoCloud ISO as IDE cdrom on machine 'pc'
#   virtio_pci+virtio_net+virtio_blk: NICs and disks (also hot-plugged ones)
#   virtio_balloon: live memory changes reach the guest (and virsh dominfo)
#   button+evdev: ACPI power button -> /dev/input/event* for busybox acpid
MODULES=(ata_piix sr_mod isofs virtio_pci virtio_net virtio_blk virtio_balloon button evdev)

# Files whose content defines the guest; a change rebuilds.
INPUTS=(init udhcpc.script guest-poweroff build.sh)

force=0
refresh=0
for a in "$@"; do
	case "$a" in
	--force) force=1 ;;
	--refresh) refresh=1; force=1 ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "unknown argument: $a" >&2; exit 2 ;;
	esac
done

log() { echo "guest-build: $*" >&2; }

inputs_hash() {
	(cd "$HERE" && cat "${INPUTS[@]}" && printf '%s\n' "${MODULES[@]}" "kernel=${PULUMI_LIBVIRT_GUEST_KERNEL_PKG:-}") |
		sha256sum | cut -d' ' -f1
}
want_hash="$(inputs_hash)"

mkdir -p "$OUT" "$CACHE"
chmod 0755 "$OUT"
# Serialise concurrent builds (parallel test workers).
exec 9>"$CACHE/.lock"
flock 9

stamp_field() { sed -n "s/^$1=//p" "$OUT/stamp" 2>/dev/null | awk 'NR==1'; }

if [ "$force" = 0 ] && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] &&
	[ "$(stamp_field inputs_sha256)" = "$want_hash" ]; then
	log "up to date ($(stamp_field kernel_package) $(stamp_field kernel_version))"
	echo "$OUT"
	exit 0
fi

# ---- packages --------------------------------------------------------------
# `apt-cache show` of one package (candidate version only); runs
# `apt-get update` once if apt does not know the package yet. Output is
# captured whole: `apt-cache | grep -q` would trip pipefail via SIGPIPE.
pkg_info() {
	local s
	s="$(apt-cache show --no-all-versions "$1" 2>/dev/null)" || true
	case "$s" in *"Package: "*) ;; *)
		log "apt does not know $1, running apt-get update"
		apt-get -o DPkg::Lock::Timeout=120 update >&2
		s="$(apt-cache show --no-all-versions "$1" 2>/dev/null)" || true
		case "$s" in *"Package: "*) ;; *) log "package $1 not available from apt"; exit 1 ;; esac
		;;
	esac
	printf '%s\n' "$s"
}

# Newest cached .deb matching a glob (by dpkg version order), or nothing.
cached_deb() {
	local best="" bestv="" f v
	for f in "$CACHE"/$1; do
		[ -f "$f" ] || continue
		v="$(dpkg-deb -f "$f" Version)"
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$bestv"; then best="$f"; bestv="$v"; fi
	done
	[ -n "$best" ] && echo "$best"
	return 0
}

deb_with_version() { # $1: package, $2: version; prints the cached .deb, if any
	local f
	for f in "$CACHE/$1"_*.deb; do
		[ -f "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$2" ] && { echo "$f"; return 0; }
	done
	return 0
}

download() { # $1: package; prints the path of the (cached or downloaded) .deb
	local pkg="$1" info ver deb
	info="$(pkg_info "$pkg")"
	ver="$(printf '%s\n' "$info" | sed -n 's/^Version: //p' | awk 'NR==1')"
	deb="$(deb_with_version "$pkg" "$ver")"
	if [ -z "$deb" ]; then
		log "downloading $pkg $ver"
		# Sandbox user root: the cache dir need not be writable by _apt.
		(cd "$CACHE" && apt-get -q -o APT::Sandbox::User=root download "$pkg=$ver" >&2)
		deb="$(deb_with_version "$pkg" "$ver")"
	fi
	[ -n "$deb" ] || { log "download of $pkg $ver failed"; exit 1; }
	echo "$deb"
}

kernel_deb=""
if [ -n "${PULUMI_LIBVIRT_GUEST_KERNEL_PKG:-}" ]; then
	kernel_deb="$(cached_deb "${PULUMI_LIBVIRT_GUEST_KERNEL_PKG}_*.deb")"
	[ -n "$kernel_deb" ] && [ "$refresh" = 0 ] || kernel_deb="$(download "$PULUMI_LIBVIRT_GUEST_KERNEL_PKG")"
elif [ "$refresh" = 0 ]; then
	kernel_deb="$(cached_deb 'linux-image-*-amd64_*.deb')"
fi
if [ -z "$kernel_deb" ]; then
	# linux-image-amd64 (metapackage) -> Depends: linux-image-X-amd64 (= V)
	meta="$(pkg_info linux-image-amd64)"
	kpkg="$(printf '%s\n' "$meta" | sed -n 's/^Depends: //p' | awk 'NR==1' |
		grep -o 'linux-image-[0-9][^ ,]*-amd64' | awk 'NR==1')"
	[ -n "$kpkg" ] || { log "cannot resolve the kernel package behind linux-image-amd64"; exit 1; }
	kernel_deb="$(download "$kpkg")"
fi

bb_deb=""
[ "$refresh" = 1 ] || bb_deb="$(cached_deb 'busybox-static_*.deb')"
[ -n "$bb_deb" ] || bb_deb="$(download busybox-static)"

# Keep only the debs in use (a --refresh may have fetched newer ones).
for f in "$CACHE"/*.deb; do
	[ "$f" = "$kernel_deb" ] || [ "$f" = "$bb_deb" ] || rm -f "$f"
done

kernel_pkg="$(dpkg-deb -f "$kernel_deb" Package)"
kernel_ver="$(dpkg-deb -f "$kernel_deb" Version)"
bb_ver="$(dpkg-deb -f "$bb_deb" Version)"
log "building with $kernel_pkg $kernel_ver, busybox-static $bb_ver"

# ---- unpack ------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pulumi-libvirt-guest.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
dpkg-deb -x "$bb_deb" "$WORK/bb"
BB="$WORK/bb/bin/busybox"
[ -x "$BB" ] || { log "no bin/busybox in $bb_deb"; exit 1; }

# ---- kernel + modules ----------------------------------------------------------
# Unpacking the 70 MB kernel .deb takes most of a build, so the parts we use
# (vmlinuz, the resolved modules, decompressed) are kept in the cache per
# kernel package version and module list; an init-only change then rebuilds
# in about a second.
modkey="$(printf '%s\n' "${MODULES[@]}" | sha256sum | cut -d' ' -f1)"
KX="$CACHE/extracted/${kernel_pkg}_${kernel_ver//:/%3a}"
if [ ! -f "$KX/key" ] || [ "$(cat "$KX/key")" != "$modkey" ]; then
	log "unpacking $kernel_pkg"
	rm -rf "$CACHE/extracted"
	X="$CACHE/extracted/.new"
	mkdir -p "$X/modules"
	dpkg-deb -x "$kernel_deb" "$WORK/k"
	vmlinuz="$(ls "$WORK"/k/boot/vmlinuz-* | awk 'NR==1')"
	moddir="$(ls -d "$WORK"/k/lib/modules/* | awk 'NR==1')"
	[ -f "$vmlinuz" ] && [ -d "$moddir/kernel" ] || { log "unexpected layout in $kernel_deb"; exit 1; }
	cp "$vmlinuz" "$X/vmlinuz"
	echo "${moddir##*/}" > "$X/release"

	declare -A modfile=()
	while IFS= read -r f; do
		n="${f##*/}"
		n="${n%%.ko*}"
		modfile["${n//-/_}"]="$f"
	done < <(find "$moddir/kernel" -name '*.ko*')

	order=()
	declare -A done_=()
	add_module() { # $1: module name; appends it after its dependencies
		local name="${1//-/_}" src dst deps d
		[ -n "${done_[$name]:-}" ] && return 0
		done_[$name]=1
		src="${modfile[$name]:-}"
		if [ -z "$src" ]; then
			if grep -q "/${name}.ko" "$moddir/modules.builtin" 2>/dev/null ||
				grep -q "/${name//_/-}.ko" "$moddir/modules.builtin" 2>/dev/null; then
				log "module $name is built in"
				return 0
			fi
			log "module $name not found in $kernel_pkg"
			exit 1
		fi
		dst="$X/modules/$name.ko"
		case "$src" in
		*.ko) cp "$src" "$dst" ;;
		*.ko.xz) xz -dc "$src" > "$dst" ;; # busybox insmod cannot load compressed modules
		*.ko.zst) zstd -qdc "$src" > "$dst" ;;
		*.ko.gz) gzip -dc "$src" > "$dst" ;;
		*) log "unknown module format: $src"; exit 1 ;;
		esac
		deps="$("$BB" strings "$dst" | sed -n 's/^depends=//p' | awk 'NR==1' | tr ',' ' ')"
		for d in $deps; do add_module "$d"; done
		order+=("$name")
	}
	for m in "${MODULES[@]}"; do add_module "$m"; done
	printf '%s\n' "${order[@]}" > "$X/modules.order"
	echo "$modkey" > "$X/key"
	mv "$X" "$KX"
	rm -rf "$WORK/k"
fi
mapfile -t order < "$KX/modules.order"
log "modules: ${order[*]}"

ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,dev,etc/acpi/PWRF,lib/modules,mnt/cidata,proc,run,sys,tmp}
ln -s bin "$ROOT/sbin"
cp "$KX"/modules/*.ko "$ROOT/lib/modules/"
cp "$KX/modules.order" "$ROOT/etc/modules"

# ---- initramfs -----------------------------------------------------------------
cp "$BB" "$ROOT/bin/busybox"
for a in $("$BB" --list); do
	[ "$a" = busybox ] || ln -s busybox "$ROOT/bin/$a"
done
install -m 0755 "$HERE/init" "$ROOT/init"
install -m 0755 "$HERE/udhcpc.script" "$ROOT/etc/udhcpc.script"
install -m 0755 "$HERE/guest-poweroff" "$ROOT/bin/guest-poweroff"
printf '#!/bin/sh\nexec /sbin/guest-poweroff poweroff\n' > "$ROOT/etc/acpi/PWRF/00000080"
chmod 0755 "$ROOT/etc/acpi/PWRF/00000080"
# busybox acpid: KEY_POWER -> "button/power PWRF 00000080" (built-in map)
# -> action "PWRF/00000080", run relative to /etc/acpi. An existing but empty
# acpid.conf would replace the built-in action table with nothing.
printf 'PWRF PWRF/00000080\nPWRB PWRF/00000080\n' > "$ROOT/etc/acpid.conf"
# The kernel opens /dev/console for /init before devtmpfs is mounted.
mknod -m 0600 "$ROOT/dev/console" c 5 1 2>/dev/null || log "no /dev/console node (not root?)"

(cd "$ROOT" && "$BB" find . | LC_ALL=C sort | "$BB" cpio -o -H newc 2>/dev/null) |
	"$BB" gzip -9 > "$WORK/initrd.img"

# ---- install -------------------------------------------------------------------
install -m 0644 "$KX/vmlinuz" "$OUT/.vmlinuz.new"
install -m 0644 "$WORK/initrd.img" "$OUT/.initrd.img.new"
mv -f "$OUT/.vmlinuz.new" "$OUT/vmlinuz"
mv -f "$OUT/.initrd.img.new" "$OUT/initrd.img"
cat > "$OUT/.stamp.new" <<EOF
kernel_package=$kernel_pkg
kernel_version=$kernel_ver
kernel_release=$(cat "$KX/release")
busybox_version=$bb_ver
modules=${order[*]}
inputs_sha256=$want_hash
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
chmod 0644 "$OUT/.stamp.new"
mv -f "$OUT/.stamp.new" "$OUT/stamp"
log "built $OUT: vmlinuz $(stat -c %s "$OUT/vmlinuz") bytes, initrd.img $(stat -c %s "$OUT/initrd.img") bytes"
echo "$OUT"
