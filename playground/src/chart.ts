// The live training chart (uPlot): the loss of every step on the left axis,
// the test accuracy at each evaluation on the right one.

import uPlot from 'uplot';
import uplotCss from 'uplot/dist/uPlot.min.css';

let styled = false;

export class TrainingChart {
  private readonly plot: uPlot;
  private steps: number[] = [];
  private losses: (number | null)[] = [];
  private accuracies: (number | null)[] = [];

  constructor(parent: HTMLElement) {
    if (!styled) {
      const style = document.createElement('style');
      style.textContent = uplotCss;
      document.head.append(style);
      styled = true;
    }
    this.plot = new uPlot(
      {
        width: Math.max(300, parent.clientWidth),
        height: 220,
        scales: { x: { time: false }, acc: { range: [0, 1] } },
        axes: [
          { label: 'step' },
          { label: 'loss', scale: 'y' },
          { label: 'test accuracy', scale: 'acc', side: 1, grid: { show: false } },
        ],
        series: [
          { label: 'step' },
          { label: 'loss', scale: 'y', stroke: '#c0392b', width: 1.5 },
          { label: 'accuracy', scale: 'acc', stroke: '#2471a3', width: 2, spanGaps: true, points: { show: true } },
        ],
      },
      [[], [], []],
      parent,
    );
  }

  clear(): void {
    this.steps = [];
    this.losses = [];
    this.accuracies = [];
    this.redraw();
  }

  addLoss(step: number, loss: number): void {
    this.steps.push(step);
    this.losses.push(Number.isFinite(loss) ? loss : null);
    this.accuracies.push(null);
  }

  /** The accuracy after step `step` (the last step added). */
  addAccuracy(step: number, accuracy: number): void {
    if (this.steps.at(-1) !== step) {
      this.steps.push(step);
      this.losses.push(null);
      this.accuracies.push(accuracy);
    } else this.accuracies[this.accuracies.length - 1] = accuracy;
  }

  redraw(): void {
    this.plot.setData([this.steps, this.losses, this.accuracies]);
  }
}
