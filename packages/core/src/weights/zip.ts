/**
 * A reader for the zip archives `torch.save` writes (PyTorch ≥ 1.6): the central directory is read (ZIP64 included,
 * for checkpoints over 4 GiB), and entries are handed out as zero-copy views of the archive's bytes. PyTorch stores
 * every entry uncompressed (method 0), which is what makes the views possible; a compressed entry (a file re-zipped
 * by another tool) is reported with the fix rather than inflated. Each entry's CRC-32 is checked the first time its
 * bytes are handed out, so a corrupt download fails with the entry's name instead of loading wrong weights.
 */

export interface ZipEntry {
  readonly name: string;
  /** The entry's bytes (a view of the archive). */
  data(): Uint8Array;
  readonly size: number;
}

export class ZipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZipError';
  }
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

let crcTable: Uint32Array | undefined;
/** CRC-32 (IEEE 802.3, zip's), table-driven. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const t = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Whether the bytes start like a zip archive (a local file header). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** Parses the archive's central directory; entries by name, in directory order. */
export function readZip(bytes: Uint8Array, source = '<zip>'): Map<string, ZipEntry> {
  const fail = (what: string): never => {
    throw new ZipError(`${source}: ${what}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength;
  const u16 = (at: number): number => view.getUint16(at, true);
  const u32 = (at: number): number => view.getUint32(at, true);
  const u64 = (at: number): number => {
    const v = view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`an offset or size (${v}) is out of range`);
    return Number(v);
  };

  // The end-of-central-directory record: 22 bytes plus a comment of at most 65535 bytes, at the very end.
  let eocd = -1;
  for (let at = n - 22; at >= Math.max(0, n - 22 - 65535); at--) {
    if (u32(at) === EOCD) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) fail('no zip end-of-central-directory record: the file is truncated or not a zip archive');
  let count = u16(eocd + 10);
  let dirSize = u32(eocd + 12);
  let dirOffset = u32(eocd + 16);
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || u32(locator) !== ZIP64_LOCATOR) fail('ZIP64 sizes without a ZIP64 locator: the archive is corrupt');
    const rec = u64(locator + 8);
    if (rec + 56 > n || u32(rec) !== ZIP64_EOCD) fail('the ZIP64 end-of-central-directory record is missing: the archive is corrupt');
    count = u64(rec + 32);
    dirSize = u64(rec + 40);
    dirOffset = u64(rec + 48);
  }
  if (dirOffset + dirSize > n) fail(`the central directory (${dirSize} bytes at ${dirOffset}) runs past the end of the file (${n} bytes): truncated`);

  const entries = new Map<string, ZipEntry>();
  let at = dirOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > n || u32(at) !== CENTRAL) fail(`central directory entry ${i} is corrupt`);
    const method = u16(at + 10);
    const crc = u32(at + 16);
    let compressed = u32(at + 20);
    let size = u32(at + 24);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    const commentLength = u16(at + 32);
    let local = u32(at + 42);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
    // ZIP64 extended information: the 0xFFFFFFFF fields, in order, as 8-byte values.
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = u16(extra);
      const len = u16(extra + 2);
      if (id === 0x0001) {
        let p = extra + 4;
        if (size === 0xffffffff) (size = u64(p)), (p += 8);
        if (compressed === 0xffffffff) (compressed = u64(p)), (p += 8);
        if (local === 0xffffffff) local = u64(p);
      }
      extra += 4 + len;
    }
    at = extraEnd + commentLength;
    if (local + 30 > n || u32(local) !== LOCAL) fail(`entry '${name}': its local header is missing (truncated or corrupt archive)`);
    const start = local + 30 + u16(local + 26) + u16(local + 28);
    if (start + compressed > n) fail(`entry '${name}' (${compressed} bytes at ${start}) runs past the end of the file: truncated`);
    if (method !== 0) {
      fail(`entry '${name}' is compressed (method ${method}); torch.save writes stored entries: re-save the file with torch.save instead of re-zipping it`);
    }
    if (compressed !== size) fail(`entry '${name}': stored sizes disagree (${compressed} vs ${size})`);
    let checked = false;
    entries.set(name, {
      name,
      size,
      data: () => {
        const data = bytes.subarray(start, start + size);
        if (!checked) {
          if (crc32(data) !== crc) fail(`entry '${name}' fails its CRC-32 check: the file is corrupt (re-download or re-save it)`);
          checked = true;
        }
        return data;
      },
    });
  }
  return entries;
}
