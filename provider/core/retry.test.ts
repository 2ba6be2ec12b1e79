/** What retrying() retries: lost connections and busy locks, never a reply that does not decode. */
import { ErrorCode, ErrorDomain, LibvirtError, ProtocolError } from "../libvirt/errors";
import { isTransient, retrying } from "./retry";

const lost = () => new LibvirtError("lost connection to libvirt at test: the daemon closed the connection", ErrorCode.NO_CONNECT, ErrorDomain.RPC);
const garbled = () => new ProtocolError("cannot decode the reply to REMOTE_PROC_CONNECT_GET_HOSTNAME: truncated data");

describe("isTransient", () => {
  test.each([
    ["a lost connection", lost(), true],
    ["a busy resource", new LibvirtError("busy", ErrorCode.RESOURCE_BUSY), true],
    ["a state change lock timeout", new LibvirtError("cannot acquire state change lock", ErrorCode.OPERATION_TIMEOUT), true],
    ["a reply that does not decode", garbled(), false],
    ["a missing domain", new LibvirtError("no domain", ErrorCode.NO_DOMAIN), false],
    ["a plain Error", new Error("boom"), false],
  ])("%s: %p", (_what, e, transient) => {
    expect(isTransient(e)).toBe(transient);
  });
});

describe("retrying", () => {
  test("a decode failure runs fn once and rejects, however long the deadline", async () => {
    const fn = jest.fn(async () => { throw garbled(); });
    const reconnect = jest.fn(async () => undefined);
    await expect(retrying(fn, 60_000, reconnect)).rejects.toBeInstanceOf(ProtocolError);
    // Called once by the time it rejected: a retry would have called fn again first.
    expect(fn).toHaveBeenCalledTimes(1);
    expect(reconnect).not.toHaveBeenCalled();
  });

  test("a lost connection is retried after reconnecting", async () => {
    const fn = jest.fn().mockRejectedValueOnce(lost()).mockResolvedValueOnce("ok");
    const reconnect = jest.fn(async () => undefined);
    await expect(retrying(fn, 5_000, reconnect)).resolves.toBe("ok");
    expect(fn).toHaveBeenCalledTimes(2);
    expect(reconnect).toHaveBeenCalledTimes(1);
  });
});
