// Where a command writes: injectable so tests can run commands in-process.

export interface Output {
  stdout(s: string): void;
  stderr(s: string): void;
}

// A reader that goes away (`kiln check model.kiln | head -3`) is not an
// error of ours: stop writing and exit quietly instead of a stack trace.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });

export const processOutput: Output = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
};
