/** Flag and enum values from libvirt's public headers (include/libvirt/libvirt-*.h). */

/** virDomainModificationImpact: where a change applies. */
export const Impact = { CURRENT: 0, LIVE: 1, CONFIG: 2 } as const;

export const DomainXmlFlags = { SECURE: 1, INACTIVE: 2, UPDATE_CPU: 4, MIGRATABLE: 8 } as const;

export const DomainUndefineFlags = {
  MANAGED_SAVE: 1, SNAPSHOTS_METADATA: 2, NVRAM: 4, KEEP_NVRAM: 8, CHECKPOINTS_METADATA: 16,
} as const;

export const DomainDestroyFlags = { DEFAULT: 0, GRACEFUL: 1 } as const;

export const DomainShutdownFlags = { DEFAULT: 0, ACPI_POWER_BTN: 1, GUEST_AGENT: 2, INITCTL: 4, SIGNAL: 8, PARAVIRT: 16 } as const;

export const DomainCreateFlags = { NONE: 0, START_PAUSED: 1, START_AUTODESTROY: 2, START_BYPASS_CACHE: 4, START_FORCE_BOOT: 8 } as const;

export const DomainDefineFlags = { VALIDATE: 1 } as const;

/** virDomainVcpuFlags adds MAXIMUM to the modification impact. */
export const VcpuFlags = { ...Impact, MAXIMUM: 4, GUEST: 8, HOTPLUGGABLE: 16 } as const;

/** virDomainMemoryModFlags adds MAXIMUM to the modification impact. */
export const MemoryFlags = { ...Impact, MAXIMUM: 4 } as const;

export const DomainState = {
  NOSTATE: 0, RUNNING: 1, BLOCKED: 2, PAUSED: 3, SHUTDOWN: 4, SHUTOFF: 5, CRASHED: 6, PMSUSPENDED: 7,
} as const;

/** virDomainMigrateFlags (the ones the provider uses). */
export const MigrateFlags = {
  LIVE: 1, PEER2PEER: 2, PERSIST_DEST: 8, UNDEFINE_SOURCE: 16, PAUSED: 32, NON_SHARED_DISK: 64, OFFLINE: 1024, ABORT_ON_ERROR: 4096,
} as const;

/**
 * virDomainGetJobStatsFlags: COMPLETED asks for the last finished job (on a migration's
 * destination, its figures), which libvirt forgets once read unless KEEP_COMPLETED.
 */
export const JobStatsFlags = { COMPLETED: 1, KEEP_COMPLETED: 2 } as const;

export const DomainMetadataType = { DESCRIPTION: 0, TITLE: 1, ELEMENT: 2 } as const;

export const InterfaceAddressSource = { LEASE: 0, AGENT: 1, ARP: 2 } as const;

export const DomainEventId = { LIFECYCLE: 0 } as const;

export const DomainEventType = {
  DEFINED: 0, UNDEFINED: 1, STARTED: 2, SUSPENDED: 3, RESUMED: 4, STOPPED: 5, SHUTDOWN: 6, PMSUSPENDED: 7, CRASHED: 8,
} as const;

export const SnapshotCreateFlags = { REDEFINE: 1, CURRENT: 2, NO_METADATA: 4, HALT: 8, DISK_ONLY: 16, ATOMIC: 128 } as const;
export const SnapshotDeleteFlags = { CHILDREN: 1, METADATA_ONLY: 2, CHILDREN_ONLY: 4 } as const;
export const SnapshotRevertFlags = { RUNNING: 1, PAUSED: 2, FORCE: 4 } as const;

export const NetworkUpdateCommand = { MODIFY: 1, DELETE: 2, ADD_LAST: 3, ADD_FIRST: 4 } as const;

export const NetworkUpdateSection = {
  BRIDGE: 1, DOMAIN: 2, IP: 3, IP_DHCP_HOST: 4, IP_DHCP_RANGE: 5, FORWARD: 6, FORWARD_INTERFACE: 7,
  FORWARD_PF: 8, PORTGROUP: 9, DNS_HOST: 10, DNS_TXT: 11, DNS_SRV: 12,
} as const;

/** virNetworkUpdateFlags: AFFECT_LIVE | AFFECT_CONFIG updates the running network and its definition at once. */
export const NetworkUpdateFlags = { CURRENT: 0, LIVE: 1, CONFIG: 2 } as const;

export const NetworkXmlFlags = { INACTIVE: 1 } as const;

export const PoolState = { INACTIVE: 0, BUILDING: 1, RUNNING: 2, DEGRADED: 3, INACCESSIBLE: 4 } as const;

export const PoolBuildFlags = { NEW: 0, REPAIR: 1, RESIZE: 2, NO_OVERWRITE: 4, OVERWRITE: 8 } as const;

export const PoolDeleteFlags = { NORMAL: 0, ZEROED: 1 } as const;

export const PoolXmlFlags = { INACTIVE: 1 } as const;

export const VolType = { FILE: 0, BLOCK: 1, DIR: 2, NETWORK: 3, NETDIR: 4, PLOOP: 5 } as const;

export const VolCreateFlags = { PREALLOC_METADATA: 1, REFLINK: 2, VALIDATE: 4 } as const;

export const VolResizeFlags = { ALLOCATE: 1, DELTA: 2, SHRINK: 4 } as const;

export const VolDeleteFlags = { NORMAL: 0, ZEROED: 1, WITH_SNAPSHOTS: 2 } as const;

export const ConnectOpenFlags = { READ_ONLY: 1 } as const;

/** virConnectListAllDomainsFlags (the first few). */
export const ConnectListDomains = { ACTIVE: 1, INACTIVE: 2, PERSISTENT: 4, TRANSIENT: 8 } as const;
