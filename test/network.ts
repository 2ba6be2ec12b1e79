/** A transient, isolated libvirt network for guests under test: STP off, a random 10.x subnet. */
import { randomInt } from "node:crypto";
import { writeFileSync } from "node:fs";

/** Create it with `virsh` (the caller's, which may ride out daemon restarts); xmlFile is scratch space. */
export function createNetwork(name: string, xmlFile: string, virsh: (...args: string[]) => string): void {
  for (let attempt = 0; ; attempt++) {
    const prefix = `10.${randomInt(32, 250)}.${randomInt(1, 250)}`;
    writeFileSync(xmlFile, `<network><name>${name}</name><bridge stp='off'/><ip address='${prefix}.1' netmask='255.255.255.0'><dhcp><range start='${prefix}.10' end='${prefix}.200'/></dhcp></ip></network>`);
    try {
      virsh("net-create", xmlFile);
      return;
    } catch (e) {
      if (attempt < 8 && /in use|overlap|exists/i.test(String(e))) continue;
      throw e;
    }
  }
}
