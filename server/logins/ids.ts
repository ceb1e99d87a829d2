import { customAlphabet } from 'nanoid';

/**
 * Alphanumeric only: WeChat's OAuth `state` allows [a-zA-Z0-9] and scene fields refuse `_`/`-` in places,
 * so ids and tokens never contain nanoid's default `_` and `-`.
 */
export const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 24 alphanumerics ≈ 143 bits; also fits a mini-program scene (≤ 32 chars). */
export const LOGIN_ID_LENGTH = 24;

export const newLoginId = customAlphabet(ALPHANUMERIC, LOGIN_ID_LENGTH);
/** Secrets (watch tokens, tickets, session ids, phone cookies): 32 alphanumerics ≈ 190 bits. */
export const newSecret = customAlphabet(ALPHANUMERIC, 32);

export const LOGIN_ID_RE = new RegExp(`^[0-9A-Za-z]{${LOGIN_ID_LENGTH}}$`);
