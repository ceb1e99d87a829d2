import type { Logger } from '../../log.js';

/** WeChat waits 5 s for an answer (docs/wechat.md §6.3); what is left after ours goes to the other backend. */
const FORWARD_TIMEOUT_MS = 4000;
/** However late the push came to be forwarded (it waited for Redis), the other backend gets at least this. */
const MIN_FORWARD_MS = 500;

export interface ForwardAnswer {
  readonly type: string;
  readonly body: string;
}

/**
 * Shares the Official Account's one server URL with an existing backend (docs/wechat.md §6): an authentic push
 * that is not a login scan is POSTed to `url` with the same query (signature, timestamp, nonce, openid,
 * encrypt_type, msg_signature — so that backend checks it with the same token) and the same body, and its answer
 * (a passive reply or `success`) is relayed. When it fails or is slow, WeChat gets `success` — any other answer
 * shows the user "this account cannot provide service" — and the failure is logged. `timeoutMs` (at most the
 * default 4 s) is what is left of WeChat's 5 s.
 */
export async function forwardPush(
  url: string,
  querystring: string,
  body: string,
  contentType: string | undefined,
  log: Logger,
  timeoutMs = FORWARD_TIMEOUT_MS,
): Promise<ForwardAnswer> {
  // The query as it came, byte for byte: the other backend checks the same signature over the same values.
  const target = new URL(querystring ? `${url}${url.includes('?') ? '&' : '?'}${querystring}` : url);
  try {
    const res = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': contentType || 'text/xml' },
      body,
      redirect: 'error',
      signal: AbortSignal.timeout(Math.max(MIN_FORWARD_MS, Math.min(timeoutMs, FORWARD_TIMEOUT_MS))),
    });
    const text = await res.text();
    if (res.ok) return { type: res.headers.get('content-type') ?? 'text/plain', body: text };
    log.warn({ status: res.status, url: target.origin + target.pathname }, 'forwarded wechat push refused upstream');
  } catch (err) {
    log.warn({ err: (err as Error).message, url: target.origin + target.pathname }, 'wechat push forward failed');
  }
  return { type: 'text/plain', body: 'success' };
}
