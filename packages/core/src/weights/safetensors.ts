/**
 * A dependency-free reader and writer for the safetensors format (https://github.com/huggingface/safetensors):
 *
 *   [8 bytes: N, little-endian u64][N bytes: UTF-8 JSON header][data section]
 *
 * The header maps each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data
 * section) and may hold `"__metadata__": {string: string}`. Tensors are little-endian and row-major.
 *
 * Reading parses the header, validates every entry against the file, and then hands out zero-copy typed-array
 * views of the one buffer the file was read into (a copy only when an offset is misaligned for the element size).
 */

/** The element types this reader and writer handle. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';

/** Raw element storage per dtype. F16 and BF16 are kept as their 16-bit patterns. */
export type SafetensorsData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array;

/** One tensor to write, or as read (`data` holds the raw elements of `dtype`). */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: SafetensorsData;
}

/** A tensor as stored in a parsed file: its header entry plus accessors over the file's bytes. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Byte range within the data section, as written in the header. */
  readonly dataOffsets: readonly [number, number];
  /** The tensor's bytes (a view of the file buffer). */
  bytes(): Uint8Array;
  /** The raw elements in their own dtype (a view when aligned, else a copy). */
  raw(): SafetensorsData;
  /** The elements as float32: a view for F32; F16/BF16/F64/I32/I64 are converted. */
  toFloat32(): Float32Array;
}

/** A parsed safetensors file. */
export interface SafetensorsFile {
  /** Where the bytes came from (the path), used in error messages. */
  readonly source: string;
  /** The `__metadata__` map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in header order. */
  readonly tensors: ReadonlyMap<string, SafetensorsEntry>;
}

/** A malformed or unreadable safetensors file; the message names the file and, where it applies, the tensor. */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

export const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };
const SUPPORTED = Object.keys(BYTES_PER_ELEMENT) as SafetensorsDtype[];
/** Dtypes the format defines that this project has no use for: named so the error says "unsupported", not "unknown". */
const KNOWN_UNSUPPORTED = ['BOOL', 'U8', 'I8', 'U16', 'I16', 'U32', 'U64', 'F8_E5M2', 'F8_E4M3'];
/** The reference implementation refuses headers above 100 MB; a larger length means a corrupt or foreign file. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type TypedArrayCtor<T> = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; new (length: number): T };
const CTORS: Record<SafetensorsDtype, TypedArrayCtor<SafetensorsData>> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
};

function numElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function shapeString(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Swaps each element's bytes in place: only needed on a big-endian host. */
function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** Elements of `dtype` read from little-endian `bytes`: a view when the host and alignment allow, else a copy. */
export function typedView(bytes: Uint8Array, dtype: SafetensorsDtype): SafetensorsData {
  const width = BYTES_PER_ELEMENT[dtype];
  const count = bytes.byteLength / width;
  const Ctor = CTORS[dtype];
  if (LITTLE_ENDIAN_HOST && bytes.byteOffset % width === 0) return new Ctor(bytes.buffer, bytes.byteOffset, count);
  const copy = new Uint8Array(bytes);
  if (!LITTLE_ENDIAN_HOST) swapBytes(copy, width);
  return new Ctor(copy.buffer, 0, count);
}

let f16Table: Float32Array | undefined;
/** All 65536 half-precision values, built once: a table lookup is the fastest exact f16 → f32 conversion in JS. */
function float16Table(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24;
    else if (exp === 31) table[h] = frac ? NaN : sign * Infinity;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  f16Table = table;
  return table;
}

/** Converts raw elements of any supported dtype to float32. */
export function toFloat32(dtype: SafetensorsDtype, data: SafetensorsData): Float32Array {
  switch (dtype) {
    case 'F32':
      return data as Float32Array;
    case 'F16': {
      const table = float16Table();
      const bits = data as Uint16Array;
      const out = new Float32Array(bits.length);
      for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift the bits into place and reinterpret.
      const bits = data as Uint16Array;
      const words = new Uint32Array(bits.length);
      for (let i = 0; i < bits.length; i++) words[i] = bits[i]! << 16;
      return new Float32Array(words.buffer);
    }
    case 'I64': {
      const big = data as BigInt64Array;
      const out = new Float32Array(big.length);
      for (let i = 0; i < big.length; i++) out[i] = Number(big[i]!);
      return out;
    }
    default:
      return Float32Array.from(data as Float64Array | Int32Array);
  }
}

function isNonNegativeInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Parses safetensors bytes. Every header entry is validated (dtype, shape, offsets within the data section,
 * byte length matching the shape, no overlaps) before anything is returned.
 */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  const fail = (what: string): never => {
    throw new SafetensorsError(`${source}: ${what}`);
  };
  if (bytes.byteLength < 8) {
    fail(`truncated: ${bytes.byteLength} bytes, fewer than the 8-byte header length prefix; not a safetensors file`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${headerLength} exceeds ${MAX_HEADER_BYTES} bytes; not a safetensors file or corrupt`);
  }
  const n = Number(headerLength);
  if (8 + n > bytes.byteLength) {
    fail(`truncated: the header claims ${n} bytes but only ${bytes.byteLength - 8} follow the length prefix`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail('header is not a JSON object');
  }
  const data = bytes.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsEntry>();
  const ranges: { name: string; begin: number; end: number }[] = [];

  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const bad = (what: string): never => fail(`tensor '${name}': ${what}`);
    if (typeof value !== 'object' || value === null) bad('header entry is not an object');
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = entry.dtype;
    if (typeof dtype !== 'string' || !(SUPPORTED as string[]).includes(dtype)) {
      const kind = typeof dtype === 'string' && KNOWN_UNSUPPORTED.includes(dtype) ? 'unsupported' : 'unknown';
      bad(`${kind} dtype ${JSON.stringify(dtype)} (supported: ${SUPPORTED.join(', ')})`);
    }
    const shape = entry.shape;
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt) || offsets[0] > offsets[1]) {
      bad(`data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    const d = dtype as SafetensorsDtype;
    const s = shape as number[];
    const expected = numElements(s) * BYTES_PER_ELEMENT[d];
    if (end - begin !== expected) {
      bad(`data_offsets [${begin},${end}] span ${end - begin} bytes but ${d} ${shapeString(s)} needs ${expected}`);
    }
    if (end > data.byteLength) {
      bad(`data_offsets [${begin},${end}] run past the data section (${data.byteLength} bytes): the file is truncated or the header is corrupt`);
    }
    ranges.push({ name, begin, end });
    const slice = (): Uint8Array => data.subarray(begin, end);
    tensors.set(name, {
      name,
      dtype: d,
      shape: s,
      dataOffsets: [begin, end],
      bytes: slice,
      raw: () => typedView(slice(), d),
      toFloat32: () => toFloat32(d, typedView(slice(), d)),
    });
  }

  const nonEmpty = ranges.filter((r) => r.end > r.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < nonEmpty.length; i++) {
    const prev = nonEmpty[i - 1]!;
    const cur = nonEmpty[i]!;
    if (cur.begin < prev.end) {
      fail(`tensors '${prev.name}' [${prev.begin},${prev.end}] and '${cur.name}' [${cur.begin},${cur.end}] overlap`);
    }
  }
  return { source, metadata, tensors };
}

function expectedDtypeOf(data: SafetensorsData): SafetensorsDtype[] {
  if (data instanceof Float32Array) return ['F32'];
  if (data instanceof Float64Array) return ['F64'];
  if (data instanceof Int32Array) return ['I32'];
  if (data instanceof BigInt64Array) return ['I64'];
  if (data instanceof Uint16Array) return ['F16', 'BF16'];
  return [];
}

/** Little-endian bytes of a typed array: a view on little-endian hosts. */
function littleEndianBytes(data: SafetensorsData): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN_HOST) return view;
  const copy = new Uint8Array(view);
  swapBytes(copy, data.BYTES_PER_ELEMENT);
  return copy;
}

/**
 * Encodes tensors (in the given order) and optional string metadata as safetensors. Returns the header and the
 * tensors' bytes as separate chunks so a large file is never concatenated in memory.
 */
export function encodeSafetensors(
  tensors: Iterable<readonly [string, SafetensorsTensor]>,
  metadata: Readonly<Record<string, string>> = {},
  source = '<buffer>',
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`${source}: __metadata__.${k} must be a string, got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const bad = (what: string): never => {
      throw new SafetensorsError(`${source}: tensor '${name}': ${what}`);
    };
    if (name === '__metadata__' || name.length === 0) bad('invalid tensor name');
    if (name in header) bad('duplicate tensor name');
    if (!SUPPORTED.includes(t.dtype)) bad(`unknown dtype ${JSON.stringify(t.dtype)} (supported: ${SUPPORTED.join(', ')})`);
    if (!expectedDtypeOf(t.data).includes(t.dtype)) bad(`data is a ${t.data.constructor.name}, which cannot hold ${t.dtype}`);
    if (!t.shape.every(isNonNegativeInt)) bad(`shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
    if (numElements(t.shape) !== t.data.length) bad(`shape ${shapeString(t.shape)} needs ${numElements(t.shape)} elements, data has ${t.data.length}`);
    const bytes = littleEndianBytes(t.data);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] };
    offset += bytes.byteLength;
    chunks.push(bytes);
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data section starts 8-byte aligned: readers can then view F64/I64 without copying.
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return [head, ...chunks];
}

/** Concatenates encoded chunks into one buffer (small files and tests). */
export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
