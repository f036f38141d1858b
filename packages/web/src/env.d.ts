/// <reference types="vite/client" />

// The app is type-checked without @types/node, so that a Node API in its own code is an error. @faceshifter/core's
// sources, which the check also reads, feature-detect Node (`typeof process !== 'undefined'`) before touching
// `process`; this is the part of it they use.
declare var process: {
  versions?: { node?: string };
  env: Record<string, string | undefined>;
  stderr: { write(text: string): boolean };
};
