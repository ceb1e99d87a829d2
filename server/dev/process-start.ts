import { readFileSync } from 'node:fs';

/**
 * When a process started, as a token that tells two processes with the same pid apart: this boot's id and the
 * start time in clock ticks since boot (Linux `/proc/<pid>/stat`, field 22). A lock naming only a pid is fooled
 * once the pid is reused — after a reboot, pids are handed out again from the bottom, so the dead runner's pid is
 * soon some other live program's. Undefined where there is no /proc (macOS): there the pid alone has to do.
 */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or ')': count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${boot}:${fields[19]}`;
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid runs at all (EPERM: it exists but belongs to someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
