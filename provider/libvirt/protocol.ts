/**
 * The slice of libvirt's remote protocol (src/remote/remote_protocol.x, libvirt 9.0) this
 * project uses, declared as data: wire types first, then one line per procedure with its
 * number, argument codec and reply codec. Adding a procedure means adding one line here and
 * one typed method in client.ts.
 */
import {
  Codec, Decoded, array, bool, char, double, fixedArray, fixedOpaque, hyper, int, none, opaque, optional,
  short, string, struct, uhyper, uint, XdrReader, XdrWriter,
} from "./xdr";
import { ProtocolError } from "./errors";

const STRING_MAX = 4 * 1024 * 1024; // the daemon's REMOTE_STRING_MAX is 4 MiB on current releases
const LIST_MAX = 65536;

export const nstring = string(STRING_MAX);
export const ostring = optional(nstring);
export const uuid = fixedOpaque(16);

export const Domain = struct({ name: nstring, uuid, id: int });
export const Network = struct({ name: nstring, uuid });
export const StoragePool = struct({ name: nstring, uuid });
export const StorageVol = struct({ pool: nstring, name: nstring, key: nstring });
export const DomainSnapshot = struct({ name: nstring, dom: Domain });
export type DomainRef = Decoded<typeof Domain>;
export type NetworkRef = Decoded<typeof Network>;
export type StoragePoolRef = Decoded<typeof StoragePool>;
export type StorageVolRef = Decoded<typeof StorageVol>;
export type DomainSnapshotRef = Decoded<typeof DomainSnapshot>;

export const RemoteError = struct({
  code: int,
  domain: int,
  message: ostring,
  level: int,
  dom: optional(Domain),
  str1: ostring,
  str2: ostring,
  str3: ostring,
  int1: int,
  int2: int,
  net: optional(Network),
});

/** virTypedParameter: a discriminated union keyed by the parameter type. */
export type TypedParamValue =
  | { type: 1 | 2 | 3 | 4 | 5; value: number }
  | { type: 6; value: boolean }
  | { type: 7; value: string };
const typedParamValue: Codec<TypedParamValue> = {
  enc(w: XdrWriter, v) {
    w.i32(v.type);
    switch (v.type) {
      case 1: return int.enc(w, v.value);
      case 2: return uint.enc(w, v.value);
      case 3: return hyper.enc(w, v.value);
      case 4: return uhyper.enc(w, v.value);
      case 5: return double.enc(w, v.value);
      case 6: return bool.enc(w, v.value);
      case 7: return nstring.enc(w, v.value);
    }
  },
  dec(r: XdrReader): TypedParamValue {
    const type = r.i32();
    switch (type) {
      case 1: return { type, value: int.dec(r) };
      case 2: return { type, value: uint.dec(r) };
      case 3: return { type, value: hyper.dec(r) };
      case 4: return { type, value: uhyper.dec(r) };
      case 5: return { type, value: double.dec(r) };
      case 6: return { type, value: bool.dec(r) };
      case 7: return { type, value: nstring.dec(r) };
      default: throw new ProtocolError(`unknown typed parameter type ${type}`);
    }
  },
};
export const TypedParam = struct({ field: nstring, value: typedParamValue });

const TypedParams = array(TypedParam, 64); // REMOTE_DOMAIN_MIGRATE_PARAM_LIST_MAX
const Cookie = opaque(4 * 1024 * 1024); // REMOTE_MIGRATE_COOKIE_MAX

const DhcpLease = struct({
  iface: nstring, expirytime: hyper, type: int, mac: ostring, iaid: ostring, ipaddr: nstring,
  prefix: uint, hostname: ostring, clientid: ostring,
});
export type DhcpLease = Decoded<typeof DhcpLease>;
const IpAddr = struct({ type: int, addr: nstring, prefix: uint });
const Interface = struct({ name: nstring, hwaddr: ostring, addrs: array(IpAddr, LIST_MAX) });
export type DomainInterface = Decoded<typeof Interface>;

export interface Procedure<A, R> {
  readonly program: number;
  readonly number: number;
  readonly args: Codec<A>;
  readonly ret: Codec<R>;
}
export type ArgsOf<P> = P extends Procedure<infer A, any> ? A : never;
export type RetOf<P> = P extends Procedure<any, infer R> ? R : never;

const REMOTE = 0x20008086;
function proc<A, R>(number: number, args: Codec<A>, ret: Codec<R>): Procedure<A, R> {
  return { program: REMOTE, number, args, ret };
}

const dom = struct({ dom: Domain });
const domFlags = struct({ dom: Domain, flags: uint });
const net = struct({ net: Network });
const netFlags = struct({ net: Network, flags: uint });
const pool = struct({ pool: StoragePool });
const poolFlags = struct({ pool: StoragePool, flags: uint });
const vol = struct({ vol: StorageVol });
const volFlags = struct({ vol: StorageVol, flags: uint });
const snapFlags = struct({ snap: DomainSnapshot, flags: uint });
const xmlFlags = struct({ xml: nstring, flags: uint });
const xml = struct({ xml: nstring });
const name = struct({ name: nstring });
const byUuid = struct({ uuid });
const listArgs = struct({ need_results: int, flags: uint });
const transfer = struct({ vol: StorageVol, offset: uhyper, length: uhyper, flags: uint });
const active = struct({ active: bool });
const autostart = struct({ autostart: bool });

/** Remote procedures by their REMOTE_PROC_ name (minus the prefix). */
export const P = {
  // Connection
  CONNECT_OPEN: proc(1, struct({ name: ostring, flags: uint }), none),
  CONNECT_CLOSE: proc(2, none, none),
  CONNECT_GET_TYPE: proc(3, none, struct({ type: nstring })),
  CONNECT_GET_VERSION: proc(4, none, struct({ hv_ver: uhyper })),
  NODE_GET_INFO: proc(6, none, struct({
    model: fixedArray(char, 32), memory: uhyper, cpus: int, mhz: int, nodes: int, sockets: int, cores: int, threads: int,
  })),
  CONNECT_GET_CAPABILITIES: proc(7, none, struct({ capabilities: nstring })),
  CONNECT_GET_HOSTNAME: proc(59, none, struct({ hostname: nstring })),
  CONNECT_SUPPORTS_FEATURE: proc(60, struct({ feature: int }), struct({ supported: bool })),
  AUTH_LIST: proc(66, none, struct({ types: array(int, 20) })),
  AUTH_POLKIT: proc(70, none, struct({ complete: bool })),
  CONNECT_GET_URI: proc(110, none, struct({ uri: nstring })),
  CONNECT_GET_LIB_VERSION: proc(157, none, struct({ lib_ver: uhyper })),
  CONNECT_LIST_ALL_DOMAINS: proc(273, listArgs, struct({ domains: array(Domain, LIST_MAX), ret: uint })),
  CONNECT_LIST_ALL_STORAGE_POOLS: proc(281, listArgs, struct({ pools: array(StoragePool, LIST_MAX), ret: uint })),
  CONNECT_LIST_ALL_NETWORKS: proc(283, listArgs, struct({ nets: array(Network, LIST_MAX), ret: uint })),
  CONNECT_GET_DOMAIN_CAPABILITIES: proc(342, struct({
    emulatorbin: ostring, arch: ostring, machine: ostring, virttype: ostring, flags: uint,
  }), struct({ capabilities: nstring })),

  // Domain
  DOMAIN_GET_XML_DESC: proc(14, domFlags, struct({ xml: nstring })),
  DOMAIN_GET_AUTOSTART: proc(15, dom, autostart),
  DOMAIN_GET_INFO: proc(16, dom, struct({ state: char, maxMem: uhyper, memory: uhyper, nrVirtCpu: short, cpuTime: uhyper })),
  DOMAIN_LOOKUP_BY_NAME: proc(23, name, dom),
  DOMAIN_LOOKUP_BY_UUID: proc(24, byUuid, dom),
  DOMAIN_REBOOT: proc(27, domFlags, none),
  DOMAIN_RESUME: proc(28, dom, none),
  DOMAIN_SET_AUTOSTART: proc(29, struct({ dom: Domain, autostart: bool }), none),
  DOMAIN_SUSPEND: proc(34, dom, none),
  DOMAIN_IS_ACTIVE: proc(150, dom, active),
  DOMAIN_IS_PERSISTENT: proc(151, dom, struct({ persistent: bool })),
  DOMAIN_ATTACH_DEVICE_FLAGS: proc(160, struct({ dom: Domain, xml: nstring, flags: uint }), none),
  DOMAIN_DETACH_DEVICE_FLAGS: proc(161, struct({ dom: Domain, xml: nstring, flags: uint }), none),
  DOMAIN_UPDATE_DEVICE_FLAGS: proc(174, struct({ dom: Domain, xml: nstring, flags: uint }), none),
  DOMAIN_ABORT_JOB: proc(164, dom, none),
  DOMAIN_MANAGED_SAVE: proc(182, domFlags, none),
  DOMAIN_HAS_MANAGED_SAVE_IMAGE: proc(183, domFlags, struct({ result: bool })),
  DOMAIN_MANAGED_SAVE_REMOVE: proc(184, domFlags, none),
  DOMAIN_SNAPSHOT_CREATE_XML: proc(185, struct({ dom: Domain, xml_desc: nstring, flags: uint }), struct({ snap: DomainSnapshot })),
  DOMAIN_SNAPSHOT_GET_XML_DESC: proc(186, snapFlags, struct({ xml: nstring })),
  DOMAIN_SNAPSHOT_LOOKUP_BY_NAME: proc(189, struct({ dom: Domain, name: nstring, flags: uint }), struct({ snap: DomainSnapshot })),
  DOMAIN_REVERT_TO_SNAPSHOT: proc(192, snapFlags, none),
  DOMAIN_SNAPSHOT_DELETE: proc(193, snapFlags, none),
  DOMAIN_CREATE_WITH_FLAGS: proc(196, domFlags, dom),
  DOMAIN_SET_VCPUS_FLAGS: proc(199, struct({ dom: Domain, nvcpus: uint, flags: uint }), none),
  DOMAIN_GET_VCPUS_FLAGS: proc(200, domFlags, struct({ num: int })),
  DOMAIN_SET_MEMORY_FLAGS: proc(204, struct({ dom: Domain, memory: uhyper, flags: uint }), none),
  DOMAIN_GET_STATE: proc(212, domFlags, struct({ state: int, reason: int })),
  DOMAIN_UNDEFINE_FLAGS: proc(231, domFlags, none),
  DOMAIN_DESTROY_FLAGS: proc(234, domFlags, none),
  DOMAIN_BLOCK_RESIZE: proc(251, struct({ dom: Domain, disk: nstring, size: uhyper, flags: uint }), none),
  DOMAIN_SHUTDOWN_FLAGS: proc(258, domFlags, none),
  DOMAIN_SET_METADATA: proc(264, struct({
    dom: Domain, type: int, metadata: ostring, key: ostring, uri: ostring, flags: uint,
  }), none),
  DOMAIN_GET_METADATA: proc(265, struct({ dom: Domain, type: int, uri: ostring, flags: uint }), struct({ metadata: nstring })),
  DOMAIN_SNAPSHOT_IS_CURRENT: proc(271, snapFlags, struct({ current: int })),
  DOMAIN_LIST_ALL_SNAPSHOTS: proc(274, struct({ dom: Domain, need_results: int, flags: uint }),
    struct({ snapshots: array(DomainSnapshot, LIST_MAX), ret: int })),
  DOMAIN_GET_JOB_STATS: proc(298, domFlags, struct({ type: int, params: array(TypedParam, LIST_MAX) })),
  /** Peer-to-peer: the source daemon opens dconnuri and runs the whole migration. */
  DOMAIN_MIGRATE_PERFORM3_PARAMS: proc(305, struct({ dom: Domain, dconnuri: ostring, params: TypedParams, cookie_in: Cookie, flags: uint }),
    struct({ cookie_out: Cookie })),
  CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY: proc(316, struct({ eventID: int, dom: optional(Domain) }), struct({ callbackID: int })),
  CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY: proc(317, struct({ callbackID: int }), none),
  DOMAIN_DEFINE_XML_FLAGS: proc(350, xmlFlags, dom),
  DOMAIN_INTERFACE_ADDRESSES: proc(353, struct({ dom: Domain, source: uint, flags: uint }),
    struct({ ifaces: array(Interface, LIST_MAX) })),

  // Network
  NETWORK_CREATE: proc(39, net, none),
  NETWORK_DEFINE_XML: proc(41, xml, net),
  NETWORK_DESTROY: proc(42, net, none),
  NETWORK_GET_XML_DESC: proc(43, netFlags, struct({ xml: nstring })),
  NETWORK_GET_AUTOSTART: proc(44, net, autostart),
  NETWORK_GET_BRIDGE_NAME: proc(45, net, name),
  NETWORK_LOOKUP_BY_NAME: proc(46, name, net),
  NETWORK_LOOKUP_BY_UUID: proc(47, byUuid, net),
  NETWORK_SET_AUTOSTART: proc(48, struct({ net: Network, autostart: bool }), none),
  NETWORK_UNDEFINE: proc(49, net, none),
  NETWORK_IS_ACTIVE: proc(152, net, active),
  NETWORK_UPDATE: proc(291, struct({
    net: Network, command: uint, section: uint, parentIndex: int, xml: nstring, flags: uint,
  }), none),
  NETWORK_GET_DHCP_LEASES: proc(341, struct({ net: Network, mac: ostring, need_results: int, flags: uint }),
    struct({ leases: array(DhcpLease, LIST_MAX), ret: uint })),

  // Storage pool
  STORAGE_POOL_DEFINE_XML: proc(77, xmlFlags, pool),
  STORAGE_POOL_CREATE: proc(78, poolFlags, none),
  STORAGE_POOL_BUILD: proc(79, poolFlags, none),
  STORAGE_POOL_DESTROY: proc(80, pool, none),
  STORAGE_POOL_DELETE: proc(81, poolFlags, none),
  STORAGE_POOL_UNDEFINE: proc(82, pool, none),
  STORAGE_POOL_REFRESH: proc(83, poolFlags, none),
  STORAGE_POOL_LOOKUP_BY_NAME: proc(84, name, pool),
  STORAGE_POOL_LOOKUP_BY_UUID: proc(85, byUuid, pool),
  STORAGE_POOL_LOOKUP_BY_VOLUME: proc(86, vol, pool),
  STORAGE_POOL_GET_INFO: proc(87, pool, struct({ state: char, capacity: uhyper, allocation: uhyper, available: uhyper })),
  STORAGE_POOL_GET_XML_DESC: proc(88, poolFlags, struct({ xml: nstring })),
  STORAGE_POOL_GET_AUTOSTART: proc(89, pool, autostart),
  STORAGE_POOL_SET_AUTOSTART: proc(90, struct({ pool: StoragePool, autostart: bool }), none),
  STORAGE_POOL_IS_ACTIVE: proc(154, pool, active),
  STORAGE_POOL_LIST_ALL_VOLUMES: proc(282, struct({ pool: StoragePool, need_results: int, flags: uint }),
    struct({ vols: array(StorageVol, LIST_MAX), ret: uint })),

  // Storage volume
  STORAGE_VOL_CREATE_XML: proc(93, struct({ pool: StoragePool, xml: nstring, flags: uint }), vol),
  STORAGE_VOL_DELETE: proc(94, volFlags, none),
  STORAGE_VOL_LOOKUP_BY_NAME: proc(95, struct({ pool: StoragePool, name: nstring }), vol),
  STORAGE_VOL_LOOKUP_BY_KEY: proc(96, struct({ key: nstring }), vol),
  STORAGE_VOL_LOOKUP_BY_PATH: proc(97, struct({ path: nstring }), vol),
  STORAGE_VOL_GET_INFO: proc(98, vol, struct({ type: char, capacity: uhyper, allocation: uhyper })),
  STORAGE_VOL_GET_XML_DESC: proc(99, volFlags, struct({ xml: nstring })),
  STORAGE_VOL_GET_PATH: proc(100, vol, name),
  STORAGE_VOL_CREATE_XML_FROM: proc(125, struct({ pool: StoragePool, xml: nstring, clonevol: StorageVol, flags: uint }), vol),
  STORAGE_VOL_WIPE: proc(165, volFlags, none),
  STORAGE_VOL_UPLOAD: proc(208, transfer, none),
  STORAGE_VOL_DOWNLOAD: proc(209, transfer, none),
  STORAGE_VOL_RESIZE: proc(260, struct({ vol: StorageVol, capacity: uhyper, flags: uint }), none),
} as const;

const NAMES = new Map<number, string>(Object.entries(P).map(([name, p]) => [p.number, name]));

/** REMOTE_PROC_<name> for messages; the bare number for a procedure not declared here. */
export function procedureName(n: number): string {
  const name = NAMES.get(n);
  return name ? `REMOTE_PROC_${name}` : `procedure ${n}`;
}

/** Asynchronous messages the daemon pushes (type MESSAGE, serial 0). */
export const Events = {
  DOMAIN_EVENT_CALLBACK_LIFECYCLE: {
    number: 318,
    body: struct({ callbackID: int, msg: struct({ dom: Domain, event: int, detail: int }) }),
  },
} as const;

/** CONNECT_SUPPORTS_FEATURE numbers (VIR_DRV_FEATURE_*). */
export const Feature = {
  PROGRAM_KEEPALIVE: 10,
  REMOTE_EVENT_CALLBACK: 14,
  NETWORK_UPDATE_HAS_CORRECT_ORDER: 16,
} as const;

export const AuthType = { NONE: 0, SASL: 1, POLKIT: 2 } as const;

/** Keepalive program (src/rpc/virkeepaliveprotocol.x): empty messages both ways. */
export const Keepalive = { PING: 1, PONG: 2 } as const;
