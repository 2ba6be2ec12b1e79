"""A VM on a NAT network, in Python: the same resources, inputs and field tables as the
TypeScript classes, served by the provider plugin."""
import pulumi
import pulumi_libvirt as libvirt

config = pulumi.Config()
prefix = config.get("prefix") or "python"
octet = config.get("octet") or "213"
guest_dir = config.get("guestDir") or "/var/lib/libvirt/images/pulumi-libvirt-guest"

net = libvirt.Network(
    "net",
    name=f"{prefix}-net",
    mode="nat",
    ipv4=libvirt.NetworkIpv4Args(
        address=f"192.168.{octet}.1/24",
        dhcp_ranges=[libvirt.NetworkIpv4DhcpRangeArgs(start=f"192.168.{octet}.100", end=f"192.168.{octet}.199")],
    ),
)

vm = libvirt.Domain(
    "vm",
    name=f"{prefix}-vm",
    # A change is applied live: memory stays under the balloon ceiling (twice the first value).
    memory=config.get("memory") or "256MiB",
    vcpus=1,
    kernel=libvirt.DomainKernelArgs(
        path=f"{guest_dir}/vmlinuz",
        initrd=f"{guest_dir}/initrd.img",
        cmdline="console=ttyS0 quiet",
    ),
    interfaces=[libvirt.DomainInterfaceArgs(network=net.name)],
    console=libvirt.DomainConsoleArgs(type="pty"),
    wait_for_ip=True,
)

pulumi.export("ip", vm.ip_address)
pulumi.export("uuid", vm.uuid)
