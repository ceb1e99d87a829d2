import type { NodeView } from './collect.js';

/**
 * The plain-language problems in a set of node views: processes on different Redis targets or servers,
 * processes that are unhealthy or unreachable. Empty when everything agrees. Without `reference` (no configured
 * Redis) the nodes are only compared with each other.
 */
export function findProblems(reference: NodeView | undefined, nodes: NodeView[]): string[] {
  const problems: string[] = [];
  const name = (n: NodeView) =>
    `${n.role}${n.pid ? ` (pid ${n.pid}${n.host ? ` on ${n.host}` : ''})` : ''} [${n.source}]`;
  for (const n of nodes) {
    if (!n.ok) problems.push(`${name(n)} is not healthy: ${n.note ?? 'unknown reason'}`);
    else if (n.note) problems.push(`${name(n)}: ${n.note}`);
  }
  const known = nodes.filter((n) => n.configHash !== '?');
  // Without a configuration to compare with (only URLs given), the nodes are compared with each other.
  const targets = new Set(known.map((n) => n.configHash));
  if (!reference && targets.size > 1) {
    problems.push(
      `the processes use ${targets.size} different Redis targets: ${known.map((n) => `${name(n)} → ${n.target}`).join(', ')}. ` +
        'Logins created through one of them are invisible to the others: point them all at one CONFIG_FILE.',
    );
  }
  for (const n of known) {
    if (reference && n.configHash !== reference.configHash) {
      problems.push(
        `${name(n)} uses ${n.target} (config ${n.configHash}), but the configuration names ${reference.target} (config ${reference.configHash}). ` +
          `Logins created through one of them are invisible to the other: update its CONFIG_FILE (it reloads within a second) or its REDIS_URL and restart it.`,
      );
    }
  }
  const runIds = new Map<string, NodeView[]>();
  for (const n of known) if (n.runId) runIds.set(n.runId, [...(runIds.get(n.runId) ?? []), n]);
  if (runIds.size > 1) {
    const groups = [...runIds.entries()].map(([id, ns]) => `${id.slice(0, 8)}…: ${ns.map(name).join(', ')}`);
    problems.push(
      `the processes are connected to ${runIds.size} different Redis servers (run_id): ${groups.join(' | ')}`,
    );
  }
  return problems;
}

export function formatTable(rows: NodeView[]): string {
  const header = ['role', 'pid', 'host', 'target', 'config', 'run_id', 'ok', 'source'];
  const cells = rows.map((r) => [
    r.role,
    String(r.pid ?? ''),
    r.host ?? '',
    r.target,
    r.configHash,
    (r.runId ?? '').slice(0, 8),
    r.ok ? 'yes' : 'NO',
    r.source,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}
