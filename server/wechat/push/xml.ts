import { XMLParser } from 'fast-xml-parser';

/**
 * WeChat's push messages are one flat `<xml>` element whose children carry the values, mostly in CDATA
 * (docs/wechat.md §6.2). Values are kept as strings: `CreateTime` is compared as text for deduplication, and
 * an openid or scene must never be turned into a number.
 */
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: false,
  ignoreDeclaration: true,
});

/** The children of the root `<xml>` element as strings; null when the body is not such a document. */
export function parseWechatXml(text: string): Record<string, string> | null {
  let doc: unknown;
  try {
    doc = parser.parse(text, true);
  } catch {
    return null;
  }
  const root = (doc as { xml?: unknown } | null)?.xml;
  if (!root || typeof root !== 'object' || Array.isArray(root)) return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(root as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}

/**
 * Builds a flat `<xml>` document the way WeChat sends it: strings in CDATA, `CreateTime` bare. A value
 * containing `]]>` is split across two CDATA sections so it cannot end the section early.
 */
export function buildWechatXml(fields: Record<string, string | number>): string {
  const body = Object.entries(fields)
    .map(([k, v]) =>
      typeof v === 'number'
        ? `<${k}>${v}</${k}>`
        : `<${k}><![CDATA[${v.replaceAll(']]>', ']]]]><![CDATA[>')}]]></${k}>`,
    )
    .join('');
  return `<xml>${body}</xml>`;
}
