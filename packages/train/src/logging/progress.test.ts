import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatDuration, ProgressBar } from './progress.js';

function capture(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const stream = new Writable({ write: (c, _e, cb) => ((out += String(c)), cb()) }) as unknown as NodeJS.WriteStream;
  (stream as { isTTY?: boolean }).isTTY = isTTY;
  return { stream, text: () => out };
}

describe('ProgressBar', () => {
  it('shows count, percent, elapsed, ETA, rate and the losses', () => {
    let t = 0;
    const { stream, text } = capture(false);
    const bar = new ProgressBar({ total: 100, stream, now: () => t, intervalMs: 0, label: 'aei' });
    t = 10_000; // 25 steps in 10 s → 2.5 it/s, 75 left → 30 s
    bar.update(25, { id: 0.5, rec: 1e-5 });
    expect(text()).toMatch(/^aei █{6}░{18} 25\/100  25% \| 00:10 < 00:30 \| 2\.50 it\/s \| id 0\.5000  rec 1\.00e-5\n$/);
  });

  it('on a log file, prints at most one line per interval but always the last', () => {
    let t = 0;
    const { stream, text } = capture(false);
    const bar = new ProgressBar({ total: 3, stream, now: () => t, intervalMs: 1000 });
    bar.update(1);
    t = 10;
    bar.update(2);
    t = 20;
    bar.update(3);
    expect(text().trim().split('\n')).toHaveLength(2);
  });

  it('on a terminal, redraws one line in place', () => {
    let t = 0;
    const { stream, text } = capture(true);
    const bar = new ProgressBar({ total: 2, stream, now: () => t });
    bar.update(1);
    t = 1000;
    bar.update(2);
    expect(text().startsWith('\r')).toBe(true);
    expect(text().split('\n')).toHaveLength(2);
  });

  it('formats durations', () => {
    expect([formatDuration(59), formatDuration(61), formatDuration(3725), formatDuration(Infinity)]).toEqual(['00:59', '01:01', '1:02:05', '--:--']);
  });
});
