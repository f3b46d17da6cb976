// The disk tier's HAL when the caller gives none: a NodeFsHal on the storage directory (real files,
// fsynced), or a MemoryHal for a device without one. A caller that wants another HAL (a fault
// injector, a wrapper that counts calls, an in-memory disk with a storage path) passes it as
// DeviceOptions.hal and the device uses it as it is.

import type { Hal } from "../hal/hal.js";
import { MemoryHal } from "../hal/memory.js";
import { NodeFsHal } from "../hal/node-fs.js";

export function deviceHalDefault(storageDir: string | undefined): Hal {
  return storageDir ? new NodeFsHal(storageDir) : new MemoryHal();
}
