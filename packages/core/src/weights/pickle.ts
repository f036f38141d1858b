/**
 * A restricted unpickler: the subset of Python's pickle virtual machine (protocols 0–5) that `torch.save` of a
 * state_dict or a training checkpoint emits, with no way to run code.
 *
 * A pickle is a program: GLOBAL/STACK_GLOBAL name any importable callable and REDUCE calls it, which is how a
 * hostile `.pth` runs `os.system` inside `torch.load`. Here a global resolves only through an allow-list of the
 * names a state_dict needs (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, the storage types, ...),
 * each implemented in JS as plain data construction; any other global is refused before anything is called, with
 * an error naming it. Opcodes that would need a class's code (INST, OBJ, NEWOBJ of an unknown class, BUILD on
 * anything but a dict, the extension registry, out-of-band buffers) are refused the same way.
 *
 * Python values map to JS as: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number,
 * str → string, bytes → Uint8Array, list → array, tuple → {@link PyTuple}, dict/OrderedDict → Map, set → Set.
 */

/** A Python tuple (kept apart from lists only where the difference matters: persistent ids, rebuild arguments). */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** The global `module.name` a pickle asked for, resolved by the allow-list (storage types, dtypes...). */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    /** Called by REDUCE with the argument tuple's items; absent for non-callable markers. */
    readonly call?: (args: readonly unknown[]) => unknown,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A pickle that is malformed, truncated, or asks for something this reader refuses. */
export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

/** A pickle that names a global outside the allow-list: it would run code when loaded with torch.load. */
export class UnsafePickleError extends PickleError {
  constructor(
    message: string,
    /** `module.name` as written in the file (`posix.system`, `builtins.eval`, ...). */
    readonly global: string,
  ) {
    super(message);
    this.name = 'UnsafePickleError';
  }
}

export interface UnpickleOptions {
  /** Resolves `module.name` to an allowed global, or returns undefined to refuse it. */
  findGlobal: (module: string, name: string) => PyGlobal | undefined;
  /** Resolves a persistent id (PERSID/BINPERSID): PyTorch's storage references. Refused when absent. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Byte offset to start at (files that hold several pickles back to back). Default 0. */
  offset?: number;
  /** Used in error messages. */
  source?: string;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset of the byte after STOP. */
  end: number;
}

/** The longest integer accepted (LONG1 is at most 255 bytes by construction). */
const MAX_LONG_BYTES = 256;

/** Python 2 names that protocol ≤ 2 pickles use for Python 3's modules (pickle's fix_imports). */
const PY2_MODULES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

/** The well-known dangerous globals get their plain-language meaning in the error. */
const NOTORIOUS: Record<string, string> = {
  'posix.system': 'os.system: runs a shell command',
  'nt.system': 'os.system: runs a shell command',
  'os.system': 'runs a shell command',
  'builtins.eval': 'evaluates Python code',
  'builtins.exec': 'executes Python code',
  'builtins.getattr': 'reaches arbitrary attributes',
  'builtins.__import__': 'imports any module',
  'subprocess.Popen': 'starts a process',
  'subprocess.call': 'starts a process',
  'subprocess.check_output': 'starts a process',
};

/** Normalises a module name as Python 3's unpickler does (protocol ≤ 2 files say `__builtin__`). */
export function pythonModule(module: string): string {
  return PY2_MODULES[module] ?? module;
}

/**
 * Runs the pickle at `bytes[offset..]` under the allow-list and returns the value STOP leaves on the stack.
 * Throws {@link UnsafePickleError} for a refused global (nothing from the file has been called at that point,
 * and nothing ever is beyond the allow-list's JS implementations) and {@link PickleError} for malformed input.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): UnpickleResult {
  const source = options.source ?? '<pickle>';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = options.offset ?? 0;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();

  const fail = (what: string): never => {
    throw new PickleError(`${source}: ${what} (pickle byte ${pos})`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > bytes.byteLength) fail(`truncated: needs ${n} more byte(s), ${bytes.byteLength - pos} left`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  /** A fixed-width little-endian field at the cursor. */
  const field = <T>(width: number, get: (at: number) => T): T => {
    need(width);
    const v = get(pos);
    pos += width;
    return v;
  };
  const u16 = (): number => field(2, (at) => view.getUint16(at, true));
  const u32 = (): number => field(4, (at) => view.getUint32(at, true));
  const i32 = (): number => field(4, (at) => view.getInt32(at, true));
  const u64 = (): number => {
    const v = field(8, (at) => view.getBigUint64(at, true));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is out of range`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('truncated: a text argument has no newline');
    const text = latin1(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const utf8 = (b: Uint8Array): string => {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      return fail('a string is not valid UTF-8');
    }
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks.at(-1)!)) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('MARK expected');
    return stack.splice(m!);
  };
  const resolveGlobal = (rawModule: string, name: string): PyGlobal => {
    const module = pythonModule(rawModule);
    const found = options.findGlobal(module, name);
    if (!found) {
      const qualified = `${module}.${name}`;
      const meaning = NOTORIOUS[qualified] ?? (/^torch\.nn\.modules\./.test(qualified) ? 'a whole nn.Module: save model.state_dict() instead' : '');
      throw new UnsafePickleError(
        `${source}: refused global '${qualified}'${meaning ? ` (${meaning})` : ''}; a weights file needs only a state_dict ` +
          `(OrderedDict of tensors), and loading this one with torch.load would run code from it. ` +
          `If you trust it, re-save its state_dict in Python: torch.save(torch.load(f, map_location="cpu")["state_dict"], "clean.pth")`,
        qualified,
      );
    }
    return found;
  };
  const callable = (f: unknown, op: string): ((args: readonly unknown[]) => unknown) => {
    if (f instanceof PyGlobal && f.call) return f.call;
    if (f instanceof PyGlobal) return fail(`${op} on '${f.qualifiedName}', which is not callable here`);
    return fail(`${op} on a value that is not an allowed global`);
  };
  const setItem = (target: unknown, key: unknown, value: unknown): void => {
    if (!(target instanceof Map)) fail('SETITEM(S) on something that is not a dict');
    (target as Map<unknown, unknown>).set(dictKey(key, fail), value);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME: a length prefix only
        u64();
        break;
      case 0x2e: // STOP
        if (marks.length > 0) fail('STOP inside a MARK');
        return { value: pop(), end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (marks.length > 0 && stack.length === marks.at(-1)) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(littleEndianInt(take(u8())));
        break;
      case 0x8b: {
        // LONG4. Weights files hold 64-bit integers at most; a huge one would only cost quadratic time to decode.
        const n = i32();
        if (n < 0) fail('LONG4 with a negative length');
        if (n > MAX_LONG_BYTES) fail(`an integer of ${n} bytes; a weights file needs at most ${MAX_LONG_BYTES}`);
        stack.push(littleEndianInt(take(n)));
        break;
      }
      case 0x49: {
        // INT (text): also protocol 0's booleans
        const text = line();
        if (text === '00') stack.push(false);
        else if (text === '01') stack.push(true);
        else stack.push(textInt(text, fail));
        break;
      }
      case 0x4c: {
        // LONG (text)
        const text = line().replace(/L$/, '');
        if (text.length > 3 * MAX_LONG_BYTES) fail(`an integer of ${text.length} digits`);
        stack.push(textInt(text, fail));
        break;
      }
      case 0x47: // BINFLOAT: big-endian double
        stack.push(field(8, (at) => view.getFloat64(at, false)));
        break;
      case 0x46: {
        // FLOAT (text)
        const v = Number(line());
        if (Number.isNaN(v)) fail('FLOAT is not a number');
        stack.push(v);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(utf8(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(take(u64())));
        break;
      case 0x54: {
        // BINSTRING (Python 2 str, read as latin-1 like encoding='latin1')
        const n = i32();
        if (n < 0) fail('BINSTRING with a negative length');
        stack.push(latin1(take(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) fail('APPEND to something that is not a list');
        (list as unknown[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail('APPENDS to something that is not a list');
        (list as unknown[]).push(...items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        if (items.length % 2) fail('DICT with an odd number of items');
        const d = new Map<unknown, unknown>();
        for (let i = 0; i < items.length; i += 2) d.set(dictKey(items[i], fail), items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItem(top(), k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2) fail('SETITEMS with an odd number of items');
        const d = top();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail('ADDITEMS to something that is not a set');
        for (const i of items) (s as Set<unknown>).add(i);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      case 0x70: // PUT (text)
        memo.set(textIndex(line(), fail), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET (text)
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const i = op === 0x67 ? textIndex(line(), fail) : op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`memo ${i} is not set`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: // REDUCE: f(*args)
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args); only for allowed globals, built like a call
        const name = op === 0x52 ? 'REDUCE' : 'NEWOBJ';
        const args = pop();
        const f = pop();
        if (!(args instanceof PyTuple)) fail(`${name} arguments are not a tuple`);
        stack.push(callable(f, name)((args as PyTuple).items));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple) || !(kwargs instanceof Map) || kwargs.size > 0) fail('NEWOBJ_EX with keyword arguments');
        stack.push(callable(cls, 'NEWOBJ_EX')((args as PyTuple).items));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state). A dict's state (e.g. a state_dict's _metadata) is kept as a property.
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map)) fail('BUILD on an object that is not a dict (it would need its class)');
        (obj as Map<unknown, unknown> & { pyState?: unknown }).pyState = state;
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('a persistent id outside a PyTorch file');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      case 0x50: {
        // PERSID (text)
        const pid = line();
        if (!options.persistentLoad) fail('a persistent id outside a PyTorch file');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      case 0x69: {
        // INST: module, name, then a class instance; resolved through the allow-list like GLOBAL
        const module = line();
        const name = line();
        const g = resolveGlobal(module, name);
        stack.push(callable(g, 'INST')(popMark()));
        break;
      }
      case 0x6f: {
        // OBJ
        const items = popMark();
        const cls = items.shift();
        stack.push(callable(cls, 'OBJ')(items));
        break;
      }
      case 0x82:
      case 0x83:
      case 0x84:
        fail('the copyreg extension registry (EXT1/2/4) is not supported');
        break;
      case 0x97:
      case 0x98:
        fail('out-of-band buffers (protocol 5 NEXT_BUFFER/READONLY_BUFFER) are not supported');
        break;
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}; not a pickle, or a newer protocol`);
    }
  }
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** Two's-complement little-endian integer (LONG1/LONG4); a number when it is safe, else a bigint. */
function littleEndianInt(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function textInt(text: string, fail: (what: string) => never): number | bigint {
  if (!/^[-+]?\d+$/.test(text.trim())) fail(`INT/LONG '${text}' is not an integer`);
  const v = BigInt(text.trim());
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function textIndex(text: string, fail: (what: string) => never): number {
  const v = Number(text);
  if (!Number.isSafeInteger(v) || v < 0) fail(`memo index '${text}' is not an integer`);
  return v;
}

/** A dict key as a JS Map key: strings and numbers as themselves; tuples (nested at most 16 deep) by their printed form. */
function dictKey(k: unknown, fail: (what: string) => never, depth = 0): unknown {
  if (!(k instanceof PyTuple)) return k;
  if (depth > 16) fail('a dict key of tuples nested more than 16 deep');
  return `(${k.items.map((i) => String(dictKey(i, fail, depth + 1))).join(', ')})`;
}
