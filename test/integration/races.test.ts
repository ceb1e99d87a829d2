/**
 * Races on one login through the real http role and a real redis-server: every contender is a real request
 * (or, for expiry, the store call every node's timer makes), fired together; whatever the interleaving,
 * exactly one wins. Each race makes 1,000 attempts: many logins at once, several contenders on each.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppError } from '../../server/errors.js';
import { newLoginId, newSecret } from '../../server/logins/ids.js';
import { LoginStore } from '../../server/logins/store.js';
import { linkToken } from '../../server/modes/mp-qrcode/confirm-link.js';
import type { RedisLink } from '../../server/redis/link.js';
import { hashSecret } from '../../server/util/crypto.js';
import { eventSignature } from '../../server/wechat/push/crypto.js';
import { buildWechatXml } from '../../server/wechat/push/xml.js';
import { startLink } from '../helpers/redis.js';
import { startStack, type TestStack } from '../helpers/stack.js';

const ATTEMPTS = 1000;
/**
 * Logins raced at once (each with its contenders): bounds the sockets open together, and the work queued in this
 * process at once — on a busy machine a long queue delays reading Redis' answers past the clients' 2 s command
 * timeout, and the race then fails on "Command timed out" instead of being decided.
 */
const BATCH = 25;

let stack: TestStack;
let link: RedisLink;
let store: LoginStore;

beforeAll(async () => {
  stack = await startStack({ WECHAT_QRCODE_RATE_LIMIT: '0', WECHAT_JSCODE_RATE_LIMIT: '0' });
  link = await startLink(stack.redis.url, 'races-test', stack.config.redis.keyPrefix);
  store = new LoginStore({ link });
});

afterAll(async () => {
  await link?.stop();
  await stack?.stop();
});

/** Runs `race` on ATTEMPTS / contenders logins, BATCH at a time; returns how long it took. */
async function rounds(contenders: number, race: (round: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  const total = ATTEMPTS / contenders;
  for (let first = 0; first < total; first += BATCH) {
    await Promise.all(Array.from({ length: Math.min(BATCH, total - first) }, (_, i) => race(first + i)));
  }
  return performance.now() - started;
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${stack.httpUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const postForm = (path: string, form: Record<string, string>) =>
  fetch(`${stack.httpUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });

/** A login in `mode`, created and (with `scannedBy`) scanned through the store, as the earlier steps would. */
async function login(mode: string, opts: { scannedBy?: string; phoneSecret?: string; ticket?: string } = {}) {
  const id = newLoginId();
  const { watchToken } = await store.create({
    id,
    mode,
    scanUrl: `https://example.test/${id}`,
    ...(opts.ticket && { modeData: { ticket: opts.ticket } }),
  });
  if (opts.scannedBy) {
    await store.transition(id, 'scan', {
      user: { openid: opts.scannedBy },
      ...(opts.phoneSecret && { phoneHash: hashSecret(opts.phoneSecret) }),
    });
  }
  return { id, watchToken };
}

/** A signed plaintext `SCAN` push of login `id`'s QR by `openid` (what WeChat sends); returns the answer's text. */
function scanEvent(id: string, ticket: string, openid: string, createTime = Math.floor(Date.now() / 1000)) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = String(randomInt(1e9, 1e10));
  const token = stack.config.wechat.token ?? '';
  const xml = buildWechatXml({
    ToUserName: 'gh_account0001',
    FromUserName: openid,
    CreateTime: createTime,
    MsgType: 'event',
    Event: 'SCAN',
    EventKey: `slogin${id}`,
    Ticket: ticket,
  });
  const q = new URLSearchParams({ signature: eventSignature([token, timestamp, nonce]), timestamp, nonce, openid });
  return async () => {
    const res = await fetch(`${stack.httpUrl}/wechat/events?${q}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: xml,
    });
    expect(res.status).toBe(200);
    return res.text();
  };
}

describe('races: exactly one winner every time', () => {
  it('double redeem of one ticket', async () => {
    const ms = await rounds(5, async () => {
      const { id, watchToken } = await login('oauth', { scannedBy: 'oRedeemer' });
      const { ticket } = await store.transition(id, 'confirm');
      const answers = await Promise.all(
        Array.from({ length: 5 }, () =>
          post(`/api/logins/${id}/redeem`, { ticket }, { authorization: `Bearer ${watchToken}` }),
        ),
      );
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 409, 409, 409, 409]);
      for (const r of answers.filter((a) => a.status === 409))
        expect(await r.json()).toMatchObject({ error: 'ticket_used' });
    });
    console.info(`double redeem: ${ATTEMPTS} attempts in ${ms.toFixed(0)} ms`);
  });

  it('confirm vs cancel (the phone confirms twice, cancels, and the page cancels)', async () => {
    const ms = await rounds(4, async () => {
      const mpToken = newSecret();
      const { id, watchToken } = await login('miniprogram', { scannedBy: 'oPhone', phoneSecret: mpToken });
      const contenders = [
        ['confirmed', () => post('/api/mp/confirm', { scene: id, mpToken })],
        ['confirmed', () => post('/api/mp/confirm', { scene: id, mpToken })],
        ['cancelled', () => post('/api/mp/cancel', { scene: id, mpToken })],
        ['cancelled', () => post(`/api/logins/${id}/cancel`, {}, { authorization: `Bearer ${watchToken}` })],
      ] as const;
      const answers = await Promise.all(contenders.map(([, go]) => go()));
      const winners = contenders.filter((_, i) => answers[i]!.status === 200);
      expect(winners).toHaveLength(1);
      for (const a of answers) if (a.status !== 200) expect([403, 409]).toContain(a.status);
      const final = await store.get(id);
      expect(final?.status).toBe(winners[0]![0]);
      expect(final?.rev).toBe(3);
      expect(Boolean(final?.ticket)).toBe(final?.status === 'confirmed');
    });
    console.info(`confirm vs cancel: ${ATTEMPTS} attempts in ${ms.toFixed(0)} ms`);
  });

  it('confirm vs expiry at the deadline', async () => {
    // Logins that live 300 ms, so the deadline falls while the contenders run.
    const shortLived = new LoginStore({ link, loginTtlMs: 300 });
    const outcomes = { confirmed: 0, expired: 0 };
    const ms = await rounds(5, async () => {
      const mpToken = newSecret();
      // A scanned login; on a machine busy enough to take longer than its 300 ms between creating and scanning
      // it, the scan finds it expired: then another.
      const { id, record } = await (async () => {
        for (;;) {
          const id = newLoginId();
          const { record } = await shortLived.create({ id, mode: 'miniprogram', scanUrl: 'x' });
          try {
            await shortLived.transition(id, 'scan', { user: { openid: 'oLate' }, phoneHash: hashSecret(mpToken) });
            return { id, record };
          } catch (err) {
            if ((err as AppError).code !== 'login_expired') throw err;
          }
        }
      })();
      const at = (offset: number) =>
        new Promise<void>((r) => setTimeout(r, Math.max(0, record.expiresAt + offset - Date.now())));
      const confirm = (offset: number) =>
        at(offset).then(async () => (await post('/api/mp/confirm', { scene: id, mpToken })).status === 200);
      // Every node's timer expires a login once its deadline is due, whoever gets there first.
      const expire = async () => {
        await at(0);
        while (Date.now() < record.expiresAt) await new Promise((r) => setTimeout(r, 1));
        return (await shortLived.expireIfDue(id)) !== null;
      };
      // Where the confirms land around the deadline varies by round (request latency varies with load too), so
      // both outcomes occur.
      const lead = randomInt(0, 30);
      const wins = await Promise.all([confirm(-lead), confirm(2 - lead), confirm(4 - lead), expire(), expire()]);
      expect(wins.filter(Boolean)).toHaveLength(1);
      const final = await store.get(id);
      expect(final?.rev).toBe(3);
      const winner = wins.slice(0, 3).some(Boolean) ? 'confirmed' : 'expired';
      expect(final?.status).toBe(winner);
      outcomes[winner]++;
    });
    console.info(`confirm vs expiry: ${ATTEMPTS} attempts in ${ms.toFixed(0)} ms, won by`, outcomes);
  });

  it('two phones (five, here) scan one mp-qrcode QR: one gets the confirm link', async () => {
    const ms = await rounds(5, async () => {
      const ticket = `gQ${newSecret()}`;
      const { id } = await login('mp-qrcode', { ticket });
      const openids = Array.from({ length: 5 }, (_, i) => `oPhone${i}${newSecret().slice(0, 20)}`);
      const replies = await Promise.all(openids.map((o) => scanEvent(id, ticket, o)()));
      const asked = replies.flatMap((text, i) => (text === 'success' ? [] : [openids[i]]));
      expect(asked).toHaveLength(1);
      const final = await store.get(id);
      expect(final).toMatchObject({ status: 'scanned', rev: 2, user: { openid: asked[0] } });
    });
    console.info(`two phones on one QR: ${ATTEMPTS} attempts in ${ms.toFixed(0)} ms`);
  });

  it('two deliveries of one scan event vs the confirm from its link', async () => {
    const secret = stack.config.sessionSecret;
    const ms = await rounds(5, async () => {
      const ticket = `gQ${newSecret()}`;
      const { id } = await login('mp-qrcode', { ticket });
      const openid = `oScanner${newSecret().slice(0, 20)}`;
      const delivery = scanEvent(id, ticket, openid);
      const t = linkToken(secret, id, openid);
      const confirm = async () => (await postForm(`/l/${id}/mp/confirm`, { t })).status;
      const [a, b, ...confirms] = await Promise.all([delivery(), delivery(), confirm(), confirm(), confirm()]);
      // One scan transition (rev 2), answered with the link by every delivery that found the login scanned.
      expect(confirms.filter((s) => s === 200).length).toBeLessThanOrEqual(1);
      for (const s of confirms) expect([200, 403, 409]).toContain(s);
      if (!confirms.includes(200)) expect(await confirm()).toBe(200);
      for (const reply of [a, b]) if (reply !== 'success') expect(reply).toContain(`/l/${id}/mp?t=${t}`);
      expect([a, b].some((r) => r !== 'success')).toBe(true);
      const final = await store.get(id);
      expect(final).toMatchObject({ status: 'confirmed', rev: 3, user: { openid } });
    });
    console.info(`two deliveries vs confirm: ${ATTEMPTS} attempts in ${ms.toFixed(0)} ms`);
  });
});
