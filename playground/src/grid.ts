// The grid of test images, each with the model's predicted label: green when
// right, red (and the true label on hover) when wrong.

import { CLASSES, PIXELS, SIDE, type Split } from './data.js';

export function showPredictions(parent: HTMLElement, split: Split, predicted: readonly number[]): void {
  parent.replaceChildren(
    ...predicted.map((p, i) => {
      const figure = document.createElement('figure');
      const canvas = document.createElement('canvas');
      canvas.width = SIDE;
      canvas.height = SIDE;
      const ctx = canvas.getContext('2d')!;
      const img = ctx.createImageData(SIDE, SIDE);
      for (let q = 0; q < PIXELS; q++) {
        const v = 255 - split.images[i * PIXELS + q]!;
        img.data.set([v, v, v, 255], 4 * q);
      }
      ctx.putImageData(img, 0, 0);
      const truth = split.labels[i]!;
      const caption = document.createElement('figcaption');
      caption.textContent = CLASSES[p] ?? String(p);
      caption.className = p === truth ? 'right' : 'wrong';
      figure.title = `true label: ${CLASSES[truth]}`;
      figure.append(canvas, caption);
      return figure;
    }),
  );
}
