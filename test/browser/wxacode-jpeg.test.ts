/**
 * The simulator's mini-program codes are JPEG like WeChat's (docs/wechat.md §7), drawn by our own small encoder
 * (server/sim/jpeg.ts). A real Chromium decodes one and every module of the QR code comes out as drawn: the
 * file is a JPEG any decoder reads, not merely bytes that start with FF D8.
 */
import type { Browser } from 'playwright-core';
import QRCode from 'qrcode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qrJpeg } from '../../server/sim/jpeg.js';
import { launchChromium } from '../helpers/browser.js';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

/** Decodes a JPEG in the browser; returns its size and the gray level (0–255) at each asked point. */
async function decode(jpeg: Buffer, points: [number, number][]): Promise<{ w: number; h: number; gray: number[] }> {
  const page = await browser.newPage();
  try {
    // (The callback runs in the page; test/tsconfig.json has no DOM lib, hence the structural types.)
    return await page.evaluate(
      async ({ src, points }) => {
        const g = globalThis as unknown as {
          Image: new () => { src: string; decode(): Promise<void>; naturalWidth: number; naturalHeight: number };
          document: { createElement(t: string): unknown };
        };
        const img = new g.Image();
        img.src = src;
        await img.decode();
        const canvas = g.document.createElement('canvas') as {
          width: number;
          height: number;
          getContext(t: string): {
            drawImage(i: unknown, x: number, y: number): void;
            getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
          };
        };
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
        return {
          w: img.naturalWidth,
          h: img.naturalHeight,
          gray: points.map(([x, y]) => data[(y * canvas.width + x) * 4] ?? -1),
        };
      },
      { src: `data:image/jpeg;base64,${jpeg.toString('base64')}`, points },
    );
  } finally {
    await page.close();
  }
}

describe('simulated mini-program code (JPEG)', () => {
  it('decodes in Chromium to exactly the QR code it holds, at the asked width (whole 8-px blocks)', async () => {
    const text = 'pages/login/index?scene=Ab3dEfGh1jKlMn0pQrStUvWx';
    const jpeg = qrJpeg(text, { width: 430 });
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
    const n = modules.size + 2; // one module of margin on each side
    const cell = Math.round(430 / (n * 8)) * 8;
    const points: [number, number][] = [];
    const want: number[] = [];
    for (let r = -1; r <= modules.size; r++)
      for (let c = -1; c <= modules.size; c++) {
        points.push([(c + 1) * cell + cell / 2, (r + 1) * cell + cell / 2]);
        const inside = r >= 0 && c >= 0 && r < modules.size && c < modules.size;
        want.push(inside && modules.get(r, c) ? 0 : 255);
      }
    const got = await decode(jpeg, points);
    expect([got.w, got.h]).toEqual([n * cell, n * cell]);
    expect(Math.abs(n * cell - 430)).toBeLessThanOrEqual(n * 4);
    expect(got.gray).toEqual(want);
  });
});
