/**
 * A one-line progress bar with rate, ETA and the latest losses. On a terminal it redraws in place; in a log file
 * (CI, Slurm) it prints a plain line at most every `intervalMs`, so logs stay readable.
 */
export interface ProgressOptions {
  total: number;
  /** Where the bar goes; stderr by default so stdout stays free for results. */
  stream?: NodeJS.WriteStream;
  label?: string;
  /** Minimum time between lines when the stream is not a terminal. */
  intervalMs?: number;
  now?: () => number;
}

export class ProgressBar {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly startTime: number;
  private readonly startCount: number;
  private lastDraw = -Infinity;
  private lastLine = '';
  private readonly now: () => number;

  constructor(private readonly options: ProgressOptions & { start?: number }) {
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.now = options.now ?? ((): number => performance.now());
    this.startTime = this.now();
    this.startCount = options.start ?? 0;
  }

  /** Reports that `done` of `total` items are finished; `info` is shown after the bar (e.g. losses). */
  update(done: number, info: Record<string, number | string> = {}): void {
    const now = this.now();
    const final = done >= this.options.total;
    if (!final && now - this.lastDraw < (this.tty ? 100 : this.options.intervalMs ?? 10_000)) return;
    this.lastDraw = now;
    this.lastLine = this.render(done, now, info);
    if (this.tty) this.stream.write(`\r${this.lastLine}\x1b[K${final ? '\n' : ''}`);
    else this.stream.write(this.lastLine + '\n');
  }

  /** Ends the bar's line on a terminal, e.g. before other output. */
  done(): void {
    if (this.tty && this.lastLine) this.stream.write('\n');
    this.lastLine = '';
  }

  render(done: number, now: number, info: Record<string, number | string>): string {
    const { total, label } = this.options;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const elapsed = (now - this.startTime) / 1000;
    const rate = (done - this.startCount) / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (total - done) / rate : Infinity;
    const extras = Object.entries(info)
      .map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : v}`)
      .join('  ');
    const head = `${label ? label + ' ' : ''}${bar} ${done}/${total} ${(fraction * 100).toFixed(0).padStart(3)}%`;
    return `${head} | ${formatDuration(elapsed)} < ${formatDuration(eta)} | ${rate >= 1 ? rate.toFixed(2) + ' it/s' : (1 / Math.max(rate, 1e-9)).toFixed(2) + ' s/it'}${extras ? ' | ' + extras : ''}`;
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toFixed(4);
}
