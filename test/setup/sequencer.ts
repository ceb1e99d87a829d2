import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Each file's wall time on a quiet run (scripts/test-durations.mjs writes it from a JSON report), for a fresh clone:
 * CI's `npm ci` leaves vitest no results cache, and ordering by file size instead ran long files last (a run of
 * 160 s whose files add up to 112 s a worker).
 */
const recorded: Record<string, number> = JSON.parse(readFileSync(new URL('./durations.json', import.meta.url), 'utf8'));

/**
 * Within a group, the files of every project by their last duration (this machine's cache, else the recorded one),
 * longest first (unknown ones first of all) —
 * where vitest's own sequencer runs one project's files after another's. The browser journeys, which mostly wait
 * on pages and timers, then run beside integration files instead of after them.
 */
export class MixedSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const root = this.ctx.config.root;
    const duration = (s: TestSpecification) => {
      const key = `${s.project.name}:${relative(root, s.moduleId)}`;
      return this.ctx.cache.getFileTestResults(key)?.duration ?? recorded[key] ?? 1e12;
    };
    const group = (s: TestSpecification) => s.project.config.sequence.groupOrder;
    return sorted
      .map((spec, i) => ({ spec, i, d: duration(spec) }))
      .sort((a, b) => group(a.spec) - group(b.spec) || b.d - a.d || a.i - b.i)
      .map(({ spec }) => spec);
  }
}
