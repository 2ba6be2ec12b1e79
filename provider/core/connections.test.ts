/** Which host a resource talks to: the README's order of precedence. */
import { resolveUri, setConfiguredUri } from "./connections";

const saved = process.env.LIBVIRT_DEFAULT_URI;
afterEach(() => {
  setConfiguredUri(undefined);
  if (saved === undefined) delete process.env.LIBVIRT_DEFAULT_URI;
  else process.env.LIBVIRT_DEFAULT_URI = saved;
});

test("the resource's uri, else stack config libvirt:uri, else LIBVIRT_DEFAULT_URI, else qemu:///system", () => {
  delete process.env.LIBVIRT_DEFAULT_URI;
  expect(resolveUri()).toBe("qemu:///system");
  process.env.LIBVIRT_DEFAULT_URI = "qemu+ssh://root@env/system";
  expect(resolveUri()).toBe("qemu+ssh://root@env/system");
  setConfiguredUri("qemu+tls://config/system");
  expect(resolveUri()).toBe("qemu+tls://config/system");
  expect(resolveUri("qemu+tcp://input/system")).toBe("qemu+tcp://input/system");
  // Empty strings (an unset config key, an input "") fall through like unset.
  expect(resolveUri("")).toBe("qemu+tls://config/system");
  setConfiguredUri("");
  expect(resolveUri()).toBe("qemu+ssh://root@env/system");
});
