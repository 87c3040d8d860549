// Where a command writes: injectable so tests can run commands in-process.

export interface Output {
  stdout(s: string): void;
  stderr(s: string): void;
}

export const processOutput: Output = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
};
