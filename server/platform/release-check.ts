import type { Logger } from '../log.js';
import type { PushAnswer } from '../wechat/push/hold.js';
import type { Platform } from './platform.js';

/*
 * WeChat's full-release check (全网发布, docs/wechat.md §12.11). Before a platform may serve any account, WeChat's test
 * accounts send two text messages to its message URL and check what comes back:
 * - `TESTCOMPONENT_MSG_TYPE_TEXT` → a passive text reply `TESTCOMPONENT_MSG_TYPE_TEXT_callback`;
 * - `QUERY_AUTH_CODE:<code>` → an empty answer at once; then the code exchanged (api_query_auth) and
 *   `<code>_from_api` sent to the user with the customer-service API and the authorizer token the exchange gave.
 * Only pushes signed and encrypted with the platform's key reach here (WeChat's); the check is answered for any
 * account, since the test accounts' ids are WeChat's to change. The test account is not stored: it signs nobody in.
 */

const TEXT = 'TESTCOMPONENT_MSG_TYPE_TEXT';
const QUERY_AUTH = /^QUERY_AUTH_CODE:([\x21-\x7e]{1,512})$/;
/** An openid's shape (the user the customer-service message goes to). */
const OPENID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** The check's API step is answered with an empty body, not `success`. */
const EMPTY: PushAnswer = { type: 'text/plain', body: '' };

/**
 * The answer to a release-check message at the message URL of `appid`, or undefined when `msg` is not one.
 * `reply(text)`: the passive text reply to the pushing user.
 */
export function answerReleaseCheck(
  platform: Platform,
  appid: string,
  msg: Readonly<Record<string, string>>,
  reply: (text: string) => PushAnswer,
  logger: Logger,
): PushAnswer | undefined {
  if (msg.MsgType !== 'text') return undefined;
  if (msg.Content === TEXT) {
    logger.info({ appid }, 'full-release check: text message answered');
    return reply(`${TEXT}_callback`);
  }
  const code = QUERY_AUTH.exec(msg.Content ?? '')?.[1];
  const openid = msg.FromUserName ?? '';
  if (!code || !OPENID_RE.test(openid)) return undefined;
  // After the answer: WeChat waits 5 s for it, and the exchange and the message may take longer.
  void platform.answerReleaseApiTest(appid, code, openid).then(
    () => logger.info({ appid }, 'full-release check: code exchanged, customer-service message sent'),
    (err: unknown) => logger.warn({ err, appid }, 'full-release check: the API step failed'),
  );
  return EMPTY;
}
