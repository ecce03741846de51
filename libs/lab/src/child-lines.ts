import type { ChildProcess } from 'node:child_process';

/**
 * Follows a child's stdout and stderr line by line (a line split across two chunks stays
 * one line), calls `onLine` for each, and keeps the last `keep` lines for error messages.
 */
export function followLines(child: ChildProcess, keep: number, onLine: (line: string) => void): string[] {
  const tail: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.on('data', (b: Buffer) => {
      const parts = (partial + b.toString()).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        if (!line) continue;
        tail.push(line);
        if (tail.length > keep) tail.shift();
        onLine(line);
      }
    });
  }
  return tail;
}
