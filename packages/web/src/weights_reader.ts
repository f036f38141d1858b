import { parseSafetensors, parseWeights, type SafetensorsFile } from '@faceshifter/core';

/**
 * Reading a large weights file the user picked (the reference's G_latest.pth and model_ir_se50.pth are about
 * 170 MB each) without freezing the page: the File is read as a stream into one buffer, reporting the bytes read
 * and handing the event loop back between chunks; it is then parsed in a Worker (parse_worker.ts), where the
 * unpickling and zip reading happen off the page's thread. Nothing is uploaded: the bytes go from the File to the
 * page's memory only. A newer pick aborts the read (its AbortSignal) and terminates the worker.
 */

export type ReadPhase = 'reading' | 'parsing';

export interface ReadProgress {
  phase: ReadPhase;
  /** Bytes read so far, and the file's size. */
  read: number;
  total: number;
}

export interface ParseRequest {
  bytes: Uint8Array;
  label: string;
}

export type ParseReply = { ok: true; bytes: Uint8Array } | { ok: false; error: string; name: string };

/** An error a user can act on, carried over from the worker as one line. */
export class WeightsReadError extends Error {
  override name = 'WeightsReadError';
}

function aborted(): DOMException {
  return new DOMException('replaced by a newer pick', 'AbortError');
}

/** One macrotask: lets the page paint and handle input before the next chunk. */
export function yieldToPage(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** How often the progress callback fires and the page gets the thread back while reading (ms). */
const REPORT_EVERY_MS = 50;

/** Reads `file` into memory as a stream, reporting progress; throws an AbortError when `signal` aborts. */
export async function readFileBytes(file: Blob, onProgress: (p: ReadProgress) => void, signal?: AbortSignal): Promise<Uint8Array> {
  const total = file.size;
  const out = new Uint8Array(total);
  const reader = file.stream().getReader();
  let read = 0;
  let last = performance.now();
  onProgress({ phase: 'reading', read, total });
  try {
    for (;;) {
      if (signal?.aborted) throw aborted();
      const { done, value } = await reader.read();
      if (done) break;
      if (read + value.byteLength > total) throw new WeightsReadError('the file grew while it was read; pick it again');
      out.set(value, read);
      read += value.byteLength;
      if (performance.now() - last >= REPORT_EVERY_MS) {
        onProgress({ phase: 'reading', read, total });
        await yieldToPage();
        last = performance.now();
      }
    }
  } finally {
    if (signal?.aborted) void reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  if (read !== total) throw new WeightsReadError(`read ${read} of ${total} bytes; the file changed while it was read, pick it again`);
  onProgress({ phase: 'reading', read, total });
  return out;
}

let workerBroken = false;

/** Parses in a Worker; where workers cannot start, on the page's thread (after yielding, so "parsing" shows). */
export async function parseWeightsOffThread(bytes: Uint8Array, label: string, signal?: AbortSignal): Promise<SafetensorsFile> {
  if (signal?.aborted) throw aborted();
  const start = performance.now();
  if (!workerBroken && typeof Worker !== 'undefined') {
    let worker: Worker | null = null;
    try {
      worker = new Worker(new URL('./parse_worker.ts', import.meta.url), { type: 'module' });
    } catch {
      workerBroken = true;
    }
    if (worker) {
      const w = worker;
      const reply = await new Promise<ParseReply | 'no-worker'>((resolve, reject) => {
        const onAbort = (): void => {
          w.terminate();
          reject(aborted());
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        w.onmessage = (e: MessageEvent<ParseReply>) => {
          signal?.removeEventListener('abort', onAbort);
          w.terminate();
          resolve(e.data);
        };
        // The worker script failed to load or start: parse here instead.
        w.onerror = (e) => {
          e.preventDefault();
          signal?.removeEventListener('abort', onAbort);
          w.terminate();
          workerBroken = true;
          resolve('no-worker');
        };
        w.postMessage({ bytes, label } satisfies ParseRequest, [bytes.buffer]);
      });
      if (reply !== 'no-worker') {
        if (!reply.ok) throw new WeightsReadError(reply.error);
        const file = parseSafetensors(reply.bytes, label);
        console.info(`[weights] ${label}: parsed in a worker (${file.tensors.size} tensors, ${Math.round(performance.now() - start)} ms)`);
        return file;
      }
      // The buffer went to the worker that failed: it is detached here, so the caller reads the file again.
      throw new WorkerUnavailable();
    }
  }
  await yieldToPage();
  const file = parseWeights(bytes, label);
  console.info(`[weights] ${label}: parsed on the page (no worker; ${file.tensors.size} tensors, ${Math.round(performance.now() - start)} ms)`);
  await yieldToPage();
  return file;
}

/** The parse worker could not start; the bytes it was given are gone, so the file is read again. */
class WorkerUnavailable extends Error {
  override name = 'WorkerUnavailable';
}

/** Reads and parses a picked weights file: progress while reading, then 'parsing'. */
export async function readWeights(file: File, onProgress: (p: ReadProgress) => void, signal?: AbortSignal): Promise<SafetensorsFile> {
  for (let attempt = 0; ; attempt++) {
    const bytes = await readFileBytes(file, onProgress, signal);
    if (bytes.byteLength === 0) throw new WeightsReadError(`${file.name}: the file is empty`);
    onProgress({ phase: 'parsing', read: bytes.byteLength, total: bytes.byteLength });
    await yieldToPage();
    try {
      return await parseWeightsOffThread(bytes, file.name, signal);
    } catch (e) {
      if (e instanceof WorkerUnavailable && attempt === 0) continue;
      throw e;
    }
  }
}
