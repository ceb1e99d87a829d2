/**
 * `npm start` follows its `.scanlogin/dev-redis-<port>.json`: every role moves to the Redis it names, without a
 * restart. (The dev runner's other tests: dev-runner.test.ts, dev-runner-stop.test.ts.)
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { devPorts, runDev as run } from '../helpers/dev-runner.js';
import { lanAddress } from '../../server/dev/lan.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { createLogin } from '../helpers/stack.js';
import { startRedisServer } from '../helpers/redis.js';

describe('npm start follows its config file', () => {
  it('editing .scanlogin/dev-redis-<port>.json moves http and ws to another Redis without a restart', async () => {
    const other = await startRedisServer();
    onTestFinished(() => other.stop());
    const {
      env,
      ports: [h, w],
    } = await devPorts();
    // With a LAN address, as the start-up hint says for a real phone: the QR and the consent page on that address.
    const lan = lanAddress();
    if (lan) Object.assign(env, { HOST: '0.0.0.0', SIM_HOST: '0.0.0.0', PUBLIC_URL: `http://${lan}:${h}` });
    const dev = run(env);
    await dev.waitFor(new RegExp(`edit \\.scanlogin/dev-redis-${h}\\.json`));
    writeFileSync(
      path.join(dev.cwd, '.scanlogin', `dev-redis-${h}.json`),
      JSON.stringify({ redis: { url: other.url } }),
    );
    // Moved means on the new Redis and ready there: a link that names it may still be connecting (a busy machine
    // shows that for seconds, and a login asked for meanwhile is a 503).
    const targets = async () =>
      Promise.all(
        [`http://127.0.0.1:${h}/healthz`, `http://127.0.0.1:${w}/healthz`].map(async (u) => {
          const { redis } = (await (await fetch(u)).json()) as { redis: { target: string; status: string } };
          return `${redis.target} ${redis.status}`;
        }),
      );
    await expect.poll(targets).toEqual([`${other.url}/0 ready`, `${other.url}/0 ready`]);
    const created = await fetch(`http://127.0.0.1:${h}/api/logins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(created.status).toBe(201);
    if (lan) {
      // A phone on the network follows the QR: the app and the simulator's consent page, both at the LAN address.
      expect(dev.output()).not.toContain('A real phone cannot open localhost');
      const base = `http://${lan}:${h}`;
      const login = await createLogin(base);
      expect(login.scanUrl.startsWith(`${base}/l/`)).toBe(true);
      const phone = new Phone();
      const authorize = await phone.scan(login.scanUrl);
      expect(authorize.host).toBe(`${lan}:${env.SIM_PORT}`);
      const page = await phone.callback(await phone.consent(authorize, 'allow'));
      expect(page.status).toBe(200);
      expect((await phone.submit(page.html, 'confirm', base)).status).toBe(200);
    }
    await dev.stop();
    expect(await dev.exited).toBe(0);
  });
});
