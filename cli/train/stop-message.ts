// Why training stopped early on a NaN or infinite loss, or on a param the
// update made non-finite (the step's fused flag), as one line. "Try a
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

export function nonfiniteMessage(
  e: { readonly step: number; readonly epoch: number; readonly batch: number; readonly params: readonly string[] },
  kept: string,
  dataChecked: boolean,
): string {
  const names = e.params.map((p) => `'${p}'`).join(', ');
  const which = e.params.length === 1 ? `parameter ${names}` : `parameters ${names}`;
  return (
    `step ${e.step} (epoch ${e.epoch}, batch ${e.batch}): ${which} became non-finite (NaN or inf) in the update; ` +
    `${kept}${hint(dataChecked)}`
  );
}
