import QRCode from 'qrcode';

/**
 * A QR code as a baseline JPEG, for the simulated `getwxacodeunlimit` (WeChat answers mini-program codes as JPEG,
 * docs/wechat.md §7). No JPEG encoder ships with our dependencies, and a QR code needs very little of one: each
 * module is drawn as whole 8×8 blocks, so every block is flat (black or white) and its DCT has a DC term only.
 * The file is an ordinary JFIF (SOF0, 8-bit grayscale, Huffman), which any decoder reads exactly: the DC
 * quantiser 8 makes a flat block of 0 or 255 encode as −128 / 127 without rounding.
 */
export function qrJpeg(text: string, opts: { width: number; margin?: number }): Buffer {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const margin = opts.margin ?? 1;
  const n = qr.modules.size + 2 * margin;
  // Whole blocks per module, as near the asked width as that allows.
  const scale = Math.max(1, Math.round(opts.width / (n * 8)));
  const dark = (row: number, col: number) => {
    const r = row - margin;
    const c = col - margin;
    return r >= 0 && c >= 0 && r < qr.modules.size && c < qr.modules.size && qr.modules.get(r, c) === 1;
  };
  return blockJpeg(n * scale, (by, bx) => dark(Math.floor(by / scale), Math.floor(bx / scale)));
}

/** JPEG Annex K.3, table K.3: the standard luminance DC Huffman table (code counts by length 1–16, symbols). */
const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_VALS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
/** Every block ends at once (no AC terms): the AC table needs only EOB (0x00), as the one 1-bit code. */
const AC_BITS = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const AC_VALS = [0x00];
/** The quantised DC of a flat black / white block: 8 × (value − 128) / 8. */
const BLACK_DC = -128;
const WHITE_DC = 127;

/** A square grayscale JPEG of `blocks`×`blocks` flat 8×8 blocks, each black when `isDark(blockRow, blockCol)`. */
function blockJpeg(blocks: number, isDark: (row: number, col: number) => boolean): Buffer {
  const side = blocks * 8;
  const dcCodes = canonicalCodes(DC_BITS, DC_VALS);
  const acEob = canonicalCodes(AC_BITS, AC_VALS).get(0x00)!;
  const out = new BitWriter();
  let prev = 0;
  for (let row = 0; row < blocks; row++) {
    for (let col = 0; col < blocks; col++) {
      const dc = isDark(row, col) ? BLACK_DC : WHITE_DC;
      const diff = dc - prev;
      prev = dc;
      const size = diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
      const code = dcCodes.get(size)!;
      out.write(code.code, code.length);
      // Negative values are sent as their one's complement in `size` bits (F.1.2.1).
      if (size) out.write(diff > 0 ? diff : diff + (1 << size) - 1, size);
      out.write(acEob.code, acEob.length);
    }
  }
  const segment = (marker: number, body: number[]) => [
    0xff,
    marker,
    (body.length + 2) >> 8,
    (body.length + 2) & 0xff,
    ...body,
  ];
  const u16 = (v: number) => [v >> 8, v & 0xff];
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]), // SOI
    Buffer.from(segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, ...u16(1), ...u16(1), 0, 0])), // APP0 JFIF
    Buffer.from(segment(0xdb, [0x00, 8, ...new Array<number>(63).fill(1)])), // DQT: table 0, DC 8
    Buffer.from(segment(0xc0, [8, ...u16(side), ...u16(side), 1, 1, 0x11, 0])), // SOF0: 8-bit, 1 component
    Buffer.from(segment(0xc4, [0x00, ...DC_BITS, ...DC_VALS, 0x10, ...AC_BITS, ...AC_VALS])), // DHT DC0, AC0
    Buffer.from(segment(0xda, [1, 1, 0x00, 0, 63, 0])), // SOS: component 1, tables 0/0, Ss 0, Se 63
    out.finish(),
    Buffer.from([0xff, 0xd9]), // EOI
  ]);
}

/** Huffman codes from a JPEG BITS/HUFFVAL pair, assigned canonically (Annex C). */
function canonicalCodes(
  bits: readonly number[],
  vals: readonly number[],
): Map<number, { code: number; length: number }> {
  const codes = new Map<number, { code: number; length: number }>();
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < bits[length - 1]!; i++) codes.set(vals[k++]!, { code: code++, length });
    code <<= 1;
  }
  return codes;
}

/** Entropy-coded data: bits MSB first, a 0x00 stuffed after every 0xFF, the last byte padded with 1s (F.1.2.3). */
class BitWriter {
  readonly #bytes: number[] = [];
  #acc = 0;
  #count = 0;

  write(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.#acc = (this.#acc << 1) | ((value >> i) & 1);
      if (++this.#count === 8) this.#flush();
    }
  }

  finish(): Buffer {
    while (this.#count !== 0) this.write(1, 1);
    return Buffer.from(this.#bytes);
  }

  #flush(): void {
    this.#bytes.push(this.#acc);
    if (this.#acc === 0xff) this.#bytes.push(0x00);
    this.#acc = 0;
    this.#count = 0;
  }
}
