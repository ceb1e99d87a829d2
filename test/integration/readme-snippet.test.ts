import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone } from '../../server/sim/scripted-phone.js';
import { type DevProcess, ROOT, startDev, stopAllDev } from '../helpers/dev-process.js';
import { freePort } from '../helpers/ports.js';
import { BROWSER_UA, follow, qrInteraction } from '../helpers/oidc.js';

/**
 * The README's "Add WeChat login to your site", run as printed against a running `npm start`: its shell command
 * registers the site, its code block is the site. Only the two documented addresses are replaced by free ports:
 * scanlogin's http://localhost:3000 and the site's http://localhost:8080.
 */
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const section = /^## Add WeChat login to your site\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? '';
const blocks = [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].map((m) => ({ lang: m[1]!, code: m[2]! }));
const SCANLOGIN = 'http://localhost:3000';
const SITE = 'http://localhost:8080';

/** Replaces every `from` (which must occur) by `to`. */
function substitute(text: string, from: string, to: string): string {
  expect(text, `the README's snippet names ${from}`).toContain(from);
  return text.replaceAll(from, to);
}

let stack: DevProcess;
let sitePort: number;
let site: ChildProcess | undefined;
let siteOut = '';
const work = mkdtempSync(path.join(tmpdir(), 'scanlogin-readme-'));

beforeAll(async () => {
  // The developer's scanlogin checkout: npm start's files (clients.json among them) in a folder of its own.
  mkdirSync(path.join(work, 'checkout'));
  stack = await startDev(path.join(work, 'checkout'), {}, { publicHost: 'localhost' });
  sitePort = await freePort();
}, 120_000); // a whole stack's start on a busy machine: a budget, not a timing

afterAll(async () => {
  if (site && site.exitCode === null && site.signalCode === null) {
    const exited = once(site, 'exit');
    site.kill('SIGKILL');
    await exited;
  }
  await stopAllDev();
});

/** Writes the README's site as site.mjs (with openid-client installed beside it, as its first line says). */
function writeSite(issuer: string, siteUrl: string): string {
  const js = blocks.filter((b) => b.lang === 'js');
  expect(js, 'one js block in "Add WeChat login to your site"').toHaveLength(1);
  const dir = mkdtempSync(path.join(work, 'site-'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const file = path.join(dir, 'site.mjs');
  writeFileSync(file, substitute(substitute(js[0]!.code, SCANLOGIN, issuer), SITE, siteUrl));
  return file;
}

describe("the README's site snippet", () => {
  it(
    'registers the site with the printed command and signs a user in through the printed code',
    { timeout: 90_000 },
    async () => {
      const siteUrl = `http://localhost:${sitePort}`;
      // The shell block's `scanlogin client add …` line, run in the scanlogin folder, aimed at this stack's file.
      const command = blocks
        .filter((b) => b.lang === 'sh')
        .flatMap((b) => b.code.split('\n'))
        .find((line) => /\bscanlogin client add\b/.test(line));
      expect(command, 'a `scanlogin client add` command in the section').toBeDefined();
      const add = spawnSync('sh', ['-c', substitute(command!.replace(/\s+#.*$/, ''), SITE, siteUrl)], {
        cwd: ROOT,
        env: { ...process.env, OIDC_CLIENTS_FILE: path.join(work, 'checkout', '.scanlogin', 'clients.json') },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(add.status, `${add.stdout}${add.stderr}`).toBe(0);
      const clientId = /^\s*CLIENT_ID=(\S+)$/m.exec(add.stdout)![1]!;
      const clientSecret = /^\s*CLIENT_SECRET=(\S+)$/m.exec(add.stdout)![1]!;
      await stack.waitFor(new RegExp(`OIDC clients reloaded count=\\d+ ids=.*\\b${clientId}\\b`));

      const file = writeSite(stack.base, siteUrl);
      site = spawn(process.execPath, [file], {
        cwd: path.dirname(file),
        env: { ...process.env, CLIENT_ID: clientId, CLIENT_SECRET: clientSecret },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      site.stdout!.on('data', (b: Buffer) => (siteOut += b.toString()));
      site.stderr!.on('data', (b: Buffer) => (siteOut += b.toString()));
      // Up once its home page answers (it discovers scanlogin first: that is where http used to be refused).
      await expect
        .poll(
          async () => {
            if (site!.exitCode !== null) return `exited: ${siteOut}`;
            return fetch(`${siteUrl}/`).then(
              (r) => r.status,
              () => 'not yet',
            );
          },
          { timeout: 20_000, interval: 100 },
        )
        .toBe(200);

      // A browser clicks "Sign in with WeChat": to scanlogin's QR page, the phone scans and confirms, and back.
      const browser = new Phone(BROWSER_UA);
      const home = await browser.get(`${siteUrl}/`);
      expect(await home.text()).toContain('href="/login"');
      const login = await browser.get(`${siteUrl}/login`);
      expect(login.status).toBe(302);
      const toScanlogin = new URL(login.headers.get('location')!);
      expect(toScanlogin.origin).toBe(stack.base);
      const qrPage = await follow(browser, toScanlogin.toString(), stack.base);
      expect(qrPage.url.pathname, await qrPage.last.clone().text()).toMatch(/^\/interaction\//);
      const callback = await qrInteraction(browser, stack.base, qrPage.url, 'confirm');
      expect(callback.origin).toBe(siteUrl);
      const done = await browser.get(callback.toString());
      const body = await done.text();
      expect(done.status, `${body}\n${siteOut}`).toBe(200);
      // The user's name from userinfo, and `sub` from the verified id_token; plain text, never the user's HTML.
      expect(body).toMatch(/^Signed in as .+ \(.+\)/);
      expect(done.headers.get('content-type')).toMatch(/^text\/plain/);

      // The callback again (its sign-in is spent): refused with a message, and the site keeps running.
      const again = await browser.get(callback.toString());
      expect(again.status).toBe(400);
      expect(site.exitCode).toBeNull();
    },
  );

  it('allows plain http only for a scanlogin on this machine: another http issuer is refused', async () => {
    // 127.0.0.2 is this machine too, but not what the snippet allows: openid-client refuses before any request.
    const file = writeSite(`http://127.0.0.2:${stack.ports.http}`, `http://localhost:${await freePort()}`);
    const r = spawnSync(process.execPath, [file], {
      cwd: path.dirname(file),
      env: { ...process.env, CLIENT_ID: 'any', CLIENT_SECRET: 'any-secret-0123456789' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/only requests to HTTPS are allowed/);
  });
});

// Keeps the extraction honest: the section exists and has code to run.
it('the README has the section and its code blocks', () => {
  expect(section.length).toBeGreaterThan(0);
  expect(blocks.length).toBeGreaterThan(0);
});
