import { defineProject } from 'vitest/config';

/** Shared vitest project settings: resolve workspace packages to their TypeScript sources. */
export function heraldProject(name: string, extra: { testTimeout?: number } = {}) {
  return defineProject({
    resolve: { conditions: ['@herald/source', 'module', 'node', 'development|production'] },
    ssr: { resolve: { conditions: ['@herald/source', 'module', 'node', 'development|production'] } },
    test: {
      name,
      include: ['test/**/*.test.ts', 'src/**/*.test.ts', '*.test.ts', 'e2e/**/*.test.ts'],
      testTimeout: extra.testTimeout ?? 30_000,
      hookTimeout: 60_000,
    },
  });
}
