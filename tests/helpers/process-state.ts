import { readFileSync } from 'node:fs';

/**
 * The state letter of a process (`R`, `S`, `T` for stopped by SIGSTOP, …), or null when it is gone. From
 * /proc/<pid>/stat, "pid (comm) S ...": the letter follows the closing parenthesis of the command name.
 */
export function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}
