/**
 * Fault injection for the crash-safety tests: every byte this project writes for a checkpoint or a run file goes
 * through {@link chargeWrite}, and every step of an atomic save that a crash could interrupt is a
 * {@link crashPoint}. Both do nothing unless a test arms them, in-process with {@link injectWriteFault} or, for
 * a command run as a child process, with environment variables:
 *
 *   FACESHIFTER_WRITE_FAULT=ENOSPC:<bytes>[:<path regex>]  writes fail with ENOSPC (or EIO) once <bytes> bytes have
 *                                                          gone to files whose path matches
 *   FACESHIFTER_CRASH_AT=<point>:<n>                        the process SIGKILLs itself the n-th time it reaches
 *                                                          <point> (e.g. checkpoint-staged, checkpoint-aside)
 */
export type WriteFaultCode = 'ENOSPC' | 'EIO';

export interface WriteFault {
  code: WriteFaultCode;
  /** Bytes that still succeed before the fault; the write that crosses it is cut short, as on a full disk. */
  afterBytes: number;
  /** Only writes to paths matching this count and fail. */
  match?: RegExp;
}

let fault: (WriteFault & { written: number }) | null = null;
/** How many writes each armed fault made fail (tests report it). */
let failures = 0;

function fromEnvironment(): void {
  const spec = process.env.FACESHIFTER_WRITE_FAULT;
  if (!spec) return;
  const [code, bytes, ...rest] = spec.split(':');
  if ((code !== 'ENOSPC' && code !== 'EIO') || !Number.isFinite(Number(bytes))) {
    throw new Error(`FACESHIFTER_WRITE_FAULT=${spec}: expected ENOSPC:<bytes>[:<path regex>] or EIO:<bytes>[:<path regex>]`);
  }
  injectWriteFault({ code, afterBytes: Number(bytes), match: rest.length ? new RegExp(rest.join(':')) : undefined });
}

/** Arms (or, with null, disarms) a write fault. */
export function injectWriteFault(f: WriteFault | null): void {
  fault = f ? { ...f, written: 0 } : null;
  failures = 0;
}

/** Writes that failed because of the armed fault since it was armed. */
export function injectedWriteFailures(): number {
  return failures;
}

function errnoError(code: WriteFaultCode, file: string): NodeJS.ErrnoException {
  const text = code === 'ENOSPC' ? 'no space left on device' : 'i/o error';
  const e = new Error(`${code}: ${text}, write '${file}'`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = 'write';
  e.path = file;
  return e;
}

/**
 * Accounts `bytes` about to be written to `file`. Returns how many of them may be written; when that is fewer,
 * the caller writes them and then throws {@link writeFaultError}.
 */
export function chargeWrite(file: string, bytes: number): number {
  if (fault === null || (fault.match && !fault.match.test(file))) return bytes;
  const allowed = Math.max(0, Math.min(bytes, fault.afterBytes - fault.written));
  fault.written += allowed;
  return allowed;
}

/** The error of a write that {@link chargeWrite} cut short. */
export function writeFaultError(file: string): NodeJS.ErrnoException {
  failures++;
  return errnoError(fault?.code ?? 'ENOSPC', file);
}

const crashCounts = new Map<string, number>();

/** Named moments of an atomic save; a test can make the process die at one of them, as SIGKILL would. */
export function crashPoint(point: string): void {
  const spec = process.env.FACESHIFTER_CRASH_AT;
  if (!spec) return;
  const [name, nth] = spec.split(':');
  if (name !== point) return;
  const count = (crashCounts.get(point) ?? 0) + 1;
  crashCounts.set(point, count);
  if (count === Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}

fromEnvironment();
