// The Fashion-MNIST subset shipped in data/fashion-mnist-subset, fetched by
// the page: gzipped IDX files (see cli/data/idx.ts), unpacked with the
// browser's DecompressionStream.

export const CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;

export interface Split {
  /** n × 784 bytes. */
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly n: number;
}

export interface FashionMnist {
  readonly train: Split;
  readonly test: Split;
}

/** The data of an IDX file of unsigned bytes, and its dimensions. */
export function parseIdx(bytes: Uint8Array, name: string): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08)
    throw new Error(`${name}: not an IDX file of unsigned bytes`);
  const rank = bytes[3]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = 4 + 4 * rank;
  if (bytes.length < start) throw new Error(`${name}: truncated IDX header`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const want = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - start !== want) throw new Error(`${name}: ${bytes.length - start} data bytes, expected ${want}`);
  return { dims, data: bytes.subarray(start) };
}

async function fetchGunzipped(url: URL): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`${url.href}: HTTP ${res.status}`);
  const unpacked = res.body.pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(unpacked).arrayBuffer());
}

async function loadSplit(base: URL, prefix: 'train' | 't10k'): Promise<Split> {
  const [img, lab] = await Promise.all(
    [`${prefix}-images-idx3-ubyte.gz`, `${prefix}-labels-idx1-ubyte.gz`].map(async (f) =>
      parseIdx(await fetchGunzipped(new URL(f, base)), f),
    ),
  );
  if (img!.dims.length !== 3 || img!.dims[1] !== SIDE || img!.dims[2] !== SIDE || lab!.dims[0] !== img!.dims[0])
    throw new Error(`${prefix}: expected n × 28 × 28 images and n labels`);
  return { images: img!.data, labels: lab!.data, n: img!.dims[0]! };
}

/** Fetches both splits from `base` (a URL of the directory, ending in '/'). */
export async function loadFashionMnist(base: URL): Promise<FashionMnist> {
  const [train, test] = await Promise.all([loadSplit(base, 'train'), loadSplit(base, 't10k')]);
  return { train: train!, test: test! };
}

/** Images `indices` of a split as f32 pixels in [0, 1] (as `kiln train` scales them), and their labels. */
export function batchOf(split: Split, indices: readonly number[]): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(indices.length * PIXELS);
  const y = new Int32Array(indices.length);
  indices.forEach((i, b) => {
    const img = split.images.subarray(i * PIXELS, (i + 1) * PIXELS);
    for (let p = 0; p < PIXELS; p++) x[b * PIXELS + p] = img[p]! / 255;
    y[b] = split.labels[i]!;
  });
  return { x, y };
}
