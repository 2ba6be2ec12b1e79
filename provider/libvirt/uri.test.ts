/** libvirt connection URIs (uri.ts). */
import { ErrorCode, LibvirtError } from "./errors";
import { DEFAULT_URI, defaultUri, flagParam, parseUri } from "./uri";

function parseError(text: string): LibvirtError {
  let thrown: unknown;
  try {
    parseUri(text);
  } catch (e) {
    thrown = e;
  }
  if (!(thrown instanceof LibvirtError)) throw new Error(`parseUri(${JSON.stringify(text)}) should throw a LibvirtError, got ${String(thrown)}`);
  expect(thrown.code).toBe(ErrorCode.INVALID_ARG);
  return thrown;
}

describe("parseUri", () => {
  test("qemu:///system is the local system daemon over the unix socket", () => {
    const u = parseUri("qemu:///system");
    expect(u).toMatchObject({
      text: "qemu:///system", driver: "qemu", transport: "unix", path: "/system", remoteName: "qemu:///system",
    });
    expect(u.host).toBeUndefined();
    expect(u.user).toBeUndefined();
    expect(u.port).toBeUndefined();
    expect(u.params.size).toBe(0);
  });

  test("qemu:///session", () => {
    expect(parseUri("qemu:///session")).toMatchObject({ driver: "qemu", transport: "unix", path: "/session", remoteName: "qemu:///session" });
  });

  test("qemu+ssh with user, port and client-only parameters", () => {
    const u = parseUri("qemu+ssh://user@host:2222/system?keyfile=/k&no_verify=1");
    expect(u).toMatchObject({
      driver: "qemu", transport: "ssh", user: "user", host: "host", port: 2222, path: "/system",
      remoteName: "qemu:///system",
    });
    expect([...u.params]).toEqual([["keyfile", "/k"], ["no_verify", "1"]]);
    expect(flagParam(u, "no_verify")).toBe(true);
    expect(flagParam(u, "no_tty")).toBe(false);
  });

  test("qemu+tls", () => {
    expect(parseUri("qemu+tls://host/system")).toMatchObject({ transport: "tls", host: "host", remoteName: "qemu:///system" });
  });

  test("a host without a transport defaults to tls", () => {
    expect(parseUri("qemu://host/system")).toMatchObject({ transport: "tls", host: "host", path: "/system", remoteName: "qemu:///system" });
  });

  test("qemu+tcp", () => {
    expect(parseUri("qemu+tcp://host/system")).toMatchObject({ transport: "tcp", host: "host", remoteName: "qemu:///system" });
    expect(parseUri("qemu+tcp://10.0.0.1:16509/system")).toMatchObject({ transport: "tcp", host: "10.0.0.1", port: 16509 });
  });

  test("IPv6 hosts in brackets, with and without a port", () => {
    expect(parseUri("qemu+ssh://root@[::1]/system")).toMatchObject({ transport: "ssh", user: "root", host: "::1", remoteName: "qemu:///system" });
    expect(parseUri("qemu+tls://[fe80::1]:16514/system")).toMatchObject({ host: "fe80::1", port: 16514 });
    expect(parseUri("qemu://[::1]/system").transport).toBe("tls");
  });

  test("daemon-side parameters stay in remoteName, client-only ones are dropped", () => {
    const u = parseUri("qemu+ssh://host/system?keyfile=/k&foo=bar&no_tty=1&mode=direct");
    expect(u.remoteName).toBe("qemu:///system?foo=bar");
    expect(u.params.get("foo")).toBe("bar");
    expect(u.params.get("mode")).toBe("direct");
    expect(parseUri("test:///default?x=%2Fy").remoteName).toBe("test:///default?x=%2Fy");
    expect(parseUri("test:///default?x=%2Fy").params.get("x")).toBe("/y");
  });

  test("every client-only parameter is stripped", () => {
    const client = ["name", "command", "socket", "auth", "netcat", "keyfile", "sshauth", "no_verify", "no_tty",
      "pkipath", "known_hosts", "known_hosts_verify", "tls_priority", "mode", "proxy"].filter((k) => k !== "name");
    const u = parseUri(`qemu+ssh://h/system?${client.map((k) => `${k}=v`).join("&")}`);
    expect(u.remoteName).toBe("qemu:///system");
    expect(u.params.size).toBe(client.length);
  });

  test("name= overrides the name sent to the daemon", () => {
    const u = parseUri("qemu+ssh://host/system?name=qemu:///session&keyfile=/k");
    expect(u.remoteName).toBe("qemu:///session");
    expect(u.path).toBe("/system");
    expect(parseUri("qemu+tcp://h/system?name=qemu%3A%2F%2F%2Fembed%3Froot%3D%2Ftmp").remoteName).toBe("qemu:///embed?root=/tmp");
  });

  test("unix transport spelled out, with a socket path", () => {
    const u = parseUri("qemu+unix:///system?socket=/tmp/libvirt-sock");
    expect(u).toMatchObject({ transport: "unix", remoteName: "qemu:///system" });
    expect(u.params.get("socket")).toBe("/tmp/libvirt-sock");
  });

  test("other drivers and a missing path", () => {
    expect(parseUri("test:///default")).toMatchObject({ driver: "test", transport: "unix", path: "/default", remoteName: "test:///default" });
    expect(parseUri("qemu+ssh://host")).toMatchObject({ host: "host", path: "/", remoteName: "qemu:///" });
  });

  test("an unix transport with a host is rejected", () => {
    const e = parseError("qemu+unix://host/system");
    expect(e.message).toContain("qemu+unix://host/system");
    expect(e.message).toContain("unix");
  });

  test.each([
    "",
    "qemu",
    "qemu:/system",
    "qemu//system",
    "/var/run/libvirt/libvirt-sock",
    "qemu+://host/system",
    "qemu+ssh//host/system",
    "1qemu:///system",
    "qemu+ssh://host:port/system",
    "qemu:///system?x=%E0%A4%A",
    "qemu:///system?%zz=1",
    "qemu+ssh://host:0/system",
    "qemu+ssh://host:65536/system",
  ])("invalid URI %j throws a LibvirtError naming it", (text) => {
    const e = parseError(text);
    expect(e.message).toContain(`"${text}"`);
  });

  test("an unknown transport is rejected, naming the URI", () => {
    const e = parseError("qemu+carrierpigeon://host/system");
    expect(e.message).toContain("carrierpigeon");
    expect(e.message).toContain("qemu+carrierpigeon://host/system");
  });
});

describe("defaultUri", () => {
  test("honours LIBVIRT_DEFAULT_URI", () => {
    expect(defaultUri({ LIBVIRT_DEFAULT_URI: "qemu:///session" })).toBe("qemu:///session");
  });

  test("falls back to qemu:///system when unset or empty", () => {
    expect(defaultUri({})).toBe("qemu:///system");
    expect(defaultUri({ LIBVIRT_DEFAULT_URI: "" })).toBe("qemu:///system");
    expect(DEFAULT_URI).toBe("qemu:///system");
  });

  test("reads process.env by default", () => {
    const saved = process.env.LIBVIRT_DEFAULT_URI;
    try {
      process.env.LIBVIRT_DEFAULT_URI = "test:///default";
      expect(defaultUri()).toBe("test:///default");
      delete process.env.LIBVIRT_DEFAULT_URI;
      expect(defaultUri()).toBe("qemu:///system");
    } finally {
      if (saved === undefined) delete process.env.LIBVIRT_DEFAULT_URI;
      else process.env.LIBVIRT_DEFAULT_URI = saved;
    }
  });
});
