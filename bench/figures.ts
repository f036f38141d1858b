/**
 * The bench's figures, each measurable on its own (in this process, or in a child process under a time budget:
 * see budget.ts). A figure returns the part of the JSON report it owns.
 */
import { benchConv, CONV_CASES, type ConvResult } from './conv.js';
import { benchIdentity, type IdentityResult } from './identity.js';
import { benchAeiForward256, type AeiForwardResult } from './models.js';
import type { Clock } from './timing.js';
import { benchAei256TrainStep, benchAeiTinyTrainStep } from './train.js';
import { benchVideoSwap, type VideoSwapResult } from './video.js';

export interface FigureOptions {
  runs: number;
  clock: Clock;
}

export interface FigureValues {
  conv?: ConvResult[];
  aeiForward256Ms?: number;
  aeiForward256?: Omit<AeiForwardResult, 'ms'>;
  identity?: IdentityResult[];
  aeiTinyTrainStepMs?: number;
  aei256TrainStepMs?: number;
  videoSwapFps?: VideoSwapResult[];
}

export const FIGURE_NAMES = ['conv', 'aeiForward256Ms', 'identity', 'aeiTinyTrainStepMs', 'aei256TrainStepMs', 'videoSwapFps'] as const;
export type FigureName = (typeof FIGURE_NAMES)[number];

type Progress = (figure: string, value: unknown) => void;

export const FIGURES: Record<FigureName, (o: FigureOptions, progress: Progress) => Promise<FigureValues>> = {
  conv: async (o, progress) => {
    const conv: ConvResult[] = [];
    for (const c of CONV_CASES) {
      const results = await benchConv(c, { runs: o.runs, clock: o.clock });
      results.forEach((r) => progress(`${r.name} ${r.pass}`, r.ms));
      conv.push(...results);
    }
    return { conv };
  },
  aeiForward256Ms: async (o, progress) => {
    const { ms, ...halves } = await benchAeiForward256({ warmup: o.runs > 1 ? 2 : 1, runs: Math.min(3, o.runs), clock: o.clock });
    progress('aeiForward256Ms', ms);
    return { aeiForward256Ms: ms, aeiForward256: halves };
  },
  identity: async (o, progress) => {
    const identity = await benchIdentity(4, { clock: o.clock, ...(o.runs < 3 ? { runs: o.runs } : {}) });
    progress('identity', identity);
    return { identity };
  },
  aeiTinyTrainStepMs: async (o, progress) => {
    const ms = await benchAeiTinyTrainStep({ warmup: o.runs > 1 ? 2 : 1, runs: o.runs, clock: o.clock });
    progress('aeiTinyTrainStepMs', ms);
    return { aeiTinyTrainStepMs: ms };
  },
  aei256TrainStepMs: async (o, progress) => {
    const ms = await benchAei256TrainStep({ warmup: 1, runs: Math.min(3, o.runs), clock: o.clock });
    progress('aei256TrainStepMs', ms);
    return { aei256TrainStepMs: ms };
  },
  videoSwapFps: async (o, progress) => {
    const videoSwapFps = await benchVideoSwap({ frames: o.runs < 3 ? 6 : 20 });
    progress('videoSwapFps', videoSwapFps);
    return { videoSwapFps };
  },
};
