/**
 * The Redis Cluster hash slot of a key or shard channel: CRC16 (XMODEM) of the key — or of the first non-empty
 * `{…}` in it — mod 16384 (the cluster specification's "Keys distribution model"). Hand-written: ioredis keeps
 * its own calculator private, and the sharded subscriber must know each channel's slot to send its SSUBSCRIBE
 * to the owner and to find a probe channel on a given shard.
 */
export const SLOTS = 16384;

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/** The slot of `key` (hash-tag rule included). */
export function slotOf(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key, 'utf8')) % SLOTS;
}
