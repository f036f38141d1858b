import { existsSync, readFileSync, writeFileSync, appendFileSync, renameSync } from 'node:fs';

/**
 * metrics.csv of a run: one row per logged step, one column per scalar. On resume, rows past the checkpoint's step
 * are dropped first, so the file reads as one uninterrupted run.
 */
export class MetricsCsv {
  private columns: string[] | null = null;

  constructor(readonly path: string) {}

  /** Keeps only the rows with step <= `step` (a resumed run continues after it). */
  truncateAfter(step: number): void {
    if (!existsSync(this.path)) return;
    const lines = readFileSync(this.path, 'utf8').split('\n').filter((l) => l.length > 0);
    if (lines.length === 0) return;
    this.columns = lines[0]!.split(',');
    // A row cut short by a crash mid-append has too few cells: dropped with the rows after the checkpoint.
    const width = this.columns.length;
    const kept = [lines[0]!, ...lines.slice(1).filter((l) => l.split(',').length === width && Number(l.split(',')[0]) <= step)];
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, kept.join('\n') + '\n');
    renameSync(tmp, this.path);
  }

  append(step: number, values: Record<string, number>): void {
    if (this.columns === null) {
      this.columns = ['step', ...Object.keys(values)];
      if (!existsSync(this.path)) writeFileSync(this.path, this.columns.join(',') + '\n');
    }
    const row = this.columns.map((c) => (c === 'step' ? String(step) : c in values ? String(values[c]) : ''));
    appendFileSync(this.path, row.join(',') + '\n');
  }
}
