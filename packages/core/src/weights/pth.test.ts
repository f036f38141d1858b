import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { unpickle, UnsafePickleError } from './pickle.js';
import { parsePth, PthError } from './pth.js';
import { parseWeights } from './weights_file.js';
import { readWeightsFile } from '../node/weights_file_fs.js';

/** Fixtures written by torch 1.13's torch.save (make_pth_fixtures.py); expected.json is what torch reads back. */
const dir = new URL('./test_fixtures/pth/', import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, dir)));
const path = (name: string): string => new URL(name, dir).pathname;

interface Expected {
  dtype: string;
  shape: number[];
  values: number[];
}
const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')) as Record<'state_dict' | 'wrapped' | 'parameters', Record<string, Expected>>;

const DTYPES: Record<string, string> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64', int64: 'I64', int32: 'I32', uint8: 'I32', bool: 'I32' };

function expectMatches(file: ReturnType<typeof parsePth>, want: Record<string, Expected>): void {
  expect([...file.tensors.keys()]).toEqual(Object.keys(want));
  for (const [name, e] of Object.entries(want)) {
    const t = file.tensors.get(name)!;
    expect(t.shape, name).toEqual(e.shape);
    expect(t.dtype, name).toBe(DTYPES[e.dtype]);
    const raw = t.raw();
    const values = t.dtype === 'I64' ? Array.from(raw as BigInt64Array, Number) : t.dtype === 'F16' || t.dtype === 'BF16' ? Array.from(t.toFloat32()) : Array.from(raw as ArrayLike<number>);
    expect(values, name).toEqual(e.values);
  }
}

describe('parsePth (torch.save fixtures)', () => {
  it.each(['state_dict_zip.pth', 'state_dict_zip_proto4.pth', 'state_dict_legacy.pth'])('%s: every tensor, dtype, view and stride as torch reads it', (name) => {
    const file = parsePth(fixture(name), name);
    expectMatches(file, expected.state_dict);
    expect(file.metadata['pth.container']).toBe(name.includes('legacy') ? 'legacy' : 'zip');
    // Contiguous float32 tensors are views of the file's bytes, not copies.
    const bytes = fixture(name);
    const conv = parsePth(bytes, name).tensors.get('conv.weight')!;
    expect(conv.bytes().buffer).toBe(bytes.buffer);
  });

  it.each(['wrapped_checkpoint.pth', 'wrapped_checkpoint_legacy.pth'])('%s: unwraps {state_dict: …} and the module. prefix, past an optimizer state', (name) => {
    const file = parsePth(fixture(name), name);
    expectMatches(file, expected.wrapped);
    expect(file.metadata['pth.entry']).toBe('state_dict');
    expect(file.metadata['pth.strippedPrefix']).toBe('module.');
  });

  it('reads the ZIP64 end record torch.save writes (what checkpoints over 4 GiB depend on)', () => {
    // torch.save writes both end records; with the classic one's fields saturated, only the ZIP64 one can be used.
    const bytes = new Uint8Array(fixture('state_dict_zip.pth'));
    const view = new DataView(bytes.buffer);
    const eocd = bytes.length - 22;
    expect(view.getUint32(eocd, true)).toBe(0x06054b50);
    expect(view.getUint32(eocd - 20, true)).toBe(0x07064b50);
    view.setUint16(eocd + 8, 0xffff, true);
    view.setUint16(eocd + 10, 0xffff, true);
    view.setUint32(eocd + 12, 0xffffffff, true);
    view.setUint32(eocd + 16, 0xffffffff, true);
    expectMatches(parsePth(bytes, 'zip64.pth'), expected.state_dict);
  });

  it('a legacy file naming torch.cuda storage types (saved from a GPU by an old torch) reads the same', () => {
    const text = Buffer.from(fixture('state_dict_legacy.pth')).toString('latin1').replaceAll('ctorch\nFloatStorage\n', 'ctorch.cuda\nFloatStorage\n');
    expect(text).toContain('torch.cuda');
    expectMatches(parsePth(new Uint8Array(Buffer.from(text, 'latin1')), 'gpu.pth'), expected.state_dict);
  });

  it('parameters.pth: nn.Parameter values (torch._utils._rebuild_parameter) read as their tensors', () => {
    expectMatches(parsePth(fixture('parameters.pth'), 'parameters.pth'), expected.parameters);
  });

  it('asks which state_dict when a file holds several, and takes the one --entry names', () => {
    expect(() => parsePth(fixture('two_state_dicts.pth'), 'two.pth')).toThrow(/two\.pth: holds 2 state_dicts \(G, D\); name one with --entry <key>/);
    expect([...parsePth(fixture('two_state_dicts.pth'), 'two.pth', { entry: 'D' }).tensors.keys()]).toEqual(['0.weight', '0.bias']);
    expect(() => parsePth(fixture('two_state_dicts.pth'), 'two.pth', { entry: 'E' })).toThrow(/no entry 'E'.*keys there: G, D/);
  });

  it('refuses truncated and corrupt files with one line naming the file', () => {
    const zip = fixture('state_dict_zip.pth');
    expect(() => parsePth(zip.subarray(0, zip.length - 30), 'cut.pth')).toThrow(/cut\.pth: .*(truncated|corrupt|not a zip)/);
    const legacy = fixture('state_dict_legacy.pth');
    expect(() => parsePth(legacy.subarray(0, legacy.length - 10), 'cut.pth')).toThrow(/cut\.pth: truncated/);
    expect(() => parsePth(new Uint8Array([0x80, 2, 0x4b]), 'bad.pth')).toThrow(PthError);
    // A flipped byte inside a tensor's stored data: the zip's CRC-32 names the entry (legacy files carry no checksum).
    const flipped = new Uint8Array(zip);
    const at = Buffer.from(zip).indexOf(Buffer.from('state_dict_zip/data/0')); // the local header of storage 0
    flipped[at + 200] = flipped[at + 200]! ^ 0xff;
    expect(() => parsePth(flipped, 'flip.pth')).toThrow(/flip\.pth: entry 'state_dict_zip\/data\/0' fails its CRC-32 check: the file is corrupt/);
  });
});

describe('hostile pickles are refused, naming the global, and nothing runs', () => {
  const marker = '/tmp/faceshifter-pwned';
  it.each([
    ['evil_os_system.pth', 'posix.system'],
    ['evil_eval.pth', 'builtins.eval'],
    ['evil_legacy.pth', 'posix.system'],
    ['evil_nested_popen.pth', 'subprocess.Popen'],
    ['evil_plain.pkl', 'posix.system'],
    ['whole_module.pth', 'torch.nn.modules.conv.Conv2d'],
  ])('%s → %s', (name, global) => {
    let error: unknown;
    try {
      parsePth(fixture(name), name);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnsafePickleError);
    expect((error as UnsafePickleError).global).toBe(global);
    const message = (error as Error).message;
    expect(message).toContain(`${name}`);
    expect(message).toContain(`refused global '${global}'`);
    expect(message.split('\n')).toHaveLength(1);
    if (name === 'whole_module.pth') expect(message).toMatch(/save model\.state_dict\(\) instead/);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses hand-made pickles: REDUCE of an unknown callable, BUILD on an object, INST, the extension registry', () => {
    const none = (): undefined => undefined;
    const bytes = (...parts: (string | number[])[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));
    // protocol 0: cos\nsystem\n(S'id'\ntR.
    expect(() => unpickle(bytes('cos\nsystem\n(S\'id\'\ntR.'), { findGlobal: none, source: 'p0' })).toThrow(/refused global 'os\.system'/);
    expect(() => unpickle(bytes('(ios\nsystem\nS\'id\'\n.'), { findGlobal: none, source: 'inst' })).toThrow(/refused global 'os\.system'/);
    expect(() => unpickle(bytes([0x80, 2, 0x82, 1, 0x2e]), { findGlobal: none, source: 'ext' })).toThrow(/extension registry/);
    expect(() => unpickle(bytes([0x80, 2, 0x5d, 0x7d, 0x62, 0x2e]), { findGlobal: none, source: 'build' })).toThrow(/BUILD on an object that is not a dict/);
    expect(() => unpickle(bytes([0x80, 2, 0x7d, 0x51, 0x2e]), { findGlobal: none, source: 'pid' })).toThrow(/persistent id outside a PyTorch file/);
    // Denial of service: a megabyte integer (quadratic to decode), a key of tuples nested 10⁴ deep.
    const huge = new Uint8Array(1 + 4 + 1_000_000 + 1);
    huge.set([0x8b, 0x40, 0x42, 0x0f, 0x00]);
    huge[huge.length - 1] = 0x2e;
    expect(() => unpickle(huge, { findGlobal: none, source: 'long' })).toThrow(/an integer of 1000000 bytes; a weights file needs at most 256/);
    // EMPTY_DICT, 10⁴ × MARK, NONE, 10⁴ × TUPLE (((None,),),…), NONE, SETITEM, STOP
    const deep = bytes([0x7d], ...Array.from({ length: 10_000 }, () => [0x28]), [0x4e], ...Array.from({ length: 10_000 }, () => [0x74]), [0x4e, 0x73, 0x2e]);
    expect(() => unpickle(deep, { findGlobal: none, source: 'deep' })).toThrow(/nested more than 16 deep/);
  });
});

describe('readWeightsFile', () => {
  it('tells .pth from safetensors by content and names a missing file', async () => {
    expect((await readWeightsFile(path('state_dict_zip.pth'))).metadata.format).toBe('pth');
    // A safetensors header of 0x180 bytes starts with 0x80, pickle's PROTO opcode: still read as safetensors.
    const header = Buffer.alloc(8 + 0x180, 0x20);
    header.writeBigUInt64LE(0x180n, 0);
    header.write('{"__metadata__":{"format":"pt"}}', 8);
    expect(parseWeights(new Uint8Array(header), 'x.safetensors').metadata.format).toBe('pt');
    expect(() => parseWeights(new Uint8Array([1, 2, 3, 4]), 'junk.bin')).toThrow(/^junk\.bin: neither a safetensors file nor a PyTorch file/);
    await expect(readWeightsFile('/nonexistent/model_ir_se50.pth', { what: 'identity.weights' })).rejects.toThrow(
      /^\/nonexistent\/model_ir_se50\.pth: no such file \(identity\.weights\)$/,
    );
  });
});

describe('corrupted files fail with a named error, never a crash or a hang', () => {
  it('every single-byte corruption and truncation of the fixtures parses or throws a PthError/pickle/zip error', () => {
    // Deterministic: a linear congruential walk over positions and values.
    let seed = 12345;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const allowed = /^(PthError|PickleError|UnsafePickleError|ZipError|SafetensorsError)$/;
    let thrown = 0;
    for (const name of ['state_dict_zip.pth', 'state_dict_legacy.pth', 'wrapped_checkpoint.pth', 'state_dict_zip_proto4.pth']) {
      const original = fixture(name);
      for (let trial = 0; trial < 150; trial++) {
        const bytes = new Uint8Array(original);
        const cut = trial % 5 === 0;
        const data = cut ? bytes.subarray(0, next() % bytes.length) : bytes;
        if (!cut) for (let k = 0; k < 1 + (trial % 3); k++) data[next() % data.length] = next() % 256;
        try {
          const file = parsePth(data, name);
          for (const t of file.tensors.values()) t.toFloat32();
        } catch (e) {
          thrown++;
          expect((e as Error).name, `${name} trial ${trial}: ${(e as Error).message}`).toMatch(allowed);
          expect((e as Error).message.startsWith(name), (e as Error).message).toBe(true);
        }
      }
    }
    expect(thrown).toBeGreaterThan(100);
  });
});
