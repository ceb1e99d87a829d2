import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { rawClient } from '../helpers/redis.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { PRODUCTION_ENV } from '../helpers/env.js';

/** Production without TRUST_PROXY. */
const PROD = { ...PRODUCTION_ENV, TRUST_PROXY: '' };

/** Creates a login with the given X-Forwarded-For (none when undefined); returns status and the stored IP. */
async function create(s: TestStack, xff?: string): Promise<{ status: number; ip?: string }> {
  const res = await fetch(`${s.httpUrl}/api/logins`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(xff !== undefined && { 'x-forwarded-for': xff }) },
  });
  if (res.status !== 201) return { status: res.status };
  const { id } = (await res.json()) as { id: string };
  const raw = rawClient(s.redis.url);
  try {
    return { status: 201, ip: (await raw.hget(`scanlogin:login:{${id}}`, 'ip')) ?? undefined };
  } finally {
    raw.disconnect();
  }
}

describe('TRUST_PROXY configuration', () => {
  it('is a list of proxy addresses and ranges; 0 or unset trusts nobody', () => {
    expect(loadConfig({ DEV_MODE: '1' }).trustProxy).toEqual([]);
    expect(loadConfig({ DEV_MODE: '1', TRUST_PROXY: '0' }).trustProxy).toEqual([]);
    expect(loadConfig({ DEV_MODE: '1', TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,fd00::/8' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '127.0.0.1/32',
      'fd00::/8',
    ]);
    expect(loadConfig({ DEV_MODE: '1', TRUST_PROXY: 'loopback' }).trustProxy).toEqual(['127.0.0.0/8', '::1/128']);
  });

  it('refuses a hop count (it trusted any peer) and anything that is not an address or range', () => {
    expect(() => loadConfig({ DEV_MODE: '1', TRUST_PROXY: '1' })).toThrow(/TRUST_PROXY: .*hop count/);
    expect(() => loadConfig({ DEV_MODE: '1', TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY: "10.0.0.0\/33"/);
    expect(() => loadConfig({ DEV_MODE: '1', TRUST_PROXY: 'nginx' })).toThrow(/TRUST_PROXY: "nginx"/);
  });

  it('production with an https PUBLIC_URL needs the proxy listed', () => {
    expect(() => loadConfig(PROD)).toThrow(/TRUST_PROXY: PUBLIC_URL is https/);
    expect(loadConfig({ ...PROD, TRUST_PROXY: '10.0.0.0/8' }).production).toBe(true);
  });
});

describe('a client that reaches the http port directly', () => {
  let s: TestStack;
  beforeAll(async () => {
    // The proxy is at 127.0.0.2; the tests' own requests come from 127.0.0.1, i.e. straight to the port.
    s = await startStack({ TRUST_PROXY: '127.0.0.2', LOGIN_RATE_LIMIT: '3' });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('cannot choose its IP through X-Forwarded-For', async () => {
    expect((await create(s, '6.6.6.6')).ip).toBe('127.0.0.1');
  });

  it('cannot escape LOGIN_RATE_LIMIT by varying X-Forwarded-For', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await create(s, `10.9.9.${i}`)).status);
    expect(statuses).toEqual([201, 201, 429, 429]); // the previous test spent one of the three
  });
});

describe('behind a trusted proxy', () => {
  let s: TestStack;
  beforeAll(async () => {
    // The tests play the proxy from 127.0.0.1; 10.0.0.0/8 stands for further internal hops.
    s = await startStack({ TRUST_PROXY: '127.0.0.1,10.0.0.0/8', LOGIN_RATE_LIMIT: '2' });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('walks X-Forwarded-For from the right past trusted hops to the client', async () => {
    expect((await create(s, '1.2.3.4')).ip).toBe('1.2.3.4');
    expect((await create(s, '9.9.9.9, 1.2.3.5, 10.1.2.3')).ip).toBe('1.2.3.5');
    expect((await create(s, '::ffff:1.2.3.6')).ip).toBe('1.2.3.6');
  });

  it('never takes text that is not an IP address: the last trusted hop stands in', async () => {
    expect((await create(s, '<b>evil</b>')).ip).toBe('127.0.0.1');
    expect((await create(s, '1.2.3.7, not-an-ip, 10.0.0.9')).ip).toBe('10.0.0.9');
  });

  it('limits IPv6 clients per /64, not per address', async () => {
    const statuses = [];
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::3']) {
      statuses.push((await create(s, ip)).status);
    }
    expect(statuses).toEqual([201, 201, 429]);
    expect((await create(s, '2001:db8:1:3::1')).status).toBe(201);
  });
});
