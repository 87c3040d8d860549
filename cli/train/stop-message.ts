// Why training stopped early on a NaN or infinite loss, as one line. "Try a
// lower --lr" is said only when the data were checked finite (CLI.md v1.1):
// with --allow-nonfinite, NaN in the data is the likelier cause.

/** What is kept on disk: the last good checkpoint, or nothing. */
export function keptNote(dir: string | undefined, keptStep: number | undefined): string {
  return dir !== undefined && keptStep !== undefined
    ? `the last good checkpoint (step ${keptStep}) is kept in ${dir}`
    : 'no params were written';
}

function hint(dataChecked: boolean): string {
  return dataChecked ? '. Try a lower --lr' : '; the data were not checked for NaN or inf (--allow-nonfinite)';
}

export function divergedMessage(
  e: { readonly loss: number; readonly step: number; readonly epoch: number },
  kept: string,
  dataChecked: boolean,
): string {
  return `the loss became ${e.loss} at step ${e.step} (epoch ${e.epoch}); stopped training: ${kept}${hint(dataChecked)}`;
}
