/**
 * Another site making its visitors' browsers create logins: a page on a second origin (another host name and port
 * on loopback, so another site too) sends every request a browser lets it send without a CORS preflight to
 * `POST /api/logins`, in Debian's Chromium, against real servers (http, ws, simulator, redis-server). None may
 * create a login or spend the visitor's per-address creation budget; the one that needs a preflight never gets
 * its POST sent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import { rawClient } from '../helpers/redis.js';
import { startStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let browser: Browser;
let evil: http.Server;
let evilUrl: string;

/** The attacker's page: each case is a function of the target URL, run by the test. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>Free coupons</title>
<iframe name="sink" hidden></iframe>
<script>
window.attacks = {
  textPlain: (u) => fetch(u, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' },
    body: '{"mode":"oauth"}' }).then(() => 'sent'),
  noBody: (u) => fetch(u, { method: 'POST', mode: 'no-cors' }).then(() => 'sent'),
  // no-cors drops a type outside the safelist: the body goes as text/plain after all.
  jsonNoCors: (u) => fetch(u, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'application/json' },
    body: '{"mode":"mp-qrcode"}' }).then(() => 'sent'),
  // The classic JSON CSRF: a form whose text/plain body reads as JSON ({"mode":"oauth","x":"="}).
  form: (u) => {
    const f = document.createElement('form');
    f.method = 'POST'; f.action = u; f.enctype = 'text/plain'; f.target = 'sink';
    const i = document.createElement('input');
    i.name = '{"mode":"oauth","x":"'; i.value = '"}';
    f.appendChild(i); document.body.appendChild(f); f.submit();
    return 'sent';
  },
  // application/json for real needs a preflight, which no origin passes: the POST is never sent.
  cors: (u) => fetch(u, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    .then((r) => 'answered ' + r.status, (e) => 'refused ' + e.name),
};
</script>`;

beforeAll(async () => {
  // The per-address creation budget on (test stacks turn it off), so spending it shows.
  stack = await startStack({ LOGIN_RATE_LIMIT: '60' });
  evil = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  // localhost, not 127.0.0.1: another host name as well as another port, so another site, not only another origin.
  evilUrl = `http://localhost:${(evil.address() as AddressInfo).port}/`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => evil?.close(r));
  await stack?.stop();
});

/** Logins in Redis, and entries in the loopback client's creation budget. */
async function footprint(): Promise<{ logins: number; createBudget: number }> {
  const redis = rawClient(stack.redis.url);
  try {
    const prefix = stack.config.redis.keyPrefix;
    return {
      logins: (await redis.keys(`${prefix}login:*`)).length,
      createBudget: await redis.zcard(`${prefix}rate:create:127.0.0.1`),
    };
  } finally {
    redis.disconnect();
  }
}

describe('another site cannot make its visitors create logins', () => {
  it('every request a page on another origin can send without a preflight is refused: no login, no budget spent', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const target = `${stack.httpUrl}/api/logins`;
    // What reached the server, as the browser saw it (the page itself cannot read a no-cors answer).
    const posts: { status: number; type: string }[] = [];
    page.on('response', (response) => {
      const request = response.request();
      if (request.url() !== target) return;
      if (request.method() === 'POST')
        posts.push({ status: response.status(), type: request.headers()['content-type'] ?? '' });
    });
    await page.goto(evilUrl);
    expect(new URL(page.url()).origin).not.toBe(new URL(stack.httpUrl).origin);
    const before = await footprint();

    const simple = ['textPlain', 'noBody', 'jsonNoCors', 'form'];
    for (const name of simple) {
      expect(await page.evaluate(`attacks.${name}(${JSON.stringify(target)})`)).toBe('sent');
    }
    // Each was sent and answered (a form's frame refuses to show the answer, but the request went).
    await expect.poll(() => posts.length).toBe(simple.length);
    expect(posts.map((p) => p.status)).toEqual(simple.map(() => 415));
    expect(posts.map((p) => p.type).sort()).toEqual(
      ['', 'text/plain', 'text/plain', 'text/plain;charset=UTF-8'].sort(),
    );

    // A real JSON request must ask first (a preflight, which the browser does not show the page); no origin is
    // allowed, so the page gets a network error and its POST never leaves the browser.
    expect(await page.evaluate(`attacks.cors(${JSON.stringify(target)})`)).toBe('refused TypeError');
    expect(posts.length).toBe(simple.length);

    expect(await footprint()).toEqual(before);
    await context.close();
  });
});
