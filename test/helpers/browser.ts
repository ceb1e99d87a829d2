/**
 * Browser journeys against the real dev stack (`node dist/server/cli.js dev`: private redis-server, http, ws, WeChat
 * simulator) in a real Chromium: the stack, page helpers and one suite setup shared by the files in test/browser.
 * Needs `npm run build` first (the page is served from dist/web, the stack from dist/server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { freePort } from './ports.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = `${ROOT}dist/server/cli.js`;
export const CHROMIUM = '/usr/bin/chromium';

export interface DevStack {
  base: string;
  /** The WeChat simulator (for the phone's side of the Official Account and mini-program modes). */
  sim: string;
  /** Example Shop, the sample site signing in through OpenID Connect. */
  shop: string;
  logs: string[];
  stop(): Promise<void>;
}

/**
 * Starts `scanlogin dev` on free ports (Example Shop included) and resolves once the runner says it is running,
 * which it does only when every role answers.
 */
export async function startDevStack(extraEnv: Record<string, string> = {}): Promise<DevStack> {
  const [httpPort, wsPort, simPort, demoPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const base = `http://127.0.0.1:${httpPort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    LOGIN_RATE_LIMIT: '0', // one client creates many logins here; the limit has its own test
    OIDC_RATE_LIMIT: '0',
    HTTP_PORT: String(httpPort),
    WS_PORT: String(wsPort),
    SIM_PORT: String(simPort),
    DEMO_PORT: String(demoPort),
    PUBLIC_URL: base,
    WS_PUBLIC_URL: `ws://127.0.0.1:${wsPort}/ws`,
    ...extraEnv,
  };
  // Always the stack's own private redis-server, in development, with the runner's own OIDC client (the shop).
  for (const key of ['REDIS_URL', 'NODE_ENV', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_REDIRECT_URIS']) {
    if (!(key in extraEnv)) delete env[key];
  }
  const logs: string[] = [];
  const child: ChildProcess = spawn(process.execPath, [CLI, 'dev'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout!.on('data', (b: Buffer) => logs.push(b.toString()));
  child.stderr!.on('data', (b: Buffer) => logs.push(b.toString()));

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + 45_000;
  let died = false;
  void exited.then(() => (died = true));
  while (Date.now() < deadline && !died) {
    if (logs.join('').includes('scanlogin is running')) {
      return { base, sim: `http://127.0.0.1:${simPort}`, shop: `http://127.0.0.1:${demoPort}`, logs, stop };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`scanlogin dev did not start${died ? ' (it exited)' : ''}:\n${logs.join('')}`);
}

export const state = (page: Page) => page.getAttribute('#login-widget', 'data-state');
export const waitState = (page: Page, s: string, timeout = 15_000) =>
  page.waitForSelector(`#login-widget[data-state="${s}"]`, { timeout });

/** Counts the POST /api/logins requests a page makes (each one is a new QR code). */
export function countLoginCreates(page: Page): () => number {
  let n = 0;
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/logins') n++;
  });
  return () => n;
}

/** Clicks #simulate-phone and returns the phone tab, sitting on the simulator's consent form. */
export async function openPhone(context: BrowserContext, page: Page): Promise<Page> {
  const [phone] = await Promise.all([context.waitForEvent('page'), page.click('#simulate-phone')]);
  await phone.waitForSelector('#sim-consent', { timeout: 15_000 });
  return phone;
}

export interface FreshPageOptions {
  locale?: string;
  width?: number;
  height?: number;
  /** e.g. WeChat's in-app browser (MicroMessenger) or a phone's Safari. */
  userAgent?: string;
  /** Lets the page write the clipboard (its "copy link" button). */
  clipboard?: boolean;
}

/** User agents of the devices the page tells apart (web/src/device.ts). */
export const UA = {
  wechat:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 ' +
    'MicroMessenger/8.0.49(0x18003137) NetType/WIFI Language/zh_CN',
  mobileSafari:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
    'Version/17.4 Mobile/15E148 Safari/604.1',
} as const;

/** Runs axe-core (WCAG 2 A/AA rules) in the page and returns the ids of the rules it violates, with their targets. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated over the DevTools protocol, not added as a <script>: the page's CSP (script-src 'self') rightly
  // refuses inline scripts, and the test must not loosen it.
  if (!(await page.evaluate('typeof axe !== "undefined"'))) {
    await page.evaluate(readFileSync(`${ROOT}node_modules/axe-core/axe.min.js`, 'utf8'));
  }
  const result = (await page.evaluate(
    'axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } })',
  )) as { violations: { id: string; nodes: { target: unknown[] }[] }[]; passes: { id: string }[] };
  // The rule this exists for must have looked at something (text on the page), or the check proves nothing.
  if (![...result.passes, ...result.violations].some((r) => r.id === 'color-contrast')) {
    throw new Error('axe-core checked no text contrast on this page');
  }
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}

/**
 * Where the browser tests write their screenshots: `docs/screenshots` (the README's) with `SCREENSHOTS=1`
 * (`npm run screenshots`), so they show what the tests see; a temporary folder otherwise, so an ordinary test run
 * never changes tracked files (each run draws new QR codes).
 */
export const SCREENSHOTS = process.env.SCREENSHOTS === '1' ? `${ROOT}docs/screenshots` : '/tmp/scanlogin-screenshots';

/** One suite's browser and dev stack: a fresh context per journey, and any uncaught page exception fails it. */
export interface BrowserSuite {
  readonly stack: DevStack;
  readonly context: BrowserContext;
  freshPage(opts?: FreshPageOptions): Promise<Page>;
}

/** Registers the suite's hooks: Chromium and `scanlogin dev` (with `env`) before, everything closed after. */
export function browserSuite(env: Record<string, string> = {}): BrowserSuite {
  let browser: Browser | undefined;
  let stack: DevStack | undefined;
  let context: BrowserContext | undefined;
  const pageErrors: string[] = [];
  beforeAll(async () => {
    if (!existsSync(CLI) || !existsSync(`${ROOT}dist/web/app.js`)) {
      throw new Error('dist/ is missing: run `npm run build` before this test');
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    stack = await startDevStack(env);
  });
  afterEach(() => {
    // An uncaught exception in the page is a failure even when the flow happened to complete.
    expect(pageErrors.splice(0)).toEqual([]);
  });
  afterAll(async () => {
    await context?.close();
    await stack?.stop();
    await browser?.close();
  });
  return {
    get stack() {
      if (!stack) throw new Error('the dev stack is not started');
      return stack;
    },
    get context() {
      if (!context) throw new Error('no page yet: call freshPage()');
      return context;
    },
    async freshPage(opts = {}) {
      await context?.close();
      context = await browser!.newContext({
        locale: opts.locale ?? 'en-US',
        viewport: { width: opts.width ?? 1000, height: opts.height ?? 760 },
        ...(opts.userAgent && { userAgent: opts.userAgent, isMobile: true, hasTouch: true }),
      });
      if (opts.clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write']);
      const page = await context.newPage();
      page.on('pageerror', (err) => pageErrors.push(err.message));
      return page;
    },
  };
}

/** Resolves once the page's QR image has really loaded (not merely been given a src). */
export async function qrLoaded(page: Page): Promise<void> {
  // (Element callbacks take structural types: test/tsconfig.json has no DOM lib.)
  await expect
    .poll(() =>
      page
        .locator('#qr')
        .evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth > 0),
    )
    .toBe(true);
}
