import { installNodePlatform } from '../node_platform.js';

/**
 * Runs a command's main function, with Node's platform adapters installed (every entry point needs them), and turns any error into one line on stderr and exit code 1.
 * Without this, an uncaught error inside a wasm-backed call makes Emscripten print its whole module source.
 */
export function runCli(main: () => Promise<void>): void {
  installNodePlatform();
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      const message = e instanceof Error ? e.message : String(e);
      process.stderr.write(`error: ${message}\n`);
      if (process.env.FACESHIFTER_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
      process.exit(1);
    },
  );
}

/**
 * yargs' failure handler for every command (`.fail(usageFailure)`): a bad or missing argument becomes the same
 * one-line `error: ...` and exit code 1 as any other bad input, instead of the whole usage text.
 */
export function usageFailure(message: string | undefined | null, error: Error | undefined): never {
  if (error) throw error;
  const text = (message ?? 'invalid arguments').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  throw new Error(`${text} (see --help)`);
}
