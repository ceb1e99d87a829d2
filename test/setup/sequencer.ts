import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Within a group, the files of every project by their last duration, longest first (unknown ones first of all) —
 * where vitest's own sequencer runs one project's files after another's. The browser journeys, which mostly wait
 * on pages and timers, then run beside integration files instead of after them.
 */
export class MixedSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const root = this.ctx.config.root;
    const duration = (s: TestSpecification) =>
      this.ctx.cache.getFileTestResults(`${s.project.name}:${relative(root, s.moduleId)}`)?.duration ?? 1e12;
    const group = (s: TestSpecification) => s.project.config.sequence.groupOrder;
    return sorted
      .map((spec, i) => ({ spec, i, d: duration(spec) }))
      .sort((a, b) => group(a.spec) - group(b.spec) || b.d - a.d || a.i - b.i)
      .map(({ spec }) => spec);
  }
}
