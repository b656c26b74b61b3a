/**
 * Lines for stdout and stderr written straight to their file descriptors. `console.log` and
 * `console.error` first build a stream for the descriptor (for a pipe, Node's whole socket
 * layer), which costs a short command more than everything else it prints; the descriptors of a
 * pipe, file or terminal are written synchronously either way, so the order of lines is the same.
 */
import { writeSync } from 'node:fs';

function writeLine(fd: 1 | 2, text: string): void {
  const bytes = Buffer.from(`${text}\n`);
  let at = 0;
  try {
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
  } catch (error) {
    // A descriptor left non-blocking by whoever started us (EAGAIN): Node's stream waits for it.
    if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    (fd === 1 ? process.stdout : process.stderr).write(bytes.subarray(at));
  }
}

/** A line on stdout, as console.log writes it. */
export function printOut(text: string): void {
  writeLine(1, text);
}

/** A line on stderr, as console.error writes it. */
export function printErr(text: string): void {
  writeLine(2, text);
}
