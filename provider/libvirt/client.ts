/**
 * The typed libvirt client: one method per procedure the provider uses. Each method is a single
 * call through the procedure table in protocol.ts; nothing here knows about bytes or sockets.
 *
 *   const lv = await Libvirt.connect("qemu:///system");
 *   const dom = await lv.domainLookupByName("vm1");
 *   const xml = await lv.domainGetXmlDesc(dom);
 */
import type { Readable, Writable } from "node:stream";
import {
  ConnectOpenFlags, DomainEventId, DomainMetadataType, NetworkUpdateCommand, NetworkUpdateSection,
} from "./constants";
import { ErrorCode, LibvirtError } from "./errors";
import {
  AuthType, DhcpLease, DomainInterface, DomainRef, DomainSnapshotRef, Events, Feature, NetworkRef, P,
  StoragePoolRef, StorageVolRef, TypedParamValue,
} from "./protocol";
import { RpcConnection } from "./rpc";
import { download, TransferOptions, upload } from "./stream";
import { dial } from "./transport";
import { defaultUri, LibvirtUri, parseUri } from "./uri";
import { decode } from "./xdr";

export type { DhcpLease, DomainInterface, DomainRef, DomainSnapshotRef, NetworkRef, StoragePoolRef, StorageVolRef, TypedParamValue };

export interface ConnectOptions {
  readOnly?: boolean;
  /** Keepalive: ping after this many idle seconds (default 5; 0 disables). */
  keepaliveInterval?: number;
  /** Unanswered keepalive intervals before the daemon is considered dead (default 5). */
  keepaliveCount?: number;
}

export interface LifecycleEvent {
  dom: DomainRef;
  /** virDomainEventType (constants.DomainEventType) */
  event: number;
  detail: number;
}

/** libvirt encodes versions as major * 1,000,000 + minor * 1,000 + release. */
export function formatVersion(v: number): string {
  return `${Math.floor(v / 1_000_000)}.${Math.floor(v / 1000) % 1000}.${v % 1000}`;
}

export class Libvirt {
  private constructor(
    readonly rpc: RpcConnection,
    readonly uri: LibvirtUri,
    /** Which daemon features were negotiated at open. */
    readonly features: { keepalive: boolean; eventCallbacks: boolean; networkUpdateCorrectOrder: boolean },
  ) {}

  /** Open a connection the way libvirt's own client does: auth, open, feature probes, keepalive. */
  static async connect(uriText: string = defaultUri(), opts: ConnectOptions = {}): Promise<Libvirt> {
    const uri = parseUri(uriText);
    const { socket, peer } = await dial(uri, !!opts.readOnly);
    const rpc = new RpcConnection(socket, peer);
    try {
      await authenticate(rpc);
      await rpc.call(P.CONNECT_OPEN, { name: uri.remoteName, flags: opts.readOnly ? ConnectOpenFlags.READ_ONLY : 0 });
      const supports = async (feature: number) => (await rpc.call(P.CONNECT_SUPPORTS_FEATURE, { feature })).supported;
      const [keepalive, eventCallbacks, networkUpdateCorrectOrder] = await Promise.all([
        supports(Feature.PROGRAM_KEEPALIVE), supports(Feature.REMOTE_EVENT_CALLBACK), supports(Feature.NETWORK_UPDATE_HAS_CORRECT_ORDER),
      ]);
      const interval = opts.keepaliveInterval ?? 5;
      if (keepalive && interval > 0) rpc.startKeepalive({ interval, count: opts.keepaliveCount ?? 5 });
      return new Libvirt(rpc, uri, { keepalive, eventCallbacks, networkUpdateCorrectOrder });
    } catch (e) {
      rpc.destroy();
      throw e;
    }
  }

  get closed(): boolean {
    return this.rpc.closed;
  }

  /** CONNECT_CLOSE, then close the socket. Safe to call twice. */
  async close(): Promise<void> {
    if (this.rpc.closed) return;
    try {
      await this.rpc.call(P.CONNECT_CLOSE, undefined);
    } catch {
      // The daemon may already be gone; the socket is closed below either way.
    }
    this.rpc.destroy();
  }

  // ---- Connection
  async getType(): Promise<string> { return (await this.rpc.call(P.CONNECT_GET_TYPE, undefined)).type; }
  async getVersion(): Promise<number> { return (await this.rpc.call(P.CONNECT_GET_VERSION, undefined)).hv_ver; }
  async getLibVersion(): Promise<number> { return (await this.rpc.call(P.CONNECT_GET_LIB_VERSION, undefined)).lib_ver; }
  async getHostname(): Promise<string> { return (await this.rpc.call(P.CONNECT_GET_HOSTNAME, undefined)).hostname; }
  async getUri(): Promise<string> { return (await this.rpc.call(P.CONNECT_GET_URI, undefined)).uri; }
  async getCapabilities(): Promise<string> { return (await this.rpc.call(P.CONNECT_GET_CAPABILITIES, undefined)).capabilities; }
  async getDomainCapabilities(q: { emulatorbin?: string; arch?: string; machine?: string; virttype?: string } = {}): Promise<string> {
    return (await this.rpc.call(P.CONNECT_GET_DOMAIN_CAPABILITIES, { ...q, flags: 0 } as any)).capabilities;
  }
  async nodeGetInfo() {
    const r = await this.rpc.call(P.NODE_GET_INFO, undefined);
    const end = r.model.indexOf(0);
    return { ...r, model: String.fromCharCode(...(end < 0 ? r.model : r.model.slice(0, end))) };
  }
  async listAllDomains(flags = 0): Promise<DomainRef[]> { return (await this.rpc.call(P.CONNECT_LIST_ALL_DOMAINS, { need_results: 1, flags })).domains; }
  async listAllNetworks(flags = 0): Promise<NetworkRef[]> { return (await this.rpc.call(P.CONNECT_LIST_ALL_NETWORKS, { need_results: 1, flags })).nets; }
  async listAllStoragePools(flags = 0): Promise<StoragePoolRef[]> { return (await this.rpc.call(P.CONNECT_LIST_ALL_STORAGE_POOLS, { need_results: 1, flags })).pools; }

  // ---- Domain
  async domainLookupByName(name: string): Promise<DomainRef> { return (await this.rpc.call(P.DOMAIN_LOOKUP_BY_NAME, { name })).dom; }
  async domainLookupByUuid(uuid: string | Buffer): Promise<DomainRef> { return (await this.rpc.call(P.DOMAIN_LOOKUP_BY_UUID, { uuid: uuidBytes(uuid) })).dom; }
  async domainDefineXml(xml: string, flags = 0): Promise<DomainRef> { return (await this.rpc.call(P.DOMAIN_DEFINE_XML_FLAGS, { xml, flags })).dom; }
  async domainUndefine(dom: DomainRef, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_UNDEFINE_FLAGS, { dom, flags }); }
  async domainCreate(dom: DomainRef, flags = 0): Promise<DomainRef> { return (await this.rpc.call(P.DOMAIN_CREATE_WITH_FLAGS, { dom, flags })).dom; }
  async domainDestroy(dom: DomainRef, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_DESTROY_FLAGS, { dom, flags }); }
  async domainShutdown(dom: DomainRef, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_SHUTDOWN_FLAGS, { dom, flags }); }
  async domainReboot(dom: DomainRef, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_REBOOT, { dom, flags }); }
  async domainSuspend(dom: DomainRef): Promise<void> { await this.rpc.call(P.DOMAIN_SUSPEND, { dom }); }
  async domainResume(dom: DomainRef): Promise<void> { await this.rpc.call(P.DOMAIN_RESUME, { dom }); }
  async domainGetXmlDesc(dom: DomainRef, flags = 0): Promise<string> { return (await this.rpc.call(P.DOMAIN_GET_XML_DESC, { dom, flags })).xml; }
  async domainGetState(dom: DomainRef): Promise<{ state: number; reason: number }> { return this.rpc.call(P.DOMAIN_GET_STATE, { dom, flags: 0 }); }
  async domainGetInfo(dom: DomainRef) { return this.rpc.call(P.DOMAIN_GET_INFO, { dom }); }
  async domainGetAutostart(dom: DomainRef): Promise<boolean> { return (await this.rpc.call(P.DOMAIN_GET_AUTOSTART, { dom })).autostart; }
  async domainSetAutostart(dom: DomainRef, autostart: boolean): Promise<void> { await this.rpc.call(P.DOMAIN_SET_AUTOSTART, { dom, autostart }); }
  async domainIsActive(dom: DomainRef): Promise<boolean> { return (await this.rpc.call(P.DOMAIN_IS_ACTIVE, { dom })).active; }
  async domainIsPersistent(dom: DomainRef): Promise<boolean> { return (await this.rpc.call(P.DOMAIN_IS_PERSISTENT, { dom })).persistent; }
  /** memory in KiB; flags from constants.MemoryFlags. */
  async domainSetMemory(dom: DomainRef, memoryKiB: number, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_SET_MEMORY_FLAGS, { dom, memory: memoryKiB, flags }); }
  async domainSetVcpus(dom: DomainRef, nvcpus: number, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_SET_VCPUS_FLAGS, { dom, nvcpus, flags }); }
  async domainGetVcpus(dom: DomainRef, flags = 0): Promise<number> { return (await this.rpc.call(P.DOMAIN_GET_VCPUS_FLAGS, { dom, flags })).num; }
  async domainAttachDevice(dom: DomainRef, xml: string, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_ATTACH_DEVICE_FLAGS, { dom, xml, flags }); }
  async domainDetachDevice(dom: DomainRef, xml: string, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_DETACH_DEVICE_FLAGS, { dom, xml, flags }); }
  async domainUpdateDevice(dom: DomainRef, xml: string, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_UPDATE_DEVICE_FLAGS, { dom, xml, flags }); }
  /** source from constants.InterfaceAddressSource. */
  async domainInterfaceAddresses(dom: DomainRef, source: number): Promise<DomainInterface[]> { return (await this.rpc.call(P.DOMAIN_INTERFACE_ADDRESSES, { dom, source, flags: 0 })).ifaces; }
  /** Custom XML metadata under a namespace URI (VIR_DOMAIN_METADATA_ELEMENT); undefined xml removes it. */
  async domainSetMetadata(dom: DomainRef, uri: string, key: string, xml: string | undefined, flags = 0): Promise<void> {
    await this.rpc.call(P.DOMAIN_SET_METADATA, { dom, type: DomainMetadataType.ELEMENT, metadata: xml, key, uri, flags });
  }
  /** The <description> text; flags from constants.Impact (LIVE and CONFIG may be combined). */
  async domainSetDescription(dom: DomainRef, text: string | undefined, flags = 0): Promise<void> {
    await this.rpc.call(P.DOMAIN_SET_METADATA, { dom, type: DomainMetadataType.DESCRIPTION, metadata: text, key: undefined, uri: undefined, flags });
  }
  async domainGetMetadata(dom: DomainRef, uri: string, flags = 0): Promise<string> {
    return (await this.rpc.call(P.DOMAIN_GET_METADATA, { dom, type: DomainMetadataType.ELEMENT, uri, flags })).metadata;
  }
  /**
   * Peer-to-peer migration (MIGRATE_PERFORM3_PARAMS with flags including PEER2PEER): the source
   * daemon connects to dconnuri itself and returns when the guest runs there. flags from
   * constants.MigrateFlags; params are VIR_MIGRATE_PARAM_* typed parameters.
   */
  async domainMigratePeerToPeer(dom: DomainRef, dconnuri: string, params: Record<string, TypedParamValue>, flags: number): Promise<void> {
    const list = Object.entries(params).map(([field, value]) => ({ field, value }));
    await this.rpc.call(P.DOMAIN_MIGRATE_PERFORM3_PARAMS, { dom, dconnuri, params: list, cookie_in: Buffer.alloc(0), flags });
  }
  /** The running (or with JobStatsFlags.COMPLETED the last) job's figures by VIR_DOMAIN_JOB_* name; type 0 is none. */
  async domainGetJobStats(dom: DomainRef, flags = 0): Promise<{ type: number; stats: Record<string, number | boolean | string> }> {
    const r = await this.rpc.call(P.DOMAIN_GET_JOB_STATS, { dom, flags });
    return { type: r.type, stats: Object.fromEntries(r.params.map((p) => [p.field, p.value.value])) };
  }
  async domainAbortJob(dom: DomainRef): Promise<void> { await this.rpc.call(P.DOMAIN_ABORT_JOB, { dom }); }
  async domainManagedSave(dom: DomainRef, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_MANAGED_SAVE, { dom, flags }); }
  async domainHasManagedSaveImage(dom: DomainRef): Promise<boolean> { return (await this.rpc.call(P.DOMAIN_HAS_MANAGED_SAVE_IMAGE, { dom, flags: 0 })).result; }
  async domainManagedSaveRemove(dom: DomainRef): Promise<void> { await this.rpc.call(P.DOMAIN_MANAGED_SAVE_REMOVE, { dom, flags: 0 }); }
  async domainSnapshotCreate(dom: DomainRef, xml: string, flags = 0): Promise<DomainSnapshotRef> { return (await this.rpc.call(P.DOMAIN_SNAPSHOT_CREATE_XML, { dom, xml_desc: xml, flags })).snap; }
  async domainListSnapshots(dom: DomainRef, flags = 0): Promise<DomainSnapshotRef[]> { return (await this.rpc.call(P.DOMAIN_LIST_ALL_SNAPSHOTS, { dom, need_results: 1, flags })).snapshots; }
  async domainSnapshotLookupByName(dom: DomainRef, name: string): Promise<DomainSnapshotRef> { return (await this.rpc.call(P.DOMAIN_SNAPSHOT_LOOKUP_BY_NAME, { dom, name, flags: 0 })).snap; }
  async domainSnapshotGetXmlDesc(snap: DomainSnapshotRef): Promise<string> { return (await this.rpc.call(P.DOMAIN_SNAPSHOT_GET_XML_DESC, { snap, flags: 0 })).xml; }
  async domainSnapshotIsCurrent(snap: DomainSnapshotRef): Promise<boolean> { return (await this.rpc.call(P.DOMAIN_SNAPSHOT_IS_CURRENT, { snap, flags: 0 })).current === 1; }
  async domainSnapshotDelete(snap: DomainSnapshotRef, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_SNAPSHOT_DELETE, { snap, flags }); }
  async domainRevertToSnapshot(snap: DomainSnapshotRef, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_REVERT_TO_SNAPSHOT, { snap, flags }); }
  /** size in KiB unless flags has VIR_DOMAIN_BLOCK_RESIZE_BYTES (1). */
  async domainBlockResize(dom: DomainRef, disk: string, size: number, flags = 0): Promise<void> { await this.rpc.call(P.DOMAIN_BLOCK_RESIZE, { dom, disk, size, flags }); }

  /** Subscribe to lifecycle events of every domain (or one). Returns the unsubscribe function. */
  async onDomainLifecycle(handler: (e: LifecycleEvent) => void, dom?: DomainRef): Promise<() => Promise<void>> {
    if (!this.features.eventCallbacks) throw new LibvirtError("this daemon does not support event callbacks (libvirt < 1.3.3)", ErrorCode.NO_SUPPORT);
    const { callbackID } = await this.rpc.call(P.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, { eventID: DomainEventId.LIFECYCLE, dom });
    const listener = (procedure: number, payload: Buffer) => {
      if (procedure !== Events.DOMAIN_EVENT_CALLBACK_LIFECYCLE.number) return;
      const body = decode(Events.DOMAIN_EVENT_CALLBACK_LIFECYCLE.body, payload, "lifecycle event");
      if (body.callbackID === callbackID) handler(body.msg);
    };
    this.rpc.on("event", listener);
    return async () => {
      this.rpc.off("event", listener);
      if (!this.rpc.closed) await this.rpc.call(P.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, { callbackID });
    };
  }

  // ---- Network
  async networkLookupByName(name: string): Promise<NetworkRef> { return (await this.rpc.call(P.NETWORK_LOOKUP_BY_NAME, { name })).net; }
  async networkLookupByUuid(uuid: string | Buffer): Promise<NetworkRef> { return (await this.rpc.call(P.NETWORK_LOOKUP_BY_UUID, { uuid: uuidBytes(uuid) })).net; }
  async networkDefineXml(xml: string): Promise<NetworkRef> { return (await this.rpc.call(P.NETWORK_DEFINE_XML, { xml })).net; }
  async networkUndefine(net: NetworkRef): Promise<void> { await this.rpc.call(P.NETWORK_UNDEFINE, { net }); }
  async networkCreate(net: NetworkRef): Promise<void> { await this.rpc.call(P.NETWORK_CREATE, { net }); }
  async networkDestroy(net: NetworkRef): Promise<void> { await this.rpc.call(P.NETWORK_DESTROY, { net }); }
  async networkGetXmlDesc(net: NetworkRef, flags = 0): Promise<string> { return (await this.rpc.call(P.NETWORK_GET_XML_DESC, { net, flags })).xml; }
  async networkGetAutostart(net: NetworkRef): Promise<boolean> { return (await this.rpc.call(P.NETWORK_GET_AUTOSTART, { net })).autostart; }
  async networkSetAutostart(net: NetworkRef, autostart: boolean): Promise<void> { await this.rpc.call(P.NETWORK_SET_AUTOSTART, { net, autostart }); }
  async networkIsActive(net: NetworkRef): Promise<boolean> { return (await this.rpc.call(P.NETWORK_IS_ACTIVE, { net })).active; }
  async networkGetBridgeName(net: NetworkRef): Promise<string> { return (await this.rpc.call(P.NETWORK_GET_BRIDGE_NAME, { net })).name; }
  /**
   * virNetworkUpdate. Daemons without feature 16 decode command and section swapped, so they
   * are sent swapped to them (libvirt's own client does the same).
   */
  async networkUpdate(net: NetworkRef, command: number, section: number, xml: string, flags = 0, parentIndex = -1): Promise<void> {
    const [c, s] = this.features.networkUpdateCorrectOrder ? [command, section] : [section, command];
    await this.rpc.call(P.NETWORK_UPDATE, { net, command: c, section: s, parentIndex, xml, flags });
  }
  async networkGetDhcpLeases(net: NetworkRef, mac?: string): Promise<DhcpLease[]> {
    return (await this.rpc.call(P.NETWORK_GET_DHCP_LEASES, { net, mac, need_results: 1, flags: 0 })).leases;
  }

  // ---- Storage pool
  async storagePoolLookupByName(name: string): Promise<StoragePoolRef> { return (await this.rpc.call(P.STORAGE_POOL_LOOKUP_BY_NAME, { name })).pool; }
  async storagePoolLookupByUuid(uuid: string | Buffer): Promise<StoragePoolRef> { return (await this.rpc.call(P.STORAGE_POOL_LOOKUP_BY_UUID, { uuid: uuidBytes(uuid) })).pool; }
  async storagePoolLookupByVolume(vol: StorageVolRef): Promise<StoragePoolRef> { return (await this.rpc.call(P.STORAGE_POOL_LOOKUP_BY_VOLUME, { vol })).pool; }
  async storagePoolDefineXml(xml: string, flags = 0): Promise<StoragePoolRef> { return (await this.rpc.call(P.STORAGE_POOL_DEFINE_XML, { xml, flags })).pool; }
  async storagePoolUndefine(pool: StoragePoolRef): Promise<void> { await this.rpc.call(P.STORAGE_POOL_UNDEFINE, { pool }); }
  async storagePoolCreate(pool: StoragePoolRef, flags = 0): Promise<void> { await this.rpc.call(P.STORAGE_POOL_CREATE, { pool, flags }); }
  async storagePoolBuild(pool: StoragePoolRef, flags = 0): Promise<void> { await this.rpc.call(P.STORAGE_POOL_BUILD, { pool, flags }); }
  async storagePoolDestroy(pool: StoragePoolRef): Promise<void> { await this.rpc.call(P.STORAGE_POOL_DESTROY, { pool }); }
  async storagePoolDelete(pool: StoragePoolRef, flags = 0): Promise<void> { await this.rpc.call(P.STORAGE_POOL_DELETE, { pool, flags }); }
  async storagePoolRefresh(pool: StoragePoolRef): Promise<void> { await this.rpc.call(P.STORAGE_POOL_REFRESH, { pool, flags: 0 }); }
  async storagePoolGetXmlDesc(pool: StoragePoolRef, flags = 0): Promise<string> { return (await this.rpc.call(P.STORAGE_POOL_GET_XML_DESC, { pool, flags })).xml; }
  async storagePoolGetInfo(pool: StoragePoolRef) { return this.rpc.call(P.STORAGE_POOL_GET_INFO, { pool }); }
  async storagePoolGetAutostart(pool: StoragePoolRef): Promise<boolean> { return (await this.rpc.call(P.STORAGE_POOL_GET_AUTOSTART, { pool })).autostart; }
  async storagePoolSetAutostart(pool: StoragePoolRef, autostart: boolean): Promise<void> { await this.rpc.call(P.STORAGE_POOL_SET_AUTOSTART, { pool, autostart }); }
  async storagePoolIsActive(pool: StoragePoolRef): Promise<boolean> { return (await this.rpc.call(P.STORAGE_POOL_IS_ACTIVE, { pool })).active; }
  async storagePoolListVolumes(pool: StoragePoolRef): Promise<StorageVolRef[]> { return (await this.rpc.call(P.STORAGE_POOL_LIST_ALL_VOLUMES, { pool, need_results: 1, flags: 0 })).vols; }

  // ---- Storage volume
  async storageVolCreateXml(pool: StoragePoolRef, xml: string, flags = 0): Promise<StorageVolRef> { return (await this.rpc.call(P.STORAGE_VOL_CREATE_XML, { pool, xml, flags })).vol; }
  async storageVolCreateXmlFrom(pool: StoragePoolRef, xml: string, clonevol: StorageVolRef, flags = 0): Promise<StorageVolRef> {
    return (await this.rpc.call(P.STORAGE_VOL_CREATE_XML_FROM, { pool, xml, clonevol, flags })).vol;
  }
  async storageVolLookupByName(pool: StoragePoolRef, name: string): Promise<StorageVolRef> { return (await this.rpc.call(P.STORAGE_VOL_LOOKUP_BY_NAME, { pool, name })).vol; }
  async storageVolLookupByKey(key: string): Promise<StorageVolRef> { return (await this.rpc.call(P.STORAGE_VOL_LOOKUP_BY_KEY, { key })).vol; }
  async storageVolLookupByPath(path: string): Promise<StorageVolRef> { return (await this.rpc.call(P.STORAGE_VOL_LOOKUP_BY_PATH, { path })).vol; }
  async storageVolGetXmlDesc(vol: StorageVolRef): Promise<string> { return (await this.rpc.call(P.STORAGE_VOL_GET_XML_DESC, { vol, flags: 0 })).xml; }
  async storageVolGetInfo(vol: StorageVolRef) { return this.rpc.call(P.STORAGE_VOL_GET_INFO, { vol }); }
  async storageVolGetPath(vol: StorageVolRef): Promise<string> { return (await this.rpc.call(P.STORAGE_VOL_GET_PATH, { vol })).name; }
  async storageVolDelete(vol: StorageVolRef, flags = 0): Promise<void> { await this.rpc.call(P.STORAGE_VOL_DELETE, { vol, flags }); }
  async storageVolWipe(vol: StorageVolRef): Promise<void> { await this.rpc.call(P.STORAGE_VOL_WIPE, { vol, flags: 0 }); }
  /** capacity in bytes; flags from constants.VolResizeFlags. */
  async storageVolResize(vol: StorageVolRef, capacity: number, flags = 0): Promise<void> { await this.rpc.call(P.STORAGE_VOL_RESIZE, { vol, capacity, flags }); }
  /** Stream a Readable into the volume. Resolves with the bytes sent once the daemon confirmed. */
  storageVolUpload(vol: StorageVolRef, source: Readable, opts?: TransferOptions): Promise<number> { return upload(this.rpc, vol, source, opts); }
  /** Stream the volume into a Writable (which is ended). Resolves with the bytes received. */
  storageVolDownload(vol: StorageVolRef, dest: Writable, opts?: TransferOptions): Promise<number> { return download(this.rpc, vol, dest, opts); }
}

async function authenticate(rpc: RpcConnection): Promise<void> {
  const { types } = await rpc.call(P.AUTH_LIST, undefined);
  if (types.length === 0 || types.includes(AuthType.NONE)) return;
  if (types.includes(AuthType.POLKIT)) {
    await rpc.call(P.AUTH_POLKIT, undefined);
    return;
  }
  throw new LibvirtError(
    `the daemon at ${rpc.peer} requires SASL authentication, which this client does not implement; connect as a user the daemon trusts (root or the libvirt group over the unix socket) or use qemu+ssh`,
    ErrorCode.AUTH_UNAVAILABLE,
  );
}

/** Accepts "1b4e28ba-2fa1-11d2-883f-0016d3cca427" or 16 raw bytes. */
export function uuidBytes(uuid: string | Buffer): Buffer {
  if (Buffer.isBuffer(uuid)) return uuid;
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new LibvirtError(`invalid UUID "${uuid}"`, ErrorCode.INVALID_ARG);
  return Buffer.from(hex, "hex");
}

export function uuidString(bytes: Buffer): string {
  const h = bytes.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export { NetworkUpdateCommand, NetworkUpdateSection };
