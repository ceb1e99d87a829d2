/**
 * Browser journeys against the real dev stack (`node dist/server/cli.js dev`: private redis-server, http, ws, WeChat
 * simulator) in a real Chromium: the stack, page helpers and one suite setup shared by the files in test/browser.
 * Needs `npm run build` first (the page is served from dist/web, the stack from dist/server).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { devPorts, runDev } from './dev-runner.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = `${ROOT}dist/server/cli.js`;
export const CHROMIUM = '/usr/bin/chromium';

/** Chromium's command line for every test that drives a browser (one place, so every file measures the same). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** Launches Debian's Chromium (never a downloaded one) with CHROMIUM_ARGS. */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });

export interface DevStack {
  base: string;
  /** The WeChat simulator (for the phone's side of the Official Account and mini-program modes). */
  sim: string;
  /** Example Shop, the sample site signing in through OpenID Connect. */
  shop: string;
  /** What the runner and its roles printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `scanlogin dev` on free ports (Example Shop included) and resolves once the runner says it is running,
 * which it does only when every role answers. The runner runs in its own process group (helpers/dev-runner.ts).
 */
export async function startDevStack(extraEnv: Record<string, string> = {}): Promise<DevStack> {
  const { env: ports } = await devPorts();
  const [httpPort, wsPort, simPort, demoPort] = [ports.HTTP_PORT, ports.WS_PORT, ports.SIM_PORT, ports.DEMO_PORT];
  const base = `http://127.0.0.1:${httpPort}`;
  const env: NodeJS.ProcessEnv = {
    ...ports,
    LOGIN_RATE_LIMIT: '0', // one client creates many logins here; the limit has its own test
    OIDC_RATE_LIMIT: '0',
    PUBLIC_URL: base,
    WS_PUBLIC_URL: `ws://127.0.0.1:${wsPort}/ws`,
    // Always in development, with the runner's own OIDC client (the shop), whatever this shell has (an undefined
    // value leaves the variable out of the child's environment).
    NODE_ENV: undefined,
    OIDC_CLIENT_ID: undefined,
    OIDC_CLIENT_SECRET: undefined,
    OIDC_REDIRECT_URIS: undefined,
    ...extraEnv,
  };
  const dev = runDev(env);
  try {
    await dev.waitFor(/scanlogin is running/);
  } catch (err) {
    await dev.stop();
    throw err;
  }
  return {
    base,
    sim: `http://127.0.0.1:${simPort}`,
    shop: `http://127.0.0.1:${demoPort}`,
    output: () => dev.output(),
    stop: () => dev.stop(),
  };
}

export const state = (page: Page) => page.getAttribute('#login-widget', 'data-state');
/** Waits for the widget's state; `timeout` only limits a hang (a journey's steps on a busy machine take long). */
export const waitState = (page: Page, s: string, timeout = 30_000) =>
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
  await phone.waitForSelector('#sim-consent', { timeout: 30_000 });
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
 * Where the browser tests write their screenshots, and whether they take any. A screenshot is a capture and a PNG
 * encode in the browser and its renderer, so an ordinary run takes none (no test reads one back). With
 * `SCREENSHOTS=1` (`npm run screenshots`) the README's go to `docs/screenshots`, so they show what the tests see,
 * and the rest (for a person checking by eye) to a temporary folder; `SCREENSHOTS=tmp` writes them all there, so a
 * run never changes tracked files (each run draws new QR codes).
 */
export const SCREENSHOTS = process.env.SCREENSHOTS === '1' ? `${ROOT}docs/screenshots` : '/tmp/scanlogin-screenshots';
const EYE_SHOTS = '/tmp/scanlogin-screenshots';

/** Takes `name`.png of the page when SCREENSHOTS is set; `readme`: one the README shows (docs/screenshots). */
export async function screenshot(page: Page, name: string, opts: { readme?: boolean; fullPage?: boolean } = {}) {
  if (!process.env.SCREENSHOTS) return;
  const dir = opts.readme ? SCREENSHOTS : EYE_SHOTS;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: `${dir}/${name}.png`, fullPage: opts.fullPage ?? false });
}

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
    browser = await launchChromium();
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
