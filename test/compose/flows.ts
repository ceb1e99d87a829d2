import { appendFileSync } from 'node:fs';
import type { Created } from '../../bench/flows.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import type { ComposeProject } from './engine.js';

/** The page's last step: the confirmed login's ticket redeemed (GET the status for it, POST it); the HTTP status. */
export async function redeem(httpUrl: string, login: Created): Promise<number> {
  const auth = { authorization: `Bearer ${login.watchToken}` };
  const status = (await (await fetch(`${httpUrl}/api/logins/${login.id}`, { headers: auth })).json()) as {
    status: string;
    ticket?: string;
  };
  if (status.status !== 'confirmed' || !status.ticket) throw new Error(`not confirmed: ${JSON.stringify(status)}`);
  const res = await fetch(`${httpUrl}/api/logins/${login.id}/redeem`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ ticket: status.ticket }),
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * The public origin `publicUrl` served at `servedAt` instead (production takes no port in PUBLIC_URL, and the test
 * cannot have port 80): every URL the stack hands out on that origin is followed at `servedAt`, as a port
 * forward would.
 */
export function rebase(u: string | URL, publicUrl: string, servedAt: string): URL {
  const url = new URL(u);
  if (url.origin !== new URL(publicUrl).origin) return url;
  const to = new URL(servedAt);
  url.protocol = to.protocol;
  url.host = to.host;
  return url;
}

/** The phone's whole login (scan → consent at the simulator → callback → confirm) with every app URL rebased. */
export async function phoneLogin(scanUrl: string, publicUrl: string, servedAt: string): Promise<void> {
  const phone = new Phone();
  const authorize = await phone.scan(rebase(scanUrl, publicUrl, servedAt).toString());
  const callback = await phone.consent(authorize, 'allow');
  const page = await phone.callback(rebase(callback, publicUrl, servedAt));
  if (page.status !== 200) throw new Error(`callback: HTTP ${page.status}: ${page.html.slice(0, 300)}`);
  const done = await phone.submit(page.html, 'confirm', servedAt);
  if (done.status !== 200) throw new Error(`confirm: HTTP ${done.status}`);
}

/**
 * Prints what the run measured (and appends it to COMPOSE_TEST_REPORT when set): each compose call's duration and
 * the figures the test adds.
 */
export function report(label: string, stack: ComposeProject, extra: Record<string, number> = {}): void {
  const lines = [...stack.timings, ...Object.entries(extra)].map(([k, s]) => `  ${k}: ${s.toFixed(1)} s`);
  const text = `compose test, ${label} stack (${stack.name}):\n${lines.join('\n')}\n`;
  console.log(text);
  if (process.env.COMPOSE_TEST_REPORT) appendFileSync(process.env.COMPOSE_TEST_REPORT, text);
}
