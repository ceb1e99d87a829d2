/**
 * The page keeps its own copy of the codes it branches on (web/src/codes.ts: the browser bundle cannot import
 * server/). These tests keep that copy equal to the server's registry (server/errors.ts) and state machine.
 */
import { describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode } from '../../server/errors.js';
import { REVOKED } from '../../server/logins/script-errors.js';
import { STATUSES as SERVER_STATUSES, TERMINAL as SERVER_TERMINAL } from '../../server/logins/model.js';
import {
  CREATE_ERROR_MESSAGES,
  ENDED_MESSAGES,
  FATAL_ERROR_CODES,
  FATAL_WS_CLOSE,
  NETWORK_ERROR,
  SERVICE_DOWN,
  STATUSES,
  TERMINAL_STATUSES,
  WS_CLOSE,
} from '../../web/src/codes.js';

/** The server error each of the page's close-code names stands for (1000 is the WebSocket standard's). */
const CLOSE_NAME_TO_ERROR: Record<Exclude<keyof typeof WS_CLOSE, 'normal'>, ErrorCode> = {
  serviceRestart: 'shutting_down',
  tryAgainLater: 'redis_unavailable',
  malformed: 'bad_request',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  unknownLogin: 'unknown_login',
  expired: 'login_expired',
};

const isServerCode = (code: string): code is ErrorCode => Object.hasOwn(ERRORS, code);

describe('web/src/codes.ts equals server/errors.ts', () => {
  it('every WS close code the page knows is the one the server sends for that error', () => {
    expect(WS_CLOSE.normal).toBe(1000);
    for (const [name, close] of Object.entries(WS_CLOSE)) {
      if (name === 'normal') continue;
      const error = CLOSE_NAME_TO_ERROR[name as keyof typeof CLOSE_NAME_TO_ERROR];
      expect(error, `WS_CLOSE.${name} names no server error`).toBeDefined();
      expect(close, `WS_CLOSE.${name}`).toBe(ERRORS[error].ws);
    }
  });

  it('every fatal error code is a server code, and its error frame and its close code agree', () => {
    for (const [code, fatal] of FATAL_ERROR_CODES) {
      expect(isServerCode(code), code).toBe(true);
      expect(isServerCode(fatal), fatal).toBe(true);
      expect(FATAL_WS_CLOSE.get(ERRORS[code as ErrorCode].ws), code).toBe(fatal);
    }
    // A fatal close alone (no error frame before it) means what the error frame for that close would mean.
    for (const [close, fatal] of FATAL_WS_CLOSE) {
      const frames = [...FATAL_ERROR_CODES].filter(([code]) => ERRORS[code as ErrorCode].ws === close);
      expect(frames.length, `close ${close}`).toBeGreaterThan(0);
      for (const [code, meaning] of frames) expect(meaning, `${code} / ${close}`).toBe(fatal);
    }
  });

  it('every server code answered with HTTP 404 means unknown_login to the page (the poll fallback)', () => {
    const notFound = Object.entries(ERRORS).filter(([, e]) => e.http === 404);
    expect(notFound.length).toBeGreaterThan(0);
    for (const [code] of notFound) expect(FATAL_ERROR_CODES.get(code), code).toBe('unknown_login');
  });

  it('every code the page has words for at create is a server code (or its own network code)', () => {
    for (const code of CREATE_ERROR_MESSAGES.keys()) {
      if (code !== NETWORK_ERROR) expect(isServerCode(code), code).toBe(true);
    }
  });

  it('every reason the server ends a login with has words, and so has each platform refusal at create', () => {
    expect(ENDED_MESSAGES.has(REVOKED), REVOKED).toBe(true);
    for (const code of ENDED_MESSAGES.keys()) expect(isServerCode(code), code).toBe(true);
    const platform: ErrorCode[] = [
      'account_revoked',
      'permission_missing',
      'unknown_account',
      'authorization_lost',
      'platform_ticket_missing',
      'platform_ticket_invalid',
    ];
    for (const code of platform) expect(CREATE_ERROR_MESSAGES.has(code), code).toBe(true);
  });

  it('the service-down code is the server code the ws role closes with 1013 (try again later)', () => {
    expect(isServerCode(SERVICE_DOWN)).toBe(true);
    expect(ERRORS[SERVICE_DOWN as ErrorCode].ws).toBe(WS_CLOSE.tryAgainLater);
    expect(ERRORS[SERVICE_DOWN as ErrorCode].http).toBe(503);
  });

  it("the page's own codes do not collide with the server's", () => {
    expect(isServerCode(NETWORK_ERROR)).toBe(false);
    expect(isServerCode('bad_response')).toBe(false);
  });

  it('login statuses equal the server state machine; the terminal ones too', () => {
    expect([...STATUSES]).toEqual([...SERVER_STATUSES]);
    expect([...TERMINAL_STATUSES].sort()).toEqual([...SERVER_TERMINAL].sort());
  });
});
