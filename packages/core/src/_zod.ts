import type { z } from 'zod';

/** Render zod issues as `\n  - <prefix>.<path>: <message>` lines. */
export function formatZodIssues(error: z.ZodError, prefix: string): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))]
        .join('.')
        .replace(/\.\[/g, '[');
      return `\n  - ${path}: ${issue.message}`;
    })
    .join('');
}

export function issuesOf(error: z.ZodError, prefix: string): { path: string; message: string }[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))].join('.').replace(/\.\[/g, '['),
    message: issue.message,
  }));
}
