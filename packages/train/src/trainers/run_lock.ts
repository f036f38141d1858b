/**
 * One writer per run directory. A command that writes into a run (train, experiments run, hear-select) holds
 * `<dir>/run.lock`, a small JSON file naming its holder (pid, host, start time, command). A second writer is
 * refused at once, naming the holder; a lock whose process is gone on this host is taken over with a notice.
 *
 * The lock file appears atomically (a hard link that fails if the name exists), so of any number of processes
 * racing for a free lock exactly one wins. Clearing a stale lock is serialised by a second lock (`run.lock.break`),
 * and the stale lock is replaced by the new one in a single rename: of processes that race for a stale lock exactly
 * one takes it over (and says so), and none can remove a lock just taken.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';

export const LOCK_FILE = 'run.lock';

export interface LockHolder {
  pid: number;
  host: string;
  /** ISO 8601 time the holder took the lock. */
  started: string;
  /** The command line of the holder, for the message a refused writer shows. */
  command: string;
  /** Linux: the holder's start time in clock ticks since boot, which tells a live holder from a reused pid. */
  processStart?: number;
}

/** Another live process holds the run directory. */
export class RunLockedError extends Error {
  constructor(readonly dir: string, readonly holder: LockHolder, readonly file = path.join(dir, LOCK_FILE)) {
    super(
      `${dir} is in use by pid ${holder.pid} on ${holder.host} since ${holder.started} (${holder.command}); ` +
        `wait for it to finish or stop it, or write into another directory. If that process is gone, delete ${file}.`,
    );
    this.name = 'RunLockedError';
  }
}

export interface RunLockOptions {
  /** Shown to a refused writer; default this process's command line. */
  command?: string;
  /** Where the notice of a stale lock taken over goes; default stderr. */
  notice?: (line: string) => void;
  /** The lock file's name inside the directory; default run.lock (shards of one experiment each hold their own). */
  name?: string;
}

export interface RunLock {
  readonly file: string;
  /** Removes the lock if it is still ours. Safe to call twice. */
  release(): Promise<void>;
}

/** Start time of a process (Linux /proc), or undefined where unknown. */
function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; fields after the parenthesised command name, which may itself hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a holder is certainly gone: it ran on this host and its pid is free, or taken by a later process. */
function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  if (!Number.isInteger(holder.pid) || holder.pid <= 0) return true;
  if (!isAlive(holder.pid)) return true;
  const start = processStartTicks(holder.pid);
  return holder.processStart !== undefined && start !== undefined && start !== holder.processStart;
}

async function readHolder(file: string): Promise<LockHolder | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    if (typeof h.pid === 'number' && typeof h.host === 'string') return h;
  } catch {
    // A holder killed between creating and filling the file: treated as a holder that is gone.
  }
  return { pid: -1, host: hostname(), started: 'unknown', command: 'unreadable lock file' };
}

/**
 * Takes the lock of the existing directory `dir` or throws {@link RunLockedError}. `notice` gets the
 * one line said when a stale lock is taken over.
 */
export async function acquireRunLock(dir: string, options: RunLockOptions = {}): Promise<RunLock> {
  const file = path.join(dir, options.name ?? LOCK_FILE);
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    command: options.command ?? process.argv.slice(1).map((a) => path.basename(a) === a ? a : path.relative(process.cwd(), a) || a).join(' '),
    processStart: processStartTicks(process.pid),
  };
  const notice = options.notice ?? ((line: string) => process.stderr.write(line + '\n'));
  const text = JSON.stringify(me) + '\n';
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await publish(file, text);
      return ownLock(file, text);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new Error(`${dir}: no such directory (nothing to lock there)`);
      if (code !== 'EEXIST') throw e;
    }
    const holder = await readHolder(file);
    if (holder === null) continue; // released meanwhile
    if (!isStale(holder)) throw new RunLockedError(dir, holder, file);
    // Clearing a stale lock is itself serialised by a second lock, so that no process can remove a lock that another
    // has just taken: the holder of `.break` re-reads the lock and replaces it only if it is still the stale one.
    const breaker = `${file}.break`;
    try {
      await publish(breaker, text);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = await fs.stat(breaker).then((st) => Date.now() - st.mtimeMs, () => 0);
      // A breaker killed in its few milliseconds of clearing leaves `.break` behind; it is stale after 10 s.
      if (age > 10_000) await fs.rm(breaker, { force: true });
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
      continue;
    }
    try {
      const current = await readHolder(file);
      if (current === null) continue;
      if (!isStale(current)) throw new RunLockedError(dir, current, file);
      // Replaced in one rename, so the lock never goes missing: a racer that did not see it stale cannot slip in.
      const tmp = `${file}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
      await fs.writeFile(tmp, text, { flag: 'wx' });
      await fs.rename(tmp, file);
      notice(`[faceshifter] ${dir}: took over the lock of pid ${current.pid} on ${current.host} (since ${current.started}), which is no longer running`);
      return ownLock(file, text);
    } finally {
      await fs.rm(breaker, { force: true });
    }
  }
  throw new Error(`${dir}: could not take ${path.basename(file)} after several tries (other processes keep taking it); try again.`);
}

/**
 * Creates `file` holding `text`, or fails with EEXIST. The text goes to a private file first, hard-linked into
 * place, so the lock file is never seen empty or half-written (an O_EXCL create is visible before its write).
 */
async function publish(file: string, text: string): Promise<void> {
  const tmp = `${file}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  await fs.writeFile(tmp, text, { flag: 'wx' });
  try {
    await fs.link(tmp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // File systems without hard links: an exclusive create, whose brief empty state readHolder tolerates.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') await fs.writeFile(file, text, { flag: 'wx' });
    else throw e;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

function ownLock(file: string, text: string): RunLock {
  let released = false;
  // A process that exits without release (an uncaught error, process.exit) leaves no lock behind; SIGKILL does,
  // and the next writer takes it over as stale.
  const onExit = (): void => {
    try {
      if (readFileSync(file, 'utf8') === text) unlinkSync(file);
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);
  return {
    file,
    async release() {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      onExit();
    },
  };
}

/** Runs `fn` holding the lock of `dir`, released afterwards whatever happens. */
export async function withRunLock<T>(dir: string, fn: () => Promise<T>, options: RunLockOptions = {}): Promise<T> {
  const lock = await acquireRunLock(dir, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
