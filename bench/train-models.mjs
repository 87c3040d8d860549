// The training-step workloads of `npm run bench` (bench/run.mjs): their sizes
// and the shapes of their params, in Kiln's layout (convolution kernels OIHW,
// activations NCHW). Every implementation starts from the same params in this
// layout; a peer that prefers another layout converts them on the way in and
// back on the way out.

/** MLP 784-256-10, ReLU. */
export const MLP = { batch: 128, input: 784, hidden: 256, classes: 10 };

/** The Fashion-MNIST CNN of examples/fashion_cnn.kiln: two conv 3x3 + ReLU + max pool 2 stages, then two dense layers. */
export const CNN = { batch: 64, size: 28, ch1: 16, ch2: 32, hidden: 128, classes: 10 };

/** A pre-layer-norm single-head self-attention block with a residual, mean pooling and a classifier. */
export const ATTENTION = { batch: 16, tokens: 64, width: 64, classes: 10 };

export const ADAM = { lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8 };

/** The CNN's flattened feature count: ch2 channels of (size / 4)^2 pixels after two 2x2 pools. */
export const cnnFlat = ({ size, ch2 }) => ch2 * (size / 4) ** 2;

export const PARAM_SHAPES = {
  mlp: ({ input, hidden, classes }) => ({
    w1: [input, hidden],
    b1: [hidden],
    w2: [hidden, classes],
    b2: [classes],
  }),
  cnn: (dims) => ({
    k1: [dims.ch1, 1, 3, 3],
    c1: [dims.ch1, 1, 1],
    k2: [dims.ch2, dims.ch1, 3, 3],
    c2: [dims.ch2, 1, 1],
    w1: [cnnFlat(dims), dims.hidden],
    b1: [dims.hidden],
    w2: [dims.hidden, dims.classes],
    b2: [dims.classes],
  }),
  attention: ({ width, classes }) => ({
    ln_g: [width],
    ln_b: [width],
    wq: [width, width],
    wk: [width, width],
    wv: [width, width],
    wo: [width, width],
    wc: [width, classes],
    bc: [classes],
  }),
};

/** The shapes of the inputs x and y of one batch. */
export const INPUT_SHAPES = {
  mlp: ({ batch, input }) => ({ x: [batch, input], y: [batch] }),
  cnn: ({ batch, size }) => ({ x: [batch, 1, size, size], y: [batch] }),
  attention: ({ batch, tokens, width }) => ({ x: [batch, tokens, width], y: [batch] }),
};

export const elementCount = (shape) => shape.reduce((a, d) => a * d, 1);

/** Thrown by an implementation that cannot express a workload; the message says why. */
export class Unsupported extends Error {}

/** The inverse of an axis permutation. */
export const inverse = (perm) => perm.map((_, i) => perm.indexOf(i));

/**
 * A row-major array of `shape` with its axes permuted (as numpy's
 * `transpose(perm)`): the result has shape perm.map((a) => shape[a]).
 */
export function permuteAxes(data, shape, perm) {
  const outShape = perm.map((a) => shape[a]);
  const strides = shape.map((_, i) => elementCount(shape.slice(i + 1)));
  const outStrides = perm.map((a) => strides[a]); // the source stride of each output axis
  const out = new Float32Array(data.length);
  const index = new Array(outShape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < index.length; i++) src += index[i] * outStrides[i];
    out[o] = data[src];
    for (let i = index.length - 1; i >= 0 && ++index[i] === outShape[i]; i--) index[i] = 0;
  }
  return out;
}
