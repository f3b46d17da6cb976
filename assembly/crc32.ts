// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), the same function as zlib.crc32 on the
// host. Large buffers go to the host's CRC unit (hal.ts); the 1 KiB table is a region of device RAM right after the core state block, filled once at
// boot (not a data segment, which a new instance over a snapshot would overwrite).

import { CORE_STATE_BYTES, CRC_HOST_BYTES_MIN, CRC_TABLE_BYTES } from "./abi";
import { halCrc32 } from "./hal";
import { statePtr } from "./state";

const CRC_POLYNOMIAL: u32 = 0xedb88320;

// @ts-ignore: decorator
@inline
export function crcTablePtr(): usize {
  return statePtr() + <usize>CORE_STATE_BYTES;
}

if (CRC_TABLE_BYTES != 256 * 4) ERROR("the CRC table holds 256 u32 entries");

export function crc32Init(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? CRC_POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    }
    store<u32>(crcTablePtr() + ((<usize>n) << 2), c);
  }
}

// Continues a CRC over `length` bytes at `ptr`; start with crc = 0. Buffers of CRC_HOST_BYTES_MIN
// bytes or more (file payloads, checkpoints) go to the platform's CRC unit (hal.ts halCrc32), the
// rest through the table here; both compute the same function.
export function crc32Update(crc: u32, ptr: usize, length: usize): u32 {
  if (length >= <usize>CRC_HOST_BYTES_MIN) return halCrc32(crc, ptr, length);
  return crc32Table(crc, ptr, length);
}

// The table loop, one byte at a time.
export function crc32Table(crc: u32, ptr: usize, length: usize): u32 {
  const table = crcTablePtr();
  let c = ~crc;
  const end = ptr + length;
  for (let p = ptr; p < end; p++) {
    c = load<u32>(table + ((<usize>((c ^ load<u8>(p)) & 0xff)) << 2)) ^ (c >>> 8);
  }
  return ~c;
}
