/**
 * PyTorch `.pth` / `.pt` files as written by `torch.save`, read without Python and without running anything from
 * the file (see pickle.ts): the zip format (PyTorch ≥ 1.6: `<archive>/data.pkl` + one stored entry per storage under
 * `<archive>/data/`) and the legacy format (`_use_new_zipfile_serialization=False`: magic number, protocol, system
 * info and the object as consecutive pickles, then the storages' raw bytes).
 *
 * The result is a {@link SafetensorsFile}: the same interface the safetensors reader gives, so every consumer of
 * weights (the reference import, the identity encoders, `yarn weights inspect`) takes either format. Tensors are
 * zero-copy views of the file's bytes when contiguous; views with offsets or strides (`t.t()`, slices, `expand`)
 * are gathered into row-major order on access. Storage types map to safetensors dtypes (Float → F32, Half → F16,
 * BFloat16 → BF16, Double → F64, Long → I64, Int → I32); Short, Char, Byte and Bool widen to I32.
 *
 * Checkpoints that wrap a state_dict are unwrapped: `{'state_dict': …}`, `{'model': …}` and similar, or the only
 * dict of tensors in the file, or the one `entry` names; a `module.` prefix on every key (DataParallel) is removed.
 */
import { PickleError, PyGlobal, PyTuple, UnsafePickleError, unpickle } from './pickle.js';
import { BYTES_PER_ELEMENT, toFloat32, typedView, type SafetensorsDtype, type SafetensorsEntry, type SafetensorsFile } from './safetensors.js';
import { isZip, readZip, ZipError } from './zip.js';

export class PthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PthError';
  }
}

/** A PyTorch storage type and how its elements are read. */
interface StorageType {
  name: string;
  /** Bytes per element in the file. */
  itemSize: number;
  /** The dtype of the tensors handed out. */
  dtype: SafetensorsDtype;
  /** For types widened to I32: reads element i of the file's bytes. */
  widen?: (view: DataView, byteOffset: number) => number;
}

const STORAGE_TYPES: Record<string, StorageType> = {
  FloatStorage: { name: 'FloatStorage', itemSize: 4, dtype: 'F32' },
  HalfStorage: { name: 'HalfStorage', itemSize: 2, dtype: 'F16' },
  BFloat16Storage: { name: 'BFloat16Storage', itemSize: 2, dtype: 'BF16' },
  DoubleStorage: { name: 'DoubleStorage', itemSize: 8, dtype: 'F64' },
  LongStorage: { name: 'LongStorage', itemSize: 8, dtype: 'I64' },
  IntStorage: { name: 'IntStorage', itemSize: 4, dtype: 'I32' },
  ShortStorage: { name: 'ShortStorage', itemSize: 2, dtype: 'I32', widen: (v, o) => v.getInt16(o, true) },
  CharStorage: { name: 'CharStorage', itemSize: 1, dtype: 'I32', widen: (v, o) => v.getInt8(o) },
  ByteStorage: { name: 'ByteStorage', itemSize: 1, dtype: 'I32', widen: (v, o) => v.getUint8(o) },
  BoolStorage: { name: 'BoolStorage', itemSize: 1, dtype: 'I32', widen: (v, o) => (v.getUint8(o) ? 1 : 0) },
  UntypedStorage: { name: 'UntypedStorage', itemSize: 1, dtype: 'I32', widen: (v, o) => v.getUint8(o) },
};

/** A storage a persistent id names; its bytes are attached once the container has them. */
interface Storage {
  key: string;
  type: StorageType;
  numel: number;
  bytes?: Uint8Array;
}

/** What `torch._utils._rebuild_tensor_v2` rebuilds: a strided view of a storage. */
export class TorchTensor {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

const STORAGE_MARKER = new Map<string, PyGlobal>(Object.keys(STORAGE_TYPES).map((n) => [n, new PyGlobal('torch', n)]));

function asInts(v: unknown, what: string, source: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items || !items.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) {
    throw new PthError(`${source}: ${what} is not a tuple of integers`);
  }
  return items as number[];
}

/**
 * The allow-list: exactly the globals a state_dict (and the plain data around it in a training checkpoint) needs.
 * Each is implemented here as data construction; nothing from the file is ever looked up by name beyond these.
 */
function stateDictGlobals(source: string): (module: string, name: string) => PyGlobal | undefined {
  const rebuildTensor = (args: readonly unknown[]): TorchTensor => {
    const [storage, offset, size, stride] = args;
    if (!(storage && typeof storage === 'object' && 'type' in storage && 'key' in storage)) {
      throw new PthError(`${source}: _rebuild_tensor's first argument is not a storage`);
    }
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new PthError(`${source}: a tensor's storage offset is not a non-negative integer`);
    const shape = asInts(size, 'a tensor size', source);
    const strides = asInts(stride, 'a tensor stride', source);
    if (shape.length !== strides.length) throw new PthError(`${source}: a tensor has ${shape.length} sizes but ${strides.length} strides`);
    return new TorchTensor(storage as Storage, offset, shape, strides);
  };
  const table: Record<string, (args: readonly unknown[]) => unknown> = {
    'collections.OrderedDict': (args) => {
      const m = new Map<unknown, unknown>();
      const items = args[0];
      if (Array.isArray(items)) for (const kv of items) if (kv instanceof PyTuple && kv.items.length === 2) m.set(kv.items[0], kv.items[1]);
      return m;
    },
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_tensor': rebuildTensor,
    // nn.Parameter wraps its tensor; the wrapper carries only requires_grad and hooks.
    'torch._utils._rebuild_parameter': (args) => args[0],
    'torch._utils._rebuild_parameter_with_state': (args) => args[0],
    // Protocol ≤ 2 pickles Python 3 bytes as _codecs.encode(text, 'latin1') and sets as set(list).
    '_codecs.encode': (args) => {
      const [text, encoding] = args;
      if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) throw new PthError(`${source}: _codecs.encode with an unexpected encoding`);
      return Uint8Array.from(text, (c) => c.charCodeAt(0));
    },
    'builtins.set': (args) => new Set(Array.isArray(args[0]) ? args[0] : []),
    'builtins.frozenset': (args) => new Set(Array.isArray(args[0]) ? args[0] : []),
  };
  return (module, name) => {
    const qualified = `${module}.${name}`;
    // Old files (before normalize_storage_type) may name the CUDA storage types; the bytes are the same.
    if ((module === 'torch' || module === 'torch.cuda') && STORAGE_MARKER.has(name)) return STORAGE_MARKER.get(name);
    const call = table[qualified];
    return call ? new PyGlobal(module, name, call) : undefined;
  };
}

/** Resolves the ('storage', type, key, location, numel[, view]) persistent ids of both formats. */
function storageLoader(source: string, storages: Map<string, Storage>, attach: (s: Storage) => void): (pid: unknown) => unknown {
  return (pid) => {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage') throw new PthError(`${source}: unsupported persistent id (not a PyTorch storage)`);
    const [, type, key, , numel, view] = pid.items;
    if (!(type instanceof PyGlobal) || !STORAGE_TYPES[type.name]) throw new PthError(`${source}: unknown storage type in a persistent id`);
    if (typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw new PthError(`${source}: malformed storage id`);
    if (view !== undefined && view !== null) throw new PthError(`${source}: storage views (pre-1.0 legacy files) are not supported; re-save the file with a recent torch.save`);
    let s = storages.get(key);
    if (!s) {
      s = { key, type: STORAGE_TYPES[type.name]!, numel };
      storages.set(key, s);
      attach(s);
    }
    return s;
  };
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Reads a legacy-format file: five pickles, then each storage's element count (int64) and bytes, in key order. */
function parseLegacy(bytes: Uint8Array, source: string): unknown {
  const noGlobals = (): undefined => undefined;
  const magic = unpickle(bytes, { findGlobal: noGlobals, source });
  if (!(magic.value === LEGACY_MAGIC || (typeof magic.value === 'bigint' && magic.value === LEGACY_MAGIC))) {
    throw new PthError(`${source}: not a PyTorch file (no legacy magic number)`);
  }
  const protocol = unpickle(bytes, { findGlobal: noGlobals, source, offset: magic.end });
  if (protocol.value !== 1001) throw new PthError(`${source}: legacy protocol ${String(protocol.value)} is not supported (expected 1001)`);
  const sysInfo = unpickle(bytes, { findGlobal: noGlobals, source, offset: protocol.end });
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) throw new PthError(`${source}: written on a big-endian machine; not supported`);
  const storages = new Map<string, Storage>();
  const main = unpickle(bytes, { findGlobal: stateDictGlobals(source), persistentLoad: storageLoader(source, storages, () => {}), source, offset: sysInfo.end });
  const keys = unpickle(bytes, { findGlobal: noGlobals, source, offset: main.end });
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) throw new PthError(`${source}: the storage key list is malformed`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = keys.end;
  for (const key of keys.value as string[]) {
    const s = storages.get(key);
    if (at + 8 > bytes.byteLength) throw new PthError(`${source}: truncated: storage '${key}' is missing`);
    const count = Number(view.getBigInt64(at, true));
    at += 8;
    if (!Number.isSafeInteger(count) || count < 0) throw new PthError(`${source}: storage '${key}' has a corrupt element count (${count})`);
    const itemSize = s?.type.itemSize ?? 1;
    const n = count * itemSize;
    if (at + n > bytes.byteLength) throw new PthError(`${source}: truncated: storage '${key}' needs ${n} bytes, ${bytes.byteLength - at} left`);
    if (s) {
      if (count !== s.numel) throw new PthError(`${source}: storage '${key}' holds ${count} elements, its id says ${s.numel}`);
      s.bytes = bytes.subarray(at, at + n);
    }
    at += n;
  }
  for (const s of storages.values()) if (!s.bytes) throw new PthError(`${source}: storage '${s.key}' is referenced but not stored`);
  return main.value;
}

/** Reads a zip-format file: `<archive>/data.pkl` and its storages `<archive>/data/<key>`. */
function parseZipFormat(bytes: Uint8Array, source: string): unknown {
  const entries = readZip(bytes, source);
  const pkl = [...entries.keys()].find((n) => n.endsWith('data.pkl') && n.split('/').length === 2);
  if (!pkl) throw new PthError(`${source}: a zip archive without <name>/data.pkl; not a file written by torch.save`);
  const root = pkl.slice(0, -'data.pkl'.length);
  const order = entries.get(`${root}byteorder`);
  if (order && new TextDecoder().decode(order.data()).trim() !== 'little') throw new PthError(`${source}: written with big-endian byte order; not supported`);
  const storages = new Map<string, Storage>();
  const attach = (s: Storage): void => {
    const e = entries.get(`${root}data/${s.key}`);
    if (!e) throw new PthError(`${source}: storage '${s.key}' is referenced but ${root}data/${s.key} is missing`);
    if (e.size < s.numel * s.type.itemSize) throw new PthError(`${source}: storage '${s.key}' has ${e.size} bytes, ${s.numel} × ${s.type.itemSize} needed`);
    s.bytes = e.data().subarray(0, s.numel * s.type.itemSize);
  };
  return unpickle(entries.get(pkl)!.data(), { findGlobal: stateDictGlobals(source), persistentLoad: storageLoader(source, storages, attach), source: `${source} (${pkl})` }).value;
}

/** Whether the bytes look like a torch.save file (zip, or a legacy pickle starting with PROTO). */
export function isPth(bytes: Uint8Array): boolean {
  return isZip(bytes) || (bytes.byteLength > 2 && bytes[0] === 0x80 && bytes[1]! <= 5);
}

function numElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** How much larger than its storage a gathered (non-contiguous) view may be: `expand` in a state_dict is rare. */
const MAX_VIEW_EXPANSION = 16;
/** The largest typed array JS engines allocate (2^31 − 1 bytes, conservatively). */
const MAX_TENSOR_BYTES = 2 ** 31 - 1;

/** A rebuilt tensor as a safetensors-style entry: row-major bytes of its dtype, gathered when strided. */
function tensorEntry(name: string, t: TorchTensor, source: string): SafetensorsEntry {
  const type = t.storage.type;
  const n = numElements(t.shape);
  const rowMajor = t.shape.map((_, i) => numElements(t.shape.slice(i + 1)));
  const contiguous = t.shape.every((d, i) => d <= 1 || t.stride[i] === rowMajor[i]);
  let last = t.offset;
  for (let i = 0; i < t.shape.length; i++) if (t.shape[i]! > 0) last += (t.shape[i]! - 1) * t.stride[i]!;
  if (n > 0 && (last >= t.storage.numel || t.stride.some((s) => s < 0))) {
    throw new PthError(`${source}: tensor '${name}' indexes past its storage (offset ${t.offset}, size [${t.shape}], stride [${t.stride}], storage ${t.storage.numel} elements)`);
  }
  // A broadcast view (stride 0) is gathered into a copy: refuse one that would be far larger than its storage.
  if (!contiguous && n > MAX_VIEW_EXPANSION * t.storage.numel + 1_000_000) {
    throw new PthError(`${source}: tensor '${name}' is a view of ${n} elements over a storage of ${t.storage.numel}; refusing to materialise it`);
  }
  if (n * BYTES_PER_ELEMENT[type.dtype] > MAX_TENSOR_BYTES) throw new PthError(`${source}: tensor '${name}' has ${n} elements, more than one typed array holds`);
  let cached: Uint8Array | undefined;
  const bytes = (): Uint8Array => {
    if (cached) return cached;
    const src = t.storage.bytes!;
    const item = type.itemSize;
    const outItem = BYTES_PER_ELEMENT[type.dtype];
    if (contiguous && !type.widen) {
      cached = src.subarray(t.offset * item, (t.offset + n) * item);
      return cached;
    }
    const out = new Uint8Array(n * outItem);
    const srcView = new DataView(src.buffer, src.byteOffset, src.byteLength);
    const outView = new DataView(out.buffer);
    const index = new Array<number>(t.shape.length).fill(0);
    for (let k = 0; k < n; k++) {
      let e = t.offset;
      for (let d = 0; d < index.length; d++) e += index[d]! * t.stride[d]!;
      if (type.widen) outView.setInt32(k * 4, type.widen(srcView, e * item), true);
      else out.set(src.subarray(e * item, (e + 1) * item), k * item);
      for (let d = index.length - 1; d >= 0; d--) {
        if (++index[d]! < t.shape[d]!) break;
        index[d] = 0;
      }
    }
    cached = out;
    return out;
  };
  return {
    name,
    dtype: type.dtype,
    shape: t.shape,
    dataOffsets: [0, n * BYTES_PER_ELEMENT[type.dtype]],
    bytes,
    raw: () => typedView(bytes(), type.dtype),
    toFloat32: () => toFloat32(type.dtype, typedView(bytes(), type.dtype)),
  };
}

function isStateDict(v: unknown): v is Map<unknown, unknown> {
  if (!(v instanceof Map) || v.size === 0) return false;
  for (const [k, x] of v) if (typeof k !== 'string' || !(x instanceof TorchTensor)) return false;
  return true;
}

/** The keys checkpoints commonly keep their weights under, in the order they are tried. */
const WRAPPER_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'network', 'module', 'params', 'weights'];

export interface ParsePthOptions {
  /** The key (dot path for nested dicts) of the state_dict inside a checkpoint; default: found automatically. */
  entry?: string;
}

/** Where the state_dict sat in the file (for messages and metadata). */
function findStateDict(value: unknown, entry: string | undefined, source: string): { dict: Map<unknown, unknown>; entry: string } {
  if (entry) {
    let v = value;
    for (const k of entry.split('.')) {
      if (!(v instanceof Map) || !v.has(k)) {
        const keys = v instanceof Map ? [...v.keys()].map(String).slice(0, 8).join(', ') : 'none';
        throw new PthError(`${source}: no entry '${entry}' (at '${k}'; keys there: ${keys})`);
      }
      v = v.get(k);
    }
    if (!isStateDict(v)) throw new PthError(`${source}: entry '${entry}' is not a dict of tensors`);
    return { dict: v, entry };
  }
  if (isStateDict(value)) return { dict: value, entry: '' };
  if (!(value instanceof Map)) {
    throw new PthError(`${source}: holds ${value instanceof TorchTensor ? 'a single tensor' : Array.isArray(value) ? 'a list' : 'no dict'}, not a state_dict (an OrderedDict of tensors)`);
  }
  for (const k of WRAPPER_KEYS) if (isStateDict(value.get(k))) return { dict: value.get(k) as Map<unknown, unknown>, entry: k };
  const candidates = [...value.entries()].filter(([, v]) => isStateDict(v)).map(([k]) => String(k));
  if (candidates.length === 1) return { dict: value.get(candidates[0]) as Map<unknown, unknown>, entry: candidates[0]! };
  if (candidates.length > 1) throw new PthError(`${source}: holds ${candidates.length} state_dicts (${candidates.join(', ')}); name one with --entry <key>`);
  throw new PthError(`${source}: no state_dict (dict of tensors) found; its top-level keys are ${[...value.keys()].map(String).slice(0, 8).join(', ')}`);
}

/**
 * Parses `torch.save` bytes (zip or legacy) into the state_dict they hold, as a {@link SafetensorsFile}. Throws a
 * one-line {@link PthError}, {@link UnsafePickleError} (a refused global, named) or {@link PickleError}.
 */
export function parsePth(bytes: Uint8Array, source = '<buffer>', options: ParsePthOptions = {}): SafetensorsFile {
  let value: unknown;
  try {
    value = isZip(bytes) ? parseZipFormat(bytes, source) : parseLegacy(bytes, source);
  } catch (e) {
    if (e instanceof UnsafePickleError || e instanceof PthError || e instanceof ZipError) throw e;
    if (e instanceof PickleError) throw new PthError(e.message);
    throw e;
  }
  const { dict, entry } = findStateDict(value, options.entry, source);
  const names = [...dict.keys()] as string[];
  const prefix = names.every((n) => n.startsWith('module.')) ? 'module.' : '';
  const tensors = new Map<string, SafetensorsEntry>();
  for (const n of names) {
    const name = n.slice(prefix.length);
    tensors.set(name, tensorEntry(name, dict.get(n) as TorchTensor, source));
  }
  const metadata: Record<string, string> = { format: 'pth', 'pth.container': isZip(bytes) ? 'zip' : 'legacy' };
  if (entry) metadata['pth.entry'] = entry;
  if (prefix) metadata['pth.strippedPrefix'] = prefix;
  return { source, metadata, tensors };
}
