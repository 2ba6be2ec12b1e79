#!/bin/bash
# Manual end-to-end check of the test guest with plain virsh (not used by the
# jest suites). Needs root, a running libvirtd, and genisoimage/mkisofs/xorriso
# for the NoCloud ISO (build.sh itself does not need them).
#
#   test/guest/smoke.sh            # builds the guest if needed, runs all checks
#
# Creates a persistent isolated network and a transient domain, both named
# guesttest-<random>, plus files under /var/lib/libvirt/images/guesttest-<random>;
# everything is removed on exit, also on failure or Ctrl-C.
# Checks: boot -> cidata + lease, disk hot-plug/unplug, NIC hot-plug + lease,
# static DHCP reservation picked up via renew=5, ACPI shutdown.
#
# Environment: SMOKE_STP=on  bridge with STP (libvirt's default; new ports then
#                            block ~4 s before forwarding, delaying DHCP)
#              SMOKE_CMDLINE_EXTRA="guest_debug=1"  extra kernel cmdline
#              SMOKE_SHOW_LOG=1  print the console log at the end
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GUEST="$("$HERE/build.sh" | tail -n 1)"

ID="guesttest-$(printf '%04x%04x' $RANDOM $RANDOM)"
WORK="/var/lib/libvirt/images/$ID"
LOG="$WORK/console.log"
MAC1="52:54:00:$(printf '%02x:%02x' $((RANDOM % 256)) $((RANDOM % 256))):01"
MAC2="${MAC1%:01}:02"

cleanup() {
	set +e
	virsh destroy "$ID" >/dev/null 2>&1
	virsh net-destroy "$ID" >/dev/null 2>&1
	virsh net-undefine "$ID" >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
fail() { echo "FAIL: $*" >&2; [ -f "$LOG" ] && { echo "--- console.log (tail):" >&2; tail -n 40 "$LOG" | tr -d '\r' >&2; }; exit 1; }
# waitlease MAC [IP-PREFIX]: wait until `virsh net-dhcp-leases` lists it; the
# leases helper runs after dnsmasq's ACK, so it can lag the guest's GUEST-LEASE.
waitlease() {
	local deadline=$((SECONDS + 15))
	while [ "$SECONDS" -lt "$deadline" ]; do
		virsh net-dhcp-leases "$ID" | grep -i "$1" | grep -qF "${2:-}" && return 0
		sleep 0.5
	done
	fail "net-dhcp-leases does not show $1 ${2:-}"
}
# waitfor TEXT SECONDS: wait for a console line containing TEXT.
waitfor() {
	local deadline=$((SECONDS + $2))
	while [ "$SECONDS" -lt "$deadline" ]; do
		[ -f "$LOG" ] && tr -d '\r' < "$LOG" | grep -aqF -- "$1" && return 0
		sleep 0.2
	done
	fail "no '$1' on the console within $2 s"
}

# A /24 not routed on the host yet.
for _ in $(seq 1 50); do
	S=$((RANDOM % 200 + 20))
	ip -4 route | grep -q "^10\.251\.$S\." || break
done
NETPFX="10.251.$S"

mkdir -p "$WORK/ci"
cat > "$WORK/net.xml" <<EOF
<network>
  <name>$ID</name>
  <bridge stp='${SMOKE_STP:-off}' delay='0'/>
  <ip address='$NETPFX.1' netmask='255.255.255.0'>
    <dhcp><range start='$NETPFX.100' end='$NETPFX.199'/></dhcp>
  </ip>
</network>
EOF
virsh net-define "$WORK/net.xml" >/dev/null
virsh net-start "$ID" >/dev/null

printf 'instance-id: iid-%s\nlocal-hostname: %s\n' "$ID" "$ID" > "$WORK/ci/meta-data"
printf '#cloud-config\nhostname: %s\n' "$ID" > "$WORK/ci/user-data"
mkiso=$(command -v genisoimage || command -v mkisofs || command -v xorrisofs || true)
[ -n "$mkiso" ] || fail "need genisoimage, mkisofs or xorrisofs for the NoCloud ISO"
"$mkiso" -quiet -output "$WORK/cidata.iso" -volid cidata -joliet -rock "$WORK/ci/user-data" "$WORK/ci/meta-data"

cat > "$WORK/domain.xml" <<EOF
<domain type='qemu'>
  <name>$ID</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST/vmlinuz</kernel>
    <initrd>$GUEST/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet renew=5${SMOKE_CMDLINE_EXTRA:+ $SMOKE_CMDLINE_EXTRA}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='$WORK/cidata.iso'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <source network='$ID'/>
      <mac address='$MAC1'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$LOG'/>
      <target port='0'/>
    </serial>
  </devices>
</domain>
EOF

echo "== $ID: network $NETPFX.0/24, guest $GUEST"
t=$(now)
virsh create "$WORK/domain.xml" >/dev/null
echo "virsh create returned after $(since "$t") s"
t=$(now)
waitfor "GUEST-BOOT" 120
echo "create -> GUEST-BOOT: $(since "$t") s"
waitfor "GUEST-LEASE iface=eth0 ip=$NETPFX." 120
echo "create -> GUEST-LEASE eth0: $(since "$t") s"
waitfor "GUEST-READY" 10
waitfor "instance-id: iid-$ID" 1
waitfor "GUEST-CIDATA-END" 1
waitlease "$MAC1" "$NETPFX."
echo "ok: lease, cidata, ready"

qemu-img create -q -f qcow2 "$WORK/extra.qcow2" 16M
t=$(now)
virsh attach-disk "$ID" "$WORK/extra.qcow2" vdb --live --subdriver qcow2 --targetbus virtio >/dev/null
waitfor "GUEST-DISK vda 32768" 60
echo "ok: disk hot-plug seen after $(since "$t") s"
t=$(now)
virsh detach-disk "$ID" vdb --live >/dev/null
waitfor "GUEST-DISK-GONE vda" 60
echo "ok: disk unplug seen after $(since "$t") s"

t=$(now)
virsh attach-interface "$ID" network "$ID" --mac "$MAC2" --model virtio --live >/dev/null
waitfor "GUEST-NIC eth1 $MAC2" 60
echo "ok: NIC hot-plug seen after $(since "$t") s"
waitfor "GUEST-LEASE iface=eth1 ip=$NETPFX." 60
echo "ok: eth1 lease after $(since "$t") s"
waitlease "$MAC2" "$NETPFX."

t=$(now)
virsh net-update "$ID" add ip-dhcp-host "<host mac='$MAC1' ip='$NETPFX.50'/>" --live --config >/dev/null
waitfor "GUEST-LEASE iface=eth0 ip=$NETPFX.50 " 60
echo "ok: reserved address after $(since "$t") s (renew=5)"
waitlease "$MAC1" "$NETPFX.50/"

t=$(now)
virsh shutdown "$ID" >/dev/null
for _ in $(seq 1 150); do
	virsh domstate "$ID" >/dev/null 2>&1 || break # transient: gone once shut off
	sleep 0.2
done
virsh domstate "$ID" >/dev/null 2>&1 && fail "still running 30 s after virsh shutdown"
grep -aq GUEST-POWEROFF "$LOG" || fail "no GUEST-POWEROFF marker"
echo "ok: shut off $(since "$t") s after virsh shutdown"
[ -n "${SMOKE_SHOW_LOG:-}" ] && tr -d '\r' < "$LOG"
echo "PASS"
