import Router from '@koa/router';
import { randomInt } from 'node:crypto';
import { buildWechatXml } from '../../wechat/push/xml.js';
import type { SimDeps, SimPlatformDeps } from '../deps.js';
import { grantableSets } from '../state/merchants.js';
import { deliver, PUSH_TIMEOUT_MS, signedRequest, type Attempt, type PushTarget } from './mp-push.js';
import { readReply } from './mp-reply.js';
import { readJsonBody } from './respond.js';

/** What the check sends and expects (docs/wechat.md §12.11). */
export const RELEASE_TEXT = 'TESTCOMPONENT_MSG_TYPE_TEXT';
export const QUERY_AUTH_PREFIX = 'QUERY_AUTH_CODE:';
/** How long the check waits for the customer-service message after the empty answer (default; tests say). */
const API_WAIT_MS = 10_000;

/** One step of the check: what was sent, what came back, and whether WeChat would count it as passed. */
interface Step {
  readonly step: 'ticket' | 'text' | 'api';
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * `POST /sim/platform/release-check` (uncounted control; body `{waitMs?}`) — WeChat's full-release check (全网发布)
 * of the platform, as its release page describes it: a ticket pushed to the authorization-event URL; then WeChat's
 * test Official Account (RELEASE_TEST_ACCOUNT) authorizes the platform and one of its users sends two text
 * messages to the message URL (`$APPID$` = its appid, signed and encrypted as every platform push):
 * `TESTCOMPONENT_MSG_TYPE_TEXT`, whose passive reply must be `TESTCOMPONENT_MSG_TYPE_TEXT_callback`; and
 * `QUERY_AUTH_CODE:<code>`, whose answer must be empty, after which the platform must exchange the code
 * (api_query_auth) and send the user `<code>_from_api` with the customer-service API within `waitMs` (10 s). The
 * answer: `{passed, steps: [{step, ok, detail}]}`.
 */
export function releaseCheckRouter(deps: SimDeps): Router {
  const router = new Router();
  const p = deps.platform;
  if (!p) return router;
  router.post('/sim/platform/release-check', async (ctx) => {
    const body = (await readJsonBody(ctx)) ?? {};
    const waitMs = typeof body.waitMs === 'number' && body.waitMs > 0 ? Math.min(body.waitMs, 60_000) : API_WAIT_MS;
    const steps: Step[] = [];
    const ticket = await p.pusher.pushNow();
    steps.push({ step: 'ticket', ok: ticket.ok, detail: ticket.ok ? 'answered success' : describe(ticket) });
    const merchant = p.state.releaseTest;
    const { authCode } = p.state.authorize(merchant, grantableSets(merchant.kind));
    const openid = merchant.users.list()[0]!.openid;
    const send = (content: string) => pushText(deps, p, openid, content);

    const text = await send(RELEASE_TEXT);
    const read =
      text.status === 200
        ? readReply(text.body ?? '', { openid, ...target(p), appid: p.state.config.appid })
        : undefined;
    const expected = `${RELEASE_TEXT}_callback`;
    const got = read?.ok ? read.reply?.content : undefined;
    steps.push({
      step: 'text',
      ok: got === expected,
      detail:
        got === expected
          ? `replied ${expected}`
          : read && !read.ok
            ? read.why
            : `replied ${JSON.stringify(got ?? describe(text))}`,
    });

    const sentAt = deps.clock();
    const api = await send(`${QUERY_AUTH_PREFIX}${authCode}`);
    const empty = api.status === 200 && api.body === '';
    const message = empty
      ? await customMessage(p, merchant.appid, openid, `${authCode}_from_api`, sentAt, waitMs)
      : false;
    steps.push({
      step: 'api',
      ok: empty && message,
      detail: !empty
        ? `the answer must be empty; got ${describe(api)}`
        : message
          ? 'answered empty, then sent <code>_from_api by the customer-service API'
          : `no customer-service message "<code>_from_api" within ${waitMs} ms`,
    });
    ctx.body = { passed: steps.every((s) => s.ok), steps };
  });
  return router;
}

/** The platform's message URL for the test account, signed and encrypted with the platform's token and key. */
function target(p: SimPlatformDeps): PushTarget {
  const { token, aesKey } = p.state.config;
  return { url: p.messageUrl.replace('$APPID$', p.state.releaseTest.appid), token, aesKey };
}

/** One text message from the test account's user to the message URL, delivered once (its answer is the check). */
async function pushText(deps: SimDeps, p: SimPlatformDeps, openid: string, content: string): Promise<Attempt> {
  const merchant = p.state.releaseTest;
  const xml = buildWechatXml({
    ToUserName: merchant.ghId,
    FromUserName: openid,
    CreateTime: Math.floor(deps.clock() / 1000),
    MsgType: 'text',
    Content: content,
    MsgId: String(randomInt(1e9, 1e12)),
  });
  const request = signedRequest(target(p), openid, xml, p.state.config.appid, merchant.ghId, deps.clock());
  return deliver(request.url, request.body, PUSH_TIMEOUT_MS);
}

/** Waits up to `waitMs` for the customer-service message the check expects (polling the record). */
async function customMessage(
  p: SimPlatformDeps,
  appid: string,
  touser: string,
  content: string,
  since: number,
  waitMs: number,
): Promise<boolean> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const found = p.state.customMessages.some(
      (m) => m.appid === appid && m.touser === touser && m.content === content && m.at >= since,
    );
    if (found) return true;
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function describe(a: { status?: number; body?: string; error?: string }): string {
  return a.error ?? `HTTP ${a.status} ${JSON.stringify((a.body ?? '').slice(0, 120))}`;
}
