/**
 * Parses a weights file (a PyTorch .pth or safetensors) off the page's thread. It imports only core's
 * dependency-free readers (no tfjs), so the worker chunk stays small. The parsed file goes back as safetensors bytes
 * (one transferred buffer): the page re-reads those with parseSafetensors, which only reads the header and hands
 * out views, so the page never spends the unpickling and zip-reading time itself.
 */
import { encodeSafetensors, type SafetensorsTensor } from '../../core/src/weights/safetensors.js';
import { parseWeights } from '../../core/src/weights/weights_file.js';
import type { ParseReply, ParseRequest } from './weights_reader.js';

interface WorkerScope {
  onmessage: ((e: MessageEvent<ParseRequest>) => void) | null;
  postMessage(message: ParseReply, transfer: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

scope.onmessage = (e) => {
  const { bytes, label } = e.data;
  try {
    const file = parseWeights(bytes, label);
    const tensors: [string, SafetensorsTensor][] = [...file.tensors].map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, data: t.raw() }]);
    const chunks = encodeSafetensors(tensors, file.metadata, label);
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    scope.postMessage({ ok: true, bytes: out }, [out.buffer]);
  } catch (err) {
    scope.postMessage({ ok: false, error: err instanceof Error ? err.message.split('\n')[0]! : String(err), name: err instanceof Error ? err.name : 'Error' }, []);
  }
};
