import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { confirm, openPage } from '../../bench/flows.js';
import { until } from '../../bench/page.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { BROWSER_UA, follow, qrInteraction } from '../helpers/oidc.js';
import { freePort } from '../helpers/ports.js';
import { answers, ComposeProject, waitFor } from './engine.js';
import { redeem, report } from './flows.js';

// docker-compose.yml for real: built, brought up, and used from this machine as a newcomer would, on the ports it
// publishes: a whole scan login, then a sign-in at Example Shop. Free ports instead of 3000–3003 (HTTP_PORT…, the
// file's own settings), so a stack already running here is left alone.
const ports = { http: 0, ws: 0, sim: 0, demo: 0 };
let stack: ComposeProject;
const url = (port: number) => `http://localhost:${port}`;
let healthyAfter = 0;
let failed = false;

beforeAll(async () => {
  try {
    await bringUp();
  } catch (err) {
    failed = true;
    throw err;
  }
}, 900_000);

async function bringUp() {
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  stack = new ComposeProject(
    `${process.env.COMPOSE_TEST_PREFIX ?? 'scanlogin-composetest'}-dev`,
    ['docker-compose.yml'],
    {
      HTTP_PORT: String(ports.http),
      WS_PORT: String(ports.ws),
      SIM_PORT: String(ports.sim),
      DEMO_PORT: String(ports.demo),
    },
  );
  await stack.down(); // what an interrupted run left
  await stack.run(['build'], { label: 'build' });
  const started = performance.now();
  await stack.run(['up', '-d'], { label: 'up -d' });
  await waitFor('the dev stack answering on its published ports', async () => {
    for (const u of [
      `${url(ports.http)}/readyz`,
      `${url(ports.ws)}/readyz`,
      `${url(ports.sim)}/sim/stats`,
      `${url(ports.demo)}/`,
    ])
      if (!(await answers(u))) return undefined;
    return true;
  });
  healthyAfter = (performance.now() - started) / 1000;
}

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (!stack) return;
  if (failed) console.log(await stack.logs()); // what the containers said, before they go
  await stack.down();
  report('dev', stack, { 'up → every published port ready': healthyAfter });
}, 120_000);

describe('docker-compose.yml, for real', () => {
  it('runs the image on the Node LTS of .nvmrc, without oidc-provider warning about the runtime', async () => {
    const version = (await stack.exec('http', ['node', '-p', 'process.version'])).trim();
    expect(version).toMatch(new RegExp(`^v${readFileSync('.nvmrc', 'utf8').trim()}\\.`));
    expect(await stack.logs('http')).not.toMatch(/Unsupported runtime/);
  });

  it('publishes on the loopback by default (BIND_ADDRESS)', async () => {
    // The port answers on 127.0.0.1 (above); `port` says where compose bound it.
    const bound = await stack.run(['port', 'http', String(ports.http)]);
    expect(bound.out.trim()).toBe(`127.0.0.1:${ports.http}`);
  });

  it('a whole scan login from this machine: the page watches through ws, the phone confirms through http', async () => {
    const started = performance.now();
    const { page, login } = await openPage(url(ports.http), `ws://localhost:${ports.ws}/ws`);
    try {
      await until(() => page.received > 0, 30_000, 'the page watching');
      expect(login.scanUrl.startsWith(`${url(ports.http)}/`)).toBe(true);
      await confirm(login, url(ports.http));
      await until(() => page.status === 'confirmed', 30_000, 'the page told');
      expect(await redeem(url(ports.http), login)).toBe(200);
    } finally {
      page.stop();
    }
    stack.timings.push(['a whole scan login', (performance.now() - started) / 1000]);
  });

  it('Example Shop signs a person in through scanlogin (OpenID Connect, the QR scanned by the phone)', async () => {
    const shop = url(ports.demo);
    const browser = new Phone(BROWSER_UA);
    // The shop sends the browser to the issuer, which shows its QR page (an interaction).
    const toIssuer = await follow(browser, `${shop}/login`, shop);
    expect(toIssuer.url.origin).toBe(url(ports.http));
    const interaction = await follow(browser, toIssuer.url.toString(), url(ports.http));
    expect(interaction.url.pathname).toMatch(/\/interaction\//);
    // The phone scans and confirms; the browser is sent back to the shop, which exchanges the code server-side
    // (its localhost is the http container's) and checks the id_token against the published keys.
    const back = await qrInteraction(browser, url(ports.http), interaction.url, 'confirm');
    expect(back.origin).toBe(shop);
    expect(back.searchParams.get('code')).toBeTruthy();
    const home = await follow(browser, back.toString(), shop);
    const html = await home.last.text();
    expect(home.last.status).toBe(200);
    expect(html).toContain('Signed in as');
  });

  it('keeps the signing key in its volume: http restarted signs with the same key, and the shop still answers', async () => {
    const kids = async () =>
      ((await (await fetch(`${url(ports.http)}/oidc/jwks`)).json()) as { keys: { kid: string }[] }).keys.map(
        (k) => k.kid,
      );
    const before = await kids();
    expect(before).toHaveLength(1);
    expect(await stack.logs('keys')).toContain(`kid ${before[0]}`);
    await stack.run(['restart', 'http'], { label: 'restart http' });
    await waitFor('http ready again', () => answers(`${url(ports.http)}/readyz`));
    expect(await kids()).toEqual(before);
    // The shop lives in http's network namespace: restarted after it, as docs/deploy.md says.
    await stack.run(['restart', 'demo'], { label: 'restart demo' });
    await waitFor('the shop answering again', () => answers(`${url(ports.demo)}/`));
  });
});
