#!/usr/bin/env bash
# Make this Debian machine a libvirt host the tests and the quickstart can use: install the
# Debian packages, fix /dev/kvm as udev would, start libvirt's daemons. Safe to re-run; needs
# root only when something is missing.
set -euo pipefail

packages=(
  libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils  # the hypervisor
  dnsmasq-base iptables                                             # libvirt networks (DHCP, NAT)
  iproute2                                                          # ip: host bridges and routes in tests (not in minimal images)
  lvm2 e2fsprogs                                                    # logical storage pools; mkfs.ext4/debugfs: a device with data on it
  busybox-static                                                    # the test guest (test/guest)
  genisoimage util-linux                                            # isoinfo/blkid cross-check our ISO writer
  xz-utils gzip                                                     # compressed volume sources in tests
  swtpm swtpm-tools                                                 # emulated TPMs for domains
  ovmf                                                              # UEFI firmware (firmware: efi, secureBoot)
  openssh-server openssh-client netcat-openbsd gnutls-bin           # remote transports: sshd, nc, certtool
  python3-libvirt                                                   # bench/: libvirt's C client as the reference
  ansible python3-lxml                                              # bench/: community.libvirt (needs lxml, not pulled in) as the reference
  python3-venv                                                      # the Python example's virtualenv (e2e)
)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "setup-host: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Without udev, /dev/kvm keeps mode 0600 root:root; libvirt then finds KVM unusable for its
# qemu user, re-probes QEMU on every capabilities call (seconds each), and KVM guests fail.
# Give it the group and mode Debian's udev rule would.
if [ -c /dev/kvm ] && [ "$(stat -c %G /dev/kvm)" != kvm ]; then chown root:kvm /dev/kvm && chmod 0660 /dev/kvm; fi

# libvirt runs swtpm_setup as tss; files a root-run swtpm left in its CA directory block it.
if [ -d /var/lib/swtpm-localca ] && id tss >/dev/null 2>&1; then chown -R tss:root /var/lib/swtpm-localca; fi

# Without systemd, start the daemons directly and wait until libvirtd answers.
if ! virsh -c qemu:///system version >/dev/null 2>&1; then
  pidof virtlogd >/dev/null || virtlogd -d
  pidof libvirtd >/dev/null || libvirtd -d
  for _ in $(seq 1 100); do
    virsh -c qemu:///system version >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
virsh -c qemu:///system version >&2
