import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone } from '../../server/sim/scripted-phone.js';
import { rawClient } from '../helpers/redis.js';
import { createLogin, startStack, type TestStack } from '../helpers/stack.js';
import { keys } from '../../server/redis/keys.js';
import { hashSecret } from '../../server/util/crypto.js';
import { newSecret } from '../../server/logins/ids.js';

async function statusOf(s: TestStack, id: string, watchToken: string): Promise<string> {
  const res = await fetch(`${s.httpUrl}/api/logins/${id}`, { headers: { authorization: `Bearer ${watchToken}` } });
  return ((await res.json()) as { status: string }).status;
}

describe('the phone cookie', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.stop());

  it('a phone token planted in the victim’s WeChat browser stops working at the OAuth callback', async () => {
    const login = await createLogin(stack.httpUrl);
    // The attacker opens the scan URL himself and plants his phone cookie in the victim's browser.
    const attacker = new Phone();
    await attacker.scan(login.scanUrl);
    const victim = new Phone();
    victim.cookies.set('sl_phone', attacker.cookies.get('sl_phone')!);
    // The victim goes through WeChat's consent with the planted cookie: the confirm page names the victim.
    const confirmPage = await victim.callback(await victim.consent(await victim.scan(login.scanUrl), 'allow'));
    expect(confirmPage.status).toBe(200);
    expect(victim.cookies.get('sl_phone')).not.toBe(attacker.cookies.get('sl_phone')); // rotated

    // The attacker's copy no longer opens the confirm page, so he cannot confirm as the victim.
    const stolen = await attacker.get(login.scanUrl);
    expect(stolen.status).toBe(403);
    expect(await stolen.text()).toContain('error-phone_mismatch');
    expect(await statusOf(stack, login.id, login.watchToken)).toBe('scanned');

    // The victim's own page still works (here: the victim refuses the browser it names).
    expect((await victim.submit(confirmPage.html, 'cancel', stack.httpUrl)).status).toBe(200);
    expect(await statusOf(stack, login.id, login.watchToken)).toBe('cancelled');
  });

  it("an identify answered 5xx after it ran: the phone's next token, if the login knows it, continues; no other", async () => {
    const login = await createLogin(stack.httpUrl);
    const phone = new Phone();
    const page = await phone.callback(await phone.consent(await phone.scan(login.scanUrl), 'allow'));
    expect(page.status).toBe(200);
    // What a failover leaves: the script stored a rotated token whose answer (and cookie) was lost as a 503; that
    // answer offered it as the phone's next token beside the one the phone had.
    const rotated = newSecret();
    const redis = rawClient(stack.redis.url);
    try {
      await redis.hset(keys.login(stack.config.redis.keyPrefix, login.id), 'phoneHash', hashSecret(rotated));
    } finally {
      redis.disconnect();
    }
    const old = phone.cookies.get('sl_phone')!;

    // A next token the login does not know changes nothing: still refused (no fixation through this cookie).
    const planted = new Phone();
    planted.cookies.set('sl_phone', old);
    planted.cookies.set('sl_phone_next', newSecret());
    expect((await planted.get(login.scanUrl)).status).toBe(403);

    phone.cookies.set('sl_phone_next', rotated);
    const again = await phone.get(login.scanUrl);
    expect(again.status).toBe(200); // the confirm page: the identity is there
    expect(phone.cookies.get('sl_phone')).toBe(rotated);
    expect(phone.cookies.has('sl_phone_next')).toBe(false);
    expect((await phone.submit(await again.text(), 'confirm', stack.httpUrl)).status).toBe(200);
    expect(await statusOf(stack, login.id, login.watchToken)).toBe('confirmed');
  });

  it('with an https PUBLIC_URL the cookies are __Host- (Secure, Path=/, no Domain)', async () => {
    const tls = await startStack({ PUBLIC_URL: 'https://login.example.test' });
    try {
      const base = `http://127.0.0.1:${tls.config.httpPort}`;
      const created = await fetch(`${base}/api/logins`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      const { id } = (await created.json()) as { id: string };
      const res = await new Phone().get(`${base}/l/${id}`);
      expect(res.status).toBe(302);
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-sl_phone='));
      expect(cookie).toMatch(/; path=\/;/i);
      expect(cookie).toMatch(/; secure/i);
      expect(cookie).not.toMatch(/domain=/i);
    } finally {
      await tls.stop();
    }
  });
});
