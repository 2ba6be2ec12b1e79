import * as pulumi from "@pulumi/pulumi";
import { networkFields, type NetworkInputs, type NetworkOutputs } from "../provider/resources/network";
import { providerShim } from "./shim";
import { ArgsOf, OutputsOf, registration } from "./types";

export interface NetworkArgs extends ArgsOf<Omit<NetworkInputs, "name">> {
  /** The network's name in libvirt; defaults to the Pulumi resource name. */
  name?: pulumi.Input<string>;
}

export interface Network extends OutputsOf<NetworkInputs & NetworkOutputs> {}

/** Every output, registered unset so the engine makes it an Output (the type checks none is missing). */
export const networkOutputs: Record<keyof NetworkOutputs, undefined> = {
  uuid: undefined, bridgeName: undefined, active: undefined, leases: undefined, pendingRestart: undefined,
};

/**
 * A libvirt virtual network: NAT, routed, open or isolated (libvirt's own bridge, DHCP and DNS),
 * an existing host bridge, or macvtap on host devices. DHCP reservations and DNS records change
 * live; other changes restart the network only with `allowRestart: true` (running guests are
 * reconnected), otherwise they wait for its next start.
 *
 *     const net = new libvirt.Network("lab", {
 *       mode: "nat",
 *       ipv4: { address: "192.168.150.1/24", dhcpRanges: [{ start: "192.168.150.100", end: "192.168.150.199" }] },
 *       dhcpHosts: [{ mac: "52:54:00:00:00:10", ip: "192.168.150.10", hostname: "db" }],
 *     });
 */
export class Network extends pulumi.dynamic.Resource {
  constructor(name: string, args: NetworkArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("Network"), name, ...registration(networkFields, networkOutputs, name, args, opts), "libvirt", "Network");
  }
}
