// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), the same function as zlib.crc32 on the
// host. The 1 KiB table is static data in device RAM, filled once at boot.

const CRC_TABLE: usize = memory.data(256 * 4, 4);
const CRC_POLYNOMIAL: u32 = 0xedb88320;

export function crc32Init(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? CRC_POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    }
    store<u32>(CRC_TABLE + (<usize>n << 2), c);
  }
}

// Continues a CRC over `length` bytes at `ptr`; start with crc = 0.
export function crc32Update(crc: u32, ptr: usize, length: usize): u32 {
  let c = ~crc;
  const end = ptr + length;
  for (let p = ptr; p < end; p++) {
    c = load<u32>(CRC_TABLE + (<usize>((c ^ load<u8>(p)) & 0xff) << 2)) ^ (c >>> 8);
  }
  return ~c;
}
