import { defineConfig } from 'vitest/config';

// `npm run test:compose` (test/compose/run.sh): the compose files brought up for real, one stack at a time (each
// builds the image and runs half a dozen containers on the machine's two cores). Not part of `npm test`: it needs
// a container engine, and minutes.
export default defineConfig({
  test: {
    root: '.',
    include: ['test/compose/**/*.test.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 900_000,
    reporters: ['default'],
  },
});
