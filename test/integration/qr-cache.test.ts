import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClient } from '../helpers/redis.js';
import { createLogin, startStack, type TestStack, untilExpired } from '../helpers/stack.js';

// Drawing a QR code costs tens of ms of CPU and the image URLs are public: each image is drawn once per login
// and kept in Redis until the login's deadline, shared by every http server.
let s: TestStack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(() => s?.stop());

describe('QR images', () => {
  it('are drawn once per login and format, then served from Redis until the login expires', async () => {
    const login = await createLogin(s.httpUrl);
    const raw = rawClient(s.redis.url);
    try {
      for (const format of ['svg', 'png'] as const) {
        const url = `${s.httpUrl}/api/logins/${login.id}/qr.${format}`;
        const first = Buffer.from(await (await fetch(url)).arrayBuffer());
        const key = `${s.config.redis.keyPrefix}login-qr:{${login.id}}:${format}`;
        expect(await raw.getBuffer(key)).toEqual(first);
        // Kept until the login's deadline: when the key expires (Redis' clock, the same as the app's), not how
        // long it has left (a reading that ages while a busy machine gets round to comparing it).
        const expiresAt = Number(await raw.call('PEXPIRETIME', key));
        expect(expiresAt).toBeGreaterThan(0);
        expect(expiresAt).toBeLessThanOrEqual(login.expiresAt + 1000);
        // What is stored is what is served: a second request draws nothing.
        await raw.set(key, `kept-${format}`, 'KEEPTTL');
        expect(await (await fetch(url)).text()).toBe(`kept-${format}`);
      }
    } finally {
      raw.disconnect();
    }
  });

  it('a login past its deadline has no image to draw: 410 login_expired', async () => {
    const short = await startStack({ LOGIN_TTL: '1' });
    try {
      const login = await createLogin(short.httpUrl);
      await untilExpired(short.httpUrl, login);
      const res = await fetch(`${short.httpUrl}${login.qr.svg}`);
      expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([410, 'login_expired']);
    } finally {
      await short.stop();
    }
  });
});
