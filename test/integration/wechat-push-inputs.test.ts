import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventSignature } from '../../server/wechat/push/crypto.js';
import { buildWechatXml } from '../../server/wechat/push/xml.js';
import { rawClient } from '../helpers/redis.js';
import { createLogin, startStack, type TestStack } from '../helpers/stack.js';

// What reaches /wechat/events is signed with the account's token, but its parts still become Redis keys: each
// is checked for length and alphabet before anything is written (a signed 8 KB nonce was an 8 KB key).
let s: TestStack;
let token: string;
beforeAll(async () => {
  s = await startStack();
  token = s.config.wechat.token!;
});
afterAll(() => s?.stop());

const nowS = () => Math.floor(Date.now() / 1000);

async function keysMatching(pattern: string): Promise<string[]> {
  const raw = rawClient(s.redis.url);
  try {
    return await raw.keys(`${s.config.redis.keyPrefix}${pattern}`);
  } finally {
    raw.disconnect();
  }
}

/** A correctly signed plaintext push with the given nonce and message fields. */
function push(nonce: string, fields: Record<string, string | number>, method = 'POST') {
  const timestamp = String(nowS());
  const q = new URLSearchParams({ signature: eventSignature([token, timestamp, nonce]), timestamp, nonce });
  if (method === 'GET') q.set('echostr', 'hello');
  return fetch(`${s.httpUrl}/wechat/events?${q}`, {
    method,
    ...(method === 'POST' && { headers: { 'content-type': 'text/xml' }, body: buildWechatXml(fields) }),
  });
}

const textMessage = { ToUserName: 'gh_x', FromUserName: 'oUser', CreateTime: nowS(), MsgType: 'text', Content: 'hi' };

describe('/wechat/events inputs that end up in Redis keys', () => {
  it('a signed nonce that is too long or outside [0-9A-Za-z] → 400 bad_request, nothing written', async () => {
    for (const nonce of ['7'.repeat(8192), '1:2', '12*', `1${'a'.repeat(32)}`, '']) {
      const res = await push(nonce, textMessage);
      // (Its errors are pages, like the other WeChat-facing routes; the code is in them.)
      expect([res.status, (await res.text()).includes('bad_request')]).toEqual([400, true]);
    }
    expect(await keysMatching('wx-nonce:*')).toEqual([]);
    const handshake = await push('9'.repeat(8192), {}, 'GET');
    expect(handshake.status).toBe(400);
    // WeChat's own nonces (about ten digits) pass.
    expect(await (await push('1514711492', textMessage)).text()).toBe('success');
    expect(await keysMatching('wx-nonce:*')).toHaveLength(1);
  });

  it('a scan event whose FromUserName or CreateTime is not WeChat-shaped is answered success and changes nothing', async () => {
    const login = await createLogin(s.httpUrl, { mode: 'mp-qrcode' });
    const raw = rawClient(s.redis.url);
    const modeData = await raw.hget(`${s.config.redis.keyPrefix}login:{${login.id}}`, 'modeData');
    raw.disconnect();
    const ticket = (JSON.parse(modeData ?? '{}') as { ticket: string }).ticket;
    const scan = { ToUserName: 'gh_x', MsgType: 'event', Event: 'SCAN', EventKey: `slogin${login.id}`, Ticket: ticket };
    for (const [openid, createTime] of [
      ['o'.repeat(8192), nowS()],
      ['o:*', nowS()],
      ['oUser', `${nowS()}${'9'.repeat(100)}`],
    ] as const) {
      const res = await push(String(1e9 + Math.floor(Math.random() * 1e9)), {
        ...scan,
        FromUserName: openid,
        CreateTime: createTime,
      });
      expect(await res.text()).toBe('success');
    }
    const view = await fetch(`${s.httpUrl}/api/logins/${login.id}`, {
      headers: { authorization: `Bearer ${login.watchToken}` },
    });
    expect(((await view.json()) as { status: string }).status).toBe('pending');
    expect(await keysMatching('wx-event:*')).toEqual([]);
  });
});
