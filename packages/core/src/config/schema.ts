/**
 * A small schema → validator for configuration files. Each schema both checks a parsed YAML/JSON value and
 * returns it typed, with defaults applied; the first problem is thrown as a {@link ConfigError} whose one-line
 * message names the key path (`model.aad.maks`), the bad value and what is allowed.
 *
 * Written for the model slice (`resolveModelConfig`) and meant to be reused for the whole training config:
 *
 * ```ts
 * const trainSchema = s.object({ steps: s.int({ min: 1 }), lr: s.withDefault(s.number({ gt: 0 }), 4e-4) });
 * type TrainConfig = s.Infer<typeof trainSchema>;
 * const cfg = trainSchema.parse(doc.train, 'train');
 * ```
 */

/** A configuration value failed validation; `path` is the dotted key path, e.g. `model.aad.mask`. */
export class ConfigError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path || '<root>'}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** Validates a value found at `path` and returns it typed (with defaults applied for objects). */
export interface Schema<T> {
  parse(value: unknown, path: string): T;
  /** What the schema accepts, for error messages, e.g. `one of 'learned', 'constant'`. */
  readonly expected: string;
  /** Set by {@link withDefault} / {@link optional}: what a missing key becomes. */
  readonly missing?: { readonly value: () => unknown } | 'omit';
}

/** The value type a schema produces. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** A short, bounded rendering of a bad value for error messages. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${show(value)}`;
}

export interface NumberOptions {
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive lower bound. */
  gt?: number;
  /** Extra check: returns a problem description, or undefined when the value is fine. */
  check?: (v: number) => string | undefined;
}

function numberSchema(integer: boolean, o: NumberOptions): Schema<number> {
  const bounds = [
    o.min !== undefined ? `>= ${o.min}` : '',
    o.gt !== undefined ? `> ${o.gt}` : '',
    o.max !== undefined ? `<= ${o.max}` : '',
  ].filter(Boolean);
  const expected = `${integer ? 'an integer' : 'a number'}${bounds.length ? ` ${bounds.join(' and ')}` : ''}`;
  return {
    expected,
    parse(value, path) {
      if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
        throw new ConfigError(path, `expected ${expected}, got ${kindOf(value)}`);
      }
      if ((o.min !== undefined && value < o.min) || (o.max !== undefined && value > o.max) || (o.gt !== undefined && value <= o.gt)) {
        throw new ConfigError(path, `expected ${expected}, got ${value}`);
      }
      const problem = o.check?.(value);
      if (problem) throw new ConfigError(path, `${problem}, got ${value}`);
      return value;
    },
  };
}

/** An integer. */
export function int(options: NumberOptions = {}): Schema<number> {
  return numberSchema(true, options);
}

/** A finite number. */
export function number(options: NumberOptions = {}): Schema<number> {
  return numberSchema(false, options);
}

/** A boolean (YAML `true`/`false`). */
export function boolean(): Schema<boolean> {
  return {
    expected: 'true or false',
    parse(value, path) {
      if (typeof value !== 'boolean') throw new ConfigError(path, `expected true or false, got ${kindOf(value)}`);
      return value;
    },
  };
}

/** A string, optionally non-empty. */
export function string(options: { nonEmpty?: boolean } = {}): Schema<string> {
  const expected = options.nonEmpty ? 'a non-empty string' : 'a string';
  return {
    expected,
    parse(value, path) {
      if (typeof value !== 'string' || (options.nonEmpty && value.length === 0)) {
        throw new ConfigError(path, `expected ${expected}, got ${kindOf(value)}`);
      }
      return value;
    },
  };
}

/** One of a fixed set of strings, numbers or booleans (compared with ===). */
export function oneOf<const V extends readonly (string | number | boolean)[]>(values: V): Schema<V[number]> {
  const expected = `one of ${values.map((v) => show(v)).join(', ')}`;
  return {
    expected,
    parse(value, path) {
      if (!values.includes(value as V[number])) throw new ConfigError(path, `expected ${expected}, got ${show(value)}`);
      return value as V[number];
    },
  };
}

/** A list whose items all match `item`. */
export function array<T>(item: Schema<T>, options: { minItems?: number; maxItems?: number } = {}): Schema<T[]> {
  const expected = `a list of ${item.expected}`;
  return {
    expected,
    parse(value, path) {
      if (!Array.isArray(value)) throw new ConfigError(path, `expected ${expected}, got ${kindOf(value)}`);
      if (options.minItems !== undefined && value.length < options.minItems) {
        throw new ConfigError(path, `expected at least ${options.minItems} item(s), got ${value.length}`);
      }
      if (options.maxItems !== undefined && value.length > options.maxItems) {
        throw new ConfigError(path, `expected at most ${options.maxItems} item(s), got ${value.length}`);
      }
      return value.map((v, i) => item.parse(v, `${path}[${i}]`));
    },
  };
}

/**
 * `schema`, or `defaultValue` when the key is missing. The default is parsed like a value from the file, so `{}`
 * for an object schema fills in that object's own defaults.
 */
export function withDefault<T>(schema: Schema<T>, defaultValue: unknown): Schema<T> {
  const value = typeof defaultValue === 'function' ? (defaultValue as () => unknown) : () => structuredClone(defaultValue);
  return { ...schema, parse: schema.parse.bind(schema), missing: { value } };
}

/** `schema`, or absent (undefined) when the key is missing. */
export function optional<T>(schema: Schema<T>): Schema<T | undefined> {
  return { ...schema, parse: schema.parse.bind(schema), missing: 'omit' };
}

type Fields = Record<string, Schema<unknown>>;
type OptionalKeys<F extends Fields> = { [K in keyof F]: F[K]['missing'] extends 'omit' ? K : never }[keyof F];
/** The typed object an object schema produces: keys made `optional()` are optional, the rest present. */
export type ObjectOf<F extends Fields> = { -readonly [K in Exclude<keyof F, OptionalKeys<F>>]: Infer<F[K]> } & {
  -readonly [K in OptionalKeys<F>]?: Infer<F[K]>;
};

export interface ObjectOptions {
  /** Keys accepted and passed through unvalidated (sections owned by another package). Default: none. */
  passThrough?: readonly string[];
  /** Extra cross-field check on the parsed object: returns [key, problem] or undefined. */
  check?: (value: Record<string, unknown>) => [key: string, problem: string] | undefined;
}

export interface ObjectSchema<F extends Fields> extends Schema<ObjectOf<F>> {
  readonly fields: F;
}

/**
 * A mapping with exactly these keys. An unknown key is an error that lists the valid keys; a missing key takes
 * its default (see {@link withDefault}), is left out ({@link optional}), or is an error.
 */
export function object<F extends Fields>(fields: F, options: ObjectOptions = {}): ObjectSchema<F> {
  const keys = Object.keys(fields);
  const passThrough = options.passThrough ?? [];
  return {
    fields,
    expected: 'a mapping',
    parse(value, path) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new ConfigError(path, `expected a mapping with keys ${keys.join(', ')}, got ${kindOf(value)}`);
      }
      const input = value as Record<string, unknown>;
      const at = (key: string): string => (path ? `${path}.${key}` : key);
      for (const key of Object.keys(input)) {
        if (!(key in fields) && !passThrough.includes(key)) {
          throw new ConfigError(at(key), `unknown key; valid keys: ${[...keys, ...passThrough].join(', ')}`);
        }
      }
      const out: Record<string, unknown> = {};
      for (const key of keys) {
        const field = fields[key]!;
        if (input[key] === undefined) {
          if (field.missing === 'omit') continue;
          if (field.missing) {
            out[key] = field.parse(field.missing.value(), at(key));
            continue;
          }
          throw new ConfigError(at(key), `required key is missing (expected ${field.expected})`);
        }
        out[key] = field.parse(input[key], at(key));
      }
      for (const key of passThrough) if (key in input) out[key] = input[key];
      const problem = options.check?.(out);
      if (problem) throw new ConfigError(at(problem[0]), problem[1]);
      return out as ObjectOf<F>;
    },
  };
}

/** A checked integer that must be a power of two within [min, max] (e.g. an image resolution). */
export function powerOfTwo(min: number, max: number): Schema<number> {
  return int({
    min,
    max,
    check: (v) => ((v & (v - 1)) === 0 ? undefined : `expected a power of two between ${min} and ${max}`),
  });
}

/** True for a plain mapping (not null, not a list). */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * `base` overlaid with `overrides`, recursively for mappings (lists and scalars replace). Keys of `overrides`
 * that `base` lacks are kept, so that a later strict `object()` parse reports them as unknown.
 */
export function deepMerge(base: unknown, overrides: unknown): unknown {
  if (!isMapping(base) || !isMapping(overrides)) return overrides === undefined ? structuredClone(base) : overrides;
  const out: Record<string, unknown> = structuredClone(base);
  for (const [key, value] of Object.entries(overrides)) out[key] = key in out ? deepMerge(out[key], value) : value;
  return out;
}
