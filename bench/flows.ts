/** Whole logins against a cluster: a page watching through the ws balancer, a phone confirming through http. */
import { Phone } from '../server/sim/scripted-phone.js';
import { Page } from './page.js';

export interface Created {
  id: string;
  watchToken: string;
  scanUrl: string;
}

/** POST /api/logins through the balancer; retries what a page retries by itself (503, a reset connection). */
export async function createLogin(httpUrl: string, tries = 20): Promise<Created> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${httpUrl}/api/logins`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 (Windows NT 10.0) Chrome/120.0' },
        body: '{}',
      });
      if (res.status === 201) return (await res.json()) as Created;
      const text = await res.text();
      if (res.status !== 503 || attempt >= tries) throw new Error(`create login: HTTP ${res.status} ${text}`);
    } catch (err) {
      if (attempt >= tries || !(err instanceof TypeError)) throw err;
    }
    await new Promise((r) => setTimeout(r, 100 * attempt));
  }
}

/** A page watching a new login. */
export async function openPage(httpUrl: string, wsUrl: string): Promise<{ page: Page; login: Created }> {
  const login = await createLogin(httpUrl);
  const page = new Page(wsUrl, login.id, login.watchToken);
  page.start();
  return { page, login };
}

/** The login's status now (GET /api/logins/:id), or undefined when the answer is not one. */
async function statusOf(login: Created, httpUrl: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${httpUrl}/api/logins/${login.id}`, {
      headers: { authorization: `Bearer ${login.watchToken}` },
    });
    return res.ok ? ((await res.json()) as { status: string }).status : undefined;
  } catch {
    return undefined;
  }
}

/**
 * scan → allow → callback → confirm; a step answered 503 or cut off (a node going down) is repeated from the
 * scan on the same phone (its cookie says it is the one that scanned), as the user would scan again — unless
 * the confirm did land and only its answer was lost. A login whose identity already landed (the callback
 * succeeded, its answer or the confirm did not) answers the scan URL with the confirm page itself, not a
 * redirect to WeChat: the phone then confirms from there, as a person would.
 */
export async function confirm(login: Created, httpUrl: string, tries = 10): Promise<void> {
  const phone = new Phone();
  for (let attempt = 1; ; attempt++) {
    try {
      await (attempt > 1 ? phone.resume(login.scanUrl, httpUrl) : phone.login(login.scanUrl, httpUrl));
      return;
    } catch (err) {
      if ((await statusOf(login, httpUrl)) === 'confirmed') return;
      if (attempt >= tries) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}
