import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readJwksFile } from '../../server/oidc/keys.js';

// `scanlogin keys FILE`: docker-compose.yml's `keys` service makes the signing key file in a volume with it before
// any http container starts, and operators make the production one with it.
const CLI = path.resolve('dist/server/cli.js');
const run = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, 'keys', ...args], {
      encoding: 'utf8',
    });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
};
const dir = () => mkdtempSync(path.join(tmpdir(), 'scanlogin-keys-'));

describe('scanlogin keys FILE', () => {
  it('writes a new signing key file readable by its owner only, then keeps it', async () => {
    const file = path.join(dir(), 'volume', 'oidc-jwks.json');
    const made = await run(file);
    expect(made.code).toBe(0);
    const { keys } = await readJwksFile(file);
    expect(keys).toHaveLength(1);
    expect(made.out).toContain(`new signing key (kid ${keys[0]!.kid})`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const before = readFileSync(file, 'utf8');
    const again = await run(file);
    expect(again).toEqual({ code: 0, out: `${file}: kept (kid ${keys[0]!.kid})\n` });
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('several at once on one missing file (replicas starting together): one key, the same for all', async () => {
    const file = path.join(dir(), 'oidc-jwks.json');
    const runs = await Promise.all([run(file), run(file), run(file), run(file)]);
    const { keys } = await readJwksFile(file);
    expect(keys).toHaveLength(1);
    for (const r of runs) expect(r.out, r.out).toContain(`(kid ${keys[0]!.kid})`);
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(runs.filter((r) => r.out.includes('new signing key'))).toHaveLength(1); // the others kept its file
  });

  it('leaves a bad existing file as it is and says what is wrong (exit 1); no FILE is a usage error (exit 2)', async () => {
    const file = path.join(dir(), 'oidc-jwks.json');
    writeFileSync(file, '{"keys":[]}');
    expect(await run(file)).toEqual({ code: 1, out: `${file}: expected {"keys":[…]} with at least one key\n` });
    expect(readFileSync(file, 'utf8')).toBe('{"keys":[]}');
    expect(await run()).toEqual({ code: 2, out: 'usage: scanlogin keys FILE\n' });
  });
});
