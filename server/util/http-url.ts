/** Longest URL kept (WeChat's avatar URLs are about 150 characters). */
const MAX_LENGTH = 2048;

/**
 * `text` as an absolute http(s) URL (normalised by the URL parser), or undefined for anything else — `javascript:`,
 * `data:`, a relative or scheme-relative URL, text that is no URL, an empty string. For URLs that come from outside
 * (WeChat's `headimgurl`) and end up in an `<img src>`, a page's link or the OpenID `picture` claim, where another
 * scheme would run script or carry content of its own.
 */
export function httpUrl(text: string | undefined): string | undefined {
  if (!text || text.length > MAX_LENGTH) return undefined;
  const url = URL.parse(text);
  return url && (url.protocol === 'https:' || url.protocol === 'http:') ? url.href : undefined;
}
