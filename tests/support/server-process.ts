/**
 * The origin a server process started with PORT=0 says it listens on: read from its
 * "listening on http://127.0.0.1:N" line. If it exits first, the promise fails with its code and
 * what it printed (stderr too, where it is piped), so a test says why the server did not start.
 */
import type { ChildProcess } from 'node:child_process';

export function listeningOrigin(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    // Kept only until the server listens; the streams are read on after, so it never blocks.
    let text: string | undefined = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      if (text === undefined) return;
      text += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
      if (match) {
        text = undefined;
        resolve(match[1]!);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (text !== undefined) text += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code}): ${text ?? ''}`)));
  });
}
