import { readFileSync } from 'node:fs';
import path from 'node:path';

/** A WeChat domain-verification file's name (the console hands out `MP_verify_<random>.txt`). */
const VERIFY_NAME_RE = /^MP_verify_[A-Za-z0-9]{1,64}\.txt$/;

/**
 * `WECHAT_VERIFY_FILE`: `MP_verify_<x>.txt:<content>` inline, or the path of the file the console gave (its name
 * kept). Read once here: the file is tiny and never changes for a domain.
 */
export function readVerifyFile(
  raw: string | undefined,
  problems: string[],
): { name: string; content: string } | undefined {
  if (!raw) return undefined;
  const inline = /^(MP_verify_[^:/\\]*):(.*)$/s.exec(raw);
  const name = inline?.[1] ?? path.basename(raw);
  if (!VERIFY_NAME_RE.test(name)) {
    problems.push('WECHAT_VERIFY_FILE: must be MP_verify_<letters/digits>.txt:<content> or the path of that file');
    return undefined;
  }
  if (inline) return { name, content: inline[2] ?? '' };
  try {
    return { name, content: readFileSync(raw, 'utf8') };
  } catch (err) {
    problems.push(`WECHAT_VERIFY_FILE: cannot read ${raw} (${(err as Error).message})`);
    return undefined;
  }
}
