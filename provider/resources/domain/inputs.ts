/** The Domain resource's inputs and outputs. */
import type { CommonInputs } from "../../core/resource";
import type { DomainDef } from "../../xml/domain";

/** saved: shut off with its memory on the host (libvirt's managed save); running again resumes it where it was. */
export type RunState = "running" | "shutoff" | "paused" | "saved";

export interface DomainInputs extends CommonInputs, Omit<DomainDef, "uuid" | "type" | "maxMemory" | "maxVcpus"> {
  /** kvm, or qemu (software emulation); detected from the host when unset. */
  type?: "kvm" | "qemu";
  /** Maximum memory in bytes (balloon ceiling); unset: kept as defined, twice memory at creation (at most the host's RAM). */
  maxMemory?: number;
  /** Maximum vCPUs (hotplug ceiling); unset: kept as defined, the host's CPU count at creation (at least vcpus). */
  maxVcpus?: number;
  /** A <domain> fragment merged over the generated definition, for what the typed inputs do not cover. */
  xmlOverride?: string;
  autostart?: boolean;
  /** Desired run state (default running). */
  state?: RunState;
  /** May the provider restart the guest to apply changes that need it? (default false) */
  allowRestart?: boolean;
  /** Graceful ACPI shutdown deadline before a forced stop (default 60). */
  shutdownTimeoutSeconds?: number;
  /** Wait until every interface on a libvirt network has an IP address (default false). */
  waitForIp?: boolean;
  waitForIpTimeoutSeconds?: number;
  /** How a new `uri` moves the guest there; unset, a new uri makes a new VM (the old one is deleted). */
  migration?: {
    /**
     * live: a running guest keeps running while its memory is copied (it pauses only for the
     * final switch-over); offline: it is shut down, moved and started there. A shut-off guest
     * has its definition moved either way.
     */
    mode: "live" | "offline";
    /**
     * shared (default): the destination sees the same disk files (NFS, Ceph, a shared
     * directory); copy: libvirt copies the disks alongside a live migration (the destination
     * needs storage pools of the same names, or with the disks' directories as targets).
     */
    storage?: "shared" | "copy";
    /**
     * The destination as the source host's libvirtd reaches it (default: the new uri). The source
     * daemon connects to it itself (peer-to-peer), with its own credentials.
     */
    peerUri?: string;
    /** Limit on migration bandwidth, MiB/s (default: libvirt's, unlimited). */
    bandwidthMiBs?: number;
  };
}

export interface DomainOutputs {
  uuid: string;
  /** libvirt's numeric id while running, -1 when shut off. */
  domainId: number;
  /** running, paused, saved, shutoff, crashed... */
  status: string;
  macs: string[];
  /** Each interface's addresses, from DHCP leases or the guest agent. */
  interfaceAddresses: { mac: string; addresses: string[] }[];
  /** The first IPv4 address found, for convenience. */
  ipAddress: string;
  graphicsPort: number;
  consolePath: string;
  /** Inputs saved in the definition that the running guest does not have yet: they wait for a restart. */
  pendingRestart: string[];
}
