/** This package's version, as its package.json says (a test keeps the two equal); recorded in checkpoints and marks. */
export const CORE_VERSION = '0.1.0';
